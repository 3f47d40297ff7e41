/* layernorm.cl - layer normalisation of x[n][c][hw] in two modes:
 *   CHW: one group per sample n over its d = c*hw contiguous elements, gamma/beta [d];
 *   channels (ConvNeXt): one group per (n, position) over the c channels (stride hw), gamma/beta
 *   [c]; a work-item takes RUN contiguous positions, VEC at a time, so every load is contiguous.
 * Defines: VEC, BLK (see norm_common.h);
 *          DRUN (default 1024) - elements of d per work-item of the CHW element-wise kernels,
 *          which loop over n inside so gamma/beta and the parameter gradients stay in registers;
 *          RUN (default 4 * VEC) - positions per work-item of the channels kernels. */
#include "norm_common.h"

#ifndef DRUN
#define DRUN 1024
#endif
#ifndef RUN
#define RUN (4 * VEC)
#endif
#if DRUN < 1 || RUN < VEC || RUN % VEC != 0
#error "DRUN must be >= 1 and RUN a multiple of VEC"
#endif

/* ---- CHW mode ---------------------------------------------------------------------------- */

/* part[2 * (g * nchunks + j) + {0, 1}] = (mean, M2) of chunk j of sample g. */
__kernel void ln_stats(__global const float *x, const int x_off, __global float *part,
                       const int groups, const int d, const int chunk, const int nchunks)
{
    const int gid = (int)get_global_id(0);
    const int g = gid / nchunks, j = gid % nchunks;
    if (g >= groups)
        return;
    const int r0 = j * chunk, r1 = min(r0 + chunk, d);
    float2 s = r0 < r1 ? run_stats(x + x_off + (size_t)g * d, r0, r1, d, d) : 0.0f;
    vstore2(s, gid, part);
}

/* Per sample: save_mean and save_invstd (biased variance). */
__kernel void ln_stats_finish(__global const float *part, const int groups, const int nchunks,
                              const int chunk, const int d, const float eps,
                              __global float *save_mean, const int sm_off,
                              __global float *save_invstd, const int si_off)
{
    const int g = (int)get_global_id(0);
    if (g >= groups)
        return;
    float2 s = combine_chunks(part + (size_t)2 * g * nchunks, nchunks, chunk, d);
    save_mean[sm_off + g] = s.x;
    save_invstd[si_off + g] = 1.0f / sqrt(s.y / (float)d + eps);
}

/* y[i][e] = (x[i][e] - mean[i]) * invstd[i] * gamma[e] + beta[e] for e in this work-item's run
 * [gid * DRUN, +DRUN) of d, every i. */
__kernel void ln_chw_normalize(__global const float *x, const int x_off, __global float *y,
                               const int y_off, __global const float *mean, const int m_off,
                               __global const float *invstd, const int si_off,
                               __global const float *gamma, const int g_off,
                               __global const float *beta, const int b_off, const int n,
                               const int d)
{
    const int e0 = (int)get_global_id(0) * DRUN;
    const int e1 = min(e0 + DRUN, d);
    int e = e0;
    for (; e + VEC <= e1; e += VEC) {
        const VTYPE g = VLOAD(gamma + g_off + e), b = VLOAD(beta + b_off + e);
        for (int i = 0; i < n; i++) {
            const size_t at = (size_t)i * d + e;
            const float m = mean[m_off + i], inv = invstd[si_off + i];
            VSTORE(fma((VLOAD(x + x_off + at) - m) * inv, g, b), y + y_off + at);
        }
    }
    for (; e < e1; e++) {
        const float g = gamma[g_off + e], b = beta[b_off + e];
        for (int i = 0; i < n; i++) {
            const size_t at = (size_t)i * d + e;
            y[y_off + at] = fma((x[x_off + at] - mean[m_off + i]) * invstd[si_off + i], g, b);
        }
    }
}

