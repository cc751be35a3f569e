import Foundation
import SetiData
import SetiFiles
import SetiNet
import SetiTraining
import XCTest
import SetiTestSupport

/// The command-line tool as a user meets it: names, versions, run folders, fine-tuning,
/// pictures with extreme inputs, and hostile inputs that must end in one line, never a trap.
final class CommandLineTests: ScratchFolderTestCase {
    override var scratchName: String { "cli" }

    private func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    private func run(_ arguments: [String], np: Int? = nil, timeout: Int = 120) throws -> MPIRun.Result {
        try MPIRun.run(np: np, arguments, timeout: timeout)
    }

    /// A failure the user must read as one line: a non-zero status that is not a trap
    /// (132 SIGILL, 134 SIGABRT, 139 SIGSEGV) nor a timeout, and the expected words.
    private func assertOneLineError(_ result: MPIRun.Result, _ words: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(result.status, 0, "succeeded: \(result.stdout)", file: file, line: line)
        XCTAssertFalse([124, 132, 134, 139].contains(result.status), "status \(result.status): \(result.stderr)", file: file, line: line)
        let lines = result.stderr.split(separator: "\n")
        XCTAssertEqual(lines.filter { $0.lowercased().contains("error") }.count, 1, result.stderr, file: file, line: line)
        XCTAssertFalse(lines.contains { $0.hasPrefix("Usage:") || $0.hasPrefix("Help:") || $0.contains("See '") }, "a usage error runs over one line: \(result.stderr)", file: file, line: line)
        XCTAssertTrue(result.stderr.contains(words), result.stderr, file: file, line: line)
        XCTAssertFalse(result.stderr.contains("Fatal error") || result.stderr.contains("Backtrace"), result.stderr, file: file, line: line)
    }

    private func simulate(_ name: String, classes: Int = 4, perClass: Int = 4) throws {
        let result = try run(["simulate", "--out", path(name), "--per-class", "\(perClass)", "--classes", "\(classes)", "--format", "npy"])
        XCTAssertEqual(result.status, 0, result.stderr)
    }

    private func train(_ out: String, _ extra: [String] = []) throws -> MPIRun.Result {
        try run(["train", "--out", path(out), "--epochs", "1", "--simulated-per-class", "8", "--global-batch", "16"] + extra)
    }

    /// Issue 27: every epoch rewrote best (weights) and last (weights and Adam's moments).
    /// --save-last chooses when last.safetensors, the resume checkpoint, is written; the
    /// log's seconds leave validation and saving out and report them beside.
    func testSaveLastChoosesWhenTheResumeCheckpointIsWritten() throws {
        let never = try run(["train", "--out", path("never-last"), "--epochs", "2", "--simulated-per-class", "8", "--global-batch", "16", "--save-last", "never"])
        XCTAssertEqual(never.status, 0, never.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("never-last/best.safetensors")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("never-last/last.safetensors")))
        let records = try EpochRecord.read(dir.appendingPathComponent("never-last/metrics.jsonl"))
        XCTAssertEqual(records.count, 2)
        for r in records {
            XCTAssertNotNil(r.validation_seconds)
            XCTAssertNotNil(r.checkpoint_seconds)
        }
        XCTAssertTrue(never.stdout.contains("(validation "), never.stdout)

