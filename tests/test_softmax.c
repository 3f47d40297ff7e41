/* test_softmax.c - softmax / log-softmax (incl. logits of +-1e4), softmax cross-entropy loss and
 * gradient against double references and finite differences (narrow and wide rows, rows with
 * and without a tail past the last 16-float vector, -inf logits), accuracy counts with ties, and
 * every bad-argument rule. */
#include "fixture.h"
#include "ref_layers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct rows_case {
    const char *name;
    int n, k;
} rows_case;

static const rows_case cases[] = {
    {"N=1, K=1", 1, 1},
    {"N=1, K=10", 1, 10},
    {"odd 7x13", 7, 13},
    {"MNIST batch 64x10", 64, 10},
    {"ImageNet-like 5x1000", 5, 1000},
    {"33 rows x 2", 33, 2},
    {"5 rows x 1 class", 5, 1},
    {"batch 1 x 1000", 1, 1000},
    {"3x16: one vector, no tail", 3, 16},
    {"3x17: one vector and a tail of 1", 3, 17},
    {"4x1024: vectors only", 4, 1024},
    {"2x4099: very wide, tail of 3", 2, 4099},
    /* past 8192 logits: the rows in parallel, then the mean (smaller batches: one work-item) */
    {"ImageNet-like 9x1000", 9, 1000},
    {"300x37: many narrow rows", 300, 37},
};
#define NCASES (int)(sizeof cases / sizeof cases[0])

static oclnn_tensor *labels_tensor(const int32_t *labels, int n)
{
    oclnn_tensor_desc d = oclnn_tensor_desc_1d(n);
    d.dtype = OCLNN_I32;
    oclnn_tensor *t = fx_tensor(&d, NULL);
    ck_assert_int_eq(oclnn_tensor_upload(fx_ctx(), t, labels, (size_t)n, 1), OCLNN_SUCCESS);
    return t;
}

/* Softmax values are in [0, 1]: exp and the division cost a few ulp (2e-6 relative plus a floor
 * for probabilities far below 1); log-softmax errors come from log(sum) (absolute ~1e-6). */
START_TEST(softmax_forward)
{
    const rows_case *rc = &cases[_i];
    oclnn_context *c = fx_ctx();
    size_t n = (size_t)rc->n * rc->k;
    oclnn_tensor_desc d = oclnn_tensor_desc_2d(rc->n, rc->k);
    float *x = fx_alloc(n);
    fx_fill(x, n, 41 + _i, -8, 8);
    double *xd = ref_from_float(x, n), *want = malloc(n * sizeof *want);
    oclnn_tensor *tx = fx_tensor(&d, x), *ty = fx_tensor(&d, NULL);
    for (int log_out = 0; log_out < 2; log_out++) {
        ck_assert_int_eq(oclnn_softmax_forward(c, tx, ty, log_out), OCLNN_SUCCESS);
        ref_softmax(rc->n, rc->k, xd, want, log_out);
        fx_assert_tensor_close(log_out ? "log_softmax" : "softmax", ty, want, n,
                               log_out ? 2e-6 : 1e-9, log_out ? 1e-6 : 2e-6);
    }
    oclnn_tensor_destroy(tx);
    oclnn_tensor_destroy(ty);
    free(x);
    free(xd);
    free(want);
}
END_TEST

