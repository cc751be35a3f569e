// HDF5's C API for the Keras weights file. Its type and flag constants are macros that
// call H5open(); these wrappers make them callable from Swift.
#include <hdf5.h>

// HDF5 prints its error stack to stderr unless told not to, and in a thread-safe build
// (Debian's) that setting belongs to the calling thread: call this on every thread before
// its HDF5 calls, so errors come back as return codes only.
static inline void chdf5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
static inline hid_t chdf5_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t chdf5_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline hid_t chdf5_c_string(void) { return H5T_C_S1; }
static inline unsigned chdf5_truncate(void) { return H5F_ACC_TRUNC; }
static inline hid_t chdf5_default(void) { return H5P_DEFAULT; }
static inline unsigned chdf5_read_only(void) { return H5F_ACC_RDONLY; }
static inline hid_t chdf5_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t chdf5_dataset_create(void) { return H5P_DATASET_CREATE; }
