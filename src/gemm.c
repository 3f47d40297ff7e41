/* gemm.c - every GEMM of the library goes through CLBlast here, with parameters for the device
 * (tuning file, else built-in defaults per device type) applied at context creation, and the
 * public oclnn_gemm on 2-D tensors. */
#include "tune.h"

#include <clblast_c.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char *clblast_status_name(CLBlastStatusCode s)
{
    switch (s) {
    case CLBlastNotImplemented: return "CLBlastNotImplemented";
    case CLBlastInvalidMatrixA: return "CLBlastInvalidMatrixA";
    case CLBlastInvalidMatrixB: return "CLBlastInvalidMatrixB";
    case CLBlastInvalidMatrixC: return "CLBlastInvalidMatrixC";
    case CLBlastInsufficientMemoryA: return "CLBlastInsufficientMemoryA";
    case CLBlastInsufficientMemoryB: return "CLBlastInsufficientMemoryB";
    case CLBlastInsufficientMemoryC: return "CLBlastInsufficientMemoryC";
    case CLBlastInsufficientMemoryTemp: return "CLBlastInsufficientMemoryTemp";
    case CLBlastInvalidLocalMemUsage: return "CLBlastInvalidLocalMemUsage";
    case CLBlastNoHalfPrecision: return "CLBlastNoHalfPrecision";
    case CLBlastNoDoublePrecision: return "CLBlastNoDoublePrecision";
    case CLBlastInvalidVectorScalar: return "CLBlastInvalidVectorScalar";
    case CLBlastInsufficientMemoryScalar: return "CLBlastInsufficientMemoryScalar";
    case CLBlastDatabaseError: return "CLBlastDatabaseError";
    case CLBlastUnknownError: return "CLBlastUnknownError";
    case CLBlastUnexpectedError: return "CLBlastUnexpectedError";
    default: return s < 0 && s > -100 ? oclnn__cl_error_name((cl_int)s) : "CLBlast error";
    }
}

static oclnn_status clblast_fail(oclnn_context *ctx, const char *op, const char *call,
                                 CLBlastStatusCode s)
{
    if (s == CLBlastOpenCLBuildProgramFailure)
        return oclnn__fail(ctx, OCLNN_BUILD_FAILURE, "%s: %s: CLBlast kernel build failed", op,
                           call);
    if (s == CL_MEM_OBJECT_ALLOCATION_FAILURE || s == CL_OUT_OF_HOST_MEMORY ||
        s == CLBlastInsufficientMemoryTemp)
        return oclnn__fail(ctx, OCLNN_OUT_OF_MEMORY, "%s: %s: %s (%d)", op, call,
                           clblast_status_name(s), (int)s);
    return oclnn__fail(ctx, OCLNN_OPENCL_ERROR, "%s: %s failed: %s (%d)", op, call,
                       clblast_status_name(s), (int)s);
}

/* The Xgemm values CLBlast holds for each device. CLBlast keeps one set per device for the
 * whole process and drops its built programs at every change, so the contexts on a device, each
 * with its two sets, give it theirs only where it holds other values. */
#define HELD_DEVICES 16
static struct {
    cl_device_id device;
    size_t v[OCLNN__TUNE_MAX_PARAMS];
} held[HELD_DEVICES];
static size_t nheld;
static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;

/* held's entry of device, NULL when none (held_lock held). */
static size_t *held_values(cl_device_id device)
{
    for (size_t i = 0; i < nheld && i < HELD_DEVICES; i++)
        if (held[i].device == device)
            return held[i].v;
    return NULL;
}

/* Gives CLBlast v as the device's Xgemm set where it holds other values, and records them. */
static oclnn_status give_xgemm(oclnn_context *ctx, const char *op, const size_t *v)
{
    const oclnn__tune_kernel *tk = &oclnn__tune_kernels[OCLNN__TK_XGEMM];
    oclnn_status st = OCLNN_SUCCESS;
    pthread_mutex_lock(&held_lock);
    size_t *h = held_values(ctx->device);
    if (!h || memcmp(h, v, tk->nparams * sizeof *v) != 0) {
        CLBlastStatusCode c =
            CLBlastOverrideParameters(ctx->device, tk->name, CLBlastPrecisionSingle, tk->nparams,
                                      (const char **)tk->params, v);
        if (c != CLBlastSuccess) {
            st = clblast_fail(ctx, op, "CLBlastOverrideParameters", c);
        } else {
            if (!h) { /* past HELD_DEVICES devices, the oldest entries are reused */
                held[nheld % HELD_DEVICES].device = ctx->device;
                h = held[nheld++ % HELD_DEVICES].v;
            }
            memcpy(h, v, tk->nparams * sizeof *v);
        }
    }
    pthread_mutex_unlock(&held_lock);
    return st;
}

