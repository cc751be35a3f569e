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

#endif
