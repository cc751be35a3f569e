import ArgumentParser
import Foundation
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

    func run() throws {
        let (network, meta) = try Checkpoint.loadNetwork(URL(fileURLWithPath: checkpoint), maxBatch: 1)
        let data = try KerasModel.archive(of: network, classNames: meta.classNames)
        try AtomicFile.write(data, to: URL(fileURLWithPath: file))
        try Output.line("wrote \(file) (\(data.count / 1_000_000) MB): \(meta.classNames.count) classes, \(network.parameters.count + network.state.count) weights")
        try Output.finish()
    }
}
