#include "dense_kernels.h"

#if defined(__x86_64__)
// Vectors cross no call between functions of different instruction sets: every tile is
// inlined into the AVX-512 functions.
#pragma clang diagnostic ignored "-Wpsabi"

// Tile sizes were chosen by timing the SETI model's shapes (batch 32, 32768 x 1024) on
// one core; see docs/PERFORMANCE.md.
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,fma"))), apply_to = function)
#define NAME(x) avx512_##x
#define VL 16
#define FC 4
#define FB 6
#define SLAB 64
#define GC 4
#define GR 6
#define GBLOCK 96
#define FOLD_AHEAD 1024
#define IV 2
#define IR 8
#include "dense_tiles.h"
#include "dense_fold_tiles.h"
#undef LOADV
#undef VEC
#undef NAME
#undef VL
#undef FC
#undef FB
#undef SLAB
#undef GC
#undef GR
#undef GBLOCK
#undef IV
#undef IR
#undef FOLD_AHEAD
#pragma clang attribute pop

void seti_dense_forward(float *out, const float *xt, const float *kernel, long batch, long inputs, long outputs,
                        long first, long end) {
    avx512_forward(out, xt, kernel, batch, inputs, outputs, first, end);
}

void seti_dense_kernel_gradient(float *dkernel, const float *xt, const float *dout, long batch, long inputs,
                                long outputs, long first, long end) {
    avx512_kernel_gradient(dkernel, xt, dout, batch, inputs, outputs, first, end);
}

void seti_dense_kernel_gradient_fold(float *m, const float *xt, const float *dout, long batch, long outputs, long first,
                                     long end, float *p, float *qtSum, const float *qt, long qtStride, int rank, float share) {
    avx512_kernel_gradient_fold(m, xt, dout, batch, outputs, first, end, p, qtSum, qt, qtStride, rank, share);
}

void seti_dense_input_gradient(float *dinpt, const float *doutt, const float *kernel, long paddedBatch, long inputs,
                               long outputs, long first, long end) {
    avx512_input_gradient(dinpt, doutt, kernel, paddedBatch, inputs, outputs, first, end);
}

#endif

// In 16 x 16 blocks, so that both sides touch a few cache lines at a time.
void seti_transpose(float *out, long outStride, const float *in, long inStride, long rows, long columns) {
    for (long r0 = 0; r0 < rows; r0 += 16)
        for (long c0 = 0; c0 < columns; c0 += 16) {
            const long rEnd = rows - r0 < 16 ? rows : r0 + 16, cEnd = columns - c0 < 16 ? columns : c0 + 16;
            for (long c = c0; c < cEnd; c++)
                for (long r = r0; r < rEnd; r++) out[c * outStride + r] = in[r * inStride + c];
        }
}
