/* oclnn.h - the one public header of oclnn, a portable OpenCL compute backend for conv nets.
 *
 * Conventions used throughout:
 * - Every function returns an oclnn_status; out-parameters come last and are set to NULL/0 on
 *   failure. oclnn_x_destroy(NULL) is a no-op.
 * - After a failure, oclnn_last_error(ctx) describes it in one line: the operation, the offending
 *   value and the rule ("conv2d: groups 3 does not divide input channels 64"). Failures that have
 *   no context (context creation, pure helpers) are described by oclnn_last_error(NULL), a
 *   thread-local message.
 * - Tensors are f32 (or i32 for labels), row-major, documented as x[n][c][h][w]. A tensor is a
 *   descriptor plus a cl_mem and an element offset.
 * - Ops enqueue kernels on the context's in-order queue and return without waiting; results are
 *   visible after oclnn_context_finish() or a blocking download. Bad arguments are rejected before
 *   anything is enqueued.
 * - Thread safety: different contexts may be used from different threads at once; one context
 *   must be used by one thread at a time (OpenCL kernel arguments are per cl_kernel).
 */
#ifndef OCLNN_H
#define OCLNN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(OCLNN_BUILDING)
#define OCLNN_API __declspec(dllexport)
#elif defined(__GNUC__)
#define OCLNN_API __attribute__((visibility("default")))
#else
#define OCLNN_API
#endif

#define OCLNN_VERSION_MAJOR 0
#define OCLNN_VERSION_MINOR 1
#define OCLNN_VERSION_PATCH 0
#define OCLNN_VERSION_STRING "0.1.0"

/* ---------------------------------------------------------------------------------------------
 * Status codes. Values are pinned forever; new ones are only appended.
 */
typedef enum oclnn_status {
    OCLNN_SUCCESS = 0,
    OCLNN_INVALID_ARGUMENT = 1, /* the caller broke a documented rule (a bug in the caller) */
    OCLNN_UNSUPPORTED = 2,      /* valid, but not available on this device / algorithm */
    OCLNN_OUT_OF_MEMORY = 3,    /* host or device allocation failed */
    OCLNN_OPENCL_ERROR = 4,     /* an OpenCL call failed; the message names call and error */
    OCLNN_BUILD_FAILURE = 5,    /* a kernel program failed to build; the message has the log */
    OCLNN_DEVICE_NOT_FOUND = 6, /* no device matches OCLNN_DEVICE (message lists them all) */
    OCLNN_IO_ERROR = 7,         /* a file could not be read or written */
    OCLNN_CORRUPT_DATA = 8,     /* a file is malformed, truncated or fails its checksum */
} oclnn_status;

/* A static, never-NULL string naming the status ("invalid argument"). */
OCLNN_API const char *oclnn_status_string(oclnn_status status);

typedef struct oclnn_context oclnn_context;

/* The message of the last failure on ctx, or of the calling thread when ctx is NULL. Owned by
 * the library; valid until the next call on the same context (or thread). Never NULL. */
OCLNN_API const char *oclnn_last_error(const oclnn_context *ctx);

/* ---------------------------------------------------------------------------------------------
 * Devices and contexts.
 */
typedef struct oclnn_device_info {
    int platform_index;           /* P of "P:D", as clinfo -l lists them */
    int device_index;             /* D of "P:D" */
    char platform_name[128];
    char platform_version[128];
    char platform_vendor[128];    /* "The pocl project", "NVIDIA Corporation" */
    char vendor[128];             /* the device's vendor */
    char name[256];
    char driver_version[128];
    char device_version[128];     /* "OpenCL 3.0 ..." */
    char opencl_c_version[128];   /* "OpenCL C 1.2 ..." */
    cl_device_type type;          /* CL_DEVICE_TYPE_CPU / GPU / ACCELERATOR */
    unsigned compute_units;
    uint64_t global_mem_bytes;
    uint64_t max_alloc_bytes;
    uint64_t local_mem_bytes;
    int local_mem_is_global;      /* CL_GLOBAL local memory: emulated, no speed benefit */
    size_t max_work_group_size;
    int has_fp16;                 /* cl_khr_fp16 */
    int has_fp64;                 /* cl_khr_fp64 or a double fp config */
    unsigned native_vector_width_float; /* floats per native vector: 8 for AVX2, 16 for
                                         * AVX-512 on POCL; 1 on most GPUs */
} oclnn_device_info;

/* Lists every OpenCL device: fills up to `capacity` entries of `devices` (may be NULL when
 * capacity is 0) and sets *count to the number found. Platforms that fail to enumerate are
 * skipped; their reasons are written to `skipped` (may be NULL), one line each, truncated to
 * skipped_size bytes. Errors: OCLNN_DEVICE_NOT_FOUND when there is no platform at all. */
OCLNN_API oclnn_status oclnn_devices_list(oclnn_device_info *devices, size_t capacity,
                                          size_t *count, char *skipped, size_t skipped_size);

/* Picks a device with a selector string, the grammar of OCLNN_DEVICE:
 *   NULL or ""     the first GPU, else the first accelerator, else the first CPU
 *   "P:D"          platform P, device D (indices as clinfo -l lists them)
 *   "cpu" "gpu" "accelerator"     the first device of that type; "gpu:1" = the second GPU
 *   anything else  a case-insensitive substring of "platform vendor device-name"
 *                  ("nvidia", "pocl", "rtx 4090"); the first match
 * On success *info is the chosen device and `why` (may be NULL) says why it was chosen.
 * Errors: OCLNN_DEVICE_NOT_FOUND (the message lists every device with its P:D),
 * OCLNN_INVALID_ARGUMENT for a malformed "P:D". */
OCLNN_API oclnn_status oclnn_device_select(const char *selector, oclnn_device_info *info,
                                           char *why, size_t why_size);

/* Creates a context on the device chosen by the OCLNN_DEVICE environment variable (see
 * oclnn_device_select), with its own cl_context and in-order queue. */
OCLNN_API oclnn_status oclnn_context_create(oclnn_context **out);

/* Same with an explicit selector; NULL means the default device (OCLNN_DEVICE is ignored). */
OCLNN_API oclnn_status oclnn_context_create_with(const char *selector, oclnn_context **out);

/* Wraps an application's own OpenCL objects. The library retains all three and releases only
 * what it retained at destroy. The queue must be in-order and belong to context and device; the
 * library enables no profiling on it (OCLNN_PROFILE then reports nothing unless the queue was
 * created with CL_QUEUE_PROFILING_ENABLE). */
OCLNN_API oclnn_status oclnn_context_wrap(cl_context context, cl_device_id device,
                                          cl_command_queue queue, oclnn_context **out);

/* Releases everything the context owns (buffers created through it must be destroyed first).
 * Waits for queued work. NULL is a no-op. */
OCLNN_API void oclnn_context_destroy(oclnn_context *ctx);

/* Waits until everything enqueued on the context's queue has finished. */
OCLNN_API oclnn_status oclnn_context_finish(oclnn_context *ctx);

/* The OpenCL objects behind a context (borrowed: do not release). Any pointer may be NULL. */
OCLNN_API oclnn_status oclnn_context_get_cl(const oclnn_context *ctx, cl_context *context,
                                            cl_device_id *device, cl_command_queue *queue);

/* The device the context runs on. */
OCLNN_API oclnn_status oclnn_context_device_info(const oclnn_context *ctx, oclnn_device_info *info);

/* The kernel binary cache directory in use ("off" when disabled): $OCLNN_CACHE_DIR, else
 * $XDG_CACHE_HOME/oclnn, else ~/.cache/oclnn. Read once at context creation. */
OCLNN_API oclnn_status oclnn_context_cache_dir(const oclnn_context *ctx, const char **dir);

/* Program cache statistics since the context was created (for tools and tests). */
typedef struct oclnn_cache_stats {
    unsigned memory_hits;  /* programs found already built in this context */
    unsigned disk_hits;    /* programs loaded from a disk cache entry */
    unsigned disk_misses;  /* no usable entry: built from source */
    unsigned disk_corrupt; /* entries found but refused (truncated, bad checksum, wrong key) */
    unsigned disk_writes;  /* entries written */
    unsigned builds;       /* clBuildProgram calls from source */
} oclnn_cache_stats;
OCLNN_API oclnn_status oclnn_context_cache_stats(const oclnn_context *ctx, oclnn_cache_stats *stats);

