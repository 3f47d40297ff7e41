/* test_layernorm.c - layer norm forward and backward in both modes (CHW and ConvNeXt channels)
 * against the double references in ref_norm.c over a table of shapes; finite differences of the
 * reference backward; large-mean inputs; accumulation; determinism; argument validation. */
#include "fixture.h"
#include "ref_norm.h"

#include <math.h>
#include <stdlib.h>

typedef struct ln_case {
    const char *name;
    oclnn_layernorm_mode mode;
    int ndim, n, c, h, w;
} ln_case;

static const ln_case cases[] = {
    {"chw_n1_3x5x7", OCLNN_LAYERNORM_CHW, 4, 1, 3, 5, 7},
    {"chw_c1_3x1x4x4", OCLNN_LAYERNORM_CHW, 4, 3, 1, 4, 4},
    {"chw_one_element_zero_variance", OCLNN_LAYERNORM_CHW, 4, 2, 1, 1, 1},
    {"chw_odd_2x5x7x9", OCLNN_LAYERNORM_CHW, 4, 2, 5, 7, 9},
    {"chw_two_d_6x37", OCLNN_LAYERNORM_CHW, 2, 6, 37, 1, 1},
    {"chw_resnet_8x64x14x14", OCLNN_LAYERNORM_CHW, 4, 8, 64, 14, 14},
    /* enough samples for one work-item each, but samples too large to fuse on a CPU */
    {"chw_wide_32x4x91x91", OCLNN_LAYERNORM_CHW, 4, 32, 4, 91, 91},
    {"channels_c1_zero_variance", OCLNN_LAYERNORM_CHANNELS, 4, 1, 1, 3, 3},
    {"channels_odd_2x5x7x9", OCLNN_LAYERNORM_CHANNELS, 4, 2, 5, 7, 9},
    {"channels_convnext_4x96x7x7", OCLNN_LAYERNORM_CHANNELS, 4, 4, 96, 7, 7},
    {"channels_runs_2x8x16x20", OCLNN_LAYERNORM_CHANNELS, 4, 2, 8, 16, 20},
    {"channels_two_runs_1x4x40x41", OCLNN_LAYERNORM_CHANNELS, 4, 1, 4, 40, 41},
    {"channels_two_d_5x12", OCLNN_LAYERNORM_CHANNELS, 2, 5, 12, 1, 1},
};

static oclnn_tensor *vec_tensor(int c, const float *data)
{
    oclnn_tensor_desc d = oclnn_tensor_desc_1d(c);
    return fx_tensor(&d, data);
}

static oclnn_tensor_desc case_desc(const ln_case *k)
{
    return k->ndim == 2 ? oclnn_tensor_desc_2d(k->n, k->c)
                        : oclnn_tensor_desc_4d(k->n, k->c, k->h, k->w);
}

/* Scales a bound array into a tolerance: rel * |want| + scale * bound. */
static double *tolerance(const double *want, const double *bound, int count, double rel,
                         double scale)
{
    double *t = malloc((size_t)count * sizeof *t);
    ck_assert_ptr_nonnull(t);
    for (int i = 0; i < count; i++)
        t[i] = rel * fabs(want[i]) + scale * bound[i];
    return t;
}

