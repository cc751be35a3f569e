import Foundation
import SetiRandom
import SetiTraining
import XCTest

/// Issue 30.2: the calibration recovers a known over-confidence (as a temperature, and as
/// the matrix I / T), mends a class-dependent one that no temperature can, lowers the
/// expected calibration error on held-out samples under 0.03, sets scan's threshold at
/// the stated false-alarm rate on noise, and refuses damaged values.
final class CalibrationTests: XCTestCase {
    /// Labels drawn from softmax(z / trueT), probabilities reported as softmax(z): a model
    /// over-confident by trueT.
    private func overConfident(trueT: Double, count: Int, k: Int = 4, seed: UInt64 = 3) -> (probabilities: [Float], labels: [Int32]) {
        var rng = SplitMix64(seed: seed)
        var probabilities: [Float] = [], labels: [Int32] = []
        for _ in 0..<count {
            let z = (0..<k).map { _ in 6 * rng.uniform01() }
            func softmax(_ v: [Double]) -> [Double] { let m = v.max()!; let e = v.map { exp($0 - m) }; let s = e.reduce(0, +); return e.map { $0 / s } }
            let truth = softmax(z.map { $0 / trueT })
            var u = rng.uniform01(), label = k - 1
            for c in 0..<k { u -= truth[c]; if u < 0 { label = c; break } }
            labels.append(Int32(label))
            probabilities += softmax(z).map(Float.init)
        }
        return (probabilities, labels)
    }

    func testTheFittedTemperatureUndoesAKnownOverConfidence() throws {
        let (probabilities, labels) = overConfident(trueT: 2.5, count: 6000)
        let calibration = Calibration.fit(probabilities: probabilities, labels: labels, classes: 4, noiseClass: 2)
        XCTAssertEqual(calibration.temperature, 2.5, accuracy: 0.3)
        XCTAssertLessThan(calibration.errorAfter, calibration.errorBefore / 2)
        XCTAssertLessThan(calibration.errorAfter, 0.03, "ECE <= 0.03, the issue's goal, on a well-specified model")
        // The matrix is I / T up to a constant per column (which the softmax ignores).
        let matrix = try XCTUnwrap(calibration.matrix)
        for r in 0..<4 {
            for c in 0..<4 where c != r { XCTAssertEqual(matrix[r * 4 + c] - matrix[c * 4 + c] + 1 / 2.5, matrix[r * 4 + c], accuracy: 0.1) }
            XCTAssertEqual(matrix[r * 4 + r] - matrix[((r + 1) % 4) * 4 + r], 1 / 2.5, accuracy: 0.1, "row \(r)")
        }
        var scaled = probabilities
        calibration.apply(&scaled, classes: 4)
        var kept = 0
        for i in 0..<labels.count {
            let raw = probabilities[(4 * i)..<(4 * i + 4)], new = scaled[(4 * i)..<(4 * i + 4)]
            if raw.indices.max(by: { raw[$0] < raw[$1] })! == new.indices.max(by: { new[$0] < new[$1] })! { kept += 1 }
            XCTAssertEqual(Double(new.reduce(0, +)), 1, accuracy: 1e-5)
        }
        XCTAssertGreaterThan(Double(kept) / Double(labels.count), 0.93, "a uniform over-confidence leaves the predictions but near ties")
        // A calibrated model is left alone.
        let (fair, fairLabels) = overConfident(trueT: 1, count: 6000, seed: 9)
        XCTAssertEqual(Calibration.fit(probabilities: fair, labels: fairLabels, classes: 4, noiseClass: nil).temperature, 1, accuracy: 0.15)
    }

