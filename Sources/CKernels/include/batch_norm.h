// Batch normalisation's passes over (rows, columns) activations, channels last
// (SetiNet/Layers/BatchNorm.swift), and the column sums behind bias gradients, compiled
// for each of instruction_sets.h's sets. Each pass is one sweep over memory; Swift's
// baseline build ran them at about a quarter of the memory bandwidth.
//
// Throughout, with relu set, d = dy where x * scale + shift > 0 and 0 elsewhere (the
// batch norm's fused ReLU let the forward output through); without, d = dy. Every column
// is summed over the rows in order, so results do not depend on the vector width.
//
// A max pool that follows (windows of pool x pool pixels, stride pool, over images of
// height x width pixels; Keras's "valid" padding) can run in the same passes: forward
// writes only the pooled output and, in `maxima`, each window's position of its first
// maximum (dy * pool + dx, row-major order, as max pooling picks it), a byte a channel.
// Backward takes the pool's output gradient as dy and gives each window's gradient to
// that position. Where pool is 0, rows are plain rows, and height, width and maxima are
// not used. Pooled or not, the results equal those of the separate passes to the bit.
#ifndef SETI_BATCH_NORM_H
#define SETI_BATCH_NORM_H

/// acc[j] += sum over rows r of x[r][j].
void seti_add_rows(float *acc, const float *x, long rows, long columns);

/// acc[j] += sum over rows r of (x[r][j] - center[j])^2.
void seti_add_squared_deviations(float *acc, const float *x, const float *center, long rows, long columns);

/// Over rows (pixels) r in first..<first + count, in order: acc[j] += d[r][j] and
/// acc[columns + j] += d[r][j] (x[r][j] - mean[j]).
void seti_add_batch_norm_gradient_sums(float *acc, const float *x, const float *dy, const unsigned char *maxima,
                                       const float *mean, const float *scale, const float *shift, int relu,
                                       long height, long width, long pool, long first, long count, long columns);

/// y = x * scale + shift per column, then max(0, y) with relu (NaN stays NaN).
void seti_batch_norm_apply(float *y, const float *x, const float *scale, const float *shift, int relu, long rows,
                           long columns);

/// What seti_batch_norm_apply then max pooling write, for the rows of windows (one per
/// image and window row) firstWindowRow..<firstWindowRow + windowRows; maxima may be
/// NULL (no backward pass to come). Needs pool * pool <= 256.
void seti_batch_norm_apply_pooled(float *out, unsigned char *maxima, const float *x, const float *scale,
                                  const float *shift, int relu, long height, long width, long pool,
                                  long firstWindowRow, long windowRows, long columns);

/// dx = a d + b x + dxShift per column, for rows (pixels) first..<first + count.
void seti_batch_norm_input_gradient(float *dx, const float *x, const float *dy, const unsigned char *maxima,
                                    const float *a, const float *b, const float *dxShift, const float *scale,
                                    const float *shift, int relu, long height, long width, long pool, long first,
                                    long count, long columns);

#endif
