import SetiRandom
import ArgumentParser
import Foundation
import SetiData
import SetiNet

/// `seti-dist bench data`: CSV parsing and .npy loading throughput on a data folder.
struct BenchData: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "MB/s of the CSV loader and load time of .npy, on a folder (default: simulate one of the public size).")

    @Option(help: "Data folder with train/images.csv (default: simulate 800 per class into a temporary folder).")
    var data: String?

    func run() throws {
        let folder: URL
        if let data {
            folder = URL(fileURLWithPath: data)
        } else {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("seti-bench-data")
            try DataFolder.write(Simulator(seed: 1).generate(perClass: 800, split: .train), as: .train, to: folder, formats: [.csv])
        }
        let csv = folder.appendingPathComponent("train/images.csv")
        let bytes = Double((try FileManager.default.attributesOfItem(atPath: csv.path)[.size] as? Int) ?? 0)
        var start = Date()
        let set = try DataFolder.load(.train, from: folder)
        let seconds = Date().timeIntervalSince(start)
        try Output.line(String(format: "CSV: %d spectrograms, %.0f MB in %.2f s = %.0f MB/s (one core)", set.count, bytes / 1e6, seconds, bytes / 1e6 / seconds))
        let npy = FileManager.default.temporaryDirectory.appendingPathComponent("seti-bench-npy")
        try DataFolder.write(set, as: .train, to: npy, formats: [.npy])
        start = Date()
        _ = try DataFolder.load(.train, from: npy)
        try Output.line(String(format: ".npy: the same %d spectrograms in %.3f s", set.count, Date().timeIntervalSince(start)))
    }
}
