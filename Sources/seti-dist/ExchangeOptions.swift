import ArgumentParser
import SetiTraining

/// The gradient exchange's flags, the same for `train` and `bench scaling` (through
/// `@OptionGroup`): unset flags leave the recipe's value. Each command checks them its
/// way (train through its configuration's validation, as for config files).
struct ExchangeOptions: ParsableArguments {
    @Flag(inversion: .prefixedNo, help: "Overlap the gradient exchange with backward (\(recipeDefault(\.overlap))).") var overlap: Bool?
    @Option(help: ArgumentHelp("How the ranks sum their gradients (\(recipeDefault(\.exchange.rawValue))).",
                               discussion: ExchangeMethod.allCases.map { "\($0.rawValue): \($0.kind.summary)" }.joined(separator: "; ")
                                   + ". 0.17's --allreduce and --compression still work."))
    var exchange: ExchangeMethod?
    @Option(help: .hidden) var allreduce: LegacyAllreduce?
    @Option(help: .hidden) var compression: LegacyCompression?
    @Option(help: "Rank of the PowerSGD and ACP-SGD factors (1...64; \(recipeDefault(\.powerSGDRank))).") var powersgdRank: Int?
    @Option(help: "Optimizer steps summed exactly before PowerSGD or ACP-SGD starts compressing (0...1000000000; train's \(recipeDefault(\.powerSGDStartStep)); bench scaling's: 0, so every timed step compresses).")
    var powersgdStartStep: Int?

    /// 0.17's flags, which named the exchange method in two parts.
    enum LegacyAllreduce: String, CaseIterable, ExpressibleByArgument { case hierarchical, mpi }
    enum LegacyCompression: String, CaseIterable, ExpressibleByArgument { case none, bf16, powersgd, acpsgd }

    /// The method the flags name, where `current` is the one they change; nil when none is named.
    func method(over current: ExchangeMethod) throws -> ExchangeMethod? {
        guard allreduce != nil || compression != nil else { return exchange }
        guard exchange == nil else { throw ValidationError("--exchange replaces --allreduce and --compression: give it alone") }
        guard let method = current.changing(allreduce: allreduce?.rawValue, compression: compression?.rawValue) else {
            throw ValidationError("--compression bf16 compresses the cross-machine leg of --allreduce hierarchical (now --exchange hierarchical-bf16)")
        }
        return method
    }

    /// `config` with the flags given.
    func apply(to config: inout TrainConfig) throws {
        if let overlap { config.overlap = overlap }
        if let method = try method(over: config.exchange) { config.exchange = method }
        if let powersgdRank { config.powerSGDRank = powersgdRank }
        if let powersgdStartStep { config.powerSGDStartStep = powersgdStartStep }
    }
}
