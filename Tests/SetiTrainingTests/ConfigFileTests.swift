import Foundation
import SetiNet
import SetiTraining
import XCTest

/// `--config FILE`: JSON or YAML, any subset of the fields, merged over the recipe.
final class ConfigFileTests: XCTestCase {
    private func write(_ text: String, _ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("seti-config-\(UUID().uuidString)-\(name)")
        try text.write(to: url, atomically: true, encoding: .utf8)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func testYAMLSetsOnlyTheFieldsItNames() throws {
        let url = try write("""
            # a long run
            epochs: 30
            globalBatch: 64   # two ranks x 32
            data: "/data/seti # primary"
            schedule:
              warmupSteps: 50
            augmentation:
              verticalFlip: true
              fill: nearest
            """, "run.yaml")
        let config = try TrainConfig.standard.merging(file: url)
        var expected = TrainConfig.standard
        expected.epochs = 30
        expected.globalBatch = 64
        expected.data = "/data/seti # primary"
        expected.schedule.warmupSteps = 50
        expected.augmentation.verticalFlip = true
        expected.augmentation.fill = .nearest
        XCTAssertEqual(config, expected)
    }

    func testAnotherScheduleCaseReplacesTheDecay() throws {
        let url = try write("schedule:\n  decay:\n    cosine:\n      decaySteps: 600\n      alpha: 0.1\n", "cosine.yaml")
        XCTAssertEqual(try TrainConfig.kerasSeed.merging(file: url).schedule.decay, .cosine(decaySteps: 600, alpha: 0.1))
    }

    func testAWrittenConfigJSONReadsBackUnchanged() throws {
        var config = TrainConfig.standard
        config.epochs = 3
        config.seed = 42
        config.exchange = .mpi
        let url = try write(config.json, "config.json")
        XCTAssertEqual(try TrainConfig.kerasSeed.merging(file: url), config)
        // Issue 27.8: one key style with metrics.jsonl; acronyms and enum payloads read back.
        config.exchange = .powersgd
        config.powerSGDRank = 3
        config.schedule.decay = .cosine(decaySteps: 40, alpha: 0.1)
        XCTAssertTrue(config.json.contains("\"global_batch\":") && config.json.contains("\"power_sgd_rank\":3") && config.json.contains("\"decay_steps\":40"), config.json)
        XCTAssertFalse(config.json.contains("globalBatch"), config.json)
        XCTAssertEqual(try TrainConfig.kerasSeed.merging(file: try write(config.json, "snake.json")), config)
        XCTAssertEqual(try TrainConfig.kerasSeed.merging(file: try write(config.prettyJSON, "pretty.json")), config)
    }

    /// 0.17's config.json named the exchange by two settings; they name one method now.
    func testOldExchangeSettingsNameOneMethod() throws {
        for (text, method) in [("allreduce: mpi\n", ExchangeMethod.mpi), ("compression: bf16\n", .hierarchicalBF16),
                               ("allreduce: mpi\ncompression: powersgd\n", .powersgd), ("compression: acpsgd\n", .acpsgd),
                               ("{\"allreduce\": \"hierarchical\", \"compression\": \"none\"}", .hierarchical)] {
            XCTAssertEqual(try TrainConfig.standard.merging(file: try write(text, "old.yaml")).exchange, method, text)
        }
        for method in ExchangeMethod.allCases {
            let old = method.legacySettings
            XCTAssertEqual(ExchangeMethod(allreduce: old.allreduce, compression: old.compression), method)
        }
    }

    /// A resumed run must match the checkpoint's configuration, but for the epoch count and,
    /// without PowerSGD, PowerSGD's settings (so runs saved before the rank's default went
    /// from 4 to 2 resume with the same flags); a mismatch names each field that differs.
    func testResumeMatchesAllButEpochsAndUnusedPowerSGDSettingsAndNamesDifferences() {
        var saved = TrainConfig()
        saved.powerSGDRank = 4
        saved.epochs = 5
        XCTAssertEqual(saved.resumeHash, TrainConfig().resumeHash)
        XCTAssertEqual(TrainConfig().resumeDifferences(from: saved), [])

        saved.exchange = .powersgd
        var now = TrainConfig()
        now.exchange = .powersgd
        XCTAssertNotEqual(saved.resumeHash, now.resumeHash)
        XCTAssertEqual(now.resumeDifferences(from: saved), ["power_sgd_rank: 4 -> 2"])

        saved.powerSGDRank = 2
        saved.augmentation.intensityScale = 0
        saved.seed = 7
        XCTAssertNotEqual(saved.resumeHash, now.resumeHash)
        XCTAssertEqual(now.resumeDifferences(from: saved), ["augmentation.intensity_scale: 0 -> 0.2", "seed: 7 -> 1"])

        // ACP-SGD takes PowerSGD's settings, and is not PowerSGD.
        var alternating = TrainConfig(), alternatingSaved = TrainConfig()
        alternating.exchange = .acpsgd
        alternatingSaved.exchange = .acpsgd
        alternatingSaved.powerSGDRank = 4
        XCTAssertEqual(alternating.resumeDifferences(from: alternatingSaved), ["power_sgd_rank: 4 -> 2"])
        alternatingSaved.powerSGDRank = 2
        alternatingSaved.exchange = .powersgd
        XCTAssertEqual(alternating.resumeDifferences(from: alternatingSaved), ["exchange: \"powersgd\" -> \"acpsgd\""])
        // A run of 0.17's default (the classic CNN) resumed with 0.18's: the model by name.
        var classic = TrainConfig()
        classic.model = .setiCNN
        XCTAssertEqual(TrainConfig().resumeDifferences(from: classic), ["model: \"classic\" -> \"deep\""])
        var custom = TrainConfig()
        custom.model.layers[0] = .conv2D(filters: 16, kernel: 5)
        XCTAssertEqual(custom.resumeDifferences(from: classic), ["model: \"classic\" -> a model of its own"])
    }

    func testMistakesAreNamedWithFileAndField() throws {
        let unknown = try write("epochs: 3\nepoch: 4\n", "typo.yaml")
        XCTAssertThrowsError(try TrainConfig.standard.merging(file: unknown)) {
            XCTAssertTrue("\($0)".contains("typo.yaml:2: unknown field 'epoch'"), "\($0)")
        }
        let wrongType = try write("schedule:\n  warmupSteps: many\n", "type.yaml")
        XCTAssertThrowsError(try TrainConfig.standard.merging(file: wrongType)) {
            XCTAssertTrue("\($0)".contains("type.yaml:2: field 'schedule.warmup_steps' = 'many': expected a whole number"), "\($0)")
        }
        // Issue 29.3: the field, the value, the type expected and the line, never decoder jargon.
        for (text, words) in [
            ("epochs: 3\nglobal-batch: 8.5\n", "types.yaml:2: field 'global-batch' = 8.5: expected a whole number"),
            ("seed: -1\n", "types.yaml:1: field 'seed' = -1: expected a whole number, 0 or more"),
            ("hflip: 1\n", "types.yaml:1: field 'hflip' = 1: expected true or false"),
            ("\nepochs: !!binary aGVsbG8=\n", "types.yaml:2: the value 'aGVsbG8=' tagged tag:yaml.org,2002:binary is not a number"),
            ("? [a, b]\n: 1\n", "types.yaml:1: a key must be a plain name, not a list"),
            ("schedule:\n\twarmupSteps: 3\n", "types.yaml:2: a tab in the indentation"),
            ("lr: 0.5\nmonitor: 3\n", "types.yaml:2: field 'monitor' = 3: expected one of"),
            ("data: 3\n", "types.yaml:1: field 'data' = 3: expected text"),
        ] {
            XCTAssertThrowsError(try TrainConfig.standard.merging(file: try write(text, "types.yaml")), text) {
                XCTAssertTrue("\($0)".hasSuffix(words) || "\($0)".contains(words), "\(text): \($0)")
                XCTAssertFalse("\($0)".contains("JSON") || "\($0)".contains("Cocoa"), "\($0)")
            }
        }
        let broken = try write("epochs: 3\naugmentation: {verticalFlip: true\n", "broken.yaml")
        XCTAssertThrowsError(try TrainConfig.standard.merging(file: broken)) {
            XCTAssertTrue("\($0)".contains("broken.yaml: not valid YAML"), "\($0)")
        }
    }
}

/// Config-file keys may be the flag names; every value passes the same checks as a flag.
final class ConfigFileFlagNameTests: XCTestCase {
    private func merge(_ text: String, over base: TrainConfig = .standard) throws -> TrainConfig {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("seti-config-\(UUID().uuidString).yaml")
        try text.write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        return try base.merging(file: url)
    }

