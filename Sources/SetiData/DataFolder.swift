import Foundation
import SetiFiles

/// A folder of spectrograms in one of the layouts the public SETI data set comes in:
///
///     DIR/train/images.csv, DIR/train/labels.csv             (subfolders; "validation/"
///     DIR/validation/images.csv, DIR/validation/labels.csv    or "valid/" for the second)
///
///     DIR/images.csv, DIR/labels.csv                          (flat)
///     DIR/images_valid.csv, DIR/labels_valid.csv
///
/// or a folder of the ML4SETI code challenge's `.dat` files (see ``ML4SETIFile``), or
/// class folders of pictures (the Kaggle copy of the data: see ``pictureFiles(_:in:)``).
///
/// Each `.csv` may also be a NumPy `.npy` of the same name (images float32 [N, 64, 128] or
/// [N, 8192]; labels one-hot [N, K] or class indices [N]); `.npy` is preferred when both
/// exist because it loads in a fraction of a second. Labels are one-hot rows over the
/// classes in the order squiggle, narrowband, noise, narrowbanddrd (then brightpixel,
/// squarepulsednarrowband, squigglesquarepulsednarrowband for seven columns).
public enum DataFolder {
    public enum Split: String, CaseIterable, Sendable {
        case train, validation
    }

    public enum Format: String, CaseIterable, Sendable {
        case csv, npy
    }

    /// The image and label files of `split` in `folder`, or an error listing where it looked.
    public static func locate(_ split: Split, in folder: URL) throws -> (images: URL, labels: URL) {
        let candidates: [(String, String)]
        switch split {
        case .train:
            candidates = [("train/images", "train/labels"), ("images", "labels")]
        case .validation:
            candidates = [("validation/images", "validation/labels"), ("valid/images", "valid/labels"), ("images_valid", "labels_valid")]
        }
        for format in [Format.npy, .csv] {
            for (images, labels) in candidates {
                let i = folder.appendingPathComponent("\(images).\(format.rawValue)")
                let l = folder.appendingPathComponent("\(labels).\(format.rawValue)")
                if FileManager.default.fileExists(atPath: i.path) && FileManager.default.fileExists(atPath: l.path) { return (i, l) }
            }
        }
        guard FileManager.default.fileExists(atPath: folder.path) else { throw DataError(file: folder.path, "no such folder") }
        let tried = candidates.map { "\($0.0).csv" }.joined(separator: ", ")
        throw DataError(file: folder.path, "no \(split.rawValue) data: looked for \(tried) (and .npy) with their labels files, and for ML4SETI .dat files")
    }

    /// Loads `split` from `folder`, checking shapes, finiteness and one-hot labels; a
    /// folder of ML4SETI `.dat` files is turned into spectrograms (see ``ML4SETIFile``).
    public static func load(_ split: Split, from folder: URL, height: Int = 64, width: Int = 128) throws -> SpectrogramSet {
        if (try? locate(split, in: folder)) == nil, height == 64, width == 128, let files = ml4setiFiles(split, in: folder) {
            return try loadML4SETI(files, split: split, folder: folder)
        }
        if (try? locate(split, in: folder)) == nil, height == 64, width == 128, let classes = try pictureFiles(split, in: folder) {
            return try loadPictures(classes, split: split, folder: folder)
        }
        let (imagesURL, labelsURL) = try locate(split, in: folder)
        let (images, rows) = try readImages(imagesURL, height: height, width: width)
        let labels = try loadLabels(labelsURL)
        guard labels.indices.count == rows else {
            throw DataError(file: labelsURL.path, "has \(labels.indices.count) labels but \(imagesURL.lastPathComponent) has \(rows) images")
        }
        let names = SignalClass.allCases.prefix(labels.classes).map(\.description)
        return SpectrogramSet(height: height, width: width, images: images, labels: labels.indices, classNames: Array(names))
    }

    /// The spectrograms of an images file (.csv rows or .npy [N, height, width] / [N,
    /// height x width]), checked: finite, and within 0...1 as the public layout's levels k/255
    /// are (a file of 0...255 levels or of raw power would be classified as nonsense).
    static func readImages(_ url: URL, height: Int, width: Int) throws -> (values: [Float], rows: Int) {
        let pixels = height * width
        let values: [Float], rows: Int
        if url.pathExtension == "npy" {
            let array = try NPY.read(url)
            guard array.shape.count >= 2, checkedProduct(Array(array.shape.dropFirst())) == pixels else {
                throw DataError(file: url.path, "shape \(array.shape) is not [N, \(height), \(width)] or [N, \(pixels)]")
            }
            (values, rows) = (array.values, array.shape[0])
        } else {
            (values, rows, _) = try CSV.readMatrix(url, columns: [pixels])
        }
        guard rows > 0 else { throw DataError(file: url.path, "holds no images") }
        // A rounding error's worth of slack: levels written by other tools as k/255.0 in float64.
        if let bad = values.firstIndex(where: { !($0 >= -1e-3 && $0 <= 1 + 1e-3) }) {
            let what = values[bad].isFinite ? "\(values[bad])" : "a non-finite value (\(values[bad]))"
            throw DataError(file: url.path, "sample \(bad / pixels), pixel \(bad % pixels) holds \(what): the public layout's values are 0...1 (levels k/255)")
        }
        return (values, rows)
    }

