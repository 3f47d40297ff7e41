/* test_batchnorm.c - batch norm training/inference forward and backward against the double
 * references in ref_norm.c over a table of shapes; finite differences of the reference backward;
 * running statistics; large-mean inputs; accumulation; determinism; argument validation. */
#include "fixture.h"
#include "internal.h"
#include "ref_conv.h"
#include "ref_norm.h"

#include <math.h>
#include <stdlib.h>

typedef struct bn_case {
    const char *name;
    int ndim, n, c, h, w;
} bn_case;

static const bn_case cases[] = {
    {"n1_c3_1x1_zero_variance", 4, 1, 3, 1, 1},
    {"c1_3x1x5x7", 4, 3, 1, 5, 7},
    {"odd_2x5x7x9", 4, 2, 5, 7, 9},
    {"two_d_16x10", 2, 16, 10, 1, 1},
    {"two_d_n1x4", 2, 1, 4, 1, 1},
    {"resnet_8x64x14x14", 4, 8, 64, 14, 14},
    {"convnext_4x96x7x7", 4, 4, 96, 7, 7},
    {"multi_chunk_2x3x100x100", 4, 2, 3, 100, 100},
    {"few_channels_chunked_3x2x64x70", 4, 3, 2, 64, 70},
};

static oclnn_tensor_desc case_desc(const bn_case *k)
{
    return k->ndim == 2 ? oclnn_tensor_desc_2d(k->n, k->c)
                        : oclnn_tensor_desc_4d(k->n, k->c, k->h, k->w);
}

/* Device tensor of c floats from host data (NULL: NaN). */
static oclnn_tensor *vec_tensor(int c, const float *data)
{
    oclnn_tensor_desc d = oclnn_tensor_desc_1d(c);
    return fx_tensor(&d, data);
}

/* A case's host data: x and dy (total floats), gamma, beta, running statistics and the old
 * dgamma and dbeta that accumulation adds to (c floats each). */
typedef struct bn_host {
    float *x, *dy, *g, *b, *rm, *rv, *dg0, *db0;
} bn_host;

/* x from seed xs, dy from xs + 100, the per-channel values from seeds ps.. ps + 5. */
static bn_host make_host(int total, int c, unsigned xs, unsigned ps)
{
    bn_host h = {fx_alloc(total), fx_alloc(total), fx_alloc(c), fx_alloc(c),
                 fx_alloc(c),     fx_alloc(c),     fx_alloc(c), fx_alloc(c)};
    fx_fill(h.x, total, xs, -2, 3);
    fx_fill(h.dy, total, xs + 100, -1, 1);
    fx_fill(h.g, c, ps, 0.5f, 1.5f);
    fx_fill(h.b, c, ps + 1, -0.5f, 0.5f);
    fx_fill(h.rm, c, ps + 2, -1, 1);
    fx_fill(h.rv, c, ps + 3, 0.5f, 1.5f);
    fx_fill(h.dg0, c, ps + 4, -1, 1);
    fx_fill(h.db0, c, ps + 5, -1, 1);
    return h;
}

static void free_host(bn_host *h)
{
    free(h->x), free(h->dy), free(h->g), free(h->b), free(h->rm), free(h->rv), free(h->dg0);
    free(h->db0);
}

/* Tolerance for y = (x - m) * inv * g + b: 2e-6 of the sum of the terms' magnitudes. */
static double *forward_tol(const double *x, const double *y, int n, int c, int hw,
                           const double *mean, const double *inv, const double *g, const double *b)
{
    size_t total = (size_t)n * c * hw;
    double *tol = malloc(total * sizeof *tol);
    ck_assert_ptr_nonnull(tol);
    for (size_t e = 0; e < total; e++) {
        int ci = (int)(e / hw % c);
        double s = fabs(inv[ci] * g[ci]);
        tol[e] = 2e-6 * (fabs(y[e]) + s * (fabs(x[e]) + fabs(mean[ci])) + fabs(b[ci]));
    }
    return tol;
}

/* Checks the device's dx, dgamma and dbeta (dgamma and dbeta less dg0 and db0 when given: the
 * values beta_acc 1 added to) against the double reference for x and dy, each to 1e-5 of the
 * sums of |terms| of its reductions (dx also 1e-6 of itself). */
