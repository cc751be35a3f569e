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
extension UInt16: MPIScalar { public static var mpiDatatype: MPI_Datatype { cmpi_uint16() } }

/// The element-wise reductions an allreduce can apply.
public enum ReductionOp: Sendable {
    case sum, min, max
    /// Sum of bfloat16 values stored as `UInt16` bit patterns (see ``BFloat16``): each
    /// pair added in fp32, the sum rounded to bfloat16. Use only on `UInt16` buffers.
    case bfloat16Sum

    var handle: MPI_Op {
        switch self {
        case .sum: return cmpi_sum()
        case .min: return cmpi_min()
        case .max: return cmpi_max()
        case .bfloat16Sum: return cmpi_bf16_sum()
        }
    }
}

/// bfloat16: the upper half of an fp32 value (8 exponent bits, 7 mantissa bits), the
/// wire format of a halved gradient exchange. Conversions round to nearest, ties to even,
/// as ``ReductionOp/bfloat16Sum`` does.
public enum BFloat16 {
    @inline(__always)
    public static func bits(_ value: Float) -> UInt16 {
        let u = value.bitPattern
        if u & 0x7FFF_FFFF > 0x7F80_0000 { return UInt16(truncatingIfNeeded: u >> 16) | 0x40 }  // NaN stays NaN
        return UInt16(truncatingIfNeeded: (u &+ 0x7FFF &+ ((u >> 16) & 1)) >> 16)
    }

    @inline(__always)
    public static func value(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }
}
