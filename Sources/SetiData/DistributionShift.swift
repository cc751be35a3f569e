import Foundation
import SetiFiles
import SetiRandom

/// One simulated spectrogram's generation parameters: what `simulate` writes beside the
/// data (parameters.csv, one row per image, in order) and what sensitivity curves bin by.
public struct SignalParameters: Codable, Hashable, Sendable {
    public var className = ""
    /// Per-pixel peak signal-to-noise ratio, in background noise standard deviations
    /// (0 for noise).
    public var snr = 0.0
    /// Drift rate at the first row, pixels (channels) per row.
    public var drift = 0.0
    /// Change of the drift rate over the image, pixels per row (narrowbanddrd).
    public var curvature = 0.0
    /// Gaussian sigma (or the profile's width parameter) of the track, pixels.
    public var width = 0.0
    /// Centre frequency of the first row with signal, pixels.
    public var startFrequency = 0.0
    /// Spectra averaged per pixel (0 when unknown: a real observation's background).
    public var averagedSpectra = 0
    /// The distribution shift the sample was drawn under ("none" by default).
    public var shift = "none"

    public init(className: String = "", averagedSpectra: Int = 0, shift: String = "none") {
        self.className = className
        self.averagedSpectra = averagedSpectra
        self.shift = shift
    }

    static let columns = ["class", "snr", "drift", "curvature", "width", "start_frequency", "averaged_spectra", "shift"]

    var row: [String] {
        [className, String(format: "%.4f", snr), String(format: "%.4f", drift), String(format: "%.4f", curvature),
         String(format: "%.4f", width), String(format: "%.2f", startFrequency), "\(averagedSpectra)", shift]
    }
}

/// What a real telescope changes and the simulator's default data do not: evaluation sets
/// drawn under these show whether a model learned signals or the simulator's quirks.
public enum DistributionShift: String, CaseIterable, Codable, Sendable {
    /// The default distribution.
    case none
    /// Noisier pixels: 2 spectra averaged instead of 8 (heavier-tailed chi-squared noise).
    case fewSpectra = "few-spectra"
    /// Smoother pixels: 64 spectra averaged.
    case manySpectra = "many-spectra"
    /// Non-Gaussian noise: 0.3% of pixels 5 to 30 noise deviations high.
    case outliers
    /// A bandpass with 3 times the tilt and ripple, rippling 4 times faster.
    case bandpass
    /// Tracks with a sinc^2 frequency profile (a boxcar channel response).
    case sincProfile = "sinc2-profile"
    /// Tracks with a Lorentzian profile (heavier wings).
    case lorentzianProfile = "lorentzian-profile"
    /// Drift rates up to 2 channels per row instead of 1.
    case fastDrift = "fast-drift"
    /// Radio-frequency interference: one to three broadband rows (impulsive RFI) and a few
    /// bright single pixels.
    case rfi
    /// Pixels quantised to 64 levels instead of 256.
    case quantization

    /// The shifts an evaluation reports (all but none).
    public static var evaluationSets: [DistributionShift] { allCases.filter { $0 != .none } }

    var averagedSpectra: Int? {
        switch self {
        case .fewSpectra: return 2
        case .manySpectra: return 64
        default: return nil
        }
    }

    var profile: TrackProfile {
        switch self {
        case .sincProfile: return .sinc2
        case .lorentzianProfile: return .lorentzian
        default: return .gaussian
        }
    }

    /// Adds this shift's interference to a spectrogram's power; draws nothing otherwise,
    /// so the default data stay what they were.
    func addInterference(to power: inout [Double], height: Int, width: Int, noiseStd: Double, rng: inout SplitMix64) {
        switch self {
        case .outliers:
            for i in power.indices where rng.uniform01() < 0.003 { power[i] += noiseStd * rng.uniform(5...30) }
        case .rfi:
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                let row = Int(rng.next() % UInt64(height)), level = noiseStd * rng.uniform(2...6)
                for f in 0..<width { power[row * width + f] += level }
            }
            for _ in 0..<(Int(rng.next() % 4)) {
                power[Int(rng.next() % UInt64(power.count))] += noiseStd * rng.uniform(10...40)
            }
        default:
            break
        }
    }
}

/// A track's power across frequency, at offset x (in widths) from its centre; 1 at 0.
enum TrackProfile {
    case gaussian, sinc2, lorentzian

    func value(_ x: Double) -> Double {
        switch self {
        case .gaussian: return exp(-0.5 * x * x)
        case .sinc2:
            let y = Double.pi * x / 2.5
            return abs(y) < 1e-9 ? 1 : pow(sin(y) / y, 2)
        case .lorentzian: return 1 / (1 + x * x)
        }
    }
}

extension DataFolder {
    /// Writes the samples' generation parameters beside `split`'s images, one CSV row per
    /// image in the same order, with a header row.
    public static func writeParameters(_ parameters: [SignalParameters], as split: Split, to folder: URL) throws {
        var text = SignalParameters.columns.joined(separator: ",") + "\n"
        for p in parameters { text += p.row.joined(separator: ",") + "\n" }
        let dir = folder.appendingPathComponent(split.rawValue)
        try createFolder(dir)
        try OutputFile.write(Data(text.utf8), to: dir.appendingPathComponent("parameters.csv"))
    }

    /// The generation parameters `simulate` wrote for `split`, if the folder has them
    /// (`DIR/SPLIT/parameters.csv`); nil when it has none. Checked like every input: a
    /// malformed row names its line.
    public static func loadParameters(_ split: Split, from folder: URL, count: Int) throws -> [SignalParameters]? {
        let url = folder.appendingPathComponent(split.rawValue).appendingPathComponent("parameters.csv")
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let text = String(decoding: try readInputFile(url, maximumBytes: 1 << 30, what: "a parameters.csv file"), as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard lines.first.map({ $0.split(separator: ",").map(String.init) == SignalParameters.columns }) == true else {
            throw DataError(file: url.path, line: 1, "expected the header \(SignalParameters.columns.joined(separator: ","))")
        }
        guard lines.count - 1 == count else {
            throw DataError(file: url.path, "has \(lines.count - 1) rows but the data have \(count) images")
        }
        return try lines.dropFirst().enumerated().map { n, line in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            let numbers = fields.count == 8 ? fields[1...5].compactMap(Double.init).filter(\.isFinite) : []
            guard numbers.count == 5, let k = Int(fields[6]), k >= 0 else {
                throw DataError(file: url.path, line: n + 2, "expected 8 fields: \(SignalParameters.columns.joined(separator: ","))")
            }
            var p = SignalParameters(className: fields[0], averagedSpectra: k, shift: fields[7])
            (p.snr, p.drift, p.curvature, p.width, p.startFrequency) = (numbers[0], numbers[1], numbers[2], numbers[3], numbers[4])
            return p
        }
    }
}
