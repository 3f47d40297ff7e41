/* test_elementwise.c - activations (forward, backward, finite differences), add/scale/copy with
 * aliasing and offsets, the networks' residual add + ReLU and its two-gradient backward, the
 * per-channel scale and its gradient, and every bad-argument rule. */
#include "fixture.h"
#include "internal.h"
#include "ref_layers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct shape_case {
    const char *name;
    int n, c, h, w;
} shape_case;

/* Element counts below, at and past the vector (8 wide on GPUs, 16 on CPUs), odd planes, a
 * scaled-down ConvNeXt stage (96 channels at 7x7) and a ResNet-18 stage-1 slice. */
static const shape_case shapes[] = {
    {"one element", 1, 1, 1, 1},
    {"C=1 odd 5x7", 1, 1, 5, 7},
    {"exactly 8", 1, 2, 2, 2},
    {"exactly 16", 1, 1, 4, 4},
    {"exactly 64: one block of 4 x 16", 1, 1, 8, 8},
    {"144: two blocks and a tail of 16", 1, 1, 12, 12},
    {"odd 3x5x7x9", 3, 5, 7, 9},
    {"convnext 2x96x7x7", 2, 96, 7, 7},
    {"resnet 2x64x14x14", 2, 64, 14, 14},
};
#define NSHAPES (int)(sizeof shapes / sizeof shapes[0])

static size_t count_of(const shape_case *s)
{
    return (size_t)s->n * s->c * s->h * s->w;
}

static void assert_all_nan(const char *what, const oclnn_tensor *t)
{
    float *p = fx_download(t);
    oclnn_tensor_desc d = oclnn_tensor_get_desc(t);
    for (size_t i = 0; i < oclnn_tensor_desc_count(&d); i++)
        ck_assert_msg(isnan(p[i]), "%s: element %zu was written (%g)", what, i, p[i]);
    free(p);
}

static const oclnn_activation acts[] = {OCLNN_ACT_NONE, OCLNN_ACT_RELU, OCLNN_ACT_GELU,
                                        OCLNN_ACT_GELU_TANH};
static const char *const act_names[] = {"none", "relu", "gelu", "gelu_tanh"};

/* Per-element tolerance of an activation value or gradient: ReLU/identity are exact; the GELU
 * forms use erfc/exp (a few ulp each) so allow 2e-6 relative plus a tiny absolute floor; the
 * gradients sum two terms of size up to (1 + |x|), so they are judged against that size. */
static double act_tol(oclnn_activation a, double x, double dy, double want, int grad)
{
    if (a == OCLNN_ACT_NONE || a == OCLNN_ACT_RELU)
        return 0;
    if (!grad)
        return 2e-6 * fabs(want) + 1e-12;
    return 4e-6 * fabs(dy) * (1 + fabs(x));
}

