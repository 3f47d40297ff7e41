/* test_optim.c - SGD (plain, momentum, nesterov, weight decay) and Adam/AdamW steps against a
 * double host implementation over several steps, the cosine schedule, and every bad-argument
 * rule. */
#include "fixture.h"
#include "ref_layers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Parameter counts: one element, below and past the 8-wide vector, a conv weight. */
static const int sizes[] = {1, 7, 8, 1001, 64 * 3 * 3 * 3};
#define NSIZES (int)(sizeof sizes / sizeof sizes[0])
#define STEPS 5

typedef struct sgd_case {
    const char *name;
    oclnn_sgd_desc d;
} sgd_case;

static const sgd_case sgds[] = {
    {"plain", {0.1f, 0, 0, 0}},
    {"weight decay", {0.05f, 0, 1e-2f, 0}},
    {"momentum", {0.1f, 0.9f, 0, 0}},
    {"momentum + weight decay", {0.1f, 0.9f, 5e-4f, 0}},
    {"nesterov + weight decay", {0.05f, 0.9f, 1e-3f, 1}},
};
#define NSGD (int)(sizeof sgds / sizeof sgds[0])

/* Tolerance after k steps: the float state drifts from the double one by a few ulp per step of
 * each quantity, so the limit is relative to |p| plus the sizes of the updates made. */
static void compare(const char *what, const float *got, const double *want, const double *moved,
                    size_t n)
{
    double *tol = malloc(n * sizeof *tol);
    for (size_t i = 0; i < n; i++)
        tol[i] = 1e-6 * fabs(want[i]) + 4e-6 * moved[i];
    fx_assert_close_tol(what, got, want, tol, n);
    free(tol);
}

START_TEST(sgd_steps)
{
    const sgd_case *sc = &sgds[_i / NSIZES];
    size_t n = (size_t)sizes[_i % NSIZES];
    oclnn_context *c = fx_ctx();
    oclnn_tensor_desc d = oclnn_tensor_desc_1d((int)n);
    float *p = fx_alloc(n), *g = fx_alloc(n);
    fx_fill(p, n, 71 + _i, -1, 1);
    double *pd = ref_from_float(p, n), *gd = malloc(n * sizeof *gd), *buf = calloc(n, sizeof *buf);
    double *moved = calloc(n, sizeof *moved);
    oclnn_tensor *tp = fx_tensor(&d, p), *tg = fx_tensor(&d, NULL), *tb = fx_tensor(&d, NULL);
    char what[128];
    for (int step = 0; step < STEPS; step++) {
        fx_fill(g, n, 100 * step + _i, -1, 1);
        for (size_t i = 0; i < n; i++)
            gd[i] = g[i];
        ck_assert_int_eq(oclnn_tensor_upload(c, tg, g, n, 1), OCLNN_SUCCESS);
        /* The buffer starts NaN: first_step must not read it. Without momentum, pass NULL. */
        ck_assert_int_eq(
            oclnn_sgd_step(c, &sc->d, tp, tg, sc->d.momentum != 0 ? tb : NULL, step == 0),
            OCLNN_SUCCESS);
        ref_sgd_step(&sc->d, n, pd, gd, buf, step == 0);
        /* The update's terms: lr times gradient, decay and (twice, for nesterov) the buffer. */
        for (size_t i = 0; i < n; i++)
            moved[i] +=
                sc->d.lr * (fabs(gd[i]) + sc->d.weight_decay * fabs(pd[i]) + 2 * fabs(buf[i]));
        float *got = fx_download(tp);
        snprintf(what, sizeof what, "sgd %s, %zu params, step %d", sc->name, n, step + 1);
        compare(what, got, pd, moved, n);
        free(got);
    }
    if (sc->d.momentum != 0) {
        float *got = fx_download(tb);
        double *tol = malloc(n * sizeof *tol);
        for (size_t i = 0; i < n; i++)
            tol[i] = 1e-5 * (1 + fabs(buf[i]));
        fx_assert_close_tol("momentum buffer", got, buf, tol, n);
        free(tol);
        free(got);
    } else {
        fx_assert_all_nan("unused momentum buffer", tb);
    }
    oclnn_tensor_destroy(tp);
    oclnn_tensor_destroy(tg);
    oclnn_tensor_destroy(tb);
    free(p);
    free(g);
    free(pd);
    free(gd);
    free(buf);
    free(moved);
}
END_TEST

