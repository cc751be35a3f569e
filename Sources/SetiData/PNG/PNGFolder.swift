import Foundation
import SetiFiles

/// Folders of spectrogram pictures, one subfolder per class, as the Kaggle copy of the
/// ML4SETI data ("SETI data": `primary_small/{train,valid,test}/<class>/*.png`, 512 x 384
/// pictures in viridis) and Keras's `image_dataset_from_directory` lay them out:
///
///     DIR/train/<class>/*.png, DIR/validation/<class>/*.png (or DIR/valid/<class>/)
///     DIR/<class>/*.png            every fifth file of a class by name is validation
///
/// A picture (frequency across, time down; any size that is a whole multiple of 128 x 64)
/// is turned back into values through its colour map (``ColourMap``), read as log power
/// spanning ``decades`` decades (ibmseti's pictures show the logarithm of the power,
/// scaled from its lowest to its highest value), averaged over blocks down to 64 x 128 in
/// power as the `.dat` path averages, and encoded like every other source.
extension DataFolder {
    /// The decades of power one ML4SETI spectrogram spans from its weakest to its strongest
    /// bin (Gaussian noise at 13 int8 steps: the weakest of 196,608 exponential bins lies
    /// about 5 decades under the mean, a signal 1 to 2 over it).
    public static let pictureDecades = 6.5

    /// The class folders of `split` in `folder` and their `.png` files sorted by name;
    /// nil when the folder is not in a picture layout.
    static func pictureFiles(_ split: Split, in folder: URL) throws -> [(SignalClass, [URL])]? {
        func subfolders(_ dir: URL) -> [String] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            return names.filter { !$0.hasPrefix(".") && isFolder(dir.appendingPathComponent($0)) }.sorted()
        }
        func classFolders(_ dir: URL) -> [String]? {
            let names = subfolders(dir)
            guard !names.isEmpty, names.contains(where: { SignalClass(folderName: $0) != nil }) else { return nil }
            return names
        }
        func files(_ dir: URL, _ names: [String]) throws -> [(SignalClass, [URL])] {
            try names.map { name in
                let classFolder = dir.appendingPathComponent(name)
                guard let kind = SignalClass(folderName: name) else {
                    throw DataError(file: classFolder.path, "not a class folder: '\(name)' is none of \(SignalClass.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                let entries = ((try? FileManager.default.contentsOfDirectory(atPath: classFolder.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
                if let other = entries.first(where: { !$0.lowercased().hasSuffix(".png") }) {
                    throw DataError(file: classFolder.appendingPathComponent(other).path, "not a .png file in a class folder of pictures")
                }
                guard !entries.isEmpty else { throw DataError(file: classFolder.path, "empty class folder: no .png files") }
                return (kind, entries.map { classFolder.appendingPathComponent($0) })
            }
        }
        let trainDir = folder.appendingPathComponent("train")
        if let trainClasses = classFolders(trainDir) {
            guard split == .validation else { return try files(trainDir, trainClasses) }
            for name in ["validation", "valid"] {
                let dir = folder.appendingPathComponent(name)
                if let classes = classFolders(dir) { return try files(dir, classes) }
            }
            throw DataError(file: folder.path, "pictures in train/<class>/ but no validation/<class>/ or valid/<class>/ folders")
        }
        guard let flat = classFolders(folder) else { return nil }
        return try files(folder, flat).map { kind, urls in
            (kind, urls.enumerated().filter { ($0.offset % 5 == 4) == (split == .validation) }.map(\.element))
        }
    }

    /// The spectrograms of the pictures of `classes` (see the extension's notes).
    static func loadPictures(_ classes: [(SignalClass, [URL])], split: Split, folder: URL) throws -> SpectrogramSet {
        let files = classes.flatMap { kind, urls in urls.map { (kind, $0) } }
        guard !files.isEmpty else { throw DataError(file: folder.path, "no \(split.rawValue) pictures (a class folder holds fewer than 5 files, so none is set aside for validation)") }
        let pixels = 64 * 128
        var images = [Float](repeating: 0, count: files.count * pixels)
        var failures = [DataError?](repeating: nil, count: files.count)
        images.withUnsafeMutableBufferPointer { buffer in
            failures.withUnsafeMutableBufferPointer { errors in
                // Each iteration writes its own image and error slot only.
                nonisolated(unsafe) let base = buffer.baseAddress!, failed = errors.baseAddress!
                DispatchQueue.concurrentPerform(iterations: files.count) { i in
                    do { try pictureSpectrogram(files[i].1, into: base + i * pixels) } catch {
                        // Every reader's error names the file already; any other is given its name.
                        failed[i] = error is OneLineError ? DataError(reason(of: error)) : DataError(file: files[i].1.path, reason(of: error))
                    }
                }
            }
        }
        if let first = failures.compactMap({ $0 }).first { throw first }
        let extended = files.contains { !SignalClass.classic.contains($0.0) }
        let names = extended ? SignalClass.extended : SignalClass.classic
        let labels = files.map { Int32(names.firstIndex(of: $0.0)!) }
        return SpectrogramSet(images: images, labels: labels, classNames: names.map(\.rawValue))
    }

    /// One picture as a 64 x 128 spectrogram written to `out`.
    public static func pictureSpectrogram(_ url: URL, into out: UnsafeMutablePointer<Float>) throws {
        let image = try PNGImage(contentsOf: url)
        guard image.width % 128 == 0, image.height % 64 == 0 else {
            throw DataError(file: url.path, "\(image.width) x \(image.height) pixels: a picture must be a whole multiple of 128 wide (frequency) and 64 high (time), e.g. 512 x 384")
        }
        let positions = ColourMap.of(image).positions(of: image)
        let power = positions.map { pow(10, Double($0) * pictureDecades) }
        let blocks = SpectrogramEncoding.averageBlocks(power, height: image.height, width: image.width, rowFactor: image.height / 64, columnFactor: image.width / 128)
        SpectrogramEncoding.encode(blocks, into: out)
    }
}

extension SignalClass {
    /// The class a folder of pictures names: our class names, in any case, with or
    /// without separators ("narrowband_drd", "NarrowBandDRD").
    init?(folderName: String) {
        let key = folderName.lowercased().filter { $0.isLetter }
        guard let kind = SignalClass.allCases.first(where: { $0.rawValue == key }) else { return nil }
        self = kind
    }
}

private func isFolder(_ url: URL) -> Bool {
    var folder: ObjCBool = false
    return FileManager.default.fileExists(atPath: url.path, isDirectory: &folder) && folder.boolValue
}
