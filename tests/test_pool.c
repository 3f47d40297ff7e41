/* test_pool.c - max/avg/avg-exclude-pad pooling forward and backward against the double reference
 * over a table of shapes, finite differences of the reference backward, the max training pair
 * (forward_argmax / backward_argmax: codes, y and dx), max ties, global average pooling (2-D and
 * 4-D outputs) and every bad-argument rule. */
#include "fixture.h"
#include "ref_layers.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct pool_case {
    const char *name;
    int n, c, h, w;
    int kh, kw, sh, sw, pt, pb, pl, pr;
} pool_case;

static const pool_case cases[] = {
    {"N=C=H=W=1, 1x1 window", 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},
    {"2x2 s2 (the default)", 2, 3, 8, 8, 2, 2, 2, 2, 0, 0, 0, 0},
    {"2x2 s2 on odd 7x9 (does not divide)", 1, 2, 7, 9, 2, 2, 2, 2, 0, 0, 0, 0},
    {"3x3 s2 p1 (ResNet stem, 32x32)", 2, 4, 32, 32, 3, 3, 2, 2, 1, 1, 1, 1},
    {"3x3 s2 p1 on odd 15x13", 1, 3, 15, 13, 3, 3, 2, 2, 1, 1, 1, 1},
    {"3x2 window, strides 1x3, asymmetric pads", 2, 2, 6, 10, 3, 2, 1, 3, 2, 0, 0, 1},
    {"window = padded input (5x5 p1 on 3x3)", 1, 2, 3, 3, 5, 5, 1, 1, 1, 1, 1, 1},
    {"stride > window (2x2 s3)", 1, 2, 11, 8, 2, 2, 3, 3, 0, 0, 0, 0},
    {"C=1, H=1 (1x3 window)", 3, 1, 1, 17, 1, 3, 1, 2, 0, 0, 1, 1},
    {"3x3 s1 p1 on 12x20 (vector runs, stride 1)", 1, 2, 12, 20, 3, 3, 1, 1, 1, 1, 1, 1},
    {"2x3 s3 on 6x40 (vector runs, gathered)", 2, 1, 6, 40, 2, 3, 2, 3, 0, 1, 0, 0},
    /* Edges of the max backward's 16-column runs and 4-row blocks: widths 33 and 37 (a partial
     * run, one past 8), a 1-row plane, strides 1 and 3, windows 2 and 5, pads 0 to 2. */
    {"3x3 s2 p1 on 5x37, N=1 C=1 (partial 16-run)", 1, 1, 5, 37, 3, 3, 2, 2, 1, 1, 1, 1},
    {"H=1, 1x2 s1 on 1x33", 2, 3, 1, 33, 1, 2, 1, 1, 0, 0, 0, 0},
    {"3x3 s3 p1 on 10x19", 1, 2, 10, 19, 3, 3, 3, 3, 1, 1, 1, 1},
    {"5x5 s2 p2 on 13x21", 2, 1, 13, 21, 5, 5, 2, 2, 2, 2, 2, 2},
    {"2x2 s1 p1 on 9x17", 1, 2, 9, 17, 2, 2, 1, 1, 1, 1, 1, 1},
    /* Runs whose windows the max backward takes as vectors (strides 1 and 2, both parities). */
    {"3x3 s1 p1 on 5x50 (stride-1 window vectors)", 1, 2, 5, 50, 3, 3, 1, 1, 1, 1, 1, 1},
    {"2x2 s2 on 4x64 (stride-2 window vectors)", 2, 1, 4, 64, 2, 2, 2, 2, 0, 0, 0, 0},
    {"5x5 s2 p2 on 6x70 (3 windows per column)", 1, 1, 6, 70, 5, 5, 2, 2, 2, 2, 2, 2},
    {"3x3 s2 p1 on 9x100 (ResNet stem, odd pad)", 1, 2, 9, 100, 3, 3, 2, 2, 1, 1, 1, 1},
    /* The backward gathers: up to 4 windows per column, blocks of 16 stride columns inside the
     * input (unmasked) and at its edges; past 4 windows per column, or (max) past 256 positions
     * per window, the one-pass kernels. */
    {"7x7 s2 p3 on 11x70 (4 windows per column)", 1, 2, 11, 70, 7, 7, 2, 2, 3, 3, 3, 3},
    {"5x5 s1 p2 on 7x40 (5 per column: one pass)", 2, 1, 7, 40, 5, 5, 1, 1, 2, 2, 2, 2},
    {"17x16 s4 on 21x44 (272 positions: max one pass)", 1, 2, 21, 44, 17, 16, 4, 4, 0, 0, 0, 0},
    {"3x3 s3 p1 on 4x100 (stride 3, inside blocks)", 1, 2, 4, 100, 3, 3, 3, 3, 1, 1, 1, 1},
    {"1x1 s2 on 5x40 (columns no window covers)", 2, 1, 5, 40, 1, 1, 2, 2, 0, 0, 0, 0},
    {"2x4 s2x4 p1x3 on 6x70 (asymmetric, 1 window per column)", 1, 2, 6, 70, 2, 4, 2, 4, 1, 0, 3,
     2},
};
#define NCASES (int)(sizeof cases / sizeof cases[0])
static const char *const mode_names[] = {"max", "avg", "avg_exclude_pad"};

static oclnn_pool2d_desc desc_of(const pool_case *p, oclnn_pool_mode mode)
{
    oclnn_pool2d_desc d = {mode, p->kh, p->kw, p->sh, p->sw, p->pt, p->pb, p->pl, p->pr};
    return d;
}

