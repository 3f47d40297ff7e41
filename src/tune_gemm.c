/* tune_gemm.c - the GEMM tuner: candidate CLBlast parameter sets (a short list plus a search space
 * as data), each checked against a host reference and timed on the device over shape classes; the
 * winner is applied and written to the tuning file. */
#include "tune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const oclnn_gemm_shape builtin_shapes[] = {
    /* name           m     n     k     ta tb batch */
    {"square-1024", 1024, 1024, 1024, 0, 0, 1}, {"square-2048", 2048, 2048, 2048, 0, 0, 1},
    {"conv3x3-64", 64, 3136, 576, 0, 0, 1},    /* ResNet 64->64 3x3 at 56x56, one image */
    {"conv3x3-128", 128, 784, 1152, 0, 0, 1},  /* 128->128 at 28x28 */
    {"conv3x3-256", 256, 196, 2304, 0, 0, 1},  /* 256->256 at 14x14 */
    {"conv3x3-512", 512, 49, 4608, 0, 0, 1},   /* 512->512 at 7x7 */
    {"wgrad3x3-64", 64, 576, 3136, 0, 1, 1},   /* dW = dY col^T */
    {"dgrad3x3-64", 576, 3136, 64, 1, 0, 1},   /* dcol = W^T dY */
    {"linear-3136", 128, 128, 3136, 0, 1, 1},  /* y = x w^T, batch 128 */
    {"conv3x3-c1", 32, 784, 9, 0, 0, 1},       /* first layer, one input channel, 28x28 */
    {"conv3x3-64-x4", 64, 3136, 576, 0, 0, 4}, /* strided batch of four images */
};

oclnn_tune_desc oclnn_tune_desc_default(void)
{
    return (oclnn_tune_desc){OCLNN_TUNE_FAST, 120.0, NULL, 0, 1};
}

oclnn_status oclnn_tune_gemm_shapes(const oclnn_gemm_shape **shapes, size_t *count)
{
    if (!shapes || !count)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "tune_gemm_shapes: %s is NULL",
                           shapes ? "count" : "shapes");
    *shapes = builtin_shapes;
    *count = sizeof builtin_shapes / sizeof builtin_shapes[0];
    return OCLNN_SUCCESS;
}

/* ---- candidates ---------------------------------------------------------------------------- */

/* Known-good sets first (FAST tries only these). Xgemm order: GEMMK KREG KWG KWI MDIMA MDIMC MWG
 * NDIMB NDIMC NWG SA SB STRM STRN VWM VWN. */
static const size_t short_xgemm[][16] = {
    /* Work-groups of items side by side in N sharing a panel of A (POCL runs them one after the
     * other, so the panel stays in the cache): 8 items of 32x8, 3 items of 48x8. */
    {0, 1, 32, 8, 1, 1, 32, 1, 8, 64, 0, 0, 0, 0, 16, 8},
    {0, 1, 16, 8, 3, 1, 48, 3, 3, 24, 0, 0, 0, 0, 16, 8},
    {0, 1, 32, 8, 1, 1, 32, 1, 4, 32, 0, 0, 0, 0, 16, 8},
    /* One work-item per work-group computing a 16x16 tile: 16 float16 accumulators fit the
     * 32 AVX-512 registers; POCL runs work-groups of one item without a work-item loop. */
    {0, 1, 32, 8, 1, 1, 16, 1, 1, 16, 0, 0, 0, 0, 16, 4},
    {1, 8, 1, 1, 1, 1, 16, 1, 1, 16, 0, 0, 0, 0, 16, 8},
    {0, 1, 32, 8, 1, 1, 16, 1, 1, 24, 0, 0, 0, 0, 16, 8},
    {0, 1, 32, 2, 8, 8, 64, 8, 8, 128, 0, 0, 0, 0, 8, 16},
};
/* XgemmK1 (the GEMMK=1 set the per-GEMM plan gives the GEMMs whose copies it spares): work-groups
 * of one or two items of 32x32, 32x16 or 64x64 tiles, KREG 8. On 512x49x4608 on AVX-512 (a
 * noisy machine) the first three measured 1.70-2.26, 2.02-2.04 and 1.71-2.22 ms; the fourth,
 * with AVX2's 8-float vectors, 3.3-3.4 ms there. */
static const size_t short_xgemm_k1[][16] = {
    {1, 8, 1, 1, 1, 1, 32, 1, 1, 32, 0, 0, 0, 0, 16, 4},
    {1, 8, 1, 1, 1, 1, 32, 2, 2, 32, 0, 0, 0, 0, 16, 8},
    {1, 8, 1, 1, 1, 1, 64, 1, 1, 64, 0, 0, 0, 0, 16, 8},
    {1, 8, 1, 1, 1, 1, 32, 1, 1, 32, 0, 0, 0, 0, 8, 8},
};
/* XgemmDirect order: KWID MDIMAD MDIMCD NDIMBD NDIMCD PADA PADB VWMD VWND WGD. */
static const size_t short_direct[][10] = {
    {2, 8, 8, 8, 8, 0, 0, 4, 4, 32},
    {2, 8, 8, 8, 8, 0, 0, 2, 2, 16},
    {8, 8, 8, 8, 8, 0, 0, 8, 8, 64},
    {2, 16, 16, 16, 16, 0, 0, 2, 2, 32},
};

