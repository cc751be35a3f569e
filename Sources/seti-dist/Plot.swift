import ArgumentParser
import Foundation
import SetiFiles
import SetiData
import SetiNet
import SetiPlot
import SetiTraining

/// `seti-dist plot`: training curves from a metrics log.
struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw training and validation curves from OUT/metrics.jsonl.",
        discussion: "Example:\n  seti-dist plot --log runs/seti/metrics.jsonl --png curves.png")

    @Option(help: "metrics.jsonl written by train.") var log: String
    @Option(help: "Picture to write.") var png: String = "curves.png"

    func run() throws {
        try OutputFile.check(URL(fileURLWithPath: png))
        let records = try EpochRecord.read(URL(fileURLWithPath: log))
        guard !records.isEmpty else { throw CommandFailure("\(log): no epochs logged") }
        try curves(records, name: URL(fileURLWithPath: log).deletingLastPathComponent().lastPathComponent).write(to: URL(fileURLWithPath: png))
        try Output.line("wrote \(png)")
        try Output.finish()
    }
}
