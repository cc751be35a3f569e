import Foundation
import SetiFiles
import SetiData
import SetiNet
import Yams

/// A problem in a `--config` file, named by file (and line, where the parser knows it).
public struct ConfigFileError: OneLineError {
    public let description: String
}

extension TrainConfig {
    /// This configuration with the fields a JSON or YAML file sets replaced, so a file may
    /// hold just the fields a run changes (`epochs: 30`, `lr: 0.001`) or a whole
    /// `OUT/config.json`. Keys are the train command's flag names (`global-batch`, `lr`,
    /// `schedule: cosine`, `decay-steps`) or the nested field names of config.json;
    /// nested objects merge field by field (`schedule: {warmupSteps: 100}` keeps the rest
    /// of the schedule). The result is validated as flags are.
    public func merging(file url: URL) throws -> TrainConfig {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw ConfigFileError(description: "\(url.path): cannot read the configuration file (\(reason(of: error)))")
        }
        return try merging(text: text, source: url)
    }

    /// ``merging(file:)`` for text already read from `source`.
    public func merging(text: String, source url: URL) throws -> TrainConfig {
        let overrides: Any?
        do {
            // A configuration is small; anchors and aliases could expand a few lines into
            // billions of values (the "billion laughs"), so the document is measured first.
            if let node = try Yams.compose(yaml: text) {
                var budget = 100_000
                guard Self.fits(node, within: &budget) else {
                    throw ConfigFileError(description: "\(url.path): too large a configuration (over 100000 values once YAML aliases are expanded)")
                }
            }
            overrides = try Yams.load(yaml: text)
        } catch let error as ConfigFileError {
            throw error
        } catch let error as YamlError {
            throw ConfigFileError(description: "\(url.path): not valid YAML or JSON (\(Self.oneLine(error)))")
        } catch {
            throw ConfigFileError(description: "\(url.path): not valid YAML or JSON (\(error))")
        }
        guard let fields = (overrides ?? [String: Any]()) as? [String: Any] else {
            throw ConfigFileError(description: "\(url.path): expected a mapping of configuration fields at the top level")
        }
        var base = try JSONSerialization.jsonObject(with: JSONEncoder().encode(self)) as! [String: Any]
        // Optional fields that are nil are left out of the encoding; they are still fields.
        if base["data"] == nil { base["data"] = NSNull() }
        let nested = try Self.expandFlagNames(fields, currentDecay: schedule.decay, file: url.path)
        let merged = try Self.merge(nested, into: base, path: "", file: url.path)
        let config: TrainConfig
        do {
            config = try JSONDecoder().decode(TrainConfig.self, from: JSONSerialization.data(withJSONObject: merged))
        } catch {
            throw ConfigFileError(description: "\(url.path): \(Self.explain(error))")
        }
        do { try config.validate() } catch {
            throw ConfigFileError(description: "\(url.path): \(error)")
        }
        return config
    }

    /// Whether `node`, with aliases expanded, has at most `budget` values.
    private static func fits(_ node: Node, within budget: inout Int) -> Bool {
        budget -= 1
        guard budget >= 0 else { return false }
        switch node {
        case .scalar: return true
        case .alias: return true
        case .sequence(let sequence): return sequence.allSatisfy { fits($0, within: &budget) }
        case .mapping(let mapping): return mapping.allSatisfy { fits($0.key, within: &budget) && fits($0.value, within: &budget) }
        }
    }

    /// The configuration as indented JSON with sorted keys (what `--print-config` shows).
    public var prettyJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// Flag names and the fields they set (see `seti-dist help train`).
    static let flagFields: [String: [String]] = [
        "data": ["data"], "simulated-per-class": ["simulatedPerClass"], "fresh-simulation": ["freshSimulationEachEpoch"],
        "generator": ["generator"], "classes": ["simulatedClasses"], "background": ["background"],
        "epochs": ["epochs"], "global-batch": ["globalBatch"], "optimizer": ["optimizer"], "lr": ["schedule", "initial"],
        "warmup-steps": ["schedule", "warmupSteps"], "scale-lr": ["scaleLearningRate"],
        "plateau-patience": ["plateauPatience"], "plateau-factor": ["plateauFactor"],
        "label-smoothing": ["labelSmoothing"], "weight-decay": ["weightDecay"],
        "hflip": ["augmentation", "horizontalFlip"], "vflip": ["augmentation", "verticalFlip"],
        "shift": ["augmentation", "frequencyShift"], "fill": ["augmentation", "fill"], "noise": ["augmentation", "noise"],
        "intensity-scale": ["augmentation", "intensityScale"], "min-max-encoding": ["augmentation", "minMaxEncoding"],
        "dropout": ["dropout"], "seed": ["seed"], "overlap": ["overlap"], "allreduce": ["allreduce"],
        "compression": ["compression"], "powersgd-rank": ["powerSGDRank"], "powersgd-start-step": ["powerSGDStartStep"],
        "batch-norm-group-size": ["batchNormGroupSize"], "batch-norm-estimation-batches": ["batchNormEstimationBatches"],
        "monitor": ["monitor"], "mode": ["mode"], "early-stopping-patience": ["earlyStoppingPatience"], "min-delta": ["minDelta"],
    ]

    /// Rewrites flag-name keys into the nested form. `schedule` given as a name
    /// (`schedule: cosine`) and `decay-steps`, `decay-rate`, `staircase` build the decay.
    private static func expandFlagNames(_ fields: [String: Any], currentDecay: LearningRateSchedule.Decay, file: String) throws -> [String: Any] {
        var result: [String: Any] = [:]
        func set(_ path: [String], _ value: Any, in object: inout [String: Any]) {
            guard path.count > 1 else { object[path[0]] = value; return }
            var inner = object[path[0]] as? [String: Any] ?? [:]
            set(Array(path.dropFirst()), value, in: &inner)
            object[path[0]] = inner
        }
        for (key, value) in fields {
            if let path = flagFields[key], path.count > 1 || path[0] != key {
                set(path, value, in: &result)
            } else if !["schedule", "decay-steps", "decay-rate", "staircase"].contains(key) {
                result[key] = value
            }
        }
        let decayKeys = ["decay-steps", "decay-rate", "staircase"].filter { fields[$0] != nil }
        if let schedule = fields["schedule"], !(schedule is String) {
            guard decayKeys.isEmpty else {
                throw ConfigFileError(description: "\(file): give the decay either nested under 'schedule' or as \(decayKeys.joined(separator: ", ")) beside 'schedule: NAME', not both")
            }
            result["schedule"] = schedule
            return result
        }
        guard fields["schedule"] != nil || !decayKeys.isEmpty else { return result }
        // The decay in force changed as the flags change it (one rule for both).
        var kind: LearningRateSchedule.Decay.Kind?
        if let name = fields["schedule"] {
            let kinds = LearningRateSchedule.Decay.Kind.allCases.map(\.rawValue)
            guard let text = name as? String, let known = LearningRateSchedule.Decay.Kind(rawValue: text) else {
                throw ConfigFileError(description: "\(file): field 'schedule': '\(name)' is not one of \(kinds.joined(separator: ", "))")
            }
            kind = known
        }
        func typed<T>(_ key: String, _ what: String, _ convert: (Any) -> T?) throws -> T? {
            guard let value = fields[key] else { return nil }
            guard let converted = convert(value) else { throw ConfigFileError(description: "\(file): field '\(key)' = \(value): allowed \(what)") }
            return converted
        }
        let steps = try typed("decay-steps", "a whole number") { $0 as? Int }
        let rate = try typed("decay-rate", "a finite number") { (($0 as? Double) ?? ($0 as? Int).map(Double.init)).flatMap { $0.isFinite ? $0 : nil } }
        let staircase = try typed("staircase", "true or false") { $0 as? Bool }
        let decay: LearningRateSchedule.Decay
        do { decay = try currentDecay.reshaped(to: kind, steps: steps, rate: rate, staircase: staircase) } catch {
            throw ConfigFileError(description: "\(file): \(error)")
        }
        var schedule = result["schedule"] as? [String: Any] ?? [:]
        schedule["decay"] = try JSONSerialization.jsonObject(with: JSONEncoder().encode(decay))
        result["schedule"] = schedule
        return result
    }

    private static func merge(_ overrides: [String: Any], into base: [String: Any], path: String, file: String) throws -> [String: Any] {
        var result = base
        for (key, value) in overrides {
            let name = path.isEmpty ? key : path + "." + key
            guard let current = base[key] else {
                let known = path.isEmpty ? (Array(flagFields.keys) + ["schedule", "decay-steps", "decay-rate", "staircase", "model"]).sorted() : base.keys.sorted()
                throw ConfigFileError(description: "\(file): unknown field '\(name)'; known: \(known.joined(separator: ", "))")
            }
            if let number = value as? Double, !number.isFinite {
                throw ConfigFileError(description: "\(file): field '\(name)' = \(number): allowed a finite number")
            }
            if let inner = value as? [String: Any], let currentInner = current as? [String: Any],
               !isEnumCase(inner, currentInner) {
                result[key] = try merge(inner, into: currentInner, path: name, file: file)
            } else {
                try rejectNonFinite(value, name: name, file: file)
                result[key] = value
            }
        }
        return result
    }

    private static func rejectNonFinite(_ value: Any, name: String, file: String) throws {
        if let number = value as? Double, !number.isFinite {
            throw ConfigFileError(description: "\(file): field '\(name)' = \(number): allowed a finite number")
        } else if let object = value as? [String: Any] {
            for (k, v) in object { try rejectNonFinite(v, name: name + "." + k, file: file) }
        } else if let list = value as? [Any] {
            for (i, v) in list.enumerated() { try rejectNonFinite(v, name: "\(name)[\(i)]", file: file) }
        }
    }

    /// Enums with payloads encode as a one-key object ({"cosine": {...}}); one naming
    /// another case replaces the value instead of merging into it.
    static func isEnumCase(_ new: [String: Any], _ old: [String: Any]) -> Bool {
        new.count == 1 && old.count == 1 && new.keys.first != old.keys.first
    }

    /// The choices of the fields that are enums, for error messages.
    private static let choices: [String: [String]] = [
        "monitor": Monitor.allCases.map(\.rawValue), "mode": MonitorMode.allCases.map(\.rawValue),
        "optimizer": OptimizerChoice.allCases.map(\.rawValue), "generator": Simulator.Generator.allCases.map(\.rawValue), "allreduce": AllreduceMethod.allCases.map(\.rawValue),
        "compression": GradientCompression.allCases.map(\.rawValue), "augmentation.fill": Augmentation.Fill.allCases.map(\.rawValue),
    ]

    /// A decoding error in one line, naming the field as decoded and, when a flag-name
    /// key sets it, that key too (files may use either form).
    private static func explain(_ error: Error) -> String {
        switch error {
        case DecodingError.typeMismatch(_, let context), DecodingError.dataCorrupted(let context),
             DecodingError.valueNotFound(_, let context):
            let path = context.codingPath.map(\.stringValue)
            let dotted = path.joined(separator: ".")
            let flag = flagFields.first { $0.value == path && $0.key != dotted }?.key
            let field = "field '\(dotted)'" + (flag.map { " (\($0))" } ?? "")
            if let allowed = choices[dotted] { return "\(field): allowed \(allowed.joined(separator: ", "))" }
            return dotted.isEmpty ? describe(error) : "\(field): \(context.debugDescription)"
        default:
            return describe(error)
        }
    }

    private static func oneLine(_ error: YamlError) -> String {
        "\(error)".split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: "; ")
    }
}
