#include "winograd_transform.h"
#include "instruction_sets.h"

// Each output vector is a short dot product over k (or l): summed in a register, one FMA
// chain per output would wait on its own latency, so `nb` outputs (4 at a time) are
// summed together, 16 channels each, for 2 x nb independent chains. `nb` is a constant at
// every call, so the loops unroll into registers.
static inline __attribute__((always_inline)) void
left_block(float *dst, long dstStep, const float *src, long srcStep, long kStep, const float *weights, long weightStep,
           int nb, int count, int c) {
    float sum[4][16] = {{0}};
    for (int k = 0; k < count; k++) {
        for (int b = 0; b < nb; b++) {
            const float w = weights[b * weightStep + k];
            const float *s = src + b * srcStep + k * kStep + c;
            for (int v = 0; v < 16; v++) sum[b][v] += w * s[v];
        }
    }
    for (int b = 0; b < nb; b++)
        for (int v = 0; v < 16; v++) dst[b * dstStep + c + v] = sum[b][v];
}

static inline __attribute__((always_inline)) void
transform_body(float *out, long outStride, const float *in, long inStride,
               const float *left, int rowsOut, int rowsIn, const float *right, int columnsOut, int columnsIn,
               int channels, float *scratch) {
    const long step = (long)columnsIn * inStride;
    const int vectors = channels / 16 * 16;
    // scratch[i][l] = sum over k of left[i][k] in[k][l]: blocks of 4 l, same weights.
    for (int i = 0; i < rowsOut; i++) {
        const float *weights = left + (long)i * rowsIn;
        float *row = scratch + (long)i * columnsIn * channels;
        int l = 0;
        for (; l + 4 <= columnsIn; l += 4)
            for (int c = 0; c < vectors; c += 16)
                left_block(row + (long)l * channels, channels, in + (long)l * inStride, inStride, step, weights, 0, 4, rowsIn, c);
        for (; l < columnsIn; l++)
            for (int c = 0; c < vectors; c += 16)
                left_block(row + (long)l * channels, channels, in + (long)l * inStride, inStride, step, weights, 0, 1, rowsIn, c);
        for (l = 0; l < columnsIn; l++) {
            for (int c = vectors; c < channels; c++) {
                float sum = 0;
                for (int k = 0; k < rowsIn; k++) sum += weights[k] * in[k * step + (long)l * inStride + c];
                row[(long)l * channels + c] = sum;
            }
        }
    }
    // out[i][j] = sum over l of scratch[i][l] right[j][l]: blocks of 4 j, same inputs.
    for (int i = 0; i < rowsOut; i++) {
        const float *src = scratch + (long)i * columnsIn * channels;
        float *row = out + (long)i * columnsOut * outStride;
        int j = 0;
        for (; j + 4 <= columnsOut; j += 4)
            for (int c = 0; c < vectors; c += 16)
                left_block(row + (long)j * outStride, outStride, src, 0, channels, right + (long)j * columnsIn, columnsIn, 4, columnsIn, c);
        for (; j < columnsOut; j++)
            for (int c = 0; c < vectors; c += 16)
                left_block(row + (long)j * outStride, outStride, src, 0, channels, right + (long)j * columnsIn, columnsIn, 1, columnsIn, c);
        for (j = 0; j < columnsOut; j++) {
            for (int c = vectors; c < channels; c++) {
                float sum = 0;
                for (int l = 0; l < columnsIn; l++) sum += right[(long)j * columnsIn + l] * src[(long)l * channels + c];
                row[(long)j * outStride + c] = sum;
            }
        }
    }
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static void
transform_avx2(float *out, long outStride, const float *in, long inStride, const float *left, int rowsOut, int rowsIn,
               const float *right, int columnsOut, int columnsIn, int channels, float *scratch) {
    transform_body(out, outStride, in, inStride, left, rowsOut, rowsIn, right, columnsOut, columnsIn, channels, scratch);
}
#endif

static void
transform_baseline(float *out, long outStride, const float *in, long inStride, const float *left, int rowsOut, int rowsIn,
                   const float *right, int columnsOut, int columnsIn, int channels, float *scratch) {
    transform_body(out, outStride, in, inStride, left, rowsOut, rowsIn, right, columnsOut, columnsIn, channels, scratch);
}

void seti_winograd_transform(float *out, long outStride, const float *in, long inStride,
                             const float *left, int rowsOut, int rowsIn, const float *right, int columnsOut, int columnsIn,
                             int channels, float *scratch) {
#if defined(__x86_64__)
    if (seti_instruction_set() >= SETI_AVX2_FMA) {
        transform_avx2(out, outStride, in, inStride, left, rowsOut, rowsIn, right, columnsOut, columnsIn, channels, scratch);
        return;
    }
#endif
    transform_baseline(out, outStride, in, inStride, left, rowsOut, rowsIn, right, columnsOut, columnsIn, channels, scratch);
}