static void check_backward(const char *what, const double *xd, const double *dyd, int n, int c,
                           int hw, const double *gd, float eps, const oclnn_tensor *tdx,
                           const oclnn_tensor *tdg, const oclnn_tensor *tdb, const float *dg0,
                           const float *db0)
{
    size_t total = (size_t)n * c * hw;
    double cnt = (double)n * hw;
    double *dx = malloc(total * sizeof *dx), *tol = malloc(total * sizeof *tol);
    double *mean = malloc(c * sizeof *mean), *inv = malloc(c * sizeof *inv);
    double *dgam = malloc(c * sizeof *dgam), *dbet = malloc(c * sizeof *dbet);
    double *gtol = malloc(c * sizeof *gtol), *btol = malloc(c * sizeof *btol);
    ck_assert(dx && tol && mean && inv && dgam && dbet && gtol && btol);
    ref_bn_forward_train(xd, n, c, hw, gd, NULL, eps, NULL, mean, inv, NULL);
    ref_bn_backward(xd, dyd, n, c, hw, gd, eps, dx, dgam, dbet);
    for (int ci = 0; ci < c; ci++) {
        double s0 = 0, s1 = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++) {
                size_t at = ((size_t)i * c + ci) * hw + j;
                s0 += fabs(dyd[at]);
                s1 += fabs(dyd[at] * (xd[at] - mean[ci]));
            }
        double a = fabs(gd[ci]) * inv[ci];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++) {
                size_t at = ((size_t)i * c + ci) * hw + j;
                tol[at] = 1e-6 * fabs(dx[at]) +
                          1e-5 * a *
                              (fabs(dyd[at]) +
                               inv[ci] * inv[ci] * fabs(xd[at] - mean[ci]) * s1 / cnt + s0 / cnt);
            }
        gtol[ci] = 1e-5 * s1 * inv[ci];
        btol[ci] = 1e-5 * s0;
        if (dg0) {
            dgam[ci] += dg0[ci], gtol[ci] += 1e-6 * fabs(dg0[ci]);
            dbet[ci] += db0[ci], btol[ci] += 1e-6 * fabs(db0[ci]);
        }
    }
    char name[96];
    float *got = fx_download(tdx);
    snprintf(name, sizeof name, "dx%s", what);
    fx_assert_close_tol(name, got, dx, tol, total);
    free(got);
    got = fx_download(tdg);
    snprintf(name, sizeof name, "dgamma%s", what);
    fx_assert_close_tol(name, got, dgam, gtol, c);
    free(got);
    got = fx_download(tdb);
    snprintf(name, sizeof name, "dbeta%s", what);
    fx_assert_close_tol(name, got, dbet, btol, c);
    free(got);
    free(dx), free(tol), free(mean), free(inv), free(dgam), free(dbet), free(gtol), free(btol);
}

START_TEST(forward_backward_table)
{
    const bn_case *k = &cases[_i];
    oclnn_context *ctx = fx_ctx();
    oclnn_tensor_desc d = case_desc(k);
    int n = k->n, c = k->c, hw = k->ndim == 2 ? 1 : k->h * k->w;
    int total = n * c * hw;
    double cnt = (double)n * hw;
    bn_host h = make_host(total, c, 1 + _i, 201);
    float *x = h.x, *dy = h.dy, *g = h.g, *b = h.b, *rm = h.rm, *rv = h.rv, *dg0 = h.dg0,
          *db0 = h.db0;
    oclnn_batchnorm_desc bd = oclnn_batchnorm_desc_default();

    oclnn_tensor *tx = fx_tensor(&d, x), *tdy = fx_tensor(&d, dy), *ty = fx_tensor(&d, NULL);
    oclnn_tensor *tdx = fx_tensor(&d, NULL), *tg = vec_tensor(c, g), *tb = vec_tensor(c, b);
    oclnn_tensor *trm = vec_tensor(c, rm), *trv = vec_tensor(c, rv);
    oclnn_tensor *tsm = vec_tensor(c, NULL), *tsi = vec_tensor(c, NULL);
    oclnn_tensor *tdg = vec_tensor(c, NULL), *tdb = vec_tensor(c, NULL);
    ck_assert_int_eq(oclnn_batchnorm_forward_training(ctx, &bd, tx, tg, tb, trm, trv, tsm, tsi, ty),
                     OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_batchnorm_backward(ctx, &bd, tx, tdy, tg, tsm, tsi, tdx, tdg, tdb, 0),
                     OCLNN_SUCCESS);

    double *xd = fx_widen(x, total), *dyd = fx_widen(dy, total), *gd = fx_widen(g, c);
    double *bdd = fx_widen(b, c);
    double *y = malloc(total * sizeof *y);
    double *mean = malloc(c * sizeof *mean), *inv = malloc(c * sizeof *inv);
    double *varu = malloc(c * sizeof *varu), *want = malloc(c * sizeof *want);
    double *tol = malloc((size_t)total * sizeof *tol);
    ref_bn_forward_train(xd, n, c, hw, gd, bdd, bd.eps, y, mean, inv, varu);

    float *got = fx_download(tsm);
    for (int ci = 0; ci < c; ci++) { /* reduction: 1e-5 of the mean of |x| */
        double s = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++)
                s += fabs(xd[((size_t)i * c + ci) * hw + j]);
        tol[ci] = 1e-5 * s / cnt;
    }
    fx_assert_close_tol("save_mean", got, mean, tol, c);
    free(got);
    fx_assert_tensor_close("save_invstd", tsi, inv, c, 0, 1e-5);
    got = fx_download(trm);
    for (int ci = 0; ci < c; ci++)
        want[ci] = 0.9 * rm[ci] + 0.1 * mean[ci];
    fx_assert_close("running_mean", got, want, c, 1e-6, 1e-5);
    free(got);
    got = fx_download(trv);
    for (int ci = 0; ci < c; ci++)
        want[ci] = 0.9 * rv[ci] + 0.1 * varu[ci];
    fx_assert_close("running_var", got, want, c, 1e-6, 1e-5);
    free(got);
    got = fx_download(ty);
    double *ytol = forward_tol(xd, y, n, c, hw, mean, inv, gd, bdd);
    fx_assert_close_tol("y", got, y, ytol, total);
    free(got);

    check_backward("", xd, dyd, n, c, hw, gd, bd.eps, tdx, tdg, tdb, NULL, NULL);
    /* beta_acc = 1 adds to what is there. */
    ck_assert_int_eq(oclnn_tensor_upload(ctx, tdg, dg0, c, 1), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_upload(ctx, tdb, db0, c, 1), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_batchnorm_backward(ctx, &bd, tx, tdy, tg, tsm, tsi, tdx, tdg, tdb, 1),
                     OCLNN_SUCCESS);
    check_backward(" accumulated", xd, dyd, n, c, hw, gd, bd.eps, tdx, tdg, tdb, dg0, db0);

    /* Inference with the running statistics just updated. */
    float *frm = fx_download(trm), *frv = fx_download(trv);
    double *drm = fx_widen(frm, c), *drv = fx_widen(frv, c);
    ck_assert_int_eq(oclnn_tensor_fill(ctx, ty, NAN), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_batchnorm_forward_inference(ctx, &bd, tx, tg, tb, trm, trv, ty),
                     OCLNN_SUCCESS);
    ref_bn_forward_infer(xd, n, c, hw, gd, bdd, drm, drv, bd.eps, y);
    for (int ci = 0; ci < c; ci++)
        inv[ci] = 1.0 / sqrt(drv[ci] + bd.eps);
    free(ytol);
    ytol = forward_tol(xd, y, n, c, hw, drm, inv, gd, bdd);
    got = fx_download(ty);
    fx_assert_close_tol("y (inference)", got, y, ytol, total);
    free(got);

    free(frm), free(frv), free(drm), free(drv), free(ytol);
    free(xd), free(dyd), free(gd), free(bdd), free(y), free(mean), free(inv);
    free(varu), free(want), free(tol);
    oclnn_tensor *all[] = {tx, tdy, ty, tdx, tg, tb, trm, trv, tsm, tsi, tdg, tdb};
    fx_destroy(all, sizeof all / sizeof all[0]);
    free_host(&h);
}
END_TEST

