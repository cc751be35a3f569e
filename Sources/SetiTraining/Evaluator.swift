import Foundation
import SetiData
import SetiNet
import SwiftMPI

/// A model meeting data it was not built for: another image size or class count.
public struct ModelDataMismatch: Error, CustomStringConvertible {
    public let description: String
}

/// Inference over spectrogram sets: what validation, `evaluate`, `predict` and `show` use.
public enum Evaluator {
    /// Throws unless `network` takes `set`'s images and, when `labelled`, predicts its
    /// classes (same count; same names when `classNames` are known).
    public static func checkCompatible(_ network: Network, with set: SpectrogramSet, classNames: [String]? = nil, labelled: Bool = true, source: String) throws {
        let spec = network.spec
        guard set.height == spec.height, set.width == spec.width, spec.channels == 1 else {
            throw ModelDataMismatch(description: "\(source): the data hold \(set.height)x\(set.width) images, the model takes \(spec.height)x\(spec.width)x\(spec.channels)")
        }
        guard labelled else { return }
        guard set.classNames.count == network.classes else {
            throw ModelDataMismatch(description: "\(source): the data have \(set.classNames.count) classes (\(set.classNames.joined(separator: ", "))), the model predicts \(network.classes)")
        }
        if let classNames, classNames != set.classNames {
            throw ModelDataMismatch(description: "\(source): the data's classes (\(set.classNames.joined(separator: ", "))) are not the model's (\(classNames.joined(separator: ", ")))")
        }
    }

    /// Loss, accuracy and confusion over `range` of `set`, in batches of the network's
    /// capacity; `predictions` gets each sample's index and class probabilities.
    public static func evaluate(
        _ network: Network, on set: SpectrogramSet, range: Range<Int>? = nil,
        predictions: ((Int, UnsafeBufferPointer<Float>) -> Void)? = nil
    ) -> Evaluation {
        let range = range ?? 0..<set.count
        let k = network.classes
        var result = Evaluation(classes: k)
        var start = range.lowerBound
        while start < range.upperBound {
            let b = min(network.maxBatch, range.upperBound - start)
            let logits = set.images.withUnsafeBufferPointer {
                network.forward($0.baseAddress! + start * set.pixels, batch: b, options: .inference)
            }
            let probs = network.probabilities(of: logits, batch: b)
            for j in 0..<b {
                let row = UnsafeBufferPointer(rebasing: probs[(j * k)..<((j + 1) * k)])
                result.add(probabilities: row, label: Int(set.labels[start + j]))
                predictions?(start + j, row)
            }
            start += b
        }
        return result
    }

    /// ``evaluate(_:on:range:predictions:)`` with each rank evaluating a contiguous slice,
    /// summed over `world`; inference is per sample, so the result equals one process's.
    public static func evaluate(_ network: Network, on set: SpectrogramSet, world: Communicator) throws -> Evaluation {
        let slice = EpochPlan.evaluationSlice(count: set.count, ranks: world.size, rank: world.rank)
        var local = evaluate(network, on: set, range: slice)
        let k = network.classes
        var counts = [Int64(local.count)] + local.confusion.flatMap { $0.map(Int64.init) }
        try world.allreduce(&counts, op: .sum)
        local.lossSum = try world.allreduce(local.lossSum, op: .sum)
        local.count = Int(counts[0])
        local.confusion = (0..<k).map { r in (0..<k).map { Int(counts[1 + r * k + $0]) } }
        return local
    }

    /// The index of the largest value; NaNs never win, and an all-NaN row gives 0.
    public static func argmax(_ values: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        for i in values.indices where values[i] > values[best] || (values[best].isNaN && !values[i].isNaN) { best = i }
        return best
    }
}

