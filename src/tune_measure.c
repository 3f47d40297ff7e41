/* tune_measure.c - what the GEMM and convolution tuners share: the clock, progress lines,
 * deterministic random data, and the checks of a mode and a budget. */
#include "tune.h"

#include <stdio.h>
#include <time.h>

double oclnn__tune_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void oclnn__tune_progress(FILE *out, double start, const char *fmt, ...)
{
    if (!out)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(out, "tune %7.1fs: ", oclnn__tune_now() - start);
    vfprintf(out, fmt, ap);
    fputc('\n', out);
    va_end(ap);
    fflush(out);
}

uint64_t oclnn__tune_rand(uint64_t *state)
{
    uint64_t x = *state; /* xorshift64 */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

void oclnn__tune_fill(float *p, size_t n, uint64_t *state)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (float)((double)(oclnn__tune_rand(state) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

oclnn_status oclnn__tune_check_mode(oclnn_context *ctx, const char *op, oclnn_tune_mode mode,
                                    double budget_s)
{
    if (mode != OCLNN_TUNE_OFF && mode != OCLNN_TUNE_FAST && mode != OCLNN_TUNE_FULL)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: mode %d is not OFF (0), FAST (1) or FULL (2)", op, (int)mode);
    if (!(budget_s > 0) || budget_s > 1e6)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: budget_s %g must be in (0, 1e6] seconds", op, budget_s);
    return OCLNN_SUCCESS;
}