    private func assertRefused(_ text: String, saying expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try merge(text), file: file, line: line) {
            XCTAssertTrue("\($0)".contains(expected), "\($0)", file: file, line: line)
        }
    }

    func testFlagNamesSetTheNestedFields() throws {
        let config = try merge("lr: 0.001\nglobal-batch: 64\nhflip: false\nschedule: cosine\ndecay-steps: 300\nmonitor: val_accuracy\n")
        XCTAssertEqual(config.schedule.initial, 0.001)
        XCTAssertEqual(config.globalBatch, 64)
        XCTAssertFalse(config.augmentation.horizontalFlip)
        XCTAssertEqual(config.schedule.decay, .cosine(decaySteps: 300, alpha: 0))
        XCTAssertEqual(config.monitor, .valAccuracy)
        XCTAssertTrue(config.monitorMaximizes)
    }

    /// Issue 27: `schedule: cosine` alone decayed over 5 steps (a default written twice);
    /// naming the recipe's shape changed its 25 steps to 5.
    func testANamedScheduleKeepsTheRecipesSettingsAndCosineSpansTheRun() throws {
        XCTAssertEqual(try merge("schedule: cosine\n").schedule.decay, .cosine(decaySteps: nil, alpha: 0))
        XCTAssertEqual(try merge("schedule: exponential\n").schedule.decay, TrainConfig.standard.schedule.decay)
        XCTAssertEqual(try merge("schedule: step\n").schedule.decay, .step(every: 75, factor: 0.96))
        XCTAssertEqual(try merge("schedule: exponential\n", over: .kerasSeed).schedule.decay, TrainConfig.kerasSeed.schedule.decay)
        XCTAssertEqual(try merge("schedule: cosine\ndecay-rate: 0.1\n").schedule.decay, .cosine(decaySteps: nil, alpha: 0.1))
        assertRefused("schedule: cosine\ndecay-steps: 8.5\n", saying: ":2: field 'decay-steps' = 8.5: expected a whole number")
        assertRefused("schedule: constant\ndecay-rate: 0.5\n", saying: "decay-rate need a decaying schedule")
    }

