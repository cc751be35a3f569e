import Foundation
import SetiRandom

/// The built-in data set: spectrograms simulated from a simple physical model of what a
/// radio telescope's spectrometer records, encoded like the public SETI data.
///
/// Per image (time t down the rows, frequency f along the columns):
/// - background: radiometer noise, the power of each pixel an average of K independent
///   spectra, i.e. chi-squared with 2K degrees of freedom (mean 1, std 1/sqrt(K)), times
///   the receiver bandpass: a gentle tilt plus a sinusoidal ripple;
/// - signal: power A(t) * exp(-(f - f0(t))^2 / (2 w^2)) on top, with a Gaussian profile of
///   width w (0.6 to 1.6 px) and amplitude A = SNR x noise std, the SNR drawn
///   log-uniformly from `snr` (barely visible to bright);
/// - f0(t) per class: narrowband a straight drifting track (constant drift, sometimes
///   zero; half of them may cross the band's edge, a quarter of the track staying in);
///   narrowbanddrd a drift rate that itself changes (a curved track, whole); squiggle a
///   random walk of 0.6 to 8 px a row (Gaussian or uniform steps; half of them not held in
///   the band, a quarter staying in); noise nothing; the extended set adds brightpixel (one short burst),
///   squarepulsednarrowband and squigglesquarepulsednarrowband (switched on and off in time);
/// - encoding as the public data: log power, scaled per image and inverted so the signal
///   is dark on a background of about 0.6 to 0.75, quantized to multiples of 1/255.
///
/// With `generator` ml4seti, the samples are the ML4SETI challenge's instead: complex
/// time series simulated as its simulator made them, read through the `.dat` path
/// (``ML4SETISimulator``).
///
/// Every sample is a pure function of (seed, split, class, index): the same seed gives
/// the same bytes however many threads or ranks generate it.
public struct Simulator: Sendable {
    /// The physics behind the spectrograms.
    public enum Generator: String, Codable, Hashable, Sendable, CaseIterable {
        /// seti-dist's own image model: power per pixel with a Gaussian track profile.
        case image
        /// The ML4SETI challenge's time-series simulator, through the `.dat` reader's path.
        case ml4seti
        /// Each sample from either, with even odds; the image model's samples then average
        /// 4 to 512 spectra per pixel (log-uniform) instead of 8, so the noise's grain spans
        /// smooth Breakthrough Listen products to coarse single spectra, and half of them
        /// are short observations (32 or 16 steps) stretched to 64 rows as `scan` stretches
        /// them, so a model knows the blocky noise of Breakthrough Listen's 16-step products.
        case mixed
        /// The image model's signals injected into windows of a real observation
        /// (``backgrounds``), as Breakthrough Listen builds training data.
        case injection
    }

    public var generator = Generator.image
    /// With `generator` injection: the observation windows signals are injected into.
    public var backgrounds: Backgrounds?
    public var height = 64
    public var width = 128
    public var classes: [SignalClass] = SignalClass.classic
    /// Per-pixel peak SNR range, in units of the background noise's standard deviation
    /// (the image generator's; ml4seti's are its own, see ``ML4SETISimulator/snr``).
    public var snr: ClosedRange<Double> = 1.0...12.0
    /// With `generator` ml4seti: the SNR range of every class instead of the published ones.
    public var ml4setiSNR: ClosedRange<Double>?
    /// With `generator` ml4seti: which of the challenge's data classes' ranges to draw.
    public var ml4setiSet = ML4SETISimulator.DataClass.both
    /// Spectra averaged per pixel (K): the noise std is 1/sqrt(K).
    public var averagedSpectra = 8
    /// What differs from the training distribution (none: the default data).
    public var shift = DistributionShift.none
    public var seed: UInt64

    public init(seed: UInt64, classes: [SignalClass] = SignalClass.classic) {
        self.seed = seed
        self.classes = classes
    }

