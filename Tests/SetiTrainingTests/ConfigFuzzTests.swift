import Foundation
import SetiRandom
import SetiTraining
import XCTest

/// Random configuration files: each gives a valid configuration (one that passes
/// validate) or a ConfigFileError, never a trap.
final class ConfigFuzzTests: XCTestCase {
    private var rng = SplitMix64(seed: 5)
    private let source = URL(fileURLWithPath: "/fuzz/config.yaml")

    private func pick<T>(_ values: [T]) -> T { values[Int(rng.next() % UInt64(values.count))] }

    private func merge(_ text: String) {
        do {
            let config = try TrainConfig.standard.merging(text: text, source: source)
            XCTAssertNoThrow(try config.validate(), text)
        } catch is ConfigFileError {} catch { XCTFail("unexpected error type \(type(of: error)): \(error)") }
    }

    func testRandomFilesNeverTrap() {
        let keys = ["epochs", "lr", "global-batch", "globalBatch", "schedule", "decay-steps", "decay-rate", "staircase", "shift", "noise", "intensity-scale", "compression", "powersgd-rank",
                    "monitor", "mode", "allreduce", "fill", "seed", "simulated-per-class", "plateau-factor", "model", "augmentation",
                    "warmup-steps", "min-delta", "data", "nosuch", "batch-norm-group-size"]
        let values = ["0", "-1", "1", "3", "1e400", ".nan", ".inf", "-.inf", "99999999999999999999999", "9223372036854775807", "-9223372036854775808",
                      "0.5", "true", "null", "~", "val_loss", "cosine", "exponential", "[]", "[1, 2]", "{}", "{cosine: {decaySteps: 0}}",
                      "{layers: []}", "{height: -1}", "\"\"", "'a'", "x: y", "{initial: .nan}", "18446744073709551616"]
        for _ in 0..<1500 {
            let lines = (0..<(1 + Int(rng.next() % 4))).map { _ in "\(pick(keys)): \(pick(values))" }
            merge(lines.joined(separator: "\n"))
        }
        // Generated trees: flow collections nested to random depths, complex and tagged keys,
        // YAML's other tags, anchors and aliases, under the configuration's own keys.
        let scalars = values + ["!!binary aGk=", "!!str 3", "!!int 7", "!!float 0.5", "!!null ''", "!custom x", "!!timestamp 2001-12-14", "&x 3", "yes", "0x1F", "0o17", "1_000"]
        func tree(_ depth: Int) -> String {
            switch depth > 4 ? 0 : rng.next() % 4 {
            case 0, 1: return pick(scalars)
            case 2: return "[" + (0..<Int(rng.next() % 3)).map { _ in tree(depth + 1) }.joined(separator: ", ") + "]"
            default:
                return "{" + (0..<Int(rng.next() % 3)).map { _ in
                    let key = rng.next() % 4 == 0 ? tree(depth + 1) : pick(keys + ["decay", "initial", "warmupSteps", "verticalFlip"])
                    return "\(key): \(tree(depth + 1))"
                }.joined(separator: ", ") + "}"
            }
        }
        for _ in 0..<1500 {
            let lines = (0..<(1 + Int(rng.next() % 3))).map { _ in rng.next() % 6 == 0 ? "? \(tree(1))\n: \(tree(1))" : "\(pick(keys)): \(tree(0))" }
            merge(lines.joined(separator: "\n"))
        }
        let full = TrainConfig.standard.prettyJSON
        for end in stride(from: 0, through: full.utf8.count, by: 7) { merge(String(decoding: full.utf8.prefix(end), as: UTF8.self)) }
        var laughs = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for (name, previous) in zip("bcdefgh", "abcdefg") {
            laughs += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ", ") + "]\n"
        }
        let started = Date()
        XCTAssertThrowsError(try TrainConfig.standard.merging(text: "lr:\n" + laughs.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"), source: source)) {
            XCTAssertTrue("\($0)".contains("too large a configuration"), "\($0)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "nine levels of aliases must be refused, not expanded")
        for text in ["? [a, b]\n: 1\n", "epochs: !!binary aGVsbG8=", "? {a: 1}\n: 2", "{[1, 2]: 3}", "epochs: !!set {a, b}", "epochs: !!omap [a: 1]",
                     "epochs: !!timestamp 2001-12-14", "epochs: !custom 3", "!!map {epochs: 3}", "epochs: !!float 3", "schedule: {? [x] : 1}",
                     String(repeating: "- ", count: 40) + "1", "a: " + String(repeating: "[", count: 30) + String(repeating: "]", count: 30)] {
            merge(text)
        }
        for text in ["", "---", "- 1\n- 2", "just a string", "epochs: &a 3\nlr: *a", "{", "\u{FEFF}epochs: 2", "\t epochs: 2", String(repeating: "[", count: 10_000)] {
            merge(text)
        }
    }
}
