/* test_conv.c - 2-D convolution: every algorithm, forward (with the fused epilogue), backward
 * data, weights and bias, against the double reference of ref_conv.c over a named table of
 * shapes; the reference backward against centred finite differences; accumulation (beta 1);
 * determinism; AUTO's choice; and one negative test per validation rule.
 * Tolerance (reductions): |got - ref| <= 1e-5 * sum|terms| + 1e-6, where sum|terms| is the sum
 * of the absolute values of the products (plus |bias|, |residual|) the reference added. */
#include "conv_algos.h"
#include "fixture.h"
#include "ref_conv.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RTOL 1e-5
#define ATOL 1e-6

typedef struct shape {
    const char *name;
    int n, c, h, w, k, r, s;
    int pt, pb, pl, pr, sh, sw, dh, dw, groups;
} shape;

/* Corners and scaled-down real layers, each run with every algorithm that applies and AUTO. */
static const shape shapes[] = {
    /* name                     n  c  h  w  k  r  s  pt pb pl pr sh sw dh dw g */
    {"1x1 image 1x1 kernel", 1, 3, 1, 1, 4, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1},
    {"1x1 image 3x3 pad 1", 2, 2, 1, 1, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"C=1 K=1 odd 7x5", 1, 1, 7, 5, 1, 3, 3, 0, 0, 0, 0, 1, 1, 1, 1, 1},
    {"odd non-square 9x23", 2, 3, 9, 23, 5, 3, 2, 1, 0, 1, 1, 1, 1, 1, 1, 1},
    {"wide row 3x37 (tiles + tail)", 1, 2, 3, 37, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"wide row 5x70 (interior tiles)", 1, 2, 5, 70, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"stride 2 pad 1", 2, 3, 11, 13, 4, 3, 3, 1, 1, 1, 1, 2, 2, 1, 1, 1},
    {"stride 3", 1, 2, 17, 40, 3, 3, 3, 0, 0, 0, 0, 3, 3, 1, 1, 1},
    {"stride 3 > kernel 2", 2, 2, 10, 11, 3, 2, 2, 0, 0, 0, 0, 3, 3, 1, 1, 1},
    {"stride 2x1 mixed", 1, 2, 9, 35, 3, 3, 3, 1, 1, 1, 1, 2, 1, 1, 1, 1},
    {"pad 2 of 3x3 (k-1)", 1, 2, 6, 7, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 1},
    {"asymmetric pad 0,2,1,0", 2, 3, 8, 9, 4, 3, 3, 0, 2, 1, 0, 1, 1, 1, 1, 1},
    {"asymmetric pad 5x5 1,4,3,0", 1, 2, 9, 8, 2, 5, 5, 1, 4, 3, 0, 1, 1, 1, 1, 1},
    {"dilation 2", 1, 3, 12, 34, 4, 3, 3, 2, 2, 2, 2, 1, 1, 2, 2, 1},
    {"dilation 3 stride 2", 2, 2, 15, 16, 3, 3, 3, 3, 3, 3, 3, 2, 2, 3, 3, 1},
    {"dilation 2x3", 1, 2, 10, 12, 3, 3, 2, 1, 1, 0, 2, 1, 1, 2, 3, 1},
    {"groups 2", 2, 4, 9, 10, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2},
    {"groups 4 stride 2", 1, 8, 12, 11, 12, 3, 3, 1, 1, 1, 1, 2, 2, 1, 1, 4},
    {"groups 4 1x1", 2, 8, 5, 7, 8, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 4},
    {"batch 5", 5, 3, 7, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"depthwise 3x3 s1", 2, 6, 10, 19, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 6},
    {"depthwise 3x3 s2", 1, 5, 11, 20, 5, 3, 3, 1, 1, 1, 1, 2, 2, 1, 1, 5},
    {"depthwise 5x5 s1", 1, 4, 9, 18, 4, 5, 5, 2, 2, 2, 2, 1, 1, 1, 1, 4},
    {"depthwise 5x5 s2 x2 mult", 1, 3, 12, 12, 6, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1, 3},
    {"depthwise 7x7 s1", 2, 4, 14, 14, 4, 7, 7, 3, 3, 3, 3, 1, 1, 1, 1, 4},
    {"depthwise 7x7 s2", 1, 4, 15, 13, 4, 7, 7, 3, 3, 3, 3, 2, 2, 1, 1, 4},
    {"LeNet conv1 1->32 3x3 p1 28x28", 2, 1, 28, 28, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"LeNet conv2 32->64 3x3 p1 14x14", 1, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"ResNet-18 3x3 s1 16->16 14x14", 2, 16, 14, 14, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"ResNet-18 3x3 s2 16->32 14x14", 2, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, 2, 2, 1, 1, 1},
    {"ResNet-18 1x1 s2 projection", 2, 16, 14, 14, 32, 1, 1, 0, 0, 0, 0, 2, 2, 1, 1, 1},
    {"ResNet-18 stem 7x7 s2 p3 3->8", 1, 3, 32, 32, 8, 7, 7, 3, 3, 3, 3, 2, 2, 1, 1, 1},
    {"ConvNeXt-T stem 4x4 s4 3->16", 2, 3, 32, 32, 16, 4, 4, 0, 0, 0, 0, 4, 4, 1, 1, 1},
    {"ConvNeXt-T downsample 2x2 s2", 1, 16, 16, 16, 32, 2, 2, 0, 0, 0, 0, 2, 2, 1, 1, 1},
    {"ConvNeXt-T 1x1 expand 16->64", 2, 16, 8, 8, 64, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1},
    /* Enough channels for DIRECT's flat backward weights (>= 64 FLOP per copied float, 16 for
     * 1x1 kernels):
     * asymmetric pads, dilation, a kernel width that leaves 1 of 3 taps in the last block;
     * groups on a 7-wide image; 1x1 on an odd row (one tap per work-item). */
    {"flat asym pad 5x4 dilation 2x1", 1, 16, 9, 11, 16, 5, 4, 3, 1, 2, 0, 1, 1, 2, 1, 1},
    {"flat groups 2 7x7", 2, 32, 7, 7, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2},
    {"flat 1x1 64->64 odd 3x19", 1, 64, 3, 19, 64, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1},
    /* The same at strides above 1 (x split into phases): stride 2x1 with dilation 1x2 and
     * asymmetric pads, a strided 1x1 (one phase read of four), stride 3 with groups. */
    {"flat stride 2x1 dilation 1x2 5x3", 2, 16, 11, 13, 16, 5, 3, 2, 1, 1, 2, 2, 1, 1, 2, 1},
    {"flat 1x1 s2 64->64 odd 9x11", 1, 64, 9, 11, 64, 1, 1, 0, 0, 0, 0, 2, 2, 1, 1, 1},
    {"flat 3x3 s3 groups 2", 2, 32, 13, 10, 32, 3, 3, 1, 1, 1, 1, 3, 3, 1, 1, 2},
    /* Weights enough for DIRECT's channel-vector forward and backward weights on AVX-512 CPUs
     * (>= 256 columns c, r, s and >= 64 channels per group; backward weights >= 32768 weights,
     * forward planes of at most 14x14): a block of channels that fills the lanes; a group of 80
     * channels (vectors past it, into the next group's) at stride 2 with dilation and
     * asymmetric pads; a strided 1x1 with channels past the last. */
    {"channel vectors 3x3 64->64 5x9", 2, 64, 5, 9, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"channel vectors s2 dilation 2 groups 2 of 80", 1, 64, 11, 13, 160, 3, 3, 2, 1, 2, 2, 2, 2, 2,
     2, 2},
    {"channel vectors 1x1 s2 256->136 9x11", 1, 256, 9, 11, 136, 1, 1, 0, 0, 0, 0, 2, 2, 1, 1, 1},
    /* Its backward data (>= 64 input channels per group, >= 256 gradient columns k, r, s,
     * phases of dx of at most 14x14): stride 2 with a 5x5 kernel (phases of 5x5 and 4x5);
     * groups of 72 input channels (vectors past them) at stride 3 with asymmetric pads. */
    {"channel vectors s2 5x5 128->96 9x10", 2, 128, 9, 10, 96, 5, 5, 2, 2, 2, 1, 2, 2, 1, 1, 1},
    {"channel vectors s3 groups 2 of 72", 1, 144, 11, 13, 64, 3, 3, 1, 0, 2, 1, 3, 3, 1, 1, 2},
    /* WINOGRAD's channel-vector GEMMs (winograd_gemm_kvec, AVX-512 CPUs): output channels in
     * blocks of 64, the last partly past them (136 forward, 72 backward data), and 40 tiles in
     * blocks of 6, the last partly past them. */
    {"channel blocks 3x3 72->136 7x9", 2, 72, 7, 9, 136, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    /* DIRECT's flat forward with rows of the padded copy grown to a whole number of pixel
     * tiles (rows of 31 -> 32): tiles that end in the padding columns of one row, at stride 1
     * and 2. */
    {"tile rows 3x3 p1 2->5 9x29", 2, 2, 9, 29, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"tile rows 3x3 s2 p1 3->4 5x59", 1, 3, 5, 59, 4, 3, 3, 1, 1, 1, 1, 2, 2, 1, 1, 1},
    /* Backward data by phases of dx: an image narrower than the stride (phases with no
     * pixels), a 2x2 kernel at stride 3 (phases no tap reaches), pads larger than the stride. */
    {"phases 2x1 image stride 3", 2, 16, 2, 1, 16, 1, 1, 0, 0, 0, 0, 3, 3, 1, 1, 1},
    {"phases 2x2 kernel stride 3", 1, 16, 10, 11, 16, 2, 2, 0, 1, 1, 0, 3, 3, 1, 1, 1},
    {"phases 5x5 s2 pad 3 dilation 2", 2, 16, 12, 9, 16, 5, 5, 3, 3, 4, 2, 2, 2, 2, 2, 1},
};
#define NSHAPES ((int)(sizeof shapes / sizeof shapes[0]))

/* The table row called `name` (rows are picked by name so the table can grow). */
static const shape *find_shape(const char *name)
{
    for (int i = 0; i < NSHAPES; i++)
        if (strcmp(shapes[i].name, name) == 0)
            return &shapes[i];
    ck_abort_msg("no table row \"%s\"", name);
    return NULL;
}

static ref_conv ref_of(const shape *sh)
{
    ref_conv p = {sh->n,  sh->c,  sh->h,  sh->w,  sh->k,  sh->r,  sh->s,      sh->pt, sh->pb,
                  sh->pl, sh->pr, sh->sh, sh->sw, sh->dh, sh->dw, sh->groups, 0,      0};
    ck_assert_msg(ref_conv_shape(&p), "%s: bad table row", sh->name);
    return p;
}

static oclnn_conv2d_desc desc_of(const shape *sh, oclnn_conv_algo algo)
{
    oclnn_conv2d_desc d = oclnn_conv2d_desc_default();
    d.pad_top = sh->pt, d.pad_bottom = sh->pb, d.pad_left = sh->pl, d.pad_right = sh->pr;
    d.stride_h = sh->sh, d.stride_w = sh->sw, d.dilation_h = sh->dh, d.dilation_w = sh->dw;
    d.groups = sh->groups;
    d.algo = algo;
    return d;
}

static bool is_depthwise(const shape *sh)
{
    return sh->groups == sh->c && sh->groups > 1;
}

static bool is_1x1(const shape *sh)
{
    return sh->r == 1 && sh->s == 1 && sh->sh == 1 && sh->sw == 1 && !sh->pt && !sh->pb &&
           !sh->pl && !sh->pr;
}

/* Where WINOGRAD applies: 3x3 kernels at stride 1, dilation 1, groups 1 (any padding). Its
 * F(2x2, 3x3) transforms add and halve a few terms before and after the channel sums, so its
 * error stays a few ulp times a small multiple of sum|terms|: it is held to the same RTOL and ATOL
 * as every algorithm, and a 1e-4 relative error in the output transform's second-row coefficient
 * fails every forward table shape with a second output row (likewise 1e-4 in one coefficient of
 * the filter transform's adjoint fails backward weights). */
static bool is_winograd(const shape *sh)
{
    return sh->r == 3 && sh->s == 3 && sh->sh == 1 && sh->sw == 1 && sh->dh == 1 && sh->dw == 1 &&
           sh->groups == 1;
}

/* The algorithms that must handle a shape: DIRECT and IM2COL_GEMM everywhere, GEMM_1X1,
 * DEPTHWISE and WINOGRAD where they apply, and AUTO. */
static int algos_for(const shape *sh, oclnn_conv_algo *out)
{
    int n = 0;
    out[n++] = OCLNN_CONV_DIRECT;
    out[n++] = OCLNN_CONV_IM2COL_GEMM;
    if (is_1x1(sh))
        out[n++] = OCLNN_CONV_GEMM_1X1;
    if (is_depthwise(sh))
        out[n++] = OCLNN_CONV_DEPTHWISE;
    if (is_winograd(sh))
        out[n++] = OCLNN_CONV_WINOGRAD;
    out[n++] = OCLNN_CONV_AUTO;
    return n;
}

static const char *algo_str(oclnn_conv_algo a)
{
    static const char *names[] = {"AUTO",     "DIRECT",    "IM2COL_GEMM",
                                  "GEMM_1X1", "DEPTHWISE", "WINOGRAD"};
    return names[a];
}

/* Host data of one case: float arrays for the device, double copies for the reference. */
typedef struct data {
    size_t nx, nw, ny;
    float *x, *w, *b, *z, *dy;
    double *xd, *wd, *bd, *zd, *dyd;
} data;

static data make_data(const ref_conv *p, uint32_t seed)
{
    data d;
    d.nx = (size_t)p->n * p->c * p->h * p->w;
    d.nw = (size_t)p->k * (p->c / p->groups) * p->r * p->s;
    d.ny = (size_t)p->n * p->k * p->oh * p->ow;
    d.x = fx_alloc(d.nx), d.w = fx_alloc(d.nw), d.b = fx_alloc((size_t)p->k);
    d.z = fx_alloc(d.ny), d.dy = fx_alloc(d.ny);
    fx_fill(d.x, d.nx, seed, -1, 1);
    fx_fill(d.w, d.nw, seed + 1, -1, 1);
    fx_fill(d.b, (size_t)p->k, seed + 2, -1, 1);
    fx_fill(d.z, d.ny, seed + 3, -1, 1);
    fx_fill(d.dy, d.ny, seed + 4, -1, 1);
    d.xd = fx_widen(d.x, d.nx), d.wd = fx_widen(d.w, d.nw), d.bd = fx_widen(d.b, (size_t)p->k);
    d.zd = fx_widen(d.z, d.ny), d.dyd = fx_widen(d.dy, d.ny);
    return d;
}

static void free_data(data *d)
{
    free(d->x), free(d->w), free(d->b), free(d->z), free(d->dy);
    free(d->xd), free(d->wd), free(d->bd), free(d->zd), free(d->dyd);
}

static double *tolerances(const double *terms, size_t n)
{
    double *t = malloc(n * sizeof *t);
    ck_assert_ptr_nonnull(t);
    for (size_t i = 0; i < n; i++)
        t[i] = RTOL * terms[i] + ATOL;
    return t;
}

static oclnn_tensor_desc d4(int n, int c, int h, int w)
{
    return oclnn_tensor_desc_4d(n, c, h, w);
}

/* Forward of one shape with one algorithm and epilogue; output NaN-prefilled. */
static void check_forward(const shape *sh, oclnn_conv_algo algo, bool bias, int act, bool residual,
                          int res_before)
{
    oclnn_context *ctx = fx_ctx();
    ref_conv p = ref_of(sh);
    data d = make_data(&p, 11);
    oclnn_tensor_desc xd = d4(p.n, p.c, p.h, p.w), wd = d4(p.k, p.c / p.groups, p.r, p.s);
    oclnn_tensor_desc yd = d4(p.n, p.k, p.oh, p.ow), bd = oclnn_tensor_desc_1d(p.k);
    oclnn_tensor *x = fx_tensor(&xd, d.x), *w = fx_tensor(&wd, d.w), *y = fx_tensor(&yd, NULL);
    oclnn_tensor *b = bias ? fx_tensor(&bd, d.b) : NULL, *z = residual ? fx_tensor(&yd, d.z) : NULL;
    oclnn_conv2d_desc desc = desc_of(sh, algo);
    desc.activation = (oclnn_activation)act;
    desc.residual_before_act = res_before;
    oclnn_status s = oclnn_conv2d_forward(ctx, &desc, x, w, b, z, y);
    ck_assert_msg(s == OCLNN_SUCCESS, "%s %s: %s", sh->name, algo_str(algo), oclnn_last_error(ctx));
    double *want = malloc(d.ny * sizeof *want), *terms = malloc(d.ny * sizeof *terms);
    ref_conv_forward(&p, d.xd, d.wd, bias ? d.bd : NULL, residual ? d.zd : NULL, act, res_before,
                     want, terms);
    double *tol = tolerances(terms, d.ny);
    if (act >= 2) /* erf/tanh in float: a few ulp of the result on top of the sum's error */
        for (size_t i = 0; i < d.ny; i++)
            tol[i] += 1e-6 * fabs(want[i]);
    float *got = fx_download(y);
    char what[160];
    snprintf(what, sizeof what, "%s forward %s b%d act%d z%d before%d", sh->name, algo_str(algo),
             bias, act, residual, res_before);
    fx_assert_close_tol(what, got, want, tol, d.ny);
    free(got), free(want), free(terms), free(tol);
    oclnn_tensor_destroy(x), oclnn_tensor_destroy(w), oclnn_tensor_destroy(y);
    oclnn_tensor_destroy(b), oclnn_tensor_destroy(z);
    free_data(&d);
}

/* t holds exactly start (or is still all NaN when start is NULL): a failed call wrote nothing. */
static void assert_untouched(const oclnn_tensor *t, const float *start, const char *name)
{
    float *got = fx_download(t);
    oclnn_tensor_desc d = oclnn_tensor_get_desc(t);
    for (size_t i = 0; i < oclnn_tensor_desc_count(&d); i++)
        ck_assert_msg(start ? got[i] == start[i] : isnan(got[i]), "%s[%zu] was written", name, i);
    free(got);
}

/* Backward data (with_data) and weights + bias (with_weights) of one shape with one algorithm.
 * beta 1 starts from random dx/dw/db and checks they were added to. */
static void check_backward_passes(const shape *sh, oclnn_conv_algo algo, float beta, bool with_data,
                                  bool with_weights)
{
    oclnn_context *ctx = fx_ctx();
    ref_conv p = ref_of(sh);
    data d = make_data(&p, 23);
    oclnn_tensor_desc xd = d4(p.n, p.c, p.h, p.w), wd = d4(p.k, p.c / p.groups, p.r, p.s);
    oclnn_tensor_desc yd = d4(p.n, p.k, p.oh, p.ow), bd = oclnn_tensor_desc_1d(p.k);
    float *dx0 = fx_alloc(d.nx), *dw0 = fx_alloc(d.nw), *db0 = fx_alloc((size_t)p.k);
    fx_fill(dx0, d.nx, 91, -1, 1);
    fx_fill(dw0, d.nw, 92, -1, 1);
    fx_fill(db0, (size_t)p.k, 93, -1, 1);
    const bool acc = beta != 0.0f;
    oclnn_tensor *x = fx_tensor(&xd, d.x), *w = fx_tensor(&wd, d.w), *dy = fx_tensor(&yd, d.dy);
    oclnn_tensor *dx = fx_tensor(&xd, acc ? dx0 : NULL), *dw = fx_tensor(&wd, acc ? dw0 : NULL);
    oclnn_tensor *db = fx_tensor(&bd, acc ? db0 : NULL);
    oclnn_conv2d_desc desc = desc_of(sh, algo);
    oclnn_status s =
        with_data ? oclnn_conv2d_backward_data(ctx, &desc, dy, w, dx, beta) : OCLNN_SUCCESS;
    ck_assert_msg(s == OCLNN_SUCCESS, "%s %s backward data: %s", sh->name, algo_str(algo),
                  oclnn_last_error(ctx));
    s = with_weights ? oclnn_conv2d_backward_weights(ctx, &desc, x, dy, dw, db, beta)
                     : OCLNN_SUCCESS;
    ck_assert_msg(s == OCLNN_SUCCESS, "%s %s backward weights: %s", sh->name, algo_str(algo),
                  oclnn_last_error(ctx));

    double *want = malloc(d.nx * sizeof *want), *terms = malloc(d.nx * sizeof *terms);
    ref_conv_backward_data(&p, d.dyd, d.wd, want, terms);
    for (size_t i = 0; acc && i < d.nx; i++)
        want[i] += dx0[i], terms[i] += fabs(dx0[i]);
    double *tol = tolerances(terms, d.nx);
    float *got = fx_download(dx);
    char what[160];
    snprintf(what, sizeof what, "%s backward data %s beta %g", sh->name, algo_str(algo),
             (double)beta);
    if (with_data)
        fx_assert_close_tol(what, got, want, tol, d.nx);
    free(got), free(want), free(terms), free(tol);

    double *wantw = malloc(d.nw * sizeof *wantw), *termsw = malloc(d.nw * sizeof *termsw);
    double wantb[512], termsb[512];
    ck_assert_int_le(p.k, 512);
    ref_conv_backward_weights(&p, d.xd, d.dyd, wantw, termsw, wantb, termsb);
    for (size_t i = 0; acc && i < d.nw; i++)
        wantw[i] += dw0[i], termsw[i] += fabs(dw0[i]);
    for (int i = 0; acc && i < p.k; i++)
        wantb[i] += db0[i], termsb[i] += fabs(db0[i]);
    tol = tolerances(termsw, d.nw);
    got = fx_download(dw);
    snprintf(what, sizeof what, "%s backward weights %s beta %g", sh->name, algo_str(algo),
             (double)beta);
    if (with_weights)
        fx_assert_close_tol(what, got, wantw, tol, d.nw);
    free(got), free(tol);
    tol = tolerances(termsb, (size_t)p.k);
    got = fx_download(db);
    snprintf(what, sizeof what, "%s backward bias %s beta %g", sh->name, algo_str(algo),
             (double)beta);
    if (with_weights)
        fx_assert_close_tol(what, got, wantb, tol, (size_t)p.k);
    free(got), free(tol);
    free(wantw), free(termsw);
    free(dx0), free(dw0), free(db0);
    oclnn_tensor_destroy(x), oclnn_tensor_destroy(w), oclnn_tensor_destroy(dy);
    oclnn_tensor_destroy(dx), oclnn_tensor_destroy(dw), oclnn_tensor_destroy(db);
    free_data(&d);
}

static void check_backward(const shape *sh, oclnn_conv_algo algo, float beta)
{
    check_backward_passes(sh, algo, beta, true, true);
}

START_TEST(forward_table)
{
    const shape *sh = &shapes[_i];
    oclnn_conv_algo algos[6];
    int na = algos_for(sh, algos);
    for (int a = 0; a < na; a++)
        check_forward(sh, algos[a], true, OCLNN_ACT_NONE, false, 0);
}
END_TEST

START_TEST(backward_table)
{
    const shape *sh = &shapes[_i];
    oclnn_conv_algo algos[6];
    int na = algos_for(sh, algos);
    for (int a = 0; a < na; a++)
        check_backward(sh, algos[a], 0.0f);
}
END_TEST

/* DIRECT's flat backward weights sums chunks of images whose copies of x and dy stay within
 * about 2 MiB, then adds the chunks' partial sums: images of ~0.43 MB (4 per chunk: chunks of 4
 * and 1) at stride 1, ~0.85 MB at stride 2 (chunks of 2 and 1); its channel-vector kernel (on
 * AVX-512 CPUs) chunks of 512 KiB while the partial sums stay under a quarter of x and dy:
 * images of ~0.57 MB in chunks of 2, 2 and 1; or, where that allows fewer, as many as do 800
 * FLOP per byte of partial sums: 17 images of 128 channels at 14x14 (0.98 GFLOP, 0.59 MB of
 * weights; a quarter of x and dy, 1.04 MB, allows one) in chunks of 9 and 8. With beta 0 and
 * 1. */
static const shape chunk_shapes[] = {
    {"chunks 3x3 32->64 32x32", 5, 32, 32, 32, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"chunks 3x3 s2 32->64 64x64", 3, 32, 64, 64, 64, 3, 3, 1, 1, 1, 1, 2, 2, 1, 1, 1},
    {"chunks channel vectors 3x3 64->64 32x32", 5, 64, 32, 32, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"chunks by flops 3x3 128->128 14x14", 17, 128, 14, 14, 128, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
};

START_TEST(wgrad_chunks)
{
    check_backward(&chunk_shapes[_i], OCLNN_CONV_DIRECT, 0.0f);
    check_backward(&chunk_shapes[_i], OCLNN_CONV_DIRECT, 1.0f);
}
END_TEST

/* GEMM_1X1 on GEMMs large enough for CLBlast's indirect path (m n k >= 128^3: padded copies of
 * the operands), which the batched call of every image took with the weights' stride 0; the
 * second is a shape whose backward data AUTO gives GEMM_1X1 (12 channels per group). */
static const shape large_1x1_shapes[] = {
    {"1x1 64->64 28x28, batch 3", 3, 64, 28, 28, 64, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1},
    {"1x1 12->256 48x48, batch 2", 2, 12, 48, 48, 256, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1},
};

START_TEST(large_gemm_1x1)
{
    const shape *sh = &large_1x1_shapes[_i];
    check_forward(sh, OCLNN_CONV_GEMM_1X1, true, OCLNN_ACT_NONE, false, 0);
    check_backward(sh, OCLNN_CONV_GEMM_1X1, 0.0f);
    check_backward(sh, OCLNN_CONV_GEMM_1X1, 1.0f);
    check_backward(sh, OCLNN_CONV_AUTO, 0.0f);
}
END_TEST

/* Backward data skips the phases of dx no tap reaches (three of four for a strided 1x1): with
 * beta 0 they are zeroed (the dx the other tests start from is NaN), with beta 1 they keep dx.
 * The flat kernel and the channel-vector one, beta 1. */
static const char *unreached_phase_shapes[] = {"ResNet-18 1x1 s2 projection",
                                               "flat 1x1 s2 64->64 odd 9x11",
                                               "channel vectors 1x1 s2 256->136 9x11"};

START_TEST(unreached_phases_accumulate)
{
    check_backward(find_shape(unreached_phase_shapes[_i]), OCLNN_CONV_DIRECT, 1.0f);
}
END_TEST

/* With beta 0 the zeroing covers dx alone: dx a view 37 floats into a buffer of sentinels,
 * which stay. */
START_TEST(unreached_phases_zero_a_view_only)
{
    const shape *sh = find_shape("ResNet-18 1x1 s2 projection");
    oclnn_context *ctx = fx_ctx();
    ref_conv p = ref_of(sh);
    data d = make_data(&p, 29);
    const size_t off = 37, total = d.nx + 2 * off;
    float *init = fx_alloc(total);
    for (size_t i = 0; i < total; i++)
        init[i] = 1234.5f;
    oclnn_tensor_desc all = oclnn_tensor_desc_1d((int)total), xd = d4(p.n, p.c, p.h, p.w);
    oclnn_tensor_desc wd = d4(p.k, p.c / p.groups, p.r, p.s), yd = d4(p.n, p.k, p.oh, p.ow);
    oclnn_tensor *base = fx_tensor(&all, init), *w = fx_tensor(&wd, d.w);
    oclnn_tensor *dy = fx_tensor(&yd, d.dy), *dx;
    ck_assert_int_eq(oclnn_tensor_view(ctx, base, &xd, off, &dx), OCLNN_SUCCESS);
    oclnn_conv2d_desc desc = desc_of(sh, OCLNN_CONV_DIRECT);
    oclnn_status s = oclnn_conv2d_backward_data(ctx, &desc, dy, w, dx, 0.0f);
    ck_assert_msg(s == OCLNN_SUCCESS, "backward data: %s", oclnn_last_error(ctx));
    double *want = malloc(d.nx * sizeof *want), *terms = malloc(d.nx * sizeof *terms);
    ref_conv_backward_data(&p, d.dyd, d.wd, want, terms);
    double *tol = tolerances(terms, d.nx);
    float *got = fx_download(dx), *everything = fx_download(base);
    fx_assert_close_tol("1x1 s2 backward data into a view", got, want, tol, d.nx);
    for (size_t i = 0; i < off; i++)
        ck_assert_msg(everything[i] == 1234.5f && everything[off + d.nx + i] == 1234.5f,
                      "a float %zu away from dx was written", off - i);
    free(got), free(everything), free(want), free(terms), free(tol), free(init);
    oclnn_tensor_destroy(dx), oclnn_tensor_destroy(base), oclnn_tensor_destroy(w);
    oclnn_tensor_destroy(dy);
    free_data(&d);
}
END_TEST

/* Fused epilogue: bias or not, each activation, residual after and before the activation. */
static const char *epilogue_shapes[] = {
    "odd non-square 9x23", "groups 2", "ResNet-18 1x1 s2 projection",
    "channel vectors s2 dilation 2 groups 2 of 80", "tile rows 3x3 p1 2->5 9x29"};

START_TEST(fused_epilogue)
{
    const shape *sh = find_shape(epilogue_shapes[_i]);
    const oclnn_conv_algo algos[] = {OCLNN_CONV_DIRECT, OCLNN_CONV_IM2COL_GEMM};
    for (int a = 0; a < 2; a++)
        for (int act = OCLNN_ACT_NONE; act <= OCLNN_ACT_GELU_TANH; act++) {
            check_forward(sh, algos[a], act % 2 == 0, act, false, 0);
            check_forward(sh, algos[a], true, act, true, 0);
            check_forward(sh, algos[a], act != 1, act, true, 1);
        }
}
END_TEST

/* WINOGRAD's output transform stores through the same epilogue: every combination on odd
 * output sizes (3x37: a partial last tile row and column). */
static const char *epilogue_winograd_shapes[] = {"wide row 3x37 (tiles + tail)"};

START_TEST(fused_epilogue_winograd)
{
    const shape *sh = find_shape(epilogue_winograd_shapes[_i]);
    for (int act = OCLNN_ACT_NONE; act <= OCLNN_ACT_GELU_TANH; act++) {
        check_forward(sh, OCLNN_CONV_WINOGRAD, act % 2 == 0, act, false, 0);
        check_forward(sh, OCLNN_CONV_WINOGRAD, true, act, true, 0);
        check_forward(sh, OCLNN_CONV_WINOGRAD, act != 1, act, true, 1);
    }
}
END_TEST

START_TEST(fused_epilogue_1x1)
{
    const shape *sh = find_shape("ConvNeXt-T 1x1 expand 16->64");
    for (int act = OCLNN_ACT_NONE; act <= OCLNN_ACT_GELU_TANH; act++) {
        check_forward(sh, OCLNN_CONV_GEMM_1X1, true, act, true, 0);
        check_forward(sh, OCLNN_CONV_GEMM_1X1, false, act, true, 1);
    }
}
END_TEST

/* beta = 1 adds to the existing gradients. */
static const char *accumulate_shapes[] = {"stride 2 pad 1",
                                          "dilation 3 stride 2",
                                          "groups 4 1x1",
                                          "depthwise 7x7 s1",
                                          "ConvNeXt-T 1x1 expand 16->64",
                                          "asymmetric pad 0,2,1,0",
                                          "channel vectors s2 dilation 2 groups 2 of 80",
                                          "channel vectors s2 5x5 128->96 9x10"};

START_TEST(accumulate)
{
    const shape *sh = find_shape(accumulate_shapes[_i]);
    oclnn_conv_algo algos[6];
    int na = algos_for(sh, algos);
    for (int a = 0; a < na; a++)
        check_backward(sh, algos[a], 1.0f);
}
END_TEST

/* L(x, w, b) = sum y * dy of the reference forward (y: scratch of d->ny). */
static double fd_loss(const ref_conv *p, const data *d, const double *bias, double *y)
{
    ref_conv_forward(p, d->xd, d->wd, bias, NULL, 0, 0, y, NULL);
    double loss = 0;
    for (size_t i = 0; i < d->ny; i++)
        loss += y[i] * d->dyd[i];
    return loss;
}

/* The double reference backward against centred differences of the reference forward of
 * L = sum y * g. L is linear in x and w, so the difference is exact up to rounding. */
START_TEST(reference_finite_differences)
{
    static const shape small[] = {
        {"fd stride 2 pad asym", 2, 2, 5, 6, 3, 3, 3, 1, 0, 2, 1, 2, 2, 1, 1, 1},
        {"fd dilation 2 groups 2", 1, 4, 6, 7, 4, 2, 3, 1, 1, 0, 1, 1, 2, 2, 2, 2},
        {"fd stride 3 > kernel", 1, 3, 7, 8, 2, 2, 2, 1, 1, 1, 1, 3, 3, 1, 1, 1},
    };
    const shape *sh = &small[_i];
    ref_conv p = ref_of(sh);
    data d = make_data(&p, 5);
    double *y = malloc(d.ny * sizeof *y), *dx = malloc(d.nx * sizeof *dx);
    double *dw = malloc(d.nw * sizeof *dw), db[16];
    ref_conv_backward_data(&p, d.dyd, d.wd, dx, NULL);
    ref_conv_backward_weights(&p, d.xd, d.dyd, dw, NULL, db, NULL);
    const double h = 1e-3;
    double *bias = calloc((size_t)p.k, sizeof *bias);
    /* Each input of L(x, w, b) in turn, with the reference gradient it must match. */
    double *vars[3] = {d.xd, d.wd, bias};
    const double *grads[3] = {dx, dw, db};
    const size_t counts[3] = {d.nx, d.nw, (size_t)p.k};
    const char *names[3] = {"dx", "dw", "db"};
    for (int v = 0; v < 3; v++)
        for (size_t i = 0; i < counts[v]; i++) {
            const double keep = vars[v][i];
            vars[v][i] = keep + h;
            const double lp = fd_loss(&p, &d, bias, y);
            vars[v][i] = keep - h;
            const double lm = fd_loss(&p, &d, bias, y);
            vars[v][i] = keep;
            const double fd = (lp - lm) / (2 * h), g = grads[v][i];
            ck_assert_msg(fabs(fd - g) <= 1e-8 * (1 + fabs(g)), "%s %s[%zu]: fd %.12g ref %.12g",
                          sh->name, names[v], i, fd, g);
        }
    free(bias), free(y), free(dx), free(dw);
    free_data(&d);
}
END_TEST

/* Same inputs twice: the same bits, for every pass and algorithm. */
START_TEST(deterministic)
{
    oclnn_context *ctx = fx_ctx();
    const shape *sh = find_shape("batch 5");
    ref_conv p = ref_of(sh);
    data d = make_data(&p, 3);
    oclnn_tensor_desc xd = d4(p.n, p.c, p.h, p.w), wd = d4(p.k, p.c / p.groups, p.r, p.s);
    oclnn_tensor_desc yd = d4(p.n, p.k, p.oh, p.ow), bd = oclnn_tensor_desc_1d(p.k);
    oclnn_tensor *x = fx_tensor(&xd, d.x), *w = fx_tensor(&wd, d.w), *dy = fx_tensor(&yd, d.dy);
    oclnn_tensor *b = fx_tensor(&bd, d.b);
    const oclnn_conv_algo algos[] = {OCLNN_CONV_DIRECT, OCLNN_CONV_IM2COL_GEMM, OCLNN_CONV_WINOGRAD,
                                     OCLNN_CONV_AUTO};
    for (int a = 0; a < 4; a++) {
        oclnn_conv2d_desc desc = desc_of(sh, algos[a]);
        desc.activation = OCLNN_ACT_GELU;
        float *first[4] = {0};
        for (int run = 0; run < 2; run++) {
            oclnn_tensor *y = fx_tensor(&yd, NULL), *dx = fx_tensor(&xd, NULL);
            oclnn_tensor *dw = fx_tensor(&wd, NULL), *db = fx_tensor(&bd, NULL);
            ck_assert_int_eq(oclnn_conv2d_forward(ctx, &desc, x, w, b, NULL, y), OCLNN_SUCCESS);
            ck_assert_int_eq(oclnn_conv2d_backward_data(ctx, &desc, dy, w, dx, 0), OCLNN_SUCCESS);
            ck_assert_int_eq(oclnn_conv2d_backward_weights(ctx, &desc, x, dy, dw, db, 0),
                             OCLNN_SUCCESS);
            oclnn_tensor *outs[4] = {y, dx, dw, db};
            const char *names[4] = {"y", "dx", "dw", "db"};
            for (int o = 0; o < 4; o++) {
                char what[64];
                snprintf(what, sizeof what, "%s %s", algo_str(algos[a]), names[o]);
                fx_same_as_first_run(what, outs[o], &first[o]);
                oclnn_tensor_destroy(outs[o]);
            }
        }
    }
    oclnn_tensor_destroy(x), oclnn_tensor_destroy(w), oclnn_tensor_destroy(dy);
    oclnn_tensor_destroy(b);
    free_data(&d);
}
END_TEST

/* One layer AUTO is asked about: n images of c channels on hw x hw planes, k filters of r x r. */
typedef struct auto_case {
    int n, c, k, hw, r;
    oclnn_conv_pass pass;
    oclnn_conv_algo want;
} auto_case;

/* Asserts what AUTO picks for each case under desc. */
static void check_auto(const oclnn_conv2d_desc *desc, const auto_case *cases, size_t ncases)
{
    oclnn_context *ctx = fx_ctx();
    for (size_t i = 0; i < ncases; i++) {
        const auto_case *t = &cases[i];
        oclnn_tensor_desc x = d4(t->n, t->c, t->hw, t->hw), w = d4(t->k, t->c, t->r, t->r);
        oclnn_conv_algo a;
        size_t ws;
        ck_assert_int_eq(oclnn_conv2d_choose(ctx, desc, t->pass, &x, &w, &a, &ws), OCLNN_SUCCESS);
        ck_assert_msg(a == t->want, "case %zu (n %d %d>%d@%d %dx%d pass %d): picked %d, want %d", i,
                      t->n, t->c, t->k, t->hw, t->r, t->r, (int)t->pass, (int)a, (int)t->want);
    }
}

/* AUTO on CPUs: backward weights of a wide 3x3 layer on small planes takes WINOGRAD from batch 8
 * on (DIRECT below it), on AVX-512 CPUs (its GEMMs in the channel-vector loop) from 196 output
 * pixels on planes up to 14x14; on AVX-512 CPUs forward and backward data take it on 7x7 planes of
 * 512 channels from 392 output pixels (its GEMMs in the channel-vector loop), and on 4x4 planes the
 * forward of >= 1024 channels (with >= 512 output pixels in the batch; DIRECT's channel-vector
 * kernels are faster elsewhere). GPUs take the GEMM algorithms. */
START_TEST(auto_winograd)
{
    oclnn_context *ctx = fx_ctx();
    oclnn_device_info info;
    ck_assert_int_eq(oclnn_context_device_info(ctx, &info), OCLNN_SUCCESS);
    const bool cpu = (info.type & CL_DEVICE_TYPE_CPU) != 0;
    const bool wide = cpu && info.native_vector_width_float >= 16;
    const oclnn_conv_algo gemm = OCLNN_CONV_IM2COL_GEMM, wino = OCLNN_CONV_WINOGRAD,
                          direct = OCLNN_CONV_DIRECT;
    const oclnn_conv_algo fd_wino = wide ? wino : cpu ? direct : gemm;
    oclnn_conv2d_desc desc = oclnn_conv2d_desc_default();
    oclnn_conv2d_desc_set_pad(&desc, 1, 1);
    const oclnn_conv_pass W = OCLNN_CONV_BACKWARD_WEIGHTS, F = OCLNN_CONV_FORWARD,
                          D = OCLNN_CONV_BACKWARD_DATA;
    const auto_case cases[] = {
        {8, 512, 512, 7, 3, W, cpu ? wino : gemm},
        {4, 512, 512, 7, 3, W, wide ? wino : (cpu ? direct : gemm)},
        {1, 512, 512, 7, 3, W, cpu ? direct : gemm},
        {1, 256, 256, 14, 3, W, wide ? wino : (cpu ? direct : gemm)},
        {32, 128, 128, 28, 3, W, cpu ? direct : gemm},
        {8, 512, 512, 7, 3, F, fd_wino},
        {8, 512, 512, 7, 3, D, fd_wino},
        {4, 512, 512, 7, 3, F, cpu ? direct : gemm},
        {16, 512, 512, 7, 3, F, fd_wino},
        {16, 512, 512, 7, 3, D, fd_wino},
        {32, 256, 512, 7, 3, F, cpu ? direct : gemm},
        {16, 512, 512, 4, 3, F, cpu ? direct : gemm},
        {32, 512, 512, 4, 3, D, cpu ? direct : gemm},
        {32, 256, 256, 4, 3, F, cpu ? direct : gemm},
        {32, 1024, 1024, 4, 3, F, fd_wino},
        {32, 256, 256, 5, 3, F, cpu ? direct : gemm},
        {64, 256, 256, 7, 3, D, cpu ? direct : gemm},
        {16, 512, 512, 9, 3, F, cpu ? direct : gemm},
    };
    check_auto(&desc, cases, sizeof cases / sizeof cases[0]);
}
END_TEST

/* AUTO for 1x1 passes, the reductions over 4x the channels they write on planes of 28x28 (which
 * took GEMM_1X1 on AVX-512 CPUs before DIRECT's work-groups shared their input) and the other
 * pointwise passes: DIRECT on CPUs; GPUs take the GEMM algorithms everywhere. */
START_TEST(auto_pointwise_1x1)
{
    oclnn_context *ctx = fx_ctx();
    oclnn_device_info info;
    ck_assert_int_eq(oclnn_context_device_info(ctx, &info), OCLNN_SUCCESS);
    const oclnn_conv_algo want =
        info.type & CL_DEVICE_TYPE_CPU ? OCLNN_CONV_DIRECT : OCLNN_CONV_GEMM_1X1;
    oclnn_conv2d_desc desc = oclnn_conv2d_desc_default();
    const oclnn_conv_pass F = OCLNN_CONV_FORWARD, D = OCLNN_CONV_BACKWARD_DATA;
    const auto_case cases[] = {
        {2, 64, 16, 28, 1, F, want},   {2, 16, 64, 28, 1, D, want}, {2, 64, 16, 27, 1, F, want},
        {2, 16, 64, 27, 1, D, want},   {2, 64, 32, 28, 1, F, want}, {2, 32, 64, 28, 1, D, want},
        {2, 16, 64, 28, 1, F, want},   {2, 64, 16, 28, 1, D, want}, {1, 384, 96, 56, 1, F, want},
        {32, 96, 384, 56, 1, D, want},
    };
    check_auto(&desc, cases, sizeof cases / sizeof cases[0]);
}
END_TEST

START_TEST(choose_and_shape)
{
    oclnn_context *ctx = fx_ctx();
    oclnn_conv2d_desc desc = oclnn_conv2d_desc_default();
    ck_assert_int_eq(desc.stride_h, 1);
    ck_assert_int_eq(desc.dilation_w, 1);
    ck_assert_int_eq(desc.groups, 1);
    ck_assert_int_eq(desc.algo, OCLNN_CONV_AUTO);
    oclnn_conv2d_desc_set_pad(&desc, 1, 2);
    ck_assert_int_eq(desc.pad_top + desc.pad_bottom, 2);
    ck_assert_int_eq(desc.pad_left + desc.pad_right, 4);
    oclnn_tensor_desc x = d4(2, 8, 10, 12), w = d4(16, 8, 3, 5), y;
    ck_assert_int_eq(oclnn_conv2d_output_shape(&desc, &x, &w, &y), OCLNN_SUCCESS);
    ck_assert_int_eq(y.dims[0], 2);
    ck_assert_int_eq(y.dims[1], 16);
    ck_assert_int_eq(y.dims[2], 10);
    ck_assert_int_eq(y.dims[3], 12);
    oclnn_conv_algo a;
    size_t ws;
    /* The pick depends on the device; the workspace must be the one of the algorithm picked:
     * im2col columns and GEMM output of both images, or DIRECT's packed weights (w rounded up
     * to its channel block) and, at stride 1, x zero-padded to planes of 12 x 16 (oh + 2 rows,
     * ow + 4 columns) plus 2 or 3 rows of slack (16 or 32 lanes of the last tile + 4 columns
     * of taps past the last plane). */
    ck_assert_int_eq(oclnn_conv2d_choose(ctx, &desc, OCLNN_CONV_FORWARD, &x, &w, &a, &ws),
                     OCLNN_SUCCESS);
    ck_assert_msg(a == OCLNN_CONV_IM2COL_GEMM || a == OCLNN_CONV_DIRECT, "3x3 picked %d", a);
    const size_t wbytes = 16 * 8 * 3 * 5 * sizeof(float);
    if (a == OCLNN_CONV_IM2COL_GEMM)
        ck_assert_uint_eq(ws, 2 * (8 * 3 * 5 + 16) * 10 * 12 * sizeof(float));
    else
        ck_assert_msg(ws >= wbytes + (2 * 8 * 12 + 2) * 16 * sizeof(float) &&
                          ws < 2 * wbytes + (2 * 8 * 12 + 2) * 16 * sizeof(float),
                      "DIRECT workspace %zu", ws);
    desc = oclnn_conv2d_desc_default();
    w = d4(16, 8, 1, 1);
    ck_assert_int_eq(oclnn_conv2d_choose(ctx, &desc, OCLNN_CONV_BACKWARD_DATA, &x, &w, &a, &ws),
                     OCLNN_SUCCESS);
    ck_assert_int_eq(a, OCLNN_CONV_GEMM_1X1);
    ck_assert_uint_eq(ws, 0);
    desc.groups = 8;
    w = d4(8, 1, 3, 3);
    ck_assert_int_eq(oclnn_conv2d_choose(ctx, &desc, OCLNN_CONV_FORWARD, &x, &w, &a, &ws),
                     OCLNN_SUCCESS);
    ck_assert_int_eq(a, OCLNN_CONV_DEPTHWISE);
    /* A forced algorithm is reported as is. DIRECT's backward weights with enough
     * work per copied float needs the flat copies of x (16 planes of 8 + 2 rows: oh and the
     * kernel extent) and dy (32 planes of 8 rows), in rows of 12 floats (ow + the kernel extent)
     * padded to 16, each followed by 2 zero rows for the reads of the last tile past the last
     * plane (16 lanes + 4 columns of taps); at stride
     * 2 down x is split into 2 phases of 4 + 1 rows (oh, the kernel extent in the phase) and dy
     * takes 4 rows; with one channel per group it takes the row kernel and no workspace. */
    desc.algo = OCLNN_CONV_DIRECT;
    oclnn_conv2d_desc dense = desc;
    oclnn_tensor_desc wd = d4(16, 8, 3, 3);
    dense.groups = 1;
    ck_assert_int_eq(
        oclnn_conv2d_choose(ctx, &dense, OCLNN_CONV_BACKWARD_WEIGHTS, &x, &wd, &a, &ws),
        OCLNN_SUCCESS);
    ck_assert_int_eq(a, OCLNN_CONV_DIRECT);
    ck_assert_uint_eq(ws, (16 * 10 + 2 + 32 * 8 + 2) * 16 * sizeof(float));
    dense.stride_h = 2;
    ck_assert_int_eq(
        oclnn_conv2d_choose(ctx, &dense, OCLNN_CONV_BACKWARD_WEIGHTS, &x, &wd, &a, &ws),
        OCLNN_SUCCESS);
    ck_assert_uint_eq(ws, (16 * 2 * 5 + 2 + 32 * 4 + 2) * 16 * sizeof(float));
    ck_assert_int_eq(oclnn_conv2d_choose(ctx, &desc, OCLNN_CONV_BACKWARD_WEIGHTS, &x, &w, &a, &ws),
                     OCLNN_SUCCESS);
    ck_assert_int_eq(a, OCLNN_CONV_DIRECT);
    ck_assert_uint_eq(ws, 0);
    ck_assert_int_eq(oclnn_conv2d_choose(ctx, &desc, OCLNN_CONV_BACKWARD_DATA, &x, &w, &a, &ws),
                     OCLNN_SUCCESS);
    ck_assert_uint_ge(ws, 8 * 9 * sizeof(float));
    ck_assert_int_eq(oclnn_conv2d_choose(ctx, &desc, OCLNN_CONV_FORWARD, &x, &w, &a, &ws),
                     OCLNN_SUCCESS);
    ck_assert_uint_ge(ws, 8 * 9 * sizeof(float));
}
END_TEST

/* When the columns of one image pass the workspace limit, AUTO falls back to DIRECT and a
 * forced IM2COL_GEMM fails with OUT_OF_MEMORY, writing nothing. (Backward data of a 1x1
 * stride-2 layer with 2 channels per group picks IM2COL_GEMM on every device when it fits.) */
START_TEST(workspace_limit)
{
    oclnn_context *ctx = fx_ctx();
    const shape *sh = find_shape("wide row 3x37 (tiles + tail)");
    ref_conv p = ref_of(sh);
    oclnn_tensor_desc xd = d4(p.n, p.c, p.h, p.w), wd = d4(p.k, p.c, p.r, p.s);
    oclnn_conv2d_desc desc = desc_of(sh, OCLNN_CONV_AUTO), s2 = oclnn_conv2d_desc_default();
    oclnn_tensor_desc w1 = d4(p.k, p.c, 1, 1);
    s2.stride_h = s2.stride_w = 2;
    oclnn_conv_algo a;
    size_t ws;
    ck_assert_int_eq(oclnn_conv2d_choose(ctx, &s2, OCLNN_CONV_BACKWARD_DATA, &xd, &w1, &a, &ws),
                     OCLNN_SUCCESS);
    ck_assert_int_eq(a, OCLNN_CONV_IM2COL_GEMM);
    /* 256 bytes: the packed weights of DIRECT (at most 16 x 3 floats) fit, one image's columns
     * (2 x 2 x 19 floats) do not. */
    ck_assert_int_eq(oclnn_context_set_workspace_limit(ctx, 256), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_conv2d_choose(ctx, &s2, OCLNN_CONV_BACKWARD_DATA, &xd, &w1, &a, &ws),
                     OCLNN_SUCCESS);
    ck_assert_int_eq(a, OCLNN_CONV_DIRECT);
    ck_assert_uint_le(ws, 256);
    /* 4 KiB: the packed weights of DIRECT (at most 16 x 2 x 3 x 3 floats) fit, one image's
     * columns (2 x 3 x 3 x 3 x 37 floats) do not. */
    ck_assert_int_eq(oclnn_context_set_workspace_limit(ctx, 4096), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_conv2d_choose(ctx, &desc, OCLNN_CONV_FORWARD, &xd, &wd, &a, &ws),
                     OCLNN_SUCCESS);
    ck_assert_int_eq(a, OCLNN_CONV_DIRECT);
    data d = make_data(&p, 9);
    oclnn_tensor_desc yd = d4(p.n, p.k, p.oh, p.ow);
    oclnn_tensor *x = fx_tensor(&xd, d.x), *w = fx_tensor(&wd, d.w), *y = fx_tensor(&yd, NULL);
    desc.algo = OCLNN_CONV_IM2COL_GEMM;
    fx_assert_status(oclnn_conv2d_forward(ctx, &desc, x, w, NULL, NULL, y), OCLNN_OUT_OF_MEMORY,
                     "IM2COL_GEMM needs");
    float *got = fx_download(y);
    for (size_t i = 0; i < d.ny; i++)
        ck_assert_msg(isnan(got[i]), "y[%zu] was written", i);
    free(got);
    /* Room for DIRECT's packed weights alone (at most 16 x 2 x 3 x 3 floats), not for its padded
     * copy of x: the row kernel, whole tiles and a tail per row, through the fused epilogue. */
    const size_t packed = 16 * 2 * 9 * sizeof(float);
    ck_assert_int_eq(oclnn_context_set_workspace_limit(ctx, packed), OCLNN_SUCCESS);
    desc.algo = OCLNN_CONV_DIRECT;
    ck_assert_int_eq(oclnn_conv2d_choose(ctx, &desc, OCLNN_CONV_FORWARD, &xd, &wd, &a, &ws),
                     OCLNN_SUCCESS);
    ck_assert_uint_le(ws, packed);
    check_forward(sh, OCLNN_CONV_DIRECT, true, OCLNN_ACT_GELU_TANH, true, 0);
    check_forward(sh, OCLNN_CONV_DIRECT, false, OCLNN_ACT_GELU, true, 1);
    ck_assert_int_eq(oclnn_context_set_workspace_limit(ctx, (size_t)1 << 30), OCLNN_SUCCESS);
    oclnn_tensor_destroy(x), oclnn_tensor_destroy(w), oclnn_tensor_destroy(y);
    free_data(&d);
}
END_TEST

/* A workspace limit that fits two images' columns and outputs: batch 5 runs as chunks of 2, 2
 * and 1 (the gradients of the weights accumulate across chunks). */
START_TEST(chunked_batch)
{
    oclnn_context *ctx = fx_ctx();
    const shape *sh = find_shape("batch 5");
    ref_conv p = ref_of(sh);
    const size_t per_image = (size_t)(p.c * p.r * p.s + p.k) * p.oh * p.ow * sizeof(float);
    ck_assert_int_eq(oclnn_context_set_workspace_limit(ctx, per_image * 5 / 2), OCLNN_SUCCESS);
    oclnn_tensor_desc xd = d4(p.n, p.c, p.h, p.w), wd = d4(p.k, p.c, p.r, p.s);
    oclnn_conv2d_desc desc = desc_of(sh, OCLNN_CONV_IM2COL_GEMM);
    oclnn_conv_algo a;
    size_t ws;
    ck_assert_int_eq(oclnn_conv2d_choose(ctx, &desc, OCLNN_CONV_FORWARD, &xd, &wd, &a, &ws),
                     OCLNN_SUCCESS);
    ck_assert_uint_eq(ws, 2 * per_image);
    check_forward(sh, OCLNN_CONV_IM2COL_GEMM, true, OCLNN_ACT_GELU_TANH, true, 1);
    check_backward(sh, OCLNN_CONV_IM2COL_GEMM, 0.0f);
    check_backward(sh, OCLNN_CONV_IM2COL_GEMM, 1.0f);
    ck_assert_int_eq(oclnn_context_set_workspace_limit(ctx, (size_t)1 << 30), OCLNN_SUCCESS);
}
END_TEST

/* WINOGRAD under a small workspace limit: the filter transform 16 x K x C plus two images' tiles
 * (16 x (C + K) x 4 x 5 tiles of 7x9 outputs) per chunk, so the 5 images run as chunks of 2, 2
 * and 1; backward data (C and K swapped, dx 7x9: the same tiles) likewise; backward weights, its
 * own limit (dU 16 x K x C, the same tiles), sums its chunks' products in order. Where the GEMMs
 * run in DIRECT's channel-vector loop (devices with its channel-vector kernels) the filters'
 * output channels (dU's too) are rounded up to 64, as are backward weights' tiles' dy channels,
 * and each packed layout's 16 planes is 16 floats longer. */
START_TEST(chunked_winograd)
{
    oclnn_context *ctx = fx_ctx();
    const shape *sh = find_shape("batch 5");
    ref_conv p = ref_of(sh);
    const bool kvec = oclnn__conv_tuning_defaults(ctx).kv > 0;
    const size_t filter = (size_t)16 * (kvec ? 64 * p.c + 16 : p.k * p.c) * sizeof(float);
    const size_t filter_bwd = (size_t)16 * (kvec ? 64 * p.k + 16 : p.c * p.k) * sizeof(float);
    const size_t per_image = (size_t)16 * (p.c + p.k) * 4 * 5 * sizeof(float);
    const size_t filter_w = (size_t)16 * (kvec ? 64 * p.c + 16 : p.k * p.c) * sizeof(float);
    const size_t per_image_w = (size_t)16 * (p.c + (kvec ? 64 : p.k)) * 4 * 5 * sizeof(float);
    ck_assert_int_eq(oclnn_context_set_workspace_limit(ctx, filter + per_image * 5 / 2),
                     OCLNN_SUCCESS);
    oclnn_tensor_desc xd = d4(p.n, p.c, p.h, p.w), wd = d4(p.k, p.c, p.r, p.s);
    oclnn_conv2d_desc desc = desc_of(sh, OCLNN_CONV_WINOGRAD);
    oclnn_conv_algo a;
    size_t ws;
    ck_assert_int_eq(oclnn_conv2d_choose(ctx, &desc, OCLNN_CONV_FORWARD, &xd, &wd, &a, &ws),
                     OCLNN_SUCCESS);
    ck_assert_uint_eq(ws, filter + 2 * per_image);
    ck_assert_int_eq(oclnn_conv2d_choose(ctx, &desc, OCLNN_CONV_BACKWARD_DATA, &xd, &wd, &a, &ws),
                     OCLNN_SUCCESS);
    ck_assert_uint_eq(ws, filter_bwd + 2 * per_image);
    check_forward(sh, OCLNN_CONV_WINOGRAD, true, OCLNN_ACT_GELU_TANH, true, 1);
    check_forward(sh, OCLNN_CONV_WINOGRAD, true, OCLNN_ACT_RELU, true, 0);
    check_backward_passes(sh, OCLNN_CONV_WINOGRAD, 0.0f, true, false);
    check_backward_passes(sh, OCLNN_CONV_WINOGRAD, 1.0f, true, false);
    ck_assert_int_eq(oclnn_context_set_workspace_limit(ctx, filter_w + per_image_w * 5 / 2),
                     OCLNN_SUCCESS);
    ck_assert_int_eq(
        oclnn_conv2d_choose(ctx, &desc, OCLNN_CONV_BACKWARD_WEIGHTS, &xd, &wd, &a, &ws),
        OCLNN_SUCCESS);
    ck_assert_uint_eq(ws, filter_w + 2 * per_image_w);
    check_backward_passes(sh, OCLNN_CONV_WINOGRAD, 0.0f, false, true);
    check_backward_passes(sh, OCLNN_CONV_WINOGRAD, 1.0f, false, true);
    /* Below one image: OUT_OF_MEMORY, nothing written. */
    ck_assert_int_eq(oclnn_context_set_workspace_limit(ctx, filter + per_image - 4), OCLNN_SUCCESS);
    oclnn_tensor *x = fx_tensor(&xd, NULL), *w = fx_tensor(&wd, NULL);
    oclnn_tensor_desc yd = d4(p.n, p.k, p.oh, p.ow);
    oclnn_tensor *y = fx_tensor(&yd, NULL);
    fx_assert_status(oclnn_conv2d_forward(ctx, &desc, x, w, NULL, NULL, y), OCLNN_OUT_OF_MEMORY,
                     "algorithm WINOGRAD needs");
    fx_assert_status(oclnn_conv2d_backward_data(ctx, &desc, y, w, x, 0), OCLNN_OUT_OF_MEMORY,
                     "algorithm WINOGRAD needs");
    assert_untouched(y, NULL, "y");
    assert_untouched(x, NULL, "x");
    oclnn_tensor_destroy(x), oclnn_tensor_destroy(w), oclnn_tensor_destroy(y);
    ck_assert_int_eq(oclnn_context_set_workspace_limit(ctx, (size_t)1 << 30), OCLNN_SUCCESS);
}
END_TEST

/* The bytes of DIRECT's packed weights for a pass that takes the row kernel (its description
 * says " rows" and gives the block KB): `blocked` channels rounded up to KB, times `other`. */
static size_t row_kernel_packed(oclnn_context *ctx, const oclnn_conv2d_desc *desc,
                                oclnn_conv_pass pass, const oclnn_tensor_desc *xd,
                                const oclnn_tensor_desc *wd, int blocked, int other)
{
    char how[160];
    int kb = 0;
    ck_assert_int_eq(oclnn_conv2d_describe(ctx, desc, pass, xd, wd, how, sizeof how),
                     OCLNN_SUCCESS);
    ck_assert_msg(sscanf(how, "direct KB=%d", &kb) == 1 && kb >= 1 && strstr(how, " rows ("),
                  "pass %d: %s (expected the row kernel)", (int)pass, how);
    return (size_t)(blocked + kb - 1) / kb * kb * other * sizeof(float);
}

/* DIRECT's forward (x in phases) and backward data pad their input into the workspace next to
 * the packed weights, and its backward weights pads x and dy; where those copies pass the limit
 * they take the row kernels instead (the workspace is the packed weights alone, or none) and
 * still give the right results. */
START_TEST(direct_without_padded_copy)
{
    oclnn_context *ctx = fx_ctx();
    const shape *sh = find_shape("LeNet conv2 32->64 3x3 p1 14x14");
    ref_conv p = ref_of(sh);
    /* Packed weights 64 x 32 x 3 x 3 floats, the blocked channel count (64 output channels
     * forward, 32 input channels backward) rounded up to the block: under 90 KiB for any block of
     * at most 16; the padded x (32 planes of 16 x 16) or dy (64 planes) adds at least 32 KiB. */
    ck_assert_int_eq(oclnn_context_set_workspace_limit(ctx, (size_t)64 * 32 * 9 * 4 + 16384),
                     OCLNN_SUCCESS);
    oclnn_tensor_desc xd = d4(p.n, p.c, p.h, p.w), wd = d4(p.k, p.c, p.r, p.s);
    oclnn_conv2d_desc desc = desc_of(sh, OCLNN_CONV_DIRECT);
    oclnn_conv_algo a;
    size_t ws;
    for (int pass = OCLNN_CONV_FORWARD; pass <= OCLNN_CONV_BACKWARD_DATA; pass++) {
        const int blocked = pass == OCLNN_CONV_FORWARD ? 64 : 32, other = 96 - blocked;
        const size_t packed =
            row_kernel_packed(ctx, &desc, (oclnn_conv_pass)pass, &xd, &wd, blocked, other * 9);
        ck_assert_int_eq(oclnn_conv2d_choose(ctx, &desc, (oclnn_conv_pass)pass, &xd, &wd, &a, &ws),
                         OCLNN_SUCCESS);
        ck_assert_uint_eq(ws, packed);
    }
    ck_assert_int_eq(
        oclnn_conv2d_choose(ctx, &desc, OCLNN_CONV_BACKWARD_WEIGHTS, &xd, &wd, &a, &ws),
        OCLNN_SUCCESS);
    ck_assert_uint_eq(ws, 0);
    check_forward(sh, OCLNN_CONV_DIRECT, true, OCLNN_ACT_RELU, true, 1);
    check_backward(sh, OCLNN_CONV_DIRECT, 0.0f);
    ck_assert_int_eq(oclnn_context_set_workspace_limit(ctx, (size_t)1 << 30), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_conv2d_choose(ctx, &desc, OCLNN_CONV_FORWARD, &xd, &wd, &a, &ws),
                     OCLNN_SUCCESS);
    ck_assert_uint_gt(ws, (size_t)64 * 32 * 9 * sizeof(float) + 32768);
    /* A strided forward: packed weights 32 x 16 x 3 x 3 floats (up to 36 x 16 x 3 x 3 with the
     * block rounding) fit, its 4 phases of x (128 planes of 8 x 8) do not; the row kernel's
     * strided loads. */
    const shape *s2 = find_shape("ResNet-18 3x3 s2 16->32 14x14");
    const size_t w2 = (size_t)32 * 16 * 9 * sizeof(float);
    ck_assert_int_eq(oclnn_context_set_workspace_limit(ctx, w2 + 4096), OCLNN_SUCCESS);
    ref_conv p2 = ref_of(s2);
    oclnn_tensor_desc xd2 = d4(p2.n, p2.c, p2.h, p2.w), wd2 = d4(p2.k, p2.c, p2.r, p2.s);
    oclnn_conv2d_desc desc2 = desc_of(s2, OCLNN_CONV_DIRECT);
    const size_t packed2 =
        row_kernel_packed(ctx, &desc2, OCLNN_CONV_FORWARD, &xd2, &wd2, 32, 16 * 9);
    ck_assert_int_eq(oclnn_conv2d_choose(ctx, &desc2, OCLNN_CONV_FORWARD, &xd2, &wd2, &a, &ws),
                     OCLNN_SUCCESS);
    ck_assert_uint_eq(ws, packed2);
    check_forward(s2, OCLNN_CONV_DIRECT, true, OCLNN_ACT_NONE, false, 0);
    ck_assert_int_eq(oclnn_context_set_workspace_limit(ctx, (size_t)1 << 30), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_conv2d_choose(ctx, &desc2, OCLNN_CONV_FORWARD, &xd2, &wd2, &a, &ws),
                     OCLNN_SUCCESS);
    ck_assert_uint_ge(ws, w2 + 128 * 8 * 8 * sizeof(float));
}
END_TEST

/* x as a tensor whose buffer ends where it does (no room past it). */
static oclnn_tensor *tight_tensor(const oclnn_tensor_desc *d, const float *data)
{
    oclnn_context *ctx = fx_ctx();
    cl_context cl;
    ck_assert_int_eq(oclnn_context_get_cl(ctx, &cl, NULL, NULL), OCLNN_SUCCESS);
    const size_t n = oclnn_tensor_desc_count(d);
    cl_int err;
    cl_mem m = clCreateBuffer(cl, CL_MEM_READ_WRITE, n * sizeof(float), NULL, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    oclnn_tensor *t = NULL;
    ck_assert_int_eq(oclnn_tensor_wrap(ctx, d, m, 0, &t), OCLNN_SUCCESS);
    clReleaseMemObject(m); /* the tensor holds it */
    ck_assert_int_eq(oclnn_tensor_upload(ctx, t, data, n, 1), OCLNN_SUCCESS);
    return t;
}

/* The profile's table since the last reset (resetting it). */
static const char *profile_table(oclnn_context *ctx)
{
    static char table[16384];
    memset(table, 0, sizeof table);
    FILE *f = fmemopen(table, sizeof table - 1, "w");
    ck_assert_int_eq(oclnn_profile_print(ctx, f), OCLNN_SUCCESS);
    fclose(f);
    ck_assert_int_eq(oclnn_profile_reset(ctx), OCLNN_SUCCESS);
    return table;
}

/* Whether the profile since the last reset holds a copy kernel (dw_pad, dw_pad_flat). */
static bool profile_has_copy(oclnn_context *ctx)
{
    return strstr(profile_table(ctx), " dw_pad") != NULL;
}

/* DIRECT's flat kernels read an input whose zero-padded copy would be the input itself (1x1
 * stride 1 unpadded; forward also any unpadded stride-1 kernel) in place when its buffer has room
 * for the vectors read past its end, as oclnn_tensor_create's buffers do; without the room (a
 * wrapped buffer of the tensor's size) they copy it. Both give the same bits. */
START_TEST(direct_reads_unpadded_inputs_in_place)
{
    oclnn_context *ctx = fx_ctx();
    /* Per pass (fwd, bwd_data, bwd_weights): I reads in place from a roomy buffer and copies a
     * tight one, C copies both (dy padded by 2 for the full correlation), R takes the row
     * kernel, which copies nothing (too few FLOP per float for the flat backward weights). */
    enum { I, C, R };
    static const struct {
        const char *name;
        int pass[3];
    } cases[] = {{"flat 1x1 64->64 odd 3x19", {I, I, I}}, {"C=1 K=1 odd 7x5", {I, C, R}}};
    ck_assert_int_eq(oclnn_profile_enable(ctx, 1), OCLNN_SUCCESS);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const shape *sh = find_shape(cases[i].name);
        ref_conv p = ref_of(sh);
        data d = make_data(&p, 31);
        const oclnn_tensor_desc xd = d4(p.n, p.c, p.h, p.w), wd = d4(p.k, p.c, p.r, p.s);
        const oclnn_tensor_desc yd = d4(p.n, p.k, p.oh, p.ow);
        const oclnn_conv2d_desc desc = desc_of(sh, OCLNN_CONV_DIRECT);
        oclnn_tensor *w = fx_tensor(&wd, d.w);
        oclnn_tensor *in[2][2] = {{fx_tensor(&xd, d.x), fx_tensor(&yd, d.dy)},
                                  {tight_tensor(&xd, d.x), tight_tensor(&yd, d.dy)}};
        float *out[2][3];
        for (int tight = 0; tight < 2; tight++) {
            oclnn_tensor *x = in[tight][0], *dy = in[tight][1];
            oclnn_tensor *y = fx_tensor(&yd, NULL), *dx = fx_tensor(&xd, NULL),
                         *dw = fx_tensor(&wd, NULL);
            ck_assert_int_eq(oclnn_profile_reset(ctx), OCLNN_SUCCESS);
            for (int pass = 0; pass < 3; pass++) {
                oclnn_status s =
                    pass == 0   ? oclnn_conv2d_forward(ctx, &desc, x, w, NULL, NULL, y)
                    : pass == 1 ? oclnn_conv2d_backward_data(ctx, &desc, dy, w, dx, 0.0f)
                                : oclnn_conv2d_backward_weights(ctx, &desc, x, dy, dw, NULL, 0.0f);
                ck_assert_msg(s == OCLNN_SUCCESS, "%s", oclnn_last_error(ctx));
                const bool copied = profile_has_copy(ctx);
                const int how = cases[i].pass[pass];
                ck_assert_msg(copied == (how == C || (how == I && tight)),
                              "%s pass %d, %s buffer: %s", cases[i].name, pass,
                              tight ? "tight" : "roomy", copied ? "copied" : "read in place");
            }
            out[tight][0] = fx_download(y), out[tight][1] = fx_download(dx);
            out[tight][2] = fx_download(dw);
            oclnn_tensor *outs[] = {y, dx, dw};
            fx_destroy(outs, 3);
        }
        const size_t counts[3] = {d.ny, d.nx, d.nw};
        for (int pass = 0; pass < 3; pass++) {
            ck_assert_msg(memcmp(out[0][pass], out[1][pass], counts[pass] * sizeof(float)) == 0,
                          "%s pass %d: in place and copied differ", cases[i].name, pass);
            free(out[0][pass]), free(out[1][pass]);
        }
        oclnn_tensor *all[] = {w, in[0][0], in[0][1], in[1][0], in[1][1]};
        fx_destroy(all, 5);
        free_data(&d);
    }
    ck_assert_int_eq(oclnn_profile_enable(ctx, 0), OCLNN_SUCCESS);
}
END_TEST

/* The dw_pad launches in the profile since the last reset (resetting it). */
static long profile_pad_calls(oclnn_context *ctx)
{
    const char *table = profile_table(ctx);
    long calls = 0;
    for (const char *at = strstr(table, " dw_pad "); at; at = strstr(at + 1, " dw_pad "))
        calls += strtol(at + 8, NULL, 10);
    return calls;
}

/* DIRECT's flat backward weights reads dy in place row by row where its copy would widen dy's
 * rows to whole tiles of the padded x's and dy's rows are whole tiles or dy is read at most 4
 * times (from a buffer with room for a row's last tile past dy's end): one pad launch fewer than
 * with a tight dy buffer, which it copies, and the same bits. LeNet's first layer (one channel:
 * 3 reads; rows of 28 in 32, a tile and a tail; x padded by dw_pad too) and a stem at stride 2
 * (rows of 48 in 64; x split into phases by another kernel). */
START_TEST(direct_wgrad_reads_dy_rows_in_place)
{
    oclnn_context *ctx = fx_ctx();
    static const shape stem = {
        "stem 7x7 s2 p3 3->8 96x96", 1, 3, 96, 96, 8, 7, 7, 3, 3, 3, 3, 2, 2, 1, 1, 1};
    const shape *shapes_in[] = {find_shape("LeNet conv1 1->32 3x3 p1 28x28"), &stem};
    ck_assert_int_eq(oclnn_profile_enable(ctx, 1), OCLNN_SUCCESS);
    for (size_t i = 0; i < 2; i++) {
        const shape *sh = shapes_in[i];
        const char *name = sh->name;
        ref_conv p = ref_of(sh);
        data d = make_data(&p, 37);
        const oclnn_tensor_desc xd = d4(p.n, p.c, p.h, p.w), wd = d4(p.k, p.c, p.r, p.s);
        const oclnn_tensor_desc yd = d4(p.n, p.k, p.oh, p.ow);
        const oclnn_conv2d_desc desc = desc_of(sh, OCLNN_CONV_DIRECT);
        oclnn_tensor *x = fx_tensor(&xd, d.x);
        oclnn_tensor *dys[2] = {fx_tensor(&yd, d.dy), tight_tensor(&yd, d.dy)};
        float *out[2];
        long pads[2];
        for (int tight = 0; tight < 2; tight++) {
            oclnn_tensor *dw = fx_tensor(&wd, NULL);
            ck_assert_int_eq(oclnn_profile_reset(ctx), OCLNN_SUCCESS);
            ck_assert_msg(oclnn_conv2d_backward_weights(ctx, &desc, x, dys[tight], dw, NULL,
                                                        0.0f) == OCLNN_SUCCESS,
                          "%s", oclnn_last_error(ctx));
            pads[tight] = profile_pad_calls(ctx);
            out[tight] = fx_download(dw);
            oclnn_tensor_destroy(dw);
        }
        ck_assert_msg(pads[1] == pads[0] + 1, "%s: %ld pad launches with room, %ld without", name,
                      pads[0], pads[1]);
        ck_assert_msg(memcmp(out[0], out[1], d.nw * sizeof(float)) == 0,
                      "%s: dy read in place and copied differ", name);
        free(out[0]), free(out[1]);
        oclnn_tensor *all[] = {x, dys[0], dys[1]};
        fx_destroy(all, 3);
        free_data(&d);
    }
    ck_assert_int_eq(oclnn_profile_enable(ctx, 0), OCLNN_SUCCESS);
}
END_TEST

/* With profiling on, the table by op gives each pass's calls and the rate of the work its calls
 * asked for (2 * n*k*oh*ow * c*r*s FLOP over the recorded kernel time); a reset forgets both. */
START_TEST(profile_rates)
{
    oclnn_context *ctx = fx_ctx();
    const shape *sh = find_shape("LeNet conv2 32->64 3x3 p1 14x14");
    ref_conv p = ref_of(sh);
    data d = make_data(&p, 5);
    oclnn_tensor_desc xd = d4(p.n, p.c, p.h, p.w), wd = d4(p.k, p.c, p.r, p.s);
    oclnn_tensor_desc yd = d4(p.n, p.k, p.oh, p.ow);
    oclnn_tensor *x = fx_tensor(&xd, d.x), *w = fx_tensor(&wd, d.w), *y = fx_tensor(&yd, NULL);
    oclnn_conv2d_desc desc = desc_of(sh, OCLNN_CONV_DIRECT);
    ck_assert_int_eq(oclnn_profile_reset(ctx), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_profile_enable(ctx, 1), OCLNN_SUCCESS);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(oclnn_conv2d_forward(ctx, &desc, x, w, NULL, NULL, y), OCLNN_SUCCESS);
    char table[8192] = "";
    FILE *f = fmemopen(table, sizeof table - 1, "w");
    ck_assert_int_eq(oclnn_profile_print(ctx, f), OCLNN_SUCCESS);
    fclose(f);
    unsigned calls = 0;
    double ms = 0, rate = 0;
    int found =
        0; /* the kernel table's conv2d rows come first: the rate row is the one that parses */
    for (const char *row = strstr(table, "\nconv2d "); row && !found;
         row = strstr(row + 1, "\nconv2d "))
        found = sscanf(row, " conv2d %u %lf %lf GF/s", &calls, &ms, &rate) == 3;
    ck_assert_msg(found, "no conv2d rate row in\n%s", table);
    ck_assert_uint_eq(calls, 2);
    const double flop = 2.0 * 2 * p.n * p.k * p.oh * p.ow * p.c * p.r * p.s;
    ck_assert_msg(ms > 0 && fabs(rate - flop / (ms * 1e6)) <= 0.01 * rate + 0.1,
                  "rate %g for %g FLOP in %g ms", rate, flop, ms);
    ck_assert_int_eq(oclnn_profile_enable(ctx, 0), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_profile_reset(ctx), OCLNN_SUCCESS);
    f = fmemopen(table, sizeof table - 1, "w");
    ck_assert_int_eq(oclnn_profile_print(ctx, f), OCLNN_SUCCESS);
    fclose(f);
    ck_assert_msg(strstr(table, "GF/s") == NULL, "after a reset:\n%s", table);
    oclnn_tensor_destroy(x), oclnn_tensor_destroy(w), oclnn_tensor_destroy(y);
    free_data(&d);
}
END_TEST

/* ---- negative tests: status, message, and nothing written ---- */

typedef struct neg {
    oclnn_tensor *x, *w, *b, *y, *dy, *dx, *dw, *db;
    size_t ny, nx, nw;
} neg;

/* A valid problem: x[2][4][8][8], w[6][2][3][3] groups 2 pad 1 -> y[2][6][8][8]. Outputs NaN. */
static neg neg_make(void)
{
    neg t;
    oclnn_tensor_desc xd = d4(2, 4, 8, 8), wd = d4(6, 2, 3, 3), yd = d4(2, 6, 8, 8);
    oclnn_tensor_desc bd = oclnn_tensor_desc_1d(6);
    t.nx = 2 * 4 * 8 * 8, t.nw = 6 * 2 * 9, t.ny = 2 * 6 * 8 * 8;
    float *h = fx_alloc(t.ny);
    fx_fill(h, t.ny, 77, -1, 1);
    t.x = fx_tensor(&xd, h), t.w = fx_tensor(&wd, h), t.b = fx_tensor(&bd, h);
    t.dy = fx_tensor(&yd, h);
    t.y = fx_tensor(&yd, NULL), t.dx = fx_tensor(&xd, NULL), t.dw = fx_tensor(&wd, NULL);
    t.db = fx_tensor(&bd, NULL);
    free(h);
    return t;
}

static oclnn_conv2d_desc neg_desc(void)
{
    oclnn_conv2d_desc d = oclnn_conv2d_desc_default();
    oclnn_conv2d_desc_set_pad(&d, 1, 1);
    d.groups = 2;
    return d;
}

static void assert_nan(const oclnn_tensor *t, const char *name)
{
    float *got = fx_download(t);
    oclnn_tensor_desc d = oclnn_tensor_get_desc(t);
    for (size_t i = 0; i < oclnn_tensor_desc_count(&d); i++)
        ck_assert_msg(isnan(got[i]), "%s[%zu] was written after a failed call", name, i);
    free(got);
}

static void neg_free(neg *t)
{
    assert_nan(t->y, "y");
    assert_nan(t->dx, "dx");
    assert_nan(t->dw, "dw");
    assert_nan(t->db, "db");
    oclnn_tensor *all[] = {t->x, t->w, t->b, t->y, t->dy, t->dx, t->dw, t->db};
    fx_destroy(all, sizeof all / sizeof all[0]);
}

/* Runs all three passes with desc and expects the same failure from each. */
static void expect_all(neg *t, const oclnn_conv2d_desc *desc, oclnn_status st, const char *msg)
{
    oclnn_context *ctx = fx_ctx();
    fx_assert_status(oclnn_conv2d_forward(ctx, desc, t->x, t->w, t->b, NULL, t->y), st, msg);
    fx_assert_status(oclnn_conv2d_backward_data(ctx, desc, t->dy, t->w, t->dx, 0), st, msg);
    fx_assert_status(oclnn_conv2d_backward_weights(ctx, desc, t->x, t->dy, t->dw, t->db, 0), st,
                     msg);
}

START_TEST(negative_descriptor)
{
    neg t = neg_make();
    oclnn_conv2d_desc d = neg_desc();
    d.stride_h = 0;
    expect_all(&t, &d, OCLNN_INVALID_ARGUMENT, "stride_h 0 must be >= 1");
    d = neg_desc(), d.stride_w = -2;
    expect_all(&t, &d, OCLNN_INVALID_ARGUMENT, "stride_w -2 must be >= 1");
    d = neg_desc(), d.dilation_h = 0;
    expect_all(&t, &d, OCLNN_INVALID_ARGUMENT, "dilation_h 0 must be >= 1");
    d = neg_desc(), d.pad_left = -1;
    expect_all(&t, &d, OCLNN_INVALID_ARGUMENT, "pad_left -1 must be >= 0");
    d = neg_desc(), d.pad_bottom = 3;
    expect_all(&t, &d, OCLNN_INVALID_ARGUMENT, "pad_bottom 3 is not smaller than the dilated");
    d = neg_desc(), d.groups = 0;
    expect_all(&t, &d, OCLNN_INVALID_ARGUMENT, "groups 0 must be >= 1");
    d = neg_desc(), d.groups = 3;
    expect_all(&t, &d, OCLNN_INVALID_ARGUMENT, "groups 3 does not divide input channels 4");
    d = neg_desc(), d.groups = 4; /* divides c 4 but not k 6 */
    expect_all(&t, &d, OCLNN_INVALID_ARGUMENT, "groups 4 does not divide output channels 6");
    d = neg_desc(), d.groups = 1; /* w has 2 channels per group, c/1 = 4 */
    expect_all(&t, &d, OCLNN_INVALID_ARGUMENT, "has 2 input channels per group, expected 4");
    d = neg_desc(), d.activation = (oclnn_activation)9;
    expect_all(&t, &d, OCLNN_INVALID_ARGUMENT, "activation 9 is not");
    d = neg_desc(), d.residual_before_act = 2;
    expect_all(&t, &d, OCLNN_INVALID_ARGUMENT, "residual_before_act 2 must be 0 or 1");
    d = neg_desc(), d.algo = (oclnn_conv_algo)17;
    expect_all(&t, &d, OCLNN_INVALID_ARGUMENT, "algo 17 is not");
    d = neg_desc(), d.dilation_h = 5; /* dilated kernel 11 > padded height 10 */
    d.pad_top = d.pad_bottom = 1;
    expect_all(&t, &d, OCLNN_INVALID_ARGUMENT,
               "dilated kernel height 11 is larger than the padded input height 10");
    expect_all(&t, NULL, OCLNN_INVALID_ARGUMENT, "desc is NULL");
    neg_free(&t);
}
END_TEST

START_TEST(negative_forced_algorithm)
{
    neg t = neg_make();
    oclnn_conv2d_desc d = neg_desc();
    d.algo = OCLNN_CONV_GEMM_1X1;
    expect_all(&t, &d, OCLNN_UNSUPPORTED, "algorithm GEMM_1X1 needs a 1x1 kernel");
    d.algo = OCLNN_CONV_DEPTHWISE;
    expect_all(&t, &d, OCLNN_UNSUPPORTED, "algorithm DEPTHWISE needs groups == input channels");
    d.algo = OCLNN_CONV_WINOGRAD;
    expect_all(&t, &d, OCLNN_UNSUPPORTED,
               "algorithm WINOGRAD needs a 3x3 kernel, stride 1, "
               "dilation 1 and groups 1 (groups 2)");
    /* Metadata only: one image's columns of 64 x 9 x 4096 x 4096 would pass 2^31 elements. */
    oclnn_tensor_desc bx = d4(1, 64, 4096, 4096), bw = d4(64, 64, 3, 3);
    oclnn_conv2d_desc big = oclnn_conv2d_desc_default();
    oclnn_conv2d_desc_set_pad(&big, 1, 1);
    big.algo = OCLNN_CONV_IM2COL_GEMM;
    oclnn_conv_algo a;
    size_t ws;
    fx_assert_status(oclnn_conv2d_choose(fx_ctx(), &big, OCLNN_CONV_FORWARD, &bx, &bw, &a, &ws),
                     OCLNN_UNSUPPORTED, "algorithm IM2COL_GEMM needs one image's columns");
    big.algo = OCLNN_CONV_AUTO;
    ck_assert_int_eq(
        oclnn_conv2d_choose(fx_ctx(), &big, OCLNN_CONV_BACKWARD_DATA, &bx, &bw, &a, &ws),
        OCLNN_SUCCESS);
    ck_assert_int_ne(a, OCLNN_CONV_IM2COL_GEMM);
    neg_free(&t);
}
END_TEST

/* WINOGRAD names the field that rules it out, on every pass. */
START_TEST(negative_winograd)
{
    oclnn_context *ctx = fx_ctx();
    oclnn_tensor_desc x = d4(2, 4, 8, 8), w = d4(6, 4, 3, 3), w32 = d4(6, 4, 3, 2);
    oclnn_conv2d_desc d = oclnn_conv2d_desc_default();
    oclnn_conv2d_desc_set_pad(&d, 1, 1);
    d.algo = OCLNN_CONV_WINOGRAD;
    oclnn_conv_algo a;
    size_t ws;
    const oclnn_conv_pass passes[] = {OCLNN_CONV_FORWARD, OCLNN_CONV_BACKWARD_DATA,
                                      OCLNN_CONV_BACKWARD_WEIGHTS};
    for (int i = 0; i < 3; i++) {
        fx_assert_status(oclnn_conv2d_choose(ctx, &d, passes[i], &x, &w32, &a, &ws),
                         OCLNN_UNSUPPORTED,
                         "WINOGRAD needs a 3x3 kernel, stride 1, dilation 1 "
                         "and groups 1 (kernel width 2)");
        ck_assert_uint_eq(ws, 0);
        oclnn_conv2d_desc e = d;
        e.stride_w = 2;
        fx_assert_status(oclnn_conv2d_choose(ctx, &e, passes[i], &x, &w, &a, &ws),
                         OCLNN_UNSUPPORTED, "(stride_w 2)");
        e = d, e.stride_h = 3;
        fx_assert_status(oclnn_conv2d_choose(ctx, &e, passes[i], &x, &w, &a, &ws),
                         OCLNN_UNSUPPORTED, "(stride_h 3)");
        e = d, e.dilation_h = 2;
        fx_assert_status(oclnn_conv2d_choose(ctx, &e, passes[i], &x, &w, &a, &ws),
                         OCLNN_UNSUPPORTED, "(dilation_h 2)");
        e = d, e.dilation_w = 2;
        fx_assert_status(oclnn_conv2d_choose(ctx, &e, passes[i], &x, &w, &a, &ws),
                         OCLNN_UNSUPPORTED, "(dilation_w 2)");
    }
    oclnn_tensor_desc w53 = d4(6, 4, 5, 3);
    oclnn_conv2d_desc e = oclnn_conv2d_desc_default();
    e.algo = OCLNN_CONV_WINOGRAD;
    fx_assert_status(oclnn_conv2d_choose(ctx, &e, OCLNN_CONV_FORWARD, &x, &w53, &a, &ws),
                     OCLNN_UNSUPPORTED, "(kernel height 5)");
    ck_assert_int_eq(oclnn_conv2d_choose(ctx, &d, OCLNN_CONV_FORWARD, &x, &w, &a, &ws),
                     OCLNN_SUCCESS);
    ck_assert_int_eq(a, OCLNN_CONV_WINOGRAD);
    ck_assert_uint_gt(ws, 0);
    const size_t fwd = ws;
    ck_assert_int_eq(oclnn_conv2d_choose(ctx, &d, OCLNN_CONV_BACKWARD_DATA, &x, &w, &a, &ws),
                     OCLNN_SUCCESS);
    ck_assert_uint_gt(ws, 0);
    ck_assert_int_eq(oclnn_conv2d_choose(ctx, &d, OCLNN_CONV_BACKWARD_WEIGHTS, &x, &w, &a, &ws),
                     OCLNN_SUCCESS);
    /* The same, and where the GEMMs run in DIRECT's channel-vector loop with backward weights'
     * tiles of dy 64 channels for 6 (two images of 4 x 4 tiles). */
    const bool kvec = oclnn__conv_tuning_defaults(ctx).kv > 0;
    ck_assert_uint_eq(ws, fwd + (kvec ? (size_t)16 * (64 - 6) * 2 * 16 * sizeof(float) : 0));
    /* One image needs more workspace than the limit: OUT_OF_MEMORY before anything runs. */
    ck_assert_int_eq(oclnn_context_set_workspace_limit(ctx, 1000), OCLNN_SUCCESS);
    fx_assert_status(oclnn_conv2d_choose(ctx, &d, OCLNN_CONV_FORWARD, &x, &w, &a, &ws),
                     OCLNN_OUT_OF_MEMORY, "algorithm WINOGRAD needs");
    ck_assert_int_eq(oclnn_context_set_workspace_limit(ctx, (size_t)1 << 30), OCLNN_SUCCESS);
}
END_TEST

/* fx_assert_status for calls without a context: the message is the thread's. */
static void assert_status_noctx(oclnn_status got, oclnn_status want, const char *needle)
{
    const char *msg = oclnn_last_error(NULL);
    ck_assert_msg(got == want, "status %d, expected %d; message: %s", (int)got, (int)want, msg);
    ck_assert_msg(strstr(msg, needle) != NULL, "message \"%s\" does not contain \"%s\"", msg,
                  needle);
}

START_TEST(negative_shapes)
{
    oclnn_context *ctx = fx_ctx();
    neg t = neg_make();
    oclnn_conv2d_desc d = neg_desc();
    oclnn_tensor_desc bad = d4(2, 6, 8, 7), bad_x = d4(2, 4, 8, 9), bad_w = d4(6, 2, 3, 2);
    oclnn_tensor *by = fx_tensor(&bad, NULL), *bx = fx_tensor(&bad_x, NULL);
    oclnn_tensor *bw = fx_tensor(&bad_w, NULL);
    oclnn_tensor_desc b5 = oclnn_tensor_desc_1d(5);
    oclnn_tensor *bb = fx_tensor(&b5, NULL);
    fx_assert_status(oclnn_conv2d_forward(ctx, &d, t.x, t.w, t.b, NULL, by), OCLNN_INVALID_ARGUMENT,
                     "y [2][6][8][7] does not match [2][6][8][8]");
    fx_assert_status(oclnn_conv2d_forward(ctx, &d, t.x, t.w, t.b, by, t.y), OCLNN_INVALID_ARGUMENT,
                     "z [2][6][8][7] does not match [2][6][8][8]");
    fx_assert_status(oclnn_conv2d_forward(ctx, &d, t.x, t.w, bb, NULL, t.y), OCLNN_INVALID_ARGUMENT,
                     "b [5] has 5 elements, expected 6");
    fx_assert_status(oclnn_conv2d_forward(ctx, &d, t.x, t.w, t.b, NULL, NULL),
                     OCLNN_INVALID_ARGUMENT, "y is NULL");
    fx_assert_status(oclnn_conv2d_forward(ctx, &d, NULL, t.w, t.b, NULL, t.y),
                     OCLNN_INVALID_ARGUMENT, "x is NULL");
    fx_assert_status(oclnn_conv2d_forward(NULL, &d, t.x, t.w, t.b, NULL, t.y),
                     OCLNN_INVALID_ARGUMENT, NULL);
    /* dx of another size makes dy the wrong shape for it. */
    fx_assert_status(oclnn_conv2d_backward_data(ctx, &d, t.dy, t.w, bx, 0), OCLNN_INVALID_ARGUMENT,
                     "dy [2][6][8][8] does not match [2][6][8][9]");
    fx_assert_status(oclnn_conv2d_backward_data(ctx, &d, by, t.w, t.dx, 0), OCLNN_INVALID_ARGUMENT,
                     "dy [2][6][8][7] does not match [2][6][8][8]");
    fx_assert_status(oclnn_conv2d_backward_data(ctx, &d, t.dy, t.w, t.dx, 0.5f),
                     OCLNN_INVALID_ARGUMENT, "beta 0.5 must be 0 or 1");
    fx_assert_status(oclnn_conv2d_backward_weights(ctx, &d, t.x, t.dy, bw, t.db, 0),
                     OCLNN_INVALID_ARGUMENT, "dy [2][6][8][8] does not match [2][6][8][9]");
    fx_assert_status(oclnn_conv2d_backward_weights(ctx, &d, t.x, t.dy, t.dw, bb, 0),
                     OCLNN_INVALID_ARGUMENT, "db [5] has 5 elements, expected 6");
    fx_assert_status(oclnn_conv2d_backward_weights(ctx, &d, t.x, t.dy, t.dw, t.db, 2.0f),
                     OCLNN_INVALID_ARGUMENT, "beta 2 must be 0 or 1");
    /* A 2-D x is not an image batch. */
    oclnn_tensor_desc flat = oclnn_tensor_desc_2d(2, 256);
    oclnn_tensor *fx2 = fx_tensor(&flat, NULL);
    fx_assert_status(oclnn_conv2d_forward(ctx, &d, fx2, t.w, NULL, NULL, t.y),
                     OCLNN_INVALID_ARGUMENT, "x has 2 dimensions, expected 4");
    /* Zero sizes and bad descriptors through the metadata-only calls. */
    oclnn_tensor_desc x0 = d4(2, 4, 0, 8), w4 = d4(6, 2, 3, 3), y;
    assert_status_noctx(oclnn_conv2d_output_shape(&d, &x0, &w4, &y), OCLNN_INVALID_ARGUMENT,
                        "x dims[2] is 0, must be >= 1");
    ck_assert_int_eq(y.ndim, 0);
    oclnn_tensor_desc x4 = d4(2, 4, 8, 8), w0 = d4(0, 2, 3, 3);
    assert_status_noctx(oclnn_conv2d_output_shape(&d, &x4, &w0, &y), OCLNN_INVALID_ARGUMENT,
                        "w dims[0] is 0, must be >= 1");
    oclnn_conv_algo a = OCLNN_CONV_DIRECT;
    size_t ws = 7;
    fx_assert_status(oclnn_conv2d_choose(ctx, &d, (oclnn_conv_pass)3, &x4, &w4, &a, &ws),
                     OCLNN_INVALID_ARGUMENT, "pass 3 is not");
    ck_assert_int_eq(a, OCLNN_CONV_AUTO);
    ck_assert_uint_eq(ws, 0);
    d.algo = OCLNN_CONV_GEMM_1X1;
    fx_assert_status(oclnn_conv2d_choose(ctx, &d, OCLNN_CONV_FORWARD, &x4, &w4, &a, &ws),
                     OCLNN_UNSUPPORTED, "GEMM_1X1 needs");
    oclnn_tensor *extra[] = {by, bx, bw, bb, fx2};
    for (int i = 0; i < 5; i++) {
        assert_nan(extra[i], "mismatched output");
        oclnn_tensor_destroy(extra[i]);
    }
    neg_free(&t);
}
END_TEST

START_TEST(negative_other_context)
{
    oclnn_context *ctx = fx_ctx(), *other = NULL;
    ck_assert_int_eq(oclnn_context_create(&other), OCLNN_SUCCESS);
    neg t = neg_make();
    oclnn_conv2d_desc d = neg_desc();
    oclnn_tensor_desc yd = d4(2, 6, 8, 8), wd = d4(6, 2, 3, 3), bd = oclnn_tensor_desc_1d(6);
    oclnn_tensor *oy = NULL, *ow = NULL, *ob = NULL;
    ck_assert_int_eq(oclnn_tensor_create(other, &yd, &oy), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_create(other, &wd, &ow), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_create(other, &bd, &ob), OCLNN_SUCCESS);
    fx_assert_status(oclnn_conv2d_forward(ctx, &d, t.x, ow, t.b, NULL, t.y), OCLNN_INVALID_ARGUMENT,
                     "w belongs to another context");
    fx_assert_status(oclnn_conv2d_forward(ctx, &d, t.x, t.w, ob, NULL, t.y), OCLNN_INVALID_ARGUMENT,
                     "b belongs to another context");
    fx_assert_status(oclnn_conv2d_forward(ctx, &d, t.x, t.w, t.b, oy, t.y), OCLNN_INVALID_ARGUMENT,
                     "z belongs to another context");
    fx_assert_status(oclnn_conv2d_backward_data(ctx, &d, oy, t.w, t.dx, 0), OCLNN_INVALID_ARGUMENT,
                     "dy belongs to another context");
    fx_assert_status(oclnn_conv2d_backward_weights(ctx, &d, t.x, t.dy, ow, t.db, 0),
                     OCLNN_INVALID_ARGUMENT, "dw belongs to another context");
    fx_assert_status(oclnn_conv2d_backward_weights(ctx, &d, t.x, t.dy, t.dw, ob, 0),
                     OCLNN_INVALID_ARGUMENT, "db belongs to another context");
    oclnn_tensor_destroy(oy), oclnn_tensor_destroy(ow), oclnn_tensor_destroy(ob);
    oclnn_context_destroy(other);
    neg_free(&t);
}
END_TEST

static Suite *conv_suite(void)
{
    Suite *s = suite_create("conv");
    TCase *tc = tcase_create("forward");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, forward_table, 0, NSHAPES);
    suite_add_tcase(s, tc);
    tc = tcase_create("backward");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, backward_table, 0, NSHAPES);
    tcase_add_loop_test(tc, accumulate, 0,
                        (int)(sizeof accumulate_shapes / sizeof accumulate_shapes[0]));
    tcase_add_loop_test(tc, reference_finite_differences, 0, 3);
    tcase_add_loop_test(tc, wgrad_chunks, 0, (int)(sizeof chunk_shapes / sizeof chunk_shapes[0]));
    tcase_add_loop_test(tc, large_gemm_1x1, 0,
                        (int)(sizeof large_1x1_shapes / sizeof large_1x1_shapes[0]));
    suite_add_tcase(s, tc);
    tc = tcase_create("epilogue");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, fused_epilogue, 0,
                        (int)(sizeof epilogue_shapes / sizeof epilogue_shapes[0]));
    tcase_add_test(tc, fused_epilogue_1x1);
    tcase_add_loop_test(
        tc, fused_epilogue_winograd, 0,
        (int)(sizeof epilogue_winograd_shapes / sizeof epilogue_winograd_shapes[0]));
    suite_add_tcase(s, tc);
    tc = tcase_create("api");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, deterministic);
    tcase_add_test(tc, choose_and_shape);
    tcase_add_test(tc, auto_winograd);
    tcase_add_test(tc, auto_pointwise_1x1);
    tcase_add_test(tc, workspace_limit);
    tcase_add_test(tc, direct_without_padded_copy);
    tcase_add_test(tc, direct_reads_unpadded_inputs_in_place);
    tcase_add_test(tc, direct_wgrad_reads_dy_rows_in_place);
    tcase_add_test(tc, chunked_batch);
    tcase_add_loop_test(tc, unreached_phases_accumulate, 0,
                        (int)(sizeof unreached_phase_shapes / sizeof unreached_phase_shapes[0]));
    tcase_add_test(tc, unreached_phases_zero_a_view_only);
    tcase_add_test(tc, profile_rates);
    tcase_add_test(tc, chunked_winograd);
    tcase_add_test(tc, negative_descriptor);
    tcase_add_test(tc, negative_forced_algorithm);
    tcase_add_test(tc, negative_winograd);
    tcase_add_test(tc, negative_shapes);
    tcase_add_test(tc, negative_other_context);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_main(conv_suite());
}
