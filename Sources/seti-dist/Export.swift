import ArgumentParser
import Foundation
import SetiFiles
import SetiKeras
import SetiTraining

/// `seti-dist export`: a checkpoint as a file another tool opens.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a checkpoint as a Keras model file (.keras) that keras.models.load_model opens.",
        discussion: """
            The .keras file holds the model as a Sequential of Keras layers with seti-dist's \
            layer names, its weights (HDF5) and the class names (in metadata.json). Its last \
            layer applies the softmax, so Keras's predict gives the probabilities that \
            seti-dist predict prints. scripts/check-keras-export.py checks it against Keras.

            Example:
              seti-dist export --checkpoint runs/seti/best.safetensors --file runs/seti/seti.keras
            """)

    enum Format: String, CaseIterable, ExpressibleByArgument {
        case keras
    }

    @Option(help: "Checkpoint (.safetensors) written by train.") var checkpoint: String
    @Option(help: "The model file to write.") var file: String
    @Option(help: "Format.") var format: Format = .keras

    /// The one format written, as a file suffix: Keras picks its reader by the suffix, and a
    /// .h5 holding a ZIP would fail there far from here.
    func validate() throws {
        guard file.hasSuffix(".keras") || Self.isStream(file) else {
            throw ValidationError("--file \(file): export writes Keras's .keras format (a ZIP that keras.models.load_model opens); name the file *.keras")
        }
    }

    /// A device or a named pipe (`/dev/stdout`) takes the bytes whatever its name.
    private static func isStream(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && [S_IFCHR, S_IFIFO].contains(status.st_mode & S_IFMT)
    }

    func run() throws {
        try OutputFile.check(URL(fileURLWithPath: file))
        let (network, meta) = try Checkpoint.loadNetwork(URL(fileURLWithPath: checkpoint), maxBatch: 1)
        let data = try KerasModel.archive(of: network, classNames: meta.classNames)
        try OutputFile.write(data, to: URL(fileURLWithPath: file))
        try Output.line("wrote \(file) (\(data.count / 1_000_000) MB): \(meta.classNames.count) classes, \(network.parameters.count + network.state.count) weights")
        try Output.finish()
    }
}
