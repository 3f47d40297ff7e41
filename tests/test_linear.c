/* test_linear.c - fully connected forward (with and without bias, 2-D and flattened 4-D input),
 * backward data and weights (beta 0 and 1, db optional) against the double references in
 * ref_norm.c; finite differences of the reference backward; determinism; argument validation. */
#include "fixture.h"
#include "ref_norm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct lin_case {
    const char *name;
    int ndim, n, c, h, w; /* x; 2-D: [n][c] */
    int out;
} lin_case;

static const lin_case cases[] = {
    {"n1_1_to_1", 2, 1, 1, 1, 1, 1},
    {"odd_3x7_to_5", 2, 3, 7, 1, 1, 5},
    {"flatten_2x3x4x5_to_7", 4, 2, 3, 4, 5, 7},
    {"lenet_fc_8x16x5x5_to_120", 4, 8, 16, 5, 5, 120},
    {"resnet_fc_4x512_to_100", 2, 4, 512, 1, 1, 100},
    {"convnext_head_3x768_to_10", 2, 3, 768, 1, 1, 10},
    {"wide_65x130_to_67", 2, 65, 130, 1, 1, 67},
};

static double *absolute(const float *p, int count)
{
    double *d = fx_widen(p, count);
    for (int i = 0; i < count; i++)
        d[i] = fabs(d[i]);
    return d;
}

/* tol = 1e-5 * bound (the sum of |terms| of each output) + 1e-6 * |old| for accumulation. */
static double *tolerance(const double *bound, const float *old, int count)
{
    double *t = malloc((size_t)count * sizeof *t);
    ck_assert_ptr_nonnull(t);
    for (int i = 0; i < count; i++)
        t[i] = 1e-5 * bound[i] + (old ? 1e-6 * fabs(old[i]) : 0.0) + 1e-30;
    return t;
}

static void check(const char *what, const oclnn_tensor *t, const double *want, const double *bound,
                  const float *old, int count)
{
    double *tol = tolerance(bound, old, count);
    float *got = fx_download(t);
    fx_assert_close_tol(what, got, want, tol, count);
    free(got);
    free(tol);
}

