import Foundation
import SetiFiles

/// The signal classes of the SETI spectrogram exercise, in the column order of the
/// public data set's one-hot labels.
public enum SignalClass: String, CaseIterable, Codable, Sendable, CustomStringConvertible {
    case squiggle, narrowband, noise, narrowbanddrd
    // The wider SETI signal set adds these three (simulator option `--classes 7`).
    case brightpixel, squarepulsednarrowband, squigglesquarepulsednarrowband

    public var description: String { rawValue }

    /// The four classes of the classic exercise.
    public static let classic: [SignalClass] = [.squiggle, .narrowband, .noise, .narrowbanddrd]
    /// All seven classes.
    public static let extended: [SignalClass] = allCases
}

/// A set of spectrograms with labels: `count` images of `height` x `width` (time down the
/// rows, frequency along the columns) stored row-major back to back, one Float per pixel
/// in [0, 1], and one class index per image into `classNames`.
public struct SpectrogramSet: Equatable, Sendable {
    public var height: Int
    public var width: Int
    public var images: [Float]
    public var labels: [Int32]
    public var classNames: [String]

    public init(height: Int = 64, width: Int = 128, images: [Float], labels: [Int32], classNames: [String]) {
        precondition(images.count == labels.count * height * width, "images and labels disagree on the sample count")
        self.height = height
        self.width = width
        self.images = images
        self.labels = labels
        self.classNames = classNames
    }

    public var count: Int { labels.count }
    public var pixels: Int { height * width }

    /// Image `i` as a buffer slice.
    public func image(_ i: Int) -> ArraySlice<Float> { images[(i * pixels)..<((i + 1) * pixels)] }

    /// How many samples of each class.
    public var classCounts: [Int] {
        var counts = [Int](repeating: 0, count: classNames.count)
        for l in labels { counts[Int(l)] += 1 }
        return counts
    }

    /// The samples at `indices`, in that order.
    public func subset(_ indices: [Int]) -> SpectrogramSet {
        var images = [Float]()
        images.reserveCapacity(indices.count * pixels)
        for i in indices { images.append(contentsOf: image(i)) }
        return SpectrogramSet(height: height, width: width, images: images, labels: indices.map { labels[$0] }, classNames: classNames)
    }
}

/// A data problem reported in one line that names the file and, where it applies, the
/// line and column, e.g. `data/train/images.csv:17: expected 8192 values, found 8191`.
public struct DataError: OneLineError, Equatable {
    public let description: String

    public init(_ description: String) { self.description = description }

    init(file: String, line: Int? = nil, column: Int? = nil, _ message: String) {
        var place = file
        if let line { place += ":\(line)" }
        if let column { place += ":\(column)" }
        description = "\(place): \(message)"
    }
}
