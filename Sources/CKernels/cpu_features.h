// Which vector instructions this CPU runs, for the kernels that are compiled more than
// once (for AVX-512, AVX2 + FMA, and the baseline x86-64 that Swift builds for) and choose
// at run time.
#ifndef SETI_CPU_FEATURES_H
#define SETI_CPU_FEATURES_H

static inline int seti_has_avx2_fma(void) {
#if defined(__x86_64__)
    // The CPU cannot change under a running process; any thread may compute this first.
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return cached;
#else
    return 0;
#endif
}

static inline int seti_has_avx512f(void) {
#if defined(__x86_64__)
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
    }
    return cached;
#else
    return 0;
#endif
}

#endif
