import CKernels
import SetiRandom
import XCTest
@testable import SetiNet

/// The layers' C kernels on every instruction set this CPU runs. The dense layer against
/// sums in Double (its C kernels with AVX-512, sgemm below that), on shapes that reach
/// each kind of tail: batch rows past a whole tile, columns past a whole vector or fewer
/// than one, and gradient buffers that start off a vector boundary (the kernel gradient
/// then streams only its aligned vectors). Dropout's mask against CounterRandom, element
/// by element.
final class CKernelTests: XCTestCase {
    var values = TestValues(seed: 7)

    override func tearDown() {
        // Back to the best instruction set for the tests that follow.
        for name in ["avx512", "avx2+fma", "baseline"] where seti_choose_instruction_set(name) != 0 { break }
    }

    func testForwardAndBothGradientsMatchDoubleSumsOnEveryInstructionSet() {
        var paths = 0
        for path in ["baseline", "avx2+fma", "avx512"] where seti_choose_instruction_set(path) != 0 {
            paths += 1
            XCTAssertEqual(kernelInstructionSet, path)
            for (batch, inputs, outputs) in [(1, 70, 3), (7, 130, 64), (32, 97, 129), (33, 65, 200)] {
                checkAgainstDouble(batch: batch, inputs: inputs, outputs: outputs, path)
            }
        }
        XCTAssertGreaterThanOrEqual(paths, 1)
    }

    private func checkAgainstDouble(batch: Int, inputs: Int, outputs: Int, _ path: String) {
        let x = values.uniform(batch * inputs), kernel = values.uniform(inputs * outputs)
        let bias = values.uniform(outputs), dout = values.uniform(batch * outputs)
        let what = "\(path), batch \(batch), \(inputs) -> \(outputs)"

        let out = Tensor(repeating: .nan, count: batch * outputs)
        denseForward(out.p, x, kernel, bias, batch: batch, inputs: inputs, outputs: outputs)
        for b in 0..<batch {
            for n in 0..<outputs {
                let terms = (0..<inputs).map { Double(x[b * inputs + $0]) * Double(kernel[$0 * outputs + n]) }
                assertSum(out.p[b * outputs + n], Double(bias[n]), terms, "\(what): out[\(b), \(n)]")
            }
        }

        var kernelGradients: [[Float]] = []
        for offset in [0, 1, 4] {
            // A gradient buffer `offset` floats past a 64-byte boundary.
            let storage = UnsafeMutableBufferPointer<Float>.allocateAligned(zeroed: offset + inputs * outputs)
            defer { storage.deallocate() }
            let dkernel = storage.baseAddress! + offset
            dkernel.update(repeating: .nan, count: inputs * outputs)
            let dinp = Tensor(repeating: .nan, count: batch * inputs), dbias = Tensor(repeating: .nan, count: outputs)
            denseBackward(dinp.p, dkernel, dbias.p, dout, x, kernel, batch: batch, inputs: inputs, outputs: outputs)
            for k in 0..<inputs {
                for n in 0..<outputs {
                    let terms = (0..<batch).map { Double(x[$0 * inputs + k]) * Double(dout[$0 * outputs + n]) }
                    assertSum(dkernel[k * outputs + n], 0, terms, "\(what), offset \(offset): dkernel[\(k), \(n)]")
                }
            }
            for b in 0..<batch {
                for k in 0..<inputs {
                    let terms = (0..<outputs).map { Double(dout[b * outputs + $0]) * Double(kernel[k * outputs + $0]) }
                    assertSum(dinp.p[b * inputs + k], 0, terms, "\(what): dinp[\(b), \(k)]")
                }
            }
            kernelGradients.append(Array(UnsafeBufferPointer(start: dkernel, count: inputs * outputs)))
        }
        // Streamed or not, aligned or not: every element is the same sum in the same order.
        XCTAssertEqual(kernelGradients[0], kernelGradients[1], "\(what): offset 1")
        XCTAssertEqual(kernelGradients[0], kernelGradients[2], "\(what): offset 4")
    }

    /// A kernel gradient handed to a fold (PowerSGD's, made inside the gradient's own pass
    /// with AVX-512 and up to SETI_DENSE_FOLD_MAX_RANK, after it elsewhere) leaves M as the
    /// gradient followed by seti_powersgd_fold does, to the bit, and the new factor within
    /// rounding: P, or Q^T summed block by block (more than one block of rows in the last
    /// shape); the other gradients do not change. Ranks of the fused loops' constant cases,
    /// the general one and past it; Q^T's rows further apart than its columns with NaN
    /// between, which no pass may read.
    func testKernelGradientFoldEqualsTheGradientThenTheFoldOnEveryInstructionSet() {
        var paths = 0
        for path in ["baseline", "avx2+fma", "avx512"] where seti_choose_instruction_set(path) != 0 {
            paths += 1
            let blocks = 2 * KernelGradientFold.rowsPerSum + 3
            for (batch, inputs, outputs) in [(7, 13, 37), (32, 20, 83), (3, 6, 16), (2, 5, 7), (3, blocks, 19)] {
                for rank in [1, 2, 3, 4, 5, 8, 9] {
                    for share: Float in [0, 0.5] {
                        for right in [false, true] {
                            checkFold(batch: batch, inputs: inputs, outputs: outputs, rank: rank, share: share, right: right, path)
                        }
                    }
                }
            }
        }
        XCTAssertGreaterThanOrEqual(paths, 1)
    }

