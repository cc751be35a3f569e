import ArgumentParser
import Foundation

/// The `seti-dist` command: a thin shell over the SwiftMPI, SetiNet and data libraries.
@main
struct SetiDist: ParsableCommand {
    static func main() {
        tuneOpenBLASThreads()
        main(nil)
    }

    static let configuration = CommandConfiguration(
        commandName: "seti-dist",
        abstract: "Train a CNN on SETI radio spectrograms, data-parallel over MPI ranks.",
        discussion: """
            Run it under mpirun for several ranks, or on its own for a single-process run:
              mpirun -np 4 seti-dist selftest
              seti-dist selftest
            launch/run.sh picks sane mpirun flags and BLAS threads for this machine.
            """,
        subcommands: [Train.self, Evaluate.self, Predict.self, Plot.self, Simulate.self, Show.self, Convert.self, Bench.self, SelfTest.self],
        defaultSubcommand: Train.self)
}

/// After each GEMM, OpenBLAS's worker threads spin (calling sched_yield) for up to 2^28
/// cycles before sleeping, taking the cores from the element-wise layers that run between
/// GEMMs: with 2 threads a training step ran 15% slower (perf: 13% of the time in
/// sched_yield). OPENBLAS_THREAD_TIMEOUT=4 makes them sleep at once, but OpenBLAS reads it
/// when the library loads, before any Swift code runs; so without it, the process sets it
/// and re-executes itself (before MPI starts, so this is safe under mpirun). A value the
/// user set is kept.
private func tuneOpenBLASThreads() {
    guard getenv("OPENBLAS_THREAD_TIMEOUT") == nil else { return }
    // The binary's real path, not /proc/self/exe, so the process keeps its name (ps, top).
    guard let binary = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return }
    setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1)
    execv(binary, CommandLine.unsafeArgv)
    // execv returns only on failure: carry on with OpenBLAS's default.
}