oclnn__tk oclnn__gemm_loaded(const oclnn_context *ctx)
{
    const oclnn__tune_state *st = ctx->tune_state;
    const size_t n = oclnn__tune_kernels[OCLNN__TK_XGEMM].nparams;
    oclnn__tk which = OCLNN__TK_COUNT;
    pthread_mutex_lock(&held_lock);
    const size_t *h = held_values(ctx->device);
    const oclnn__tk sets[2] = {OCLNN__TK_XGEMM, OCLNN__TK_XGEMM_K1};
    for (int i = 0; h && i < 2; i++)
        if (st->applied.set[sets[i]] && memcmp(h, st->applied.v[sets[i]], n * sizeof *h) == 0)
            which = sets[i];
    pthread_mutex_unlock(&held_lock);
    return which;
}

oclnn_status oclnn__gemm_apply(oclnn_context *ctx, const oclnn__gemm_params *p)
{
    oclnn__tune_state *st = ctx->tune_state;
    for (int k = 0; k < OCLNN__TK_COUNT; k++) {
        if (!p->set[k])
            continue;
        const oclnn__tune_kernel *tk = &oclnn__tune_kernels[k];
        char why[256];
        if (!oclnn__tune_valid((oclnn__tk)k, p->v[k], &ctx->info, why, sizeof why))
            return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "gemm: %s parameters: %s", tk->name,
                               why);
        /* XgemmK1 reaches CLBlast per GEMM (load_plan), as its "Xgemm". */
        if (k == OCLNN__TK_XGEMM) {
            oclnn_status s = give_xgemm(ctx, "gemm", p->v[k]);
            if (s != OCLNN_SUCCESS)
                return s;
        } else if (k != OCLNN__TK_XGEMM_K1) {
            CLBlastStatusCode s =
                CLBlastOverrideParameters(ctx->device, tk->name, CLBlastPrecisionSingle,
                                          tk->nparams, (const char **)tk->params, p->v[k]);
            if (s != CLBlastSuccess)
                return clblast_fail(ctx, "gemm", "CLBlastOverrideParameters", s);
        }
        st->applied.set[k] = true;
        memcpy(st->applied.v[k], p->v[k], sizeof p->v[k]);
    }
    return OCLNN_SUCCESS;
}

oclnn_status oclnn__gemm_init(oclnn_context *ctx)
{
    oclnn__tune_state *st = oclnn__alloc(ctx, sizeof *st, "context_create: gemm state");
    if (!st)
        return OCLNN_OUT_OF_MEMORY;
    ctx->tune_state = st;
    oclnn__gemm_params defaults, p;
    oclnn__tune_defaults(&ctx->info, &defaults);
    p = defaults;
    bool any = false;
    for (int k = 0; k < OCLNN__TK_COUNT; k++)
        any = any || defaults.set[k];
    snprintf(st->source, sizeof st->source, "%s",
             any ? "built-in defaults for this device type" : "CLBlast's database");
    bool from_file = false;
    if (strcmp(ctx->cache_dir, "off") != 0) {
        oclnn__tune_file_path(ctx->cache_dir, &ctx->info, st->file, sizeof st->file);
        char why[1024];
        oclnn_status r =
            oclnn__tune_file_read(st->file, &ctx->info, &p, &st->conv, why, sizeof why);
        if (r == OCLNN_SUCCESS) {
            from_file = true;
            snprintf(st->source, sizeof st->source, "tuning file");
        } else if (r == OCLNN_CORRUPT_DATA) {
            snprintf(st->note, sizeof st->note, "tuning file ignored: %s", why);
        } else if (r == OCLNN_OUT_OF_MEMORY) {
            return oclnn__fail(ctx, r, "context_create: out of host memory reading %s", st->file);
        }
    }
    oclnn_status s = oclnn__gemm_apply(ctx, &p);
    if (s != OCLNN_SUCCESS && from_file) {
        /* A file CLBlast refuses (e.g. written for another CLBlast version) must not make the
         * context unusable: keep the reason and fall back to the defaults. */
        snprintf(st->note, sizeof st->note, "tuning file ignored: %.1300s", ctx->msg);
        oclnn__conv_table_free(&st->conv);
        snprintf(st->source, sizeof st->source, "built-in defaults for this device type");
        oclnn__clear_error(ctx);
        s = oclnn__gemm_apply(ctx, &defaults);
    }
    return s;
}

