import Foundation
import SetiFiles

/// SIGPROC filterbank files (`.fil`), as Breakthrough Listen and most radio SETI work
/// write them: a binary keyword header between `HEADER_START` and `HEADER_END` (each
/// keyword a 4-byte little-endian length and its name, then the value: a 4-byte int, an
/// 8-byte double, or a length-prefixed string), then the data, time step by time step, IF
/// by IF, channel by channel, as unsigned 8- or 16-bit integers or 32-bit floats.
/// Only the first IF (Stokes I in Breakthrough Listen's products) is read.
public enum Filterbank {
    /// Keywords and their value types; anything else is refused (its size is unknown).
    private enum Value { case int, double, string }
    private static let keywords: [String: Value] = [
        "telescope_id": .int, "machine_id": .int, "data_type": .int, "barycentric": .int, "pulsarcentric": .int,
        "nbits": .int, "nsamples": .int, "nchans": .int, "nifs": .int, "nbeams": .int, "ibeam": .int,
        "az_start": .double, "za_start": .double, "src_raj": .double, "src_dej": .double, "tstart": .double,
        "tsamp": .double, "fch1": .double, "foff": .double, "refdm": .double, "period": .double,
        "source_name": .string, "rawdatafile": .string,
    ]

    /// The header, where the data start, and the data's layout.
    public struct Layout: Sendable {
        public var header: ObservationHeader
        public var dataOffset: Int
        public var bits: Int
        public var ifs: Int
        /// Bytes of one time step (all IFs and channels).
        var stepBytes: Int { header.channels * ifs * bits / 8 }
    }

