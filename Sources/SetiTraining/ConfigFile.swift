import Foundation

/// A problem in a `--config` file, named by file and line.
public struct ConfigFileError: Error, CustomStringConvertible {
    public let description: String
}

extension TrainConfig {
    /// This configuration with the fields a JSON or YAML file sets replaced, so a file may
    /// hold just the fields a run changes (`epochs: 30`) or a whole `OUT/config.json`.
    /// Nested objects merge field by field (`schedule: {warmupSteps: 100}` keeps the rest
    /// of the schedule).
    public func merging(file url: URL) throws -> TrainConfig {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw ConfigFileError(description: "\(url.path): cannot read the configuration file (\(error.localizedDescription))")
        }
        let overrides: Any
        if text.drop(while: \.isWhitespace).first == "{" {
            do { overrides = try JSONSerialization.jsonObject(with: Data(text.utf8)) } catch {
                throw ConfigFileError(description: "\(url.path): not valid JSON (\(error.localizedDescription))")
            }
        } else {
            overrides = try YAMLSubset.parse(text, file: url.path)
        }
        guard let fields = overrides as? [String: Any] else {
            throw ConfigFileError(description: "\(url.path): expected a mapping of configuration fields at the top level")
        }
        var base = try JSONSerialization.jsonObject(with: JSONEncoder().encode(self)) as! [String: Any]
        // Optional fields that are nil are left out of the encoding; they are still fields.
        if base["data"] == nil { base["data"] = NSNull() }
        let merged = try Self.merge(fields, into: base, path: "", file: url.path)
        do {
            return try JSONDecoder().decode(TrainConfig.self, from: JSONSerialization.data(withJSONObject: merged))
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.dataCorrupted(context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw ConfigFileError(description: "\(url.path): field '\(key)': \(context.debugDescription)")
        } catch {
            throw ConfigFileError(description: "\(url.path): not a seti-dist configuration (\(error))")
        }
    }

    private static func merge(_ overrides: [String: Any], into base: [String: Any], path: String, file: String) throws -> [String: Any] {
        var result = base
        for (key, value) in overrides {
            let name = path.isEmpty ? key : path + "." + key
            guard let current = base[key] else {
                throw ConfigFileError(description: "\(file): unknown field '\(name)'; known: \(base.keys.sorted().joined(separator: ", "))")
            }
            if let inner = value as? [String: Any], let currentInner = current as? [String: Any],
               !isEnumCase(inner, currentInner) {
                result[key] = try merge(inner, into: currentInner, path: name, file: file)
            } else {
                result[key] = value
            }
        }
        return result
    }

    /// Enums with payloads encode as a one-key object ({"cosine": {...}}); one naming
    /// another case replaces the value instead of merging into it.
    private static func isEnumCase(_ new: [String: Any], _ old: [String: Any]) -> Bool {
        new.count == 1 && old.count == 1 && new.keys.first != old.keys.first
    }
}

/// The block-style YAML a configuration needs: nested mappings by indentation, `- item`
/// lists, scalars (numbers, true/false, null, quoted or plain strings), `#` comments.
/// Anchors, flow collections and multi-line strings are refused with the line number.
enum YAMLSubset {
    static func parse(_ text: String, file: String) throws -> Any {
        var lines: [(number: Int, indent: Int, content: String)] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let content = stripComment(String(raw)).trimmingCharacters(in: .whitespaces)
            if content.isEmpty || content == "---" { continue }
            let indent = raw.prefix { $0 == " " }.count
            if raw.prefix(indent + 1).contains("\t") { throw ConfigFileError(description: "\(file):\(i + 1): tabs are not allowed for indentation in YAML") }
            lines.append((i + 1, indent, content))
        }
        var position = 0
        guard !lines.isEmpty else { return [String: Any]() }
        let value = try block(&position, lines, indent: lines[0].indent, file: file)
        if position < lines.count { throw ConfigFileError(description: "\(file):\(lines[position].number): unexpected indentation") }
        return value
    }

    private static func block(_ i: inout Int, _ lines: [(number: Int, indent: Int, content: String)], indent: Int, file: String) throws -> Any {
        if lines[i].content.hasPrefix("- ") || lines[i].content == "-" {
            var list: [Any] = []
            while i < lines.count && lines[i].indent == indent && lines[i].content.hasPrefix("-") {
                let item = lines[i].content.dropFirst().trimmingCharacters(in: .whitespaces)
                guard !item.isEmpty else { throw ConfigFileError(description: "\(file):\(lines[i].number): nested lists are not supported") }
                list.append(try scalar(item, line: lines[i].number, file: file))
                i += 1
            }
            return list
        }
        var mapping: [String: Any] = [:]
        while i < lines.count && lines[i].indent == indent {
            let (number, content) = (lines[i].number, lines[i].content)
            guard let colon = content.firstIndex(of: ":") else {
                throw ConfigFileError(description: "\(file):\(number): expected 'key: value'")
            }
            let key = unquote(content[..<colon].trimmingCharacters(in: .whitespaces))
            let rest = content[content.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            i += 1
            if rest.isEmpty {
                if i < lines.count && lines[i].indent > indent {
                    mapping[key] = try block(&i, lines, indent: lines[i].indent, file: file)
                } else if i < lines.count && lines[i].indent == indent && lines[i].content.hasPrefix("-") {
                    mapping[key] = try block(&i, lines, indent: indent, file: file)
                } else {
                    mapping[key] = NSNull()
                }
            } else {
                mapping[key] = try scalar(rest, line: number, file: file)
            }
        }
        return mapping
    }

    private static func scalar(_ text: String, line: Int, file: String) throws -> Any {
        if let first = text.first, "[{&*|>!".contains(first) {
            throw ConfigFileError(description: "\(file):\(line): '\(text)': only block-style YAML with plain scalars is supported")
        }
        if text.first == "\"" || text.first == "'" { return unquote(text) }
        switch text {
        case "true", "True": return true
        case "false", "False": return false
        case "null", "~": return NSNull()
        default: break
        }
        if let integer = Int(text) { return integer }
        if let number = Double(text) { return number }
        return text
    }

    private static func unquote(_ text: String) -> String {
        guard text.count >= 2, let first = text.first, first == text.last, first == "\"" || first == "'" else { return text }
        return String(text.dropFirst().dropLast())
    }

    /// The line without a `#` comment (a `#` inside quotes is kept).
    private static func stripComment(_ line: String) -> String {
        var quote: Character?
        for (offset, c) in line.enumerated() {
            if let q = quote { if c == q { quote = nil } } else if c == "\"" || c == "'" { quote = c } else if c == "#" {
                let index = line.index(line.startIndex, offsetBy: offset)
                if index == line.startIndex || line[line.index(before: index)] == " " { return String(line[..<index]) }
            }
        }
        return line
    }
}
