import Foundation
import SetiData

/// Injection-recovery statistics, the figure of merit of SETI detection pipelines: how
/// often each class is recognised as a function of the injected signal's strength (and
/// drift or curvature where they apply), from simulated samples whose generation
/// parameters are known.
public struct SensitivityReport: Codable, Sendable {
    /// One bin of one class: samples and correct predictions.
    public struct Bin: Codable, Sendable {
        public var low: Double
        /// nil: no upper bound.
        public var high: Double?
        public var samples = 0
        public var correct = 0
        public var recall: Double? { samples > 0 ? Double(correct) / Double(samples) : nil }
    }

    public struct ClassCurve: Codable, Sendable {
        public var className: String
        public var bySNR: [Bin]
        /// By |drift| (narrowband) or |change of drift| (narrowbanddrd); empty otherwise.
        public var byTrackShape: [Bin]
        public var trackShape: String?
    }

    public var curves: [ClassCurve]
    /// Recall of the signal classes on the faintest third of their samples (by SNR); nil
    /// without signal samples.
    public var faintThirdRecall: Double?
    /// The SNR below which that third lies.
    public var faintThirdBelow: Double?
    /// Noise samples called noise.
    public var noiseRecall: Double?

    /// Per-pixel SNR bin edges (noise standard deviations).
    public static let snrEdges: [Double] = [0, 1.5, 2, 3, 4, 6, 8, .infinity]

    /// The report for `predicted` classes of samples with `labels` and `parameters`.
    public init(classNames: [String], labels: [Int32], predicted: [Int], parameters: [SignalParameters]) {
        func bins(_ edges: [Double]) -> [Bin] { zip(edges, edges.dropFirst()).map { Bin(low: $0, high: $1.isFinite ? $1 : nil) } }
        func add(_ value: Double, _ hit: Bool, to bins: inout [Bin]) {
            guard let b = bins.firstIndex(where: { value >= $0.low && value < ($0.high ?? .infinity) }) else { return }
            bins[b].samples += 1
            if hit { bins[b].correct += 1 }
        }
        var curves: [ClassCurve] = []
        var signal: [(snr: Double, hit: Bool)] = []
        var noise = (samples: 0, correct: 0)
        for (c, name) in classNames.enumerated() {
            let members = labels.indices.filter { Int(labels[$0]) == c }
            if name == "noise" {
                noise = (members.count, members.filter { predicted[$0] == c }.count)
                continue
            }
            var curve = ClassCurve(className: name, bySNR: bins(Self.snrEdges), byTrackShape: [], trackShape: nil)
            switch name {
            case "narrowband":
                curve.trackShape = "|drift| (channels per row)"
                curve.byTrackShape = bins([0, 0.01, 0.25, 0.5, 0.75, .infinity])
            case "narrowbanddrd":
                curve.trackShape = "|change of drift| (channels per row over the image)"
                curve.byTrackShape = bins([0, 0.6, 0.8, 1.0, .infinity])
            default:
                break
            }
            for i in members {
                let hit = predicted[i] == c, p = parameters[i]
                add(p.snr, hit, to: &curve.bySNR)
                if name == "narrowband" { add(abs(p.drift), hit, to: &curve.byTrackShape) }
                if name == "narrowbanddrd" { add(abs(p.curvature), hit, to: &curve.byTrackShape) }
                signal.append((p.snr, hit))
            }
            curves.append(curve)
        }
        self.curves = curves
        let sorted = signal.sorted { $0.snr < $1.snr }
        let third = sorted.prefix(max(1, sorted.count / 3))
        faintThirdRecall = third.isEmpty ? nil : Double(third.filter(\.hit).count) / Double(third.count)
        faintThirdBelow = third.last?.snr
        noiseRecall = noise.samples > 0 ? Double(noise.correct) / Double(noise.samples) : nil
    }

    /// The report as text: one row per class, one column per SNR bin.
    public var table: String {
        func cell(_ bin: Bin) -> String { bin.recall.map { String(format: "%5.2f", $0) } ?? "    -" }
        func label(_ bin: Bin) -> String {
            bin.high.map { String(format: "%g-%g", bin.low, $0) } ?? String(format: ">=%g", bin.low)
        }
        let width = max(14, (curves.map(\.className.count).max() ?? 0) + 2)
        var lines = ["recall by peak SNR per pixel (noise standard deviations)",
                     "".padding(toLength: width, withPad: " ", startingAt: 0) + (curves.first?.bySNR ?? []).map { label($0).padding(toLength: 8, withPad: " ", startingAt: 0) }.joined()]
        for curve in curves {
            lines.append(curve.className.padding(toLength: width, withPad: " ", startingAt: 0) + curve.bySNR.map { cell($0) + "   " }.joined())
        }
        if let noiseRecall { lines.append("noise".padding(toLength: width, withPad: " ", startingAt: 0) + String(format: "%5.2f (no signal)", noiseRecall)) }
        if let faintThirdRecall, let faintThirdBelow {
            lines.append(String(format: "faintest third of the signals (SNR < %.2f): recall %.3f", faintThirdBelow, faintThirdRecall))
        }
        for curve in curves where !curve.byTrackShape.isEmpty {
            lines.append("\(curve.className) by \(curve.trackShape ?? ""): " + curve.byTrackShape.map { "\(label($0)): \(cell($0).trimmingCharacters(in: .whitespaces)) (\($0.samples))" }.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }
}
