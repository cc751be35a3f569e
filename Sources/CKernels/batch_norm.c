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

INLINE v16 passed(v16 d, v16 x, v16 scale, v16 shift, int relu) {
    return relu ? keep_where(d, x * scale + shift > 0) : d;
}

INLINE float passed1(float d, float x, float scale, float shift, int relu) {
    return !relu || x * scale + shift > 0 ? d : 0;
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

INLINE void gradient_sums_body(float *acc, const float *x, const float *dy, const float *mean, const float *scale,
                               const float *shift, int relu, long rows, long columns) {
    long j = 0;
    for (; j + 16 <= columns; j += 16) {
        const v16 m = LOAD(mean + j), sc = LOAD(scale + j), sh = LOAD(shift + j);
        v16 sumDy = LOAD(acc + j), sumDyCentered = LOAD(acc + columns + j);
        for (long r = 0; r < rows; r++) {
            const v16 xv = LOAD(x + r * columns + j), d = passed(LOAD(dy + r * columns + j), xv, sc, sh, relu);
            sumDy += d;
            sumDyCentered += d * (xv - m);
        }
        STORE(acc + j, sumDy);
        STORE(acc + columns + j, sumDyCentered);
    }
    for (; j < columns; j++) {
        float sumDy = acc[j], sumDyCentered = acc[columns + j];
        for (long r = 0; r < rows; r++) {
            const float xv = x[r * columns + j], d = passed1(dy[r * columns + j], xv, scale[j], shift[j], relu);
            sumDy += d;
            sumDyCentered += d * (xv - mean[j]);
        }
        acc[j] = sumDy;
        acc[columns + j] = sumDyCentered;
    }
}

INLINE void apply_body(float *y, const float *x, const float *scale, const float *shift, int relu, long rows,
                       long columns) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * columns;
        float *yr = y + r * columns;
        long j = 0;
        for (; j + 16 <= columns; j += 16) {
            const v16 v = LOAD(xr + j) * LOAD(scale + j) + LOAD(shift + j);
            STORE(yr + j, relu ? keep_where(v, ~(v < 0)) : v);  // NaN stays NaN
        }
        for (; j < columns; j++) {
            const float v = xr[j] * scale[j] + shift[j];
            yr[j] = relu && v < 0 ? 0 : v;
        }
    }
}

INLINE void input_gradient_body(float *dx, const float *x, const float *dy, const float *a, const float *b,
                                const float *dxShift, const float *scale, const float *shift, int relu, long rows,
                                long columns) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * columns, *dyr = dy + r * columns;
        float *dxr = dx + r * columns;
        long j = 0;
        for (; j + 16 <= columns; j += 16) {
            const v16 xv = LOAD(xr + j), d = passed(LOAD(dyr + j), xv, LOAD(scale + j), LOAD(shift + j), relu);
            STORE(dxr + j, LOAD(a + j) * d + LOAD(b + j) * xv + LOAD(dxShift + j));
        }
        for (; j < columns; j++) {
            const float d = passed1(dyr[j], xr[j], scale[j], shift[j], relu);
            dxr[j] = a[j] * d + b[j] * xr[j] + dxShift[j];
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
            (float *acc, const float *x, const float *dy, const float *mean, const float *scale, const float *shift,
             int relu, long rows, long columns),
            (acc, x, dy, mean, scale, shift, relu, rows, columns))
INSTANTIATE(apply, (float *y, const float *x, const float *scale, const float *shift, int relu, long rows, long columns),
            (y, x, scale, shift, relu, rows, columns))
INSTANTIATE(input_gradient,
            (float *dx, const float *x, const float *dy, const float *a, const float *b, const float *dxShift,
             const float *scale, const float *shift, int relu, long rows, long columns),
            (dx, x, dy, a, b, dxShift, scale, shift, relu, rows, columns))

void seti_add_rows(float *acc, const float *x, long rows, long columns) { add_rows(acc, x, rows, columns); }

void seti_add_squared_deviations(float *acc, const float *x, const float *center, long rows, long columns) {
    add_squared_deviations(acc, x, center, rows, columns);
}

void seti_add_batch_norm_gradient_sums(float *acc, const float *x, const float *dy, const float *mean, const float *scale,
                                       const float *shift, int relu, long rows, long columns) {
    gradient_sums(acc, x, dy, mean, scale, shift, relu, rows, columns);
}

void seti_batch_norm_apply(float *y, const float *x, const float *scale, const float *shift, int relu, long rows,
                           long columns) {
    apply(y, x, scale, shift, relu, rows, columns);
}

void seti_batch_norm_input_gradient(float *dx, const float *x, const float *dy, const float *a, const float *b,
                                    const float *dxShift, const float *scale, const float *shift, int relu, long rows,
                                    long columns) {
    input_gradient(dx, x, dy, a, b, dxShift, scale, shift, relu, rows, columns);
}
