/* tune_conv.c - the convolution tuner: for each shape and pass, what runs now, every other
 * algorithm that applies and DIRECT's parameters (short lists, then in FULL mode random points of
 * the space conv_tuning.c declares), each checked in double at sampled outputs before it is
 * timed. The fastest becomes the shape's entry (and its class's) and goes to the tuning file. */
#include "conv_algos.h"
#include "tune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Short lists of DIRECT's parameters per pass, tried in FAST mode (then in FULL mode random
 * points of the whole space): the register blocks that fit 16 and 32 vector registers, then
 * work-group sizes and chunks around the defaults. 0 leaves a parameter at its default. */
typedef struct cand_set {
    int kb, px, kbw, ts, lx, chunk, kv, ci;
} cand_set;
static const cand_set short_fwd[] = {
    {6, 1, 0, 0, 0, 0, 0, 0}, {8, 2, 0, 0, 0, 0, 0, 0}, {16, 1, 0, 0, 0, 0, 0, 0},
    {4, 2, 0, 0, 0, 0, 0, 0}, {8, 1, 0, 0, 0, 0, 0, 0}, {12, 1, 0, 0, 0, 0, 0, 0},
    {4, 3, 0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0, 4, 6}, {0, 0, 0, 0, 0, 0, 3, 8},
    {0, 0, 0, 0, 0, 0, 2, 8},
};
static const cand_set short_bwd_data[] = {
    {6, 0, 0, 0, 0, 0, 0, 0},  {4, 0, 0, 0, 0, 0, 0, 0},  {8, 0, 0, 0, 0, 0, 0, 0},
    {16, 0, 0, 0, 0, 0, 0, 0}, {12, 0, 0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0, 4, 6},
    {0, 0, 0, 0, 0, 0, 3, 8},  {0, 0, 0, 0, 0, 0, 2, 8},
};
/* Backward weights: the flat kernel's blocks, then (where the channel-vector kernel runs, or is
 * off by default) its blocks, then chunks. */
static const cand_set short_bwd_weights[] = {
    {0, 0, 4, 3, 0, 0, 0, 0},    {0, 0, 8, 3, 0, 0, 0, 0},    {0, 0, 6, 3, 0, 0, 0, 0},
    {0, 0, 4, 2, 0, 0, 0, 0},    {0, 0, 6, 1, 0, 0, 0, 0},    {0, 0, 8, 1, 0, 0, 0, 0},
    {0, 0, 16, 1, 0, 0, 0, 0},   {0, 0, 0, 0, 0, 0, 4, 6},    {0, 0, 0, 0, 0, 0, 3, 8},
    {0, 0, 0, 0, 0, 0, 2, 8},    {0, 0, 0, 0, 0, 0, 1, 6},    {0, 0, 0, 0, 0, 256, 0, 0},
    {0, 0, 0, 0, 0, 1024, 0, 0}, {0, 0, 0, 0, 0, 4096, 0, 0},
};
/* Work-group sizes tried on the best of the short list. */
static const int short_lx[] = {2, 4, 16};
/* DEPTHWISE's short list (forward and backward data): rows per work-item around the defaults
 * (8; 14 on AVX-512 CPUs), then tiles around the defaults (8 KiB on CPUs, 32 elsewhere). */
typedef struct dw_set {
    int rb, tile;
} dw_set;
static const dw_set short_dw[] = {{4, 0},  {7, 0}, {8, 0},  {10, 0}, {12, 0},
                                  {14, 0}, {0, 8}, {0, 16}, {0, 32}};

enum { NSAMPLES = 64, MAX_REPS = 5, INNER_MS = 2 };

typedef struct shape_run {
    const oclnn_conv_tune_shape *sh;
    oclnn_conv_geom g;
    oclnn_conv2d_desc d;
    oclnn_tensor *x, *w, *y, *dy, *dx, *dw;
    float *hx, *hw, *hdy; /* host copies of the inputs, for the reference */
    float *out;           /* download of the pass's output */
} shape_run;

typedef struct tuner {
    oclnn_context *ctx;
    FILE *out;
    int reps;
    double start;
} tuner;

/* ---- the reference at one output, in double; *abs receives the sum of |terms| ---- */

static size_t xi(const oclnn_conv_geom *g, int n, int c, int h, int w)
{
    return (((size_t)n * g->c + c) * g->h + h) * g->w + w;
}
static size_t yi(const oclnn_conv_geom *g, int n, int k, int h, int w)
{
    return (((size_t)n * g->k + k) * g->oh + h) * g->ow + w;
}
static size_t wi(const oclnn_conv_geom *g, int k, int c, int r, int s)
{
    return (((size_t)k * g->cg + c) * g->r + r) * g->s + s;
}

