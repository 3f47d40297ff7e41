/* batchnorm.cl - batch normalisation over (n, h, w) per channel of x[n][c][h][w] (2-D [n][c] is
 * h = w = 1). With enough channels to busy the device, one fused kernel per pass, one work-item
 * per channel. Otherwise three kernels: one work-item per (channel, chunk of the channel's n*h*w
 * elements) writes a partial, one work-item per channel combines the partials in chunk order,
 * then an element-wise kernel.
 * With relu set (the library's networks, where a ReLU alone reads the batch norm's output) the
 * forward kernels write max(y, 0) and the backward ones take dy of that ReLU's output: they mask
 * it where the forward's y, recomputed from x, mean, invstd, gamma and beta by the same fma, was
 * not above 0, so the mask is the forward's exactly.
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

/* part[2 * (c * nchunks + j) + {0, 1}] = (mean - x[0][c][0], M2) of chunk j of channel c. */
__kernel void bn_stats(__global const float *x, const int x_off, __global float *part,
                       const int channels, const int hw, const int count, const int chunk,
                       const int nchunks)
{
    const int gid = (int)get_global_id(0);
    int c, r0, r1;
    if (!chunk_of(gid, channels, count, chunk, nchunks, &c, &r0, &r1))
        return;
    __global const float *base = x + x_off + (size_t)c * hw;
    float2 s = r0 < r1 ? run_stats(base, r0, r1, hw, channels * hw, base[0]) : 0.0f;
    vstore2(s, gid, part);
}

/* From a channel's (mean - shift, M2): save_mean, save_invstd and the momentum update of the
 * running statistics (the unbiased variance; a single element per channel counts as variance
 * 0). Returns (mean, invstd). */
static inline float2 finish_stats(float2 s, float shift, int count, float eps, float momentum,
                                  __global float *save_mean, __global float *save_invstd,
                                  __global float *run_mean, __global float *run_var)
{
    const float var = s.y / (float)count;
    const float unbiased = count > 1 ? s.y / (float)(count - 1) : 0.0f;
    const float mean = shift + s.x, inv = 1.0f / sqrt(var + eps);
    *save_mean = mean;
    *save_invstd = inv;
    *run_mean = (1.0f - momentum) * *run_mean + momentum * mean;
    *run_var = (1.0f - momentum) * *run_var + momentum * unbiased;
    return (float2)(mean, inv);
}

/* Per channel: finish_stats over the chunks' partials. */
__kernel void bn_stats_finish(__global const float *x, const int x_off, __global const float *part,
                              const int channels, const int hw, const int nchunks, const int chunk,
                              const int count, const float eps, const float momentum,
                              __global float *save_mean, const int sm_off,
                              __global float *save_invstd, const int si_off,
                              __global float *run_mean, const int rm_off, __global float *run_var,
                              const int rv_off)
{
    const int c = (int)get_global_id(0);
    if (c >= channels)
        return;
    float2 s = combine_chunks(part + (size_t)2 * c * nchunks, nchunks, chunk, count);
    finish_stats(s, x[x_off + (size_t)c * hw], count, eps, momentum, save_mean + sm_off + c,
                 save_invstd + si_off + c, run_mean + rm_off + c, run_var + rv_off + c);
}

/* ReLU as relu_forward (elementwise.cl) has it: below 0 -> 0, NaN kept. */
#define RELU_OF(v) select((v), (VTYPE)(0.0f), (v) < (VTYPE)(0.0f))

/* y = (x - m) * s + b over a run of len floats; with relu its ReLU. */
static inline void seg_normalize(__global const float *px, __global float *py, int len, float m,
                                 float s, float b, int relu)
{
    int i = 0;
    for (; i + VEC <= len; i += VEC) {
        const VTYPE v = fma(VLOAD(px + i) - m, (VTYPE)(s), (VTYPE)(b));
        VSTORE(relu ? RELU_OF(v) : v, py + i);
    }
    for (; i < len; i++) {
        const float v = fma(px[i] - m, s, b);
        py[i] = relu && v < 0.0f ? 0.0f : v;
    }
}