/* Distinct values (a shuffled ramp) so that no max window has a tie. */
static void fill_distinct(float *x, size_t n, uint32_t seed)
{
    float *r = fx_alloc(n);
    fx_fill(r, n, seed, 0, 1);
    for (size_t i = 0; i < n; i++)
        x[i] = ((float)i - (float)n / 2) * 0.01f;
    for (size_t i = n; i > 1; i--) { /* Fisher-Yates with the fixture's random stream */
        size_t j = (size_t)(r[i - 1] * (float)i);
        if (j >= i)
            j = i - 1;
        float t = x[i - 1];
        x[i - 1] = x[j];
        x[j] = t;
    }
    free(r);
}

static void assert_all_nan(const char *what, const oclnn_tensor *t)
{
    float *p = fx_download(t);
    oclnn_tensor_desc d = oclnn_tensor_get_desc(t);
    for (size_t i = 0; i < oclnn_tensor_desc_count(&d); i++)
        ck_assert_msg(isnan(p[i]), "%s: element %zu was written (%g)", what, i, p[i]);
    free(p);
}

typedef struct fd_arg {
    const oclnn_pool2d_desc *d;
    int planes, h, w;
    size_t ny;
    const double *wgt; /* loss weights over y */
    double *y;         /* scratch */
} fd_arg;

static double pool_loss(const double *x, void *p)
{
    fd_arg *a = p;
    ref_pool2d_forward(a->d, a->planes, a->h, a->w, x, a->y);
    double s = 0;
    for (size_t i = 0; i < a->ny; i++)
        s += a->wgt[i] * a->y[i];
    return s;
}

/* got against want within tol (0 where tol is NULL), NaN where want is NaN and equal where it is
 * infinite. */
static void assert_pooled(const char *what, const float *got, const double *want, const double *tol,
                          size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool ok = isnan(want[i])   ? isnan(got[i])
                  : isinf(want[i]) ? got[i] == want[i]
                                   : fabs(got[i] - want[i]) <= (tol ? tol[i] : 0);
        ck_assert_msg(ok, "%s: element %zu is %.9g, want %.9g (limit %.3g)", what, i, got[i],
                      want[i], tol ? tol[i] : 0.0);
    }
}

/* Runs the training pair on x: pool2d_forward_argmax (into a fresh y and argmax, checked
 * against the plain forward's y when want_y is given) then pool2d_backward_argmax into dx. */
static void argmax_pair(const oclnn_pool2d_desc *d, const oclnn_tensor *x, const oclnn_tensor *dy,
                        oclnn_tensor *dx, const double *want_y)
{
    oclnn_context *c = fx_ctx();
    oclnn_tensor_desc xd = oclnn_tensor_get_desc(x), yd, ad;
    ck_assert_int_eq(oclnn_pool2d_output_shape(d, &xd, &yd), OCLNN_SUCCESS);
    ad = yd;
    ad.dtype = OCLNN_U8;
    oclnn_tensor *ty = fx_tensor(&yd, NULL), *ta = fx_tensor(&ad, NULL);
    oclnn_status s = oclnn_pool2d_forward_argmax(c, d, x, ty, ta);
    ck_assert_msg(s == OCLNN_SUCCESS, "pool2d_forward_argmax: %s", oclnn_last_error(c));
    if (want_y) {
        float *got = fx_download(ty);
        assert_pooled("max forward_argmax y", got, want_y, NULL, oclnn_tensor_desc_count(&yd));
        free(got);
    }
    s = oclnn_pool2d_backward_argmax(c, d, ta, dy, dx);
    ck_assert_msg(s == OCLNN_SUCCESS, "pool2d_backward_argmax: %s", oclnn_last_error(c));
    oclnn_tensor_destroy(ty);
    oclnn_tensor_destroy(ta);
}

/* The arg-max codes of forward_argmax against a scan of x (distinct values): each window's
 * position i * kw + j of its maximum. */
static void check_codes(const oclnn_pool2d_desc *d, const pool_case *pc, const float *x,
                        const oclnn_tensor *tx)
{
    oclnn_context *c = fx_ctx();
    oclnn_tensor_desc xd = oclnn_tensor_get_desc(tx), yd, ad;
    ck_assert_int_eq(oclnn_pool2d_output_shape(d, &xd, &yd), OCLNN_SUCCESS);
    ad = yd;
    ad.dtype = OCLNN_U8;
    size_t ny = oclnn_tensor_desc_count(&yd);
    oclnn_tensor *ty = fx_tensor(&yd, NULL), *ta = fx_tensor(&ad, NULL);
    ck_assert_int_eq(oclnn_pool2d_forward_argmax(c, d, tx, ty, ta), OCLNN_SUCCESS);
    uint8_t *code = malloc(ny);
    ck_assert_ptr_nonnull(code);
    ck_assert_int_eq(oclnn_tensor_download(c, ta, code, ny, 1), OCLNN_SUCCESS);
    const int oh = yd.dims[2], ow = yd.dims[3];
    for (int p = 0; p < pc->n * pc->c; p++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                int best = -1;
                float m = 0;
                for (int i = 0; i < d->window_h; i++)
                    for (int j = 0; j < d->window_w; j++) {
                        int iy = oy * d->stride_h - d->pad_top + i;
                        int ix = ox * d->stride_w - d->pad_left + j;
                        if (iy < 0 || iy >= pc->h || ix < 0 || ix >= pc->w)
                            continue;
                        float v = x[((size_t)p * pc->h + iy) * pc->w + ix];
                        if (best < 0 || v > m) {
                            best = i * d->window_w + j;
                            m = v;
                        }
                    }
                size_t at = ((size_t)p * oh + oy) * ow + ox;
                ck_assert_msg(code[at] == best, "%s: argmax of window (%d, %d, %d) is %d, want %d",
                              pc->name, p, oy, ox, code[at], best);
            }
    free(code);
    oclnn_tensor_destroy(ty);
    oclnn_tensor_destroy(ta);
}