void oclnn__gemm_release(oclnn_context *ctx)
{
    oclnn__tune_state *st = ctx->tune_state;
    if (!st)
        return;
    if (st->temp)
        clReleaseMemObject(st->temp);
    for (int i = 0; i < 3; i++)
        if (st->pad[i])
            clReleaseMemObject(st->pad[i]);
    oclnn__conv_table_free(&st->conv);
    free(st);
    ctx->tune_state = NULL;
}

oclnn_status oclnn_tune_info(const oclnn_context *ctx, const char **source, const char **file,
                             const char **note)
{
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "tune_info: ctx is NULL");
    const oclnn__tune_state *st = ctx->tune_state;
    if (source)
        *source = st->source;
    if (file)
        *file = st->file;
    if (note)
        *note = st->note;
    return OCLNN_SUCCESS;
}

/* A buffer kept in the tuning state that grows only when a larger size is needed: CLBlast's
 * temporary buffer for the indirect path (padded / transposed copies of the operands), or one of
 * the unaliased copies below. They are kept apart from the context workspace because the ops that
 * call GEMM hold their own data (im2col columns) in the workspace. */
static oclnn_status kept_buffer(oclnn_context *ctx, const char *op, size_t bytes, cl_mem *buf,
                                size_t *size)
{
    if (bytes > *size || !*buf) {
        cl_mem m;
        oclnn_status s = oclnn__buffer(ctx, bytes, CL_MEM_READ_WRITE, &m, op);
        if (s != OCLNN_SUCCESS)
            return s;
        /* Queued GEMMs keep the old buffer alive until they finish. */
        if (*buf)
            clReleaseMemObject(*buf);
        *buf = m;
        *size = bytes;
    }
    return OCLNN_SUCCESS;
}

static oclnn_status gemm_temp(oclnn_context *ctx, const char *op, size_t bytes, cl_mem *out)
{
    oclnn__tune_state *st = ctx->tune_state;
    oclnn_status s = kept_buffer(ctx, op, bytes, &st->temp, &st->temp_size);
    *out = st->temp;
    return s;
}

/* Whether CLBlast would take its indirect path: from m n k >= XGEMM_MIN_INDIRECT_SIZE^3, known
 * where the library applied its own parameters; otherwise assume it. */
static bool indirect_path(const oclnn_context *ctx, size_t m, size_t n, size_t k)
{
    const oclnn__tune_state *st = ctx->tune_state;
    if (!st->applied.set[OCLNN__TK_ROUTINE])
        return true;
    const double t = (double)st->applied.v[OCLNN__TK_ROUTINE][0];
    return (double)m * (double)n * (double)k >= t * t * t;
}

/* The time of a GEMM on CLBlast's indirect path with Xgemm set v, the call swapped or not, in
 * flops of its kernel: the multiply-adds of the tiles it computes (m, n and k grown to them),
 * the GEMMK=1 kernel's at K1_FLOP_COST, plus COPY_FLOPS per float of the operands CLBlast first
 * copies grown to its tiles, TRANSPOSE_FLOPS per float of those it transposes. In CLBlast's terms
 * (its ProcessArguments) an operand stored k-major, C n-major, is "rotated"; the GEMMK=0 kernel
 * wants B rotated, the GEMMK=1 kernel A, B and C. The constants are this library's CPU sets on a
 * 2-core AVX-512 Xeon: the GEMMK=0 kernel ran at about 200 GFLOP/s and CLBlast's padded copies
 * moved 4 Gfloat/s (64 flops per float), its transposes 2.6 Gfloat/s on a 9.4 MB matrix and
 * less on larger ones; the GEMMK=1 kernel took 1.24-1.6x the time on shapes where both copied
 * alike (128x784x1152, 128x1152x784 with trans_b, 64x3136x576): 1.45 keeps it off the ones it
 * loses by more than a change of set costs. */
#define K1_FLOP_COST 1.45
#define COPY_FLOPS 64.0
#define TRANSPOSE_FLOPS 96.0
/* Giving CLBlast the other set makes it drop the programs it built and build them again (POCL's
 * kernel cache then hits): 0.33-0.43 ms a switch, measured alternating a linear layer's forward
 * (GEMMK=1) and weight gradient (GEMMK=0), which without this term slowed LeNet's training by
 * 5-7%. */
#define SWITCH_FLOPS 80e6

typedef enum copy_kind { NO_COPY, COPY, TRANSPOSE } copy_kind;

static copy_kind copy_of(bool transpose, bool grown)
{
    return transpose ? TRANSPOSE : grown ? COPY : NO_COPY;
}

static double copy_cost(copy_kind c, double floats)
{
    return c == TRANSPOSE ? TRANSPOSE_FLOPS * floats : c == COPY ? COPY_FLOPS * floats : 0.0;
}