    /// `perClass` samples of every class, grouped by class as in the public training file.
    public func generate(perClass: Int, split: DataFolder.Split) -> SpectrogramSet {
        generateWithParameters(perClass: perClass, split: split).set
    }

    /// ``generate(perClass:split:)`` with each sample's generation parameters, in order.
    public func generateWithParameters(perClass: Int, split: DataFolder.Split) -> (set: SpectrogramSet, parameters: [SignalParameters]) {
        let total = perClass * classes.count
        let labels = (0..<total).map { Int32($0 / perClass) }
        var set = SpectrogramSet(
            height: height, width: width, images: [Float](repeating: 0, count: total * height * width), labels: labels,
            classNames: classes.map(\.description))
        let parameters = redraw(&set, indices: Array(0..<total), perClass: perClass, split: split, round: 0)
        return (set, parameters)
    }

    /// Replaces the samples at `indices` of a set made by ``generate(perClass:split:)``
    /// with round `round`'s draws: same classes, new signals and noise. Round 0 is the
    /// generated set itself; training on a new round each epoch means the network never
    /// sees a sample twice, so it cannot memorise them. Each sample is a function of
    /// (seed, split, round, index), so ranks redrawing only their own shards together
    /// hold what one process redrawing everything holds.
    /// Returns the redrawn samples' generation parameters, in the order of `indices`.
    @discardableResult
    public func redraw(_ set: inout SpectrogramSet, indices: [Int], perClass: Int, split: DataFolder.Split, round: Int) -> [SignalParameters] {
        let pixels = height * width
        let stream = RandomStream.simulation(validation: split == .validation, round: round)
        var parameters = [SignalParameters](repeating: SignalParameters(), count: indices.count)
        set.images.withUnsafeMutableBufferPointer { buffer in
            parameters.withUnsafeMutableBufferPointer { found in
                // Each iteration writes its own image and parameters only: no two threads
                // touch the same memory.
                nonisolated(unsafe) let base = buffer.baseAddress!, out = found.baseAddress!
                DispatchQueue.concurrentPerform(iterations: indices.count) { j in
                    let i = indices[j], c = i / perClass
                    var rng = CounterRandom.generator(seed: seed, stream, index: UInt64(c) << 32 | UInt64(i % perClass))
                    switch generator {
                    case .image: out[j] = render(classes[c], into: base + i * pixels, rng: &rng)
                    case .ml4seti: out[j] = renderML4SETI(classes[c], into: base + i * pixels, rng: &rng)
                    case .injection: out[j] = renderInjected(classes[c], into: base + i * pixels, rng: &rng)
                    case .mixed:
                        if rng.next() & 1 == 0 {
                            out[j] = renderML4SETI(classes[c], into: base + i * pixels, rng: &rng)
                        } else {
                            let k = Int(exp(rng.uniform(log(4)...log(512))).rounded())
                            let steps = [height, height, height / 2, height / 4][Int(rng.next() % 4)]
                            out[j] = render(classes[c], into: base + i * pixels, rng: &rng, averagedSpectra: k, timeSteps: steps)
                        }
                    }
                }
            }
        }
        return parameters
    }

    // MARK: One spectrogram

    /// An ML4SETI sample's signal, time series (as a `.dat` file) and row-start frequencies.
    private func ml4setiSeries(_ kind: SignalClass, rng: inout SplitMix64) -> (ML4SETISimulator.Signal, ML4SETIFile, [Double]) {
        var simulator = ML4SETISimulator(seed: seed)
        simulator.snr = ml4setiSNR
        simulator.basicShare = ml4setiSet.basicShare
        let signal = simulator.drawSignal(kind, rng: &rng)
        let (samples, track) = ML4SETISimulator.timeSeries(signal, rng: &rng)
        return (signal, ML4SETIFile(uuid: "", signalClass: kind, samples: samples), track)
    }