static double ref_fwd(const oclnn_conv_geom *g, const shape_run *sr, size_t e, double *abs)
{
    const int ow = (int)(e % g->ow), oh = (int)(e / g->ow % g->oh);
    const int k = (int)(e / ((size_t)g->ow * g->oh) % g->k);
    const int n = (int)(e / ((size_t)g->ow * g->oh * g->k));
    const int c0 = k / g->kg * g->cg;
    double sum = 0;
    *abs = 0;
    for (int c = 0; c < g->cg; c++)
        for (int r = 0; r < g->r; r++) {
            const int ih = oh * g->stride_h - g->pad_t + r * g->dil_h;
            for (int s = 0; ih >= 0 && ih < g->h && s < g->s; s++) {
                const int iw = ow * g->stride_w - g->pad_l + s * g->dil_w;
                if (iw < 0 || iw >= g->w)
                    continue;
                const double t =
                    (double)sr->hx[xi(g, n, c0 + c, ih, iw)] * sr->hw[wi(g, k, c, r, s)];
                sum += t;
                *abs += fabs(t);
            }
        }
    return sum;
}

/* The output position reached from input position i by tap t along one axis, or -1. */
static int reached(int i, int t, int pad, int dil, int stride, int out)
{
    const int u = i + pad - t * dil;
    if (u < 0 || u % stride)
        return -1;
    return u / stride < out ? u / stride : -1;
}

static double ref_bwd_data(const oclnn_conv_geom *g, const shape_run *sr, size_t e, double *abs)
{
    const int iw = (int)(e % g->w), ih = (int)(e / g->w % g->h);
    const int c = (int)(e / ((size_t)g->w * g->h) % g->c);
    const int n = (int)(e / ((size_t)g->w * g->h * g->c));
    const int grp = c / g->cg, cc = c % g->cg;
    double sum = 0;
    *abs = 0;
    for (int kk = 0; kk < g->kg; kk++)
        for (int r = 0; r < g->r; r++) {
            const int oh = reached(ih, r, g->pad_t, g->dil_h, g->stride_h, g->oh);
            for (int s = 0; oh >= 0 && s < g->s; s++) {
                const int ow = reached(iw, s, g->pad_l, g->dil_w, g->stride_w, g->ow);
                if (ow < 0)
                    continue;
                const int k = grp * g->kg + kk;
                const double t = (double)sr->hdy[yi(g, n, k, oh, ow)] * sr->hw[wi(g, k, cc, r, s)];
                sum += t;
                *abs += fabs(t);
            }
        }
    return sum;
}

static double ref_bwd_weights(const oclnn_conv_geom *g, const shape_run *sr, size_t e, double *abs)
{
    const int s = (int)(e % g->s), r = (int)(e / g->s % g->r);
    const int cc = (int)(e / ((size_t)g->s * g->r) % g->cg);
    const int k = (int)(e / ((size_t)g->s * g->r * g->cg));
    const int c = k / g->kg * g->cg + cc;
    double sum = 0;
    *abs = 0;
    for (int n = 0; n < g->n; n++)
        for (int oh = 0; oh < g->oh; oh++) {
            const int ih = oh * g->stride_h - g->pad_t + r * g->dil_h;
            for (int ow = 0; ih >= 0 && ih < g->h && ow < g->ow; ow++) {
                const int iw = ow * g->stride_w - g->pad_l + s * g->dil_w;
                if (iw < 0 || iw >= g->w)
                    continue;
                const double t = (double)sr->hdy[yi(g, n, k, oh, ow)] * sr->hx[xi(g, n, c, ih, iw)];
                sum += t;
                *abs += fabs(t);
            }
        }
    return sum;
}

/* The outputs of a pass: count and where they go. */
static size_t out_count(const oclnn_conv_geom *g, oclnn_conv_pass pass)
{
    return pass == OCLNN_CONV_FORWARD         ? (size_t)g->n * g->k * g->oh * g->ow
           : pass == OCLNN_CONV_BACKWARD_DATA ? (size_t)g->n * g->c * g->h * g->w
                                              : (size_t)g->k * g->cg * g->r * g->s;
}

typedef struct samples {
    size_t at[NSAMPLES];
    double want[NSAMPLES], tol[NSAMPLES];
} samples;