/* Device scratch memory. Ops that need a workspace (im2col, GEMM temporaries, Winograd
 * transforms) take it from one buffer the context owns; it grows on first need up to the limit
 * (default 1 GiB or a quarter of the device memory, whichever is smaller). Reserve the largest
 * size up front (oclnn_*_workspace_size) so steady-state calls never allocate. An op whose
 * workspace would pass the limit picks another algorithm or returns OCLNN_OUT_OF_MEMORY. */
OCLNN_API oclnn_status oclnn_context_set_workspace_limit(oclnn_context *ctx, size_t bytes);
OCLNN_API oclnn_status oclnn_context_reserve_workspace(oclnn_context *ctx, size_t bytes);

/* Parallel warm-up of kernel builds. warmup_begin starts `threads` build threads (0: one per
 * compute unit). Until warmup_end, ops validate their arguments and record the kernel programs
 * they need instead of running their kernels (their outputs are undefined: GEMMs, fills and
 * copies still run, so CLBlast compiles its kernels on the calling thread meanwhile); each
 * recorded program is built at once by a build thread, from the disk cache where possible, with
 * a line per program to `progress` (may be NULL). warmup_end waits for the builds and reports the
 * first failure. Use it around one call of each op (or one training step: oclnn_net_warmup). */
OCLNN_API oclnn_status oclnn_context_warmup_begin(oclnn_context *ctx, int threads,
                                                  FILE *progress);
OCLNN_API oclnn_status oclnn_context_warmup_end(oclnn_context *ctx);

/* Runs the built-in self-check: builds one real kernel, runs it on the device and compares with
 * the host. *max_abs_err (may be NULL) receives the largest difference. OCLNN_SUCCESS = PASS. */
OCLNN_API oclnn_status oclnn_self_check(oclnn_context *ctx, double *max_abs_err);

/* ---------------------------------------------------------------------------------------------
 * Profiling. With OCLNN_PROFILE=1 in the environment at context creation (or after
 * oclnn_profile_enable), every kernel the library enqueues is timed with OpenCL events; a CLBlast
 * GEMM (several kernels, one event) from a marker queued before the call to the end of its last
 * kernel, so it includes CLBlast's host work where the queue ran dry meanwhile. The report
 * groups time by op ("conv2d", "batchnorm") and by kernel. With OCLNN_TRACE=file.json
 * the same events are also written as a Chrome trace-event file (chrome://tracing, Perfetto),
 * flushed at oclnn_profile_reset and completed at oclnn_context_destroy.
 */
OCLNN_API oclnn_status oclnn_profile_enable(oclnn_context *ctx, int enable);
OCLNN_API oclnn_status oclnn_profile_reset(oclnn_context *ctx);
/* Waits for the queue, then prints two tables to `out`: by op and kernel (count, total ms, % of
 * the total), then by op (calls, total ms, the rate its calls' work ran at: GFLOP/s for
 * convolution, GEMM and linear layers, GB/s of the bytes they must move for the memory-bound
 * ops, and % of the total). */
OCLNN_API oclnn_status oclnn_profile_print(oclnn_context *ctx, FILE *out);
/* Total device milliseconds recorded for one op name (e.g. "conv2d"); 0 if none. */
OCLNN_API oclnn_status oclnn_profile_op_ms(oclnn_context *ctx, const char *op, double *ms);

/* ---------------------------------------------------------------------------------------------
 * Tensors.
 */
/* OCLNN_U8 holds bytes: the arg-max positions of max pooling (oclnn_pool2d_forward_argmax). */
typedef enum oclnn_dtype { OCLNN_F32 = 0, OCLNN_I32 = 1, OCLNN_U8 = 2 } oclnn_dtype;

/* Shape of a tensor. ndim is 1, 2 or 4; dims[] beyond ndim are ignored.
 *   4-D: x[n][c][h][w]   2-D: x[n][features]   1-D: x[n] (parameters, labels) */
typedef struct oclnn_tensor_desc {
    oclnn_dtype dtype;
    int ndim;
    int dims[4];
} oclnn_tensor_desc;

OCLNN_API oclnn_tensor_desc oclnn_tensor_desc_4d(int n, int c, int h, int w);
OCLNN_API oclnn_tensor_desc oclnn_tensor_desc_2d(int n, int features);
OCLNN_API oclnn_tensor_desc oclnn_tensor_desc_1d(int n);
/* Number of elements (0 for an invalid descriptor). */
OCLNN_API size_t oclnn_tensor_desc_count(const oclnn_tensor_desc *desc);

typedef struct oclnn_tensor oclnn_tensor;

/* Allocates a device buffer for desc. Contents are undefined until written. The buffer is 4 KiB
 * longer than the tensor: the convolution kernels read the last vectors of a row past its end
 * (into lanes they drop), and with that room they read an input in place where a wrapped buffer
 * of the tensor's exact size gets copied first (1x1 stride-1 layers without padding). On a CPU
 * device a buffer of 2 MiB or more is host memory the library allocates 2 MiB-aligned and
 * advises into transparent huge pages (Linux), passed to the driver with CL_MEM_USE_HOST_PTR;
 * mapping it (oclnn_tensor_get_mem) therefore maps that memory in place. */
OCLNN_API oclnn_status oclnn_tensor_create(oclnn_context *ctx, const oclnn_tensor_desc *desc,
                                           oclnn_tensor **out);
/* Wraps an existing buffer: the tensor starts `offset` elements into `mem`. The library retains
 * mem until the tensor is destroyed. Errors if mem is too small for offset + the tensor. A
 * buffer with 4 KiB past the tensor's end lets the convolutions read it in place, as above. */
OCLNN_API oclnn_status oclnn_tensor_wrap(oclnn_context *ctx, const oclnn_tensor_desc *desc,
                                         cl_mem mem, size_t offset, oclnn_tensor **out);
/* A view of `base` with another shape (flatten/reshape) starting `offset` elements into it; it
 * shares (and retains) the buffer. Errors if it does not fit inside base. */
OCLNN_API oclnn_status oclnn_tensor_view(oclnn_context *ctx, const oclnn_tensor *base,
                                         const oclnn_tensor_desc *desc, size_t offset,
                                         oclnn_tensor **out);
OCLNN_API void oclnn_tensor_destroy(oclnn_tensor *t);

OCLNN_API oclnn_tensor_desc oclnn_tensor_get_desc(const oclnn_tensor *t);
/* The buffer (borrowed) and element offset behind a tensor. */
OCLNN_API oclnn_status oclnn_tensor_get_mem(const oclnn_tensor *t, cl_mem *mem, size_t *offset);

/* Copies `count` elements (must equal the tensor's element count) between host and device.
 * blocking = 0: the call returns at once and `host` must stay valid (and, for upload, unchanged)
 * until oclnn_context_finish(). Element type is the tensor's dtype (float or int32_t). */
OCLNN_API oclnn_status oclnn_tensor_upload(oclnn_context *ctx, oclnn_tensor *t, const void *host,
                                           size_t count, int blocking);
OCLNN_API oclnn_status oclnn_tensor_download(oclnn_context *ctx, const oclnn_tensor *t,
                                             void *host, size_t count, int blocking);
/* Class labels: validates every label is in [0, num_classes) on the host (naming the first bad
 * index and value) before uploading anything. t must be an I32 tensor of `count` elements. */
OCLNN_API oclnn_status oclnn_tensor_upload_labels(oclnn_context *ctx, oclnn_tensor *t,
                                                  const int32_t *labels, size_t count,
                                                  int num_classes, int blocking);
/* Sets every element to value (f32 tensors), (int32_t)value (i32) or (uint8_t)value (u8: value
 * must lie in 0..255). */
OCLNN_API oclnn_status oclnn_tensor_fill(oclnn_context *ctx, oclnn_tensor *t, float value);