/* part[2 * (g * nchunks + j) + {0, 1}] = (sum gamma dy, sum gamma dy (x - mean)) over chunk j. */
__kernel void ln_chw_bwd_partial(__global const float *x, const int x_off, __global const float *dy,
                                 const int dy_off, __global const float *mean, const int m_off,
                                 __global const float *gamma, const int g_off, __global float *part,
                                 const int groups, const int d, const int chunk, const int nchunks)
{
    const int gid = (int)get_global_id(0);
    const int g = gid / nchunks, j = gid % nchunks;
    if (g >= groups)
        return;
    const int r0 = j * chunk, r1 = min(r0 + chunk, d);
    const float m = mean[m_off + g];
    __global const float *px = x + x_off + (size_t)g * d;
    __global const float *pd = dy + dy_off + (size_t)g * d;
    __global const float *pg = gamma + g_off;
    VTYPE a1 = 0.0f, a2 = 0.0f;
    int r = r0;
    for (; r + VEC <= r1; r += VEC) {
        VTYPE gd = VLOAD(pg + r) * VLOAD(pd + r);
        a1 += gd;
        a2 = fma(gd, VLOAD(px + r) - m, a2);
    }
    float2 s = (float2)(VSUM(a1), VSUM(a2));
    for (; r < r1; r++) {
        float gd = pg[r] * pd[r];
        s += (float2)(gd, gd * (px[r] - m));
    }
    vstore2(s, gid, part);
}

/* Per sample: coef[coef_off + 4g ..] = (k, b) of dx = invstd gamma dy + k (x - mean) + b. */
__kernel void ln_chw_bwd_finish(__global const float *part, const int groups, const int nchunks,
                                const int d, __global const float *invstd, const int si_off,
                                __global float *coef, const int coef_off)
{
    const int g = (int)get_global_id(0);
    if (g >= groups)
        return;
    float sg = 0.0f, sgx = 0.0f;
    for (int j = 0; j < nchunks; j++) {
        float2 p = vload2((size_t)g * nchunks + j, part);
        sg += p.x;
        sgx += p.y;
    }
    const float inv = invstd[si_off + g], rd = 1.0f / (float)d;
    coef[coef_off + 2 * g] = -inv * inv * inv * sgx * rd;
    coef[coef_off + 2 * g + 1] = -inv * sg * rd;
}

/* dx for this work-item's run of d over every sample, and dgamma/dbeta of the run, which sum
 * over samples in order (beta_acc 1: added to the old values; 0: they are never read). */
__kernel void ln_chw_bwd_dx(__global const float *x, const int x_off, __global const float *dy,
                            const int dy_off, __global const float *mean, const int m_off,
                            __global const float *invstd, const int si_off,
                            __global const float *gamma, const int g_off,
                            __global const float *coef, const int coef_off, __global float *dx,
                            const int dx_off, __global float *dgamma, const int dg_off,
                            __global float *dbeta, const int db_off, const float beta_acc,
                            const int n, const int d)
{
    const int e0 = (int)get_global_id(0) * DRUN;
    const int e1 = min(e0 + DRUN, d);
    int e = e0;
    for (; e + VEC <= e1; e += VEC) {
        const VTYPE g = VLOAD(gamma + g_off + e);
        VTYPE dg = 0.0f, db = 0.0f;
        for (int i = 0; i < n; i++) {
            const size_t at = (size_t)i * d + e;
            const float m = mean[m_off + i], inv = invstd[si_off + i];
            const float k = coef[coef_off + 2 * i], b = coef[coef_off + 2 * i + 1];
            const VTYPE gy = VLOAD(dy + dy_off + at), xm = VLOAD(x + x_off + at) - m;
            VSTORE(fma(g * gy, (VTYPE)(inv), fma(xm, (VTYPE)(k), (VTYPE)(b))), dx + dx_off + at);
            dg = fma(gy, xm * inv, dg);
            db += gy;
        }
        if (beta_acc != 0.0f) {
            dg += VLOAD(dgamma + dg_off + e);
            db += VLOAD(dbeta + db_off + e);
        }
        VSTORE(dg, dgamma + dg_off + e);
        VSTORE(db, dbeta + db_off + e);
    }
    for (; e < e1; e++) {
        const float g = gamma[g_off + e];
        float dg = 0.0f, db = 0.0f;
        for (int i = 0; i < n; i++) {
            const size_t at = (size_t)i * d + e;
            const float inv = invstd[si_off + i];
            const float gy = dy[dy_off + at], xm = x[x_off + at] - mean[m_off + i];
            dx[dx_off + at] =
                fma(g * gy, inv, fma(xm, coef[coef_off + 2 * i], coef[coef_off + 2 * i + 1]));
            dg = fma(gy, xm * inv, dg);
            db += gy;
        }
        if (beta_acc != 0.0f) {
            dg += dgamma[dg_off + e];
            db += dbeta[db_off + e];
        }
        dgamma[dg_off + e] = dg;
        dbeta[db_off + e] = db;
    }
}

