import Foundation
import XCTest

/// launch/slurm.sbatch under a real Slurm: launch/slurm-local starts a controller and a
/// node daemon on this machine (root, Debian's slurm-wlm and munge; CI installs them),
/// sbatch submits the script, and the job must train on 2 ranks, each bound to its own CPU
/// with one BLAS thread, and write its checkpoints.
final class SlurmTests: XCTestCase {
    func testSbatchTrainsOnTwoRanksBoundToOneCPUEach() throws {
        guard getuid() == 0 else { throw XCTSkip("a local Slurm needs root") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/slurmctld"), FileManager.default.isExecutableFile(atPath: "/usr/bin/sbatch") else {
            throw XCTSkip("Slurm is not installed (apt-get install slurm-wlm munge; .ci/run does)")
        }
        guard ProcessInfo.processInfo.activeProcessorCount >= 2 else { throw XCTSkip("needs 2 CPUs") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("seti-slurm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = MPIRun.repository.appendingPathComponent("launch/slurm-local").path
        let port = 20_000 + Int(getpid() % 10_000) * 2
        let started = try shell([script, "start", dir.appendingPathComponent("slurm").path], environment: ["SLURM_LOCAL_PORT": "\(port)"], timeout: 60)
        defer { _ = try? shell([script, "stop", dir.appendingPathComponent("slurm").path], timeout: 30) }
        XCTAssertEqual(started.status, 0, started.output)
        let conf = started.output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last.map(String.init) ?? ""
        let out = dir.appendingPathComponent("run"), log = dir.appendingPathComponent("job.out")
        let job = try shell(
            ["/usr/bin/sbatch", "--wait", "--nodes=1", "--ntasks-per-node=2", "--cpus-per-task=1", "--output=\(log.path)",
             MPIRun.repository.appendingPathComponent("launch/slurm.sbatch").path,
             "--epochs", "1", "--simulated-per-class", "8", "--out", out.path],
            environment: ["SLURM_CONF": conf, "SETI_DIST": MPIRun.binary.path], directory: dir, timeout: 240)
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        XCTAssertEqual(job.status, 0, job.output + output)
        XCTAssertTrue(output.contains("2 rank(s) x batch 16 = global batch 32, 1 BLAS thread(s) per rank"), output)
        let binding = output.split(separator: "\n").first { $0.contains("binding:") }.map(String.init) ?? ""
        let cpus = binding.matches(of: #/rank \d: CPU (\d+), 1 thread/#).map { Int($0.1)! }
        XCTAssertEqual(cpus.count, 2, "each rank bound to one CPU with one thread: \(output)")
        XCTAssertEqual(Set(cpus).count, 2, "the ranks share a CPU: \(binding)")
        for file in ["best.safetensors", "last.safetensors", "metrics.jsonl"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent(file).path), "\(file) missing: \(output)")
        }
    }

    private func shell(_ command: [String], environment: [String: String] = [:], directory: URL? = nil, timeout: Int) throws -> (status: Int32, output: String) {
        var env = Subprocess.cleanEnvironment(droppingPrefixes: ["SLURM_"])
        env["OPENBLAS_NUM_THREADS"] = nil
        env.merge(environment) { $1 }
        let result = try Subprocess.run(command, environment: env, directory: directory, timeout: timeout, mergeOutput: true)
        return (result.status, result.stdout)
    }
}
