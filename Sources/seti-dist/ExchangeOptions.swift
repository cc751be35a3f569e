import ArgumentParser
import SetiTraining

/// The gradient exchange's flags, the same for `train` and `bench scaling` (through
/// `@OptionGroup`): unset flags leave the recipe's value. Each command checks them its
/// way (train through its configuration's validation, as for config files).
struct ExchangeOptions: ParsableArguments {
    @Flag(inversion: .prefixedNo, help: "Overlap the gradient exchange with backward (\(recipeDefault(\.overlap))).") var overlap: Bool?
    @Option(help: ArgumentHelp("Gradient exchange (\(recipeDefault(\.allreduce.rawValue))).", discussion: AllreduceMethod.allCases.map { "\($0.rawValue): \($0.summary)" }.joined(separator: "; ")))
    var allreduce: AllreduceMethod?
    @Option(help: ArgumentHelp("What the gradient exchange may lose to move fewer bytes (\(recipeDefault(\.compression.rawValue))).", discussion: GradientCompression.allCases.map { "\($0.rawValue): \($0.summary)" }.joined(separator: "; ")))
    var compression: GradientCompression?
    @Option(help: "Rank of the PowerSGD and ACP-SGD factors (1...64; \(recipeDefault(\.powerSGDRank))).") var powersgdRank: Int?
    @Option(help: "Optimizer steps summed exactly before PowerSGD or ACP-SGD starts compressing (0...1000000000; train's \(recipeDefault(\.powerSGDStartStep)); bench scaling's: 0, so every timed step compresses).")
    var powersgdStartStep: Int?

    /// `config` with the flags given.
    func apply(to config: inout TrainConfig) {
        if let overlap { config.overlap = overlap }
        if let allreduce { config.allreduce = allreduce }
        if let compression { config.compression = compression }
        if let powersgdRank { config.powerSGDRank = powersgdRank }
        if let powersgdStartStep { config.powerSGDStartStep = powersgdStartStep }
    }
}
