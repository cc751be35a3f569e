import Foundation
import SetiData
import SetiNet
import SetiObservations
import SetiTraining
import XCTest
import SetiTestSupport

/// The SETI formats as a user meets them: a folder of ML4SETI .dat files trains and
/// converts like the CSV layout, and `scan` reads filterbank and HDF5 observations, splits
/// its windows over ranks with the same result as one process, and refuses bad input in
/// one line.
final class ScanAndFormatsTests: ScratchFolderTestCase {
    override var scratchName: String { "scan" }

    private func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func testAFolderOfDatFilesTrainsAndConverts() throws {
        let simulator = ML4SETISimulator(seed: 4)
        let folder = dir.appendingPathComponent("dat")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for kind in SignalClass.classic {
            for i in 0..<5 { try simulator.file(kind, index: i).file.data.write(to: folder.appendingPathComponent("\(kind)-\(i).dat")) }
        }
        let converted = try MPIRun.run(np: nil, ["convert", "--data", folder.path, "--out", path("npy")])
        XCTAssertEqual(converted.status, 0, converted.stderr)
        XCTAssertTrue(converted.stdout.contains("train: 16 spectrograms"), converted.stdout)
        XCTAssertEqual(try DataFolder.load(.validation, from: dir.appendingPathComponent("npy")), try DataFolder.load(.validation, from: folder))
        let trained = try MPIRun.run(np: 2, ["train", "--data", folder.path, "--out", path("run"), "--epochs", "1", "--global-batch", "8"], timeout: 240)
        XCTAssertEqual(trained.status, 0, trained.stderr)
        XCTAssertTrue(trained.stdout.contains("16 training and 4 validation spectrograms"), trained.stdout)
    }

    /// A 1,000-channel, 16-step observation with a drifting tone, as .fil and compressed .h5.
    private func observations() throws -> (fil: String, h5: String) {
        var header = ObservationHeader()
        (header.firstFrequency, header.fileChannelWidth, header.timeStep, header.startMJD, header.timeSteps, header.channels) = (8421, -2.79e-6, 18.25, 57650.5, 16, 1000)
        var power = (0..<16_000).map { 10 + Float(($0 * 7_919) % 101) / 25 }
        for t in 0..<16 { power[t * 1000 + 400 + 2 * t] += 60 }
        try Filterbank.write(power, header: header, to: dir.appendingPathComponent("obs.fil"))
        try BreakthroughListenHDF5.write(power, header: header, to: dir.appendingPathComponent("obs.h5"), compressed: true)
        return (path("obs.fil"), path("obs.h5"))
    }

