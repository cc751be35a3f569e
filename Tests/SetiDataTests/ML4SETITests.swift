import Foundation
@testable import SetiData
import XCTest
import SetiTestSupport

/// ML4SETI `.dat` files: the header rules of the reference reader, hostile files refused
/// in one line, and spectrograms whose tracks sit where the simulated signal was.
final class ML4SETITests: ScratchFolderTestCase {
    override var scratchName: String { "ml4seti" }

    func testAFileRoundTripsAndAPrivateHeaderIsSkipped() throws {
        let file = ML4SETISimulator(seed: 3).file(.narrowband, index: 0).file
        let read = try ML4SETIFile(data: file.data, file: "x.dat")
        XCTAssertEqual(read.uuid, file.uuid)
        XCTAssertEqual(read.signalClass, .narrowband)
        XCTAssertEqual(read.samples, file.samples)

        var withPrivate = Data(#"{"simulator_software_version": 3, "signal_classification": "noise", "snr": 2.5}"#.utf8)
        withPrivate.append(0x0A)
        withPrivate.append(file.data)
        let skipped = try ML4SETIFile(data: withPrivate, file: "x.dat")
        XCTAssertEqual(skipped.signalClass, .narrowband, "the public header is the second line")
        XCTAssertEqual(skipped.samples, file.samples)

        // A header without a class (the challenge's test files) reads; training refuses it.
        var unlabelled = Data(#"{"uuid": "u"}"#.utf8)
        unlabelled.append(0x0A)
        unlabelled.append(Data(count: ML4SETIFile.sampleBytes))
        XCTAssertNil(try ML4SETIFile(data: unlabelled, file: "u.dat").signalClass)
    }

    func testHostileFilesAreRefusedNamingTheFile() throws {
        let samples = Data(count: ML4SETIFile.sampleBytes)
        func file(_ header: String, _ body: Data = samples) -> Data { Data(header.utf8) + Data([0x0A]) + body }
        let cases: [(Data, String)] = [
            (Data(), "no JSON header line"),
            (Data(count: 100_000), "no JSON header line"),
            (file("not json"), "not a JSON object"),
            (file("[1, 2]"), "not a JSON object"),
            (file(#"{"signal_classification": "noise"}"#), "no 'uuid'"),
            (file(#"{"uuid": "a", "signal_classification": "alien"}"#), "signal_classification 'alien' is none of"),
            (file(#"{"uuid": "a", "signal_classification": 3}"#), "signal_classification '3'"),
            (file(#"{"uuid": "a", "signal_classification": "noise"}"#, samples.dropLast()), "393215 bytes of samples"),
            (file(#"{"uuid": "a", "signal_classification": "noise"}"#, samples + Data([1])), "393217 bytes of samples"),
            (file(#"{"simulator_software_version": 1}"#), "line 2"),
        ]
        for (data, words) in cases {
            XCTAssertThrowsError(try ML4SETIFile(data: data, file: "bad.dat"), words) { error in
                XCTAssertTrue(error is DataError, "\(error)")
                XCTAssertTrue("\(error)".hasPrefix("bad.dat"), "\(error)")
                XCTAssertTrue("\(error)".contains(words) || (words == "line 2" && "\(error)".contains("bad.dat:2")), "\(words): \(error)")
            }
        }
        let huge = dir.appendingPathComponent("huge.dat")
        _ = FileManager.default.createFile(atPath: huge.path, contents: nil)
        try FileHandle(forWritingTo: huge).truncate(atOffset: 10_000_000)
        XCTAssertThrowsError(try ML4SETIFile(contentsOf: huge)) { XCTAssertTrue("\($0)".contains("too large"), "\($0)") }
        XCTAssertThrowsError(try ML4SETIFile(contentsOf: dir.appendingPathComponent("missing.dat"))) { XCTAssertTrue("\($0)".contains("missing.dat"), "\($0)") }
    }

    /// Random damage to a valid file (truncation, flipped header bytes, inserted newlines)
    /// reads or fails with a DataError, never a trap.
    func testDamagedFilesNeverTrap() {
        var private_ = Data(#"{"simulator_software_version": 1, "x": [1, 2]}"#.utf8) + Data([0x0A])
        private_.append(ML4SETISimulator(seed: 1).file(.squiggle, index: 0).file.data)
        let original = [UInt8](private_)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var bytes = original
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &rng)))
            case 1: for _ in 0..<4 { bytes[Int.random(in: 0..<120, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            default: bytes.insert(0x0A, at: Int.random(in: 0..<200, using: &rng))
            }
            do { _ = try ML4SETIFile(data: Data(bytes), file: "fuzz.dat") } catch {
                XCTAssertTrue(error is DataError && "\(error)".hasPrefix("fuzz.dat"), "\(error)")
            }
        }
    }

    /// FFTW's power spectrum with the shift and mean removal, against a direct DFT.
    func testPowerMatchesADirectDFTOfTheMeanFreeSeries() throws {
        let file = ML4SETISimulator(seed: 5).file(.squiggle, index: 2).file
        let power = file.power(using: RowPowerSpectra(rows: ML4SETIFile.rows, length: ML4SETIFile.columns))
        let n = ML4SETIFile.rows * ML4SETIFile.columns, length = ML4SETIFile.columns
        let meanRe = (0..<n).map { Double(file.samples[2 * $0]) }.reduce(0, +) / Double(n)
        let meanIm = (0..<n).map { Double(file.samples[2 * $0 + 1]) }.reduce(0, +) / Double(n)
        for row in [0, 200, 383] {
            for column in [0, 17, 256, 300, 511] {
                let bin = Double(column - length / 2)
                var re = 0.0, im = 0.0
                for k in 0..<length {
                    let i = row * length + k
                    let x = Double(file.samples[2 * i]) - meanRe, y = Double(file.samples[2 * i + 1]) - meanIm
                    let angle = -2 * Double.pi * bin * Double(k) / Double(length)
                    re += x * cos(angle) - y * sin(angle)
                    im += x * sin(angle) + y * cos(angle)
                }
                let direct = re * re + im * im
                XCTAssertEqual(power[row * length + column], direct, accuracy: 1e-4 * max(direct, 1e3), "row \(row), column \(column)")
            }
        }
    }

    /// The encoded 64 x 128 image is darkest where the simulated frequency was.
    func testTheTrackIsWhereTheSignalWas() throws {
        let fft = RowPowerSpectra(rows: ML4SETIFile.rows, length: ML4SETIFile.columns)
        for kind in [SignalClass.narrowband, .narrowbanddrd] {
            var bright = ML4SETISimulator(seed: 7)
            bright.snr = 0.4...0.4
            let (file, track, _) = bright.file(kind, index: 1)
            var image = [Float](repeating: 0, count: 64 * 128)
            image.withUnsafeMutableBufferPointer { file.spectrogram(using: fft, into: $0.baseAddress!) }
            var onTrack = 0
            for row in 0..<64 {
                let pixels = image[(row * 128)..<((row + 1) * 128)]
                let darkest = pixels.indices.min { pixels[$0] < pixels[$1] }! - row * 128
                // The block's frequency: its six rows' mid-row frequency, in columns of 4 bins.
                let expected = (track[row * 6 + 3] + 256) / 4
                let distance = abs(Double(darkest) + 0.5 - expected)
                if min(distance, 128 - distance) <= 2 { onTrack += 1 }
            }
            XCTAssertGreaterThanOrEqual(onTrack, 60, "\(kind): \(onTrack) of 64 rows darkest on the track")
            XCTAssertTrue(image.allSatisfy { $0 >= 0 && $0 <= 1 && pixelValue(UInt8(($0 * 255).rounded())) == $0 }, "levels k/255, as the public data")
        }
    }

    func testAFolderOfDatFilesLoadsAsADataSetInBothLayouts() throws {
        let simulator = ML4SETISimulator(seed: 11)
        for kind in SignalClass.classic {
            for i in 0..<5 { try simulator.file(kind, index: i).file.data.write(to: dir.appendingPathComponent("\(kind)-\(i).dat")) }
        }
        let train = try DataFolder.load(.train, from: dir), validation = try DataFolder.load(.validation, from: dir)
        XCTAssertEqual(train.count, 16)
        XCTAssertEqual(validation.count, 4, "every fifth file by name")
        XCTAssertEqual(train.classNames, SignalClass.classic.map(\.rawValue))
        XCTAssertEqual(Set(validation.labels), [0, 1, 2, 3])

        // train/ and validation/ subfolders; a seven-class label widens the classes.
        let split = dir.appendingPathComponent("split")
        for (part, kinds) in [("train", [SignalClass.noise, .brightpixel]), ("validation", [.squiggle])] {
            try FileManager.default.createDirectory(at: split.appendingPathComponent(part), withIntermediateDirectories: true)
            for (i, kind) in kinds.enumerated() {
                var file = simulator.file(.noise, index: i).file
                file.signalClass = kind
                try file.data.write(to: split.appendingPathComponent("\(part)/\(i).dat"))
            }
        }
        let seven = try DataFolder.load(.train, from: split)
        XCTAssertEqual(seven.classNames.count, 7)
        XCTAssertEqual(seven.labels, [2, 4])
        XCTAssertEqual(try DataFolder.load(.validation, from: split).count, 1)

        // One bad file names itself.
        try Data("{}\n".utf8).write(to: dir.appendingPathComponent("zz-bad.dat"))
        XCTAssertThrowsError(try DataFolder.load(.train, from: dir)) { XCTAssertTrue("\($0)".contains("zz-bad.dat:1: the header has no 'uuid'"), "\($0)") }
    }
}
