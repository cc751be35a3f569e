import Foundation
import SetiFiles
import SetiData

/// A training run's output folder and its files. One run owns a folder at a time: an
/// exclusive lock (flock on OUT/.lock, released by the kernel when the process ends, even
/// on kill -9) refuses a second trainer, and a new run refuses a folder that already
/// holds a run unless told to resume it or to overwrite it.
public final class RunFolder {
    public enum Intent: Sendable {
        /// A new run: the folder must be empty of run files, or `overwrite` removes them.
        case new(overwrite: Bool)
        /// Continue the run whose last.safetensors is in the folder.
        case resume
    }

    public let url: URL
    private var lockDescriptor: Int32 = -1

    public init(_ url: URL) { self.url = url.standardizedFileURL }

    deinit { if lockDescriptor >= 0 { close(lockDescriptor) } }

    /// The best checkpoint's name; a command given a run folder for a checkpoint reads it.
    public static let bestName = "best.safetensors"

    public var best: URL { url.appendingPathComponent(Self.bestName) }
    public var last: URL { url.appendingPathComponent("last.safetensors") }
    public var metrics: URL { url.appendingPathComponent("metrics.jsonl") }
    public var config: URL { url.appendingPathComponent("config.json") }
    public var curves: URL { url.appendingPathComponent("curves.png") }
    public var confusion: URL { url.appendingPathComponent("confusion.png") }
    public var tensorBoard: URL { url.appendingPathComponent("tensorboard") }
    private var lockFile: URL { url.appendingPathComponent(".lock") }

    /// The files a run writes; what `overwrite` removes and what makes a folder "used".
    private var runFiles: [URL] { [best, last, metrics, config, curves, confusion, tensorBoard] }

    /// Creates and locks the folder, clears temporaries a killed run left, and checks it
    /// suits `intent`. Throws one line naming the folder and the way out.
    public func open(for intent: Intent) throws {
        try createFolder(url)
        try lock()
        OutputFile.removeStaleTemporaries(in: url)
        try check(intent)
        if case .new = intent {
            // Passed the check: --overwrite, or a run that stopped before its first checkpoint.
            for file in usedFiles { try? FileManager.default.removeItem(at: file) }
        }
    }

    private var usedFiles: [URL] { runFiles.filter { FileManager.default.fileExists(atPath: $0.path) } }
    private var hasCheckpoint: Bool { [best, last].contains { FileManager.default.fileExists(atPath: $0.path) } }

    /// Throws when the folder does not suit `intent`, writing nothing (so a run can refuse
    /// before it loads data, and ``open(for:)`` after it has read every input).
    public func check(_ intent: Intent) throws {
        switch intent {
        case .new(let overwrite):
            // A folder without a checkpoint holds nothing to lose: it is started afresh.
            let used = usedFiles
            guard hasCheckpoint, !overwrite else { return }
            throw RunFolderError("\(url.path) already holds a run (\(used.map(\.lastPathComponent).joined(separator: ", "))): pass --resume to continue it, --overwrite to replace it, or another --out")
        case .resume:
            guard FileManager.default.fileExists(atPath: last.path) else {
                throw RunFolderError("\(url.path): nothing to resume (no last.safetensors: \(hasCheckpoint || !usedFiles.isEmpty ? "the run wrote none (--save-last end or never) or stopped before its first" : "no run here")); drop --resume to start \(usedFiles.isEmpty ? "a new run" : "it again")")
            }
        }
    }

    /// Keeps the first `epochs` records of metrics.jsonl (a resumed run continues after
    /// its checkpoint's epoch; later lines belong to epochs it will train again), and drops
    /// lines that are no record (one torn by a crash in mid-write), so the resumed run's
    /// log reads whole.
    public func truncateLog(toEpochs epochs: Int) throws {
        guard FileManager.default.fileExists(atPath: metrics.path) else { return }
        let (records, unreadable) = try EpochRecord.readReadable(metrics)
        let kept = records.filter { $0.epoch <= epochs }
        guard kept.count != records.count || unreadable > 0 else { return }
        var data = Data()
        for record in kept { data += try JSONLines.encode(record) + Data("\n".utf8) }
        try OutputFile.write(data, to: metrics)
    }

    private func lock() throws {
        let fd = Glibc.open(lockFile.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RunFolderError("\(lockFile.path): cannot create the lock file (\(String(cString: strerror(errno))))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var holder = [UInt8](repeating: 0, count: 256)
            let n = read(fd, &holder, holder.count)
            close(fd)
            let who = n > 0 ? String(decoding: holder[..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "another process"
            throw RunFolderError("\(url.path) is in use by another seti-dist run (\(who)); wait for it or choose another --out")
        }
        let text = "pid \(getpid()) on \(hostName)\n"
        _ = ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
        lockDescriptor = fd
    }
}

public struct RunFolderError: OneLineError {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// When a run writes last.safetensors, the checkpoint --resume continues from (Keras's
/// `save_freq`; best.safetensors is written on every improvement whatever this says).
public enum LastCheckpoint: String, CaseIterable, Sendable {
    /// After every epoch: an interrupted run resumes from its last epoch.
    case every
    /// After the last epoch only: a finished run can be extended, an interrupted one not.
    case end
    /// Never: best.safetensors only (weights, no optimizer state); no --resume.
    case never
}
