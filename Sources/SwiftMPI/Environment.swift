import CMPI
#if canImport(Glibc)
import Glibc
#endif

/// Start-up and shut-down of the MPI library for this process.
///
/// A process started without `mpirun` is an MPI singleton: rank 0 of a world of 1, so
/// the same code path serves single-process debug runs and multi-node jobs.
public enum MPI {
    /// How many threads may call MPI. The trainer calls MPI from its main thread only,
    /// so `.funneled` is the default and the level actually provided is checked.
    public enum ThreadLevel: Int32, Sendable, CaseIterable, CustomStringConvertible {
        case single, funneled, serialized, multiple

        var raw: Int32 {
            switch self {
            case .single: return Int32(MPI_THREAD_SINGLE)
            case .funneled: return Int32(MPI_THREAD_FUNNELED)
            case .serialized: return Int32(MPI_THREAD_SERIALIZED)
            case .multiple: return Int32(MPI_THREAD_MULTIPLE)
            }
        }

        public var description: String {
            switch self {
            case .single: return "MPI_THREAD_SINGLE"
            case .funneled: return "MPI_THREAD_FUNNELED"
            case .serialized: return "MPI_THREAD_SERIALIZED"
            case .multiple: return "MPI_THREAD_MULTIPLE"
            }
        }
    }

    /// True between a successful ``initialize(threadLevel:)`` and ``finalize()``.
    public static var isInitialized: Bool {
        var flag: Int32 = 0
        MPI_Initialized(&flag)
        return flag != 0
    }

    /// True once ``finalize()`` has run; MPI cannot be initialized again after that.
    public static var isFinalized: Bool {
        var flag: Int32 = 0
        MPI_Finalized(&flag)
        return flag != 0
    }

    /// Initializes MPI (once per process; later calls return the same world) and
    /// switches the world communicator to returning error codes instead of aborting.
    /// Asks for `threadLevel` and accepts any level down to `minimum` (default: the same);
    /// ``threadLevel`` tells what was provided.
    ///
    /// - Throws: ``MPIError`` if MPI fails to start or provides less than `minimum`.
    @discardableResult
    public static func initialize(threadLevel: ThreadLevel = .funneled, minimum: ThreadLevel? = nil) throws -> Communicator {
        if !isInitialized {
            // Started without mpirun, OpenMPI 4 forks a runtime daemon (orted) in a
            // session of its own, which no process-group kill reaches and which holds
            // the process's inherited files open after it exits. A singleton needs no
            // daemon (it never spawns processes), so none is started; a user's setting wins.
            setenv("OMPI_MCA_ess_singleton_isolated", "1", 0)
            var provided: Int32 = 0
            try check(MPI_Init_thread(nil, nil, threadLevel.raw, &provided), "MPI_Init_thread")
            guard provided >= (minimum ?? threadLevel).raw else {
                throw MPIError(
                    call: "MPI_Init_thread", code: -1,
                    message: "requested \(threadLevel) but the MPI library provides only level \(provided)")
            }
            try check(MPI_Comm_set_errhandler(cmpi_comm_world(), cmpi_errors_return()), "MPI_Comm_set_errhandler")
        }
        return try world
    }

    /// The thread level MPI provides (``ThreadLevel/single`` before initialization).
    public static var threadLevel: ThreadLevel {
        guard isInitialized, !isFinalized else { return .single }
        var provided: Int32 = 0
        MPI_Query_thread(&provided)
        return ThreadLevel.allCases.last { $0.raw <= provided } ?? .single
    }

    /// All processes of the job. Requires ``initialize(threadLevel:)``.
    public static var world: Communicator {
        get throws { try Communicator(handle: cmpi_comm_world()) }
    }

    /// Shuts MPI down. Every rank must call it before a normal exit.
    public static func finalize() throws {
        guard isInitialized, !isFinalized else { return }
        try check(MPI_Finalize(), "MPI_Finalize")
    }

    /// Ends the whole job: prints `message` on this rank's standard error and asks MPI to
    /// kill every rank, so a failure on one rank never leaves the others waiting in a
    /// collective. Without MPI running it simply exits.
    public static func abort(_ message: String, exitCode: Int32 = 1) -> Never {
        let rank = isInitialized && !isFinalized ? ((try? world.rank) ?? 0) : 0
        fflush(nil)  // what this rank printed so far goes first
        let size = isInitialized && !isFinalized ? ((try? world.size) ?? 1) : 1
        let line = Array("seti-dist: error\(size > 1 ? " on rank \(rank)" : ""): \(message)\n".utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        if isInitialized && !isFinalized {
            MPI_Abort(cmpi_comm_world(), exitCode)
        }
        exit(exitCode)
    }
}
