import SetiData
@testable import SetiTraining
import XCTest

/// The Keras callbacks' decisions, epoch by epoch.
final class CallbackTests: XCTestCase {
    private func record(loss: Double = 1, accuracy: Double = 0.5, valLoss: Double, valAccuracy: Double) -> EpochRecord {
        EpochRecord(epoch: 1, step: 1, loss: loss, accuracy: accuracy, val_loss: valLoss, val_accuracy: valAccuracy,
                    lr: 0.001, seconds: 1, samples_per_second: 1)
    }

    func testValAccuracyMonitorKeepsTheHighestAccuracyNotTheHighestLoss() {
        var config = TrainConfig()
        config.monitor = .valAccuracy
        var monitor = CallbackState(config).best
        XCTAssertTrue(monitor.update(record(valLoss: 0.9, valAccuracy: 0.6)))
        XCTAssertFalse(monitor.update(record(valLoss: 1.5, valAccuracy: 0.5)), "a worse accuracy with a higher loss is not better")
        XCTAssertTrue(monitor.update(record(valLoss: 1.0, valAccuracy: 0.7)))
        XCTAssertEqual(monitor.best, 0.7)
    }

    func testValLossMonitorMinimizesAndMinDeltaIsRespected() {
        var monitor = MetricMonitor(monitor: .valLoss, maximizes: false, minDelta: 0.05)
        XCTAssertTrue(monitor.update(record(valLoss: 1.0, valAccuracy: 0.1)))
        XCTAssertFalse(monitor.update(record(valLoss: 0.97, valAccuracy: 0.1)), "within min_delta")
        XCTAssertEqual(monitor.wait, 1)
        XCTAssertTrue(monitor.update(record(valLoss: 0.9, valAccuracy: 0.1)))
        XCTAssertEqual(monitor.wait, 0)
        XCTAssertFalse(monitor.update(record(valLoss: .nan, valAccuracy: 0.1)), "NaN never improves")
    }

    func testEarlyStoppingAfterPatienceEpochsWithoutImprovement() {
        var config = TrainConfig()
        config.earlyStoppingPatience = 2
        var state = CallbackState(config)
        _ = state.best.update(record(valLoss: 1.0, valAccuracy: 0.5))
        _ = state.best.update(record(valLoss: 1.1, valAccuracy: 0.5))
        XCTAssertFalse(state.shouldStop)
        _ = state.best.update(record(valLoss: 1.2, valAccuracy: 0.5))
        XCTAssertTrue(state.shouldStop)
        config.earlyStoppingPatience = 0
        state = CallbackState(config)
        for _ in 0..<10 { _ = state.best.update(record(valLoss: 2, valAccuracy: 0)) }
        XCTAssertFalse(state.shouldStop, "patience 0 is off")
    }

    func testPlateauReducesAfterPatienceAndCountsAgain() {
        var plateau = ReduceLROnPlateau(patience: 2, factor: 0.5)
        XCTAssertFalse(plateau.update(valLoss: 1.0))
        XCTAssertFalse(plateau.update(valLoss: 1.0))
        XCTAssertTrue(plateau.update(valLoss: 0.99995), "an improvement under 1e-4 does not count")
        XCTAssertEqual(plateau.scale, 0.5)
        XCTAssertFalse(plateau.update(valLoss: 0.5))
        XCTAssertEqual(plateau.scale, 0.5)
        var off = ReduceLROnPlateau(patience: 0, factor: 0.5)
        for _ in 0..<5 { XCTAssertFalse(off.update(valLoss: 3)) }
    }

    func testCallbackStateSurvivesACheckpointRoundTrip() throws {
        var state = CallbackState(TrainConfig())
        _ = state.best.update(record(valLoss: 0.8, valAccuracy: 0.7))
        _ = state.plateau.update(valLoss: 0.8)
        let decoded = try JSONDecoder().decode(CallbackState.self, from: JSONLines.encode(state))
        XCTAssertEqual(decoded, state)
    }
}

/// Backward hands over contiguous ranges, last layer first; buckets group them.
final class GradientBucketTests: XCTestCase {
    func testRangesGroupIntoBucketsOfTheMinimumSizeAndTheRestAtTheStart() {
        var buckets = GradientBuckets(minimumFloats: 100)
        XCTAssertNil(buckets.add(950..<1000))
        XCTAssertEqual(buckets.add(880..<950), 880..<1000, "120 floats: full")
        XCTAssertNil(buckets.add(800..<880))
        XCTAssertEqual(buckets.add(700..<800), 700..<880, "exactly at the boundary: 180 >= 100")
        XCTAssertNil(buckets.add(650..<700))
        XCTAssertEqual(buckets.add(0..<650), 0..<700, "the range that reaches 0 releases the bucket")
        XCTAssertNil(buckets.takeRest(), "nothing left")
    }

