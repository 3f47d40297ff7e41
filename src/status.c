/* status.c - status strings, the last-error message (per context or per thread), CL error names
 * and the one place host allocations go through. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static _Thread_local char thread_msg[OCLNN_MSG_SIZE];

const char *oclnn_status_string(oclnn_status status)
{
    switch (status) {
    case OCLNN_SUCCESS: return "success";
    case OCLNN_INVALID_ARGUMENT: return "invalid argument";
    case OCLNN_UNSUPPORTED: return "unsupported";
    case OCLNN_OUT_OF_MEMORY: return "out of memory";
    case OCLNN_OPENCL_ERROR: return "OpenCL error";
    case OCLNN_BUILD_FAILURE: return "kernel build failure";
    case OCLNN_DEVICE_NOT_FOUND: return "device not found";
    case OCLNN_IO_ERROR: return "I/O error";
    case OCLNN_CORRUPT_DATA: return "corrupt data";
    }
    return "unknown status";
}

const char *oclnn_last_error(const oclnn_context *ctx)
{
    return ctx ? ctx->msg : thread_msg;
}

/* The message buffer is logically mutable state of a const context: errors are reported from
 * functions that otherwise only read it. */
static char *msg_buf(const oclnn_context *ctx)
{
    return ctx ? (char *)ctx->msg : thread_msg;
}

oclnn_status oclnn__fail(const oclnn_context *ctx, oclnn_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg_buf(ctx), OCLNN_MSG_SIZE, fmt, ap);
    va_end(ap);
    return status;
}

void oclnn__clear_error(const oclnn_context *ctx)
{
    msg_buf(ctx)[0] = '\0';
}

const char *oclnn__cl_error_name(cl_int err)
{
    switch (err) {
#define E(x)                                                                                       \
    case x: return #x
        E(CL_SUCCESS);
        E(CL_DEVICE_NOT_FOUND);
        E(CL_DEVICE_NOT_AVAILABLE);
        E(CL_COMPILER_NOT_AVAILABLE);
        E(CL_MEM_OBJECT_ALLOCATION_FAILURE);
        E(CL_OUT_OF_RESOURCES);
        E(CL_OUT_OF_HOST_MEMORY);
        E(CL_PROFILING_INFO_NOT_AVAILABLE);
        E(CL_MEM_COPY_OVERLAP);
        E(CL_IMAGE_FORMAT_MISMATCH);
        E(CL_IMAGE_FORMAT_NOT_SUPPORTED);
        E(CL_BUILD_PROGRAM_FAILURE);
        E(CL_MAP_FAILURE);
        E(CL_MISALIGNED_SUB_BUFFER_OFFSET);
        E(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST);
        E(CL_COMPILE_PROGRAM_FAILURE);
        E(CL_LINKER_NOT_AVAILABLE);
        E(CL_LINK_PROGRAM_FAILURE);
        E(CL_DEVICE_PARTITION_FAILED);
        E(CL_KERNEL_ARG_INFO_NOT_AVAILABLE);
        E(CL_INVALID_VALUE);
        E(CL_INVALID_DEVICE_TYPE);
        E(CL_INVALID_PLATFORM);
        E(CL_INVALID_DEVICE);
        E(CL_INVALID_CONTEXT);
        E(CL_INVALID_QUEUE_PROPERTIES);
        E(CL_INVALID_COMMAND_QUEUE);
        E(CL_INVALID_HOST_PTR);
        E(CL_INVALID_MEM_OBJECT);
        E(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR);
        E(CL_INVALID_IMAGE_SIZE);
        E(CL_INVALID_SAMPLER);
        E(CL_INVALID_BINARY);
        E(CL_INVALID_BUILD_OPTIONS);
        E(CL_INVALID_PROGRAM);
        E(CL_INVALID_PROGRAM_EXECUTABLE);
        E(CL_INVALID_KERNEL_NAME);
        E(CL_INVALID_KERNEL_DEFINITION);
        E(CL_INVALID_KERNEL);
        E(CL_INVALID_ARG_INDEX);
        E(CL_INVALID_ARG_VALUE);
        E(CL_INVALID_ARG_SIZE);
        E(CL_INVALID_KERNEL_ARGS);
        E(CL_INVALID_WORK_DIMENSION);
        E(CL_INVALID_WORK_GROUP_SIZE);
        E(CL_INVALID_WORK_ITEM_SIZE);
        E(CL_INVALID_GLOBAL_OFFSET);
        E(CL_INVALID_EVENT_WAIT_LIST);
        E(CL_INVALID_EVENT);
        E(CL_INVALID_OPERATION);
        E(CL_INVALID_GL_OBJECT);
        E(CL_INVALID_BUFFER_SIZE);
        E(CL_INVALID_MIP_LEVEL);
        E(CL_INVALID_GLOBAL_WORK_SIZE);
        E(CL_INVALID_PROPERTY);
        E(CL_INVALID_IMAGE_DESCRIPTOR);
        E(CL_INVALID_COMPILER_OPTIONS);
        E(CL_INVALID_LINKER_OPTIONS);
        E(CL_INVALID_DEVICE_PARTITION_COUNT);
#undef E
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    }
    return "CL_UNKNOWN_ERROR";
}