static double indirect_cost(const size_t *v, bool swap, bool trans_a, bool trans_b, size_t m,
                            size_t n, size_t k)
{
    const bool k1 = v[0] == 1;
    /* CLBlast's GEMM: the swapped call is column-major C^T = op(B)^T op(A)^T, its A our B. */
    const size_t cm = swap ? n : m, cn = swap ? m : n;
    const bool a_rot = swap ? trans_b : !trans_a, b_rot = swap ? trans_a : !trans_b, c_rot = !swap;
    const size_t mp = oclnn__round_up(cm, v[6]), np = oclnn__round_up(cn, v[9]),
                 kp = oclnn__round_up(k, v[2] * v[1]);
    /* CLBlast's A is cm x k, its B k x cn, its C cm x cn. */
    return (k1 ? K1_FLOP_COST : 1.0) * 2.0 * (double)mp * (double)np * (double)kp +
           copy_cost(copy_of(a_rot != k1, mp != cm || kp != k), (double)cm * k) +
           copy_cost(copy_of(!b_rot, np != cn || kp != k), (double)k * cn) +
           copy_cost(copy_of(c_rot != k1, mp != cm || np != cn), (double)cm * cn);
}

oclnn__gemm_plan oclnn__gemm_plan_for(const oclnn_context *ctx, oclnn__tk loaded, bool trans_a,
                                      bool trans_b, size_t m, size_t n, size_t k)
{
    const oclnn__tune_state *st = ctx->tune_state;
    const oclnn__gemm_params *p = &st->applied;
    /* Where the library set no Xgemm, or the kernel is XgemmDirect: the first set, swapped
     * for GEMMK=0 (CLBlast's database sets GEMMK=0 too). The swap spares the GEMMK=0 kernel the
     * transposed copies of A and of C (in and out) a row-major call makes; its GEMMK=1 kernel
     * wants row-major operands. */
    oclnn__gemm_plan best = {OCLNN__TK_XGEMM,
                             !(p->set[OCLNN__TK_XGEMM] && p->v[OCLNN__TK_XGEMM][0] == 1)};
    if (!p->set[OCLNN__TK_XGEMM] || !indirect_path(ctx, m, n, k))
        return best;
    double best_cost = INFINITY;
    const oclnn__tk sets[2] = {OCLNN__TK_XGEMM, OCLNN__TK_XGEMM_K1};
    for (int i = 0; i < 2; i++) {
        if (!p->set[sets[i]])
            continue;
        const size_t *v = p->v[sets[i]];
        /* A GEMMK=0 call not swapped copies more than the swapped one (C transposed too). */
        for (int swap = 1; swap >= (v[0] == 1 ? 0 : 1); swap--) {
            const double c = indirect_cost(v, swap, trans_a, trans_b, m, n, k) +
                             (sets[i] != loaded ? SWITCH_FLOPS : 0.0);
            if (c < best_cost)
                best_cost = c, best = (oclnn__gemm_plan){sets[i], swap != 0};
        }
    }
    return best;
}

oclnn_status oclnn__gemm_load_set(oclnn_context *ctx, const char *op, oclnn__tk which)
{
    const oclnn__tune_state *st = ctx->tune_state;
    return st->applied.set[which] ? give_xgemm(ctx, op, st->applied.v[which]) : OCLNN_SUCCESS;
}

/* The plan for a GEMM (oclnn__gemm_plan_for), its set loaded. */
static oclnn_status load_plan(oclnn_context *ctx, const char *op, bool trans_a, bool trans_b,
                              size_t m, size_t n, size_t k, oclnn__gemm_plan *plan)
{
    *plan = oclnn__gemm_plan_for(ctx, oclnn__gemm_loaded(ctx), trans_a, trans_b, m, n, k);
    return oclnn__gemm_load_set(ctx, op, plan->xgemm);
}

/* The operands of one CLBlast call, after the layout choice. */
typedef struct gemm_call {
    CLBlastLayout layout;
    CLBlastTranspose ta, tb;
    size_t m, n, k;
    cl_mem a, b;
    size_t a_off, lda, b_off, ldb;
} gemm_call;