/* One work-item per channel, when there are enough channels to busy the device: statistics, then
 * normalisation of the planes in reverse order, while the channel is still in the cache (x is
 * read from memory once instead of twice). */
__kernel void bn_forward_fused(__global const float *x, const int x_off, __global float *y,
                               const int y_off, __global const float *gamma, const int g_off,
                               __global const float *beta, const int b_off,
                               __global float *save_mean, const int sm_off,
                               __global float *save_invstd, const int si_off,
                               __global float *run_mean, const int rm_off, __global float *run_var,
                               const int rv_off, const int channels, const int hw, const int count,
                               const float eps, const float momentum, const int relu)
{
    const int c = (int)get_global_id(0);
    if (c >= channels)
        return;
    __global const float *base = x + x_off + (size_t)c * hw;
    float2 st = run_stats(base, 0, count, hw, channels * hw, base[0]);
    float2 mi = finish_stats(st, base[0], count, eps, momentum, save_mean + sm_off + c,
                             save_invstd + si_off + c, run_mean + rm_off + c, run_var + rv_off + c);
    const float s = mi.y * gamma[g_off + c], b = beta[b_off + c];
    for (int n = count / hw - 1; n >= 0; n--) {
        const size_t o = ((size_t)n * channels + c) * hw;
        seg_normalize(x + x_off + o, y + y_off + o, hw, mi.x, s, b, relu);
    }
}

/* y = (x - mean[c]) * invstd[c] * gamma[c] + beta[c] over elements [gid * SEG, +SEG) (with
 * relu its ReLU). With FROM_VAR, stat is the variance and invstd = 1 / sqrt(stat + eps). */
__kernel void bn_normalize(__global const float *x, const int x_off, __global float *y,
                           const int y_off, __global const float *mean, const int mean_off,
                           __global const float *stat, const int stat_off,
                           __global const float *gamma, const int g_off, __global const float *beta,
                           const int b_off, const int channels, const int hw, const int total,
                           const float eps, const int relu)
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
        seg_normalize(x + x_off + e, y + y_off + e, len, m, s, b, relu);
        e += len;
    }
}

/* The channel's forward ReLU (see the top): which dy reach the batch norm. */
typedef struct relu_mask {
    int on;     /* 0: every dy does */
    float s, b; /* the forward's scale invstd * gamma and shift beta */
} relu_mask;

static inline relu_mask mask_of(int relu, __global const float *invstd, __global const float *gamma,
                                __global const float *beta, int c)
{
    relu_mask r = {relu, 0.0f, 0.0f};
    if (relu)
        r.s = invstd[c] * gamma[c], r.b = beta[c];
    return r;
}

/* dy where the forward's y = (x - m) * s + b (xm = x - m) was above 0, else 0. */
static inline VTYPE masked(VTYPE g, VTYPE xm, relu_mask r)
{
    return r.on ? select((VTYPE)(0.0f), g, fma(xm, (VTYPE)(r.s), (VTYPE)(r.b)) > (VTYPE)(0.0f)) : g;
}

static inline float masked1(float g, float xm, relu_mask r)
{
    return r.on && !(fma(xm, r.s, r.b) > 0.0f) ? 0.0f : g;
}

/* (sum of dy, sum of dy * (x - m)) over a run of len floats, dy masked by r. */
static inline float2 seg_dy_dev(__global const float *x, __global const float *dy, int len, float m,
                                relu_mask r)
{
    VTYPE a1 = 0.0f, a2 = 0.0f;
    int i = 0;
    for (; i + VEC <= len; i += VEC) {
        const VTYPE xm = VLOAD(x + i) - m, g = masked(VLOAD(dy + i), xm, r);
        a1 += g;
        a2 = fma(g, xm, a2);
    }
    float2 s = (float2)(VSUM(a1), VSUM(a2));
    for (; i < len; i++) {
        const float xm = x[i] - m, g = masked1(dy[i], xm, r);
        s += (float2)(g, g * xm);
    }
    return s;
}

