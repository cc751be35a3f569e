import XCTest
@testable import SetiNet

final class BLASTests: XCTestCase {
    /// A 2x3 times 3x2 product worked by hand, in all four transpose combinations.
    func testSgemmMatchesAHandWorkedProduct() {
        let a: [Float] = [1, 2, 3, 4, 5, 6]  // 2x3
        let b: [Float] = [7, 8, 9, 10, 11, 12]  // 3x2
        let want: [Float] = [58, 64, 139, 154]
        let aT: [Float] = [1, 4, 2, 5, 3, 6]  // 3x2, the transpose of a
        let bT: [Float] = [7, 9, 11, 8, 10, 12]  // 2x3, the transpose of b
        for (transA, transB) in [(false, false), (true, false), (false, true), (true, true)] {
            var c: [Float] = [1, 1, 1, 1]
            let left = transA ? aT : a, right = transB ? bT : b
            BLAS.sgemm(
                transA: transA, transB: transB, m: 2, n: 2, k: 3, alpha: 1,
                a: left, lda: transA ? 2 : 3, b: right, ldb: transB ? 3 : 2, beta: 0.5, c: &c, ldc: 2)
            XCTAssertEqual(c, want.map { $0 + 0.5 }, "transA \(transA) transB \(transB)")
        }
    }

    func testThreadsPerRankSplitsTheAllowedCPUsAndHonoursTheLauncher() {
        let four = CPUAllowance(cpus: [0, 1, 2, 3], quota: nil)
        XCTAssertEqual(BLAS.threadsPerRank(allowance: four, sharers: 1, environment: [:]), 4)
        XCTAssertEqual(BLAS.threadsPerRank(allowance: four, sharers: 2, environment: [:]), 2)
        XCTAssertEqual(BLAS.threadsPerRank(allowance: four, sharers: 16, environment: [:]), 1)
        XCTAssertEqual(BLAS.threadsPerRank(allowance: CPUAllowance(cpus: [0, 1, 2, 3], quota: 2), sharers: 1, environment: [:]), 2,
                       "a container's CPU quota caps the mask")
        XCTAssertEqual(BLAS.threadsPerRank(allowance: four, sharers: 1, environment: ["OPENBLAS_NUM_THREADS": "3"]), 3)
        XCTAssertEqual(BLAS.threadsPerRank(allowance: four, sharers: 2, environment: ["OPENBLAS_NUM_THREADS": "zero"]), 2)
    }

    /// This process's mask: what `taskset` or mpirun's binding gave the test runner.
    func testTheCurrentAllowanceIsTheAffinityMask() {
        let allowance = CPUAllowance.current
        XCTAssertFalse(allowance.cpus.isEmpty)
        XCTAssertLessThanOrEqual(allowance.count, ProcessInfo.processInfo.processorCount)
        XCTAssertEqual(allowance.cpus, allowance.cpus.sorted())
    }

    func testThreadCountCanBeSet() {
        let before = BLAS.threads
        BLAS.threads = 1
        XCTAssertEqual(BLAS.threads, 1)
        BLAS.threads = before
    }
}

final class CPUListTests: XCTestCase {
    func testKernelCPUListsParse() {
        XCTAssertEqual(CPUAllowance.parseList("0-3,8,10-11"), [0, 1, 2, 3, 8, 10, 11])
        XCTAssertEqual(CPUAllowance.parseList(" 1\n"), [1])
        XCTAssertNil(CPUAllowance.parseList("3-1"))
        XCTAssertNil(CPUAllowance.parseList("a"))
        XCTAssertNil(CPUAllowance.parseList(""))
    }

    /// Issue 27: the start line's binding dropped CPUs numbered 64 and above (one 64-bit
    /// mask). Big nodes' CPU lists survive the mask ranks exchange, and print as the kernel
    /// writes them.
    func testCPUMasksKeepCPUsPast64() throws {
        let lists = ["0-3,8", "63-65,127", "0,64,128,192,255", "200-223,1000-1023", "4095"]
        for text in lists {
            let cpus = try XCTUnwrap(CPUAllowance.parseList(text))
            let words = cpus.max()! / 64 + 1
            let mask = CPUAllowance.bitmask(cpus, words: words)
            XCTAssertEqual(mask.count, words)
            XCTAssertEqual(CPUAllowance.cpus(inBitmask: mask), cpus, text)
            XCTAssertEqual(CPUAllowance.listText(cpus), text)
        }
        XCTAssertEqual(CPUAllowance.bitmask([3, 70], words: 1), [8], "CPUs past the mask's words are left out, not wrapped")
    }
}
