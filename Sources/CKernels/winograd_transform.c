#include "winograd_transform.h"
#include "instruction_sets.h"

#pragma clang diagnostic ignored "-Wpsabi"

// Each public function, seti_winograd_<name>: <name>_body compiled for AVX2 + FMA and for
// the baseline, chosen per call. AVX2 wherever the CPU has it, AVX-512 included: with
// 16-float sums in one AVX-512 register, the general transform's blocks have half the
// independent sums they have in AVX2's two, and ran slower.
#if defined(__x86_64__)
#define AVX2_OR_BASELINE(name, parameters, arguments)                                                \
    __attribute__((target("avx2,fma"))) static void avx2_##name parameters { name##_body arguments; } \
    static void baseline_##name parameters { name##_body arguments; }                                \
    void seti_winograd_##name parameters {                                                          \
        if (seti_instruction_set() >= SETI_AVX2_FMA) avx2_##name arguments;                          \
        else baseline_##name arguments;                                                              \
    }
#else
#define AVX2_OR_BASELINE(name, parameters, arguments)                 \
    static void baseline_##name parameters { name##_body arguments; } \
    void seti_winograd_##name parameters { baseline_##name arguments; }
#endif

// Each output vector is a short dot product over k (or l): summed in a register, one FMA
// chain per output would wait on its own latency, so `nb` outputs (4 at a time) are
// summed together, 16 channels each, for 2 x nb independent chains. `nb` is a constant at
// every call, so the loops unroll into registers.
// Each result is stored, or added to what `dst` holds (`accumulate`), plus `bias[c]` unless
// `bias` is null.
static inline __attribute__((always_inline)) void
left_block(float *dst, long dstStep, const float *src, long srcStep, long kStep, const float *weights, long weightStep,
           int nb, int count, int c, const float *bias, int accumulate) {
    float sum[4][16] = {{0}};
    for (int k = 0; k < count; k++) {
        for (int b = 0; b < nb; b++) {
            const float w = weights[b * weightStep + k];
            const float *s = src + b * srcStep + k * kStep + c;
            for (int v = 0; v < 16; v++) sum[b][v] += w * s[v];
        }
    }
    if (bias)
        for (int b = 0; b < nb; b++)
            for (int v = 0; v < 16; v++) sum[b][v] += bias[c + v];
    if (accumulate)
        for (int b = 0; b < nb; b++)
            for (int v = 0; v < 16; v++) dst[b * dstStep + c + v] += sum[b][v];
    else
        for (int b = 0; b < nb; b++)
            for (int v = 0; v < 16; v++) dst[b * dstStep + c + v] = sum[b][v];
}

static inline __attribute__((always_inline)) void
transform_body(float *out, long outRowStride, long outStride, const float *in, long inRowStride, long inStride,
               const float *left, int rowsOut, int rowsIn, const float *right, int columnsOut, int columnsIn,
               int channels, const float *bias, int accumulate, float *scratch) {
    const int vectors = channels / 16 * 16;
    // scratch[i][l] = sum over k of left[i][k] in[k][l]: blocks of 4 l, same weights.
    for (int i = 0; i < rowsOut; i++) {
        const float *weights = left + (long)i * rowsIn;
        float *row = scratch + (long)i * columnsIn * channels;
        int l = 0;
        for (; l + 4 <= columnsIn; l += 4)
            for (int c = 0; c < vectors; c += 16)
                left_block(row + (long)l * channels, channels, in + (long)l * inStride, inStride, inRowStride, weights, 0, 4,
                           rowsIn, c, 0, 0);
        for (; l < columnsIn; l++)
            for (int c = 0; c < vectors; c += 16)
                left_block(row + (long)l * channels, channels, in + (long)l * inStride, inStride, inRowStride, weights, 0, 1,
                           rowsIn, c, 0, 0);
        for (l = 0; l < columnsIn; l++) {
            for (int c = vectors; c < channels; c++) {
                float sum = 0;
                for (int k = 0; k < rowsIn; k++) sum += weights[k] * in[k * inRowStride + (long)l * inStride + c];
                row[(long)l * channels + c] = sum;
            }
        }
    }
    // out[i][j] = sum over l of scratch[i][l] right[j][l] (+ bias): blocks of 4 j, same inputs.
    for (int i = 0; i < rowsOut; i++) {
        const float *src = scratch + (long)i * columnsIn * channels;
        float *row = out + (long)i * outRowStride;
        int j = 0;
        for (; j + 4 <= columnsOut; j += 4)
            for (int c = 0; c < vectors; c += 16)
                left_block(row + (long)j * outStride, outStride, src, 0, channels, right + (long)j * columnsIn, columnsIn, 4,
                           columnsIn, c, bias, accumulate);
        for (; j < columnsOut; j++)
            for (int c = 0; c < vectors; c += 16)
                left_block(row + (long)j * outStride, outStride, src, 0, channels, right + (long)j * columnsIn, columnsIn, 1,
                           columnsIn, c, bias, accumulate);
        for (j = 0; j < columnsOut; j++) {
            for (int c = vectors; c < channels; c++) {
                float sum = 0;
                for (int l = 0; l < columnsIn; l++) sum += right[(long)j * columnsIn + l] * src[(long)l * channels + c];
                if (bias) sum += bias[c];
                float *to = row + (long)j * outStride + c;
                *to = accumulate ? *to + sum : sum;
            }
        }
    }
}

