import CVectorMath
#if canImport(Glibc)
import Glibc
#endif

/// An update rule over the flat parameter and gradient buffers. Every rank applies the
/// same rule to the same (allreduced) gradients, so replicas stay identical.
public protocol Optimizer: AnyObject {
    /// Applies one update with learning rate `lr` to the elements in `ranges` of the
    /// buffers (parameters, gradients and the optimizer's own state share one layout).
    /// Ranks that split the parameters between them each update their own ranges; the
    /// others' parts of this optimizer's state are then stale until gathered.
    /// `prepare`, if given, is called with each range, in order, just before the range is
    /// updated, and returns where that range's gradients are (see ``GradientSource``);
    /// without it they are the range's elements of `gradients`.
    func step(
        parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeBufferPointer<Float>, lr: Float, ranges: [Range<Int>],
        prepare: ((Range<Int>) -> UnsafePointer<Float>)?)
    /// Updates applied so far.
    var iterations: Int { get }
    /// The optimizer's state as named buffers (for checkpoints), and a way to restore it.
    var slots: [(name: String, values: UnsafeMutableBufferPointer<Float>)] { get }
    func restore(iterations: Int)
}

extension Optimizer {
    /// Applies one update with learning rate `lr` to every parameter.
    public func step(parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeBufferPointer<Float>, lr: Float) {
        step(parameters: parameters, gradients: gradients, lr: lr, ranges: [0..<parameters.count], prepare: nil)
    }
}

/// The ranges a rank updates, and where their gradients are: in the gradient buffer
/// (`prepare` nil), or computed range by range just before the optimizer reads them
/// (`prepare` returns the range's first gradient), so that a gradient made on the fly
/// (PowerSGD's P Q^T) can be written to a small buffer that stays in the cache.
public struct GradientSource {
    public var ranges: [Range<Int>]
    public var prepare: ((Range<Int>) -> UnsafePointer<Float>)?

    public init(ranges: [Range<Int>], prepare: ((Range<Int>) -> UnsafePointer<Float>)? = nil) {
        self.ranges = ranges
        self.prepare = prepare
    }
}

/// Adam exactly as Keras computes it (beta1 0.9, beta2 0.999, epsilon 1e-7 by default):
///   p -= lr * weightDecay * p   (AdamW's decoupled weight decay; 0 = plain Adam)
///   m += (g - m) (1 - beta1);  v += (g^2 - v) (1 - beta2)
///   p -= lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + epsilon)
/// One fused pass over p, g, m, v: the update is memory-bound (7 floats moved per
/// parameter), so it must not read the buffers more than once, and its square root must
/// vectorize (see CVectorMath).
public final class Adam: Optimizer {
    public let beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float
    public private(set) var iterations = 0
    private let m: UnsafeMutableBufferPointer<Float>
    private let v: UnsafeMutableBufferPointer<Float>

    public init(parameterCount: Int, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-7, weightDecay: Float = 0) {
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon; self.weightDecay = weightDecay
        m = .allocate(capacity: parameterCount); m.initialize(repeating: 0)
        v = .allocate(capacity: parameterCount); v.initialize(repeating: 0)
    }

    deinit { m.deallocate(); v.deallocate() }

    public var slots: [(name: String, values: UnsafeMutableBufferPointer<Float>)] { [("adam/m", m), ("adam/v", v)] }
    public func restore(iterations: Int) { self.iterations = iterations }

    public func step(
        parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeBufferPointer<Float>, lr: Float, ranges: [Range<Int>],
        prepare: ((Range<Int>) -> UnsafePointer<Float>)?
    ) {
        iterations += 1
        let t = Double(iterations)
        let alpha = Float(Double(lr) * (1 - pow(Double(beta2), t)).squareRoot() / (1 - pow(Double(beta1), t)))
        let a1 = 1 - beta1, a2 = 1 - beta2, eps = epsilon, keep = 1 - lr * weightDecay
        let p = parameters.baseAddress!, m = m.baseAddress!, v = v.baseAddress!
        for part in ranges {
            // The part's gradients: g[i - first] for element i.
            let first = part.lowerBound, g = prepare?(part) ?? gradients.baseAddress! + first
            Parallel.forEachRange(part.count) { local in
                forEachVector(
                    (first + local.lowerBound)..<(first + local.upperBound),
                    { i in
                        let gi = load(g, i - first)
                        let mi = load(m, i) + (gi - load(m, i)) * a1
                        let vi = load(v, i) + (gi * gi - load(v, i)) * a2
                        store(mi, m, i)
                        store(vi, v, i)
                        store(load(p, i) * keep - alpha * mi / (seti_sqrt16(vi) + eps), p, i)
                    },
                    tail: { i in
                        let gi = g[i - first]
                        m[i] += (gi - m[i]) * a1
                        v[i] += (gi * gi - v[i]) * a2
                        p[i] = p[i] * keep - alpha * m[i] / (v[i].squareRoot() + eps)
                    })
            }
        }
    }
}

/// SGD with momentum, as Keras's SGD: p -= lr * weightDecay * p (decoupled, 0 = none);
/// velocity = momentum * velocity - lr * g; p += velocity (or, with Nesterov,
/// p += momentum * velocity - lr * g).
public final class SGD: Optimizer {
    public let momentum: Float, nesterov: Bool, weightDecay: Float
    public private(set) var iterations = 0
    private let velocity: UnsafeMutableBufferPointer<Float>

    public init(parameterCount: Int, momentum: Float = 0.9, nesterov: Bool = false, weightDecay: Float = 0) {
        self.momentum = momentum; self.nesterov = nesterov; self.weightDecay = weightDecay
        velocity = .allocate(capacity: parameterCount); velocity.initialize(repeating: 0)
    }

    deinit { velocity.deallocate() }

    public var slots: [(name: String, values: UnsafeMutableBufferPointer<Float>)] { [("sgd/velocity", velocity)] }
    public func restore(iterations: Int) { self.iterations = iterations }

    public func step(
        parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeBufferPointer<Float>, lr: Float, ranges: [Range<Int>],
        prepare: ((Range<Int>) -> UnsafePointer<Float>)?
    ) {
        iterations += 1
        let p = parameters.baseAddress!, vel = velocity.baseAddress!
        let mu = momentum, keep = 1 - lr * weightDecay
        for part in ranges {
            let first = part.lowerBound, g = prepare?(part) ?? gradients.baseAddress! + first
            for i in part {
                let gi = g[i - first]
                let vi = mu * vel[i] - lr * gi
                vel[i] = vi
                p[i] = p[i] * keep + (nesterov ? mu * vi - lr * gi : vi)
            }
        }
    }
}
