import Foundation
import SetiObservations
import SetiRandom
import XCTest

/// Issue 30.1: tracks measured on known slopes, and the rule that merges windows into hits.
final class HitsTests: XCTestCase {
    /// Chi-squared-like noise (mean 10) with a track of `amplitude` from `start`, drifting
    /// `slope` channels a step, `steps` x 128.
    private func power(steps: Int, start: Double, slope: Double, amplitude: Float, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        var values = (0..<(steps * 128)).map { _ -> Float in Float(10 * -log(max(1e-12, rng.uniform01())) / 2 + 10 * -log(max(1e-12, rng.uniform01())) / 2) }
        for t in 0..<steps {
            let c = Int((start + slope * Double(t)).rounded())
            if (0..<128).contains(c) { values[t * 128 + c] += amplitude }
        }
        return values
    }

    func testDriftWithinOneChannelOverTheObservationForBrightTracks() {
        var rng = SplitMix64(seed: 30)
        var within = 0
        let trials = 200
        for trial in 0..<trials {
            let steps = trial % 2 == 0 ? 16 : 64
            let slope = (rng.uniform01() * 2 - 1) * (steps == 16 ? 4 : 1.5)
            // Inside the window from the first step to the last.
            let span = slope * Double(steps - 1)
            let low = max(1, 1 - span), high = min(126, 126 - span)
            let start = low + rng.uniform01() * (high - low)
            // An amplitude that integrates to SNR 30 over the steps (noise deviation ~7).
            let amplitude = Float(30 * 7 / Double(steps).squareRoot())
            let track = Track.find(in: power(steps: steps, start: start, slope: slope, amplitude: amplitude, seed: UInt64(trial)), steps: steps, width: 128)
            XCTAssertGreaterThan(track.snr, 20, "trial \(trial)")
            if abs(track.channelsPerStep - slope) * Double(steps) <= 1 { within += 1 }
            XCTAssertEqual(track.startChannel, start, accuracy: 1.5, "trial \(trial)")
        }
        XCTAssertGreaterThanOrEqual(Double(within) / Double(trials), 0.95, "drift within one channel over the observation")
    }

    /// scan's --min-snr default (10) keeps pure noise out of hits.csv: the best of the
    /// search's lines through chi-squared noise stays well under it.
    func testPureNoiseStaysUnderTheDefaultHitSNR() {
        for seed in 0..<100 {
            let track = Track.find(in: power(steps: 16, start: 0, slope: 0, amplitude: 0, seed: UInt64(1000 + seed)), steps: 16, width: 128)
            XCTAssertLessThan(track.snr, 10, "seed \(seed)")
        }
    }

    func testSNRGrowsWithTheTrackAndIsSmallInNoise() {
        let noise = Track.find(in: power(steps: 16, start: 0, slope: 0, amplitude: 0, seed: 1), steps: 16, width: 128)
        let faint = Track.find(in: power(steps: 16, start: 60, slope: 1, amplitude: 15, seed: 1), steps: 16, width: 128)
        let bright = Track.find(in: power(steps: 16, start: 60, slope: 1, amplitude: 60, seed: 1), steps: 16, width: 128)
        XCTAssertLessThan(noise.snr, faint.snr)
        XCTAssertLessThan(faint.snr, bright.snr)
        XCTAssertGreaterThan(bright.snr, 3 * faint.snr * 0.8)
        let flat = Track.find(in: [Float](repeating: 5, count: 16 * 128), steps: 16, width: 128)
        XCTAssertTrue(flat.snr.isFinite && flat.channelsPerStep.isFinite, "a constant window: no NaN")
    }

    /// Any shape and any finite values: a track with finite numbers, never a trap (a track
    /// at the window's edge once made an empty channel range).
    func testAnyWindowGivesAFiniteTrack() {
        var rng = SplitMix64(seed: 11)
        for trial in 0..<300 {
            let steps = 1 + Int(rng.next() % 70), width = 1 + Int(rng.next() % 130)
            let kind = trial % 3
            let values = (0..<(steps * width)).map { i -> Float in
                kind == 0 ? Float(rng.uniform01() * 100) : kind == 1 ? (i % width == width - 1 ? 1000 : 1) : Float(i % 7) * 1e30
            }
            let track = Track.find(in: values, steps: steps, width: width)
            XCTAssertTrue(track.startChannel.isFinite && track.channelsPerStep.isFinite && track.snr.isFinite, "\(steps) x \(width), kind \(kind): \(track)")
        }
    }

    private func detection(_ window: Int, channel: Int, timeStep: Int = 0, start: Double, p: Double) -> Detection {
        Detection(window: window, classIndex: 1, probability: p, channel: channel, timeStep: timeStep,
                  track: Track(startChannel: start, channelsPerStep: 0.5, snr: 30))
    }

    func testOverlappingWindowsOfOneTrackAreOneHit() {
        // Windows at channels 0 and 64 (overlap 64) both see the track at channel 100.
        let same = [detection(0, channel: 0, start: 100, p: 0.9), detection(1, channel: 64, start: 36.5, p: 0.95)]
        let hits = Hits.merge(same, windowWidth: 128)
        XCTAssertEqual(hits.count, 1)
        XCTAssertEqual(hits[0].windows, 2)
        XCTAssertEqual(hits[0].best.window, 1, "the most probable window represents the hit")
        // Two tracks 20 channels apart in overlapping windows: two hits.
        XCTAssertEqual(Hits.merge([detection(0, channel: 0, start: 100, p: 0.9), detection(1, channel: 64, start: 56, p: 0.9)], windowWidth: 128).count, 2)
        // The same channel in another time block, or windows that do not overlap: two hits.
        XCTAssertEqual(Hits.merge([detection(0, channel: 0, start: 100, p: 0.9), detection(1, channel: 0, timeStep: 64, start: 100, p: 0.9)], windowWidth: 128).count, 2)
        XCTAssertEqual(Hits.merge([detection(0, channel: 0, start: 127, p: 0.9), detection(1, channel: 128, start: -1, p: 0.9)], windowWidth: 128).count, 2)
    }

    func testTheMergeDoesNotDependOnTheOrderDetectionsArrive() {
        var rng = SplitMix64(seed: 7)
        let detections = (0..<60).map { i in
            detection(i, channel: (i / 2) * 64, timeStep: (i % 2) * 64, start: rng.uniform01() * 128, p: Double(i % 7) / 10 + 0.3)
        }
        let reference = Hits.merge(detections, windowWidth: 128)
        for seed in 0..<5 {
            var shuffled = detections
            var r = SplitMix64(seed: UInt64(seed))
            for i in stride(from: shuffled.count - 1, to: 0, by: -1) { shuffled.swapAt(i, Int(r.next() % UInt64(i + 1))) }
            XCTAssertEqual(Hits.merge(shuffled, windowWidth: 128), reference)
        }
    }
}