static gemm_call make_call(bool swap, bool trans_a, bool trans_b, size_t m, size_t n, size_t k,
                           cl_mem a, size_t a_off, size_t lda, cl_mem b, size_t b_off, size_t ldb)
{
    if (swap)
        return (gemm_call){CLBlastLayoutColMajor,
                           trans_b ? CLBlastTransposeYes : CLBlastTransposeNo,
                           trans_a ? CLBlastTransposeYes : CLBlastTransposeNo,
                           n,
                           m,
                           k,
                           b,
                           a,
                           b_off,
                           ldb,
                           a_off,
                           lda};
    return (gemm_call){CLBlastLayoutRowMajor,
                       trans_a ? CLBlastTransposeYes : CLBlastTransposeNo,
                       trans_b ? CLBlastTransposeYes : CLBlastTransposeNo,
                       m,
                       n,
                       k,
                       a,
                       b,
                       a_off,
                       lda,
                       b_off,
                       ldb};
}

/* The temporary buffer CLBlast's indirect path needs for call g (0: none). */
static oclnn_status call_temp_bytes(oclnn_context *ctx, const char *op, const gemm_call *g,
                                    size_t c_off, size_t ldc, size_t *bytes)
{
    *bytes = 0;
    CLBlastStatusCode s =
        CLBlastSGemmTempBufferSize(g->layout, g->ta, g->tb, g->m, g->n, g->k, g->a_off, g->lda,
                                   g->b_off, g->ldb, c_off, ldc, &ctx->queue, bytes);
    return s == CLBlastSuccess ? OCLNN_SUCCESS
                               : clblast_fail(ctx, op, "CLBlastSGemmTempBufferSize", s);
}

static oclnn_status sgemm_clblast(oclnn_context *ctx, const char *op, bool swap, bool trans_a,
                                  bool trans_b, size_t m, size_t n, size_t k, float alpha, cl_mem a,
                                  size_t a_off, size_t lda, cl_mem b, size_t b_off, size_t ldb,
                                  float beta, cl_mem c, size_t c_off, size_t ldc)
{
    gemm_call g = make_call(swap, trans_a, trans_b, m, n, k, a, a_off, lda, b, b_off, ldb);
    size_t temp_bytes;
    oclnn_status st = call_temp_bytes(ctx, op, &g, c_off, ldc, &temp_bytes);
    if (st != OCLNN_SUCCESS)
        return st;
    cl_event ev, *evp = oclnn__event_slot(ctx, &ev), mark = oclnn__profile_mark(ctx);
    CLBlastStatusCode s;
    if (temp_bytes > 0) {
        cl_mem temp;
        st = gemm_temp(ctx, op, temp_bytes, &temp);
        if (st != OCLNN_SUCCESS) {
            oclnn__profile_span(ctx, op, "", mark, NULL);
            return st;
        }
        s = CLBlastSgemmWithTempBuffer(g.layout, g.ta, g.tb, g.m, g.n, g.k, alpha, g.a, g.a_off,
                                       g.lda, g.b, g.b_off, g.ldb, beta, c, c_off, ldc, &ctx->queue,
                                       evp, temp);
    } else {
        s = CLBlastSgemm(g.layout, g.ta, g.tb, g.m, g.n, g.k, alpha, g.a, g.a_off, g.lda, g.b,
                         g.b_off, g.ldb, beta, c, c_off, ldc, &ctx->queue, evp);
    }
    if (s != CLBlastSuccess) {
        oclnn__profile_span(ctx, op, "", mark, NULL);
        return clblast_fail(ctx, op, "CLBlastSgemm", s);
    }
    oclnn__profile_span(ctx, op, "clblast_sgemm", mark, evp ? ev : NULL);
    return OCLNN_SUCCESS;
}

/* CLBlast's indirect path pads m and n up to its tiles (MWG, NWG) and gives its internal copies
 * of the operands those padded sizes as leading dimensions. Where such a size is a multiple of
 * 256 floats (1 KiB) the rows of a work-group's panel, read a row apart, fall into a few sets
 * of the CPU caches and evict each other: on a 2-core AVX-512 Xeon, 1024^3 ran at 115 GFLOP/s
 * against 211 for 1056^3, 1536^3 at 81-84 against 181-203 for 1568^3. The size to give CLBlast
 * for dim instead (dim itself where it does not alias, or the tile cannot fix it). */
static size_t unaliased(size_t dim, size_t tile)
{
    const size_t padded = oclnn__round_up(dim, tile);
    return padded >= 1024 && padded % 256 == 0 && tile % 256 != 0 ? padded + tile : dim;
}

/* Copies a rows x cols block between row-major matrices (offsets and leading dimensions in
 * floats). */
