import SetiNet

/// How the ranks of a job sum their gradients and apply the update: one type per
/// exchange algorithm (in the spirit of Horovod's allreduce ops and PyTorch DDP's
/// communication hooks), chosen by ``ExchangeMethod``.
///
/// A reducer owns the flat parameter and gradient buffers (the network computes in them),
/// because where they live is the algorithm's business: plain memory, or shared memory
/// that the ranks of a machine read directly. Per training step the trainer asks for
/// ``kernelGradientFolds()`` before backward, then makes two kinds of call, and the order
/// inside a step is the reducer's:
/// 1. ``gradientsReady(_:)`` from backward, with each range of ``gradients`` that is final
///    (last layer first), so the exchange can start while earlier layers compute;
/// 2. ``applyUpdate(_:)`` once after backward: finish the sum, run the optimizer on the
///    ranges this rank must update, and return when every rank can read the new
///    parameters.
///
/// The loss gradient is already scaled by 1 / (global batch), so the sum over ranks is the
/// gradient of the global mean loss: reducers sum, they never divide.
///
/// Every method is collective: all ranks make the same calls with the same ranges.
public protocol GradientReducer: AnyObject {
    /// Where the network's parameters live.
    var parameters: UnsafeMutableBufferPointer<Float> { get }
    /// Where backward writes the gradients.
    var gradients: UnsafeMutableBufferPointer<Float> { get }

    /// Before backward: the kernel gradients this reducer takes as folds into its own
    /// state rather than in ``gradients`` (PowerSGD's error feedback), by their offset in
    /// ``gradients``, for ``Network/backward(batch:folds:gradientsReady:)``.
    func kernelGradientFolds() -> [Int: KernelGradientFold]

    /// Called by backward with each finished range of ``gradients``, in descending order.
    func gradientsReady(_ range: Range<Int>) throws

    /// Completes the sum, calls `update` with the ranges of ``parameters`` this rank must
    /// update from ``gradients`` (everything, or its own slices when the ranks of a
    /// machine split the optimizer's work) and, for a reducer that writes some gradients
    /// only as the optimizer reaches them, how; returns when every rank can read the
    /// updated parameters.
    func applyUpdate(_ update: (GradientSource) -> Void) throws

    /// After every rank wrote the same values into ``parameters`` (initialization, a
    /// loaded checkpoint): returns when all may read them.
    func parametersWritten() throws

    /// Makes this rank's copy of the optimizer's state whole (a rank that updates only its
    /// own slices keeps only those current), before a checkpoint saves it.
    func completeState(of optimizer: Optimizer) throws

    /// The exchange's own state for checkpoints (PowerSGD's error feedback and factors):
    /// after ``completeState(of:)`` rank 0's buffers hold what a resumed run needs.
    var stateSlots: [(name: String, values: UnsafeMutableBufferPointer<Float>)] { get }

    /// After every rank read the values of a checkpoint saved after optimizer step `step`
    /// into ``stateSlots``: makes them this rank's state (a reducer whose state is a sum
    /// over ranks keeps it on rank 0 only) and continues counting steps from `step`.
    func stateRestored(step: Int)
}

extension GradientReducer {
    public func kernelGradientFolds() -> [Int: KernelGradientFold] { [:] }
    public var stateSlots: [(name: String, values: UnsafeMutableBufferPointer<Float>)] { [] }
    public func stateRestored(step: Int) {}
}

extension GradientReducer {
    /// One optimizer step at learning rate `lr`, applied where this rank must apply it.
    public func applyUpdate(_ optimizer: Optimizer, lr: Float) throws {
        try applyUpdate { source in
            optimizer.step(
                parameters: parameters, gradients: UnsafeBufferPointer(gradients), lr: lr, ranges: source.ranges,
                prepare: source.prepare)
        }
    }
}

/// Groups the ranges backward hands over (contiguous, descending) into buckets of at least
/// `minimumFloats`, so that each exchange is large enough to run at full bandwidth. The
/// bucket that reaches the start of the buffer is released whatever its size.
struct GradientBuckets {
    let minimumFloats: Int
    private var start: Int?
    private var end = 0

    init(minimumFloats: Int) { self.minimumFloats = minimumFloats }

    /// Adds a finished range; returns a bucket to reduce now, if one is complete.
    mutating func add(_ range: Range<Int>) -> Range<Int>? {
        if start == nil { end = range.upperBound }
        start = range.lowerBound
        return end - range.lowerBound >= minimumFloats || range.lowerBound == 0 ? takeRest() : nil
    }

    /// The ranges added since the last bucket, if any, as one bucket.
    mutating func takeRest() -> Range<Int>? {
        defer { start = nil }
        guard let start, start < end else { return nil }
        return start..<end
    }
}
