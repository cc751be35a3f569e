// The one-channel convolution's loops, included by conv_one_channel.c once per
// instruction set with these defined (and undefined again at the end):
//   NAME(x)   the function name x for this instruction set
//   VL        floats per vector
//   CV        vectors of output channels per tile
//   PX        forward tile: output pixels (along a row)
//   TG        kernel-gradient tile: taps (along a kernel row)
// A tile's pixel, tap and vector counts are constants at each call (the full tile or a
// remainder), and its loops are unrolled in full (SwiftPM compiles C at -O2, which left
// the accumulators in memory), so they stay in registers. Every
// remainder, down to single channels, sums in the same order as the vector lanes.

_Static_assert(PX <= 12 && TG <= 12, "tiles above 12");

typedef float NAME(vec) __attribute__((vector_size(VL * 4), aligned(4)));
#define VEC NAME(vec)
#define LOADV(p) (*(const VEC *)(p))

/// `pixels` output pixels from (y, x0), `vectors` * VL channels from c0: out, padded,
/// kernel and bias point at (y, x0, c0), the padded pixel (y, x0) and channel c0.
static inline __attribute__((always_inline)) void
NAME(forward_tile)(float *out, const float *padded, const float *kernel, const float *bias, long paddedWidth, long k,
                   long cout, const int pixels, const int vectors) {
    VEC acc[12][CV];
    #pragma clang loop unroll(full)
    for (int j = 0; j < vectors; j++) {
        const VEC b = LOADV(bias + j * VL);
        #pragma clang loop unroll(full)
        for (int p = 0; p < pixels; p++) acc[p][j] = b;
    }
    for (long dy = 0; dy < k; dy++) {
        const float *row = padded + dy * paddedWidth, *taps = kernel + dy * k * cout;
        for (long dx = 0; dx < k; dx++) {
            VEC w[CV];
            #pragma clang loop unroll(full)
            for (int j = 0; j < vectors; j++) w[j] = LOADV(taps + dx * cout + j * VL);
            #pragma clang loop unroll(full)
            for (int p = 0; p < pixels; p++) {
                const float v = row[p + dx];
                #pragma clang loop unroll(full)
                for (int j = 0; j < vectors; j++) acc[p][j] += v * w[j];
            }
        }
    }
    #pragma clang loop unroll(full)
    for (int p = 0; p < pixels; p++)
        #pragma clang loop unroll(full)
        for (int j = 0; j < vectors; j++) *(VEC *)(out + p * cout + j * VL) = acc[p][j];
}

/// One output row's pixels for `vectors` * VL channels from c0, in whole tiles then one
/// remainder tile.
static inline __attribute__((always_inline)) void
NAME(forward_row)(float *out, const float *padded, const float *kernel, const float *bias, long width, long paddedWidth,
                  long k, long cout, const int vectors) {
    long x = 0;
    for (; x + PX <= width; x += PX)
        NAME(forward_tile)(out + x * cout, padded + x, kernel, bias, paddedWidth, k, cout, PX, vectors);
    switch (width - x) {
#define TAIL(r) case r: NAME(forward_tile)(out + x * cout, padded + x, kernel, bias, paddedWidth, k, cout, r, vectors); break;
        TAIL(1) TAIL(2) TAIL(3) TAIL(4) TAIL(5) TAIL(6) TAIL(7) TAIL(8) TAIL(9) TAIL(10) TAIL(11)
#undef TAIL
        default: break;
    }
}

