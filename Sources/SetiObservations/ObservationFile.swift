import Foundation

/// The observation formats `scan` reads, chosen by file extension.
public enum ObservationFile {
    static let formats = "allowed .fil (SIGPROC filterbank) and .h5 (Breakthrough Listen HDF5)"

    /// The header of `url`.
    public static func header(_ url: URL) throws -> ObservationHeader {
        switch try format(of: url) {
        case .filterbank: return try Filterbank.layout(url).header
        case .hdf5: return try BreakthroughListenHDF5.header(url)
        }
    }

    /// Ascending channels `channels` of every time step of `url`.
    public static func read(_ url: URL, channels: Range<Int>) throws -> Observation {
        switch try format(of: url) {
        case .filterbank: return try Filterbank.read(url, channels: channels)
        case .hdf5: return try BreakthroughListenHDF5.read(url, channels: channels)
        }
    }

    /// Whether `path` names an observation by its suffix (.fil, .h5 or .hdf5).
    public static func isObservation(_ path: String) -> Bool {
        ["fil", "h5", "hdf5"].contains(URL(fileURLWithPath: path).pathExtension.lowercased())
    }

    private enum Format { case filterbank, hdf5 }

    /// The format the file's suffix names, for a regular file: observations are read in
    /// parts, by offset, and a named pipe or a device would block or never end.
    private static func format(of url: URL) throws -> Format {
        let format: Format
        switch url.pathExtension.lowercased() {
        case "fil": format = .filterbank
        case "h5", "hdf5": format = .hdf5
        default: throw ObservationError(file: url.path, "unknown observation format '.\(url.pathExtension)': \(formats)")
        }
        var status = stat()
        guard stat(url.path, &status) == 0 else { throw ObservationError(file: url.path, "cannot open the file (\(String(cString: strerror(errno))))") }
        guard status.st_mode & S_IFMT == S_IFREG else { throw ObservationError(file: url.path, "not a regular file (a pipe or a device); expected an observation (.fil or .h5)") }
        return format
    }
}