/* ---------------------------------------------------------------------------------------------
 * Activations used by fused epilogues and the activation ops.
 */
typedef enum oclnn_activation {
    OCLNN_ACT_NONE = 0,
    OCLNN_ACT_RELU = 1,
    OCLNN_ACT_GELU = 2,      /* exact: x * 0.5 * (1 + erf(x / sqrt(2))) */
    OCLNN_ACT_GELU_TANH = 3, /* 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))) */
} oclnn_activation;

/* ---------------------------------------------------------------------------------------------
 * 2-D convolution, NCHW: x[n][c][h][w], w[k][c/groups][r][s], b[k], y[n][k][h'][w'] with
 *   h' = 1 + (h + pad_top + pad_bottom - dilation_h*(r-1) - 1) / stride_h   (same for width).
 * Forward computes y = act(conv(x, w) + b) + z, where b and z (the residual, shaped like y) are
 * optional: the residual is added after the activation (z is the skip branch of a block whose
 * activation follows the add when the caller adds it with oclnn_add + an activation op, or when
 * residual_before_act is set: y = act(conv + b + z)).
 */
typedef enum oclnn_conv_algo {
    OCLNN_CONV_AUTO = 0,      /* heuristic by shape and device */
    OCLNN_CONV_DIRECT = 1,    /* direct tiled kernel: any descriptor */
    OCLNN_CONV_IM2COL_GEMM = 2, /* im2col into the workspace + GEMM: any descriptor */
    OCLNN_CONV_GEMM_1X1 = 3,  /* 1x1, stride 1, no padding: plain GEMM, no im2col */
    OCLNN_CONV_DEPTHWISE = 4, /* groups == input channels (any channel multiplier) */
    OCLNN_CONV_WINOGRAD = 5,  /* 3x3, stride 1, dilation 1, groups 1 */
} oclnn_conv_algo;

typedef struct oclnn_conv2d_desc {
    int pad_top, pad_bottom, pad_left, pad_right; /* >= 0 and smaller than the dilated kernel
                                                   * extent dilation*(r-1)+1 (no window may
                                                   * see only padding) */
    int stride_h, stride_w;                       /* >= 1 */
    int dilation_h, dilation_w;                   /* >= 1 */
    int groups;                                   /* >= 1, divides c and k */
    oclnn_activation activation;                  /* forward epilogue */
    int residual_before_act;                      /* 0: act(conv+b)+z, 1: act(conv+b+z) */
    oclnn_conv_algo algo;                         /* OCLNN_CONV_AUTO or a forced algorithm */
} oclnn_conv2d_desc;

/* stride 1, dilation 1, no padding, groups 1, no activation, AUTO. */
OCLNN_API oclnn_conv2d_desc oclnn_conv2d_desc_default(void);
/* Convenience: same padding on all sides. */
OCLNN_API void oclnn_conv2d_desc_set_pad(oclnn_conv2d_desc *desc, int pad_h, int pad_w);

/* Validates desc with x and w shapes (no buffers touched) and gives the shape of y. */
OCLNN_API oclnn_status oclnn_conv2d_output_shape(const oclnn_conv2d_desc *desc,
                                                 const oclnn_tensor_desc *x,
                                                 const oclnn_tensor_desc *w,
                                                 oclnn_tensor_desc *y);

typedef enum oclnn_conv_pass {
    OCLNN_CONV_FORWARD = 0,
    OCLNN_CONV_BACKWARD_DATA = 1,
    OCLNN_CONV_BACKWARD_WEIGHTS = 2,
} oclnn_conv_pass;

/* The algorithm a pass will run on this context's device (AUTO's pick, or desc->algo after
 * checking it applies: OCLNN_UNSUPPORTED otherwise) and the workspace bytes it needs. */
OCLNN_API oclnn_status oclnn_conv2d_choose(oclnn_context *ctx, const oclnn_conv2d_desc *desc,
                                           oclnn_conv_pass pass, const oclnn_tensor_desc *x,
                                           const oclnn_tensor_desc *w, oclnn_conv_algo *algo,
                                           size_t *workspace_bytes);

/* y = act(conv(x, w) + b) + z  (or act(conv + b + z)). b (shape [k]) and z may be NULL. */
OCLNN_API oclnn_status oclnn_conv2d_forward(oclnn_context *ctx, const oclnn_conv2d_desc *desc,
                                            const oclnn_tensor *x, const oclnn_tensor *w,
                                            const oclnn_tensor *b, const oclnn_tensor *z,
                                            oclnn_tensor *y);
/* dx = beta * dx + conv_transpose(dy, w). beta is 0 (overwrite) or 1 (accumulate).
 * dy is the gradient with respect to the convolution output before any fused activation: apply
 * the activation's backward first. desc->activation is ignored. */
OCLNN_API oclnn_status oclnn_conv2d_backward_data(oclnn_context *ctx, const oclnn_conv2d_desc *desc,
                                                  const oclnn_tensor *dy, const oclnn_tensor *w,
                                                  oclnn_tensor *dx, float beta);
/* dw = beta * dw + dL/dw and db = beta * db + sum over n,h,w of dy (db may be NULL). */
OCLNN_API oclnn_status oclnn_conv2d_backward_weights(oclnn_context *ctx,
                                                     const oclnn_conv2d_desc *desc,
                                                     const oclnn_tensor *x, const oclnn_tensor *dy,
                                                     oclnn_tensor *dw, oclnn_tensor *db, float beta);

/* ---------------------------------------------------------------------------------------------
 * Pooling, NCHW. Output size as convolution with window for kernel and dilation 1 (floor).
 * Max backward routes each gradient to the first index (row-major within the window) holding
 * the maximum. Padded positions never win a max. A NaN in a window makes its max NaN (PyTorch's
 * rule: the gradient then goes to the window's last NaN).
 */
typedef enum oclnn_pool_mode {
    OCLNN_POOL_MAX = 0,
    OCLNN_POOL_AVG = 1,          /* average counting padded positions (PyTorch default) */
    OCLNN_POOL_AVG_EXCLUDE_PAD = 2, /* average over the positions inside the input only */
} oclnn_pool_mode;

typedef struct oclnn_pool2d_desc {
    oclnn_pool_mode mode;
    int window_h, window_w;
    int stride_h, stride_w;
    int pad_top, pad_bottom, pad_left, pad_right; /* each < the window in its direction */
} oclnn_pool2d_desc;

/* 2x2 window, stride 2, no padding, max. */
OCLNN_API oclnn_pool2d_desc oclnn_pool2d_desc_default(void);
OCLNN_API oclnn_status oclnn_pool2d_output_shape(const oclnn_pool2d_desc *desc,
                                                 const oclnn_tensor_desc *x, oclnn_tensor_desc *y);
OCLNN_API oclnn_status oclnn_pool2d_forward(oclnn_context *ctx, const oclnn_pool2d_desc *desc,
                                            const oclnn_tensor *x, oclnn_tensor *y);
/* dx = dL/dx (overwritten). x is the forward input (max pooling recomputes the arg-max). */
OCLNN_API oclnn_status oclnn_pool2d_backward(oclnn_context *ctx, const oclnn_pool2d_desc *desc,
                                             const oclnn_tensor *x, const oclnn_tensor *dy,
                                             oclnn_tensor *dx);
/* Max pooling for training, as PyTorch keeps its indices: the forward also writes argmax, an
 * OCLNN_U8 tensor of y's shape holding each window's arg-max as its position in the window,
 * i * window_w + j (same tie and NaN rules), so the backward reads a byte per output instead of
 * x. Needs mode OCLNN_POOL_MAX and window_h * window_w <= 256. */
OCLNN_API oclnn_status oclnn_pool2d_forward_argmax(oclnn_context *ctx,
                                                   const oclnn_pool2d_desc *desc,
                                                   const oclnn_tensor *x, oclnn_tensor *y,
                                                   oclnn_tensor *argmax);
/* dx = dL/dx (overwritten, shaped like the forward's x) from dy and the forward's argmax. */
OCLNN_API oclnn_status oclnn_pool2d_backward_argmax(oclnn_context *ctx,
                                                    const oclnn_pool2d_desc *desc,
                                                    const oclnn_tensor *argmax,
                                                    const oclnn_tensor *dy, oclnn_tensor *dx);