    /// Reads and checks the header of `url`.
    public static func layout(_ url: URL) throws -> Layout {
        let file = url.path
        guard let handle = FileHandle(forReadingAtPath: file) else { throw ObservationError(file: file, "cannot open the file") }
        defer { try? handle.close() }
        let bytes = [UInt8]((try? handle.read(upToCount: 65_536)) ?? Data())
        var offset = 0
        func int32() throws -> Int32 {
            guard offset + 4 <= bytes.count else { throw ObservationError(file: file, "the header ends early (at byte \(offset))") }
            defer { offset += 4 }
            return Int32(bitPattern: UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24)
        }
        func double() throws -> Double {
            guard offset + 8 <= bytes.count else { throw ObservationError(file: file, "the header ends early (at byte \(offset))") }
            var bits: UInt64 = 0
            for i in 0..<8 { bits |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
            offset += 8
            return Double(bitPattern: bits)
        }
        func string() throws -> String {
            let at = offset
            let length = Int(try int32())
            guard (1...80).contains(length), offset + length <= bytes.count else {
                throw ObservationError(file: file, "not a SIGPROC filterbank header (a string of length \(length) at byte \(at))")
            }
            defer { offset += length }
            return String(decoding: bytes[offset..<(offset + length)], as: UTF8.self)
        }
        guard (try? string()) == "HEADER_START" else { throw ObservationError(file: file, "not a SIGPROC filterbank file (no HEADER_START)") }
        var ints: [String: Int32] = [:], doubles: [String: Double] = [:]
        var header = ObservationHeader()
        while true {
            let at = offset
            let key = try string()
            if key == "HEADER_END" { break }
            switch keywords[key] {
            case .int: ints[key] = try int32()
            case .double: doubles[key] = try double()
            case .string: if key == "source_name" { header.sourceName = try string() } else { _ = try string() }
            case nil:
                throw ObservationError(file: file, "unsupported header keyword '\(key)' at byte \(at)\(key == "FREQUENCY_START" ? " (channels of unequal width)" : "")")
            }
        }
        if let type = ints["data_type"], type != 1 { throw ObservationError(file: file, "data_type = \(type): only filterbank data (1) is a spectrogram") }
        let bits = Int(ints["nbits"] ?? 0), ifs = Int(ints["nifs"] ?? 1)
        guard [8, 16, 32].contains(bits) else { throw ObservationError(file: file, "nbits = \(bits): allowed 8, 16 or 32") }
        guard (1...4).contains(ifs) else { throw ObservationError(file: file, "nifs = \(ifs): allowed 1...4") }
        let channels = Int(ints["nchans"] ?? 0)
        guard (1...(1 << 30)).contains(channels) else { throw ObservationError(file: file, "nchans = \(channels): allowed 1...\(1 << 30)") }
        header.channels = channels
        header.firstFrequency = doubles["fch1"] ?? .nan
        header.fileChannelWidth = doubles["foff"] ?? .nan
        header.timeStep = doubles["tsamp"] ?? .nan
        header.startMJD = doubles["tstart"] ?? 0

        var layout = Layout(header: header, dataOffset: offset, bits: bits, ifs: ifs)
        let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
        let dataBytes = size - offset
        let steps = dataBytes / layout.stepBytes
        guard dataBytes % layout.stepBytes == 0 else {
            throw ObservationError(file: file, "\(dataBytes) bytes of data is not a whole number of time steps of \(layout.stepBytes) bytes (truncated?)")
        }
        if let declared = ints["nsamples"], declared > 0, Int(declared) != steps {
            throw ObservationError(file: file, "nsamples = \(declared) but the file holds \(steps) time steps")
        }
        layout.header.timeSteps = steps
        layout.header = try layout.header.validated(file: file)
        return layout
    }

    /// Reads ascending channels `channels` (all by default) of every time step.
    public static func read(_ url: URL, channels: Range<Int>? = nil) throws -> Observation {
        let file = url.path
        let layout = try layout(url)
        let header = layout.header
        let range = try header.readableRange(channels, file: file)
        let fileRange = Observation.fileRange(of: range, header: header)
        let bytesPerValue = layout.bits / 8
        guard let handle = FileHandle(forReadingAtPath: file) else { throw ObservationError(file: file, "cannot open the file") }
        defer { try? handle.close() }
        var power = [Float](repeating: 0, count: header.timeSteps * range.count)
        for t in 0..<header.timeSteps {
            try handle.seek(toOffset: UInt64(layout.dataOffset + t * layout.stepBytes + fileRange.lowerBound * bytesPerValue))
            let chunk = [UInt8](try handle.read(upToCount: range.count * bytesPerValue) ?? Data())
            guard chunk.count == range.count * bytesPerValue else { throw ObservationError(file: file, "the data end early at time step \(t)") }
            for c in 0..<range.count {
                let v: Float
                switch layout.bits {
                case 8: v = Float(chunk[c])
                case 16: v = Float(UInt16(chunk[2 * c]) | UInt16(chunk[2 * c + 1]) << 8)
                default: v = Float(bitPattern: UInt32(chunk[4 * c]) | UInt32(chunk[4 * c + 1]) << 8 | UInt32(chunk[4 * c + 2]) << 16 | UInt32(chunk[4 * c + 3]) << 24)
                }
                power[t * range.count + c] = v
            }
        }
        try Observation.checkFinite(power, fileRange: fileRange, file: file)
        return Observation(file: file, header: header, ascendingRange: range, fileOrderedPower: power)
    }

    /// Writes `power` (timeSteps x channels, in the order of `header`'s channel width) as a
    /// 32-bit filterbank file: for tests and for converting other formats.
    public static func write(_ power: [Float], header: ObservationHeader, to url: URL) throws {
        precondition(power.count == header.timeSteps * header.channels)
        var data = Data()
        func int(_ v: Int32) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        func string(_ s: String) { int(Int32(s.utf8.count)); data.append(contentsOf: Array(s.utf8)) }
        func double(_ v: Double) { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        string("HEADER_START")
        string("source_name"); string(header.sourceName.isEmpty ? "unknown" : header.sourceName)
        string("data_type"); int(1)
        string("nbits"); int(32)
        string("nifs"); int(1)
        string("nchans"); int(Int32(header.channels))
        string("fch1"); double(header.firstFrequency)
        string("foff"); double(header.fileChannelWidth)
        string("tstart"); double(header.startMJD)
        string("tsamp"); double(header.timeStep)
        string("HEADER_END")
        for v in power { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        try OutputFile.write(data, to: url)
    }
}
