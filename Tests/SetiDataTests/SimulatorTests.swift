import XCTest
import SetiRandom
@testable import SetiData

final class SimulatorTests: XCTestCase {
    func testSameSeedSameBytesAndBalancedClasses() {
        let a = Simulator(seed: 11).generate(perClass: 5, split: .train)
        let b = Simulator(seed: 11).generate(perClass: 5, split: .train)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a.images, Simulator(seed: 12).generate(perClass: 5, split: .train).images)
        XCTAssertNotEqual(a.images, Simulator(seed: 11).generate(perClass: 5, split: .validation).images)
        XCTAssertEqual(a.classCounts, [5, 5, 5, 5])
        XCTAssertEqual(Simulator(seed: 1, classes: SignalClass.extended).generate(perClass: 2, split: .train).classCounts, Array(repeating: 2, count: 7))
    }

    /// The encoding's median by selection is the sorted array's element, for any sizes,
    /// duplicates and orders (sorted, reversed, constant, random).
    func testTheOrderStatisticIsTheSortedElement() {
        var rng = SplitMix64(seed: 12)
        for trial in 0..<400 {
            let n = 1 + Int(rng.next() % 300)
            var values: [Double] = (0..<n).map { i in
                switch trial % 5 {
                case 0: return Double(i)
                case 1: return Double(n - i)
                case 2: return 3
                case 3: return Double(rng.next() % 5)
                default: return rng.uniform01() * 1e6 - 5e5
                }
            }
            let sorted = values.sorted()
            let k = Int(rng.next() % UInt64(n))
            XCTAssertEqual(SpectrogramEncoding.orderStatistic(&values, k), sorted[k], "trial \(trial), n \(n), k \(k)")
            XCTAssertEqual(values.sorted(), sorted, "a permutation of the input")
        }
    }

    /// The levels found among the 255 powers where they step are the formula's (a
    /// logarithm a pixel: k = round(255 (1 - (log p - bottom) / (top - bottom)))), and a
    /// stretched image encoded from its distinct rows is the stretched image encoded whole.
    func testTheEncodingMatchesItsFormulaAndItsStretchedRows() {
        var rng = SplitMix64(seed: 12)
        for trial in 0..<60 {
            let steps = [1, 2, 4, 8, 16, 32][trial % 6], repeats = 64 / steps
            let distinct = (0..<(steps * 128)).map { _ in trial % 3 == 0 ? Double(rng.next() % 7) : 10 * -log(max(1e-12, rng.uniform01())) }
            var stretched: [Double] = []
            for row in 0..<64 { stretched += distinct[((row / repeats) * 128)..<((row / repeats + 1) * 128)] }
            var whole = [Float](repeating: -1, count: 8192), fromRows = [Float](repeating: -1, count: 8192)
            SpectrogramEncoding.encode(stretched, into: &whole)
            SpectrogramEncoding.encode(distinct, rowRepeats: repeats, width: 128, into: &fromRows)
            XCTAssertEqual(whole, fromRows, "trial \(trial), \(steps) steps")
            let logs = stretched.map { log10(max($0, 1e-6)) }
            let median = logs.sorted()[logs.count / 2]
            let top = max(logs.max()!, median + 0.35)
            let bottom = median - (1 - 0.675) / 0.675 * (top - median)
            let formula = logs.map { v in pixelValue(UInt8((min(1, max(0, 1 - (v - bottom) / (top - bottom))) * 255).rounded())) }
            XCTAssertEqual(zip(formula, whole).filter { $0 != $1 }.count, 0, "trial \(trial)")
        }
    }

    func testPixelsAreEncodedLikeThePublicData() {
        let set = Simulator(seed: 4).generate(perClass: 20, split: .train)
        XCTAssertTrue(set.images.allSatisfy { $0 >= 0 && $0 <= 1 && pixelValue(UInt8(($0 * 255).rounded())) == $0 })
        for i in 0..<set.count {
            let sorted = set.image(i).sorted()
            XCTAssertEqual(Double(sorted[sorted.count / 2]), 0.675, accuracy: 0.08, "background median of sample \(i)")
        }
    }

    /// The track of a signal: the darkest (strongest) column of each row, fitted with a
    /// quadratic f(t) = a + b t + c t^2 by least squares.
    private func curvature(_ image: ArraySlice<Float>) -> (c: Double, residual: Double) {
        let rows = 64, width = 128
        var ts: [Double] = [], fs: [Double] = []
        for t in 0..<rows {
            let row = image[(image.startIndex + t * width)..<(image.startIndex + (t + 1) * width)]
            ts.append(Double(t)); fs.append(Double(row.firstIndex(of: row.min()!)! - row.startIndex))
        }
        // Normal equations for [1, t, t^2].
        var m = [[Double]](repeating: [0, 0, 0, 0], count: 3)
        for (t, f) in zip(ts, fs) {
            let x = [1, t, t * t]
            for i in 0..<3 { for j in 0..<3 { m[i][j] += x[i] * x[j] }; m[i][3] += x[i] * f }
        }
        for i in 0..<3 {
            for k in (i + 1)..<3 { let r = m[k][i] / m[i][i]; for j in i..<4 { m[k][j] -= r * m[i][j] } }
        }
        var coef = [0.0, 0, 0]
        for i in stride(from: 2, through: 0, by: -1) {
            coef[i] = (m[i][3] - ((i + 1)..<3).reduce(0) { $0 + m[i][$1] * coef[$1] }) / m[i][i]
        }
        let residual = zip(ts, fs).map { t, f in pow(f - (coef[0] + coef[1] * t + coef[2] * t * t), 2) }.reduce(0, +) / 64
        return (coef[2], residual.squareRoot())
    }

    func testEachClassLooksLikeItself() {
        var simulator = Simulator(seed: 21)
        simulator.snr = 8...12  // bright, so the darkest pixel of a row is on the track
        let set = simulator.generate(perClass: 12, split: .train)
        func members(_ c: SignalClass) -> [Int] { set.labels.indices.filter { set.labels[$0] == Int32(c.rawIndex) } }
        // narrowband: a straight track (|c| ~ 0, small residual); drd: clearly curved.
        let straight = members(.narrowband).map { curvature(set.image($0)) }
        let curved = members(.narrowbanddrd).map { curvature(set.image($0)) }
        // (The darkest pixel of a row is occasionally a noise peak, so allow one outlier.)
        XCTAssertGreaterThanOrEqual(straight.filter { abs($0.c) < 0.002 && $0.residual < 1.5 }.count, 11, "\(straight)")
        XCTAssertGreaterThanOrEqual(curved.filter { abs($0.c) > 0.003 && $0.residual < 1.5 }.count, 11, "\(curved)")
        // squiggle: a wandering track that no quadratic follows as well.
        let wiggly = members(.squiggle).map { curvature(set.image($0)).residual }
        XCTAssertGreaterThan(wiggly.reduce(0, +) / Double(wiggly.count), 1.5)
        // noise: no column is consistently dark.
        for i in members(.noise) {
            var darkest = [Int](repeating: 0, count: 128)
            for t in 0..<64 {
                let row = set.image(i)[(set.image(i).startIndex + t * 128)...].prefix(128)
                darkest[row.firstIndex(of: row.min()!)! - row.startIndex] += 1
            }
            XCTAssertLessThan(darkest.max()!, 8, "noise sample \(i) has a track")
        }
    }

    /// Tracks that leave the window, a quarter of their rows at least inside: half of the
    /// straight tracks may (and many drift far enough to), half of the squiggles are not
    /// reflected at the edges (the wide walks among them leave: about one squiggle in
    /// fifteen); curved tracks stay whole; squiggles step up to 8 px a row.
    func testStraightTracksAndSquigglesMayLeaveTheBandCurvesStay() {
        let simulator = Simulator(seed: 12)
        var rng = SplitMix64(seed: 4)
        let inBand = 3.0...Double(simulator.width - 4)
        for kind in [SignalClass.narrowband, .squiggle, .narrowbanddrd] {
            var partial = 0, widestStep = 0.0
            for _ in 0..<400 {
                let path = simulator.track(kind, rng: &rng)!.path.map { $0!.0 }
                let inside = path.filter { inBand.contains($0) }.count
                XCTAssertGreaterThanOrEqual(inside, simulator.height / 4, "\(kind): a track mostly outside the band")
                if inside < simulator.height { partial += 1 }
                widestStep = max(widestStep, zip(path, path.dropFirst()).map { abs($1 - $0) }.max()!)
            }
            switch kind {
            case .narrowbanddrd: XCTAssertEqual(partial, 0, "a curved track stays whole")
            case .squiggle: XCTAssertTrue((10...60).contains(partial), "squiggle: \(partial) of 400 leave the band")
            default: XCTAssertTrue((40...220).contains(partial), "\(kind): \(partial) of 400 leave the band")
            }
            if kind == .squiggle { XCTAssertGreaterThan(widestStep, 10, "steps of up to 8 px a row (standard deviation)") }
        }
    }

    /// Short observations as scan presents them (16 or 32 steps stretched to 64 rows): the
    /// rows of a step are the same, the steps differ, and the mixed generator makes them.
    func testShortObservationsRepeatEachStepAsScanStretchesIt() {
        let simulator = Simulator(seed: 5)
        for steps in [16, 32] {
            var image = [Float](repeating: 0, count: 64 * 128), rng = SplitMix64(seed: 9)
            let parameters = image.withUnsafeMutableBufferPointer { simulator.render(.narrowband, into: $0.baseAddress!, rng: &rng, averagedSpectra: 8, timeSteps: steps) }
            func row(_ r: Int) -> ArraySlice<Float> { image[(r * 128)..<((r + 1) * 128)] }
            for r in 0..<64 { XCTAssertEqual(row(r), row(r / (64 / steps) * (64 / steps)), "\(steps) steps: row \(r)") }
            for s in 1..<steps { XCTAssertNotEqual(row(s * 64 / steps), row((s - 1) * 64 / steps), "\(steps) steps: step \(s)") }
            XCTAssertEqual(parameters.averagedSpectra, 8 * 64 / steps, "each step integrates its rows' spectra")
        }
        var mixed = Simulator(seed: 5)
        mixed.generator = .mixed
        let set = mixed.generate(perClass: 40, split: .train)
        let blocky = set.labels.indices.filter { i in
            let image = Array(set.image(i))
            return (1..<4).allSatisfy { image[($0 * 128)..<(($0 + 1) * 128)] == image[0..<128] }
        }
        // A quarter of the samples on average (half of the image model's half): 40 of 160.
        XCTAssertTrue((20...60).contains(blocky.count), "\(blocky.count) of 160 samples are short observations")
    }
}

