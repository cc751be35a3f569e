import Dispatch
import SetiRandom

/// `bench compute`'s measurements: this machine's sgemm peak and a model's forward,
/// forward + backward and training step (Adam included) at one batch, and the memory
/// bandwidth (copy and a += b over 134 MB), measured in rounds that interleave them all, so
/// that their ratios hold on a shared, noisy machine. Each figure is its fastest round.
public final class ComputeBenchmark {
    /// One thread count's figures; times in seconds per call.
    public struct Figures: Sendable {
        public var peakGFLOPs = 0.0
        public var forward = 0.0, forwardBackward = 0.0, optimizer = 0.0, step = 0.0
        public var forwardGFLOPs = 0.0, forwardBackwardGFLOPs = 0.0, stepGFLOPs = 0.0
        /// GB/s: copy (2 floats a element), a += b (3) and Adam's update (7 a parameter).
        public var copyGBs = 0.0, addGBs = 0.0, adamGBs = 0.0
    }

    public let network: Network
    public let batch: Int
    /// Timed rounds (after one warm-up round).
    public let repeats: Int
    private let adam: Adam
    private let input: [Float]
    private let labels: [Int32]

    public init(spec: ModelSpec, batch: Int, repeats: Int, convolutions: ConvolutionAlgorithm) {
        network = Network(spec: spec, maxBatch: batch, seed: 1, convolutions: convolutions)
        adam = Adam(parameterCount: network.parameters.count)
        self.batch = batch
        self.repeats = repeats
        var rng = SplitMix64(seed: 1)
        input = (0..<(batch * network.inputSize)).map { _ in 0.6 + 0.15 * Float(rng.next() >> 40) / Float(1 << 24) }
        labels = (0..<batch).map { Int32($0 % 4) }
    }

    private func forwardBackward() {
        network.forward(input, batch: batch, options: ForwardOptions(training: true))
        _ = network.loss(labels: labels, batch: batch, gradientScale: 1 / Float(batch))
        network.backward(batch: batch)
    }

    private func update() { adam.step(parameters: network.parameters, gradients: UnsafeBufferPointer(network.gradients), lr: 1e-4) }

    /// Every figure with `threads` BLAS threads.
    public func measure(threads: Int) -> Figures {
        BLAS.threads = threads
        let n = 2048
        let a = [Float](repeating: 0.5, count: n * n), bm = [Float](repeating: 0.25, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        // The memory bandwidth the element-wise work is measured against: buffers far
        // beyond any cache (134 MB), whatever the model's size.
        let count = 1 << 25
        let x = UnsafeMutableBufferPointer<Float>.allocate(capacity: count), y = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        x.initialize(repeating: 1)
        y.initialize(repeating: 2)
        defer { x.deallocate(); y.deallocate() }
        // Split over the BLAS threads, as the optimizer's update is.
        func copy() { Parallel.forEachRange(count) { r in (y.baseAddress! + r.lowerBound).update(from: x.baseAddress! + r.lowerBound, count: r.count) } }
        func add() { Parallel.forEachRange(count) { r in for i in r { y[i] += x[i] } } }
        let seconds = fastestOfRounds([
            { BLAS.sgemm(m: n, n: n, k: n, a: a, lda: n, b: bm, ldb: n, c: &c, ldc: n) },
            { self.network.forward(self.input, batch: self.batch, options: .inference) },
            forwardBackward,
            update,
            { self.forwardBackward(); self.update() },
            copy,
            add,
        ])
        let flops = network.flopsPerSample, b = Double(batch)
        var f = Figures()
        f.peakGFLOPs = 2 * Double(n * n * n) / seconds[0] / 1e9
        (f.forward, f.forwardBackward, f.optimizer, f.step) = (seconds[1], seconds[2], seconds[3], seconds[4])
        let trainFlops = b * Double(flops.forward + flops.backward)
        f.forwardGFLOPs = b * Double(flops.forward) / f.forward / 1e9
        f.forwardBackwardGFLOPs = trainFlops / f.forwardBackward / 1e9
        f.stepGFLOPs = trainFlops / f.step / 1e9
        let bytes = Double(4 * count)
        f.copyGBs = 2 * bytes / seconds[5] / 1e9
        f.addGBs = 3 * bytes / seconds[6] / 1e9
        f.adamGBs = 7 * Double(4 * network.parameters.count) / f.optimizer / 1e9
        return f
    }

    /// `repeats` training steps' time per layer (summed; divide by `steps`), with each
    /// memory-bound layer's bytes per sample, forward and backward, by layer index.
    public func layerTimes() -> (times: LayerTimes, steps: Int, traffic: [Int: (forward: Int, backward: Int)]) {
        let times = LayerTimes(network)
        network.layerTimes = times
        defer { network.layerTimes = nil }
        for _ in 0..<repeats { forwardBackward() }
        return (times, repeats, Dictionary(uniqueKeysWithValues: network.memoryTrafficPerLayer.map { ($0.layer, ($0.forward, $0.backward)) }))
    }

    /// The shortest time of each body, in seconds, over `repeats` rounds that run every
    /// body once in turn (after a warm-up round). On a shared machine, the fastest run is
    /// the one least disturbed by neighbours.
    private func fastestOfRounds(_ bodies: [() -> Void]) -> [Double] {
        var fastest = [Double](repeating: .infinity, count: bodies.count)
        for round in 0...repeats {
            for (i, body) in bodies.enumerated() {
                let start = DispatchTime.now().uptimeNanoseconds
                body()
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                if round > 0 { fastest[i] = min(fastest[i], seconds) }
            }
        }
        return fastest
    }
}
