/* internal.h - declarations shared by the library's source files; never installed.
 * Every OpenCL call that can fail and every host allocation goes through the helpers here, so
 * error text, profiling and fault injection live in one place. */
#ifndef OCLNN_INTERNAL_H
#define OCLNN_INTERNAL_H

#include "oclnn.h"

#include <stdarg.h>
#include <stdbool.h>

#define OCLNN_MSG_SIZE 8192

/* One built program, kept per context in memory. */
typedef struct oclnn_program_entry {
    uint64_t key;         /* hash of file, source and options */
    char *file;           /* "conv2d_direct_fwd.cl" */
    char *options;        /* the -D options it was built with */
    cl_program program;
    struct oclnn_kernel_entry *kernels;
    struct oclnn_program_entry *next;
} oclnn_program_entry;

typedef struct oclnn_kernel_entry {
    char *name;
    cl_kernel kernel;
    struct oclnn_kernel_entry *next;
} oclnn_kernel_entry;

typedef struct oclnn_warmup oclnn_warmup;

typedef struct oclnn_profile_record {
    const char *op;     /* static string */
    char kernel[64];
    cl_event event;
    cl_event begin; /* NULL, or a marker queued before a library call of several commands whose
                     * last one is `event`: the record spans from the marker's end */
} oclnn_profile_record;

/* The work an op's calls asked for, for the rates in oclnn_profile_print. */
typedef struct oclnn_op_work {
    const char *op; /* static string, the op name its kernels are recorded under */
    unsigned calls;
    double flops, bytes;
} oclnn_op_work;
#define OCLNN_MAX_OP_WORK 48

struct oclnn_context {
    cl_context cl_ctx;
    cl_device_id device;
    cl_command_queue queue;
    oclnn_device_info info;
    char cache_dir[1024]; /* "off" when disabled */
    char kernel_dir[1024]; /* OCLNN_KERNEL_DIR, "" when sources are the embedded ones */
    oclnn_program_entry *programs;
    oclnn_program_entry *pending; /* requested during a warm-up, built by its threads */
    struct oclnn_warmup *warmup;  /* between warmup_begin and warmup_end (program.c) */
    oclnn_cache_stats stats;
    cl_mem workspace;
    size_t workspace_size;
    size_t workspace_limit;
    bool profiling_queue; /* queue created with CL_QUEUE_PROFILING_ENABLE */
    bool profile;         /* record events */
    oclnn_profile_record *records;
    size_t nrecords, records_cap;
    oclnn_op_work work[OCLNN_MAX_OP_WORK];
    size_t nwork;
    FILE *trace;          /* OCLNN_TRACE: Chrome trace-event file being written */
    cl_ulong trace_t0;    /* device time of the first traced command */
    size_t trace_events;
    void *tune_state; /* owned by gemm.c */
    char msg[OCLNN_MSG_SIZE];
};

struct oclnn_tensor {
    oclnn_context *ctx;
    oclnn_tensor_desc desc;
    cl_mem mem;
    size_t offset; /* elements */
};