/* y[n][c] (2-D, or 4-D [n][c][1][1]) = mean over h,w of x[n][c][h][w]. */
OCLNN_API oclnn_status oclnn_global_avg_pool_forward(oclnn_context *ctx, const oclnn_tensor *x,
                                                     oclnn_tensor *y);
OCLNN_API oclnn_status oclnn_global_avg_pool_backward(oclnn_context *ctx, const oclnn_tensor *dy,
                                                      oclnn_tensor *dx);

/* ---------------------------------------------------------------------------------------------
 * Batch normalisation over N, H, W per channel (x 4-D [n][c][h][w] or 2-D [n][c]).
 * gamma, beta, running_mean, running_var, save_mean, save_invstd: c elements each.
 * Training: y = gamma * (x - mean) / sqrt(var + eps) + beta with the biased batch variance;
 * running_mean = (1 - momentum) * running_mean + momentum * mean and the same for running_var
 * with the unbiased variance (PyTorch's convention; with a single element per channel, where it
 * is undefined, 0 is used). save_mean/save_invstd keep mean and 1/sqrt(var + eps) for the
 * backward pass. Statistics are computed in two passes over cache-sized blocks whose partial
 * results are merged in a fixed order (results are deterministic).
 */
typedef struct oclnn_batchnorm_desc {
    float eps;      /* > 0, default 1e-5 */
    float momentum; /* in [0, 1], default 0.1 */
} oclnn_batchnorm_desc;
OCLNN_API oclnn_batchnorm_desc oclnn_batchnorm_desc_default(void);

OCLNN_API oclnn_status oclnn_batchnorm_forward_training(
    oclnn_context *ctx, const oclnn_batchnorm_desc *desc, const oclnn_tensor *x,
    const oclnn_tensor *gamma, const oclnn_tensor *beta, oclnn_tensor *running_mean,
    oclnn_tensor *running_var, oclnn_tensor *save_mean, oclnn_tensor *save_invstd, oclnn_tensor *y);
OCLNN_API oclnn_status oclnn_batchnorm_forward_inference(
    oclnn_context *ctx, const oclnn_batchnorm_desc *desc, const oclnn_tensor *x,
    const oclnn_tensor *gamma, const oclnn_tensor *beta, const oclnn_tensor *running_mean,
    const oclnn_tensor *running_var, oclnn_tensor *y);
/* dx (overwritten), dgamma and dbeta (dgamma = beta_acc * dgamma + ..., beta_acc 0 or 1). */
OCLNN_API oclnn_status oclnn_batchnorm_backward(
    oclnn_context *ctx, const oclnn_batchnorm_desc *desc, const oclnn_tensor *x,
    const oclnn_tensor *dy, const oclnn_tensor *gamma, const oclnn_tensor *save_mean,
    const oclnn_tensor *save_invstd, oclnn_tensor *dx, oclnn_tensor *dgamma, oclnn_tensor *dbeta,
    float beta_acc);

/* Folds inference batch norm into the convolution before it, for inference: with
 * s[k] = gamma[k] / sqrt(running_var[k] + eps), w_out[k] = w[k] * s[k] (w [k][c/groups][r][s])
 * and b_out[k] = (b[k] - running_mean[k]) * s[k] + beta[k] (b may be NULL: no bias). A
 * convolution with w_out and b_out then gives batchnorm_forward_inference of the convolution
 * with w and b (up to rounding), in one pass instead of two. w_out may be w and b_out may be b. */
OCLNN_API oclnn_status oclnn_batchnorm_fold_conv(
    oclnn_context *ctx, const oclnn_batchnorm_desc *desc, const oclnn_tensor *w,
    const oclnn_tensor *b, const oclnn_tensor *gamma, const oclnn_tensor *beta,
    const oclnn_tensor *running_mean, const oclnn_tensor *running_var, oclnn_tensor *w_out,
    oclnn_tensor *b_out);

/* ---------------------------------------------------------------------------------------------
 * Layer normalisation.
 *   OCLNN_LAYERNORM_CHW: statistics over everything but n (c,h,w of a 4-D x, features of a 2-D
 *     x); gamma and beta have that many elements (PyTorch nn.LayerNorm([c, h, w])).
 *   OCLNN_LAYERNORM_CHANNELS: statistics over c at each (n, h, w) position, gamma/beta [c]
 *     (ConvNeXt's channels-first LayerNorm).
 * save_mean/save_invstd hold one value per normalised group (n, or n*h*w).
 */
typedef enum oclnn_layernorm_mode {
    OCLNN_LAYERNORM_CHW = 0,
    OCLNN_LAYERNORM_CHANNELS = 1,
} oclnn_layernorm_mode;
typedef struct oclnn_layernorm_desc {
    oclnn_layernorm_mode mode;
    float eps; /* > 0, default 1e-6 (ConvNeXt) */
} oclnn_layernorm_desc;
OCLNN_API oclnn_layernorm_desc oclnn_layernorm_desc_default(void);

OCLNN_API oclnn_status oclnn_layernorm_forward(oclnn_context *ctx, const oclnn_layernorm_desc *desc,
                                               const oclnn_tensor *x, const oclnn_tensor *gamma,
                                               const oclnn_tensor *beta, oclnn_tensor *save_mean,
                                               oclnn_tensor *save_invstd, oclnn_tensor *y);
OCLNN_API oclnn_status oclnn_layernorm_backward(
    oclnn_context *ctx, const oclnn_layernorm_desc *desc, const oclnn_tensor *x,
    const oclnn_tensor *dy, const oclnn_tensor *gamma, const oclnn_tensor *save_mean,
    const oclnn_tensor *save_invstd, oclnn_tensor *dx, oclnn_tensor *dgamma, oclnn_tensor *dbeta,
    float beta_acc);

/* ---------------------------------------------------------------------------------------------
 * Element-wise ops. Shapes must have equal element counts; y may alias an input.
 */
OCLNN_API oclnn_status oclnn_activation_forward(oclnn_context *ctx, oclnn_activation act,
                                                const oclnn_tensor *x, oclnn_tensor *y);
/* dx = dy * act'(x), x the activation's input. */
OCLNN_API oclnn_status oclnn_activation_backward(oclnn_context *ctx, oclnn_activation act,
                                                 const oclnn_tensor *x, const oclnn_tensor *dy,
                                                 oclnn_tensor *dx);
/* y = alpha * a + beta * b (residual add: alpha = beta = 1). */
OCLNN_API oclnn_status oclnn_add(oclnn_context *ctx, float alpha, const oclnn_tensor *a,
                                 float beta, const oclnn_tensor *b, oclnn_tensor *y);
/* y = alpha * x */
OCLNN_API oclnn_status oclnn_scale(oclnn_context *ctx, float alpha, const oclnn_tensor *x,
                                   oclnn_tensor *y);
OCLNN_API oclnn_status oclnn_copy(oclnn_context *ctx, const oclnn_tensor *x, oclnn_tensor *y);
/* Per-channel scale (ConvNeXt layer scale): y[n][c][h][w] = gamma[c] * x[n][c][h][w]. */
OCLNN_API oclnn_status oclnn_channel_scale_forward(oclnn_context *ctx, const oclnn_tensor *x,
                                                   const oclnn_tensor *gamma, oclnn_tensor *y);
/* dx = gamma * dy (overwritten); dgamma = beta_acc * dgamma + sum over n,h,w of x * dy, with
 * beta_acc 0 (overwrite) or 1 (accumulate). dx may alias x or dy. */
OCLNN_API oclnn_status oclnn_channel_scale_backward(oclnn_context *ctx, const oclnn_tensor *x,
                                                    const oclnn_tensor *dy,
                                                    const oclnn_tensor *gamma, oclnn_tensor *dx,
                                                    oclnn_tensor *dgamma, float beta_acc);

