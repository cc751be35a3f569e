import Foundation
import SetiData
import SetiRandom
@testable import SetiObservations
import XCTest
import SetiTestSupport

/// SIGPROC filterbank files: values and axes read back in ascending frequency, any
/// channel range, 8/16/32-bit data, and hostile headers refused in one line.
final class FilterbankTests: ScratchFolderTestCase {
    override var scratchName: String { "fil" }

    /// A header as SIGPROC writes it, keyword by keyword.
    private struct Header {
        var data = Data()
        mutating func string(_ s: String) { int(Int32(s.utf8.count)); data.append(contentsOf: Array(s.utf8)) }
        mutating func int(_ v: Int32) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        mutating func double(_ v: Double) { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        mutating func key(_ k: String, int v: Int32) { string(k); int(v) }
        mutating func key(_ k: String, double v: Double) { string(k); double(v) }

        static func standard(nbits: Int32 = 8, nchans: Int32 = 4, foff: Double = -0.5, tsamp: Double = 18.25, extra: (inout Header) -> Void = { _ in }) -> Header {
            var h = Header()
            h.string("HEADER_START")
            h.string("source_name"); h.string("Voyager1")
            h.key("telescope_id", int: 6)
            h.key("nbits", int: nbits)
            h.key("nifs", int: 1)
            h.key("nchans", int: nchans)
            h.key("fch1", double: 8421.0)
            h.key("foff", double: foff)
            h.key("tstart", double: 57650.78)
            h.key("tsamp", double: tsamp)
            extra(&h)
            h.string("HEADER_END")
            return h
        }
    }

    private func write(_ data: Data, _ name: String) throws -> URL {
        let url = dir.appendingPathComponent(name)
        try data.write(to: url)
        return url
    }

    func testValuesAndAxesReadBackAscendingForEveryWidth() throws {
        // 3 time steps x 4 channels in file order (descending frequency).
        let values: [UInt16] = [1, 2, 3, 4, 10, 20, 30, 40, 100, 200, 300, 400]
        for bits in [8, 16, 32] {
            var file = Header.standard(nbits: Int32(bits)).data
            for v in values {
                switch bits {
                case 8: file.append(UInt8(min(v, 255)))
                case 16: withUnsafeBytes(of: v.littleEndian) { file.append(contentsOf: $0) }
                default: withUnsafeBytes(of: Float(v).bitPattern.littleEndian) { file.append(contentsOf: $0) }
                }
            }
            let observation = try Filterbank.read(try write(file, "v\(bits).fil"))
            XCTAssertEqual(observation.timeSteps, 3)
            XCTAssertEqual(observation.channels, 4)
            XCTAssertEqual(observation.sourceName, "Voyager1")
            XCTAssertEqual(observation.channelWidth, 0.5)
            XCTAssertEqual(observation.frequency(ofChannel: 0), 8419.5, "the lowest frequency first")
            XCTAssertEqual(observation.frequency(ofChannel: 3), 8421.0)
            let expected = [4, 3, 2, 1, 40, 30, 20, 10, 400, 300, 200, 100].map { Float(bits == 8 ? min($0, 255) : $0) }
            XCTAssertEqual(observation.power, expected, "\(bits)-bit")
            let part = try Filterbank.read(dir.appendingPathComponent("v\(bits).fil"), channels: 1..<3)
            XCTAssertEqual(part.power, [3, 2, 30, 20, 300, 200].map { Float(bits == 8 ? min($0, 255) : $0) })
            XCTAssertEqual(part.channelRange, 1..<3)
        }
    }

    func testTheWriterAndReaderAgree() throws {
        var header = ObservationHeader()
        header.firstFrequency = 1400
        header.fileChannelWidth = 0.001
        header.timeStep = 1
        header.timeSteps = 5
        header.channels = 7
        let power = (0..<35).map { Float($0) * 0.5 }
        let url = dir.appendingPathComponent("w.fil")
        try Filterbank.write(power, header: header, to: url)
        let read = try Filterbank.read(url)
        XCTAssertEqual(read.power, power, "ascending already: no flip")
        XCTAssertEqual(read.frequency(ofChannel: 6), 1400.006, accuracy: 1e-9)
    }

