import ArgumentParser
import Foundation
import SetiFiles
import SetiNet
import SetiTraining
import SwiftMPI

/// `seti-dist selftest`: exercises every collective of the MPI wrapper on every rank
/// against closed-form results and prints one line per rank.
struct SelfTest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Check MPI collectives and BLAS on every rank; prints what each rank saw.",
        discussion: """
            Each rank contributes values that depend on its rank, so every result has a \
            closed form: sum, min and max for Float, Double, Int32 and Int64; a large Float \
            allreduce (in place and out of place); a chunked allreduce; a broadcast from the \
            last rank; a non-blocking allreduce; a gather to rank 0; the hierarchical \
            (shared-memory) allreduce, bucketed, also over emulated nodes of two ranks \
            against plain MPI_Allreduce; the agreement check. \
            Exits non-zero, naming the rank, at the first wrong result.
            """)

    @Option(help: "Size of the large Float allreduce, in MiB.")
    var megabytes: Int = 64

    @Option(help: "Make this rank disagree in the agreement check (to see the job fail cleanly).")
    var disagreeRank: Int?

    @Option(help: "Make this rank fail on its own while the others wait (to see the job abort cleanly).")
    var failRank: Int?

    func validate() throws {
        guard (1...4096).contains(megabytes) else { throw ValidationError("--megabytes \(megabytes): allowed 1...4096") }
    }

    func run() throws {
        Job.run { job in
            if job.world.rank == failRank {
                throw SelfTestFailure(description: "deliberate failure requested by --fail-rank \(job.world.rank)")
            }
            let report = try SelfTestChecks(world: job.world, node: job.node, megabytes: megabytes).runAll()
            try Output.line(report)
            fflush(stdout)
            try job.world.barrier()
            let hash: UInt64 = job.world.rank == disagreeRank ? 0xBAD : 0x5E71
            try job.world.agree(on: hash, what: "self-test value")
        }
    }
}

struct SelfTestFailure: Error, CustomStringConvertible {
    let description: String
}

/// The checks themselves; each throws ``SelfTestFailure`` with the expected and observed values.
struct SelfTestChecks {
    let world: Communicator
    let node: Communicator
    let megabytes: Int

    var n: Int { world.size }
    var r: Int { world.rank }

    func runAll() throws -> String {
        var seen: [String] = []
        try checkScalars(Float.self); try checkScalars(Double.self)
        try checkScalars(Int32.self); try checkScalars(Int64.self)
        seen.append("sum/min/max ok")
        seen.append(try checkLargeAllreduce())
        try checkChunked()
        seen.append("chunked ok")
        try checkBroadcast()
        seen.append("broadcast from rank \(n - 1) ok")
        try checkNonBlocking()
        seen.append("iallreduce ok")
        try checkGather()
        seen.append("gather ok")
        try checkHierarchical(node: nil)
        if n % 2 == 0 {
            // Two ranks per emulated node: shared memory within pairs, MPI across them.
            try checkHierarchical(node: world.split(color: r / 2, key: r))
        }
        seen.append("hierarchical allreduce ok")
        if n > 1 {
            // One rank per emulated node: every sum crosses "machines", in bfloat16.
            try checkBFloat16(node: world.split(color: r, key: r))
            seen.append("bfloat16 across nodes ok")
        }
        let nodes = try world.allreduce(node.rank == 0 ? Int32(1) : 0, op: .sum)
        let header = "rank \(r)/\(n) on \(world.hostName) (local \(node.rank)/\(node.size), \(nodes) node(s), \(BLAS.threads) BLAS thread(s))"
        return header + ": " + seen.joined(separator: ", ") + "; all checks passed"
    }

    private func expect<T: Equatable>(_ got: T, _ want: T, _ what: String) throws {
        guard got == want else { throw SelfTestFailure(description: "\(what): got \(got), expected \(want)") }
    }

    /// Rank r contributes r + 1 (+ the element index), so sums are n(n+1)/2 (+ n·i).
    private func checkScalars<T: MPIScalar & BinaryInteger>(_: T.Type) throws {
        let values = (0..<5).map { T($0) + T(r + 1) }
        var sum = values, lo = values, hi = values
        try world.allreduce(&sum, op: .sum)
        try world.allreduce(&lo, op: .min)
        try world.allreduce(&hi, op: .max)
        for i in 0..<5 {
            try expect(sum[i], T(n * (n + 1) / 2 + n * i), "\(T.self) sum[\(i)]")
            try expect(lo[i], T(1 + i), "\(T.self) min[\(i)]")
            try expect(hi[i], T(n + i), "\(T.self) max[\(i)]")
        }
    }

