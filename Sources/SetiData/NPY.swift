import Foundation
import SetiFiles

/// NumPy's .npy format (version 1.0): the magic "\x93NUMPY", a version, a little-endian
/// header length, a Python-literal header dict {'descr', 'fortran_order', 'shape'} padded
/// with spaces to a multiple of 64 bytes and ended by a newline, then C-order data.
/// `numpy.load` reads what this writes; this reads float32/float64 and int32/int64 arrays.
enum NPY {
    struct Array {
        var shape: [Int]
        var values: [Float]
        /// Whether the stored dtype was an integer type.
        var isInteger: Bool
    }

    static func write(_ values: [Float], shape: [Int], to url: URL) throws {
        var body = Data(capacity: values.count * 4)
        values.withUnsafeBytes { body.append(contentsOf: $0) }
        try write(descr: "<f4", shape: shape, body: body, to: url)
    }

    static func write(_ values: [Int64], shape: [Int], to url: URL) throws {
        var body = Data(capacity: values.count * 8)
        values.withUnsafeBytes { body.append(contentsOf: $0) }
        try write(descr: "<i8", shape: shape, body: body, to: url)
    }

    private static func write(descr: String, shape: [Int], body: Data, to url: URL) throws {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out = Data([0x93] + Swift.Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        out.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        out.append(contentsOf: header.utf8)
        out.append(body)
        try OutputFile.write(out, to: url)
    }

    static func read(_ url: URL) throws -> Array {
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else { throw DataError(file: path, "no such file") }
        return try parse(try mapInputFile(url, what: "a NumPy .npy file"), path: path)
    }

    /// Parses a .npy file's bytes. Every header field is untrusted: the shape must be
    /// non-negative integers whose product, and its byte size, fit in memory and in the file.
    static func parse(_ data: Data, path: String) throws -> Array {
        func fail(_ why: String) -> DataError { DataError(file: path, "not a readable .npy file: \(why)") }
        let bytes = [UInt8](data.prefix(12))
        guard bytes.count >= 10, bytes.prefix(6).elementsEqual([0x93] + Swift.Array("NUMPY".utf8)) else { throw fail("bad magic") }
        let major = bytes[6]
        guard major >= 1 && major <= 3 else { throw fail("unsupported version \(major)") }
        let headerStart = major == 1 ? 10 : 12
        guard bytes.count >= headerStart else { throw fail("truncated header") }
        let headerLength = major == 1
            ? Int(bytes[8]) | Int(bytes[9]) << 8
            : (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
        guard data.count - headerStart >= headerLength else { throw fail("truncated header") }
        let headerBytes = data.subdata(in: (data.startIndex + headerStart)..<(data.startIndex + headerStart + headerLength))
        guard let header = String(data: headerBytes, encoding: .utf8) ?? String(data: headerBytes, encoding: .isoLatin1) else {
            throw fail("header is not text")
        }
        guard let descr = field("descr", in: header)?.trimmingCharacters(in: CharacterSet(charactersIn: "'\" ")),
            let shapeText = field("shape", in: header)
        else { throw fail("header lacks descr or shape") }
        if field("fortran_order", in: header)?.contains("True") == true { throw fail("Fortran-ordered arrays are not supported") }
        let inner = shapeText.trimmingCharacters(in: .whitespaces)
        guard inner.hasPrefix("("), inner.hasSuffix(")") else { throw fail("shape \(shapeText) is not a tuple") }
        var shape: [Int] = []
        for part in inner.dropFirst().dropLast().split(separator: ",") {
            let token = part.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "L", with: "")
            if token.isEmpty { continue }
            guard let dimension = Int(token), dimension >= 0 else { throw fail("shape \(shapeText) has a dimension that is not a non-negative integer") }
            shape.append(dimension)
        }
        guard !shape.isEmpty else { throw fail("shape \(shapeText) is a scalar, not an array") }
        let byteSizes = ["<f4": 4, "<f8": 8, "<i4": 4, "<i8": 8]
        guard let size = byteSizes[descr] else { throw fail("dtype \(descr) is not supported (use float32, float64, int32 or int64)") }
        let available = data.count - headerStart - headerLength
        guard let count = checkedProduct(shape), count <= available / size else {
            throw fail("shape \(shape) needs more values than the file's \(available) bytes of data hold")
        }
        let start = headerStart + headerLength
        var values = [Float](repeating: 0, count: count)
        data.withUnsafeBytes { raw in
            let base = raw.baseAddress! + start
            for i in 0..<count {
                switch descr {
                case "<f4": values[i] = base.loadUnaligned(fromByteOffset: 4 * i, as: Float.self)
                case "<f8": values[i] = Float(base.loadUnaligned(fromByteOffset: 8 * i, as: Double.self))
                case "<i4": values[i] = Float(base.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))
                default: values[i] = Float(base.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))
                }
            }
        }
        return Array(shape: shape, values: values, isInteger: descr.contains("i"))
    }

    /// The text after `'key':` up to the next top-level comma (a tuple counts as one value).
    private static func field(_ key: String, in header: String) -> String? {
        guard let range = header.range(of: "'\(key)':") else { return nil }
        var depth = 0, out = ""
        for ch in header[range.upperBound...] {
            if ch == "(" { depth += 1 }
            if ch == ")" { depth -= 1 }
            if (ch == "," && depth == 0) || ch == "}" { break }
            out.append(ch)
        }
        return out.trimmingCharacters(in: .whitespaces)
    }
}

/// The product of `dimensions`, or nil if it overflows (a hostile header's shape).
func checkedProduct(_ dimensions: [Int]) -> Int? {
    var product = 1
    for d in dimensions {
        guard d >= 0 else { return nil }
        let (p, overflow) = product.multipliedReportingOverflow(by: d)
        guard !overflow else { return nil }
        product = p
    }
    return product
}
