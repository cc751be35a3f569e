import CKernels

// BatchNormalization over the last (channel) axis, Keras semantics: in training, each
// channel is normalised with its batch mean and biased variance, and the moving
// statistics follow moving = momentum * moving + (1 - momentum) * batch; in inference
// the moving statistics are used. y = gamma * (x - mean) / sqrt(var + epsilon) + beta.
//
// Shapes: x and y (rows, C) where rows = B*H*W for conv activations (NHWC) or B for
// dense ones; gamma, beta, movingMean, movingVariance (C).
//
// `groups` splits the rows into equal consecutive groups of samples, each normalised
// with its own statistics ("ghost batches"). A process holding N ranks' batches side by
// side with groups = N then computes exactly what N ranks with per-rank statistics do;
// the moving statistics are updated with the mean of the group statistics, which is what
// averaging the ranks' moving statistics gives, since the update is linear.
//
// `relu` fuses the ReLU that usually follows: y = max(0, batch norm), in the same pass.
// Backward then lets dy through only where that was positive, which it finds again from
// x with the very coefficients forward used (scale and shift, kept in the cache): the
// same float operations give the same sign, and backward need not read y (two passes
// over the activations fewer).
//
// `pool` fuses a max pool that follows the ReLU (MaxPool.swift's semantics): forward
// writes only the pooled output and each window's position of its maximum (`maxima`, a
// byte a channel), and backward takes the pool's output gradient, routing each window's
// gradient to that position.
// The results equal those of the separate layers to the bit, without writing the full
// activations or their gradient in between (CKernels/batch_norm.h).
//
// The passes over the activations run in C (CKernels/batch_norm.c), compiled for the
// CPU's vector width.

/// The max pool fused into a batch norm: `size` x `size` windows, stride `size`, over
/// images of `height` x `width` pixels (the batch norm's rows, image by image). A byte
/// holds a window position, so size * size <= 256.
struct FusedPool: Hashable {
    var height: Int
    var width: Int
    var size: Int
    var pooledPixels: Int { (height / size) * (width / size) }
}

extension Optional where Wrapped == FusedPool {
    /// The C kernels' geometry arguments: height, width, pool (0: no pool).
    var geometry: (Int, Int, Int) { self.map { ($0.height, $0.width, $0.size) } ?? (0, 0, 0) }
}

/// Per group and channel values kept from forward for backward: (groups, C) each.
/// Forward computed y = x * scale + shift (then max(0, y) with a fused ReLU).
struct BatchNormCache {
    var mean: [Float] = []
    var invStd: [Float] = []
    var scale: [Float] = []
    var shift: [Float] = []
}

func batchNormForwardTraining(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
    _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>,
    _ movingMean: UnsafeMutablePointer<Float>, _ movingVariance: UnsafeMutablePointer<Float>,
    rows: Int, channels c: Int, groups: Int, momentum: Float, epsilon: Float, relu: Bool = false,
    pool: FusedPool? = nil, maxima: UnsafeMutablePointer<UInt8>? = nil, cache: inout BatchNormCache
) {
    precondition(rows % groups == 0, "batch norm: rows must split evenly into groups")
    let groupRows = rows / groups
    var means = [Float](repeating: 0, count: groups * c), invStds = means, variances = means
    means.withUnsafeMutableBufferPointer { means in
        variances.withUnsafeMutableBufferPointer { variances in
            for g in 0..<groups {
                let gx = x + g * groupRows * c
                let mean = means.baseAddress! + g * c, variance = variances.baseAddress! + g * c
                // Two passes (mean, then squared deviations) keep the variance accurate.
                columnSums(mean, gx, rows: groupRows, columns: c)
                for i in 0..<c { mean[i] /= Float(groupRows) }
                blockedColumnSums(variance, rows: groupRows, columns: c) { block, acc in
                    seti_add_squared_deviations(acc, gx + block.lowerBound * c, mean, block.count, c)
                }
                for i in 0..<c { variance[i] /= Float(groupRows) }
            }
        }
    }
    for i in 0..<(groups * c) { invStds[i] = 1 / (variances[i] + epsilon).squareRoot() }
    var scale = means, shift = means
    for g in 0..<groups {
        for i in 0..<c {
            scale[g * c + i] = gamma[i] * invStds[g * c + i]
            shift[g * c + i] = beta[i] - means[g * c + i] * scale[g * c + i]
        }
    }
    scale.withUnsafeBufferPointer { scale in
        shift.withUnsafeBufferPointer { shift in
            for g in 0..<groups {
                let output = g * outputRows(groupRows, pool) * c
                normalize(
                    y + output, x + g * groupRows * c, scale: scale.baseAddress! + g * c, shift: shift.baseAddress! + g * c,
                    rows: groupRows, channels: c, relu: relu, pool: pool, maxima: maxima.map { $0 + output })
            }
        }
    }
    for i in 0..<c {
        var mean = 0.0, variance = 0.0
        for g in 0..<groups { mean += Double(means[g * c + i]); variance += Double(variances[g * c + i]) }
        movingMean[i] = momentum * movingMean[i] + (1 - momentum) * Float(mean / Double(groups))
        movingVariance[i] = momentum * movingVariance[i] + (1 - momentum) * Float(variance / Double(groups))
    }
    cache = BatchNormCache(mean: means, invStd: invStds, scale: scale, shift: shift)
}