/* Logits of +-1e4 (and equal huge logits): finite, and exact where the answer is 0, 1 or 1/2. */
START_TEST(softmax_large_logits)
{
    oclnn_context *c = fx_ctx();
    float x[12] = {1e4f, -1e4f, 0, 1e4f, 1e4f, -1e4f, -1e4f, -1e4f, 3.0e4f, -1e4f, 1e4f, 2.0f};
    oclnn_tensor_desc d = oclnn_tensor_desc_2d(4, 3);
    oclnn_tensor *tx = fx_tensor(&d, x), *ty = fx_tensor(&d, NULL), *tp = fx_tensor(&d, NULL);
    ck_assert_int_eq(oclnn_softmax_forward(c, tx, ty, 0), OCLNN_SUCCESS);
    float *p = fx_download(ty);
    const float want[12] = {1, 0, 0, 0.5f, 0.5f, 0, 0, 0, 1, 0, 1, 0};
    for (int i = 0; i < 12; i++)
        ck_assert_msg(p[i] == want[i], "softmax[%d] = %.9g, want %g", i, p[i], want[i]);
    free(p);
    ck_assert_int_eq(oclnn_softmax_forward(c, tx, ty, 1), OCLNN_SUCCESS);
    p = fx_download(ty);
    const float want_log[12] = {
        0, -2e4f, -1e4f, -0.693147182f, -0.693147182f, -20000.6931f, -4e4f, -4e4f,
        0, -2e4f, 0,     -9998.0f};
    for (int i = 0; i < 12; i++)
        ck_assert_msg(isfinite(p[i]) && fabs(p[i] - want_log[i]) <= 1e-6 * (1 + fabs(want_log[i])),
                      "log_softmax[%d] = %.9g, want %.9g", i, p[i], want_log[i]);
    free(p);
    /* Cross-entropy picks the -1e4 logits: losses 2e4, 2e4 + log 2, 4e4, 2e4; mean finite. */
    int32_t labels[4] = {1, 2, 0, 0};
    oclnn_tensor *tl = labels_tensor(labels, 4), *tloss;
    oclnn_tensor_desc one = oclnn_tensor_desc_1d(1);
    tloss = fx_tensor(&one, NULL);
    ck_assert_int_eq(oclnn_softmax_cross_entropy_forward(c, tx, tl, tp, tloss), OCLNN_SUCCESS);
    float loss;
    ck_assert_int_eq(oclnn_tensor_download(c, tloss, &loss, 1, 1), OCLNN_SUCCESS);
    double want_loss = (2e4 + (2e4 + log(2.0)) + 4e4 + 2e4) / 4;
    ck_assert_msg(isfinite(loss) && fabs(loss - want_loss) <= 1e-6 * want_loss,
                  "loss %.9g, want %.9g", loss, want_loss);
    oclnn_tensor_destroy(tx);
    oclnn_tensor_destroy(ty);
    oclnn_tensor_destroy(tp);
    oclnn_tensor_destroy(tl);
    oclnn_tensor_destroy(tloss);
}
END_TEST

/* -inf logits in vector lanes and in the scalar tail (k = 37: two vectors and 5 more), with
 * +-1e4 and a maximum in the tail: softmax is exactly 0 there and log-softmax -inf; the other
 * values and the cross-entropy (labels on finite logits) match the double reference. */
START_TEST(softmax_inf_logits)
{
    enum { N = 3, K = 37 };
    oclnn_context *c = fx_ctx();
    float x[N * K];
    fx_fill(x, N * K, 71, -8, 8);
    x[0 * K + 3] = x[0 * K + 35] = -INFINITY;
    x[1 * K + 0] = -INFINITY;
    x[1 * K + 20] = 1e4f;
    for (int j = 21; j < K; j += 2)
        x[1 * K + j] = -1e4f;
    x[2 * K + 36] = 3e4f;
    x[2 * K + 17] = -INFINITY;
    int32_t labels[N] = {4, 20, 5};
    double *xd = ref_from_float(x, N * K), want[N * K];
    oclnn_tensor_desc d = oclnn_tensor_desc_2d(N, K), one = oclnn_tensor_desc_1d(1);
    oclnn_tensor *tx = fx_tensor(&d, x), *ty = fx_tensor(&d, NULL), *tl = labels_tensor(labels, N),
                 *tloss = fx_tensor(&one, NULL);
    ck_assert_int_eq(oclnn_softmax_forward(c, tx, ty, 0), OCLNN_SUCCESS);
    ref_softmax(N, K, xd, want, 0);
    fx_assert_tensor_close("softmax with -inf", ty, want, N * K, 1e-9, 2e-6);
    float *p = fx_download(ty);
    for (int i = 0; i < N * K; i++)
        if (isinf(x[i]))
            ck_assert_msg(p[i] == 0.0f, "softmax[%d] = %g for -inf, want 0", i, p[i]);
    free(p);
    ck_assert_int_eq(oclnn_softmax_forward(c, tx, ty, 1), OCLNN_SUCCESS);
    ref_softmax(N, K, xd, want, 1);
    p = fx_download(ty);
    for (int i = 0; i < N * K; i++) {
        if (isinf(x[i]))
            ck_assert_msg(p[i] == -INFINITY, "log_softmax[%d] = %g for -inf", i, p[i]);
        else
            ck_assert_msg(fabs(p[i] - want[i]) <= 1e-6 * (1 + fabs(want[i])),
                          "log_softmax[%d] = %.9g, want %.9g", i, p[i], want[i]);
    }
    free(p);
    ck_assert_int_eq(oclnn_softmax_cross_entropy_forward(c, tx, tl, ty, tloss), OCLNN_SUCCESS);
    ref_softmax(N, K, xd, want, 0);
    fx_assert_tensor_close("cross-entropy probs with -inf", ty, want, N * K, 1e-9, 2e-6);
    float loss;
    ck_assert_int_eq(oclnn_tensor_download(c, tloss, &loss, 1, 1), OCLNN_SUCCESS);
    double want_loss = ref_ce_loss(N, K, xd, labels);
    ck_assert_msg(isfinite(loss) && fabs(loss - want_loss) <= 1e-6 * want_loss,
                  "loss %.9g, want %.9g", loss, want_loss);
    oclnn_tensor *ts[] = {tx, ty, tl, tloss};
    fx_destroy(ts, sizeof ts / sizeof ts[0]);
    free(xd);
}
END_TEST

