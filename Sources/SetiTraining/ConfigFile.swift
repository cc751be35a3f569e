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
        let bytes = try readInputFile(url, maximumBytes: ConfigDocument.maximumBytes, what: "a configuration file")
        guard let text = String(data: bytes, encoding: .utf8) else {
            throw ConfigFileError(description: "\(url.path): not UTF-8 text; a configuration is YAML or JSON")
        }
        return try merging(text: text, source: url)
    }

    /// ``merging(file:)`` for text already read from `source`.
    public func merging(text: String, source url: URL) throws -> TrainConfig {
        let document = try ConfigDocument(text: text, file: url.path)
        var base = try JSONSerialization.jsonObject(with: JSONEncoder().encode(self)) as! [String: Any]
        // Optional fields that are nil are left out of the encoding; they are still fields.
        if base["data"] == nil { base["data"] = NSNull() }
        let nested = try Self.expandFlagNames(document.fields, current: self, file: url.path, lines: document.lines)
        let merged = try Self.merge(nested, into: base, current: self, path: "", filePath: "", file: url.path, lines: document.lines)
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

    /// The configuration as indented JSON with sorted keys (what `--print-config` shows).
    public var prettyJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
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
        "dropout": ["dropout"], "seed": ["seed"], "overlap": ["overlap"], "exchange": ["exchange"],
        "powersgd-rank": ["powerSGDRank"], "powersgd-start-step": ["powerSGDStartStep"],
        "batch-norm-group-size": ["batchNormGroupSize"], "batch-norm-estimation-batches": ["batchNormEstimationBatches"],
        "monitor": ["monitor"], "mode": ["mode"], "early-stopping-patience": ["earlyStoppingPatience"], "min-delta": ["minDelta"],
    ]

    /// Rewrites flag-name keys into the nested form. `schedule` given as a name
    /// (`schedule: cosine`) and `decay-steps`, `decay-rate`, `staircase` build the decay;
    /// 0.17's `allreduce` and `compression` name the exchange method.
    private static func expandFlagNames(_ fields: [String: Any], current: TrainConfig, file: String, lines: [String: Int]) throws -> [String: Any] {
        let currentDecay = current.schedule.decay
        var result: [String: Any] = [:]
        func set(_ path: [String], _ value: Any, in object: inout [String: Any]) {
            guard path.count > 1 else { object[path[0]] = value; return }
            var inner = object[path[0]] as? [String: Any] ?? [:]
            set(Array(path.dropFirst()), value, in: &inner)
            object[path[0]] = inner
        }
        for (key, value) in fields {
            if key == "model", !(value is [String: Any]) {
                // A named model (`model: classic`), as --model names it; a mapping is a whole spec.
                guard let name = value as? String, let model = ModelName(rawValue: name) else {
                    let names = ModelName.allCases.map(\.rawValue).joined(separator: ", ")
                    throw ConfigFileError(description: "\(ConfigDocument.place(file, lines, "model")): field 'model' = \(describeValue(value)): expected one of \(names), or a whole model (height, width, channels, layers)")
                }
                result["model"] = try JSONSerialization.jsonObject(with: JSONEncoder().encode(model.spec))
            } else if let path = flagFields[key], path.count > 1 || path[0] != key {
                set(path, value, in: &result)
            } else if !["schedule", "decay-steps", "decay-rate", "staircase", "allreduce", "compression"].contains(key) {
                result[key] = value
            }
        }
        let legacyKeys = ["allreduce", "compression"].filter { fields[$0] != nil }
        if let first = legacyKeys.first {
            let place = ConfigDocument.place(file, lines, first)
            guard fields["exchange"] == nil else {
                throw ConfigFileError(description: "\(place): give 'exchange' or 0.17's \(legacyKeys.joined(separator: " and ")), not both")
            }
            func text(_ key: String) -> String? { fields[key].map { $0 as? String ?? "\($0)" } }
            guard let method = current.exchange.changing(allreduce: text("allreduce"), compression: text("compression")) else {
                let old = current.exchange.legacySettings, names = ExchangeMethod.allCases.map(\.rawValue).joined(separator: ", ")
                throw ConfigFileError(description: "\(place): allreduce '\(text("allreduce") ?? old.allreduce)' with compression '\(text("compression") ?? old.compression)' is no exchange method (0.17's settings; 'exchange' is one of \(names))")
            }
            result["exchange"] = method.rawValue
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
                throw ConfigFileError(description: "\(ConfigDocument.place(file, lines, "schedule")): field 'schedule': '\(name)' is not one of \(kinds.joined(separator: ", "))")
            }
            kind = known
        }
        func typed<T>(_ key: String, _ what: String, _ convert: (Any) -> T?) throws -> T? {
            guard let value = fields[key] else { return nil }
            guard let converted = convert(value) else { throw ConfigFileError(description: "\(ConfigDocument.place(file, lines, key)): field '\(key)' = \(value): allowed \(what)") }
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

    /// `overrides` merged into `base` (the configuration as JSON), field by field; `current`
    /// is the same configuration as Swift values, whose field types every value is checked
    /// against first, so a wrong type is named with its field, its line and the type expected.
    private static func merge(_ overrides: [String: Any], into base: [String: Any], current: Any, path: String, filePath: String,
                              file: String, lines: [String: Int]) throws -> [String: Any] {
        var result = base
        let fieldsNow = Dictionary(Mirror(reflecting: current).children.compactMap { child in child.label.map { ($0, child.value) } }, uniquingKeysWith: { a, _ in a })
        for (given, value) in overrides {
            // config.json's snake_case keys name the same fields as the Swift names.
            let key = base[given] != nil ? given : base.keys.first { JSONLines.snakeCase($0) == given } ?? given
            let name = path.isEmpty ? key : path + "." + key
            let givenPath = filePath.isEmpty ? given : filePath + "." + given
            let flag = flagFields.first { $0.value.joined(separator: ".") == name && $0.key != name }?.key
            let place = ConfigDocument.place(file, lines, lines[givenPath] != nil ? givenPath : flag ?? givenPath)
            let shown = "field '\(JSONLines.snakeCase(name))'" + (flag.map { " (\($0))" } ?? "")
            guard let baseValue = base[key] else {
                let known = path.isEmpty ? (Array(flagFields.keys) + ["schedule", "decay-steps", "decay-rate", "staircase", "model"]).sorted() : base.keys.map(JSONLines.snakeCase).sorted()
                throw ConfigFileError(description: "\(place): unknown field '\(JSONLines.snakeCase(path.isEmpty ? given : path + "." + given))'; known: \(known.joined(separator: ", "))")
            }
            if let number = value as? Double, !number.isFinite {
                throw ConfigFileError(description: "\(place): \(shown) = \(number): allowed a finite number")
            }
            let swiftValue = fieldsNow[key]
            if let inner = value as? [String: Any], let currentInner = baseValue as? [String: Any],
               !isEnumCase(inner, currentInner) {
                result[key] = try merge(inner, into: currentInner, current: swiftValue ?? NSNull(), path: name, filePath: givenPath, file: file, lines: lines)
            } else {
                if let swiftValue, let expected = expectedType(of: swiftValue), !expected.accepts(value) {
                    let choice = choices[name].map { "one of \($0.joined(separator: ", "))" }
                    throw ConfigFileError(description: "\(place): \(shown) = \(describeValue(value)): expected \(choice ?? expected.what)")
                }
                try rejectNonFinite(value, name: name, file: place)
                result[key] = camelCaseKeys(value)
            }
        }
        return result
    }

    /// What a field of this Swift value's type accepts from a file; nil when the decoder
    /// alone can tell (nested structures, enums with payloads, optionals that are unset).
    /// `value` with every dictionary key in the Swift spelling (a model's layers or a decay
    /// from config.json replace the current value whole, keys and all).
    private static func camelCaseKeys(_ value: Any) -> Any {
        if let object = value as? [String: Any] {
            return Dictionary(object.map { (JSONLines.camelCase($0.key), camelCaseKeys($0.value)) }, uniquingKeysWith: { a, _ in a })
        }
        if let list = value as? [Any] { return list.map(camelCaseKeys) }
        return value
    }

    private static func expectedType(of value: Any) -> (what: String, accepts: (Any) -> Bool)? {
        switch value {
        case is Bool: return ("true or false", { $0 is Bool })
        case is Int: return ("a whole number", { $0 is Int })
        case is UInt64: return ("a whole number, 0 or more", { ($0 as? Int).map { $0 >= 0 } ?? false })
        case is Double, is Float: return ("a number", { $0 is Int || $0 is Double })
        case is String: return ("text", { $0 is String })
        default: break
        }
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional, let wrapped = mirror.children.first?.value, let inner = expectedType(of: wrapped) {
            return (inner.what + " or null", { $0 is NSNull || inner.accepts($0) })
        }
        if mirror.displayStyle == .enum, mirror.children.isEmpty, value is any RawRepresentable {
            return ("a name", { $0 is String })
        }
        return nil
    }

    private static func describeValue(_ value: Any) -> String {
        switch value {
        case let text as String: return "'\(text.prefix(40))'"
        case is NSNull: return "null"
        case is [Any]: return "a list"
        case is [String: Any]: return "a mapping"
        default: return "\(value)"
        }
    }

    private static func rejectNonFinite(_ value: Any, name: String, file: String) throws {
        if let number = value as? Double, !number.isFinite {
            throw ConfigFileError(description: "\(file): field '\(JSONLines.snakeCase(name))' = \(number): allowed a finite number")
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
        "optimizer": OptimizerChoice.allCases.map(\.rawValue), "generator": Simulator.Generator.allCases.map(\.rawValue), "exchange": ExchangeMethod.allCases.map(\.rawValue),
        "augmentation.fill": Augmentation.Fill.allCases.map(\.rawValue),
    ]

    /// A Swift type as a configuration file's author reads it.
    private static func words(for type: Any.Type) -> String {
        switch type {
        case is String.Type: return "text"
        case is Bool.Type: return "true or false"
        case is Int.Type, is UInt64.Type, is Int32.Type: return "a whole number"
        case is Double.Type, is Float.Type: return "a number"
        case is [Any].Type: return "a list"
        default: return type is any Collection.Type ? "a list" : "a mapping"
        }
    }

    /// A decoding error in one line, naming the field as decoded and, when a flag-name
    /// key sets it, that key too (files may use either form).
    private static func explain(_ error: Error) -> String {
        switch error {
        case DecodingError.typeMismatch(_, let context), DecodingError.dataCorrupted(let context),
             DecodingError.valueNotFound(_, let context):
            let path = context.codingPath.map(\.stringValue)
            let dotted = path.joined(separator: ".")
            let flag = flagFields.first { $0.value == path && $0.key != dotted }?.key
            let field = "field '\(JSONLines.snakeCase(dotted))'" + (flag.map { " (\($0))" } ?? "")
            if let allowed = choices[dotted] { return "\(field): allowed \(allowed.joined(separator: ", "))" }
            if case DecodingError.typeMismatch(let type, _) = error, !dotted.isEmpty { return "\(field): expected \(words(for: type))" }
            if case DecodingError.valueNotFound(let type, _) = error, !dotted.isEmpty { return "\(field): null is not allowed; expected \(words(for: type))" }
            return dotted.isEmpty ? describe(error) : "\(field): \(context.debugDescription)"
        default:
            return describe(error)
        }
    }
}
