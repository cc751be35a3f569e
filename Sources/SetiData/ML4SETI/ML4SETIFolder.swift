import Foundation
import SetiFiles

/// Folders of ML4SETI `.dat` files as data sets:
///
///     DIR/train/*.dat, DIR/validation/*.dat (or DIR/valid/*.dat)
///     DIR/*.dat        every fifth file by name is validation, the others train
///
/// Labels come from the files' headers; four classes when every label is one of the
/// classic four (the challenge's "basic" set), all seven otherwise ("primary").
extension DataFolder {
    /// The `.dat` files of `split` in `folder`, sorted by name; nil when the folder is not
    /// in one of the `.dat` layouts.
    static func ml4setiFiles(_ split: Split, in folder: URL) -> [URL]? {
        func datFiles(_ dir: URL) -> [URL] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            return names.filter { $0.hasSuffix(".dat") }.sorted().map { dir.appendingPathComponent($0) }
        }
        let train = datFiles(folder.appendingPathComponent("train"))
        if !train.isEmpty {
            guard split == .validation else { return train }
            let validation = datFiles(folder.appendingPathComponent("validation"))
            return validation.isEmpty ? datFiles(folder.appendingPathComponent("valid")) : validation
        }
        let flat = datFiles(folder)
        guard !flat.isEmpty else { return nil }
        return flat.enumerated().filter { ($0.offset % 5 == 4) == (split == .validation) }.map(\.element)
    }

    /// Spectrograms of `files` (see ``ML4SETIFile``), labelled from their headers.
    static func loadML4SETI(_ files: [URL], split: Split, folder: URL) throws -> SpectrogramSet {
        guard !files.isEmpty else { throw DataError(file: folder.path, "no \(split.rawValue) .dat files") }
        let fft = RowPowerSpectra(rows: ML4SETIFile.rows, length: ML4SETIFile.columns)
        let pixels = 64 * 128
        var images = [Float](repeating: 0, count: files.count * pixels)
        var labels = [Int32](repeating: 0, count: files.count)
        for (i, url) in files.enumerated() {
            let file = try ML4SETIFile(contentsOf: url)
            guard let signalClass = file.signalClass else {
                throw DataError(file: url.path, line: 1, "the header has no signal_classification, so the file cannot be trained or evaluated on")
            }
            labels[i] = Int32(SignalClass.allCases.firstIndex(of: signalClass)!)
            images.withUnsafeMutableBufferPointer { file.spectrogram(using: fft, into: $0.baseAddress! + i * pixels) }
        }
        let classes = labels.allSatisfy { $0 < 4 } ? SignalClass.classic : SignalClass.extended
        return SpectrogramSet(images: images, labels: labels, classNames: classes.map(\.rawValue))
    }

    /// Writes `count` files, made one at a time by `file`, as `split` of a `.dat` folder
    /// (`folder/SPLIT/UUID.dat`).
    public static func writeML4SETIFiles(count: Int, as split: Split, to folder: URL, file: (Int) -> ML4SETIFile) throws {
        let dir = folder.appendingPathComponent(split.rawValue)
        try createFolder(dir)
        for i in 0..<count {
            let made = file(i)
            try OutputFile.write(made.data, to: dir.appendingPathComponent("\(made.uuid).dat"), durable: false)
        }
    }
}