/* ---------------------------------------------------------------------------------------------
 * Linear layers: y[n][o] = sum_i x[n][i] * w[o][i] + b[o], w [o][i] (2-D), b [o] (may be NULL
 * in forward: no bias). x may be 4-D: it is flattened to [n][c*h*w] (that is the flatten layer);
 * dx has x's shape, y and dy are [n][o]. beta is any finite value (0: the output is overwritten,
 * never read). GEMMs run through CLBlast.
 */
OCLNN_API oclnn_status oclnn_linear_forward(oclnn_context *ctx, const oclnn_tensor *x,
                                            const oclnn_tensor *w, const oclnn_tensor *b,
                                            oclnn_tensor *y);
/* dx = beta * dx + dy w */
OCLNN_API oclnn_status oclnn_linear_backward_data(oclnn_context *ctx, const oclnn_tensor *dy,
                                                  const oclnn_tensor *w, oclnn_tensor *dx,
                                                  float beta);
/* dw = beta * dw + dy^T x; db = beta * db + sum_n dy (db may be NULL) */
OCLNN_API oclnn_status oclnn_linear_backward_weights(oclnn_context *ctx, const oclnn_tensor *x,
                                                     const oclnn_tensor *dy, oclnn_tensor *dw,
                                                     oclnn_tensor *db, float beta);

/* ---------------------------------------------------------------------------------------------
 * General matrix multiply on 2-D tensors (row-major), through CLBlast with the parameters tuned
 * for the device: c = alpha * op(a) * op(b) + beta * c, op(a) [m][k] (a is [k][m] when trans_a),
 * op(b) [k][n] (b is [n][k] when trans_b), c [m][n]. On CPU devices with the library's CLBlast
 * parameters, where m or n rounded up to CLBlast's tile is a multiple of 256 from 1024 on (rows
 * a multiple of 1 KiB apart share cache sets), the GEMM runs on copies with that dimension one
 * tile larger; the context keeps the copies' buffers for reuse until it is destroyed.
 */
OCLNN_API oclnn_status oclnn_gemm(oclnn_context *ctx, int trans_a, int trans_b, float alpha,
                                  const oclnn_tensor *a, const oclnn_tensor *b, float beta,
                                  oclnn_tensor *c);

/* ---------------------------------------------------------------------------------------------
 * Softmax and cross-entropy over classes: x[n][k] (2-D).
 */
/* y = softmax(x) along k, or log_softmax when log is non-zero. Stable for large logits. */
OCLNN_API oclnn_status oclnn_softmax_forward(oclnn_context *ctx, const oclnn_tensor *x,
                                             oclnn_tensor *y, int log);
/* probs = softmax(logits); loss (1 element) = mean over n of -log probs[n][labels[n]].
 * labels: I32 [n]. A label outside [0, k) on the device makes the loss NaN (validate with
 * oclnn_tensor_upload_labels). */
OCLNN_API oclnn_status oclnn_softmax_cross_entropy_forward(oclnn_context *ctx,
                                                           const oclnn_tensor *logits,
                                                           const oclnn_tensor *labels,
                                                           oclnn_tensor *probs, oclnn_tensor *loss);
/* dlogits = scale * (probs - onehot(labels)) / n  (scale 1 for the mean loss). A row whose label
 * is outside [0, k) gets NaN, as its loss does. */
OCLNN_API oclnn_status oclnn_softmax_cross_entropy_backward(oclnn_context *ctx,
                                                            const oclnn_tensor *probs,
                                                            const oclnn_tensor *labels,
                                                            float scale, oclnn_tensor *dlogits);
/* correct (I32, 1 element) = number of n with argmax_k logits[n][k] == labels[n] (ties: the
 * first index). */
OCLNN_API oclnn_status oclnn_accuracy_count(oclnn_context *ctx, const oclnn_tensor *logits,
                                            const oclnn_tensor *labels, oclnn_tensor *correct);

/* ---------------------------------------------------------------------------------------------
 * Optimisers: one kernel over a parameter buffer. param, grad and state tensors have equal
 * element counts.
 */
typedef struct oclnn_sgd_desc {
    float lr;
    float momentum;     /* 0 = plain SGD */
    float weight_decay; /* L2, added to the gradient (PyTorch SGD) */
    int nesterov;
} oclnn_sgd_desc;
/* PyTorch's SGD: g = grad + wd*p; buf = momentum*buf + g (buf = g on the first step, which is
 * the caller's: pass first_step = 1); p -= lr * (nesterov ? g + momentum*buf : buf).
 * lr, momentum and weight_decay are finite and >= 0; nesterov needs momentum > 0; with momentum 0
 * there is no buffer (momentum_buf may be NULL) and p -= lr * g. */
OCLNN_API oclnn_status oclnn_sgd_step(oclnn_context *ctx, const oclnn_sgd_desc *desc,
                                      oclnn_tensor *param, const oclnn_tensor *grad,
                                      oclnn_tensor *momentum_buf, int first_step);

typedef struct oclnn_adam_desc {
    float lr;
    float beta1, beta2, eps; /* defaults 0.9, 0.999, 1e-8 */
    float weight_decay;
    int decoupled; /* 1: AdamW (p -= lr*wd*p), 0: Adam (grad += wd*p) */
} oclnn_adam_desc;
OCLNN_API oclnn_adam_desc oclnn_adam_desc_default(void);
/* One step; `step` counts from 1 (bias correction 1 - beta^step). m and v start at zero.
 * lr >= 0, beta1 and beta2 in [0, 1), eps > 0, weight_decay >= 0, all finite. */
OCLNN_API oclnn_status oclnn_adam_step(oclnn_context *ctx, const oclnn_adam_desc *desc, long step,
                                       oclnn_tensor *param, const oclnn_tensor *grad,
                                       oclnn_tensor *m, oclnn_tensor *v);

/* Cosine learning rate with linear warm-up, computed on the host:
 *   step < warmup: base_lr * (step + 1) / warmup
 *   else: min_lr + (base_lr - min_lr) * 0.5 * (1 + cos(pi * (step - warmup) / (total - warmup)))
 * step counts from 0; total > warmup >= 0; from step = total on, the result is min_lr. */
OCLNN_API oclnn_status oclnn_lr_cosine(double base_lr, double min_lr, long step, long warmup,
                                       long total, double *lr);

/* ---------------------------------------------------------------------------------------------
 * GEMM tuning. Every GEMM of the library runs through CLBlast with parameters set per device
 * (CLBlast keeps them per cl_device_id for the whole process: contexts on one device share them;
 * the last context created or tuned sets them, except the Xgemm set, which each GEMM gives back
 * where another context changed it). At context creation the set comes from the tuning
 * file <cache_dir>/tuning-<hash of platform, device, driver>.txt when it exists and is valid,
 * else from built-in defaults per device type (measured CPU-style tiles for CPUs; CLBlast's own
 * database for GPUs). A malformed file is ignored and the reason kept (oclnn_tune_info).
 *
 * The file is plain text: a "# oclnn tuning file v2" line (files of v1, GEMM lines only, are
 * read too), "#" comment lines (device, measured GFLOP/s), then one line per CLBlast kernel:
 * "Xgemm GEMMK=0 KREG=1 KWG=32 ...", "XgemmK1 GEMMK=1 ...", "XgemmDirect ...", "GemmRoutine
 * XGEMM_MIN_INDIRECT_SIZE=...", and the convolution entries ("conv2d ...", see Convolution
 * tuning). Every parameter of a kernel must be given once; values are checked against CLBlast's
 * constraints (and GEMMK=1 against MWG != NWG, which CLBlast 1.5's GEMM runs past its buffers
 * with). A file with any malformed line is ignored as a whole. Each tuner rewrites the
 * file with its own results and keeps the other's lines.
 *
 * XgemmK1 is a second set for CLBlast's Xgemm, of its GEMMK=1 kernel (the AVX-512 CPU defaults
 * have one; the tuner searches it after the first set, on the shapes that go indirect, and keeps
 * a candidate only where those shapes run faster with it than without it or with the one
 * before). Where both are set, each GEMM on CLBlast's indirect
 * path runs with the set, and as row-major C = op(A) op(B) or as column-major C^T = op(B)^T
 * op(A)^T, that a cost model puts lowest: the flops of the tiles the kernel computes, the
 * operands CLBlast copies or transposes first (the two kernels want different operands
 * transposed), and a change from the set CLBlast holds (it rebuilds its programs at each).
 * Strided batches always run with the first set (CLBlast's batched kernel computes wrong
 * results with a GEMMK=1 set; with such a first set they run as single GEMMs).
 */
