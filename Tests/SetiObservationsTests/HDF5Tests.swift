import Foundation
@testable import SetiObservations
import XCTest
import SetiTestSupport

/// Breakthrough Listen HDF5 and the bitshuffle/LZ4 codec: round trips, a file written by
/// h5py with hdf5plugin's bitshuffle (code nobody here wrote), and hostile inputs.
final class HDF5Tests: ScratchFolderTestCase {
    override var scratchName: String { "h5" }

    func testBitshuffleRoundTripsEveryLengthAndElementSize() throws {
        for size in [1, 2, 4, 8] {
            for count in [0, 1, 7, 8, 9, 2047, 2048, 2049, 5000, 70_001] {  // 70,001: blocks in several parallel runs
                let input = (0..<(count * size)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
                let packed = Bitshuffle.compress(input, size: size)
                let output = try packed.withUnsafeBytes { try Bitshuffle.decompress($0, size: size, expectedBytes: input.count) }
                XCTAssertEqual(output, input, "\(count) elements of \(size) bytes")
            }
        }
    }

    /// The transposition against its definition: bit k of byte j of element i goes to
    /// bit i % 8 of byte i / 8 of row 8j + k.
    func testTheBitTranspositionFollowsTheFormat() {
        var input = [UInt8](repeating: 0, count: 16 * 2)
        input[5 * 2 + 1] = 0b0000_0100  // element 5, byte 1, bit 2 -> row 10, byte 0, bit 5
        var output = [UInt8](repeating: 0, count: input.count)
        Bitshuffle.shuffle(input, &output, count: 16, size: 2)
        XCTAssertEqual(output.indices.filter { output[$0] != 0 }, [10 * 2])
        XCTAssertEqual(output[20], 1 << 5)
    }

    func testHostileChunksAreRefusedNotTrapped() throws {
        let good = Bitshuffle.compress((0..<4000).map { UInt8($0 % 251) }, size: 4)
        var cases: [[UInt8]] = [[], Array(good.prefix(11)), Array(good.prefix(40)), Array(good.dropLast())]
        var wrongTotal = good
        wrongTotal[7] ^= 0x10
        cases.append(wrongTotal)
        var badBlock = good
        badBlock[11] = 3
        cases.append(badBlock)
        var hugeLength = good
        hugeLength[12] = 0x7F
        cases.append(hugeLength)
        var garbage = good
        for i in 20..<60 { garbage[i] = 0xFF }
        cases.append(garbage)
        for (i, chunk) in cases.enumerated() {
            XCTAssertThrowsError(try chunk.withUnsafeBytes { try Bitshuffle.decompress($0, size: 4, expectedBytes: 4000) }, "case \(i)")
        }
        // A bad block in the last of several runs decoded in parallel is still found.
        let long = (0..<280_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 9) }
        var late = Bitshuffle.compress(long, size: 4)
        let layout = try late.withUnsafeBytes { try Bitshuffle.Layout($0, size: 4, expectedBytes: long.count) }
        XCTAssertGreaterThan(layout.blocks.count, 32)
        let last = layout.blocks[layout.blocks.count - 1]
        for i in last.at..<(last.at + last.length) { late[i] = 0xFF }
        XCTAssertThrowsError(try late.withUnsafeBytes { try Bitshuffle.decompress($0, size: 4, expectedBytes: long.count) }) {
            XCTAssertTrue("\($0)".contains("does not decompress"), "\($0)")
        }
        // Issue 29.5: a header claiming more than LZ4 could expand to is refused before any
        // allocation, even when the chunk's size is not known.
        var huge = good
        for i in 0..<8 { huge[i] = 0 }
        huge[4] = 0x40  // 1 GiB from 1,673 bytes
        XCTAssertThrowsError(try huge.withUnsafeBytes { try Bitshuffle.decompress($0, size: 4, expectedBytes: nil) }) {
            XCTAssertTrue("\($0)".contains("claims 1073741824 bytes"), "\($0)")
        }
    }

    func testCompressedAndPlainFilesReadBackAscending() throws {
        var header = ObservationHeader()
        (header.firstFrequency, header.fileChannelWidth, header.timeStep, header.startMJD, header.timeSteps, header.channels) = (8421, -0.002, 18.25, 57650.5, 16, 300)
        let power = (0..<(16 * 300)).map { Float(($0 * 37) % 1000) / 10 }
        for compressed in [false, true] {
            let url = dir.appendingPathComponent("obs-\(compressed).h5")
            try BreakthroughListenHDF5.write(power, header: header, to: url, compressed: compressed)
            let read = try BreakthroughListenHDF5.read(url)
            XCTAssertEqual(read.timeSteps, 16)
            XCTAssertEqual(read.channels, 300)
            XCTAssertEqual(read.frequency(ofChannel: 299), 8421, accuracy: 1e-9)
            XCTAssertEqual(read.power[0], power[299], "channel 0 is the file's last (foff < 0)")
            XCTAssertEqual(read.power[16 * 300 - 1], power[15 * 300])
            let part = try BreakthroughListenHDF5.read(url, channels: 10..<20)
            XCTAssertEqual(part.power, (0..<16).flatMap { t in (10..<20).map { read.power[t * 300 + $0] } })
            XCTAssertEqual(try ObservationFile.header(url).channels, 300)
            // A compressed file's chunks (half the steps, every channel) set scan's reads.
            XCTAssertEqual(try ObservationFile.header(url).chunkChannels, compressed ? 300 : nil)
        }
    }

