#include "batch_norm.h"
#include "instruction_sets.h"

// Vectors cross no call between functions of different instruction sets: every helper is
// inlined into its own instantiation.
#pragma clang diagnostic ignored "-Wpsabi"

// Sixteen columns a vector: one AVX-512 register, two AVX2 ones, four SSE ones.
typedef float v16 __attribute__((vector_size(64), aligned(4)));
typedef int i16 __attribute__((vector_size(64)));
#define LOAD(p) (*(const v16 *)(p))
#define STORE(p, v) (*(v16 *)(p) = (v))
#define INLINE static inline __attribute__((always_inline))

/// `value` where `keep` (a comparison's all-ones lanes), 0 elsewhere.
INLINE v16 keep_where(v16 value, i16 keep) { return (v16)((i16)value & keep); }

/// `a` where `pick`, `b` elsewhere.
INLINE v16 choose(i16 pick, v16 a, v16 b) { return (v16)(((i16)a & pick) | ((i16)b & ~pick)); }

// Columns go sixteen at a time; the last n < 16 of a row go through the same code in a
// vector whose lanes past n are zeros, loaded and stored one by one. A body called with
// the literal 16 compiles to plain vector loads and stores.
INLINE v16 load_lanes(const float *p, long n) {
    if (n == 16) return LOAD(p);
    v16 v = {0};
    for (long i = 0; i < n; i++) v[i] = p[i];
    return v;
}

INLINE void store_lanes(float *p, v16 v, long n) {
    if (n == 16) {
        STORE(p, v);
        return;
    }
    for (long i = 0; i < n; i++) p[i] = v[i];
}

typedef unsigned char u8x16 __attribute__((vector_size(16), aligned(1)));

/// Window positions (one byte a column) widened to lanes.
INLINE i16 load_positions(const unsigned char *p, long n) {
    if (n == 16) return __builtin_convertvector(*(const u8x16 *)p, i16);
    i16 v = {0};
    for (long i = 0; i < n; i++) v[i] = p[i];
    return v;
}

INLINE void store_positions(unsigned char *p, i16 v, long n) {
    if (n == 16) {
        *(u8x16 *)p = __builtin_convertvector(v, u8x16);
        return;
    }
    for (long i = 0; i < n; i++) p[i] = (unsigned char)v[i];
}

/// The batch norm's output before the ReLU. Forward's output and backward's ReLU mask both
/// come from this one expression, so they agree to the bit.
INLINE v16 affine(v16 x, v16 scale, v16 shift) { return x * scale + shift; }

/// The batch norm's output, then max(0, y) with relu (NaN stays NaN).
INLINE v16 normalized(v16 x, v16 scale, v16 shift, int relu) {
    const v16 v = affine(x, scale, shift);
    return relu ? keep_where(v, ~(v < 0)) : v;
}

INLINE v16 passed(v16 d, v16 x, v16 scale, v16 shift, int relu) {
    return relu ? keep_where(d, affine(x, scale, shift) > 0) : d;
}

// The sums keep two vectors of columns in registers while they walk down the rows (the
// SETI model's batch norms have 32 and 64 columns), then one, then single columns.

INLINE void add_rows_body(float *acc, const float *x, long rows, long columns) {
    long j = 0;
    for (; j + 32 <= columns; j += 32) {
        v16 s0 = LOAD(acc + j), s1 = LOAD(acc + j + 16);
        for (long r = 0; r < rows; r++) {
            s0 += LOAD(x + r * columns + j);
            s1 += LOAD(x + r * columns + j + 16);
        }
        STORE(acc + j, s0);
        STORE(acc + j + 16, s1);
    }
    for (; j + 16 <= columns; j += 16) {
        v16 s = LOAD(acc + j);
        for (long r = 0; r < rows; r++) s += LOAD(x + r * columns + j);
        STORE(acc + j, s);
    }
    for (; j < columns; j++) {
        float s = acc[j];
        for (long r = 0; r < rows; r++) s += x[r * columns + j];
        acc[j] = s;
    }
}

