import Foundation
import SetiFiles

/// The public data set's CSV: headerless rows of comma-separated decimal numbers (spaces
/// or tabs around a number are allowed).
///
/// Parsing works on the file's bytes with no per-field allocation: each field's digits
/// are accumulated into an integer mantissa and a decimal exponent and converted once,
/// which reads the 260 MB training file at several hundred MB/s on one core.
enum CSV {
    /// Reads a file whose rows all hold one of `columns` counts of numbers (the first row
    /// decides; nil: any count). Returns the values row after row and the row count.
    static func readMatrix(_ url: URL, columns expected: [Int]?) throws -> (values: [Float], rows: Int, columns: Int) {
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else { throw DataError(file: path, "no such file") }
        let data = try mapInputFile(url, what: "a CSV file of spectrograms or labels")
        return try data.withUnsafeBytes { raw in
            try parse(raw.bindMemory(to: UInt8.self), path: path, columns: expected)
        }
    }

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, path: String, columns expected: [Int]?) throws -> (values: [Float], rows: Int, columns: Int) {
        var values: [Float] = []
        var columns = 0
        var rows = 0, line = 1
        // A UTF-8 byte-order mark, as spreadsheet exports write, is skipped.
        var i = bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0
        let n = bytes.count
        values.reserveCapacity(n / 8)
        while i < n {
            // Skip blank lines (spaces and tabs only, or nothing; a final newline too);
            // "\r\n" endings are accepted.
            let blank = skipSpaces(bytes, i)
            if blank == n { break }
            if bytes[blank] == 0x0A { i = blank + 1; line += 1; continue }
            if bytes[blank] == 0x0D { i = blank + 1; continue }
            var fields = 0
            while true {
                fields += 1
                // Spaces and tabs around a field are allowed, as numpy's savetxt(delimiter=", ")
                // and hand-edited files write them.
                let (value, next) = try parseNumber(bytes, skipSpaces(bytes, i), path: path, line: line, column: fields)
                values.append(value)
                i = skipSpaces(bytes, next)
                if i < n && bytes[i] == 0x2C { i += 1; continue }  // ','
                if i < n && bytes[i] == 0x0D { i += 1 }
                guard i >= n || bytes[i] == 0x0A else {
                    throw DataError(file: path, line: line, column: fields, "unexpected character \(describe(bytes[i])) after a number")
                }
                break
            }
            if rows == 0 {
                if let expected, !expected.contains(fields) {
                    let allowed = expected.map(String.init).joined(separator: " or ")
                    throw DataError(file: path, line: line, "expected \(allowed) values, found \(fields)")
                }
                columns = fields
            }
            guard fields == columns else {
                throw DataError(file: path, line: line, "expected \(columns) values, found \(fields)")
            }
            rows += 1
            i += 1
            line += 1
        }
        guard rows > 0 else { throw DataError(file: path, "the file is empty") }
        return (values, rows, columns)
    }

    /// The index of the first byte at or after `i` that is not a space or a tab.
    @inline(__always)
    private static func skipSpaces(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
        var i = i
        while i < b.count && (b[i] == 0x20 || b[i] == 0x09) { i += 1 }
        return i
    }

    private static let powersOfTen: [Double] = (0...40).map { pow(10, Double($0)) }

    /// One decimal number starting at `start`: [+-]digits[.digits][(e|E)[+-]digits].
    /// NaN and infinities are rejected, as is anything else that is not a number.
    @inline(__always)
    private static func parseNumber(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, path: String, line: Int, column: Int) throws -> (Float, Int) {
        var i = start
        let n = b.count
        var negative = false
        if i < n && (b[i] == 0x2D || b[i] == 0x2B) { negative = b[i] == 0x2D; i += 1 }
        var mantissa: UInt64 = 0, exponent = 0, digits = 0
        while i < n, b[i] &- 0x30 < 10 {
            if mantissa < 1_000_000_000_000_000_000 { mantissa = mantissa * 10 + UInt64(b[i] &- 0x30) } else { exponent += 1 }
            digits += 1; i += 1
        }
        if i < n && b[i] == 0x2E {  // '.'
            i += 1
            while i < n, b[i] &- 0x30 < 10 {
                if mantissa < 1_000_000_000_000_000_000 { mantissa = mantissa * 10 + UInt64(b[i] &- 0x30); exponent -= 1 }
                digits += 1; i += 1
            }
        }
        guard digits > 0 else {
            var end = start
            while end < n && end - start < 24 && b[end] != 0x2C && b[end] != 0x0A && b[end] != 0x0D { end += 1 }
            let field = String(decoding: UnsafeBufferPointer(rebasing: b[start..<end]), as: UTF8.self)
            let lower = field.lowercased()
            if lower.contains("nan") || lower.contains("inf") {
                throw DataError(file: path, line: line, column: column, "value \(field) is not finite")
            }
            if line == 1 && column == 1 && field.first.map({ $0.isLetter || $0 == "\"" }) == true {
                throw DataError(file: path, line: line, "a header row ('\(field)', ...); the public layout's CSV files have none: remove the first line")
            }
            throw DataError(file: path, line: line, column: column, field.isEmpty ? "empty field" : "'\(field)' is not a number")
        }
        if i < n && (b[i] == 0x65 || b[i] == 0x45) {  // 'e' 'E'
            i += 1
            var expNegative = false
            if i < n && (b[i] == 0x2D || b[i] == 0x2B) { expNegative = b[i] == 0x2D; i += 1 }
            var e = 0, expDigits = 0
            while i < n, b[i] &- 0x30 < 10 { e = min(e * 10 + Int(b[i] &- 0x30), 10_000); expDigits += 1; i += 1 }
            guard expDigits > 0 else { throw DataError(file: path, line: line, column: column, "malformed exponent") }
            exponent += expNegative ? -e : e
        }
        var value = Double(mantissa)
        if exponent < 0 {
            value = exponent >= -40 ? value / powersOfTen[-exponent] : value * pow(10, Double(exponent))
        } else if exponent > 0 {
            value = exponent <= 40 ? value * powersOfTen[exponent] : value * pow(10, Double(exponent))
        }
        let result = Float(negative ? -value : value)
        guard result.isFinite else {
            throw DataError(file: path, line: line, column: column, "value overflows a 32-bit float")
        }
        return (result, i)
    }

    private static func describe(_ byte: UInt8) -> String {
        byte >= 0x20 && byte < 0x7F ? "'\(Character(UnicodeScalar(byte)))'" : "0x" + String(byte, radix: 16)
    }

    // MARK: Writing

    /// Pixel values k/255 as Python prints them (shortest round-trip form), as in the
    /// public data set.
    static let pixelStrings: [[UInt8]] = (0...255).map { Array("\(Double($0) / 255)".utf8) }

    /// Writes `rows` rows of `columns` values, each a pixel level 0...255 (k/255).
    static func writeLevels(_ levels: [UInt8], rows: Int, columns: Int, to url: URL) throws {
        var out = [UInt8]()
        out.reserveCapacity(levels.count * 20)
        for r in 0..<rows {
            for c in 0..<columns {
                if c > 0 { out.append(0x2C) }
                out.append(contentsOf: pixelStrings[Int(levels[r * columns + c])])
            }
            out.append(0x0A)
        }
        try OutputFile.write(Data(out), to: url)
    }

    /// Writes one-hot rows ("1.0"/"0.0") for class indices.
    static func writeOneHot(_ labels: [Int32], classes: Int, to url: URL) throws {
        var text = ""
        for l in labels {
            text += (0..<classes).map { $0 == Int(l) ? "1.0" : "0.0" }.joined(separator: ",") + "\n"
        }
        try OutputFile.write(Data(text.utf8), to: url)
    }

    /// Writes float rows with full precision (for data that are not pixel levels).
    static func writeFloats(_ values: [Float], rows: Int, columns: Int, to url: URL) throws {
        var text = ""
        text.reserveCapacity(values.count * 12)
        for r in 0..<rows {
            text += values[(r * columns)..<((r + 1) * columns)].map { "\($0)" }.joined(separator: ",") + "\n"
        }
        try OutputFile.write(Data(text.utf8), to: url)
    }
}
