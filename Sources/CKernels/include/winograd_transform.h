// The tile transforms of Winograd convolution (SetiNet/Layers/Winograd.swift), in C so
// they can be compiled for AVX2 + FMA and chosen at run time: Swift builds for the
// baseline x86-64 (SSE2), whatever the machine, and these loops are half of a Winograd
// convolution's time. They read tiles from and write them to images in place, with the
// bias added or the result summed into what is there, so no tile is copied on the way.
#ifndef SETI_WINOGRAD_TRANSFORM_H
#define SETI_WINOGRAD_TRANSFORM_H

/// out[i][j][:] = sum over k, l of left[i][k] in[k][l][:] right[j][l] (+ bias[:] unless
/// bias is null), stored or, with `accumulate`, added to what out holds; for a tile of
/// rowsIn x columnsIn vectors of `channels` floats. In `in`, rows are `inRowStride` floats
/// apart and columns `inStride`; in `out`, `outRowStride` and `outStride`, so tiles are read
/// from and written to an image in place. `scratch` holds rowsOut x columnsIn x channels
/// floats; `left` is rowsOut x rowsIn, `right` columnsOut x columnsIn, both row-major.
void seti_winograd_transform(float *out, long outRowStride, long outStride, const float *in, long inRowStride,
                             long inStride, const float *left, int rowsOut, int rowsIn,
                             const float *right, int columnsOut, int columnsIn,
                             int channels, const float *bias, int accumulate, float *scratch);

/// 1 when `bt` (8 x 8, row-major) has the structure of F(4 x 4, 5 x 5)'s B^T from the
/// points 0, +-1, +-2, +-1/2 and infinity, which seti_winograd_input_transform relies on:
/// rows 1/2, 3/4 and 5/6 equal but for the sign of their odd columns, and zeros where
/// those points put them. Its weights may be anything.
int seti_winograd_bt_is_f4x5(const float *bt);

/// The input transform of F(4 x 4, 5 x 5), B^T d B (or with `transposed`, B d B^T: the
/// input gradient's), as straight-line code over a column of 8 vectors: the paired rows
/// share their products (E + O and E - O), half the multiplications of the general
/// transform. Same strides and `accumulate` as seti_winograd_transform; `channels` a
/// multiple of 8; `bt` such that seti_winograd_bt_is_f4x5(bt); `scratch` 64 x channels.
void seti_winograd_input_transform(float *out, long outRowStride, long outStride, const float *in, long inRowStride,
                                   long inStride, const float *bt, int transposed, int channels, int accumulate,
                                   float *scratch);

/// 1 when `at` (4 x 8, row-major) has the structure of F(4 x 4, 5 x 5)'s A^T from the same
/// points, which seti_winograd_output_transform relies on: columns 1/2, 3/4 and 5/6 equal
/// but for the sign of their odd rows, column 0 zero below row 0, column 7 zero above row 3.
int seti_winograd_at_is_f4x5(const float *at);

/// The output transform of F(4 x 4, 5 x 5), A^T m A plus `bias` unless null (or with
/// `transposed`, A w A^T: the output gradient's, 4 x 4 to 8 x 8, no bias), as straight-line
/// code that shares the products of A^T's paired columns. Same strides as
/// seti_winograd_transform; `channels` a multiple of 8; `at` such that
/// seti_winograd_at_is_f4x5(at); `scratch` 64 x 8 floats.
void seti_winograd_output_transform(float *out, long outRowStride, long outStride, const float *in, long inRowStride,
                                    long inStride, const float *at, int transposed, int channels, const float *bias,
                                    float *scratch);

#endif