typedef enum oclnn_tune_mode {
    OCLNN_TUNE_OFF = 0,  /* do nothing: measure nothing, write nothing, *count 0 */
    OCLNN_TUNE_FAST = 1, /* a short list of known-good candidates */
    OCLNN_TUNE_FULL = 2, /* the short list, then random samples of the whole space */
} oclnn_tune_mode;

/* One shape class: row-major c[m][n] = op(a)[m][k] op(b)[k][n], `batch` GEMMs through the
 * strided batched call when batch > 1. */
typedef struct oclnn_gemm_shape {
    char name[32];
    int m, n, k;
    int trans_a, trans_b;
    int batch; /* >= 1 */
} oclnn_gemm_shape;

typedef struct oclnn_tune_desc {
    oclnn_tune_mode mode;
    /* Wall-clock budget in seconds (> 0). It is checked between candidates: one candidate per
     * phase always runs, and compiling one costs seconds on CPUs. */
    double budget_s;
    const oclnn_gemm_shape *shapes; /* NULL: the built-in classes (oclnn_tune_gemm_shapes) */
    size_t nshapes;
    int write_file; /* non-zero: store the winner in the tuning file (not in OFF mode) */
} oclnn_tune_desc;

/* FAST, 120 seconds, built-in shapes, write the file. */
OCLNN_API oclnn_tune_desc oclnn_tune_desc_default(void);

/* The built-in shape classes: square 1024^3 and 2048^3, ResNet-18 convolutions as im2col GEMMs
 * (forward, backward data, backward weights), a linear layer, a tiny first-layer conv and a
 * strided batch. The array is static. */
OCLNN_API oclnn_status oclnn_tune_gemm_shapes(const oclnn_gemm_shape **shapes, size_t *count);

typedef struct oclnn_tune_result {
    oclnn_gemm_shape shape;
    double before_gflops; /* with the parameters in use when the call started (timed in
                             turns with the winner where the two differ) */
    double after_gflops;  /* with the winner (the set before where it was not faster) */
    int direct;           /* 1 when the winner runs this class with XgemmDirect */
    size_t temp_bytes;    /* temporary device memory for one GEMM of the class with the
                             winner: CLBlast's buffer for the padded / transposed operand copies
                             of its indirect path, plus the library's copies where it runs the
                             class on unaliased sizes (oclnn_gemm) */
} oclnn_tune_result;

/* Tunes the context's device: times candidates on every shape class (each result is checked
 * against a host reference before it is timed; a candidate that fails the check is dropped),
 * times the winner and the set in use before in turns on every class and keeps the winner only
 * if its geometric mean is higher (before_gflops and after_gflops come from those turns),
 * applies it to the device and, with write_file and a cache directory, writes the tuning
 * file. Progress lines go to `progress` (may be NULL). Fills up to `capacity` results
 * (one per shape class; results may be NULL when capacity is 0) and sets *count (may be NULL).
 * Errors: OCLNN_INVALID_ARGUMENT (bad desc or shapes), OCLNN_IO_ERROR (file not written; the
 * winner is still applied), OpenCL errors. */
OCLNN_API oclnn_status oclnn_tune_gemm(oclnn_context *ctx, const oclnn_tune_desc *desc,
                                       FILE *progress, oclnn_tune_result *results, size_t capacity,
                                       size_t *count);

/* Where the context's GEMM parameters came from: *source ("tuning file", "built-in defaults for
 * this device type", "CLBlast's database", "tuned in this process"), *file (the tuning file path,
 * "" when the cache directory is off) and *note (why an existing tuning file was ignored, "" when
 * it was not). Strings owned by the context, valid until the next tuning call or destroy. Any
 * pointer may be NULL. */
OCLNN_API oclnn_status oclnn_tune_info(const oclnn_context *ctx, const char **source,
                                       const char **file, const char **note);

/* ---------------------------------------------------------------------------------------------
 * Convolution tuning. Each pass of a convolution runs with an algorithm and, for DIRECT, kernel
 * parameters (channels and pixel vectors per work-item, work-group size, image chunks of
 * backward weights), for DEPTHWISE the output rows per work-item and the input tile of a
 * work-group, looked up in this order: the tuned entry for its exact shape, else for its
 * shape class (kernel, stride, dilation, grouped or not, channels per group, output pixels and
 * batch rounded down to powers of two, batches 1 / 2-7 / 8 on), else the defaults of the device
 * type and vector width with AUTO's rules. Entries live in the same tuning file as the GEMM
 * parameters, one line each:
 *   "conv2d fwd n32.c64.h56.w56.k64.r3.s3.g1.st1x1.dl1x1.p1.1.1.1 ALGO=direct KB=6 PX=1 LX=8"
 *   "conv2d bwd_weights class.r3.s3.dense.st1x1.dl1x1.cg64.kg64.px2048.n8 ALGO=direct KBW=4 TS=3"
 *   "conv2d fwd n32.c96.h56.w56.k96.r7.s7.g96.st1x1.dl1x1.p3.3.3.3 ALGO=depthwise RB=14 TILE=8"
 * (passes fwd, bwd_data, bwd_weights; ALGO direct, im2col_gemm, gemm_1x1, depthwise or
 * winograd; DIRECT: KB 1..16, PX 1..4 forward, KBW 1..16, TS 1..8, CHUNK in KiB for backward
 * weights, and for the kernels with channels in the vector lanes, which DIRECT runs where the
 * weights are many (>= 256 columns c, r, s and >= 64 output channels per group, backward data
 * >= 256 columns k, r, s and >= 64 input channels; forward on planes of at most 14x14,
 * backward data on phases of dx of at most 28x28, backward weights from 32768 weights; by
 * default on AVX-512 CPUs, elsewhere where an entry gives KV; an entry with KB, PX, KBW or TS
 * and no KV keeps the pixel-lane kernels) KV 1..4 vectors of 16 channels and CI 1..16 pixels
 * (forward, backward data) or weight columns per work-item, LX the work-group size;
 * DEPTHWISE, forward and backward data: RB 1..14 output rows per work-item, TILE 1..1024 KiB
 * of input rows a work-group keeps in local memory, at most the device's). A tuned algorithm
 * is taken by AUTO only where it applies and its workspace fits the limit; a forced algorithm
 * still runs with the tuned parameters.
 */

/* One convolution to tune. */
typedef struct oclnn_conv_tune_shape {
    char name[32];          /* for progress lines and results */
    oclnn_tensor_desc x, w; /* x[n][c][h][w], w[k][c/groups][r][s] */
    oclnn_conv2d_desc conv; /* the geometry; its algo, activation and residual are ignored */
} oclnn_conv_tune_shape;

typedef struct oclnn_conv_tune_desc {
    oclnn_tune_mode mode; /* OFF: nothing; FAST: every algorithm that applies and short lists of
                           * DIRECT's and DEPTHWISE's parameters; FULL: then random points of
                           * their whole spaces until the budget is spent */
    double budget_s;      /* wall-clock seconds (> 0), shared out evenly over shapes x passes;
                           * each pass always measures what runs now and one candidate */
    unsigned passes;      /* bits 1 << oclnn_conv_pass; 0: all three */
    const oclnn_conv_tune_shape *shapes; /* borrowed for the call */
    size_t nshapes;
    int write_file; /* non-zero: store the entries in the tuning file */
} oclnn_conv_tune_desc;

/* FAST, 120 seconds, all passes, no shapes, write the file. */
OCLNN_API oclnn_conv_tune_desc oclnn_conv_tune_desc_default(void);

typedef struct oclnn_conv_tune_result {
    char name[32]; /* the shape's */
    oclnn_conv_pass pass;
    double before_ms; /* what ran when the call started (AUTO) */
    double after_ms;  /* the winner */
    oclnn_conv_algo before_algo, after_algo;
    char params[96]; /* the winner as in the tuning file: "ALGO=direct KB=6 PX=1" */
    int candidates;  /* candidates measured (each checked, then timed) */
} oclnn_conv_tune_result;