START_TEST(activation_forward_backward)
{
    const shape_case *s = &shapes[_i % NSHAPES];
    oclnn_activation a = acts[_i / NSHAPES];
    oclnn_context *c = fx_ctx();
    oclnn_tensor_desc d = oclnn_tensor_desc_4d(s->n, s->c, s->h, s->w);
    size_t n = count_of(s);
    float *x = fx_alloc(n), *dy = fx_alloc(n);
    fx_fill(x, n, 11 + _i, -6, 6);
    fx_fill(dy, n, 91 + _i, -1, 1);
    double *want = malloc(n * sizeof *want), *tol = malloc(n * sizeof *tol);
    oclnn_tensor *tx = fx_tensor(&d, x), *ty = fx_tensor(&d, NULL), *tdy = fx_tensor(&d, dy),
                 *tdx = fx_tensor(&d, NULL);
    char what[128];
    ck_assert_int_eq(oclnn_activation_forward(c, a, tx, ty), OCLNN_SUCCESS);
    float *got = fx_download(ty);
    for (size_t i = 0; i < n; i++) {
        want[i] = ref_act(a, x[i]);
        tol[i] = act_tol(a, x[i], 1, want[i], 0);
    }
    snprintf(what, sizeof what, "%s forward %s", act_names[a], s->name);
    fx_assert_close_tol(what, got, want, tol, n);
    free(got);
    ck_assert_int_eq(oclnn_activation_backward(c, a, tx, tdy, tdx), OCLNN_SUCCESS);
    got = fx_download(tdx);
    for (size_t i = 0; i < n; i++) {
        want[i] = dy[i] * ref_act_grad(a, x[i]);
        tol[i] = act_tol(a, x[i], dy[i], want[i], 1);
    }
    snprintf(what, sizeof what, "%s backward %s", act_names[a], s->name);
    fx_assert_close_tol(what, got, want, tol, n);
    free(got);
    /* In place: y aliases x. */
    ck_assert_int_eq(oclnn_activation_forward(c, a, tx, tx), OCLNN_SUCCESS);
    got = fx_download(tx);
    for (size_t i = 0; i < n; i++) {
        want[i] = ref_act(a, x[i]);
        tol[i] = act_tol(a, x[i], 1, want[i], 0);
    }
    snprintf(what, sizeof what, "%s forward in place %s", act_names[a], s->name);
    fx_assert_close_tol(what, got, want, tol, n);
    free(got);
    oclnn_tensor_destroy(tx);
    oclnn_tensor_destroy(ty);
    oclnn_tensor_destroy(tdy);
    oclnn_tensor_destroy(tdx);
    free(x);
    free(dy);
    free(want);
    free(tol);
}
END_TEST

static double act_at(const double *x, void *arg)
{
    return ref_act(*(const oclnn_activation *)arg, x[0]);
}

/* The reference gradients against centred differences of the reference forward (ReLU away from
 * its kink); the device gradients are checked against these references above. */
START_TEST(activation_gradient_finite_difference)
{
    for (int ai = 0; ai < 4; ai++) {
        oclnn_activation a = acts[ai];
        for (double x0 = -5.03; x0 < 5; x0 += 0.37) {
            double x = x0;
            double fd = ref_central_diff(act_at, &x, 0, 1e-5, &a);
            double an = ref_act_grad(a, x0);
            ck_assert_msg(fabs(fd - an) <= 1e-8 * (1 + fabs(an)),
                          "%s gradient at %g: analytic %.12g, finite difference %.12g",
                          act_names[ai], x0, an, fd);
        }
    }
}
END_TEST

/* Large inputs stay finite and exact where the function saturates. */
START_TEST(gelu_saturates)
{
    oclnn_context *c = fx_ctx();
    float x[10] = {-100, -30, -10, -1e4f, 1e4f, 10, 30, 100, 0, -0.0f};
    oclnn_tensor_desc d = oclnn_tensor_desc_1d(10);
    oclnn_tensor *tx = fx_tensor(&d, x), *ty = fx_tensor(&d, NULL);
    for (int ai = 2; ai < 4; ai++) {
        ck_assert_int_eq(oclnn_activation_forward(c, acts[ai], tx, ty), OCLNN_SUCCESS);
        float *y = fx_download(ty);
        for (int i = 0; i < 10; i++) {
            double want = ref_act(acts[ai], x[i]);
            ck_assert_msg(isfinite(y[i]) && fabs(y[i] - want) <= 1e-6 * fabs(want) + 1e-30,
                          "%s(%g) = %g, want %g", act_names[ai], x[i], y[i], want);
        }
        ck_assert_int_eq(oclnn_activation_backward(c, acts[ai], tx, tx, ty), OCLNN_SUCCESS);
        free(y);
        y = fx_download(ty);
        for (int i = 0; i < 10; i++) {
            double want = x[i] * ref_act_grad(acts[ai], x[i]); /* dy = x */
            ck_assert_msg(isfinite(y[i]) && fabs(y[i] - want) <= 1e-6 * fabs(want) + 1e-30,
                          "%s'(%g) * %g = %g, want %g", act_names[ai], x[i], x[i], y[i], want);
        }
        free(y);
    }
    oclnn_tensor_destroy(tx);
    oclnn_tensor_destroy(ty);
}
END_TEST

