import SetiRandom
/// A named weight tensor, laid out as Keras stores it, inside one of the network's flat
/// buffers: ``Network/parameters`` when trainable, ``Network/state`` otherwise.
public struct TensorInfo: Hashable, Sendable {
    /// How a tensor starts, as Keras's defaults for its layer.
    public enum Initializer: Hashable, Sendable {
        /// Glorot uniform: limit sqrt(6 / (fan_in + fan_out)), with the receptive field.
        case glorotUniform
        case zeros
        case ones
    }

    /// Keras's name, e.g. "conv2d/kernel", "batch_normalization_1/moving_mean".
    public let name: String
    /// Keras's shape: HWIO for conv kernels, (in, out) for dense kernels.
    public let shape: [Int]
    public let trainable: Bool
    /// First element in its buffer.
    public let offset: Int
    public let initializer: Initializer
    public var count: Int { shape.reduce(1, *) }
}

/// How one forward pass runs.
public struct ForwardOptions: Sendable {
    /// Training uses batch statistics and dropout; inference uses moving statistics.
    public var training: Bool
    /// Dropout masks are a function of (seed, step, layer, global sample index).
    public var dropoutSeed: UInt64 = 0
    public var step: Int = 0
    /// Global index of the batch's first sample, so ranks draw the masks one process would.
    public var firstSample: Int = 0
    /// Batch-norm statistics per group of samples (see BatchNorm.swift); 1 = whole batch.
    public var batchNormGroups: Int = 1
    /// Set for re-estimating the batch-norm moving statistics (see ``estimation(pass:batchNormGroups:)``).
    public var estimationPass: Int?

    public init(training: Bool, dropoutSeed: UInt64 = 0, step: Int = 0, firstSample: Int = 0, batchNormGroups: Int = 1) {
        self.training = training
        self.dropoutSeed = dropoutSeed
        self.step = step
        self.firstSample = firstSample
        self.batchNormGroups = batchNormGroups
    }

    public static let inference = ForwardOptions(training: false)

    /// Pass `k` (from 0) of a batch-norm re-estimation ("precise BN", Wu & Johnson 2021):
    /// batch norm normalises with batch statistics and sets each moving statistic to the
    /// mean of the batch statistics of passes 0...k; dropout is off, as in inference.
    /// Run on a few training batches after the weights last changed, it replaces moving
    /// averages that lag behind fast-moving weights with statistics of the weights as they are.
    public static func estimation(pass k: Int, batchNormGroups: Int = 1) -> ForwardOptions {
        var options = ForwardOptions(training: false, batchNormGroups: batchNormGroups)
        options.estimationPass = k
        return options
    }
}

/// The compiled model: every trainable parameter in one contiguous buffer and every
/// gradient in another with the same layout (so one allreduce moves them all), batch-norm
/// moving statistics in a third, and activation buffers sized for `maxBatch` samples.
///
/// Usage per step: ``forward(_:batch:options:)``, ``loss(labels:batch:gradientScale:labelSmoothing:)``,
/// ``backward(batch:folds:gradientsReady:)``. Backward *overwrites* the gradients.
public final class Network {
    public let spec: ModelSpec
    public let maxBatch: Int
    public let tensors: [TensorInfo]
    public let parameters: UnsafeMutableBufferPointer<Float>
    public let gradients: UnsafeMutableBufferPointer<Float>
    /// Non-trainable state: batch-norm moving means and variances.
    public let state: UnsafeMutableBufferPointer<Float>
    public var classes: Int { spec.classes }
    /// Floats per input sample (H * W * C).
    public var inputSize: Int { spec.height * spec.width * spec.channels }

