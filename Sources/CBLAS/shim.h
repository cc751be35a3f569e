// OpenBLAS's CBLAS interface plus its thread-count controls (declared in cblas.h).
#ifndef SETI_CBLAS_SHIM_H
#define SETI_CBLAS_SHIM_H
#include <cblas.h>
#endif
