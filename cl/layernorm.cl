/* layernorm.cl - layer normalisation of x[n][c][hw] in two modes:
 *   CHW: one group per sample n over its d = c*hw contiguous elements, gamma/beta [d];
 *   channels (ConvNeXt): one group per (n, position) over the c channels (stride hw), gamma/beta
 *   [c]; a work-item takes RUN contiguous positions, VEC at a time, so every load is contiguous.
 * Defines: VEC, BLK (see norm_common.h);
 *          DRUN (default 2048) - elements of d per work-item of the CHW element-wise kernels;
 *          TILE (default 4) - vectors of positions the channels kernels walk the channels with
 *          (each channel row is read in runs of TILE * VEC floats);
 *          RUN (default TILE * VEC) - positions per work-item of the channels kernels. */
#include "norm_common.h"

#ifndef DRUN
#define DRUN 2048
#endif
#ifndef TILE
#define TILE 4
#endif
#ifndef RUN
#define RUN (TILE * VEC)
#endif
#if DRUN < 1 || TILE < 1 || RUN < VEC || RUN % VEC != 0
#error "DRUN and TILE must be >= 1 and RUN a multiple of VEC"
#endif

/* ---- CHW mode ---------------------------------------------------------------------------- */

/* Sums of four vectors at a time into four accumulators (independent add chains), folded in a
 * fixed order. */
static inline float seg_sum4(__global const float *p, int len, float k)
{
    VTYPE a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
    int i = 0;
    for (; i + 4 * VEC <= len; i += 4 * VEC) {
        a0 += VLOAD(p + i) - k;
        a1 += VLOAD(p + i + VEC) - k;
        a2 += VLOAD(p + i + 2 * VEC) - k;
        a3 += VLOAD(p + i + 3 * VEC) - k;
    }
    float s = VSUM((a0 + a1) + (a2 + a3));
    for (; i < len; i++)
        s += p[i] - k;
    return s;
}

/* (sum of d, sum of d^2), d = (p[i] - k) - m, as seg_sum4. */
static inline float2 seg_dev4(__global const float *p, int len, float k, float m)
{
    VTYPE s0 = 0.0f, s1 = 0.0f, q0 = 0.0f, q1 = 0.0f;
    int i = 0;
    for (; i + 2 * VEC <= len; i += 2 * VEC) {
        const VTYPE d0 = (VLOAD(p + i) - k) - m, d1 = (VLOAD(p + i + VEC) - k) - m;
        s0 += d0;
        s1 += d1;
        q0 = fma(d0, d0, q0);
        q1 = fma(d1, d1, q1);
    }
    float2 s = (float2)(VSUM(s0 + s1), VSUM(q0 + q1));
    for (; i < len; i++) {
        const float d = (p[i] - k) - m;
        s += (float2)(d, d * d);
    }
    return s;
}

/* run_stats (norm_common.h) over the contiguous elements [r0, r1) of p, with the independent
 * accumulators of seg_sum4 and seg_dev4. */
static inline float2 contig_stats(__global const float *p, int r0, int r1, float shift)
{
    float n = 0.0f, m = 0.0f, m2 = 0.0f;
    for (int b0 = r0; b0 < r1; b0 += BLK) {
        const int len = min(BLK, r1 - b0);
        const float nb = (float)len, mb = seg_sum4(p + b0, len, shift) / nb;
        const float2 d = seg_dev4(p + b0, len, shift, mb);
        const float corr = d.x / nb;
        chan_merge(&n, &m, &m2, nb, mb + corr, fmax(d.y - d.x * corr, 0.0f));
    }
    return (float2)(m, m2);
}

/* part[2 * (g * nchunks + j) + {0, 1}] = (mean - x[g][0], M2) of chunk j of sample g. */
__kernel void ln_stats(__global const float *x, const int x_off, __global float *part,
                       const int groups, const int d, const int chunk, const int nchunks)
{
    const int gid = (int)get_global_id(0);
    int g, r0, r1;
    if (!chunk_of(gid, groups, d, chunk, nchunks, &g, &r0, &r1))
        return;
    __global const float *base = x + x_off + (size_t)g * d;
    float2 s = r0 < r1 ? contig_stats(base, r0, r1, base[0]) : 0.0f;
    vstore2(s, gid, part);
}

