import Foundation

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
public struct DataError: Error, CustomStringConvertible, Equatable {
    public let description: String

    public init(_ description: String) { self.description = description }

    init(file: String, line: Int? = nil, column: Int? = nil, _ message: String) {
        var place = file
        if let line { place += ":\(line)" }
        if let column { place += ":\(column)" }
        description = "\(place): \(message)"
    }
}

/// A file-system error's reason in words: Foundation on Linux often reports only
/// "NSCocoaErrorDomain error 512" and keeps the POSIX reason underneath.
public func fileErrorReason(_ error: Error) -> String {
    let ns = error as NSError
    if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(underlying.code)))
    }
    return ns.localizedDescription
}

/// This machine's host name (for lock files and TensorBoard's file names).
public var hostName: String {
    var buffer = [CChar](repeating: 0, count: 256)
    gethostname(&buffer, buffer.count - 1)
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Creates `url` and its missing parents (mkdir -p); a failure gives the system's reason
/// for the first folder that could not be made ("Not a directory", "Permission denied").
public func createFolder(_ url: URL) throws {
    var path = ""
    for component in url.standardizedFileURL.path.split(separator: "/") {
        path += "/" + component
        var status = stat()
        if stat(path, &status) == 0 {
            guard status.st_mode & S_IFMT == S_IFDIR else { throw DataError(file: path, "cannot create \(url.path) in it: not a folder") }
            continue
        }
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
            throw DataError(file: url.path, "cannot create the folder (\(String(cString: strerror(errno))))")
        }
    }
}

extension Data {
    /// Writes atomically; a failure (a full disk, a missing folder) names the file.
    func writeNamingFile(to url: URL) throws {
        do { try write(to: url, options: .atomic) } catch {
            throw DataError(file: url.path, "cannot write (\(fileErrorReason(error)))")
        }
    }
}

/// The bytes of `url`, refused without reading when the file holds more than
/// `maximumBytes` (`what` names the kind of file in the message): inputs are untrusted,
/// and a reader must not load a huge file only to reject it.
public func readInputFile(_ url: URL, maximumBytes: Int, what: String) throws -> Data {
    let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? nil
    guard let size else { throw DataError(file: url.path, "cannot read the file") }
    guard size <= maximumBytes else { throw DataError(file: url.path, "\(size) bytes is too large for \(what)") }
    do { return try Data(contentsOf: url) } catch {
        throw DataError(file: url.path, "cannot read the file (\(fileErrorReason(error)))")
    }
}
