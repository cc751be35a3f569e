// Gram-Schmidt for the low-rank exchanges' factors (a few columns of thousands of rows).

/// Makes the columns of `a` (row-major, `rows` x `columns`) orthonormal as below, and
/// multiplies `b` (`bRows` x `columns`) so that a b^T stays the same: a = A S with A the
/// orthonormal result and S = A^T a, so a b^T = A (b S^T)^T.
func orthonormalizeColumns(
    _ a: UnsafeMutablePointer<Float>, rows: Int, carrying b: UnsafeMutablePointer<Float>, rows bRows: Int, columns: Int
) {
    let before = Array(UnsafeBufferPointer(start: a, count: rows * columns))
    orthonormalizeColumns(a, rows: rows, columns: columns)
    var s = [Double](repeating: 0, count: columns * columns)
    for k in 0..<rows {
        for c in 0..<columns { for d in 0..<columns { s[c * columns + d] += Double(a[k * columns + c]) * Double(before[k * columns + d]) } }
    }
    var row = [Double](repeating: 0, count: columns)
    for k in 0..<bRows {
        for c in 0..<columns {
            var sum = 0.0
            for d in 0..<columns { sum += Double(b[k * columns + d]) * s[c * columns + d] }
            row[c] = sum
        }
        for c in 0..<columns { b[k * columns + c] = Float(row[c]) }
    }
}

/// Makes the columns of the row-major `rows` x `columns` matrix orthonormal (modified
/// Gram-Schmidt, applied twice against the loss of orthogonality, sums in Double). A column
/// with nothing left after removing the others (a gradient of lower rank than the
/// factors) becomes zero, not noise scaled up.
func orthonormalizeColumns(_ a: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
    for j in 0..<columns {
        var initial = 0.0
        for k in 0..<rows { initial += Double(a[k * columns + j]) * Double(a[k * columns + j]) }
        for _ in 0..<2 {
            for i in 0..<j {
                var dot = 0.0
                for k in 0..<rows { dot += Double(a[k * columns + i]) * Double(a[k * columns + j]) }
                let d = Float(dot)
                for k in 0..<rows { a[k * columns + j] -= d * a[k * columns + i] }
            }
        }
        var norm = 0.0
        for k in 0..<rows { norm += Double(a[k * columns + j]) * Double(a[k * columns + j]) }
        norm = norm.squareRoot()
        // Less than float rounding of what the column held: it lay in the others' span.
        let scale: Float = norm > 1e-5 * initial.squareRoot() && norm > 0 ? Float(1 / norm) : 0
        for k in 0..<rows { a[k * columns + j] *= scale }
    }
}
