#include "powersgd_passes.h"
#include "instruction_sets.h"

// The vector helpers below are static and always inlined: no vector crosses a call, so the
// ABI note about AVX vectors in the baseline instantiation does not apply.
#pragma clang diagnostic ignored "-Wpsabi"

// Loops run over vectors of 8 floats (one AVX register, or two SSE ones) with a scalar
// tail. Dot products run 4 at a time so that independent FMA chains hide each other's
// latency.
typedef float v8 __attribute__((vector_size(32), aligned(4)));
#define LOAD(p) (*(const v8 *)(p))
#define STORE(p, v) (*(v8 *)(p) = (v))

/// sum over c of p[c] qt[c][j], 8 columns from j (vector) or one (scalar); Q^T's rows are
/// `stride` floats apart.
static inline __attribute__((always_inline)) v8
reconstruct8(const float *p, const float *qt, long stride, int rank, long j) {
    v8 r = {0};
    for (int c = 0; c < rank; c++) r += p[c] * LOAD(qt + c * stride + j);
    return r;
}

static inline __attribute__((always_inline)) float
reconstruct1(const float *p, const float *qt, long stride, int rank, long j) {
    float r = 0;
    for (int c = 0; c < rank; c++) r += p[c] * qt[c * stride + j];
    return r;
}

/// row = (row - share * p Q^T) + g, any of the two terms optional.
static inline __attribute__((always_inline)) void
update_row(float *restrict row, const float *restrict g, const float *p, const float *qt, long stride, long columns, int rank,
           float share) {
    long j = 0;
    for (; j + 8 <= columns; j += 8) {
        v8 x = LOAD(row + j);
        if (share != 0) x -= share * reconstruct8(p, qt, stride, rank, j);
        if (g) x += LOAD(g + j);
        STORE(row + j, x);
    }
    for (; j < columns; j++) {
        float x = row[j];
        if (share != 0) x -= share * reconstruct1(p, qt, stride, rank, j);
        if (g) x += g[j];
        row[j] = x;
    }
}

static inline __attribute__((always_inline)) float
horizontal_sum(v8 x) {
    float sum = 0;
    for (int v = 0; v < 8; v++) sum += x[v];
    return sum;
}

/// p[c] = row . qt[c] for c in first..<first+4: four named accumulators, which stay in
/// registers (an array of them was kept in memory, a store-to-load chain per FMA).
static inline __attribute__((always_inline)) void
dots4(float *p, const float *row, const float *qt, long stride, long columns, int first) {
    const float *q0 = qt + first * stride, *q1 = q0 + stride, *q2 = q1 + stride, *q3 = q2 + stride;
    v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    long j = 0;
    for (; j + 8 <= columns; j += 8) {
        const v8 x = LOAD(row + j);
        a0 += x * LOAD(q0 + j);
        a1 += x * LOAD(q1 + j);
        a2 += x * LOAD(q2 + j);
        a3 += x * LOAD(q3 + j);
    }
    float s0 = horizontal_sum(a0), s1 = horizontal_sum(a1), s2 = horizontal_sum(a2), s3 = horizontal_sum(a3);
    for (; j < columns; j++) {
        s0 += row[j] * q0[j];
        s1 += row[j] * q1[j];
        s2 += row[j] * q2[j];
        s3 += row[j] * q3[j];
    }
    p[first] = s0; p[first + 1] = s1; p[first + 2] = s2; p[first + 3] = s3;
}

/// p[c] = row . qt[c] for the one column c.
static inline __attribute__((always_inline)) void
dot1(float *p, const float *row, const float *qt, long stride, long columns, int c) {
    const float *q = qt + c * stride;
    v8 a = {0};
    long j = 0;
    for (; j + 8 <= columns; j += 8) a += LOAD(row + j) * LOAD(q + j);
    float s = horizontal_sum(a);
    for (; j < columns; j++) s += row[j] * q[j];
    p[c] = s;
}