static oclnn_status copy_block(oclnn_context *ctx, const char *op, cl_mem src, size_t src_off,
                               size_t src_ld, cl_mem dst, size_t dst_off, size_t dst_ld,
                               size_t rows, size_t cols)
{
    const size_t so[3] = {src_off * sizeof(float), 0, 0}, dso[3] = {dst_off * sizeof(float), 0, 0};
    const size_t region[3] = {cols * sizeof(float), rows, 1};
    cl_event ev, *evp = oclnn__event_slot(ctx, &ev);
    oclnn_status s = oclnn__cl(ctx,
                               clEnqueueCopyBufferRect(ctx->queue, src, dst, so, dso, region,
                                                       src_ld * sizeof(float), 0,
                                                       dst_ld * sizeof(float), 0, 0, NULL, evp),
                               "gemm: clEnqueueCopyBufferRect");
    if (s == OCLNN_SUCCESS && evp)
        oclnn__profile_event(ctx, op, "gemm_unalias_copy", ev);
    return s;
}

/* Replaces operand x, stored row-major as rows x cols at (*off, *ld), by a copy in kept buffer
 * i with its rows (grow_rows) or its columns grown to `to`. */
static oclnn_status grown_copy(oclnn_context *ctx, const char *op, int i, size_t rows, size_t cols,
                               bool grow_rows, size_t to, cl_mem *x, size_t *off, size_t *ld)
{
    oclnn__tune_state *st = ctx->tune_state;
    const size_t nrows = grow_rows ? to : rows, ncols = grow_rows ? cols : to;
    oclnn_status s =
        kept_buffer(ctx, op, nrows * ncols * sizeof(float), &st->pad[i], &st->pad_size[i]);
    if (s == OCLNN_SUCCESS)
        s = copy_block(ctx, op, *x, *off, *ld, st->pad[i], 0, ncols, rows, cols);
    *x = st->pad[i], *off = 0, *ld = ncols;
    return s;
}

/* The GEMM with m and n grown to mp and np: c always on a copy, a only when m grows and b only
 * when n grows (on the copies, rows or columns past m and n hold whatever the kept buffers held:
 * they only reach the rows and columns of c past m and n, which are not copied back). */
static oclnn_status sgemm_unaliased(oclnn_context *ctx, const char *op, bool swap, bool trans_a,
                                    bool trans_b, size_t m, size_t n, size_t k, size_t mp,
                                    size_t np, float alpha, cl_mem a, size_t a_off, size_t lda,
                                    cl_mem b, size_t b_off, size_t ldb, float beta, cl_mem c,
                                    size_t c_off, size_t ldc)
{
    oclnn__tune_state *st = ctx->tune_state;
    oclnn_status s = OCLNN_SUCCESS;
    /* a is [m][k] ([k][m] transposed), b [k][n] ([n][k]), c [m][n]. */
    if (mp != m)
        s = trans_a ? grown_copy(ctx, op, 0, k, m, false, mp, &a, &a_off, &lda)
                    : grown_copy(ctx, op, 0, m, k, true, mp, &a, &a_off, &lda);
    if (s == OCLNN_SUCCESS && np != n)
        s = trans_b ? grown_copy(ctx, op, 1, n, k, true, np, &b, &b_off, &ldb)
                    : grown_copy(ctx, op, 1, k, n, false, np, &b, &b_off, &ldb);
    if (s == OCLNN_SUCCESS)
        s = kept_buffer(ctx, op, mp * np * sizeof(float), &st->pad[2], &st->pad_size[2]);
    if (s == OCLNN_SUCCESS && beta != 0.0f)
        s = copy_block(ctx, op, c, c_off, ldc, st->pad[2], 0, np, m, n);
    if (s == OCLNN_SUCCESS)
        s = sgemm_clblast(ctx, op, swap, trans_a, trans_b, mp, np, k, alpha, a, a_off, lda, b,
                          b_off, ldb, beta, st->pad[2], 0, np);
    if (s == OCLNN_SUCCESS)
        s = copy_block(ctx, op, st->pad[2], 0, np, c, c_off, ldc, m, n);
    return s;
}

/* The m and n a GEMM with plan p runs with: grown by unaliased() on CPUs where the library set
 * CLBlast's tiles and the call takes the indirect path with a GEMMK=0 set, else m and n
 * themselves. The aliasing was measured with that kernel; the GEMMK=1 kernel reads operands in
 * place, and growing them for it only copied them: a linear layer's 4096x9216 weights cost
 * 15.6-16.7 ms of 39 that way, and 32x9216x4096 took 46.9 ms with its B grown against 29.1. */
