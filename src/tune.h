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
    OCLNN__TK_XGEMM_K1, /* "XgemmK1": a second Xgemm set, GEMMK=1, for the GEMMs where CLBlast's
                         * GEMMK=1 kernel costs less than the first set's GEMMK=0 (gemm.c) */
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

/* ---- convolution tuning (conv_tuning.c; the tuner is tune_conv.c) ---- */
/* The tunable parameters of a convolution pass, as data (oclnn__conv_params). */
typedef enum oclnn__cp {
    OCLNN__CP_ALGO = 0, /* oclnn_conv_algo */
    OCLNN__CP_KB,       /* DIRECT: channels per work-item, forward and backward data */
    OCLNN__CP_PX,       /* DIRECT: float16 pixel vectors per work-item, forward */
    OCLNN__CP_KBW,      /* DIRECT: output channels per work-item, backward weights */
    OCLNN__CP_TS,       /* DIRECT: kernel taps along a row per work-item, backward weights */
    OCLNN__CP_KV,       /* DIRECT: float16 vectors of output channels per work-item of the
                         * kernels with channels in the lanes (forward, backward weights) */
    OCLNN__CP_CI,       /* DIRECT: their output pixels (forward) or weight columns per item */
    OCLNN__CP_LX,       /* DIRECT: work-group size along dimension 0 */
    OCLNN__CP_CHUNK,    /* DIRECT: KiB of x and dy per chunk of images, backward weights */
    OCLNN__CP_RB,       /* DEPTHWISE: output rows per work-item, forward and backward data */
    OCLNN__CP_TILE,     /* DEPTHWISE: KiB of input tile per work-group (local memory) */
    OCLNN__CP_COUNT
} oclnn__cp;

typedef struct oclnn__conv_param {
    const char *name; /* in the tuning file */
    int passes;       /* bit (1 << oclnn_conv_pass) for each pass it applies to */
    int algos;        /* bit (1 << oclnn_conv_algo) for each algorithm whose kernels take it */
    int min, max;     /* the range a tuning file may give */
    int nvalues;      /* the values the tuner searches */
    int values[8];
} oclnn__conv_param;
extern const oclnn__conv_param oclnn__conv_params[OCLNN__CP_COUNT];

#define OCLNN__CONV_KEY_SIZE 112

/* One tuned entry: the parameters of one pass for one exact shape or shape class. */
typedef struct oclnn__conv_entry {
    int pass;                       /* oclnn_conv_pass */
    char key[OCLNN__CONV_KEY_SIZE]; /* oclnn__conv_key */
    int v[OCLNN__CP_COUNT];         /* 0: not set (the default); ALGO is always set */
} oclnn__conv_entry;

typedef struct oclnn__conv_table {
    oclnn__conv_entry *e;
    size_t n, cap;
} oclnn__conv_table;

struct oclnn_conv_geom;
/* The key of g: exact ("n32.c64.h56.w56.k64.r3.s3.g1.st1x1.dl1x1.p1.1.1.1") or its class
 * ("class.r3.s3.dense.st1x1.dl1x1.cg64.kg64.px2048.n8": channels per group and output pixels
 * rounded down to powers of two, batches 1, 2-7 and 8 on). */
void oclnn__conv_key(const struct oclnn_conv_geom *g, bool exact, char *key, size_t size);
const oclnn__conv_entry *oclnn__conv_table_find(const oclnn__conv_table *tab, int pass,
                                                const char *key);
/* Adds e, or replaces the entry of its pass and key. */
oclnn_status oclnn__conv_table_put(oclnn_context *ctx, oclnn__conv_table *tab,
                                   const oclnn__conv_entry *e);
void oclnn__conv_table_free(oclnn__conv_table *tab);
/* Parses what follows "conv2d " on a tuning file line: "PASS KEY NAME=value...". */
bool oclnn__conv_entry_parse(char *rest, oclnn__conv_entry *e, char *why, size_t why_size);
/* The device limits of an entry's values (work-group size). */
bool oclnn__conv_entry_valid(const oclnn__conv_entry *e, const oclnn_device_info *info, char *why,
                             size_t why_size);
/* "ALGO=direct KB=6 PX=1 LX=8": the parameters set in v[OCLNN__CP_COUNT], in file order. */
void oclnn__conv_params_format(const int *v, char *buf, size_t size);
/* The tuning file line of e ("conv2d fwd KEY ALGO=direct KB=8 ..."), no newline. */
void oclnn__conv_entry_format(const oclnn__conv_entry *e, char *line, size_t size);
const char *oclnn__conv_algo_str(int algo); /* "direct" */
const char *oclnn__conv_pass_str(int pass); /* "fwd" */

/* What a context knows about its tuning (ctx->tune_state): the GEMM parameters CLBlast was
 * given, the tuned convolution entries, and the tuning file. */