/// qtSum[c] += sum over the nb rows b of p[b][c] m[b] (rows `columns` apart; qtSum's rows
/// `stride` apart).
static inline __attribute__((always_inline)) void
project_rows(const float *m, const float *p, float *restrict qtSum, long stride, long columns, int rank, int nb) {
    for (int c = 0; c < rank; c++) {
        float *q = qtSum + c * stride;
        float w[4];
        for (int b = 0; b < nb; b++) w[b] = p[b * rank + c];
        long j = 0;
        for (; j + 8 <= columns; j += 8) {
            v8 s = LOAD(q + j);
            for (int b = 0; b < nb; b++) s += w[b] * LOAD(m + b * columns + j);
            STORE(q + j, s);
        }
        for (; j < columns; j++)
            for (int b = 0; b < nb; b++) q[j] += w[b] * m[b * columns + j];
    }
}

/// The fold of one row for rank nb <= 4 (the usual ranks) in a single loop: each chunk of
/// Q^T is loaded once for the reconstruction and the dot products, and the new M stays in
/// a register between them. Named accumulators (nb a constant after inlining) stay in
/// registers.
static inline __attribute__((always_inline)) void
fold_row_small(float *restrict row, const float *restrict g, float *p, const float *qt, long stride, long columns,
               float share, int nb) {
    const float *q0 = qt, *q1 = qt + stride, *q2 = qt + 2 * stride, *q3 = qt + 3 * stride;
    const float p0 = p[0], p1 = nb > 1 ? p[1] : 0, p2 = nb > 2 ? p[2] : 0, p3 = nb > 3 ? p[3] : 0;
    v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    long j = 0;
    for (; j + 8 <= columns; j += 8) {
        const v8 c0 = LOAD(q0 + j), c1 = nb > 1 ? LOAD(q1 + j) : c0, c2 = nb > 2 ? LOAD(q2 + j) : c0,
                 c3 = nb > 3 ? LOAD(q3 + j) : c0;
        v8 x = LOAD(row + j);
        if (share != 0) {
            v8 r = p0 * c0;
            if (nb > 1) r += p1 * c1;
            if (nb > 2) r += p2 * c2;
            if (nb > 3) r += p3 * c3;
            x -= share * r;
        }
        x += LOAD(g + j);
        STORE(row + j, x);
        a0 += x * c0;
        if (nb > 1) a1 += x * c1;
        if (nb > 2) a2 += x * c2;
        if (nb > 3) a3 += x * c3;
    }
    float s0 = horizontal_sum(a0), s1 = horizontal_sum(a1), s2 = horizontal_sum(a2), s3 = horizontal_sum(a3);
    for (; j < columns; j++) {
        float x = row[j];
        if (share != 0) x -= share * reconstruct1(p, qt, stride, nb, j);
        x += g[j];
        row[j] = x;
        s0 += x * q0[j];
        if (nb > 1) s1 += x * q1[j];
        if (nb > 2) s2 += x * q2[j];
        if (nb > 3) s3 += x * q3[j];
    }
    p[0] = s0;
    if (nb > 1) p[1] = s1;
    if (nb > 2) p[2] = s2;
    if (nb > 3) p[3] = s3;
}

/// Rows project_rows_small takes at a time, and how far ahead of its loads it prefetches
/// M (in floats: two 4 KB rows of the SETI dense kernel). Eight rows per chunk of Q^T
/// halve the loads and stores of Q^T against four; the hardware prefetchers alone kept the
/// pass well above the time reading the matrix takes (figures in the CHANGELOG, 0.14).
enum { PROJECT_ROWS = 8, PROJECT_AHEAD = 2048 };

/// qtSum += P^T M over PROJECT_ROWS rows for rank nb <= 4: each chunk of the rows is loaded
/// once and added into every column of Q^T.
static inline __attribute__((always_inline)) void
project_rows_small(const float *m, const float *p, float *restrict qtSum, long stride, long columns, int nb) {
    float w[4][PROJECT_ROWS];
    for (int c = 0; c < nb; c++)
        for (int b = 0; b < PROJECT_ROWS; b++) w[c][b] = p[b * nb + c];
    long j = 0;
    for (; j + 8 <= columns; j += 8) {
        v8 x[PROJECT_ROWS];
        for (int b = 0; b < PROJECT_ROWS; b++) {
            x[b] = LOAD(m + b * columns + j);
            if (j % 16 == 0) __builtin_prefetch(m + b * columns + j + PROJECT_AHEAD, 0, 3);  // once per 64-byte line
        }
        for (int c = 0; c < nb; c++) {
            float *q = qtSum + c * stride + j;
            v8 s = LOAD(q);
            for (int b = 0; b < PROJECT_ROWS; b++) s += w[c][b] * x[b];
            STORE(q, s);
        }
    }
    for (; j < columns; j++)
        for (int c = 0; c < nb; c++) {
            float s = qtSum[c * stride + j];
            for (int b = 0; b < PROJECT_ROWS; b++) s += w[c][b] * m[b * columns + j];
            qtSum[c * stride + j] = s;
        }
}

