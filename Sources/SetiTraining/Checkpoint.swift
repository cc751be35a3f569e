import Foundation
import SetiNet

/// Checkpoints are safetensors files: every weight under its Keras name and layout (so
/// `model.set_weights` in Keras can take them in Network.tensors order), and for `last`
/// also the optimizer's slots, with metadata: epoch, step, metrics, class names, model
/// spec, seed and the whole configuration. Randomness is counter-based (seed, epoch,
/// step), so those numbers are the complete RNG state.
///
/// Writes are atomic: a temporary file in the same folder, fsync, then rename, so a
/// crash leaves either the old checkpoint or the new one, never half of one.
public enum Checkpoint {
    public static func save(
        network: Network, optimizer: Optimizer?, metadata: [String: String], to url: URL
    ) throws {
        var tensors = network.exportWeights()
        if let optimizer {
            for (name, values) in optimizer.slots {
                tensors["optimizer/" + name] = Safetensors.Tensor(shape: [values.count], values: Array(values))
            }
        }
        var meta = metadata
        meta["format"] = "seti-dist checkpoint 1"
        if let optimizer { meta["optimizer_iterations"] = "\(optimizer.iterations)" }
        try writeAtomically(try Safetensors(tensors: tensors, metadata: meta).serialized(), to: url)
    }

    /// Loads weights (and optimizer slots when `optimizer` is given) and returns the metadata.
    @discardableResult
    public static func load(_ url: URL, into network: Network, optimizer: Optimizer? = nil) throws -> [String: String] {
        let file = try Safetensors(contentsOf: url)
        try network.importWeights(file.tensors, source: url.path)
        if let optimizer {
            for (name, values) in optimizer.slots {
                guard let t = file.tensors["optimizer/" + name], t.values.count == values.count else {
                    throw Safetensors.FormatError(description: "\(url.path): optimizer state \(name) is missing or has the wrong size; was it saved as 'best'?")
                }
                _ = values.update(fromContentsOf: t.values)
            }
            optimizer.restore(iterations: Int(file.metadata["optimizer_iterations"] ?? "0") ?? 0)
        }
        return file.metadata
    }

    static func writeAtomically(_ data: Data, to url: URL) throws {
        let dir = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let temp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        guard FileManager.default.createFile(atPath: temp.path, contents: nil) else {
            throw Safetensors.FormatError(description: "\(temp.path): cannot create")
        }
        let handle = try FileHandle(forWritingTo: temp)
        do {
            try handle.write(contentsOf: data)
            try handle.synchronize()
            try handle.close()
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(at: temp)
            throw error
        }
        guard rename(temp.path, url.path) == 0 else {
            try? FileManager.default.removeItem(at: temp)
            throw Safetensors.FormatError(description: "\(url.path): cannot rename the new checkpoint into place")
        }
    }
}