/* The search space as data: values per parameter; `tie` names a parameter whose value this
 * one copies (without local memory, MDIMA/NDIMB only shape loads that do not exist). */
typedef struct space_dim {
    size_t n;
    size_t values[6];
    int tie; /* -1, or the index of the parameter copied */
} space_dim;

static const space_dim xgemm_space[16] = {
    {1, {0}, -1},                      /* GEMMK */
    {1, {1}, -1},                      /* KREG */
    {3, {16, 32, 64}, -1},             /* KWG */
    {2, {2, 8}, -1},                   /* KWI */
    {1, {0}, 5},                       /* MDIMA = MDIMC */
    {4, {1, 2, 4, 8}, -1},             /* MDIMC */
    {5, {16, 32, 48, 64, 128}, -1},    /* MWG */
    {1, {0}, 8},                       /* NDIMB = NDIMC */
    {5, {1, 2, 4, 8, 16}, -1},         /* NDIMC */
    {6, {8, 16, 24, 32, 64, 128}, -1}, /* NWG */
    {1, {0}, -1},                      /* SA */
    {1, {0}, -1},                      /* SB */
    {2, {0, 1}, -1},                   /* STRM */
    {2, {0, 1}, -1},                   /* STRN */
    {3, {4, 8, 16}, -1},               /* VWM */
    {4, {2, 4, 8, 16}, -1},            /* VWN */
};
/* GEMMK=1 is CLBlast's 2-D register tiling kernel (KREG values of k per register load); its
 * tiles are square (NWG = MWG, see xgemm_valid). */
static const space_dim xgemm_k1_space[16] = {
    {1, {1}, -1},           /* GEMMK */
    {4, {2, 4, 8, 16}, -1}, /* KREG */
    {1, {1}, -1},           /* KWG */
    {1, {1}, -1},           /* KWI */
    {1, {0}, 5},            /* MDIMA = MDIMC */
    {3, {1, 2, 4}, -1},     /* MDIMC */
    {3, {16, 32, 64}, -1},  /* MWG */
    {1, {0}, 8},            /* NDIMB = NDIMC */
    {3, {1, 2, 4}, -1},     /* NDIMC */
    {1, {0}, 6},            /* NWG = MWG */
    {1, {0}, -1},           /* SA */
    {1, {0}, -1},           /* SB */
    {1, {0}, -1},           /* STRM */
    {1, {0}, -1},           /* STRN */
    {2, {8, 16}, -1},       /* VWM */
    {3, {2, 4, 8}, -1},     /* VWN */
};
static const space_dim direct_space[10] = {
    {3, {2, 8, 16}, -1},    /* KWID */
    {1, {0}, 2},            /* MDIMAD = MDIMCD */
    {4, {1, 2, 4, 8}, -1},  /* MDIMCD */
    {1, {0}, 4},            /* NDIMBD = NDIMCD */
    {4, {1, 2, 4, 8}, -1},  /* NDIMCD */
    {1, {0}, -1},           /* PADA */
    {1, {0}, -1},           /* PADB */
    {4, {2, 4, 8, 16}, -1}, /* VWMD */
    {4, {2, 4, 8, 16}, -1}, /* VWND */
    {3, {16, 32, 64}, -1},  /* WGD */
};

/* Decodes a mixed-radix index into one point of a space. */
static void space_point(const space_dim *dims, size_t ndims, uint64_t index, size_t *v)
{
    for (size_t i = 0; i < ndims; i++) {
        v[i] = dims[i].values[index % dims[i].n];
        index /= dims[i].n;
    }
    for (size_t i = 0; i < ndims; i++)
        if (dims[i].tie >= 0)
            v[i] = v[dims[i].tie];
}

static uint64_t space_size(const space_dim *dims, size_t ndims)
{
    uint64_t n = 1;
    for (size_t i = 0; i < ndims; i++)
        n *= dims[i].n;
    return n;
}

/* ---- measurement --------------------------------------------------------------------------- */

enum { NSAMPLES = 64 };

typedef struct bench {
    oclnn_gemm_shape sh;
    size_t lda, ldb, a_stride, b_stride, c_stride;
    cl_mem a, b, c;
    float *host_c;
    size_t samp[NSAMPLES];
    double want[NSAMPLES], tol[NSAMPLES];
    double best_s; /* best time of any candidate so far (early stop of slow ones) */
    double time_x; /* best time through Xgemm (indirect) */
    double time_d; /* best time through XgemmDirect; 0 when not measured */
    double before_s, after_s;
} bench;

typedef struct tuner {
    oclnn_context *ctx;
    FILE *out;
    bench *b;
    size_t nb;
    int reps;
    double start, budget;
} tuner;

