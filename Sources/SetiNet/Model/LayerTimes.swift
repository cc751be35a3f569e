/// Wall time spent in each layer, summed over the passes run while it is attached to a
/// network (``Network/layerTimes``): where a training step goes, for benchmarks.
/// Timing costs two clock reads per layer and pass.
public final class LayerTimes {
    /// Keras's layer names in forward order ("conv2d", "batch_normalization", ...).
    /// A ReLU fused into the batch norm before it shows (near) zero time of its own.
    public let names: [String]
    /// Seconds per layer, forward and backward.
    public private(set) var forward: [Double]
    public private(set) var backward: [Double]

    public init(_ network: Network) {
        names = network.layers.map(\.name)
        forward = Array(repeating: 0, count: names.count)
        backward = forward
    }

    /// Forgets the times measured so far.
    public func reset() {
        for i in names.indices { forward[i] = 0; backward[i] = 0 }
    }

    private static let clock = ContinuousClock()

    @inline(__always)
    static func now() -> ContinuousClock.Instant { clock.now }

    func add(layer: Int, backward isBackward: Bool, since start: ContinuousClock.Instant) {
        let elapsed = start.duration(to: Self.now())
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        if isBackward { backward[layer] += seconds } else { forward[layer] += seconds }
    }
}
