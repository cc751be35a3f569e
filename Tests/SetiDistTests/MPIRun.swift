import Foundation
import XCTest

/// Runs the built `seti-dist` binary, under mpirun or on its own, with a hard time limit,
/// and captures what it printed.
struct MPIRun {
    typealias Result = Subprocess.Result

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

    /// How the ranks start.
    enum Launcher {
        /// One process, no mpirun.
        case single
        /// mpirun on this machine.
        case local(np: Int)
        /// launch/sim-cluster: `nodes` network namespaces with `ranks` each.
        case simulatedCluster(nodes: Int, ranks: Int)
        /// One process under `taskset -c cpus`, without OPENBLAS_NUM_THREADS.
        case pinned(cpus: String)

        var ranks: Int {
            switch self {
            case .single, .pinned: return 1
            case .local(let np): return np
            case .simulatedCluster(let nodes, let ranks): return nodes * ranks
            }
        }

        var prefix: [String] {
            switch self {
            case .single: return []
            case .pinned(let cpus): return ["/usr/bin/taskset", "-c", cpus]
            case .local(let np): return mpirunArguments(np: np)
            case .simulatedCluster(let nodes, let ranks):
                return [repository.appendingPathComponent("launch/sim-cluster").path, "--nodes", "\(nodes)", "--ranks", "\(ranks)", "--"]
            }
        }
    }

    /// The repository root (this file is Tests/SetiDistTests/MPIRun.swift).
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Why the simulated cluster cannot run here (it needs root and iproute2), or nil.
    static var simulatedClusterUnavailable: String? {
        if getuid() != 0 { return "the simulated cluster needs root (network namespaces)" }
        if !FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") && !FileManager.default.isExecutableFile(atPath: "/sbin/ip") {
            return "the simulated cluster needs iproute2 (launch/setup-debian installs it)"
        }
        return nil
    }

    /// Runs `seti-dist arguments` on `np` ranks (nil: without mpirun), killed after `timeout` seconds.
    static func run(np: Int?, _ arguments: [String], timeout: Int = 120) throws -> Result {
        try run(np.map { .local(np: $0) } ?? .single, arguments, timeout: timeout)
    }

    /// Runs `seti-dist arguments` as `launcher` starts it, killed after `timeout` seconds.
    static func run(_ launcher: Launcher, _ arguments: [String], timeout: Int = 120) throws -> Result {
        var environment = Subprocess.cleanEnvironment()
        environment["SWIFT_BACKTRACE"] = "enable=no"
        if case .pinned = launcher { environment["OPENBLAS_NUM_THREADS"] = nil }
        return try Subprocess.run(launcher.prefix + [binary.path] + arguments, environment: environment, timeout: timeout)
    }

    /// PIDs of processes called `name` running in network namespace `namespace`, ascending.
    static func processes(named name: String, inNetworkNamespace namespace: String) -> [pid_t] {
        // A namespace is identified by the inode of its nsfs file, which both
        // /run/netns/NAME and /proc/PID/ns/net lead to (stat follows the link).
        func inode(_ path: String) -> ino_t? {
            var info = stat()
            return stat(path, &info) == 0 ? info.st_ino : nil
        }
        guard let wanted = inode("/run/netns/\(namespace)") else { return [] }
        var found: [pid_t] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry),
                  let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8),
                  comm.trimmingCharacters(in: .whitespacesAndNewlines) == name,
                  inode("/proc/\(pid)/ns/net") == wanted else { continue }
            found.append(pid)
        }
        return found.sorted()
    }
}