START_TEST(forward_backward_table)
{
    const lin_case *k = &cases[_i];
    oclnn_context *ctx = fx_ctx();
    int n = k->n, in = k->c * k->h * k->w, out = k->out;
    oclnn_tensor_desc dx_desc =
        k->ndim == 2 ? oclnn_tensor_desc_2d(n, k->c) : oclnn_tensor_desc_4d(n, k->c, k->h, k->w);
    oclnn_tensor_desc dw_desc = oclnn_tensor_desc_2d(out, in);
    oclnn_tensor_desc dy_desc = oclnn_tensor_desc_2d(n, out), db_desc = oclnn_tensor_desc_1d(out);
    float *x = fx_alloc(n * in), *w = fx_alloc(out * in), *b = fx_alloc(out);
    float *dy = fx_alloc(n * out), *old_dx = fx_alloc(n * in), *old_dw = fx_alloc(out * in);
    float *old_db = fx_alloc(out);
    fx_fill(x, n * in, 1 + _i, -1, 1);
    fx_fill(w, out * in, 21 + _i, -0.5f, 0.5f);
    fx_fill(b, out, 41 + _i, -1, 1);
    fx_fill(dy, n * out, 61 + _i, -1, 1);
    fx_fill(old_dx, n * in, 81, -1, 1);
    fx_fill(old_dw, out * in, 82, -1, 1);
    fx_fill(old_db, out, 83, -1, 1);
    oclnn_tensor *tx = fx_tensor(&dx_desc, x), *tw = fx_tensor(&dw_desc, w);
    oclnn_tensor *tb = fx_tensor(&db_desc, b), *tdy = fx_tensor(&dy_desc, dy);
    oclnn_tensor *ty = fx_tensor(&dy_desc, NULL), *tdx = fx_tensor(&dx_desc, NULL);
    oclnn_tensor *tdw = fx_tensor(&dw_desc, NULL), *tdb = fx_tensor(&db_desc, NULL);

    double *xd = fx_widen(x, n * in), *wd = fx_widen(w, out * in), *bd = fx_widen(b, out);
    double *dyd = fx_widen(dy, n * out), *xa = absolute(x, n * in), *wa = absolute(w, out * in);
    double *ba = absolute(b, out), *dya = absolute(dy, n * out);
    double *y = malloc((size_t)n * out * sizeof *y), *yb = malloc((size_t)n * out * sizeof *yb);
    double *dx = malloc((size_t)n * in * sizeof *dx), *dxb = malloc((size_t)n * in * sizeof *dxb);
    double *dw = malloc((size_t)out * in * sizeof *dw);
    double *dwb = malloc((size_t)out * in * sizeof *dwb);
    double *db = malloc((size_t)out * sizeof *db), *dbb = malloc((size_t)out * sizeof *dbb);

    /* Forward with bias, then without (y NaN-prefilled each time: beta 0 must not read it). */
    ck_assert_int_eq(oclnn_linear_forward(ctx, tx, tw, tb, ty), OCLNN_SUCCESS);
    ref_linear_forward(xd, wd, bd, n, in, out, y);
    ref_linear_forward(xa, wa, ba, n, in, out, yb);
    check("y", ty, y, yb, NULL, n * out);
    ck_assert_int_eq(oclnn_tensor_fill(ctx, ty, NAN), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_linear_forward(ctx, tx, tw, NULL, ty), OCLNN_SUCCESS);
    ref_linear_forward(xd, wd, NULL, n, in, out, y);
    ref_linear_forward(xa, wa, NULL, n, in, out, yb);
    check("y (no bias)", ty, y, yb, NULL, n * out);

    /* Backward, beta 0 into NaN-prefilled outputs. */
    ref_linear_backward(xd, wd, dyd, n, in, out, dx, dw, db);
    ref_linear_backward(xa, wa, dya, n, in, out, dxb, dwb, dbb);
    ck_assert_int_eq(oclnn_linear_backward_data(ctx, tdy, tw, tdx, 0), OCLNN_SUCCESS);
    check("dx", tdx, dx, dxb, NULL, n * in);
    ck_assert_int_eq(oclnn_linear_backward_weights(ctx, tx, tdy, tdw, tdb, 0), OCLNN_SUCCESS);
    check("dw", tdw, dw, dwb, NULL, out * in);
    check("db", tdb, db, dbb, NULL, out);

    /* beta 1 accumulates; db NULL leaves db alone. */
    ck_assert_int_eq(oclnn_tensor_upload(ctx, tdx, old_dx, n * in, 1), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_upload(ctx, tdw, old_dw, out * in, 1), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_upload(ctx, tdb, old_db, out, 1), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_linear_backward_data(ctx, tdy, tw, tdx, 1), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_linear_backward_weights(ctx, tx, tdy, tdw, NULL, 1), OCLNN_SUCCESS);
    for (int i = 0; i < n * in; i++)
        dx[i] += old_dx[i];
    for (int i = 0; i < out * in; i++)
        dw[i] += old_dw[i];
    check("dx (beta 1)", tdx, dx, dxb, old_dx, n * in);
    check("dw (beta 1)", tdw, dw, dwb, old_dw, out * in);
    float *got = fx_download(tdb);
    ck_assert_int_eq(memcmp(got, old_db, out * sizeof(float)), 0);
    free(got);
    ck_assert_int_eq(oclnn_linear_backward_weights(ctx, tx, tdy, tdw, tdb, 1), OCLNN_SUCCESS);
    for (int o = 0; o < out; o++)
        db[o] += old_db[o];
    check("db (beta 1)", tdb, db, dbb, old_db, out);

    free(xd), free(wd), free(bd), free(dyd), free(xa), free(wa), free(ba), free(dya);
    free(y), free(yb), free(dx), free(dxb), free(dw), free(dwb), free(db), free(dbb);
    oclnn_tensor *all[] = {tx, tw, tb, tdy, ty, tdx, tdw, tdb};
    fx_destroy(all, sizeof all / sizeof all[0]);
    free(x), free(w), free(b), free(dy), free(old_dx), free(old_dw), free(old_db);
}
END_TEST