static void run_dims(const oclnn_context *ctx, const oclnn__gemm_plan *p, size_t m, size_t n,
                     size_t k, size_t *mp, size_t *np)
{
    const oclnn__tune_state *st = ctx->tune_state;
    const size_t *v = st->applied.v[p->xgemm];
    *mp = m, *np = n;
    /* Cache sets are a CPU matter, and the tiles are known where the library set them. */
    if ((ctx->info.type & CL_DEVICE_TYPE_CPU) && st->applied.set[p->xgemm] && v[0] == 0 &&
        indirect_path(ctx, m, n, k)) {
        /* The swapped call gives CLBlast n as its m and m as its n. */
        const size_t mwg = v[6], nwg = v[9];
        *mp = unaliased(m, p->swap ? nwg : mwg), *np = unaliased(n, p->swap ? mwg : nwg);
    }
}

oclnn_status oclnn__sgemm(oclnn_context *ctx, const char *op, bool trans_a, bool trans_b, size_t m,
                          size_t n, size_t k, float alpha, cl_mem a, size_t a_off, size_t lda,
                          cl_mem b, size_t b_off, size_t ldb, float beta, cl_mem c, size_t c_off,
                          size_t ldc)
{
    oclnn__gemm_plan p;
    oclnn_status s = load_plan(ctx, op, trans_a, trans_b, m, n, k, &p);
    if (s != OCLNN_SUCCESS)
        return s;
    size_t mp, np;
    run_dims(ctx, &p, m, n, k, &mp, &np);
    if (mp != m || np != n)
        return sgemm_unaliased(ctx, op, p.swap, trans_a, trans_b, m, n, k, mp, np, alpha, a, a_off,
                               lda, b, b_off, ldb, beta, c, c_off, ldc);
    return sgemm_clblast(ctx, op, p.swap, trans_a, trans_b, m, n, k, alpha, a, a_off, lda, b, b_off,
                         ldb, beta, c, c_off, ldc);
}

oclnn_status oclnn__sgemm_temp_bytes(oclnn_context *ctx, const char *op, bool trans_a, bool trans_b,
                                     size_t m, size_t n, size_t k, size_t a_off, size_t lda,
                                     size_t b_off, size_t ldb, size_t c_off, size_t ldc,
                                     size_t *bytes)
{
    oclnn__gemm_plan p;
    oclnn_status s = load_plan(ctx, op, trans_a, trans_b, m, n, k, &p);
    if (s != OCLNN_SUCCESS)
        return s;
    size_t mp, np;
    run_dims(ctx, &p, m, n, k, &mp, &np);
    if (mp == m && np == n) {
        gemm_call g =
            make_call(p.swap, trans_a, trans_b, m, n, k, NULL, a_off, lda, NULL, b_off, ldb);
        return call_temp_bytes(ctx, op, &g, c_off, ldc, bytes);
    }
    /* sgemm_unaliased's copies (a and b only where their dimension grows, c always), then
     * CLBlast's buffer for the GEMM on them. */
    /* The copies' leading dimensions, as grown_copy makes them. */
    const size_t lda_p = trans_a ? mp : k, ldb_p = trans_b ? k : np;
    gemm_call g =
        make_call(p.swap, trans_a, trans_b, mp, np, k, NULL, mp == m ? a_off : 0,
                  mp == m ? lda : lda_p, NULL, np == n ? b_off : 0, np == n ? ldb : ldb_p);
    s = call_temp_bytes(ctx, op, &g, 0, np, bytes);
    *bytes += ((mp != m ? mp * k : 0) + (np != n ? k * np : 0) + mp * np) * sizeof(float);
    return s;
}