    /// Over-confident in class 0 and under-confident in class 1, as a model trained on
    /// several generators is: the reported logits are the true ones with class 0's raised
    /// and class 1's divided by 3. One temperature cannot mend it; the matrix does, on samples
    /// it was not fitted on.
    func testTheMatrixMendsAClassDependentMiscalibration() throws {
        func skewed(count: Int, seed: UInt64) -> (probabilities: [Float], labels: [Int32]) {
            var rng = SplitMix64(seed: seed)
            var probabilities: [Float] = [], labels: [Int32] = []
            func softmax(_ v: [Double]) -> [Double] { let m = v.max()!; let e = v.map { exp($0 - m) }; let s = e.reduce(0, +); return e.map { $0 / s } }
            for _ in 0..<count {
                let z = (0..<4).map { _ in 5 * rng.uniform01() }
                let truth = softmax(z)
                var u = rng.uniform01(), label = 3
                for c in 0..<4 { u -= truth[c]; if u < 0 { label = c; break } }
                labels.append(Int32(label))
                probabilities += softmax([z[0] + 2.5, z[1] / 3, z[2], z[3]]).map(Float.init)
            }
            return (probabilities, labels)
        }
        let fit = skewed(count: 4000, seed: 5), held = skewed(count: 4000, seed: 6)
        var calibration = Calibration.fit(probabilities: fit.probabilities, labels: fit.labels, classes: 4, noiseClass: 2)
        calibration.measure(probabilities: held.probabilities, labels: held.labels, classes: 4)
        var temperatureOnly = calibration
        (temperatureOnly.matrix, temperatureOnly.bias) = (nil, nil)
        temperatureOnly.measure(probabilities: held.probabilities, labels: held.labels, classes: 4)
        XCTAssertGreaterThan(temperatureOnly.errorAfter, 0.05, "one temperature leaves it: \(temperatureOnly)")
        XCTAssertLessThan(calibration.errorAfter, 0.03, "\(calibration)")
        XCTAssertLessThan(calibration.errorAfter, calibration.errorBefore / 2)
    }

    func testDamagedCalibrationsAreNamed() {
        var c = Calibration.fit(probabilities: [0.7, 0.3, 0.2, 0.8], labels: [0, 1], classes: 2, noiseClass: nil)
        XCTAssertNil(c.matrix, "2 samples fit the temperature alone")
        (c.matrix, c.bias) = ([1, 0, 0, 1], [0, 0])
        XCTAssertNil(c.problem(classes: 2))
        XCTAssertNotNil(c.problem(classes: 3), "a matrix for 2 classes on a 3-class model")
        c.matrix![1] = .nan
        XCTAssertEqual(c.problem(classes: 2), "matrix or bias holds a value that is not finite")
        var raw: [Float] = [0.7, 0.3]
        c.apply(&raw, classes: 2)
        XCTAssertEqual(raw, [0.7, 0.3], "an unusable calibration is not applied")
        c.matrix = nil
        XCTAssertNotNil(c.problem(classes: 2), "a bias without its matrix")
        c.bias = nil
        c.temperature = -1
        XCTAssertEqual(c.problem(classes: 2), "temperature -1.0: allowed a finite number above 0")
    }

    func testTheNoiseThresholdHoldsTheFalseAlarmRate() throws {
        let (probabilities, labels) = overConfident(trueT: 1.5, count: 4000)
        let calibration = Calibration.fit(probabilities: probabilities, labels: labels, classes: 4, noiseClass: 2)
        let threshold = try XCTUnwrap(calibration.noiseThreshold)
        var scaled = probabilities
        calibration.apply(&scaled, classes: 4)
        let noise = labels.indices.filter { labels[$0] == 2 }
        let alarms = noise.filter { 1 - Double(scaled[$0 * 4 + 2]) >= threshold }.count
        XCTAssertLessThanOrEqual(Double(alarms), Double(noise.count) * Calibration.falseAlarmRate)
        XCTAssertGreaterThan(threshold, 0)
        XCTAssertNil(Calibration.fit(probabilities: probabilities, labels: labels, classes: 4, noiseClass: nil).noiseThreshold)
    }

    func testExpectedCalibrationErrorOfPerfectAndWorstPredictions() {
        XCTAssertEqual(Calibration.expectedCalibrationError([1, 0, 0, 1], labels: [0, 1], classes: 2), 0, accuracy: 1e-12)
        XCTAssertEqual(Calibration.expectedCalibrationError([1, 0, 1, 0], labels: [1, 1], classes: 2), 1, accuracy: 1e-12)
    }
}