typedef struct ce_arg {
    int n, k;
    const int32_t *labels;
} ce_arg;

static double ce_at(const double *x, void *p)
{
    const ce_arg *a = p;
    return ref_ce_loss(a->n, a->k, x, a->labels);
}

START_TEST(cross_entropy)
{
    const rows_case *rc = &cases[_i];
    oclnn_context *c = fx_ctx();
    size_t n = (size_t)rc->n * rc->k;
    oclnn_tensor_desc d = oclnn_tensor_desc_2d(rc->n, rc->k), one = oclnn_tensor_desc_1d(1);
    float *x = fx_alloc(n), *r = fx_alloc(rc->n);
    fx_fill(x, n, 51 + _i, -5, 5);
    fx_fill(r, rc->n, 52 + _i, 0, 1);
    int32_t *labels = malloc(rc->n * sizeof *labels);
    for (int i = 0; i < rc->n; i++)
        labels[i] = (int32_t)(r[i] * rc->k) % rc->k;
    double *xd = ref_from_float(x, n), *probs = malloc(n * sizeof *probs);
    double *grad = malloc(n * sizeof *grad);
    oclnn_tensor *tx = fx_tensor(&d, x), *tl = labels_tensor(labels, rc->n);
    oclnn_tensor *tp = fx_tensor(&d, NULL), *tloss = fx_tensor(&one, NULL),
                 *tdx = fx_tensor(&d, NULL);
    ck_assert_int_eq(oclnn_softmax_cross_entropy_forward(c, tx, tl, tp, tloss), OCLNN_SUCCESS);
    ref_softmax(rc->n, rc->k, xd, probs, 0);
    fx_assert_tensor_close("cross-entropy probs", tp, probs, n, 1e-9, 2e-6);
    double want_loss = ref_ce_loss(rc->n, rc->k, xd, labels);
    float loss;
    ck_assert_int_eq(oclnn_tensor_download(c, tloss, &loss, 1, 1), OCLNN_SUCCESS);
    /* Each row's loss is |log s| + |x_label - m| <= 10 + log k: judged against that size. */
    double loss_tol = 2e-6 * (10 + log((double)rc->k) + fabs(want_loss));
    ck_assert_msg(fabs(loss - want_loss) <= loss_tol, "loss %.9g, want %.9g (limit %.3g)", loss,
                  want_loss, loss_tol);
    /* Same bits twice: the batch mean is an ordered sum. */
    float again;
    ck_assert_int_eq(oclnn_softmax_cross_entropy_forward(c, tx, tl, tp, tloss), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_download(c, tloss, &again, 1, 1), OCLNN_SUCCESS);
    ck_assert_int_eq(memcmp(&loss, &again, sizeof loss), 0);

    const float scale = 2.5f;
    ck_assert_int_eq(oclnn_softmax_cross_entropy_backward(c, tp, tl, scale, tdx), OCLNN_SUCCESS);
    ref_ce_grad(rc->n, rc->k, xd, labels, scale, grad);
    float *got = fx_download(tdx);
    /* Judged against the size of the terms of probs - onehot: a probability near 1 minus 1
     * keeps only the absolute precision of the probability. */
    double *gtol = malloc(n * sizeof *gtol);
    for (size_t i = 0; i < n; i++)
        gtol[i] = 4e-6 * scale / rc->n * (probs[i] + ((int)(i % rc->k) == labels[i / rc->k]));
    fx_assert_close_tol("cross-entropy gradient", got, grad, gtol, n);
    free(gtol);
    free(got);
    /* The reference gradient is the derivative of the reference loss. */
    ce_arg arg = {rc->n, rc->k, labels};
    for (size_t i = 0; i < n; i += 1 + n / 50) {
        double fd = scale * ref_central_diff(ce_at, xd, i, 1e-5, &arg);
        ck_assert_msg(fabs(fd - grad[i]) <= 1e-8 * scale, "dx[%zu]: reference %.12g, fd %.12g", i,
                      grad[i], fd);
    }
    oclnn_tensor *ts[] = {tx, tl, tp, tloss, tdx};
    fx_destroy(ts, sizeof ts / sizeof ts[0]);
    free(x);
    free(r);
    free(labels);
    free(xd);
    free(probs);
    free(grad);
}
END_TEST