    /// Written by h5py 3 with hdf5plugin.Bitshuffle(lz4=True), as Breakthrough Listen's
    /// tools write (scripts/make-h5-fixture.py): data[t, 0, c] = (t * 131 + c * 7) % 1000 / 4.
    func testAFileWrittenByH5pyWithBitshuffleReads() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/bitshuffle-lz4.h5")
        let read = try BreakthroughListenHDF5.read(url)
        XCTAssertEqual(read.timeSteps, 16)
        XCTAssertEqual(read.channels, 1024)
        XCTAssertEqual(read.channelWidth, 2.7939677238464355e-06, accuracy: 1e-15)
        for t in 0..<16 {
            for c in 0..<1024 {
                let fileChannel = 1023 - c  // foff < 0 in the fixture
                XCTAssertEqual(read.power[t * 1024 + c], Float((t * 131 + fileChannel * 7) % 1000) / 4, "t \(t), c \(c)")
            }
        }
    }

    func testHostileFilesAreRefusedNamingTheFile() throws {
        let notHDF5 = dir.appendingPathComponent("text.h5")
        try Data("hello".utf8).write(to: notHDF5)
        XCTAssertThrowsError(try BreakthroughListenHDF5.read(notHDF5)) { XCTAssertTrue("\($0)".contains("text.h5: not an HDF5 file"), "\($0)") }
        XCTAssertThrowsError(try BreakthroughListenHDF5.read(dir.appendingPathComponent("none.h5"))) { XCTAssertTrue("\($0)".contains("cannot open"), "\($0)") }
        var header = ObservationHeader()
        (header.firstFrequency, header.fileChannelWidth, header.timeStep, header.timeSteps, header.channels) = (1, 0, 1, 2, 2)
        let zeroWidth = dir.appendingPathComponent("zero.h5")
        try BreakthroughListenHDF5.write([1, 2, 3, 4], header: header, to: zeroWidth, compressed: false)
        XCTAssertThrowsError(try BreakthroughListenHDF5.read(zeroWidth)) { XCTAssertTrue("\($0)".contains("foff = 0.0"), "\($0)") }
        header.fileChannelWidth = 1
        let nan = dir.appendingPathComponent("nan.h5")
        try BreakthroughListenHDF5.write([1, .nan, 3, 4], header: header, to: nan, compressed: true)
        XCTAssertThrowsError(try BreakthroughListenHDF5.read(nan)) { XCTAssertTrue("\($0)".contains("holds NaN at time step 0, file channel 1"), "\($0)") }
        // A corrupted compressed chunk: HDF5 reports the failed filter, no trap.
        let good = dir.appendingPathComponent("good.h5")
        try BreakthroughListenHDF5.write((0..<(64 * 256)).map { Float($0 % 97) }, header: { var h = header; (h.timeSteps, h.channels) = (64, 256); return h }(), to: good, compressed: true)
        var bytes = [UInt8](try Data(contentsOf: good))
        for i in stride(from: bytes.count - 2000, to: bytes.count - 100, by: 3) { bytes[i] ^= 0x5A }
        let corrupt = dir.appendingPathComponent("corrupt.h5")
        try Data(bytes).write(to: corrupt)
        XCTAssertThrowsError(try BreakthroughListenHDF5.read(corrupt)) { XCTAssertTrue("\($0)".hasPrefix(corrupt.path + ": "), "\($0)") }

        // Issue 29.5: a chunk whose header claims 4 bytes of a 32,768-byte chunk (32 steps x
        // 256 channels x 4 bytes) decodes to nothing plausible: refused with both counts.
        let claim: [UInt8] = [0, 0, 0, 0, 0, 0, 0x80, 0x00]
        var lying = [UInt8](try Data(contentsOf: good))
        let at = try XCTUnwrap((0..<(lying.count - 12)).first { Array(lying[$0..<($0 + 8)]) == claim && lying[$0 + 10] == 0x20 })
        lying[at + 6] = 0
        lying[at + 7] = 4
        let lyingURL = dir.appendingPathComponent("lying.h5")
        try Data(lying).write(to: lyingURL)
        XCTAssertThrowsError(try BreakthroughListenHDF5.read(lyingURL)) {
            XCTAssertEqual("\($0)", "\(lyingURL.path): cannot read the data (a bitshuffle chunk's header claims 4 bytes where the dataset's chunks hold 32768)")
        }
    }
}
