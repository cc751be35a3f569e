/// One row of a model's summary, as Keras's `model.summary()` lists it.
public struct LayerSummary: Equatable, Sendable {
    /// Keras's layer name ("conv2d_1") and class ("Conv2D").
    public var name: String
    public var kind: String
    /// Per sample: [height, width, channels], or [units] after Flatten.
    public var outputShape: [Int]
    public var trainable: Int
    public var nonTrainable: Int
    /// Forward FLOPs per sample (convolutions and dense layers; others count 0).
    public var flops: Int
}

extension ModelSpec {
    /// The layers with their output shapes and weight counts, from the same compilation the
    /// network is built from.
    public var summary: [LayerSummary] {
        zip(layers, compile(self).layers).map { spec, layer in
            LayerSummary(name: layer.name, kind: spec.kerasClass, outputShape: layer.outputShape,
                         trainable: layer.parameterRange.count, nonTrainable: layer.stateCount, flops: layer.forwardFlops)
        }
    }
}

extension LayerSpec {
    /// Keras's class name for the layer.
    public var kerasClass: String {
        switch self {
        case .conv2D: return "Conv2D"
        case .batchNorm: return "BatchNormalization"
        case .relu: return "ReLU"
        case .maxPool: return "MaxPooling2D"
        case .dropout: return "Dropout"
        case .flatten: return "Flatten"
        case .dense: return "Dense"
        }
    }
}
