// The tile transforms of Winograd convolution (SetiNet/Layers/Winograd.swift), in C so
// they can be compiled for AVX2 + FMA and chosen at run time: Swift builds for the
// baseline x86-64 (SSE2), whatever the machine, and these loops are a third of a
// Winograd convolution's time.
#ifndef SETI_WINOGRAD_TRANSFORM_H
#define SETI_WINOGRAD_TRANSFORM_H

/// out[i][j][:] = sum over k, l of left[i][k] in[k][l][:] right[j][l], for a tile of
/// rowsIn x columnsIn vectors of `channels` floats (`inStride` floats apart in `in`,
/// `outStride` in `out`), through `scratch` (rowsOut x columnsIn x channels floats).
/// `left` is rowsOut x rowsIn, `right` columnsOut x columnsIn, both row-major.
void seti_winograd_transform(float *out, long outStride, const float *in, long inStride,
                             const float *left, int rowsOut, int rowsIn,
                             const float *right, int columnsOut, int columnsIn,
                             int channels, float *scratch);

#endif