START_TEST(forward_backward_table)
{
    const ln_case *k = &cases[_i];
    oclnn_context *ctx = fx_ctx();
    oclnn_tensor_desc d = case_desc(k);
    int chw = k->mode == OCLNN_LAYERNORM_CHW;
    int n = k->n, c = k->c, hw = k->ndim == 2 ? 1 : k->h * k->w, total = n * c * hw;
    int P = chw ? c * hw : c, G = chw ? n : n * hw, len = chw ? c * hw : c;
    float *x = fx_alloc(total), *dy = fx_alloc(total), *g = fx_alloc(P), *b = fx_alloc(P);
    float *dg0 = fx_alloc(P), *db0 = fx_alloc(P);
    fx_fill(x, total, 11 + _i, -2, 3);
    fx_fill(dy, total, 111 + _i, -1, 1);
    fx_fill(g, P, 211, 0.5f, 1.5f);
    fx_fill(b, P, 212, -0.5f, 0.5f);
    fx_fill(dg0, P, 213, -1, 1);
    fx_fill(db0, P, 214, -1, 1);
    oclnn_layernorm_desc ld = oclnn_layernorm_desc_default();
    ld.mode = k->mode;

    oclnn_tensor *tx = fx_tensor(&d, x), *tdy = fx_tensor(&d, dy), *ty = fx_tensor(&d, NULL);
    oclnn_tensor *tdx = fx_tensor(&d, NULL), *tg = vec_tensor(P, g), *tb = vec_tensor(P, b);
    oclnn_tensor *tsm = vec_tensor(G, NULL), *tsi = vec_tensor(G, NULL);
    oclnn_tensor *tdg = vec_tensor(P, NULL), *tdb = vec_tensor(P, NULL);
    ck_assert_int_eq(oclnn_layernorm_forward(ctx, &ld, tx, tg, tb, tsm, tsi, ty), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_layernorm_backward(ctx, &ld, tx, tdy, tg, tsm, tsi, tdx, tdg, tdb, 0),
                     OCLNN_SUCCESS);

    double *xd = fx_widen(x, total), *dyd = fx_widen(dy, total), *gd = fx_widen(g, P);
    double *bd = fx_widen(b, P);
    double *y = malloc(total * sizeof *y), *dx = malloc(total * sizeof *dx);
    double *yb = malloc(total * sizeof *yb), *dxb = malloc(total * sizeof *dxb);
    double *mean = malloc(G * sizeof *mean), *inv = malloc(G * sizeof *inv);
    double *dgam = malloc(P * sizeof *dgam), *dbet = malloc(P * sizeof *dbet);
    double *dgb = malloc(P * sizeof *dgb), *dbb = malloc(P * sizeof *dbb);
    double *mb = malloc(G * sizeof *mb);
    ref_ln_forward(chw, xd, n, c, hw, gd, bd, ld.eps, y, mean, inv);
    ref_ln_backward(chw, xd, dyd, n, c, hw, gd, ld.eps, dx, dgam, dbet);
    ref_ln_bounds(chw, xd, dyd, n, c, hw, gd, bd, ld.eps, yb, dxb, dgb, dbb);
    for (int gi = 0; gi < G; gi++) /* the mean's terms: |x| / len */
        mb[gi] = 0;
    for (int e = 0; e < total; e++)
        mb[chw ? e / len : e / (c * hw) * hw + e % hw] += fabs(xd[e]) / len;

    double *tol = tolerance(mean, mb, G, 0, 1e-5);
    float *got = fx_download(tsm);
    fx_assert_close_tol("save_mean", got, mean, tol, G);
    free(got), free(tol);
    fx_assert_tensor_close("save_invstd", tsi, inv, G, 0, 1e-5);
    tol = tolerance(y, yb, total, 2e-6, 2e-6);
    got = fx_download(ty);
    fx_assert_close_tol("y", got, y, tol, total);
    free(got), free(tol);
    tol = tolerance(dx, dxb, total, 1e-6, 1e-5);
    got = fx_download(tdx);
    fx_assert_close_tol("dx", got, dx, tol, total);
    free(got), free(tol);
    tol = tolerance(dgam, dgb, P, 0, 1e-5);
    got = fx_download(tdg);
    fx_assert_close_tol("dgamma", got, dgam, tol, P);
    free(got), free(tol);
    tol = tolerance(dbet, dbb, P, 0, 1e-5);
    got = fx_download(tdb);
    fx_assert_close_tol("dbeta", got, dbet, tol, P);
    free(got), free(tol);

    /* beta_acc = 1 adds to what is there. */
    ck_assert_int_eq(oclnn_tensor_upload(ctx, tdg, dg0, P, 1), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_upload(ctx, tdb, db0, P, 1), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_layernorm_backward(ctx, &ld, tx, tdy, tg, tsm, tsi, tdx, tdg, tdb, 1),
                     OCLNN_SUCCESS);
    for (int i = 0; i < P; i++) {
        dgam[i] += dg0[i];
        dbet[i] += db0[i];
        dgb[i] += fabs(dg0[i]);
        dbb[i] += fabs(db0[i]);
    }
    tol = tolerance(dgam, dgb, P, 0, 1e-5);
    got = fx_download(tdg);
    fx_assert_close_tol("dgamma accumulated", got, dgam, tol, P);
    free(got), free(tol);
    tol = tolerance(dbet, dbb, P, 0, 1e-5);
    got = fx_download(tdb);
    fx_assert_close_tol("dbeta accumulated", got, dbet, tol, P);
    free(got), free(tol);

    free(xd), free(dyd), free(gd), free(bd), free(y), free(dx), free(yb), free(dxb);
    free(mean), free(inv), free(dgam), free(dbet), free(dgb), free(dbb), free(mb);
    oclnn_tensor *all[] = {tx, tdy, ty, tdx, tg, tb, tsm, tsi, tdg, tdb};
    fx_destroy(all, sizeof all / sizeof all[0]);
    free(x), free(dy), free(g), free(b), free(dg0), free(db0);
}
END_TEST

