/// Every random stream of seti-dist, named in one place. A draw is a pure function of
/// (seed, stream, index) (see ``CounterRandom``), so two streams that shared an id would
/// draw the same numbers: each case below maps to its own id, and the ids are fixed
/// because checkpoints, tests and simulated data sets depend on the exact draws.
public enum RandomStream: Sendable, Hashable {
    /// Initial values of the model's tensor number `tensor` (in compile order).
    case weights(tensor: Int)
    /// The order of the training samples in each epoch (index: the epoch).
    case shuffle
    /// A sample's augmentation in `epoch` (index: the global sample index).
    case augmentation(epoch: Int)
    /// Simulated spectrograms of one split and redraw round (index: class << 32 | sample).
    case simulation(validation: Bool, round: Int)
    /// Dropout masks of layer `layer` at optimizer step `step` (index: sample << 32 | element pair).
    case dropout(step: Int, layer: Int)
    /// Simulated ML4SETI time series (index: class << 32 | file).
    case timeSeries
    /// PowerSGD's initial Q of compressed matrix number `matrix` (index: 0).
    case powerSGD(matrix: Int)
    /// The seed of a fine-tuning run's own randomness (index: a digest of the source
    /// checkpoint), so it does not replay the source run's dropout, order and augmentation.
    case fineTuning

    public var id: UInt64 {
        switch self {
        case .weights(let tensor): return UInt64(tensor)
        case .shuffle: return 0x5A4D
        case .augmentation(let epoch): return 0xA46 << 32 | UInt64(epoch)
        case .simulation(let validation, let round): return UInt64(validation ? 2 : 1) | UInt64(round) << 8
        case .dropout(let step, let layer): return UInt64(step) << 16 | UInt64(layer)
        case .timeSeries: return 0x7153
        case .powerSGD(let matrix): return 0x9053D << 32 | UInt64(matrix)
        case .fineTuning: return 0xF17E
        }
    }
}

extension CounterRandom {
    /// A well-mixed 64-bit value for (`seed`, `stream`, `index`).
    @inline(__always)
    public static func bits(seed: UInt64, _ stream: RandomStream, index: UInt64) -> UInt64 {
        bits(seed: seed, stream: stream.id, index: index)
    }

    /// A generator seeded from (`seed`, `stream`, `index`), for draws that are naturally
    /// sequential (one sample's augmentation, one simulated spectrogram, a shuffle).
    @inline(__always)
    public static func generator(seed: UInt64, _ stream: RandomStream, index: UInt64) -> SplitMix64 {
        SplitMix64(seed: bits(seed: seed, stream, index: index))
    }
}