typedef struct adam_case {
    const char *name;
    oclnn_adam_desc d;
} adam_case;

static const adam_case adams[] = {
    {"Adam defaults", {1e-3f, 0.9f, 0.999f, 1e-8f, 0, 0}},
    {"Adam L2 decay", {1e-2f, 0.8f, 0.99f, 1e-6f, 0.1f, 0}},
    {"AdamW decoupled decay", {1e-2f, 0.9f, 0.999f, 1e-8f, 0.05f, 1}},
};
#define NADAM (int)(sizeof adams / sizeof adams[0])

START_TEST(adam_steps)
{
    const adam_case *ac = &adams[_i / NSIZES];
    size_t n = (size_t)sizes[_i % NSIZES];
    oclnn_context *c = fx_ctx();
    oclnn_tensor_desc d = oclnn_tensor_desc_1d((int)n);
    float *p = fx_alloc(n), *g = fx_alloc(n), *zero = fx_alloc(n);
    fx_fill(p, n, 81 + _i, -1, 1);
    double *pd = ref_from_float(p, n), *gd = malloc(n * sizeof *gd);
    double *m = calloc(n, sizeof *m), *v = calloc(n, sizeof *v), *moved = calloc(n, sizeof *moved);
    oclnn_tensor *tp = fx_tensor(&d, p), *tg = fx_tensor(&d, NULL), *tm = fx_tensor(&d, zero),
                 *tv = fx_tensor(&d, zero);
    char what[128];
    for (long step = 1; step <= STEPS; step++) {
        fx_fill(g, n, 200 * (uint32_t)step + _i, -1, 1);
        for (size_t i = 0; i < n; i++)
            gd[i] = g[i];
        ck_assert_int_eq(oclnn_tensor_upload(c, tg, g, n, 1), OCLNN_SUCCESS);
        ck_assert_int_eq(oclnn_adam_step(c, &ac->d, step, tp, tg, tm, tv), OCLNN_SUCCESS);
        ref_adam_step(&ac->d, step, n, pd, gd, m, v);
        /* Each Adam update is at most about lr / (1 - beta1) in size. */
        for (size_t i = 0; i < n; i++)
            moved[i] += ac->d.lr / (1 - ac->d.beta1);
        float *got = fx_download(tp);
        snprintf(what, sizeof what, "%s, %zu params, step %ld", ac->name, n, step);
        compare(what, got, pd, moved, n);
        free(got);
    }
    fx_assert_tensor_close("first moment", tm, m, n, 1e-7, 1e-5);
    fx_assert_tensor_close("second moment", tv, v, n, 1e-9, 1e-5);
    oclnn_tensor_destroy(tp);
    oclnn_tensor_destroy(tg);
    oclnn_tensor_destroy(tm);
    oclnn_tensor_destroy(tv);
    free(p);
    free(g);
    free(zero);
    free(pd);
    free(gd);
    free(m);
    free(v);
    free(moved);
}
END_TEST

/* Bias correction: the first Adam step moves every parameter by lr * sign(g) (when |g| >> eps),
 * whatever beta1 and beta2 are. */
START_TEST(adam_first_step_is_lr_sign)
{
    oclnn_context *c = fx_ctx();
    enum { N = 19 };
    float p[N], g[N], zero[N] = {0};
    fx_fill(p, N, 5, -1, 1);
    fx_fill(g, N, 6, -1, 1);
    oclnn_tensor_desc d = oclnn_tensor_desc_1d(N);
    oclnn_tensor *tp = fx_tensor(&d, p), *tg = fx_tensor(&d, g), *tm = fx_tensor(&d, zero),
                 *tv = fx_tensor(&d, zero);
    oclnn_adam_desc a = oclnn_adam_desc_default();
    ck_assert_float_eq(a.beta1, 0.9f);
    ck_assert_float_eq(a.beta2, 0.999f);
    ck_assert_float_eq(a.eps, 1e-8f);
    ck_assert_int_eq(a.decoupled, 0);
    a.lr = 0.01f;
    ck_assert_int_eq(oclnn_adam_step(c, &a, 1, tp, tg, tm, tv), OCLNN_SUCCESS);
    float *got = fx_download(tp);
    for (int i = 0; i < N; i++) {
        double want = p[i] - 0.01 * (g[i] > 0 ? 1 : -1);
        ck_assert_msg(fabs(got[i] - want) <= 1e-6 + 0.01 * 1e-8 / fabs(g[i]) * 10,
                      "p[%d] = %.9g, want %.9g", i, got[i], want);
    }
    free(got);
    oclnn_tensor_destroy(tp);
    oclnn_tensor_destroy(tg);
    oclnn_tensor_destroy(tm);
    oclnn_tensor_destroy(tv);
}
END_TEST