/* Per sample: save_mean and save_invstd (biased variance). */
__kernel void ln_stats_finish(__global const float *x, const int x_off, __global const float *part,
                              const int groups, const int nchunks, const int chunk, const int d,
                              const float eps, __global float *save_mean, const int sm_off,
                              __global float *save_invstd, const int si_off)
{
    const int g = (int)get_global_id(0);
    if (g >= groups)
        return;
    float2 s = combine_chunks(part + (size_t)2 * g * nchunks, nchunks, chunk, d);
    save_mean[sm_off + g] = x[x_off + (size_t)g * d] + s.x;
    save_invstd[si_off + g] = 1.0f / sqrt(s.y / (float)d + eps);
}

/* One work-item per sample, when the samples keep the device busy: statistics, then the
 * normalisation in reverse block order while the sample is still cached (x is read from memory
 * once instead of twice). */
__kernel void ln_chw_forward_fused(__global const float *x, const int x_off, __global float *y,
                                   const int y_off, __global const float *gamma, const int g_off,
                                   __global const float *beta, const int b_off,
                                   __global float *save_mean, const int sm_off,
                                   __global float *save_invstd, const int si_off, const int groups,
                                   const int d, const float eps)
{
    const int g = (int)get_global_id(0);
    if (g >= groups)
        return;
    __global const float *px = x + x_off + (size_t)g * d;
    __global float *py = y + y_off + (size_t)g * d;
    const float2 s = contig_stats(px, 0, d, px[0]);
    const float m = px[0] + s.x, inv = 1.0f / sqrt(s.y / (float)d + eps);
    save_mean[sm_off + g] = m;
    save_invstd[si_off + g] = inv;
    gamma += g_off;
    beta += b_off;
    for (int b0 = (d - 1) / BLK * BLK; b0 >= 0; b0 -= BLK) {
        const int b1 = min(b0 + BLK, d);
        int e = b0;
        for (; e + VEC <= b1; e += VEC)
            VSTORE(fma((VLOAD(px + e) - m) * inv, VLOAD(gamma + e), VLOAD(beta + e)), py + e);
        for (; e < b1; e++)
            py[e] = fma((px[e] - m) * inv, gamma[e], beta[e]);
    }
}

/* Fully unrolled loops over a tile keep its arrays in registers. */
#define UNROLL _Pragma("unroll")
#define LD_V(p) VLOAD(p)
#define ST_V(v, p) VSTORE(v, p)
#define HS_V(v) VSUM(v)
#define LD_S(p) (*(p))
#define ST_S(v, p) (*(p) = (v))
#define HS_S(v) (v)

/* y[i][e] = (x[i][e] - mean[i]) * invstd[i] * gamma[e] + beta[e] for e in this work-item's run
 * [gid * DRUN, +DRUN) of d, sample after sample: each row is read in one contiguous run while
 * the run's gamma and beta stay in the L1 cache. */
__kernel void ln_chw_normalize(__global const float *x, const int x_off, __global float *y,
                               const int y_off, __global const float *mean, const int m_off,
                               __global const float *invstd, const int si_off,
                               __global const float *gamma, const int g_off,
                               __global const float *beta, const int b_off, const int n,
                               const int d)
{
    const int e0 = (int)get_global_id(0) * DRUN;
    const int len = min(DRUN, d - e0);
    if (len <= 0)
        return;
    gamma += g_off + e0;
    beta += b_off + e0;
    for (int i = 0; i < n; i++) {
        const float m = mean[m_off + i], inv = invstd[si_off + i];
        __global const float *px = x + x_off + (size_t)i * d + e0;
        __global float *py = y + y_off + (size_t)i * d + e0;
        int e = 0;
        for (; e + VEC <= len; e += VEC)
            VSTORE(fma((VLOAD(px + e) - m) * inv, VLOAD(gamma + e), VLOAD(beta + e)), py + e);
        for (; e < len; e++)
            py[e] = fma((px[e] - m) * inv, gamma[e], beta[e]);
    }
}

