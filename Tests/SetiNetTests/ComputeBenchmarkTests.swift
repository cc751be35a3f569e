@testable import SetiNet
import XCTest

/// `bench compute`'s measurements: every figure a finite positive rate, the derived rates
/// consistent with the times, and a time for every layer.
final class ComputeBenchmarkTests: XCTestCase {
    func testFiguresAreFiniteAndConsistent() {
        let bench = ComputeBenchmark(spec: NetworkTests.tiny, batch: 4, repeats: 1, convolutions: .winograd)
        let f = bench.measure(threads: 1)
        for (name, value) in [("peak", f.peakGFLOPs), ("forward", f.forward), ("step", f.step), ("copy", f.copyGBs), ("add", f.addGBs), ("adam", f.adamGBs)] {
            XCTAssertTrue(value.isFinite && value > 0, "\(name) = \(value)")
        }
        let flops = bench.network.flopsPerSample
        XCTAssertEqual(f.stepGFLOPs, 4 * Double(flops.forward + flops.backward) / f.step / 1e9, accuracy: 1e-9 * f.stepGFLOPs)
        let (times, steps, _) = bench.layerTimes()
        XCTAssertEqual(steps, 1)
        XCTAssertEqual(times.names, bench.network.layerNames)
        XCTAssertGreaterThan(times.forward.reduce(0, +), 0)
    }
}