START_TEST(cosine_schedule)
{
    const struct {
        double base, min;
        long step, warmup, total;
        double want;
    } points[] = {
        /* Warm-up: linear from base/warmup to base at the boundary. */
        {0.1, 0.001, 0, 10, 110, 0.01},
        {0.1, 0.001, 9, 10, 110, 0.1},
        {0.1, 0.001, 10, 10, 110, 0.1},
        /* The middle of the cosine part is the mean of base and min. */
        {0.1, 0.001, 60, 10, 110, 0.0505},
        /* A quarter of the way: min + (base - min) * (1 + cos(pi/4)) / 2. */
        {0.1, 0.001, 35, 10, 110, 0.001 + 0.099 * 0.5 * (1 + sqrt(0.5))},
        /* The end, and past it: min_lr. */
        {0.1, 0.001, 110, 10, 110, 0.001},
        {0.1, 0.001, 500, 10, 110, 0.001},
        /* No warm-up. */
        {1.0, 0.0, 0, 0, 4, 1.0},
        {1.0, 0.0, 2, 0, 4, 0.5},
    };
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
        double lr;
        ck_assert_int_eq(oclnn_lr_cosine(points[i].base, points[i].min, points[i].step,
                                         points[i].warmup, points[i].total, &lr),
                         OCLNN_SUCCESS);
        ck_assert_double_eq_tol(lr, points[i].want, 1e-15);
    }
}
END_TEST

