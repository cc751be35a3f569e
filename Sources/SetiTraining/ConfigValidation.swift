import Foundation
import SetiFiles
import SetiNet

/// A configuration value outside what training can run with, e.g.
/// `lr = nan: allowed a finite number > 0`.
public struct ConfigValueError: OneLineError, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension TrainConfig {
    /// Refuses values training cannot run with (non-finite numbers, zero divisors, sizes
    /// that would overflow or exhaust memory), naming the value by its flag name, which is
    /// also its config-file key, and the allowed range. Flags and config files both end here.
    public func validate() throws {
        func check<T: Comparable>(_ name: String, _ value: T, _ range: ClosedRange<T>, _ what: String = "") throws {
            guard range.contains(value) else {
                throw ConfigValueError("\(name) = \(value): allowed \(what.isEmpty ? "\(range.lowerBound)...\(range.upperBound)" : what)")
            }
        }
        func positive(_ name: String, _ value: Double, max: Double = .greatestFiniteMagnitude) throws {
            guard value.isFinite, value > 0, value <= max else {
                throw ConfigValueError("\(name) = \(value): allowed a finite number > 0\(max < .greatestFiniteMagnitude ? " and <= \(max)" : "")")
            }
        }
        func fraction(_ name: String, _ value: Double, _ range: ClosedRange<Double>) throws {
            guard value.isFinite, range.contains(value) else {
                throw ConfigValueError("\(name) = \(value): allowed \(range.lowerBound)...\(range.upperBound)")
            }
        }
        // A Float as it was typed (0.6, not 0.6000000238418579).
        func fraction(_ name: String, _ value: Float, _ range: ClosedRange<Double>) throws {
            try fraction(name, Double("\(value)") ?? Double(value), range)
        }
        try check("epochs", epochs, 1...1_000_000)
        try check("global-batch", globalBatch, 1...65_536)
        try check("simulated-per-class", simulatedPerClass, 1...20_000)
        if (generator == .injection) != (background != nil) {
            throw ConfigValueError(generator == .injection ? "generator = injection needs a background observation (--background FILE.fil or .h5)" : "background = \(background!): only the injection generator uses it (--generator injection)")
        }
        guard simulatedClasses == 4 || simulatedClasses == 7 else { throw ConfigValueError("classes = \(simulatedClasses): allowed 4 or 7") }
        try positive("lr", schedule.initial)
        try check("warmup-steps", schedule.warmupSteps, 0...1_000_000_000)
        switch schedule.decay {
        case .constant:
            break
        case .exponential(let steps, let rate, _):
            try check("decay-steps", steps, 1...1_000_000_000)
            try positive("decay-rate", rate, max: 1e6)
        case .step(let every, let factor):
            try check("decay-steps", every, 1...1_000_000_000)
            try positive("decay-rate", factor, max: 1e6)
        case .cosine(let steps, let alpha):
            if let steps { try check("decay-steps", steps, 1...1_000_000_000) }
            try fraction("decay-rate", alpha, 0...1)
        }
        try check("plateau-patience", plateauPatience, 0...1_000_000)
        guard plateauFactor.isFinite, plateauFactor > 0, plateauFactor < 1 else {
            throw ConfigValueError("plateau-factor = \(plateauFactor): allowed a number > 0 and < 1")
        }
        try fraction("label-smoothing", labelSmoothing, 0...0.5)
        try fraction("weight-decay", weightDecay, 0...1)
        try fraction("shift", augmentation.frequencyShift, 0...0.5)
        try fraction("noise", augmentation.noise, 0...1)
        try fraction("intensity-scale", augmentation.intensityScale, 0...0.5)
        try fraction("min-max-encoding", augmentation.minMaxEncoding, 0...1)
        try fraction("fill-value", augmentation.fillValue, 0...1)
        try check("batch-norm-group-size", batchNormGroupSize, 0...globalBatch, "0...\(globalBatch) (the global batch)")
        try check("batch-norm-estimation-batches", batchNormEstimationBatches, 0...100_000)
        try check("powersgd-rank", powerSGDRank, 1...64)
        try check("powersgd-start-step", powerSGDStartStep, 0...1_000_000_000)
        try check("early-stopping-patience", earlyStoppingPatience, 0...1_000_000)
        guard minDelta.isFinite, minDelta >= 0 else { throw ConfigValueError("min-delta = \(minDelta): allowed a finite number >= 0") }
        try model.validate()
    }
}