static double ln_loss(int chw, const double *x, const double *dy, int n, int c, int hw,
                      const double *g, const double *b, double *y)
{
    ref_ln_forward(chw, x, n, c, hw, g, b, 1e-6, y, NULL, NULL);
    double l = 0;
    for (int e = 0; e < n * c * hw; e++)
        l += dy[e] * y[e];
    return l;
}

/* L = sum dy * y: the reference gradients must match centred differences, in both modes. */
START_TEST(reference_backward_matches_finite_differences)
{
    enum { N = 2, C = 3, HW = 4, T = N * C * HW };
    int chw = _i == 0, P = chw ? C * HW : C;
    float xf[T], dyf[T], gf[C * HW], bf[C * HW];
    fx_fill(xf, T, 17, -1, 1);
    fx_fill(dyf, T, 18, -1, 1);
    fx_fill(gf, P, 19, 0.5f, 1.5f);
    fx_fill(bf, P, 20, -1, 1);
    double *x = fx_widen(xf, T), *dy = fx_widen(dyf, T), *g = fx_widen(gf, P);
    double *b = fx_widen(bf, P);
    double y[T], dx[T], dg[C * HW], db[C * HW];
    ref_ln_backward(chw, x, dy, N, C, HW, g, 1e-6, dx, dg, db);
    const double h = 1e-5;
    double *vars[] = {x, g, b};
    double *grads[] = {dx, dg, db};
    int sizes[] = {T, P, P};
    for (int v = 0; v < 3; v++)
        for (int i = 0; i < sizes[v]; i++) {
            double keep = vars[v][i];
            vars[v][i] = keep + h;
            double lp = ln_loss(chw, x, dy, N, C, HW, g, b, y);
            vars[v][i] = keep - h;
            double lm = ln_loss(chw, x, dy, N, C, HW, g, b, y);
            vars[v][i] = keep;
            double fd = (lp - lm) / (2 * h);
            ck_assert_msg(fabs(fd - grads[v][i]) <= 1e-6 + 1e-5 * fabs(fd),
                          "mode chw=%d variable %d element %d: finite difference %.10g, "
                          "backward %.10g",
                          chw, v, i, fd, grads[v][i]);
        }
    free(x), free(dy), free(g), free(b);
}
END_TEST

/* x = 1000 + noise: the statistics must keep 1e-5 of the variance (see test_batchnorm.c). */
START_TEST(large_mean_variance)
{
    enum { N = 2, C = 24, H = 9, W = 11, T = N * C * H * W };
    oclnn_context *ctx = fx_ctx();
    oclnn_layernorm_desc ld = oclnn_layernorm_desc_default();
    ld.mode = _i == 0 ? OCLNN_LAYERNORM_CHW : OCLNN_LAYERNORM_CHANNELS;
    int chw = _i == 0, P = chw ? C * H * W : C, G = chw ? N : N * H * W;
    oclnn_tensor_desc d = oclnn_tensor_desc_4d(N, C, H, W);
    float *x = fx_alloc(T), *g = fx_alloc(P), *b = fx_alloc(P);
    fx_fill(x, T, 78, -0.1f, 0.1f);
    for (int i = 0; i < T; i++)
        x[i] += 1000.0f;
    fx_fill(g, P, 79, 0.5f, 1.5f);
    oclnn_tensor *tx = fx_tensor(&d, x), *ty = fx_tensor(&d, NULL), *tg = vec_tensor(P, g);
    oclnn_tensor *tb = vec_tensor(P, b), *tsm = vec_tensor(G, NULL), *tsi = vec_tensor(G, NULL);
    ck_assert_int_eq(oclnn_layernorm_forward(ctx, &ld, tx, tg, tb, tsm, tsi, ty), OCLNN_SUCCESS);
    double *xd = fx_widen(x, T), *gd = fx_widen(g, P), *bd = fx_widen(b, P);
    double *y = malloc(T * sizeof *y), *mean = malloc(G * sizeof *mean);
    double *inv = malloc(G * sizeof *inv);
    ref_ln_forward(chw, xd, N, C, H * W, gd, bd, ld.eps, y, mean, inv);
    fx_assert_tensor_close("save_invstd (mean 1000)", tsi, inv, G, 0, 1e-5);
    fx_assert_tensor_close("save_mean (mean 1000)", tsm, mean, G, 0, 1e-6);
    free(xd), free(gd), free(bd), free(y), free(mean), free(inv), free(x), free(g), free(b);
    oclnn_tensor *all[] = {tx, ty, tg, tb, tsm, tsi};
    fx_destroy(all, sizeof all / sizeof all[0]);
}
END_TEST

