import Foundation
import SetiFiles
import SetiData

/// TensorBoard event files, as Keras's TensorBoard callback lays them out: one folder per
/// run part (`train/`, `validation/`) under OUT/tensorboard, each with an
/// `events.out.tfevents.TIME.HOST` file of scalars per epoch (`epoch_loss`,
/// `epoch_accuracy`, ...), so TensorBoard overlays training and validation curves.
///
/// An event file is a sequence of TFRecords: the data's length (UInt64), its masked
/// CRC-32C, the data, its masked CRC-32C; the data is an `Event` protocol buffer. The few
/// fields needed are encoded here by hand: Event {wall_time = 1 (double), step = 2
/// (int64), file_version = 3 (string), summary = 5 (Summary)}, Summary {value = 1
/// (Value)}, Value {tag = 1 (string), simple_value = 2 (float)}.
public final class TensorBoardWriter {
    private let handles: [String: FileHandle]

    /// Creates `folder`/train and `folder`/validation with a new event file each.
    public init(folder: URL) throws {
        let name = "events.out.tfevents.\(Int(Date().timeIntervalSince1970)).\(hostName)"
        var handles: [String: FileHandle] = [:]
        for part in ["train", "validation"] {
            let dir = folder.appendingPathComponent(part)
            let url = dir.appendingPathComponent(name)
            do { try createFolder(dir) } catch {
                throw CheckpointError("\(url.path): cannot create the TensorBoard event file (\(reason(of: error)))")
            }
            // A new file only: whatever already stands at the name is left alone.
            let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw CheckpointError("\(url.path): cannot create the TensorBoard event file (\(systemReason()))") }
            handles[part] = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
            try Self.write(Self.event(wallTime: Date().timeIntervalSince1970, step: 0, fileVersion: "brain.Event:2"), to: handles[part]!, url: url)
        }
        self.handles = handles
    }

    deinit { for handle in handles.values { try? handle.close() } }

    /// One epoch's scalars, at step `record.epoch - 1`: Keras's callback counts epochs from
    /// 0, so runs of both overlay epoch by epoch.
    public func add(_ record: EpochRecord) throws {
        let now = Date().timeIntervalSince1970
        let train = [("epoch_loss", record.loss), ("epoch_accuracy", record.accuracy), ("epoch_learning_rate", record.lr),
                     ("epoch_samples_per_second", record.samples_per_second)]
        let validation = [("epoch_loss", record.val_loss), ("epoch_accuracy", record.val_accuracy)]
        for (part, scalars) in [("train", train), ("validation", validation)] {
            try Self.write(Self.event(wallTime: now, step: record.epoch - 1, scalars: scalars), to: handles[part]!, url: nil)
        }
    }

    // MARK: Encoding

    static func event(wallTime: Double, step: Int, fileVersion: String? = nil, scalars: [(String, Double)] = []) -> [UInt8] {
        var out: [UInt8] = [0x09]
        withUnsafeBytes(of: wallTime.bitPattern.littleEndian) { out += $0 }
        out += [0x10] + varint(UInt64(bitPattern: Int64(step)))
        if let fileVersion { out += lengthDelimited(3, Array(fileVersion.utf8)) }
        if !scalars.isEmpty {
            var summary: [UInt8] = []
            for (tag, value) in scalars {
                var entry = lengthDelimited(1, Array(tag.utf8))
                entry += [0x15]
                withUnsafeBytes(of: Float(value).bitPattern.littleEndian) { entry += $0 }
                summary += lengthDelimited(1, entry)
            }
            out += lengthDelimited(5, summary)
        }
        return out
    }

    static func record(_ data: [UInt8]) -> [UInt8] {
        var length: [UInt8] = []
        withUnsafeBytes(of: UInt64(data.count).littleEndian) { length += $0 }
        var out = length
        withUnsafeBytes(of: maskedCRC(length).littleEndian) { out += $0 }
        out += data
        withUnsafeBytes(of: maskedCRC(data).littleEndian) { out += $0 }
        return out
    }

    private static func write(_ event: [UInt8], to handle: FileHandle, url: URL?) throws {
        do {
            try handle.write(contentsOf: Data(record(event)))
        } catch {
            throw CheckpointError("\(url?.path ?? "TensorBoard event file"): cannot write (\(reason(of: error)))")
        }
    }

    private static func varint(_ value: UInt64) -> [UInt8] {
        var v = value, out: [UInt8] = []
        repeat {
            out.append(UInt8(v & 0x7F) | (v >= 0x80 ? 0x80 : 0))
            v >>= 7
        } while v > 0
        return out
    }

    private static func lengthDelimited(_ field: UInt8, _ bytes: [UInt8]) -> [UInt8] {
        [field << 3 | 2] + varint(UInt64(bytes.count)) + bytes
    }

    /// CRC-32C (Castagnoli), rotated and offset as TFRecord masks it.
    static func maskedCRC(_ bytes: [UInt8]) -> UInt32 {
        let crc = crc32c(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    static func crc32c(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = crcTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    private static let crcTable: [UInt32] = (0..<256).map { i in
        (0..<8).reduce(UInt32(i)) { c, _ in c & 1 != 0 ? 0x82F6_3B78 ^ (c >> 1) : c >> 1 }
    }
}
