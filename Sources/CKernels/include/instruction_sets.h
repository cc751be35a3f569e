// The instruction sets CKernels' loops are compiled for, and the one they run. Swift
// builds for the baseline x86-64 (SSE2) whatever the machine, so the hot loops that need
// wider vectors or FMA are compiled once per instruction set, and every call dispatches
// on seti_instruction_set().
#ifndef SETI_INSTRUCTION_SETS_H
#define SETI_INSTRUCTION_SETS_H

/// From the baseline up; each includes the ones below it.
enum { SETI_BASELINE = 0, SETI_AVX2_FMA = 1, SETI_AVX512 = 2 };

/// The instruction set the kernels run: the best this CPU has (AVX-512 means F and DQ, with
/// FMA), unless seti_choose_instruction_set chose a lower one.
int seti_instruction_set(void);

/// Its name: "baseline", "avx2+fma" or "avx512".
const char *seti_instruction_set_name(void);

/// For tests: run the kernels on the instruction set called `name` from now on. Returns 0,
/// changing nothing, when this CPU cannot run it. Not thread-safe.
int seti_choose_instruction_set(const char *name);

/// Calls avx512_<function>, avx2_<function> or baseline_<function> with the arguments, as
/// seti_instruction_set() says (the baseline alone off x86-64).
#if defined(__x86_64__)
#define SETI_DISPATCH(function, ...)                                    \
    do {                                                                \
        switch (seti_instruction_set()) {                               \
            case SETI_AVX512: avx512_##function(__VA_ARGS__); break;    \
            case SETI_AVX2_FMA: avx2_##function(__VA_ARGS__); break;    \
            default: baseline_##function(__VA_ARGS__); break;           \
        }                                                               \
    } while (0)
#else
#define SETI_DISPATCH(function, ...) baseline_##function(__VA_ARGS__)
#endif

#endif
