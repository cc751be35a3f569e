import Foundation

/// The observation formats `scan` reads, chosen by file extension.
public enum ObservationFile {
    static let formats = "allowed .fil (SIGPROC filterbank) and .h5 (Breakthrough Listen HDF5)"

    /// The header of `url`.
    public static func header(_ url: URL) throws -> ObservationHeader {
        switch url.pathExtension.lowercased() {
        case "fil": return try Filterbank.layout(url).header
        case "h5", "hdf5": return try BreakthroughListenHDF5.header(url)
        default: throw ObservationError(file: url.path, "unknown observation format '.\(url.pathExtension)': \(formats)")
        }
    }

    /// Ascending channels `channels` of every time step of `url`.
    public static func read(_ url: URL, channels: Range<Int>) throws -> Observation {
        switch url.pathExtension.lowercased() {
        case "fil": return try Filterbank.read(url, channels: channels)
        case "h5", "hdf5": return try BreakthroughListenHDF5.read(url, channels: channels)
        default: throw ObservationError(file: url.path, "unknown observation format '.\(url.pathExtension)': \(formats)")
        }
    }
}