    /// Issue 29.6: p(signal) is 1 - p(noise); a model without a noise class cannot give it,
    /// so scan refuses it before reading the observation, naming the classes.
    func testScanRefusesAModelWithoutANoiseClass() throws {
        let train = try MPIRun.run(np: nil, ["train", "--out", path("model"), "--epochs", "1", "--simulated-per-class", "4", "--global-batch", "16"])
        XCTAssertEqual(train.status, 0, train.stderr)
        let url = dir.appendingPathComponent("model/best.safetensors")
        var (file, metadata) = try Checkpoint.read(url)
        metadata.classNames = ["squiggle", "narrowband", "hiss", "narrowbanddrd"]
        file.metadata[CheckpointMetadata.key] = String(decoding: try JSONLines.encode(metadata), as: UTF8.self)
        let renamed = dir.appendingPathComponent("hiss.safetensors")
        try file.serialized().write(to: renamed)
        let (fil, _) = try observations()
        let result = try MPIRun.run(np: nil, ["scan", fil, "--checkpoint", renamed.path, "--out", path("scan")])
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("the model's classes (squiggle, narrowband, hiss, narrowbanddrd) have no noise class"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("scan/candidates.csv")))
    }

    func testScanSplitsOverRanksWithOneProcesssResultForBothFormats() throws {
        let train = try MPIRun.run(np: nil, ["train", "--out", path("model"), "--epochs", "1", "--simulated-per-class", "8", "--global-batch", "16"])
        XCTAssertEqual(train.status, 0, train.stderr)
        let (fil, h5) = try observations()
        let model = path("model/best.safetensors")
        let one = try MPIRun.run(np: nil, ["scan", fil, "--checkpoint", model, "--out", path("one"), "--min-probability", "0"])
        XCTAssertEqual(one.status, 0, one.stderr)
        XCTAssertTrue(one.stdout.contains("15 windows (1000 channels x 16 time steps, overlap 64)"), one.stdout)
        XCTAssertTrue(one.stdout.contains("windows/s"), one.stdout)
        let rows = try String(contentsOfFile: path("one/candidates.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertTrue(rows[0].hasPrefix("window,channel,frequency_start_mhz,frequency_end_mhz,time_start_s,mjd_start,class,p_signal,p_squiggle"))
        XCTAssertGreaterThan(rows.count, 1)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("one/hits.png")))
        // The lowest window starts at the band's bottom: fch1 + 999 foff.
        XCTAssertTrue(rows.dropFirst().contains { $0.hasPrefix("0,0,8420.997213,") } || !rows.dropFirst().contains { $0.hasPrefix("0,") }, "\(rows)")

        for (launcher, file, out) in [(3, fil, "three"), (2, h5, "h5")] {
            let result = try MPIRun.run(np: launcher, ["scan", file, "--checkpoint", model, "--out", path(out), "--min-probability", "0"])
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertEqual(try String(contentsOfFile: path("\(out)/candidates.csv"), encoding: .utf8),
                           try String(contentsOfFile: path("one/candidates.csv"), encoding: .utf8), "\(launcher) ranks on \(file)")
            XCTAssertEqual(try String(contentsOfFile: path("\(out)/hits.csv"), encoding: .utf8),
                           try String(contentsOfFile: path("one/hits.csv"), encoding: .utf8), "hits on \(launcher) ranks on \(file)")
        }
        // Issue 30.1: the tone (file channel 400 + 2t, channels descending) is one hit at
        // -2 channels a step: -2 x 2.79 Hz / 18.25 s, within one channel over the 16 steps.
        let hitRows = try String(contentsOfFile: path("one/hits.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertTrue(hitRows[0].hasPrefix("top_hit,drift_rate_hz_s,snr,frequency_mhz,frequency_start_mhz,frequency_end_mhz,channel,"), String(hitRows[0]))
        let tone = hitRows.dropFirst().map { $0.split(separator: ",") }.filter { Double($0[6])! > 580 && Double($0[6])! < 600 }
        XCTAssertEqual(tone.count, 1, "one hit for the tone seen by overlapping windows: \(hitRows)")
        if let hit = tone.first {
            XCTAssertEqual(Double(hit[1])!, -2 * 2.79 / 18.25, accuracy: 2.79 / 16 / 18.25, "drift rate: \(hit)")
            XCTAssertEqual(Double(hit[6])!, 599, accuracy: 1, "start channel 999 - 400: \(hit)")
            XCTAssertGreaterThan(Double(hit[2])!, 20, "SNR of a tone 60 over noise of about 1: \(hit)")
        }
        // Wider than one read (2,048 windows): 2,101 windows, in two parts on one process.
        var header = ObservationHeader()
        (header.firstFrequency, header.fileChannelWidth, header.timeStep, header.timeSteps, header.channels) = (1400, 1e-6, 18, 16, 128 + 64 * 2_100)
        let wide = (0..<(16 * header.channels)).map { 10 + Float(($0 * 7_919) % 101) / 25 }
        try Filterbank.write(wide, header: header, to: dir.appendingPathComponent("wide.fil"))
        for (np, out) in [(nil, "wide1"), (2, "wide2")] as [(Int?, String)] {
            let result = try MPIRun.run(np: np, ["scan", path("wide.fil"), "--checkpoint", model, "--out", path(out), "--min-probability", "0"], timeout: 240)
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertTrue(result.stdout.contains("2101 windows"), result.stdout)
        }
        let wideRows = try String(contentsOfFile: path("wide1/candidates.csv"), encoding: .utf8)
        XCTAssertEqual(wideRows.split(separator: "\n").count, 2_102, "every window is a candidate at p >= 0")
        XCTAssertEqual(wideRows, try String(contentsOfFile: path("wide2/candidates.csv"), encoding: .utf8))

        // Issue 27.9: no candidate at all writes the header line and no empty picture (and
        // removes the picture an earlier scan into the folder left).
        try Data().write(to: URL(fileURLWithPath: path("one/hits.png")))
        let none = try MPIRun.run(np: nil, ["scan", fil, "--checkpoint", model, "--out", path("one"), "--min-probability", "1"])
        XCTAssertEqual(none.status, 0, none.stderr)
        XCTAssertEqual(try String(contentsOfFile: path("one/candidates.csv"), encoding: .utf8).split(separator: "\n").count, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("one/hits.png")), none.stdout)
        XCTAssertFalse(none.stdout.contains("hits.png"), none.stdout)
    }

    /// Six 512-channel observations (ON, OFF, ...) of noise with a drifting signal in the
    /// ON ones only (file channel 100 + t/2) and interference in all (file channel 300);
    /// the OFF observations are twice as long as the ON ones.
    private func cadence() throws -> [String] {
        var files: [String] = []
        for m in 0..<6 {
            let steps = m % 2 == 0 ? 16 : 32
            var header = ObservationHeader()
            (header.firstFrequency, header.fileChannelWidth, header.timeStep, header.timeSteps, header.channels) = (8421, -2.79e-6, 18.25, steps, 512)
            header.startMJD = 57_650.5 + Double(m) * 600 / 86_400
            var power = (0..<(steps * 512)).map { 10 + Float(($0 * 7_919 + m * 31) % 101) / 25 }
            let first = Double(m) * 600 / 18.25
            for t in 0..<steps {
                if m % 2 == 0 { power[t * 512 + 100 + Int(((first + Double(t)) / 2).rounded(.down))] += 40 }
                power[t * 512 + 300] += 40
            }
            let url = dir.appendingPathComponent("\(m % 2 == 0 ? "on" : "off")\(m / 2 + 1).fil")
            try Filterbank.write(power, header: header, to: url)
            files.append(url.path)
        }
        return files
    }

    /// Issue 30.3: a cadence through the command: one folder per observation, events.csv
    /// with the target and not the interference at filter 3, both at filter 1, the same on
    /// 1 and 2 ranks, a picture per event; bad cadences in one line.
    func testScanOfACadenceKeepsTheTargetAndNotTheInterference() throws {
        let train = try MPIRun.run(np: nil, ["train", "--out", path("model"), "--epochs", "1", "--simulated-per-class", "4", "--global-batch", "16"])
        XCTAssertEqual(train.status, 0, train.stderr)
        let files = try cadence()
        let model = path("model/best.safetensors")
        let one = try MPIRun.run(np: nil, ["scan", "--cadence"] + files + ["--checkpoint", model, "--out", path("c1"), "--min-probability", "0"])
        XCTAssertEqual(one.status, 0, one.stderr)
        XCTAssertTrue(one.stdout.contains("cadence of 6 observations (3 ON, 3 OFF)"), one.stdout)
        XCTAssertTrue(one.stdout.contains("1 event(s) at filter level 3"), one.stdout)
        for name in ["01-ON-on1", "02-OFF-off1", "06-OFF-off3"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: path("c1/\(name)/hits.csv")), name)
        }
        let rows = try String(contentsOfFile: path("c1/events.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(String(rows[0]), "event,observation,file,frequency_mhz,drift_rate_hz_s,time_s,mjd,snr,class,p_signal,on_found,off_found,snr_1_on,snr_2_off,snr_3_on,snr_4_off,snr_5_on,snr_6_off")
        XCTAssertEqual(rows.count, 2, "\(rows)")
        let fields = rows[1].split(separator: ",")
        // File channel 100 + t/2 with descending channels: ascending 411 at the start, falling half a channel a step.
        XCTAssertEqual(Double(fields[3])!, 8421 - 100 * 2.79e-6, accuracy: 3 * 2.79e-6, "\(fields)")
        XCTAssertEqual(Double(fields[4])!, -0.5 * 2.79 / 18.25, accuracy: 2.79 / 16 / 18.25, "\(fields)")
        XCTAssertEqual(fields[10], "3/3")
        XCTAssertEqual(fields[11], "0/3")
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("c1/events/event-001.png")))
        let image = try PNGImage(data: Data(contentsOf: URL(fileURLWithPath: path("c1/events/event-001.png"))), file: "event-001.png")
        XCTAssertGreaterThan(image.height, 6 * 90, "six stacked panels")

        let two = try MPIRun.run(np: 2, ["scan", "--cadence"] + files + ["--checkpoint", model, "--out", path("c2"), "--min-probability", "0"])
        XCTAssertEqual(two.status, 0, two.stderr)
        XCTAssertEqual(try String(contentsOfFile: path("c2/events.csv"), encoding: .utf8), try String(contentsOfFile: path("c1/events.csv"), encoding: .utf8))

        // Filter 1 keeps the interference too, listed from a file; the earlier pictures go
        // (files only: a folder that happens to be named like one stays).
        try FileManager.default.createDirectory(atPath: path("c1/events/event-009.png"), withIntermediateDirectories: true)
        try Data(files.map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: "\n").utf8).write(to: dir.appendingPathComponent("cadence.txt"))
        let all = try MPIRun.run(np: nil, ["scan", "--cadence", path("cadence.txt"), "--filter", "1", "--event-plots", "1", "--checkpoint", model, "--out", path("c1"), "--min-probability", "0"])
        XCTAssertEqual(all.status, 0, all.stderr)
        let allRows = try String(contentsOfFile: path("c1/events.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(allRows.count, 3, "the target and the interference: \(allRows)")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("c1/events")).sorted(), ["event-001.png", "event-009.png"])

        var mismatched = files
        var header = ObservationHeader()
        (header.firstFrequency, header.fileChannelWidth, header.timeStep, header.timeSteps, header.channels, header.startMJD) = (8421, -2.79e-6, 18.25, 16, 640, 57_650.51)
        try Filterbank.write([Float](repeating: 1, count: 16 * 640), header: header, to: dir.appendingPathComponent("wide.fil"))
        mismatched[3] = path("wide.fil")
        let cases: [([String], String, Int32)] = [
            (["--cadence", files[0]], "a cadence needs at least one ON and one OFF observation", 1),
            (["--cadence"] + Array(files.prefix(5)), "the last ON (\(files[4])) has no OFF", 1),
            (["--cadence"] + mismatched, "wide.fil: its frequency axis (640 channels", 1),
            (["--cadence", files[0], files[1], path("missing.fil"), files[3]], "missing.fil", 1),
            ([files[0], "--cadence", files[0], files[1]], "not both", 64),
            ([files[0], "--filter", "2"], "--filter applies to a --cadence", 64),
            (["--cadence", files[0], files[1], "--filter", "4"], "--filter", 64),
            ([], "give an observation file, or --cadence", 64),
        ]
        for (arguments, words, status) in cases {
            let result = try MPIRun.run(np: 2, ["scan"] + arguments + ["--checkpoint", model, "--out", path("bad")])
            XCTAssertEqual(result.status, status, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(words), "\(words): \(result.stderr)")
            XCTAssertFalse(result.stderr.contains("Fatal error"), result.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("bad/events.csv")))
    }

    func testScanRefusesBadInputInOneLine() throws {
        let (fil, _) = try observations()
        try Data("not a checkpoint".utf8).write(to: dir.appendingPathComponent("bad.safetensors"))
        try Data("HEADER_START".utf8).write(to: dir.appendingPathComponent("bad.fil"))
        let cases: [([String], String)] = [
            ([fil, "--checkpoint", path("none.safetensors")], "none.safetensors"),
            ([fil, "--checkpoint", path("bad.safetensors")], "bad.safetensors"),
            ([fil, "--checkpoint", "x", "--overlap", "128"], "--overlap 128: allowed 0...127"),
            ([fil, "--checkpoint", "x", "--min-probability", "nan"], "--min-probability nan"),
            ([fil, "--checkpoint", "x", "--hits", "101"], "--hits 101"),
            ([fil, "--checkpoint", "x", "--min-snr", "nan"], "--min-snr nan: allowed 0...1000000"),
            ([fil, "--checkpoint", "x", "--min-snr=-1"], "--min-snr -1.0: allowed 0...1000000"),
            (["--cadence", fil, fil, "--checkpoint", "x", "--off-snr", "nan"], "--off-snr nan: allowed 0...1000000"),
            (["--cadence", fil, fil, "--checkpoint", "x", "--off-snr=-1"], "--off-snr -1.0: allowed 0...1000000"),
            (["--cadence", fil, fil, "--checkpoint", "x", "--event-plots", "1001"], "--event-plots 1001: allowed 0...1000"),
            (["--cadence", fil, fil, "--checkpoint", "x", "--filter", "0"], "--filter"),
            ([fil, "--checkpoint", "x", "--off-snr", "3"], "--off-snr applies to a --cadence"),
            (["--cadence", fil, fil, "--checkpoint", path("bad.safetensors")], "bad.safetensors"),
        ]
        for (arguments, words) in cases {
            let result = try MPIRun.run(np: nil, ["scan"] + arguments + ["--out", path("out")])
            XCTAssertNotEqual(result.status, 0, "\(arguments) succeeded")
            XCTAssertFalse([124, 132, 134, 139].contains(result.status), "\(arguments): status \(result.status) \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(words), "\(words): \(result.stderr)")
            XCTAssertFalse(result.stderr.contains("Fatal error"), result.stderr)
        }
        let train = try MPIRun.run(np: nil, ["train", "--out", path("model"), "--epochs", "1", "--simulated-per-class", "4", "--global-batch", "16"])
        XCTAssertEqual(train.status, 0, train.stderr)
        for (file, words) in [(path("bad.fil"), "not a SIGPROC filterbank"), (path("obs.txt"), "unknown observation format '.txt'")] {
            let result = try MPIRun.run(np: 2, ["scan", file, "--checkpoint", path("model/best.safetensors"), "--out", path("out")])
            XCTAssertEqual(result.status, 1, result.stderr)
            XCTAssertEqual(result.stderr.components(separatedBy: words).count, 2, "reported once: \(result.stderr)")
        }
        // A corrupt compressed chunk is read on scan's reading thread, not the main one:
        // HDF5 must not print its error stack there either.
        let (_, h5) = try observations()
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: h5)))
        for i in stride(from: bytes.count - 3000, to: bytes.count - 100, by: 5) { bytes[i] ^= 0x5A }
        try Data(bytes).write(to: dir.appendingPathComponent("corrupt.h5"))
        for np in [nil, 2] as [Int?] {
            let result = try MPIRun.run(np: np, ["scan", path("corrupt.h5"), "--checkpoint", path("model/best.safetensors"), "--out", path("out")])
            XCTAssertEqual(result.status, 1, result.stderr)
            let message = "seti-dist: error: \(path("corrupt.h5")): cannot read the data"
            XCTAssertEqual(result.stderr.components(separatedBy: message).count, 2, "reported once on \(np ?? 1) rank(s): \(result.stderr)")
            XCTAssertFalse(result.stderr.contains("HDF5-DIAG"), result.stderr)
            // Under mpirun, mpirun's own notice of the failed rank follows.
            if np == nil { XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr) }
        }
    }
}
