/* ref_norm.c - naive double-precision references for batch norm, layer norm and linear layers
 * (see ref_norm.h). Two-pass statistics throughout. */
#include "ref_norm.h"

#include <math.h>
#include <stddef.h>

/* Index of element (i, j) of channel-major batch-norm group c: i over n, j over hw. */
#define BN_AT(ni, ci, j) (((size_t)(ni)*c + (ci)) * hw + (j))

static void bn_stats(const double *x, int n, int c, int hw, int ci, double *mean, double *m2)
{
    double s = 0, q = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < hw; j++)
            s += x[BN_AT(i, ci, j)];
    double m = s / ((double)n * hw);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < hw; j++) {
            double d = x[BN_AT(i, ci, j)] - m;
            q += d * d;
        }
    *mean = m;
    *m2 = q;
}

void ref_bn_forward_train(const double *x, int n, int c, int hw, const double *gamma,
                          const double *beta, double eps, double *y, double *mean, double *invstd,
                          double *var_unbiased)
{
    double cnt = (double)n * hw;
    for (int ci = 0; ci < c; ci++) {
        double m, q;
        bn_stats(x, n, c, hw, ci, &m, &q);
        double inv = 1.0 / sqrt(q / cnt + eps);
        if (mean)
            mean[ci] = m;
        if (invstd)
            invstd[ci] = inv;
        if (var_unbiased)
            var_unbiased[ci] = cnt > 1 ? q / (cnt - 1) : 0.0;
        for (int i = 0; y && i < n; i++)
            for (int j = 0; j < hw; j++) {
                size_t at = BN_AT(i, ci, j);
                y[at] = (x[at] - m) * inv * gamma[ci] + beta[ci];
            }
    }
}

void ref_bn_forward_infer(const double *x, int n, int c, int hw, const double *gamma,
                          const double *beta, const double *rmean, const double *rvar, double eps,
                          double *y)
{
    for (int ci = 0; ci < c; ci++) {
        double inv = 1.0 / sqrt(rvar[ci] + eps);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++) {
                size_t at = BN_AT(i, ci, j);
                y[at] = (x[at] - rmean[ci]) * inv * gamma[ci] + beta[ci];
            }
    }
}

void ref_bn_backward(const double *x, const double *dy, int n, int c, int hw, const double *gamma,
                     double eps, double *dx, double *dgamma, double *dbeta)
{
    double cnt = (double)n * hw;
    for (int ci = 0; ci < c; ci++) {
        double m, q;
        bn_stats(x, n, c, hw, ci, &m, &q);
        double inv = 1.0 / sqrt(q / cnt + eps);
        double sdy = 0, sdyx = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++) {
                size_t at = BN_AT(i, ci, j);
                sdy += dy[at];
                sdyx += dy[at] * (x[at] - m) * inv;
            }
        dgamma[ci] = sdyx;
        dbeta[ci] = sdy;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++) {
                size_t at = BN_AT(i, ci, j);
                double xh = (x[at] - m) * inv;
                dx[at] = gamma[ci] * inv * (dy[at] - sdy / cnt - xh * sdyx / cnt);
            }
    }
}

/* Layer-norm groups: group g has `len` elements; element k sits at x[ln_at(l, g, k)] and uses
 * gamma[k]. */
typedef struct ln_layout {
    int chw, c, hw, len;
} ln_layout;

static size_t ln_at(const ln_layout *l, int g, int k)
{
    if (l->chw)
        return (size_t)g * l->len + k;
    int ni = g / l->hw, p = g % l->hw;
    return ((size_t)ni * l->c + k) * l->hw + p;
}

/* The layout of layer norm over (c, hw) per sample (chw) or over c at each position; sets
 * *groups. */
static ln_layout ln_layout_of(int chw, int n, int c, int hw, int *groups)
{
    *groups = chw ? n : n * hw;
    return (ln_layout){chw, c, hw, chw ? c * hw : c};
}

/* Two-pass statistics of group g: returns the mean and sets *inv to 1 / sqrt(var + eps). */
static double ln_stats(const ln_layout *l, const double *x, int g, double eps, double *inv)
{
    double s = 0, q = 0;
    for (int k = 0; k < l->len; k++)
        s += x[ln_at(l, g, k)];
    double m = s / l->len;
    for (int k = 0; k < l->len; k++) {
        double d = x[ln_at(l, g, k)] - m;
        q += d * d;
    }
    *inv = 1.0 / sqrt(q / l->len + eps);
    return m;
}