/* part[2 * (c * nchunks + j) + {0, 1}] = (sum dy, sum dy * (x - mean)) over chunk j of c. */
__kernel void bn_bwd_partial(__global const float *x, const int x_off, __global const float *dy,
                             const int dy_off, __global const float *mean, const int mean_off,
                             __global const float *invstd, const int si_off,
                             __global const float *gamma, const int g_off,
                             __global const float *beta, const int b_off, const int relu,
                             __global float *part, const int channels, const int hw,
                             const int count, const int chunk, const int nchunks)
{
    const int gid = (int)get_global_id(0);
    int c, r0, r1;
    if (!chunk_of(gid, channels, count, chunk, nchunks, &c, &r0, &r1))
        return;
    const float m = mean[mean_off + c];
    const relu_mask rm = mask_of(relu, invstd + si_off, gamma + g_off, beta + b_off, c);
    __global const float *bx = x + x_off + (size_t)c * hw;
    __global const float *bd = dy + dy_off + (size_t)c * hw;
    float2 s = 0.0f;
    for (int r = r0; r < r1;) {
        const int len = min(hw - r % hw, r1 - r);
        const size_t o = (size_t)(r / hw) * (size_t)channels * hw + r % hw;
        s += seg_dy_dev(bx + o, bd + o, len, m, rm);
        r += len;
    }
    vstore2(s, gid, part);
}

/* From a channel's (sum dy, sum dy (x - mean)): dbeta = sum dy and dgamma = invstd * sum dy
 * (x - mean) (added to the old values when beta_acc is 1; with 0 they are never read), and the
 * coefficients (a, k, b) of dx = a dy + k (x - mean) + b. */
static inline float4 finish_bwd(float2 s, int count, float inv, float gamma, __global float *dgamma,
                                __global float *dbeta, float beta_acc)
{
    const float dg = s.y * inv;
    *dgamma = beta_acc != 0.0f ? *dgamma + dg : dg;
    *dbeta = beta_acc != 0.0f ? *dbeta + s.x : s.x;
    const float a = gamma * inv, rn = 1.0f / (float)count;
    return (float4)(a, -a * inv * inv * s.y * rn, -a * s.x * rn, 0.0f);
}

/* Per channel: finish_bwd over the chunks' partials; the coefficients go to
 * coef[coef_off + 4c ..]. */
__kernel void bn_bwd_finish(__global const float *part, const int channels, const int nchunks,
                            const int count, __global const float *invstd, const int si_off,
                            __global const float *gamma, const int g_off, __global float *dgamma,
                            const int dg_off, __global float *dbeta, const int db_off,
                            const float beta_acc, __global float *coef, const int coef_off)
{
    const int c = (int)get_global_id(0);
    if (c >= channels)
        return;
    float2 s = 0.0f;
    for (int j = 0; j < nchunks; j++)
        s += vload2((size_t)c * nchunks + j, part);
    float4 k = finish_bwd(s, count, invstd[si_off + c], gamma[g_off + c], dgamma + dg_off + c,
                          dbeta + db_off + c, beta_acc);
    vstore4(k, 0, coef + coef_off + 4 * c);
}

/* dx = a dy + k (x - m) + b over a run of len floats, dy masked by r. */
static inline void seg_dx(__global const float *px, __global const float *pd, __global float *po,
                          int len, float m, float4 k, relu_mask r)
{
    int i = 0;
    for (; i + VEC <= len; i += VEC) {
        const VTYPE xm = VLOAD(px + i) - m;
        VSTORE(fma(masked(VLOAD(pd + i), xm, r), (VTYPE)(k.x), fma(xm, (VTYPE)(k.y), (VTYPE)(k.z))),
               po + i);
    }
    for (; i < len; i++) {
        const float xm = px[i] - m;
        po[i] = fma(masked1(pd[i], xm, r), k.x, fma(xm, k.y, k.z));
    }
}

