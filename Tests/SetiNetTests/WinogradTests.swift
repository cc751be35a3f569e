import CKernels
import SetiRandom
import XCTest
@testable import SetiNet

/// Winograd convolution: its transforms, and all three passes against im2col, the direct
/// algorithm, on the SETI CNN's shapes (its finite-difference checks are in
/// LayerGradientTests).
final class WinogradTests: XCTestCase {
    var values = TestValues(seed: 7)

    /// The Toom-Cook matrices compute correlation: in 1D, A^T [(G g) (.) (B^T d)] equals
    /// sum over k of g[k] d[i + k], for every tile size and kernel used.
    func testTransformsComputeOneDimensionalCorrelation() {
        for (m, r) in [(2, 3), (4, 3), (2, 5), (4, 5)] {
            let t = WinogradTransform(m: m, r: r)
            let g = (0..<r).map { _ in Double.random(in: -1...1) }, d = (0..<t.alpha).map { _ in Double.random(in: -1...1) }
            let gg = (0..<t.alpha).map { i in (0..<r).reduce(0.0) { $0 + Double(t.g[i * r + $1]) * g[$1] } }
            let bd = (0..<t.alpha).map { i in (0..<t.alpha).reduce(0.0) { $0 + Double(t.bt[i * t.alpha + $1]) * d[$1] } }
            for i in 0..<m {
                let y = (0..<t.alpha).reduce(0.0) { $0 + Double(t.at[i * t.alpha + $1]) * gg[$1] * bd[$1] }
                let want = (0..<r).reduce(0.0) { $0 + g[$1] * d[i + $1] }
                XCTAssertEqual(y, want, accuracy: 1e-5, "F(\(m), \(r)) output \(i)")
            }
        }
    }

    /// The C transform against sums in Double, on every instruction set this CPU runs: the
    /// F(4 x 4, 5 x 5) transforms of forward and backward, tiles read from and written to
    /// wider images (row strides), with and without a bias, stored and accumulated, for
    /// channel counts with and without vector tails.
    func testTransformMatchesDoubleSumsOnEveryInstructionSet() {
        defer { for name in ["avx512", "avx2+fma", "baseline"] where seti_choose_instruction_set(name) != 0 { break } }
        let t = WinogradTransform(m: 4, r: 5)
        func transposed(_ m: [Float], _ rows: Int, _ columns: Int) -> [Float] {
            (0..<columns).flatMap { i in (0..<rows).map { j in m[j * columns + i] } }
        }
        let cases: [(String, [Float], Int, Int, [Float], Int, Int)] = [
            ("B^T d B", t.bt, 8, 8, t.bt, 8, 8),
            ("A^T m A", t.at, 4, 8, t.at, 4, 8),
            ("A w A^T", transposed(t.at, 4, 8), 8, 4, transposed(t.at, 4, 8), 8, 4),
            ("G g G^T", t.g, 8, 5, t.g, 8, 5),
        ]
        for path in ["baseline", "avx2+fma", "avx512"] where seti_choose_instruction_set(path) != 0 {
            for (name, left, rowsOut, rowsIn, right, columnsOut, columnsIn) in cases {
                for channels in [1, 16, 21, 32] {
                    for (withBias, accumulate) in [(false, false), (true, false), (false, true)] {
                        let inStride = channels + 3, inRowStride = (columnsIn + 2) * inStride
                        let outStride = channels + 5, outRowStride = (columnsOut + 1) * outStride
                        let input = values.uniform(rowsIn * inRowStride), bias = values.uniform(channels)
                        let before = values.uniform(rowsOut * outRowStride)
                        var out = before
                        var scratch = [Float](repeating: .nan, count: rowsOut * columnsIn * channels)
                        seti_winograd_transform(&out, outRowStride, outStride, input, inRowStride, inStride, left, Int32(rowsOut),
                                                Int32(rowsIn), right, Int32(columnsOut), Int32(columnsIn), Int32(channels),
                                                withBias ? bias : nil, accumulate ? 1 : 0, &scratch)
                        assertTwoSided(out, before: before, input: input, left: left, rowsOut: rowsOut, rowsIn: rowsIn, right: right,
                                       columnsOut: columnsOut, columnsIn: columnsIn, inRowStride: inRowStride, inStride: inStride,
                                       outRowStride: outRowStride, outStride: outStride, channels: channels,
                                       bias: withBias ? bias : nil, accumulate: accumulate,
                                       "\(name), \(path), \(channels) channels, bias \(withBias), accumulate \(accumulate)")
                    }
                }
            }
        }
    }

