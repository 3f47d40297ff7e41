/* softmax.cl - softmax / log-softmax over rows x[n][k], softmax + cross-entropy (loss from
 * log-sum-exp, so it stays finite for large logits), its gradient and the accuracy count.
 * Defines: GROUP (default 256; a power of two >= 2) - work-items per row of the *_group kernels.
 * Row kernels run one work-item per row and walk it in float16 vectors (what POCL turns into
 * AVX-512; the k % 16 tail is scalar); the *_group kernels (GPUs) give each row a work-group of
 * GROUP work-items reading it strided (coalesced) and reducing in local memory with a fixed tree.
 * exp is vector arithmetic (exp_poly.h). The batch reductions (mean loss, correct count) are one
 * work-item summing the per-row values in order, so results are deterministic. */
#include "exp_poly.h"

#ifndef GROUP
#define GROUP 256
#endif
#if GROUP < 2 || (GROUP & (GROUP - 1)) != 0
#error "GROUP must be a power of two >= 2"
#endif

DEFINE_EXP(float, _1, int)
DEFINE_EXP(float16, _16, int16)

/* Lanes folded in a fixed order (halves, then halves again). */
inline float hmax16(float16 v)
{
    const float8 a = fmax(v.lo, v.hi);
    const float4 b = fmax(a.lo, a.hi);
    const float2 c = fmax(b.lo, b.hi);
    return fmax(c.x, c.y);
}

inline float hsum16(float16 v)
{
    const float8 a = v.lo + v.hi;
    const float4 b = a.lo + a.hi;
    const float2 c = b.lo + b.hi;
    return c.x + c.y;
}

inline float row_max(__global const float *xr, int k)
{
    float16 mv = (float16)(-INFINITY);
    int j = 0;
    for (; j + 16 <= k; j += 16)
        mv = fmax(mv, vload16(0, xr + j));
    float m = hmax16(mv);
    for (; j < k; j++)
        m = fmax(m, xr[j]);
    return m;
}

/* sum of exp(x - m) over the row; with `keep`, e = exp(x - m) is also written to er (which may
 * be xr: each element is read before it is written). */
inline float row_sum_exp(__global const float *xr, __global float *er, int k, float m, int keep)
{
    float16 sv = 0.0f;
    int j = 0;
    for (; j + 16 <= k; j += 16) {
        const float16 e = exp_f_16(vload16(0, xr + j) - m);
        if (keep)
            vstore16(e, 0, er + j);
        sv += e;
    }
    float s = hsum16(sv);
    for (; j < k; j++) {
        const float e = exp_f_1(xr[j] - m);
        if (keep)
            er[j] = e;
        s += e;
    }
    return s;
}

/* yr *= inv over the row. */
inline void row_scale(__global float *yr, int k, float inv)
{
    int j = 0;
    for (; j + 16 <= k; j += 16)
        vstore16(vload16(0, yr + j) * inv, 0, yr + j);
    for (; j < k; j++)
        yr[j] *= inv;
}

/* y = softmax(x) (log_out 0) or log_softmax(x) (log_out 1) along each row; y may be x. */
__kernel void softmax_forward(__global const float *x, const ulong x_off, __global float *y,
                              const ulong y_off, const int n, const int k, const int log_out)
{
    const int r = (int)get_global_id(0);
    if (r >= n)
        return;
    __global const float *xr = x + x_off + (ulong)r * (ulong)k;
    __global float *yr = y + y_off + (ulong)r * (ulong)k;
    const float m = row_max(xr, k);
    if (log_out) {
        const float ls = log(row_sum_exp(xr, yr, k, m, 0));
        int j = 0;
        for (; j + 16 <= k; j += 16)
            vstore16((vload16(0, xr + j) - m) - ls, 0, yr + j);
        for (; j < k; j++)
            yr[j] = (xr[j] - m) - ls;
    } else {
        row_scale(yr, k, 1.0f / row_sum_exp(xr, yr, k, m, 1));
    }
}

/* pr = softmax(xr) and the row's loss log(sum exp(x - m)) + m - x[label]; NaN for a label
 * outside [0, k). pr may be xr. */
inline float ce_row(__global const float *xr, __global float *pr, int label, int k)
{
    const bool valid = label >= 0 && label < k;
    const float xl = valid ? xr[label] : 0.0f; /* read before pr is written */
    const float m = row_max(xr, k);
    const float s = row_sum_exp(xr, pr, k, m, 1);
    row_scale(pr, k, 1.0f / s);
    return valid ? (log(s) - (xl - m)) : NAN;
}

/* probs = softmax(logits) and row_loss[r] = the loss of row r (ce_row). */
__kernel void softmax_ce_forward(__global const float *x, const ulong x_off,
                                 __global const int *labels, const ulong l_off,
                                 __global float *probs, const ulong p_off, __global float *row_loss,
                                 const int n, const int k)
{
    const int r = (int)get_global_id(0);
    if (r >= n)
        return;
    const ulong at = (ulong)r * (ulong)k;
    row_loss[r] = ce_row(x + x_off + at, probs + p_off + at, labels[l_off + r], k);
}

/* softmax_ce_forward and mean_rows in one work-item, for batches too small to be worth two
 * launches: the same per-row values summed in the same order, so the same bits. */
__kernel void softmax_ce_forward_one(__global const float *x, const ulong x_off,
                                     __global const int *labels, const ulong l_off,
                                     __global float *probs, const ulong p_off, __global float *loss,
                                     const ulong loss_off, const int n, const int k)
{
    if (get_global_id(0) != 0)
        return;
    float s = 0.0f;
    for (int r = 0; r < n; r++) {
        const ulong at = (ulong)r * (ulong)k;
        s += ce_row(x + x_off + at, probs + p_off + at, labels[l_off + r], k);
    }
    loss[loss_off] = s / (float)n;
}