func batchNormForwardInference(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
    _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>,
    _ movingMean: UnsafePointer<Float>, _ movingVariance: UnsafePointer<Float>,
    rows: Int, channels c: Int, epsilon: Float, relu: Bool = false, pool: FusedPool? = nil
) {
    let scale = (0..<c).map { gamma[$0] * (1 / (movingVariance[$0] + epsilon).squareRoot()) }
    let shift = (0..<c).map { beta[$0] - movingMean[$0] * scale[$0] }
    normalize(y, x, scale: scale, shift: shift, rows: rows, channels: c, relu: relu, pool: pool)
}

/// Overwrites `dgamma` and `dbeta`; writes `dx` unless it is nil. With `pool`, `dy` is the
/// pooled output's gradient and `maxima` what forward wrote there.
///   dbeta = sum dy, dgamma = sum dy * xhat,
///   dx = gamma * invStd / n * (n * dy - dbeta - xhat * dgamma)   (per group)
/// With a fused ReLU, dy counts only where the forward output was positive (the
/// derivative at 0 is taken as 0, as in reluBackward).
func batchNormBackward(
    _ dx: UnsafeMutablePointer<Float>?, _ dgamma: UnsafeMutablePointer<Float>, _ dbeta: UnsafeMutablePointer<Float>,
    _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ gamma: UnsafePointer<Float>,
    rows: Int, channels c: Int, groups: Int, cache: BatchNormCache, relu: Bool = false, pool: FusedPool? = nil,
    maxima: UnsafePointer<UInt8>? = nil
) {
    precondition((pool == nil) == (maxima == nil), "batch norm: a fused pool's backward needs forward's maxima")
    let (height, width, size) = pool.geometry
    let groupRows = rows / groups
    for i in 0..<c { dgamma[i] = 0; dbeta[i] = 0 }
    // sums[0..<c] = sum dy, sums[c..<2c] = sum dy * (x - mean); xhat = (x - mean) * invStd.
    let sums = UnsafeMutablePointer<Float>.allocate(capacity: 2 * c)
    // Per channel, for the group at hand: a, b and dxShift (below), then from forward the
    // mean, and the scale and shift that gave y.
    let coefficients = UnsafeMutablePointer<Float>.allocate(capacity: 6 * c)
    defer { sums.deallocate(); coefficients.deallocate() }
    let a = coefficients, b = coefficients + c, dxShift = coefficients + 2 * c
    let mean = coefficients + 3 * c, scale = coefficients + 4 * c, yShift = coefficients + 5 * c
    for g in 0..<groups {
        let output = g * outputRows(groupRows, pool) * c
        let gx = x + g * groupRows * c, gdy = dy + output, gmaxima = maxima.map { $0 + output }
        for i in 0..<c {
            mean[i] = cache.mean[g * c + i]
            scale[i] = cache.scale[g * c + i]
            yShift[i] = cache.shift[g * c + i]
        }
        // With the fused ReLU, dy counts where the forward output was let through:
        // x * scale + shift > 0 (the C kernels check with forward's own coefficients).
        blockedColumnSums(sums, rows: groupRows, columns: 2 * c) { block, acc in
            seti_add_batch_norm_gradient_sums(
                acc, gx, gdy, gmaxima, mean, scale, yShift, relu ? 1 : 0, height, width, size, block.lowerBound, block.count, c)
        }
        // dx = a * dy + b * x + dxShift, per channel, with
        //   a = gamma invStd, b = -gamma invStd^3 sumDyCentered / n,
        //   dxShift = -a sumDy / n - b mean.
        let n = Float(groupRows)
        for i in 0..<c {
            let invStd = cache.invStd[g * c + i]
            let sumDy = sums[i], sumDyXhat = sums[c + i] * invStd
            dbeta[i] += sumDy
            dgamma[i] += sumDyXhat
            a[i] = gamma[i] * invStd
            b[i] = -a[i] * invStd * sumDyXhat / n
            dxShift[i] = -a[i] * sumDy / n - b[i] * mean[i]
        }
        guard let dx else { continue }
        let gdx = dx + g * groupRows * c
        Parallel.forEachRange(groupRows, minimumPerThread: 1024) { range in
            seti_batch_norm_input_gradient(
                gdx, gx, gdy, gmaxima, a, b, dxShift, scale, yShift, relu ? 1 : 0, height, width, size, range.lowerBound,
                range.count, c)
        }
    }
}

/// Rows of output for `rows` rows of input: one per window with a fused pool.
private func outputRows(_ rows: Int, _ pool: FusedPool?) -> Int {
    guard let pool else { return rows }
    return rows / (pool.height * pool.width) * pool.pooledPixels
}

/// y = x * scale + shift per channel (batch norm folded: scale = gamma invStd, shift =
/// beta - mean scale), then max(0, y) if `relu`, then the max pool if `pool` (with the
/// maxima's positions if asked).
private func normalize(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
    rows: Int, channels c: Int, relu: Bool, pool: FusedPool?, maxima: UnsafeMutablePointer<UInt8>? = nil
) {
    if let pool {
        let windowRows = rows / (pool.height * pool.width) * (pool.height / pool.size)
        Parallel.forEachRange(windowRows, minimumPerThread: 4) { range in
            seti_batch_norm_apply_pooled(
                y, maxima, x, scale, shift, relu ? 1 : 0, pool.height, pool.width, pool.size, range.lowerBound, range.count, c)
        }
        return
    }
    Parallel.forEachRange(rows, minimumPerThread: 1024) { range in
        let at = range.lowerBound * c
        seti_batch_norm_apply(y + at, x + at, scale, shift, relu ? 1 : 0, range.count, c)
    }
}