/* The GELU forms over a dense sweep of [-10, 10] (step 1e-3, 20001 points) against the double
 * reference, with dy = 1. Stated tolerances, in units of 2^-24 (an f32 ulp, relative):
 * - exact GELU: forward 8 ulp of |y|; gradient 6 ulp of |Phi| + |x phi|, the size of its two
 *   terms (the gradient crosses zero near x = -0.75). Measured on [-10, 10] in steps of 1.2e-5:
 *   6.4 and 4.2 ulp (the earlier two-interval erf/erfc form: 6.8 and 3.9).
 * - tanh form: 4 ulp of the same sizes, scaled by 1 + |2u| (u the tanh argument): exp(-2u)
 *   turns the rounding of u in f32 into |2u| ulp of relative error in the far negative tail
 *   (measured 2.7 after that scaling). */
static double sweep_tol(oclnn_activation a, double x, double want, int grad)
{
    const double ulp = ldexp(1.0, -24);
    double scale = 1, size = fabs(want);
    if (a == OCLNN_ACT_GELU_TANH)
        scale = 1 + fabs(2 * 0.79788456080286535588 * (x + 0.044715 * x * x * x));
    if (grad && a == OCLNN_ACT_GELU)
        size = 0.5 * erfc(-x / sqrt(2.0)) + fabs(x) * exp(-0.5 * x * x) / sqrt(2 * M_PI);
    if (grad && a == OCLNN_ACT_GELU_TANH) {
        double s = 1 / (1 + exp(-2 * 0.79788456080286535588 * (x + 0.044715 * x * x * x)));
        size = s + fabs(x * 2 * s * (1 - s) * 0.79788456080286535588 * (1 + 3 * 0.044715 * x * x));
    }
    return (a == OCLNN_ACT_GELU ? (grad ? 6 : 8) : 4) * ulp * scale * size;
}

START_TEST(gelu_dense_sweep)
{
    oclnn_context *c = fx_ctx();
    const size_t n = 20001;
    float *x = fx_alloc(n), *ones = fx_alloc(n);
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)(-10.0 + 1e-3 * (double)i);
        ones[i] = 1;
    }
    oclnn_tensor_desc d = oclnn_tensor_desc_1d((int)n);
    oclnn_tensor *tx = fx_tensor(&d, x), *t1 = fx_tensor(&d, ones), *ty = fx_tensor(&d, NULL);
    double *want = malloc(n * sizeof *want), *tol = malloc(n * sizeof *tol);
    for (int ai = 2; ai < 4; ai++) {
        oclnn_activation a = acts[ai];
        char what[64];
        ck_assert_int_eq(oclnn_activation_forward(c, a, tx, ty), OCLNN_SUCCESS);
        float *got = fx_download(ty);
        for (size_t i = 0; i < n; i++) {
            want[i] = ref_act(a, x[i]);
            tol[i] = sweep_tol(a, x[i], want[i], 0);
        }
        snprintf(what, sizeof what, "%s forward sweep", act_names[ai]);
        fx_assert_close_tol(what, got, want, tol, n);
        free(got);
        ck_assert_int_eq(oclnn_activation_backward(c, a, tx, t1, ty), OCLNN_SUCCESS);
        got = fx_download(ty);
        for (size_t i = 0; i < n; i++) {
            want[i] = ref_act_grad(a, x[i]);
            tol[i] = sweep_tol(a, x[i], want[i], 1);
        }
        snprintf(what, sizeof what, "%s backward sweep", act_names[ai]);
        fx_assert_close_tol(what, got, want, tol, n);
        free(got);
    }
    oclnn_tensor_destroy(tx);
    oclnn_tensor_destroy(t1);
    oclnn_tensor_destroy(ty);
    free(x);
    free(ones);
    free(want);
    free(tol);
}
END_TEST

