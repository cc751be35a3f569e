// PowerSGD's passes over a gradient matrix (SetiTraining/Exchange/PowerSGDReducer.swift), in
// C so they can be compiled for AVX2 + FMA and chosen at run time. Each pass reads the
// 134 MB matrix once; written as plain SIMD loops in Swift (baseline SSE2) one FMA chain
// per dot product bounded them by latency, well below the memory bandwidth.
//
// Every function works on `rows` consecutive rows of a row-major matrix M with `columns`
// columns, the matching rows of P (rows x rank, row-major) and all of Q^T (rank x columns,
// its rows qtStride >= columns floats apart), so callers split rows over threads. P Q^T is
// summed in the same order everywhere, so the reconstruction is the same bits in every pass.
//
// The passes read a chunk of every row of Q^T for each chunk of M. With rows exactly 4 KB
// apart (1024 columns), those chunks fall in the same L1 cache sets and evict each other;
// a stride a cache line or so longer (seti_powersgd_qt_stride) avoids that.
#ifndef SETI_POWERSGD_PASSES_H
#define SETI_POWERSGD_PASSES_H

/// M -= share * P Q^T.
void seti_powersgd_settle(float *m, const float *p, const float *qt, long qtStride, long rows, long columns, int rank,
                          float share);

/// M = (M - share * P Q^T) + G (with share 0 the subtraction is skipped); then, with qtSum
/// null, P = M Q (P is read first, then overwritten), or else qtSum += P^T M, the rows' part
/// of Q^T (as seti_powersgd_project), P unchanged.
void seti_powersgd_fold(float *m, const float *g, float *p, float *qtSum, const float *qt, long qtStride, long rows,
                        long columns, int rank, float share);

/// qtSum += P^T M, the rows' contribution to Q^T (qtSum's rows qtStride floats apart).
void seti_powersgd_project(const float *m, const float *p, float *qtSum, long qtStride, long rows, long columns,
                           int rank);

/// G = P Q^T.
void seti_powersgd_expand(float *g, const float *p, const float *qt, long qtStride, long rows, long columns, int rank);

#endif