START_TEST(deterministic)
{
    enum { N = 3, C = 20, H = 30, W = 35, T = N * C * H * W };
    oclnn_context *ctx = fx_ctx();
    oclnn_layernorm_desc ld = oclnn_layernorm_desc_default();
    ld.mode = _i == 0 ? OCLNN_LAYERNORM_CHW : OCLNN_LAYERNORM_CHANNELS;
    int P = _i == 0 ? C * H * W : C, G = _i == 0 ? N : N * H * W;
    oclnn_tensor_desc d = oclnn_tensor_desc_4d(N, C, H, W);
    float *x = fx_alloc(T), *dy = fx_alloc(T), *g = fx_alloc(P), *b = fx_alloc(P);
    fx_fill(x, T, 41, -3, 3);
    fx_fill(dy, T, 42, -1, 1);
    fx_fill(g, P, 43, 0.5f, 1.5f);
    fx_fill(b, P, 44, -1, 1);
    oclnn_tensor *tx = fx_tensor(&d, x), *tdy = fx_tensor(&d, dy), *ty = fx_tensor(&d, NULL);
    oclnn_tensor *tdx = fx_tensor(&d, NULL), *tg = vec_tensor(P, g), *tb = vec_tensor(P, b);
    oclnn_tensor *tsm = vec_tensor(G, NULL), *tsi = vec_tensor(G, NULL);
    oclnn_tensor *tdg = vec_tensor(P, NULL), *tdb = vec_tensor(P, NULL);
    float *first[4] = {NULL};
    for (int run = 0; run < 2; run++) {
        ck_assert_int_eq(oclnn_layernorm_forward(ctx, &ld, tx, tg, tb, tsm, tsi, ty),
                         OCLNN_SUCCESS);
        ck_assert_int_eq(
            oclnn_layernorm_backward(ctx, &ld, tx, tdy, tg, tsm, tsi, tdx, tdg, tdb, 0),
            OCLNN_SUCCESS);
        const oclnn_tensor *outs[4] = {ty, tdx, tdg, tsi};
        const char *names[4] = {"y", "dx", "dgamma", "save_invstd"};
        for (int i = 0; i < 4; i++)
            fx_same_as_first_run(names[i], outs[i], &first[i]);
    }
    oclnn_tensor *all[] = {tx, tdy, ty, tdx, tg, tb, tsm, tsi, tdg, tdb};
    fx_destroy(all, sizeof all / sizeof all[0]);
    free(x), free(dy), free(g), free(b);
}
END_TEST

