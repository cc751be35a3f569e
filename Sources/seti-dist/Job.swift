import Foundation
import SetiFiles
import SetiNet
import SwiftMPI

/// What a subcommand gets when it runs as one rank of a job: the world, the ranks on
/// this machine, and a BLAS thread pool already sized to the CPUs this rank may use
/// (shared with the ranks of its machine bound to the same CPUs).
struct Job {
    let world: Communicator
    let node: Communicator
    /// Each rank's CPUs and BLAS threads, on rank 0 ("rank 0: CPUs 0-1, 2 threads; ...");
    /// empty on the other ranks.
    let binding: String

    /// Starts MPI (a singleton when launched without mpirun), sizes BLAS, runs `body`
    /// and shuts down. Failures never leave other ranks hanging:
    /// - a ``CollectiveError`` (all ranks fail together) is printed once by rank 0 and
    ///   every rank exits with status 1;
    /// - any other error is printed by the rank that hit it, which aborts the whole job.
    static func run(_ body: (Job) throws -> Void) -> Never {
        let world: Communicator
        // OpenMPI's default non-blocking allreduce between two or more machines sends a
        // large buffer twice over the slowest link (reduce to one rank, then broadcast);
        // the ring algorithm sends each byte once each way, as the blocking one does
        // (timings in the CHANGELOG). A user's setting wins.
        setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "1", 0)
        do {
            // MPI_THREAD_MULTIPLE lets a helper thread progress cross-node gradient
            // transfers while backward computes (see HierarchicalAllreduce).
            world = try MPI.initialize(threadLevel: .multiple, minimum: .funneled)
        } catch {
            MPI.abort("cannot start MPI: \(error)")
        }
        do {
            let node = try world.splitByNode()
            let allowance = CPUAllowance.current
            let masks = try node.allgather(allowance.maskDigest)
            BLAS.threads = BLAS.threadsPerRank(
                allowance: allowance, sharers: masks.filter { $0 == allowance.maskDigest }.count,
                environment: ProcessInfo.processInfo.environment)
            let binding = try describeBinding(world: world, node: node, allowance: allowance)
            try body(Job(world: world, node: node, binding: binding))
            try MPI.finalize()
            exit(0)
        } catch let error as CollectiveError {
            if world.isRoot { fputs("seti-dist: error: \(reason(of: error))\n", stderr) }
            try? MPI.finalize()
            exit(1)
        } catch {
            MPI.abort(reason(of: error))
        }
    }
}

/// Every rank's CPUs (the first 64 of them, as a bit mask) and BLAS threads, gathered to
/// rank 0 as one line that shows how mpirun, Slurm or taskset bound the ranks.
private func describeBinding(world: Communicator, node: Communicator, allowance: CPUAllowance) throws -> String {
    // Each of the first 16 ranks puts its mask in its own slot; the sum hands every slot out.
    let shown = min(world.size, 16)
    let words = Int(try world.allreduce(Int64(allowance.cpus.max() ?? 0), op: .max)) / 64 + 1
    var masks = [UInt64](repeating: 0, count: shown * words)
    if world.rank < shown { masks.replaceSubrange((world.rank * words)..<((world.rank + 1) * words), with: CPUAllowance.bitmask(allowance.cpus, words: words)) }
    try world.allreduce(&masks, op: .sum)
    let threads = try world.gather(Int64(BLAS.threads))
    let multiNode = try world.allreduce(Int64(node.rank == 0 ? 1 : 0), op: .sum) > 1
    guard let threads else { return "" }
    return (0..<shown).map { r in
        let cpus = CPUAllowance.cpus(inBitmask: masks[(r * words)..<((r + 1) * words)])
        return "rank \(r): CPU\(cpus.count == 1 ? "" : "s") \(CPUAllowance.listText(cpus)), \(threads[r]) thread\(threads[r] == 1 ? "" : "s")"
    }.joined(separator: "; ") + (world.size > 16 ? "; ..." : "") + (multiNode ? " (CPU numbers are per node)" : "")
}
