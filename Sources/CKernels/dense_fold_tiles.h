// The dense layer's kernel gradient folded into a low-rank exchange's running matrix as
// backward makes it (seti_dense_kernel_gradient_fold; the Swift side is SetiNet's
// KernelGradientFold, the exchange SetiTraining/Exchange/LowRank). Included by
// dense_kernels.c after dense_tiles.h, whose macros and gradient_sums it uses, and with
//   FOLD_AHEAD   floats of M prefetched ahead of each tile
// defined. The algebra is powersgd_passes.c's, in its order, so M is the same to the bit.

// Each tile of the gradient leaves the registers only as part of M, and M's rows meet the
// other factor while they are in registers too.

/// The fold of one tile (rows x vectors*VL from m): m = (m - share * pOld Q^T) + the tile's
/// gradient (pOld: the tile's rows of P; qt is Q^T from the tile's first column, its rows
/// qtStride apart). Then, unless `right`, dots[i][c] += m's row i times Q's column c, lane
/// by lane (P = M Q); if `right`, qtSum[c] += pOld[i][c] times m's row i, row after row (the
/// tile's part of Q^T = P^T M; qtSum from the tile's first column, rows qtStride apart).
/// Before it sums, the tile prefetches M FOLD_AHEAD floats further on: the sums leave the
/// loads of M too few and far between for the hardware prefetchers to run ahead.
static inline __attribute__((always_inline)) void
NAME(fold_tile)(float *m, const float *xt, const float *dout, long batch, long outputs, const float *pOld, VEC *dots,
                float *qtSum, const float *qt, long qtStride, const int rank, const int right, float share, const int rows,
                const int vectors) {
    VEC acc[8][GC];
    #pragma clang loop unroll(full)
    for (int i = 0; i < rows; i++)
        #pragma clang loop unroll(full)
        for (int j = 0; j < vectors; j++) __builtin_prefetch(m + i * outputs + FOLD_AHEAD + j * VL, 1, 3);
    NAME(gradient_sums)(acc, xt, dout, batch, outputs, rows, vectors);
    #pragma clang loop unroll(full)
    for (int i = 0; i < rows; i++) {
        VEC dot[SETI_DENSE_FOLD_MAX_RANK];
        #pragma clang loop unroll(full)
        for (int c = 0; c < SETI_DENSE_FOLD_MAX_RANK; c++) dot[c] = (VEC){0};
        #pragma clang loop unroll(full)
        for (int j = 0; j < vectors; j++) {
            VEC *to = (VEC *)(m + i * outputs + j * VL);
            VEC x = *to;
            // The operations of seti_powersgd_fold, in its order, so M's bits are the same.
            if (share != 0) {
                VEC r = pOld[i * rank] * LOADV(qt + j * VL);
                #pragma clang loop unroll(full)
                for (int c = 1; c < SETI_DENSE_FOLD_MAX_RANK; c++)
                    if (c < rank) r += pOld[i * rank + c] * LOADV(qt + c * qtStride + j * VL);
                x -= share * r;
            }
            x += acc[i][j];
            *to = x;
            #pragma clang loop unroll(full)
            for (int c = 0; c < SETI_DENSE_FOLD_MAX_RANK; c++)
                if (c < rank) {
                    if (right) *(VEC *)(qtSum + c * qtStride + j * VL) += pOld[i * rank + c] * x;
                    else dot[c] += x * LOADV(qt + c * qtStride + j * VL);
                }
        }
        if (!right)
            #pragma clang loop unroll(full)
            for (int c = 0; c < SETI_DENSE_FOLD_MAX_RANK; c++)
                if (c < rank) dots[i * SETI_DENSE_FOLD_MAX_RANK + c] += dot[c];
    }
}