/* L = sum dy * y(x, w, b): the reference gradients must match centred differences. */
START_TEST(reference_backward_matches_finite_differences)
{
    enum { N = 3, I = 4, O = 5 };
    float xf[N * I], wf[O * I], bf[O], dyf[N * O];
    fx_fill(xf, N * I, 5, -1, 1);
    fx_fill(wf, O * I, 6, -1, 1);
    fx_fill(bf, O, 7, -1, 1);
    fx_fill(dyf, N * O, 8, -1, 1);
    double *x = fx_widen(xf, N * I), *w = fx_widen(wf, O * I), *b = fx_widen(bf, O);
    double *dy = fx_widen(dyf, N * O);
    double y[N * O], dx[N * I], dw[O * I], db[O];
    ref_linear_backward(x, w, dy, N, I, O, dx, dw, db);
    const double h = 1e-4;
    double *vars[] = {x, w, b};
    double *grads[] = {dx, dw, db};
    int sizes[] = {N * I, O * I, O};
    for (int v = 0; v < 3; v++)
        for (int i = 0; i < sizes[v]; i++) {
            double keep = vars[v][i], l[2];
            for (int side = 0; side < 2; side++) {
                vars[v][i] = keep + (side ? -h : h);
                ref_linear_forward(x, w, b, N, I, O, y);
                l[side] = 0;
                for (int e = 0; e < N * O; e++)
                    l[side] += dy[e] * y[e];
            }
            vars[v][i] = keep;
            double fd = (l[0] - l[1]) / (2 * h);
            ck_assert_msg(fabs(fd - grads[v][i]) <= 1e-9 + 1e-7 * fabs(fd),
                          "variable %d element %d: finite difference %.12g, backward %.12g", v, i,
                          fd, grads[v][i]);
        }
    free(x), free(w), free(b), free(dy);
}
END_TEST

START_TEST(deterministic)
{
    enum { N = 16, I = 300, O = 40 };
    oclnn_context *ctx = fx_ctx();
    oclnn_tensor_desc dxd = oclnn_tensor_desc_2d(N, I), dwd = oclnn_tensor_desc_2d(O, I);
    oclnn_tensor_desc dyd = oclnn_tensor_desc_2d(N, O), dbd = oclnn_tensor_desc_1d(O);
    float *x = fx_alloc(N * I), *w = fx_alloc(O * I), *b = fx_alloc(O), *dy = fx_alloc(N * O);
    fx_fill(x, N * I, 91, -1, 1);
    fx_fill(w, O * I, 92, -1, 1);
    fx_fill(b, O, 93, -1, 1);
    fx_fill(dy, N * O, 94, -1, 1);
    oclnn_tensor *tx = fx_tensor(&dxd, x), *tw = fx_tensor(&dwd, w), *tb = fx_tensor(&dbd, b);
    oclnn_tensor *tdy = fx_tensor(&dyd, dy), *ty = fx_tensor(&dyd, NULL);
    oclnn_tensor *tdx = fx_tensor(&dxd, NULL), *tdw = fx_tensor(&dwd, NULL);
    oclnn_tensor *tdb = fx_tensor(&dbd, NULL);
    float *first[4] = {NULL};
    for (int run = 0; run < 2; run++) {
        ck_assert_int_eq(oclnn_linear_forward(ctx, tx, tw, tb, ty), OCLNN_SUCCESS);
        ck_assert_int_eq(oclnn_linear_backward_data(ctx, tdy, tw, tdx, 0), OCLNN_SUCCESS);
        ck_assert_int_eq(oclnn_linear_backward_weights(ctx, tx, tdy, tdw, tdb, 0), OCLNN_SUCCESS);
        const oclnn_tensor *outs[4] = {ty, tdx, tdw, tdb};
        const char *names[4] = {"y", "dx", "dw", "db"};
        for (int i = 0; i < 4; i++)
            fx_same_as_first_run(names[i], outs[i], &first[i]);
    }
    oclnn_tensor *all[] = {tx, tw, tb, tdy, ty, tdx, tdw, tdb};
    fx_destroy(all, sizeof all / sizeof all[0]);
    free(x), free(w), free(b), free(dy);
}
END_TEST

