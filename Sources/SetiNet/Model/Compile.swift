/// A layer with its geometry resolved and its tensors placed in the flat buffers.
struct CompiledLayer {
    enum Op {
        /// Offsets of kernel and bias in the parameter buffer.
        case conv(ConvShape, kernel: Int, bias: Int)
        case batchNorm(BatchNormLayer)
        /// `fused`: done by the batch norm before it; this layer passes data through.
        case relu(fused: Bool)
        /// `fused`: done by the batch norm before the ReLU before it; passes data through.
        case maxPool(height: Int, width: Int, channels: Int, size: Int, fused: Bool)
        case dropout(rate: Float)
        case flatten
        case dense(inputs: Int, units: Int, kernel: Int, bias: Int)
    }

    var op: Op
    /// Keras's layer name, e.g. "conv2d_1", "max_pooling2d", "dropout_2".
    let name: String
    /// Floats per sample going in and coming out.
    let inputSize: Int
    let outputSize: Int
    /// This layer's slice of the parameter (and gradient) buffer.
    let parameterRange: Range<Int>
    /// Non-trainable values (batch norm's moving statistics) in the state buffer.
    let stateCount: Int
    /// The output's shape per sample, as Keras's summary shows it: [height, width,
    /// channels], or [units] after Flatten.
    let outputShape: [Int]

    /// Floats per sample in the output buffer this layer writes; nil when it writes none
    /// and hands its input's buffer on (Flatten, and layers fused into the one before).
    var ownOutputSize: Int? {
        switch op {
        case .flatten, .relu(fused: true), .maxPool(_, _, _, _, fused: true): return nil
        case .batchNorm(let norm): return norm.pool.map { $0.pooledPixels * norm.channels } ?? outputSize
        case .conv, .relu(fused: false), .maxPool(_, _, _, _, fused: false), .dropout, .dense: return outputSize
        }
    }

    /// Floats per sample of the output buffer this layer owns when it is layer `index` (the
    /// first layer always owns one: there is no input buffer to hand on); nil otherwise.
    func outputBuffer(index: Int) -> Int? { ownOutputSize ?? (index == 0 ? outputSize : nil) }

    /// What a layer keeps per sample for its backward pass besides its output.
    enum Keeps {
        case nothing
        /// Which input won each max-pooling window (Int32 per output).
        case poolIndices(Int)
        /// A fused max pool's winner within each window (a byte per pooled output).
        case poolWinners(Int)
        /// Dropout's scaled keep mask (a float per output).
        case dropoutMask(Int)

        /// Bytes per sample.
        var bytes: Int {
            switch self {
            case .nothing: return 0
            case .poolIndices(let n), .dropoutMask(let n): return 4 * n
            case .poolWinners(let n): return n
            }
        }
    }

    var keeps: Keeps {
        switch op {
        case .maxPool(_, _, _, _, fused: false): return .poolIndices(outputSize)
        case .batchNorm(let norm): return norm.pool == nil ? .nothing : .poolWinners(ownOutputSize!)
        case .dropout: return .dropoutMask(outputSize)
        case .conv, .relu, .maxPool(_, _, _, _, fused: true), .flatten, .dense: return .nothing
        }
    }
}

extension CompiledLayer {
    /// Forward FLOPs per sample (multiply-adds count 2) of a convolution or dense layer;
    /// element-wise layers count 0.
    var forwardFlops: Int {
        switch op {
        case .conv(let s, _, _): return 2 * s.pixels * s.patch * s.outChannels
        case .dense(let inputs, let units, _, _): return 2 * inputs * units
        case .batchNorm, .relu, .maxPool, .dropout, .flatten: return 0
        }
    }
}

struct BatchNormLayer {
    var channels: Int
    /// gamma and beta in the parameter buffer; moving mean and variance in the state buffer.
    var gamma: Int, beta: Int, movingMean: Int, movingVariance: Int
    var momentum: Float, epsilon: Float
    /// The ReLU that follows, applied here in the same pass over the data.
    var relu = false
    /// The max pool after that ReLU, applied here too: the layer's output is pooled.
    var pool: FusedPool?
}

struct CompiledPlan {
    var layers: [CompiledLayer] = []
    var tensors: [TensorInfo] = []
    var parameterCount = 0
    var stateCount = 0
}

/// Resolves shapes layer by layer, names tensors as Keras would (conv2d, conv2d_1, ...,
/// batch_normalization, dense, ...) and places them in forward order. `spec` is one that
/// ``ModelSpec/validate()`` accepted (it runs this same pass).
func compile(_ spec: ModelSpec) -> CompiledPlan {
    do { return try checkedCompile(spec) } catch { preconditionFailure("\(error)") }
}