    /// Issue 28.3: flags and files go through one typed patch, whose keys are the flag
    /// names; a value out of range names its line; a background alone means injection.
    func testOneTypedPatchForFlagsAndFiles() throws {
        XCTAssertTrue(["global-batch", "simulated-per-class", "powersgd-start-step", "min-max-encoding", "scale-lr"].allSatisfy(TrainConfigPatch.flagNames.contains))
        var patch = TrainConfigPatch()
        patch.globalBatch = 64
        patch.hflip = false
        patch.schedule = .cosine
        patch.background = "obs.fil"
        let config = try patch.applied(to: .standard)
        XCTAssertEqual(config.globalBatch, 64)
        XCTAssertFalse(config.augmentation.horizontalFlip)
        XCTAssertEqual(config.schedule.decay, .cosine(decaySteps: nil, alpha: 0))
        XCTAssertEqual(config.generator, .injection)
        XCTAssertEqual(try merge("background: obs.fil\n").generator, .injection)
        XCTAssertEqual(try merge("global-batch: 64\nhflip: false\nschedule: cosine\nbackground: obs.fil\n"), config)
        assertRefused("epochs: 3\nlr: -0.1\n", saying: ":2: lr = -0.1: allowed a finite number > 0")
        assertRefused("noise: 1e300\n", saying: ":1: field 'noise' = 1e+300: expected a number")
    }

    /// Seven simulated classes make an epoch of 7/4 as many steps: the decay keeps its pace
    /// per epoch unless the steps are given; a run already at 7 classes is not paced twice.
    func testMoreClassesKeepTheDecaysPacePerEpoch() throws {
        XCTAssertEqual(try merge("classes: 7\n").schedule.decay, .exponential(decaySteps: 131, rate: 0.96, staircase: true))
        XCTAssertEqual(try merge("classes: 7\ndecay-steps: 50\n").schedule.decay, .exponential(decaySteps: 50, rate: 0.96, staircase: true))
        XCTAssertEqual(try merge("classes: 4\n").schedule.decay, TrainConfig.standard.schedule.decay)
        var seven = TrainConfigPatch()
        seven.classes = 7
        let once = try seven.applied(to: .standard)
        XCTAssertEqual(try seven.applied(to: once), once)
        XCTAssertEqual(LearningRateSchedule.Decay.cosine(decaySteps: 100, alpha: 0).paced(by: 1.75), .cosine(decaySteps: 175, alpha: 0))
        XCTAssertEqual(LearningRateSchedule.Decay.step(every: 1, factor: 0.5).paced(by: 0.1), .step(every: 1, factor: 0.5))
    }

    func testDecayStepsAloneChangeTheRecipesDecay() throws {
        let config = try merge("decay-steps: 75\n")
        XCTAssertEqual(config.schedule.decay, .exponential(decaySteps: 75, rate: 0.96, staircase: true))
    }