/* Infinities give the limits (gelu(-inf) = -0 with slope 0, gelu(+inf) = +inf with slope 1,
 * not inf * 0 = NaN) and a NaN stays NaN, forward and backward (dy = 1). */
START_TEST(gelu_inf_nan)
{
    oclnn_context *c = fx_ctx();
    /* 65 elements: the vector path (up to 4 x 16 per work-item) and the scalar tail see them */
    enum { N = 65 };
    const float v[4] = {-INFINITY, INFINITY, NAN, -1e4f}, yv[4] = {0, INFINITY, NAN, 0},
                gv[4] = {0, 1, NAN, 0};
    float x[N], yw[N], gw[N], ones[N];
    for (int i = 0; i < N; i++) {
        x[i] = i == N - 1 ? 1e4f : v[i % 4];
        yw[i] = i == N - 1 ? 1e4f : yv[i % 4];
        gw[i] = i == N - 1 ? 1 : gv[i % 4];
        ones[i] = 1;
    }
    oclnn_tensor_desc d = oclnn_tensor_desc_1d(N);
    oclnn_tensor *tx = fx_tensor(&d, x), *t1 = fx_tensor(&d, ones), *ty = fx_tensor(&d, NULL);
    for (int ai = 2; ai < 4; ai++) {
        for (int grad = 0; grad < 2; grad++) {
            if (grad)
                ck_assert_int_eq(oclnn_activation_backward(c, acts[ai], tx, t1, ty), OCLNN_SUCCESS);
            else
                ck_assert_int_eq(oclnn_activation_forward(c, acts[ai], tx, ty), OCLNN_SUCCESS);
            float *y = fx_download(ty);
            const float *w = grad ? gw : yw;
            for (int i = 0; i < N; i++)
                ck_assert_msg(isnan(w[i]) ? isnan(y[i]) : y[i] == w[i], "%s %s(%g) = %g, want %g",
                              act_names[ai], grad ? "gradient" : "forward", x[i], y[i], w[i]);
            free(y);
        }
    }
    oclnn_tensor_destroy(tx);
    oclnn_tensor_destroy(t1);
    oclnn_tensor_destroy(ty);
}
END_TEST

/* add/scale/copy on views at odd element offsets (vectors start unaligned), with aliasing. */
START_TEST(add_scale_copy)
{
    const shape_case *s = &shapes[_i];
    oclnn_context *c = fx_ctx();
    size_t n = count_of(s);
    oclnn_tensor_desc all = oclnn_tensor_desc_1d((int)(3 * n + 7));
    oclnn_tensor *buf = fx_tensor(&all, NULL), *ta, *tb, *ty;
    oclnn_tensor_desc d = oclnn_tensor_desc_4d(s->n, s->c, s->h, s->w);
    ck_assert_int_eq(oclnn_tensor_view(c, buf, &d, 1, &ta), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_view(c, buf, &d, n + 3, &tb), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_view(c, buf, &d, 2 * n + 6, &ty), OCLNN_SUCCESS);
    float *a = fx_alloc(n), *b = fx_alloc(n);
    fx_fill(a, n, 5 + _i, -3, 3);
    fx_fill(b, n, 7 + _i, -3, 3);
    ck_assert_int_eq(oclnn_tensor_upload(c, ta, a, n, 1), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_upload(c, tb, b, n, 1), OCLNN_SUCCESS);
    double *want = malloc(n * sizeof *want), *tol = malloc(n * sizeof *tol);
    const float alpha = 1.25f, beta = -0.75f;
    ck_assert_int_eq(oclnn_add(c, alpha, ta, beta, tb, ty), OCLNN_SUCCESS);
    float *got = fx_download(ty);
    for (size_t i = 0; i < n; i++) {
        want[i] = (double)alpha * a[i] + (double)beta * b[i];
        tol[i] = 1e-6 * (fabs((double)alpha * a[i]) + fabs((double)beta * b[i]));
    }
    fx_assert_close_tol("add", got, want, tol, n);
    free(got);
    /* Residual add in place into b, then into a. */
    ck_assert_int_eq(oclnn_add(c, 1, ta, 1, tb, tb), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_add(c, 2, ta, 1, tb, ta), OCLNN_SUCCESS);
    got = fx_download(ta);
    for (size_t i = 0; i < n; i++) {
        want[i] = 2.0 * a[i] + ((double)a[i] + b[i]);
        tol[i] = 1e-6 * (2 * fabs(a[i]) + fabs(a[i]) + fabs(b[i]));
    }
    fx_assert_close_tol("add in place", got, want, tol, n);
    free(got);
    ck_assert_int_eq(oclnn_tensor_upload(c, ta, a, n, 1), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_scale(c, -0.3f, ta, ty), OCLNN_SUCCESS);
    got = fx_download(ty);
    for (size_t i = 0; i < n; i++)
        want[i] = (double)-0.3f * a[i];
    fx_assert_close("scale", got, want, n, 0, 1e-7);
    free(got);
    ck_assert_int_eq(oclnn_copy(c, ta, ty), OCLNN_SUCCESS);
    got = fx_download(ty);
    ck_assert_int_eq(memcmp(got, a, n * sizeof(float)), 0);
    free(got);
    /* Neighbours of the views are untouched: element 0 and the gaps stay NaN. */
    float *whole = fx_download(buf);
    ck_assert(isnan(whole[0]) && isnan(whole[n + 1]) && isnan(whole[2 * n + 5]) &&
              isnan(whole[3 * n + 6]));
    free(whole);
    oclnn_tensor_destroy(ta);
    oclnn_tensor_destroy(tb);
    oclnn_tensor_destroy(ty);
    oclnn_tensor_destroy(buf);
    free(a);
    free(b);
    free(want);
    free(tol);
}
END_TEST