    private func checkScalars<T: MPIScalar & BinaryFloatingPoint>(_: T.Type) throws {
        let values = (0..<5).map { T($0) + T(r + 1) }
        var sum = values, lo = values, hi = values
        try world.allreduce(&sum, op: .sum)
        try world.allreduce(&lo, op: .min)
        try world.allreduce(&hi, op: .max)
        for i in 0..<5 {
            try expect(sum[i], T(n * (n + 1) / 2 + n * i), "\(T.self) sum[\(i)]")
            try expect(lo[i], T(1 + i), "\(T.self) min[\(i)]")
            try expect(hi[i], T(n + i), "\(T.self) max[\(i)]")
        }
    }

    /// Element i of rank r is (r + 1) + (i mod 7): small integers, so the Float sum is exact.
    private func checkLargeAllreduce() throws -> String {
        let count = megabytes * 1024 * 1024 / MemoryLayout<Float>.stride
        var buffer = (0..<count).map { Float(r + 1) + Float($0 % 7) }
        var out = [Float](repeating: -1, count: count)
        let source = buffer
        try source.withUnsafeBufferPointer { src in
            try out.withUnsafeMutableBufferPointer { try world.allreduce(src, into: $0, op: .sum) }
        }
        let start = DispatchTime.now()
        try world.allreduce(&buffer, op: .sum)
        let ms = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6
        let base = Float(n * (n + 1) / 2)
        for i in 0..<count {
            let want = base + Float(n * (i % 7))
            if buffer[i] != want { try expect(buffer[i], want, "\(megabytes) MiB in-place allreduce[\(i)]") }
            if out[i] != want { try expect(out[i], want, "\(megabytes) MiB out-of-place allreduce[\(i)]") }
        }
        return "allreduce \(megabytes) MiB ok (\(String(format: "%.1f", ms)) ms in place)"
    }

    /// Forces 11 MPI calls for one buffer, as a buffer over Int32.max elements would need.
    private func checkChunked() throws {
        var chunked = world
        chunked.maxElementsPerCall = 1_000
        var values = (0..<10_007).map { Double($0) * Double(r + 1) }
        try chunked.allreduce(&values, op: .sum)
        for i in values.indices { try expect(values[i], Double(i * n * (n + 1) / 2), "chunked sum[\(i)]") }
        var request = try chunked.startAllreduce(UnsafeMutableBufferPointer<Double>(start: nil, count: 0), op: .sum)
        try request.wait()
        var ints = (0..<2_500).map { Int64($0 + r) }
        try ints.withUnsafeMutableBufferPointer { buffer in
            request = try chunked.startAllreduce(buffer, op: .max)
            try request.wait()
        }
        for i in ints.indices { try expect(ints[i], Int64(i + n - 1), "chunked non-blocking max[\(i)]") }
    }

    private func checkBroadcast() throws {
        let root = n - 1
        var values = (0..<1000).map { Int32($0 * (r + 1)) }
        try world.broadcast(&values, root: root)
        for i in values.indices { try expect(values[i], Int32(i * (root + 1)), "broadcast[\(i)]") }
        try expect(try world.broadcast(Double(r) + 0.5, root: root), Double(root) + 0.5, "scalar broadcast")
    }

    /// Starts a 16 MiB allreduce, does unrelated work while polling it, then waits.
    private func checkNonBlocking() throws {
        let count = 4 * 1024 * 1024
        var values = (0..<count).map { Float(($0 % 5) * (r + 1)) }
        try values.withUnsafeMutableBufferPointer { buffer in
            let request = try world.startAllreduce(buffer, op: .sum)
            var busy: Float = 0
            for i in 0..<100_000 {
                busy += Float(i & 3)
                if i % 1000 == 0 { try request.test() }
            }
            try request.wait()
            try expect(request.isComplete && busy > 0, true, "non-blocking allreduce completed")
        }
        let scale = Float(n * (n + 1) / 2)
        for i in values.indices { try expect(values[i], Float(i % 5) * scale, "non-blocking sum[\(i)]") }
    }