int seti_winograd_bt_is_f4x5(const float *bt) {
#define BT(i, k) bt[(i) * 8 + (k)]
    for (int k = 0; k < 8; k++) {
        if (k % 2 && BT(0, k) != 0) return 0;
        if (k % 2 == 0 && BT(7, k) != 0) return 0;
        for (int p = 1; p < 7; p += 2) {
            if (BT(p + 1, k) != (k % 2 ? -BT(p, k) : BT(p, k))) return 0;
            if ((k == 0 || k == 7) && BT(p, k) != 0) return 0;
        }
    }
    return 1;
#undef BT
}

typedef float v8 __attribute__((vector_size(32), aligned(4)));

/// y = B^T x over a column of 8 vectors: rows 0 and 7 alone, rows p and p + 1 (p = 1, 3,
/// 5) as E + O and E - O.
static inline __attribute__((always_inline)) void bt_pass(v8 *y, const v8 *x, const float *w) {
#define W(i, k) w[(i) * 8 + (k)]
    y[0] = W(0, 0) * x[0] + W(0, 2) * x[2] + W(0, 4) * x[4] + W(0, 6) * x[6];
    for (int p = 1; p < 7; p += 2) {
        const v8 even = W(p, 2) * x[2] + W(p, 4) * x[4] + W(p, 6) * x[6];
        const v8 odd = W(p, 1) * x[1] + W(p, 3) * x[3] + W(p, 5) * x[5];
        y[p] = even + odd;
        y[p + 1] = even - odd;
    }
    y[7] = W(7, 1) * x[1] + W(7, 3) * x[3] + W(7, 5) * x[5] + W(7, 7) * x[7];
}

/// y = B x = (B^T)^T x: the pairs of B^T's rows become sums and differences of x.
static inline __attribute__((always_inline)) void b_pass(v8 *y, const v8 *x, const float *w) {
    const v8 s1 = x[1] + x[2], d1 = x[1] - x[2], s3 = x[3] + x[4], d3 = x[3] - x[4], s5 = x[5] + x[6], d5 = x[5] - x[6];
    y[0] = W(0, 0) * x[0];
    for (int i = 1; i < 7; i++) {
        const int even = i % 2 == 0;
        y[i] = (even ? W(0, i) * x[0] : W(7, i) * x[7]) + W(1, i) * (even ? s1 : d1) + W(3, i) * (even ? s3 : d3)
               + W(5, i) * (even ? s5 : d5);
    }
    y[7] = W(7, 7) * x[7];
#undef W
}

static inline __attribute__((always_inline)) void
input_transform_body(float *out, long outRowStride, long outStride, const float *in, long inRowStride, long inStride,
                     const float *bt, int transposed, int channels, int accumulate, float *scratch) {
    for (long c = 0; c < channels; c += 8) {
        // scratch[i][l] = (B^T d)[i][l], column by column.
        for (int l = 0; l < 8; l++) {
            v8 x[8], y[8];
            for (int k = 0; k < 8; k++) x[k] = *(const v8 *)(in + k * inRowStride + l * inStride + c);
            if (transposed) b_pass(y, x, bt); else bt_pass(y, x, bt);
            for (int i = 0; i < 8; i++) *(v8 *)(scratch + (i * 8 + l) * 8) = y[i];
        }
        // out[i][j] = (scratch B)[i][j], row by row: the same pass over a row.
        for (int i = 0; i < 8; i++) {
            v8 x[8], y[8];
            for (int l = 0; l < 8; l++) x[l] = *(const v8 *)(scratch + (i * 8 + l) * 8);
            if (transposed) b_pass(y, x, bt); else bt_pass(y, x, bt);
            for (int j = 0; j < 8; j++) {
                v8 *to = (v8 *)(out + i * outRowStride + j * outStride + c);
                *to = accumulate ? *to + y[j] : y[j];
            }
        }
    }
}

#define INPUT_PARAMETERS                                                                                         \
    (float *out, long outRowStride, long outStride, const float *in, long inRowStride, long inStride,            \
     const float *bt, int transposed, int channels, int accumulate, float *scratch)
#define INPUT_ARGUMENTS \
    out, outRowStride, outStride, in, inRowStride, inStride, bt, transposed, channels, accumulate, scratch

