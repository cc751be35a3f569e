import CKernels

// What the C kernels (Sources/CKernels) ask of the rest of the engine, and tell it.

/// The instruction sets the C kernels run on this CPU, for reports: "dense avx512,
/// Winograd transforms avx2+fma".
public var kernelInstructionSets: String {
    "dense \(String(cString: seti_dense_kernels_path())), Winograd transforms \(String(cString: seti_winograd_transform_path()))"
}

extension UnsafeMutableBufferPointer where Element == Float {
    /// `count` zeroed floats from a 64-byte boundary (a cache line, one AVX-512 vector):
    /// for parameter and gradient buffers, whose dense kernel's gradient is written with
    /// streaming stores only where its vectors are aligned. Released with `deallocate()`.
    public static func allocateAligned(zeroed count: Int) -> UnsafeMutableBufferPointer<Float> {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        let buffer = UnsafeMutableBufferPointer(start: raw.bindMemory(to: Float.self, capacity: count), count: count)
        buffer.initialize(repeating: 0)
        return buffer
    }
}