typedef struct oclnn__tune_state {
    oclnn__gemm_params applied; /* what CLBlast was given for this device */
    char file[1200];            /* the tuning file path; "" when the cache directory is off */
    char source[96];            /* where `applied` came from, for oclnn-info */
    char note[1400];            /* why the tuning file was not used ("" when it was or absent) */
    cl_mem temp;                /* CLBlast's temporary buffer for the indirect path */
    size_t temp_size;
    cl_mem pad[3]; /* copies of a, b and c with unaliased dimensions (gemm.c) */
    size_t pad_size[3];
    oclnn__conv_table conv;                 /* from the tuning file, or tuned in this process */
    const oclnn__conv_entry *conv_override; /* the conv tuner's candidate while it measures */
} oclnn__tune_state;

/* ---- what both tuners share (tune_measure.c) ---- */
double oclnn__tune_now(void); /* seconds, monotonic */
/* "tune   12.3s: " + the line (seconds since start) to out; nothing when out is NULL. */
void oclnn__tune_progress(FILE *out, double start, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
uint64_t oclnn__tune_rand(uint64_t *state); /* xorshift64: deterministic data and samples */
void oclnn__tune_fill(float *p, size_t n, uint64_t *state); /* uniform in [-1, 1) */
/* The mode is OFF, FAST or FULL and the budget in (0, 1e6] seconds; messages name op. */
oclnn_status oclnn__tune_check_mode(oclnn_context *ctx, const char *op, oclnn_tune_mode mode,
                                    double budget_s);

/* Writes the broken rule to why and returns false. */
bool oclnn__tune_why(char *why, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

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

/* Reads a tuning file: GEMM parameters over p (kernels it names replace p's) and its conv2d
 * entries into *conv (may be NULL: not read; the caller frees what it receives).
 * OCLNN_IO_ERROR when it does not exist or cannot be read, OCLNN_CORRUPT_DATA when malformed (p
 * and conv unchanged); why says which line and rule. OCLNN_OUT_OF_MEMORY as usual. */
oclnn_status oclnn__tune_file_read(const char *path, const oclnn_device_info *info,
                                   oclnn__gemm_params *p, oclnn__conv_table *conv, char *why,
                                   size_t why_size);

/* Writes the tuning file at path through a temporary file and a rename: the GEMM kernels set in
 * p and the conv2d entries of conv (either may be NULL: the valid file's own are kept, none if
 * there is none). `comment` lines (may be NULL) are written after the header. */
oclnn_status oclnn__tune_file_write(oclnn_context *ctx, const char *path,
                                    const oclnn__gemm_params *p, const oclnn__conv_table *conv,
                                    const char *comment);

/* The bytes of the temporary buffers this GEMM needs (arguments as oclnn__sgemm) with the
 * parameters applied now, planned as the GEMM would be (its Xgemm set given to CLBlast, which
 * sizes the buffer by it): CLBlast's for its indirect path, plus the library's kept copies where
 * the GEMM runs on unaliased sizes (gemm.c). */
oclnn_status oclnn__sgemm_temp_bytes(oclnn_context *ctx, const char *op, bool trans_a, bool trans_b,
                                     size_t m, size_t n, size_t k, size_t a_off, size_t lda,
                                     size_t b_off, size_t ldb, size_t c_off, size_t ldc,
                                     size_t *bytes);

/* How CLBlast runs a GEMM with these arguments (as oclnn__sgemm) when it holds the Xgemm set
 * `loaded`: with which set (OCLNN__TK_XGEMM or OCLNN__TK_XGEMM_K1), and as row-major C = op(A)
 * op(B) or swapped, as column-major C^T = op(B)^T op(A)^T (the same memory): the one of least
 * modelled cost on the indirect path, a change of set included (gemm.c). */
typedef struct oclnn__gemm_plan {
    oclnn__tk xgemm;
    bool swap;
} oclnn__gemm_plan;
oclnn__gemm_plan oclnn__gemm_plan_for(const oclnn_context *ctx, oclnn__tk loaded, bool trans_a,
                                      bool trans_b, size_t m, size_t n, size_t k);

/* Gives CLBlast the context's Xgemm set `which` (OCLNN__TK_XGEMM or OCLNN__TK_XGEMM_K1) where
 * it holds other values (those of the other set, or of another context on the device);
 * nothing where the set is not applied. */
oclnn_status oclnn__gemm_load_set(oclnn_context *ctx, const char *op, oclnn__tk which);

/* Which of the context's Xgemm sets CLBlast holds for its device: OCLNN__TK_XGEMM,
 * OCLNN__TK_XGEMM_K1, or OCLNN__TK_COUNT for neither (another context's values). */
oclnn__tk oclnn__gemm_loaded(const oclnn_context *ctx);

/* Gives p to CLBlast for the context's device (gemm.c) and records it as applied: every kernel
 * but XgemmK1, which is only recorded (CLBlast gets it per GEMM, as "Xgemm"). */
oclnn_status oclnn__gemm_apply(oclnn_context *ctx, const oclnn__gemm_params *p);

#endif