    func testHostileHeadersAreRefusedNamingTheFile() throws {
        let good = Header.standard().data + Data(count: 4 * 3)
        let cases: [(Data, String)] = [
            (Data(), "no HEADER_START"),
            (Data("HEADER_START".utf8), "no HEADER_START"),
            (Data(good.prefix(61)), "the header ends early"),
            (Header.standard(extra: { $0.key("mystery", int: 1) }).data, "unsupported header keyword 'mystery'"),
            (Header.standard(extra: { $0.string("FREQUENCY_START") }).data, "channels of unequal width"),
            (Header.standard(nbits: 3).data, "nbits = 3: allowed 8, 16 or 32"),
            (Header.standard(nchans: 0).data, "nchans = 0"),
            (Header.standard(nchans: -5).data, "nchans = -5"),
            (Header.standard(foff: 0).data + Data(count: 4), "foff = 0.0"),
            (Header.standard(foff: .nan).data + Data(count: 4), "foff = nan"),
            (Header.standard(tsamp: -1).data + Data(count: 4), "tsamp = -1.0"),
            // Issue 29.4: values beyond physics would make inf and NaN times and frequencies.
            (Header.standard(tsamp: 1e308).data + Data(count: 4), "tsamp = 1e+308 s: allowed"),
            (Header.standard(foff: -1e308).data + Data(count: 4), "foff = -1e+308 MHz: allowed"),
            (Header.standard(foff: -3000).data + Data(count: 4), "put the last channel at -579.0 MHz"),
            (Header.standard(extra: { $0.key("fch1", double: -1) }).data + Data(count: 4), "fch1 = -1.0 MHz: allowed"),
            (Header.standard(extra: { $0.key("tstart", double: 1e300) }).data + Data(count: 4), "tstart = 1e+300: allowed an MJD"),
            (Header.standard().data + Data(count: 5), "5 bytes of data is not a whole number of time steps of 4 bytes"),
            (Header.standard().data, "holds no time steps"),
            (Header.standard(extra: { $0.key("nsamples", int: 9) }).data + Data(count: 8), "nsamples = 9 but the file holds 2 time steps"),
            (Header.standard(extra: { $0.key("data_type", int: 2) }).data + Data(count: 4), "data_type = 2"),
            (Header.standard(nbits: 32).data + Data(repeating: 0xFF, count: 16), "holds NaN at time step 0, file channel 0"),
        ]
        var bad = Header()
        bad.string("HEADER_START")
        bad.int(1_000_000)
        for (i, (data, words)) in (cases + [(bad.data, "a string of length 1000000")]).enumerated() {
            let url = try write(data, "bad\(i).fil")
            XCTAssertThrowsError(try Filterbank.read(url), words) { error in
                XCTAssertTrue("\(error)".hasPrefix(url.path + ": "), "\(error)")
                XCTAssertTrue("\(error)".contains(words), "\(words): \(error)")
            }
        }
        XCTAssertThrowsError(try Filterbank.read(try write(good, "good.fil"), channels: 2..<9)) { XCTAssertTrue("\($0)".contains("outside 0..<4"), "\($0)") }
        XCTAssertThrowsError(try Filterbank.read(dir.appendingPathComponent("none.fil"))) { XCTAssertTrue("\($0)".contains("cannot open"), "\($0)") }
    }

    /// Generated header values at the edges of ``ObservationHeader/Ranges``: inside, the file
    /// reads and every derived figure is finite; just outside, it is refused naming the keyword.
    func testHeaderValuesAtTheirRangesEdges() throws {
        typealias R = ObservationHeader.Ranges
        var rng = SplitMix64(seed: 29)
        func inside(_ r: ClosedRange<Double>) -> Double {
            // Log-uniform over the range (the edges themselves included now and then).
            switch rng.next() % 4 {
            case 0: return r.upperBound
            case 1: return max(r.lowerBound, 1e-300)
            default:
                let low = log(max(r.lowerBound, 1e-300)), high = log(r.upperBound)
                return min(r.upperBound, exp(low + (high - low) * Double(rng.next() % 1_000_000) / 1e6))
            }
        }
        for i in 0..<300 {
            let tsamp = inside(R.timeStepSeconds), tstart = inside(R.startMJD)
            let width = inside(R.channelWidthMHz) * (rng.next() % 2 == 0 ? 1 : -1)
            // fch1 such that both band edges (4 channels) stay in range.
            let fch1 = min((R.frequencyMHz.upperBound - max(0, 3 * width)) * (1 - 1e-12), max((R.frequencyMHz.lowerBound - min(0, 3 * width)) * (1 + 1e-9), inside(R.frequencyMHz)))
            let data = Header.standard(foff: width, tsamp: tsamp, extra: { $0.key("fch1", double: fch1); $0.key("tstart", double: tstart) }).data + Data(count: 8)
            let url = try write(data, "edge\(i).fil")
            let observation = try Filterbank.read(url)
            let end = observation.startMJD + Double(observation.timeSteps) * observation.timeStep / 86_400
            XCTAssertTrue(end.isFinite && observation.frequency(ofChannel: 3).isFinite && observation.frequency(ofChannel: 3) > 0, "\(fch1) \(width) \(tsamp) \(tstart)")
        }
        let outside: [(String, Double, String)] = [
            ("tsamp", R.timeStepSeconds.upperBound.nextUp, "tsamp ="), ("tsamp", R.timeStepSeconds.lowerBound.nextDown, "tsamp ="),
            ("tsamp", .infinity, "tsamp ="), ("tstart", R.startMJD.upperBound.nextUp, "tstart ="), ("tstart", -1e-9, "tstart ="),
            ("fch1", R.frequencyMHz.upperBound.nextUp, "fch1 ="), ("fch1", 0, "fch1 ="), ("fch1", .nan, "fch1 ="),
            ("foff", R.channelWidthMHz.upperBound.nextUp, "foff ="), ("foff", -R.channelWidthMHz.lowerBound.nextDown, "foff ="),
        ]
        for (i, (key, value, words)) in outside.enumerated() {
            let data = Header.standard(extra: { $0.key(key, double: value) }).data + Data(count: 8)
            XCTAssertThrowsError(try Filterbank.read(try write(data, "out\(i).fil")), "\(key) \(value)") { error in
                XCTAssertTrue("\(error)".contains(words), "\(key) \(value): \(error)")
            }
        }
    }

