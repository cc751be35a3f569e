import ArgumentParser
import Foundation
import SetiNet
import SetiTraining

/// `seti-dist summary`: the model as Keras's `model.summary()` shows it.
struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a model's layers, output shapes and weight counts, as Keras's model.summary() does.",
        discussion: """
            Without --checkpoint, the model a recipe trains (standard: seti-dist's deep CNN; \
            keras-seed: the course's classic one), or the one --model names, for --classes \
            classes; with it, the checkpoint's own model. train --verbose prints the same table.

            Examples:
              seti-dist summary
              seti-dist summary --model classic
              seti-dist summary --checkpoint runs/seti
            """)

    @Option(help: "Checkpoint (.safetensors) or run folder whose model to show.") var checkpoint: String?
    @Option(help: "The recipe whose model to show.") var recipe: Recipe = .standard
    @Option(help: "The network to show instead of the recipe's: deep or classic.") var model: ModelName?
    @Option(help: "Output classes of the recipe's model (2...1000).") var classes: Int = 4

    func validate() throws {
        guard (2...1000).contains(classes) else { throw ValidationError("--classes \(classes): allowed 2...1000") }
        if checkpoint != nil && (classes != 4 || model != nil) { throw ValidationError("--classes and --model set the recipe's model; a checkpoint has its own") }
    }

    private var recipeConfig: TrainConfig {
        var config = recipe.config
        if let model { config.model = model.spec }
        return config
    }

    func run() throws {
        let spec = try checkpoint.map { try Checkpoint.read(URL(fileURLWithPath: $0)).metadata.model } ?? recipeConfig.effectiveModel(classes: classes)
        for line in modelSummaryLines(spec) { try Output.line(line) }
        try Output.finish()
    }
}
