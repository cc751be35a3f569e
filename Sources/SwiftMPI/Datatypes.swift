import CMPI

/// A Swift scalar type with a matching MPI datatype; collectives are generic over it.
public protocol MPIScalar: Numeric, Comparable {
    static var mpiDatatype: MPI_Datatype { get }
}

extension Float: MPIScalar { public static var mpiDatatype: MPI_Datatype { cmpi_float() } }
extension Double: MPIScalar { public static var mpiDatatype: MPI_Datatype { cmpi_double() } }
extension Int32: MPIScalar { public static var mpiDatatype: MPI_Datatype { cmpi_int32() } }
extension Int64: MPIScalar { public static var mpiDatatype: MPI_Datatype { cmpi_int64() } }
extension UInt64: MPIScalar { public static var mpiDatatype: MPI_Datatype { cmpi_uint64() } }
extension UInt8: MPIScalar { public static var mpiDatatype: MPI_Datatype { cmpi_uint8() } }

/// The element-wise reductions an allreduce can apply.
public enum ReductionOp: Sendable {
    case sum, min, max

    var handle: MPI_Op {
        switch self {
        case .sum: return cmpi_sum()
        case .min: return cmpi_min()
        case .max: return cmpi_max()
        }
    }
}