static double flops(const oclnn_gemm_shape *s)
{
    return 2.0 * s->m * s->n * s->k * s->batch;
}

static void bench_release(tuner *t)
{
    for (size_t i = 0; i < t->nb; i++) {
        bench *b = &t->b[i];
        if (b->a)
            clReleaseMemObject(b->a);
        if (b->b)
            clReleaseMemObject(b->b);
        if (b->c)
            clReleaseMemObject(b->c);
        free(b->host_c);
    }
    free(t->b);
}

/* Operands with random values, and NSAMPLES reference entries of C computed in double. */
static oclnn_status bench_setup(tuner *t, bench *b)
{
    oclnn_context *ctx = t->ctx;
    const oclnn_gemm_shape *s = &b->sh;
    const size_t m = (size_t)s->m, n = (size_t)s->n, k = (size_t)s->k, nb = (size_t)s->batch;
    b->lda = s->trans_a ? m : k;
    b->ldb = s->trans_b ? k : n;
    b->a_stride = m * k;
    b->b_stride = k * n;
    b->c_stride = m * n;
    float *ha = oclnn__alloc(ctx, nb * m * k * sizeof(float), "tune");
    float *hb = oclnn__alloc(ctx, nb * k * n * sizeof(float), "tune");
    b->host_c = oclnn__alloc(ctx, nb * m * n * sizeof(float), "tune");
    oclnn_status st = ha && hb && b->host_c ? OCLNN_SUCCESS : OCLNN_OUT_OF_MEMORY;
    uint64_t state = 0x9e3779b97f4a7c15ull ^ (m * 131 + n * 17 + k);
    if (st == OCLNN_SUCCESS) {
        oclnn__tune_fill(ha, nb * m * k, &state);
        oclnn__tune_fill(hb, nb * k * n, &state);
        st = oclnn__buffer(ctx, nb * m * k * sizeof(float), CL_MEM_READ_ONLY, &b->a, "tune");
    }
    if (st == OCLNN_SUCCESS)
        st = oclnn__buffer(ctx, nb * k * n * sizeof(float), CL_MEM_READ_ONLY, &b->b, "tune");
    if (st == OCLNN_SUCCESS)
        st = oclnn__buffer(ctx, nb * m * n * sizeof(float), CL_MEM_READ_WRITE, &b->c, "tune");
    if (st == OCLNN_SUCCESS)
        st = oclnn__cl(ctx,
                       clEnqueueWriteBuffer(ctx->queue, b->a, CL_TRUE, 0,
                                            nb * m * k * sizeof(float), ha, 0, NULL, NULL),
                       "tune: clEnqueueWriteBuffer");
    if (st == OCLNN_SUCCESS)
        st = oclnn__cl(ctx,
                       clEnqueueWriteBuffer(ctx->queue, b->b, CL_TRUE, 0,
                                            nb * k * n * sizeof(float), hb, 0, NULL, NULL),
                       "tune: clEnqueueWriteBuffer");
    for (int i = 0; st == OCLNN_SUCCESS && i < NSAMPLES; i++) {
        size_t e = (size_t)(oclnn__tune_rand(&state) % (nb * m * n));
        size_t bi = e / (m * n), r = e % (m * n) / n, c = e % n;
        const float *pa = ha + bi * m * k, *pb = hb + bi * k * n;
        double sum = 0, abs = 0;
        for (size_t p = 0; p < k; p++) {
            double x = s->trans_a ? pa[p * m + r] : pa[r * k + p];
            double y = s->trans_b ? pb[c * k + p] : pb[p * n + c];
            sum += x * y;
            abs += fabs(x * y);
        }
        b->samp[i] = e;
        b->want[i] = sum;
        /* fp32 accumulation over k terms: relative to the sum of |terms|. */
        b->tol[i] = 1e-5 * abs + 1e-6;
    }
    free(ha);
    free(hb);
    return st;
}

static oclnn_status run_once(tuner *t, bench *b)
{
    const oclnn_gemm_shape *s = &b->sh;
    return oclnn__sgemm_strided(t->ctx, "tune", s->trans_a != 0, s->trans_b != 0, (size_t)s->m,
                                (size_t)s->n, (size_t)s->k, 1.0f, b->a, 0, b->lda, b->a_stride,
                                b->b, 0, b->ldb, b->b_stride, 0.0f, b->c, 0, (size_t)s->n,
                                b->c_stride, (size_t)s->batch);
}

/* Runs the shape once and compares the samples; then times it over t->reps runs and returns
 * the minimum in *secs (0 when the result is wrong or the candidate is far too slow: two runs
 * each 20 times slower than the best so far, plus two seconds, set *hopeless). A timed run
 * slower than three times the best so far stops the repetitions. */
