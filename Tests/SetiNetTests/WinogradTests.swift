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
}
