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

#endif
