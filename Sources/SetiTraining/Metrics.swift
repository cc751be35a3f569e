import Foundation
import SetiFiles

/// Classification results over a set: loss, accuracy and the confusion matrix
/// (rows = true class, columns = predicted class).
public struct Evaluation: Sendable {
    public var lossSum: Double = 0
    public var count = 0
    public var confusion: [[Int]]

    public init(classes: Int) { confusion = Array(repeating: Array(repeating: 0, count: classes), count: classes) }

    public var loss: Double { count > 0 ? lossSum / Double(count) : .nan }
    public var correct: Int { confusion.indices.reduce(0) { $0 + confusion[$1][$1] } }
    public var accuracy: Double { count > 0 ? Double(correct) / Double(count) : .nan }

    /// One class's scores, as scikit-learn computes them (0 where undefined).
    public struct ClassScores: Codable, Hashable, Sendable {
        public var name: String
        public var precision: Double
        public var recall: Double
        public var f1: Double
        public var support: Int
    }

    /// Precision, recall, F1 and support of each class.
    public func scores(classNames: [String]) -> [ClassScores] {
        confusion.indices.map { c in
            let tp = Double(confusion[c][c])
            let predicted = Double(confusion.reduce(0) { $0 + $1[c] }), support = confusion[c].reduce(0, +)
            let p = predicted > 0 ? tp / predicted : 0, r = support > 0 ? tp / Double(support) : 0
            return ClassScores(name: classNames[c], precision: p, recall: r, f1: p + r > 0 ? 2 * p * r / (p + r) : 0, support: support)
        }
    }

    /// Everything `evaluate --json` prints.
    public struct Summary: Codable, Sendable {
        public var samples: Int
        public var accuracy: Double
        public var loss: Double
        public var classes: [ClassScores]
        /// Rows: true class; columns: predicted class; in the order of `classes`.
        public var confusion: [[Int]]
    }

    public func summary(classNames: [String]) -> Summary {
        Summary(samples: count, accuracy: accuracy, loss: loss, classes: scores(classNames: classNames), confusion: confusion)
    }

    /// Per class precision, recall, F1 and support, laid out as scikit-learn's
    /// classification_report.
    public func report(classNames: [String]) -> String {
        let width = max(12, (classNames.map(\.count).max() ?? 0) + 2)
        func pad(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
        func f(_ x: Double) -> String { pad(String(format: "%.2f", x.isNaN ? 0 : x), 10) }
        var lines = [pad("", width) + pad("precision", 10) + pad("recall", 10) + pad("f1-score", 10) + pad("support", 10), ""]
        let all = scores(classNames: classNames)
        for s in all {
            lines.append(pad(s.name, width) + f(s.precision) + f(s.recall) + f(s.f1) + pad("\(s.support)", 10))
        }
        let k = Double(max(1, all.count)), n = Double(max(1, count))
        func mean(_ key: KeyPath<ClassScores, Double>) -> Double { all.map { $0[keyPath: key] }.reduce(0, +) / k }
        func weighted(_ key: KeyPath<ClassScores, Double>) -> Double { all.map { $0[keyPath: key] * Double($0.support) }.reduce(0, +) / n }
        lines.append("")
        lines.append(pad("accuracy", width) + pad("", 20) + f(accuracy) + pad("\(count)", 10))
        lines.append(pad("macro avg", width) + f(mean(\.precision)) + f(mean(\.recall)) + f(mean(\.f1)) + pad("\(count)", 10))
        lines.append(pad("weighted avg", width) + f(weighted(\.precision)) + f(weighted(\.recall)) + f(weighted(\.f1)) + pad("\(count)", 10))
        return lines.joined(separator: "\n")
    }
}

/// One line of the per-epoch log (JSON lines, one object per epoch), Keras's History keys.
public struct EpochRecord: Codable, Hashable, Sendable {
    public var epoch: Int
    public var step: Int
    public var loss: Double
    public var accuracy: Double
    public var val_loss: Double
    public var val_accuracy: Double
    public var lr: Double
    /// Training alone: the epoch's steps (and batch-norm re-estimation), without
    /// validation and checkpoint writes, which have their own fields.
    public var seconds: Double
    public var samples_per_second: Double
    public var validation_seconds: Double?
    /// Writing the epoch's checkpoints (nil in the checkpoint's own copy of the record).
    public var checkpoint_seconds: Double?

    /// The log's records; a line that is not one is an error naming it.
    public static func read(_ url: URL) throws -> [EpochRecord] {
        try lines(of: url).enumerated().map { n, line in
            guard let record = decode(line) else { throw FileError(path: "\(url.path):\(n + 1)", "not an epoch record") }
            return record
        }
    }

    /// The log's records, passing over lines that are not one (a line torn by a crash in
    /// mid-write, or damage), and how many those were.
    public static func readReadable(_ url: URL) throws -> (records: [EpochRecord], unreadable: Int) {
        let all = try lines(of: url).map(decode)
        let records = all.compactMap { $0 }
        return (records, all.count - records.count)
    }

    private static func lines(of url: URL) throws -> [Substring] {
        String(decoding: try readInputFile(url, maximumBytes: 1 << 30, what: "a metrics log (JSON lines)"), as: UTF8.self).split(separator: "\n")
    }

    private static func decode(_ line: Substring) -> EpochRecord? {
        try? JSONDecoder().decode(EpochRecord.self, from: Data(line.utf8))
    }
}

/// JSON with sorted keys (stable bytes for hashing and diffing), and JSON-lines files:
/// one object per line, appended as runs go.
public enum JSONLines {
    /// `value` as one line of JSON with sorted keys; `snakeCase` writes the keys as the
    /// files users read spell them (`global_batch`), as metrics.jsonl's fields are.
    public static func encode<T: Encodable>(_ value: T, snakeCase: Bool = false) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if snakeCase { encoder.keyEncodingStrategy = .convertToSnakeCase }
        return try encoder.encode(value)
    }

    /// A Swift field name as JSONEncoder's `convertToSnakeCase` writes it
    /// ("powerSGDRank" is "power_sgd_rank"); dotted paths word by word.
    public static func snakeCase(_ name: String) -> String {
        name.split(separator: ".", omittingEmptySubsequences: false).map { part -> String in
            let characters = Array(part)
            var out = ""
            for (i, c) in characters.enumerated() {
                let previous = i > 0 ? characters[i - 1] : nil, next = i + 1 < characters.count ? characters[i + 1] : nil
                if c.isUppercase, let previous, previous.isLowercase || previous.isNumber || (previous.isUppercase && next?.isLowercase == true) {
                    out += "_"
                }
                out += c.lowercased()
            }
            return out
        }.joined(separator: ".")
    }

    /// The camelCase field name of a snake_case key ("decay_steps" is "decaySteps"); other
    /// keys are returned as they are.
    public static func camelCase(_ key: String) -> String {
        guard key.contains("_") else { return key }
        let words = key.split(separator: "_")
        return (words.first.map(String.init) ?? "") + words.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }
}

extension JSONLines {

    /// Appends `value` as one line to the file at `url`, creating the file if needed; a
    /// failed write (a full disk) names the file.
    public static func append<T: Encodable>(_ value: T, to url: URL) throws {
        let line = try encode(value) + Data("\n".utf8)
        let fd = open(url.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CheckpointError("\(url.path): cannot write (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
        guard written == line.count else {
            let why = written < 0 ? String(cString: strerror(errno)) : "short write"
            _ = ftruncate(fd, lseek(fd, 0, SEEK_END) - off_t(max(0, written)))
            throw CheckpointError("\(url.path): cannot append the epoch record (\(why))")
        }
    }
}
