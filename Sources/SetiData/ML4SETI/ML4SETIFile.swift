import Foundation
import SetiFiles

/// One simulated signal file of the ML4SETI code challenge (`.dat`): a line of JSON (the
/// public header: `uuid` and `signal_classification`), in some files preceded by a second,
/// private JSON line (recognised by its `simulator_software_version` field), then the time
/// series as interleaved signed 8-bit I/Q samples: 384 x 512 complex values.
///
/// Its spectrogram is the reference reader's (`ibmseti`'s SimCompamp): the series' mean
/// removed, reshaped to 384 rows of 512, an FFT of each row with the zero frequency
/// shifted to the middle, and the power |X|^2. For the model, 6 x 4 blocks are averaged
/// (384 x 512 -> 64 x 128) and the power is encoded like the public data
/// (``SpectrogramEncoding``).
public struct ML4SETIFile: Sendable {
    public static let rows = 384, columns = 512
    /// Bytes of samples after the header: rows x columns complex int8 pairs.
    public static let sampleBytes = rows * columns * 2
    /// Headers longer than this are not ML4SETI headers (a guard against reading a whole
    /// unrelated file as one line).
    static let maximumHeaderBytes = 65_536

    public var uuid: String
    /// nil for unlabelled files (the challenge's test set).
    public var signalClass: SignalClass?
    /// Interleaved I, Q.
    public var samples: [Int8]

    public init(uuid: String, signalClass: SignalClass?, samples: [Int8]) {
        self.uuid = uuid
        self.signalClass = signalClass
        self.samples = samples
    }

    /// Reads and checks `url`; every problem is a ``DataError`` naming the file.
    public init(contentsOf url: URL) throws {
        let data = try readInputFile(url, maximumBytes: 2 * Self.maximumHeaderBytes + Self.sampleBytes,
                                     what: "an ML4SETI file (headers and \(Self.sampleBytes) bytes of samples)", pipes: false)
        try self.init(data: data, file: url.path)
    }

    /// Parses a file's bytes; `file` names it in errors.
    public init(data: Data, file: String) throws {
        let bytes = [UInt8](data)
        var offset = 0
        func headerLine(_ number: Int) throws -> [String: Any] {
            guard let end = bytes[offset...].prefix(Self.maximumHeaderBytes).firstIndex(of: 0x0A) else {
                throw DataError(file: file, line: number, "no JSON header line (a line of at most \(Self.maximumHeaderBytes) bytes ending in a newline)")
            }
            let line = Data(bytes[offset..<end])
            offset = end + 1
            guard let object = (try? JSONSerialization.jsonObject(with: line)) as? [String: Any] else {
                throw DataError(file: file, line: number, "the header is not a JSON object")
            }
            return object
        }
        var header = try headerLine(1)
        // ibmseti's rule: a private header carries a positive simulator version.
        if let version = header["simulator_software_version"] as? NSNumber, version.doubleValue > 0 {
            header = try headerLine(2)
        }
        guard let uuid = header["uuid"] as? String else {
            throw DataError(file: file, line: 1, "the header has no 'uuid' string")
        }
        var signalClass: SignalClass?
        if let value = header["signal_classification"] {
            guard let name = value as? String, let known = SignalClass(rawValue: name) else {
                throw DataError(file: file, line: 1, "signal_classification '\(value)' is none of \(SignalClass.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            signalClass = known
        }
        let count = bytes.count - offset
        guard count == Self.sampleBytes else {
            throw DataError(file: file, "\(count) bytes of samples after the header; an ML4SETI file holds \(Self.sampleBytes) (\(Self.rows) x \(Self.columns) complex int8 pairs)")
        }
        self.init(uuid: uuid, signalClass: signalClass, samples: bytes[offset...].map { Int8(bitPattern: $0) })
    }

    /// The file's bytes: the public header, then the samples.
    public var data: Data {
        var header: [String: Any] = ["uuid": uuid]
        if let signalClass { header["signal_classification"] = signalClass.rawValue }
        var data = (try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])) ?? Data()
        data.append(0x0A)
        data.append(contentsOf: samples.map { UInt8(bitPattern: $0) })
        return data
    }

    /// The reference reader's 384 x 512 power spectrogram (time down, frequency across).
    func power(using fft: RowPowerSpectra) -> [Double] {
        let n = samples.count / 2
        var meanRe = 0.0, meanIm = 0.0
        for i in 0..<n {
            meanRe += Double(samples[2 * i])
            meanIm += Double(samples[2 * i + 1])
        }
        meanRe /= Double(n)
        meanIm /= Double(n)
        var complex = [Float](repeating: 0, count: samples.count)
        for i in 0..<n {
            complex[2 * i] = Float(Double(samples[2 * i]) - meanRe)
            complex[2 * i + 1] = Float(Double(samples[2 * i + 1]) - meanIm)
        }
        return fft.power(complex)
    }

    /// The model's 64 x 128 spectrogram: 6 x 4 blocks of the power averaged, then encoded
    /// like the public data; written to `out` (8,192 values).
    func spectrogram(using fft: RowPowerSpectra, into out: UnsafeMutablePointer<Float>) {
        let blocks = SpectrogramEncoding.averageBlocks(power(using: fft), height: Self.rows, width: Self.columns, rowFactor: 6, columnFactor: 4)
        SpectrogramEncoding.encode(blocks, into: out)
    }
}