    /// The defect of issue 11: `monitor: val_acc` was accepted, fell back to val_loss, and
    /// because the string held "acc" the best checkpoint kept the highest loss.
    func testAnUnknownMonitorIsRefusedWithTheChoices() {
        assertRefused("monitor: val_acc\n", saying: ":1: field 'monitor' = 'val_acc': expected one of val_loss, val_accuracy, loss, accuracy")
        assertRefused("exchange: nccl\n", saying: ":1: field 'exchange' = 'nccl': expected one of hierarchical, hierarchical-bf16, mpi, powersgd, acpsgd")
        // 0.17's two settings name one method; what 0.17 refused stays refused.
        assertRefused("allreduce: nccl\n", saying: ":1: allreduce 'nccl' with compression 'none' is no exchange method")
        assertRefused("compression: fp8\n", saying: "compression 'fp8' is no exchange method")
        assertRefused("compression: bf16\nallreduce: mpi\n", saying: "allreduce 'mpi' with compression 'bf16' is no exchange method")
        assertRefused("exchange: mpi\nallreduce: mpi\n", saying: ":1: give exchange or 0.17's allreduce, not both")
        assertRefused("powersgd-rank: 0\n", saying: "powersgd-rank = 0: allowed 1...64")
        assertRefused("powersgd-start-step: 2000000000\n", saying: "powersgd-start-step = 2000000000: allowed 0...1000000000")
        assertRefused("intensity-scale: 0.7\n", saying: "intensity-scale = 0.7: allowed 0.0...0.5")
        assertRefused("augmentation:\n  fill: mirror\n", saying: ":2: field 'augmentation.fill': allowed wrap, nearest, constant")
        assertRefused("powersgd-start-step: many\n", saying: ":1: field 'powersgd-start-step' = 'many': expected a whole number")
    }

    func testNumbersOutsideTheirRangeAreRefusedNamingTheRange() {
        assertRefused("lr: .nan\n", saying: "allowed a finite number")
        assertRefused("lr: -0.1\n", saying: "lr = -0.1: allowed a finite number > 0")
        assertRefused("epochs: 0\n", saying: "epochs = 0: allowed 1...1000000")
        assertRefused("decay-steps: 0\n", saying: "decay-steps = 0: allowed 1...1000000000")
        assertRefused("global-batch: 99999999999\n", saying: "global-batch = 99999999999: allowed 1...65536")
        assertRefused("shift: .inf\n", saying: "allowed a finite number")
        assertRefused("plateau-factor: 1.5\n", saying: "plateau-factor = 1.5")
        assertRefused("epochs: 1e400\n", saying: "epochs")
    }

    func testTheWholeModelCanBeSetAndIsChecked() throws {
        var spec = ModelSpec.setiCNN
        spec.layers[5] = .conv2D(filters: 16, kernel: 3)
        let json = String(decoding: try JSONEncoder().encode(spec), as: UTF8.self)
        XCTAssertEqual(try merge("{\"model\": \(json)}").model, spec)
        spec.layers.removeAll { $0 == .flatten }
        let broken = String(decoding: try JSONEncoder().encode(spec), as: UTF8.self)
        assertRefused("{\"model\": \(broken)}", saying: "Dense needs a Flatten before it")
        // Or by the name --model takes.
        XCTAssertEqual(try merge("model: classic\n").model, .setiCNN)
        XCTAssertEqual(try merge("model: deep\n").model, .deep)
        assertRefused("epochs: 3\nmodel: resnet\n", saying: ":2: field 'model' = 'resnet': expected one of deep, classic, or a whole model")
        for value in ["5", "null", "[1, 2]", "''"] {
            assertRefused("model: \(value)\n", saying: ":1: field 'model' = ")
        }
    }

    func testDefaultsAreTheStandardRecipeAndKerasSeedIsTheCourse() {
        XCTAssertEqual(TrainConfig(), Recipe.standard.config)
        let seed = Recipe.kerasSeed.config
        XCTAssertEqual(seed.schedule, .kerasSeed)
        XCTAssertEqual(seed.monitor, .valAccuracy)
        XCTAssertTrue(seed.monitorMaximizes)
        XCTAssertFalse(seed.freshSimulationEachEpoch)
        XCTAssertEqual(seed.batchNormEstimationBatches, 0)
        XCTAssertEqual(seed.model, .setiCNN, "the course's network")
        XCTAssertEqual(Recipe.standard.config.model, .deep)
        // The decay a shape takes when the one in force has none of its kind is the recipe's.
        typealias Decay = LearningRateSchedule.Decay
        XCTAssertEqual(Recipe.standard.config.schedule.decay, .exponential(decaySteps: Decay.standardSteps, rate: Decay.standardRate, staircase: true))
        XCTAssertEqual(seed.simulatedPerClass, 400, "keras-seed keeps its fixed 1,600 simulated samples")
    }
}