/* NSAMPLES outputs of the pass (the first and the last among them) with their references. */
static void make_samples(const shape_run *sr, oclnn_conv_pass pass, samples *sp)
{
    const oclnn_conv_geom *g = &sr->g;
    const size_t count = out_count(g, pass);
    uint64_t state = 0x9e3779b97f4a7c15ull + (uint64_t)pass * 7919 + count;
    for (int i = 0; i < NSAMPLES; i++) {
        size_t e = i == 0 ? 0 : i == 1 ? count - 1 : (size_t)(oclnn__tune_rand(&state) % count);
        double abs;
        double want = pass == OCLNN_CONV_FORWARD         ? ref_fwd(g, sr, e, &abs)
                      : pass == OCLNN_CONV_BACKWARD_DATA ? ref_bwd_data(g, sr, e, &abs)
                                                         : ref_bwd_weights(g, sr, e, &abs);
        sp->at[i] = e;
        sp->want[i] = want;
        /* fp32 sums in any order (and Winograd's transforms): as the conv tests hold them. */
        sp->tol[i] = 1e-5 * abs + 1e-6 * fabs(want) + 1e-6;
    }
}

static oclnn_status run_pass(oclnn_context *ctx, shape_run *sr, oclnn_conv_pass pass)
{
    switch (pass) {
    case OCLNN_CONV_FORWARD:
        return oclnn_conv2d_forward(ctx, &sr->d, sr->x, sr->w, NULL, NULL, sr->y);
    case OCLNN_CONV_BACKWARD_DATA:
        return oclnn_conv2d_backward_data(ctx, &sr->d, sr->dy, sr->w, sr->dx, 0.0f);
    default: return oclnn_conv2d_backward_weights(ctx, &sr->d, sr->x, sr->dy, sr->dw, NULL, 0.0f);
    }
}

/* Runs the candidate (desc algo and the context's override, set by the caller) once, checks the
 * samples, then times it: the minimum over t->reps repetitions of enough calls for INNER_MS.
 * *ms is 0 when the candidate was dropped (why in the progress); a repetition slower than three
 * times `best` (when > 0) ends the timing. Errors other than a candidate's own are returned. */
static oclnn_status measure(tuner *t, shape_run *sr, oclnn_conv_pass pass, const samples *sp,
                            double best, const char *what, double *ms)
{
    oclnn_context *ctx = t->ctx;
    *ms = 0;
    const size_t count = out_count(&sr->g, pass);
    oclnn_tensor *o = pass == OCLNN_CONV_FORWARD         ? sr->y
                      : pass == OCLNN_CONV_BACKWARD_DATA ? sr->dx
                                                         : sr->dw;
    /* NaN first: a candidate that skips an output cannot pass. */
    oclnn_status s = oclnn_tensor_fill(ctx, o, NAN);
    if (s == OCLNN_SUCCESS)
        s = run_pass(ctx, sr, pass);
    if (s == OCLNN_BUILD_FAILURE || s == OCLNN_OUT_OF_MEMORY || s == OCLNN_UNSUPPORTED) {
        oclnn__tune_progress(t->out, t->start, "  %s: %s (dropped)", what, ctx->msg);
        oclnn__clear_error(ctx);
        return oclnn_context_finish(ctx);
    }
    if (s == OCLNN_SUCCESS)
        s = oclnn_tensor_download(ctx, o, sr->out, count, 1);
    if (s != OCLNN_SUCCESS)
        return s;
    for (int i = 0; i < NSAMPLES; i++) {
        const double got = sr->out[sp->at[i]];
        if (!(fabs(got - sp->want[i]) <= sp->tol[i])) {
            oclnn__tune_progress(t->out, t->start,
                                 "  %s: wrong result at output %zu: %g, expected %g (dropped)",
                                 what, sp->at[i], got, sp->want[i]);
            return OCLNN_SUCCESS;
        }
    }
    double t0 = oclnn__tune_now();
    s = run_pass(ctx, sr, pass);
    if (s == OCLNN_SUCCESS)
        s = oclnn_context_finish(ctx);
    const double one = oclnn__tune_now() - t0;
    int inner = (int)ceil(INNER_MS * 1e-3 / fmax(one, 1e-6));
    inner = inner < 1 ? 1 : inner > 100 ? 100 : inner;
    double min = one;
    for (int r = 0; r < t->reps && s == OCLNN_SUCCESS; r++) {
        t0 = oclnn__tune_now();
        for (int i = 0; i < inner && s == OCLNN_SUCCESS; i++)
            s = run_pass(ctx, sr, pass);
        if (s == OCLNN_SUCCESS)
            s = oclnn_context_finish(ctx);
        const double dt = (oclnn__tune_now() - t0) / inner;
        min = dt < min ? dt : min;
        if (best > 0 && dt > 3 * best * 1e-3)
            break;
    }
    if (s == OCLNN_SUCCESS)
        *ms = min * 1e3;
    return s;
}

