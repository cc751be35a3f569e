import Foundation

/// Creates `url` and its missing parents (mkdir -p); a failure gives the system's reason
/// for the first folder that could not be made ("Not a directory", "Permission denied"),
/// or names what stands in the way (a file, a symbolic link to nothing).
public func createFolder(_ url: URL) throws {
    var path = ""
    for component in url.standardizedFileURL.path.split(separator: "/") {
        path += "/" + component
        var status = stat()
        if stat(path, &status) == 0 {
            guard status.st_mode & S_IFMT == S_IFDIR else { throw FileError(path: path, "cannot create \(url.path) in it: not a folder") }
            continue
        }
        if mkdir(path, 0o755) == 0 { continue }
        let failure = errno
        if failure == EEXIST, lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFLNK {
            throw FileError(path: path, "cannot create \(url.path): a symbolic link to a missing \(linkTarget(path)) stands where the folder should be")
        }
        throw FileError(path: url.path, "cannot create the folder (\(systemReason(failure)))")
    }
}

/// Where the symbolic link at `path` points, as written in the link.
func linkTarget(_ path: String) -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "file"
}

/// The bytes of the file at `url`, refused without reading when it holds more than
/// `maximumBytes` (`what` names the kind of file in the message): inputs are untrusted,
/// and a reader must not load a huge file only to reject it. Pipes and devices
/// (`/dev/stdin`, a FIFO, `<(...)`) are read up to the same bound, and never waited on for
/// long: a named pipe nobody writes to is an error after `pipeWaitSeconds`, not a hang.
/// With `pipes` false (a data folder's files), a pipe or a device is refused at once.
public func readInputFile(_ url: URL, maximumBytes: Int, what: String, pipes: Bool = true) throws -> Data {
    let path = url.path
    let status = try inputStatus(path, what: what, pipes: pipes)
    let regular = status.st_mode & S_IFMT == S_IFREG
    if regular, Int(status.st_size) > maximumBytes { throw FileError(path: path, "\(status.st_size) bytes is too large for \(what)") }
    // Opening a FIFO blocks until a writer opens it; without O_NONBLOCK it may never return.
    let fd = open(path, O_RDONLY | O_CLOEXEC | (regular ? 0 : O_NONBLOCK))
    guard fd >= 0 else { throw FileError(path: path, "cannot read the file (\(systemReason()))") }
    defer { close(fd) }
    var data = Data()
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        if !regular {
            var waiting = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&waiting, 1, Int32(pipeWaitSeconds * 1000))
            if ready < 0 && errno == EINTR { continue }
            if ready == 0 { throw FileError(path: path, "nothing to read for \(pipeWaitSeconds) s (a pipe nobody writes to?); expected \(what)") }
        }
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR || errno == EAGAIN { continue }
            throw FileError(path: path, "cannot read the file (\(systemReason()))")
        }
        if n == 0 { return data }
        guard data.count + n <= maximumBytes else { throw FileError(path: path, "more than \(maximumBytes) bytes is too large for \(what)") }
        data.append(contentsOf: chunk[0..<n])
    }
}

/// How long ``readInputFile`` waits for a pipe's next bytes.
public let pipeWaitSeconds = 10

/// The bytes of the regular file at `url`, mapped rather than read (data sets run to
/// gigabytes). A folder, a pipe or a device is refused by name with `what`: mapping needs a
/// file, and reading one that never ends would not.
public func mapInputFile(_ url: URL, what: String) throws -> Data {
    let path = url.path
    _ = try inputStatus(path, what: what, pipes: false)
    do { return try Data(contentsOf: url, options: .alwaysMapped) } catch {
        throw FileError(path: path, "cannot read the file (\(reason(of: error)))")
    }
}

/// The status of the input file at `path`: a regular file, or with `pipes` also a pipe or
/// a device. A missing file, a folder, or a pipe where none is accepted is an error naming
/// `what`.
private func inputStatus(_ path: String, what: String, pipes: Bool) throws -> stat {
    var status = stat()
    guard stat(path, &status) == 0 else { throw FileError(path: path, "cannot read the file (\(systemReason()))") }
    switch status.st_mode & S_IFMT {
    case S_IFDIR: throw FileError(path: path, "is a folder; expected \(what)")
    case S_IFREG: return status
    default:
        guard pipes else { throw FileError(path: path, "not a regular file (a pipe or a device); expected \(what)") }
        return status
    }
}

/// This machine's host name (for lock files and TensorBoard's file names).
public var hostName: String {
    var buffer = [CChar](repeating: 0, count: 256)
    gethostname(&buffer, buffer.count - 1)
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
