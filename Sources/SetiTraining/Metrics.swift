import Foundation

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

    /// Per class precision, recall, F1 and support, as scikit-learn's classification_report.
    public func report(classNames: [String]) -> String {
        let width = max(12, (classNames.map(\.count).max() ?? 0) + 2)
        func pad(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
        func f(_ x: Double) -> String { pad(String(format: "%.2f", x.isNaN ? 0 : x), 10) }
        var lines = [pad("", width) + pad("precision", 10) + pad("recall", 10) + pad("f1-score", 10) + pad("support", 10), ""]
        var sums = (p: 0.0, r: 0.0, f: 0.0), weighted = (p: 0.0, r: 0.0, f: 0.0)
        let k = confusion.count
        for c in 0..<k {
            let tp = Double(confusion[c][c])
            let predicted = Double(confusion.reduce(0) { $0 + $1[c] }), support = Double(confusion[c].reduce(0, +))
            let p = predicted > 0 ? tp / predicted : 0, r = support > 0 ? tp / support : 0
            let f1 = p + r > 0 ? 2 * p * r / (p + r) : 0
            sums = (sums.p + p, sums.r + r, sums.f + f1)
            weighted = (weighted.p + p * support, weighted.r + r * support, weighted.f + f1 * support)
            lines.append(pad(classNames[c], width) + f(p) + f(r) + f(f1) + pad("\(Int(support))", 10))
        }
        let n = Double(count)
        lines.append("")
        lines.append(pad("accuracy", width) + pad("", 20) + f(accuracy) + pad("\(count)", 10))
        lines.append(pad("macro avg", width) + f(sums.p / Double(k)) + f(sums.r / Double(k)) + f(sums.f / Double(k)) + pad("\(count)", 10))
        lines.append(pad("weighted avg", width) + f(weighted.p / n) + f(weighted.r / n) + f(weighted.f / n) + pad("\(count)", 10))
        return lines.joined(separator: "\n")
    }
}

/// One line of the per-epoch log (JSON lines, one object per epoch), Keras's History keys.
public struct EpochRecord: Codable, Sendable {
    public var epoch: Int
    public var step: Int
    public var loss: Double
    public var accuracy: Double
    public var val_loss: Double
    public var val_accuracy: Double
    public var lr: Double
    public var seconds: Double
    public var samples_per_second: Double

    public static func read(_ url: URL) throws -> [EpochRecord] {
        let text = try String(contentsOf: url, encoding: .utf8)
        return try text.split(separator: "\n").enumerated().map { n, line in
            do { return try JSONDecoder().decode(EpochRecord.self, from: Data(line.utf8)) } catch {
                throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "\(url.path):\(n + 1): not an epoch record"])
            }
        }
    }
}

/// JSON with sorted keys (stable bytes for hashing and diffing), and JSON-lines files:
/// one object per line, appended as runs go.
public enum JSONLines {
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(value)
    }

    /// Appends `value` as one line to the file at `url`, creating the file if needed.
    public static func append<T: Encodable>(_ value: T, to url: URL) throws {
        let line = try encode(value) + Data("\n".utf8)
        guard let handle = FileHandle(forWritingAtPath: url.path) else { return try line.write(to: url) }
        handle.seekToEndOfFile()
        handle.write(line)
        try handle.close()
    }
}