/* The candidate of set c (0: the default) for DIRECT, in entry form. */
static oclnn__conv_entry direct_entry(oclnn_conv_pass pass, const cand_set *c)
{
    oclnn__conv_entry e;
    memset(&e, 0, sizeof e);
    e.pass = pass;
    e.v[OCLNN__CP_ALGO] = OCLNN_CONV_DIRECT;
    e.v[OCLNN__CP_KB] = c->kb, e.v[OCLNN__CP_PX] = c->px, e.v[OCLNN__CP_KBW] = c->kbw;
    e.v[OCLNN__CP_TS] = c->ts, e.v[OCLNN__CP_LX] = c->lx, e.v[OCLNN__CP_CHUNK] = c->chunk;
    e.v[OCLNN__CP_KV] = c->kv, e.v[OCLNN__CP_CI] = c->ci;
    return e;
}

/* The entry of what a pass of g runs with now (the override, a tuned entry or the defaults)
 * under algorithm `algo`: DIRECT's parameters as its kernels would use them. */
static oclnn__conv_entry entry_now(const oclnn_context *ctx, const oclnn_conv_geom *g,
                                   oclnn_conv_pass pass, int algo)
{
    oclnn__conv_entry e;
    memset(&e, 0, sizeof e);
    e.pass = pass;
    e.v[OCLNN__CP_ALGO] = algo;
    if (algo == OCLNN_CONV_DIRECT)
        oclnn__conv_direct_params(ctx, g, pass, e.v);
    else if (algo == OCLNN_CONV_DEPTHWISE)
        oclnn__conv_depthwise_params(ctx, g, pass, e.v);
    return e;
}

/* The candidate e with every parameter its pass uses set (defaults filled in), so that a
 * written entry does not change with the library's defaults and repeats are recognised. */
static void complete(oclnn_context *ctx, const oclnn_conv_geom *g, oclnn__conv_entry *e)
{
    oclnn__tune_state *st = ctx->tune_state;
    const oclnn__conv_entry *saved = st->conv_override;
    st->conv_override = e;
    const oclnn__conv_entry full =
        entry_now(ctx, g, (oclnn_conv_pass)e->pass, e->v[OCLNN__CP_ALGO]);
    st->conv_override = saved;
    *e = full;
}

static bool same_params(const oclnn__conv_entry *a, const oclnn__conv_entry *b)
{
    return memcmp(a->v, b->v, sizeof a->v) == 0;
}

/* A random point of the space of e's algorithm for its pass. */
static void random_point(oclnn__conv_entry *e, uint64_t *state)
{
    for (int i = 1; i < OCLNN__CP_COUNT; i++) {
        const oclnn__conv_param *p = &oclnn__conv_params[i];
        const bool applies =
            (p->passes & (1 << e->pass)) && (p->algos & (1 << e->v[OCLNN__CP_ALGO]));
        e->v[i] = applies ? p->values[oclnn__tune_rand(state) % (uint64_t)p->nvalues] : 0;
    }
}

/* The i-th candidate of a pass (in FAST mode the first ones only), in entry form with
 * parameters it leaves at their defaults as 0; false when there is none left. Order: DIRECT's
 * short list, the other algorithms (one each: on CPUs the first GEMM compiles CLBlast for many
 * seconds), work-group sizes on the best DIRECT so far (`best_direct`, ALGO 0 while none), then
 * in FULL mode random points of DIRECT's space. Where the depthwise tile kernels run (`dw`), the
 * other algorithms and DEPTHWISE's short list come first, and FULL mode draws from both spaces. */
