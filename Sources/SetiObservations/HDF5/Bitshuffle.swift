import CLZ4
import Foundation
import Synchronization

/// The bitshuffle/LZ4 codec of HDF5 filter 32008 (Masui et al. 2015), which Breakthrough
/// Listen's HDF5 files use: written here from the format's definition because Debian's
/// hdf5-filter-plugin package ships no bitshuffle plugin.
///
/// A chunk of `n` elements of `e` bytes is cut into blocks of `b` elements (b a multiple of
/// 8). A block is bit-transposed: bit row r = 8j + k holds bit k of byte j of every
/// element, element i at bit i % 8 of byte i / 8 of the row. With LZ4 (option 2) the chunk
/// is a 12-byte header (uncompressed bytes, big-endian UInt64; block size in bytes, UInt32)
/// and per block a big-endian UInt32 length and the LZ4 block. The last block holds the
/// remaining elements rounded down to 8; the last (n % 8) elements follow unshuffled.
enum Bitshuffle {
    struct Failure: Error, CustomStringConvertible { let description: String }

    /// Bit-transposes `count` (a multiple of 8) elements of `size` bytes.
    static func shuffle(_ input: UnsafePointer<UInt8>, _ output: UnsafeMutablePointer<UInt8>, count: Int, size: Int) {
        let rowBytes = count / 8
        output.update(repeating: 0, count: count * size)
        for i in 0..<count {
            for j in 0..<size {
                let byte = input[i * size + j]
                guard byte != 0 else { continue }
                for k in 0..<8 where byte & (1 << k) != 0 { output[(j * 8 + k) * rowBytes + i / 8] |= 1 << UInt8(i % 8) }
            }
        }
    }

    /// The inverse of ``shuffle(_:_:count:size:)``, eight elements at a time: the eight bit
    /// rows of byte j hold, for elements 8q..<8q+8, an 8 x 8 bit matrix whose transpose is
    /// those elements' byte j.
    static func unshuffle(_ input: UnsafePointer<UInt8>, _ output: UnsafeMutablePointer<UInt8>, count: Int, size: Int) {
        let rowBytes = count / 8
        for j in 0..<size {
            for q in 0..<rowBytes {
                var x: UInt64 = 0
                for k in 0..<8 { x |= UInt64(input[(j * 8 + k) * rowBytes + q]) << (8 * k) }
                x = transposed8x8(x)
                for m in 0..<8 { output[(q * 8 + m) * size + j] = UInt8(truncatingIfNeeded: x >> (8 * m)) }
            }
        }
    }

    /// The 8 x 8 bit matrix `x` (row i in byte i, column j in bit j) transposed: bit j of
    /// byte i becomes bit i of byte j (Hacker's Delight, section 7-3).
    @inline(__always)
    static func transposed8x8(_ x: UInt64) -> UInt64 {
        var x = x
        var t = (x ^ (x >> 7)) & 0x00AA_00AA_00AA_00AA
        x ^= t ^ (t << 7)
        t = (x ^ (x >> 14)) & 0x0000_CCCC_0000_CCCC
        x ^= t ^ (t << 14)
        t = (x ^ (x >> 28)) & 0x0000_0000_F0F0_F0F0
        x ^= t ^ (t << 28)
        return x
    }

    /// Block size in elements for `size`-byte elements (the reference's default: 8 KB
    /// blocks, a multiple of 8 elements, at least 128).
    static func defaultBlock(size: Int) -> Int { max(128, (8192 / size) / 8 * 8) }

