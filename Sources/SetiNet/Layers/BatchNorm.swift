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

/// Per group and channel statistics kept from forward for backward: (groups, C) each.
struct BatchNormCache {
    var mean: [Float]
    var invStd: [Float]
}

func batchNormForwardTraining(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
    _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>,
    _ movingMean: UnsafeMutablePointer<Float>, _ movingVariance: UnsafeMutablePointer<Float>,
    rows: Int, channels c: Int, groups: Int, momentum: Float, epsilon: Float, cache: inout BatchNormCache
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
                blockedColumnSums(variance, rows: groupRows, columns: c) { row, acc in
                    let xr = gx + row * c
                    for i in 0..<c { let d = xr[i] - mean[i]; acc[i] += d * d }
                }
                for i in 0..<c { variance[i] /= Float(groupRows) }
            }
        }
    }
    for i in 0..<(groups * c) { invStds[i] = 1 / (variances[i] + epsilon).squareRoot() }
    for g in 0..<groups {
        normalize(y + g * groupRows * c, x + g * groupRows * c, Array(means[(g * c)...]), Array(invStds[(g * c)...]),
                  gamma, beta, rows: groupRows, channels: c)
    }
    for i in 0..<c {
        var mean = 0.0, variance = 0.0
        for g in 0..<groups { mean += Double(means[g * c + i]); variance += Double(variances[g * c + i]) }
        movingMean[i] = momentum * movingMean[i] + (1 - momentum) * Float(mean / Double(groups))
        movingVariance[i] = momentum * movingVariance[i] + (1 - momentum) * Float(variance / Double(groups))
    }
    cache = BatchNormCache(mean: means, invStd: invStds)
}

func batchNormForwardInference(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
    _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>,
    _ movingMean: UnsafePointer<Float>, _ movingVariance: UnsafePointer<Float>,
    rows: Int, channels c: Int, epsilon: Float
) {
    let invStd = (0..<c).map { 1 / (movingVariance[$0] + epsilon).squareRoot() }
    normalize(y, x, Array(UnsafeBufferPointer(start: movingMean, count: c)), invStd, gamma, beta, rows: rows, channels: c)
}

/// Overwrites `dgamma` and `dbeta`; writes `dx` unless it is nil.
///   dbeta = sum dy, dgamma = sum dy * xhat,
///   dx = gamma * invStd / n * (n * dy - dbeta - xhat * dgamma)   (per group)
func batchNormBackward(
    _ dx: UnsafeMutablePointer<Float>?, _ dgamma: UnsafeMutablePointer<Float>, _ dbeta: UnsafeMutablePointer<Float>,
    _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ gamma: UnsafePointer<Float>,
    rows: Int, channels c: Int, groups: Int, cache: BatchNormCache
) {
    let groupRows = rows / groups
    for i in 0..<c { dgamma[i] = 0; dbeta[i] = 0 }
    // sums[0..<c] = sum dy, sums[c..<2c] = sum dy * (x - mean); xhat = (x - mean) * invStd.
    let sums = UnsafeMutablePointer<Float>.allocate(capacity: 2 * c)
    let coefficients = UnsafeMutablePointer<Float>.allocate(capacity: 3 * c)
    defer { sums.deallocate(); coefficients.deallocate() }
    for g in 0..<groups {
        let gx = x + g * groupRows * c, gdy = dy + g * groupRows * c
        cache.mean.withUnsafeBufferPointer { meanBuffer in
            let mean = meanBuffer.baseAddress! + g * c
            blockedColumnSums(sums, rows: groupRows, columns: 2 * c) { row, acc in
                let xr = gx + row * c, dyr = gdy + row * c
                for i in 0..<c {
                    acc[i] += dyr[i]
                    acc[c + i] += dyr[i] * (xr[i] - mean[i])
                }
            }
            // dx = a * dy + b * x + shift, per channel, with
            //   a = gamma invStd, b = -gamma invStd^3 sumDyCentered / n,
            //   shift = -a sumDy / n - b mean.
            let n = Float(groupRows)
            for i in 0..<c {
                let invStd = cache.invStd[g * c + i]
                let sumDy = sums[i], sumDyXhat = sums[c + i] * invStd
                dbeta[i] += sumDy
                dgamma[i] += sumDyXhat
                let a = gamma[i] * invStd
                let b = -a * invStd * sumDyXhat / n
                coefficients[i] = a
                coefficients[c + i] = b
                coefficients[2 * c + i] = -a * sumDy / n - b * mean[i]
            }
        }
        guard let dx else { continue }
        let gdx = dx + g * groupRows * c
        let a = coefficients, b = coefficients + c, shift = coefficients + 2 * c
        Parallel.forEachRange(groupRows, minimumPerThread: 1024) { range in
            for row in range {
                let xr = gx + row * c, dyr = gdy + row * c, dxr = gdx + row * c
                for i in 0..<c { dxr[i] = a[i] * dyr[i] + b[i] * xr[i] + shift[i] }
            }
        }
    }
}

/// y = gamma * (x - mean) * invStd + beta, per channel, folded into y = x * scale + shift.
private func normalize(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ mean: [Float], _ invStd: [Float],
    _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>, rows: Int, channels c: Int
) {
    let coefficients = UnsafeMutablePointer<Float>.allocate(capacity: 2 * c)
    defer { coefficients.deallocate() }
    let scale = coefficients, shift = coefficients + c
    for i in 0..<c {
        scale[i] = gamma[i] * invStd[i]
        shift[i] = beta[i] - mean[i] * scale[i]
    }
    Parallel.forEachRange(rows, minimumPerThread: 1024) { range in
        for row in range {
            let xr = x + row * c, yr = y + row * c
            for i in 0..<c { yr[i] = xr[i] * scale[i] + shift[i] }
        }
    }
}