static bool candidate(oclnn_conv_pass pass, int i, bool full, bool dw,
                      const oclnn__conv_entry *best_direct, uint64_t *state, oclnn__conv_entry *e)
{
    const cand_set *list = pass == OCLNN_CONV_FORWARD         ? short_fwd
                           : pass == OCLNN_CONV_BACKWARD_DATA ? short_bwd_data
                                                              : short_bwd_weights;
    const int nlist = pass == OCLNN_CONV_FORWARD ? (int)(sizeof short_fwd / sizeof short_fwd[0])
                      : pass == OCLNN_CONV_BACKWARD_DATA
                          ? (int)(sizeof short_bwd_data / sizeof short_bwd_data[0])
                          : (int)(sizeof short_bwd_weights / sizeof short_bwd_weights[0]);
    const int nlx = (int)(sizeof short_lx / sizeof short_lx[0]);
    const int ndw = dw ? (int)(sizeof short_dw / sizeof short_dw[0]) : 0;
    const int others[] = {OCLNN_CONV_IM2COL_GEMM, OCLNN_CONV_GEMM_1X1, OCLNN_CONV_DEPTHWISE,
                          OCLNN_CONV_WINOGRAD};
    const int nothers = (int)(sizeof others / sizeof others[0]);
    memset(e, 0, sizeof *e);
    e->pass = pass;
    if (dw && i < nothers + ndw) {
        if (i < nothers) {
            e->v[OCLNN__CP_ALGO] = others[i];
        } else {
            e->v[OCLNN__CP_ALGO] = OCLNN_CONV_DEPTHWISE;
            e->v[OCLNN__CP_RB] = short_dw[i - nothers].rb;
            e->v[OCLNN__CP_TILE] = short_dw[i - nothers].tile;
        }
        return true;
    }
    if (dw)
        i -= nothers + ndw;
    if (i < nlist) {
        *e = direct_entry(pass, &list[i]);
        return true;
    }
    i -= nlist;
    if (!dw && i < nothers) {
        e->v[OCLNN__CP_ALGO] = others[i];
        return true;
    }
    if (!dw)
        i -= nothers;
    if (i < nlx) {
        if (best_direct->v[OCLNN__CP_ALGO]) {
            *e = *best_direct;
            e->v[OCLNN__CP_LX] = short_lx[i];
        } /* else: ALGO 0, which no algorithm takes (skipped) */
        return true;
    }
    if (!full)
        return false;
    e->v[OCLNN__CP_ALGO] = dw && (i & 1) ? OCLNN_CONV_DEPTHWISE : OCLNN_CONV_DIRECT;
    random_point(e, state);
    return true;
}

/* One pass of one shape: what runs now, then the candidates until the deadline; the fastest in
 * *win, confirmed against what ran before by timing both once more. */