extension SignalClass {
    var rawIndex: Int { SignalClass.allCases.firstIndex(of: self)! }
}

/// Generation parameters and distribution shifts: what sensitivity curves and shifted
/// evaluation sets rest on.
final class SimulatorParameterTests: XCTestCase {
    func testParametersDescribeEachSample() {
        let (set, parameters) = Simulator(seed: 3).generateWithParameters(perClass: 30, split: .validation)
        XCTAssertEqual(parameters.count, set.count)
        XCTAssertEqual(set, Simulator(seed: 3).generate(perClass: 30, split: .validation), "parameters do not change the data")
        for (label, p) in zip(set.labels, parameters) {
            XCTAssertEqual(p.className, set.classNames[Int(label)])
            XCTAssertEqual(p.averagedSpectra, 8)
            if p.className == "noise" {
                XCTAssertEqual(p.snr, 0)
            } else {
                XCTAssertTrue((1...12).contains(p.snr), "\(p)")
                XCTAssertTrue((0.6...1.6).contains(p.width), "\(p)")
            }
            if p.className == "narrowbanddrd" { XCTAssertTrue((0.4...1.2).contains(abs(p.curvature)), "\(p)") }
            if p.className == "narrowband" { XCTAssertEqual(p.curvature, 0); XCTAssertLessThanOrEqual(abs(p.drift), 1) }
        }
    }