    /// The compressed form of `count` elements of `size` bytes.
    static func compress(_ input: [UInt8], size: Int) -> [UInt8] {
        let count = input.count / size, block = defaultBlock(size: size)
        var out: [UInt8] = []
        func bigEndian<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.bigEndian) { out.append(contentsOf: $0) } }
        bigEndian(UInt64(input.count))
        bigEndian(UInt32(block * size))
        var start = 0
        input.withUnsafeBufferPointer { source in
            while count - start >= 8 {
                let n = min(block, (count - start) / 8 * 8)
                var shuffled = [UInt8](repeating: 0, count: n * size)
                shuffled.withUnsafeMutableBufferPointer { shuffle(source.baseAddress! + start * size, $0.baseAddress!, count: n, size: size) }
                var packed = [UInt8](repeating: 0, count: Int(LZ4_compressBound(Int32(n * size))))
                let length = shuffled.withUnsafeBytes { s in
                    packed.withUnsafeMutableBytes { d in
                        LZ4_compress_default(s.baseAddress!.assumingMemoryBound(to: CChar.self), d.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(n * size), Int32(d.count))
                    }
                }
                bigEndian(UInt32(length))
                out.append(contentsOf: packed.prefix(Int(length)))
                start += n
            }
        }
        out.append(contentsOf: input[(start * size)...])
        return out
    }

    /// The elements of a compressed chunk; every length in it is checked against the
    /// input and the expected size (`expectedBytes`, when known).
    static func decompress(_ input: UnsafeRawBufferPointer, size: Int, expectedBytes: Int?) throws -> [UInt8] {
        let layout = try Layout(input, size: size, expectedBytes: expectedBytes)
        guard layout.total > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: layout.total)
        try out.withUnsafeMutableBytes { try layout.decode(input, into: $0.baseAddress!) }
        return out
    }

    /// Where a compressed chunk's blocks are and where their elements go, read from its
    /// headers alone, so the blocks can then be decoded in parallel.
    struct Layout {
        /// One LZ4 block: its bytes in the chunk and its elements in the output.
        struct Block {
            var at: Int, length: Int, start: Int, count: Int
        }

        let size: Int, total: Int
        private(set) var blocks: [Block] = []
        /// Where the unshuffled last elements (count % 8) start, in the chunk and the output.
        private(set) var tailAt = 12, tailStart = 0

        init(_ input: UnsafeRawBufferPointer, size: Int, expectedBytes: Int?) throws {
            let bytes = input.bindMemory(to: UInt8.self)
            func bigEndian(_ at: Int, _ width: Int) throws -> Int {
                guard at + width <= bytes.count else { throw Failure(description: "bitshuffle chunk ends early (\(bytes.count) bytes)") }
                return (0..<width).reduce(0) { $0 << 8 | Int(bytes[at + $1]) }
            }
            let total = try bigEndian(0, 8), blockBytes = try bigEndian(8, 4)
            if let expectedBytes, total != expectedBytes {
                throw Failure(description: "a bitshuffle chunk's header claims \(total) bytes where the dataset's chunks hold \(expectedBytes)")
            }
            // LZ4 expands at most 255-fold: a claim beyond that is a lie, refused before allocating.
            guard size > 0, total % size == 0, total <= 255 * bytes.count + 8 * size else {
                throw Failure(description: "a bitshuffle chunk of \(bytes.count) bytes claims \(total) bytes of \(size)-byte elements")
            }
            let block = blockBytes / size
            guard blockBytes % size == 0, block > 0, block % 8 == 0 else {
                throw Failure(description: "a bitshuffle block of \(blockBytes) bytes is not a multiple of 8 elements")
            }
            (self.size, self.total) = (size, total)
            let count = total / size
            var at = 12, start = 0
            while count - start >= 8 {
                let n = min(block, (count - start) / 8 * 8)
                let length = try bigEndian(at, 4)
                at += 4
                guard length <= bytes.count - at else { throw Failure(description: "bitshuffle block of \(length) bytes past the chunk's end") }
                blocks.append(Block(at: at, length: length, start: start, count: n))
                at += length
                start += n
            }
            guard at + (count - start) * size <= bytes.count else { throw Failure(description: "bitshuffle chunk ends early (\(bytes.count) bytes)") }
            (tailAt, tailStart) = (at, start)
        }

        /// Decodes the chunk `input` into `output` (`total` bytes), runs of blocks on every
        /// core: a scan's first read waits for its chunks with the cores otherwise idle.
        func decode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawPointer) throws {
            // Each run reads the chunk and writes its own blocks' elements only.
            nonisolated(unsafe) let bytes = input.baseAddress!.assumingMemoryBound(to: UInt8.self)
            nonisolated(unsafe) let destination = output.assumingMemoryBound(to: UInt8.self)
            let perRun = 32, runs = (blocks.count + perRun - 1) / perRun
            let failures = Mutex<[Int: String]>([:])
            DispatchQueue.concurrentPerform(iterations: runs) { run in
                let mine = blocks[(run * perRun)..<min(blocks.count, (run + 1) * perRun)]
                var packed = [UInt8](repeating: 0, count: (mine.map(\.count).max() ?? 0) * size)
                packed.withUnsafeMutableBufferPointer { scratch in
                    for block in mine {
                        let got = LZ4_decompress_safe(
                            UnsafeRawPointer(bytes + block.at).assumingMemoryBound(to: CChar.self),
                            UnsafeMutableRawPointer(scratch.baseAddress!).assumingMemoryBound(to: CChar.self),
                            Int32(block.length), Int32(block.count * size))
                        guard got == Int32(block.count * size) else {
                            failures.withLock { $0[run] = "bitshuffle block does not decompress to \(block.count * size) bytes (LZ4 says \(got))" }
                            return
                        }
                        unshuffle(scratch.baseAddress!, destination + block.start * size, count: block.count, size: size)
                    }
                }
            }
            if let first = failures.withLock({ $0.min { $0.key < $1.key }?.value }) { throw Failure(description: first) }
            (destination + tailStart * size).update(from: bytes + tailAt, count: total - tailStart * size)
        }
    }
}
