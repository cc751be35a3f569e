import CKernels

// What the C kernels (Sources/CKernels) ask of the rest of the engine, and tell it.

/// The instruction set the C kernels run on this CPU, for reports: "avx512", "avx2+fma"
/// or "baseline" (kernels written for AVX2 + FMA at most run that on an AVX-512 CPU).
public var kernelInstructionSet: String { String(cString: seti_instruction_set_name()) }

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
