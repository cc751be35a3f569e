import Foundation
import SetiData
import SetiFiles
import SetiNet

/// Calibrated probabilities (Guo et al. 2017), fitted at the end of training to minimise
/// the cross-entropy of samples nothing trained on, so that a probability of 0.9 is right
/// about nine times in ten. Matrix scaling: new logits W log p + b, one weight for each
/// pair of classes and a bias for each (temperature scaling is W = I / T, b = 0; a model
/// trained on several generators is over-confident in some classes and under-confident in
/// others, which one T cannot mend). Stored in the best checkpoint's metadata; evaluate,
/// predict, show and scan apply it. Checkpoints of 0.16, and fits on fewer than
/// ``matrixSamplesPerParameter`` samples per number, hold a temperature only.
public struct Calibration: Codable, Hashable, Sendable {
    /// T: above 1 softens an over-confident model, below 1 sharpens it (the start of the
    /// matrix fit, and all there is in checkpoints of 0.16).
    public var temperature: Double
    /// W (classes x classes, row-major) and b; nil in checkpoints of 0.16.
    public var matrix: [Double]?
    public var bias: [Double]?
    /// The p_signal (1 - p(noise)) that `falseAlarmRate` of the validation set's noise
    /// samples exceed after scaling: scan's default --min-probability. Nil without a noise class.
    public var noiseThreshold: Double?
    /// The expected calibration error before and after scaling, on the validation set
    /// (held out from the fit when the fit had samples of its own).
    public var errorBefore: Double
    public var errorAfter: Double
    /// The samples T was fitted on when they were not the validation set (fresh
    /// simulated ones); nil when it was fitted on the validation set itself.
    public var fitSamples: Int?

    /// Samples per fitted number below which only the temperature is fitted (the default
    /// run's 3,200 fresh samples fit a 4-class matrix).
    public static let matrixSamplesPerParameter = 50

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
        // k (k + 1) numbers need many samples: with fewer, the matrix would learn their
        // noise (and move predictions), so a small set keeps the temperature alone.
        if count >= matrixSamplesPerParameter * k * (k + 1) {
            (calibration.matrix, calibration.bias) = fitMatrix(logs: logs, labels: labels, classes: k, temperature: calibration.temperature)
        }
        calibration.measure(probabilities: probabilities, labels: labels, classes: k)
        var scaled = probabilities
        calibration.apply(&scaled, classes: k)
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

    /// Sets the errors before and after scaling from `probabilities` (count x classes) of
    /// a labelled set.
    public mutating func measure(probabilities: [Float], labels: [Int32], classes k: Int) {
        var scaled = probabilities
        apply(&scaled, classes: k)
        errorBefore = Self.expectedCalibrationError(probabilities, labels: labels, classes: k)
        errorAfter = Self.expectedCalibrationError(scaled, labels: labels, classes: k)
    }

    /// W and b by Newton's method on the mean cross-entropy of softmax(W log p + b), from
    /// W = I / T, b = 0, with a small pull towards that start (the softmax ignores a
    /// constant added to every logit, so without it the Hessian is singular). Convex: each
    /// step halves until the loss falls; stops when a step no longer lowers it.
    static func fitMatrix(logs: [Double], labels: [Int32], classes k: Int, temperature: Double) -> (matrix: [Double], bias: [Double]) {
        let n = labels.count, f = k + 1, m = k * f, pull = 1e-3
        // θ[r f + j]: W[r][j] for j < k, b[r] for j = k.
        var start = [Double](repeating: 0, count: m)
        for r in 0..<k { start[r * f + r] = 1 / temperature }
        func features(_ i: Int, _ j: Int) -> Double { j < k ? logs[i * k + j] : 1 }
        func softmax(_ theta: [Double], _ i: Int) -> [Double] {
            let z = (0..<k).map { r in (0..<f).reduce(0.0) { $0 + theta[r * f + $1] * features(i, $1) } }
            let top = z.max()!
            let e = z.map { exp($0 - top) }
            let total = e.reduce(0, +)
            return e.map { $0 / total }
        }
        func loss(_ theta: [Double]) -> Double {
            var total = 0.0
            for i in 0..<n { total -= log(max(softmax(theta, i)[Int(labels[i])], 1e-300)) }
            return total / Double(n) + 0.5 * pull * zip(theta, start).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        }
        var theta = start
        var current = loss(theta)
        for _ in 0..<50 {
            var gradient = zip(theta, start).map { pull * ($0 - $1) }
            var hessian = [Double](repeating: 0, count: m * m)
            for d in 0..<m { hessian[d * m + d] = pull }
            for i in 0..<n {
                let s = softmax(theta, i), y = Int(labels[i])
                let x = (0..<f).map { features(i, $0) }
                for r in 0..<k {
                    let residual = (s[r] - (r == y ? 1 : 0)) / Double(n)
                    for j in 0..<f { gradient[r * f + j] += residual * x[j] }
                    for q in 0..<k {
                        let w = ((r == q ? s[r] : 0) - s[r] * s[q]) / Double(n)
                        if w == 0 { continue }
                        for j in 0..<f { for l in 0..<f { hessian[(r * f + j) * m + q * f + l] += w * x[j] * x[l] } }
                    }
                }
            }
            guard let step = solve(hessian, gradient, size: m) else { break }
            var scale = 1.0, improved = false
            while scale > 1e-6 {
                let trial = zip(theta, step).map { $0 - scale * $1 }
                let value = loss(trial)
                if value.isFinite && value < current { (theta, current, improved) = (trial, value, true); break }
                scale /= 2
            }
            if !improved || gradient.reduce(0, { max($0, abs($1)) }) < 1e-9 { break }
        }
        return ((0..<(k * k)).map { theta[($0 / k) * f + $0 % k] }, (0..<k).map { theta[$0 * f + k] })
    }

