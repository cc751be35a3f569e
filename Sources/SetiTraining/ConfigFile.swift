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
    /// `OUT/config.json`. Keys are the train command's flag names, decoded into a
    /// ``TrainConfigPatch`` (`global-batch`, `lr`, `schedule: cosine`, `decay-steps`), or the
    /// nested field names of config.json, merged field by field (`schedule: {warmupSteps:
    /// 100}` keeps the rest of the schedule); the patch applies last. The result is
    /// validated as flags are.
    public func merging(file url: URL) throws -> TrainConfig {
        let bytes = try readInputFile(url, maximumBytes: ConfigDocument.maximumBytes, what: "a configuration file")
        guard let text = String(data: bytes, encoding: .utf8) else {
            throw ConfigFileError(description: "\(url.path): not UTF-8 text; a configuration is YAML or JSON")
        }
        return try merging(text: text, source: url)
    }

    /// ``merging(file:)`` for text already read from `source`.
    public func merging(text: String, source url: URL) throws -> TrainConfig {
        let file = url.path
        let document = try ConfigDocument(text: text, file: file)
        // A flag's name holds the flag's value; config.json spells a schedule and a model as
        // mappings and an unset data folder or background as null under the same names.
        var flags: [String: Any] = [:], nested: [String: Any] = [:]
        for (key, value) in document.fields {
            let configJSONForm = ((key == "schedule" || key == "model") && value is [String: Any]) || (value is NSNull && (key == "data" || key == "background"))
            if TrainConfigPatch.flagNames.contains(key) && !configJSONForm { flags[key] = value } else { nested[key] = value }
        }
        var base = try JSONSerialization.jsonObject(with: JSONEncoder().encode(self)) as! [String: Any]
        // Optional fields that are nil are left out of the encoding; they are still fields.
        for key in ["data", "background"] where base[key] == nil { base[key] = NSNull() }
        let merged = try Self.merge(nested, into: base, current: self, path: "", filePath: "", file: file, lines: document.lines)
        var config: TrainConfig
        do {
            config = try JSONDecoder().decode(TrainConfig.self, from: JSONSerialization.data(withJSONObject: merged))
        } catch {
            throw ConfigFileError(description: Self.explain(error, current: self, file: file, lines: document.lines))
        }
        let patch = try TrainConfigPatch.decoded(from: flags, file: file, lines: document.lines)
        // A contradiction or a value out of range names its key's line when it names a key.
        func place(of error: Error) -> String {
            let message = "\(error)"
            let keys = document.fields.keys.filter { message.hasPrefix($0) || message.contains(" \($0) ") || message.contains("'\($0)'") || message.hasPrefix("give \($0)") }
            let line = keys.compactMap { document.lines[$0] }.min()
            return line.map { "\(file):\($0)" } ?? file
        }
        do {
            config = try patch.applied(to: config)
            try config.validate()
        } catch {
            throw ConfigFileError(description: "\(place(of: error)): \(error)")
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
            let place = ConfigDocument.place(file, lines, givenPath)
            let shown = "field '\(JSONLines.snakeCase(name))'"
            guard let baseValue = base[key] else {
                let known = path.isEmpty ? TrainConfigPatch.flagNames.sorted() : base.keys.map(JSONLines.snakeCase).sorted()
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
                    let choice = choices(of: type(of: swiftValue)).map { "one of \($0.joined(separator: ", "))" }
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

    static func describeValue(_ value: Any) -> String {
        switch value {
        case let text as String: return "'\(text.prefix(40))'"
        case is NSNull: return "null"
        case is [Any]: return "a list"
        case is [String: Any]: return "a mapping"
        default: return "\(value)"
        }
    }

    static func rejectNonFinite(_ value: Any, name: String, file: String) throws {
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

    /// The names an enum field takes (its raw values), for error messages; nil for other types.
    static func choices(of type: Any.Type) -> [String]? {
        func names<T: CaseIterable>(_: T.Type) -> [String] { T.allCases.map { ($0 as? any RawRepresentable).map { "\($0.rawValue)" } ?? "\($0)" } }
        if let wrapped = type as? any OptionalType.Type { return choices(of: wrapped.wrappedType) }
        return (type as? any CaseIterable.Type).map { names($0) }
    }

    /// The current value of the field at `path` (Swift names) inside `root`.
    private static func value(at path: [String], in root: Any) -> Any? {
        guard let first = path.first else { return root }
        guard let child = Mirror(reflecting: root).children.first(where: { $0.label == first }) else { return nil }
        return value(at: Array(path.dropFirst()), in: child.value)
    }

    /// A Swift type as a configuration file's author reads it.
    static func words(for type: Any.Type) -> String {
        if let wrapped = type as? any OptionalType.Type { return words(for: wrapped.wrappedType) }
        if type is UInt64.Type { return "a whole number, 0 or more" }
        switch type {
        case is String.Type: return "text"
        case is Bool.Type: return "true or false"
        case is Int.Type, is UInt64.Type, is Int32.Type: return "a whole number"
        case is Double.Type, is Float.Type: return "a number"
        case is [Any].Type: return "a list"
        default: return type is any Collection.Type ? "a list" : "a mapping"
        }
    }

    /// A decoding error in one line, naming the field as decoded; `current` is the
    /// configuration the file changes, whose field types tell the choices.
    private static func explain(_ error: Error, current: TrainConfig, file: String, lines: [String: Int]) -> String {
        switch error {
        case DecodingError.typeMismatch(_, let context), DecodingError.dataCorrupted(let context),
             DecodingError.valueNotFound(_, let context):
            let path = context.codingPath.map(\.stringValue)
            let dotted = path.joined(separator: ".")
            let place = ConfigDocument.place(file, lines, lines[dotted] != nil ? dotted : JSONLines.snakeCase(dotted))
            let field = "\(place): field '\(JSONLines.snakeCase(dotted))'"
            if let now = value(at: path, in: current), let allowed = choices(of: type(of: now)) { return "\(field): allowed \(allowed.joined(separator: ", "))" }
            if case DecodingError.typeMismatch(let type, _) = error, !dotted.isEmpty { return "\(field): expected \(words(for: type))" }
            if case DecodingError.valueNotFound(let type, _) = error, !dotted.isEmpty { return "\(field): null is not allowed; expected \(words(for: type))" }
            return dotted.isEmpty ? "\(file): \(describe(error))" : "\(field): \(context.debugDescription)"
        default:
            return "\(file): \(describe(error))"
        }
    }
}

/// Optional's wrapped type, for error messages about optional fields.
protocol OptionalType { static var wrappedType: Any.Type { get } }
extension Optional: OptionalType { static var wrappedType: Any.Type { Wrapped.self } }

extension TrainConfigPatch {
    /// A configuration file's flag-name keys (`fields`, plain values as ``ConfigDocument``
    /// reads them) decoded; each mistake names its line, the key, the value and what the
    /// key takes, checked here against the field's type before any decoder sees it.
    static func decoded(from fields: [String: Any], file: String, lines: [String: Int]) throws -> TrainConfigPatch {
        let types = Dictionary(uniqueKeysWithValues: Mirror(reflecting: TrainConfigPatch()).children.compactMap { child in
            child.label.map { (kebabCase($0), type(of: child.value)) }
        })
        var values = fields
        for (key, value) in fields {
            func fail(_ why: String) -> ConfigFileError {
                ConfigFileError(description: "\(ConfigDocument.place(file, lines, key)): field '\(key)' = \(TrainConfig.describeValue(value)): \(why)")
            }
            if key == "model" {
                // A named model (`model: classic`), as --model names it; config.json's whole
                // spec (a mapping) is merged as the nested fields are.
                guard let name = value as? String, let model = ModelName(rawValue: name) else {
                    throw fail("expected one of \(ModelName.allCases.map(\.rawValue).joined(separator: ", ")), or a whole model (height, width, channels, layers)")
                }
                values[key] = try JSONSerialization.jsonObject(with: JSONEncoder().encode(model.spec))
                continue
            }
            if let number = value as? Double, !number.isFinite { throw fail("allowed a finite number") }
            guard let type = types[key] else { continue }
            if let choices = TrainConfig.choices(of: type) {
                guard let name = value as? String, choices.contains(name) else { throw fail("expected one of \(choices.joined(separator: ", "))") }
                continue
            }
            let accepted: Bool
            switch type {
            case is Int?.Type: accepted = value is Int
            case is UInt64?.Type: accepted = (value as? Int).map { $0 >= 0 } ?? false
            case is Double?.Type: accepted = value is Int || value is Double
            case is Float?.Type: accepted = ((value as? Double) ?? (value as? Int).map(Double.init)).map { abs($0) <= Double(Float.greatestFiniteMagnitude) } ?? false
            case is Bool?.Type: accepted = value is Bool
            case is String?.Type: accepted = value is String
            default: accepted = true
            }
            guard accepted else { throw fail("expected \(TrainConfig.words(for: type))") }
        }
        do {
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .custom { path in
                let key = path.last!.stringValue
                return AnyKey(key.split(separator: "-").enumerated().map { $0.offset == 0 ? String($0.element) : $0.element.capitalized }.joined())
            }
            return try decoder.decode(TrainConfigPatch.self, from: JSONSerialization.data(withJSONObject: values))
        } catch {
            throw ConfigFileError(description: "\(file): \(describe(error))")
        }
    }
}

/// A coding key made at run time (the flag-name keys' field names).
private struct AnyKey: CodingKey {
    let stringValue: String
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    var intValue: Int? { nil }
    init?(intValue: Int) { nil }
}
