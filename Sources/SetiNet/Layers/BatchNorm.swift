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
    cache.mean = [Float](repeating: 0, count: groups * c)
    cache.invStd = [Float](repeating: 0, count: groups * c)
    var meanOfGroups = [Double](repeating: 0, count: c)
    var varianceOfGroups = [Double](repeating: 0, count: c)
    var mean = [Float](repeating: 0, count: c)
    var variance = [Float](repeating: 0, count: c)
    for g in 0..<groups {
        let gx = x + g * groupRows * c
        // Two passes (mean, then squared deviations) keep the variance accurate.
        columnSums(&mean, gx, rows: groupRows, columns: c)
        for i in 0..<c { mean[i] /= Float(groupRows) }
        squaredDeviationSums(&variance, gx, mean, rows: groupRows, columns: c)
        for i in 0..<c {
            variance[i] /= Float(groupRows)
            cache.mean[g * c + i] = mean[i]
            cache.invStd[g * c + i] = 1 / (variance[i] + epsilon).squareRoot()
            meanOfGroups[i] += Double(mean[i]) / Double(groups)
            varianceOfGroups[i] += Double(variance[i]) / Double(groups)
        }
        let gy = y + g * groupRows * c
        cache.mean.withUnsafeBufferPointer { m in
            cache.invStd.withUnsafeBufferPointer { s in
                normalize(gy, gx, m.baseAddress! + g * c, s.baseAddress! + g * c, gamma, beta, rows: groupRows, channels: c)
            }
        }
    }
    for i in 0..<c {
        movingMean[i] = momentum * movingMean[i] + (1 - momentum) * Float(meanOfGroups[i])
        movingVariance[i] = momentum * movingVariance[i] + (1 - momentum) * Float(varianceOfGroups[i])
    }
}

func batchNormForwardInference(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
    _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>,
    _ movingMean: UnsafePointer<Float>, _ movingVariance: UnsafePointer<Float>,
    rows: Int, channels c: Int, epsilon: Float
) {
    let invStd = (0..<c).map { 1 / (movingVariance[$0] + epsilon).squareRoot() }
    normalize(y, x, movingMean, invStd, gamma, beta, rows: rows, channels: c)
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
    var sumDy = [Float](repeating: 0, count: c), sumDyXhat = [Float](repeating: 0, count: c)
    for i in 0..<c { dgamma[i] = 0; dbeta[i] = 0 }
    for g in 0..<groups {
        let gx = x + g * groupRows * c, gdy = dy + g * groupRows * c
        let mean = Array(cache.mean[(g * c)..<((g + 1) * c)])
        let invStd = Array(cache.invStd[(g * c)..<((g + 1) * c)])
        var accDy = [Double](repeating: 0, count: c), accDyXhat = [Double](repeating: 0, count: c)
        var partDy = [Float](repeating: 0, count: c), partDyXhat = [Float](repeating: 0, count: c)
        var r = 0
        while r < groupRows {
            let end = min(groupRows, r + 256)
            for i in 0..<c { partDy[i] = 0; partDyXhat[i] = 0 }
            for row in r..<end {
                let xr = gx + row * c, dyr = gdy + row * c
                for i in 0..<c {
                    partDy[i] += dyr[i]
                    partDyXhat[i] += dyr[i] * (xr[i] - mean[i]) * invStd[i]
                }
            }
            for i in 0..<c { accDy[i] += Double(partDy[i]); accDyXhat[i] += Double(partDyXhat[i]) }
            r = end
        }
        for i in 0..<c {
            sumDy[i] = Float(accDy[i]); sumDyXhat[i] = Float(accDyXhat[i])
            dbeta[i] += sumDy[i]; dgamma[i] += sumDyXhat[i]
        }
        guard let dx else { continue }
        let n = Float(groupRows)
        var scale = [Float](repeating: 0, count: c)
        for i in 0..<c { scale[i] = gamma[i] * invStd[i] / n }
        let gdx = dx + g * groupRows * c
        for row in 0..<groupRows {
            let xr = gx + row * c, dyr = gdy + row * c, dxr = gdx + row * c
            for i in 0..<c {
                let xhat = (xr[i] - mean[i]) * invStd[i]
                dxr[i] = scale[i] * (n * dyr[i] - sumDy[i] - xhat * sumDyXhat[i])
            }
        }
    }
}

/// y = gamma * (x - mean) * invStd + beta, per channel.
private func normalize(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ mean: UnsafePointer<Float>,
    _ invStd: UnsafePointer<Float>, _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>,
    rows: Int, channels c: Int
) {
    // Folded into one multiply-add per element: y = x * scale + shift.
    var scale = [Float](repeating: 0, count: c), shift = [Float](repeating: 0, count: c)
    for i in 0..<c {
        scale[i] = gamma[i] * invStd[i]
        shift[i] = beta[i] - mean[i] * scale[i]
    }
    scale.withUnsafeBufferPointer { scale in
        shift.withUnsafeBufferPointer { shift in
            for row in 0..<rows {
                let xr = x + row * c, yr = y + row * c
                for i in 0..<c { yr[i] = xr[i] * scale[i] + shift[i] }
            }
        }
    }
}

private func normalize(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ mean: UnsafePointer<Float>,
    _ invStd: [Float], _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>, rows: Int, channels c: Int
) {
    invStd.withUnsafeBufferPointer { normalize(y, x, mean, $0.baseAddress!, gamma, beta, rows: rows, channels: c) }
}

/// out[c] = sum over rows of (m[row, c] - mean[c])^2.
private func squaredDeviationSums(
    _ out: UnsafeMutablePointer<Float>, _ m: UnsafePointer<Float>, _ mean: [Float], rows: Int, columns: Int
) {
    var partial = [Float](repeating: 0, count: columns)
    var total = [Double](repeating: 0, count: columns)
    var r = 0
    while r < rows {
        let end = min(rows, r + 256)
        for i in 0..<columns { partial[i] = 0 }
        for row in r..<end {
            let src = m + row * columns
            for i in 0..<columns {
                let d = src[i] - mean[i]
                partial[i] += d * d
            }
        }
        for i in 0..<columns { total[i] += Double(partial[i]) }
        r = end
    }
    for i in 0..<columns { out[i] = Float(total[i]) }
}