static oclnn_status tune_pass(tuner *t, shape_run *sr, oclnn_conv_pass pass, bool full,
                              double deadline, oclnn_conv_tune_result *res, oclnn__conv_entry *win)
{
    oclnn_context *ctx = t->ctx;
    oclnn__tune_state *st = ctx->tune_state;
    samples sp;
    make_samples(sr, pass, &sp);
    char what[192], params[128];
    memset(res, 0, sizeof *res);
    snprintf(res->name, sizeof res->name, "%s", sr->sh->name);
    res->pass = pass;

    /* Before: what AUTO runs now, the first candidate. */
    size_t ws;
    sr->d.algo = OCLNN_CONV_AUTO;
    oclnn_status s =
        oclnn_conv2d_choose(ctx, &sr->d, pass, &sr->sh->x, &sr->sh->w, &res->before_algo, &ws);
    if (s != OCLNN_SUCCESS)
        return s;
    const oclnn__conv_entry before = entry_now(ctx, &sr->g, pass, res->before_algo);
    oclnn__conv_params_format(before.v, params, sizeof params);
    snprintf(what, sizeof what, "%s %s before %s", sr->sh->name, oclnn__conv_pass_str(pass),
             params);
    s = measure(t, sr, pass, &sp, 0, what, &res->before_ms);
    if (s != OCLNN_SUCCESS)
        return s;
    if (res->before_ms <= 0)
        return oclnn__fail(ctx, OCLNN_OPENCL_ERROR,
                           "tune_conv2d: %s %s: what runs now fails the check", sr->sh->name,
                           oclnn__conv_pass_str(pass));
    oclnn__tune_progress(t->out, t->start, "%s: %.3f ms", what, res->before_ms);
    double best = res->before_ms;
    *win = before;

    enum { MAX_TRIED = 256 };
    oclnn__conv_entry tried[MAX_TRIED];
    int ntried = 0;
    tried[ntried++] = before;
    oclnn__conv_entry best_direct =
        before.v[OCLNN__CP_ALGO] == OCLNN_CONV_DIRECT ? before : (oclnn__conv_entry){.pass = pass};
    double best_direct_ms = best_direct.v[OCLNN__CP_ALGO] ? res->before_ms : 0;
    uint64_t state = 0x2545f4914f6cdd1dull + (uint64_t)pass;
    oclnn__conv_entry e;
    /* Does DEPTHWISE apply, with its tile kernels (which have rows per item) for this pass? */
    oclnn_conv_algo chosen;
    sr->d.algo = OCLNN_CONV_DEPTHWISE;
    bool dw = oclnn_conv2d_choose(ctx, &sr->d, pass, &sr->sh->x, &sr->sh->w, &chosen, &ws) ==
              OCLNN_SUCCESS;
    oclnn__clear_error(ctx);
    if (dw) {
        oclnn__conv_depthwise_params(ctx, &sr->g, pass, e.v);
        dw = e.v[OCLNN__CP_RB] != 0;
    }
    /* FULL mode stops at the budget or after 4 * MAX_TRIED draws (repeats are skipped). */
    for (int i = 0; s == OCLNN_SUCCESS && ntried < MAX_TRIED && i < 4 * MAX_TRIED &&
                    (res->candidates == 0 || oclnn__tune_now() <= deadline) &&
                    candidate(pass, i, full, dw, &best_direct, &state, &e);
         i++) {
        /* Does the algorithm apply and fit the workspace? */
        sr->d.algo = (oclnn_conv_algo)e.v[OCLNN__CP_ALGO];
        oclnn_conv_algo chosen;
        st->conv_override = &e;
        s = e.v[OCLNN__CP_ALGO]
                ? oclnn_conv2d_choose(ctx, &sr->d, pass, &sr->sh->x, &sr->sh->w, &chosen, &ws)
                : OCLNN_UNSUPPORTED;
        st->conv_override = NULL;
        if (s == OCLNN_UNSUPPORTED || s == OCLNN_OUT_OF_MEMORY) {
            oclnn__clear_error(ctx);
            s = OCLNN_SUCCESS;
            continue;
        }
        if (s != OCLNN_SUCCESS)
            break;
        complete(ctx, &sr->g, &e);
        bool seen = false;
        for (int j = 0; j < ntried && !seen; j++)
            seen = same_params(&tried[j], &e);
        if (seen)
            continue;
        tried[ntried++] = e;
        oclnn__conv_params_format(e.v, params, sizeof params);
        snprintf(what, sizeof what, "%s %s %s", sr->sh->name, oclnn__conv_pass_str(pass), params);
        double ms;
        st->conv_override = &e;
        s = measure(t, sr, pass, &sp, best, what, &ms);
        st->conv_override = NULL;
        if (s != OCLNN_SUCCESS || ms <= 0)
            continue;
        res->candidates++;
        oclnn__tune_progress(t->out, t->start, "%s: %.3f ms%s", what, ms, ms < best ? " *" : "");
        if (ms < best) {
            best = ms;
            *win = e;
        }
        if (e.v[OCLNN__CP_ALGO] == OCLNN_CONV_DIRECT && (!best_direct_ms || ms < best_direct_ms)) {
            best_direct_ms = ms;
            best_direct = e;
        }
    }
    if (s == OCLNN_SUCCESS && !same_params(win, &before)) {
        /* Both once more, back to back: noise must not replace what runs now by a loser. */
        double again_before, again_win;
        sr->d.algo = OCLNN_CONV_AUTO;
        s = measure(t, sr, pass, &sp, 0, "before, again", &again_before);
        sr->d.algo = (oclnn_conv_algo)win->v[OCLNN__CP_ALGO];
        st->conv_override = win;
        if (s == OCLNN_SUCCESS)
            s = measure(t, sr, pass, &sp, 0, "winner, again", &again_win);
        st->conv_override = NULL;
        if (s == OCLNN_SUCCESS && again_before > 0 && again_win > 0) {
            res->before_ms = again_before;
            best = again_win;
            if (again_win >= again_before)
                *win = before, best = again_before;
        }
    }
    sr->d.algo = OCLNN_CONV_AUTO;
    if (s != OCLNN_SUCCESS)
        return s;
    res->after_ms = best;
    res->after_algo = (oclnn_conv_algo)win->v[OCLNN__CP_ALGO];
    oclnn__conv_params_format(win->v, res->params, sizeof res->params);
    return OCLNN_SUCCESS;
}

static void shape_free(shape_run *sr)
{
    oclnn_tensor *all[] = {sr->x, sr->w, sr->y, sr->dy, sr->dx, sr->dw};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        oclnn_tensor_destroy(all[i]);
    free(sr->hx);
    free(sr->hw);
    free(sr->hdy);
    free(sr->out);
    memset(sr, 0, sizeof *sr);
}

