// Batch normalisation's passes over (rows, columns) activations, channels last
// (SetiNet/Layers/BatchNorm.swift), and the column sums behind bias gradients, compiled
// for each of instruction_sets.h's sets. Each pass is one sweep over memory; Swift's
// baseline build ran them at about a quarter of the memory bandwidth.
//
// Throughout, with relu set, d = dy where x * scale + shift > 0 and 0 elsewhere (the
// batch norm's fused ReLU let the forward output through); without, d = dy. Every column
// is summed over the rows in order, so results do not depend on the vector width.
#ifndef SETI_BATCH_NORM_H
#define SETI_BATCH_NORM_H

/// acc[j] += sum over rows r of x[r][j].
void seti_add_rows(float *acc, const float *x, long rows, long columns);

/// acc[j] += sum over rows r of (x[r][j] - center[j])^2.
void seti_add_squared_deviations(float *acc, const float *x, const float *center, long rows, long columns);

/// acc[j] += sum of d[r][j]; acc[columns + j] += sum of d[r][j] (x[r][j] - mean[j]).
void seti_add_batch_norm_gradient_sums(float *acc, const float *x, const float *dy, const float *mean, const float *scale,
                                       const float *shift, int relu, long rows, long columns);

/// y = x * scale + shift per column, then max(0, y) with relu (NaN stays NaN).
void seti_batch_norm_apply(float *y, const float *x, const float *scale, const float *shift, int relu, long rows,
                           long columns);

/// dx = a d + b x + dxShift per column.
void seti_batch_norm_input_gradient(float *dx, const float *x, const float *dy, const float *a, const float *b,
                                    const float *dxShift, const float *scale, const float *shift, int relu, long rows,
                                    long columns);

#endif
