import Foundation
import SetiFiles

/// Standard output that reports lost writes: a full disk or a closed pipe under
/// `predict > file` must end the command with an error, not exit 0 with rows missing.
enum Output {
    struct WriteError: OneLineError {
        let description: String
    }

    /// Writes `text` and a newline to standard output.
    static func line(_ text: String) throws {
        var bytes = Array(text.utf8)
        bytes.append(10)
        guard fwrite(bytes, 1, bytes.count, stdout) == bytes.count else { throw failure() }
    }

    /// Writes progress text (with `ending`: a newline, or a live line's "clear to the end
    /// of the line") and flushes. Best effort: a run whose terminal went away keeps
    /// training, its results are in its files.
    static func progress(_ text: String, ending: String = "\n") {
        fputs(text + ending, stdout)
        fflush(stdout)
    }

    /// Flushes standard output; call at the end of a command that printed results.
    static func finish() throws {
        guard fflush(stdout) == 0 else { throw failure() }
    }

    private static func failure() -> WriteError {
        WriteError(description: "standard output: cannot write (\(String(cString: strerror(errno)))); the output is incomplete")
    }
}