INLINE void add_squared_deviations_body(float *acc, const float *x, const float *center, long rows, long columns) {
    long j = 0;
    for (; j + 32 <= columns; j += 32) {
        const v16 c0 = LOAD(center + j), c1 = LOAD(center + j + 16);
        v16 s0 = LOAD(acc + j), s1 = LOAD(acc + j + 16);
        for (long r = 0; r < rows; r++) {
            const v16 d0 = LOAD(x + r * columns + j) - c0, d1 = LOAD(x + r * columns + j + 16) - c1;
            s0 += d0 * d0;
            s1 += d1 * d1;
        }
        STORE(acc + j, s0);
        STORE(acc + j + 16, s1);
    }
    for (; j + 16 <= columns; j += 16) {
        const v16 c = LOAD(center + j);
        v16 s = LOAD(acc + j);
        for (long r = 0; r < rows; r++) {
            const v16 d = LOAD(x + r * columns + j) - c;
            s += d * d;
        }
        STORE(acc + j, s);
    }
    for (; j < columns; j++) {
        float s = acc[j];
        for (long r = 0; r < rows; r++) {
            const float d = x[r * columns + j] - center[j];
            s += d * d;
        }
        acc[j] = s;
    }
}

// The gradient passes see the activations as images of height x width pixels when a max
// pool of `pool` x `pool` windows (stride pool) follows the batch norm and its ReLU, and
// as plain rows when pool is 0. Pooled, dy is the pool's output gradient, and each pixel
// gets what max pooling's backward pass would have written there: its window's gradient
// if it is the window's maximum (the position forward kept in `maxima`), 0 otherwise, and
// 0 outside every window. Pixels are visited in order, all columns of one before the
// next, so memory is swept once and the sums are those of the unpooled passes, to the bit.

/// The pooled geometry: image height and width in pixels, windows per image column and
/// per image row, and the window side (0: no pooling).
typedef struct {
    long height, width, windowRows, windowsPerRow, pool;
} pooling;

INLINE pooling pooling_of(long height, long width, long pool) {
    if (pool == 0) return (pooling){0};
    return (pooling){height, width, height / pool, width / pool, pool};
}

/// Where a pixel is: its image, row and column, and its window's row and column with its
/// row and column inside the window. Stepped pixel by pixel, without divisions.
typedef struct {
    long image, y, x, windowY, windowX, insideY, insideX;
} pixel_walk;

INLINE pixel_walk walk_from(pooling g, long pixel) {
    if (g.pool == 0) return (pixel_walk){0};
    const long image = pixel / (g.height * g.width), y = pixel / g.width % g.height, x = pixel % g.width;
    return (pixel_walk){image, y, x, y / g.pool, x / g.pool, y % g.pool, x % g.pool};
}

INLINE void walk_next(pooling g, pixel_walk *w) {
    if (g.pool == 0) return;
    if (++w->insideX == g.pool) w->insideX = 0, w->windowX++;
    if (++w->x < g.width) return;
    w->x = w->windowX = w->insideX = 0;
    if (++w->insideY == g.pool) w->insideY = 0, w->windowY++;
    if (++w->y < g.height) return;
    w->y = w->windowY = w->insideY = 0;
    w->image++;
}

/// The gradient reaching pixel r (at w) from above the ReLU, for the n columns from j.
INLINE v16 gradient_at(const float *dy, const unsigned char *maxima, pooling g, pixel_walk w, long r, long columns,
                       long j, long n) {
    if (g.pool == 0) return load_lanes(dy + r * columns + j, n);
    if (w.windowY >= g.windowRows || w.windowX >= g.windowsPerRow) return (v16){0};  // in no window
    const long at = ((w.image * g.windowRows + w.windowY) * g.windowsPerRow + w.windowX) * columns + j;
    const int position = (int)(w.insideY * g.pool + w.insideX);
    return keep_where(load_lanes(dy + at, n), load_positions(maxima + at, n) == (i16){0} + position);
}

INLINE void gradient_sums_columns(float *acc, const float *x, const float *dy, const unsigned char *maxima,
                                  const float *mean, const float *scale, const float *shift, int relu, pooling g,
                                  pixel_walk w, long r, long columns, long j, long n) {
    const v16 xv = load_lanes(x + r * columns + j, n);
    const v16 d = passed(gradient_at(dy, maxima, g, w, r, columns, j, n), xv, load_lanes(scale + j, n),
                         load_lanes(shift + j, n), relu);
    store_lanes(acc + j, load_lanes(acc + j, n) + d, n);
    store_lanes(acc + columns + j, load_lanes(acc + columns + j, n) + d * (xv - load_lanes(mean + j, n)), n);
}

