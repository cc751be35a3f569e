import Foundation
import SetiData
import SetiNet

/// A change to a ``TrainConfig`` in the train command's own terms: every field optional
/// (nil leaves the value as it is), each key the flag's name (`global-batch`, `lr`,
/// `schedule`). The flags build one, a `--config` file's flag-name keys decode into one,
/// and ``applied(to:)`` is the one place either becomes a configuration: where a flag sets
/// a nested field, where the decay is reshaped, and where 0.17's exchange settings are
/// mapped.
public struct TrainConfigPatch: Codable, Equatable, Sendable {
    public var data: String?
    public var simulatedPerClass: Int?
    public var freshSimulation: Bool?
    public var generator: Simulator.Generator?
    public var classes: Int?
    /// With no generator given alongside, a background also means `generator: injection`.
    public var background: String?
    public var model: ModelSpec?
    public var epochs: Int?
    public var globalBatch: Int?
    public var optimizer: TrainConfig.OptimizerChoice?
    public var lr: Double?
    /// The decay's shape; with `decaySteps`, `decayRate` and `staircase` it reshapes the
    /// decay in force, keeping what the new shape shares with it
    /// (``LearningRateSchedule/Decay/reshaped(to:steps:rate:staircase:)``).
    public var schedule: LearningRateSchedule.Decay.Kind?
    public var decaySteps: Int?
    public var decayRate: Double?
    public var staircase: Bool?
    public var warmupSteps: Int?
    public var scaleLr: Bool?
    public var plateauPatience: Int?
    public var plateauFactor: Double?
    public var labelSmoothing: Double?
    public var weightDecay: Double?
    public var hflip: Bool?
    public var vflip: Bool?
    public var shift: Double?
    public var fill: Augmentation.Fill?
    public var noise: Float?
    public var intensityScale: Float?
    public var minMaxEncoding: Float?
    public var dropout: Bool?
    public var seed: UInt64?
    public var overlap: Bool?
    public var exchange: ExchangeMethod?
    /// 0.17's two settings that named the exchange method together (hierarchical or mpi;
    /// none, bf16, powersgd or acpsgd): they change the method in force.
    public var allreduce: String?
    public var compression: String?
    public var powersgdRank: Int?
    public var powersgdStartStep: Int?
    public var batchNormGroupSize: Int?
    public var batchNormEstimationBatches: Int?
    public var monitor: TrainConfig.Monitor?
    public var mode: TrainConfig.MonitorMode?
    public var earlyStoppingPatience: Int?
    public var minDelta: Double?

    public init() {}

    /// The flag names, as configuration files spell them too: each field's name in
    /// kebab case (`globalBatch`: `global-batch`).
    public static let flagNames: [String] = Mirror(reflecting: TrainConfigPatch()).children.compactMap { $0.label.map(kebabCase) }

    /// `globalBatch` as a flag spells it: `global-batch`.
    static func kebabCase(_ name: String) -> String {
        name.reduce(into: "") { result, character in
            if character.isUppercase { result += "-" + character.lowercased() } else { result.append(character) }
        }
    }

    /// `config` with every field this patch sets; not validated (``TrainConfig/validate()``
    /// is the one validator). Throws a ``ConfigValueError`` for settings that contradict
    /// each other (a decay setting with `schedule: constant`; `exchange` beside 0.17's
    /// settings, or 0.17's settings that name no method).
    public func applied(to config: TrainConfig) throws -> TrainConfig {
        var c = config
        let classesBefore = config.simulatedClasses
        if let data { c.data = data }
        if let simulatedPerClass { c.simulatedPerClass = simulatedPerClass }
        if let freshSimulation { c.freshSimulationEachEpoch = freshSimulation }
        if let generator { c.generator = generator }
        if let background {
            c.background = background
            if generator == nil { c.generator = .injection }
        }
        if let classes { c.simulatedClasses = classes }
        if let model { c.model = model }
        if let epochs { c.epochs = epochs }
        if let globalBatch { c.globalBatch = globalBatch }
        if let optimizer { c.optimizer = optimizer }
        if let lr { c.schedule.initial = lr }
        do { c.schedule.decay = try c.schedule.decay.reshaped(to: schedule, steps: decaySteps, rate: decayRate, staircase: staircase) } catch {
            throw ConfigValueError("\(error)")
        }
        // The decay keeps its pace per epoch of simulated data: with 7 classes an epoch
        // holds 7/4 as many steps, and at the 4-class pace the rate would be spent by mid-run.
        if let classes, decaySteps == nil, classes != classesBefore, classesBefore > 0 {
            c.schedule.decay = c.schedule.decay.paced(by: Double(classes) / Double(classesBefore))
        }
        if let warmupSteps { c.schedule.warmupSteps = warmupSteps }
        if let scaleLr { c.scaleLearningRate = scaleLr }
        if let plateauPatience { c.plateauPatience = plateauPatience }
        if let plateauFactor { c.plateauFactor = plateauFactor }
        if let labelSmoothing { c.labelSmoothing = labelSmoothing }
        if let weightDecay { c.weightDecay = weightDecay }
        if let hflip { c.augmentation.horizontalFlip = hflip }
        if let vflip { c.augmentation.verticalFlip = vflip }
        if let shift { c.augmentation.frequencyShift = shift }
        if let fill { c.augmentation.fill = fill }
        if let noise { c.augmentation.noise = noise }
        if let intensityScale { c.augmentation.intensityScale = intensityScale }
        if let minMaxEncoding { c.augmentation.minMaxEncoding = minMaxEncoding }
        if let dropout { c.dropout = dropout }
        if let seed { c.seed = seed }
        if let overlap { c.overlap = overlap }
        if let exchange { c.exchange = exchange }
        if allreduce != nil || compression != nil {
            let legacy = [("allreduce", allreduce), ("compression", compression)].filter { $0.1 != nil }.map(\.0).joined(separator: " and ")
            guard exchange == nil else { throw ConfigValueError("give exchange or 0.17's \(legacy), not both") }
            guard let method = c.exchange.changing(allreduce: allreduce, compression: compression) else {
                let old = c.exchange.legacySettings, names = ExchangeMethod.allCases.map(\.rawValue).joined(separator: ", ")
                throw ConfigValueError("allreduce '\(allreduce ?? old.allreduce)' with compression '\(compression ?? old.compression)' is no exchange method (0.17's settings; exchange is one of \(names))")
            }
            c.exchange = method
        }
        if let powersgdRank { c.powerSGDRank = powersgdRank }
        if let powersgdStartStep { c.powerSGDStartStep = powersgdStartStep }
        if let batchNormGroupSize { c.batchNormGroupSize = batchNormGroupSize }
        if let batchNormEstimationBatches { c.batchNormEstimationBatches = batchNormEstimationBatches }
        if let monitor { c.monitor = monitor }
        if let mode { c.mode = mode }
        if let earlyStoppingPatience { c.earlyStoppingPatience = earlyStoppingPatience }
        if let minDelta { c.minDelta = minDelta }
        return c
    }
}

extension LearningRateSchedule.Decay.Kind: Codable {}