START_TEST(pool_forward_backward)
{
    const pool_case *pc = &cases[_i % NCASES];
    oclnn_pool_mode mode = (oclnn_pool_mode)(_i / NCASES);
    oclnn_context *c = fx_ctx();
    oclnn_pool2d_desc d = desc_of(pc, mode);
    oclnn_tensor_desc xd = oclnn_tensor_desc_4d(pc->n, pc->c, pc->h, pc->w), yd;
    ck_assert_int_eq(oclnn_pool2d_output_shape(&d, &xd, &yd), OCLNN_SUCCESS);
    int oh, ow, planes = pc->n * pc->c;
    ref_pool2d_out(&d, pc->h, pc->w, &oh, &ow);
    ck_assert_int_eq(yd.ndim, 4);
    ck_assert_int_eq(yd.dims[2], oh);
    ck_assert_int_eq(yd.dims[3], ow);
    size_t nx = oclnn_tensor_desc_count(&xd), ny = oclnn_tensor_desc_count(&yd);
    float *x = fx_alloc(nx), *dy = fx_alloc(ny);
    fill_distinct(x, nx, 17 + _i);
    fx_fill(dy, ny, 23 + _i, -1, 1);
    double *xd64 = ref_from_float(x, nx), *dyd = ref_from_float(dy, ny);
    double *xabs = malloc(nx * sizeof *xabs), *dyabs = malloc(ny * sizeof *dyabs);
    for (size_t i = 0; i < nx; i++)
        xabs[i] = fabs(xd64[i]);
    for (size_t i = 0; i < ny; i++)
        dyabs[i] = fabs(dyd[i]);
    double *y = malloc(ny * sizeof *y), *ytol = malloc(ny * sizeof *ytol);
    double *dx = malloc(nx * sizeof *dx), *dxtol = malloc(nx * sizeof *dxtol);
    ref_pool2d_forward(&d, planes, pc->h, pc->w, xd64, y);
    ref_pool2d_forward(&d, planes, pc->h, pc->w, xabs, ytol); /* sum |terms| / divisor */
    ref_pool2d_backward(&d, planes, pc->h, pc->w, xd64, dyd, dx);
    ref_pool2d_backward(&d, planes, pc->h, pc->w, xd64, dyabs, dxtol);
    for (size_t i = 0; i < ny; i++)
        ytol[i] *= mode == OCLNN_POOL_MAX ? 0 : 2e-6;
    for (size_t i = 0; i < nx; i++)
        dxtol[i] *= 2e-6;

    oclnn_tensor *tx = fx_tensor(&xd, x), *ty = fx_tensor(&yd, NULL), *tdy = fx_tensor(&yd, dy),
                 *tdx = fx_tensor(&xd, NULL);
    char what[160];
    ck_assert_int_eq(oclnn_pool2d_forward(c, &d, tx, ty), OCLNN_SUCCESS);
    float *got = fx_download(ty);
    snprintf(what, sizeof what, "%s forward, %s", mode_names[mode], pc->name);
    fx_assert_close_tol(what, got, y, ytol, ny);
    free(got);
    ck_assert_int_eq(oclnn_pool2d_backward(c, &d, tx, tdy, tdx), OCLNN_SUCCESS);
    got = fx_download(tdx);
    snprintf(what, sizeof what, "%s backward, %s", mode_names[mode], pc->name);
    fx_assert_close_tol(what, got, dx, dxtol, nx);
    free(got);
    if (mode == OCLNN_POOL_MAX && pc->kh * pc->kw <= 256) {
        /* The training pair, every shape (5x5 s1: 5 windows per column, past the plain
         * backward's gathers). */
        check_codes(&d, pc, x, tx);
        oclnn_tensor *tdx2 = fx_tensor(&xd, NULL);
        argmax_pair(&d, tx, tdy, tdx2, y);
        got = fx_download(tdx2);
        snprintf(what, sizeof what, "max backward_argmax, %s", pc->name);
        fx_assert_close_tol(what, got, dx, dxtol, nx);
        free(got);
        oclnn_tensor_destroy(tdx2);
    } else if (mode == OCLNN_POOL_MAX) {
        oclnn_tensor_desc ad = yd;
        ad.dtype = OCLNN_U8;
        oclnn_tensor *ta = fx_tensor(&ad, NULL), *ty2 = fx_tensor(&yd, NULL);
        fx_assert_status(oclnn_pool2d_forward_argmax(c, &d, tx, ty2, ta), OCLNN_INVALID_ARGUMENT,
                         "has more than 256 positions");
        fx_assert_status(oclnn_pool2d_backward_argmax(c, &d, ta, tdy, tdx), OCLNN_INVALID_ARGUMENT,
                         "has more than 256 positions");
        fx_assert_all_nan("y after a rejected forward_argmax", ty2);
        oclnn_tensor_destroy(ta);
        oclnn_tensor_destroy(ty2);
    }

    /* The reference backward is the gradient of the reference forward (values are 0.01 apart,
     * far from ties at a step of 1e-4). */
    double *scratch = malloc(ny * sizeof *scratch);
    fd_arg arg = {&d, planes, pc->h, pc->w, ny, dyd, scratch};
    for (size_t i = 0; i < nx; i += 1 + nx / 97) {
        double fd = ref_central_diff(pool_loss, xd64, i, 1e-4, &arg);
        ck_assert_msg(fabs(fd - dx[i]) <= 1e-8 * (1 + dxtol[i] * 5e5),
                      "%s: reference dx[%zu] = %.12g, finite difference %.12g", what, i, dx[i], fd);
    }
    oclnn_tensor_destroy(tx);
    oclnn_tensor_destroy(ty);
    oclnn_tensor_destroy(tdy);
    oclnn_tensor_destroy(tdx);
    free(x);
    free(dy);
    free(xd64);
    free(dyd);
    free(xabs);
    free(dyabs);
    free(y);
    free(ytol);
    free(dx);
    free(dxtol);
    free(scratch);
}
END_TEST

