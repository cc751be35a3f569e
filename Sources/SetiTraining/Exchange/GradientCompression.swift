/// What the gradient exchange may lose to move fewer bytes, as `--compression` names it.
/// Across fast links the exact fp32 sum costs little (README's cluster model); across
/// slow ones the dense layer's 134 MB gradient is the whole cost of a step.
public enum GradientCompression: String, Codable, Hashable, Sendable, CaseIterable {
    /// The exact fp32 sum.
    case none
    /// The cross-machine leg of `--allreduce hierarchical` sends bfloat16 and adds in fp32
    /// (sums within a machine stay fp32): half the bytes, 8 bits of mantissa.
    case bf16
    /// ``PowerSGDReducer``: each large matrix exchanged as a rank-r factorisation with error
    /// feedback (Vogels et al. 2019); small tensors exact. Replaces `--allreduce`.
    case powersgd
    /// ``PowerSGDReducer`` alternating: ACP-SGD (Zhang et al. 2023), PowerSGD's factors made
    /// and sent one per step, in turn, inside backward: one pass over each large matrix and
    /// nothing left to exchange after backward. Same options as `powersgd`.
    case acpsgd

    /// PowerSGD or its alternating form: the `--powersgd-*` options apply.
    public var isLowRank: Bool { self == .powersgd || self == .acpsgd }

    /// One line for `--help`.
    public var summary: String {
        switch self {
        case .none: return "the exact fp32 sum"
        case .bf16: return "bfloat16 across machines (hierarchical only), fp32 within"
        case .powersgd: return "rank-r factors of the large matrices with error feedback (--powersgd-rank), small tensors exact"
        case .acpsgd: return "as powersgd, one factor per step in turn, made and sent during backward (ACP-SGD)"
        }
    }
}