oclnn_status oclnn__sgemm_strided(oclnn_context *ctx, const char *op, bool trans_a, bool trans_b,
                                  size_t m, size_t n, size_t k, float alpha, cl_mem a, size_t a_off,
                                  size_t lda, size_t a_stride, cl_mem b, size_t b_off, size_t ldb,
                                  size_t b_stride, float beta, cl_mem c, size_t c_off, size_t ldc,
                                  size_t c_stride, size_t batch)
{
    /* On CLBlast's indirect path an operand shared by every batch (stride 0) comes out wrong:
     * with the transposed weights of GEMM_1X1's backward data every image but the first was
     * garbage (CLBlast 1.5.3, POCL; the direct path is right). So is every batch with a GEMMK=1
     * set (520x33x300, 40x300x200 with trans_b, batches of 3). Such batches, and batches of one,
     * run as single GEMMs; the others with the first set, GEMMK=0. */
    const oclnn__tune_state *gs = ctx->tune_state;
    const bool first_k1 =
        gs->applied.set[OCLNN__TK_XGEMM] && gs->applied.v[OCLNN__TK_XGEMM][0] == 1;
    if (batch == 1 ||
        (indirect_path(ctx, m, n, k) && (a_stride == 0 || b_stride == 0 || first_k1))) {
        for (size_t i = 0; i < batch; i++) {
            oclnn_status st =
                oclnn__sgemm(ctx, op, trans_a, trans_b, m, n, k, alpha, a, a_off + i * a_stride,
                             lda, b, b_off + i * b_stride, ldb, beta, c, c_off + i * c_stride, ldc);
            if (st != OCLNN_SUCCESS)
                return st;
        }
        return OCLNN_SUCCESS;
    }
    /* Swapped, as oclnn__sgemm runs a GEMMK=0 set. CLBlast's C API allocates this routine's
     * temporary buffer itself (there is no WithTempBuffer variant). */
    oclnn_status st = oclnn__gemm_load_set(ctx, op, OCLNN__TK_XGEMM);
    if (st != OCLNN_SUCCESS)
        return st;
    const bool swap = true;
    gemm_call g = make_call(swap, trans_a, trans_b, m, n, k, a, a_off, lda, b, b_off, ldb);
    cl_event ev, *evp = oclnn__event_slot(ctx, &ev), mark = oclnn__profile_mark(ctx);
    CLBlastStatusCode s = CLBlastSgemmStridedBatched(
        g.layout, g.ta, g.tb, g.m, g.n, g.k, alpha, g.a, g.a_off, g.lda, swap ? b_stride : a_stride,
        g.b, g.b_off, g.ldb, swap ? a_stride : b_stride, beta, c, c_off, ldc, c_stride, batch,
        &ctx->queue, evp);
    if (s != CLBlastSuccess) {
        oclnn__profile_span(ctx, op, "", mark, NULL);
        return clblast_fail(ctx, op, "CLBlastSgemmStridedBatched", s);
    }
    oclnn__profile_span(ctx, op, "clblast_sgemm_batched", mark, evp ? ev : NULL);
    return OCLNN_SUCCESS;
}

/* Checks one dimension of a GEMM operand against the size the others imply. */
static oclnn_status check_dim(oclnn_context *ctx, const char *name, const oclnn_tensor *t, int axis,
                              int want, const char *what)
{
    if (t->desc.dims[axis] == want)
        return OCLNN_SUCCESS;
    char shape[64];
    return oclnn__fail(
        ctx, OCLNN_INVALID_ARGUMENT, "gemm: %s%s dimension %d is %d, must equal %s %d", name,
        oclnn__shape_str(&t->desc, shape, sizeof shape), axis, t->desc.dims[axis], what, want);
}

oclnn_status oclnn_gemm(oclnn_context *ctx, int trans_a, int trans_b, float alpha,
                        const oclnn_tensor *a, const oclnn_tensor *b, float beta, oclnn_tensor *c)
{
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "gemm: ctx is NULL");
    const struct {
        const char *name;
        const oclnn_tensor *t;
    } ops[] = {{"a", a}, {"b", b}, {"c", c}};
    for (size_t i = 0; i < 3; i++) {
        oclnn_status s = oclnn__check_tensor(ctx, "gemm", ops[i].name, ops[i].t);
        if (s != OCLNN_SUCCESS)
            return s;
        if (ops[i].t->desc.ndim != 2) {
            char shape[64];
            return oclnn__fail(
                ctx, OCLNN_INVALID_ARGUMENT, "gemm: %s%s has %d dimensions, must be 2", ops[i].name,
                oclnn__shape_str(&ops[i].t->desc, shape, sizeof shape), ops[i].t->desc.ndim);
        }
    }
    /* op(a) is [m][k], op(b) is [k][n], c is [m][n]. */
    const int ma = trans_a ? 1 : 0, kb = trans_b ? 1 : 0;
    const int m = a->desc.dims[ma], k = a->desc.dims[1 - ma], n = b->desc.dims[1 - kb];
    oclnn_status s =
        check_dim(ctx, "b", b, kb, k, trans_a ? "k (rows of a, trans_a)" : "k (columns of a)");
    if (s == OCLNN_SUCCESS)
        s = check_dim(ctx, "c", c, 0, m, trans_a ? "m (columns of a, trans_a)" : "m (rows of a)");
    if (s == OCLNN_SUCCESS)
        s = check_dim(ctx, "c", c, 1, n, trans_b ? "n (rows of b, trans_b)" : "n (columns of b)");
    if (s != OCLNN_SUCCESS)
        return s;
    oclnn__profile_work(ctx, "gemm", 2.0 * m * n * k, 0);
    return oclnn__sgemm(ctx, "gemm", trans_a != 0, trans_b != 0, (size_t)m, (size_t)n, (size_t)k,
                        alpha, a->mem, a->offset, (size_t)a->desc.dims[1], b->mem, b->offset,
                        (size_t)b->desc.dims[1], beta, c->mem, c->offset, (size_t)n);
}
