// The dense kernels' loops, included by dense_kernels.c with these defined (and
// undefined again at the end):
//   NAME(x)      the function name x
//   VL           floats per vector
//   FC, FB       forward tile: FC vectors of output columns x FB batch rows
//   SLAB         forward: rows of the kernel summed in registers before out is updated
//   GC, GR       kernel-gradient tile: GC vectors of columns x GR kernel rows
//   GBLOCK       kernel gradient: kernel rows per block (their slice of xt stays in cache)
//   IV, IR       input-gradient tile: IV vectors of batch columns x IR kernel rows
//   FOLD_AHEAD   kernel gradient into a fold: floats of M prefetched ahead of each tile
// Tiles hold FB*FC, GR*GC or IR*IV accumulators, which fit the register file with room
// for the operands. A tile's rows and vectors are constants at each call (the full tile,
// or a remainder at the end of a range), and its loops are unrolled in full, so its
// accumulators stay in registers; the arrays are sized for the largest. Every scalar tail
// sums in the same order as the vector lanes, with the same fused multiply-adds, so the
// split of a range into tiles and tails does not change a result.

_Static_assert(FB <= 8 && GR <= 8 && IR <= 8, "tile rows above 8");

typedef float NAME(vec) __attribute__((vector_size(VL * 4), aligned(4)));
typedef float NAME(aligned_vec) __attribute__((vector_size(VL * 4)));
#define VEC NAME(vec)
#define LOADV(p) (*(const VEC *)(p))

/// out[b0..<b0+rows, n0..<n0+FC*VL] += the slab's x rows times the slab's kernel columns.
/// Unless `ahead` is null, also prefetches into L2 the same columns of the slab's rows
/// at `ahead`: the kernel's rows are a page apart, and the hardware prefetchers do not
/// follow a stream across pages, so without it every slab's first tile waits on memory.
static inline __attribute__((always_inline)) void
NAME(forward_tile)(float *out, const float *xt, const float *w, long batch, long outputs, long slab, const int rows,
                   const float *ahead) {
    VEC acc[8][FC];
    #pragma clang loop unroll(full)
    for (int i = 0; i < rows; i++)
        #pragma clang loop unroll(full)
        for (int j = 0; j < FC; j++) acc[i][j] = (VEC){0};
    for (long k = 0; k < slab; k++) {
        VEC wv[FC];
        #pragma clang loop unroll(full)
        for (int j = 0; j < FC; j++) wv[j] = LOADV(w + k * outputs + j * VL);
        if (ahead) {
            #pragma clang loop unroll(full)
            for (int j = 0; j < FC; j++) __builtin_prefetch(ahead + k * outputs + j * VL, 0, 2);
        }
        #pragma clang loop unroll(full)
        for (int i = 0; i < rows; i++) {
            const float x = xt[k * batch + i];
            #pragma clang loop unroll(full)
            for (int j = 0; j < FC; j++) acc[i][j] += x * wv[j];
        }
    }
    #pragma clang loop unroll(full)
    for (int i = 0; i < rows; i++)
        #pragma clang loop unroll(full)
        for (int j = 0; j < FC; j++) *(VEC *)(out + i * outputs + j * VL) += acc[i][j];
}

static void
NAME(forward)(float *out, const float *xt, const float *kernel, long batch, long inputs, long outputs, long first, long end) {
    for (long k0 = 0; k0 < inputs; k0 += SLAB) {
        const long slab = inputs - k0 < SLAB ? inputs - k0 : SLAB;
        const float *w = kernel + k0 * outputs, *x = xt + k0 * batch;
        long n0 = first;
        for (; n0 + FC * VL <= end; n0 += FC * VL) {
            // The next slab's columns, fetched while the first tile sums this one.
            const float *ahead = k0 + 2 * SLAB <= inputs ? w + SLAB * outputs + n0 : 0;
            long b0 = 0;
            for (; b0 + FB <= batch; b0 += FB, ahead = 0)
                NAME(forward_tile)(out + b0 * outputs + n0, x + b0, w + n0, batch, outputs, slab, FB, ahead);
            switch (batch - b0) {
#define TAIL(r) case r: NAME(forward_tile)(out + b0 * outputs + n0, x + b0, w + n0, batch, outputs, slab, r, ahead); break;
                TAIL(1) TAIL(2) TAIL(3) TAIL(4) TAIL(5) TAIL(6) TAIL(7)
#undef TAIL
                default: break;
            }
        }
        for (; n0 < end; n0++)
            for (long b = 0; b < batch; b++) {
                float s = 0;
                for (long k = 0; k < slab; k++) s += x[k * batch + b] * w[k * outputs + n0];
                out[b * outputs + n0] += s;
            }
    }
}