extension Evaluator {
    /// Class probabilities of every sample of `set` (count x classes, row-major), averaged
    /// over `networks` (an ensemble of checkpoints) and, with `flips`, over each image and
    /// its mirror image in frequency (test-time augmentation matching training's flips).
    /// `calibrations[n]`, when given, scales network n's probabilities before the average.
    public static func probabilities(_ networks: [Network], on set: SpectrogramSet, flips: Bool = false, calibrations: [Calibration?] = []) -> [Float] {
        guard let first = networks.first else { return [] }
        let k = first.classes
        var sum = [Float](repeating: 0, count: set.count * k)
        var views = [set]
        if flips {
            var mirrored = set
            for i in 0..<set.count {
                for t in 0..<set.height {
                    let row = i * set.pixels + t * set.width
                    mirrored.images[row..<(row + set.width)].reverse()
                }
            }
            views.append(mirrored)
        }
        for (n, network) in networks.enumerated() {
            var own = [Float](repeating: 0, count: set.count * k)
            for view in views {
                _ = evaluate(network, on: view) { i, probs in
                    for c in 0..<k { own[i * k + c] += probs[c] / Float(views.count) }
                }
            }
            if n < calibrations.count, let calibration = calibrations[n] { calibration.apply(&own, classes: k) }
            for i in own.indices { sum[i] += own[i] }
        }
        let scale = 1 / Float(networks.count)
        return sum.map { $0 * scale }
    }

    /// Loss, accuracy and confusion of `probabilities` (count x classes) against `set`'s labels.
    public static func evaluation(of probabilities: [Float], on set: SpectrogramSet, classes k: Int) -> Evaluation {
        var result = Evaluation(classes: k)
        probabilities.withUnsafeBufferPointer { all in
            for i in 0..<set.count {
                result.add(probabilities: UnsafeBufferPointer(rebasing: all[(i * k)..<((i + 1) * k)]), label: Int(set.labels[i]))
            }
        }
        return result
    }
}

extension Evaluation {
    /// Counts one sample: its predicted class (the most probable) against `label`, and its
    /// cross-entropy. A label outside the model's classes is not counted.
    mutating func add(probabilities row: UnsafeBufferPointer<Float>, label: Int) {
        guard label >= 0 && label < confusion.count else { return }
        confusion[label][Evaluator.argmax(row)] += 1
        lossSum -= Foundation.log(Double(max(row[label], 1e-30)))
        count += 1
    }
}

/// A model's accuracy on one shifted validation set (``DistributionShift``).
public struct ShiftedEvaluation: Codable, Sendable {
    public var shift: String
    public var accuracy: Double
    public var faintThirdRecall: Double?
    public var noiseRecall: Double?
}

extension Evaluator {
    /// The most probable class of each sample of `probabilities` (samples x `k`).
    public static func predictions(_ probabilities: [Float], _ k: Int) -> [Int] {
        probabilities.withUnsafeBufferPointer { all in
            (0..<(all.count / k)).map { argmax(UnsafeBufferPointer(rebasing: all[($0 * k)..<(($0 + 1) * k)])) }
        }
    }

    /// The networks (an ensemble, averaged) on each shifted validation set of `perClass`
    /// samples per class of `classes`, simulated from a seed no run trains on.
    public static func shiftedEvaluations(_ networks: [Network], classes: [SignalClass], perClass: Int, flips: Bool,
                                          calibrations: [Calibration?]) -> [ShiftedEvaluation] {
        DistributionShift.allCases.map { shift in
            var simulator = Simulator(seed: 0x5E71_F7ED, classes: classes)
            simulator.shift = shift
            let (set, parameters) = simulator.generateWithParameters(perClass: perClass, split: .validation)
            let probabilities = probabilities(networks, on: set, flips: flips, calibrations: calibrations)
            let evaluation = evaluation(of: probabilities, on: set, classes: classes.count)
            let report = SensitivityReport(classNames: set.classNames, labels: set.labels, predicted: predictions(probabilities, classes.count), parameters: parameters)
            return ShiftedEvaluation(shift: shift.rawValue, accuracy: evaluation.accuracy, faintThirdRecall: report.faintThirdRecall, noiseRecall: report.noiseRecall)
        }
    }
}