    func testEveryShiftChangesTheDataAndNoneChangesNothing() {
        var simulator = Simulator(seed: 9)
        let base = simulator.generate(perClass: 3, split: .validation)
        for shift in DistributionShift.evaluationSets {
            simulator.shift = shift
            let (shifted, parameters) = simulator.generateWithParameters(perClass: 3, split: .validation)
            XCTAssertNotEqual(shifted.images, base.images, "\(shift) made no difference")
            XCTAssertTrue(parameters.allSatisfy { $0.shift == shift.rawValue })
            XCTAssertTrue(shifted.images.allSatisfy { $0 >= 0 && $0 <= 1 })
        }
        simulator.shift = .fewSpectra
        XCTAssertEqual(simulator.generateWithParameters(perClass: 1, split: .train).parameters.first?.averagedSpectra, 2)
        simulator.shift = .quantization
        let levels = Set(simulator.generate(perClass: 2, split: .train).images.map { ($0 * 63).rounded() })
        XCTAssertLessThanOrEqual(levels.count, 64)
    }

    func testParametersFileRoundTripsAndIsChecked() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("seti-params-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (set, parameters) = Simulator(seed: 1).generateWithParameters(perClass: 2, split: .train)
        try DataFolder.writeParameters(parameters, as: .train, to: dir)
        let read = try XCTUnwrap(try DataFolder.loadParameters(.train, from: dir, count: set.count))
        XCTAssertEqual(read.map(\.className), parameters.map(\.className))
        XCTAssertEqual(read[0].snr, parameters[0].snr, accuracy: 1e-4)
        XCTAssertNil(try DataFolder.loadParameters(.validation, from: dir, count: 8), "no file, no parameters")
        XCTAssertThrowsError(try DataFolder.loadParameters(.train, from: dir, count: 9)) { XCTAssertTrue("\($0)".contains("has 8 rows but the data have 9 images"), "\($0)") }
        let file = dir.appendingPathComponent("train/parameters.csv")
        var text = try String(contentsOf: file, encoding: .utf8)
        text = text.replacingOccurrences(of: "\nnoise,", with: "\nnoise,nan,")
        try text.write(to: file, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try DataFolder.loadParameters(.train, from: dir, count: 8)) { XCTAssertTrue("\($0)".contains("parameters.csv:"), "\($0)") }
    }
}
