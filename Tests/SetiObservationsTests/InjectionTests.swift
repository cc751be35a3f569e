import Foundation
import SetiRandom
import XCTest
@testable import SetiData
@testable import SetiObservations
import SetiTestSupport

/// Signals injected into a real observation's quiet windows.
final class InjectionTests: ScratchFolderTestCase {
    override var scratchName: String { "inject" }

    /// 512 channels x 32 steps of chi-squared-like noise; window 2 (channels 256-383)
    /// holds a strong zero-drift line (RFI).
    private func observation(rfi: Bool = true) throws -> URL {
        var header = ObservationHeader()
        (header.firstFrequency, header.fileChannelWidth, header.timeStep, header.startMJD, header.timeSteps, header.channels) = (1400, -2.79e-6, 18.25, 57650.5, 32, 512)
        var rng = SplitMix64(seed: 3)
        var power = (0..<(32 * 512)).map { _ in Float(10 * rng.gamma(shape: 50) / 50) }
        if rfi { for t in 0..<32 { power[t * 512 + 300] += 40 } }
        let url = dir.appendingPathComponent("obs.fil")
        try Filterbank.write(power, header: header, to: url)
        return url
    }

    func testWindowsHoldingASignalAreLeftOut() throws {
        let backgrounds = try Backgrounds(observation: try observation())
        XCTAssertEqual(backgrounds.rejected, 1)
        XCTAssertEqual(backgrounds.windows.count, 3)
        // Ascending channels: the file's channel 300 (descending) is ascending 211, window 1.
        XCTAssertFalse(backgrounds.windows.contains { $0.channel == 128 }, "\(backgrounds.windows.map(\.channel))")
        for window in backgrounds.windows {
            let sorted = window.power.sorted()
            XCTAssertEqual(sorted[sorted.count / 2], 1, accuracy: 1e-9, "scaled to a median of 1")
            XCTAssertEqual(window.noiseStd, (2.0 / 100).squareRoot(), accuracy: 0.03, "chi-squared with 100 dof about 1")
        }
    }

    /// Injected samples: noise windows stay as quiet as the background, signal windows hold
    /// the track; every sample is a function of the seed whoever draws it.
    func testInjectedSamplesCarryTheirSignalsOnTheRealBackground() throws {
        var simulator = Simulator(seed: 5)
        simulator.generator = .injection
        simulator.backgrounds = try Backgrounds(observation: try observation())
        simulator.snr = 8...8
        let (set, parameters) = simulator.generateWithParameters(perClass: 6, split: .train)
        XCTAssertEqual(set.count, 24)
        XCTAssertTrue(set.images.allSatisfy { (0...1).contains($0) })
        for (i, p) in parameters.enumerated() {
            XCTAssertEqual(p.shift, "background")
            XCTAssertEqual(p.className == "noise", p.snr == 0, "sample \(i)")
        }
        // A narrowband track (start + drift x row, in pixels) is darker than its image.
        for i in 6..<12 {
            let image = Array(set.images[(i * 8192)..<((i + 1) * 8192)]), p = parameters[i]
            let track = (0..<64).map { r in image[r * 128 + min(127, max(0, Int((p.startFrequency + p.drift * Double(r)).rounded())))] }
            let trackMean = track.reduce(0, +) / 64, imageMean = image.reduce(0, +) / 8192
            XCTAssertLessThan(trackMean, imageMean - 0.15, "sample \(i): \(p)")
        }
        // parameters.csv round trip: a real background's spectra count is unknown (0).
        try DataFolder.writeParameters(parameters, as: .train, to: dir)
        XCTAssertEqual(try DataFolder.loadParameters(.train, from: dir, count: set.count), parameters.map {
            var p = $0
            (p.snr, p.drift, p.curvature, p.width) = ((p.snr * 1e4).rounded() / 1e4, (p.drift * 1e4).rounded() / 1e4, (p.curvature * 1e4).rounded() / 1e4, (p.width * 1e4).rounded() / 1e4)
            p.startFrequency = (p.startFrequency * 100).rounded() / 100
            return p
        })
        var again = set
        again.images = [Float](repeating: 0, count: set.images.count)
        simulator.redraw(&again, indices: [7, 20], perClass: 6, split: .train, round: 0)
        XCTAssertEqual(again.images[(7 * 8192)..<(8 * 8192)], set.images[(7 * 8192)..<(8 * 8192)])
    }

    func testAnObservationWithoutAQuietWindowIsOneLine() throws {
        var header = ObservationHeader()
        (header.firstFrequency, header.fileChannelWidth, header.timeStep, header.timeSteps, header.channels) = (1400, 1e-6, 18, 16, 128)
        let url = dir.appendingPathComponent("busy.fil")
        var power = [Float](repeating: 10, count: 16 * 128)
        for t in 0..<16 { power[t * 128 + 5] = 1000 }
        try Filterbank.write(power, header: header, to: url)
        XCTAssertThrowsError(try Backgrounds(observation: url)) { XCTAssertTrue("\($0)".contains("busy.fil: no window without a signal to inject into"), "\($0)") }
    }
}
