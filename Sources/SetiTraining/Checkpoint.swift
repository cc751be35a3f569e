import Foundation
import SetiFiles
import SetiNet

/// What a checkpoint records besides its tensors: enough to rebuild the model, know its
/// classes, and continue the run exactly (counter-based randomness makes epoch and step
/// the whole RNG state). Stored as one JSON string under the safetensors metadata key
/// ``CheckpointMetadata/key``, so a checkpoint stays a plain safetensors file.
public struct CheckpointMetadata: Codable, Hashable, Sendable {
    public static let key = "seti_dist"
    public static let currentFormat = 2

    public var format = CheckpointMetadata.currentFormat
    public var model: ModelSpec
    public var classNames: [String]
    public var config: TrainConfig
    /// Epochs and optimizer steps completed.
    public var epoch: Int
    public var step: Int
    /// The record of the epoch that wrote the checkpoint.
    public var metrics: EpochRecord?
    public var callbacks: CallbackState
    /// Adam's step count (bias correction); nil when the optimizer state is not saved.
    public var optimizerIterations: Int?
    /// The seed of the run's dropout, sample order, augmentation and simulated training
    /// data when it is not `config.seed`: a run started from another checkpoint's weights
    /// draws its own (see ``Trainer``). Nil: `config.seed`.
    public var randomSeed: UInt64?
    /// Temperature scaling fitted on the validation set when the run ended (best
    /// checkpoints of 0.16 on); nil: probabilities as the network gives them.
    public var calibration: Calibration?

    public init(model: ModelSpec, classNames: [String], config: TrainConfig, epoch: Int, step: Int,
                metrics: EpochRecord?, callbacks: CallbackState, optimizerIterations: Int? = nil, randomSeed: UInt64? = nil) {
        self.model = model
        self.classNames = classNames
        self.config = config
        self.epoch = epoch
        self.step = step
        self.metrics = metrics
        self.callbacks = callbacks
        self.optimizerIterations = optimizerIterations
        self.randomSeed = randomSeed
    }
}