/* Ties: every window's gradient goes to its first position in row-major order; padding never
 * wins even when all the inputs are negative. */
START_TEST(max_ties_and_padding)
{
    oclnn_context *c = fx_ctx();
    oclnn_pool2d_desc d = {OCLNN_POOL_MAX, 3, 3, 2, 2, 1, 1, 1, 1};
    oclnn_tensor_desc xd = oclnn_tensor_desc_4d(1, 2, 5, 6), yd;
    ck_assert_int_eq(oclnn_pool2d_output_shape(&d, &xd, &yd), OCLNN_SUCCESS);
    size_t nx = 60, ny = oclnn_tensor_desc_count(&yd);
    float x[60], dy[64];
    for (int i = 0; i < 60; i++)
        x[i] = i < 30 ? -5.0f : (float)(i % 2); /* plane 0 all equal; plane 1 ties of ones */
    fx_fill(dy, ny, 3, 0.5f, 1.5f);
    double *xd64 = ref_from_float(x, nx), *dyd = ref_from_float(dy, ny);
    double want_y[64], want_dx[60];
    ref_pool2d_forward(&d, 2, 5, 6, xd64, want_y);
    ref_pool2d_backward(&d, 2, 5, 6, xd64, dyd, want_dx);
    for (size_t i = 0; i < ny / 2; i++)
        ck_assert_double_eq(want_y[i], -5.0);
    oclnn_tensor *tx = fx_tensor(&xd, x), *ty = fx_tensor(&yd, NULL), *tdy = fx_tensor(&yd, dy),
                 *tdx = fx_tensor(&xd, NULL);
    ck_assert_int_eq(oclnn_pool2d_forward(c, &d, tx, ty), OCLNN_SUCCESS);
    float *got = fx_download(ty);
    fx_assert_close("max forward with ties", got, want_y, ny, 0, 0);
    free(got);
    ck_assert_int_eq(oclnn_pool2d_backward(c, &d, tx, tdy, tdx), OCLNN_SUCCESS);
    got = fx_download(tdx);
    fx_assert_close("max backward with ties", got, want_dx, nx, 0, 4e-7);
    free(got);
    argmax_pair(&d, tx, tdy, tdx, want_y);
    got = fx_download(tdx);
    fx_assert_close("max backward_argmax with ties", got, want_dx, nx, 0, 4e-7);
    /* Plane 0, row 0: windows start at columns -1, 1, 3, so their first inside positions are
     * columns 0, 1 and 3; column 2 gets nothing. */
    ck_assert_float_eq(got[2], 0.0f);
    ck_assert_msg(got[0] > 0 && got[1] > 0 && got[3] > 0, "dx row 0 = %g %g %g %g", got[0], got[1],
                  got[2], got[3]);
    free(got);
    /* A NaN propagates to every window holding it (plane 1, row 2, column 3: windows (1, 1) and
     * (1, 2) of the 3x3 output), and only there. */
    x[30 + 2 * 6 + 3] = NAN;
    ck_assert_int_eq(oclnn_tensor_upload(c, tx, x, nx, 1), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_pool2d_forward(c, &d, tx, ty), OCLNN_SUCCESS);
    got = fx_download(ty);
    for (size_t i = 0; i < ny; i++) {
        bool want_nan = i == ny / 2 + 4 || i == ny / 2 + 5;
        ck_assert_msg(isnan(got[i]) == want_nan, "y[%zu] = %g after a NaN input", i, got[i]);
    }
    free(got);
    /* Its gradient goes to the NaN (the window's last NaN, its only one). */
    ck_assert_int_eq(oclnn_pool2d_backward(c, &d, tx, tdy, tdx), OCLNN_SUCCESS);
    got = fx_download(tdx);
    free(xd64);
    xd64 = ref_from_float(x, nx);
    ref_pool2d_backward(&d, 2, 5, 6, xd64, dyd, want_dx);
    ck_assert_double_eq(want_dx[30 + 2 * 6 + 3], dyd[ny / 2 + 4] + dyd[ny / 2 + 5]);
    fx_assert_close("max backward with a NaN", got, want_dx, nx, 0, 4e-7);
    free(got);
    argmax_pair(&d, tx, tdy, tdx, NULL);
    got = fx_download(tdx);
    fx_assert_close("max backward_argmax with a NaN", got, want_dx, nx, 0, 4e-7);
    free(got);
    oclnn_tensor_destroy(tx);
    oclnn_tensor_destroy(ty);
    oclnn_tensor_destroy(tdy);
    oclnn_tensor_destroy(tdx);
    free(xd64);
    free(dyd);
}
END_TEST