/* One work-item per channel (see bn_forward_fused): the sums, then dx of the planes in reverse
 * order while x and dy of the channel are still cached. */
__kernel void bn_backward_fused(__global const float *x, const int x_off, __global const float *dy,
                                const int dy_off, __global const float *gamma, const int g_off,
                                __global const float *mean, const int m_off,
                                __global const float *invstd, const int si_off, __global float *dx,
                                const int dx_off, __global float *dgamma, const int dg_off,
                                __global float *dbeta, const int db_off, const float beta_acc,
                                __global const float *beta, const int b_off, const int relu,
                                const int channels, const int hw, const int count)
{
    const int c = (int)get_global_id(0);
    if (c >= channels)
        return;
    const float m = mean[m_off + c];
    const relu_mask rm = mask_of(relu, invstd + si_off, gamma + g_off, beta + b_off, c);
    const int n = count / hw;
    float2 s = 0.0f;
    for (int i = 0; i < n; i++) {
        const size_t o = ((size_t)i * channels + c) * hw;
        s += seg_dy_dev(x + x_off + o, dy + dy_off + o, hw, m, rm);
    }
    float4 k = finish_bwd(s, count, invstd[si_off + c], gamma[g_off + c], dgamma + dg_off + c,
                          dbeta + db_off + c, beta_acc);
    for (int i = n - 1; i >= 0; i--) {
        const size_t o = ((size_t)i * channels + c) * hw;
        seg_dx(x + x_off + o, dy + dy_off + o, dx + dx_off + o, hw, m, k, rm);
    }
}

/* dx = a dy + k (x - mean) + b per channel over elements [gid * SEG, +SEG). */
__kernel void bn_bwd_dx(__global const float *x, const int x_off, __global const float *dy,
                        const int dy_off, __global const float *mean, const int mean_off,
                        __global const float *coef, const int coef_off,
                        __global const float *invstd, const int si_off, __global const float *gamma,
                        const int g_off, __global const float *beta, const int b_off,
                        const int relu, __global float *dx, const int dx_off, const int channels,
                        const int hw, const int total)
{
    const int e0 = (int)get_global_id(0) * SEG;
    const int e1 = min(e0 + SEG, total);
    for (int e = e0; e < e1;) {
        const int c = (e / hw) % channels;
        const int len = min(hw - e % hw, e1 - e);
        const float4 k = vload4(0, coef + coef_off + 4 * c);
        const relu_mask rm = mask_of(relu, invstd + si_off, gamma + g_off, beta + b_off, c);
        seg_dx(x + x_off + e, dy + dy_off + e, dx + dx_off + e, len, mean[mean_off + c], k, rm);
        e += len;
    }
}

/* Inference batch norm folded into the convolution before it: with s = gamma / sqrt(var + eps),
 * w_out[k][q] = w[k][q] * s[k] for the `per` weights q of output channel k, and
 * b_out[k] = (b[k] - mean[k]) * s[k] + beta[k] (b[k] = 0 without a bias). One work-item per
 * weight; the first of each channel also writes b_out[k]. Each reads only what it writes, so
 * the outputs may be the inputs. Global: (K * per). */
__kernel void bn_fold_conv(__global const float *w, const int w_off, __global const float *b,
                           const int b_off, const int has_b, __global const float *gamma,
                           const int g_off, __global const float *beta, const int be_off,
                           __global const float *mean, const int m_off, __global const float *var,
                           const int v_off, __global float *w_out, const int wo_off,
                           __global float *b_out, const int bo_off, const int K, const int per,
                           const float eps)
{
    const int i = (int)get_global_id(0);
    if (i >= K * per)
        return;
    const int k = i / per;
    const float s = gamma[g_off + k] / sqrt(var[v_off + k] + eps);
    w_out[wo_off + i] = w[w_off + i] * s;
    if (i % per == 0)
        b_out[bo_off + k] =
            ((has_b ? b[b_off + k] : 0.0f) - mean[m_off + k]) * s + beta[be_off + k];
}
