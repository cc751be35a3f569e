/// One layer of a model, as a user declares it. The engine turns a list of these into
/// buffers and forward/backward calls; the seed model is ``ModelSpec/setiCNN``.
public enum LayerSpec: Codable, Hashable, Sendable {
    /// Conv2D with `filters` output channels, a square odd `kernel`, "same" padding, stride 1.
    case conv2D(filters: Int, kernel: Int)
    /// BatchNormalization over the channel axis (Keras defaults: momentum 0.99, epsilon 1e-3).
    case batchNorm(momentum: Float, epsilon: Float)
    case relu
    /// MaxPool2D with a square window and stride equal to it.
    case maxPool(size: Int)
    /// Inverted dropout, active in training only.
    case dropout(rate: Float)
    /// Flatten in channels-last (H, W, C) order; a no-op on NHWC buffers.
    case flatten
    case dense(units: Int)

    public static let batchNorm = LayerSpec.batchNorm(momentum: 0.99, epsilon: 1e-3)
}

/// A whole model: input geometry, the layer list, and the class count. The last layer
/// must be a dense layer with `classes` units; softmax is fused into the loss.
public struct ModelSpec: Codable, Hashable, Sendable {
    public var height: Int
    public var width: Int
    public var channels: Int
    public var layers: [LayerSpec]

    public init(height: Int, width: Int, channels: Int, layers: [LayerSpec]) {
        self.height = height
        self.width = width
        self.channels = channels
        self.layers = layers
    }

    /// The classic Keras SETI CNN: input 64x128x1 (time x frequency), four classes.
    public static let setiCNN = ModelSpec(
        height: 64, width: 128, channels: 1,
        layers: [
            .conv2D(filters: 32, kernel: 5), .batchNorm, .relu, .maxPool(size: 2), .dropout(rate: 0.25),
            .conv2D(filters: 64, kernel: 5), .batchNorm, .relu, .maxPool(size: 2), .dropout(rate: 0.25),
            .flatten,
            .dense(units: 1024), .batchNorm, .relu, .dropout(rate: 0.4),
            .dense(units: 4),
        ])

    /// Number of classes: the units of the final dense layer.
    public var classes: Int {
        guard case .dense(let units) = layers.last else { return 0 }
        return units
    }
}
