// Vector math Swift cannot express at full speed.
//
// Swift's Float.squareRoot() keeps C's errno contract: each lane becomes a scalar
// sqrtss plus a guarded call to sqrtf, so a SIMD16 square root costs 16 scalar ones
// (Adam's update ran several times slower for it). Clang's elementwise builtin is the IEEE
// square root with no errno, one vsqrtps per register. ext_vector_type(16) floats
// import into Swift as SIMD16<Float>; static inline keeps the call free, as in
// swift-numerics' _NumericsShims.
#ifndef SETI_VECTOR_MATH_SHIM_H
#define SETI_VECTOR_MATH_SHIM_H

typedef float seti_float16 __attribute__((ext_vector_type(16)));

/// Correctly rounded square root of each lane (no errno, NaN for negative lanes).
static inline __attribute__((always_inline)) seti_float16 seti_sqrt16(seti_float16 x) {
    return __builtin_elementwise_sqrt(x);
}

#endif
