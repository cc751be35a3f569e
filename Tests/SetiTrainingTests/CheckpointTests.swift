import Foundation
import SetiData
import SetiNet
@testable import SetiTraining
import XCTest
import SetiTestSupport

/// Checkpoints and run folders: typed metadata that round-trips, untrusted files refused
/// with one line, one run per folder.
final class CheckpointTests: ScratchFolderTestCase {
    override var scratchName: String { "ckpt" }

    /// A small model, so the tests write kilobytes, not the SETI CNN's 134 MB.
    private let spec = ModelSpec(height: 8, width: 8, channels: 1, layers: [
        .conv2D(filters: 2, kernel: 3), .batchNorm, .relu, .maxPool(size: 2), .flatten, .dense(units: 4),
    ])

    private func metadata(_ network: Network) -> CheckpointMetadata {
        var config = TrainConfig()
        config.model = spec
        return CheckpointMetadata(model: spec, classNames: SignalClass.classic.map(\.rawValue), config: config, epoch: 3, step: 150,
                                  metrics: nil, callbacks: CallbackState(config))
    }

    func testMetadataAndWeightsRoundTrip() throws {
        let network = Network(spec: spec, maxBatch: 2, seed: 5)
        let optimizer = Adam(parameterCount: network.parameters.count)
        optimizer.restore(iterations: 150)
        let url = dir.appendingPathComponent("last.safetensors")
        try Checkpoint.save(network: network, optimizer: optimizer, metadata: metadata(network), to: url)
        var expected = metadata(network)
        expected.optimizerIterations = 150
        XCTAssertEqual(try Checkpoint.read(url).metadata, expected)
        let (loaded, _) = try Checkpoint.loadNetwork(url, maxBatch: 1)
        XCTAssertEqual(Array(loaded.parameters), Array(network.parameters))
        let other = Adam(parameterCount: network.parameters.count)
        try Checkpoint.restore(url, into: Network(spec: spec, maxBatch: 1, seed: 9), optimizer: other)
        XCTAssertEqual(other.iterations, 150)
    }