INLINE void gradient_sums_body(float *acc, const float *x, const float *dy, const unsigned char *maxima,
                               const float *mean, const float *scale, const float *shift, int relu, pooling g,
                               long first, long count, long columns) {
    pixel_walk w = walk_from(g, first);
    for (long r = first; r < first + count; r++, walk_next(g, &w)) {
        long j = 0;
        for (; j + 16 <= columns; j += 16)
            gradient_sums_columns(acc, x, dy, maxima, mean, scale, shift, relu, g, w, r, columns, j, 16);
        if (j < columns)
            gradient_sums_columns(acc, x, dy, maxima, mean, scale, shift, relu, g, w, r, columns, j, columns - j);
    }
}

INLINE void input_gradient_columns(float *dx, const float *x, const float *dy, const unsigned char *maxima,
                                   const float *a, const float *b, const float *dxShift, const float *scale,
                                   const float *shift, int relu, pooling g, pixel_walk w, long r, long columns, long j,
                                   long n) {
    const v16 xv = load_lanes(x + r * columns + j, n);
    const v16 d = passed(gradient_at(dy, maxima, g, w, r, columns, j, n), xv, load_lanes(scale + j, n),
                         load_lanes(shift + j, n), relu);
    store_lanes(dx + r * columns + j, load_lanes(a + j, n) * d + load_lanes(b + j, n) * xv + load_lanes(dxShift + j, n), n);
}

INLINE void input_gradient_body(float *dx, const float *x, const float *dy, const unsigned char *maxima,
                                const float *a, const float *b, const float *dxShift, const float *scale,
                                const float *shift, int relu, pooling g, long first, long count, long columns) {
    pixel_walk w = walk_from(g, first);
    for (long r = first; r < first + count; r++, walk_next(g, &w)) {
        long j = 0;
        for (; j + 16 <= columns; j += 16)
            input_gradient_columns(dx, x, dy, maxima, a, b, dxShift, scale, shift, relu, g, w, r, columns, j, 16);
        if (j < columns)
            input_gradient_columns(dx, x, dy, maxima, a, b, dxShift, scale, shift, relu, g, w, r, columns, j, columns - j);
    }
}

INLINE void apply_columns(float *y, const float *x, const float *scale, const float *shift, int relu, long columns,
                          long j, long n) {
    store_lanes(y + j, normalized(load_lanes(x + j, n), load_lanes(scale + j, n), load_lanes(shift + j, n), relu), n);
}

INLINE void apply_body(float *y, const float *x, const float *scale, const float *shift, int relu, long rows,
                       long columns) {
    for (long r = 0; r < rows; r++) {
        long j = 0;
        for (; j + 16 <= columns; j += 16) apply_columns(y + r * columns, x + r * columns, scale, shift, relu, columns, j, 16);
        if (j < columns) apply_columns(y + r * columns, x + r * columns, scale, shift, relu, columns, j, columns - j);
    }
}

/// The normalised values' maximum over the window whose top-left pixel is at `corner`
/// (into *best), and the lane-wise position dy * pool + dx of its first occurrence.
INLINE i16 window_max(v16 *best, const float *corner, pooling g, long columns, v16 scale, v16 shift, int relu,
                      long n) {
    v16 top = normalized(load_lanes(corner, n), scale, shift, relu);
    i16 which = {0};
    for (long dy = 0; dy < g.pool; dy++)
        for (long dx = dy == 0; dx < g.pool; dx++) {
            const v16 v = normalized(load_lanes(corner + (dy * g.width + dx) * columns, n), scale, shift, relu);
            const i16 better = v > top;
            top = choose(better, v, top);
            which = (i16)choose(better, (v16)((i16){0} + (int)(dy * g.pool + dx)), (v16)which);
        }
    *best = top;
    return which;
}

INLINE void apply_pooled_columns(float *out, unsigned char *maxima, const float *corner, const float *scale,
                                 const float *shift, int relu, pooling g, long columns, long j, long n) {
    v16 best;
    const i16 which = window_max(&best, corner + j, g, columns, load_lanes(scale + j, n), load_lanes(shift + j, n), relu, n);
    store_lanes(out + j, best, n);
    if (maxima) store_positions(maxima + j, which, n);
}

