import SetiNet
import SwiftMPI

/// Averages the flat gradient buffer over ranks. With overlap on, backward hands over each
/// layer's gradient range as soon as it is final (last layer first); ranges are grouped
/// into buckets of at least `bucketFloats` and each bucket's non-blocking allreduce starts
/// at once, so the exchange of the 134 MB dense gradient runs while the convolutions'
/// backward computes. `finish()` waits for the rest.
///
/// The loss gradient is already scaled by 1 / (global batch), so the sum over ranks is
/// the gradient of the global mean loss: no division is needed here.
final class GradientExchange {
    private let world: Communicator
    private let gradients: UnsafeMutableBufferPointer<Float>
    private let overlap: Bool
    private let bucketFloats: Int
    private var pending: [AllreduceRequest] = []
    private var bucketStart: Int?
    private var bucketEnd = 0

    init(world: Communicator, gradients: UnsafeMutableBufferPointer<Float>, overlap: Bool, bucketFloats: Int = 4 << 20) {
        self.world = world
        self.gradients = gradients
        self.overlap = overlap
        self.bucketFloats = bucketFloats
    }

    /// Called by backward with each finished range; ranges arrive in descending order.
    func ready(_ range: Range<Int>) throws {
        guard overlap, world.size > 1 else { return }
        if bucketStart == nil { bucketEnd = range.upperBound }
        bucketStart = range.lowerBound
        if bucketEnd - range.lowerBound >= bucketFloats || range.lowerBound == 0 { try flush() }
        for request in pending { try request.test() }  // let MPI progress
    }

    /// Exchanges whatever is left and waits for every bucket.
    func finish() throws {
        guard world.size > 1 else { return }
        if overlap {
            try flush()
        } else {
            try world.allreduce(gradients, op: .sum)
        }
        for request in pending { try request.wait() }
        pending.removeAll()
    }

    private func flush() throws {
        guard let start = bucketStart, start < bucketEnd else { return }
        let bucket = UnsafeMutableBufferPointer(rebasing: gradients[start..<bucketEnd])
        pending.append(try world.startAllreduce(bucket, op: .sum))
        bucketStart = nil
    }
}