/* The ReLU of v as the library's ReLU op computes it. */
static float relu_of(float v)
{
    return v < 0.0f ? 0.0f : v;
}

/* Batch norm with the ReLU after it, as networks run it (internal entry points): the training and
 * inference forwards write exactly the ReLU of the plain forwards' y (the same fma, then the
 * ReLU); the backward takes dy of the ReLU's output and must give the reference backward of dy
 * zeroed where that forward wrote 0 (the ReLU op's backward, from the device's own output), with
 * the table's tolerances, also accumulating. The mask must cut and keep elements of every case
 * large enough to have both signs. */
START_TEST(relu_fused_table)
{
    const bn_case *k = &cases[_i];
    oclnn_context *ctx = fx_ctx();
    oclnn_tensor_desc d = case_desc(k);
    int n = k->n, c = k->c, hw = k->ndim == 2 ? 1 : k->h * k->w;
    int total = n * c * hw;
    bn_host h = make_host(total, c, 31 + _i, 231);
    float *x = h.x, *dy = h.dy, *g = h.g, *b = h.b, *rm = h.rm, *rv = h.rv, *dg0 = h.dg0,
          *db0 = h.db0;
    oclnn_batchnorm_desc bd = oclnn_batchnorm_desc_default();
    oclnn_tensor *tx = fx_tensor(&d, x), *tdy = fx_tensor(&d, dy), *ty = fx_tensor(&d, NULL);
    oclnn_tensor *tyr = fx_tensor(&d, NULL), *tdx = fx_tensor(&d, NULL);
    oclnn_tensor *tg = vec_tensor(c, g), *tb = vec_tensor(c, b), *trm = vec_tensor(c, rm);
    oclnn_tensor *trv = vec_tensor(c, rv), *tsm = vec_tensor(c, NULL), *tsi = vec_tensor(c, NULL);
    oclnn_tensor *tdg = vec_tensor(c, NULL), *tdb = vec_tensor(c, NULL);

    for (int infer = 0; infer < 2; infer++) {
        if (infer) {
            ck_assert_int_eq(oclnn_batchnorm_forward_inference(ctx, &bd, tx, tg, tb, trm, trv, ty),
                             OCLNN_SUCCESS);
            ck_assert_int_eq(
                oclnn__batchnorm_forward_inference(ctx, &bd, tx, tg, tb, trm, trv, true, tyr),
                OCLNN_SUCCESS);
        } else {
            ck_assert_int_eq(
                oclnn_batchnorm_forward_training(ctx, &bd, tx, tg, tb, trm, trv, tsm, tsi, ty),
                OCLNN_SUCCESS);
            ck_assert_int_eq(oclnn__batchnorm_forward_training(ctx, &bd, tx, tg, tb, trm, trv, tsm,
                                                               tsi, true, tyr),
                             OCLNN_SUCCESS);
        }
        float *y = fx_download(ty), *yr = fx_download(tyr);
        int cut = 0;
        for (int e = 0; e < total; e++) {
            ck_assert_msg(yr[e] == relu_of(y[e]),
                          "%s: y with relu[%d] = %.9g, the ReLU of y %.9g is %.9g",
                          infer ? "inference" : "training", e, yr[e], y[e], relu_of(y[e]));
            cut += !(yr[e] > 0.0f);
        }
        if (total >= 16)
            ck_assert_msg(cut > 0 && cut < total, "the ReLU cut %d of %d elements", cut, total);
        free(y), free(yr);
    }

    /* The training forward again: save_mean and save_invstd as the backward reads them. */
    ck_assert_int_eq(
        oclnn__batchnorm_forward_training(ctx, &bd, tx, tg, tb, trm, trv, tsm, tsi, true, tyr),
        OCLNN_SUCCESS);
    float *yr = fx_download(tyr);
    double *xd = fx_widen(x, total), *gd = fx_widen(g, c), *dym = malloc(total * sizeof *dym);
    ck_assert_ptr_nonnull(dym);
    for (int e = 0; e < total; e++)
        dym[e] = yr[e] > 0.0f ? dy[e] : 0.0;
    ck_assert_int_eq(
        oclnn__batchnorm_backward(ctx, &bd, tx, tdy, tg, tb, tsm, tsi, tdx, tdg, tdb, 0),
        OCLNN_SUCCESS);
    check_backward(" (relu)", xd, dym, n, c, hw, gd, bd.eps, tdx, tdg, tdb, NULL, NULL);
    ck_assert_int_eq(oclnn_tensor_upload(ctx, tdg, dg0, c, 1), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_upload(ctx, tdb, db0, c, 1), OCLNN_SUCCESS);
    ck_assert_int_eq(
        oclnn__batchnorm_backward(ctx, &bd, tx, tdy, tg, tb, tsm, tsi, tdx, tdg, tdb, 1),
        OCLNN_SUCCESS);
    check_backward(" (relu, accumulated)", xd, dym, n, c, hw, gd, bd.eps, tdx, tdg, tdb, dg0, db0);

    free(yr), free(xd), free(gd), free(dym);
    oclnn_tensor *all[] = {tx, tdy, ty, tyr, tdx, tg, tb, trm, trv, tsm, tsi, tdg, tdb};
    fx_destroy(all, sizeof all / sizeof all[0]);
    free_host(&h);
}
END_TEST