static void
NAME(forward)(float *out, const float *padded, const float *kernel, const float *bias, long height, long width, long k,
              long cout) {
    const long paddedWidth = width + k - 1;
    for (long y = 0; y < height; y++) {
        float *o = out + y * width * cout;
        const float *row = padded + y * paddedWidth;
        long c = 0;
        for (; c + CV * VL <= cout; c += CV * VL) NAME(forward_row)(o + c, row, kernel + c, bias + c, width, paddedWidth, k, cout, CV);
        for (; c + VL <= cout; c += VL) NAME(forward_row)(o + c, row, kernel + c, bias + c, width, paddedWidth, k, cout, 1);
        for (; c < cout; c++)
            for (long x = 0; x < width; x++) {
                float s = bias[c];
                for (long dy = 0; dy < k; dy++)
                    for (long dx = 0; dx < k; dx++) s += row[dy * paddedWidth + x + dx] * kernel[(dy * k + dx) * cout + c];
                o[x * cout + c] = s;
            }
    }
}

/// dkernel[dy][dx0..<dx0+taps][c0..<c0+vectors*VL] += the sum over one output row's
/// pixels x of padded[y + dy][x + dx] dout[y][x][c]: dkernel, padded and dout point at
/// (dy, dx0, c0), the padded pixel (y + dy, dx0) and (y, 0, c0).
static inline __attribute__((always_inline)) void
NAME(gradient_tile)(float *dkernel, const float *padded, const float *dout, long width, long cout, const int taps,
                    const int vectors) {
    VEC acc[12][CV];
    #pragma clang loop unroll(full)
    for (int t = 0; t < taps; t++)
        #pragma clang loop unroll(full)
        for (int j = 0; j < vectors; j++) acc[t][j] = (VEC){0};
    for (long x = 0; x < width; x++) {
        VEC d[CV];
        #pragma clang loop unroll(full)
        for (int j = 0; j < vectors; j++) d[j] = LOADV(dout + x * cout + j * VL);
        #pragma clang loop unroll(full)
        for (int t = 0; t < taps; t++) {
            const float v = padded[x + t];
            #pragma clang loop unroll(full)
            for (int j = 0; j < vectors; j++) acc[t][j] += v * d[j];
        }
    }
    #pragma clang loop unroll(full)
    for (int t = 0; t < taps; t++)
        #pragma clang loop unroll(full)
        for (int j = 0; j < vectors; j++) *(VEC *)(dkernel + t * cout + j * VL) += acc[t][j];
}

/// One kernel row's taps for `vectors` * VL channels, in whole tiles then one remainder.
static inline __attribute__((always_inline)) void
NAME(gradient_row)(float *dkernel, const float *padded, const float *dout, long width, long k, long cout, const int vectors) {
    long t = 0;
    for (; t + TG <= k; t += TG) NAME(gradient_tile)(dkernel + t * cout, padded + t, dout, width, cout, TG, vectors);
    switch (k - t) {
#define TAIL(r) case r: NAME(gradient_tile)(dkernel + t * cout, padded + t, dout, width, cout, r, vectors); break;
        TAIL(1) TAIL(2) TAIL(3) TAIL(4) TAIL(5) TAIL(6) TAIL(7) TAIL(8) TAIL(9) TAIL(10) TAIL(11)
#undef TAIL
        default: break;
    }
}

static void
NAME(kernel_gradient)(float *dkernel, const float *padded, const float *dout, long height, long width, long k, long cout) {
    const long paddedWidth = width + k - 1;
    for (long y = 0; y < height; y++) {
        const float *d = dout + y * width * cout;
        for (long dy = 0; dy < k; dy++) {
            const float *row = padded + (y + dy) * paddedWidth;
            float *dk = dkernel + dy * k * cout;
            long c = 0;
            for (; c + CV * VL <= cout; c += CV * VL) NAME(gradient_row)(dk + c, row, d + c, width, k, cout, CV);
            for (; c + VL <= cout; c += VL) NAME(gradient_row)(dk + c, row, d + c, width, k, cout, 1);
            for (; c < cout; c++)
                for (long dx = 0; dx < k; dx++) {
                    float s = 0;
                    for (long x = 0; x < width; x++) s += row[x + dx] * d[x * cout + c];
                    dk[dx * cout + c] += s;
                }
        }
    }
}

#undef LOADV
#undef VEC
#undef NAME
#undef VL
#undef CV
#undef PX
#undef TG
