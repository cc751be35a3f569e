#include "winograd_transform.h"
#include "instruction_sets.h"

#pragma clang diagnostic ignored "-Wpsabi"

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

#define TRANSFORM_PARAMETERS                                                                                        \
    (float *out, long outRowStride, long outStride, const float *in, long inRowStride, long inStride,               \
     const float *left, int rowsOut, int rowsIn, const float *right, int columnsOut, int columnsIn, int channels,   \
     const float *bias, int accumulate, float *scratch)
#define TRANSFORM_ARGUMENTS                                                                                         \
    out, outRowStride, outStride, in, inRowStride, inStride, left, rowsOut, rowsIn, right, columnsOut, columnsIn,  \
        channels, bias, accumulate, scratch

// AVX2 + FMA wherever the CPU has it, AVX-512 included: with 16-float sums in one AVX-512
// register, a block has half the independent sums it has in AVX2's two, and ran slower.
#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static void avx2_transform TRANSFORM_PARAMETERS { transform_body(TRANSFORM_ARGUMENTS); }
#endif
static void baseline_transform TRANSFORM_PARAMETERS { transform_body(TRANSFORM_ARGUMENTS); }

void seti_winograd_transform TRANSFORM_PARAMETERS {
#if defined(__x86_64__)
    if (seti_instruction_set() >= SETI_AVX2_FMA) {
        avx2_transform(TRANSFORM_ARGUMENTS);
        return;
    }
#endif
    baseline_transform(TRANSFORM_ARGUMENTS);
}
