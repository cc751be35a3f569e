// FFTW 3 in single precision, for the spectrograms of ML4SETI time series.
#ifndef SETI_CFFTW_SHIM_H
#define SETI_CFFTW_SHIM_H
#include <fftw3.h>

// FFTW's flags are macros Swift cannot import ((1U << 6)).
static const unsigned seti_fftw_estimate = FFTW_ESTIMATE;
static const int seti_fftw_forward = FFTW_FORWARD;
#endif
