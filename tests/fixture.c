/* fixture.c - shared test helpers (see fixture.h). */
#include "fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static oclnn_context *ctx;

oclnn_context *fx_ctx(void)
{
    if (!ctx) {
        oclnn_status s = oclnn_context_create(&ctx);
        ck_assert_msg(s == OCLNN_SUCCESS, "context_create: %s", oclnn_last_error(NULL));
    }
    return ctx;
}

void fx_ctx_release(void)
{
    oclnn_context_destroy(ctx);
    ctx = NULL;
}

void fx_fill(float *p, size_t n, uint32_t seed, float lo, float hi)
{
    uint32_t x = seed * 2654435761u + 12345u;
    if (x == 0)
        x = 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = lo + (hi - lo) * (float)((x >> 8) * (1.0 / 16777216.0));
    }
}

void fx_fill_nan(float *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = NAN;
}

float *fx_alloc(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    ck_assert_ptr_nonnull(p);
    return p;
}

double *fx_widen(const float *p, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    ck_assert_ptr_nonnull(d);
    for (size_t i = 0; i < n; i++)
        d[i] = p[i];
    return d;
}

oclnn_tensor *fx_tensor(const oclnn_tensor_desc *d, const float *data)
{
    oclnn_context *c = fx_ctx();
    oclnn_tensor *t = NULL;
    oclnn_status s = oclnn_tensor_create(c, d, &t);
    ck_assert_msg(s == OCLNN_SUCCESS, "tensor_create: %s", oclnn_last_error(c));
    size_t n = oclnn_tensor_desc_count(d);
    if (d->dtype != OCLNN_F32) {
        if (data)
            s = oclnn_tensor_upload(c, t, data, n, 1);
        else
            s = oclnn_tensor_fill(c, t, d->dtype == OCLNN_U8 ? 255 : -1);
    } else if (data) {
        s = oclnn_tensor_upload(c, t, data, n, 1);
    } else {
        s = oclnn_tensor_fill(c, t, NAN);
    }
    ck_assert_msg(s == OCLNN_SUCCESS, "tensor fill/upload: %s", oclnn_last_error(c));
    return t;
}

float *fx_download(const oclnn_tensor *t)
{
    oclnn_tensor_desc d = oclnn_tensor_get_desc(t);
    size_t n = oclnn_tensor_desc_count(&d);
    float *p = fx_alloc(n);
    oclnn_status s = oclnn_tensor_download(fx_ctx(), t, p, n, 1);
    ck_assert_msg(s == OCLNN_SUCCESS, "tensor_download: %s", oclnn_last_error(fx_ctx()));
    return p;
}

void fx_assert_all_nan(const char *what, const oclnn_tensor *t)
{
    float *p = fx_download(t);
    oclnn_tensor_desc d = oclnn_tensor_get_desc(t);
    for (size_t i = 0; i < oclnn_tensor_desc_count(&d); i++)
        ck_assert_msg(isnan(p[i]), "%s: element %zu was written (%g)", what, i, p[i]);
    free(p);
}

void fx_same_as_first_run(const char *what, const oclnn_tensor *t, float **first)
{
    float *got = fx_download(t);
    if (!*first) {
        *first = got;
        return;
    }
    oclnn_tensor_desc d = oclnn_tensor_get_desc(t);
    ck_assert_msg(memcmp(got, *first, oclnn_tensor_desc_count(&d) * sizeof(float)) == 0,
                  "%s differs between two identical runs", what);
    free(got);
    free(*first);
    *first = NULL;
}

void fx_destroy(oclnn_tensor *const *ts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        oclnn_tensor_destroy(ts[i]);
}

static void close_check(const char *what, const float *got, const double *want,
                        const double *tol, size_t n, double atol, double rtol)
{
    size_t bad = 0, first = n;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double lim = tol ? tol[i] : atol + rtol * fabs(want[i]);
        double e = fabs((double)got[i] - want[i]);
        if (!(e <= lim)) { /* NaN fails */
            if (first == n)
                first = i;
            bad++;
            if (!(e <= worst))
                worst = e;
        }
    }
    ck_assert_msg(bad == 0,
                  "%s: %zu of %zu elements out of tolerance; first at %zu: got %.9g want %.9g "
                  "(limit %.3g); worst error %.3g",
                  what, bad, n, first, first < n ? got[first] : 0.0,
                  first < n ? want[first] : 0.0,
                  first < n ? (tol ? tol[first] : atol + rtol * fabs(want[first])) : 0.0, worst);
}

void fx_assert_close(const char *what, const float *got, const double *want, size_t n,
                     double atol, double rtol)
{
    close_check(what, got, want, NULL, n, atol, rtol);
}

void fx_assert_tensor_close(const char *what, const oclnn_tensor *t, const double *want, size_t n,
                            double atol, double rtol)
{
    float *got = fx_download(t);
    fx_assert_close(what, got, want, n, atol, rtol);
    free(got);
}

void fx_assert_close_tol(const char *what, const float *got, const double *want,
                         const double *tol, size_t n)
{
    close_check(what, got, want, tol, n, 0, 0);
}

void fx_assert_status(oclnn_status got, oclnn_status want, const char *needle)
{
    const char *msg = oclnn_last_error(ctx);
    ck_assert_msg(got == want, "status %d (%s), expected %d (%s); message: %s", (int)got,
                  oclnn_status_string(got), (int)want, oclnn_status_string(want), msg);
    if (needle)
        ck_assert_msg(strstr(msg, needle) != NULL, "message \"%s\" does not contain \"%s\"", msg,
                      needle);
}

int fx_main(Suite *suite)
{
    SRunner *sr = srunner_create(suite);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    fx_ctx_release();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
