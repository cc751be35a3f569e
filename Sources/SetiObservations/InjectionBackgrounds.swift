import Foundation
import SetiData

extension Backgrounds {
    /// A window holds a signal already when its brightest pixel stands more than this many
    /// robust standard deviations over its median (a pure noise window of 8,192 Gaussian
    /// pixels reaches about 4).
    public static let occupiedThreshold = 8.0

    /// The quiet 64 x 128 windows of the observation at `url` (128 channels every 128,
    /// time cut or stretched as `scan` cuts it: ``ScanWindows``). Windows whose brightest
    /// pixel stands more than ``occupiedThreshold`` robust standard deviations over the
    /// median hold RFI or a real signal and are left out; so are windows without spread
    /// (blanked channels). Throws one line naming the file when none is left.
    public init(observation url: URL) throws {
        let header = try ObservationFile.header(url)
        let scan = try ScanWindows(channels: header.channels, timeSteps: header.timeSteps, overlap: 0, file: url.path)
        let observation = try ObservationFile.read(url, channels: 0..<header.channels)
        var windows: [Window] = []
        var rejected = 0
        for i in 0..<scan.count {
            let window = scan.window(i)
            var power = [Double](repeating: 0, count: ScanWindows.height * ScanWindows.width)
            scan.power(window, from: observation, into: &power)
            let sorted = power.sorted(), median = sorted[sorted.count / 2]
            let deviations = power.map { abs($0 - median) }.sorted()
            let std = 1.4826 * deviations[deviations.count / 2]
            guard median > 0, std > 0, median.isFinite, std.isFinite, (sorted.last! - median) / std <= Self.occupiedThreshold else {
                rejected += 1
                continue
            }
            windows.append(Window(channel: window.channel, power: power.map { $0 / median }, noiseStd: std / median))
        }
        guard !windows.isEmpty else {
            throw ObservationError(file: url.path, "no window without a signal to inject into (all \(scan.count) hold a pixel more than \(Self.occupiedThreshold) robust standard deviations over their median)")
        }
        self.init(source: url.path, windows: windows, rejected: rejected)
    }
}