static oclnn_status measure(tuner *t, bench *b, double *secs, bool *hopeless)
{
    oclnn_context *ctx = t->ctx;
    const size_t count = (size_t)b->sh.m * (size_t)b->sh.n * (size_t)b->sh.batch;
    *secs = 0;
    /* NaN prefill: a kernel that skips an element cannot pass. */
    float nan = NAN;
    oclnn_status st = oclnn__cl(ctx,
                                clEnqueueFillBuffer(ctx->queue, b->c, &nan, sizeof nan, 0,
                                                    count * sizeof(float), 0, NULL, NULL),
                                "tune: clEnqueueFillBuffer");
    if (st == OCLNN_SUCCESS)
        st = oclnn__cl(ctx, clFinish(ctx->queue), "tune: clFinish");
    double t0 = oclnn__tune_now();
    if (st == OCLNN_SUCCESS)
        st = run_once(t, b);
    if (st == OCLNN_SUCCESS)
        st = oclnn__cl(ctx,
                       clEnqueueReadBuffer(ctx->queue, b->c, CL_TRUE, 0, count * sizeof(float),
                                           b->host_c, 0, NULL, NULL),
                       "tune: clEnqueueReadBuffer");
    if (st != OCLNN_SUCCESS)
        return st;
    /* The first run may include POCL's compile of a kernel for its work-group size: a slow one
     * is timed again before the candidate is given up. */
    for (int again = 0;
         st == OCLNN_SUCCESS && b->best_s > 0 && oclnn__tune_now() - t0 > 2.0 + 20 * b->best_s;
         again++) {
        if (again) {
            oclnn__tune_progress(
                t->out, t->start,
                "  %s: %.2f s for one run, far slower than the best %.4f s (dropped)", b->sh.name,
                oclnn__tune_now() - t0, b->best_s);
            *hopeless = true;
            return OCLNN_SUCCESS;
        }
        t0 = oclnn__tune_now();
        st = run_once(t, b);
        if (st == OCLNN_SUCCESS)
            st = oclnn__cl(ctx, clFinish(ctx->queue), "tune: clFinish");
    }
    if (st != OCLNN_SUCCESS)
        return st;
    for (int i = 0; i < NSAMPLES; i++) {
        double got = b->host_c[b->samp[i]];
        if (!(fabs(got - b->want[i]) <= b->tol[i])) {
            oclnn__tune_progress(t->out, t->start,
                                 "  %s: wrong result at element %zu: %g, expected %g (dropped)",
                                 b->sh.name, b->samp[i], got, b->want[i]);
            return OCLNN_SUCCESS;
        }
    }
    double best = INFINITY;
    for (int r = 0; r < t->reps; r++) {
        t0 = oclnn__tune_now();
        st = run_once(t, b);
        if (st == OCLNN_SUCCESS)
            st = oclnn__cl(ctx, clFinish(ctx->queue), "tune: clFinish");
        if (st != OCLNN_SUCCESS)
            return st;
        double dt = oclnn__tune_now() - t0;
        best = dt < best ? dt : best;
        if (b->best_s > 0 && dt > 3 * b->best_s)
            break;
    }
    *secs = best;
    if (b->best_s == 0 || best < b->best_s)
        b->best_s = best;
    return OCLNN_SUCCESS;
}

/* Compiles the candidate's programs (CLBlast builds one per routine on first use) with tiny
 * GEMMs, so that the timing checks in measure() see kernels, not compilers. */
static oclnn_status warm_up(tuner *t)
{
    const bench *b = &t->b[0];
    bool batched = false;
    for (size_t i = 0; i < t->nb; i++)
        batched = batched || t->b[i].sh.batch > 1;
    oclnn_status st = oclnn__sgemm(t->ctx, "tune", false, false, 1, 1, 1, 1.0f, b->a, 0, 1, b->b, 0,
                                   1, 0.0f, b->c, 0, 1);
    if (st == OCLNN_SUCCESS && batched)
        st = oclnn__sgemm_strided(t->ctx, "tune", false, false, 1, 1, 1, 1.0f, b->a, 0, 1, 1, b->b,
                                  0, 1, 1, 0.0f, b->c, 0, 1, 1, 2);
    if (st == OCLNN_SUCCESS)
        st = oclnn__cl(t->ctx, clFinish(t->ctx->queue), "tune: clFinish");
    return st;
}

/* Geometric mean of GFLOP/s over the shapes measured (times[i] > 0); a wrong result counts as
 * zero speed (the candidate loses). */
static double geomean(const tuner *t, const double *times, const bool *use)
{
    double sum = 0;
    int n = 0;
    for (size_t i = 0; i < t->nb; i++) {
        if (!use[i])
            continue;
        if (times[i] <= 0)
            return 0;
        sum += log(flops(&t->b[i].sh) / times[i] * 1e-9);
        n++;
    }
    return n ? exp(sum / n) : 0;
}

static const char *param_str(oclnn__tk k, const size_t *v, char *buf, size_t size)
{
    const oclnn__tune_kernel *tk = &oclnn__tune_kernels[k];
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < tk->nparams && len < size; i++)
        len +=
            (size_t)snprintf(buf + len, size - len, "%s%s=%zu", i ? " " : "", tk->params[i], v[i]);
    return buf;
}

