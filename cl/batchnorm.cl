/* batchnorm.cl - batch normalisation over (n, h, w) per channel of x[n][c][h][w] (2-D [n][c] is
 * h = w = 1). Statistics: one work-item per (channel, chunk of the channel's n*h*w elements)
 * writes a partial, then one work-item per channel combines the partials in chunk order.
 * Defines: VEC, BLK (see norm_common.h);
 *          SEG (default 4096) - elements per work-item of the element-wise kernels;
 *          FROM_VAR (0 or 1, default 0) - bn_normalize takes a variance (inference) instead of
 *          1/sqrt(var + eps). */
#include "norm_common.h"

#ifndef SEG
#define SEG 4096
#endif
#ifndef FROM_VAR
#define FROM_VAR 0
#endif
#if SEG < 1 || (FROM_VAR != 0 && FROM_VAR != 1)
#error "SEG must be >= 1 and FROM_VAR 0 or 1"
#endif

/* part[2 * (c * nchunks + j) + {0, 1}] = (mean, M2) of chunk j of channel c. */
__kernel void bn_stats(__global const float *x, const int x_off, __global float *part,
                       const int channels, const int hw, const int count, const int chunk,
                       const int nchunks)
{
    const int gid = (int)get_global_id(0);
    const int c = gid / nchunks, j = gid % nchunks;
    if (c >= channels)
        return;
    const int r0 = j * chunk, r1 = min(r0 + chunk, count);
    float2 s = r0 < r1 ? run_stats(x + x_off + (size_t)c * hw, r0, r1, hw, channels * hw) : 0.0f;
    vstore2(s, gid, part);
}

/* Per channel: save_mean, save_invstd and the momentum update of the running statistics (the
 * unbiased variance; a single element per channel counts as variance 0). */
__kernel void bn_stats_finish(__global const float *part, const int channels, const int nchunks,
                              const int chunk, const int count, const float eps,
                              const float momentum, __global float *save_mean, const int sm_off,
                              __global float *save_invstd, const int si_off,
                              __global float *run_mean, const int rm_off, __global float *run_var,
                              const int rv_off)
{
    const int c = (int)get_global_id(0);
    if (c >= channels)
        return;
    float2 s = combine_chunks(part + (size_t)2 * c * nchunks, nchunks, chunk, count);
    float var = s.y / (float)count;
    float unbiased = count > 1 ? s.y / (float)(count - 1) : 0.0f;
    save_mean[sm_off + c] = s.x;
    save_invstd[si_off + c] = 1.0f / sqrt(var + eps);
    run_mean[rm_off + c] = (1.0f - momentum) * run_mean[rm_off + c] + momentum * s.x;
    run_var[rv_off + c] = (1.0f - momentum) * run_var[rv_off + c] + momentum * unbiased;
}

/* y = (x - mean[c]) * invstd[c] * gamma[c] + beta[c] over elements [gid * SEG, +SEG). With
 * FROM_VAR, stat is the variance and invstd = 1 / sqrt(stat + eps). */
__kernel void bn_normalize(__global const float *x, const int x_off, __global float *y,
                           const int y_off, __global const float *mean, const int mean_off,
                           __global const float *stat, const int stat_off,
                           __global const float *gamma, const int g_off, __global const float *beta,
                           const int b_off, const int channels, const int hw, const int total,
                           const float eps)
{
    const int e0 = (int)get_global_id(0) * SEG;
    const int e1 = min(e0 + SEG, total);
    for (int e = e0; e < e1;) {
        const int c = (e / hw) % channels;
        const int len = min(hw - e % hw, e1 - e);
#if FROM_VAR
        const float inv = 1.0f / sqrt(stat[stat_off + c] + eps);
#else
        const float inv = stat[stat_off + c];
#endif
        const float s = inv * gamma[g_off + c], m = mean[mean_off + c], b = beta[b_off + c];
        __global const float *px = x + x_off + e;
        __global float *py = y + y_off + e;
        int i = 0;
        for (; i + VEC <= len; i += VEC)
            VSTORE(fma(VLOAD(px + i) - m, (VTYPE)(s), (VTYPE)(b)), py + i);
        for (; i < len; i++)
            py[i] = fma(px[i] - m, s, b);
        e += len;
    }
}

