import SetiNet

/// Where a low-rank exchange's tensors and factors live: which of the model's tensors are
/// exchanged as factors (large ones whose factors are at most half of them), which ranges
/// are summed exactly, each matrix's place in the reducer's buffers, and the blocks in
/// which the optimizer reaches the matrices' G.
struct LowRankLayout {
    /// A matrix exchanged as factors, inside the gradient buffer.
    struct Matrix {
        let name: String
        let range: Range<Int>
        let rows: Int, columns: Int
        /// Its first element in the reducer's errors, its P, its Q and its Q^T.
        let errorOffset: Int, pOffset: Int, qOffset: Int, qtOffset: Int
    }

    /// Matrices smaller than this are summed exactly: their factors would save little.
    static let minimumCompressed = 1 << 16

    let matrices: [Matrix]
    /// Ranges of the gradient summed exactly (everything outside ``matrices``).
    let exact: [Range<Int>]
    /// The optimizer's ranges while compressing, in order: the exact ranges whole, the
    /// matrices in blocks of whole rows of about `blockFloats` floats, whose G = P Q^T is
    /// made block by block just before the optimizer reads it.
    let updateRanges: [Range<Int>]
    /// The index in ``matrices`` of each matrix block in ``updateRanges``, by its first element.
    let blockMatrix: [Int: Int]
    /// The largest matrix block, in floats.
    let largestBlock: Int
    /// Floats of the errors (M), P, Q and Q^T of all the matrices.
    let sizes: (errors: Int, p: Int, q: Int, qt: Int)

    /// The layout of `tensors` (the model's `count` parameters) for factors of rank `rank`.
    init(tensors: [TensorInfo], count: Int, rank: Int, blockFloats: Int) {
        var matrices: [Matrix] = []
        var sizes = (errors: 0, p: 0, q: 0, qt: 0)
        for t in tensors where t.trainable && t.shape.count >= 2 {
            let columns = t.shape.last!, rows = t.count / columns
            guard t.count >= Self.minimumCompressed, 2 * (rows + columns) * rank <= t.count else { continue }
            matrices.append(Matrix(name: t.name, range: t.offset..<(t.offset + t.count), rows: rows, columns: columns,
                                   errorOffset: sizes.errors, pOffset: sizes.p, qOffset: sizes.q, qtOffset: sizes.qt))
            sizes.errors += t.count
            sizes.p += rows * rank
            sizes.q += columns * rank
            sizes.qt += rank * Self.qtStride(columns: columns)
        }
        var exact: [Range<Int>] = []
        var start = 0
        for m in matrices.sorted(by: { $0.range.lowerBound < $1.range.lowerBound }) {
            if start < m.range.lowerBound { exact.append(start..<m.range.lowerBound) }
            start = m.range.upperBound
        }
        if start < count { exact.append(start..<count) }
        var ranges = exact.map { (range: $0, matrix: Int?.none) }
        for (k, m) in matrices.enumerated() {
            let rowsPerBlock = max(1, blockFloats / m.columns)
            for first in stride(from: 0, to: m.rows, by: rowsPerBlock) {
                let start = m.range.lowerBound + first * m.columns
                ranges.append((start..<min(m.range.upperBound, start + rowsPerBlock * m.columns), k))
            }
        }
        ranges.sort { $0.range.lowerBound < $1.range.lowerBound }
        self.matrices = matrices
        self.exact = exact
        self.sizes = sizes
        updateRanges = ranges.map(\.range)
        largestBlock = ranges.filter { $0.matrix != nil }.map(\.range.count).max() ?? 0
        blockMatrix = Dictionary(uniqueKeysWithValues: ranges.compactMap { r in r.matrix.map { (r.range.lowerBound, $0) } })
    }

    /// Floats between the rows of Q^T as the C passes get it: a cache line more than the
    /// columns, so that rows 4 KB apart do not share L1 sets (see powersgd_passes.c).
    static func qtStride(columns: Int) -> Int { columns + 16 }
}