/* L = sum dy * y(x, gamma, beta): the reference gradients must match centred differences. */
static double bn_loss(const double *x, const double *dy, int n, int c, int hw, const double *g,
                      const double *b, double *y)
{
    ref_bn_forward_train(x, n, c, hw, g, b, 1e-5, y, NULL, NULL, NULL);
    double l = 0;
    for (int e = 0; e < n * c * hw; e++)
        l += dy[e] * y[e];
    return l;
}

START_TEST(reference_backward_matches_finite_differences)
{
    enum { N = 3, C = 2, HW = 5, T = N * C * HW };
    float xf[T], dyf[T], gf[C], bf[C];
    fx_fill(xf, T, 7, -1, 1);
    fx_fill(dyf, T, 8, -1, 1);
    fx_fill(gf, C, 9, 0.5f, 1.5f);
    fx_fill(bf, C, 10, -1, 1);
    double *x = fx_widen(xf, T), *dy = fx_widen(dyf, T), *g = fx_widen(gf, C);
    double *b = fx_widen(bf, C);
    double y[T], dx[T], dg[C], db[C];
    ref_bn_backward(x, dy, N, C, HW, g, 1e-5, dx, dg, db);
    const double h = 1e-5;
    double *vars[] = {x, g, b};
    double *grads[] = {dx, dg, db};
    int sizes[] = {T, C, C};
    for (int v = 0; v < 3; v++)
        for (int i = 0; i < sizes[v]; i++) {
            double keep = vars[v][i];
            vars[v][i] = keep + h;
            double lp = bn_loss(x, dy, N, C, HW, g, b, y);
            vars[v][i] = keep - h;
            double lm = bn_loss(x, dy, N, C, HW, g, b, y);
            vars[v][i] = keep;
            double fd = (lp - lm) / (2 * h);
            ck_assert_msg(fabs(fd - grads[v][i]) <= 1e-6 + 1e-5 * fabs(fd),
                          "variable %d element %d: finite difference %.10g, backward %.10g", v, i,
                          fd, grads[v][i]);
        }
    free(x), free(dy), free(g), free(b);
}
END_TEST

START_TEST(running_statistics_three_steps)
{
    enum { N = 4, C = 3, HW = 6, T = N * C * HW };
    oclnn_context *ctx = fx_ctx();
    oclnn_tensor_desc d = oclnn_tensor_desc_4d(N, C, 2, 3);
    oclnn_batchnorm_desc bd = oclnn_batchnorm_desc_default();
    bd.momentum = 0.25f;
    float x[T], g[C] = {1, 1, 1}, b[C] = {0, 0, 0}, rm[C] = {0, 0, 0}, rv[C] = {1, 1, 1};
    double wm[C] = {0, 0, 0}, wv[C] = {1, 1, 1}, y[T], mean[C], varu[C];
    double gd[C] = {1, 1, 1}, bdd[C] = {0, 0, 0};
    oclnn_tensor *tx = fx_tensor(&d, NULL), *ty = fx_tensor(&d, NULL);
    oclnn_tensor *tg = vec_tensor(C, g), *tb = vec_tensor(C, b), *trm = vec_tensor(C, rm);
    oclnn_tensor *trv = vec_tensor(C, rv), *tsm = vec_tensor(C, NULL), *tsi = vec_tensor(C, NULL);
    for (int step = 0; step < 3; step++) {
        fx_fill(x, T, 50 + step, -1.0f + step, 2.0f + 2 * step);
        ck_assert_int_eq(oclnn_tensor_upload(ctx, tx, x, T, 1), OCLNN_SUCCESS);
        ck_assert_int_eq(
            oclnn_batchnorm_forward_training(ctx, &bd, tx, tg, tb, trm, trv, tsm, tsi, ty),
            OCLNN_SUCCESS);
        double *xd = fx_widen(x, T);
        ref_bn_forward_train(xd, N, C, HW, gd, bdd, bd.eps, y, mean, NULL, varu);
        free(xd);
        for (int c = 0; c < C; c++) {
            wm[c] = 0.75 * wm[c] + 0.25 * mean[c];
            wv[c] = 0.75 * wv[c] + 0.25 * varu[c];
        }
    }
    fx_assert_tensor_close("running_mean after 3 steps", trm, wm, C, 1e-6, 1e-5);
    fx_assert_tensor_close("running_var after 3 steps (unbiased)", trv, wv, C, 1e-6, 1e-5);
    oclnn_tensor *all[] = {tx, ty, tg, tb, trm, trv, tsm, tsi};
    fx_destroy(all, sizeof all / sizeof all[0]);
}
END_TEST