typedef struct cs_arg {
    int c, hw;
    size_t n;
    const double *w; /* loss weights */
    const double *x;
} cs_arg;

/* Loss sum_i w_i * gamma[c_i] * x_i as a function of gamma. */
static double cs_loss_gamma(const double *gamma, void *p)
{
    const cs_arg *a = p;
    double s = 0;
    for (size_t i = 0; i < a->n; i++)
        s += a->w[i] * gamma[(i / a->hw) % a->c] * a->x[i];
    return s;
}

/* A network's residual with a ReLU (internal entry points): the add writes the ReLU of the sum
 * (within the add's tolerance; a NaN input stays NaN as through the ReLU op, an exact 0 sum gives
 * 0), and the backward into both inputs' gradients equals, to the bit, the host's float
 * arithmetic: g = dy where y > 0, each gradient g or its old value + g. Old values are NaN where
 * they must not be read; dy may be the first gradient itself. */
START_TEST(residual_relu)
{
    const shape_case *s = &shapes[_i];
    oclnn_context *c = fx_ctx();
    size_t n = count_of(s);
    oclnn_tensor_desc d = oclnn_tensor_desc_4d(s->n, s->c, s->h, s->w);
    float *a = fx_alloc(n), *b = fx_alloc(n), *dy = fx_alloc(n), *d0 = fx_alloc(n);
    float *d1 = fx_alloc(n);
    fx_fill(a, n, 41 + _i, -3, 3);
    fx_fill(b, n, 43 + _i, -3, 3);
    fx_fill(dy, n, 47 + _i, -1, 1);
    fx_fill(d0, n, 53 + _i, -1, 1);
    fx_fill(d1, n, 59 + _i, -1, 1);
    b[0] = -a[0]; /* a sum of exactly 0 */
    if (n > 2)
        a[n - 2] = NAN;
    oclnn_tensor *ta = fx_tensor(&d, a), *tb = fx_tensor(&d, b), *ty = fx_tensor(&d, NULL);
    ck_assert_int_eq(oclnn__add(c, 1.0f, ta, 1.0f, tb, true, ty), OCLNN_SUCCESS);
    float *y = fx_download(ty);
    for (size_t i = 0; i < n; i++) {
        const double sum = (double)a[i] + b[i], want = sum < 0 ? 0.0 : sum;
        if (isnan(a[i]))
            ck_assert_msg(isnan(y[i]), "y[%zu] = %g, want NaN", i, y[i]);
        else
            ck_assert_msg(fabs(y[i] - want) <= 1e-6 * (fabs(a[i]) + fabs(b[i])),
                          "y[%zu] = %.9g, want %.9g", i, y[i], want);
    }
    ck_assert_msg(y[0] == 0.0f, "a sum of 0 gives %g", y[0]);

    oclnn_tensor *tdy = fx_tensor(&d, dy), *tx0 = fx_tensor(&d, NULL), *tx1 = fx_tensor(&d, NULL);
    for (int acc = 0; acc < 5; acc++) {
        const bool acc0 = acc & 1, acc1 = acc & 2, dy_is_dx0 = acc == 4;
        ck_assert_int_eq(oclnn_tensor_fill(c, tx0, NAN), OCLNN_SUCCESS);
        ck_assert_int_eq(oclnn_tensor_fill(c, tx1, NAN), OCLNN_SUCCESS);
        if (acc0)
            ck_assert_int_eq(oclnn_tensor_upload(c, tx0, d0, n, 1), OCLNN_SUCCESS);
        if (acc1)
            ck_assert_int_eq(oclnn_tensor_upload(c, tx1, d1, n, 1), OCLNN_SUCCESS);
        if (dy_is_dx0)
            ck_assert_int_eq(oclnn_tensor_upload(c, tx0, dy, n, 1), OCLNN_SUCCESS);
        ck_assert_int_eq(
            oclnn__relu_backward_pair(c, ty, dy_is_dx0 ? tx0 : tdy, tx0, acc0, tx1, acc1),
            OCLNN_SUCCESS);
        float *g0 = fx_download(tx0), *g1 = fx_download(tx1);
        for (size_t i = 0; i < n; i++) {
            const float g = y[i] > 0.0f ? dy[i] : 0.0f;
            const float w0 = acc0 ? d0[i] + g : g, w1 = acc1 ? d1[i] + g : g;
            ck_assert_msg(g0[i] == w0 && g1[i] == w1,
                          "acc %d%d%s: element %zu: %.9g, %.9g, want %.9g, %.9g", acc0, acc1,
                          dy_is_dx0 ? " (dy is dx0)" : "", i, g0[i], g1[i], w0, w1);
        }
        free(g0), free(g1);
    }
    free(y);
    oclnn_tensor *all[] = {ta, tb, ty, tdy, tx0, tx1};
    fx_destroy(all, sizeof all / sizeof all[0]);
    free(a), free(b), free(dy), free(d0), free(d1);
}
END_TEST

