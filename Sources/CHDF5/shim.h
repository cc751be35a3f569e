// HDF5's C API for the Keras weights file. Its type and flag constants are macros that
// call H5open(); these wrappers make them callable from Swift.
#include <hdf5.h>

static inline hid_t chdf5_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t chdf5_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline hid_t chdf5_c_string(void) { return H5T_C_S1; }
static inline unsigned chdf5_truncate(void) { return H5F_ACC_TRUNC; }
static inline hid_t chdf5_default(void) { return H5P_DEFAULT; }
static inline unsigned chdf5_read_only(void) { return H5F_ACC_RDONLY; }
static inline hid_t chdf5_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t chdf5_dataset_create(void) { return H5P_DATASET_CREATE; }