/* (sum of dy, sum of dy * (x - m)) over a run of len floats. */
static inline float2 seg_dy_dev(__global const float *x, __global const float *dy, int len, float m)
{
    VTYPE a1 = 0.0f, a2 = 0.0f;
    int i = 0;
    for (; i + VEC <= len; i += VEC) {
        VTYPE g = VLOAD(dy + i);
        a1 += g;
        a2 = fma(g, VLOAD(x + i) - m, a2);
    }
    float2 s = (float2)(VSUM(a1), VSUM(a2));
    for (; i < len; i++)
        s += (float2)(dy[i], dy[i] * (x[i] - m));
    return s;
}

/* part[2 * (c * nchunks + j) + {0, 1}] = (sum dy, sum dy * (x - mean)) over chunk j of c. */
__kernel void bn_bwd_partial(__global const float *x, const int x_off, __global const float *dy,
                             const int dy_off, __global const float *mean, const int mean_off,
                             __global float *part, const int channels, const int hw,
                             const int count, const int chunk, const int nchunks)
{
    const int gid = (int)get_global_id(0);
    const int c = gid / nchunks, j = gid % nchunks;
    if (c >= channels)
        return;
    const int r0 = j * chunk, r1 = min(r0 + chunk, count);
    const float m = mean[mean_off + c];
    __global const float *bx = x + x_off + (size_t)c * hw;
    __global const float *bd = dy + dy_off + (size_t)c * hw;
    float2 s = 0.0f;
    for (int r = r0; r < r1;) {
        const int len = min(hw - r % hw, r1 - r);
        const size_t o = (size_t)(r / hw) * (size_t)channels * hw + r % hw;
        s += seg_dy_dev(bx + o, bd + o, len, m);
        r += len;
    }
    vstore2(s, gid, part);
}

/* Per channel: dbeta = sum dy, dgamma = invstd * sum dy (x - mean) (accumulated when beta_acc is
 * 1; with 0 the old values are never read), and the coefficients of
 * dx = a dy + k (x - mean) + b, stored at coef[coef_off + 4c ..]. */
__kernel void bn_bwd_finish(__global const float *part, const int channels, const int nchunks,
                            const int count, __global const float *invstd, const int si_off,
                            __global const float *gamma, const int g_off, __global float *dgamma,
                            const int dg_off, __global float *dbeta, const int db_off,
                            const float beta_acc, __global float *coef, const int coef_off)
{
    const int c = (int)get_global_id(0);
    if (c >= channels)
        return;
    float sdy = 0.0f, sdev = 0.0f;
    for (int j = 0; j < nchunks; j++) {
        float2 p = vload2((size_t)c * nchunks + j, part);
        sdy += p.x;
        sdev += p.y;
    }
    const float inv = invstd[si_off + c];
    const float dg = sdev * inv;
    dgamma[dg_off + c] = beta_acc != 0.0f ? dgamma[dg_off + c] + dg : dg;
    dbeta[db_off + c] = beta_acc != 0.0f ? dbeta[db_off + c] + sdy : sdy;
    const float a = gamma[g_off + c] * inv;
    const float rn = 1.0f / (float)count;
    coef += coef_off + 4 * c;
    coef[0] = a;
    coef[1] = -a * inv * inv * sdev * rn;
    coef[2] = -a * sdy * rn;
}

/* dx = a dy + k (x - mean) + b per channel over elements [gid * SEG, +SEG). */
__kernel void bn_bwd_dx(__global const float *x, const int x_off, __global const float *dy,
                        const int dy_off, __global const float *mean, const int mean_off,
                        __global const float *coef, const int coef_off, __global float *dx,
                        const int dx_off, const int channels, const int hw, const int total)
{
    const int e0 = (int)get_global_id(0) * SEG;
    const int e1 = min(e0 + SEG, total);
    for (int e = e0; e < e1;) {
        const int c = (e / hw) % channels;
        const int len = min(hw - e % hw, e1 - e);
        __global const float *cf = coef + coef_off + 4 * c;
        const float a = cf[0], k = cf[1], b = cf[2];
        const float m = mean[mean_off + c];
        __global const float *px = x + x_off + e;
        __global const float *pd = dy + dy_off + e;
        __global float *po = dx + dx_off + e;
        int i = 0;
        for (; i + VEC <= len; i += VEC)
            VSTORE(fma(VLOAD(pd + i), (VTYPE)(a), fma(VLOAD(px + i) - m, (VTYPE)(k), (VTYPE)(b))),
                   po + i);
        for (; i < len; i++)
            po[i] = fma(pd[i], a, fma(px[i] - m, k, b));
        e += len;
    }
}