    /// A checkpoint of version 0.6.0 has no label-smoothing or weight-decay field, one of
    /// 0.7.0 no intensity scaling in its augmentation, and one of 0.8.0 no PowerSGD start
    /// step; they read as the behaviour of that version.
    func testACheckpointWithoutTheNewerConfigFieldsReadsThemAsDefaults() throws {
        let network = Network(spec: spec, maxBatch: 1, seed: 5)
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONLines.encode(metadata(network))) as? [String: Any])
        var config = try XCTUnwrap(object["config"] as? [String: Any])
        config["labelSmoothing"] = nil
        config["weightDecay"] = nil
        config["powerSGDStartStep"] = nil
        var augmentation = try XCTUnwrap(config["augmentation"] as? [String: Any])
        augmentation["intensityScale"] = nil
        augmentation["noise"] = 0.25
        config["augmentation"] = augmentation
        config["epochs"] = 7
        // 0.17 named the exchange by two fields.
        config["exchange"] = nil
        config["allreduce"] = "hierarchical"
        config["compression"] = "bf16"
        // An enum stored as another case than the default's replaces it whole.
        var constant = TrainConfig()
        constant.schedule.decay = .constant
        let constantConfig = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONLines.encode(constant)) as? [String: Any])
        config["schedule"] = constantConfig["schedule"]
        object["config"] = config
        let json = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        let url = dir.appendingPathComponent("old.safetensors")
        try Safetensors(tensors: network.exportWeights(), metadata: [CheckpointMetadata.key: json]).serialized().write(to: url)
        let read = try Checkpoint.read(url).metadata.config
        XCTAssertEqual(read.labelSmoothing, 0)
        XCTAssertEqual(read.weightDecay, 0)
        XCTAssertEqual(read.augmentation.intensityScale, 0)
        XCTAssertEqual(read.powerSGDStartStep, 0, "0.8.0 compressed from the first step")
        XCTAssertEqual(read.epochs, 7, "the fields it holds are kept")
        XCTAssertEqual(read.augmentation.noise, 0.25, "nested fields it holds are kept")
        XCTAssertEqual(read.schedule.decay, .constant)
        XCTAssertEqual(read.exchange, .hierarchicalBF16)
    }

    func testNonFiniteWeightsAreRefusedNamingTheTensor() throws {
        let network = Network(spec: spec, maxBatch: 1, seed: 5)
        network.parameters[3] = .nan
        let url = dir.appendingPathComponent("nan.safetensors")
        try Checkpoint.save(network: network, optimizer: nil, metadata: metadata(network), to: url)
        XCTAssertThrowsError(try Checkpoint.loadNetwork(url, maxBatch: 1)) {
            XCTAssertTrue("\($0)".contains("tensor conv2d/kernel holds nan at element 3"), "\($0)")
        }
    }

    /// A resumed run continues from the checkpoint's counters: negative ones trapped the
    /// schedule's arithmetic mid-run, so they are refused when the file is read.
    func testCountersOutOfRangeAreRefusedNamingTheField() throws {
        let network = Network(spec: spec, maxBatch: 1, seed: 5)
        let cases: [(WritableKeyPath<CheckpointMetadata, Int>, Int, String)] = [
            (\.epoch, -5, "epoch = -5: allowed 0...\(Checkpoint.maximumCounter)"),
            (\.step, -3, "step = -3: allowed 0..."),
            (\.step, Int.max, "step = \(Int.max): allowed 0..."),
        ]
        for (field, value, words) in cases {
            var meta = metadata(network)
            meta[keyPath: field] = value
            let url = dir.appendingPathComponent("counters.safetensors")
            try Checkpoint.save(network: network, optimizer: nil, metadata: meta, to: url)
            XCTAssertThrowsError(try Checkpoint.read(url)) { XCTAssertTrue("\($0)".contains("counters.safetensors: \(words)"), "\($0)") }
        }
        var edge = metadata(network)
        edge.step = Checkpoint.maximumCounter
        try Checkpoint.save(network: network, optimizer: nil, metadata: edge, to: dir.appendingPathComponent("edge.safetensors"))
        XCTAssertEqual(try Checkpoint.read(dir.appendingPathComponent("edge.safetensors")).metadata.step, Checkpoint.maximumCounter)
    }

    /// Class names become CSV columns and JSON keys: a comma, a quote or a newline in one
    /// broke predict's output, so they are checked when the file is read.
    func testClassNamesThatWouldBreakOutputsAreRefused() throws {
        let network = Network(spec: spec, maxBatch: 1, seed: 5)
        for (names, words) in [(["a,b", "n", "x", "y"], "class name 'a,b'"), (["a", "b\nc", "x", "y"], "class name 'b\nc'"),
                               (["a", "", "x", "y"], "class name ''"), (["a", "a", "x", "y"], "repeat one")] {
            var meta = metadata(network)
            meta.classNames = names
            let url = dir.appendingPathComponent("names.safetensors")
            try Checkpoint.save(network: network, optimizer: nil, metadata: meta, to: url)
            XCTAssertThrowsError(try Checkpoint.read(url)) { XCTAssertTrue("\($0)".contains(words), "\($0)") }
        }
    }

    func testAPlainSafetensorsFileIsNotACheckpoint() throws {
        let url = dir.appendingPathComponent("plain.safetensors")
        try Safetensors(tensors: ["x": .init(shape: [1], values: [1])]).serialized().write(to: url)
        XCTAssertThrowsError(try Checkpoint.read(url)) { XCTAssertTrue("\($0)".contains("not a seti-dist checkpoint"), "\($0)") }
    }

    func testASecondRunFolderOnALockedFolderIsRefusedNamingTheHolder() throws {
        let folder = RunFolder(dir.appendingPathComponent("run"))
        try folder.open(for: .new(overwrite: false))
        XCTAssertThrowsError(try RunFolder(folder.url).open(for: .new(overwrite: false))) {
            XCTAssertTrue("\($0)".contains("is in use by another seti-dist run (pid \(getpid())"), "\($0)")
        }
        withExtendedLifetime(folder) {}
    }

    func testAUsedFolderNeedsResumeOrOverwrite() throws {
        let url = dir.appendingPathComponent("used")
        do {
            let first = RunFolder(url)
            try first.open(for: .new(overwrite: false))
            try Data("{}\n".utf8).write(to: first.metrics)
            try Data("x".utf8).write(to: first.best)
        }
        XCTAssertThrowsError(try RunFolder(url).open(for: .new(overwrite: false))) {
            XCTAssertTrue("\($0)".contains("already holds a run (best.safetensors, metrics.jsonl): pass --resume"), "\($0)")
        }
        XCTAssertThrowsError(try RunFolder(url).open(for: .resume)) {
            XCTAssertTrue("\($0)".contains("nothing to resume (no last.safetensors: the run wrote none (--save-last end or never) or stopped before its first)"), "\($0)")
        }
        let replaced = RunFolder(url)
        try replaced.open(for: .new(overwrite: true))
        XCTAssertFalse(FileManager.default.fileExists(atPath: replaced.metrics.path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: replaced.best.path))
    }

    /// Issue 27: a run stopped before its first checkpoint left a folder that a plain rerun
    /// refused ("already holds a run") and --resume refused too ("nothing to resume").
    func testAFolderWithoutACheckpointIsStartedAfresh() throws {
        let url = dir.appendingPathComponent("stopped")
        do {
            let first = RunFolder(url)
            try first.open(for: .new(overwrite: false))
            try Data("{}\n".utf8).write(to: first.metrics)
            try Data("{}\n".utf8).write(to: first.config)
        }
        XCTAssertThrowsError(try RunFolder(url).open(for: .resume)) {
            XCTAssertTrue("\($0)".contains("drop --resume to start it again"), "\($0)")
        }
        let again = RunFolder(url)
        try again.open(for: .new(overwrite: false))
        XCTAssertFalse(FileManager.default.fileExists(atPath: again.metrics.path), "the stopped run's log is not mixed into the new one")
    }

    func testStaleTemporariesAreRemovedAndTheLogIsCutBackOnResume() throws {
        let url = dir.appendingPathComponent("resumed")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let stale = url.appendingPathComponent(".last.safetensors.tmp-12345")
        try Data(count: 1000).write(to: stale)
        let folder = RunFolder(url)
        try Data().write(to: folder.last)
        for epoch in 1...3 {
            try JSONLines.append(EpochRecord(epoch: epoch, step: epoch, loss: 1, accuracy: 0, val_loss: 1, val_accuracy: 0, lr: 0, seconds: 1, samples_per_second: 1), to: folder.metrics)
        }
        try folder.open(for: .resume)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale.path))
        try folder.truncateLog(toEpochs: 2)
        XCTAssertEqual(try EpochRecord.read(folder.metrics).map(\.epoch), [1, 2])

        // A line torn by a crash in mid-write, and damage between records, are dropped on
        // resume: the resumed run's log must read whole at its end.
        let handle = try FileHandle(forWritingTo: folder.metrics)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("garbage\n{\"epoch\": 3, \"lo".utf8))
        try handle.close()
        XCTAssertThrowsError(try EpochRecord.read(folder.metrics))
        try folder.truncateLog(toEpochs: 2)
        XCTAssertEqual(try EpochRecord.read(folder.metrics).map(\.epoch), [1, 2])
    }

    func testAFailedWriteNamesTheFileAndLeavesTheOldOne() throws {
        guard FileManager.default.fileExists(atPath: "/dev/full") else { throw XCTSkip("no /dev/full") }
        XCTAssertThrowsError(try JSONLines.append(["a": 1], to: URL(fileURLWithPath: "/dev/full"))) {
            XCTAssertTrue("\($0)".contains("/dev/full: cannot append"), "\($0)")
        }
    }
}

