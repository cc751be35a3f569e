import ArgumentParser
import Foundation
import SetiNet
import SetiTraining
import SwiftMPI

/// `seti-dist bench allreduce`: the gradient exchange's speed against plain MPI.
struct BenchAllreduce: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allreduce",
        abstract: "Sum-allreduce time and bus bandwidth: plain C MPI_Allreduce vs. the Swift wrapper vs. the hierarchical shared-memory path.",
        discussion: """
            Run it under mpirun, e.g. launch/run.sh 2 bench allreduce. For each buffer size, \
            in one run: a plain C loop of in-place MPI_Allreduce (the baseline), the Swift \
            wrapper's allreduce, and HierarchicalAllreduce (shared memory within a node, MPI \
            among nodes). Each figure is the median over iterations of the slowest rank. \
            Bus bandwidth = 2 (p - 1) / p x bytes / time, the bytes each rank must send and \
            receive in a ring allreduce; "gradient" is the SETI CNN's 134 MB gradient.
            """)

    @Option(parsing: .upToNextOption, help: "Buffer sizes in MB (10^6 bytes); 0 stands for the model's gradient.")
    var sizes: [Double] = [1, 4, 16, 64, 0]

    @Option(help: "Timed iterations per size and method (after one warm-up).")
    var iterations: Int = 10

    @Flag(help: "Print the results as JSON too.")
    var json = false

    func validate() throws {
        guard !sizes.isEmpty, sizes.allSatisfy({ $0.isFinite && $0 >= 0 && $0 <= 4096 }) else {
            throw ValidationError("--sizes: each allowed 0...4096 MB (0: the model's gradient)")
        }
        guard (1...10_000).contains(iterations) else { throw ValidationError("--iterations \(iterations): allowed 1...10000") }
    }

    func run() throws {
        let sizes = self.sizes, iterations = self.iterations, json = self.json
        Job.run { job in
            let world = job.world
            let gradientFloats = Network.parameterCount(of: .setiCNN)
            var rows: [[String: Double]] = []
            if world.isRoot {
                try Output.line("allreduce over \(world.size) rank(s), \(job.node.size) on this node; median of \(iterations), slowest rank")
                try Output.line("  size MB   C MPI_Allreduce        Swift wrapper          hierarchical           speed-up")
            }
            for megabytes in sizes {
                let count = megabytes == 0 ? gradientFloats : Int(megabytes * 1e6) / 4
                let bytes = Double(count * 4)
                let plain = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
                defer { plain.deallocate() }
                plain.initialize(repeating: 0)  // zeros: sums stay finite over any number of calls
                let c = try slowest(median(world.timePlainCAllreduce(plain, iterations: iterations + 1).dropFirst()), world)
                let swift = try slowest(median(try timed(iterations, world) { try world.allreduce(plain, op: .sum) }), world)
                let shared = try HierarchicalAllreduce(world: world, count: count)
                let hierarchical = try slowest(median(try timed(iterations, world) { try shared.allreduce() }), world)
                let p = Double(world.size)
                func bandwidth(_ t: Double) -> Double { p > 1 ? 2 * (p - 1) / p * bytes / t / 1e9 : 0 }
                if world.isRoot {
                    func cell(_ t: Double) -> String { pad(String(format: "%7.2f ms %5.1f GB/s", t * 1e3, bandwidth(t)), 22) }
                    try Output.line("  \(pad(String(format: "%7.1f", bytes / 1e6), 9)) \(cell(c)) \(cell(swift)) \(cell(hierarchical)) \(String(format: "%.2fx", c / hierarchical))")
                }
                rows.append(["bytes": bytes, "ranks": p, "c_mpi_ms": c * 1e3, "swift_ms": swift * 1e3, "hierarchical_ms": hierarchical * 1e3,
                             "c_mpi_busbw_gbs": bandwidth(c), "swift_busbw_gbs": bandwidth(swift),
                             "hierarchical_busbw_gbs": bandwidth(hierarchical), "speedup_vs_c": c / hierarchical])
            }
            if json && world.isRoot {
                let data = try JSONSerialization.data(withJSONObject: ["allreduce": rows], options: [.sortedKeys])
                try Output.line(String(decoding: data, as: UTF8.self))
            }
        }
    }
}

/// Runs `body` once to warm up, then `iterations` times, each started together on all
/// ranks (barrier); seconds per run.
func timed(_ iterations: Int, _ world: Communicator, _ body: () throws -> Void) throws -> [Double] {
    try body()
    return try (0..<iterations).map { _ in
        try world.barrier()
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}

func median<C: Collection>(_ values: C) -> Double where C.Element == Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
}

/// The largest of every rank's `value`: a collective finishes when its slowest rank does.
func slowest(_ value: Double, _ world: Communicator) throws -> Double {
    try world.allreduce(value, op: .max)
}