    /// Sample `index` of a set made by ``generate(perClass:split:)`` with generator ml4seti,
    /// as the challenge's `.dat` file: the time series whose spectrogram the set holds.
    public func ml4setiFile(sample index: Int, perClass: Int, split: DataFolder.Split) -> ML4SETIFile {
        precondition(generator == .ml4seti, "only the ml4seti generator's samples are time series")
        let c = index / perClass
        var rng = CounterRandom.generator(seed: seed, .simulation(validation: split == .validation, round: 0), index: UInt64(c) << 32 | UInt64(index % perClass))
        var file = ml4setiSeries(classes[c], rng: &rng).1
        file.uuid = String(format: "%08x-sim-%@-%06d", UInt32(truncatingIfNeeded: seed), classes[c].rawValue, index % perClass)
        return file
    }

    /// One ML4SETI sample: its time series made and read as a `.dat` file is.
    func renderML4SETI(_ kind: SignalClass, into out: UnsafeMutablePointer<Float>, rng: inout SplitMix64) -> SignalParameters {
        precondition(height == 64 && width == 128, "ML4SETI spectrograms are 64 x 128")
        let (signal, file, track) = ml4setiSeries(kind, rng: &rng)
        RowPowerSpectraPool.ml4seti.with { file.spectrogram(using: $0, into: out) }
        var parameters = SignalParameters(className: kind.rawValue, averagedSpectra: 24, shift: "none")
        parameters.snr = signal.snr
        // In the 64 x 128 image's pixels (4 bins a column, 6 rows of 512 samples a row): a
        // change of the phase step per sample (radians) as columns per image row.
        func columnsPerRow(_ change: Double) -> Double { change * Double(ML4SETIFile.columns) / (2 * .pi) * 6 * Double(ML4SETIFile.columns) / 4 }
        parameters.drift = columnsPerRow(signal.drift / 1024)
        parameters.curvature = columnsPerRow(signal.driftRateDerivative / 1_000_000 / 1024 * Double(ML4SETIFile.rows * ML4SETIFile.columns))
        parameters.startFrequency = track.first.map { ($0 + Double(ML4SETIFile.columns / 2)) / 4 } ?? 0
        return parameters
    }

    /// One sample of the image model. `timeSteps` below `height`: an observation of that
    /// many steps (each the mean of height / timeSteps rows' power), stretched back to
    /// `height` rows as ``ScanWindows`` stretches a short observation.
    func render(_ kind: SignalClass, into out: UnsafeMutablePointer<Float>, rng: inout SplitMix64, averagedSpectra drawn: Int? = nil,
                timeSteps: Int? = nil) -> SignalParameters {
        let k = shift.averagedSpectra ?? drawn ?? averagedSpectra
        let noiseStd = 1 / Double(k).squareRoot()
        // Receiver bandpass: tilt up to +-10 %, ripple of 2 to 8 % over 20 to 80 channels.
        let strong = shift == .bandpass ? 3.0 : 1.0
        let tilt = strong * rng.uniform(-0.1...0.1), ripple = strong * rng.uniform(0.02...0.08)
        let period = rng.uniform(20...80) / (shift == .bandpass ? 4 : 1), phase = rng.uniform(0...(2 * .pi))
        let bandpass = (0..<width).map { f in
            1 + tilt * (Double(f) / Double(width) - 0.5) + ripple * sin(2 * .pi * Double(f) / period + phase)
        }
        var power = [Double](repeating: 0, count: height * width)
        for i in power.indices {
            // Chi-squared with 2K dof / 2K: the mean of K unit exponentials, summed as such
            // for small K, drawn as the Gamma(K, 1/K) it is for large K.
            var mean = 0.0
            if k <= 16 {
                for _ in 0..<k { mean -= log(1 - rng.uniform01()) }
                mean /= Double(k)
            } else {
                mean = rng.gamma(shape: Double(k)) / Double(k)
            }
            power[i] = mean * bandpass[i % width]
        }
        var parameters = SignalParameters(className: kind.rawValue, averagedSpectra: k, shift: shift.rawValue)
        addSignal(kind, to: &power, noiseStd: noiseStd, bandpass: bandpass, parameters: &parameters, rng: &rng)
        shift.addInterference(to: &power, height: height, width: width, noiseStd: noiseStd, rng: &rng)
        if let timeSteps, timeSteps < height {
            stretch(&power, from: timeSteps)
            parameters.averagedSpectra = k * height / timeSteps
        }
        SpectrogramEncoding.encode(power, into: out, background: rng.uniform(0.6...0.75), levels: shift == .quantization ? 63 : 255)
        return parameters
    }