    /// The straight-line input transforms of F(4 x 4, 5 x 5) (B^T d B, and B dv B^T
    /// accumulated, as the input gradient uses it) against sums in Double, on every
    /// instruction set; and the structure check refuses a B^T whose rows do not pair.
    func testPairedInputTransformMatchesDoubleSumsOnEveryInstructionSet() {
        defer { for name in ["avx512", "avx2+fma", "baseline"] where seti_choose_instruction_set(name) != 0 { break } }
        let bt = WinogradTransform(m: 4, r: 5).bt
        XCTAssertEqual(seti_winograd_bt_is_f4x5(bt), 1)
        var broken = bt
        broken[2 * 8 + 3] += 0.5
        XCTAssertEqual(seti_winograd_bt_is_f4x5(broken), 0, "rows 1 and 2 no longer pair")
        XCTAssertEqual(seti_winograd_bt_is_f4x5(values.uniform(64)), 0, "a dense matrix")
        var nonzero = bt
        nonzero[0 * 8 + 1] = 0.25
        XCTAssertEqual(seti_winograd_bt_is_f4x5(nonzero), 0, "a weight where the straight-line code assumes a zero")
        let b = (0..<8).flatMap { i in (0..<8).map { j in bt[j * 8 + i] } }
        for path in ["baseline", "avx2+fma", "avx512"] where seti_choose_instruction_set(path) != 0 {
            for (transposed, matrix) in [(false, bt), (true, b)] {
                for channels in [8, 32] {
                    let inStride = channels + 8, inRowStride = 10 * inStride, outStride = channels + 16, outRowStride = 9 * outStride
                    let input = values.uniform(8 * inRowStride), before = values.uniform(8 * outRowStride)
                    var out = before
                    var scratch = [Float](repeating: .nan, count: 64 * 8)
                    seti_winograd_input_transform(&out, outRowStride, outStride, input, inRowStride, inStride, bt, transposed ? 1 : 0,
                                                  Int32(channels), transposed ? 1 : 0, &scratch)
                    assertTwoSided(out, before: before, input: input, left: matrix, rowsOut: 8, rowsIn: 8, right: matrix, columnsOut: 8,
                                   columnsIn: 8, inRowStride: inRowStride, inStride: inStride, outRowStride: outRowStride,
                                   outStride: outStride, channels: channels, bias: nil, accumulate: transposed,
                                   "\(path), transposed \(transposed), \(channels) channels")
                }
            }
        }
    }

    /// The straight-line output transforms of F(4 x 4, 5 x 5) (A^T m A plus a bias, and
    /// A w A^T, as the output gradient uses it) against sums in Double, on every instruction
    /// set; and the structure check refuses an A^T whose columns do not pair.
    func testPairedOutputTransformMatchesDoubleSumsOnEveryInstructionSet() {
        defer { for name in ["avx512", "avx2+fma", "baseline"] where seti_choose_instruction_set(name) != 0 { break } }
        let at = WinogradTransform(m: 4, r: 5).at
        XCTAssertEqual(seti_winograd_at_is_f4x5(at), 1)
        var broken = at
        broken[1 * 8 + 4] += 0.5
        XCTAssertEqual(seti_winograd_at_is_f4x5(broken), 0, "columns 3 and 4 no longer pair")
        var nonzero = at
        nonzero[0 * 8 + 7] = 0.25
        XCTAssertEqual(seti_winograd_at_is_f4x5(nonzero), 0, "a weight where the straight-line code assumes a zero")
        let a = (0..<8).flatMap { i in (0..<4).map { j in at[j * 8 + i] } }
        for path in ["baseline", "avx2+fma", "avx512"] where seti_choose_instruction_set(path) != 0 {
            for (transposed, matrix, rows, columns) in [(false, at, 4, 8), (true, a, 8, 4)] {
                for channels in [8, 64] {
                    let inStride = channels + 8, inRowStride = 10 * inStride, outStride = channels + 16, outRowStride = 9 * outStride
                    let input = values.uniform(columns * inRowStride), bias = values.uniform(channels)
                    let before = values.uniform(rows * outRowStride)
                    var out = before
                    var scratch = [Float](repeating: .nan, count: 64 * 8)
                    seti_winograd_output_transform(&out, outRowStride, outStride, input, inRowStride, inStride, at, transposed ? 1 : 0,
                                                   Int32(channels), transposed ? nil : bias, &scratch)
                    assertTwoSided(out, before: before, input: input, left: matrix, rowsOut: rows, rowsIn: columns, right: matrix,
                                   columnsOut: rows, columnsIn: columns, inRowStride: inRowStride, inStride: inStride,
                                   outRowStride: outRowStride, outStride: outStride, channels: channels,
                                   bias: transposed ? nil : bias, accumulate: false, "\(path), transposed \(transposed), \(channels) channels")
                }
            }
        }
    }

