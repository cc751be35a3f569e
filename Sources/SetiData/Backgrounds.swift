/// Windows of a real observation that signals can be injected into: 64 x 128 power
/// images (time down, frequency across), each scaled to a median of 1 with its robust
/// noise level. Made by SetiObservations from a filterbank or HDF5 file, which also keeps
/// out the windows that already hold a signal (RFI), so "noise" stays noise.
public struct Backgrounds: Sendable {
    public struct Window: Sendable {
        /// The window's first channel in the file (ascending), for parameters.csv.
        public var channel: Int
        /// 64 x 128 power, median 1.
        public var power: [Double]
        /// The noise's standard deviation: 1.4826 x the median absolute deviation.
        public var noiseStd: Double

        public init(channel: Int, power: [Double], noiseStd: Double) {
            self.channel = channel
            self.power = power
            self.noiseStd = noiseStd
        }
    }

    /// Where they came from (for messages).
    public var source: String
    public var windows: [Window]
    /// Windows left out because they already held a signal.
    public var rejected: Int

    public init(source: String, windows: [Window], rejected: Int) {
        self.source = source
        self.windows = windows
        self.rejected = rejected
    }
}