/* Applies p and measures every shape in `use`; times[i] gets each minimum (0: wrong). A
 * candidate CLBlast cannot build or run loses (times 0); other failures stop the tuner. */
static oclnn_status try_params(tuner *t, const oclnn__gemm_params *p, const bool *use,
                               double *times)
{
    oclnn_status st = oclnn__gemm_apply(t->ctx, p);
    for (size_t i = 0; i < t->nb; i++)
        times[i] = 0;
    if (st == OCLNN_SUCCESS)
        st = warm_up(t);
    bool hopeless = false;
    for (size_t i = 0; st == OCLNN_SUCCESS && i < t->nb && !hopeless; i++) {
        if (use[i])
            st = measure(t, &t->b[i], &times[i], &hopeless);
        if (st == OCLNN_BUILD_FAILURE || st == OCLNN_OPENCL_ERROR) {
            oclnn__tune_progress(t->out, t->start, "  %s: %s (dropped)", t->b[i].sh.name,
                                 t->ctx->msg);
            oclnn__clear_error(t->ctx);
            st = oclnn__cl(t->ctx, clFinish(t->ctx->queue), "tune: clFinish");
            times[i] = 0;
            break;
        }
    }
    return st;
}

/* One phase: tries candidates of kernel `k` (the short list, then in FULL mode random points of
 * the spaces) on the shapes in `use` with everything else as in *base; keeps the best in *base
 * and each shape's time with it in keep[] where its geometric mean beats `best` (< 0: the first
 * candidate that runs right wins); *accepted (may be NULL) counts the winners kept. Stops at the
 * deadline once `min_tries` ran. */
static oclnn_status phase(tuner *t, oclnn__gemm_params *base, oclnn__tk k, const size_t *shortlist,
                          size_t nshort, const space_dim *const *spaces, size_t nspaces, bool full,
                          double deadline, int min_tries, const bool *use, double *keep,
                          double best, int *accepted)
{
    const oclnn__tune_kernel *tk = &oclnn__tune_kernels[k];
    double *times = calloc(t->nb, sizeof *times);
    if (!times)
        return oclnn__fail(t->ctx, OCLNN_OUT_OF_MEMORY, "tune: out of host memory");
    oclnn__gemm_params cand = *base;
    uint64_t state = 0x2545f4914f6cdd1dull + (uint64_t)k;
    oclnn_status st = OCLNN_SUCCESS;
    int tried = 0;
    for (size_t c = 0; st == OCLNN_SUCCESS; c++) {
        if (tried >= min_tries && oclnn__tune_now() > deadline)
            break;
        if (c < nshort) {
            memcpy(cand.v[k], shortlist + c * tk->nparams, tk->nparams * sizeof(size_t));
        } else if (!full || nspaces == 0) {
            break;
        } else {
            /* Random points until one is valid (most are; give up after many misses). */
            const space_dim *sp = spaces[c % nspaces];
            bool found = false;
            for (int attempt = 0; attempt < 1000 && !found; attempt++) {
                uint64_t size = space_size(sp, tk->nparams);
                space_point(sp, tk->nparams, oclnn__tune_rand(&state) % size, cand.v[k]);
                char why[128];
                found = oclnn__tune_valid(k, cand.v[k], &t->ctx->info, why, sizeof why);
            }
            if (!found)
                break;
        }
        char why[256], buf[512];
        if (!oclnn__tune_valid(k, cand.v[k], &t->ctx->info, why, sizeof why))
            continue;
        cand.set[k] = true;
        st = try_params(t, &cand, use, times);
        if (st != OCLNN_SUCCESS)
            break;
        tried++;
        double g = geomean(t, times, use);
        oclnn__tune_progress(t->out, t->start, "%s %s: %.1f GFLOP/s (geometric mean)%s", tk->name,
                             param_str(k, cand.v[k], buf, sizeof buf), g,
                             g > 0 && g > best ? " *" : "");
        if (g > 0 && g > best) {
            best = g;
            if (accepted)
                (*accepted)++;
            base->set[k] = true;
            memcpy(base->v[k], cand.v[k], sizeof cand.v[k]);
            for (size_t i = 0; i < t->nb; i++)
                keep[i] = times[i];
        }
    }
    free(times);
    return st;
}

static double gflops_of(const bench *b, double secs)
{
    return secs > 0 ? flops(&b->sh) / secs * 1e-9 : 0;
}

static bool below_threshold(const oclnn_gemm_shape *s, size_t threshold)
{
    return (double)s->m * s->n * s->k < (double)threshold * threshold * threshold;
}

/* The direct/indirect threshold: m*n*k below its cube goes direct. Chosen among the current one,
 * 1 and the cube roots of the shapes to maximise the geometric mean, over the thresholds for
 * which every shape's path was measured. */
