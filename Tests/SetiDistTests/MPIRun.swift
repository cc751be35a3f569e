import Foundation
import XCTest

/// Runs the built `seti-dist` binary, under mpirun or on its own, with a hard time limit,
/// and captures what it printed.
struct MPIRun {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
        let seconds: Double
    }

    /// The `seti-dist` executable next to the test bundle in the build folder.
    static var binary: URL {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return exe.deletingLastPathComponent().appendingPathComponent("seti-dist")
    }

    /// mpirun flags for this machine: root needs its permission flag; tests may start more
    /// ranks than cores, one BLAS thread each, unbound.
    static func mpirunArguments(np: Int) -> [String] {
        var flags = ["mpirun", "-np", "\(np)", "--oversubscribe", "--bind-to", "none", "-x", "OPENBLAS_NUM_THREADS=1"]
        if getuid() == 0 { flags.append("--allow-run-as-root") }
        return flags
    }

    /// Runs `seti-dist arguments` on `np` ranks (nil: without mpirun), killed after `timeout` seconds.
    static func run(np: Int?, _ arguments: [String], timeout: Int = 120) throws -> Result {
        let command = (np.map(mpirunArguments) ?? []) + [binary.path] + arguments
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("seti-dist-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("stdout"), err = dir.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["--kill-after=5", "\(timeout)"] + command
        // The in-process SwiftMPI tests make this test process an MPI singleton, which
        // exports its own job's OMPI_/PMIX_ variables; a child mpirun or singleton that
        // inherited them would try to join that job instead of starting its own.
        var environment = ProcessInfo.processInfo.environment.filter { key, _ in
            !["OMPI_", "PMIX_", "OPAL_", "ORTE_"].contains { key.hasPrefix($0) }
        }
        environment["SWIFT_BACKTRACE"] = "enable=no"
        process.environment = environment
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        let start = Date()
        try process.run()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            stdout: try String(contentsOf: out, encoding: .utf8),
            stderr: try String(contentsOf: err, encoding: .utf8),
            seconds: Date().timeIntervalSince(start))
    }
}
