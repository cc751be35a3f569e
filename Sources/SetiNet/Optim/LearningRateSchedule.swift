#if canImport(Glibc)
import Glibc
#endif

/// A learning rate as a pure function of the optimizer step (0 for the first update,
/// as Keras counts `iterations`), so every rank computes the same value.
public struct LearningRateSchedule: Codable, Hashable, Sendable {
    public enum Decay: Codable, Hashable, Sendable {
        case constant
        /// Keras ExponentialDecay: initial * rate^(step / decaySteps), the exponent floored
        /// when `staircase`. The SETI seed uses 0.005, 5, 0.96, staircase.
        case exponential(decaySteps: Int, rate: Double, staircase: Bool)
        /// Multiplies by `factor` every `every` steps (piecewise constant).
        case step(every: Int, factor: Double)
        /// Keras CosineDecay: from initial down to initial * alpha over `decaySteps`.
        case cosine(decaySteps: Int, alpha: Double)
    }

    public var initial: Double
    public var decay: Decay
    /// Linear warm-up: step s < warmupSteps uses initial * (s + 1) / warmupSteps; the
    /// decay then starts counting after the warm-up.
    public var warmupSteps: Int

    public init(initial: Double, decay: Decay = .constant, warmupSteps: Int = 0) {
        self.initial = initial
        self.decay = decay
        self.warmupSteps = warmupSteps
    }

    /// The seed recipe's schedule: ExponentialDecay(0.005, 5, 0.96, staircase=True).
    public static let kerasSeed = LearningRateSchedule(
        initial: 0.005, decay: .exponential(decaySteps: 5, rate: 0.96, staircase: true))

    /// The learning rate for optimizer step `step` (0-based).
    public func callAsFunction(_ step: Int) -> Double {
        if step < warmupSteps { return initial * Double(step + 1) / Double(warmupSteps) }
        let s = Double(step - warmupSteps)
        switch decay {
        case .constant:
            return initial
        case .exponential(let decaySteps, let rate, let staircase):
            let p = s / Double(decaySteps)
            return initial * pow(rate, staircase ? p.rounded(.down) : p)
        case .step(let every, let factor):
            return initial * pow(factor, (s / Double(every)).rounded(.down))
        case .cosine(let decaySteps, let alpha):
            let progress = min(s, Double(decaySteps)) / Double(decaySteps)
            let cosine = 0.5 * (1 + cos(Double.pi * progress))
            return initial * ((1 - alpha) * cosine + alpha)
        }
    }
}