/// M's rows k..<k+rows, all columns, and their P (or, if `right`, their part of Q^T in
/// qtSum): the rows stream through once, left to right, while dout comes from the cache.
/// (Walking a block of rows one column slice at a time, as the plain kernel gradient does,
/// read M a few hundred bytes per row at a time, 4 KB apart: the prefetchers did not follow.)
static inline __attribute__((always_inline)) void
NAME(fold_rows)(float *m, const float *xt, const float *dout, long batch, long outputs, long k, float *p, float *qtSum,
                const float *qt, long qtStride, const int rank, const int right, float share, const int rows) {
    // The dot products are summed lane by lane and the lanes added once at the end: adding
    // them per tile took as long as the tile's gradient.
    VEC dots[8 * SETI_DENSE_FOLD_MAX_RANK];
    if (!right)
        for (int i = 0; i < 8 * SETI_DENSE_FOLD_MAX_RANK; i++) dots[i] = (VEC){0};
    float tail[8 * SETI_DENSE_FOLD_MAX_RANK] = {0};
    float *row = m + k * outputs;
    const float *x = xt + k * batch, *pOld = p + k * rank;  // read until the rows are done
    long n0 = 0;
#define TILE(vectors) \
    NAME(fold_tile)(row + n0, x, dout + n0, batch, outputs, pOld, dots, right ? qtSum + n0 : 0, qt + n0, qtStride, rank, \
                    right, share, rows, vectors)
    for (; n0 + GC * VL <= outputs; n0 += GC * VL) TILE(GC);
    for (; n0 + VL <= outputs; n0 += VL) TILE(1);
#undef TILE
    for (int i = 0; i < rows; i++)
        for (long n = n0; n < outputs; n++) {
            float g = 0;
            for (long b = 0; b < batch; b++) g += x[i * batch + b] * dout[b * outputs + n];
            float v = row[i * outputs + n];
            if (share != 0) {
                float r = 0;
                for (int c = 0; c < rank; c++) r += pOld[i * rank + c] * qt[c * qtStride + n];
                v -= share * r;
            }
            v += g;
            row[i * outputs + n] = v;
            for (int c = 0; c < rank; c++)
                if (right) qtSum[c * qtStride + n] += pOld[i * rank + c] * v;
                else tail[i * SETI_DENSE_FOLD_MAX_RANK + c] += v * qt[c * qtStride + n];
        }
    if (right) return;
    for (int i = 0; i < rows; i++)
        for (int c = 0; c < rank; c++) {
            float sum = 0;
            for (int v = 0; v < VL; v++) sum += dots[i * SETI_DENSE_FOLD_MAX_RANK + c][v];
            p[(k + i) * rank + c] = sum + tail[i * SETI_DENSE_FOLD_MAX_RANK + c];
        }
}

/// Rows first..<end for one rank: a constant for the usual ranks once inlined, so that the
/// loops over it unroll without tests.
static inline __attribute__((always_inline)) void
NAME(fold_range)(float *m, const float *xt, const float *dout, long batch, long outputs, long first, long end, float *p,
                 float *qtSum, const float *qt, long qtStride, const int rank, const int right, float share) {
    long k = first;
    for (; k + GR <= end; k += GR) NAME(fold_rows)(m, xt, dout, batch, outputs, k, p, qtSum, qt, qtStride, rank, right, share, GR);
    switch (end - k) {
#define TAIL(r) case r: NAME(fold_rows)(m, xt, dout, batch, outputs, k, p, qtSum, qt, qtStride, rank, right, share, r); break;
        TAIL(1) TAIL(2) TAIL(3) TAIL(4) TAIL(5) TAIL(6) TAIL(7)
#undef TAIL
        default: break;
    }
}

static void
NAME(kernel_gradient_fold)(float *m, const float *xt, const float *dout, long batch, long outputs, long first, long end,
                           float *p, float *qtSum, const float *qt, long qtStride, int rank, float share) {
    const int right = qtSum != 0;
    switch (rank * 2 + right) {
#define RANK(r) \
        case 2 * r: NAME(fold_range)(m, xt, dout, batch, outputs, first, end, p, qtSum, qt, qtStride, r, 0, share); break; \
        case 2 * r + 1: NAME(fold_range)(m, xt, dout, batch, outputs, first, end, p, qtSum, qt, qtStride, r, 1, share); break;
        RANK(1) RANK(2) RANK(3) RANK(4)
#undef RANK
        default:
            if (right) NAME(fold_range)(m, xt, dout, batch, outputs, first, end, p, qtSum, qt, qtStride, rank, 1, share);
            else NAME(fold_range)(m, xt, dout, batch, outputs, first, end, p, qtSum, qt, qtStride, rank, 0, share);
            break;
    }
}
