// OpenMPI's predefined handles are macros over addresses of globals, which Swift
// cannot import. Each one is re-exported here as a static inline function.
#ifndef SETI_CMPI_SHIM_H
#define SETI_CMPI_SHIM_H
#include <mpi.h>

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

static inline MPI_Op cmpi_sum(void) { return MPI_SUM; }
static inline MPI_Op cmpi_min(void) { return MPI_MIN; }
static inline MPI_Op cmpi_max(void) { return MPI_MAX; }

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
