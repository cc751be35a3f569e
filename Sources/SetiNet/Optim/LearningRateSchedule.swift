import SetiFiles
#if canImport(Glibc)
import Glibc
#endif

/// A learning rate as a pure function of the optimizer step (0 for the first update,
/// as Keras counts `iterations`) and the run's length, so every rank computes the same value.
public struct LearningRateSchedule: Codable, Hashable, Sendable {
    public enum Decay: Codable, Hashable, Sendable {
        case constant
        /// Keras ExponentialDecay: initial * rate^(step / decaySteps), the exponent floored
        /// when `staircase`. The SETI seed uses 0.005, 5, 0.96, staircase.
        case exponential(decaySteps: Int, rate: Double, staircase: Bool)
        /// Multiplies by `factor` every `every` steps (piecewise constant).
        case step(every: Int, factor: Double)
        /// Keras CosineDecay: from initial down to initial * alpha over `decaySteps`, or over
        /// the whole run after the warm-up when nil (PyTorch's T_max set to the run's length).
        case cosine(decaySteps: Int?, alpha: Double)

        /// The decay's shape, as `--schedule` and a config file's `schedule: NAME` name it.
        public enum Kind: String, CaseIterable, Sendable {
            case exponential, step, cosine, constant
        }

        public var kind: Kind {
            switch self {
            case .constant: return .constant
            case .exponential: return .exponential
            case .step: return .step
            case .cosine: return .cosine
            }
        }

        /// The standard recipe's decay settings, which a shape takes when the decay in force
        /// has none of its kind: 0.96x every 75 steps.
        public static let standardSteps = 75, standardRate = 0.96

        /// This decay with its period (steps per decay, a cosine's length when set) scaled
        /// by `factor`, rounded, at least one step: the same pace per epoch when an epoch
        /// holds `factor` times as many steps.
        public func paced(by factor: Double) -> Decay {
            func scaled(_ steps: Int) -> Int { max(1, Int((Double(steps) * factor).rounded())) }
            switch self {
            case .constant: return self
            case .exponential(let steps, let rate, let staircase): return .exponential(decaySteps: scaled(steps), rate: rate, staircase: staircase)
            case .step(let every, let factor): return .step(every: scaled(every), factor: factor)
            case .cosine(let steps, let alpha): return .cosine(decaySteps: steps.map(scaled), alpha: alpha)
            }
        }

        /// This decay changed to `kind` (this one's when nil) with the settings given; a
        /// setting not given keeps this decay's value when it has one of that meaning
        /// (steps and rate carry between exponential and step), else takes the standard
        /// recipe's (50 steps, 0.96, staircase) or, for cosine, the whole run down to 0.
        /// Settings for a constant rate are refused, naming them by flag.
        public func reshaped(to kind: Kind?, steps: Int?, rate: Double?, staircase: Bool?) throws -> Decay {
            let kind = kind ?? self.kind
            var keptSteps: Int?, keptRate: Double?, keptStaircase: Bool?
            let periodic = kind == .exponential || kind == .step
            switch self {
            case .exponential(let s, let r, let st) where periodic: (keptSteps, keptRate, keptStaircase) = (s, r, st)
            case .step(let s, let r) where periodic: (keptSteps, keptRate) = (s, r)
            case .cosine(let s, let a) where kind == .cosine: (keptSteps, keptRate) = (s, a)
            default: break
            }
            switch kind {
            case .exponential:
                return .exponential(decaySteps: steps ?? keptSteps ?? Self.standardSteps, rate: rate ?? keptRate ?? Self.standardRate,
                                    staircase: staircase ?? keptStaircase ?? true)
            case .step:
                return .step(every: steps ?? keptSteps ?? Self.standardSteps, factor: rate ?? keptRate ?? Self.standardRate)
            case .cosine:
                return .cosine(decaySteps: steps ?? keptSteps, alpha: rate ?? keptRate ?? 0)
            case .constant:
                let given = [("decay-steps", steps != nil), ("decay-rate", rate != nil), ("staircase", staircase != nil)].filter(\.1).map(\.0)
                guard given.isEmpty else { throw ScheduleError("\(given.joined(separator: ", ")) need a decaying schedule (exponential, step or cosine), not constant") }
                return .constant
            }
        }
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

    /// The learning rate for optimizer step `step` (0-based) of a run of `runSteps` steps.
    public func callAsFunction(_ step: Int, runSteps: Int) -> Double {
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
            let length = Double(decaySteps ?? max(1, runSteps - warmupSteps))
            let progress = min(s, length) / length
            let cosine = 0.5 * (1 + cos(Double.pi * progress))
            return initial * ((1 - alpha) * cosine + alpha)
        }
    }

    /// The first step at which the rate is 0 (a cosine to alpha 0 that ends), or nil when
    /// it never reaches 0.
    public func firstZeroStep(runSteps: Int) -> Int? {
        guard case .cosine(let decaySteps, let alpha) = decay, alpha == 0 else { return nil }
        return warmupSteps + (decaySteps ?? max(1, runSteps - warmupSteps))
    }
}

/// Schedule settings that do not fit together, e.g. a decay rate for a constant rate.
public struct ScheduleError: OneLineError {
    public let description: String
    public init(_ description: String) { self.description = description }
}
