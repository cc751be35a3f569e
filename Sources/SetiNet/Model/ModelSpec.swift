import SetiFiles
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

    /// seti-dist's own CNN, the standard recipe's: four convolution blocks (a 5x5 kernel,
    /// then 3x3; 32, 64, 128 and 128 filters; each block halves the image) under a 256-unit
    /// dense layer. For two thirds of the classic's compute it holds 26 times fewer weights, and it
    /// learns the shapes that tell the classes apart (a track's curvature, a faint track's
    /// continuity) from the feature maps rather than from a 33-million-weight dense layer
    /// over raw positions: the transfer matrix in docs/GUIDE.md measures the difference.
    public static let deep = ModelSpec(
        height: 64, width: 128, channels: 1,
        layers: [
            .conv2D(filters: 32, kernel: 5), .batchNorm, .relu, .maxPool(size: 2),
            .conv2D(filters: 64, kernel: 3), .batchNorm, .relu, .maxPool(size: 2),
            .conv2D(filters: 128, kernel: 3), .batchNorm, .relu, .maxPool(size: 2),
            .conv2D(filters: 128, kernel: 3), .batchNorm, .relu, .maxPool(size: 2),
            .flatten,
            .dense(units: 256), .batchNorm, .relu, .dropout(rate: 0.4),
            .dense(units: 4),
        ])

    /// Number of classes: the units of the final dense layer.
    public var classes: Int {
        guard case .dense(let units) = layers.last else { return 0 }
        return units
    }
}

/// The models `train --model` and `summary --model` name; a configuration file may give a
/// name too (`model: classic`), or a whole layer list.
public enum ModelName: String, CaseIterable, Codable, Sendable {
    /// ``ModelSpec/deep``: the standard recipe's.
    case deep
    /// ``ModelSpec/setiCNN``: the course's (keras-seed's).
    case classic

    public var spec: ModelSpec {
        switch self {
        case .deep: return .deep
        case .classic: return .setiCNN
        }
    }

    /// The name of exactly `spec` (nil for a model of one's own).
    public init?(spec: ModelSpec) {
        guard let name = Self.allCases.first(where: { $0.spec == spec }) else { return nil }
        self = name
    }
}

/// A model description the engine cannot build, e.g. a Dense layer before Flatten.
public struct ModelSpecError: OneLineError, Equatable {
    public let description: String
}

extension ModelSpec {
    /// Checks everything ``Network`` relies on: positive sizes that fit in memory, layers in
    /// an order the engine supports, a final dense layer. Models from config files and
    /// checkpoints are untrusted, so they pass here before anything is allocated.
    public func validate() throws {
        func fail(_ why: String) -> ModelSpecError { ModelSpecError(description: "model: \(why)") }
        guard (1...4096).contains(height), (1...4096).contains(width), (1...64).contains(channels) else {
            throw fail("input \(height)x\(width)x\(channels) outside 1...4096 x 1...4096 x 1...64")
        }
        _ = try checkedCompile(self)
        guard case .dense = layers.last, classes >= 2 else { throw fail("the last layer must be Dense with one unit per class (2 or more)") }
    }
}