/// A problem with a checkpoint file, naming the file.
public struct CheckpointError: OneLineError {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Checkpoints are safetensors files: every weight under its Keras name and layout (so
/// `model.set_weights` in Keras can take them in Network.tensors order), for `last` also
/// the optimizer's slots, and the ``CheckpointMetadata``.
///
/// Writes are atomic: a temporary file in the same folder, fsync, then rename, so a
/// crash leaves either the old checkpoint or the new one, never half of one.
public enum Checkpoint {
    /// Writes `network`'s weights; with `optimizer` (a `last` checkpoint) also its slots
    /// and the gradient exchange's state `exchange` (PowerSGD's), to continue exactly.
    public static func save(network: Network, optimizer: Optimizer?, exchange: [(name: String, values: UnsafeMutableBufferPointer<Float>)] = [],
                            metadata: CheckpointMetadata, to url: URL) throws {
        var tensors = network.exportWeights()
        if let optimizer {
            for (name, values) in optimizer.slots {
                tensors["optimizer/" + name] = Safetensors.Tensor(shape: [values.count], values: Array(values))
            }
            for (name, values) in exchange {
                tensors["exchange/" + name] = Safetensors.Tensor(shape: [values.count], values: Array(values))
            }
        }
        var meta = metadata
        meta.optimizerIterations = optimizer?.iterations
        let json = String(decoding: try JSONLines.encode(meta), as: UTF8.self)
        try OutputFile.write(try Safetensors(tensors: tensors, metadata: [CheckpointMetadata.key: json]).serialized(), to: url)
    }

    /// The largest epoch, step or optimizer count a checkpoint may hold (2^40 steps would
    /// take a fast machine centuries).
    public static let maximumCounter = 1 << 40

    /// The file's tensors and metadata, checked: a seti-dist checkpoint of this format,
    /// a model the engine can build, every value finite.
    public static func read(_ given: URL) throws -> (file: Safetensors, metadata: CheckpointMetadata) {
        let url = try resolve(given)
        let file: Safetensors
        do { file = try Safetensors(contentsOf: url) } catch let error as Safetensors.FormatError {
            throw CheckpointError(error.description)
        }
        guard let json = file.metadata[CheckpointMetadata.key] else {
            throw CheckpointError("\(url.path): not a seti-dist checkpoint of this version (no '\(CheckpointMetadata.key)' metadata); retrain or evaluate it with the seti-dist that wrote it")
        }
        let metadata: CheckpointMetadata
        do { metadata = try JSONDecoder().decode(CheckpointMetadata.self, from: withConfigDefaults(Data(json.utf8))) } catch {
            throw CheckpointError("\(url.path): unreadable seti-dist metadata (\(describe(error)))")
        }
        guard metadata.format == CheckpointMetadata.currentFormat else {
            throw CheckpointError("\(url.path): checkpoint format \(metadata.format); this seti-dist reads format \(CheckpointMetadata.currentFormat)")
        }
        do { try metadata.model.validate() } catch { throw CheckpointError("\(url.path): \(error)") }
        // The counters a resumed run continues from: a negative or vast one would trap the
        // arithmetic of the schedule and the randomness later, mid-run.
        for (name, value) in [("epoch", metadata.epoch), ("step", metadata.step), ("optimizerIterations", metadata.optimizerIterations ?? 0)]
        where !(0...Self.maximumCounter).contains(value) {
            throw CheckpointError("\(url.path): \(name) = \(value): allowed 0...\(Self.maximumCounter)")
        }
        if let calibration = metadata.calibration, let problem = calibration.problem(classes: metadata.model.classes) {
            throw CheckpointError("\(url.path): calibration \(problem)")
        }
        guard metadata.classNames.count == metadata.model.classes else {
            throw CheckpointError("\(url.path): \(metadata.classNames.count) class names for a model with \(metadata.model.classes) outputs")
        }
        // Class names become CSV columns, JSON keys and picture titles.
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+-")
        if let bad = metadata.classNames.first(where: { $0.isEmpty || $0.count > 64 || !$0.allSatisfy(allowed.contains) }) {
            throw CheckpointError("\(url.path): class name '\(bad)': allowed 1 to 64 letters, digits and _ . + -")
        }
        guard Set(metadata.classNames).count == metadata.classNames.count else {
            throw CheckpointError("\(url.path): class names \(metadata.classNames.joined(separator: ", ")) repeat one")
        }
        for (name, tensor) in file.tensors.sorted(by: { $0.key < $1.key }) {
            if let bad = tensor.values.firstIndex(where: { !$0.isFinite }) {
                throw CheckpointError("\(url.path): tensor \(name) holds \(tensor.values[bad]) at element \(bad); the run that wrote it diverged")
            }
        }
        return (file, metadata)
    }

    /// A run folder stands for its best checkpoint, as `tensorboard --logdir` users type
    /// folders; a file is itself.
    public static func resolve(_ url: URL) throws -> URL {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), isFolder.boolValue else { return url }
        let best = url.appendingPathComponent(RunFolder.bestName)
        guard FileManager.default.fileExists(atPath: best.path) else {
            throw CheckpointError("\(url.path): a folder without \(RunFolder.bestName); name a checkpoint file or a run folder that holds one")
        }
        return best
    }

    /// A network built from the checkpoint's model, with its weights, for inference on
    /// batches of up to `maxBatch`.
    public static func loadNetwork(_ url: URL, maxBatch: Int) throws -> (network: Network, metadata: CheckpointMetadata) {
        let (file, metadata) = try read(url)
        let network = Network(spec: metadata.model, maxBatch: maxBatch, seed: 0)
        try network.importWeights(file.tensors, source: url.path)
        return (network, metadata)
    }

    /// Loads the weights (and the optimizer's slots when `optimizer` is given, and the
    /// exchange's state into `exchange`) into an existing network, which must have the
    /// checkpoint's model; `check` may refuse the metadata first.
    @discardableResult
    public static func restore(_ url: URL, into network: Network, optimizer: Optimizer? = nil,
                               exchange: [(name: String, values: UnsafeMutableBufferPointer<Float>)] = [],
                               check: (CheckpointMetadata) throws -> Void = { _ in }) throws -> CheckpointMetadata {
        let (file, metadata) = try read(url)
        try check(metadata)
        guard metadata.model == network.spec else {
            throw CheckpointError("\(url.path): holds another model than this run's (compare its metadata with config.json)")
        }
        try network.importWeights(file.tensors, source: url.path)
        if let optimizer {
            for (name, values) in optimizer.slots {
                guard let t = file.tensors["optimizer/" + name], t.values.count == values.count else {
                    throw CheckpointError("\(url.path): optimizer state \(name) is missing or has the wrong size (a best checkpoint holds none)")
                }
                _ = values.update(fromContentsOf: t.values)
            }
            optimizer.restore(iterations: metadata.optimizerIterations ?? 0)
        }
        for (name, values) in exchange {
            guard let t = file.tensors["exchange/" + name], t.values.count == values.count else {
                throw CheckpointError("\(url.path): gradient-exchange state \(name) is missing or has the wrong size")
            }
            _ = values.update(fromContentsOf: t.values)
        }
        return metadata
    }
}

/// A DecodingError in one line: the field's path and what was wrong.
func describe(_ error: Error) -> String {
    switch error {
    case DecodingError.typeMismatch(_, let context), DecodingError.dataCorrupted(let context),
         DecodingError.valueNotFound(_, let context):
        let path = context.codingPath.map(\.stringValue).joined(separator: ".")
        return path.isEmpty ? context.debugDescription : "field '\(path)': \(context.debugDescription)"
    case DecodingError.keyNotFound(let key, let context):
        let path = (context.codingPath + [key]).map(\.stringValue).joined(separator: ".")
        return "field '\(path)' is missing"
    default:
        return "\(error)"
    }
}

/// The metadata with every configuration field that an earlier version did not know set
/// to the value that reproduces that version's behaviour (label smoothing, weight decay and
/// contrast scaling off, PowerSGD from the first step); fields the checkpoint holds are
/// kept as they are.
private func withConfigDefaults(_ json: Data) -> Data {
    var legacy = TrainConfig()
    legacy.labelSmoothing = 0
    legacy.weightDecay = 0
    legacy.augmentation.intensityScale = 0
    legacy.augmentation.minMaxEncoding = 0
    legacy.powerSGDStartStep = 0
    legacy.generator = .image
    legacy.model = .setiCNN
    guard var object = (try? JSONSerialization.jsonObject(with: json)) as? [String: Any],
          let stored = object["config"] as? [String: Any],
          let defaults = (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(legacy))) as? [String: Any]
    else { return json }
    var config = stored
    // 0.17 and earlier named the exchange by two fields.
    if config["exchange"] == nil, let allreduce = config.removeValue(forKey: "allreduce") as? String {
        let compression = config.removeValue(forKey: "compression") as? String
        config["exchange"] = legacy.exchange.changing(allreduce: allreduce, compression: compression)?.rawValue ?? "\(allreduce), \(compression ?? "none")"
    }
    object["config"] = mergeFields(config, into: defaults)
    return (try? JSONSerialization.data(withJSONObject: object)) ?? json
}

/// `base` with `overrides`'s fields, nested objects merged field by field (a stored
/// `augmentation` without a newer field keeps that field's default), except an enum stored
/// as another case, which replaces the default whole (as in config files).
private func mergeFields(_ overrides: [String: Any], into base: [String: Any]) -> [String: Any] {
    base.merging(overrides) { old, new in
        if let old = old as? [String: Any], let new = new as? [String: Any], !TrainConfig.isEnumCase(new, old) {
            return mergeFields(new, into: old)
        }
        return new
    }
}
