// zlib, for the deflate stream and CRC-32 of PNG files.
#ifndef SETI_CZLIB_SHIM_H
#define SETI_CZLIB_SHIM_H
#include <zlib.h>
#endif