START_TEST(channel_scale)
{
    const shape_case *s = &shapes[_i];
    oclnn_context *c = fx_ctx();
    size_t n = count_of(s);
    int hw = s->h * s->w;
    oclnn_tensor_desc d = oclnn_tensor_desc_4d(s->n, s->c, s->h, s->w);
    oclnn_tensor_desc gd = oclnn_tensor_desc_1d(s->c);
    float *x = fx_alloc(n), *dy = fx_alloc(n), *g = fx_alloc(s->c), *dg0 = fx_alloc(s->c);
    fx_fill(x, n, 3 + _i, -2, 2);
    fx_fill(dy, n, 4 + _i, -1, 1);
    fx_fill(g, s->c, 5 + _i, -1, 1);
    fx_fill(dg0, s->c, 6 + _i, -1, 1);
    oclnn_tensor *tx = fx_tensor(&d, x), *tdy = fx_tensor(&d, dy), *tg = fx_tensor(&gd, g),
                 *ty = fx_tensor(&d, NULL), *tdx = fx_tensor(&d, NULL), *tdg = fx_tensor(&gd, NULL);
    double *want = malloc(n * sizeof *want), *dgw = calloc(s->c, sizeof *dgw),
           *dgtol = calloc(s->c, sizeof *dgtol);
    ck_assert_int_eq(oclnn_channel_scale_forward(c, tx, tg, ty), OCLNN_SUCCESS);
    float *got = fx_download(ty);
    for (size_t i = 0; i < n; i++)
        want[i] = (double)g[(i / hw) % s->c] * x[i];
    fx_assert_close("channel_scale forward", got, want, n, 0, 1e-7);
    free(got);
    ck_assert_int_eq(oclnn_channel_scale_backward(c, tx, tdy, tg, tdx, tdg, 0), OCLNN_SUCCESS);
    got = fx_download(tdx);
    for (size_t i = 0; i < n; i++) {
        want[i] = (double)g[(i / hw) % s->c] * dy[i];
        dgw[(i / hw) % s->c] += (double)x[i] * dy[i];
        dgtol[(i / hw) % s->c] += 1e-5 * fabs((double)x[i] * dy[i]);
    }
    fx_assert_close("channel_scale dx", got, want, n, 0, 1e-7);
    free(got);
    got = fx_download(tdg);
    fx_assert_close_tol("channel_scale dgamma", got, dgw, dgtol, s->c);
    free(got);
    /* The reference dgamma is the finite difference of the reference loss sum(dy * y). */
    double *xd = ref_from_float(x, n), *dyd = ref_from_float(dy, n),
           *gdbl = ref_from_float(g, s->c);
    cs_arg arg = {s->c, hw, n, dyd, xd};
    for (int ch = 0; ch < s->c; ch += 1 + s->c / 4) {
        double fd = ref_central_diff(cs_loss_gamma, gdbl, ch, 1e-3, &arg);
        ck_assert_msg(fabs(fd - dgw[ch]) <= 1e-9 * (1 + dgtol[ch] * 1e5),
                      "dgamma[%d]: reference %.12g, finite difference %.12g", ch, dgw[ch], fd);
    }
    /* Accumulate (beta_acc 1) into an existing dgamma; dx written in place over dy. */
    ck_assert_int_eq(oclnn_tensor_upload(c, tdg, dg0, s->c, 1), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_channel_scale_backward(c, tx, tdy, tg, tdy, tdg, 1), OCLNN_SUCCESS);
    got = fx_download(tdg);
    for (int ch = 0; ch < s->c; ch++)
        dgw[ch] += dg0[ch];
    fx_assert_close_tol("channel_scale dgamma accumulated", got, dgw, dgtol, s->c);
    free(got);
    got = fx_download(tdy);
    fx_assert_close("channel_scale dx in place", got, want, n, 0, 1e-7);
    free(got);
    oclnn_tensor *ts[] = {tx, tdy, tg, ty, tdx, tdg};
    for (int i = 0; i < 6; i++)
        oclnn_tensor_destroy(ts[i]);
    free(x);
    free(dy);
    free(g);
    free(dg0);
    free(want);
    free(dgw);
    free(dgtol);
    free(xd);
    free(dyd);
    free(gdbl);
}
END_TEST

