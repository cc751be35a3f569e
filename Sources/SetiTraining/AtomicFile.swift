import Foundation
import SetiData

/// A file write that either lands whole or not at all: the bytes go to a temporary file
/// in the same folder, are flushed to disk, and the temporary is renamed over the target.
/// A crash, a kill or a full disk leaves the old file intact; the error names the file.
public enum AtomicFile {
    /// Temporaries are `.NAME.tmp-PID`: ``removeStaleTemporaries(in:)`` finds them.
    static let temporaryMarker = ".tmp-"

    public static func write(_ data: Data, to url: URL) throws {
        let dir = url.deletingLastPathComponent()
        try createFolder(dir)
        let temp = dir.appendingPathComponent(".\(url.lastPathComponent)\(temporaryMarker)\(getpid())")
        let fd = open(temp.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CheckpointError("\(url.path): cannot write (\(String(cString: strerror(errno))))") }
        var failure: Int32 = 0
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; failure = errno; return }
                offset += n
            }
        }
        if failure == 0 && fsync(fd) != 0 { failure = errno }
        if close(fd) != 0 && failure == 0 { failure = errno }
        if failure == 0 && rename(temp.path, url.path) != 0 { failure = errno }
        if failure != 0 {
            unlink(temp.path)
            throw CheckpointError("\(url.path): cannot write (\(String(cString: strerror(failure)))); the previous version, if any, is intact")
        }
    }

    /// Removes temporaries that a killed process left in `folder` (they can be hundreds of
    /// MB). Call before anything else writes there.
    public static func removeStaleTemporaries(in folder: URL) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return }
        for name in names where name.hasPrefix(".") && name.contains(temporaryMarker) {
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
        }
    }
}