    private func checkFold(batch: Int, inputs: Int, outputs: Int, rank: Int, share: Float, right: Bool, _ path: String) {
        let what = "\(path), batch \(batch), \(inputs) -> \(outputs), rank \(rank), share \(share), \(right ? "Q" : "P")"
        let x = values.uniform(batch * inputs), kernel = values.uniform(inputs * outputs), dout = values.uniform(batch * outputs)
        let m0 = values.uniform(inputs * outputs), p0 = values.uniform(inputs * rank)
        let stride = outputs + 5
        var qt = [Float](repeating: .nan, count: rank * stride)
        for c in 0..<rank { for j in 0..<outputs { qt[c * stride + j] = values.uniform(1)[0] } }

        // The gradient into its buffer, then the fold.
        let dkernel = Tensor(repeating: .nan, count: inputs * outputs)
        let dinp = Tensor(repeating: .nan, count: batch * inputs), dbias = Tensor(repeating: .nan, count: outputs)
        denseBackward(dinp.p, dkernel.p, dbias.p, dout, x, kernel, batch: batch, inputs: inputs, outputs: outputs)
        var expectedM = m0, expectedP = p0, expectedQT = [Float](repeating: 0, count: rank * stride)
        expectedQT.withUnsafeMutableBufferPointer { qtSum in
            seti_powersgd_fold(&expectedM, dkernel.p, &expectedP, right ? qtSum.baseAddress : nil, qt, stride, inputs, outputs, Int32(rank), share)
        }

        // Handed to a fold.
        let m = Tensor(m0), p = Tensor(p0), scratch = Tensor(repeating: .nan, count: inputs * outputs)
        let blocks = KernelGradientFold.sums(rows: inputs), sums = Tensor(repeating: 0, count: blocks * rank * stride)
        let foldedDinp = Tensor(repeating: .nan, count: batch * inputs), foldedDbias = Tensor(repeating: .nan, count: outputs)
        qt.withUnsafeBufferPointer { qt in
            let fold = KernelGradientFold(
                matrix: m.p, projection: p.p, qt: qt.baseAddress!, qtStride: stride, rank: rank, share: share,
                rightSums: right ? sums.p : nil)
            denseBackward(
                foldedDinp.p, scratch.p, foldedDbias.p, dout, x, kernel, batch: batch, inputs: inputs, outputs: outputs,
                fold: fold)
        }
        XCTAssertEqual(m.array, expectedM, "\(what): M")
        XCTAssertEqual(foldedDinp.array, dinp.array, "\(what): dinp")
        XCTAssertEqual(foldedDbias.array, dbias.array, "\(what): dbias")
        guard !right else {
            XCTAssertEqual(p.array, p0, "\(what): P changed")
            for c in 0..<rank {
                for j in 0..<stride {
                    let sum = (0..<blocks).reduce(Float(0)) { $0 + sums.p[($1 * rank + c) * stride + j] }
                    let size = (0..<inputs).reduce(Float(0)) { $0 + abs(p0[$1 * rank + c] * (j < outputs ? expectedM[$1 * outputs + j] : 0)) }
                    XCTAssertEqual(sum, expectedQT[c * stride + j], accuracy: 1e-5 * size, "\(what): Q^T[\(c), \(j)]")
                }
            }
            return
        }
        for i in 0..<inputs {
            for c in 0..<rank {
                // The size of the dot product's terms bounds its rounding.
                let size = (0..<outputs).reduce(Float(0)) { $0 + abs(expectedM[i * outputs + $1] * qt[c * stride + $1]) }
                XCTAssertEqual(p.p[i * rank + c], expectedP[i * rank + c], accuracy: 1e-5 * size, "\(what): P[\(i), \(c)]")
            }
        }
    }

    func testDropoutKeepsExactlyTheElementsCounterRandomSaysOnEveryInstructionSet() {
        let batch = 3, features = 1000 + 13, rate: Float = 0.3, scale = 1 / (1 - rate)
        let x = values.uniform(batch * features)
        for path in ["baseline", "avx2+fma", "avx512"] where seti_choose_instruction_set(path) != 0 {
            let out = Tensor(repeating: .nan, count: x.count), mask = Tensor(repeating: .nan, count: x.count)
            dropoutForward(out.p, mask.p, x, batch: batch, features: features, rate: rate, seed: 11, stream: 5, firstSample: 40)
            for b in 0..<batch {
                for j in 0..<features {
                    let bits = CounterRandom.bits(seed: 11, stream: 5, index: UInt64(40 + b) << 32 | UInt64(j / 2))
                    let half = j % 2 == 0 ? bits & 0xFFFF_FFFF : bits >> 32
                    let kept = Float(half >> 9) / Float(1 << 23) >= rate, i = b * features + j
                    XCTAssertEqual(mask.p[i], kept ? scale : 0, "\(path): sample \(b), element \(j)")
                    XCTAssertEqual(out.p[i], x[i] * mask.p[i], "\(path): sample \(b), element \(j)")
                }
            }
        }
    }

    /// `value` against `base + sum(terms)`, within float rounding of the terms' magnitude.
    private func assertSum(_ value: Float, _ base: Double, _ terms: [Double], _ what: String) {
        let expected = terms.reduce(base, +), scale = terms.reduce(abs(base)) { $0 + abs($1) }
        XCTAssertEqual(Double(value), expected, accuracy: 1e-5 * max(1, scale), what)
    }
}