START_TEST(bad_arguments)
{
    oclnn_context *c = fx_ctx();
    oclnn_tensor_desc d12 = oclnn_tensor_desc_2d(3, 4), d10 = oclnn_tensor_desc_1d(10);
    oclnn_tensor_desc di = d12, dg = oclnn_tensor_desc_1d(5);
    di.dtype = OCLNN_I32;
    oclnn_tensor *a = fx_tensor(&d12, NULL), *y = fx_tensor(&d12, NULL), *z = fx_tensor(&d10, NULL);
    oclnn_tensor *ti = fx_tensor(&di, NULL), *g5 = fx_tensor(&dg, NULL);
    float ones[12] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    ck_assert_int_eq(oclnn_tensor_upload(c, a, ones, 12, 1), OCLNN_SUCCESS);
    fx_assert_status(oclnn_activation_forward(c, (oclnn_activation)9, a, y), OCLNN_INVALID_ARGUMENT,
                     "activation 9 is not");
    fx_assert_status(oclnn_activation_backward(c, (oclnn_activation)-1, a, a, y),
                     OCLNN_INVALID_ARGUMENT, "activation -1 is not");
    fx_assert_status(oclnn_activation_forward(c, OCLNN_ACT_RELU, a, z), OCLNN_INVALID_ARGUMENT,
                     "activation_forward: y [10] has 10 elements, expected 12");
    fx_assert_status(oclnn_activation_backward(c, OCLNN_ACT_GELU, a, z, y), OCLNN_INVALID_ARGUMENT,
                     "dy [10] has 10 elements");
    fx_assert_status(oclnn_activation_forward(c, OCLNN_ACT_RELU, NULL, y), OCLNN_INVALID_ARGUMENT,
                     "x is NULL");
    fx_assert_status(oclnn_activation_forward(NULL, OCLNN_ACT_RELU, a, y), OCLNN_INVALID_ARGUMENT,
                     NULL);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(NULL), "ctx is NULL"));
    fx_assert_status(oclnn_add(c, 1, a, 1, ti, y), OCLNN_INVALID_ARGUMENT,
                     "add: b has dtype 1, expected OCLNN_F32");
    fx_assert_status(oclnn_add(c, 1, a, 1, a, z), OCLNN_INVALID_ARGUMENT, "y [10]");
    fx_assert_status(oclnn_add(c, NAN, a, 1, a, y), OCLNN_INVALID_ARGUMENT,
                     "alpha nan is not finite");
    fx_assert_status(oclnn_scale(c, INFINITY, a, y), OCLNN_INVALID_ARGUMENT, "alpha inf");
    fx_assert_status(oclnn_scale(c, 2, a, z), OCLNN_INVALID_ARGUMENT, "scale: y [10]");
    fx_assert_status(oclnn_copy(c, z, y), OCLNN_INVALID_ARGUMENT, "copy: y [3][4] has 12");
    fx_assert_status(oclnn_channel_scale_forward(c, a, g5, y), OCLNN_INVALID_ARGUMENT,
                     "gamma [5] has 5 elements, expected 4");
    fx_assert_status(oclnn_channel_scale_forward(c, z, g5, z), OCLNN_INVALID_ARGUMENT,
                     "x [10] must be 4-D");
    fx_assert_status(oclnn_channel_scale_backward(c, a, a, g5, y, g5, 0), OCLNN_INVALID_ARGUMENT,
                     "gamma [5] has 5 elements, expected 4");
    oclnn_tensor_desc d4 = oclnn_tensor_desc_1d(4);
    oclnn_tensor *g4 = fx_tensor(&d4, ones);
    fx_assert_status(oclnn_channel_scale_backward(c, a, a, g4, y, g5, 0), OCLNN_INVALID_ARGUMENT,
                     "dgamma [5] has 5 elements, expected 4");
    fx_assert_status(oclnn_channel_scale_backward(c, a, a, g4, y, g4, 0.5f), OCLNN_INVALID_ARGUMENT,
                     "beta_acc 0.5 must be 0 or 1");
    assert_all_nan("y after rejected calls", y);
    assert_all_nan("dgamma after rejected calls", g5);
    oclnn_tensor *ts[] = {a, y, z, ti, g5, g4};
    for (int i = 0; i < 6; i++)
        oclnn_tensor_destroy(ts[i]);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("elementwise");
    TCase *tc = tcase_create("elementwise");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, activation_forward_backward, 0, 4 * NSHAPES);
    tcase_add_test(tc, activation_gradient_finite_difference);
    tcase_add_test(tc, gelu_saturates);
    tcase_add_test(tc, gelu_dense_sweep);
    tcase_add_test(tc, gelu_inf_nan);
    tcase_add_loop_test(tc, add_scale_copy, 0, NSHAPES);
    tcase_add_loop_test(tc, residual_relu, 0, NSHAPES);
    tcase_add_loop_test(tc, channel_scale, 0, NSHAPES);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_main(suite());
}