/// TensorBoard event files: TFRecord framing with CRC-32C, Event protocol buffers.
/// (scripts/check-tensorboard.py reads a run's files with TensorBoard's own reader.)
final class TensorBoardTests: XCTestCase {
    func testCRC32CMatchesTheStandardCheckValue() {
        XCTAssertEqual(TensorBoardWriter.crc32c(Array("123456789".utf8)), 0xE306_9283)
    }

    func testRecordsFrameEventsWithTheirLengthAndChecksums() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("seti-tb-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let writer = try TensorBoardWriter(folder: dir)
        try writer.add(EpochRecord(epoch: 3, step: 150, loss: 0.5, accuracy: 0.75, val_loss: 0.6, val_accuracy: 0.7, lr: 0.001, seconds: 2, samples_per_second: 800))
        let file = try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("validation").path).first)
        XCTAssertTrue(file.hasPrefix("events.out.tfevents."))
        let bytes = [UInt8](try Data(contentsOf: dir.appendingPathComponent("validation").appendingPathComponent(file)))
        var offset = 0, events: [[UInt8]] = []
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) } }
        while offset < bytes.count {
            let length = Int((0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) })
            XCTAssertEqual(u32(offset + 8), TensorBoardWriter.maskedCRC(Array(bytes[offset..<(offset + 8)])))
            let data = Array(bytes[(offset + 12)..<(offset + 12 + length)])
            XCTAssertEqual(u32(offset + 12 + length), TensorBoardWriter.maskedCRC(data))
            events.append(data)
            offset += 16 + length
        }
        XCTAssertEqual(offset, bytes.count)
        XCTAssertEqual(events.count, 2, "the file version event, then epoch 3")
        XCTAssertTrue(String(decoding: events[0], as: UTF8.self).contains("brain.Event:2"))
        let second = events[1]
        XCTAssertEqual(Array(second[9...10]), [0x10, 2], "epoch 3 at step 2: Keras counts epochs from 0")
        XCTAssertTrue(String(decoding: second, as: UTF8.self).contains("epoch_accuracy"))
        let value: Float = 0.7
        let pattern = withUnsafeBytes(of: value.bitPattern.littleEndian, Array.init)
        XCTAssertTrue(second.indices.contains { second[$0...].starts(with: [0x15] + pattern) }, "val_accuracy 0.7 as a float")
    }
}