/// Window by window, all columns of one before the next.
INLINE void apply_pooled_body(float *out, unsigned char *maxima, const float *x, const float *scale, const float *shift,
                              int relu, pooling g, long firstWindowRow, long windowRows, long columns) {
    for (long row = firstWindowRow; row < firstWindowRow + windowRows; row++) {
        const long image = row / g.windowRows, wy = row % g.windowRows;
        for (long wx = 0; wx < g.windowsPerRow; wx++) {
            const float *corner = x + ((image * g.height + wy * g.pool) * g.width + wx * g.pool) * columns;
            const long at = (row * g.windowsPerRow + wx) * columns;
            unsigned char *m = maxima ? maxima + at : 0;
            long j = 0;
            for (; j + 16 <= columns; j += 16) apply_pooled_columns(out + at, m, corner, scale, shift, relu, g, columns, j, 16);
            if (j < columns)
                apply_pooled_columns(out + at, m, corner, scale, shift, relu, g, columns, j, columns - j);
        }
    }
}

// Each public function: the body compiled for AVX-512, for AVX2 + FMA and for the
// baseline, chosen per call.
#if defined(__x86_64__)
#define INSTANTIATE(name, params, args)                                                     \
    __attribute__((target("avx512f,avx512dq,fma"))) static void avx512_##name params {      \
        name##_body args;                                                                   \
    }                                                                                       \
    __attribute__((target("avx2,fma"))) static void avx2_##name params { name##_body args; } \
    static void baseline_##name params { name##_body args; }                                \
    static void name params { SETI_DISPATCH(name, SETI_UNPAREN args); }
#else
#define INSTANTIATE(name, params, args)                      \
    static void baseline_##name params { name##_body args; } \
    static void name params { SETI_DISPATCH(name, SETI_UNPAREN args); }
#endif
#define SETI_UNPAREN(...) __VA_ARGS__

INSTANTIATE(add_rows, (float *acc, const float *x, long rows, long columns), (acc, x, rows, columns))
INSTANTIATE(add_squared_deviations, (float *acc, const float *x, const float *center, long rows, long columns),
            (acc, x, center, rows, columns))
INSTANTIATE(gradient_sums,
            (float *acc, const float *x, const float *dy, const unsigned char *maxima, const float *mean,
             const float *scale, const float *shift, int relu, pooling g, long first, long count, long columns),
            (acc, x, dy, maxima, mean, scale, shift, relu, g, first, count, columns))
INSTANTIATE(apply, (float *y, const float *x, const float *scale, const float *shift, int relu, long rows, long columns),
            (y, x, scale, shift, relu, rows, columns))
INSTANTIATE(apply_pooled,
            (float *out, unsigned char *maxima, const float *x, const float *scale, const float *shift, int relu,
             pooling g, long firstWindowRow, long windowRows, long columns),
            (out, maxima, x, scale, shift, relu, g, firstWindowRow, windowRows, columns))
INSTANTIATE(input_gradient,
            (float *dx, const float *x, const float *dy, const unsigned char *maxima, const float *a, const float *b,
             const float *dxShift, const float *scale, const float *shift, int relu, pooling g, long first, long count,
             long columns),
            (dx, x, dy, maxima, a, b, dxShift, scale, shift, relu, g, first, count, columns))

void seti_add_rows(float *acc, const float *x, long rows, long columns) { add_rows(acc, x, rows, columns); }

void seti_add_squared_deviations(float *acc, const float *x, const float *center, long rows, long columns) {
    add_squared_deviations(acc, x, center, rows, columns);
}

void seti_add_batch_norm_gradient_sums(float *acc, const float *x, const float *dy, const unsigned char *maxima,
                                       const float *mean, const float *scale, const float *shift, int relu,
                                       long height, long width, long pool, long first, long count, long columns) {
    gradient_sums(acc, x, dy, maxima, mean, scale, shift, relu, pooling_of(height, width, pool), first, count, columns);
}

void seti_batch_norm_apply(float *y, const float *x, const float *scale, const float *shift, int relu, long rows,
                           long columns) {
    apply(y, x, scale, shift, relu, rows, columns);
}

void seti_batch_norm_apply_pooled(float *out, unsigned char *maxima, const float *x, const float *scale,
                                  const float *shift, int relu, long height, long width, long pool,
                                  long firstWindowRow, long windowRows, long columns) {
    apply_pooled(out, maxima, x, scale, shift, relu, pooling_of(height, width, pool), firstWindowRow, windowRows,
                 columns);
}

void seti_batch_norm_input_gradient(float *dx, const float *x, const float *dy, const unsigned char *maxima,
                                    const float *a, const float *b, const float *dxShift, const float *scale,
                                    const float *shift, int relu, long height, long width, long pool, long first,
                                    long count, long columns) {
    input_gradient(dx, x, dy, maxima, a, b, dxShift, scale, shift, relu, pooling_of(height, width, pool), first, count,
                   columns);
}