    /// Random damage to a valid file's header and length reads or fails with an
    /// ObservationError naming the file, never a trap.
    func testDamagedFilesNeverTrap() throws {
        let original = [UInt8](Header.standard(nbits: 16, nchans: 8).data + Data(count: 2 * 8 * 3))
        var rng = SystemRandomNumberGenerator()
        for i in 0..<300 {
            var bytes = original
            if Bool.random(using: &rng) {
                bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &rng)))
            } else {
                for _ in 0..<3 { bytes[Int.random(in: 0..<(bytes.count - 48), using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            }
            let url = try write(Data(bytes), "fuzz\(i % 10).fil")
            do { _ = try Filterbank.read(url) } catch {
                XCTAssertTrue(error is ObservationError && "\(error)".hasPrefix(url.path), "\(error)")
            }
        }
    }

    func testWindowsCoverTheBandAndTheRanksSplitThem() throws {
        let windows = try ScanWindows(channels: 300, timeSteps: 16, overlap: 64, file: "x")
        XCTAssertEqual(windows.channelStarts, [0, 64, 128, 172], "the last window ends at the top of the band")
        XCTAssertEqual(windows.timeStarts, [0])
        XCTAssertEqual(try ScanWindows(channels: 128, timeSteps: 150, overlap: 0, file: "x").timeStarts, [0, 64, 86])
        XCTAssertEqual(try ScanWindows(channels: 128, timeSteps: 8, overlap: 0, file: "x").timeStarts, [0])
        for steps in [0, 1, 7] {
            XCTAssertThrowsError(try ScanWindows(channels: 128, timeSteps: steps, overlap: 0, file: "x")) { error in
                XCTAssertTrue("\(error)".hasPrefix("x: \(steps) time step"), "\(error)")
                XCTAssertTrue("\(error)".contains("scan needs at least 8"), "\(error)")
            }
        }
        for ranks in 1...5 {
            let shares = (0..<ranks).map { windows.share(rank: $0, of: ranks) }
            XCTAssertEqual(shares.flatMap { Array($0) }, Array(0..<windows.count), "\(ranks) ranks cover every window once, in order")
        }
        XCTAssertEqual(windows.channels(of: 1..<3), 64..<256)
        XCTAssertThrowsError(try ScanWindows(channels: 127, timeSteps: 16, overlap: 0, file: "x.fil")) { XCTAssertTrue("\($0)".contains("x.fil: 127 channels"), "\($0)") }
        XCTAssertThrowsError(try ScanWindows(channels: 300, timeSteps: 16, overlap: 128, file: "x")) { XCTAssertTrue("\($0)".contains("overlap 128"), "\($0)") }
    }

    /// A bright channel is the darkest column of the window's image, on all 64 rows of a
    /// 16-step observation (each step repeated 4 times).
    func testAWindowImageShowsTheSignalAtItsColumn() throws {
        var header = ObservationHeader()
        (header.firstFrequency, header.fileChannelWidth, header.timeStep, header.timeSteps, header.channels) = (1000, 0.01, 18, 16, 256)
        var power = [Float](repeating: 1, count: 16 * 256)
        for i in power.indices where i % 7 == 0 { power[i] = 1.2 }
        for t in 0..<16 { power[t * 256 + 150 + t] = 50 }  // drifting one channel per step
        let observation = Observation(file: "x", header: header, ascendingRange: 0..<256, fileOrderedPower: power)
        let windows = try ScanWindows(channels: 256, timeSteps: 16, overlap: 64, file: "x")
        var image = [Float](repeating: 0, count: 64 * 128)
        image.withUnsafeMutableBufferPointer { windows.image(windows.window(1), from: observation, into: $0.baseAddress!) }
        for row in 0..<64 {
            let pixels = image[(row * 128)..<((row + 1) * 128)]
            XCTAssertEqual(pixels.indices.min { pixels[$0] < pixels[$1] }! - row * 128, 150 + row / 4 - 64, "row \(row)")
        }
    }
}
