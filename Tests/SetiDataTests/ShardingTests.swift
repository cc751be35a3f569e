import XCTest
@testable import SetiData

final class ShardingTests: XCTestCase {
    func testRanksCoverTheEpochDisjointlyWithEqualShares() {
        for count in [1, 7, 64, 100, 1001] {
            for ranks in [1, 2, 3, 4, 8] where ranks <= max(1, count) {
                let plans = (0..<ranks).map { EpochPlan(sampleCount: count, ranks: ranks, rank: $0, batchPerRank: 5, seed: 9, epoch: 2) }
                let shards = plans.map(\.shard)
                XCTAssertEqual(Set(shards.map(\.count)).count, 1, "unequal shares for \(count) samples on \(ranks) ranks")
                XCTAssertEqual(Set(shards.flatMap { $0 }), Set(0..<count), "the union is not the epoch")
                let padded = (count + ranks - 1) / ranks * ranks
                XCTAssertEqual(shards.map(\.count).reduce(0, +), padded, "more than ranks - 1 repeats")
                XCTAssertEqual(Set(plans.map(\.steps)).count, 1)
            }
        }
    }

    func testNRanksSeeWhatOneProcessSeesAtNTimesTheBatch() {
        let one = EpochPlan(sampleCount: 50, ranks: 1, rank: 0, batchPerRank: 12, seed: 1, epoch: 0)
        let four = (0..<4).map { EpochPlan(sampleCount: 50, ranks: 4, rank: $0, batchPerRank: 3, seed: 1, epoch: 0) }
        XCTAssertEqual(one.steps, four[0].steps)
        // All but the last step are full; there the 4 ranks pad 50 samples to 52 (see EpochPlan).
        for step in 0..<(one.steps - 1) {
            let parts = four.map { $0.batch(step) }
            XCTAssertEqual(parts.flatMap { Array($0.indices) }, Array(one.batch(step).indices))
            XCTAssertEqual(parts[0].firstPosition, one.batch(step).firstPosition)
        }
    }

    func testShuffleDependsOnEpochAndSeedOnly() {
        let a = EpochPlan(sampleCount: 100, ranks: 2, rank: 0, batchPerRank: 4, seed: 3, epoch: 1)
        XCTAssertEqual(a.order, EpochPlan(sampleCount: 100, ranks: 2, rank: 1, batchPerRank: 8, seed: 3, epoch: 1).order)
        XCTAssertNotEqual(a.order, EpochPlan(sampleCount: 100, ranks: 2, rank: 0, batchPerRank: 4, seed: 3, epoch: 2).order)
        XCTAssertEqual(EpochPlan(sampleCount: 5, ranks: 1, rank: 0, batchPerRank: 2, seed: 3, epoch: 1, shuffle: false).order, [0, 1, 2, 3, 4])
    }

    func testAugmentationIsKeyedBySampleNotByRank() {
        var image = [Float](repeating: 0, count: 64 * 128)
        for f in 0..<128 { image[f] = Float(f) / 128 }  // first row: a ramp
        let aug = Augmentation(horizontalFlip: true, verticalFlip: true, frequencyShift: 0.1, fill: .wrap, noise: 0)
        var a = image, b = image
        aug.apply(image, into: &a, height: 64, width: 128, seed: 5, epoch: 3, sample: 42)
        aug.apply(image, into: &b, height: 64, width: 128, seed: 5, epoch: 3, sample: 42)
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.sorted(), image.sorted(), "flips and a wrapped shift only move pixels")
        // Over many samples both flips happen about half the time.
        var flipped = 0
        let hOnly = Augmentation(horizontalFlip: true)
        for s in 0..<400 {
            var out = image
            hOnly.apply(image, into: &out, height: 64, width: 128, seed: 5, epoch: 0, sample: s)
            if out[0] == image[127] { flipped += 1 }
        }
        XCTAssertEqual(Double(flipped) / 400, 0.5, accuracy: 0.08)
        // Nearest fill repeats the edge channel.
        let shift = Augmentation(frequencyShift: 0.5, fill: .nearest)
        var out = image
        shift.apply(image, into: &out, height: 64, width: 128, seed: 1, epoch: 0, sample: 0)
        XCTAssertTrue(out[0] == image[0] || out[127] == image[127])
    }

    /// Contrast scaling keeps the image's mean level (where nothing clips), multiplies every
    /// distance from it by one factor within 1 +- intensityScale, and draws a different factor
    /// per sample.
    func testIntensityScalingScalesContrastAboutTheMean() {
        var image = [Float](repeating: 0.6, count: 64 * 128)
        for i in stride(from: 0, to: image.count, by: 7) { image[i] = 0.4 }
        let mean = image.reduce(0, +) / Float(image.count)
        let aug = Augmentation(intensityScale: 0.2)
        var factors = Set<Float>()
        for sample in 0..<50 {
            var out = image
            aug.apply(image, into: &out, height: 64, width: 128, seed: 5, epoch: 0, sample: sample)
            let factor = (out[0] - out[1]) / (image[0] - image[1])
            XCTAssertTrue((0.8 - 1e-4)...(1.2 + 1e-4) ~= factor, "factor \(factor)")
            for i in [0, 1, 7, 100, 8191] {
                XCTAssertEqual(out[i] - mean, factor * (image[i] - mean), accuracy: 1e-5)
            }
            factors.insert((factor * 1000).rounded())
        }
        XCTAssertGreaterThan(factors.count, 30, "a factor per sample")
        // Clamped to the pixel range.
        var out = image
        Augmentation(intensityScale: 0.5).apply([Float](repeating: 0, count: 8191) + [1], into: &out, height: 64, width: 128, seed: 1, epoch: 0, sample: 3)
        XCTAssertTrue(out.allSatisfy { (0...1).contains($0) })
    }
}
