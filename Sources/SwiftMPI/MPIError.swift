import CMPI

/// A failed MPI call, carrying the call's name and MPI's own error string.
///
/// The world communicator is set to `MPI_ERRORS_RETURN` at initialization, so MPI
/// reports errors as return codes and the wrapper turns them into this error.
public struct MPIError: Error, CustomStringConvertible {
    public let call: String
    public let code: Int32
    public let message: String

    public var description: String { "\(call) failed: \(message) (MPI error \(code))" }
}

/// Ranks that were expected to hold the same value and did not (see ``Communicator/agree(on:what:)``).
///
/// Every rank throws it together, so it is a *collective* failure: rank 0 alone needs to
/// report it, and no rank has to abort the others.
public struct RankDisagreement: Error, CustomStringConvertible {
    /// What the ranks compared, e.g. "configuration hash".
    public let what: String
    /// Ranks whose value differs from the majority's (ties go to rank 0's value).
    public let differingRanks: [Int]
    /// Each rank's value, indexed by rank.
    public let values: [UInt64]
    /// The value most ranks hold.
    public let majority: UInt64

    public var description: String {
        let odd = differingRanks.map { "rank \($0) has \(hex(values[$0]))" }.joined(separator: ", ")
        return "ranks disagree on \(what): \(odd); the other \(values.count - differingRanks.count) rank(s) have \(hex(majority))"
    }

    private func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
}

/// Converts an MPI return code into a thrown ``MPIError``.
@inline(__always)
func check(_ code: Int32, _ call: @autoclosure () -> String) throws {
    guard code != MPI_SUCCESS else { return }
    throw MPIError(call: call(), code: code, message: errorString(code))
}

func errorString(_ code: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: Int(cmpi_max_error_string()) + 1)
    var length: Int32 = 0
    guard MPI_Error_string(code, &buffer, &length) == MPI_SUCCESS else { return "unknown MPI error" }
    return String(decoding: buffer[..<Int(length)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// An error that every rank of the job raises together (e.g. a failed ``Communicator/agree(on:what:)``).
/// A job runner reports it once, from rank 0, and ends normally with a failure status,
/// instead of aborting the job from every rank.
public protocol CollectiveError: Error {}

extension RankDisagreement: CollectiveError {}

/// The failure of work one rank did for all (see ``Communicator/onRoot(_:_:)``), raised on
/// every rank.
public struct RootFailure: CollectiveError, CustomStringConvertible {
    public let description: String
}
