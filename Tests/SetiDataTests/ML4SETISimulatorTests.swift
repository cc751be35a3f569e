import Foundation
import SetiRandom
import XCTest
@testable import SetiData

/// The ML4SETI-faithful generator against the physics of seti_signal_sim's DataSimulator.
final class ML4SETISimulatorTests: XCTestCase {
    /// Every class draws inside the published ranges (spark/signaldef, primary set).
    func testSignalsAreDrawnFromThePublishedRanges() {
        var simulator = ML4SETISimulator(seed: 9)
        simulator.basicShare = 0
        for i in 0..<200 {
            var rng = SplitMix64(seed: UInt64(i))
            let nb = simulator.drawSignal(.narrowband, rng: &rng)
            XCTAssertTrue((0.05...0.4).contains(nb.snr) && abs(nb.drift) <= 0.0075 && nb.squiggle == 0 && nb.modulation == .none)
            XCTAssertTrue(abs(nb.phaseStep) <= 120 / 180 * Double.pi + 1e-12)
            let drd = simulator.drawSignal(.narrowbanddrd, rng: &rng)
            XCTAssertTrue((0.01...0.08).contains(abs(drd.driftRateDerivative)))
            let squiggle = simulator.drawSignal(.squiggle, rng: &rng)
            XCTAssertTrue((0.1...0.5).contains(squiggle.snr) && (0.0001...0.005).contains(squiggle.squiggle))
            let pixel = simulator.drawSignal(.brightpixel, rng: &rng)
            guard case .brightPixel(let duty) = pixel.modulation else { return XCTFail("brightpixel without its burst") }
            XCTAssertTrue((0.25 / 32...1.0 / 32).contains(duty))
            let pulsed = simulator.drawSignal(.squarepulsednarrowband, rng: &rng)
            guard case .square(let period, let on) = pulsed.modulation else { return XCTFail("no square wave") }
            XCTAssertTrue((5 * 6144...15 * 6144).contains(period) && (0.05...0.9).contains(on))
            XCTAssertEqual(simulator.drawSignal(.noise, rng: &rng).snr, 0)
        }
        simulator.basicShare = 1
        for i in 0..<100 {
            var rng = SplitMix64(seed: UInt64(i))
            let nb = simulator.drawSignal(.narrowband, rng: &rng)
            XCTAssertTrue((0.2...0.3).contains(nb.snr) && abs(nb.drift) <= 0.004)
            XCTAssertTrue((0.005...0.01).contains(abs(simulator.drawSignal(.narrowbanddrd, rng: &rng).driftRateDerivative)))
            XCTAssertTrue((0.001...0.01).contains(simulator.drawSignal(.squiggle, rng: &rng).squiggle))
            XCTAssertTrue((0.05...0.75).contains(simulator.drawSignal(.brightpixel, rng: &rng).snr), "no basic range: primary's")
        }
    }

    /// The frequency turns by drift / 1024 radians per sample, so per 512-sample row it
    /// moves drift / 1024 x 512 x 512 / 2 pi bins; with a drift-rate derivative the
    /// change itself grows linearly.
    func testTheTrackDriftsAsTheOriginalsPhasorDoes() {
        var signal = ML4SETISimulator.Signal(signalClass: .narrowband)
        signal.snr = 0.3
        signal.drift = 0.006
        signal.phaseStep = 0.2
        var rng = SplitMix64(seed: 1)
        let (_, track) = ML4SETISimulator.timeSeries(signal, rng: &rng)
        XCTAssertEqual(track.count, 384)
        let perRow = 0.006 / 1024 * 512 * 512 / (2 * Double.pi)
        XCTAssertEqual(track[0], 0.2 * 512 / (2 * Double.pi), accuracy: 1e-6)
        for r in [1, 100, 200] { XCTAssertEqual(track[r + 1] - track[r], perRow, accuracy: 1e-6) }

        signal.signalClass = .narrowbanddrd
        signal.driftRateDerivative = 0.05
        var again = SplitMix64(seed: 1)
        let (_, bent) = ML4SETISimulator.timeSeries(signal, rng: &again)
        let growth = 0.05 / 1_000_000 / 1024 * 512 * 512 * 512 / (2 * Double.pi)
        let slopeChange = (bent[301] - bent[300]) - (bent[101] - bent[100])
        XCTAssertEqual(slopeChange, 200 * growth, accuracy: 1e-3 * abs(200 * growth))
    }

