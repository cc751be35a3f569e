import SetiRandom
import ArgumentParser
import Foundation
import SetiData
import SetiNet

/// `seti-dist bench ...`: commands that measure and print figures.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure speed: compute against the sgemm peak, data loading, the gradient allreduce.",
        subcommands: [BenchCompute.self, BenchData.self, BenchAllreduce.self, BenchScaling.self, BenchScan.self])
}

func f1(_ x: Double) -> String { String(format: "%.1f", x) }
func pad(_ s: String, _ width: Int) -> String { s.padding(toLength: max(width, s.count), withPad: " ", startingAt: 0) }
func lpad(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }

/// Peak resident set size of this process (getrusage reports KiB on Linux).
func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
    return usage.ru_maxrss * 1024
}