    /// The second SETI convolution (32 x 64 pixels, 5 x 5 x 32 -> 64), batch 4: forward,
    /// input and kernel gradients against im2col. Prints the errors the README quotes.
    func testSETIConvolutionMatchesIm2col() throws {
        let s = ConvShape(height: 32, width: 64, inChannels: 32, outChannels: 64, kernel: 5), batch = 4
        let conv = try XCTUnwrap(WinogradConvolution.make(s))
        XCTAssertNil(WinogradConvolution.make(ConvShape(height: 64, width: 128, inChannels: 1, outChannels: 32, kernel: 5)),
                     "one input channel: im2col")
        let x = values.uniform(batch * s.inputSize), kernel = values.uniform(s.patch * s.outChannels).map { $0 * 0.1 }
        let bias = values.uniform(s.outChannels), dout = values.uniform(batch * s.outputSize)
        let workspace = ConvWorkspace([s])
        var direct = [Float](repeating: 0, count: batch * s.outputSize), fast = direct
        var dxDirect = [Float](repeating: 0, count: batch * s.inputSize), dxFast = dxDirect
        var dkDirect = [Float](repeating: 0, count: kernel.count), dkFast = dkDirect, db = [Float](repeating: 0, count: s.outChannels)
        conv2dForward(&direct, x, kernel, bias, batch: batch, s, workspace: workspace)
        conv.forward(&fast, x, kernel, bias, batch: batch, workspace: workspace)
        conv2dBackward(&dxDirect, &dkDirect, &db, dout, x, kernel, batch: batch, s, workspace: workspace)
        conv.backward(&dxFast, &dkFast, dout, x, batch: batch, workspace: workspace)
        func relative(_ a: [Float], _ b: [Float]) -> (max: Double, l2: Double) {
            let scale = Double(b.map(abs).max()!)
            var diff = 0.0, norm = 0.0, largest = 0.0
            for i in a.indices {
                diff += pow(Double(a[i] - b[i]), 2); norm += pow(Double(b[i]), 2)
                largest = max(largest, Double(abs(a[i] - b[i])) / scale)
            }
            return (largest, (diff / norm).squareRoot())
        }
        let errors = [("output", relative(fast, direct)), ("input gradient", relative(dxFast, dxDirect)), ("kernel gradient", relative(dkFast, dkDirect))]
        for (name, e) in errors {
            XCTAssertLessThan(e.l2, 1e-4, "\(name): relative L2 error against im2col")
            XCTAssertLessThan(e.max, 1e-3, "\(name): largest error against im2col, relative to the largest value")
        }
        print("Winograd F(4x4, 5x5) vs im2col, relative L2 / largest: " + errors.map { String(format: "%@ %.1e / %.1e", $0.0, $0.1.l2, $0.1.max) }.joined(separator: ", "))
    }

    /// `out` against sums in Double of left (rowsOut x rowsIn) times the input tile times
    /// right^T (right: columnsOut x columnsIn), plus `bias` and, with `accumulate`, what
    /// `before` held there; and nothing else in `out` changed.
    private func assertTwoSided(
        _ out: [Float], before: [Float], input: [Float], left: [Float], rowsOut: Int, rowsIn: Int, right: [Float],
        columnsOut: Int, columnsIn: Int, inRowStride: Int, inStride: Int, outRowStride: Int, outStride: Int, channels: Int,
        bias: [Float]?, accumulate: Bool, _ label: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        var written = Set<Int>()
        for i in 0..<rowsOut {
            for j in 0..<columnsOut {
                for c in 0..<channels {
                    let at = i * outRowStride + j * outStride + c
                    var want = (bias.map { Double($0[c]) } ?? 0) + (accumulate ? Double(before[at]) : 0), scale = 1.0
                    for k in 0..<rowsIn {
                        for l in 0..<columnsIn {
                            let term = Double(left[i * rowsIn + k]) * Double(input[k * inRowStride + l * inStride + c])
                                * Double(right[j * columnsIn + l])
                            want += term
                            scale += abs(term)
                        }
                    }
                    written.insert(at)
                    XCTAssertEqual(Double(out[at]), want, accuracy: 1e-6 * scale, "\(label) [\(i)][\(j)][\(c)]", file: file, line: line)
                }
            }
        }
        let touched = out.indices.filter { !written.contains($0) && out[$0] != before[$0] }
        XCTAssertEqual(touched, [], "\(label): written outside the tile", file: file, line: line)
    }
}