    /// `power` (height x width) integrated into `steps` time steps, then each row given its
    /// step's power (row r: step r x steps / height, scan's nearest-neighbour stretch).
    func stretch(_ power: inout [Double], from steps: Int) {
        var integrated = [Double](repeating: 0, count: steps * width), rows = [Double](repeating: 0, count: steps)
        for row in 0..<height {
            let s = row * steps / height
            rows[s] += 1
            for f in 0..<width { integrated[s * width + f] += power[row * width + f] }
        }
        for s in 0..<steps {
            for f in 0..<width { integrated[s * width + f] /= rows[s] }
        }
        for row in 0..<height {
            let s = row * steps / height
            for f in 0..<width { power[row * width + f] = integrated[s * width + f] }
        }
    }

    /// Adds `kind`'s track to `power` (height x width, noise of standard deviation
    /// `noiseStd` about 1) with a peak SNR drawn from `snr`, shaped by `bandpass`, and
    /// records its parameters.
    private func addSignal(_ kind: SignalClass, to power: inout [Double], noiseStd: Double, bandpass: [Double],
                           parameters: inout SignalParameters, rng: inout SplitMix64) {
        guard let (track, drift, curvature) = track(kind, rng: &rng) else { return }
        let snr = exp(rng.uniform(log(self.snr.lowerBound)...log(self.snr.upperBound)))
        let amplitude = snr * noiseStd
        let w = rng.uniform(0.6...1.6)
        parameters.snr = snr
        parameters.width = w
        parameters.drift = drift
        parameters.curvature = curvature
        parameters.startFrequency = track.compactMap { $0?.0 }.first ?? 0
        for t in 0..<height {
            guard let (f0, gain) = track[t] else { continue }
            let reach = shift.profile == .gaussian ? 4 * w : 12 * w
            let lo = max(0, Int(f0 - reach)), hi = min(width - 1, Int(f0 + reach) + 1)
            guard lo <= hi else { continue }
            for f in lo...hi {
                power[t * width + f] += amplitude * gain * shift.profile.value((Double(f) - f0) / w) * bandpass[f]
            }
        }
    }

    /// One sample injected into a window of a real observation: the window's power (scaled
    /// to a median of 1, mirrored in frequency half the time) as the background, the image
    /// model's track added at an SNR measured against the window's own robust noise.
    func renderInjected(_ kind: SignalClass, into out: UnsafeMutablePointer<Float>, rng: inout SplitMix64) -> SignalParameters {
        guard let backgrounds, !backgrounds.windows.isEmpty else { preconditionFailure("the injection generator needs backgrounds") }
        let chosen = Int(rng.next() % UInt64(backgrounds.windows.count))
        let window = backgrounds.windows[chosen], mirrored = rng.next() & 1 == 1
        var power = [Double](repeating: 0, count: height * width)
        for t in 0..<height {
            for f in 0..<width { power[t * width + f] = window.power[t * width + (mirrored ? width - 1 - f : f)] }
        }
        var parameters = SignalParameters(className: kind.rawValue, averagedSpectra: 0, shift: "background")
        addSignal(kind, to: &power, noiseStd: window.noiseStd, bandpass: [Double](repeating: 1, count: width), parameters: &parameters, rng: &rng)
        SpectrogramEncoding.encode(power, into: out, background: rng.uniform(0.6...0.75))
        return parameters
    }