/* ---- channels mode ------------------------------------------------------------------------ */

#define LD_V(p) VLOAD(p)
#define ST_V(v, p) VSTORE(v, p)
#define HS_V(v) VSUM(v)
#define LD_S(p) (*(p))
#define ST_S(v, p) (*(p) = (v))
#define HS_S(v) (v)

/* Normalises the lanes of T (VTYPE or float: that many consecutive positions) over the c
 * channels at stride hw, in three passes over the (cached) column: mean, corrected deviations,
 * output. */
#define LN_CH_FORWARD(NAME, T, LD, ST)                                                             \
    static inline void NAME(__global const float *px, __global float *py,                          \
                            __global const float *gamma, __global const float *beta,               \
                            __global float *pm, __global float *pi, int c, int hw, float eps)      \
    {                                                                                              \
        T s = 0.0f;                                                                                \
        for (int k = 0; k < c; k++)                                                                \
            s += LD(px + (size_t)k * hw);                                                          \
        const float rc = 1.0f / (float)c;                                                          \
        T m = s * rc, d1 = 0.0f, d2 = 0.0f;                                                        \
        for (int k = 0; k < c; k++) {                                                              \
            T dv = LD(px + (size_t)k * hw) - m;                                                    \
            d1 += dv;                                                                              \
            d2 = fma(dv, dv, d2);                                                                  \
        }                                                                                          \
        m += d1 * rc;                                                                              \
        T inv = 1.0f / sqrt(fmax(d2 - d1 * d1 * rc, 0.0f) * rc + eps);                             \
        ST(m, pm);                                                                                 \
        ST(inv, pi);                                                                               \
        for (int k = 0; k < c; k++)                                                                \
            ST(fma((LD(px + (size_t)k * hw) - m) * inv, (T)(gamma[k]), (T)(beta[k])),              \
               py + (size_t)k * hw);                                                               \
    }
LN_CH_FORWARD(ln_ch_forward_v, VTYPE, LD_V, ST_V)
LN_CH_FORWARD(ln_ch_forward_s, float, LD_S, ST_S)

/* One work-item per (n, run of RUN positions). save_mean/save_invstd are [n][hw]. */
__kernel void ln_ch_forward(__global const float *x, const int x_off, __global float *y,
                            const int y_off, __global const float *gamma, const int g_off,
                            __global const float *beta, const int b_off, __global float *save_mean,
                            const int sm_off, __global float *save_invstd, const int si_off,
                            const int n, const int c, const int hw, const float eps)
{
    const int runs = (hw + RUN - 1) / RUN;
    const int gid = (int)get_global_id(0);
    const int i = gid / runs, p0 = gid % runs * RUN;
    if (i >= n)
        return;
    const int p1 = min(p0 + RUN, hw);
    const size_t base = (size_t)i * c * hw;
    int p = p0;
    for (; p + VEC <= p1; p += VEC)
        ln_ch_forward_v(x + x_off + base + p, y + y_off + base + p, gamma + g_off, beta + b_off,
                        save_mean + sm_off + (size_t)i * hw + p,
                        save_invstd + si_off + (size_t)i * hw + p, c, hw, eps);
    for (; p < p1; p++)
        ln_ch_forward_s(x + x_off + base + p, y + y_off + base + p, gamma + g_off, beta + b_off,
                        save_mean + sm_off + (size_t)i * hw + p,
                        save_invstd + si_off + (size_t)i * hw + p, c, hw, eps);
}

/* dx for the lanes of T, and per channel k the lane sums of dy * xhat and dy added to
 * part[2k], part[2k + 1] (written instead when first is set). */
