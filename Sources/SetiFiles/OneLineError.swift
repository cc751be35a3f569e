import Foundation

/// An error a command reports in one line: its description names the file and line, or the
/// flag, and the cause, and is printed as it is after "seti-dist: error: ". Every library's
/// error type conforms, so a caller that wraps one ("cannot create X (cause)") keeps its words
/// through ``reason(of:)``.
public protocol OneLineError: Error, CustomStringConvertible {}

/// A file or folder that cannot be read, written or made: the path and the system's reason.
public struct FileError: OneLineError, Equatable {
    public let description: String

    public init(path: String, _ message: String) { description = "\(path): \(message)" }
}

/// The words for any error, never a bridged code: a ``OneLineError``'s own description; for
/// Foundation's file errors the POSIX reason underneath ("No such file or directory"), not
/// "The operation could not be completed. (NSCocoaErrorDomain error 512.)".
public func reason(of error: Error) -> String {
    if let error = error as? OneLineError { return error.description }
    let ns = error as NSError
    if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(underlying.code)))
    }
    if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
    if ns.domain == NSCocoaErrorDomain, let words = cocoaFileErrorWords[ns.code] { return words }
    return ns.domain == NSCocoaErrorDomain ? ns.localizedDescription : String(describing: error)
}

/// The system's words for Foundation's file error codes that arrive without a POSIX error.
private let cocoaFileErrorWords: [Int: String] = [
    CocoaError.fileNoSuchFile.rawValue: String(cString: strerror(ENOENT)),
    CocoaError.fileReadNoSuchFile.rawValue: String(cString: strerror(ENOENT)),
    CocoaError.fileReadNoPermission.rawValue: String(cString: strerror(EACCES)),
    CocoaError.fileWriteNoPermission.rawValue: String(cString: strerror(EACCES)),
    CocoaError.fileWriteOutOfSpace.rawValue: String(cString: strerror(ENOSPC)),
    CocoaError.fileWriteVolumeReadOnly.rawValue: String(cString: strerror(EROFS)),
    CocoaError.fileWriteFileExists.rawValue: String(cString: strerror(EEXIST)),
    CocoaError.fileReadTooLarge.rawValue: String(cString: strerror(EFBIG)),
]

/// `errno`'s words ("Permission denied").
public func systemReason(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

/// `text` with its control characters written as escapes (a newline as `\n`): a path or a
/// value the user typed may hold them, and an error line must stay one line.
public func escapingControlCharacters(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value):
            out += "\\u{\(String(scalar.value, radix: 16))}"
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out
}