/* ---- errors (status.c) ---- */
/* Records a formatted message on ctx (or the thread when ctx is NULL) and returns status. */
oclnn_status oclnn__fail(const oclnn_context *ctx, oclnn_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Turns a CL error into OCLNN_OPENCL_ERROR (or OUT_OF_MEMORY) naming the call; SUCCESS for
 * CL_SUCCESS. `what` is the call and context, e.g. "clEnqueueNDRangeKernel(conv2d_direct)". */
oclnn_status oclnn__cl(const oclnn_context *ctx, cl_int err, const char *what);
const char *oclnn__cl_error_name(cl_int err);
void oclnn__clear_error(const oclnn_context *ctx);

/* Host allocation through one place (fault injection in tests: OCLNN_FAIL_ALLOC=N fails the Nth
 * call of this process). Records OUT_OF_MEMORY on failure. */
void *oclnn__alloc(const oclnn_context *ctx, size_t bytes, const char *what);
char *oclnn__strdup(const oclnn_context *ctx, const char *s, const char *what);

/* Device buffer creation through one place. */
oclnn_status oclnn__buffer(oclnn_context *ctx, size_t bytes, cl_mem_flags flags, cl_mem *out,
                           const char *what);

/* ---- devices (device.c) ---- */
/* Enumerates platforms/devices; fills info and (when not NULL) the cl_device_id of the chosen
 * device. Used by context creation. */
oclnn_status oclnn__device_select(const char *selector, oclnn_device_info *info,
                                  cl_device_id *id, char *why, size_t why_size);
void oclnn__device_query(cl_platform_id p, cl_device_id d, int pi, int di, oclnn_device_info *info);

/* ---- programs (program.c) ---- */
/* The kernel `name` of cl/`file` built with `options` (may be NULL), compiled on first use and
 * cached in memory and on disk. The kernel is owned by the context. During a warm-up
 * (oclnn_context_warmup_begin) a program not built yet is only recorded (*out is NULL) and
 * oclnn__launch runs nothing, so ops run through without computing. */
oclnn_status oclnn__kernel(oclnn_context *ctx, const char *file, const char *options,
                           const char *name, cl_kernel *out);
void oclnn__programs_release(oclnn_context *ctx);
uint64_t oclnn__hash(const void *data, size_t len, uint64_t seed);

/* Embedded sources (generated by tools/embed_cl.py into cl_sources.c). */
typedef struct oclnn_embedded_source {
    const char *name; /* "conv2d_direct_fwd.cl" */
    const char *data; /* NUL-terminated, includes inlined with #line markers */
    size_t size;
} oclnn_embedded_source;
extern const oclnn_embedded_source oclnn__sources[];
extern const size_t oclnn__nsources;

/* ---- kernel launch (launch.c) ---- */
/* One kernel argument: pointer to the value and its size. Use OCLNN_ARG(x). */
typedef struct oclnn_arg {
    const void *ptr;
    size_t size;
} oclnn_arg;
#define OCLNN_ARG(x) ((oclnn_arg){&(x), sizeof(x)})
#define OCLNN_ARG_LOCAL(bytes) ((oclnn_arg){NULL, (bytes)})

/* Sets the arguments and enqueues k. global is rounded up to a multiple of local (when local is
 * given) so every work-group is uniform: kernels guard their own bounds. `op` is a static string
 * naming the op for profiling ("conv2d"). */
oclnn_status oclnn__launch(oclnn_context *ctx, const char *op, cl_kernel k, const oclnn_arg *args,
                           size_t nargs, cl_uint dims, const size_t *global, const size_t *local);
/* Records an event from an enqueue the caller made itself (CLBlast calls); takes ownership. */
void oclnn__profile_event(oclnn_context *ctx, const char *op, const char *kernel, cl_event ev);
/* A marker for oclnn__profile_span, queued where profiling is on (else NULL). */
cl_event oclnn__profile_mark(oclnn_context *ctx);
/* Records the commands a library call queued after the marker begin (may be NULL), up to ev,
 * the event it returned for its last command (CLBlast returns one event for the several kernels
 * of an indirect GEMM). */
void oclnn__profile_span(oclnn_context *ctx, const char *op, const char *kernel, cl_event begin,
                         cl_event ev);
/* While profiling, counts one call of op and the work it asked for: flops (2 per multiply-add;
 * 0 for memory-bound ops) and the bytes it must move at least. oclnn_profile_print divides them
 * by the op's kernel time. */
void oclnn__profile_work(oclnn_context *ctx, const char *op, double flops, double bytes);
/* Writes the recorded events to the OCLNN_TRACE file (if any) and releases them. */
void oclnn__profile_flush(oclnn_context *ctx);
void oclnn__trace_open(oclnn_context *ctx);
void oclnn__trace_close(oclnn_context *ctx);
/* The event pointer to pass to an enqueue: NULL unless profiling. */
static inline cl_event *oclnn__event_slot(oclnn_context *ctx, cl_event *slot)
{
    *slot = NULL;
    return ctx->profile ? slot : NULL;
}

/* ---- scratch (context.c) ---- */
/* A workspace buffer of at least `bytes`, valid until the next call that asks for workspace.
 * Grows (allocates) only when a larger size is asked for than ever before. */
oclnn_status oclnn__workspace(oclnn_context *ctx, size_t bytes, const char *op, cl_mem *out);

/* ---- tensors (tensor.c) ---- */
/* Checks t is non-NULL, belongs to ctx and is f32; names it as `op: name`. */
oclnn_status oclnn__check_tensor(oclnn_context *ctx, const char *op, const char *name,
                                 const oclnn_tensor *t);
/* NCHW view of a descriptor: 4-D as is; 2-D [n][f] as [n][f][1][1]; 1-D [n] as [n][1][1][1]. */
void oclnn__nchw(const oclnn_tensor_desc *d, int *n, int *c, int *h, int *w);
/* Bytes of one element of a dtype. */
size_t oclnn__dtype_size(oclnn_dtype t);
/* "[2][3][4][5]" for messages. */
const char *oclnn__shape_str(const oclnn_tensor_desc *d, char *buf, size_t size);
/* Checks a tensor has exactly `count` elements; message names op, name, shape and expected. */
oclnn_status oclnn__check_count(oclnn_context *ctx, const char *op, const char *name,
                                const oclnn_tensor *t, size_t count);

/* ---- GEMM (gemm.c): CLBlast with parameters for the device ---- */
/* Row-major C = alpha * op(A) * op(B) + beta * C with element offsets and leading dimensions.
 * CLBlast's temporary buffer (indirect path) is a separate buffer gemm.c owns and grows, not
 * the context workspace, so callers may keep their operands (im2col columns) in the
 * workspace. beta == 0 never reads C (NaN in C does not propagate). */
oclnn_status oclnn__sgemm(oclnn_context *ctx, const char *op, bool trans_a, bool trans_b,
                          size_t m, size_t n, size_t k, float alpha, cl_mem a, size_t a_off,
                          size_t lda, cl_mem b, size_t b_off, size_t ldb, float beta, cl_mem c,
                          size_t c_off, size_t ldc);
/* Batched strided variant: `batch` GEMMs, operand i starting at off + i * stride. */
oclnn_status oclnn__sgemm_strided(oclnn_context *ctx, const char *op, bool trans_a, bool trans_b,
                                  size_t m, size_t n, size_t k, float alpha, cl_mem a,
                                  size_t a_off, size_t lda, size_t a_stride, cl_mem b,
                                  size_t b_off, size_t ldb, size_t b_stride, float beta, cl_mem c,
                                  size_t c_off, size_t ldc, size_t c_stride, size_t batch);
/* Applies device-specific CLBlast parameters at context creation. */
oclnn_status oclnn__gemm_init(oclnn_context *ctx);
void oclnn__gemm_release(oclnn_context *ctx);

/* ---- element-wise (elementwise.c) ---- */
/* Sets n floats of y from y_off to value, a kernel of op (its work is op's to count). */
oclnn_status oclnn__fill(oclnn_context *ctx, const char *op, cl_mem y, size_t y_off, size_t n,
                         float value);
/* oclnn_add (unchecked) writing the ReLU of the sum when relu is set (a network's residual). */
oclnn_status oclnn__add(oclnn_context *ctx, float alpha, const oclnn_tensor *a, float beta,
                        const oclnn_tensor *b, bool relu, oclnn_tensor *y);
/* The backward of a ReLU, y its output, into the gradients of both inputs of the residual before
 * it: g = dy where y > 0 else 0; dx0 = g, or dx0 + g with acc0; dx1 likewise. Unchecked; all
 * of y's element count; dx0 and dx1 must not overlap (dy may be either). */
oclnn_status oclnn__relu_backward_pair(oclnn_context *ctx, const oclnn_tensor *y,
                                       const oclnn_tensor *dy, oclnn_tensor *dx0, bool acc0,
                                       oclnn_tensor *dx1, bool acc1);

/* ---- batch norm with the ReLU after it (batchnorm.c) ---- */
/* oclnn_batchnorm_forward_training / _inference writing max(y, 0) when relu is set (NaN kept,
 * as the ReLU op). */
oclnn_status oclnn__batchnorm_forward_training(oclnn_context *ctx, const oclnn_batchnorm_desc *desc,
                                               const oclnn_tensor *x, const oclnn_tensor *gamma,
                                               const oclnn_tensor *beta,
                                               oclnn_tensor *running_mean,
                                               oclnn_tensor *running_var, oclnn_tensor *save_mean,
                                               oclnn_tensor *save_invstd, bool relu,
                                               oclnn_tensor *y);
oclnn_status oclnn__batchnorm_forward_inference(
    oclnn_context *ctx, const oclnn_batchnorm_desc *desc, const oclnn_tensor *x,
    const oclnn_tensor *gamma, const oclnn_tensor *beta, const oclnn_tensor *running_mean,
    const oclnn_tensor *running_var, bool relu, oclnn_tensor *y);
/* oclnn_batchnorm_backward; with relu_beta (the forward's beta) dy is the gradient of the
 * ReLU's output, masked where the training forward with relu wrote 0 (the mask recomputed from
 * x, exactly the forward's). */
oclnn_status oclnn__batchnorm_backward(oclnn_context *ctx, const oclnn_batchnorm_desc *desc,
                                       const oclnn_tensor *x, const oclnn_tensor *dy,
                                       const oclnn_tensor *gamma, const oclnn_tensor *relu_beta,
                                       const oclnn_tensor *save_mean,
                                       const oclnn_tensor *save_invstd, oclnn_tensor *dx,
                                       oclnn_tensor *dgamma, oclnn_tensor *dbeta, float beta_acc);

/* ---- pooling (pool.c) ---- */
/* Whether every window position of max pooling with d's window fits a byte of arg-max code. */
static inline bool oclnn__pool_codes_fit(const oclnn_pool2d_desc *d)
{
    return (long)d->window_h * d->window_w <= 256;
}

/* ---- utilities ---- */
static inline size_t oclnn__round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }
static inline size_t oclnn__div_up(size_t x, size_t m) { return (x + m - 1) / m; }

#endif