/* part[2 * (g * nchunks + j) + {0, 1}] = (sum gamma dy, sum gamma dy (x - mean)) over chunk j. */
__kernel void ln_chw_bwd_partial(__global const float *x, const int x_off, __global const float *dy,
                                 const int dy_off, __global const float *mean, const int m_off,
                                 __global const float *gamma, const int g_off, __global float *part,
                                 const int groups, const int d, const int chunk, const int nchunks)
{
    const int gid = (int)get_global_id(0);
    int g, r0, r1;
    if (!chunk_of(gid, groups, d, chunk, nchunks, &g, &r0, &r1))
        return;
    const float m = mean[m_off + g];
    __global const float *px = x + x_off + (size_t)g * d;
    __global const float *pd = dy + dy_off + (size_t)g * d;
    __global const float *pg = gamma + g_off;
    VTYPE a1 = 0.0f, a2 = 0.0f;
    int r = r0;
    for (; r + VEC <= r1; r += VEC) {
        const VTYPE gv = VLOAD(pg + r), dv = VLOAD(pd + r), xv = VLOAD(px + r);
        a1 = fma(gv, dv, a1);
        a2 = fma(gv * dv, xv - m, a2);
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

/* dx for this work-item's run of d, sample after sample, and dgamma/dbeta of the run summed
 * over samples in order in the outputs themselves (L1-resident): beta_acc 1 starts from the old
 * values, 0 never reads them. */
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
    const int len = min(DRUN, d - e0);
    if (len <= 0)
        return;
    gamma += g_off + e0;
    dgamma += dg_off + e0;
    dbeta += db_off + e0;
    for (int i = 0; i < n; i++) {
        const float m = mean[m_off + i], inv = invstd[si_off + i];
        const float k = coef[coef_off + 2 * i], b = coef[coef_off + 2 * i + 1];
        const size_t at = (size_t)i * d + e0;
        __global const float *px = x + x_off + at;
        __global const float *pd = dy + dy_off + at;
        __global float *po = dx + dx_off + at;
        const int fresh = i == 0 && beta_acc == 0.0f;
        int e = 0;
        for (; e + VEC <= len; e += VEC) {
            const VTYPE gy = VLOAD(pd + e), xm = VLOAD(px + e) - m;
            VSTORE(fma(VLOAD(gamma + e) * gy, (VTYPE)(inv), fma(xm, (VTYPE)(k), (VTYPE)(b))),
                   po + e);
            const VTYPE g = gy * xm * inv;
            VSTORE(fresh ? g : VLOAD(dgamma + e) + g, dgamma + e);
            VSTORE(fresh ? gy : VLOAD(dbeta + e) + gy, dbeta + e);
        }
        for (; e < len; e++) {
            const float gy = pd[e], xm = px[e] - m;
            po[e] = fma(gamma[e] * gy, inv, fma(xm, k, b));
            const float g = gy * xm * inv;
            dgamma[e] = fresh ? g : dgamma[e] + g;
            dbeta[e] = fresh ? gy : dbeta[e] + gy;
        }
    }
}

/* ---- channels mode ------------------------------------------------------------------------ */

/* Normalises U units of type T (W consecutive positions each) over the c channels at stride hw,
 * in three passes over the (cached) columns: mean, corrected deviations, output. */
#define LN_CH_FORWARD(NAME, T, LD, ST, U, W)                                                       \
    static inline void NAME(__global const float *px, __global float *py,                          \
                            __global const float *gamma, __global const float *beta,               \
                            __global float *pm, __global float *pi, int c, int hw, float eps)      \
    {                                                                                              \
        const float rc = 1.0f / (float)c;                                                          \
        T m[U], d1[U], d2[U];                                                                      \
        UNROLL for (int u = 0; u < U; u++) m[u] = 0.0f;                                            \
        for (int k = 0; k < c; k++)                                                                \
            UNROLL for (int u = 0; u < U; u++) m[u] += LD(px + (size_t)k * hw + u * W);            \
        UNROLL for (int u = 0; u < U; u++)                                                         \
        {                                                                                          \
            m[u] *= rc;                                                                            \
            d1[u] = 0.0f;                                                                          \
            d2[u] = 0.0f;                                                                          \
        }                                                                                          \
        for (int k = 0; k < c; k++)                                                                \
            UNROLL for (int u = 0; u < U; u++)                                                     \
            {                                                                                      \
                T dv = LD(px + (size_t)k * hw + u * W) - m[u];                                     \
                d1[u] += dv;                                                                       \
                d2[u] = fma(dv, dv, d2[u]);                                                        \
            }                                                                                      \
        UNROLL for (int u = 0; u < U; u++)                                                         \
        {                                                                                          \
            m[u] += d1[u] * rc;                                                                    \
            d2[u] = 1.0f / sqrt(fmax(d2[u] - d1[u] * d1[u] * rc, 0.0f) * rc + eps);                \
            ST(m[u], pm + u * W);                                                                  \
            ST(d2[u], pi + u * W);                                                                 \
        }                                                                                          \
        for (int k = 0; k < c; k++) {                                                              \
            const T g = gamma[k], b = beta[k];                                                     \
            UNROLL for (int u = 0; u < U; u++)                                                     \
                ST(fma((LD(px + (size_t)k * hw + u * W) - m[u]) * d2[u], g, b),                    \
                   py + (size_t)k * hw + u * W);                                                   \
        }                                                                                          \
    }
LN_CH_FORWARD(ln_ch_forward_t, VTYPE, LD_V, ST_V, TILE, VEC)
LN_CH_FORWARD(ln_ch_forward_v, VTYPE, LD_V, ST_V, 1, VEC)
LN_CH_FORWARD(ln_ch_forward_s, float, LD_S, ST_S, 1, 1)

/* Work-item gid of a channels-mode kernel: sample *i and its positions [*p0, *p1), a run of
 * RUN; false past the last sample. */
static inline bool ch_run(int gid, int n, int hw, int *i, int *p0, int *p1)
{
    const int runs = (hw + RUN - 1) / RUN;
    *i = gid / runs;
    *p0 = gid % runs * RUN;
    *p1 = min(*p0 + RUN, hw);
    return *i < n;
}

/* One work-item per (n, run of RUN positions). save_mean/save_invstd are [n][hw]. */
__kernel void ln_ch_forward(__global const float *x, const int x_off, __global float *y,
                            const int y_off, __global const float *gamma, const int g_off,
                            __global const float *beta, const int b_off, __global float *save_mean,
                            const int sm_off, __global float *save_invstd, const int si_off,
                            const int n, const int c, const int hw, const float eps)
{
    const int gid = (int)get_global_id(0);
    int i, p0, p1;
    if (!ch_run(gid, n, hw, &i, &p0, &p1))
        return;
    const size_t base = (size_t)i * c * hw, sbase = (size_t)i * hw;
    x += x_off + base;
    y += y_off + base;
    gamma += g_off;
    beta += b_off;
    save_mean += sm_off + sbase;
    save_invstd += si_off + sbase;
    int p = p0;
    for (; p + TILE * VEC <= p1; p += TILE * VEC)
        ln_ch_forward_t(x + p, y + p, gamma, beta, save_mean + p, save_invstd + p, c, hw, eps);
    for (; p + VEC <= p1; p += VEC)
        ln_ch_forward_v(x + p, y + p, gamma, beta, save_mean + p, save_invstd + p, c, hw, eps);
    for (; p < p1; p++)
        ln_ch_forward_s(x + p, y + p, gamma, beta, save_mean + p, save_invstd + p, c, hw, eps);
}

/* dx for U units of type T, and per channel k the sums over the units' positions of dy * xhat
 * and dy, added to part[2k], part[2k + 1] (written instead when first is set). */
#define LN_CH_BACKWARD(NAME, T, LD, ST, HS, U, W)                                                  \
    static inline void NAME(__global const float *px, __global const float *pd,                    \
                            __global float *pdx, __global const float *gamma,                      \
                            __global const float *pm, __global const float *pi,                    \
                            __global float *part, int first, int c, int hw)                        \
    {                                                                                              \
        T m[U], inv[U], sg[U], sgx[U];                                                             \
        UNROLL for (int u = 0; u < U; u++)                                                         \
        {                                                                                          \
            m[u] = LD(pm + u * W);                                                                 \
            inv[u] = LD(pi + u * W);                                                               \
            sg[u] = 0.0f;                                                                          \
            sgx[u] = 0.0f;                                                                         \
        }                                                                                          \
        for (int k = 0; k < c; k++) {                                                              \
            const T g = gamma[k];                                                                  \
            UNROLL for (int u = 0; u < U; u++)                                                     \
            {                                                                                      \
                T gd = g * LD(pd + (size_t)k * hw + u * W);                                        \
                sg[u] += gd;                                                                       \
                sgx[u] = fma(gd, LD(px + (size_t)k * hw + u * W) - m[u], sgx[u]);                  \
            }                                                                                      \
        }                                                                                          \
        const float rc = 1.0f / (float)c;                                                          \
        UNROLL for (int u = 0; u < U; u++)                                                         \
        { /* sg, sgx become the coefficients b, k of dx */                                         \
            sgx[u] = -inv[u] * inv[u] * inv[u] * sgx[u] * rc;                                      \
            sg[u] = -inv[u] * sg[u] * rc;                                                          \
        }                                                                                          \
        for (int k = 0; k < c; k++) {                                                              \
            const T g = gamma[k];                                                                  \
            T dg = 0.0f, db = 0.0f;                                                                \
            UNROLL for (int u = 0; u < U; u++)                                                     \
            {                                                                                      \
                T gy = LD(pd + (size_t)k * hw + u * W);                                            \
                T xm = LD(px + (size_t)k * hw + u * W) - m[u];                                     \
                ST(fma(g *gy, inv[u], fma(xm, sgx[u], sg[u])), pdx + (size_t)k * hw + u * W);      \
                dg = fma(gy, xm * inv[u], dg);                                                     \
                db += gy;                                                                          \
            }                                                                                      \
            part[2 * k] = first ? HS(dg) : part[2 * k] + HS(dg);                                   \
            part[2 * k + 1] = first ? HS(db) : part[2 * k + 1] + HS(db);                           \
        }                                                                                          \
    }
LN_CH_BACKWARD(ln_ch_backward_t, VTYPE, LD_V, ST_V, HS_V, TILE, VEC)
LN_CH_BACKWARD(ln_ch_backward_v, VTYPE, LD_V, ST_V, HS_V, 1, VEC)
LN_CH_BACKWARD(ln_ch_backward_s, float, LD_S, ST_S, HS_S, 1, 1)

/* One work-item per (n, run of RUN positions): dx, and its partial parameter gradients at
 * part[2 * c * gid ..] (per channel: sum dy * xhat, sum dy). */
__kernel void ln_ch_backward(__global const float *x, const int x_off, __global const float *dy,
                             const int dy_off, __global const float *gamma, const int g_off,
                             __global const float *mean, const int m_off,
                             __global const float *invstd, const int si_off, __global float *dx,
                             const int dx_off, __global float *part, const int n, const int c,
                             const int hw)
{
    const int gid = (int)get_global_id(0);
    int i, p0, p1;
    if (!ch_run(gid, n, hw, &i, &p0, &p1))
        return;
    const size_t base = (size_t)i * c * hw, sbase = (size_t)i * hw;
    x += x_off + base;
    dy += dy_off + base;
    dx += dx_off + base;
    gamma += g_off;
    mean += m_off + sbase;
    invstd += si_off + sbase;
    part += (size_t)2 * c * gid;
    int p = p0;
    for (; p + TILE * VEC <= p1; p += TILE * VEC)
        ln_ch_backward_t(x + p, dy + p, dx + p, gamma, mean + p, invstd + p, part, p == p0, c, hw);
    for (; p + VEC <= p1; p += VEC)
        ln_ch_backward_v(x + p, dy + p, dx + p, gamma, mean + p, invstd + p, part, p == p0, c, hw);
    for (; p < p1; p++)
        ln_ch_backward_s(x + p, dy + p, dx + p, gamma, mean + p, invstd + p, part, p == p0, c, hw);
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