    /// x with a x = b (a: size x size, row-major) by Gaussian elimination with partial
    /// pivoting; nil when a is singular.
    private static func solve(_ a: [Double], _ b: [Double], size n: Int) -> [Double]? {
        var a = a, b = b
        for c in 0..<n {
            let pivot = (c..<n).max { abs(a[$0 * n + c]) < abs(a[$1 * n + c]) }!
            guard abs(a[pivot * n + c]) > 1e-300 else { return nil }
            if pivot != c {
                for j in 0..<n { a.swapAt(c * n + j, pivot * n + j) }
                b.swapAt(c, pivot)
            }
            for r in (c + 1)..<n {
                let factor = a[r * n + c] / a[c * n + c]
                if factor == 0 { continue }
                for j in c..<n { a[r * n + j] -= factor * a[c * n + j] }
                b[r] -= factor * b[c]
            }
        }
        var x = [Double](repeating: 0, count: n)
        for r in stride(from: n - 1, through: 0, by: -1) {
            x[r] = (b[r] - ((r + 1)..<n).reduce(0) { $0 + a[r * n + $1] * x[$1] }) / a[r * n + r]
        }
        return x.allSatisfy(\.isFinite) ? x : nil
    }

    /// What makes this calibration unusable for a model of `classes` outputs (a damaged
    /// or hand-edited checkpoint), or nil.
    public func problem(classes k: Int) -> String? {
        guard temperature.isFinite, temperature > 0 else { return "temperature \(temperature): allowed a finite number above 0" }
        if matrix != nil || bias != nil {
            guard let matrix, let bias, matrix.count == k * k, bias.count == k else {
                return "matrix of \(matrix?.count ?? 0) and bias of \(bias?.count ?? 0) values for \(k) classes: allowed \(k * k) and \(k)"
            }
            guard (matrix + bias).allSatisfy(\.isFinite) else { return "matrix or bias holds a value that is not finite" }
        }
        return nil
    }

    /// Calibrates `probabilities` (count x classes) in place: each row p becomes
    /// softmax(W log p + b), or with a temperature only p^(1/T), renormalised.
    public func apply(_ probabilities: inout [Float], classes k: Int) {
        guard problem(classes: k) == nil, k > 0 else { return }
        for start in stride(from: 0, to: probabilities.count - k + 1, by: k) {
            let raw = (start..<(start + k)).map { log(max(Double(probabilities[$0]), 1e-12)) }
            let logs: [Double]
            if let matrix, let bias {
                logs = (0..<k).map { r in bias[r] + (0..<k).reduce(0.0) { $0 + matrix[r * k + $1] * raw[$1] } }
            } else {
                logs = raw.map { $0 / temperature }
            }
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
    /// Fits the calibration of the checkpoint at `url` with `network` (the checkpoint's
    /// weights) on `fitSet` when given (fresh samples nothing trained on), or else on
    /// `validation`, measures its errors on `validation`, and stores it in the
    /// checkpoint's metadata.
    @discardableResult
    public static func calibrate(_ url: URL, network: Network, on validation: SpectrogramSet, fitSet: SpectrogramSet? = nil) throws -> Calibration {
        var (file, metadata) = try read(url)
        let k = network.classes
        let fitOn = fitSet ?? validation
        var calibration = Calibration.fit(probabilities: Evaluator.probabilities([network], on: fitOn), labels: fitOn.labels, classes: k,
                                          noiseClass: metadata.classNames.firstIndex(of: SignalClass.noise.rawValue))
        if let fitSet {
            calibration.fitSamples = fitSet.count
            calibration.measure(probabilities: Evaluator.probabilities([network], on: validation), labels: validation.labels, classes: k)
        }
        metadata.calibration = calibration
        file.metadata[CheckpointMetadata.key] = String(decoding: try JSONLines.encode(metadata), as: UTF8.self)
        try OutputFile.write(try file.serialized(), to: url)
        return calibration
    }
}