/* Tunes each pass of each shape on the context's device: every candidate runs on random data
 * and its outputs are checked in double at 64 sampled positions (|got - want| <= 1e-5 *
 * sum|terms| + 1e-6 * |want| + 1e-6) before it is timed; a candidate that fails the check,
 * cannot be built or does not fit the workspace limit is dropped. The fastest becomes the entry
 * of the shape and, from the largest shape of a class in the call, of its class; entries apply
 * to the context at once and, with write_file and a cache directory, are written to the tuning
 * file (its GEMM lines and other entries kept). Progress lines go to `progress` (may be NULL).
 * Fills up to `capacity` results (one per shape and pass, in order) and sets *count (may be
 * NULL). Errors: OCLNN_INVALID_ARGUMENT (bad desc or shape, naming it), OCLNN_OUT_OF_MEMORY
 * (tensors of a shape), OCLNN_IO_ERROR (file not written; the entries still apply), OpenCL
 * errors. */
OCLNN_API oclnn_status oclnn_tune_conv2d(oclnn_context *ctx, const oclnn_conv_tune_desc *desc,
                                         FILE *progress, oclnn_conv_tune_result *results,
                                         size_t capacity, size_t *count);

/* Describes what a pass of this convolution runs with on the context's device, for logs and
 * benchmarks: "direct KB=6 PX=1 LX=8 (tuned: exact shape)", "winograd (tuned: shape class)",
 * "direct KB=6 PX=1 LX=8 (defaults)". Validates like oclnn_conv2d_choose; buf gets at most
 * size bytes, NUL-terminated. */
OCLNN_API oclnn_status oclnn_conv2d_describe(oclnn_context *ctx, const oclnn_conv2d_desc *desc,
                                             oclnn_conv_pass pass, const oclnn_tensor_desc *x,
                                             const oclnn_tensor_desc *w, char *buf, size_t size);

/* ---------------------------------------------------------------------------------------------
 * Networks: a small scheduler over the ops above (src/net/). Build a model layer by layer, then
 * compile it for an input shape and batch: the library allocates parameters, gradients,
 * optimizer state and activations once (with a memory plan: ReLU runs in place over its input
 * when nothing else needs that input, and inside the batch norm before it when that is its
 * input, forward and backward; gradient buffers are shared between values whose backward
 * lifetimes do not overlap), and oclnn_net_train_step enqueues a whole step (upload, forward,
 * backward, optimizer update) without waiting for the device. The loss and accuracy of each step
 * stay on the device in a ring of OCLNN_NET_STAT_SLOTS slots that is read once when it is full
 * or when the caller asks (oclnn_net_read_stats).
 *
 * Layers are numbered from 0 in the order they are added; every add function sets *id (may be
 * NULL) to the new layer's number. A layer's input is the previous layer's output (the network
 * input for layer 0), unless oclnn_net_branch chose another one. Names (may be NULL: "conv3",
 * "bn4", ...) are copied; they name parameters in checkpoints and messages.
 *
 * Initialisation (oclnn_net_compile, from train->seed): every conv and linear weight is drawn
 * from N(0, 2 / fan_in) (He/Kaiming normal, fan_in = in_channels/groups * kh * kw or in
 * features, ReLU gain), weights in layer order, elements in memory order; biases 0; batch norm
 * and layer norm gamma 1, beta 0; layer scale gamma = its init value. Normals come from
 * splitmix64(seed) by Box-Muller: u1, u2 = (next() >> 11) * 2^-53 in that order,
 * z0 = sqrt(-2 ln(1 - u1)) cos(2 pi u2), z1 = sqrt(-2 ln(1 - u1)) sin(2 pi u2), used z0 then
 * z1. Weight decay applies to conv and linear weights only, never to biases, BN/LN gamma and
 * beta or layer-scale gamma.
 *
 * Ownership: a net keeps ctx (which must outlive it) and owns everything it allocates. A net is
 * used by one thread at a time, like its context.
 */
typedef struct oclnn_net oclnn_net;

#define OCLNN_NET_STAT_SLOTS 64

/* An empty network. `name` (may be NULL: "net") identifies the model in checkpoints. */
OCLNN_API oclnn_status oclnn_net_create(oclnn_context *ctx, const char *name, oclnn_net **out);
/* Releases everything (waits for queued work). NULL is a no-op. */
OCLNN_API void oclnn_net_destroy(oclnn_net *net);

/* Makes `from` (a layer number, or -1 for the network input) the input of the next layer
 * added: the way to build the skip branch of a residual block (see oclnn_net_add_residual). */
OCLNN_API oclnn_status oclnn_net_branch(oclnn_net *net, int from);

typedef struct oclnn_net_conv_desc {
    int out_channels;
    int kernel_h, kernel_w;
    oclnn_conv2d_desc conv; /* padding, stride, dilation, groups; activation NONE or RELU
                             * (fused into the convolution; use oclnn_net_add_activation for
                             * GELU); residual_before_act ignored */
    int bias;               /* 1: a bias per output channel */
} oclnn_net_conv_desc;
/* kernel k x k, stride 1, padding k / 2, groups 1, no activation, bias. */
OCLNN_API oclnn_net_conv_desc oclnn_net_conv_desc_default(int out_channels, int k);
OCLNN_API oclnn_status oclnn_net_add_conv(oclnn_net *net, const char *name,
                                          const oclnn_net_conv_desc *desc, int *id);
/* Batch norm over the input's channels (4-D or 2-D input). */
OCLNN_API oclnn_status oclnn_net_add_batchnorm(oclnn_net *net, const char *name,
                                               const oclnn_batchnorm_desc *desc, int *id);
/* Layer norm in either mode (gamma/beta sized by the mode and the input shape). */
OCLNN_API oclnn_status oclnn_net_add_layernorm(oclnn_net *net, const char *name,
                                               const oclnn_layernorm_desc *desc, int *id);
/* ReLU (in place over its input when legal), GELU or GELU_TANH. */
OCLNN_API oclnn_status oclnn_net_add_activation(oclnn_net *net, const char *name,
                                                oclnn_activation act, int *id);
OCLNN_API oclnn_status oclnn_net_add_pool(oclnn_net *net, const char *name,
                                          const oclnn_pool2d_desc *desc, int *id);
/* [n][c][h][w] -> [n][c]. */
OCLNN_API oclnn_status oclnn_net_add_global_avg_pool(oclnn_net *net, const char *name, int *id);
/* [n][c][h][w] -> [n][c*h*w] (a view: no copy). */
OCLNN_API oclnn_status oclnn_net_add_flatten(oclnn_net *net, const char *name, int *id);
/* y[n][out] = x[n][in] w^T + b; a 4-D input is flattened. */
OCLNN_API oclnn_status oclnn_net_add_linear(oclnn_net *net, const char *name, int out_features,
                                            int bias, int *id);
/* ConvNeXt layer scale: y = gamma[c] * x, gamma initialised to `init` (e.g. 1e-6). */
OCLNN_API oclnn_status oclnn_net_add_layer_scale(oclnn_net *net, const char *name, float init,
                                                 int *id);
/* y = act(x + out(from)): x is the current input, `from` a layer (or -1, the network input)
 * whose output has the same shape. act is NONE or RELU (one pass with the add, and one pass
 * for its backward into both inputs' gradients). */
OCLNN_API oclnn_status oclnn_net_add_residual(oclnn_net *net, const char *name, int from,
                                              oclnn_activation act, int *id);
/* The loss: softmax over the input's features and mean cross-entropy with the labels. Must be
 * the last layer; its input's feature count is the number of classes. */
OCLNN_API oclnn_status oclnn_net_add_softmax_cross_entropy(oclnn_net *net, const char *name,
                                                           int *id);

typedef enum oclnn_optimizer {
    OCLNN_OPTIMIZER_SGD = 0,   /* oclnn_sgd_step: momentum, L2 weight decay */
    OCLNN_OPTIMIZER_ADAMW = 1, /* oclnn_adam_step, decoupled weight decay */
} oclnn_optimizer;

