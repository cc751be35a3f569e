#if canImport(Glibc)
import Glibc
#endif

// Softmax fused with categorical cross-entropy, averaged over the batch.
// Shapes: logits and probs (B, K), labels (B) as class indices.
//
// The maximum logit is subtracted before exponentiating only for numerical stability;
// log-probabilities come from log-sum-exp, so extreme logits give a finite loss.

/// Returns the summed (not averaged) loss and the number of correct arg-max predictions;
/// writes the probabilities.
/// Writes softmax(z) for one row of `k` logits and returns (max logit, its index, sum of
/// exp(z - max)), from which the cross-entropy follows without recomputing.
@inline(__always)
func softmaxRow(_ p: UnsafeMutablePointer<Float>, _ z: UnsafePointer<Float>, classes k: Int) -> (max: Float, argmax: Int, sum: Float) {
    var maxValue = z[0], argmax = 0
    for j in 1..<k where z[j] > maxValue { maxValue = z[j]; argmax = j }
    var sum: Float = 0
    for j in 0..<k { p[j] = expf(z[j] - maxValue); sum += p[j] }
    for j in 0..<k { p[j] /= sum }
    return (maxValue, argmax, sum)
}

/// The target distribution with label smoothing `smoothing` (Keras's `label_smoothing`):
/// 1 - smoothing + smoothing / k on the label, smoothing / k elsewhere.
@inline(__always)
func smoothedTarget(_ j: Int, label: Int, classes k: Int, smoothing: Float) -> Float {
    (j == label ? 1 - smoothing : 0) + smoothing / Float(k)
}

/// Cross-entropy against the smoothed targets: -sum_j t_j log p_j, with
/// log p_j = z_j - max - log(sum) and sum_j t_j = 1.
func softmaxCrossEntropyForward(
    _ probs: UnsafeMutablePointer<Float>, _ logits: UnsafePointer<Float>, _ labels: UnsafePointer<Int32>,
    batch: Int, classes k: Int, smoothing: Float = 0
) -> (lossSum: Double, correct: Int) {
    var lossSum = 0.0, correct = 0
    for b in 0..<batch {
        let z = logits + b * k
        let (maxValue, argmax, sum) = softmaxRow(probs + b * k, z, classes: k)
        let label = Int(labels[b])
        // In Double: the gap of extreme logits can overflow Float.
        var targetLogit = 0.0
        for j in 0..<k { targetLogit += Double(smoothedTarget(j, label: label, classes: k, smoothing: smoothing)) * Double(z[j]) }
        lossSum += Double(maxValue) + Double(logf(sum)) - targetLogit
        if argmax == label { correct += 1 }
    }
    return (lossSum, correct)
}

/// dlogits = (probs - target) * scale, where scale is 1 / (global batch size).
func softmaxCrossEntropyBackward(
    _ dlogits: UnsafeMutablePointer<Float>, _ probs: UnsafePointer<Float>, _ labels: UnsafePointer<Int32>,
    batch: Int, classes k: Int, scale: Float, smoothing: Float = 0
) {
    for b in 0..<batch {
        let label = Int(labels[b])
        for j in 0..<k {
            dlogits[b * k + j] = (probs[b * k + j] - smoothedTarget(j, label: label, classes: k, smoothing: smoothing)) * scale
        }
    }
}