    /// Class indices from one-hot rows (CSV or .npy [N, K]) or an integer vector ([N]).
    private static func loadLabels(_ url: URL) throws -> (indices: [Int32], classes: Int) {
        let values: [Float], rows: Int, columns: Int
        if url.pathExtension == "npy" {
            let array = try NPY.read(url)
            if array.shape.count == 1 {
                let limit = Float(SignalClass.allCases.count)
                for (i, v) in array.values.enumerated() where !(v >= 0 && v < limit && v == v.rounded()) {
                    throw DataError(file: url.path, "label \(i) is \(v), not a class index 0..<\(SignalClass.allCases.count)")
                }
                let largest = Int(array.values.max() ?? 0)
                return (array.values.map { Int32($0) }, largest < 4 ? 4 : 7)
            }
            guard array.shape.count == 2 else { throw DataError(file: url.path, "shape \(array.shape) is not [N] or [N, classes]") }
            (values, rows, columns) = (array.values, array.shape[0], array.shape[1])
        } else {
            (values, rows, columns) = try CSV.readMatrix(url, columns: [4, 7])
        }
        guard columns == 4 || columns == 7 else {
            throw DataError(file: url.path, line: 1, "expected 4 or 7 one-hot columns, found \(columns)")
        }
        var indices = [Int32](repeating: 0, count: rows)
        for r in 0..<rows {
            let row = values[(r * columns)..<((r + 1) * columns)]
            let ones = row.filter { $0 == 1 }.count, zeros = row.filter { $0 == 0 }.count
            guard ones == 1 && zeros == columns - 1 else {
                throw DataError(file: url.path, line: r + 1, "label row is not one-hot: \(row.map { "\($0)" }.joined(separator: ","))")
            }
            indices[r] = Int32(row.firstIndex(of: 1)! - row.startIndex)
        }
        return (indices, columns)
    }

    /// Writes `set` as `split` in the subfolder layout (`train/`, `validation/`), in each
    /// of `formats`. CSV pixels are written as the public data set writes them when they
    /// are multiples of 1/255, with full Float precision otherwise.
    public static func write(_ set: SpectrogramSet, as split: Split, to folder: URL, formats: [Format]) throws {
        let dir = folder.appendingPathComponent(split.rawValue)
        try createFolder(dir)
        for format in formats {
            let images = dir.appendingPathComponent("images.\(format.rawValue)")
            let labels = dir.appendingPathComponent("labels.\(format.rawValue)")
            switch format {
            case .npy:
                try NPY.write(set.images, shape: [set.count, set.height, set.width], to: images)
                try NPY.write(set.labels.map(Int64.init), shape: [set.count], to: labels)
            case .csv:
                let levels = set.images.map { ($0 * 255).rounded() }
                if zip(levels, set.images).allSatisfy({ $0.0 >= 0 && $0.0 <= 255 && pixelValue(UInt8($0.0)) == $0.1 }) {
                    try CSV.writeLevels(levels.map { UInt8($0) }, rows: set.count, columns: set.pixels, to: images)
                } else {
                    try CSV.writeFloats(set.images, rows: set.count, columns: set.pixels, to: images)
                }
                try CSV.writeOneHot(set.labels, classes: set.classNames.count, to: labels)
            }
        }
    }
}

/// The Float that level k of 255 becomes when its CSV text (k/255 printed in Double) is read.
@inline(__always)
func pixelValue(_ level: UInt8) -> Float { Float(Double(level) / 255) }

extension DataFolder {
    /// The data-set files `folder` holds (each split's images, labels and parameters, in
    /// either format), as paths relative to it.
    public static func dataFiles(in folder: URL) -> [String] {
        Split.allCases.flatMap { split in
            (["images", "labels"].flatMap { name in Format.allCases.map { "\(name).\($0.rawValue)" } } + ["parameters.csv"])
                .map { "\(split.rawValue)/\($0)" }
        }.filter { FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) }
    }

    /// Images to classify: a data folder (its validation part) or one images file
    /// (.csv rows or .npy [N, 64, 128] / [N, 8192]). Labels are set to 0.
    public static func loadImages(_ url: URL, classes: Int, height: Int = 64, width: Int = 128) throws -> SpectrogramSet {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else { throw DataError(file: url.path, "no such file") }
        if isFolder.boolValue { return try load(.validation, from: url, height: height, width: width) }
        let (values, rows) = try readImages(url, height: height, width: width)
        let names = SignalClass.allCases.prefix(classes).map(\.description)
        return SpectrogramSet(height: height, width: width, images: values, labels: [Int32](repeating: 0, count: rows), classNames: names)
    }
}