/* x = 1000 + noise of spread 0.2: E[x^2] - E[x]^2 in float loses every digit of the variance
 * (1e6 carries ~0.06 of rounding, the variance is ~0.003); two-pass statistics keep 1e-5. */
START_TEST(large_mean_variance)
{
    enum { N = 4, C = 3, H = 17, W = 19, T = N * C * H * W };
    oclnn_context *ctx = fx_ctx();
    oclnn_tensor_desc d = oclnn_tensor_desc_4d(N, C, H, W);
    oclnn_batchnorm_desc bd = oclnn_batchnorm_desc_default();
    float *x = fx_alloc(T), g[C] = {1, 2, 0.5f}, b[C] = {0, 1, -1}, r[C] = {0, 0, 0};
    fx_fill(x, T, 77, -0.1f, 0.1f);
    for (int i = 0; i < T; i++)
        x[i] += 1000.0f;
    oclnn_tensor *tx = fx_tensor(&d, x), *ty = fx_tensor(&d, NULL);
    oclnn_tensor *tg = vec_tensor(C, g), *tb = vec_tensor(C, b), *trm = vec_tensor(C, r);
    oclnn_tensor *trv = vec_tensor(C, r), *tsm = vec_tensor(C, NULL), *tsi = vec_tensor(C, NULL);
    ck_assert_int_eq(oclnn_batchnorm_forward_training(ctx, &bd, tx, tg, tb, trm, trv, tsm, tsi, ty),
                     OCLNN_SUCCESS);
    double *xd = fx_widen(x, T), *y = malloc(T * sizeof *y), mean[C], inv[C], varu[C];
    double gd[C] = {1, 2, 0.5}, bdd[C] = {0, 1, -1};
    ref_bn_forward_train(xd, N, C, H * W, gd, bdd, bd.eps, y, mean, inv, varu);
    fx_assert_tensor_close("save_invstd (mean 1000)", tsi, inv, C, 0, 1e-5);
    fx_assert_tensor_close("save_mean (mean 1000)", tsm, mean, C, 0, 1e-6);
    double *tol = forward_tol(xd, y, N, C, H * W, mean, inv, gd, bdd);
    float *got = fx_download(ty);
    fx_assert_close_tol("y (mean 1000)", got, y, tol, T);
    free(got);
    free(tol), free(xd), free(y), free(x);
    oclnn_tensor *all[] = {tx, ty, tg, tb, trm, trv, tsm, tsi};
    fx_destroy(all, sizeof all / sizeof all[0]);
}
END_TEST

START_TEST(deterministic)
{
    enum { N = 3, C = 5, H = 40, W = 45, T = N * C * H * W };
    oclnn_context *ctx = fx_ctx();
    oclnn_tensor_desc d = oclnn_tensor_desc_4d(N, C, H, W);
    oclnn_batchnorm_desc bd = oclnn_batchnorm_desc_default();
    float *x = fx_alloc(T), *dy = fx_alloc(T), g[C], b[C], r[C] = {0};
    fx_fill(x, T, 31, -3, 3);
    fx_fill(dy, T, 32, -1, 1);
    fx_fill(g, C, 33, 0.5f, 1.5f);
    fx_fill(b, C, 34, -1, 1);
    oclnn_tensor *tx = fx_tensor(&d, x), *tdy = fx_tensor(&d, dy), *ty = fx_tensor(&d, NULL);
    oclnn_tensor *tdx = fx_tensor(&d, NULL), *tg = vec_tensor(C, g), *tb = vec_tensor(C, b);
    oclnn_tensor *trm = vec_tensor(C, r), *trv = vec_tensor(C, r), *tsm = vec_tensor(C, NULL);
    oclnn_tensor *tsi = vec_tensor(C, NULL), *tdg = vec_tensor(C, NULL), *tdb = vec_tensor(C, NULL);
    float *first[4] = {NULL};
    for (int run = 0; run < 2; run++) {
        ck_assert_int_eq(
            oclnn_batchnorm_forward_training(ctx, &bd, tx, tg, tb, trm, trv, tsm, tsi, ty),
            OCLNN_SUCCESS);
        ck_assert_int_eq(
            oclnn_batchnorm_backward(ctx, &bd, tx, tdy, tg, tsm, tsi, tdx, tdg, tdb, 0),
            OCLNN_SUCCESS);
        const oclnn_tensor *outs[4] = {ty, tdx, tdg, tsi};
        const char *names[4] = {"y", "dx", "dgamma", "save_invstd"};
        for (int i = 0; i < 4; i++)
            fx_same_as_first_run(names[i], outs[i], &first[i]);
    }
    oclnn_tensor *all[] = {tx, tdy, ty, tdx, tg, tb, trm, trv, tsm, tsi, tdg, tdb};
    fx_destroy(all, sizeof all / sizeof all[0]);
    free(x), free(dy);
}
END_TEST

