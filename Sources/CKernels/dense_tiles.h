// The dense kernels' loops, included by dense_kernels.c with these defined (it undefines
// them again after dense_fold_tiles.h):
//   NAME(x)      the function name x
//   VL           floats per vector
//   FC, FB       forward tile: FC vectors of output columns x FB batch rows
//   SLAB         forward: rows of the kernel summed in registers before out is updated
//   GC, GR       kernel-gradient tile: GC vectors of columns x GR kernel rows
//   GBLOCK       kernel gradient: kernel rows per block (their slice of xt stays in cache)
//   IV, IR       input-gradient tile: IV vectors of batch columns x IR kernel rows
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
