// LZ4 block compression, for the bitshuffle filter of Breakthrough Listen's HDF5 files.
#ifndef SETI_CLZ4_SHIM_H
#define SETI_CLZ4_SHIM_H
#include <lz4.h>
#endif