/* Every rule: status, message, and the NaN-prefilled output left untouched. */
START_TEST(bad_arguments)
{
    oclnn_context *ctx = fx_ctx();
    oclnn_tensor_desc d = oclnn_tensor_desc_4d(2, 3, 4, 5), d1 = oclnn_tensor_desc_1d(2);
    oclnn_tensor_desc dother = oclnn_tensor_desc_4d(2, 3, 5, 4);
    float p[3] = {1, 1, 1}, *x = fx_alloc(120);
    oclnn_tensor *tx = fx_tensor(&d, x), *ty = fx_tensor(&d, NULL),
                 *tbad = fx_tensor(&dother, NULL);
    oclnn_tensor *tp = vec_tensor(3, p), *tp2 = vec_tensor(3, p), *tshort = fx_tensor(&d1, p);
    oclnn_tensor *tsm = vec_tensor(3, NULL), *tsi = vec_tensor(3, NULL);
    oclnn_tensor *t1d = fx_tensor(&(oclnn_tensor_desc){OCLNN_F32, 1, {120, 1, 1, 1}}, x);
    oclnn_batchnorm_desc bd = oclnn_batchnorm_desc_default();

    bd.eps = 0;
    fx_assert_status(oclnn_batchnorm_forward_training(ctx, &bd, tx, tp, tp, tp2, tp2, tsm, tsi, ty),
                     OCLNN_INVALID_ARGUMENT, "batchnorm_forward_training: eps 0, must be");
    bd.eps = -1;
    fx_assert_status(oclnn_batchnorm_forward_inference(ctx, &bd, tx, tp, tp, tp2, tp2, ty),
                     OCLNN_INVALID_ARGUMENT, "batchnorm_forward_inference: eps -1");
    fx_assert_status(oclnn_batchnorm_backward(ctx, &bd, tx, tx, tp, tsm, tsi, ty, tp2, tp2, 0),
                     OCLNN_INVALID_ARGUMENT, "batchnorm_backward: eps -1");
    bd = oclnn_batchnorm_desc_default();
    bd.momentum = 1.5f;
    fx_assert_status(oclnn_batchnorm_forward_training(ctx, &bd, tx, tp, tp, tp2, tp2, tsm, tsi, ty),
                     OCLNN_INVALID_ARGUMENT, "momentum 1.5, must be in [0, 1]");
    bd.momentum = -0.1f;
    fx_assert_status(oclnn_batchnorm_forward_training(ctx, &bd, tx, tp, tp, tp2, tp2, tsm, tsi, ty),
                     OCLNN_INVALID_ARGUMENT, "momentum -0.1");
    bd = oclnn_batchnorm_desc_default();
    fx_assert_status(
        oclnn_batchnorm_forward_training(ctx, &bd, tx, tshort, tp, tp2, tp2, tsm, tsi, ty),
        OCLNN_INVALID_ARGUMENT, "gamma [2] has 2 elements, expected 3");
    fx_assert_status(
        oclnn_batchnorm_forward_training(ctx, &bd, tx, tp, tp, tp2, tshort, tsm, tsi, ty),
        OCLNN_INVALID_ARGUMENT, "running_var [2] has 2 elements, expected 3");
    fx_assert_status(
        oclnn_batchnorm_forward_training(ctx, &bd, tx, tp, tp, tp2, tp2, tsm, tshort, ty),
        OCLNN_INVALID_ARGUMENT, "save_invstd [2] has 2 elements, expected 3");
    fx_assert_status(oclnn_batchnorm_forward_inference(ctx, &bd, tx, tp, tshort, tp2, tp2, ty),
                     OCLNN_INVALID_ARGUMENT, "beta [2] has 2 elements, expected 3");
    fx_assert_status(
        oclnn_batchnorm_forward_training(ctx, &bd, tx, tp, tp, tp2, tp2, tsm, tsi, tbad),
        OCLNN_INVALID_ARGUMENT, "y [2][3][5][4] does not match x [2][3][4][5]");
    fx_assert_status(oclnn_batchnorm_forward_inference(ctx, &bd, t1d, tp, tp, tp2, tp2, t1d),
                     OCLNN_INVALID_ARGUMENT, "x has ndim 1, must be 2");
    fx_assert_status(
        oclnn_batchnorm_forward_training(ctx, &bd, tx, NULL, tp, tp2, tp2, tsm, tsi, ty),
        OCLNN_INVALID_ARGUMENT, "gamma is NULL");
    fx_assert_status(
        oclnn_batchnorm_forward_training(ctx, NULL, tx, tp, tp, tp2, tp2, tsm, tsi, ty),
        OCLNN_INVALID_ARGUMENT, "desc is NULL");
    fx_assert_status(oclnn_batchnorm_backward(ctx, &bd, tx, tbad, tp, tsm, tsi, ty, tp2, tp2, 0),
                     OCLNN_INVALID_ARGUMENT, "dy [2][3][5][4] does not match x");
    fx_assert_status(oclnn_batchnorm_backward(ctx, &bd, tx, tx, tp, tsm, tsi, tbad, tp2, tp2, 0),
                     OCLNN_INVALID_ARGUMENT, "dx [2][3][5][4] does not match x");
    fx_assert_status(oclnn_batchnorm_backward(ctx, &bd, tx, tx, tp, tsm, tsi, ty, tshort, tp2, 0),
                     OCLNN_INVALID_ARGUMENT, "dgamma [2] has 2 elements, expected 3");
    fx_assert_status(oclnn_batchnorm_backward(ctx, &bd, tx, tx, tp, tsm, tsi, ty, tp2, tp2, 0.5f),
                     OCLNN_INVALID_ARGUMENT, "beta_acc 0.5, must be 0 or 1");
    fx_assert_status(
        oclnn__batchnorm_backward(ctx, &bd, tx, tx, tp, tshort, tsm, tsi, ty, tp2, tp2, 0),
        OCLNN_INVALID_ARGUMENT, "batchnorm_backward: beta [2] has 2 elements, expected 3");

    fx_assert_all_nan("y after rejected calls", ty);
    fx_assert_all_nan("save_mean after rejected calls", tsm);
    oclnn_tensor *all[] = {tx, ty, tbad, tp, tp2, tshort, tsm, tsi, t1d};
    fx_destroy(all, sizeof all / sizeof all[0]);
    free(x);
}
END_TEST