/* With a workspace limit too small for the arg-max pass, max backward takes the one-pass gather;
 * both give the reference's dx (3x3 s2 p1 and a partial-run width). */
START_TEST(max_backward_without_workspace)
{
    oclnn_context *c = fx_ctx();
    oclnn_pool2d_desc d = {OCLNN_POOL_MAX, 3, 3, 2, 2, 1, 1, 1, 1};
    oclnn_tensor_desc xd = oclnn_tensor_desc_4d(2, 3, 9, 21), yd;
    ck_assert_int_eq(oclnn_pool2d_output_shape(&d, &xd, &yd), OCLNN_SUCCESS);
    size_t nx = oclnn_tensor_desc_count(&xd), ny = oclnn_tensor_desc_count(&yd);
    float *x = fx_alloc(nx), *dy = fx_alloc(ny);
    fill_distinct(x, nx, 5);
    fx_fill(dy, ny, 6, -1, 1);
    double *xd64 = ref_from_float(x, nx), *dyd = ref_from_float(dy, ny);
    double *want = malloc(nx * sizeof *want);
    ref_pool2d_backward(&d, 6, 9, 21, xd64, dyd, want);
    oclnn_tensor *tx = fx_tensor(&xd, x), *tdy = fx_tensor(&yd, dy);
    for (int limited = 0; limited < 2; limited++) {
        oclnn_tensor *tdx = fx_tensor(&xd, NULL);
        ck_assert_int_eq(oclnn_context_set_workspace_limit(c, limited ? 4 : (size_t)1 << 30),
                         OCLNN_SUCCESS);
        ck_assert_int_eq(oclnn_pool2d_backward(c, &d, tx, tdy, tdx), OCLNN_SUCCESS);
        float *got = fx_download(tdx);
        fx_assert_close(limited ? "max backward, one pass" : "max backward, two passes", got, want,
                        nx, 0, 4e-7);
        free(got);
        oclnn_tensor_destroy(tdx);
    }
    ck_assert_int_eq(oclnn_context_set_workspace_limit(c, (size_t)1 << 30), OCLNN_SUCCESS);
    oclnn_tensor_destroy(tx);
    oclnn_tensor_destroy(tdy);
    free(x);
    free(dy);
    free(xd64);
    free(dyd);
    free(want);
}
END_TEST

/* Inputs of at least 16 MiB, whose rows the CPU forward and arg-max kernels sweep and whose dx the
 * CPU gathers store with non-temporal stores (where a row keeps the 64-byte alignment, w = 512,
 * and where it does not, w = 509: a partial last run of outputs, whose last window takes the
 * right padding), checked against the reference in each mode, with NaNs and infinities in x. */
