import CZlib
import Foundation

/// A ZIP archive of stored (uncompressed) entries, as Python's zipfile and Keras write
/// `.keras` files: local headers and data, then the central directory. Entries must stay
/// under 4 GB each and in all (no ZIP64).
struct ZipArchive {
    private var body = Data()
    private var directory = Data()
    private var count = 0

    struct TooLarge: Error, CustomStringConvertible {
        var description: String { "the archive would exceed 4 GB, which needs ZIP64" }
    }

    mutating func add(_ name: String, _ data: Data) throws {
        guard body.count + data.count < Int(UInt32.max) - 1_000_000 else { throw TooLarge() }
        let nameBytes = Array(name.utf8)
        let crc = data.withUnsafeBytes { UInt32(crc32(0, $0.bindMemory(to: Bytef.self).baseAddress, uInt($0.count))) }
        let offset = UInt32(body.count)
        // 1980-01-01 00:00: a fixed time, so the same model gives the same bytes.
        let time: UInt16 = 0, date: UInt16 = 0x21
        var local = Data()
        local.append(le32(0x0403_4B50)); local.append(le16(20)); local.append(le16(0x0800)); local.append(le16(0))
        local.append(le16(time)); local.append(le16(date)); local.append(le32(crc))
        local.append(le32(UInt32(data.count))); local.append(le32(UInt32(data.count)))
        local.append(le16(UInt16(nameBytes.count))); local.append(le16(0)); local.append(contentsOf: nameBytes)
        body.append(local)
        body.append(data)
        var central = Data()
        central.append(le32(0x0201_4B50)); central.append(le16(20)); central.append(le16(20)); central.append(le16(0x0800)); central.append(le16(0))
        central.append(le16(time)); central.append(le16(date)); central.append(le32(crc))
        central.append(le32(UInt32(data.count))); central.append(le32(UInt32(data.count)))
        central.append(le16(UInt16(nameBytes.count))); central.append(le16(0)); central.append(le16(0))
        central.append(le16(0)); central.append(le16(0)); central.append(le32(0)); central.append(le32(offset))
        central.append(contentsOf: nameBytes)
        directory.append(central)
        count += 1
    }

    /// The archive's bytes.
    func serialized() -> Data {
        var out = body
        out.append(directory)
        out.append(le32(0x0605_4B50)); out.append(le16(0)); out.append(le16(0))
        out.append(le16(UInt16(count))); out.append(le16(UInt16(count)))
        out.append(le32(UInt32(directory.count))); out.append(le32(UInt32(body.count))); out.append(le16(0))
        return out
    }

    private func le16(_ v: UInt16) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
    private func le32(_ v: UInt32) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
}