/* Every rule: status, message, and the NaN-prefilled output left untouched. */
START_TEST(bad_arguments)
{
    oclnn_context *ctx = fx_ctx();
    oclnn_tensor_desc d = oclnn_tensor_desc_4d(2, 3, 4, 5),
                      dother = oclnn_tensor_desc_4d(2, 3, 5, 4);
    float *x = fx_alloc(120), *p = fx_alloc(60);
    oclnn_tensor *tx = fx_tensor(&d, x), *ty = fx_tensor(&d, NULL),
                 *tbad = fx_tensor(&dother, NULL);
    oclnn_tensor *t60 = vec_tensor(60, p), *t60b = vec_tensor(60, p), *t3 = vec_tensor(3, p);
    oclnn_tensor *t2 = vec_tensor(2, NULL), *t2b = vec_tensor(2, NULL), *t40 = vec_tensor(40, p);
    oclnn_tensor *t1d = vec_tensor(60, p);
    oclnn_layernorm_desc ld = oclnn_layernorm_desc_default();

    ld.eps = 0;
    fx_assert_status(oclnn_layernorm_forward(ctx, &ld, tx, t60, t60, t2, t2b, ty),
                     OCLNN_INVALID_ARGUMENT, "layernorm_forward: eps 0, must be");
    fx_assert_status(oclnn_layernorm_backward(ctx, &ld, tx, tx, t60, t2, t2b, ty, t60b, t60b, 0),
                     OCLNN_INVALID_ARGUMENT, "layernorm_backward: eps 0");
    ld = oclnn_layernorm_desc_default();
    ld.mode = (oclnn_layernorm_mode)2;
    fx_assert_status(oclnn_layernorm_forward(ctx, &ld, tx, t60, t60, t2, t2b, ty),
                     OCLNN_INVALID_ARGUMENT, "mode 2, must be OCLNN_LAYERNORM_CHW");
    ld = oclnn_layernorm_desc_default();
    fx_assert_status(oclnn_layernorm_forward(ctx, &ld, tx, t3, t60, t2, t2b, ty),
                     OCLNN_INVALID_ARGUMENT, "gamma [3] has 3 elements, expected 60");
    fx_assert_status(oclnn_layernorm_forward(ctx, &ld, tx, t60, t3, t2, t2b, ty),
                     OCLNN_INVALID_ARGUMENT, "beta [3] has 3 elements, expected 60");
    fx_assert_status(oclnn_layernorm_forward(ctx, &ld, tx, t60, t60, t3, t2b, ty),
                     OCLNN_INVALID_ARGUMENT, "save_mean [3] has 3 elements, expected 2");
    fx_assert_status(oclnn_layernorm_forward(ctx, &ld, tx, t60, t60, t2, t2b, tbad),
                     OCLNN_INVALID_ARGUMENT, "y [2][3][5][4] does not match x [2][3][4][5]");
    fx_assert_status(oclnn_layernorm_forward(ctx, &ld, t1d, t60, t60, t2, t2b, t1d),
                     OCLNN_INVALID_ARGUMENT, "x has ndim 1, must be 2");
    fx_assert_status(oclnn_layernorm_forward(ctx, NULL, tx, t60, t60, t2, t2b, ty),
                     OCLNN_INVALID_ARGUMENT, "desc is NULL");
    ld.mode = OCLNN_LAYERNORM_CHANNELS;
    fx_assert_status(oclnn_layernorm_forward(ctx, &ld, tx, t60, t60, t2, t2b, ty),
                     OCLNN_INVALID_ARGUMENT, "gamma [60] has 60 elements, expected 3");
    fx_assert_status(oclnn_layernorm_forward(ctx, &ld, tx, t3, t3, t2, t2b, ty),
                     OCLNN_INVALID_ARGUMENT, "save_mean [2] has 2 elements, expected 40");
    fx_assert_status(oclnn_layernorm_backward(ctx, &ld, tx, tbad, t3, t40, t40, ty, t3, t3, 0),
                     OCLNN_INVALID_ARGUMENT, "dy [2][3][5][4] does not match x");
    fx_assert_status(oclnn_layernorm_backward(ctx, &ld, tx, tx, t3, t40, t40, tbad, t3, t3, 0),
                     OCLNN_INVALID_ARGUMENT, "dx [2][3][5][4] does not match x");
    fx_assert_status(oclnn_layernorm_backward(ctx, &ld, tx, tx, t3, t40, t40, ty, t60, t3, 0),
                     OCLNN_INVALID_ARGUMENT, "dgamma [60] has 60 elements, expected 3");
    fx_assert_status(oclnn_layernorm_backward(ctx, &ld, tx, tx, t3, t40, t40, ty, t3, t2, 0),
                     OCLNN_INVALID_ARGUMENT, "dbeta [2] has 2 elements, expected 3");
    fx_assert_status(oclnn_layernorm_backward(ctx, &ld, tx, tx, t3, t40, t40, ty, t3, t3, 2),
                     OCLNN_INVALID_ARGUMENT, "beta_acc 2, must be 0 or 1");

    fx_assert_all_nan("y after rejected calls", ty);
    fx_assert_all_nan("save_mean after rejected calls", t2);
    oclnn_tensor *all[] = {tx, ty, tbad, t60, t60b, t3, t2, t2b, t40, t1d};
    fx_destroy(all, sizeof all / sizeof all[0]);
    free(x), free(p);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("layernorm");
    TCase *tc = tcase_create("layernorm");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, forward_backward_table, 0, sizeof cases / sizeof cases[0]);
    tcase_add_loop_test(tc, reference_backward_matches_finite_differences, 0, 2);
    tcase_add_loop_test(tc, large_mean_variance, 0, 2);
    tcase_add_loop_test(tc, deterministic, 0, 2);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_main(suite());
}