        let end = try run(["train", "--out", path("end-last"), "--epochs", "2", "--simulated-per-class", "8", "--global-batch", "16", "--save-last", "end"])
        XCTAssertEqual(end.status, 0, end.stderr)
        let last = try Checkpoint.read(dir.appendingPathComponent("end-last/last.safetensors"))
        XCTAssertEqual(last.metadata.epoch, 2, "written after the last epoch")
        let best = try FileManager.default.attributesOfItem(atPath: path("end-last/best.safetensors"))[.size] as! Int
        let full = try FileManager.default.attributesOfItem(atPath: path("end-last/last.safetensors"))[.size] as! Int
        XCTAssertGreaterThan(full, 2 * best, "last holds Adam's two moments besides the weights; best the weights only")
        assertOneLineError(try run(["train", "--out", path("never-last"), "--epochs", "3", "--simulated-per-class", "8", "--global-batch", "16", "--resume"]),
                           "nothing to resume")
    }

    /// Issue 27: SIGINT or SIGTERM ends a run with one line saying where it stopped and
    /// what is on disk, and the run continues from there.
    func testAStoppedRunSaysWhereItStoppedAndResumes() throws {
        // `timeout` sends SIGTERM after 10 s: the run is somewhere in its 1,000 epochs.
        let stopped = try run(["train", "--out", path("stopped"), "--epochs", "1000", "--simulated-per-class", "8", "--global-batch", "16"], timeout: 10)
        XCTAssertEqual(stopped.status, 124, "ended by the signal: \(stopped.stderr)")
        let lines = stopped.stderr.split(separator: "\n").filter { $0.hasPrefix("seti-dist: stopped ") }
        XCTAssertEqual(lines.count, 1, stopped.stderr)
        let line = String(lines.first ?? "")
        XCTAssertFalse(stopped.stderr.contains("Backtrace") || stopped.stderr.contains("Fatal error"), stopped.stderr)
        if line.contains("continue with --resume") {
            let saved = try Checkpoint.read(dir.appendingPathComponent("stopped/last.safetensors")).metadata.epoch
            XCTAssertTrue(line.contains("stopped/last.safetensors (epoch \(saved);"), line)
            let resumed = try run(["train", "--out", path("stopped"), "--epochs", "\(saved + 1)", "--simulated-per-class", "8", "--global-batch", "16", "--resume"])
            XCTAssertEqual(resumed.status, 0, resumed.stderr)
        } else {
            XCTAssertTrue(line.contains("no checkpoint yet"), line)
        }
    }

    /// Issue 27: launch/cluster counted SMT threads as cores (`nproc --all`), so two ranks
    /// bound "to a core" could share one. launch/node-cores counts (core, socket) pairs.
    func testNodeCoresCountsPhysicalCoresOfBigSMTNodes() throws {
        var smt = "# Core,Socket\n"
        for _ in 0..<2 { for socket in 0..<2 { for core in 0..<64 { smt += "\(socket * 64 + core),\(socket)\n" } } }  // 256 CPUs
        var plain = "# Core,Socket\n"
        for core in 0..<96 { plain += "\(core),0\n" }
        for (listing, cores) in [(smt, "128"), (plain, "96")] {
            let file = dir.appendingPathComponent("lscpu-\(cores).txt")
            try Data(listing.utf8).write(to: file)
            let result = try Subprocess.run([MPIRun.repository.appendingPathComponent("launch/node-cores").path, file.path],
                                            environment: Subprocess.cleanEnvironment(), timeout: 30)
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertEqual(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines), cores)
        }
    }

    func testVersionNamesTheCommit() throws {
        let result = try run(["--version"])
        XCTAssertEqual(result.status, 0)
        XCTAssertTrue(result.stdout.hasPrefix("seti-dist \(SetiDistVersion.number) (commit "), result.stdout)
    }

    /// Issue 27: launch/run.sh changed to the repository root, so relative --out and --data
    /// named folders there. Run from another folder, --out lands in that folder.
    func testRunShLeavesTheWorkingDirectoryAlone() throws {
        let prefix = dir.appendingPathComponent("prefix"), work = dir.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: prefix.appendingPathComponent("bin"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: prefix.appendingPathComponent("bin/seti-dist"), withDestinationURL: MPIRun.binary)
        var environment = Subprocess.cleanEnvironment()
        environment["PREFIX"] = prefix.path
        environment["OPENBLAS_NUM_THREADS"] = "1"
        let result = try Subprocess.run(
            [MPIRun.repository.appendingPathComponent("launch/run.sh").path, "1", "train", "--out", "relative-run", "--epochs", "1",
             "--simulated-per-class", "4", "--global-batch", "16"],
            environment: environment, directory: work, timeout: 120, mergeOutput: true)
        XCTAssertEqual(result.status, 0, result.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: work.appendingPathComponent("relative-run/best.safetensors").path), result.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: MPIRun.repository.appendingPathComponent("relative-run").path))
    }

    func testUnknownCommandsAreNamedAsSuch() throws {
        assertOneLineError(try run(["nosuch"]), "unknown command 'nosuch'")
        assertOneLineError(try run(["help", "nosuch"]), "unknown command 'nosuch'")
        XCTAssertEqual(try run(["help", "train"]).status, 0)
    }

    /// Issue 27.8: another tool's name for an option is answered with seti-dist's, and the
    /// CLI reference in docs/ is what `help` prints today.
    func testOtherToolsOptionNamesAreHintedAndTheCLIReferenceIsCurrent() throws {
        let input = try run(["predict", "--checkpoint", path("x"), "--input", path("y")])
        assertOneLineError(input, "seti-dist: error: unknown option '--input' for predict; did you mean --data?")
        XCTAssertEqual(input.status, 64)
        assertOneLineError(try run(["bench", "scaling", "--warmup-steps", "2"]), "unknown option '--warmup-steps' for bench scaling; did you mean --untimed-steps?")
        var environment = Subprocess.cleanEnvironment()
        environment["SETI_DIST"] = MPIRun.binary.path
        let generated = try Subprocess.run([MPIRun.repository.appendingPathComponent("scripts/cli-reference").path], environment: environment, timeout: 60)
        XCTAssertEqual(generated.status, 0, generated.stderr)
        let committed = try String(contentsOf: MPIRun.repository.appendingPathComponent("docs/CLI.md"), encoding: .utf8)
        XCTAssertTrue(generated.stdout == committed, "docs/CLI.md is stale: run scripts/cli-reference > docs/CLI.md")
        // A doubled line continuation in a discussion prints a backslash of its own.
        let stray = generated.stdout.split(separator: "\n").filter { $0.hasSuffix("\\") }
        XCTAssertEqual(stray, [], "help text with a stray backslash")
    }

    /// Issue 27.7: a model summary as Keras prints it, and train's --quiet and --verbose.
    func testSummaryQuietAndVerbose() throws {
        let summary = try run(["summary"])
        XCTAssertEqual(summary.status, 0, summary.stderr)
        // The standard recipe's network, and the course's (keras-seed's, or by name).
        XCTAssertTrue(summary.stdout.contains("dense (Dense)") && summary.stdout.contains("(None, 4096)"), summary.stdout)
        XCTAssertTrue(summary.stdout.contains("Total params: 1,293,060"), summary.stdout)
        for flags in [["--model", "classic"], ["--recipe", "keras-seed"]] {
            let classic = try run(["summary"] + flags)
            XCTAssertTrue(classic.stdout.contains("(None, 32768)") && classic.stdout.contains("Total params: 33,616,132"), "\(flags): \(classic.stdout)")
        }
        assertOneLineError(try run(["summary", "--model", "resnet"]), "--model")
        let seven = try run(["summary", "--classes", "7"])
        XCTAssertTrue(seven.stdout.contains("dense_1 (Dense)") && seven.stdout.contains("(None, 7)"), seven.stdout)
        assertOneLineError(try run(["summary", "--classes", "1"]), "--classes 1: allowed 2...1000")

        let quiet = try train("quiet", ["--quiet", "--epochs", "2"])
        XCTAssertEqual(quiet.status, 0, quiet.stderr)
        XCTAssertEqual(quiet.stdout.split(separator: "\n").count, 1, "only the final line: \(quiet.stdout)")
        XCTAssertTrue(quiet.stdout.hasPrefix("done in "), quiet.stdout)
        let verbose = try train("verbose", ["--verbose"])
        XCTAssertEqual(verbose.status, 0, verbose.stderr)
        XCTAssertTrue(verbose.stdout.contains("Total params: 1,293,060"), verbose.stdout)
        let steps = verbose.stdout.split(separator: "\n").filter { $0.hasPrefix("epoch 1/1  step ") }
        XCTAssertEqual(steps.count, 2, "every step of the epoch's two: \(verbose.stdout)")
        XCTAssertTrue(steps.allSatisfy { $0.contains("  accuracy 0.") || $0.contains("  accuracy 1.") }, "the running accuracy on the step line: \(steps)")
        let normal = try train("normal")
        XCTAssertTrue(normal.stdout.contains("  model: 22 layers, 1,293,060 weights"), normal.stdout)
        XCTAssertFalse(normal.stdout.contains("Total params"), normal.stdout)
        // Issue 30.2: the best checkpoint carries its calibration, fitted on fresh simulated
        // samples (4 more draws of the validation stream) and measured on validation.
        // 32 samples are too few for a 4-class matrix (20 numbers): the temperature alone.
        XCTAssertTrue(normal.stdout.contains("calibrated best.safetensors (temperature scaling fitted on 32 fresh samples)"), normal.stdout)
        let calibration = try XCTUnwrap(try Checkpoint.read(dir.appendingPathComponent("normal/best.safetensors")).metadata.calibration)
        XCTAssertTrue(calibration.temperature > 0 && calibration.matrix == nil, "\(calibration)")
        XCTAssertEqual(calibration.fitSamples, 4 * 8, "4 rounds of the 8-sample validation set")
        let evaluated = try run(["evaluate", "--checkpoint", path("normal"), "--json"])
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(evaluated.stdout.utf8)) as? [String: Any])
        XCTAssertNotNil((report["calibration"] as? [String: Any])?["ece_after"], evaluated.stdout)
        assertOneLineError(try train("both", ["--quiet", "--verbose"]), "give --quiet or --verbose, not both")
    }

    /// Issue 30.4: bench scan prints, per format and in one run, windows/s end to end and
    /// per core, the forward pass alone, the share of the sgemm peak and MB/s, on N ranks.
    func testBenchScanPrintsEveryFigureForBothFormats() throws {
        let result = try run(["bench", "scan", "--channels", "1024", "--steps", "8", "--repeats", "1"], np: 2)
        XCTAssertEqual(result.status, 0, result.stderr)
        for words in ["2 rank(s)", "sgemm peak", "obs.fil: 15 windows", "obs.h5: 15 windows", "per core", "waiting for data", "forward pass alone", "of the sgemm peak", "MB/s of observation"] {
            XCTAssertTrue(result.stdout.contains(words), "\(words): \(result.stdout)")
        }
        assertOneLineError(try run(["bench", "scan", "--channels", "64"]), "--channels 64: allowed 128...4194304")
        assertOneLineError(try run(["bench", "scan", "--steps", "4"]), "--steps 4: allowed 8...1024")
    }

    /// Every rank finds a bad flag; the user reads it once.
    func testABadFlagUnderMPIRunIsReportedOnce() throws {
        let result = try run(["train", "--lr", "nan"], np: 2)
        XCTAssertEqual(result.status, 64, "the usage error's status, passed on by mpirun: \(result.stderr)")
        // mpirun adds its own banner about the non-zero exit, possibly in the middle of the line.
        XCTAssertEqual(result.stderr.components(separatedBy: "lr = nan").count, 2, "reported once: \(result.stderr)")
    }

    func testNumericFlagsAreCheckedAtTheirBoundaries() throws {
        for (flags, words) in [
            (["--lr=-0.01"], "lr = -0.01"), (["--lr", "inf"], "lr = inf"), (["--epochs", "0"], "epochs = 0"),
            (["--global-batch", "0"], "global-batch = 0"), (["--global-batch", "4611686018427387904"], "global-batch = 4611686018427387904"),
            (["--decay-steps", "0"], "decay-steps = 0"), (["--shift", "nan"], "shift = nan"),
            (["--simulated-per-class", "9223372036854775807"], "simulated-per-class"), (["--batch-per-rank", "0"], "--batch-per-rank 0"),
            (["--noise=-1"], "noise = -1"), (["--plateau-factor", "0"], "plateau-factor = 0"),
            (["--label-smoothing", "0.51"], "label-smoothing = 0.51: allowed 0.0...0.5"), (["--weight-decay", "nan"], "weight-decay = nan"),
            (["--global-batch", "65536"], "GB of activations"), (["--simulated-per-class", "20001"], "simulated-per-class = 20001"),
            (["--intensity-scale", "nan"], "intensity-scale = nan"), (["--intensity-scale=-0.1"], "intensity-scale = -0.1"),
            (["--powersgd-rank", "0"], "powersgd-rank = 0: allowed 1...64"),
            (["--powersgd-start-step=-1"], "powersgd-start-step = -1: allowed 0...1000000000"),
            (["--powersgd-start-step", "nan"], "powersgd-start-step"), (["--powersgd-start-step", "99999999999999999999"], "powersgd-start-step"), (["--powersgd-rank", "99999999999999999999"], "powersgd-rank"),
            (["--schedule", "cosine", "--decay-steps", "1", "--epochs", "2", "--simulated-per-class", "8"], "the cosine decay reaches learning rate 0 at optimizer step 1"),
            (["--schedule", "constant", "--decay-rate", "0.5"], "decay-rate need a decaying schedule"),
            (["--classes", "5"], "classes = 5: allowed 4 or 7"), (["--min-max-encoding", "nan"], "min-max-encoding = nan"),
            (["--generator", "injection"], "generator = injection needs a background observation"),
            (["--background", "/nonexistent/obs.fil"], "/nonexistent/obs.fil: cannot open the file"),
            (["--generator", "image", "--background", "/tmp/obs.fil"], "only the injection generator uses it"),
            (["--save-last", "sometimes"], "save-last"),
            (["--compression", "zip"], "compression"), (["--compression", "bf16", "--allreduce", "mpi"], "--compression bf16 compresses the cross-machine leg"),
            (["--exchange", "nccl"], "--exchange"), (["--exchange", "mpi", "--allreduce", "mpi"], "--exchange replaces --allreduce and --compression"),
        ] {
            assertOneLineError(try run(["train", "--out", path("never")] + flags), words)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("never")), "a refused run wrote its folder")
    }

    /// The other commands' numbers, at and past their boundaries, before any work.
    func testEveryCommandChecksItsNumbers() throws {
        for (arguments, words) in [
            (["simulate", "--out", path("s"), "--per-class", "0"], "--per-class 0: allowed 1...20000"),
            (["simulate", "--out", path("s"), "--per-class", "20001"], "--per-class 20001"),
            (["simulate", "--out", path("s"), "--snr-min", "nan"], "--snr-min nan"),
            (["simulate", "--out", path("s"), "--generator", "ml4seti", "--snr-min", "0.5", "--snr-max", "0.1"], "--snr-min 0.5 --snr-max 0.1: need 0 < min <= max"),
            (["simulate", "--out", path("s"), "--generator", "mixed", "--snr-max", "3"], "set one generator's range"),
            (["simulate", "--out", path("s"), "--generator", "injection"], "--generator injection needs --background"),
            (["simulate", "--out", path("s"), "--background", path("missing.fil")], "missing.fil: cannot open the file"),
            (["simulate", "--out", path("s"), "--dat"], "--dat writes the ml4seti generator's time series"),
            (["simulate", "--out", path("s"), "--generator", "ml4seti", "--shift", "rfi"], "--shift rfi draws the image generator's shifted sets"),
            (["show", "--data", path("s"), "--tiles-per-class", "0"], "--tiles-per-class 0: allowed 1...50"),
            (["evaluate", "--checkpoint", path("x"), "--shifted-per-class", "0"], "--shifted-per-class 0"),
            (["bench", "compute", "--batch", "0"], "--batch 0: allowed 1...1024"),
            (["bench", "allreduce", "--sizes", "nan"], "--sizes"),
            (["bench", "scaling", "--steps", "0"], "--steps 0"),
            (["bench", "scaling", "--powersgd-rank", "65"], "--powersgd-rank 65: allowed 1...64"),
            (["bench", "scaling", "--compression", "bf16", "--allreduce", "mpi"], "--compression bf16"),
            (["bench", "scaling", "--alone", "--global-batch", "32"], "--alone measures weak scaling: give --batch-per-rank"),
            (["bench", "scaling", "--paired", "--global-batch", "32"], "--paired measures weak scaling with an exchange"),
            (["bench", "scaling", "--paired", "--alone", "--batch-per-rank", "8"], "not --alone"),
            (["bench", "compute", "--convolutions", "fft"], "--convolutions"),
            (["selftest", "--megabytes", "0"], "--megabytes 0"),
        ] {
            assertOneLineError(try run(arguments), words)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("s")))
    }

    func testTasksetLimitsTheBLASThreads() throws {
        let result = try MPIRun.run(.pinned(cpus: "0"), ["train", "--out", path("pinned"), "--epochs", "1", "--simulated-per-class", "8"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("1 BLAS thread(s) per rank"), result.stdout)
        XCTAssertTrue(result.stdout.contains("binding: rank 0: CPU 0, 1 thread"), result.stdout)
        XCTAssertFalse(result.stdout.contains("exchange:"), "one process exchanges nothing: \(result.stdout)")
    }

    /// The start of a run says how gradients are exchanged when there is something to say.
    func testTheStartLinesNameTheCompression() throws {
        let result = try run(["train", "--out", path("compressed"), "--epochs", "1", "--simulated-per-class", "8", "--exchange", "powersgd"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let defaults = TrainConfig()
        XCTAssertTrue(result.stdout.contains(
            "  exchange: PowerSGD rank \(defaults.powerSGDRank) on the large matrices after \(defaults.powerSGDStartStep) exact steps"),
            result.stdout)
    }

    /// launch/install's static build: no Swift runtime library, so nodes need no toolchain.
    func testTheInstalledBinaryLinksNoSwiftLibrary() throws {
        let binary = MPIRun.repository.appendingPathComponent(".build-install/release/seti-dist")
        guard FileManager.default.fileExists(atPath: binary.path) else {
            throw XCTSkip("launch/install has not been run in this checkout (launch/setup-debian runs it)")
        }
        let libraries = try Subprocess.run(["/usr/bin/ldd", binary.path], environment: Subprocess.cleanEnvironment(), timeout: 30).stdout
        XCTAssertTrue(libraries.contains("libmpi"), libraries)
        for swift in ["libswiftCore", "libFoundation", "libdispatch", "/opt/swift", "not found"] {
            XCTAssertFalse(libraries.contains(swift), "links \(swift):\n\(libraries)")
        }
        // Every library the binary names is in the README's list of what a node needs.
        let headers = try Subprocess.run(["/usr/bin/objdump", "-p", binary.path], environment: Subprocess.cleanEnvironment(), timeout: 30).stdout
        let needed = headers.split(separator: "\n").filter { $0.contains("NEEDED") }.compactMap { $0.split(separator: " ").last.map(String.init) }
        XCTAssertGreaterThan(needed.count, 3, headers)
        let readme = try String(contentsOf: MPIRun.repository.appendingPathComponent("README.md"), encoding: .utf8)
        for library in needed { XCTAssertTrue(readme.contains("`\(library)`"), "\(library) is not in the README's list of what a node needs") }
    }

    func testARunFolderIsNotOverwrittenWithoutBeingTold() throws {
        XCTAssertEqual(try train("run").status, 0)
        let metrics = try String(contentsOfFile: path("run/metrics.jsonl"), encoding: .utf8)
        assertOneLineError(try train("run"), "already holds a run")
        XCTAssertEqual(try String(contentsOfFile: path("run/metrics.jsonl"), encoding: .utf8), metrics, "the refused run touched the log")
        assertOneLineError(try train("run", ["--resume"]), "the run is complete (1 of 1 epochs)")
        let again = try train("run", ["--overwrite"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(try EpochRecord.read(dir.appendingPathComponent("run/metrics.jsonl")).count, 1)
        let config = try String(contentsOfFile: path("run/config.json"), encoding: .utf8)
        XCTAssertFalse(config.contains("\"data\""), "simulated runs have no data folder")
    }

    /// EarlyStopping when no later epoch can improve by --min-delta: the run stops after
    /// the patience, and best.safetensors keeps epoch 1.
    func testEarlyStoppingEndsTheRunAfterThePatience() throws {
        let result = try train("early", ["--epochs", "6", "--monitor", "val_loss", "--min-delta", "1000", "--early-stopping-patience", "2"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("early stopping after epoch 3: no improvement in 2 epoch(s)"), result.stdout)
        XCTAssertEqual(try EpochRecord.read(dir.appendingPathComponent("early/metrics.jsonl")).count, 3)
        XCTAssertEqual(try Checkpoint.read(dir.appendingPathComponent("early/best.safetensors")).metadata.epoch, 1)
    }

    func testPrintConfigShowsTheMergedConfigurationAndPredictSpeaksJSON() throws {
        let config = try run(["train", "--recipe", "keras-seed", "--epochs", "3", "--print-config"])
        XCTAssertEqual(config.status, 0, config.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(config.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["monitor"] as? String, "val_accuracy", "keras-seed keeps the highest validation accuracy, as the course")
        XCTAssertEqual(object["epochs"] as? Int, 3)
        XCTAssertEqual(object["weight_decay"] as? Double, 0, "keras-seed is plain Adam, as the course")
        func denseUnits(_ flags: [String]) throws -> [Int] {
            let printed = try run(["train", "--print-config"] + flags)
            XCTAssertEqual(printed.status, 0, printed.stderr)
            let model = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(printed.stdout.utf8)) as? [String: Any])?["model"] as? [String: Any])
            let layers = try XCTUnwrap(model["layers"] as? [[String: Any]])
            return layers.compactMap { ($0["dense"] as? [String: Any])?["units"] as? Int }
        }
        XCTAssertEqual(try denseUnits(["--recipe", "keras-seed"]), [1024, 4], "the course's classic CNN")
        XCTAssertEqual(try denseUnits([]), [256, 4], "the standard recipe's deep CNN")
        XCTAssertEqual(try denseUnits(["--model", "classic"]), [1024, 4])
        XCTAssertEqual(try denseUnits(["--recipe", "keras-seed", "--model", "deep"]), [256, 4])
        let augmentation = try XCTUnwrap(object["augmentation"] as? [String: Any])
        XCTAssertEqual(augmentation["intensity_scale"] as? Double, 0, "keras-seed augments with horizontal flips only, as the course")
        XCTAssertEqual(augmentation["horizontal_flip"] as? Bool, true)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "runs/seti/config.json") && config.stdout.isEmpty)
        XCTAssertEqual(try train("p").status, 0)
        try simulate("four")
        let predicted = try run(["predict", "--checkpoint", path("p/best.safetensors"), "--data", path("four/validation/images.npy"), "--json"])
        XCTAssertEqual(predicted.status, 0, predicted.stderr)
        let rows = predicted.stdout.split(separator: "\n")
        XCTAssertEqual(rows.count, 4)
        let first = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(rows[0].utf8)) as? [String: Any])
        let probabilities = try XCTUnwrap(first["probabilities"] as? [String: Double])
        XCTAssertEqual(probabilities.values.reduce(0, +), 1, accuracy: 1e-4)
        XCTAssertEqual(Set(probabilities.keys), ["squiggle", "narrowband", "noise", "narrowbanddrd"])
        // Every row's class is its most probable after calibration, as evaluate counts it.
        for row in rows {
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(row.utf8)) as? [String: Any])
            let probabilities = try XCTUnwrap(object["probabilities"] as? [String: Double])
            XCTAssertEqual(object["class"] as? String, probabilities.max { $0.value < $1.value }?.key, String(row))
        }
    }

    func testFineTuningFromACheckpointWithANewHeadForSevenClasses() throws {
        XCTAssertEqual(try train("four").status, 0)
        let export = try run(["export", "--checkpoint", path("four/best.safetensors"), "--file", path("four.keras")])
        XCTAssertEqual(export.status, 0, export.stderr)
        XCTAssertTrue(export.stdout.contains("4 classes, 1293060 weights"), export.stdout)
        try simulate("seven", classes: 7, perClass: 4)
        let result = try run(["train", "--out", path("tuned"), "--epochs", "1", "--global-batch", "16", "--data", path("seven"),
                              "--init-from", path("four/best.safetensors"), "--new-head", "--lr", "0.001"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("weights from \(path("four/best.safetensors")) (epoch 1, new last layer)"), result.stdout)
        let tuned = try Checkpoint.read(dir.appendingPathComponent("tuned/last.safetensors"))
        XCTAssertEqual(tuned.metadata.classNames.count, 7)
        // Its own dropout, order and augmentation (issue 27: it replayed the source's).
        let source = try Checkpoint.read(dir.appendingPathComponent("four/best.safetensors")).metadata
        XCTAssertNil(source.randomSeed)
        let tunedSeed = try XCTUnwrap(tuned.metadata.randomSeed)
        XCTAssertNotEqual(tunedSeed, tuned.metadata.config.seed)
        let before = try Checkpoint.read(dir.appendingPathComponent("four/best.safetensors")).file.tensors["conv2d/kernel"]!.values
        let after = tuned.file.tensors["conv2d/kernel"]!.values
        let moved = zip(before, after).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(moved, 0.05, "fine-tuning started from the checkpoint's weights")
        XCTAssertGreaterThan(moved, 0, "fine-tuning trained")
        let config = try String(contentsOfFile: path("tuned/config.json"), encoding: .utf8)
        XCTAssertTrue(config.contains("\"data\":\"\(path("seven"))\""), "the data folder is stored absolute: \(config)")
        assertOneLineError(try run(["train", "--out", path("wrong"), "--epochs", "1", "--data", path("seven"), "--init-from", path("four/best.safetensors")]),
                           "tensor dense_1/kernel has shape [256, 4], the model needs [256, 7]")
    }

    func testModelAndDataMismatchesAreOneLineErrors() throws {
        try simulate("seven", classes: 7, perClass: 4)
        let sevenRun = try run(["train", "--out", path("seven-run"), "--epochs", "1", "--global-batch", "16", "--data", path("seven")])
        XCTAssertEqual(sevenRun.status, 0, sevenRun.stderr)
        try simulate("four")
        let sevenCheckpoint = path("seven-run/best.safetensors")
        assertOneLineError(try run(["evaluate", "--checkpoint", sevenCheckpoint, "--data", path("four")]), "the data have 4 classes")
        assertOneLineError(try run(["show", "--data", path("four"), "--checkpoint", sevenCheckpoint, "--png", path("x.png")]), "the model predicts 7")
        XCTAssertEqual(try train("four-run").status, 0)
        assertOneLineError(try run(["evaluate", "--checkpoint", path("four-run/best.safetensors"), "--data", path("seven")]), "the data have 7 classes")
    }

    /// Issue 27.8 and 29.1-2, 29.6: one voice (one line, "seti-dist: error:", 64 only for
    /// usage), inputs that are pipes refused or bounded, outputs that never replace a device, a pipe or a folder, run folders taken as
    /// their best checkpoint, and a conversion refused before it writes anything.
    func testOneVoiceAndOutputsThatReplaceNothingTheyShouldNot() throws {
        let missing = try run(["plot", "--log", path("none.jsonl"), "--png", path("c.png")])
        assertOneLineError(missing, "seti-dist: error: \(path("none.jsonl")): cannot read the file (No such file or directory)")
        XCTAssertEqual(missing.status, 1, "a run-time failure, not a usage error")
        XCTAssertFalse(missing.stderr.contains("Usage:"), missing.stderr)
        let usage = try run(["export", "--checkpoint", path("x"), "--file", path("model.h5")])
        assertOneLineError(usage, "seti-dist: error: --file \(path("model.h5")): export writes Keras's .keras format")
        XCTAssertEqual(usage.status, 64)
        // A negative number after an option is taken by ArgumentParser for an option; the
        // one line says so, with the option's allowed range.
        let negative = try run(["train", "--epochs", "-1"])
        assertOneLineError(negative, "seti-dist: error: --epochs -1: a negative number is not allowed here; --epochs <epochs> Epochs (1...1000000")
        XCTAssertEqual(negative.status, 64)
        // A newline in a path or a value is written as an escape: the error stays one line.
        assertOneLineError(try run(["predict", "--checkpoint", path("a\nb.safetensors"), "--data", path("x.csv")]), "a\\nb.safetensors: cannot read")
        let recipe = try run(["train", "--recipe", "st\nx"])
        assertOneLineError(recipe, "The value 'st\\nx' is invalid for '--recipe <recipe>'")
        XCTAssertTrue(recipe.stderr.contains("; --recipe <recipe> Named recipe"), recipe.stderr)

        XCTAssertEqual(try train("run").status, 0)
        let folder = try run(["evaluate", "--checkpoint", path("run"), "--json"])
        XCTAssertEqual(folder.status, 0, "a run folder stands for its best checkpoint: \(folder.stderr)")
        assertOneLineError(try run(["evaluate", "--checkpoint", dir.path]), "a folder without best.safetensors")

        func assertStillDevice(_ path: String, _ kind: mode_t, file: StaticString = #filePath, line: UInt = #line) {
            var status = stat()
            XCTAssertEqual(lstat(path, &status), 0, file: file, line: line)
            XCTAssertEqual(status.st_mode & S_IFMT, kind, "\(path) was replaced", file: file, line: line)
        }
        if FileManager.default.fileExists(atPath: "/dev/full") {
            assertOneLineError(try run(["export", "--checkpoint", path("run"), "--file", "/dev/full"]), "/dev/full: cannot write (No space left on device)")
            assertOneLineError(try run(["plot", "--log", path("run/metrics.jsonl"), "--png", "/dev/full"]), "No space left on device")
            assertStillDevice("/dev/full", S_IFCHR)
        }
        XCTAssertEqual(mkfifo(path("pipe"), 0o600), 0)
        assertOneLineError(try run(["plot", "--log", path("run/metrics.jsonl"), "--png", path("pipe")]), "is a named pipe that nobody reads")
        assertStillDevice(path("pipe"), S_IFIFO)
        assertOneLineError(try run(["plot", "--log", path("run/metrics.jsonl"), "--png", dir.path]), "is a folder")
        XCTAssertEqual(try run(["plot", "--log", path("run/metrics.jsonl"), "--png", "/dev/null"]).status, 0)
        // Inputs read by offset or mapped are regular files; a pipe must not hang them.
        XCTAssertEqual(mkfifo(path("pipe.fil"), 0o600), 0)
        assertOneLineError(try run(["scan", path("pipe.fil"), "--checkpoint", path("run")], timeout: 30), "pipe.fil: not a regular file")
        assertOneLineError(try run(["evaluate", "--checkpoint", "/dev/null"], timeout: 30), "/dev/null: not a regular file")
        assertStillDevice("/dev/null", S_IFCHR)
        // So are a data folder's files, spectrograms and pictures alike; a file read whole
        // (a configuration, a metrics log) may be a pipe, but one nobody writes to is refused
        // after pipeWaitSeconds instead of hanging.
        for file in ["piped/train/images.npy", "piped/train/labels.npy", "pictures/train/noise/a.png", "pictures/validation/noise/a.png"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(file).deletingLastPathComponent(), withIntermediateDirectories: true)
            XCTAssertEqual(mkfifo(path(file), 0o600), 0)
        }
        assertOneLineError(try run(["convert", "--data", path("piped"), "--out", path("unpiped")], timeout: 30), "piped/train/images.npy: not a regular file (a pipe or a device); expected a NumPy .npy file")
        assertOneLineError(try run(["evaluate", "--checkpoint", path("run"), "--data", path("pictures")], timeout: 30), "noise/a.png: not a regular file (a pipe or a device)")
        assertOneLineError(try run(["plot", "--log", path("pipe.fil"), "--png", path("c.png")], timeout: 60), "pipe.fil: nothing to read for \(pipeWaitSeconds) s")
        assertOneLineError(try run(["train", "--config", path("pipe.fil"), "--out", path("never")], timeout: 60), "pipe.fil: nothing to read for \(pipeWaitSeconds) s")

        // Issue 29.7: the real cause, never "SetiData.DataError error 1".
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("linked"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: path("linked/tensorboard"), withDestinationPath: "/nonexistent/tb")
        assertOneLineError(try train("linked"), "a symbolic link to a missing /nonexistent/tb stands where the folder should be")

        // Train of a 4-class set beside validation of a 7-class one: refused, nothing written.
        try simulate("four")
        try simulate("seven", classes: 7)
        let mixed = dir.appendingPathComponent("mixed")
        try FileManager.default.createDirectory(at: mixed, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: dir.appendingPathComponent("four/train"), to: mixed.appendingPathComponent("train"))
        try FileManager.default.copyItem(at: dir.appendingPathComponent("seven/validation"), to: mixed.appendingPathComponent("validation"))
        assertOneLineError(try run(["convert", "--data", mixed.path, "--out", path("converted"), "--format", "csv"]), "convert needs one class list")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("converted")), "nothing written before the refusal")
    }

    /// simulate and convert leave a data set in --out alone without --overwrite (it may be
    /// the only copy of real data); with it, the old set's files the new one did not rewrite
    /// are removed, so no stale format or parameters are read with the new set.
    func testADataSetInOutIsReplacedOnlyWithOverwrite() throws {
        try simulate("data")
        let images = path("data/train/images.npy")
        let original = try Data(contentsOf: URL(fileURLWithPath: images))
        let again = try run(["simulate", "--out", path("data"), "--per-class", "2", "--format", "npy"])
        assertOneLineError(again, "\(path("data")) already holds a data set (train/images.npy, train/labels.npy, train/parameters.csv, validation/images.npy")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: images)), original, "the data set is untouched")
        assertOneLineError(try run(["convert", "--data", path("data"), "--out", path("data"), "--format", "csv"]), "pass --overwrite to replace it")

        let converted = try run(["convert", "--data", path("data"), "--out", path("data"), "--format", "csv", "--overwrite"])
        XCTAssertEqual(converted.status, 0, converted.stderr)
        let train = try FileManager.default.contentsOfDirectory(atPath: path("data/train")).sorted()
        XCTAssertEqual(train, ["images.csv", "labels.csv"], "the .npy files and the parameters of the old set are gone")
        XCTAssertEqual(try DataFolder.load(.train, from: URL(fileURLWithPath: path("data"))).count, 16)

        let replaced = try run(["simulate", "--out", path("data"), "--per-class", "2", "--format", "npy", "--overwrite"])
        XCTAssertEqual(replaced.status, 0, replaced.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("data/train")).sorted(), ["images.npy", "labels.npy", "parameters.csv"])
        XCTAssertEqual(try DataFolder.load(.train, from: URL(fileURLWithPath: path("data"))).count, 8)
    }

    func testACheckpointWithNaNWeightsIsRefused() throws {
        XCTAssertEqual(try train("nan").status, 0)
        let url = dir.appendingPathComponent("nan/best.safetensors")
        var file = try Safetensors(contentsOf: url)
        file.tensors["dense/kernel"]!.values[7] = .nan
        try file.serialized().write(to: url)
        try simulate("four")
        assertOneLineError(try run(["evaluate", "--checkpoint", url.path]), "tensor dense/kernel holds nan at element 7")
        assertOneLineError(try run(["export", "--checkpoint", url.path, "--file", path("nan.keras")]), "holds nan")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("nan.keras")))
        assertOneLineError(try run(["predict", "--checkpoint", url.path, "--data", path("four")]), "holds nan")
    }

    func testDivergenceOnTheLastStepEndsWithTheNaNMessage() throws {
        // One step per epoch: the weights blow up on the epoch's last step.
        let result = try run(["train", "--out", path("diverged"), "--epochs", "1", "--simulated-per-class", "4", "--global-batch", "16", "--lr", "1e30"], np: 2)
        assertOneLineError(result, "became")
        XCTAssertTrue(result.stderr.contains("no checkpoint was written"), result.stderr)
    }

    func testPredictToAFullDiskFails() throws {
        XCTAssertEqual(try train("p").status, 0)
        try simulate("four")
        let result = try Subprocess.run(
            ["/bin/sh", "-c", "\"$0\" predict --checkpoint \"$1\" --data \"$2\" > /dev/full", MPIRun.binary.path, path("p/best.safetensors"), path("four")],
            environment: Subprocess.cleanEnvironment(), timeout: 120)
        XCTAssertNotEqual(result.status, 0, "exit 0 although every row was lost")
        let stderr = result.stderr
        XCTAssertTrue(stderr.contains("standard output: cannot write"), stderr)
    }

    /// Pictures never crash: one tile, seven classes, long paths and labels, predictions.
    func testShowSurvivesExtremeInputs() throws {
        let deep = "a-folder-name-that-goes-on-and-on/and-on-for-a-long-while/sim7"
        try FileManager.default.createDirectory(at: dir.appendingPathComponent(deep).deletingLastPathComponent(), withIntermediateDirectories: true)
        try simulate(deep, classes: 7, perClass: 2)
        XCTAssertEqual(try run(["train", "--out", path("seven-run"), "--epochs", "1", "--global-batch", "14", "--data", path(deep)]).status, 0)
        for tiles in ["1", "2", "50"] {
            for split in ["train", "validation"] {
                let png = path("show-\(tiles)-\(split).png")
                let result = try run(["show", "--data", path(deep), "--split", split, "--tiles-per-class", tiles,
                                      "--checkpoint", path("seven-run/best.safetensors"), "--png", png])
                XCTAssertEqual(result.status, 0, "\(tiles) \(split): \(result.stderr)")
                XCTAssertTrue(FileManager.default.fileExists(atPath: png))
            }
        }
        let inverted = try run(["show", "--data", path(deep), "--inverted", "--tiles-per-class", "1", "--png", path("inv.png")])
        XCTAssertEqual(inverted.status, 0, inverted.stderr)
        let ensemble = try run(["evaluate", "--checkpoint", path("seven-run/best.safetensors"), "--checkpoint", path("seven-run/last.safetensors"),
                                "--tta", "--sensitivity-png", path("snr7.png"), "--shifted", "--shifted-per-class", "2"])
        XCTAssertEqual(ensemble.status, 0, ensemble.stderr)
        XCTAssertTrue(ensemble.stdout.contains("recall by peak SNR per pixel"), ensemble.stdout)
        XCTAssertTrue(ensemble.stdout.contains("faintest third of the signals"), ensemble.stdout)
        for shift in DistributionShift.allCases { XCTAssertTrue(ensemble.stdout.contains("  \(shift.rawValue) "), "\(shift): \(ensemble.stdout)") }
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("snr7.png")))
        let evaluation = try run(["evaluate", "--checkpoint", path("seven-run/best.safetensors"), "--png", path("cm7.png"), "--json"])
        XCTAssertEqual(evaluation.status, 0, evaluation.stderr)
        let json = try JSONSerialization.jsonObject(with: Data(evaluation.stdout.utf8)) as? [String: Any]
        let summary = json?["evaluation"] as? [String: Any]
        XCTAssertEqual((summary?["classes"] as? [[String: Any]])?.count, 7, evaluation.stdout)
        XCTAssertEqual((summary?["confusion"] as? [[Int]])?.count, 7)
        XCTAssertEqual(((json?["sensitivity"] as? [String: Any])?["curves"] as? [Any])?.count, 6, "one curve per signal class")
        XCTAssertNotNil((json?["sensitivity"] as? [String: Any])?["noise_recall"], "snake_case keys, as metrics.jsonl and config.json: \(evaluation.stdout.prefix(400))")
    }

    /// --paired times the ranks alone, free and synchronized, in the same job and writes
    /// both steps into its record.
    func testPairedScalingTimesTheRanksAloneInTheSameJob() throws {
        let file = path("paired.jsonl")
        let result = try run(["bench", "scaling", "--batch-per-rank", "4", "--steps", "2", "--untimed-steps", "0", "--paired",
                              "--exchange", "acpsgd", "--append", file])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("vs synced"), result.stdout)
        let record = try JSONSerialization.jsonObject(with: Data(try String(contentsOfFile: file, encoding: .utf8).utf8)) as? [String: Any]
        for key in ["step_ms", "alone_step_ms", "synchronized_alone_step_ms"] {
            XCTAssertGreaterThan(record?[key] as? Double ?? 0, 0, key)
        }
        XCTAssertEqual(record?["exchange"] as? String, "acpsgd-\(TrainConfig().powerSGDRank)")
    }

    /// The scaling report: efficiency against the one-rank run, and weak-scaling rows
    /// against the mean of the --alone runs of the same ranks and nodes (not the 2 x 2
    /// one); a line that is not a record is refused naming the file and line.
    func testTheScalingReportDividesByOneRankAndByTheRanksAlone() throws {
        func record(_ label: String, ranks: Int, nodes: Int, samplesPerSecond: Double, alone: Bool = false) -> String {
            """
            {"label":"\(label)","mode":"weak","ranks":\(ranks),"nodes":\(nodes),"batch_per_rank":32,"global_batch":\(32 * ranks),\
            "blas_threads":1,"allreduce":"hierarchical","overlap":true\(alone ? ",\"alone\":true" : ""),"step_ms":100,"data_ms":1,\
            "compute_ms":80,"communication_ms":10,"optimizer_ms":9,"samples_per_s":\(samplesPerSecond)}
            """
        }
        let file = path("scaling.jsonl")
        try [record("local", ranks: 1, nodes: 1, samplesPerSecond: 100),
             record("sim-2x1", ranks: 2, nodes: 2, samplesPerSecond: 170, alone: true),
             record("sim-2x1-1gbit", ranks: 2, nodes: 2, samplesPerSecond: 136),
             record("sim-2x1", ranks: 2, nodes: 2, samplesPerSecond: 150, alone: true),
             record("sim-2x2", ranks: 4, nodes: 2, samplesPerSecond: 300, alone: true)].joined(separator: "\n")
            .write(toFile: file, atomically: true, encoding: .utf8)
        let report = try run(["bench", "scaling", "--report", file])
        XCTAssertEqual(report.status, 0, report.stderr)
        let rows = report.stdout.split(separator: "\n")
        let alone = try XCTUnwrap(rows.first { $0.hasPrefix("sim-2x1 alone") })
        XCTAssertTrue(alone.hasSuffix("85.0%"), String(alone))
        let linked = try XCTUnwrap(rows.first { $0.hasPrefix("sim-2x1-1gbit") })
        XCTAssertTrue(linked.hasSuffix("68.0%     85.0%"), String(linked))
        XCTAssertTrue(report.stdout.contains("\"efficiency_vs_alone\":0.85"), report.stdout)

        // A --paired record is divided by the alone step of its own job, not the file's runs.
        let paired = String(record("sim-2x1-1gbit", ranks: 2, nodes: 2, samplesPerSecond: 640).dropLast())
            + ",\"alone_step_ms\":90,\"synchronized_alone_step_ms\":95}"
        try [record("sim-2x1", ranks: 2, nodes: 2, samplesPerSecond: 170, alone: true), paired].joined(separator: "\n")
            .write(toFile: file, atomically: true, encoding: .utf8)
        let pairedReport = try run(["bench", "scaling", "--report", file])
        XCTAssertEqual(pairedReport.status, 0, pairedReport.stderr)
        let pairedRow = try XCTUnwrap(pairedReport.stdout.split(separator: "\n").first { $0.hasPrefix("sim-2x1-1gbit") })
        XCTAssertTrue(pairedRow.hasSuffix("90.0%  vs synced 95.0% (alone 90.0 ms, synced 95.0 ms)"), String(pairedRow))

        try (record("local", ranks: 1, nodes: 1, samplesPerSecond: 100) + "\n{\"label\": 1}\n").write(toFile: file, atomically: true, encoding: .utf8)
        assertOneLineError(try run(["bench", "scaling", "--report", file]), "scaling.jsonl:2: not a bench scaling record")

        // Numbers the report divides by must be usable: zero, negative, huge and NaN-like ones are named.
        for (from, to, words) in [("\"samples_per_s\":100.0}", "\"samples_per_s\":0}", "scaling.jsonl:1: samples_per_s 0.0: allowed a positive number"),
                                  ("\"samples_per_s\":100.0}", "\"samples_per_s\":100,\"alone_step_ms\":-5}", "alone_step_ms -5.0: allowed a positive number"),
                                  ("\"samples_per_s\":100.0}", "\"samples_per_s\":100,\"synchronized_alone_step_ms\":1e400}", "not a bench scaling record"),
                                  ("\"compute_ms\":80", "\"compute_ms\":-1", "compute_ms -1.0: allowed 0 or more"),
                                  ("\"ranks\":1,", "\"ranks\":0,", "ranks 0: allowed 1 or more")] {
            let line = record("local", ranks: 1, nodes: 1, samplesPerSecond: 100).replacingOccurrences(of: from, with: to)
            XCTAssertNotEqual(line, record("local", ranks: 1, nodes: 1, samplesPerSecond: 100), words)
            try line.write(toFile: file, atomically: true, encoding: .utf8)
            assertOneLineError(try run(["bench", "scaling", "--report", file]), words)
        }
        // Issue 29.8: tiny but positive values whose ratios overflow: named, and nothing printed.
        let tiny = record("local", ranks: 1, nodes: 1, samplesPerSecond: 100)
            .replacingOccurrences(of: "\"step_ms\":100", with: "\"step_ms\":1e-320")
        try [record("local", ranks: 1, nodes: 1, samplesPerSecond: 100), tiny].joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let overflow = try run(["bench", "scaling", "--report", file])
        assertOneLineError(overflow, "scaling.jsonl:2: its exposed communication share comes out as inf")
        XCTAssertEqual(overflow.stdout, "", "no half-report before the error")
    }
}