    let layers: [CompiledLayer]
    /// When set, every forward and backward pass adds its per-layer times here.
    public var layerTimes: LayerTimes?
    private let ownsParameters: Bool, ownsGradients: Bool
    private var outputs: [UnsafeMutablePointer<Float>]
    private var ownedOutputs: [UnsafeMutablePointer<Float>] = []
    private var argmax: [Int: UnsafeMutablePointer<Int32>] = [:]
    /// Per batch norm with a fused max pool: each window's position of its maximum.
    private var poolMaxima: [Int: UnsafeMutablePointer<UInt8>] = [:]
    private var masks: [Int: UnsafeMutablePointer<Float>] = [:]
    private var batchNormCaches: [Int: BatchNormCache] = [:]
    private let scratch: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>)
    private let convWorkspace: ConvWorkspace
    private let denseWorkspace = DenseWorkspace()
    /// The convolution layers computed with Winograd, by layer index.
    private let winograd: [Int: WinogradConvolution]
    private let probs: UnsafeMutablePointer<Float>
    /// The last forward pass's input, copied: backward reads it after the caller's
    /// buffer may have gone.
    private let input: UnsafeMutablePointer<Float>
    private var hasForward = false
    private var lastForward = ForwardOptions.inference

    /// Builds the network for batches of up to `maxBatch` samples and initializes its
    /// weights from `seed` as Keras does by default (Glorot-uniform kernels, zero biases,
    /// gamma 1, beta 0, moving mean 0, moving variance 1).
    ///
    /// `parameterStorage` and `gradientStorage`, when given, are where the parameters live
    /// and where backward writes the gradients (e.g. the shared-memory buffers of SwiftMPI's
    /// HierarchicalAllreduce, saving copies every step); each must hold
    /// ``parameterCount(of:)`` floats and outlive the network.
    ///
    /// `convolutions`: Winograd where it applies (the default), or im2col everywhere.
    public init(
        spec: ModelSpec = .setiCNN, maxBatch: Int, seed: UInt64,
        parameterStorage: UnsafeMutableBufferPointer<Float>? = nil, gradientStorage: UnsafeMutableBufferPointer<Float>? = nil,
        convolutions: ConvolutionAlgorithm = .winograd
    ) {
        precondition(maxBatch > 0, "maxBatch must be positive")
        let plan = compile(spec)
        self.spec = spec
        self.maxBatch = maxBatch
        layers = plan.layers
        tensors = plan.tensors
        for storage in [parameterStorage, gradientStorage].compactMap({ $0 }) {
            precondition(storage.count == plan.parameterCount, "storage holds \(storage.count) floats, the model needs \(plan.parameterCount)")
        }
        ownsParameters = parameterStorage == nil
        ownsGradients = gradientStorage == nil
        parameters = parameterStorage ?? .allocateAligned(zeroed: plan.parameterCount)
        gradients = gradientStorage ?? .allocateAligned(zeroed: plan.parameterCount)
        state = .allocate(capacity: plan.stateCount)
        if !ownsGradients { gradients.initialize(repeating: 0) }  // its own start zeroed

        var largest = spec.height * spec.width * spec.channels
        var outputs: [UnsafeMutablePointer<Float>] = []
        var convShapes: [ConvShape] = []
        var winograd: [Int: WinogradConvolution] = [:]
        for (i, layer) in layers.enumerated() {
            largest = max(largest, layer.outputSize)
            guard let size = layer.outputBuffer(index: i) else {
                outputs.append(outputs[i - 1])  // same buffer (read as (B, H*W*C) after Flatten)
                continue
            }
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: maxBatch * size)
            ownedOutputs.append(buffer)
            outputs.append(buffer)
            switch layer.keeps {
            case .poolIndices(let n): argmax[i] = .allocate(capacity: maxBatch * n)
            case .poolWinners(let n): poolMaxima[i] = .allocate(capacity: maxBatch * n)
            case .dropoutMask(let n): masks[i] = .allocate(capacity: maxBatch * n)
            case .nothing: break
            }
            if case .conv(let s, _, _) = layer.op {
                convShapes.append(s)
                if convolutions == .winograd { winograd[i] = WinogradConvolution.make(s) }
            }
        }
        self.winograd = winograd
        self.outputs = outputs
        scratch = (.allocate(capacity: maxBatch * largest), .allocate(capacity: maxBatch * largest))
        convWorkspace = ConvWorkspace(convShapes)
        probs = .allocate(capacity: maxBatch * spec.classes)
        input = .allocate(capacity: maxBatch * spec.height * spec.width * spec.channels)
        initialize(seed: seed)
    }

    deinit {
        state.deallocate()
        if ownsParameters { parameters.deallocate() }
        if ownsGradients { gradients.deallocate() }
        ownedOutputs.forEach { $0.deallocate() }
        argmax.values.forEach { $0.deallocate() }
        poolMaxima.values.forEach { $0.deallocate() }
        masks.values.forEach { $0.deallocate() }
        scratch.0.deallocate(); scratch.1.deallocate()
        probs.deallocate()
        input.deallocate()
    }

    /// Bytes a network of `spec` allocates for batches of `maxBatch` (activations, pooling
    /// indices, dropout masks, scratch) besides its parameters: what the batch size costs.
    public static func activationBytes(of spec: ModelSpec, maxBatch: Int) -> Int {
        // The same buffers Network.init allocates, from the same declarations.
        let plan = compile(spec)
        var perSample = spec.height * spec.width * spec.channels  // the input copy
        var largest = perSample
        for (i, layer) in plan.layers.enumerated() {
            largest = max(largest, layer.outputSize)
            guard let size = layer.outputBuffer(index: i) else { continue }
            perSample += size + (layer.keeps.bytes + 3) / 4
        }
        perSample += 2 * largest  // the two gradient scratch buffers
        let (bytes, overflow) = perSample.multipliedReportingOverflow(by: 4 * maxBatch)
        return overflow ? .max : bytes
    }

    /// Trainable parameters (and so gradients) of a model built from `spec`.
    public static func parameterCount(of spec: ModelSpec) -> Int { compile(spec).parameterCount }

    /// The tensors of a model built from `spec`, as ``tensors`` lists them.
    public static func tensors(of spec: ModelSpec) -> [TensorInfo] { compile(spec).tensors }

    /// Trainable and non-trainable parameter counts.
    public var parameterCounts: (trainable: Int, nonTrainable: Int) { (parameters.count, state.count) }

    /// Keras's name of each layer, in the order of `spec.layers` ("conv2d", "re_lu", ...).
    public var layerNames: [String] { layers.map(\.name) }

    /// The tensor with this Keras name.
    public func tensor(_ name: String) -> TensorInfo? { tensors.first { $0.name == name } }

    /// Re-initializes all weights and statistics from `seed` (Keras's default initializers).
    public func initialize(seed: UInt64) {
        for (index, t) in tensors.enumerated() {
            let buffer = t.trainable ? parameters : state
            let values = UnsafeMutableBufferPointer(rebasing: buffer[t.offset..<(t.offset + t.count)])
            switch t.initializer {
            case .glorotUniform:
                let receptive = t.shape.dropLast(2).reduce(1, *)
                let fanIn = receptive * t.shape[t.shape.count - 2], fanOut = receptive * t.shape.last!
                let limit = (6 / Float(fanIn + fanOut)).squareRoot()
                for i in 0..<t.count {
                    let u = CounterRandom.uniform(seed: seed, stream: RandomStream.weights(tensor: index).id, index: UInt64(i))
                    values[i] = (2 * u - 1) * limit
                }
            case .ones:
                values.update(repeating: 1)
            case .zeros:
                values.update(repeating: 0)
            }
        }
    }

    // MARK: Forward

    /// Runs the layers on `batch` samples at `input` (NHWC, batch x H x W x C) and returns
    /// the logits (batch x classes). The input is copied, so the caller's buffer need only
    /// live for the call.
    @discardableResult
    public func forward(_ input: UnsafePointer<Float>, batch: Int, options: ForwardOptions) -> UnsafePointer<Float> {
        precondition(batch > 0 && batch <= maxBatch, "batch \(batch) outside 1...\(maxBatch)")
        self.input.update(from: input, count: batch * inputSize)
        hasForward = true
        lastForward = options
        var x = UnsafePointer(self.input)
        let p = parameters.baseAddress!, st = state.baseAddress!
        for (i, layer) in layers.enumerated() {
            let out = outputs[i]
            let start = layerTimes == nil ? nil : LayerTimes.now()
            defer { if let start { layerTimes?.add(layer: i, backward: false, since: start) } }
            switch layer.op {
            case .conv(let s, let kernel, let bias):
                if let fast = winograd[i] {
                    fast.forward(out, x, p + kernel, p + bias, batch: batch, workspace: convWorkspace)
                } else {
                    conv2dForward(out, x, p + kernel, p + bias, batch: batch, s, workspace: convWorkspace)
                }
            case .batchNorm(let n):
                let rows = batch * layer.outputSize / n.channels
                if options.training || options.estimationPass != nil {
                    // A running mean over estimation passes: weight k / (k + 1) on the past.
                    let momentum = options.estimationPass.map { Float($0) / Float($0 + 1) } ?? n.momentum
                    var cache = batchNormCaches[i] ?? BatchNormCache()
                    batchNormForwardTraining(
                        out, x, p + n.gamma, p + n.beta, st + n.movingMean, st + n.movingVariance, rows: rows,
                        channels: n.channels, groups: options.batchNormGroups, momentum: momentum, epsilon: n.epsilon,
                        relu: n.relu, pool: n.pool, maxima: poolMaxima[i], cache: &cache)
                    batchNormCaches[i] = cache
                } else {
                    batchNormForwardInference(
                        out, x, p + n.gamma, p + n.beta, st + n.movingMean, st + n.movingVariance, rows: rows,
                        channels: n.channels, epsilon: n.epsilon, relu: n.relu, pool: n.pool)
                }
            case .relu(let fused):
                if !fused { reluForward(out, x, count: batch * layer.outputSize) }
            case .maxPool(let h, let w, let c, let size, let fused):
                if !fused { maxPoolForward(out, argmax[i]!, x, batch: batch, height: h, width: w, channels: c, pool: size) }
            case .dropout(let rate):
                if options.training {
                    dropoutForward(
                        out, masks[i]!, x, batch: batch, features: layer.outputSize, rate: rate,
                        seed: options.dropoutSeed, stream: RandomStream.dropout(step: options.step, layer: i).id,
                        firstSample: options.firstSample)
                } else {
                    out.update(from: x, count: batch * layer.outputSize)
                }
            case .flatten:
                break
            case .dense(let inputs, let units, let kernel, let bias):
                denseForward(out, x, p + kernel, p + bias, batch: batch, inputs: inputs, outputs: units, workspace: denseWorkspace)
            }
            x = UnsafePointer(out)
        }
        return x
    }

    /// Softmax cross-entropy of the last forward pass against `labels` (class indices),
    /// with the targets smoothed by `labelSmoothing` (0: one-hot). Also prepares
    /// backward: dlogits = (softmax - target) * gradientScale, where the scale is
    /// 1 / (global batch size) so that summing gradients over ranks gives the gradient of
    /// the global mean loss.
    public func loss(labels: UnsafePointer<Int32>, batch: Int, gradientScale: Float, labelSmoothing: Float = 0) -> (lossSum: Double, correct: Int) {
        let logits = outputs[layers.count - 1]
        let result = softmaxCrossEntropyForward(probs, logits, labels, batch: batch, classes: classes, smoothing: labelSmoothing)
        softmaxCrossEntropyBackward(scratch.0, probs, labels, batch: batch, classes: classes, scale: gradientScale, smoothing: labelSmoothing)
        return result
    }

    /// Softmax probabilities of the last forward pass (valid until the next one).
    public func probabilities(of logits: UnsafePointer<Float>, batch: Int) -> UnsafeBufferPointer<Float> {
        for b in 0..<batch { _ = softmaxRow(probs + b * classes, logits + b * classes, classes: classes) }
        return UnsafeBufferPointer(start: probs, count: batch * classes)
    }

    // MARK: Backward

    /// Backpropagates the gradient prepared by ``loss(labels:batch:gradientScale:labelSmoothing:)``,
    /// overwriting ``gradients``. After each layer with parameters, `gradientsReady` gets
    /// the range of the gradient buffer that is now final, last layer first, so the
    /// caller can start exchanging it while earlier layers are still computing.
    ///
    /// `folds`, by the offset of a tensor in the gradient buffer: a dense layer's kernel
    /// gradient found there goes into that fold (which records it) instead of the buffer.
    public func backward(
        batch: Int, folds: [Int: KernelGradientFold] = [:], gradientsReady: ((Range<Int>) -> Void)? = nil
    ) {
        precondition(hasForward && lastForward.training, "backward needs a training forward pass before it (batch statistics, dropout masks, pooling maxima)")
        let input = UnsafePointer(self.input)
        var dout = UnsafeMutablePointer(scratch.0), dinp = scratch.1
        let p = parameters.baseAddress!, g = gradients.baseAddress!
        for i in stride(from: layers.count - 1, through: 0, by: -1) {
            let layer = layers[i]
            let x = i == 0 ? input : UnsafePointer(outputs[i - 1])
            let needInput = i > 0
            let start = layerTimes == nil ? nil : LayerTimes.now()
            defer { if let start { layerTimes?.add(layer: i, backward: true, since: start) } }
            switch layer.op {
            case .conv(let s, let kernel, let bias):
                if let fast = winograd[i] {
                    columnSums(g + bias, dout, rows: batch * s.pixels, columns: s.outChannels)
                    fast.backward(needInput ? dinp : nil, g + kernel, dout, x, batch: batch, workspace: convWorkspace)
                } else {
                    conv2dBackward(
                        needInput ? dinp : nil, g + kernel, g + bias, dout, x, p + kernel, batch: batch, s,
                        workspace: convWorkspace)
                }
            case .batchNorm(let n):
                batchNormBackward(
                    needInput ? dinp : nil, g + n.gamma, g + n.beta, dout, x, p + n.gamma,
                    rows: batch * layer.outputSize / n.channels, channels: n.channels, groups: lastForward.batchNormGroups,
                    cache: batchNormCaches[i]!, relu: n.relu, pool: n.pool, maxima: poolMaxima[i].map { UnsafePointer($0) })
            case .relu(let fused):
                if fused { continue }  // same buffer, same gradient: the batch norm before applies it
                reluBackward(dinp, dout, outputs[i], count: batch * layer.outputSize)
            case .maxPool(let h, let w, let c, let size, let fused):
                if fused { continue }  // the batch norm before the ReLU before routes the gradient
                maxPoolBackward(dinp, dout, argmax[i]!, batch: batch, height: h, width: w, channels: c, pool: size)
            case .dropout:
                dropoutBackward(dinp, dout, masks[i]!, count: batch * layer.outputSize)
            case .flatten:
                continue  // same buffer, same gradient
            case .dense(let inputs, let units, let kernel, let bias):
                denseBackward(
                    needInput ? dinp : nil, g + kernel, g + bias, dout, x, p + kernel, batch: batch, inputs: inputs,
                    outputs: units, workspace: denseWorkspace, fold: folds[kernel])
                folds[kernel]?.applied = true
            }
            if !layer.parameterRange.isEmpty { gradientsReady?(layer.parameterRange) }
            swap(&dout, &dinp)
        }
    }

    // MARK: Cost

    /// One GEMM layer's cost per sample: multiply-adds counted as 2 FLOPs.
    public struct LayerFlops: Sendable {
        /// Keras's layer name.
        public var name: String
        /// The GEMM's shape per sample, e.g. "64x128 px x (5x5x1) x 32".
        public var shape: String
        public var forward: Int
        /// The weight gradient, plus the input gradient for all but the first layer.
        public var backward: Int
    }

    /// The cost of each convolution and dense layer, from the compiled model; element-wise
    /// layers are not counted.
    public var flopsPerLayer: [LayerFlops] {
        layers.enumerated().compactMap { i, layer in
            let shape: String
            switch layer.op {
            case .conv(let s, _, _): shape = "\(s.height)x\(s.width) px x (\(s.kernel)x\(s.kernel)x\(s.inChannels)) x \(s.outChannels)"
            case .dense(let inputs, let units, _, _): shape = "\(inputs) x \(units)"
            case .batchNorm, .relu, .maxPool, .dropout, .flatten: return nil
            }
            let f = layer.forwardFlops
            return LayerFlops(name: layer.name, shape: shape, forward: f, backward: i == 0 ? f : 2 * f)
        }
    }

    /// Bytes each element-wise layer (batch norm, ReLU, max pooling, dropout) must move per
    /// sample, forward and backward, counting each buffer it reads or writes once: what a
    /// memory-bound layer's time is measured against. GEMM layers are left out.
    public var memoryTrafficPerLayer: [(layer: Int, name: String, forward: Int, backward: Int)] {
        layers.enumerated().compactMap { i, layer in
            let output = layer.outputSize, input = i == 0 ? spec.height * spec.width * spec.channels : layers[i - 1].outputSize
            let floats: (Int, Int)
            switch layer.op {
            case .batchNorm:
                let y = layer.ownOutputSize!  // pooled, with a fused max pool
                floats = (input + y, 2 * input + y)  // x -> y; dy, x -> dx
            case .relu(fused: false): floats = (2 * output, 3 * output)  // x -> y; y, dy -> dx
            case .maxPool(_, _, _, _, fused: false): floats = (input + 2 * output, 2 * output + input)  // x -> y, argmax; dy, argmax -> dx
            case .dropout: floats = (3 * output, 3 * output)  // x -> y, mask; dy, mask -> dx
            case .conv, .dense, .flatten, .relu(fused: true), .maxPool(_, _, _, _, fused: true): return nil
            }
            return (i, layer.name, 4 * floats.0, 4 * floats.1)
        }
    }

    /// Forward and backward FLOPs per sample, summed over ``flopsPerLayer``.
    public var flopsPerSample: (forward: Int, backward: Int) {
        flopsPerLayer.reduce((0, 0)) { ($0.0 + $1.forward, $0.1 + $1.backward) }
    }
}

#if canImport(Glibc)
import Glibc
#endif