    /// Where the signal is in each row: (centre frequency in pixels, relative power), or
    /// nil for a row without signal. Nil for the noise class.
    func track(_ kind: SignalClass, rng: inout SplitMix64) -> (path: [(Double, Double)?], drift: Double, curvature: Double)? {
        let h = Double(height), w = Double(width)
        let maximumDrift = shift == .fastDrift ? 2.0 : 1.0
        var drift = 0.0, curvature = 0.0
        func straight(curvature: Double) -> [(Double, Double)?] {
            // Draw start and drift until the whole track stays inside the band or, for half
            // of the straight tracks, until at least a quarter of it does: a drifting signal
            // crosses the edge of a window as often as not, in scan's windows as in setigen's
            // frames. A curved track stays whole: a short piece of one looks straight, and
            // the class would then be a guess.
            let mayLeave = curvature == 0 && rng.next() & 1 == 0
            while true {
                drift = rng.uniform01() < 0.2 ? 0 : rng.uniform(-maximumDrift...maximumDrift)
                let start = rng.uniform(4...(w - 5))
                let path = (0..<height).map { t -> Double in
                    let x = Double(t)
                    return start + drift * x + 0.5 * curvature * x * x
                }
                let inside = path.filter { $0 >= 3 && $0 <= w - 4 }.count
                if inside == height || (mayLeave && inside >= height / 4) { return path.map { ($0, 1) } }
            }
        }
        func squiggle() -> [(Double, Double)?] {
            // A random walk of the frequency around a slow drift: steps with a standard
            // deviation of 0.6 to 8 px a row, Gaussian or uniform (setigen's random-walk
            // interference steps up to 4.6 channels a row, a wandering carrier more). Half of
            // them are free to walk on past the band's edge, as a walk does in a window of a
            // wider band (the wide ones do: about one squiggle in fifteen), redrawn until a
            // quarter of the track at least is inside; the others are reflected at the edges.
            let step = exp(rng.uniform(log(0.6)...log(8.0))), uniformSteps = rng.next() & 1 == 0
            let mayLeave = rng.next() & 1 == 0
            let low = 3.0, high = w - 4
            while true {
                drift = rng.uniform(-0.3...0.3)
                var f = rng.uniform(w * 0.25...w * 0.75)
                let path = (0..<height).map { _ -> Double in
                    f += drift + (uniformSteps ? step * 3.0.squareRoot() * rng.uniform(-1...1) : step * rng.gaussian())
                    if !mayLeave { while f < low || f > high { f = f < low ? 2 * low - f : 2 * high - f } }
                    return f
                }
                let inside = path.filter { $0 >= low && $0 <= high }
                if inside.count >= height / 4 { return path.map { ($0, 1) } }
            }
        }
        func pulsed(_ path: [(Double, Double)?]) -> [(Double, Double)?] {
            let period = Int(rng.uniform(8...24)), duty = rng.uniform(0.3...0.7), offset = Int(rng.uniform(0...Double(period)))
            return path.enumerated().map { t, p in Double((t + offset) % period) < duty * Double(period) ? p : nil }
        }
        let path: [(Double, Double)?]
        switch kind {
        case .noise:
            return nil
        case .narrowband:
            path = straight(curvature: 0)
        case .narrowbanddrd:
            // The drift rate changes by 0.4 to 1.2 px/row over the 64 rows: a clear bend.
            let change = rng.uniform(0.4...1.2) * (rng.uniform01() < 0.5 ? -1 : 1)
            curvature = change
            path = straight(curvature: change / h)
        case .squiggle:
            path = squiggle()
        case .brightpixel:
            let t0 = Int(rng.uniform(2...(h - 3))), f0 = rng.uniform(4...(w - 5)), length = Int(rng.uniform(1...3))
            path = (0..<height).map { t in t >= t0 && t < t0 + length ? (f0, 3) : nil }
        case .squarepulsednarrowband:
            path = pulsed(straight(curvature: 0))
        case .squigglesquarepulsednarrowband:
            path = pulsed(squiggle())
        }
        return (path, drift, curvature)
    }
}