/* Every rule: status, message, and the NaN-prefilled output left untouched. */
START_TEST(bad_arguments)
{
    oclnn_context *ctx = fx_ctx();
    oclnn_tensor_desc dx4 = oclnn_tensor_desc_4d(2, 3, 2, 2), dw = oclnn_tensor_desc_2d(5, 12);
    oclnn_tensor_desc dwbad = oclnn_tensor_desc_2d(5, 11), dy = oclnn_tensor_desc_2d(2, 5);
    oclnn_tensor_desc dybad = oclnn_tensor_desc_2d(3, 5), d1 = oclnn_tensor_desc_1d(24);
    float *data = fx_alloc(60);
    oclnn_tensor *tx = fx_tensor(&dx4, data), *tw = fx_tensor(&dw, data);
    oclnn_tensor *twbad = fx_tensor(&dwbad, data), *ty = fx_tensor(&dy, NULL);
    oclnn_tensor *tybad = fx_tensor(&dybad, NULL), *t1d = fx_tensor(&d1, data);
    oclnn_tensor *tb = fx_tensor(&(oclnn_tensor_desc){OCLNN_F32, 1, {5, 1, 1, 1}}, data);
    oclnn_tensor *tb4 = fx_tensor(&(oclnn_tensor_desc){OCLNN_F32, 1, {4, 1, 1, 1}}, data);
    oclnn_tensor *tdx = fx_tensor(&dx4, NULL), *tdw = fx_tensor(&dw, NULL);

    fx_assert_status(oclnn_linear_forward(ctx, tx, twbad, tb, ty), OCLNN_INVALID_ARGUMENT,
                     "linear_forward: w [5][11] has 11 input features, x [2][3][2][2] has 12");
    fx_assert_status(oclnn_linear_forward(ctx, tx, tw, tb4, ty), OCLNN_INVALID_ARGUMENT,
                     "linear_forward: b [4] has 4 elements, expected 5");
    fx_assert_status(oclnn_linear_forward(ctx, tx, tw, tb, tybad), OCLNN_INVALID_ARGUMENT,
                     "y [3][5] must have 2 rows of 5 elements");
    fx_assert_status(oclnn_linear_forward(ctx, t1d, tw, tb, ty), OCLNN_INVALID_ARGUMENT,
                     "x has ndim 1, must be 2");
    fx_assert_status(oclnn_linear_forward(ctx, tx, t1d, tb, ty), OCLNN_INVALID_ARGUMENT,
                     "w [24] has ndim 1, must be 2");
    fx_assert_status(oclnn_linear_forward(ctx, tx, NULL, tb, ty), OCLNN_INVALID_ARGUMENT,
                     "w is NULL");
    fx_assert_status(oclnn_linear_backward_data(ctx, ty, twbad, tdx, 0), OCLNN_INVALID_ARGUMENT,
                     "dx [2][3][2][2] must have 2 rows of 11 elements");
    fx_assert_status(oclnn_linear_backward_data(ctx, tybad, tw, tdx, 0), OCLNN_INVALID_ARGUMENT,
                     "dx [2][3][2][2] must have 3 rows of 12 elements");
    fx_assert_status(oclnn_linear_backward_data(ctx, t1d, tw, tdx, 0), OCLNN_INVALID_ARGUMENT,
                     "dy [24] has ndim 1, must be 2");
    fx_assert_status(oclnn_linear_backward_data(ctx, ty, tx, tdx, 0), OCLNN_INVALID_ARGUMENT,
                     "w [2][3][2][2] must be 2-D with 5 output rows");
    fx_assert_status(oclnn_linear_backward_data(ctx, ty, tw, tdx, NAN), OCLNN_INVALID_ARGUMENT,
                     "beta nan, must be finite");
    fx_assert_status(oclnn_linear_backward_weights(ctx, tx, tybad, tdw, NULL, 0),
                     OCLNN_INVALID_ARGUMENT, "dy [3][5] must be 2-D with 2 rows");
    fx_assert_status(oclnn_linear_backward_weights(ctx, tx, ty, twbad, NULL, 0),
                     OCLNN_INVALID_ARGUMENT, "dw [5][11] must have 5 rows of 12 elements");
    fx_assert_status(oclnn_linear_backward_weights(ctx, tx, ty, tdw, tb4, 0),
                     OCLNN_INVALID_ARGUMENT, "db [4] has 4 elements, expected 5");

    fx_assert_all_nan("y after rejected calls", ty);
    fx_assert_all_nan("dx after rejected calls", tdx);
    fx_assert_all_nan("dw after rejected calls", tdw);
    oclnn_tensor *all[] = {tx, tw, twbad, ty, tybad, t1d, tb, tb4, tdx, tdw};
    fx_destroy(all, sizeof all / sizeof all[0]);
    free(data);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("linear");
    TCase *tc = tcase_create("linear");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, forward_backward_table, 0, sizeof cases / sizeof cases[0]);
    tcase_add_test(tc, reference_backward_matches_finite_differences);
    tcase_add_test(tc, deterministic);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_main(suite());
}
