import Foundation
import SetiFiles
import Yams

/// A `--config` file read as plain values (String, Int, Double, Bool, NSNull, arrays and
/// string-keyed dictionaries) with the line of every key, before any decoding: the YAML
/// tree is checked first (scalar keys only, standard tags, depth and size bounds), so no
/// document can reach a decoder that traps, and every later error can name its line.
struct ConfigDocument {
    /// The top-level mapping.
    let fields: [String: Any]
    /// The line of each key, by dotted path ("schedule.warmupSteps", "global-batch").
    let lines: [String: Int]

    /// Aliases could expand a few lines into billions of values (the "billion laughs").
    static let maximumValues = 100_000
    static let maximumDepth = 16
    static let maximumBytes = 1 << 20

    init(text: String, file: String) throws {
        if let line = text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex(where: { $0.prefix { $0 == " " || $0 == "\t" }.contains("\t") }) {
            throw ConfigFileError(description: "\(file):\(line + 1): a tab in the indentation; YAML indents with spaces")
        }
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch let error as YamlError {
            throw ConfigFileError(description: "\(file): not valid YAML or JSON (\(Self.oneLine(error)))")
        } catch {
            throw ConfigFileError(description: "\(file): not valid YAML or JSON (\(reason(of: error)))")
        }
        var reader = Reader(file: file)
        let value = try root.map { try reader.plain($0, path: "", depth: 0) } ?? [String: Any]()
        guard let fields = value as? [String: Any] else {
            throw ConfigFileError(description: "\(file): expected a mapping of configuration fields at the top level")
        }
        self.fields = fields
        self.lines = reader.lines
    }

    /// "FILE:LINE" for the key at `path`, or "FILE" when the key came from elsewhere.
    static func place(_ file: String, _ lines: [String: Int], _ path: String) -> String {
        lines[path].map { "\(file):\($0)" } ?? file
    }

    private struct Reader {
        let file: String
        var budget = ConfigDocument.maximumValues
        var lines: [String: Int] = [:]

        func at(_ node: Node) -> String { node.mark.map { "\(file):\($0.line)" } ?? file }

        mutating func plain(_ node: Node, path: String, depth: Int) throws -> Any {
            budget -= 1
            guard budget >= 0 else {
                throw ConfigFileError(description: "\(file): too large a configuration (over \(ConfigDocument.maximumValues) values once YAML aliases are expanded)")
            }
            guard depth <= ConfigDocument.maximumDepth else {
                throw ConfigFileError(description: "\(at(node)): nested deeper than \(ConfigDocument.maximumDepth) levels")
            }
            switch node {
            case .scalar(let scalar):
                return try value(of: scalar, node: node, path: path)
            case .sequence(let sequence):
                return try sequence.enumerated().map { try plain($0.element, path: "\(path)[\($0.offset)]", depth: depth + 1) }
            case .mapping(let mapping):
                var object: [String: Any] = [:]
                for (key, value) in mapping {
                    guard case .scalar(let keyScalar) = key else {
                        throw ConfigFileError(description: "\(at(key)): a key must be a plain name, not \(kindName(key))")
                    }
                    let name = keyScalar.string
                    let child = path.isEmpty ? name : "\(path).\(name)"
                    guard object[name] == nil else { throw ConfigFileError(description: "\(at(key)): key '\(child)' given twice") }
                    if let mark = key.mark { lines[child] = mark.line }
                    object[name] = try plain(value, path: child, depth: depth + 1)
                }
                return object
            case .alias:
                throw ConfigFileError(description: "\(at(node)): an unresolved YAML alias")
            }
        }

        private func value(of scalar: Node.Scalar, node: Node, path: String) throws -> Any {
            switch Resolver.default.resolveTag(of: node) {
            case .null: return NSNull()
            case .bool:
                guard let bool = node.bool else { break }
                return bool
            case .int:
                guard let int = node.int else {
                    throw ConfigFileError(description: "\(at(node)): '\(scalar.string)' is a whole number out of range (at most \(Int.max))")
                }
                return int
            case .float:
                guard let double = node.float else { break }
                return double
            case .str: return scalar.string
            default: break
            }
            throw ConfigFileError(description: "\(at(node)): the value '\(scalar.string.prefix(40))' tagged \(Resolver.default.resolveTag(of: node).rawValue) is not a number, true/false, null or text")
        }

        private func kindName(_ node: Node) -> String {
            switch node {
            case .scalar: return "a value tagged \(Resolver.default.resolveTag(of: node).rawValue)"
            case .sequence: return "a list"
            case .mapping: return "a mapping"
            case .alias: return "an alias"
            }
        }
    }

    private static func oneLine(_ error: YamlError) -> String {
        "\(error)".split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: "; ")
    }
}
