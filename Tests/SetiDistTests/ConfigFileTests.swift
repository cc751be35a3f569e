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
        config.allreduce = .mpi
        let url = try write(config.json, "config.json")
        XCTAssertEqual(try TrainConfig.kerasSeed.merging(file: url), config)
    }

    func testMistakesAreNamedWithFileAndField() throws {
        let unknown = try write("epochs: 3\nepoch: 4\n", "typo.yaml")
        XCTAssertThrowsError(try TrainConfig.standard.merging(file: unknown)) {
            XCTAssertTrue("\($0)".contains("typo.yaml: unknown field 'epoch'"), "\($0)")
        }
        let wrongType = try write("schedule:\n  warmupSteps: many\n", "type.yaml")
        XCTAssertThrowsError(try TrainConfig.standard.merging(file: wrongType)) {
            XCTAssertTrue("\($0)".contains("type.yaml: field 'schedule.warmupSteps'"), "\($0)")
        }
        let flow = try write("epochs: 3\naugmentation: {verticalFlip: true}\n", "flow.yaml")
        XCTAssertThrowsError(try TrainConfig.standard.merging(file: flow)) {
            XCTAssertTrue("\($0)".contains("flow.yaml:2:"), "\($0)")
        }
    }
}
