#include "conv_one_channel.h"
#include "instruction_sets.h"

// Vectors cross no call between functions of different instruction sets: every tile is
// inlined into its own instantiation.
#pragma clang diagnostic ignored "-Wpsabi"

#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,fma"))), apply_to = function)
#define NAME(x) avx512_##x
#define VL 16
#define CV 2
#define PX 12
#define TG 6
#include "conv_tiles.h"
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define NAME(x) avx2_##x
#define VL 8
#define CV 2
#define PX 6
#define TG 6
#include "conv_tiles.h"
#pragma clang attribute pop
#endif

#define NAME(x) baseline_##x
#define VL 4
#define CV 2
#define PX 6
#define TG 6
#include "conv_tiles.h"

void seti_conv_one_channel_forward(float *out, const float *padded, const float *kernel, const float *bias, long height,
                                   long width, long k, long cout) {
    SETI_DISPATCH(forward, out, padded, kernel, bias, height, width, k, cout);
}

void seti_conv_one_channel_kernel_gradient(float *dkernel, const float *padded, const float *dout, long height, long width,
                                           long k, long cout) {
    SETI_DISPATCH(kernel_gradient, dkernel, padded, dout, height, width, k, cout);
}
