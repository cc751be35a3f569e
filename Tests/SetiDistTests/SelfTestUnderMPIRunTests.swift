import XCTest

/// `seti-dist selftest` on 1, 2 and 4 real MPI processes: every rank checks each
/// collective against its closed form and prints one line, and failures end the whole
/// job quickly with a message naming the rank.
final class SelfTestUnderMPIRunTests: XCTestCase {
    private func assertEveryRankPassed(_ result: MPIRun.Result, np: Int, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(result.status, 0, "stderr: \(result.stderr)", file: file, line: line)
        for rank in 0..<np {
            let lines = result.stdout.split(separator: "\n").filter { $0.hasPrefix("rank \(rank)/\(np) ") }
            XCTAssertEqual(lines.count, 1, "rank \(rank) of \(np) did not report once:\n\(result.stdout)", file: file, line: line)
            XCTAssertTrue(lines.first?.hasSuffix("all checks passed") ?? false, file: file, line: line)
        }
    }

    func testWithoutMPIRunTheBinaryIsRankZeroOfOne() throws {
        let result = try MPIRun.run(np: nil, ["selftest", "--megabytes", "64"])
        assertEveryRankPassed(result, np: 1)
        XCTAssertTrue(result.stdout.contains("allreduce 64 MiB ok"))
    }

    func testTwoRanks() throws {
        let result = try MPIRun.run(np: 2, ["selftest", "--megabytes", "64"])
        assertEveryRankPassed(result, np: 2)
        XCTAssertTrue(result.stdout.contains("broadcast from rank 1 ok"))
    }

    func testFourRanksOversubscribed() throws {
        let result = try MPIRun.run(np: 4, ["selftest", "--megabytes", "64"])
        assertEveryRankPassed(result, np: 4)
        XCTAssertTrue(result.stdout.contains("(local 3/4, 1 node(s), 1 BLAS thread(s))"), result.stdout)
    }

    func testDisagreeingRankFailsTheJobOnceAndFast() throws {
        let result = try MPIRun.run(np: 4, ["selftest", "--megabytes", "1", "--disagree-rank", "2"], timeout: 60)
        XCTAssertNotEqual(result.status, 0)
        XCTAssertNotEqual(result.status, 124, "timed out: the job hung")
        XCTAssertLessThan(result.seconds, 30)
        let messages = result.stderr.split(separator: "\n").filter { $0.hasPrefix("seti-dist: error:") }
        XCTAssertEqual(
            messages, ["seti-dist: error: ranks disagree on self-test value: rank 2 has 0xbad; the other 3 rank(s) have 0x5e71"],
            result.stderr)
    }

    func testOneFailingRankAbortsTheOthers() throws {
        // Rank 1 fails before the first collective, while ranks 0, 2 and 3 wait in it.
        let result = try MPIRun.run(np: 4, ["selftest", "--megabytes", "1", "--fail-rank", "1"], timeout: 60)
        XCTAssertNotEqual(result.status, 0)
        XCTAssertNotEqual(result.status, 124, "timed out: the other ranks hung")
        XCTAssertLessThan(result.seconds, 30)
        XCTAssertTrue(
            result.stderr.contains("seti-dist: error on rank 1: deliberate failure requested by --fail-rank 1"),
            result.stderr)
        XCTAssertFalse(result.stdout.contains("all checks passed"), "ranks went on after rank 1 failed")
    }
}