/* Tensors of random values (x, w, dy) and outputs (y, dx, dw) for one shape. */
static oclnn_status shape_setup(oclnn_context *ctx, const oclnn_conv_tune_shape *sh, size_t index,
                                shape_run *sr)
{
    memset(sr, 0, sizeof *sr);
    sr->sh = sh;
    sr->d = sh->conv;
    sr->d.algo = OCLNN_CONV_AUTO;
    sr->d.activation = OCLNN_ACT_NONE;
    sr->d.residual_before_act = 0;
    char op[96];
    snprintf(op, sizeof op, "tune_conv2d: shape %zu (%.31s)", index, sh->name);
    oclnn_status s = oclnn__conv_make_geom(ctx, op, &sr->d, &sh->x, "w", &sh->w, &sr->g);
    if (s != OCLNN_SUCCESS)
        return s;
    const oclnn_conv_geom *g = &sr->g;
    const oclnn_tensor_desc yd = oclnn_tensor_desc_4d(g->n, g->k, g->oh, g->ow);
    const size_t nx = oclnn_tensor_desc_count(&sh->x), nw = oclnn_tensor_desc_count(&sh->w);
    const size_t ny = oclnn_tensor_desc_count(&yd);
    size_t most = nx > ny ? nx : ny;
    most = most > nw ? most : nw;
    sr->hx = oclnn__alloc(ctx, nx * sizeof(float), "tune_conv2d");
    sr->hw = oclnn__alloc(ctx, nw * sizeof(float), "tune_conv2d");
    sr->hdy = oclnn__alloc(ctx, ny * sizeof(float), "tune_conv2d");
    sr->out = oclnn__alloc(ctx, most * sizeof(float), "tune_conv2d");
    if (!sr->hx || !sr->hw || !sr->hdy || !sr->out)
        return OCLNN_OUT_OF_MEMORY;
    uint64_t state = 0x853c49e6748fea9bull ^ (uint64_t)index;
    oclnn__tune_fill(sr->hx, nx, &state);
    oclnn__tune_fill(sr->hw, nw, &state);
    oclnn__tune_fill(sr->hdy, ny, &state);
    s = oclnn_tensor_create(ctx, &sh->x, &sr->x);
    if (s == OCLNN_SUCCESS)
        s = oclnn_tensor_create(ctx, &sh->w, &sr->w);
    if (s == OCLNN_SUCCESS)
        s = oclnn_tensor_create(ctx, &yd, &sr->y);
    if (s == OCLNN_SUCCESS)
        s = oclnn_tensor_create(ctx, &yd, &sr->dy);
    if (s == OCLNN_SUCCESS)
        s = oclnn_tensor_create(ctx, &sh->x, &sr->dx);
    if (s == OCLNN_SUCCESS)
        s = oclnn_tensor_create(ctx, &sh->w, &sr->dw);
    if (s == OCLNN_SUCCESS)
        s = oclnn_tensor_upload(ctx, sr->x, sr->hx, nx, 1);
    if (s == OCLNN_SUCCESS)
        s = oclnn_tensor_upload(ctx, sr->w, sr->hw, nw, 1);
    if (s == OCLNN_SUCCESS)
        s = oclnn_tensor_upload(ctx, sr->dy, sr->hdy, ny, 1);
    return s;
}

oclnn_conv_tune_desc oclnn_conv_tune_desc_default(void)
{
    oclnn_conv_tune_desc d;
    memset(&d, 0, sizeof d);
    d.mode = OCLNN_TUNE_FAST;
    d.budget_s = 120.0;
    d.write_file = 1;
    return d;
}