static size_t pick_threshold(const tuner *t, size_t current)
{
    size_t best_t = current;
    double best = -INFINITY;
    /* The current threshold first: a tie keeps it (a new value means a new CLBlast build). */
    for (size_t c = 0; c < t->nb + 2; c++) {
        size_t cand = c == 0 ? current : 1;
        if (c >= 2) {
            const bench *b = &t->b[c - 2];
            if (b->time_d <= 0)
                continue;
            double mnk = (double)b->sh.m * b->sh.n * b->sh.k;
            cand = (size_t)ceil(cbrt(mnk));
            while ((double)cand * cand * cand <= mnk)
                cand++;
        }
        double score = 0;
        for (size_t i = 0; i < t->nb; i++) {
            const bench *b = &t->b[i];
            double secs = below_threshold(&b->sh, cand) ? b->time_d : b->time_x;
            if (secs <= 0) {
                score = -INFINITY;
                break;
            }
            score += log(flops(&b->sh) / secs);
        }
        if (score > best) {
            best = score;
            best_t = cand;
        }
    }
    return best_t;
}

static bool same_params(const oclnn__gemm_params *a, const oclnn__gemm_params *b)
{
    for (int k = 0; k < OCLNN__TK_COUNT; k++)
        if (a->set[k] != b->set[k] || (a->set[k] && memcmp(a->v[k], b->v[k], sizeof a->v[k]) != 0))
            return false;
    return true;
}

/* After: the winner and the set that ran before, timed in turns (twice each, fastest kept) on
 * every shape; the winner stays only if its geometric mean is higher. A search's best can be
 * noise on a shared machine (a full run once kept a direct set that took 7.6 GFLOP/s where the
 * old one took 9.7), and a worse set in the file would slow every later process. Where the
 * set before cannot be applied again (kernels left to CLBlast's database, as on GPUs) the
 * winner is only timed. before_s and after_s get the times of this last measurement. */
static oclnn_status confirm(tuner *t, const oclnn__gemm_params *before, oclnn__gemm_params *win,
                            const bool *use, double *times)
{
    bool again = !same_params(before, win);
    for (int k = 0; k < OCLNN__TK_COUNT; k++)
        again = again && (before->set[k] || !win->set[k]);
    const size_t nb = t->nb;
    double *tb = calloc(nb, sizeof *tb), *tw = calloc(nb, sizeof *tw);
    if (!tb || !tw) {
        free(tb);
        free(tw);
        return oclnn__fail(t->ctx, OCLNN_OUT_OF_MEMORY, "tune: out of host memory");
    }
    oclnn_status st = OCLNN_SUCCESS;
    for (int round = 0; st == OCLNN_SUCCESS && round < 2; round++) {
        for (int which = again ? 0 : 1; st == OCLNN_SUCCESS && which < 2; which++) {
            double *best = which ? tw : tb;
            st = try_params(t, which ? win : before, use, times);
            for (size_t i = 0; i < nb; i++)
                if (times[i] > 0 && (best[i] <= 0 || times[i] < best[i]))
                    best[i] = times[i];
        }
    }
    if (st == OCLNN_SUCCESS && again && !(geomean(t, tw, use) > geomean(t, tb, use))) {
        oclnn__tune_progress(t->out, t->start,
                             "the winner (%.1f GFLOP/s) is not faster than the set before "
                             "(%.1f): kept the set before",
                             geomean(t, tw, use), geomean(t, tb, use));
        *win = *before; /* applied by the caller */
        memcpy(tw, tb, nb * sizeof *tw);
    }
    for (size_t i = 0; i < nb; i++) {
        if (again)
            t->b[i].before_s = tb[i];
        t->b[i].after_s = tw[i];
    }
    free(tb);
    free(tw);
    return st;
}