START_TEST(large_pooling)
{
    static const int widths[2] = {512, 509}, heights[2] = {256, 261};
    const int shape = _i % 2, planes = 32, h = heights[shape], w = widths[shape];
    oclnn_pool_mode mode = (oclnn_pool_mode)(_i / 2);
    oclnn_context *c = fx_ctx();
    oclnn_pool2d_desc d = {mode, 3, 3, 2, 2, 1, 1, 1, 1};
    oclnn_tensor_desc xd = oclnn_tensor_desc_4d(2, planes / 2, h, w), yd;
    ck_assert_int_eq(oclnn_pool2d_output_shape(&d, &xd, &yd), OCLNN_SUCCESS);
    size_t nx = oclnn_tensor_desc_count(&xd), ny = oclnn_tensor_desc_count(&yd);
    ck_assert_uint_ge(nx * sizeof(float), (size_t)16 << 20);
    float *x = fx_alloc(nx), *dy = fx_alloc(ny);
    fx_fill(x, nx, 41 + _i, -1, 1);
    fx_fill(dy, ny, 43 + _i, -1, 1);
    for (size_t i = 0; i < nx; i += 100003)
        x[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : -INFINITY;
    double *xd64 = ref_from_float(x, nx), *dyd = ref_from_float(dy, ny);
    double *dyabs = malloc(ny * sizeof *dyabs), *dx = malloc(nx * sizeof *dx);
    double *dxtol = malloc(nx * sizeof *dxtol), *xabs = malloc(nx * sizeof *xabs);
    double *y = malloc(ny * sizeof *y), *ytol = malloc(ny * sizeof *ytol);
    for (size_t i = 0; i < ny; i++)
        dyabs[i] = fabs(dyd[i]);
    for (size_t i = 0; i < nx; i++)
        xabs[i] = fabs(xd64[i]);
    ref_pool2d_forward(&d, planes, h, w, xd64, y);
    ref_pool2d_forward(&d, planes, h, w, xabs, ytol); /* sum |terms| / divisor */
    for (size_t i = 0; i < ny; i++)
        ytol[i] = mode == OCLNN_POOL_MAX ? 0 : ytol[i] * 2e-6; /* not inf * 0 */
    ref_pool2d_backward(&d, planes, h, w, xd64, dyd, dx);
    ref_pool2d_backward(&d, planes, h, w, xd64, dyabs, dxtol);
    for (size_t i = 0; i < nx; i++)
        dxtol[i] *= 2e-6;
    oclnn_tensor *tx = fx_tensor(&xd, x), *tdy = fx_tensor(&yd, dy), *tdx = fx_tensor(&xd, NULL);
    oclnn_tensor *ty = fx_tensor(&yd, NULL);
    char what[128];
    snprintf(what, sizeof what, "%s forward, 3x3 s2 p1 on %dx%dx%d", mode_names[mode], planes, h,
             w);
    ck_assert_int_eq(oclnn_pool2d_forward(c, &d, tx, ty), OCLNN_SUCCESS);
    float *got = fx_download(ty);
    assert_pooled(what, got, y, ytol, ny);
    free(got);
    ck_assert_int_eq(oclnn_pool2d_backward(c, &d, tx, tdy, tdx), OCLNN_SUCCESS);
    got = fx_download(tdx);
    snprintf(what, sizeof what, "%s backward, 3x3 s2 p1 on %dx%dx%d", mode_names[mode], planes, h,
             w);
    fx_assert_close_tol(what, got, dx, dxtol, nx);
    free(got);
    if (mode == OCLNN_POOL_MAX) {
        oclnn_tensor *tdx2 = fx_tensor(&xd, NULL);
        argmax_pair(&d, tx, tdy, tdx2, y);
        got = fx_download(tdx2);
        strcat(what, ", backward_argmax");
        fx_assert_close_tol(what, got, dx, dxtol, nx);
        free(got);
        oclnn_tensor_destroy(tdx2);
    }
    oclnn_tensor *ts[] = {tx, tdy, tdx, ty};
    fx_destroy(ts, 4);
    free(x);
    free(dy);
    free(xd64);
    free(dyd);
    free(dyabs);
    free(dx);
    free(dxtol);
    free(xabs);
    free(y);
    free(ytol);
}
END_TEST

/* Windows holding only -inf give their gradient to their first position inside the input, as
 * the reference does; +inf wins like any maximum. */
START_TEST(max_infinities)
{
    oclnn_context *c = fx_ctx();
    oclnn_pool2d_desc d = {OCLNN_POOL_MAX, 3, 3, 2, 2, 1, 1, 1, 1};
    oclnn_tensor_desc xd = oclnn_tensor_desc_4d(1, 1, 5, 36), yd;
    ck_assert_int_eq(oclnn_pool2d_output_shape(&d, &xd, &yd), OCLNN_SUCCESS);
    size_t nx = 5 * 36, ny = oclnn_tensor_desc_count(&yd);
    float x[5 * 36], dy[3 * 18];
    for (size_t i = 0; i < nx; i++)
        x[i] = -INFINITY;
    x[2 * 36 + 20] = INFINITY;
    x[4 * 36 + 35] = 1.0f;
    fx_fill(dy, ny, 9, 0.5f, 1.5f);
    double *xd64 = ref_from_float(x, nx), *dyd = ref_from_float(dy, ny);
    double want[5 * 36];
    ref_pool2d_backward(&d, 1, 5, 36, xd64, dyd, want);
    oclnn_tensor *tx = fx_tensor(&xd, x), *tdy = fx_tensor(&yd, dy), *tdx = fx_tensor(&xd, NULL);
    ck_assert_int_eq(oclnn_pool2d_backward(c, &d, tx, tdy, tdx), OCLNN_SUCCESS);
    float *got = fx_download(tdx);
    fx_assert_close("max backward with infinities", got, want, nx, 0, 4e-7);
    free(got);
    argmax_pair(&d, tx, tdy, tdx, NULL);
    got = fx_download(tdx);
    fx_assert_close("max backward_argmax with infinities", got, want, nx, 0, 4e-7);
    /* Window (0, 0) covers rows 0-1 and columns 0-1: all -inf, so x[0][0] gets its dy. */
    ck_assert_float_eq(got[0], dy[0]);
    free(got);
    oclnn_tensor *ts[] = {tx, tdy, tdx};
    fx_destroy(ts, 3);
    free(xd64);
    free(dyd);
}
END_TEST

typedef struct gap_case {
    const char *name;
    int n, c, h, w, y4d;
} gap_case;
static const gap_case gaps[] = {
    {"ResNet 7x7 head, 2-D y", 2, 16, 7, 7, 0},
    {"ResNet 7x7 head, 4-D y", 3, 5, 7, 7, 1},
    {"1x1 planes", 2, 3, 1, 1, 0},
    {"odd 5x3, N=1 C=1", 1, 1, 5, 3, 1},
    {"56x56 planes", 1, 3, 56, 56, 0},
};

START_TEST(global_avg_pool)
{
    const gap_case *g = &gaps[_i];
    oclnn_context *c = fx_ctx();
    oclnn_tensor_desc xd = oclnn_tensor_desc_4d(g->n, g->c, g->h, g->w);
    oclnn_tensor_desc yd =
        g->y4d ? oclnn_tensor_desc_4d(g->n, g->c, 1, 1) : oclnn_tensor_desc_2d(g->n, g->c);
    int planes = g->n * g->c, hw = g->h * g->w;
    size_t nx = (size_t)planes * hw;
    float *x = fx_alloc(nx), *dy = fx_alloc(planes);
    fx_fill(x, nx, 31 + _i, -2, 2);
    fx_fill(dy, planes, 37 + _i, -1, 1);
    double *y = calloc(planes, sizeof *y), *ytol = calloc(planes, sizeof *ytol);
    double *dx = malloc(nx * sizeof *dx);
    for (size_t i = 0; i < nx; i++) {
        y[i / hw] += (double)x[i] / hw;
        ytol[i / hw] += 1e-5 * fabs(x[i]) / hw;
        dx[i] = (double)dy[i / hw] / hw;
    }
    oclnn_tensor *tx = fx_tensor(&xd, x), *ty = fx_tensor(&yd, NULL), *tdy = fx_tensor(&yd, dy),
                 *tdx = fx_tensor(&xd, NULL);
    ck_assert_int_eq(oclnn_global_avg_pool_forward(c, tx, ty), OCLNN_SUCCESS);
    float *got = fx_download(ty);
    fx_assert_close_tol(g->name, got, y, ytol, planes);
    free(got);
    ck_assert_int_eq(oclnn_global_avg_pool_backward(c, tdy, tdx), OCLNN_SUCCESS);
    got = fx_download(tdx);
    fx_assert_close(g->name, got, dx, nx, 0, 1e-6);
    free(got);
    /* The backward is the gradient of the mean: d(sum_p dy_p * mean_p) / dx_i = dy_p / hw, by
     * centred differences of the double forward on the first plane. */
    for (int i = 0; i < hw; i += 1 + hw / 7) {
        double xp = x[i] + 1e-3, xm = x[i] - 1e-3, sp = 0, sm = 0;
        for (int j = 0; j < hw; j++) {
            sp += (j == i ? xp : x[j]) / hw;
            sm += (j == i ? xm : x[j]) / hw;
        }
        double fd = dy[0] * (sp - sm) / 2e-3;
        ck_assert_msg(fabs(fd - dx[i]) <= 1e-9, "%s: dx[%d] %.12g vs finite difference %.12g",
                      g->name, i, dx[i], fd);
    }
    oclnn_tensor_destroy(tx);
    oclnn_tensor_destroy(ty);
    oclnn_tensor_destroy(tdy);
    oclnn_tensor_destroy(tdx);
    free(x);
    free(dy);
    free(y);
    free(ytol);
    free(dx);
}
END_TEST

START_TEST(bad_arguments)
{
    oclnn_context *c = fx_ctx();
    oclnn_tensor_desc xd = oclnn_tensor_desc_4d(1, 2, 4, 4), yd = oclnn_tensor_desc_4d(1, 2, 2, 2);
    oclnn_tensor_desc wrong = oclnn_tensor_desc_4d(1, 2, 3, 2), flat = oclnn_tensor_desc_2d(2, 16);
    float xs[32];
    fx_fill(xs, 32, 1, -1, 1);
    oclnn_tensor *x = fx_tensor(&xd, xs), *y = fx_tensor(&yd, NULL), *yw = fx_tensor(&wrong, NULL);
    oclnn_tensor *x2 = fx_tensor(&flat, xs), *dx = fx_tensor(&xd, NULL);
    oclnn_pool2d_desc d = oclnn_pool2d_desc_default(), b;
    ck_assert_int_eq(d.window_h, 2);
    ck_assert_int_eq(d.stride_w, 2);
    ck_assert_int_eq(d.mode, OCLNN_POOL_MAX);
    b = d;
    b.window_h = 5;
    fx_assert_status(oclnn_pool2d_forward(c, &b, x, y), OCLNN_INVALID_ARGUMENT,
                     "window_h 5 is larger than the padded input height 4");
    b = d;
    b.window_w = 7;
    b.pad_left = 1;
    b.pad_right = 1;
    fx_assert_status(oclnn_pool2d_forward(c, &b, x, y), OCLNN_INVALID_ARGUMENT,
                     "window_w 7 is larger than the padded input width 6");
    b = d;
    b.pad_top = 2;
    fx_assert_status(oclnn_pool2d_forward(c, &b, x, y), OCLNN_INVALID_ARGUMENT,
                     "pad_top 2 must be smaller than window_h 2");
    b = d;
    b.pad_right = 3;
    fx_assert_status(oclnn_pool2d_backward(c, &b, x, y, dx), OCLNN_INVALID_ARGUMENT,
                     "pad_right 3 must be smaller than window_w 2");
    b = d;
    b.pad_left = -1;
    fx_assert_status(oclnn_pool2d_forward(c, &b, x, y), OCLNN_INVALID_ARGUMENT,
                     "pad_left -1 must be >= 0");
    b = d;
    b.window_w = 0;
    fx_assert_status(oclnn_pool2d_forward(c, &b, x, y), OCLNN_INVALID_ARGUMENT,
                     "window_w 0 must be >= 1");
    b = d;
    b.stride_h = 0;
    fx_assert_status(oclnn_pool2d_forward(c, &b, x, y), OCLNN_INVALID_ARGUMENT,
                     "stride_h 0 must be >= 1");
    b = d;
    b.mode = (oclnn_pool_mode)7;
    fx_assert_status(oclnn_pool2d_forward(c, &b, x, y), OCLNN_INVALID_ARGUMENT, "mode 7 is not");
    fx_assert_status(oclnn_pool2d_forward(c, NULL, x, y), OCLNN_INVALID_ARGUMENT, "desc is NULL");
    fx_assert_status(oclnn_pool2d_forward(c, &d, x, yw), OCLNN_INVALID_ARGUMENT,
                     "y [1][2][3][2] does not match the expected [1][2][2][2]");
    fx_assert_status(oclnn_pool2d_forward(c, &d, x2, y), OCLNN_INVALID_ARGUMENT,
                     "must be a 4-D f32");
    fx_assert_status(oclnn_pool2d_backward(c, &d, x, yw, dx), OCLNN_INVALID_ARGUMENT,
                     "dy [1][2][3][2] does not match");
    fx_assert_status(oclnn_pool2d_backward(c, &d, x, y, yw), OCLNN_INVALID_ARGUMENT,
                     "dx [1][2][3][2] does not match the expected [1][2][4][4]");
    /* The training pair: a u8 argmax of y's shape, max mode, at most 256 window positions. */
    oclnn_tensor_desc ad = yd, adw = wrong;
    ad.dtype = OCLNN_U8;
    adw.dtype = OCLNN_U8;
    oclnn_tensor *am = fx_tensor(&ad, NULL), *amw = fx_tensor(&adw, NULL);
    fx_assert_status(oclnn_pool2d_forward_argmax(c, &d, x, y, y), OCLNN_INVALID_ARGUMENT,
                     "argmax has dtype 0, expected OCLNN_U8 (2)");
    fx_assert_status(oclnn_pool2d_forward_argmax(c, &d, x, y, amw), OCLNN_INVALID_ARGUMENT,
                     "argmax [1][2][3][2] does not match the expected [1][2][2][2]");
    fx_assert_status(oclnn_pool2d_forward_argmax(c, &d, x, y, NULL), OCLNN_INVALID_ARGUMENT,
                     "argmax is NULL");
    fx_assert_status(oclnn_pool2d_forward_argmax(c, &d, x, yw, am), OCLNN_INVALID_ARGUMENT,
                     "y [1][2][3][2] does not match");
    ck_assert_int_eq(oclnn_pool2d_forward_argmax(NULL, &d, x, y, am), OCLNN_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(NULL), "pool2d_forward_argmax: ctx is NULL"));
    b = d;
    b.mode = OCLNN_POOL_AVG;
    fx_assert_status(oclnn_pool2d_forward_argmax(c, &b, x, y, am), OCLNN_INVALID_ARGUMENT,
                     "mode 1 must be OCLNN_POOL_MAX (0)");
    fx_assert_status(oclnn_pool2d_backward_argmax(c, &b, am, y, dx), OCLNN_INVALID_ARGUMENT,
                     "mode 1 must be OCLNN_POOL_MAX (0)");
    fx_assert_status(oclnn_pool2d_backward_argmax(c, &d, amw, y, dx), OCLNN_INVALID_ARGUMENT,
                     "argmax [1][2][3][2] does not match");
    fx_assert_status(oclnn_pool2d_backward_argmax(c, &d, am, yw, dx), OCLNN_INVALID_ARGUMENT,
                     "dy [1][2][3][2] does not match");
    fx_assert_status(oclnn_pool2d_backward_argmax(c, &d, am, y, x2), OCLNN_INVALID_ARGUMENT,
                     "dx [2][16] (ndim 2, dtype 0) must be a 4-D f32");
    fx_assert_status(oclnn_pool2d_backward_argmax(c, &d, am, y, am), OCLNN_INVALID_ARGUMENT,
                     "dx has dtype 2, expected OCLNN_F32");
    uint8_t codes[8];
    ck_assert_int_eq(oclnn_tensor_download(c, am, codes, 8, 1), OCLNN_SUCCESS);
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(codes[i], 255); /* the fixture's fill: nothing wrote argmax */
    oclnn_tensor_destroy(am);
    oclnn_tensor_destroy(amw);
    assert_all_nan("y after rejected calls", y);
    assert_all_nan("dx after rejected calls", dx);
    /* output_shape reports through the thread's message (there is no context). */
    oclnn_tensor_desc out = yd;
    b = d;
    b.window_h = 9;
    ck_assert_int_eq(oclnn_pool2d_output_shape(&b, &xd, &out), OCLNN_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(NULL), "window_h 9 is larger"));
    ck_assert_int_eq(out.ndim, 0);
    oclnn_tensor_desc zero = oclnn_tensor_desc_4d(1, 0, 4, 4);
    ck_assert_int_eq(oclnn_pool2d_output_shape(&d, &zero, &out), OCLNN_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(NULL), "every dimension >= 1"));
    /* Global average pooling. */
    oclnn_tensor_desc gy = oclnn_tensor_desc_2d(1, 3), g4 = oclnn_tensor_desc_4d(1, 2, 2, 1);
    oclnn_tensor *tgy = fx_tensor(&gy, NULL), *tg4 = fx_tensor(&g4, NULL);
    fx_assert_status(oclnn_global_avg_pool_forward(c, x, tgy), OCLNN_INVALID_ARGUMENT,
                     "y [1][3] must be [1][2] or [1][2][1][1]");
    fx_assert_status(oclnn_global_avg_pool_forward(c, x, tg4), OCLNN_INVALID_ARGUMENT,
                     "y [1][2][2][1] must be");
    fx_assert_status(oclnn_global_avg_pool_forward(c, x2, tgy), OCLNN_INVALID_ARGUMENT,
                     "x [2][16] must be 4-D");
    fx_assert_status(oclnn_global_avg_pool_backward(c, tgy, dx), OCLNN_INVALID_ARGUMENT,
                     "dy [1][3] must be [1][2]");
    assert_all_nan("global y after rejected calls", tgy);
    assert_all_nan("global dx after rejected calls", dx);
    oclnn_tensor *ts[] = {x, y, yw, x2, dx, tgy, tg4};
    for (int i = 0; i < 7; i++)
        oclnn_tensor_destroy(ts[i]);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("pool");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, pool_forward_backward, 0, 3 * NCASES);
    tcase_add_test(tc, max_ties_and_padding);
    tcase_add_test(tc, max_backward_without_workspace);
    tcase_add_loop_test(tc, large_pooling, 0, 6);
    tcase_add_test(tc, max_infinities);
    tcase_add_loop_test(tc, global_avg_pool, 0, (int)(sizeof gaps / sizeof gaps[0]));
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_main(suite());
}
