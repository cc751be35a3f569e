import XCTest
@testable import SwiftMPI

/// The wrapper as a process started without mpirun sees it: an MPI singleton, rank 0 of 1.
/// Multi-rank behaviour is tested through `seti-dist selftest` under mpirun (SetiDistTests).
final class SingleRankTests: XCTestCase {
    var world: Communicator!

    override func setUpWithError() throws {
        world = try MPI.initialize(threadLevel: .funneled)
    }

    func testSingletonIsRankZeroOfOne() throws {
        XCTAssertTrue(MPI.isInitialized)
        XCTAssertEqual(world.rank, 0)
        XCTAssertEqual(world.size, 1)
        XCTAssertTrue(world.isRoot)
        XCTAssertFalse(world.hostName.isEmpty)
        let node = try world.splitByNode()
        XCTAssertEqual(node.rank, 0)
        XCTAssertEqual(node.size, 1)
        try world.barrier()
    }

    func testInitializeTwiceReturnsTheSameWorld() throws {
        let again = try MPI.initialize()
        XCTAssertEqual(again.size, world.size)
        XCTAssertEqual(again.rank, world.rank)
    }

    func testAllreduceOfOneRankIsTheIdentity() throws {
        var floats: [Float] = [1.5, -2, 3e30]
        try world.allreduce(&floats, op: .sum)
        XCTAssertEqual(floats, [1.5, -2, 3e30])
        XCTAssertEqual(try world.allreduce(Int64.max, op: .max), Int64.max)
        XCTAssertEqual(try world.allreduce(Int32.min, op: .min), Int32.min)
        XCTAssertEqual(try world.allreduce(-0.25 as Double, op: .sum), -0.25)

        let source: [Double] = [1, 2, 3]
        var destination = [Double](repeating: 0, count: 3)
        try source.withUnsafeBufferPointer { src in
            try destination.withUnsafeMutableBufferPointer { try world.allreduce(src, into: $0, op: .sum) }
        }
        XCTAssertEqual(destination, source)
    }

    func testChunkedAllreduceCoversEveryElement() throws {
        var chunked = world!
        chunked.maxElementsPerCall = 7
        var values = (0..<100).map(Int64.init)
        try chunked.allreduce(&values, op: .sum)
        XCTAssertEqual(values, (0..<100).map(Int64.init))
        var empty: [Float] = []
        try chunked.allreduce(&empty, op: .sum)
        XCTAssertEqual(empty, [])
    }

    func testNonBlockingAllreduceCompletes() throws {
        var values = (0..<1_000).map(Float.init)
        var chunked = world!
        chunked.maxElementsPerCall = 64
        try values.withUnsafeMutableBufferPointer { buffer in
            let request = try chunked.startAllreduce(buffer, op: .sum)
            while try !request.test() {}
            XCTAssertTrue(request.isComplete)
            try request.wait()  // waiting again on a finished request is harmless
        }
        XCTAssertEqual(values, (0..<1_000).map(Float.init))
    }

    func testBroadcastGatherAndAgree() throws {
        var values: [Int32] = [4, 5, 6]
        try world.broadcast(&values, root: 0)
        XCTAssertEqual(values, [4, 5, 6])
        XCTAssertEqual(try world.gather(Int64(42)), [42])
        XCTAssertEqual(try world.allgather(UInt64(7)), [7])
        XCTAssertNoThrow(try world.agree(on: 0xFEED, what: "config hash"))
    }

    func testMPIErrorsBecomeSwiftErrorsWithMPIsMessage() throws {
        var values: [Float] = [1]
        XCTAssertThrowsError(try world.broadcast(&values, root: 3)) { error in
            let mpiError = try? XCTUnwrap(error as? MPIError)
            XCTAssertEqual(mpiError?.call, "MPI_Bcast")
            XCTAssertTrue(mpiError?.description.contains("root") ?? false, "\(error)")
        }
    }

    func testDisagreementNamesTheOddRanks() {
        let error = RankDisagreement(
            what: "config hash", differingRanks: [2], values: [0xA, 0xA, 0xB, 0xA], majority: 0xA)
        XCTAssertEqual(
            error.description, "ranks disagree on config hash: rank 2 has 0xb; the other 3 rank(s) have 0xa")
    }

    /// bfloat16 conversions round to nearest, ties to even, and keep NaN and infinity.
    func testBFloat16RoundsToNearestEven() {
        XCTAssertEqual(BFloat16.bits(1), 0x3F80)
        XCTAssertEqual(BFloat16.value(0x3F80), 1)
        XCTAssertEqual(BFloat16.value(BFloat16.bits(1 + 0x1p-8)), 1, "a tie goes to the even neighbour")
        XCTAssertEqual(BFloat16.value(BFloat16.bits(1 + 3 * 0x1p-8)), 1 + 0x1p-6, "a tie goes to the even neighbour")
        XCTAssertEqual(BFloat16.value(BFloat16.bits(1 + 0x1p-8 + 0x1p-20)), 1 + 0x1p-7, "above the tie rounds up")
        XCTAssertEqual(BFloat16.value(BFloat16.bits(-2.5)), -2.5)
        XCTAssertTrue(BFloat16.value(BFloat16.bits(.nan)).isNaN)
        XCTAssertEqual(BFloat16.value(BFloat16.bits(.infinity)), .infinity)
        XCTAssertEqual(BFloat16.value(BFloat16.bits(.greatestFiniteMagnitude)), .infinity, "beyond bfloat16's largest finite value")
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<1000 {
            let x = Float.random(in: -1000...1000, using: &rng)
            XCTAssertEqual(BFloat16.value(BFloat16.bits(x)), x, accuracy: abs(x) * 0x1p-8)
        }
    }
}
