// Convolution of a one-channel image (the SETI model's first layer: 5 x 5 x 1 -> 32),
// "same" padding, stride 1, as direct loops compiled for each of instruction_sets.h's
// sets. Lowered onto sgemm, each output pixel is a GEMM row of depth k*k (25), too short
// for sgemm to reach its peak; here each output pixel's channels are vectors that stay in
// registers while the k*k taps go by.
//
// One sample at a time: `padded` is the image with its zero border, (height + k - 1) x
// (width + k - 1); out and dout are (height, width, cout) and the kernel (k, k, cout).
#ifndef SETI_CONV_ONE_CHANNEL_H
#define SETI_CONV_ONE_CHANNEL_H

/// out = bias + the convolution of padded with kernel.
void seti_conv_one_channel_forward(float *out, const float *padded, const float *kernel, const float *bias, long height,
                                   long width, long k, long cout);

/// dkernel += the kernel gradient of this sample: dkernel[dy][dx][c] += sum over pixels
/// (y, x) of padded[y + dy][x + dx] dout[y][x][c], summed row by row (y in order).
void seti_conv_one_channel_kernel_gradient(float *dkernel, const float *padded, const float *dout, long height, long width,
                                           long k, long cout);

#endif
