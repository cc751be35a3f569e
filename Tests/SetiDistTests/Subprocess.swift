import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a command to completion under a hard time limit, its output captured in files.
///
/// Not Foundation's `Process`: on Linux its `waitUntilExit` waits for a socket the child
/// inherits to close, and pipes wait for every writer, so a daemon the command leaves
/// behind in a session of its own (OpenMPI's singleton `orted` is one) hangs the caller
/// past any time limit. Here the caller waits with `waitpid` for coreutils' `timeout`,
/// which ends within the limit (plus 5 s to SIGKILL) whatever its descendants do.
enum Subprocess {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
        let seconds: Double
    }

    struct SpawnError: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs `command` (its first element an absolute path or a name on PATH) with exactly
    /// `environment`, in `directory`, killed after `timeout` seconds (status 124, or 137
    /// when SIGTERM was not enough). `mergeOutput` sends standard error to `stdout` too.
    static func run(
        _ command: [String], environment: [String: String], directory: URL? = nil,
        timeout: Int, mergeOutput: Bool = false
    ) throws -> Result {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("seti-dist-subprocess-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("stdout").path, err = folder.appendingPathComponent("stderr").path

        var full = ["/usr/bin/timeout", "--kill-after=5", "\(timeout)"] + command
        if let directory { full = ["/usr/bin/env", "--chdir=\(directory.path)"] + full }
        let arguments = full.map { strdup($0) } + [nil]
        let variables = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            arguments.forEach { free($0) }
            variables.forEach { free($0) }
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if mergeOutput {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        }
        // The child starts with no blocked signals and default handlers, whatever the
        // test process (the Swift runtime, MPI) installed.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let start = Date()
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, arguments[0]!, &actions, &attributes, arguments, variables)
        guard spawned == 0 else { throw SpawnError(description: "cannot start \(full[0]): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            guard errno == EINTR else { throw SpawnError(description: "waitpid(\(pid)): \(String(cString: strerror(errno)))") }
        }
        let signal = status & 0x7f
        return Result(
            status: signal == 0 ? (status >> 8) & 0xff : 128 + signal,
            stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
            stderr: mergeOutput ? "" : (try? String(contentsOfFile: err, encoding: .utf8)) ?? "",
            seconds: Date().timeIntervalSince(start))
    }

    /// This process's environment without the variables of the MPI job or Slurm
    /// allocation it may belong to: the in-process SwiftMPI tests make the test process
    /// an MPI singleton, which exports its own job's OMPI_/PMIX_ variables, and a child
    /// mpirun or singleton that inherited them would try to join that job.
    static func cleanEnvironment(droppingPrefixes extra: [String] = []) -> [String: String] {
        ProcessInfo.processInfo.environment.filter { key, _ in
            !(["OMPI_", "PMIX_", "OPAL_", "ORTE_"] + extra).contains { key.hasPrefix($0) }
        }
    }
}
