import Foundation
import SetiFiles
import SetiNet

/// A `.keras` file (Keras 3's native format) of a network: a ZIP of `config.json` (the
/// model as a Sequential of Keras layers with the same names), `metadata.json`, and
/// `model.weights.h5`, where layer L's variables are the datasets `layers/L/vars/0, 1, ...`
/// in Keras's order (kernel, bias; gamma, beta, moving mean, moving variance).
/// `keras.models.load_model` opens it; the last Dense layer gets a softmax, so `predict`
/// gives the class probabilities seti-dist prints.
public enum KerasModel {
    public struct ExportError: OneLineError {
        public let description: String
    }

    /// The archive's bytes.
    public static func archive(of network: Network, classNames: [String]) throws -> Data {
        var zip = ZipArchive()
        try zip.add("metadata.json", try json(["keras_version": "3.0.0", "date_saved": "seti-dist", "seti_dist_class_names": classNames]))
        try zip.add("config.json", try json(config(of: network)))
        try zip.add("model.weights.h5", try weights(of: network))
        return zip.serialized()
    }

    /// The Sequential model's configuration, as `keras.saving.serialize_keras_object` writes it.
    static func config(of network: Network) -> [String: Any] {
        let spec = network.spec
        var layers: [[String: Any]] = [[
            "module": "keras.layers", "class_name": "InputLayer", "registered_name": NSNull(),
            "config": ["batch_shape": [NSNull(), spec.height, spec.width, spec.channels], "dtype": "float32", "name": "input_layer"],
        ]]
        for (i, (layer, name)) in zip(spec.layers, network.layerNames).enumerated() {
            let last = i == spec.layers.count - 1
            let config: [String: Any]
            switch layer {
            case .conv2D(let filters, let kernel):
                config = ["filters": filters, "kernel_size": [kernel, kernel], "strides": [1, 1], "padding": "same", "activation": "linear", "use_bias": true]
            case .batchNorm(let momentum, let epsilon):
                config = ["axis": -1, "momentum": Double(momentum), "epsilon": Double(epsilon)]
            case .relu, .flatten:
                config = [:]
            case .maxPool(let size):
                config = ["pool_size": [size, size], "strides": [size, size], "padding": "valid"]
            case .dropout(let rate):
                config = ["rate": Double(rate)]
            case .dense(let units):
                config = ["units": units, "activation": last ? "softmax" : "linear", "use_bias": true]
            }
            let className = layer.kerasClass
            var full = config
            full["name"] = name
            full["trainable"] = true
            full["dtype"] = "float32"
            layers.append(["module": "keras.layers", "class_name": className, "config": full, "registered_name": NSNull()])
        }
        return [
            "module": "keras", "class_name": "Sequential", "registered_name": NSNull(),
            "config": ["name": "sequential", "trainable": true, "layers": layers],
            "build_config": ["input_shape": [NSNull(), spec.height, spec.width, spec.channels]],
        ]
    }

    /// The HDF5 weights file's bytes.
    static func weights(of network: Network) throws -> Data {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("seti-keras-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.weights.h5")
        do {
            let file = try HDF5File(creating: url)
            try file.setAttribute("name", "sequential", on: "vars")
            for name in network.layerNames {
                let group = "layers/\(name)/vars"
                try file.setAttribute("name", name, on: group)
                for (index, tensor) in network.tensors.filter({ $0.name.hasPrefix(name + "/") }).enumerated() {
                    let buffer = tensor.trainable ? network.parameters : network.state
                    try file.writeFloats(Array(buffer[tensor.offset..<(tensor.offset + tensor.count)]), shape: tensor.shape,
                                         name: "\(index)", in: group)
                }
            }
            try file.close()
        } catch let failure as HDF5File.Failure {
            throw ExportError(description: failure.description)
        }
        return try Data(contentsOf: url)
    }

    private static func json(_ object: Any) throws -> Data {
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }
}
