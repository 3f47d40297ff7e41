/* test_conv_depthwise.c - the depthwise convolution algorithm (src/conv_depthwise.c) called
 * directly through src/conv.h (a test of internals): forward with every fused epilogue, backward
 * data and weights against the double references of ref_depthwise.c, beta = 1 accumulation,
 * determinism, and the references' backward checked by finite differences of their forward.
 *
 * Tolerance for a sum of products: |got - want| <= 1e-5 * sum|terms| + 1e-6 per element. */
#include "fixture.h"
#include "ref_depthwise.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Knobs of src/conv_depthwise.c that steer it onto its other paths. */
extern size_t oclnn__depthwise_tile_bytes;
extern int oclnn__depthwise_band_blocks;
extern int oclnn__depthwise_as_gpu;

typedef struct dw_case {
    const char *name;
    int n, c, kg, h, w, r, s, sh, sw, dh, dw, pt, pb, pl, pr;
    /* The table tests run it again on path 1, 2 or both (3) of other_path. */
    int other;
} dw_case;

static const dw_case cases[] = {
    /* name                          n  c kg  h   w  r  s sh sw dh dw pt pb pl pr other */
    {"3x3 s1 p1", 2, 3, 1, 9, 11, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3},
    {"5x5 s1 p2", 1, 4, 1, 13, 10, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 2},
    {"7x7 s1 p3 wide", 2, 3, 1, 9, 37, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3, 0},
    {"3x3 s2 p1", 2, 3, 1, 15, 17, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2},
    {"7x7 s2 p3", 1, 2, 1, 19, 23, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, 1},
    {"3x3 s3 no pad", 2, 2, 1, 13, 20, 3, 3, 3, 3, 1, 1, 0, 0, 0, 0, 2},
    {"3x3 s1x2", 1, 2, 1, 10, 29, 3, 3, 1, 2, 1, 1, 1, 1, 1, 1, 0},
    {"3x3 dil2 p2", 2, 3, 1, 12, 13, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1},
    {"5x5 dil2 s2 p4", 1, 2, 1, 17, 21, 5, 5, 2, 2, 2, 2, 4, 4, 4, 4, 2},
    {"3x3 asym pad 0,2,1,0", 2, 3, 1, 8, 14, 3, 3, 1, 1, 1, 1, 0, 2, 1, 0, 0},
    {"3x3 pad 3 > kernel", 1, 2, 1, 5, 6, 3, 3, 1, 1, 1, 1, 3, 3, 3, 3, 0},
    {"1x7 and 7x1 rows", 1, 2, 1, 6, 18, 1, 7, 1, 1, 1, 1, 0, 0, 3, 3, 2},
    {"7x1 column", 1, 2, 1, 18, 5, 7, 1, 1, 1, 1, 1, 3, 3, 0, 0, 1},
    {"multiplier 2 3x3", 2, 3, 2, 9, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"multiplier 2 7x7 s2", 1, 2, 2, 15, 16, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, 0},
    {"C=1 7x7 batch 5", 5, 1, 1, 11, 13, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3, 0},
    {"H=W=1 3x3 p1", 1, 4, 1, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0},
    {"odd 5x3 on 7x9", 5, 3, 1, 7, 9, 5, 3, 1, 1, 1, 1, 2, 1, 0, 2, 0},
    {"ConvNeXt stage 1 scaled 12ch 28x28", 1, 12, 1, 28, 28, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3, 1},
    {"ConvNeXt 32ch 14x14", 2, 32, 1, 14, 14, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3, 0},
    {"ConvNeXt 64ch 7x7", 2, 64, 1, 7, 7, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3, 0},
    {"ConvNeXt 128ch 4x4", 3, 128, 1, 4, 4, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3, 0},
    /* The local tile of a whole plane would pass 32 KiB: bands of 42, 42 and 33 rows. */
    {"7x7 big plane in bands", 1, 2, 1, 117, 150, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3, 0},
    /* Even one row block's tile passes 32 KiB: the padded copy instead. */
    {"3x3 wide row, no local tile", 1, 1, 1, 3, 3000, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static oclnn_conv_geom geom(const dw_case *t)
{
    oclnn_conv_geom g = {0};
    g.n = t->n;
    g.c = t->c;
    g.h = t->h;
    g.w = t->w;
    g.k = t->c * t->kg;
    g.r = t->r;
    g.s = t->s;
    g.groups = t->c;
    g.cg = 1;
    g.kg = t->kg;
    g.pad_t = t->pt;
    g.pad_b = t->pb;
    g.pad_l = t->pl;
    g.pad_r = t->pr;
    g.stride_h = t->sh;
    g.stride_w = t->sw;
    g.dil_h = t->dh;
    g.dil_w = t->dw;
    g.oh = 1 + (t->h + t->pt + t->pb - t->dh * (t->r - 1) - 1) / t->sh;
    g.ow = 1 + (t->w + t->pl + t->pr - t->dw * (t->s - 1) - 1) / t->sw;
    return g;
}

/* Host data of one case: floats for the device, doubles of the same values for the reference. */
typedef struct data {
    oclnn_conv_geom g;
    size_t nx, nw, ny;
    float *x, *w, *b, *dy;
    double *xd, *wd, *bd, *dyd;
} data;

static double *dalloc(size_t n)
{
    double *d = calloc(n ? n : 1, sizeof *d);
    ck_assert_ptr_nonnull(d);
    return d;
}

static data make_data(const oclnn_conv_geom *g, uint32_t seed)
{
    data d = {.g = *g};
    d.nx = (size_t)g->n * g->c * g->h * g->w;
    d.nw = (size_t)g->k * g->r * g->s;
    d.ny = (size_t)g->n * g->k * g->oh * g->ow;
    d.x = fx_alloc(d.nx);
    d.w = fx_alloc(d.nw);
    d.b = fx_alloc((size_t)g->k);
    d.dy = fx_alloc(d.ny);
    fx_fill(d.x, d.nx, seed, -1, 1);
    fx_fill(d.w, d.nw, seed + 1, -1, 1);
    fx_fill(d.b, (size_t)g->k, seed + 2, -1, 1);
    fx_fill(d.dy, d.ny, seed + 3, -1, 1);
    d.xd = fx_widen(d.x, d.nx);
    d.wd = fx_widen(d.w, d.nw);
    d.bd = fx_widen(d.b, (size_t)g->k);
    d.dyd = fx_widen(d.dy, d.ny);
    return d;
}

static void free_data(data *d)
{
    free(d->x);
    free(d->w);
    free(d->b);
    free(d->dy);
    free(d->xd);
    free(d->wd);
    free(d->bd);
    free(d->dyd);
}

/* tol[i] = scale * (1e-5 * abs_sum[i] + 1e-6), plus 1e-5 * |prior[i]| when accumulating onto
 * prior values (beta = 1: one more rounding of the sum). */
static double *tolerance(const double *abs_sum, const float *prior, size_t n, double scale)
{
    double *t = dalloc(n);
    for (size_t i = 0; i < n; i++)
        t[i] = scale * (1e-5 * abs_sum[i] + 1e-6) + (prior ? 1e-5 * fabs(prior[i]) : 0);
    return t;
}

/* Downloads t and asserts it matches want within tolerance(abs_sum, prior, n, 1). */
static void assert_matches(const char *what, const oclnn_tensor *t, const double *want,
                           const double *abs_sum, const float *prior, size_t n)
{
    float *got = fx_download(t);
    double *tol = tolerance(abs_sum, prior, n, 1);
    fx_assert_close_tol(what, got, want, tol, n);
    free(got);
    free(tol);
}

static oclnn_tensor *tensor4(int n, int c, int h, int w, const float *host)
{
    oclnn_tensor_desc d = oclnn_tensor_desc_4d(n, c, h, w);
    return fx_tensor(&d, host);
}

static oclnn_tensor *tensor1(int n, const float *host)
{
    oclnn_tensor_desc d = oclnn_tensor_desc_1d(n);
    return fx_tensor(&d, host);
}

static void expect_ok(oclnn_status s, const char *what)
{
    ck_assert_msg(s == OCLNN_SUCCESS, "%s: %s", what, oclnn_last_error(fx_ctx()));
}

/* The table tests run again on other paths (dw_case.other); each output is summed in the same order
 * on every path, so the results must be the same bits. Path 1: padded copies of one image (or one
 * block of images) at a time, tiles in local memory of one row block per band, and the tile
 * kernels built as for a GPU (filled by all work-items, weights held as floats) when as_gpu is
 * set (the forward only: fill and sums are the same code for both passes, and each setting
 * compiles a program per shape). Path 2: padded copies only.
 * Path 0: the defaults back. */
static void other_path(int path, int as_gpu)
{
    static size_t saved_chunk, saved_tile;
    static int saved_blocks, saved_gpu;
    if (path) {
        saved_chunk = oclnn__depthwise_chunk_bytes;
        saved_tile = oclnn__depthwise_tile_bytes;
        saved_blocks = oclnn__depthwise_band_blocks;
        saved_gpu = oclnn__depthwise_as_gpu;
        oclnn__depthwise_chunk_bytes = 1;
        oclnn__depthwise_band_blocks = 1;
        oclnn__depthwise_as_gpu = as_gpu;
        if (path == 2)
            oclnn__depthwise_tile_bytes = 0;
    } else {
        oclnn__depthwise_chunk_bytes = saved_chunk;
        oclnn__depthwise_tile_bytes = saved_tile;
        oclnn__depthwise_band_blocks = saved_blocks;
        oclnn__depthwise_as_gpu = saved_gpu;
    }
}

/* Asserts two downloads of equal-sized tensors hold the same bits. */
static void assert_same_bits(const char *what, const oclnn_tensor *a, const oclnn_tensor *b,
                             size_t n)
{
    float *pa = fx_download(a), *pb = fx_download(b);
    ck_assert_msg(memcmp(pa, pb, n * sizeof(float)) == 0, "%s: two runs differ", what);
    free(pa);
    free(pb);
}

/* The plain convolution over the table; bias, activations and residual: forward_epilogues. */
START_TEST(forward_table)
{
    const dw_case *t = &cases[_i];
    oclnn_conv_geom g = geom(t);
    data d = make_data(&g, 100 + (uint32_t)_i);
    oclnn_context *ctx = fx_ctx();
    oclnn_tensor *x = tensor4(g.n, g.c, g.h, g.w, d.x), *w = tensor4(g.k, 1, g.r, g.s, d.w);
    oclnn_tensor *y = tensor4(g.n, g.k, g.oh, g.ow, NULL);
    double *want = dalloc(d.ny), *abs_sum = dalloc(d.ny);
    ref_dw_forward(&g, d.xd, d.wd, NULL, NULL, OCLNN_ACT_NONE, 0, want, abs_sum);
    expect_ok(oclnn__conv_depthwise_forward(ctx, &g, OCLNN_ACT_NONE, 0, x, w, NULL, NULL, y),
              t->name);
    assert_matches(t->name, y, want, abs_sum, NULL, d.ny);
    for (int path = 1; path <= 2; path++) {
        if (!(t->other & path))
            continue;
        oclnn_tensor *y2 = tensor4(g.n, g.k, g.oh, g.ow, NULL);
        other_path(path, 1);
        expect_ok(oclnn__conv_depthwise_forward(ctx, &g, OCLNN_ACT_NONE, 0, x, w, NULL, NULL, y2),
                  t->name);
        other_path(0, 0);
        assert_same_bits(t->name, y, y2, d.ny);
        oclnn_tensor_destroy(y2);
    }
    free(want);
    free(abs_sum);
    oclnn_tensor_destroy(x);
    oclnn_tensor_destroy(w);
    oclnn_tensor_destroy(y);
    free_data(&d);
}
END_TEST

START_TEST(backward_data_table)
{
    const dw_case *t = &cases[_i];
    oclnn_conv_geom g = geom(t);
    data d = make_data(&g, 200 + (uint32_t)_i);
    oclnn_context *ctx = fx_ctx();
    oclnn_tensor *dy = tensor4(g.n, g.k, g.oh, g.ow, d.dy), *w = tensor4(g.k, 1, g.r, g.s, d.w);
    oclnn_tensor *dx = tensor4(g.n, g.c, g.h, g.w, NULL);
    double *want = dalloc(d.nx), *abs_sum = dalloc(d.nx);
    ref_dw_backward_data(&g, d.dyd, d.wd, want, abs_sum);

    expect_ok(oclnn__conv_depthwise_backward_data(ctx, &g, dy, w, dx, 0.0f), t->name);
    assert_matches(t->name, dx, want, abs_sum, NULL, d.nx);

    /* beta = 1 adds onto what dx held: x serves as the prior gradient. */
    oclnn_tensor *acc = tensor4(g.n, g.c, g.h, g.w, d.x);
    expect_ok(oclnn__conv_depthwise_backward_data(ctx, &g, dy, w, acc, 1.0f), t->name);
    for (size_t i = 0; i < d.nx; i++)
        want[i] += d.x[i];
    assert_matches(t->name, acc, want, abs_sum, d.x, d.nx);

    for (int path = 1; path <= 2; path++) {
        if (!(t->other & path))
            continue;
        oclnn_tensor *dx2 = tensor4(g.n, g.c, g.h, g.w, NULL);
        other_path(path, 0);
        expect_ok(oclnn__conv_depthwise_backward_data(ctx, &g, dy, w, dx2, 0.0f), t->name);
        other_path(0, 0);
        assert_same_bits(t->name, dx, dx2, d.nx);
        oclnn_tensor_destroy(dx2);
    }
    free(want);
    free(abs_sum);
    oclnn_tensor_destroy(dy);
    oclnn_tensor_destroy(w);
    oclnn_tensor_destroy(dx);
    oclnn_tensor_destroy(acc);
    free_data(&d);
}
END_TEST

START_TEST(backward_weights_table)
{
    const dw_case *t = &cases[_i];
    oclnn_conv_geom g = geom(t);
    data d = make_data(&g, 300 + (uint32_t)_i);
    oclnn_context *ctx = fx_ctx();
    oclnn_tensor *x = tensor4(g.n, g.c, g.h, g.w, d.x), *dy = tensor4(g.n, g.k, g.oh, g.ow, d.dy);
    oclnn_tensor *dw = tensor4(g.k, 1, g.r, g.s, NULL), *db = tensor1(g.k, NULL);
    double *want = dalloc(d.nw), *abs_sum = dalloc(d.nw);
    double *want_b = dalloc((size_t)g.k), *abs_b = dalloc((size_t)g.k);
    ref_dw_backward_weights(&g, d.xd, d.dyd, want, abs_sum, want_b, abs_b);

    expect_ok(oclnn__conv_depthwise_backward_weights(ctx, &g, x, dy, dw, db, 0.0f), t->name);
    assert_matches(t->name, dw, want, abs_sum, NULL, d.nw);
    assert_matches(t->name, db, want_b, abs_b, NULL, (size_t)g.k);

    /* beta = 1 onto prior values (w and b serve as the prior gradients); then db NULL leaves
     * the dw result alone. */
    oclnn_tensor *dw_acc = tensor4(g.k, 1, g.r, g.s, d.w), *db_acc = tensor1(g.k, d.b);
    expect_ok(oclnn__conv_depthwise_backward_weights(ctx, &g, x, dy, dw_acc, db_acc, 1.0f),
              t->name);
    for (size_t i = 0; i < d.nw; i++)
        want[i] += d.w[i];
    for (int i = 0; i < g.k; i++)
        want_b[i] += d.b[i];
    assert_matches(t->name, dw_acc, want, abs_sum, d.w, d.nw);
    assert_matches(t->name, db_acc, want_b, abs_b, d.b, (size_t)g.k);

    oclnn_tensor *dw2 = tensor4(g.k, 1, g.r, g.s, NULL);
    other_path(2, 0);
    expect_ok(oclnn__conv_depthwise_backward_weights(ctx, &g, x, dy, dw2, NULL, 0.0f), t->name);
    other_path(0, 0);
    assert_same_bits(t->name, dw, dw2, d.nw);
    free(want);
    free(abs_sum);
    free(want_b);
    free(abs_b);
    oclnn_tensor_destroy(x);
    oclnn_tensor_destroy(dy);
    oclnn_tensor_destroy(dw);
    oclnn_tensor_destroy(db);
    oclnn_tensor_destroy(dw_acc);
    oclnn_tensor_destroy(db_acc);
    oclnn_tensor_destroy(dw2);
    free_data(&d);
}
END_TEST

/* Every epilogue: 4 activations x bias or not x no residual / after / before the activation, on
 * a shape with a full and a partial tile per row and a channel multiplier of 2. */
START_TEST(forward_epilogues)
{
    const oclnn_activation act = (oclnn_activation)(_i % 4);
    const int has_bias = _i / 4 % 2, res = _i / 8; /* 0 none, 1 after, 2 before */
    const dw_case t = {"epilogue", 2, 3, 2, 5, 19, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0};
    oclnn_conv_geom g = geom(&t);
    data d = make_data(&g, 400);
    oclnn_context *ctx = fx_ctx();
    float *zh = fx_alloc(d.ny);
    fx_fill(zh, d.ny, 401, -1, 1);
    double *zd = fx_widen(zh, d.ny);
    oclnn_tensor *x = tensor4(g.n, g.c, g.h, g.w, d.x), *w = tensor4(g.k, 1, g.r, g.s, d.w);
    oclnn_tensor *b = has_bias ? tensor1(g.k, d.b) : NULL;
    oclnn_tensor *z = res ? tensor4(g.n, g.k, g.oh, g.ow, zh) : NULL;
    oclnn_tensor *y = tensor4(g.n, g.k, g.oh, g.ow, NULL);
    double *want = dalloc(d.ny), *abs_sum = dalloc(d.ny);
    ref_dw_forward(&g, d.xd, d.wd, has_bias ? d.bd : NULL, res ? zd : NULL, act, res == 2, want,
                   abs_sum);
    expect_ok(oclnn__conv_depthwise_forward(ctx, &g, act, res == 2, x, w, b, z, y), "epilogue");
    float *got = fx_download(y);
    /* The activations' slopes stay below 1.2; erf and tanh in float add a few ulp of the
     * argument's scale. */
    double *tol = tolerance(abs_sum, NULL, d.ny, 1.2);
    for (size_t i = 0; act >= OCLNN_ACT_GELU && i < d.ny; i++)
        tol[i] += 2e-6 * abs_sum[i];
    char what[96];
    snprintf(what, sizeof what, "act %d bias %d residual %s", (int)act, has_bias,
             res == 0   ? "none"
             : res == 1 ? "after"
                        : "before");
    fx_assert_close_tol(what, got, want, tol, d.ny);
    free(got);
    free(tol);
    free(want);
    free(abs_sum);
    free(zh);
    free(zd);
    oclnn_tensor_destroy(x);
    oclnn_tensor_destroy(w);
    oclnn_tensor_destroy(b);
    oclnn_tensor_destroy(z);
    oclnn_tensor_destroy(y);
    free_data(&d);
}
END_TEST

/* The references' backward passes against centred differences of the reference forward of
 * L = sum y * dy. L is linear in each input, so the difference is exact up to rounding. */
START_TEST(reference_backward_matches_finite_differences)
{
    static const dw_case fd_cases[] = {
        {"fd s1 p1", 2, 2, 1, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0},
        {"fd s2 dil2 asym", 1, 2, 2, 9, 8, 3, 3, 2, 2, 2, 2, 2, 1, 0, 2, 0},
        {"fd 5x3 s1x2", 2, 1, 1, 7, 9, 5, 3, 1, 2, 1, 1, 2, 2, 1, 1, 0},
    };
    const dw_case *t = &fd_cases[_i];
    oclnn_conv_geom g = geom(t);
    data d = make_data(&g, 500 + (uint32_t)_i);
    double *y = dalloc(d.ny), *dx = dalloc(d.nx), *dx_abs = dalloc(d.nx);
    double *dw = dalloc(d.nw), *dw_abs = dalloc(d.nw), *db = dalloc((size_t)g.k);
    ref_dw_backward_data(&g, d.dyd, d.wd, dx, dx_abs);
    ref_dw_backward_weights(&g, d.xd, d.dyd, dw, dw_abs, db, NULL);
    const double eps = 1e-3;
    /* loss(which, i, delta): L with element i of x (0), w (1) or b (2) moved by delta. */
#define LOSS(arr, i, delta, out)                                                                   \
    do {                                                                                           \
        double keep = (arr)[i];                                                                    \
        (arr)[i] = keep + (delta);                                                                 \
        ref_dw_forward(&g, d.xd, d.wd, d.bd, NULL, OCLNN_ACT_NONE, 0, y, NULL);                    \
        (arr)[i] = keep;                                                                           \
        double l = 0;                                                                              \
        for (size_t j = 0; j < d.ny; j++)                                                          \
            l += y[j] * d.dyd[j];                                                                  \
        (out) = l;                                                                                 \
    } while (0)
    double lp, lm;
    for (size_t i = 0; i < d.nx; i++) {
        LOSS(d.xd, i, eps, lp);
        LOSS(d.xd, i, -eps, lm);
        double fd = (lp - lm) / (2 * eps);
        ck_assert_msg(fabs(fd - dx[i]) <= 1e-8 * (1 + dx_abs[i]), "%s: dx[%zu] %.12g vs fd %.12g",
                      t->name, i, dx[i], fd);
    }
    for (size_t i = 0; i < d.nw; i++) {
        LOSS(d.wd, i, eps, lp);
        LOSS(d.wd, i, -eps, lm);
        double fd = (lp - lm) / (2 * eps);
        ck_assert_msg(fabs(fd - dw[i]) <= 1e-8 * (1 + dw_abs[i]), "%s: dw[%zu] %.12g vs fd %.12g",
                      t->name, i, dw[i], fd);
    }
    for (int i = 0; i < g.k; i++) {
        LOSS(d.bd, i, eps, lp);
        LOSS(d.bd, i, -eps, lm);
        double fd = (lp - lm) / (2 * eps);
        ck_assert_msg(fabs(fd - db[i]) <= 1e-8 * (1 + fabs(db[i])), "%s: db[%d] %.12g vs fd %.12g",
                      t->name, i, db[i], fd);
    }
#undef LOSS
    free(y);
    free(dx);
    free(dx_abs);
    free(dw);
    free(dw_abs);
    free(db);
    free_data(&d);
}
END_TEST

/* A workspace limit too small for the backward-weights partial sums is reported, not ignored. */
START_TEST(backward_weights_workspace_limit)
{
    const dw_case t = {"limit", 2, 4, 1, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0};
    oclnn_conv_geom g = geom(&t);
    oclnn_context *ctx = fx_ctx();
    size_t need = oclnn__conv_depthwise_workspace_size(ctx, &g, OCLNN_CONV_BACKWARD_WEIGHTS);
    ck_assert_uint_ge(need, (size_t)g.k * (g.r * g.s + 1) * sizeof(float));
    /* The forward reads a zero-padded copy of x from the workspace. */
    ck_assert_uint_ge(oclnn__conv_depthwise_workspace_size(ctx, &g, OCLNN_CONV_FORWARD),
                      (size_t)g.n * g.c * (g.h + 2) * (g.w + 2) * sizeof(float));
    oclnn_tensor *x = tensor4(g.n, g.c, g.h, g.w, NULL), *dy = tensor4(g.n, g.k, g.oh, g.ow, NULL);
    oclnn_tensor *dw = tensor4(g.k, 1, g.r, g.s, NULL);
    ck_assert_int_eq(oclnn_context_set_workspace_limit(ctx, need - 1), OCLNN_SUCCESS);
    fx_assert_status(oclnn__conv_depthwise_backward_weights(ctx, &g, x, dy, dw, NULL, 0.0f),
                     OCLNN_OUT_OF_MEMORY, "workspace");
    ck_assert_int_eq(oclnn_context_set_workspace_limit(ctx, (size_t)1 << 30), OCLNN_SUCCESS);
    oclnn_tensor_destroy(x);
    oclnn_tensor_destroy(dy);
    oclnn_tensor_destroy(dw);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("conv_depthwise");
    TCase *tc = tcase_create("conv_depthwise");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, forward_table, 0, NCASES);
    tcase_add_loop_test(tc, backward_data_table, 0, NCASES);
    tcase_add_loop_test(tc, backward_weights_table, 0, NCASES);
    tcase_add_loop_test(tc, forward_epilogues, 0, 24);
    tcase_add_loop_test(tc, reference_backward_matches_finite_differences, 0, 3);
    tcase_add_test(tc, backward_weights_workspace_limit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_main(suite());
}