typedef enum oclnn_lr_schedule {
    OCLNN_SCHEDULE_COSINE = 0,   /* oclnn_lr_cosine(lr, min_lr, step, warmup_steps, total_steps) */
    OCLNN_SCHEDULE_CONSTANT = 1, /* lr every step */
} oclnn_lr_schedule;

typedef struct oclnn_net_train_desc {
    oclnn_optimizer optimizer;
    double lr, min_lr;
    oclnn_lr_schedule schedule;
    long warmup_steps;       /* >= 0, < total_steps */
    long total_steps;        /* >= 1: the cosine's length (steps past it keep min_lr) */
    double momentum;         /* SGD, in [0, 1) */
    int nesterov;            /* SGD */
    double beta1, beta2, eps; /* AdamW */
    double weight_decay;     /* >= 0; conv and linear weights only */
    uint64_t seed;           /* initialisation */
} oclnn_net_train_desc;
/* SGD, lr 0.1, min_lr 0, cosine, no warm-up, 1 step, momentum 0.9, betas 0.9/0.999, eps 1e-8,
 * weight decay 0, seed 1. */
OCLNN_API oclnn_net_train_desc oclnn_net_train_desc_default(void);

/* Infers every shape from x[batch][c][h][w], validates every layer (the message names the
 * layer), initialises the parameters, allocates everything and reserves the ops' workspace.
 * After it, no layer may be added. train NULL compiles for inference only: no gradients,
 * gradient buffers or optimizer state are allocated, oclnn_net_train_step is refused, and
 * oclnn_net_load takes the parameters of any checkpoint of the model (skipping its optimizer
 * state). Errors: OCLNN_INVALID_ARGUMENT (a layer does not fit its
 * input, the last layer is not the loss), OCLNN_OUT_OF_MEMORY. */
OCLNN_API oclnn_status oclnn_net_compile(oclnn_net *net, int batch, int c, int h, int w,
                                         const oclnn_net_train_desc *train);

/* Sizes after compile, in bytes. total = the sum of the others (the ops' workspace is the
 * context's, reported apart). */
typedef struct oclnn_net_memory {
    size_t parameters;     /* weights, biases, gammas, betas, BN running statistics, and the
                            * convolution weights inference folds batch norm into */
    size_t gradients;      /* parameter gradients */
    size_t optimizer;      /* momentum, or Adam m and v */
    size_t activations;    /* forward values kept for the backward pass, saved statistics */
    size_t activation_gradients; /* shared gradient buffers of the plan + accumulation scratch */
    size_t activation_gradients_unshared; /* what one buffer per value would have taken */
    size_t inplace_saved;  /* activation bytes saved by in-place ReLU */
    size_t workspace;      /* the context workspace reserved for the ops */
    size_t total;
    size_t parameter_count; /* trainable elements */
} oclnn_net_memory;
OCLNN_API oclnn_status oclnn_net_memory_info(const oclnn_net *net, oclnn_net_memory *info);

/* One training step on a batch of host data: x[batch][c][h][w] floats and `batch` labels in
 * [0, classes) (checked before anything is enqueued). Both are copied before the call returns.
 * Enqueues upload, forward, loss, backward and the optimizer update, and returns without
 * waiting (except every OCLNN_NET_STAT_SLOTS steps, when the stats ring is read). */
OCLNN_API oclnn_status oclnn_net_train_step(oclnn_net *net, const float *x, const int32_t *labels);
/* Builds every kernel program a training step and an evaluation need, in `threads` parallel
 * threads (0: one per compute unit; see oclnn_context_warmup_begin), with a line per program to
 * `progress` (may be NULL). Parameters, statistics and the step count are unchanged. Call it
 * after compile (and load) so the first step does not pay for compilation. */
OCLNN_API oclnn_status oclnn_net_warmup(oclnn_net *net, int threads, FILE *progress);
/* Tunes every convolution of the compiled network at its batch with oclnn_tune_conv2d: identical
 * layers once, all three passes for a training network, the forward for an inference-only one.
 * desc's mode, budget and write_file are used, its shapes and passes ignored. Parameters,
 * statistics and the step count are unchanged; call it after compile and before warm-up (the tuned
 * kernels are the ones to build). */
OCLNN_API oclnn_status oclnn_net_tune(oclnn_net *net, const oclnn_conv_tune_desc *desc,
                                      FILE *progress, oclnn_conv_tune_result *results,
                                      size_t capacity, size_t *count);
/* Waits and reports the steps since the last read: the mean loss per step, the correct
 * predictions and the images seen (each may be NULL). */
OCLNN_API oclnn_status oclnn_net_read_stats(oclnn_net *net, double *mean_loss, long *correct,
                                            long *images);
/* Steps done so far (restored by oclnn_net_load). */
OCLNN_API long oclnn_net_step_count(const oclnn_net *net);
/* The learning rate the schedule gives for `step`. */
OCLNN_API oclnn_status oclnn_net_lr(const oclnn_net *net, long step, double *lr);
/* Replaces the schedule's length and warm-up (e.g. after resuming with more epochs). */
OCLNN_API oclnn_status oclnn_net_set_schedule(oclnn_net *net, long warmup_steps, long total_steps);

/* Inference on count <= batch images (batch norm uses its running statistics; nothing is
 * learned). A batch norm that alone reads a convolution without a fused activation is folded
 * into that convolution's weights and bias (oclnn_batchnorm_fold_conv, redone every call from
 * the current parameters): one pass instead of two. logits (may be NULL) receives count * classes floats; *correct (may be NULL) the
 * number of images whose arg-max equals labels[i] (labels may be NULL when correct is NULL).
 * Blocking. */
OCLNN_API oclnn_status oclnn_net_infer(oclnn_net *net, const float *x, const int32_t *labels,
                                       int count, float *logits, long *correct);

/* Trainable parameters and batch-norm running statistics as one host array, in layer order
 * (per layer: weight, bias / gamma, beta, running_mean, running_var). For tests and tools. */
OCLNN_API oclnn_status oclnn_net_param_count(const oclnn_net *net, size_t *count);
OCLNN_API oclnn_status oclnn_net_get_params(oclnn_net *net, float *host, size_t count);
OCLNN_API oclnn_status oclnn_net_set_params(oclnn_net *net, const float *host, size_t count);
/* The compiled batch, classes and number of layers (any pointer may be NULL). */
OCLNN_API oclnn_status oclnn_net_shape(const oclnn_net *net, int *batch, int *classes,
                                       int *layers);
/* Layer `i`'s kind ("conv", "batchnorm", ...), name and output shape (after compile). */
OCLNN_API oclnn_status oclnn_net_layer_info(const oclnn_net *net, int i, const char **kind,
                                            const char **name, oclnn_tensor_desc *out);

/* Checkpoints. The file holds every parameter, the batch-norm running statistics, the
 * optimizer state and the step count:
 *   header (32 bytes, little-endian): magic "OCLNNCKP", u32 version (1), u32 reserved (0),
 *     u64 payload bytes, u64 FNV-1a-64 of the payload;
 *   payload: u32 name length + model name; u32 optimizer (oclnn_optimizer, 0xffffffff: none,
 *     saved by an inference-only net); i64 step;
 *     u32 tensor count; per tensor: u32 name length + name ("conv1.weight", "bn2.running_mean",
 *     "conv1.weight.momentum", ".adam_m", ".adam_v"), u32 ndim, ndim x u32 dims, f32 data.
 * Save writes FILE.tmp then renames it over FILE. Load reads and verifies the whole file
 * (size, magic, version, checksum, model name, optimizer, every tensor's name and shape)
 * before touching the device: a truncated or corrupt file gives OCLNN_CORRUPT_DATA, another
 * model or shape OCLNN_INVALID_ARGUMENT, an unreadable one OCLNN_IO_ERROR; the net is then
 * unchanged. */
OCLNN_API oclnn_status oclnn_net_save(oclnn_net *net, const char *path);
OCLNN_API oclnn_status oclnn_net_load(oclnn_net *net, const char *path);

#ifdef __cplusplus
}
#endif
#endif /* OCLNN_H */
