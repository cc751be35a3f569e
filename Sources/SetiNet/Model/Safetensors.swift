import Foundation
import SetiFiles

/// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte
/// little-endian header length, a JSON header mapping each tensor name to its dtype,
/// shape and byte range, an optional "__metadata__" map of strings, then the raw
/// little-endian data. Python's `safetensors.numpy.load_file` reads what this writes.
public struct Safetensors {
    public struct Tensor: Equatable {
        public var shape: [Int]
        public var values: [Float]

        public init(shape: [Int], values: [Float]) {
            precondition(shape.reduce(1, *) == values.count, "tensor shape \(shape) does not match \(values.count) values")
            self.shape = shape
            self.values = values
        }
    }

    public var tensors: [String: Tensor] = [:]
    public var metadata: [String: String] = [:]

    public init(tensors: [String: Tensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    public struct FormatError: OneLineError {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// Parses a safetensors file; only float32 tensors are supported (all seti-dist writes).
    public init(contentsOf url: URL) throws {
        // Mapped reading needs a regular file; a device or a pipe is no checkpoint.
        var status = stat()
        if stat(url.path, &status) == 0, status.st_mode & S_IFMT != S_IFREG {
            throw FormatError(description: "\(url.path): not a regular file; a checkpoint is a .safetensors file or a run folder")
        }
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw FormatError(description: "\(url.path): cannot read: \(reason(of: error))")
        }
        try self.init(data: data, source: url.path)
    }

    /// Parses a safetensors file's bytes. The header is untrusted: every shape must be
    /// non-negative integers whose product fits, and every byte range must lie in the file
    /// and match its shape, before anything is allocated.
    public init(data: Data, source: String) throws {
        func fail(_ why: String) -> FormatError { FormatError(description: "\(source): not a valid safetensors file: \(why)") }
        let bytes = [UInt8](data.prefix(8))
        guard bytes.count == 8 else { throw fail("shorter than its 8-byte header length") }
        let headerLength = bytes.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(data.count - 8), headerLength <= 100_000_000 else { throw fail("header length \(headerLength) exceeds the file") }
        let dataStart = 8 + Int(headerLength)
        let body = data.count - dataStart
        guard let header = try? JSONSerialization.jsonObject(with: data.subdata(in: (data.startIndex + 8)..<(data.startIndex + dataStart))) as? [String: Any] else {
            throw fail("header is not a JSON object")
        }
        for (name, entry) in header.sorted(by: { $0.key < $1.key }) {
            if name == "__metadata__" {
                guard let strings = entry as? [String: String] else { throw fail("__metadata__ is not a map of strings") }
                metadata = strings
                continue
            }
            guard let entry = entry as? [String: Any], let dtype = entry["dtype"] as? String,
                let shapeNumbers = entry["shape"] as? [NSNumber], let offsetNumbers = entry["data_offsets"] as? [NSNumber], offsetNumbers.count == 2
            else { throw fail("tensor \(name) has a malformed entry") }
            guard dtype == "F32" else { throw fail("tensor \(name) is \(dtype); only F32 is supported") }
            func integer(_ n: NSNumber) -> Int? {
                let d = n.doubleValue
                return d.isFinite && d == d.rounded() && d >= 0 && d < 9e15 ? Int(d) : nil
            }
            let shape = shapeNumbers.compactMap(integer), offsets = offsetNumbers.compactMap(integer)
            guard shape.count == shapeNumbers.count, offsets.count == 2 else {
                throw fail("tensor \(name) has a shape or byte range that is not non-negative integers")
            }
            var count = 1
            for d in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow, product <= body / 4 else { throw fail("tensor \(name) has shape \(shape), larger than the file") }
                count = product
            }
            guard offsets[0] <= offsets[1], offsets[1] <= body, offsets[1] - offsets[0] == 4 * count else {
                throw fail("tensor \(name) has byte range \(offsets) that does not fit shape \(shape) in the file")
            }
            var values = [Float](repeating: 0, count: count)
            values.withUnsafeMutableBytes { raw in
                data.copyBytes(to: raw.bindMemory(to: UInt8.self), from: (data.startIndex + dataStart + offsets[0])..<(data.startIndex + dataStart + offsets[1]))
            }
            tensors[name] = Tensor(shape: shape, values: values.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) })
        }
    }

    /// The file's bytes: tensors in name order, header padded to 8 bytes as the format recommends.
    public func serialized() throws -> Data {
        var entries: [String: Any] = [:]
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let t = tensors[name]!
            entries[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.values.count]]
            offset += 4 * t.values.count
        }
        if !metadata.isEmpty { entries["__metadata__"] = metadata }
        var header = try JSONSerialization.data(withJSONObject: entries, options: [.sortedKeys])
        header.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8))
        var out = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(header)
        for name in names {
            tensors[name]!.values.withUnsafeBytes { out.append(contentsOf: $0) }  // x86-64 and arm64 are little-endian
        }
        return out
    }
}

extension Network {
    /// All weights (trainable and state) under their Keras names and shapes.
    public func exportWeights() -> [String: Safetensors.Tensor] {
        var out: [String: Safetensors.Tensor] = [:]
        for t in tensors {
            let buffer = t.trainable ? parameters : state
            out[t.name] = Safetensors.Tensor(shape: t.shape, values: Array(buffer[t.offset..<(t.offset + t.count)]))
        }
        return out
    }

    /// Loads weights by Keras name. Every tensor of the model but those named in `except`
    /// must be present with its shape.
    public func importWeights(_ weights: [String: Safetensors.Tensor], source: String, except: Set<String> = []) throws {
        for t in tensors where !except.contains(t.name) {
            guard let w = weights[t.name] else {
                throw Safetensors.FormatError(description: "\(source): tensor \(t.name) is missing")
            }
            guard w.shape == t.shape else {
                throw Safetensors.FormatError(description: "\(source): tensor \(t.name) has shape \(w.shape), the model needs \(t.shape)")
            }
            let buffer = t.trainable ? parameters : state
            _ = UnsafeMutableBufferPointer(rebasing: buffer[t.offset..<(t.offset + t.count)]).update(fromContentsOf: w.values)
        }
    }
}
