import Foundation

/// Every file a command writes goes through here, so no output can replace what it must not.
///
/// - A new path or a regular file is written as a temporary in the same folder, flushed to
///   disk and renamed over the target: a crash, a kill or a full disk leaves the old file whole.
/// - A character device or a named pipe (`/dev/null`, `/dev/stdout`, a FIFO) is written in
///   place, as `cp` does, and its write errors are reported (`/dev/full`): renaming over it
///   would replace a system device with a regular file.
/// - A symbolic link is followed: the file it names is replaced and the link stays.
/// - A folder, a socket, a block device or a link to nothing is refused.
public enum OutputFile {
    /// Temporaries are `.NAME.tmp-PID`: ``removeStaleTemporaries(in:)`` finds them.
    static let temporaryMarker = ".tmp-"

    /// Checks, without writing anything, that `url` can take an output: call it before the
    /// work starts, so a refused path costs nothing.
    public static func check(_ url: URL) throws {
        let target = try resolve(url)
        guard !target.inPlace else { return }
        // The nearest existing ancestor must be a folder: a file in the way is named now.
        var folder = URL(fileURLWithPath: target.path).deletingLastPathComponent()
        var status = stat()
        while stat(folder.path, &status) != 0 && folder.path != "/" { folder.deleteLastPathComponent() }
        guard status.st_mode & S_IFMT == S_IFDIR else {
            throw FileError(path: url.path, "cannot write: \(folder.path) is not a folder")
        }
    }

    /// Writes `data` to `url` as the type's documentation says; a failure names the file and
    /// the system's reason. `durable` flushes a replaced file to disk before the rename (a
    /// checkpoint); a data set's thousands of small files skip it.
    public static func write(_ data: Data, to url: URL, durable: Bool = true) throws {
        let target = try resolve(url)
        if target.inPlace {
            try writeInPlace(data, path: target.path, shown: url.path)
        } else {
            try writeReplacing(data, path: target.path, shown: url.path, durable: durable)
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

    /// The path to write and how.
    private struct Target {
        let path: String
        let inPlace: Bool
    }

    private static func resolve(_ url: URL) throws -> Target {
        var path = url.path
        var status = stat()
        guard lstat(path, &status) == 0 else {
            guard errno == ENOENT || errno == ENOTDIR else { throw FileError(path: path, "cannot write (\(systemReason()))") }
            return Target(path: path, inPlace: false)
        }
        if status.st_mode & S_IFMT == S_IFLNK {
            guard let real = realpath(path, nil) else {
                throw FileError(path: path, "is a symbolic link to a missing \(linkTarget(path)); remove the link or make its file")
            }
            path = String(cString: real)
            free(real)
            guard stat(path, &status) == 0 else { throw FileError(path: url.path, "cannot write (\(systemReason()))") }
        }
        switch status.st_mode & S_IFMT {
        case S_IFREG: return Target(path: path, inPlace: false)
        case S_IFCHR, S_IFIFO: return Target(path: path, inPlace: true)
        case S_IFDIR: throw FileError(path: url.path, "is a folder; name a file to write")
        case S_IFSOCK: throw FileError(path: url.path, "is a socket; name a file, a named pipe or a character device")
        case S_IFBLK: throw FileError(path: url.path, "is a block device; seti-dist does not write over disks")
        default: throw FileError(path: url.path, "is not a file seti-dist can write")
        }
    }

    private static func writeReplacing(_ data: Data, path: String, shown: String, durable: Bool) throws {
        let target = URL(fileURLWithPath: path)
        let folder = target.deletingLastPathComponent()
        do { try createFolder(folder) } catch { throw FileError(path: shown, "cannot write (\(reason(of: error)))") }
        let temporary = folder.appendingPathComponent(".\(target.lastPathComponent)\(temporaryMarker)\(getpid())").path
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError(path: shown, "cannot write (\(systemReason()))") }
        var failure = writeAll(data, to: fd)
        if failure == 0 && durable && fsync(fd) != 0 { failure = errno }
        if close(fd) != 0 && failure == 0 { failure = errno }
        if failure == 0 && rename(temporary, path) != 0 { failure = errno }
        if failure != 0 {
            unlink(temporary)
            throw FileError(path: shown, "cannot write (\(systemReason(failure))); the previous version, if any, is intact")
        }
    }

    private static func writeInPlace(_ data: Data, path: String, shown: String) throws {
        // Non-blocking open: a named pipe nobody reads fails at once (ENXIO) instead of hanging.
        let fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let failure = errno
            throw FileError(path: shown, failure == ENXIO ? "is a named pipe that nobody reads" : "cannot write (\(systemReason(failure)))")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        var failure = writeAll(data, to: fd)
        if close(fd) != 0 && failure == 0 { failure = errno }
        if failure != 0 { throw FileError(path: shown, "cannot write (\(systemReason(failure))); the output is incomplete") }
    }

    /// Writes every byte, retrying after signals; 0 or the failing errno.
    private static func writeAll(_ data: Data, to fd: Int32) -> Int32 {
        data.withUnsafeBytes { raw -> Int32 in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; return errno }
                if n == 0 { return ENOSPC }
                offset += n
            }
            return 0
        }
    }
}