AVX2_OR_BASELINE(input_transform, INPUT_PARAMETERS, (INPUT_ARGUMENTS))

int seti_winograd_at_is_f4x5(const float *at) {
#define AT(i, k) at[(i) * 8 + (k)]
    for (int i = 0; i < 4; i++) {
        for (int p = 1; p < 7; p += 2)
            if (AT(i, p + 1) != (i % 2 ? -AT(i, p) : AT(i, p))) return 0;
        if (i >= 1 && AT(i, 0) != 0) return 0;
        if (i <= 2 && AT(i, 7) != 0) return 0;
    }
    return 1;
#undef AT
}

#define W(i, k) w[(i) * 8 + (k)]

/// y = A^T x, 8 vectors to 4: the paired columns become sums (even rows) and differences
/// (odd rows) of x.
static inline __attribute__((always_inline)) void at_pass(v8 *y, const v8 *x, const float *w) {
    const v8 s1 = x[1] + x[2], d1 = x[1] - x[2], s3 = x[3] + x[4], d3 = x[3] - x[4], s5 = x[5] + x[6], d5 = x[5] - x[6];
    y[0] = W(0, 0) * x[0] + W(0, 1) * s1 + W(0, 3) * s3 + W(0, 5) * s5;
    y[1] = W(1, 1) * d1 + W(1, 3) * d3 + W(1, 5) * d5;
    y[2] = W(2, 1) * s1 + W(2, 3) * s3 + W(2, 5) * s5;
    y[3] = W(3, 1) * d1 + W(3, 3) * d3 + W(3, 5) * d5 + W(3, 7) * x[7];
}

/// y = A x = (A^T)^T x, 4 vectors to 8: rows 1/2, 3/4 and 5/6 of A as E + O and E - O.
static inline __attribute__((always_inline)) void a_pass(v8 *y, const v8 *x, const float *w) {
    y[0] = W(0, 0) * x[0];
    for (int p = 1; p < 7; p += 2) {
        const v8 even = W(0, p) * x[0] + W(2, p) * x[2], odd = W(1, p) * x[1] + W(3, p) * x[3];
        y[p] = even + odd;
        y[p + 1] = even - odd;
    }
    y[7] = W(3, 7) * x[3];
}
#undef W

static inline __attribute__((always_inline)) void
output_transform_body(float *out, long outRowStride, long outStride, const float *in, long inRowStride, long inStride,
                      const float *at, int transposed, int channels, const float *bias, float *scratch) {
    // A^T m A: 8 x 8 in, 4 x 4 out; A w A^T: 4 x 4 in, 8 x 8 out.
    const int side = transposed ? 4 : 8, outSide = transposed ? 8 : 4;
    for (long c = 0; c < channels; c += 8) {
        for (int l = 0; l < side; l++) {
            v8 x[8], y[8];
            for (int k = 0; k < side; k++) x[k] = *(const v8 *)(in + k * inRowStride + l * inStride + c);
            if (transposed) a_pass(y, x, at); else at_pass(y, x, at);
            for (int i = 0; i < outSide; i++) *(v8 *)(scratch + (i * side + l) * 8) = y[i];
        }
        const v8 b = bias ? *(const v8 *)(bias + c) : (v8){0};
        for (int i = 0; i < outSide; i++) {
            v8 x[8], y[8];
            for (int l = 0; l < side; l++) x[l] = *(const v8 *)(scratch + (i * side + l) * 8);
            if (transposed) a_pass(y, x, at); else at_pass(y, x, at);
            for (int j = 0; j < outSide; j++) *(v8 *)(out + i * outRowStride + j * outStride + c) = bias ? y[j] + b : y[j];
        }
    }
}

#define OUTPUT_PARAMETERS                                                                                        \
    (float *out, long outRowStride, long outStride, const float *in, long inRowStride, long inStride,            \
     const float *at, int transposed, int channels, const float *bias, float *scratch)
#define OUTPUT_ARGUMENTS out, outRowStride, outStride, in, inRowStride, inStride, at, transposed, channels, bias, scratch

AVX2_OR_BASELINE(output_transform, OUTPUT_PARAMETERS, (OUTPUT_ARGUMENTS))

#define TRANSFORM_PARAMETERS                                                                                        \
    (float *out, long outRowStride, long outStride, const float *in, long inRowStride, long inStride,               \
     const float *left, int rowsOut, int rowsIn, const float *right, int columnsOut, int columnsIn, int channels,   \
     const float *bias, int accumulate, float *scratch)
#define TRANSFORM_ARGUMENTS                                                                                         \
    out, outRowStride, outStride, in, inRowStride, inStride, left, rowsOut, rowsIn, right, columnsOut, columnsIn,  \
        channels, bias, accumulate, scratch

AVX2_OR_BASELINE(transform, TRANSFORM_PARAMETERS, (TRANSFORM_ARGUMENTS))