// Each pass once as an always-inline body, instantiated for AVX2 + FMA and the baseline.

static inline __attribute__((always_inline)) void
settle_body(float *m, const float *p, const float *qt, long stride, long rows, long columns, int rank, float share) {
    for (long i = 0; i < rows; i++) update_row(m + i * columns, 0, p + i * rank, qt, stride, columns, rank, share);
}

static inline __attribute__((always_inline)) void
fold_body(float *m, const float *g, float *p, const float *qt, long stride, long rows, long columns, int rank, float share) {
    for (long i = 0; i < rows; i++) {
        float *row = m + i * columns, *pi = p + i * rank;
        switch (rank) {
        case 1: fold_row_small(row, g + i * columns, pi, qt, stride, columns, share, 1); continue;
        case 2: fold_row_small(row, g + i * columns, pi, qt, stride, columns, share, 2); continue;
        case 3: fold_row_small(row, g + i * columns, pi, qt, stride, columns, share, 3); continue;
        case 4: fold_row_small(row, g + i * columns, pi, qt, stride, columns, share, 4); continue;
        }
        update_row(row, g + i * columns, pi, qt, stride, columns, rank, share);
        int c = 0;
        for (; c + 4 <= rank; c += 4) dots4(pi, row, qt, stride, columns, c);
        for (; c < rank; c++) dot1(pi, row, qt, stride, columns, c);
    }
}

static inline __attribute__((always_inline)) void
project_body(const float *m, const float *p, float *qtSum, long stride, long rows, long columns, int rank) {
    long i = 0;
    if (rank <= 4)
        for (; i + PROJECT_ROWS <= rows; i += PROJECT_ROWS)
            switch (rank) {
            case 1: project_rows_small(m + i * columns, p + i * rank, qtSum, stride, columns, 1); break;
            case 2: project_rows_small(m + i * columns, p + i * rank, qtSum, stride, columns, 2); break;
            case 3: project_rows_small(m + i * columns, p + i * rank, qtSum, stride, columns, 3); break;
            default: project_rows_small(m + i * columns, p + i * rank, qtSum, stride, columns, 4); break;
            }
    for (; i + 4 <= rows; i += 4) project_rows(m + i * columns, p + i * rank, qtSum, stride, columns, rank, 4);
    for (; i < rows; i++) project_rows(m + i * columns, p + i * rank, qtSum, stride, columns, rank, 1);
}

/// The fold onto the right factor: PROJECT_ROWS rows of M at a time are updated, then
/// projected while they are in L1.
static inline __attribute__((always_inline)) void
fold_right_body(float *m, const float *g, const float *p, const float *qt, float *qtSum, long stride, long rows,
                long columns, int rank, float share) {
    for (long i0 = 0; i0 < rows; i0 += PROJECT_ROWS) {
        const long n = rows - i0 < PROJECT_ROWS ? rows - i0 : PROJECT_ROWS;
        for (long i = i0; i < i0 + n; i++) update_row(m + i * columns, g + i * columns, p + i * rank, qt, stride, columns, rank, share);
        project_body(m + i0 * columns, p + i0 * rank, qtSum, stride, n, columns, rank);
    }
}

/// G's row = p Q^T for rank nb <= 4, the products named so they stay in registers.
static inline __attribute__((always_inline)) void
expand_row_small(float *restrict row, const float *p, const float *qt, long stride, long columns, int nb) {
    const float *q0 = qt, *q1 = qt + stride, *q2 = qt + 2 * stride, *q3 = qt + 3 * stride;
    const float p0 = p[0], p1 = nb > 1 ? p[1] : 0, p2 = nb > 2 ? p[2] : 0, p3 = nb > 3 ? p[3] : 0;
    long j = 0;
    for (; j + 8 <= columns; j += 8) {
        v8 r = p0 * LOAD(q0 + j);
        if (nb > 1) r += p1 * LOAD(q1 + j);
        if (nb > 2) r += p2 * LOAD(q2 + j);
        if (nb > 3) r += p3 * LOAD(q3 + j);
        STORE(row + j, r);
    }
    for (; j < columns; j++) row[j] = reconstruct1(p, qt, stride, nb, j);
}

