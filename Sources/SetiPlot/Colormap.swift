/// Viridis (matplotlib's default colour map): perceptually uniform and readable in grey
/// and by colour-blind viewers. Eleven anchor colours, linearly interpolated.
public enum Viridis {
    private static let anchors: [(Double, Double, Double)] = [
        (68, 1, 84), (72, 36, 117), (65, 68, 135), (53, 95, 141), (42, 120, 142), (33, 145, 140),
        (34, 168, 132), (68, 191, 112), (122, 209, 81), (189, 223, 38), (253, 231, 37),
    ]

    /// The colour for `t` in [0, 1] (clamped).
    public static func color(_ t: Double) -> RGB {
        let x = min(1, max(0, t.isFinite ? t : 0)) * Double(anchors.count - 1)
        let i = min(anchors.count - 2, Int(x)), f = x - Double(i)
        let a = anchors[i], b = anchors[i + 1]
        return RGB(UInt8((a.0 + (b.0 - a.0) * f).rounded()), UInt8((a.1 + (b.1 - a.1) * f).rounded()), UInt8((a.2 + (b.2 - a.2) * f).rounded()))
    }
}
