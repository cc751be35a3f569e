import ArgumentParser

/// The `seti-dist` command: a thin shell over the SwiftMPI, SetiNet and data libraries.
@main
struct SetiDist: ParsableCommand {
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
