#include "dropout_mask.h"
#include "instruction_sets.h"

#pragma clang diagnostic ignored "-Wpsabi"

// Eight hashes give sixteen elements: the halves of each 64-bit lane, low first, are the
// 32-bit lanes of the same register on a little-endian machine.
typedef uint64_t u64x8 __attribute__((vector_size(64)));
typedef uint32_t u32x16 __attribute__((vector_size(64)));
typedef int32_t i32x16 __attribute__((vector_size(64)));
typedef float f32x16 __attribute__((vector_size(64), aligned(4)));

static inline __attribute__((always_inline)) u64x8 mix8(u64x8 z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/// The top 23 bits of u under the exponent of 1.0: a float in [1, 2), exact; minus 1.
static inline float fraction1(uint32_t u) {
    union { uint32_t bits; float value; } f = {(u >> 9) | 0x3F800000u};
    return f.value - 1.0f;
}

static inline __attribute__((always_inline)) void
dropout_body(float *out, float *mask, const float *inp, long features, float rate, float scale, uint64_t streamKey,
             uint64_t sampleKey) {
    const u64x8 lanes = {0, 1, 2, 3, 4, 5, 6, 7};
    const i32x16 scaleBits = (i32x16)((f32x16){0} + scale);
    long j = 0;
    for (; j + 16 <= features; j += 16) {
        const u64x8 bits = mix8(streamKey ^ (sampleKey | ((uint64_t)(j / 2) + lanes)));
        const f32x16 fraction = (f32x16)(((u32x16)bits >> 9) | 0x3F800000u) - 1.0f;
        const f32x16 m = (f32x16)((fraction >= rate) & scaleBits);
        *(f32x16 *)(mask + j) = m;
        *(f32x16 *)(out + j) = *(const f32x16 *)(inp + j) * m;
    }
    for (; j < features; j++) {
        const uint64_t bits = seti_mix(streamKey ^ (sampleKey | (uint64_t)(j / 2)));
        const float m = fraction1(j % 2 == 0 ? (uint32_t)bits : (uint32_t)(bits >> 32)) >= rate ? scale : 0;
        mask[j] = m;
        out[j] = inp[j] * m;
    }
}

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512dq"))) static void
avx512_dropout(float *out, float *mask, const float *inp, long features, float rate, float scale, uint64_t streamKey,
               uint64_t sampleKey) {
    dropout_body(out, mask, inp, features, rate, scale, streamKey, sampleKey);
}

__attribute__((target("avx2"))) static void
avx2_dropout(float *out, float *mask, const float *inp, long features, float rate, float scale, uint64_t streamKey,
             uint64_t sampleKey) {
    dropout_body(out, mask, inp, features, rate, scale, streamKey, sampleKey);
}
#endif

static void
baseline_dropout(float *out, float *mask, const float *inp, long features, float rate, float scale, uint64_t streamKey,
                 uint64_t sampleKey) {
    dropout_body(out, mask, inp, features, rate, scale, streamKey, sampleKey);
}

void seti_dropout_forward(float *out, float *mask, const float *inp, long features, float rate, float scale,
                          uint64_t streamKey, uint64_t sampleKey) {
    SETI_DISPATCH(dropout, out, mask, inp, features, rate, scale, streamKey, sampleKey);
}