    func testTakeRestReleasesAPartialBucket() {
        var buckets = GradientBuckets(minimumFloats: 1 << 20)
        XCTAssertNil(buckets.add(10..<20))
        XCTAssertNil(buckets.add(5..<10))
        XCTAssertEqual(buckets.takeRest(), 5..<20)
        XCTAssertNil(buckets.takeRest())
    }

    func testOneRangeLargerThanTheMinimumIsItsOwnBucket() {
        var buckets = GradientBuckets(minimumFloats: 10)
        XCTAssertEqual(buckets.add(100..<1000), 100..<1000)
        XCTAssertEqual(buckets.add(99..<100), nil)
        XCTAssertEqual(buckets.add(0..<99), 0..<100)
    }
}

/// The report against numbers worked out by hand (scikit-learn gives the same).
final class ClassificationReportTests: XCTestCase {
    func testScoresMatchHandComputedValues() {
        var evaluation = Evaluation(classes: 3)
        // rows: true, columns: predicted
        evaluation.confusion = [[5, 1, 0], [2, 3, 1], [0, 0, 4]]
        evaluation.count = 16
        let scores = evaluation.scores(classNames: ["a", "b", "c"])
        XCTAssertEqual(scores[0].precision, 5.0 / 7, accuracy: 1e-12)
        XCTAssertEqual(scores[0].recall, 5.0 / 6, accuracy: 1e-12)
        XCTAssertEqual(scores[1].precision, 3.0 / 4, accuracy: 1e-12)
        XCTAssertEqual(scores[1].recall, 0.5, accuracy: 1e-12)
        XCTAssertEqual(scores[2].precision, 0.8, accuracy: 1e-12)
        XCTAssertEqual(scores[2].f1, 2 * 0.8 / 1.8, accuracy: 1e-12)
        XCTAssertEqual(scores.map(\.support), [6, 6, 4])
        XCTAssertEqual(evaluation.accuracy, 12.0 / 16)
        let report = evaluation.report(classNames: ["a", "b", "c"])
        XCTAssertTrue(report.contains("           a      0.71      0.83      0.77         6"), report)
        XCTAssertTrue(report.contains("    accuracy                          0.75        16"), report)
        XCTAssertTrue(report.contains("   macro avg      0.75      0.78      0.75        16"), report)
    }

    func testAClassNeverPredictedScoresZeroNotNaN() {
        var evaluation = Evaluation(classes: 2)
        evaluation.confusion = [[3, 0], [2, 0]]
        evaluation.count = 5
        let scores = evaluation.scores(classNames: ["x", "y"])
        XCTAssertEqual(scores[1].precision, 0)
        XCTAssertEqual(scores[1].f1, 0)
    }
}

/// Injection-recovery statistics against counts worked out by hand.
final class SensitivityReportTests: XCTestCase {
    func testRecallPerSNRBinAndTheFaintestThird() {
        func p(_ name: String, _ snr: Double, drift: Double = 0) -> SignalParameters {
            var p = SignalParameters(className: name, averagedSpectra: 8)
            p.snr = snr
            p.drift = drift
            return p
        }
        let names = ["squiggle", "narrowband", "noise"]
        let labels: [Int32] = [0, 0, 0, 1, 1, 1, 2, 2]
        let parameters = [p("squiggle", 1.2), p("squiggle", 1.4), p("squiggle", 9), p("narrowband", 1.1), p("narrowband", 5, drift: 0.3),
                          p("narrowband", 5, drift: -0.9), p("noise", 0), p("noise", 0)]
        let predicted = [2, 0, 0, 2, 1, 0, 2, 1]
        let report = SensitivityReport(classNames: names, labels: labels, predicted: predicted, parameters: parameters)
        let squiggle = report.curves[0].bySNR, narrowband = report.curves[1]
        XCTAssertEqual(squiggle[0].samples, 2)
        XCTAssertEqual(squiggle[0].recall, 0.5)
        XCTAssertEqual(squiggle.last?.recall, 1)
        XCTAssertEqual(narrowband.bySNR[4].samples, 2, "4-6")
        XCTAssertEqual(narrowband.bySNR[4].recall, 0.5)
        XCTAssertEqual(narrowband.byTrackShape[2].recall, 1, "|drift| 0.25-0.5 found")
        XCTAssertEqual(narrowband.byTrackShape.last?.recall, 0, "|drift| >= 0.75 missed")
        XCTAssertEqual(report.noiseRecall, 0.5)
        XCTAssertEqual(report.faintThirdRecall, 0, "the two faintest of six signals (1.1 and 1.2) were both missed")
        XCTAssertEqual(report.faintThirdBelow, 1.2)
        XCTAssertNil(squiggle.last?.high, "the last bin is open")
        XCTAssertNoThrow(try JSONLines.encode(report))
        XCTAssertTrue(report.table.contains("faintest third of the signals (SNR < 1.20): recall 0.000"), report.table)
    }
}