    /// Noise is Gaussian of the drawn level, truncated to int8 as Java's cast does; a
    /// bright pixel is on for its burst only.
    func testNoiseLevelAndTheBrightPixelsBurst() {
        var signal = ML4SETISimulator.Signal(signalClass: .noise)
        signal.noiseSigma = 13
        var rng = SplitMix64(seed: 2)
        let (noise, _) = ML4SETISimulator.timeSeries(signal, rng: &rng)
        let values = noise.map(Double.init)
        let mean = values.reduce(0, +) / Double(values.count)
        let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
        XCTAssertEqual(mean, 0, accuracy: 0.1)
        // Truncation toward zero shrinks each value by about half a step.
        XCTAssertEqual(std, 12.5, accuracy: 0.3)

        signal = ML4SETISimulator.Signal(signalClass: .brightpixel)
        signal.noiseSigma = 0.0001
        signal.snr = 0.75
        signal.modulation = .brightPixel(duty: 1.0 / 32)
        signal.modulationPhase = 0.5
        var quiet = SplitMix64(seed: 3)
        let (burst, _) = ML4SETISimulator.timeSeries(signal, rng: &quiet)
        let loud = stride(from: 0, to: burst.count, by: 2).filter { burst[$0] != 0 || burst[$0 + 1] != 0 }.map { $0 / 2 }
        XCTAssertEqual(Double(loud.first!), 0.5 * 196_608, accuracy: 1)
        XCTAssertEqual(Double(loud.last!), (0.5 + 1.0 / 32) * 196_608, accuracy: 1)
    }

    /// A simulated set is a pure function of the seed: redrawing a subset (as one rank of
    /// several does) gives the bytes generating everything gives, and the .dat round trip
    /// gives the same spectrogram.
    func testSamplesDoNotDependOnWhoDrawsThem() throws {
        var simulator = Simulator(seed: 4, classes: SignalClass.extended)
        simulator.generator = .ml4seti
        let all = simulator.generate(perClass: 3, split: .train)
        var part = all
        part.images = [Float](repeating: 0, count: all.images.count)
        simulator.redraw(&part, indices: [2, 5, 20], perClass: 3, split: .train, round: 0)
        for i in [2, 5, 20] { XCTAssertEqual(part.images[(i * 8192)..<((i + 1) * 8192)], all.images[(i * 8192)..<((i + 1) * 8192)]) }
        XCTAssertTrue(all.images.allSatisfy { (0...1).contains($0) })

        let (file, _, _) = ML4SETISimulator(seed: 5).file(.squiggle, index: 1)
        let read = try ML4SETIFile(data: file.data, file: "sim.dat")
        XCTAssertEqual(read.samples, file.samples)
    }

    /// The image model's smooth backgrounds draw Gamma(K, 1/K) for many spectra a pixel:
    /// its mean 1 and variance 1 / K, as the sum of K exponentials it stands for.
    func testGammaDrawsHaveTheChiSquaredMoments() {
        var rng = SplitMix64(seed: 11)
        for shape in [17.0, 64, 512] {
            let draws = (0..<40_000).map { _ in rng.gamma(shape: shape) / shape }
            let mean = draws.reduce(0, +) / Double(draws.count)
            let variance = draws.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(draws.count)
            XCTAssertEqual(mean, 1, accuracy: 0.01, "K = \(shape)")
            XCTAssertEqual(variance * shape, 1, accuracy: 0.05, "K = \(shape)")
        }
    }

    /// `simulate --dat`: each sample's .dat file reads back to the very spectrogram the set
    /// holds (so ibmseti can be run on the same series: scripts/check-ml4seti.py --files).
    func testEachSampleIsADatFileWhoseSpectrogramItHolds() throws {
        var simulator = Simulator(seed: 6)
        simulator.generator = .ml4seti
        let set = simulator.generate(perClass: 2, split: .validation)
        let fft = RowPowerSpectra(rows: ML4SETIFile.rows, length: ML4SETIFile.columns)
        for i in 0..<set.count {
            let file = try ML4SETIFile(data: simulator.ml4setiFile(sample: i, perClass: 2, split: .validation).data, file: "\(i).dat")
            XCTAssertEqual(file.signalClass?.rawValue, set.classNames[Int(set.labels[i])])
            var image = [Float](repeating: 0, count: 8192)
            image.withUnsafeMutableBufferPointer { file.spectrogram(using: fft, into: $0.baseAddress!) }
            XCTAssertEqual(image, Array(set.images[(i * 8192)..<((i + 1) * 8192)]), "sample \(i)")
        }
    }
}