/// acc[i][j] = sum over the batch of xt[i, b] dout[b, j-th vector]: a tile of the kernel
/// gradient, rows x vectors*VL.
static inline __attribute__((always_inline)) void
NAME(gradient_sums)(VEC acc[8][GC], const float *xt, const float *dout, long batch, long outputs, const int rows,
                    const int vectors) {
    #pragma clang loop unroll(full)
    for (int i = 0; i < rows; i++)
        #pragma clang loop unroll(full)
        for (int j = 0; j < vectors; j++) acc[i][j] = (VEC){0};
    for (long b = 0; b < batch; b++) {
        VEC d[GC];
        #pragma clang loop unroll(full)
        for (int j = 0; j < vectors; j++) d[j] = LOADV(dout + b * outputs + j * VL);
        #pragma clang loop unroll(full)
        for (int i = 0; i < rows; i++) {
            const float x = xt[i * batch + b];
            #pragma clang loop unroll(full)
            for (int j = 0; j < vectors; j++) acc[i][j] += x * d[j];
        }
    }
}

/// dkernel[k0..<k0+rows, n0..<n0+vectors*VL] = sum over the batch of xt[k, b] dout[b, n].
static inline __attribute__((always_inline)) void
NAME(gradient_tile)(float *dk, const float *xt, const float *dout, long batch, long outputs, int streaming, const int rows,
                    const int vectors) {
    VEC acc[8][GC];
    NAME(gradient_sums)(acc, xt, dout, batch, outputs, rows, vectors);
    #pragma clang loop unroll(full)
    for (int i = 0; i < rows; i++)
        #pragma clang loop unroll(full)
        for (int j = 0; j < vectors; j++) {
            VEC *to = (VEC *)(dk + i * outputs + j * VL);
            if (streaming) __builtin_nontemporal_store(acc[i][j], (NAME(aligned_vec) *)to);
            else *to = acc[i][j];
        }
}

/// Columns n0..<n0+vectors*VL of dkernel's rows k0..<end.
static inline __attribute__((always_inline)) void
NAME(gradient_columns)(float *dkernel, const float *xt, const float *dout, long batch, long outputs, long k0, long end,
                       long n0, int streaming, const int vectors) {
    long k = k0;
    for (; k + GR <= end; k += GR)
        NAME(gradient_tile)(dkernel + k * outputs + n0, xt + k * batch, dout + n0, batch, outputs, streaming, GR, vectors);
    switch (end - k) {
#define TAIL(r) case r: NAME(gradient_tile)(dkernel + k * outputs + n0, xt + k * batch, dout + n0, batch, outputs, streaming, r, vectors); break;
        TAIL(1) TAIL(2) TAIL(3) TAIL(4) TAIL(5) TAIL(6) TAIL(7)
#undef TAIL
        default: break;
    }
}

