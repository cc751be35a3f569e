// OpenMPI's predefined handles are macros over addresses of globals, which Swift
// cannot import. Each one is re-exported here as a static inline function.
#ifndef SETI_CMPI_SHIM_H
#define SETI_CMPI_SHIM_H
#include <mpi.h>
#include <stdint.h>

static inline MPI_Comm cmpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Comm cmpi_comm_null(void) { return MPI_COMM_NULL; }
static inline MPI_Info cmpi_info_null(void) { return MPI_INFO_NULL; }
static inline MPI_Errhandler cmpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline MPI_Request cmpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Status *cmpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline MPI_Status *cmpi_statuses_ignore(void) { return MPI_STATUSES_IGNORE; }
static inline void *cmpi_in_place(void) { return MPI_IN_PLACE; }
static inline int cmpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
static inline int cmpi_max_processor_name(void) { return MPI_MAX_PROCESSOR_NAME; }

static inline MPI_Datatype cmpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype cmpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype cmpi_int32(void) { return MPI_INT32_T; }
static inline MPI_Datatype cmpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype cmpi_uint64(void) { return MPI_UINT64_T; }
static inline MPI_Datatype cmpi_uint8(void) { return MPI_UINT8_T; }
static inline MPI_Datatype cmpi_uint16(void) { return MPI_UINT16_T; }

static inline MPI_Op cmpi_sum(void) { return MPI_SUM; }
static inline MPI_Op cmpi_min(void) { return MPI_MIN; }
static inline MPI_Op cmpi_max(void) { return MPI_MAX; }

// A sum of bfloat16 values (as uint16 bit patterns): each pair added in fp32 and the sum
// rounded to the nearest bfloat16, ties to even; NaN stays NaN. MPI has no bfloat16 type.
static void cmpi_bf16_sum_function(void *in, void *inout, int *length, MPI_Datatype *type) {
    (void)type;
    const uint16_t *a = (const uint16_t *)in;
    uint16_t *b = (uint16_t *)inout;
    for (int i = 0; i < *length; i++) {
        union { uint32_t u; float f; } x = {(uint32_t)a[i] << 16}, y = {(uint32_t)b[i] << 16}, s;
        s.f = x.f + y.f;
        if ((s.u & 0x7fffffffu) > 0x7f800000u) b[i] = (uint16_t)((s.u >> 16) | 0x40);
        else b[i] = (uint16_t)((s.u + 0x7fffu + ((s.u >> 16) & 1u)) >> 16);
    }
}

// The bfloat16 sum as an MPI operation, created at the first call (after MPI_Init, from
// the thread that initialised MPI) and kept for the life of the process.
static inline MPI_Op cmpi_bf16_sum(void) {
    static MPI_Op op = MPI_OP_NULL;
    if (op == MPI_OP_NULL) MPI_Op_create(cmpi_bf16_sum_function, 1, &op);
    return op;
}

// The benchmark baseline: a plain C loop of in-place float MPI_Allreduce calls, each
// timed between a barrier and its return, so the Swift wrapper can be compared with
// what any C program gets from the same MPI.
static inline void cmpi_time_allreduce_loop(MPI_Comm comm, float *buffer, int count, int iterations, double *seconds) {
    for (int i = 0; i < iterations; i++) {
        MPI_Barrier(comm);
        double start = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, buffer, count, MPI_FLOAT, MPI_SUM, comm);
        seconds[i] = MPI_Wtime() - start;
    }
}

#endif