static oclnn_status check_desc(oclnn_context *ctx, const oclnn_conv_tune_desc *d)
{
    if (!d)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "tune_conv2d: desc is NULL");
    oclnn_status s = oclnn__tune_check_mode(ctx, "tune_conv2d", d->mode, d->budget_s);
    if (s != OCLNN_SUCCESS)
        return s;
    if (d->passes > 7)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "tune_conv2d: passes 0x%x has bits other than 1 << oclnn_conv_pass "
                           "(0x1, 0x2, 0x4)",
                           d->passes);
    if (!d->shapes || !d->nshapes)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "tune_conv2d: %s (give at least one shape)",
                           d->shapes ? "nshapes is 0" : "shapes is NULL");
    for (size_t i = 0; i < d->nshapes; i++) {
        char op[96];
        snprintf(op, sizeof op, "tune_conv2d: shape %zu (%.31s)", i, d->shapes[i].name);
        oclnn_conv_geom g;
        s = oclnn__conv_make_geom(ctx, op, &d->shapes[i].conv, &d->shapes[i].x, "w",
                                  &d->shapes[i].w, &g);
        if (s != OCLNN_SUCCESS)
            return s;
    }
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_tune_conv2d(oclnn_context *ctx, const oclnn_conv_tune_desc *desc, FILE *out,
                               oclnn_conv_tune_result *results, size_t capacity, size_t *count)
{
    if (count)
        *count = 0;
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "tune_conv2d: ctx is NULL");
    oclnn_status s = check_desc(ctx, desc);
    if (s != OCLNN_SUCCESS)
        return s;
    if (!results && capacity)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "tune_conv2d: results is NULL but capacity is %zu", capacity);
    if (desc->mode == OCLNN_TUNE_OFF)
        return OCLNN_SUCCESS;
    const unsigned passes = desc->passes ? desc->passes : 7;
    int npasses = 0;
    for (int p = 0; p < 3; p++)
        npasses += (passes >> p) & 1;
    tuner t = {ctx, out, desc->mode == OCLNN_TUNE_FULL ? MAX_REPS : 3, oclnn__tune_now()};
    oclnn__tune_state *st = ctx->tune_state;
    /* New entries are kept apart until the end, so every "before" is what ran at the start; a
     * class takes the winner of its largest shape (in FLOP) in the call. */
    oclnn__conv_table exact = {NULL, 0, 0}, classes = {NULL, 0, 0};
    double *class_flops = NULL;
    size_t done = 0, pairs = desc->nshapes * (size_t)npasses, nres = 0;
    for (size_t i = 0; i < desc->nshapes && s == OCLNN_SUCCESS; i++) {
        shape_run sr;
        s = shape_setup(ctx, &desc->shapes[i], i, &sr);
        const oclnn_conv_geom *g = &sr.g;
        const double flop = 2.0 * g->n * g->k * g->oh * g->ow * (double)g->cg * g->r * g->s;
        for (int p = 0; p < 3 && s == OCLNN_SUCCESS; p++) {
            if (!((passes >> p) & 1))
                continue;
            const double deadline = t.start + desc->budget_s * (double)(done + 1) / (double)pairs;
            oclnn_conv_tune_result res;
            oclnn__conv_entry win;
            s = tune_pass(&t, &sr, (oclnn_conv_pass)p, desc->mode == OCLNN_TUNE_FULL, deadline,
                          &res, &win);
            done++;
            if (s != OCLNN_SUCCESS)
                break;
            oclnn__tune_progress(
                t.out, t.start, "%s %s: %.3f ms (%s) -> %.3f ms (%s), %d candidates", res.name,
                oclnn__conv_pass_str(p), res.before_ms, oclnn__conv_algo_str(res.before_algo),
                res.after_ms, res.params, res.candidates);
            if (nres < capacity)
                results[nres++] = res;
            win.pass = p;
            oclnn__conv_key(g, true, win.key, sizeof win.key);
            s = oclnn__conv_table_put(ctx, &exact, &win);
            oclnn__conv_key(g, false, win.key, sizeof win.key);
            oclnn__conv_entry *old =
                (oclnn__conv_entry *)oclnn__conv_table_find(&classes, p, win.key);
            if (s == OCLNN_SUCCESS && old && class_flops[old - classes.e] < flop) {
                class_flops[old - classes.e] = flop;
                *old = win;
            } else if (s == OCLNN_SUCCESS && !old) {
                s = oclnn__conv_table_put(ctx, &classes, &win);
                double *cf =
                    s == OCLNN_SUCCESS ? realloc(class_flops, classes.cap * sizeof *cf) : NULL;
                if (cf)
                    class_flops = cf, class_flops[classes.n - 1] = flop;
                else if (s == OCLNN_SUCCESS)
                    s = oclnn__fail(ctx, OCLNN_OUT_OF_MEMORY, "tune_conv2d: out of host memory");
            }
        }
        shape_free(&sr);
    }
    st->conv_override = NULL;
    for (size_t i = 0; i < classes.n && s == OCLNN_SUCCESS; i++)
        s = oclnn__conv_table_put(ctx, &st->conv, &classes.e[i]);
    for (size_t i = 0; i < exact.n && s == OCLNN_SUCCESS; i++)
        s = oclnn__conv_table_put(ctx, &st->conv, &exact.e[i]);
    oclnn__conv_table_free(&exact);
    oclnn__conv_table_free(&classes);
    free(class_flops);
    if (s == OCLNN_SUCCESS && count)
        *count = nres;
    if (s == OCLNN_SUCCESS && desc->write_file && st->file[0]) {
        s = oclnn__tune_file_write(ctx, st->file, NULL, &st->conv, NULL);
        if (s == OCLNN_SUCCESS)
            oclnn__tune_progress(t.out, t.start, "wrote %s", st->file);
    }
    return s;
}