    /// Integer-valued data (exact in fp32) reduced in three buckets handed over last
    /// first, as backward does; then fractional data, which must match plain MPI to
    /// rounding and be bit-identical on every rank.
    private func checkHierarchical(node: Communicator?) throws {
        let count = 1_000_003
        let shared = try HierarchicalAllreduce(world: world, count: count, node: node, shareParameters: true)
        let what = node == nil ? "hierarchical allreduce" : "hierarchical allreduce over \(n / 2) emulated nodes"
        for i in 0..<count { shared.buffer[i] = Float(r + 1) + Float(i % 7) }
        for range in [600_001..<count, 17..<600_001, 0..<17] { try shared.reduce(range) }
        try shared.finish()
        let base = Float(n * (n + 1) / 2)
        for i in 0..<count where shared.buffer[i] != base + Float(n * (i % 7)) {
            try expect(shared.buffer[i], base + Float(n * (i % 7)), "\(what)[\(i)]")
        }
        // Sharded update: each rank sets its own slices of the parameters to twice the
        // sum; after sharing, every rank must hold twice the sum everywhere. Then an
        // optimizer-state-like buffer current only in the owned slices is completed.
        for i in 0..<count { shared.buffer[i] = Float(r + 1) + Float(i % 7) }
        for range in [600_001..<count, 17..<600_001, 0..<17] { try shared.reduce(range) }
        let owned = try shared.finishOwned()
        var state = [Float](repeating: -1, count: count)
        for i in owned.joined() {
            shared.parameters![i] = 2 * shared.buffer[i]
            state[i] = shared.buffer[i]
        }
        try shared.shareParameters()
        try state.withUnsafeMutableBufferPointer { try shared.gatherOwned($0) }
        for i in 0..<count where shared.parameters![i] != 2 * (base + Float(n * (i % 7))) || state[i] != base + Float(n * (i % 7)) {
            try expect([shared.parameters![i], state[i]], [2 * (base + Float(n * (i % 7))), base + Float(n * (i % 7))], "\(what), sharded update[\(i)]")
        }
        try compareWithMPIAllreduce(shared, what: what) { 1e-6 * Float(n) * max(1, abs($0)) }
    }

    /// Allreduces fractional data through `shared` and with MPI_Allreduce: every element
    /// within `tolerance(MPI's sum)`, `check` on each result, the result bits the same on
    /// every rank.
    private func compareWithMPIAllreduce(
        _ shared: HierarchicalAllreduce, what: String, tolerance: (Float) -> Float, check: (Int, Float) throws -> Void = { _, _ in }
    ) throws {
        let count = shared.buffer.count
        var plain = (0..<count).map { Float(($0 * 7919 + r * 104_729) % 1000) / 997 }
        for i in 0..<count { shared.buffer[i] = plain[i] }
        try shared.allreduce()
        try world.allreduce(&plain, op: .sum)
        var digest: UInt64 = 0xCBF2_9CE4_8422_2325
        for i in 0..<count {
            if abs(shared.buffer[i] - plain[i]) > tolerance(plain[i]) {
                try expect(shared.buffer[i], plain[i], "\(what) vs MPI_Allreduce[\(i)]")
            }
            try check(i, shared.buffer[i])
            digest = (digest ^ UInt64(shared.buffer[i].bitPattern)) &* 0x100_0000_01B3
        }
        try world.agree(on: digest, what: "\(what) result bits")
    }

    /// The cross-node leg in bfloat16: small integers (exact in bfloat16) sum exactly;
    /// fractions within the rounding bound of the fp32 sum, bit-identical on every rank.
    private func checkBFloat16(node: Communicator) throws {
        let count = 100_003
        let shared = try HierarchicalAllreduce(world: world, count: count, node: node, crossNodeBFloat16: true)
        for i in 0..<count { shared.buffer[i] = Float(r + 1) - Float(i % 5) }
        try shared.allreduce()
        let base = Float(n * (n + 1) / 2)
        for i in 0..<count where shared.buffer[i] != base - Float(n * (i % 5)) {
            try expect(shared.buffer[i], base - Float(n * (i % 5)), "bfloat16 allreduce[\(i)]")
        }
        // Values in [0, 1): each of n inputs and n - 1 sums rounded by at most 2^-8. What
        // crossed the wire was bfloat16: the low 16 bits are zero.
        try compareWithMPIAllreduce(shared, what: "bfloat16 allreduce", tolerance: { Float(2 * n) * 0x1p-8 * max($0, 1) }) { i, value in
            if value.bitPattern & 0xFFFF != 0 {
                throw SelfTestFailure(description: "bfloat16 allreduce[\(i)]: \(value) is not a bfloat16 value")
            }
        }
    }

    private func checkGather() throws {
        let gathered = try world.gather(Int64(r * 10), root: 0)
        if r == 0 {
            try expect(gathered ?? [], (0..<n).map { Int64($0 * 10) }, "gather to rank 0")
        } else {
            try expect(gathered == nil, true, "gather returns nil off the root")
        }
        try expect(try world.allgather(Int32(r)), (0..<n).map(Int32.init), "allgather")
    }
}