static void
NAME(kernel_gradient)(float *dkernel, const float *xt, const float *dout, long batch, long inputs, long outputs, long first, long end) {
    (void)inputs;
    if (outputs < VL) {
        for (long k = first; k < end; k++)
            for (long n = 0; n < outputs; n++) {
                float s = 0;
                for (long b = 0; b < batch; b++) s += xt[k * batch + b] * dout[b * outputs + n];
                dkernel[k * outputs + n] = s;
            }
        return;
    }
    // Streaming stores skip the cache (the gradient is far larger than it) but need aligned
    // vectors. When every row starts at the same distance from an alignment boundary, the
    // aligned vectors of each row stream, and the columns before the first one and after
    // the last are covered by one unaligned vector each, with ordinary stores (overlapping
    // columns get the same sums twice).
    const long vectorBytes = VL * 4, offset = (long)((unsigned long)dkernel % vectorBytes);
    const int streaming = outputs % VL == 0 && offset % 4 == 0;
    const long lead = streaming ? (vectorBytes - offset) % vectorBytes / 4 : 0;
    for (long k0 = first; k0 < end; k0 += GBLOCK) {
        const long blockEnd = end - k0 < GBLOCK ? end : k0 + GBLOCK;
        if (lead > 0) NAME(gradient_columns)(dkernel, xt, dout, batch, outputs, k0, blockEnd, 0, 0, 1);
        long n0 = lead;
        for (; n0 + GC * VL <= outputs; n0 += GC * VL)
            NAME(gradient_columns)(dkernel, xt, dout, batch, outputs, k0, blockEnd, n0, streaming, GC);
        for (; n0 + VL <= outputs; n0 += VL)
            NAME(gradient_columns)(dkernel, xt, dout, batch, outputs, k0, blockEnd, n0, streaming, 1);
        if (n0 < outputs) NAME(gradient_columns)(dkernel, xt, dout, batch, outputs, k0, blockEnd, outputs - VL, 0, 1);
    }
#if defined(__x86_64__)
    if (streaming) __builtin_ia32_sfence();
#endif
}

// The kernel gradient folded into a low-rank compressor's running matrix as it is made
// (seti_dense_kernel_gradient_fold): each tile of the gradient leaves the registers only as
// part of M, and M's rows meet the other factor while they are in registers too.

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

/// dinpt[k0..<k0+rows, b0..<b0+IV*VL] = kernel rows times doutt's batch columns. Unless
/// `ahead` is null, also prefetches into L2 the IR kernel rows at `ahead` (the next tile's).
static inline __attribute__((always_inline)) void
NAME(input_tile)(float *dinpt, const float *doutt, const float *w, long paddedBatch, long outputs, const int rows,
                 const float *ahead) {
    VEC acc[8][IV];
    #pragma clang loop unroll(full)
    for (int i = 0; i < rows; i++)
        #pragma clang loop unroll(full)
        for (int j = 0; j < IV; j++) acc[i][j] = (VEC){0};
    for (long n = 0; n < outputs; n++) {
        VEC d[IV];
        #pragma clang loop unroll(full)
        for (int j = 0; j < IV; j++) d[j] = LOADV(doutt + n * paddedBatch + j * VL);
        if (ahead && n % 16 == 0) {
            #pragma clang loop unroll(full)
            for (int i = 0; i < IR; i++) __builtin_prefetch(ahead + i * outputs + n, 0, 2);
        }
        #pragma clang loop unroll(full)
        for (int i = 0; i < rows; i++) {
            const float s = w[i * outputs + n];
            #pragma clang loop unroll(full)
            for (int j = 0; j < IV; j++) acc[i][j] += s * d[j];
        }
    }
    #pragma clang loop unroll(full)
    for (int i = 0; i < rows; i++)
        #pragma clang loop unroll(full)
        for (int j = 0; j < IV; j++) *(VEC *)(dinpt + i * paddedBatch + j * VL) = acc[i][j];
}

static void
NAME(input_gradient)(float *dinpt, const float *doutt, const float *kernel, long paddedBatch, long inputs, long outputs, long first, long end) {
    (void)inputs;
    for (long b0 = 0; b0 < paddedBatch; b0 += IV * VL) {
        long k = first;
        for (; k + IR <= end; k += IR)
            NAME(input_tile)(dinpt + k * paddedBatch + b0, doutt + b0, kernel + k * outputs, paddedBatch, outputs, IR,
                             k + 2 * IR <= end ? kernel + (k + IR) * outputs : 0);
        switch (end - k) {
#define TAIL(r) case r: NAME(input_tile)(dinpt + k * paddedBatch + b0, doutt + b0, kernel + k * outputs, paddedBatch, outputs, r, 0); break;
            TAIL(1) TAIL(2) TAIL(3) TAIL(4) TAIL(5) TAIL(6) TAIL(7)
#undef TAIL
            default: break;
        }
    }
}

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
