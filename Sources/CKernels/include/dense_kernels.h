// The dense layer's three GEMMs at training batch sizes (batch x inputs x outputs with a
// batch of tens and a kernel of 134 MB in the SETI model), for CPUs with AVX-512 (x86-64
// only; callers check seti_instruction_set() == SETI_AVX512). These GEMMs are thin: each
// element of the kernel meets only `batch` rows, and OpenBLAS's AVX-512 kernels packed the
// kernel for about as long as they multiplied it. These loops read the kernel in place,
// keep a tile of the result in registers, and write the kernel's gradient with streaming
// stores. (With AVX2 only, OpenBLAS's own kernels were faster than these loops built for
// AVX2, so the dense layer uses sgemm there.)
//
// Row-major throughout. The batch-side operand comes transposed (see seti_transpose), so
// that the numbers one step of a tile needs sit side by side. Each function covers a range
// of the output, so callers split the work over threads; every output element is summed
// in the same order whatever the range, so the result does not depend on the split.
#ifndef SETI_DENSE_KERNELS_H
#define SETI_DENSE_KERNELS_H

/// The batch of seti_dense_input_gradient's operands is padded to a multiple of this.
#define SETI_DENSE_BATCH_MULTIPLE 32

/// out[:, first..<end] += x kernel[:, first..<end], where out is batch x outputs, xt is x
/// transposed (inputs x batch) and kernel is inputs x outputs.
void seti_dense_forward(float *out, const float *xt, const float *kernel, long batch, long inputs, long outputs,
                        long first, long end);

/// dkernel[first..<end, :] = x[:, first..<end]^T dout, where xt is x transposed
/// (inputs x batch), dout is batch x outputs and dkernel inputs x outputs.
void seti_dense_kernel_gradient(float *dkernel, const float *xt, const float *dout, long batch, long inputs,
                                long outputs, long first, long end);

/// The highest rank seti_dense_kernel_gradient_fold takes.
#define SETI_DENSE_FOLD_MAX_RANK 8

/// The kernel gradient of rows first..<end, G = x[:, first..<end]^T dout, folded into a
/// low-rank compressor's running matrix instead of being stored (PowerSGD's fold, see
/// powersgd_passes.h): M = (M - share * P Q^T) + G on those rows of M (inputs x outputs),
/// with P the same rows of p (inputs x rank) and qt Q^T (rank x outputs, its rows qtStride
/// apart); then, with qtSum null, P = M Q, written over those rows of p; otherwise
/// qtSum += P^T M (rank x outputs, rows qtStride apart), those rows' part of Q^T, p
/// unchanged. rank is at most SETI_DENSE_FOLD_MAX_RANK. M is the same to the bit as
/// seti_dense_kernel_gradient followed by seti_powersgd_fold with the same arguments; P
/// differs in the order of its sums.
void seti_dense_kernel_gradient_fold(float *m, const float *xt, const float *dout, long batch, long outputs, long first,
                                     long end, float *p, float *qtSum, const float *qt, long qtStride, int rank, float share);

/// dinpt[first..<end, :] = kernel[first..<end, :] dout^T: the input gradient, transposed
/// (inputs x paddedBatch). doutt is dout transposed (outputs x paddedBatch), its columns
/// past the batch zero; paddedBatch is a multiple of SETI_DENSE_BATCH_MULTIPLE.
void seti_dense_input_gradient(float *dinpt, const float *doutt, const float *kernel, long paddedBatch, long inputs,
                               long outputs, long first, long end);

/// out[c * outStride + r] = in[r * inStride + c] for r < rows, c < columns.
void seti_transpose(float *out, long outStride, const float *in, long inStride, long rows, long columns);

#endif