void ref_ln_forward(int chw, const double *x, int n, int c, int hw, const double *gamma,
                    const double *beta, double eps, double *y, double *mean, double *invstd)
{
    int groups;
    ln_layout l = ln_layout_of(chw, n, c, hw, &groups);
    for (int g = 0; g < groups; g++) {
        double inv, m = ln_stats(&l, x, g, eps, &inv);
        if (mean)
            mean[g] = m;
        if (invstd)
            invstd[g] = inv;
        for (int k = 0; k < l.len; k++) {
            size_t at = ln_at(&l, g, k);
            y[at] = (x[at] - m) * inv * gamma[k] + beta[k];
        }
    }
}

void ref_ln_backward(int chw, const double *x, const double *dy, int n, int c, int hw,
                     const double *gamma, double eps, double *dx, double *dgamma, double *dbeta)
{
    int groups;
    ln_layout l = ln_layout_of(chw, n, c, hw, &groups);
    for (int k = 0; k < l.len; k++)
        dgamma[k] = dbeta[k] = 0;
    for (int g = 0; g < groups; g++) {
        double inv, m = ln_stats(&l, x, g, eps, &inv);
        double sg = 0, sgx = 0; /* sums of gamma dy and gamma dy xhat over the group */
        for (int k = 0; k < l.len; k++) {
            size_t at = ln_at(&l, g, k);
            double xh = (x[at] - m) * inv;
            sg += gamma[k] * dy[at];
            sgx += gamma[k] * dy[at] * xh;
            dgamma[k] += dy[at] * xh;
            dbeta[k] += dy[at];
        }
        for (int k = 0; k < l.len; k++) {
            size_t at = ln_at(&l, g, k);
            double xh = (x[at] - m) * inv;
            dx[at] = inv * (gamma[k] * dy[at] - sg / l.len - xh * sgx / l.len);
        }
    }
}

void ref_linear_forward(const double *x, const double *w, const double *b, int n, int in, int out,
                        double *y)
{
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) {
            double s = b ? b[o] : 0.0;
            for (int k = 0; k < in; k++)
                s += x[(size_t)i * in + k] * w[(size_t)o * in + k];
            y[(size_t)i * out + o] = s;
        }
}

void ref_linear_backward(const double *x, const double *w, const double *dy, int n, int in, int out,
                         double *dx, double *dw, double *db)
{
    for (int i = 0; i < n; i++)
        for (int k = 0; k < in; k++) {
            double s = 0;
            for (int o = 0; o < out; o++)
                s += dy[(size_t)i * out + o] * w[(size_t)o * in + k];
            dx[(size_t)i * in + k] = s;
        }
    for (int o = 0; o < out; o++) {
        double sb = 0;
        for (int i = 0; i < n; i++)
            sb += dy[(size_t)i * out + o];
        db[o] = sb;
        for (int k = 0; k < in; k++) {
            double s = 0;
            for (int i = 0; i < n; i++)
                s += dy[(size_t)i * out + o] * x[(size_t)i * in + k];
            dw[(size_t)o * in + k] = s;
        }
    }
}

void ref_ln_bounds(int chw, const double *x, const double *dy, int n, int c, int hw,
                   const double *gamma, const double *beta, double eps, double *y_bound,
                   double *dx_bound, double *dgamma_bound, double *dbeta_bound)
{
    int groups;
    ln_layout l = ln_layout_of(chw, n, c, hw, &groups);
    for (int k = 0; k < l.len; k++)
        dgamma_bound[k] = dbeta_bound[k] = 0;
    for (int g = 0; g < groups; g++) {
        double inv, m = ln_stats(&l, x, g, eps, &inv);
        double s0 = 0, s1 = 0;
        for (int k = 0; k < l.len; k++) {
            size_t at = ln_at(&l, g, k);
            double xh = (x[at] - m) * inv;
            s0 += fabs(gamma[k] * dy[at]);
            s1 += fabs(gamma[k] * dy[at] * xh);
            dgamma_bound[k] += fabs(dy[at]) * inv * (fabs(x[at]) + fabs(m));
            dbeta_bound[k] += fabs(dy[at]);
            y_bound[at] = fabs(gamma[k]) * inv * (fabs(x[at]) + fabs(m)) + fabs(beta[k]);
        }
        for (int k = 0; k < l.len; k++) {
            size_t at = ln_at(&l, g, k);
            double xh = (x[at] - m) * inv;
            dx_bound[at] = inv * (fabs(gamma[k] * dy[at]) + fabs(xh) * s1 / l.len + s0 / l.len);
        }
    }
}