/* A label outside [0, k) on the device makes the loss NaN (not a crash or a silent number). */
START_TEST(out_of_range_label)
{
    oclnn_context *c = fx_ctx();
    float x[6] = {1, 2, 3, 4, 5, 6};
    int32_t labels[2] = {0, 3};
    oclnn_tensor_desc d = oclnn_tensor_desc_2d(2, 3), one = oclnn_tensor_desc_1d(1);
    oclnn_tensor *tx = fx_tensor(&d, x), *tl = labels_tensor(labels, 2), *tp = fx_tensor(&d, NULL),
                 *tloss = fx_tensor(&one, NULL);
    ck_assert_int_eq(oclnn_tensor_fill(c, tloss, 0), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_softmax_cross_entropy_forward(c, tx, tl, tp, tloss), OCLNN_SUCCESS);
    float loss;
    ck_assert_int_eq(oclnn_tensor_download(c, tloss, &loss, 1, 1), OCLNN_SUCCESS);
    ck_assert_msg(isnan(loss), "loss %g with label 3 of 3 classes", loss);
    labels[1] = -1;
    ck_assert_int_eq(oclnn_tensor_upload(c, tl, labels, 2, 1), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_fill(c, tloss, 0), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_softmax_cross_entropy_forward(c, tx, tl, tp, tloss), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_download(c, tloss, &loss, 1, 1), OCLNN_SUCCESS);
    ck_assert_msg(isnan(loss), "loss %g with label -1", loss);
    oclnn_tensor_destroy(tx);
    oclnn_tensor_destroy(tl);
    oclnn_tensor_destroy(tp);
    oclnn_tensor_destroy(tloss);
}
END_TEST

START_TEST(accuracy)
{
    oclnn_context *c = fx_ctx();
    enum { N = 37, K = 10 };
    float x[N * K];
    int32_t labels[N];
    fx_fill(x, N * K, 61, -1, 1);
    for (int i = 0; i < N; i++)
        labels[i] = (i * 7) % K;
    /* Make some rows right and some rows ties: row 3 ties at 2 and 5 (first index 2 wins). */
    for (int i = 0; i < N; i += 3)
        x[i * K + labels[i]] = 5;
    for (int j = 0; j < K; j++)
        x[3 * K + j] = 0;
    x[3 * K + 2] = x[3 * K + 5] = 1;
    labels[3] = 2;
    x[4 * K + 1] = x[4 * K + 8] = 9; /* tie at 1 and 8, label 8: wrong */
    labels[4] = 8;
    oclnn_tensor_desc d = oclnn_tensor_desc_2d(N, K), one = oclnn_tensor_desc_1d(1);
    one.dtype = OCLNN_I32;
    oclnn_tensor *tx = fx_tensor(&d, x), *tl = labels_tensor(labels, N),
                 *tc = fx_tensor(&one, NULL);
    ck_assert_int_eq(oclnn_accuracy_count(c, tx, tl, tc), OCLNN_SUCCESS);
    int32_t got;
    ck_assert_int_eq(oclnn_tensor_download(c, tc, &got, 1, 1), OCLNN_SUCCESS);
    int want = ref_accuracy(N, K, x, labels);
    ck_assert_int_eq(got, want);
    ck_assert_int_ge(want, 13); /* the 13 rows made right, incl. the tie won by the label */
    /* All rows with ties only at index 0 vs label 0: every row counts. */
    for (int i = 0; i < N * K; i++)
        x[i] = 1;
    for (int i = 0; i < N; i++)
        labels[i] = 0;
    ck_assert_int_eq(oclnn_tensor_upload(c, tx, x, N * K, 1), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_upload(c, tl, labels, N, 1), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_accuracy_count(c, tx, tl, tc), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_download(c, tc, &got, 1, 1), OCLNN_SUCCESS);
    ck_assert_int_eq(got, N);
    oclnn_tensor_destroy(tx);
    oclnn_tensor_destroy(tl);
    oclnn_tensor_destroy(tc);
}
END_TEST