/* ---- one work-group per row ------------------------------------------------------------- */

/* The max (MAX 1) or sum (MAX 0) of v over the work-group, by a fixed tree in sh[GROUP]. */
inline float group_reduce(float v, __local float *sh, int max)
{
    const int lid = (int)get_local_id(0);
    sh[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = GROUP / 2; h > 0; h >>= 1) {
        if (lid < h)
            sh[lid] = max ? fmax(sh[lid], sh[lid + h]) : sh[lid] + sh[lid + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float r = sh[0];
    barrier(CLK_LOCAL_MEM_FENCE); /* sh is reused by the next reduction */
    return r;
}

/* The row's max m and sum of exp(x - m), work-item lid taking columns lid, lid + GROUP, ... */
inline float2 group_max_sum(__global const float *xr, int k, __local float *sh)
{
    const int lid = (int)get_local_id(0);
    float m = -INFINITY;
    for (int j = lid; j < k; j += GROUP)
        m = fmax(m, xr[j]);
    m = group_reduce(m, sh, 1);
    float s = 0.0f;
    for (int j = lid; j < k; j += GROUP)
        s += exp_f_1(xr[j] - m);
    return (float2)(m, group_reduce(s, sh, 0));
}

/* softmax_forward with one work-group per row. Global: (n * GROUP), local GROUP. */
__kernel void softmax_forward_group(__global const float *x, const ulong x_off, __global float *y,
                                    const ulong y_off, const int n, const int k, const int log_out)
{
    __local float sh[GROUP];
    const int r = (int)get_group_id(0), lid = (int)get_local_id(0);
    if (r >= n)
        return;
    __global const float *xr = x + x_off + (ulong)r * (ulong)k;
    __global float *yr = y + y_off + (ulong)r * (ulong)k;
    const float2 ms = group_max_sum(xr, k, sh);
    const float ls = log(ms.y), inv = 1.0f / ms.y;
    for (int j = lid; j < k; j += GROUP)
        yr[j] = log_out ? (xr[j] - ms.x) - ls : exp_f_1(xr[j] - ms.x) * inv;
}

/* softmax_ce_forward with one work-group per row. Global: (n * GROUP), local GROUP. */
__kernel void softmax_ce_forward_group(__global const float *x, const ulong x_off,
                                       __global const int *labels, const ulong l_off,
                                       __global float *probs, const ulong p_off,
                                       __global float *row_loss, const int n, const int k)
{
    __local float sh[GROUP];
    const int r = (int)get_group_id(0), lid = (int)get_local_id(0);
    if (r >= n)
        return;
    __global const float *xr = x + x_off + (ulong)r * (ulong)k;
    __global float *pr = probs + p_off + (ulong)r * (ulong)k;
    const int label = labels[l_off + r];
    const bool valid = label >= 0 && label < k;
    const float xl = valid ? xr[label] : 0.0f; /* read before probs (may be x) is written */
    const float2 ms = group_max_sum(xr, k, sh);
    const float inv = 1.0f / ms.y;
    for (int j = lid; j < k; j += GROUP)
        pr[j] = exp_f_1(xr[j] - ms.x) * inv;
    if (lid == 0)
        row_loss[r] = valid ? (log(ms.y) - (xl - ms.x)) : NAN;
}

/* ---- batch reductions ----------------------------------------------------------------------- */

/* out[0] = mean of the n values, summed in order. */
__kernel void mean_rows(__global const float *v, const int n, __global float *out,
                        const ulong out_off)
{
    if (get_global_id(0) != 0)
        return;
    float s = 0.0f;
    for (int i = 0; i < n; i++)
        s += v[i];
    out[out_off] = s / (float)n;
}

/* dlogits[r][j] = coef * (probs[r][j] - (j == label)); a row whose label is out of range gets
 * NaN, as its loss did. Global: (k, n). */
__kernel void softmax_ce_backward(__global const float *probs, const ulong p_off,
                                  __global const int *labels, const ulong l_off, __global float *dx,
                                  const ulong dx_off, const int n, const int k, const float coef)
{
    const int j = (int)get_global_id(0), r = (int)get_global_id(1);
    if (j >= k || r >= n)
        return;
    const ulong i = (ulong)r * (ulong)k + (ulong)j;
    const int label = labels[l_off + r];
    const float hot = j == label ? 1.0f : 0.0f;
    dx[dx_off + i] = (label >= 0 && label < k) ? coef * (probs[p_off + i] - hot) : NAN;
}

/* hit[r] = 1 when the first arg-max of row r equals its label. */
__kernel void accuracy_rows(__global const float *x, const ulong x_off, __global const int *labels,
                            const ulong l_off, __global int *hit, const int n, const int k)
{
    const int r = (int)get_global_id(0);
    if (r >= n)
        return;
    __global const float *xr = x + x_off + (ulong)r * (ulong)k;
    int arg = 0;
    float best = xr[0];
    for (int j = 1; j < k; j++)
        if (xr[j] > best) {
            best = xr[j];
            arg = j;
        }
    hit[r] = arg == labels[l_off + r] ? 1 : 0;
}

__kernel void count_rows(__global const int *hit, const int n, __global int *out,
                         const ulong out_off)
{
    if (get_global_id(0) != 0)
        return;
    int s = 0;
    for (int i = 0; i < n; i++)
        s += hit[i];
    out[out_off] = s;
}
