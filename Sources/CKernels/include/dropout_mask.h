// Dropout's forward pass for one sample (SetiNet/Layers/Elementwise.swift), compiled for
// each of instruction_sets.h's sets: its cost is hashing, two 64-bit multiplies per pair
// of elements, which Swift's baseline build runs one at a time.
#ifndef SETI_DROPOUT_MASK_H
#define SETI_DROPOUT_MASK_H

#include <stdint.h>

/// SplitMix64's finalizer, the mixing step of SetiRandom's CounterRandom.
static inline uint64_t seti_mix(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/// For j < features: element j takes the 32-bit half j % 2 (low first) of
/// seti_mix(streamKey ^ (sampleKey | j / 2)) and is kept when the top 23 bits of that
/// half, read as a fraction in [0, 1), are at least `rate`. mask[j] = scale if kept, else
/// 0; out[j] = inp[j] * mask[j].
void seti_dropout_forward(float *out, float *mask, const float *inp, long features, float rate, float scale,
                          uint64_t streamKey, uint64_t sampleKey);

#endif