START_TEST(bad_arguments)
{
    oclnn_context *c = fx_ctx();
    oclnn_tensor_desc d = oclnn_tensor_desc_2d(4, 3), d4 = oclnn_tensor_desc_4d(4, 3, 1, 1);
    oclnn_tensor_desc one = oclnn_tensor_desc_1d(1), two = oclnn_tensor_desc_1d(2);
    oclnn_tensor_desc lab5 = oclnn_tensor_desc_1d(5);
    oclnn_tensor_desc ione = one;
    ione.dtype = OCLNN_I32;
    lab5.dtype = OCLNN_I32;
    float xs[12];
    fx_fill(xs, 12, 2, -1, 1);
    oclnn_tensor *x = fx_tensor(&d, xs), *y = fx_tensor(&d, NULL), *x4 = fx_tensor(&d4, xs);
    oclnn_tensor *loss = fx_tensor(&one, NULL), *loss2 = fx_tensor(&two, NULL);
    oclnn_tensor_desc fl = oclnn_tensor_desc_1d(4);
    oclnn_tensor *flabels = fx_tensor(&fl, NULL);
    int32_t good[4] = {0, 1, 2, 0};
    oclnn_tensor *labels = labels_tensor(good, 4), *labels5 = fx_tensor(&lab5, NULL);
    oclnn_tensor *icount = fx_tensor(&ione, NULL);
    fx_assert_status(oclnn_softmax_forward(c, x4, y, 0), OCLNN_INVALID_ARGUMENT,
                     "x [4][3][1][1] must be 2-D [n][k]");
    fx_assert_status(oclnn_softmax_forward(c, x, loss2, 0), OCLNN_INVALID_ARGUMENT,
                     "y [2] does not match x [4][3]");
    fx_assert_status(oclnn_softmax_cross_entropy_forward(c, x, flabels, y, loss),
                     OCLNN_INVALID_ARGUMENT, "labels has dtype 0, expected OCLNN_I32");
    fx_assert_status(oclnn_softmax_cross_entropy_forward(c, x, labels5, y, loss),
                     OCLNN_INVALID_ARGUMENT, "labels [5] has 5 elements, expected 4");
    fx_assert_status(oclnn_softmax_cross_entropy_forward(c, x, labels, y, loss2),
                     OCLNN_INVALID_ARGUMENT, "loss [2] has 2 elements, expected 1");
    fx_assert_status(oclnn_softmax_cross_entropy_forward(c, x, labels, y, icount),
                     OCLNN_INVALID_ARGUMENT, "loss has dtype 1, expected OCLNN_F32");
    fx_assert_status(oclnn_softmax_cross_entropy_forward(c, x, NULL, y, loss),
                     OCLNN_INVALID_ARGUMENT, "labels is NULL");
    fx_assert_status(oclnn_softmax_cross_entropy_backward(c, x, flabels, 1, y),
                     OCLNN_INVALID_ARGUMENT, "labels has dtype 0");
    fx_assert_status(oclnn_softmax_cross_entropy_backward(c, x, labels, NAN, y),
                     OCLNN_INVALID_ARGUMENT, "scale nan is not finite");
    fx_assert_status(oclnn_softmax_cross_entropy_backward(c, x, labels, 1, x4),
                     OCLNN_INVALID_ARGUMENT, "dlogits [4][3][1][1] does not match probs [4][3]");
    fx_assert_status(oclnn_accuracy_count(c, x, labels, loss), OCLNN_INVALID_ARGUMENT,
                     "correct has dtype 0, expected OCLNN_I32");
    fx_assert_status(oclnn_accuracy_count(c, x, flabels, icount), OCLNN_INVALID_ARGUMENT,
                     "labels has dtype 0");
    fx_assert_status(oclnn_accuracy_count(NULL, x, labels, icount), OCLNN_INVALID_ARGUMENT, NULL);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(NULL), "accuracy_count: ctx is NULL"));
    fx_assert_all_nan("y after rejected calls", y);
    fx_assert_all_nan("loss after rejected calls", loss);
    int32_t cnt;
    ck_assert_int_eq(oclnn_tensor_download(c, icount, &cnt, 1, 1), OCLNN_SUCCESS);
    ck_assert_int_eq(cnt, -1); /* fx_tensor prefills i32 with -1 */
    oclnn_tensor *ts[] = {x, y, x4, loss, loss2, flabels, labels, labels5, icount};
    fx_destroy(ts, sizeof ts / sizeof ts[0]);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("softmax");
    TCase *tc = tcase_create("softmax");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, softmax_forward, 0, NCASES);
    tcase_add_test(tc, softmax_large_logits);
    tcase_add_test(tc, softmax_inf_logits);
    tcase_add_loop_test(tc, cross_entropy, 0, NCASES);
    tcase_add_test(tc, out_of_range_label);
    tcase_add_test(tc, accuracy);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_main(suite());
}