oclnn_status oclnn__cl(const oclnn_context *ctx, cl_int err, const char *what)
{
    if (err == CL_SUCCESS)
        return OCLNN_SUCCESS;
    oclnn_status s = (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_HOST_MEMORY ||
                      err == CL_INVALID_BUFFER_SIZE)
                         ? OCLNN_OUT_OF_MEMORY
                         : OCLNN_OPENCL_ERROR;
    return oclnn__fail(ctx, s, "%s failed: %s (%d)", what, oclnn__cl_error_name(err), (int)err);
}

/* Fault injection for leak tests: OCLNN_FAIL_ALLOC=N makes the Nth host allocation after the
 * variable was set (or changed) fail. Not thread-safe; tests only. */
static bool alloc_should_fail(void)
{
    static _Thread_local long counter, armed;
    const char *v = getenv("OCLNN_FAIL_ALLOC");
    long n = v && *v ? atol(v) : 0;
    if (n != armed) {
        armed = n;
        counter = 0;
    }
    return n > 0 && ++counter == n;
}

void *oclnn__alloc(const oclnn_context *ctx, size_t bytes, const char *what)
{
    void *p = alloc_should_fail() ? NULL : calloc(1, bytes ? bytes : 1);
    if (!p)
        oclnn__fail(ctx, OCLNN_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes of host memory", what,
                    bytes);
    return p;
}

char *oclnn__strdup(const oclnn_context *ctx, const char *s, const char *what)
{
    size_t n = strlen(s) + 1;
    char *p = oclnn__alloc(ctx, n, what);
    if (p)
        memcpy(p, s, n);
    return p;
}

#ifdef MADV_HUGEPAGE
#define HUGE_PAGE ((size_t)2 << 20)

static void CL_CALLBACK free_host_memory(cl_mem m, void *p)
{
    (void)m;
    free(p);
}
#endif

/* On a CPU device a buffer is host memory, and with 4 KiB pages every row of a large matrix
 * walked down its columns is another TLB miss: CLBlast's GEMM kernels read both operands k-major
 * a row apart, and 2048^3 ran at 58 GFLOP/s against 85 in 2 MiB pages. Buffers of a huge page or
 * more are therefore allocated here, 2 MiB-aligned with MADV_HUGEPAGE (transparent huge pages in
 * their "madvise" setting, the default of most distributions), and handed to the driver with
 * CL_MEM_USE_HOST_PTR (POCL then uses them as they are). NULL when this does not apply or fails:
 * the caller then lets the driver allocate, and reports the driver's error if that fails too. */
static cl_mem huge_page_buffer(oclnn_context *ctx, size_t bytes, cl_mem_flags flags)
{
#ifdef MADV_HUGEPAGE
    void *p;
    if (!(ctx->info.type & CL_DEVICE_TYPE_CPU) || bytes < HUGE_PAGE ||
        posix_memalign(&p, HUGE_PAGE, bytes) != 0)
        return NULL;
    /* Advice only: without transparent huge pages the buffer simply keeps 4 KiB pages. */
    (void)madvise(p, bytes, MADV_HUGEPAGE);
    cl_int err;
    cl_mem m = clCreateBuffer(ctx->cl_ctx, flags | CL_MEM_USE_HOST_PTR, bytes, p, &err);
    if (err == CL_SUCCESS) {
        if (clSetMemObjectDestructorCallback(m, free_host_memory, p) == CL_SUCCESS)
            return m;
        clReleaseMemObject(m);
    }
    free(p);
#else
    (void)ctx, (void)bytes, (void)flags;
#endif
    return NULL;
}

oclnn_status oclnn__buffer(oclnn_context *ctx, size_t bytes, cl_mem_flags flags, cl_mem *out,
                           const char *what)
{
    *out = NULL;
    if (bytes == 0)
        bytes = 4;
    if (bytes > ctx->info.max_alloc_bytes)
        return oclnn__fail(ctx, OCLNN_OUT_OF_MEMORY,
                           "%s: %zu bytes exceed the device's largest allocation %llu", what, bytes,
                           (unsigned long long)ctx->info.max_alloc_bytes);
    cl_int err = CL_SUCCESS;
    cl_mem m = huge_page_buffer(ctx, bytes, flags);
    if (!m)
        m = clCreateBuffer(ctx->cl_ctx, flags, bytes, NULL, &err);
    if (err != CL_SUCCESS) {
        char call[160];
        snprintf(call, sizeof call, "clCreateBuffer(%zu bytes) for %s", bytes, what);
        return oclnn__cl(ctx, err, call);
    }
    *out = m;
    return OCLNN_SUCCESS;
}