#define LN_CH_BACKWARD(NAME, T, LD, ST, HS)                                                        \
    static inline void NAME(__global const float *px, __global const float *pd,                    \
                            __global float *pdx, __global const float *gamma,                      \
                            __global const float *pm, __global const float *pi,                    \
                            __global float *part, int first, int c, int hw)                        \
    {                                                                                              \
        const T m = LD(pm), inv = LD(pi);                                                          \
        T sg = 0.0f, sgx = 0.0f;                                                                   \
        for (int k = 0; k < c; k++) {                                                              \
            T gd = (T)(gamma[k]) * LD(pd + (size_t)k * hw);                                        \
            sg += gd;                                                                              \
            sgx = fma(gd, LD(px + (size_t)k * hw) - m, sgx);                                       \
        }                                                                                          \
        const float rc = 1.0f / (float)c;                                                          \
        const T kk = -inv * inv * inv * sgx * rc, bb = -inv * sg * rc;                             \
        for (int k = 0; k < c; k++) {                                                              \
            T gy = LD(pd + (size_t)k * hw), xm = LD(px + (size_t)k * hw) - m;                      \
            ST(fma((T)(gamma[k]) * gy, inv, fma(xm, kk, bb)), pdx + (size_t)k * hw);               \
            float dg = HS(gy * xm * inv), db = HS(gy);                                             \
            part[2 * k] = first ? dg : part[2 * k] + dg;                                           \
            part[2 * k + 1] = first ? db : part[2 * k + 1] + db;                                   \
        }                                                                                          \
    }
LN_CH_BACKWARD(ln_ch_backward_v, VTYPE, LD_V, ST_V, HS_V)
LN_CH_BACKWARD(ln_ch_backward_s, float, LD_S, ST_S, HS_S)

/* One work-item per (n, run of RUN positions): dx, and its partial parameter gradients at
 * part[2 * c * gid ..] (per channel: sum dy * xhat, sum dy). */
__kernel void ln_ch_backward(__global const float *x, const int x_off, __global const float *dy,
                             const int dy_off, __global const float *gamma, const int g_off,
                             __global const float *mean, const int m_off,
                             __global const float *invstd, const int si_off, __global float *dx,
                             const int dx_off, __global float *part, const int n, const int c,
                             const int hw)
{
    const int runs = (hw + RUN - 1) / RUN;
    const int gid = (int)get_global_id(0);
    const int i = gid / runs, p0 = gid % runs * RUN;
    if (i >= n)
        return;
    const int p1 = min(p0 + RUN, hw);
    const size_t base = (size_t)i * c * hw, sbase = (size_t)i * hw;
    __global float *pp = part + (size_t)2 * c * gid;
    int p = p0;
    for (; p + VEC <= p1; p += VEC)
        ln_ch_backward_v(x + x_off + base + p, dy + dy_off + base + p, dx + dx_off + base + p,
                         gamma + g_off, mean + m_off + sbase + p, invstd + si_off + sbase + p, pp,
                         p == p0, c, hw);
    for (; p < p1; p++)
        ln_ch_backward_s(x + x_off + base + p, dy + dy_off + base + p, dx + dx_off + base + p,
                         gamma + g_off, mean + m_off + sbase + p, invstd + si_off + sbase + p, pp,
                         p == p0, c, hw);
}

/* dgamma[k], dbeta[k] = sums of the nparts partials in order (beta_acc as ln_chw_bwd_dx). */
__kernel void ln_ch_params(__global const float *part, const int nparts, const int c,
                           __global float *dgamma, const int dg_off, __global float *dbeta,
                           const int db_off, const float beta_acc)
{
    const int k = (int)get_global_id(0);
    if (k >= c)
        return;
    float dg = 0.0f, db = 0.0f;
    for (int j = 0; j < nparts; j++) {
        float2 v = vload2((size_t)j * c + k, part);
        dg += v.x;
        db += v.y;
    }
    dgamma[dg_off + k] = beta_acc != 0.0f ? dgamma[dg_off + k] + dg : dg;
    dbeta[db_off + k] = beta_acc != 0.0f ? dbeta[db_off + k] + db : db;
}