static oclnn_status check_desc(oclnn_context *ctx, const oclnn_tune_desc *d)
{
    if (!d)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "tune_gemm: desc is NULL");
    oclnn_status s = oclnn__tune_check_mode(ctx, "tune_gemm", d->mode, d->budget_s);
    if (s != OCLNN_SUCCESS)
        return s;
    if (!d->shapes && d->nshapes)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "tune_gemm: shapes is NULL but nshapes is %zu", d->nshapes);
    if (d->shapes && !d->nshapes)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "tune_gemm: nshapes is 0");
    for (size_t i = 0; d->shapes && i < d->nshapes; i++) {
        const oclnn_gemm_shape *s = &d->shapes[i];
        if (s->m < 1 || s->n < 1 || s->k < 1 || s->batch < 1)
            return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                               "tune_gemm: shape %zu (%.31s) m %d n %d k %d batch %d must all be "
                               ">= 1",
                               i, s->name, s->m, s->n, s->k, s->batch);
        double bytes =
            4.0 * s->batch * ((double)s->m * s->k + (double)s->k * s->n + (double)s->m * s->n);
        if (bytes > (double)ctx->info.max_alloc_bytes)
            return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                               "tune_gemm: shape %zu (%.31s) needs %.0f bytes, more than the "
                               "device's largest allocation",
                               i, s->name, bytes);
    }
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_tune_gemm(oclnn_context *ctx, const oclnn_tune_desc *desc, FILE *out,
                             oclnn_tune_result *results, size_t capacity, size_t *count)
{
    if (count)
        *count = 0;
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "tune_gemm: ctx is NULL");
    oclnn_status st = check_desc(ctx, desc);
    if (st != OCLNN_SUCCESS)
        return st;
    if (!results && capacity)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "tune_gemm: results is NULL but capacity is %zu", capacity);
    if (desc->mode == OCLNN_TUNE_OFF)
        return OCLNN_SUCCESS;
    const oclnn_gemm_shape *shapes = desc->shapes ? desc->shapes : builtin_shapes;
    const size_t nshapes =
        desc->shapes ? desc->nshapes : sizeof builtin_shapes / sizeof builtin_shapes[0];
    oclnn__tune_state *gs = ctx->tune_state;
    tuner t = {
        ctx,           out, NULL, 0, desc->mode == OCLNN_TUNE_FULL ? 5 : 3, oclnn__tune_now(),
        desc->budget_s};
    t.b = calloc(nshapes, sizeof *t.b);
    double *keep = calloc(nshapes, sizeof *keep);
    bool *use = calloc(nshapes, sizeof *use);
    if (!t.b || !keep || !use) {
        free(t.b);
        free(keep);
        free(use);
        return oclnn__fail(ctx, OCLNN_OUT_OF_MEMORY, "tune_gemm: out of host memory");
    }
    t.nb = nshapes;
    for (size_t i = 0; i < nshapes; i++) {
        t.b[i].sh = shapes[i];
        t.b[i].sh.name[sizeof t.b[i].sh.name - 1] = '\0';
    }
    for (size_t i = 0; st == OCLNN_SUCCESS && i < nshapes; i++)
        st = bench_setup(&t, &t.b[i]);

    /* Before: what the context uses now. */
    const oclnn__gemm_params before = gs->applied;
    for (size_t i = 0; i < nshapes; i++)
        use[i] = true;
    if (st == OCLNN_SUCCESS)
        st = try_params(&t, &before, use, keep);
    for (size_t i = 0; i < nshapes; i++) {
        t.b[i].before_s = t.b[i].after_s = keep[i];
        oclnn__tune_progress(t.out, t.start, "before %-14s %5dx%5dx%5d%s%s x%d: %7.1f GFLOP/s",
                             t.b[i].sh.name, t.b[i].sh.m, t.b[i].sh.n, t.b[i].sh.k,
                             t.b[i].sh.trans_a ? " At" : "", t.b[i].sh.trans_b ? " Bt" : "",
                             t.b[i].sh.batch, gflops_of(&t.b[i], keep[i]));
    }
    oclnn__gemm_params win = before;
    if (st == OCLNN_SUCCESS) {
        const bool full = desc->mode == OCLNN_TUNE_FULL;
        oclnn__gemm_params base;
        oclnn__tune_defaults(&ctx->info, &base);
        for (int k = 0; k < OCLNN__TK_COUNT; k++)
            if (before.set[k]) {
                base.set[k] = true;
                memcpy(base.v[k], before.v[k], sizeof before.v[k]);
            }
        /* Phase 1: Xgemm, each shape on the path the current threshold gives it (so that the
         * first candidate, the current set, costs no compile). Without a threshold of ours
         * (GPUs) every shape goes indirect. */
        if (!base.set[OCLNN__TK_ROUTINE]) {
            base.set[OCLNN__TK_ROUTINE] = true;
            base.v[OCLNN__TK_ROUTINE][0] = 1;
        }
        const size_t t_cur = base.v[OCLNN__TK_ROUTINE][0];
        if (!base.set[OCLNN__TK_DIRECT]) {
            base.set[OCLNN__TK_DIRECT] = true;
            memcpy(base.v[OCLNN__TK_DIRECT], short_direct[0], sizeof short_direct[0]);
        }
        const space_dim *xs[] = {xgemm_space, xgemm_space, xgemm_space, xgemm_k1_space};
        const double budget_left = t.budget - (oclnn__tune_now() - t.start);
        st = phase(&t, &base, OCLNN__TK_XGEMM, &short_xgemm[0][0],
                   sizeof short_xgemm / sizeof short_xgemm[0], xs, 4, full,
                   oclnn__tune_now() + 0.6 * budget_left, 1, use, keep, -1, NULL);
        bool any = false;
        for (size_t i = 0; i < nshapes; i++) {
            const bool direct = below_threshold(&t.b[i].sh, t_cur);
            t.b[i].time_x = direct ? 0 : keep[i];
            t.b[i].time_d = direct ? keep[i] : 0;
            use[i] = !direct;
            any = any || use[i];
        }
        /* Phase 1b: XgemmK1 on the shapes that go indirect. A candidate stays only where it
         * beats what these shapes took at the end of phase 1 (with the XgemmK1 set it ran
         * with, if any); the plan gives it the GEMMs its cost model prefers it for. */
        int accepted = 0;
        if (st == OCLNN_SUCCESS && any) {
            const space_dim *ks[] = {xgemm_k1_space};
            st = phase(&t, &base, OCLNN__TK_XGEMM_K1, &short_xgemm_k1[0][0],
                       sizeof short_xgemm_k1 / sizeof short_xgemm_k1[0], ks, 1, full,
                       oclnn__tune_now() + 0.5 * (t.budget - (oclnn__tune_now() - t.start)), 1, use,
                       keep, geomean(&t, keep, use), &accepted);
            for (size_t i = 0; accepted && i < nshapes; i++)
                if (use[i])
                    t.b[i].time_x = keep[i];
        }
        /* Phase 2: XgemmDirect on the shapes small enough to go direct (threshold 65536). */
        any = false;
        for (size_t i = 0; i < nshapes; i++) {
            const oclnn_gemm_shape *s = &t.b[i].sh;
            use[i] = (double)s->m * s->n * s->k <= 640.0 * 640.0 * 640.0;
            any = any || use[i];
        }
        accepted = 0;
        if (st == OCLNN_SUCCESS && any) {
            const space_dim *ds[] = {direct_space};
            base.v[OCLNN__TK_ROUTINE][0] = 65536;
            st = phase(&t, &base, OCLNN__TK_DIRECT, &short_direct[0][0],
                       sizeof short_direct / sizeof short_direct[0], ds, 1, full,
                       t.start + t.budget, 0, use, keep, -1, &accepted);
            for (size_t i = 0; accepted && i < nshapes; i++)
                if (use[i])
                    t.b[i].time_d = keep[i];
        }
        if (st == OCLNN_SUCCESS) {
            base.v[OCLNN__TK_ROUTINE][0] = pick_threshold(&t, t_cur);
            oclnn__tune_progress(t.out, t.start, "GemmRoutine XGEMM_MIN_INDIRECT_SIZE=%zu",
                                 base.v[OCLNN__TK_ROUTINE][0]);
            win = base;
            for (size_t i = 0; i < nshapes; i++)
                use[i] = true;
            st = confirm(&t, &before, &win, use, keep);
        }
    }
    /* Whatever happened, the context ends with a complete set applied. */
    oclnn_status st2 = oclnn__gemm_apply(ctx, st == OCLNN_SUCCESS ? &win : &before);
    if (st == OCLNN_SUCCESS)
        st = st2;
    char *comment = NULL;
    if (st == OCLNN_SUCCESS) {
        size_t csize = 200 * (nshapes + 1), len = 0;
        comment = oclnn__alloc(ctx, csize, "tune_gemm");
        st = comment ? OCLNN_SUCCESS : OCLNN_OUT_OF_MEMORY;
        for (size_t i = 0; comment && i < nshapes; i++) {
            const bench *b = &t.b[i];
            int direct =
                win.set[OCLNN__TK_ROUTINE] && below_threshold(&b->sh, win.v[OCLNN__TK_ROUTINE][0]);
            size_t temp = 0;
            st = oclnn__sgemm_temp_bytes(ctx, "tune_gemm", b->sh.trans_a != 0, b->sh.trans_b != 0,
                                         (size_t)b->sh.m, (size_t)b->sh.n, (size_t)b->sh.k, 0,
                                         b->lda, 0, b->ldb, 0, (size_t)b->sh.n, &temp);
            if (st != OCLNN_SUCCESS)
                break;
            if (i < capacity)
                results[i] = (oclnn_tune_result){b->sh, gflops_of(b, b->before_s),
                                                 gflops_of(b, b->after_s), direct, temp};
            oclnn__tune_progress(t.out, t.start, "after  %-14s %7.1f -> %7.1f GFLOP/s (%s)",
                                 b->sh.name, gflops_of(b, b->before_s), gflops_of(b, b->after_s),
                                 direct ? "direct" : "indirect");
            len += (size_t)snprintf(
                comment + len, csize - len, "# %s %dx%dx%d%s%s x%d: %.1f -> %.1f GFLOP/s (%s)\n",
                b->sh.name, b->sh.m, b->sh.n, b->sh.k, b->sh.trans_a ? " At" : "",
                b->sh.trans_b ? " Bt" : "", b->sh.batch, gflops_of(b, b->before_s),
                gflops_of(b, b->after_s), direct ? "direct" : "indirect");
        }
        if (count)
            *count = nshapes < capacity ? nshapes : capacity;
    }
    if (st == OCLNN_SUCCESS) {
        snprintf(gs->source, sizeof gs->source, "tuned in this process");
        if (desc->write_file && gs->file[0]) {
            st = oclnn__tune_file_write(ctx, gs->file, &win, NULL, comment);
            if (st == OCLNN_SUCCESS)
                oclnn__tune_progress(t.out, t.start, "wrote %s", gs->file);
        }
    }
    free(comment);
    free(keep);
    free(use);
    bench_release(&t);
    return st;
}