/* Batch norm folded into a convolution: the folded weights and bias against the formula in
 * double (each rounds a few times in float: 4 ulp of its terms), and a convolution with them
 * against batch norm (inference) of the convolution, both in double (the folded convolution's sum
 * is the plain one scaled by s: 2e-6 of its terms times |s|, plus the folded bias's rounding).
 * Groups with a bias, 1x1 without one (0 for the bias), in place. */
typedef struct fold_case {
    int n, c, h, w, k, r, groups, bias, in_place;
} fold_case;
static const fold_case fold_cases[] = {
    {2, 4, 7, 6, 6, 3, 2, 1, 0},
    {1, 5, 4, 4, 7, 1, 1, 0, 0},
    {3, 3, 5, 9, 4, 3, 1, 1, 1},
};

START_TEST(fold_conv)
{
    const fold_case *fc = &fold_cases[_i];
    oclnn_context *ctx = fx_ctx();
    ref_conv p = {fc->n, fc->c,     fc->h,     fc->w,      fc->k,     fc->r,
                  fc->r, fc->r / 2, fc->r / 2, fc->r / 2,  fc->r / 2, 1,
                  1,     1,         1,         fc->groups, 0,         0};
    ck_assert(ref_conv_shape(&p));
    const int k = fc->k, cg = fc->c / fc->groups;
    const size_t nx = (size_t)p.n * p.c * p.h * p.w, nw = (size_t)k * cg * p.r * p.s;
    const size_t ny = (size_t)p.n * k * p.oh * p.ow, per = nw / (size_t)k;
    float *x = fx_alloc(nx), *w = fx_alloc(nw), *b = fx_alloc((size_t)k), *g = fx_alloc((size_t)k);
    float *be = fx_alloc((size_t)k), *m = fx_alloc((size_t)k), *v = fx_alloc((size_t)k);
    fx_fill(x, nx, 31, -1, 1), fx_fill(w, nw, 32, -1, 1), fx_fill(b, (size_t)k, 33, -1, 1);
    fx_fill(g, (size_t)k, 34, -2, 2), fx_fill(be, (size_t)k, 35, -1, 1);
    fx_fill(m, (size_t)k, 36, -1, 1), fx_fill(v, (size_t)k, 37, 0.05f, 3);
    oclnn_tensor_desc xd = oclnn_tensor_desc_4d(p.n, p.c, p.h, p.w);
    oclnn_tensor_desc wd = oclnn_tensor_desc_4d(k, cg, p.r, p.s);
    oclnn_tensor_desc yd = oclnn_tensor_desc_4d(p.n, k, p.oh, p.ow);
    oclnn_tensor *tx = fx_tensor(&xd, x), *tw = fx_tensor(&wd, w), *tb = vec_tensor(k, b);
    oclnn_tensor *tg = vec_tensor(k, g), *tbe = vec_tensor(k, be), *tm = vec_tensor(k, m);
    oclnn_tensor *tv = vec_tensor(k, v), *ty = fx_tensor(&yd, NULL);
    oclnn_tensor *tw2 = fc->in_place ? tw : fx_tensor(&wd, NULL);
    oclnn_tensor *tb2 = fc->in_place ? tb : vec_tensor(k, NULL);
    oclnn_batchnorm_desc bd = oclnn_batchnorm_desc_default();
    ck_assert_int_eq(
        oclnn_batchnorm_fold_conv(ctx, &bd, tw, fc->bias ? tb : NULL, tg, tbe, tm, tv, tw2, tb2),
        OCLNN_SUCCESS);
    double *ww = malloc(nw * sizeof *ww), *wb = malloc((size_t)k * sizeof *wb);
    double *s = malloc((size_t)k * sizeof *s), *tol = malloc(nw * sizeof *tol);
    for (int j = 0; j < k; j++) {
        s[j] = g[j] / sqrt((double)v[j] + bd.eps);
        const double bj = fc->bias ? b[j] : 0.0;
        wb[j] = (bj - m[j]) * s[j] + be[j];
        tol[j] = 4.8e-7 * ((fabs(bj) + fabs(m[j])) * fabs(s[j]) + fabs(be[j]));
    }
    float *got = fx_download(tb2);
    fx_assert_close_tol("folded bias", got, wb, tol, (size_t)k);
    free(got);
    for (size_t i = 0; i < nw; i++)
        ww[i] = w[i] * s[i / per], tol[i] = 4.8e-7 * fabs(ww[i]);
    got = fx_download(tw2);
    fx_assert_close_tol("folded weights", got, ww, tol, nw);
    free(got);
    oclnn_conv2d_desc cd = oclnn_conv2d_desc_default();
    cd.pad_top = cd.pad_bottom = cd.pad_left = cd.pad_right = p.pt;
    cd.groups = fc->groups;
    ck_assert_int_eq(oclnn_conv2d_forward(ctx, &cd, tx, tw2, tb2, NULL, ty), OCLNN_SUCCESS);
    double *xd64 = malloc(nx * sizeof *xd64), *wd64 = malloc(nw * sizeof *wd64);
    double *bd64 = malloc((size_t)k * sizeof *bd64), *want = malloc(ny * sizeof *want);
    double *terms = malloc(ny * sizeof *terms), *ytol = malloc(ny * sizeof *ytol);
    for (size_t i = 0; i < nx; i++)
        xd64[i] = x[i];
    for (size_t i = 0; i < nw; i++)
        wd64[i] = w[i];
    for (int j = 0; j < k; j++)
        bd64[j] = fc->bias ? b[j] : 0.0;
    ref_conv_forward(&p, xd64, wd64, bd64, NULL, 0, 0, want, terms);
    const size_t plane = (size_t)p.oh * p.ow;
    for (size_t i = 0; i < ny; i++) {
        const int j = (int)(i / plane % (size_t)k);
        want[i] = (want[i] - m[j]) * s[j] + be[j];
        ytol[i] = 2e-6 * terms[i] * fabs(s[j]) + 4.8e-7 * (fabs(m[j] * s[j]) + fabs(be[j]));
    }
    got = fx_download(ty);
    fx_assert_close_tol("convolution with the folded batch norm", got, want, ytol, ny);
    free(got);
    oclnn_tensor *all[] = {
        tx, tw, tb, tg, tbe, tm, tv, ty, fc->in_place ? NULL : tw2, fc->in_place ? NULL : tb2};
    fx_destroy(all, sizeof all / sizeof all[0]);
    free(x), free(w), free(b), free(g), free(be), free(m), free(v), free(ww), free(wb), free(s);
    free(tol), free(xd64), free(wd64), free(bd64), free(want), free(terms), free(ytol);
}
END_TEST

