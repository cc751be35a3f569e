import CFFTW
import Foundation

/// Power spectra of the rows of a complex time series, through FFTW: for each row of
/// `length` samples, |FFT(row)|^2 with the zero frequency moved to the middle column
/// (numpy's `fftshift`), as the ML4SETI reference reader computes its spectrograms.
///
/// One FFTW plan for all rows, made once per instance. FFTW's planner is not
/// thread-safe, so plans are made and destroyed under one lock, and an instance belongs
/// to one thread at a time (``RowPowerSpectraPool`` lends them out).
final class RowPowerSpectra {
    private static let planner = NSLock()

    let rows: Int, length: Int
    private let buffer: UnsafeMutablePointer<fftwf_complex>
    private let plan: fftwf_plan

    init(rows: Int, length: Int) {
        precondition(rows > 0 && length > 0 && length % 2 == 0)
        self.rows = rows
        self.length = length
        var n = Int32(length)
        RowPowerSpectra.planner.lock()
        defer { RowPowerSpectra.planner.unlock() }
        buffer = fftwf_alloc_complex(rows * length)
        plan = fftwf_plan_many_dft(
            1, &n, Int32(rows), buffer, nil, 1, Int32(length), buffer, nil, 1, Int32(length),
            seti_fftw_forward, seti_fftw_estimate)!
    }

    deinit {
        RowPowerSpectra.planner.lock()
        defer { RowPowerSpectra.planner.unlock() }
        fftwf_destroy_plan(plan)
        fftwf_free(buffer)
    }

    /// `complex` holds rows x length samples as (real, imaginary) pairs; returns the
    /// rows x length power spectrogram, frequency ascending from -length/2 bins.
    func power(_ complex: [Float]) -> [Double] {
        precondition(complex.count == 2 * rows * length)
        let floats = UnsafeMutableRawPointer(buffer).assumingMemoryBound(to: Float.self)
        complex.withUnsafeBufferPointer { floats.update(from: $0.baseAddress!, count: complex.count) }
        fftwf_execute(plan)
        var out = [Double](repeating: 0, count: rows * length)
        let half = length / 2
        for r in 0..<rows {
            for k in 0..<length {
                let source = r * length + (k + half) % length
                let re = Double(floats[2 * source]), im = Double(floats[2 * source + 1])
                out[r * length + k] = re * re + im * im
            }
        }
        return out
    }
}

/// Instances of ``RowPowerSpectra`` for threads that transform concurrently: each call
/// borrows one (made on first need) and returns it, so a thread never shares a buffer.
final class RowPowerSpectraPool: @unchecked Sendable {
    /// The ML4SETI files' shape: 384 rows of 512 samples.
    static let ml4seti = RowPowerSpectraPool(rows: ML4SETIFile.rows, length: ML4SETIFile.columns)

    let rows: Int, length: Int
    private let lock = NSLock()
    private var idle: [RowPowerSpectra] = []

    init(rows: Int, length: Int) {
        self.rows = rows
        self.length = length
    }

    func with<T>(_ body: (RowPowerSpectra) -> T) -> T {
        lock.lock()
        let fft = idle.popLast()
        lock.unlock()
        let lent = fft ?? RowPowerSpectra(rows: rows, length: length)
        defer {
            lock.lock()
            idle.append(lent)
            lock.unlock()
        }
        return body(lent)
    }
}
