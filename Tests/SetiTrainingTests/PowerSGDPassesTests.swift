import CKernels
import SetiNet
import SetiRandom
import XCTest

/// PowerSGD's C passes against plain loops, for the ranks of the fused paths (1...4) and of
/// the general ones, on a shape with row and column tails, with Q^T's rows further apart
/// than its columns and NaN in between (which no pass may read or write). The reducer's own tests cannot
/// see a wrong P: any P keeps error feedback whole, and P = M Q for a low-rank M spans the
/// same columns even when some terms are missing.
final class PowerSGDPassesTests: XCTestCase {
    private let rows = 13, columns = 21, stride = 24

    /// Q^T (rank x columns) with its rows `stride` apart, NaN past the columns.
    private func strided(_ qt: [Float], rank: Int) -> [Float] {
        var t = [Float](repeating: .nan, count: rank * stride)
        for c in 0..<rank { for j in 0..<columns { t[c * stride + j] = qt[c * columns + j] } }
        return t
    }

    private func random(_ n: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in Float(rng.gaussian()) }
    }

    /// (P Q^T)[i][j] with Q^T rank x columns.
    private func reconstruction(_ p: [Float], _ qt: [Float], rank: Int, _ i: Int, _ j: Int) -> Float {
        (0..<rank).reduce(0) { $0 + p[i * rank + $1] * qt[$1 * columns + j] }
    }

    private func assertClose(_ a: [Float], _ b: [Float], _ what: String) {
        XCTAssertEqual(a.count, b.count)
        for k in a.indices { XCTAssertEqual(a[k], b[k], accuracy: 1e-4 * max(1, abs(b[k])), "\(what), element \(k)") }
    }

    override func tearDown() {
        // Back to the best instruction set for the tests that follow.
        for name in ["avx512", "avx2+fma", "baseline"] where seti_choose_instruction_set(name) != 0 { break }
    }

    /// On every instruction set this CPU runs.
    func testEveryPassMatchesPlainLoops() {
        for name in ["baseline", "avx2+fma", "avx512"] where seti_choose_instruction_set(name) != 0 {
            everyPassMatchesPlainLoops()
        }
    }

    private func everyPassMatchesPlainLoops() {
        let set = kernelInstructionSet
        for rank in [1, 2, 3, 4, 5, 8, 9] {
            let m = random(rows * columns, seed: 1), g = random(rows * columns, seed: 2)
            let p = random(rows * rank, seed: 3), qt = random(rank * columns, seed: 4)
            let qtStrided = strided(qt, rank: rank)
            let share: Float = 0.5

            // settle: M -= share P Q^T
            var settled = m
            seti_powersgd_settle(&settled, p, qtStrided, stride, rows, columns, Int32(rank), share)
            var expected = m
            for i in 0..<rows { for j in 0..<columns { expected[i * columns + j] -= share * reconstruction(p, qt, rank: rank, i, j) } }
            assertClose(settled, expected, "\(set): settle, rank \(rank)")

            // fold: M = (M - share P Q^T) + G, then P = M Q; with share 0, M + G.
            for foldShare in [share, 0] {
                var folded = m, newP = p
                seti_powersgd_fold(&folded, g, &newP, nil, qtStrided, stride, rows, columns, Int32(rank), foldShare)
                var expectedM = m
                for i in 0..<rows {
                    for j in 0..<columns {
                        expectedM[i * columns + j] = (m[i * columns + j] - foldShare * reconstruction(p, qt, rank: rank, i, j)) + g[i * columns + j]
                    }
                }
                var expectedP = [Float](repeating: 0, count: rows * rank)
                for i in 0..<rows { for c in 0..<rank { expectedP[i * rank + c] = (0..<columns).reduce(0) { $0 + expectedM[i * columns + $1] * qt[c * columns + $1] } } }
                assertClose(folded, expectedM, "\(set): fold M, rank \(rank), share \(foldShare)")
                assertClose(newP, expectedP, "\(set): fold P, rank \(rank), share \(foldShare)")

                // Onto the right factor: the same M, P unchanged, Q^T += P^T M.
                var rightM = m, sameP = p, qtSum = qtStrided
                seti_powersgd_fold(&rightM, g, &sameP, &qtSum, qtStrided, stride, rows, columns, Int32(rank), foldShare)
                XCTAssertEqual(rightM, folded, "\(set): fold onto Q, M, rank \(rank), share \(foldShare)")
                XCTAssertEqual(sameP, p, "\(set): fold onto Q changed P, rank \(rank)")
                var expectedQ = qtStrided
                for c in 0..<rank {
                    for j in 0..<columns { expectedQ[c * stride + j] += (0..<rows).reduce(0) { $0 + p[$1 * rank + c] * expectedM[$1 * columns + j] } }
                }
                for k in expectedQ.indices where expectedQ[k].isNaN { XCTAssertTrue(qtSum[k].isNaN, "\(set): fold onto Q wrote between rows") }
                assertClose(qtSum.filter { !$0.isNaN }, expectedQ.filter { !$0.isNaN }, "\(set): fold onto Q, rank \(rank), share \(foldShare)")
            }

            // project: Q^T += P^T M
            var qtSum = qtStrided
            seti_powersgd_project(m, p, &qtSum, stride, rows, columns, Int32(rank))
            var expectedQ = qtStrided
            for c in 0..<rank { for j in 0..<columns { expectedQ[c * stride + j] += (0..<rows).reduce(0) { $0 + p[$1 * rank + c] * m[$1 * columns + j] } } }
            for k in expectedQ.indices where expectedQ[k].isNaN { XCTAssertTrue(qtSum[k].isNaN, "\(set): project wrote between rows, rank \(rank)") }
            assertClose(qtSum.filter { !$0.isNaN }, expectedQ.filter { !$0.isNaN }, "\(set): project, rank \(rank)")

            // expand: G = P Q^T
            var expanded = [Float](repeating: .nan, count: rows * columns)
            seti_powersgd_expand(&expanded, p, qtStrided, stride, rows, columns, Int32(rank))
            var expectedG = expanded
            for i in 0..<rows { for j in 0..<columns { expectedG[i * columns + j] = reconstruction(p, qt, rank: rank, i, j) } }
            assertClose(expanded, expectedG, "\(set): expand, rank \(rank)")
        }
    }
}