/// ``compile(_:)``, refusing each layer whose shapes or settings do not fit: the one shape
/// pass, shared by ``ModelSpec/validate()``.
func checkedCompile(_ spec: ModelSpec) throws -> CompiledPlan {
    func fail(_ why: String) -> ModelSpecError { ModelSpecError(description: "model: \(why)") }
    let limit = 1 << 31  // floats per tensor or activation: far above any sane model
    var plan = CompiledPlan()
    var h = spec.height, w = spec.width, c = spec.channels
    var flat = false
    var nameCounts: [String: Int] = [:]

    func uniqueName(_ base: String) -> String {
        let n = nameCounts[base, default: 0]
        nameCounts[base] = n + 1
        return n == 0 ? base : "\(base)_\(n)"
    }
    func add(_ name: String, _ shape: [Int], trainable: Bool, _ initializer: TensorInfo.Initializer) -> Int {
        let count = shape.reduce(1, *)
        let offset = trainable ? plan.parameterCount : plan.stateCount
        plan.tensors.append(TensorInfo(name: name, shape: shape, trainable: trainable, offset: offset, initializer: initializer))
        if trainable { plan.parameterCount += count } else { plan.stateCount += count }
        return offset
    }

    for (i, layerSpec) in spec.layers.enumerated() {
        let at = "layer \(i + 1) (\(layerSpec))"
        let inputSize = h * w * c
        let firstParameter = plan.parameterCount, firstState = plan.stateCount
        let op: CompiledLayer.Op
        let name: String
        switch layerSpec {
        case .conv2D(let filters, let k):
            guard !flat else { throw fail("\(at): Conv2D after Flatten") }
            guard (1...4096).contains(filters), k >= 1, k % 2 == 1, k <= 31 else { throw fail("\(at): filters 1...4096 and an odd kernel 1...31") }
            name = uniqueName("conv2d")
            let kernel = add("\(name)/kernel", [k, k, c, filters], trainable: true, .glorotUniform)
            let bias = add("\(name)/bias", [filters], trainable: true, .zeros)
            op = .conv(ConvShape(height: h, width: w, inChannels: c, outChannels: filters, kernel: k), kernel: kernel, bias: bias)
            c = filters
        case .batchNorm(let momentum, let epsilon):
            guard momentum.isFinite, (0...1).contains(momentum), epsilon.isFinite, epsilon > 0 else {
                throw fail("\(at): momentum in 0...1 and epsilon > 0")
            }
            name = uniqueName("batch_normalization")
            let gamma = add("\(name)/gamma", [c], trainable: true, .ones)
            let beta = add("\(name)/beta", [c], trainable: true, .zeros)
            let mean = add("\(name)/moving_mean", [c], trainable: false, .zeros)
            let variance = add("\(name)/moving_variance", [c], trainable: false, .ones)
            op = .batchNorm(
                BatchNormLayer(
                    channels: c, gamma: gamma, beta: beta, movingMean: mean, movingVariance: variance, momentum: momentum,
                    epsilon: epsilon))
        case .relu:
            name = uniqueName("re_lu")
            // BatchNorm then ReLU (both conv blocks and the dense block of the SETI model):
            // one pass over the activations instead of two, each way.
            let last = plan.layers.count - 1
            if last >= 0, case .batchNorm(var norm) = plan.layers[last].op, !norm.relu {
                norm.relu = true
                plan.layers[last].op = .batchNorm(norm)
                op = .relu(fused: true)
            } else {
                op = .relu(fused: false)
            }
        case .maxPool(let size):
            guard !flat, size >= 1, size <= h, size <= w else { throw fail("\(at): a pooling window of 1...\(min(h, w)) before Flatten") }
            // BatchNorm, ReLU, then MaxPool (both conv blocks of the SETI model): the batch
            // norm writes the pooled output, a quarter of the full one, and its backward
            // reads the pooled gradient.
            let norm = plan.layers.count - 2
            if norm >= 0, size * size <= 256, case .relu(fused: true) = plan.layers[norm + 1].op,
                case .batchNorm(var fused) = plan.layers[norm].op {
                fused.pool = FusedPool(height: h, width: w, size: size)
                plan.layers[norm].op = .batchNorm(fused)
                op = .maxPool(height: h, width: w, channels: c, size: size, fused: true)
            } else {
                op = .maxPool(height: h, width: w, channels: c, size: size, fused: false)
            }
            name = uniqueName("max_pooling2d")
            h /= size; w /= size
        case .dropout(let rate):
            guard rate.isFinite, rate >= 0, rate < 1 else { throw fail("\(at): a rate in [0, 1)") }
            op = .dropout(rate: rate)
            name = uniqueName("dropout")
        case .flatten:
            guard !flat else { throw fail("\(at): a second Flatten") }
            op = .flatten
            name = uniqueName("flatten")
            c = h * w * c; h = 1; w = 1; flat = true
        case .dense(let units):
            guard flat else { throw fail("\(at): Dense needs a Flatten before it") }
            guard (1...65_536).contains(units) else { throw fail("\(at): units 1...65536") }
            let (size, overflow) = c.multipliedReportingOverflow(by: units)
            guard !overflow, size < limit else { throw fail("\(at): a \(c) x \(units) kernel is too large") }
            name = uniqueName("dense")
            let kernel = add("\(name)/kernel", [c, units], trainable: true, .glorotUniform)
            let bias = add("\(name)/bias", [units], trainable: true, .zeros)
            op = .dense(inputs: c, units: units, kernel: kernel, bias: bias)
            c = units
        }
        plan.layers.append(
            CompiledLayer(op: op, name: name, inputSize: inputSize, outputSize: h * w * c, parameterRange: firstParameter..<plan.parameterCount,
                          stateCount: plan.stateCount - firstState, outputShape: flat ? [c] : [h, w, c]))
        guard h * w * c < limit, plan.parameterCount < limit else { throw fail("\(at): the model is too large (over 2^31 floats)") }
    }
    return plan
}