static inline __attribute__((always_inline)) void
expand_body(float *restrict g, const float *p, const float *qt, long stride, long rows, long columns, int rank) {
    for (long i = 0; i < rows; i++) {
        float *row = g + i * columns;
        const float *pi = p + i * rank;
        switch (rank) {
        case 1: expand_row_small(row, pi, qt, stride, columns, 1); continue;
        case 2: expand_row_small(row, pi, qt, stride, columns, 2); continue;
        case 3: expand_row_small(row, pi, qt, stride, columns, 3); continue;
        case 4: expand_row_small(row, pi, qt, stride, columns, 4); continue;
        }
        long j = 0;
        for (; j + 8 <= columns; j += 8) STORE(row + j, reconstruct8(pi, qt, stride, rank, j));
        for (; j < columns; j++) row[j] = reconstruct1(pi, qt, stride, rank, j);
    }
}

#if defined(__x86_64__)
#define AVX2 __attribute__((target("avx2,fma")))
#else
#define AVX2
#endif

#define PASS(name, params, args)                                                   \
    AVX2 static void name##_avx2 params { name##_body args; }                      \
    static void name##_baseline params { name##_body args; }

PASS(settle, (float *m, const float *p, const float *qt, long stride, long rows, long columns, int rank, float share),
     (m, p, qt, stride, rows, columns, rank, share))
PASS(fold, (float *m, const float *g, float *p, const float *qt, long stride, long rows, long columns, int rank, float share),
     (m, g, p, qt, stride, rows, columns, rank, share))
PASS(fold_right, (float *m, const float *g, const float *p, const float *qt, float *qtSum, long stride, long rows, long columns,
                  int rank, float share),
     (m, g, p, qt, qtSum, stride, rows, columns, rank, share))
PASS(project, (const float *m, const float *p, float *qtSum, long stride, long rows, long columns, int rank),
     (m, p, qtSum, stride, rows, columns, rank))
PASS(expand, (float *g, const float *p, const float *qt, long stride, long rows, long columns, int rank),
     (g, p, qt, stride, rows, columns, rank))

void seti_powersgd_settle(float *m, const float *p, const float *qt, long qtStride, long rows, long columns, int rank,
                          float share) {
    if (seti_instruction_set() >= SETI_AVX2_FMA) settle_avx2(m, p, qt, qtStride, rows, columns, rank, share);
    else settle_baseline(m, p, qt, qtStride, rows, columns, rank, share);
}

void seti_powersgd_fold(float *m, const float *g, float *p, float *qtSum, const float *qt, long qtStride, long rows,
                        long columns, int rank, float share) {
    const int avx2 = seti_instruction_set() >= SETI_AVX2_FMA;
    if (qtSum && avx2) fold_right_avx2(m, g, p, qt, qtSum, qtStride, rows, columns, rank, share);
    else if (qtSum) fold_right_baseline(m, g, p, qt, qtSum, qtStride, rows, columns, rank, share);
    else if (avx2) fold_avx2(m, g, p, qt, qtStride, rows, columns, rank, share);
    else fold_baseline(m, g, p, qt, qtStride, rows, columns, rank, share);
}

void seti_powersgd_project(const float *m, const float *p, float *qtSum, long qtStride, long rows, long columns,
                           int rank) {
    if (seti_instruction_set() >= SETI_AVX2_FMA) project_avx2(m, p, qtSum, qtStride, rows, columns, rank);
    else project_baseline(m, p, qtSum, qtStride, rows, columns, rank);
}

void seti_powersgd_expand(float *g, const float *p, const float *qt, long qtStride, long rows, long columns, int rank) {
    if (seti_instruction_set() >= SETI_AVX2_FMA) expand_avx2(g, p, qt, qtStride, rows, columns, rank);
    else expand_baseline(g, p, qt, qtStride, rows, columns, rank);
}