START_TEST(bad_arguments)
{
    oclnn_context *c = fx_ctx();
    oclnn_tensor_desc d = oclnn_tensor_desc_1d(10), d9 = oclnn_tensor_desc_1d(9);
    float ps[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    oclnn_tensor *p = fx_tensor(&d, ps), *g = fx_tensor(&d, ps), *b = fx_tensor(&d, NULL);
    oclnn_tensor *m = fx_tensor(&d, NULL), *v = fx_tensor(&d, NULL), *g9 = fx_tensor(&d9, ps);
    oclnn_sgd_desc s = {0.1f, 0.9f, 0, 0}, bs;
    bs = s;
    bs.lr = -0.1f;
    fx_assert_status(oclnn_sgd_step(c, &bs, p, g, b, 1), OCLNN_INVALID_ARGUMENT,
                     "sgd_step: lr -0.1 must be a finite value >= 0");
    bs = s;
    bs.momentum = -1;
    fx_assert_status(oclnn_sgd_step(c, &bs, p, g, b, 1), OCLNN_INVALID_ARGUMENT,
                     "momentum -1 must be");
    bs = s;
    bs.weight_decay = NAN;
    fx_assert_status(oclnn_sgd_step(c, &bs, p, g, b, 1), OCLNN_INVALID_ARGUMENT,
                     "weight_decay nan must be");
    bs = s;
    bs.momentum = 0;
    bs.nesterov = 1;
    fx_assert_status(oclnn_sgd_step(c, &bs, p, g, b, 1), OCLNN_INVALID_ARGUMENT,
                     "nesterov needs a momentum > 0");
    fx_assert_status(oclnn_sgd_step(c, &s, p, g, NULL, 1), OCLNN_INVALID_ARGUMENT,
                     "momentum_buf is NULL with momentum 0.9");
    fx_assert_status(oclnn_sgd_step(c, &s, p, g9, b, 1), OCLNN_INVALID_ARGUMENT,
                     "grad [9] has 9 elements, expected 10");
    fx_assert_status(oclnn_sgd_step(c, NULL, p, g, b, 1), OCLNN_INVALID_ARGUMENT, "desc is NULL");
    oclnn_adam_desc a = oclnn_adam_desc_default(), ba;
    ba = a;
    ba.eps = 0;
    fx_assert_status(oclnn_adam_step(c, &ba, 1, p, g, m, v), OCLNN_INVALID_ARGUMENT,
                     "adam_step: eps 0 must be a finite value > 0");
    ba.eps = -1e-8f;
    fx_assert_status(oclnn_adam_step(c, &ba, 1, p, g, m, v), OCLNN_INVALID_ARGUMENT,
                     "eps -1e-08 must be");
    ba = a;
    ba.lr = -1e-3f;
    fx_assert_status(oclnn_adam_step(c, &ba, 1, p, g, m, v), OCLNN_INVALID_ARGUMENT,
                     "lr -0.001 must be a finite value >= 0");
    ba = a;
    ba.beta1 = 1;
    fx_assert_status(oclnn_adam_step(c, &ba, 1, p, g, m, v), OCLNN_INVALID_ARGUMENT,
                     "beta1 1 must be in [0, 1)");
    ba = a;
    ba.beta2 = -0.5f;
    fx_assert_status(oclnn_adam_step(c, &ba, 1, p, g, m, v), OCLNN_INVALID_ARGUMENT,
                     "beta2 -0.5 must be in [0, 1)");
    ba = a;
    ba.weight_decay = -1;
    fx_assert_status(oclnn_adam_step(c, &ba, 1, p, g, m, v), OCLNN_INVALID_ARGUMENT,
                     "weight_decay -1 must be");
    fx_assert_status(oclnn_adam_step(c, &a, 0, p, g, m, v), OCLNN_INVALID_ARGUMENT,
                     "step 0 must be >= 1");
    fx_assert_status(oclnn_adam_step(c, &a, 1, p, g, NULL, v), OCLNN_INVALID_ARGUMENT, "m is NULL");
    fx_assert_status(oclnn_adam_step(c, &a, 1, p, g, m, g9), OCLNN_INVALID_ARGUMENT,
                     "v [9] has 9 elements");
    fx_assert_all_nan("momentum buffer after rejected calls", b);
    fx_assert_all_nan("m after rejected calls", m);
    float *got = fx_download(p);
    ck_assert_int_eq(memcmp(got, ps, sizeof ps), 0);
    free(got);
    /* The schedule has no context: its errors are the thread's message. */
    double lr = 5;
    ck_assert_int_eq(oclnn_lr_cosine(0.1, 0, 0, 10, 10, &lr), OCLNN_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(NULL), "total 10 must be larger than warmup 10"));
    ck_assert_double_eq(lr, 0);
    ck_assert_int_eq(oclnn_lr_cosine(0.1, 0, 0, 10, 5, &lr), OCLNN_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(NULL), "total 5 must be larger than warmup 10"));
    ck_assert_int_eq(oclnn_lr_cosine(0.1, 0, 0, -1, 5, &lr), OCLNN_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(NULL), "warmup -1 must be >= 0"));
    ck_assert_int_eq(oclnn_lr_cosine(0.1, 0, -3, 0, 5, &lr), OCLNN_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(NULL), "step -3 must be >= 0"));
    ck_assert_int_eq(oclnn_lr_cosine(NAN, 0, 0, 0, 5, &lr), OCLNN_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(NULL), "must be finite"));
    ck_assert_int_eq(oclnn_lr_cosine(0.1, 0, 0, 0, 5, NULL), OCLNN_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(NULL), "lr is NULL"));
    oclnn_tensor *ts[] = {p, g, b, m, v, g9};
    fx_destroy(ts, sizeof ts / sizeof ts[0]);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, sgd_steps, 0, NSGD * NSIZES);
    tcase_add_loop_test(tc, adam_steps, 0, NADAM * NSIZES);
    tcase_add_test(tc, adam_first_step_is_lr_sign);
    tcase_add_test(tc, cosine_schedule);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_main(suite());
}
