import Foundation
import SetiFiles
import XCTest
import SetiTestSupport

/// Issue 29.1: an output never replaces what is not a regular file; the error always says why.
final class OutputFileTests: ScratchFolderTestCase {
    override var scratchName: String { "files" }

    private func url(_ name: String) -> URL { dir.appendingPathComponent(name) }

    private func kind(_ path: String) -> mode_t {
        var status = stat()
        XCTAssertEqual(lstat(path, &status), 0, path)
        return status.st_mode & S_IFMT
    }

    private func assertRefused(_ target: URL, _ words: String, file: StaticString = #filePath, line: UInt = #line) {
        for attempt in [{ try OutputFile.check(target) }, { try OutputFile.write(Data("x".utf8), to: target) }] {
            XCTAssertThrowsError(try attempt(), file: file, line: line) { error in
                XCTAssertTrue("\(error)".contains(words), "\(error)", file: file, line: line)
                XCTAssertTrue("\(error)".hasPrefix(target.path), "names the path: \(error)", file: file, line: line)
            }
        }
    }

    func testARegularFileIsReplacedWholeAndNoTemporaryStays() throws {
        let target = url("sub/folder/out.bin")
        try OutputFile.check(target)
        try OutputFile.write(Data("first".utf8), to: target)
        try OutputFile.write(Data("second".utf8), to: target, durable: false)
        XCTAssertEqual(try String(contentsOf: target, encoding: .utf8), "second")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: target.deletingLastPathComponent().path), ["out.bin"])
    }

    func testACharacterDeviceIsWrittenInPlaceAndItsErrorsReported() throws {
        try OutputFile.check(URL(fileURLWithPath: "/dev/null"))
        try OutputFile.write(Data(count: 100_000), to: URL(fileURLWithPath: "/dev/null"))
        XCTAssertEqual(kind("/dev/null"), S_IFCHR, "still the device")
        guard FileManager.default.fileExists(atPath: "/dev/full") else { return }
        XCTAssertThrowsError(try OutputFile.write(Data(count: 10), to: URL(fileURLWithPath: "/dev/full"))) { error in
            XCTAssertTrue("\(error)".contains("/dev/full: cannot write (No space left on device)"), "\(error)")
        }
        XCTAssertEqual(kind("/dev/full"), S_IFCHR, "still the device")
    }

    func testANamedPipeIsWrittenInPlaceOrRefusedWhenNobodyReads() throws {
        let fifo = url("pipe")
        XCTAssertEqual(mkfifo(fifo.path, 0o600), 0)
        // check() does not open the pipe (a reader would see the end of its input).
        try OutputFile.check(fifo)
        XCTAssertThrowsError(try OutputFile.write(Data("x".utf8), to: fifo)) { error in
            XCTAssertEqual("\(error)", "\(fifo.path): is a named pipe that nobody reads")
        }
        XCTAssertEqual(kind(fifo.path), S_IFIFO)

        // With a reader, the bytes arrive through the pipe and the pipe stays.
        let reader = open(fifo.path, O_RDONLY | O_NONBLOCK)
        XCTAssertGreaterThanOrEqual(reader, 0)
        defer { close(reader) }
        try OutputFile.write(Data("through".utf8), to: fifo)
        var buffer = [UInt8](repeating: 0, count: 16)
        XCTAssertEqual(read(reader, &buffer, 16), 7)
        XCTAssertEqual(String(decoding: buffer.prefix(7), as: UTF8.self), "through")
        XCTAssertEqual(kind(fifo.path), S_IFIFO)
    }

    func testAPipeIsReadWholeWhenItsWriterComesLate() throws {
        let fifo = url("config-pipe")
        XCTAssertEqual(mkfifo(fifo.path, 0o600), 0)
        // The writer opens the pipe after the reader and writes in two parts, as a slow
        // `<(...)` would: the reader waits for it (within pipeWaitSeconds) and reads to the end.
        let writer = Thread {
            Thread.sleep(forTimeInterval: 0.3)
            let fd = open(fifo.path, O_WRONLY)
            guard fd >= 0 else { return }
            _ = "epochs: ".withCString { write(fd, $0, 8) }
            Thread.sleep(forTimeInterval: 0.3)
            _ = "3\n".withCString { write(fd, $0, 2) }
            close(fd)
        }
        writer.start()
        let data = try readInputFile(fifo, maximumBytes: 1024, what: "a configuration file")
        XCTAssertEqual(String(decoding: data, as: UTF8.self), "epochs: 3\n")
        XCTAssertThrowsError(try readInputFile(fifo, maximumBytes: 1024, what: "a picture", pipes: false)) { error in
            XCTAssertEqual("\(error)", "\(fifo.path): not a regular file (a pipe or a device); expected a picture")
        }
    }

    func testFoldersSocketsAndLinksToNothingAreRefused() throws {
        try FileManager.default.createDirectory(at: url("folder"), withIntermediateDirectories: true)
        assertRefused(url("folder"), "is a folder")

        let socketPath = url("socket").path
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in socketPath.utf8.enumerated() where i < raw.count - 1 { raw[i] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        XCTAssertEqual(bound, 0)
        assertRefused(url("socket"), "is a socket")
        XCTAssertEqual(kind(socketPath), S_IFSOCK)

        try FileManager.default.createSymbolicLink(atPath: url("dangling").path, withDestinationPath: url("missing/file").path)
        assertRefused(url("dangling"), "is a symbolic link to a missing")
        XCTAssertEqual(kind(url("dangling").path), S_IFLNK)

        try Data().write(to: url("plain"))
        assertRefused(url("plain/child.png"), "not a folder")
    }

    func testALinkToARegularFileIsFollowedAndKept() throws {
        try Data("old".utf8).write(to: url("real"))
        try FileManager.default.createSymbolicLink(atPath: url("link").path, withDestinationPath: url("real").path)
        try OutputFile.write(Data("new".utf8), to: url("link"))
        XCTAssertEqual(kind(url("link").path), S_IFLNK)
        XCTAssertEqual(try String(contentsOf: url("real"), encoding: .utf8), "new")
    }

    func testInputsAreReadUpToTheirBoundEvenFromEndlessDevices() throws {
        XCTAssertThrowsError(try readInputFile(URL(fileURLWithPath: "/dev/zero"), maximumBytes: 1000, what: "a configuration file")) { error in
            XCTAssertTrue("\(error)".contains("too large for a configuration file"), "\(error)")
        }
        XCTAssertThrowsError(try readInputFile(dir, maximumBytes: 1000, what: "a configuration file")) { error in
            XCTAssertEqual("\(error)", "\(dir.path): is a folder; expected a configuration file")
        }
        try Data("abc".utf8).write(to: url("small"))
        XCTAssertEqual(try readInputFile(url("small"), maximumBytes: 3, what: "x"), Data("abc".utf8))
        XCTAssertThrowsError(try readInputFile(url("small"), maximumBytes: 2, what: "x"))
    }

    func testAFolderBlockedByALinkToNothingNamesTheLink() throws {
        try FileManager.default.createSymbolicLink(atPath: url("runs").path, withDestinationPath: "/nonexistent/place")
        XCTAssertThrowsError(try createFolder(url("runs/tensorboard"))) { error in
            XCTAssertTrue("\(error)".contains("a symbolic link to a missing /nonexistent/place stands where the folder should be"), "\(error)")
        }
    }

    func testReasonsAreWordsNeverBridgedCodes() throws {
        struct Mine: OneLineError { var description: String { "x.csv:3: bad" } }
        XCTAssertEqual(reason(of: Mine()), "x.csv:3: bad")
        XCTAssertThrowsError(try Data(contentsOf: url("nothing"))) { error in
            XCTAssertEqual(reason(of: error), "No such file or directory")
        }
        XCTAssertEqual(reason(of: CocoaError(.fileWriteOutOfSpace)), "No space left on device")
    }
}
