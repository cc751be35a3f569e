#include "instruction_sets.h"
#include <string.h>

static const char *const names[] = {"baseline", "avx2+fma", "avx512"};
static int chosen = -1;

static int best(void) {
#if defined(__x86_64__)
    // The CPU cannot change under a running process; any thread may compute this first.
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        const int avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
        cached = avx512 ? SETI_AVX512 : avx2 ? SETI_AVX2_FMA : SETI_BASELINE;
    }
    return cached;
#else
    return SETI_BASELINE;
#endif
}

int seti_instruction_set(void) { return chosen >= 0 ? chosen : best(); }

const char *seti_instruction_set_name(void) { return names[seti_instruction_set()]; }

int seti_choose_instruction_set(const char *name) {
    for (int set = SETI_BASELINE; set <= best(); set++)
        if (strcmp(name, names[set]) == 0) {
            chosen = set;
            return 1;
        }
    return 0;
}