START_TEST(fold_conv_bad_arguments)
{
    oclnn_context *ctx = fx_ctx();
    oclnn_tensor_desc wd = oclnn_tensor_desc_4d(3, 2, 3, 3),
                      wother = oclnn_tensor_desc_4d(3, 2, 1, 9);
    oclnn_tensor_desc w2d = oclnn_tensor_desc_2d(3, 18);
    float p[3] = {1, 1, 1}, *wv = fx_alloc(54);
    oclnn_tensor *w = fx_tensor(&wd, wv), *wo = fx_tensor(&wd, NULL),
                 *wbad = fx_tensor(&wother, NULL);
    oclnn_tensor *wflat = fx_tensor(&w2d, wv), *t = vec_tensor(3, p), *bo = vec_tensor(3, NULL);
    oclnn_tensor_desc d2 = oclnn_tensor_desc_1d(2);
    oclnn_tensor *tshort = fx_tensor(&d2, p);
    oclnn_batchnorm_desc bd = oclnn_batchnorm_desc_default();
    fx_assert_status(oclnn_batchnorm_fold_conv(ctx, NULL, w, NULL, t, t, t, t, wo, bo),
                     OCLNN_INVALID_ARGUMENT, "batchnorm_fold_conv: desc is NULL");
    bd.eps = 0;
    fx_assert_status(oclnn_batchnorm_fold_conv(ctx, &bd, w, NULL, t, t, t, t, wo, bo),
                     OCLNN_INVALID_ARGUMENT, "eps 0, must be finite and > 0");
    bd = oclnn_batchnorm_desc_default();
    fx_assert_status(oclnn_batchnorm_fold_conv(ctx, &bd, NULL, NULL, t, t, t, t, wo, bo),
                     OCLNN_INVALID_ARGUMENT, "w is NULL");
    fx_assert_status(oclnn_batchnorm_fold_conv(ctx, &bd, wflat, NULL, t, t, t, t, wo, bo),
                     OCLNN_INVALID_ARGUMENT, "w has ndim 2, must be 4");
    fx_assert_status(oclnn_batchnorm_fold_conv(ctx, &bd, w, NULL, t, t, t, t, wbad, bo),
                     OCLNN_INVALID_ARGUMENT, "w_out [3][2][1][9] does not match");
    fx_assert_status(oclnn_batchnorm_fold_conv(ctx, &bd, w, NULL, t, t, t, tshort, wo, bo),
                     OCLNN_INVALID_ARGUMENT, "running_var [2] has 2 elements, expected 3");
    fx_assert_status(oclnn_batchnorm_fold_conv(ctx, &bd, w, tshort, t, t, t, t, wo, bo),
                     OCLNN_INVALID_ARGUMENT, "b [2] has 2 elements, expected 3");
    fx_assert_status(oclnn_batchnorm_fold_conv(ctx, &bd, w, NULL, t, t, t, t, wo, NULL),
                     OCLNN_INVALID_ARGUMENT, "b_out is NULL");
    fx_assert_all_nan("w_out after rejected calls", wo);
    fx_assert_all_nan("b_out after rejected calls", bo);
    oclnn_tensor *all[] = {w, wo, wbad, wflat, t, bo, tshort};
    fx_destroy(all, sizeof all / sizeof all[0]);
    free(wv);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("batchnorm");
    TCase *tc = tcase_create("batchnorm");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, forward_backward_table, 0, sizeof cases / sizeof cases[0]);
    tcase_add_loop_test(tc, relu_fused_table, 0, sizeof cases / sizeof cases[0]);
    tcase_add_test(tc, reference_backward_matches_finite_differences);
    tcase_add_test(tc, running_statistics_three_steps);
    tcase_add_test(tc, large_mean_variance);
    tcase_add_test(tc, deterministic);
    tcase_add_test(tc, bad_arguments);
    tcase_add_loop_test(tc, fold_conv, 0, sizeof fold_cases / sizeof fold_cases[0]);
    tcase_add_test(tc, fold_conv_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_main(suite());
}
