import Foundation
import SetiData
import SetiFiles
import SetiNet

/// Temperature scaling (Guo et al. 2017): the logits divided by one number T, fitted on
/// the validation set at the end of training to minimise its cross-entropy, so that a
/// probability of 0.9 is right about nine times in ten. Dividing the logits by T is
/// raising each probability to 1/T and renormalising, so it applies to probabilities.
/// Stored in the best checkpoint's metadata; evaluate, predict, show and scan apply it.
public struct Calibration: Codable, Hashable, Sendable {
    /// T: above 1 softens an over-confident model, below 1 sharpens it.
    public var temperature: Double
    /// The p_signal (1 - p(noise)) that `falseAlarmRate` of the validation set's noise
    /// samples exceed after scaling: scan's default --min-probability. Nil without a noise class.
    public var noiseThreshold: Double?
    /// The validation set's expected calibration error before and after scaling.
    public var errorBefore: Double
    public var errorAfter: Double

    /// The false-alarm rate on pure noise that chooses ``noiseThreshold``.
    public static let falseAlarmRate = 0.01

    /// Fits T on `probabilities` (count x classes, row-major) against `labels`.
    public static func fit(probabilities: [Float], labels: [Int32], classes k: Int, noiseClass: Int?) -> Calibration {
        let count = labels.count
        precondition(probabilities.count == count * k && count > 0)
        let logs = probabilities.map { log(max(Double($0), 1e-12)) }
        func loss(_ t: Double) -> Double {
            var total = 0.0
            for i in 0..<count {
                let row = logs[(i * k)..<((i + 1) * k)].map { $0 / t }
                let top = row.max()!
                let normaliser = top + log(row.map { exp($0 - top) }.reduce(0, +))
                total += normaliser - row[Int(labels[i])]
            }
            return total / Double(count)
        }
        // Golden-section search over log T in [log 0.05, log 20]: the loss is unimodal in T.
        var low = log(0.05), high = log(20.0)
        let ratio = (5.0.squareRoot() - 1) / 2
        var a = high - ratio * (high - low), b = low + ratio * (high - low)
        var fa = loss(exp(a)), fb = loss(exp(b))
        for _ in 0..<60 {
            if fa < fb { high = b; b = a; fb = fa; a = high - ratio * (high - low); fa = loss(exp(a)) } else { low = a; a = b; fa = fb; b = low + ratio * (high - low); fb = loss(exp(b)) }
        }
        var calibration = Calibration(temperature: exp((low + high) / 2), noiseThreshold: nil, errorBefore: 0, errorAfter: 0)
        var scaled = probabilities
        calibration.apply(&scaled, classes: k)
        calibration.errorBefore = expectedCalibrationError(probabilities, labels: labels, classes: k)
        calibration.errorAfter = expectedCalibrationError(scaled, labels: labels, classes: k)
        if let noiseClass {
            let signal = labels.indices.filter { Int(labels[$0]) == noiseClass }.map { 1 - Double(scaled[$0 * k + noiseClass]) }.sorted()
            if !signal.isEmpty {
                // The smallest threshold that at most falseAlarmRate of the noise samples reach.
                let allowed = Int((Double(signal.count) * falseAlarmRate).rounded(.down))
                calibration.noiseThreshold = min(1, signal[signal.count - 1 - allowed].nextUp)
            }
        }
        return calibration
    }

    /// Scales `probabilities` (count x classes) in place: each row p becomes p^(1/T), renormalised.
    public func apply(_ probabilities: inout [Float], classes k: Int) {
        guard temperature.isFinite, temperature > 0, k > 0 else { return }
        for start in stride(from: 0, to: probabilities.count - k + 1, by: k) {
            let logs = (start..<(start + k)).map { log(max(Double(probabilities[$0]), 1e-12)) / temperature }
            let top = logs.max()!
            let weights = logs.map { exp($0 - top) }
            let total = weights.reduce(0, +)
            for c in 0..<k { probabilities[start + c] = Float(weights[c] / total) }
        }
    }

    /// The expected calibration error: predictions binned by confidence (15 equal bins),
    /// the gap between each bin's accuracy and mean confidence, weighted by its share.
    public static func expectedCalibrationError(_ probabilities: [Float], labels: [Int32], classes k: Int, bins: Int = 15) -> Double {
        var confidence = [Double](repeating: 0, count: bins), correct = [Double](repeating: 0, count: bins), counts = [Double](repeating: 0, count: bins)
        for i in labels.indices {
            let row = probabilities[(i * k)..<((i + 1) * k)]
            let best = row.indices.max { row[$0] < row[$1] }!
            let p = Double(row[best])
            let bin = min(bins - 1, Int(p * Double(bins)))
            confidence[bin] += p
            correct[bin] += best - i * k == Int(labels[i]) ? 1 : 0
            counts[bin] += 1
        }
        let n = counts.reduce(0, +)
        guard n > 0 else { return 0 }
        return (0..<bins).map { counts[$0] > 0 ? abs(correct[$0] - confidence[$0]) / n : 0 }.reduce(0, +)
    }
}

extension Checkpoint {
    /// Fits the calibration of the checkpoint at `url` on `validation` with `network` (the
    /// checkpoint's weights) and stores it in the checkpoint's metadata.
    @discardableResult
    public static func calibrate(_ url: URL, network: Network, on validation: SpectrogramSet) throws -> Calibration {
        var (file, metadata) = try read(url)
        let k = network.classes
        let probabilities = Evaluator.probabilities([network], on: validation)
        let calibration = Calibration.fit(probabilities: probabilities, labels: validation.labels, classes: k,
                                          noiseClass: metadata.classNames.firstIndex(of: SignalClass.noise.rawValue))
        metadata.calibration = calibration
        file.metadata[CheckpointMetadata.key] = String(decoding: try JSONLines.encode(metadata), as: UTF8.self)
        try OutputFile.write(try file.serialized(), to: url)
        return calibration
    }
}
