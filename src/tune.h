/* tune.h - CLBlast GEMM parameters as data (kernels, parameter names, constraints, built-in
 * defaults per device type), the tuning file that stores measured winners, and the GEMM state a
 * context keeps. Shared by gemm.c and tune.c; never installed. */
#ifndef OCLNN_TUNE_H
#define OCLNN_TUNE_H

#include "internal.h"

/* The CLBlast kernels whose parameters the library sets (CLBlastOverrideParameters names). */
typedef enum oclnn__tk {
    OCLNN__TK_XGEMM = 0, /* the indirect path's main kernel */
    OCLNN__TK_DIRECT,    /* XgemmDirect: small GEMMs, no helper copies */
    OCLNN__TK_ROUTINE,   /* GemmRoutine: XGEMM_MIN_INDIRECT_SIZE, direct below its cube */
    OCLNN__TK_COPY,      /* the indirect path's helpers (pad, transpose, copy of A/B/C) */
    OCLNN__TK_PAD,
    OCLNN__TK_TRANSPOSE,
    OCLNN__TK_PADTRANSPOSE,
    OCLNN__TK_COUNT
} oclnn__tk;

#define OCLNN__TUNE_MAX_PARAMS 16

typedef struct oclnn__tune_kernel {
    const char *name; /* "Xgemm" */
    size_t nparams;
    const char *params[OCLNN__TUNE_MAX_PARAMS]; /* in CLBlast's order */
} oclnn__tune_kernel;
extern const oclnn__tune_kernel oclnn__tune_kernels[OCLNN__TK_COUNT];

/* One value per parameter of each kernel; kernels not `set` keep CLBlast's own database entry. */
typedef struct oclnn__gemm_params {
    bool set[OCLNN__TK_COUNT];
    size_t v[OCLNN__TK_COUNT][OCLNN__TUNE_MAX_PARAMS];
} oclnn__gemm_params;

/* What a context knows about its GEMM configuration (ctx->gemm_state). */
typedef struct oclnn__gemm_state {
    oclnn__gemm_params applied; /* what CLBlast was given for this device */
    char file[1200];            /* the tuning file path; "" when the cache directory is off */
    char source[96];            /* where `applied` came from, for oclnn-info */
    char note[1400];            /* why the tuning file was not used ("" when it was or absent) */
    cl_mem temp;                /* CLBlast's temporary buffer for the indirect path */
    size_t temp_size;
} oclnn__gemm_state;

/* Checks one kernel's values against CLBlast's constraints and the device limits (work-group
 * size, local memory). On failure writes the broken rule to why. */
bool oclnn__tune_valid(oclnn__tk kernel, const size_t *v, const oclnn_device_info *info, char *why,
                       size_t why_size);

/* The built-in parameters for a device: measured CPU-style sets for CPUs, nothing (CLBlast's
 * database) for GPUs and accelerators. */
void oclnn__tune_defaults(const oclnn_device_info *info, oclnn__gemm_params *p);

/* The tuning file of a device under cache_dir: "<dir>/tuning-<hash>.txt". */
void oclnn__tune_file_path(const char *cache_dir, const oclnn_device_info *info, char *path,
                           size_t size);

/* Reads a tuning file over p (entries it names replace p's). OCLNN_IO_ERROR when it does not
 * exist or cannot be read, OCLNN_CORRUPT_DATA when malformed (p unchanged); why says which line
 * and rule. */
oclnn_status oclnn__tune_file_read(const char *path, const oclnn_device_info *info,
                                   oclnn__gemm_params *p, char *why, size_t why_size);

/* Writes p (its set kernels) to path through a temporary file and a rename. `comment` lines
 * (may be NULL) are written after the header. */
oclnn_status oclnn__tune_file_write(oclnn_context *ctx, const char *path,
                                    const oclnn__gemm_params *p, const char *comment);

/* The bytes of the temporary buffer CLBlast's indirect path needs for this GEMM (arguments as
 * oclnn__sgemm), with the parameters applied now. */
oclnn_status oclnn__sgemm_temp_bytes(oclnn_context *ctx, const char *op, bool trans_a, bool trans_b,
                                     size_t m, size_t n, size_t k, size_t a_off, size_t lda,
                                     size_t b_off, size_t ldb, size_t c_off, size_t ldc,
                                     size_t *bytes);

/* Gives p to CLBlast for the context's device (gemm.c) and records it as applied. */
oclnn_status oclnn__gemm_apply(oclnn_context *ctx, const oclnn__gemm_params *p);

#endif
