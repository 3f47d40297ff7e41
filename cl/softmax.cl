/* softmax.cl - softmax / log-softmax over rows x[n][k], softmax + cross-entropy (loss from
 * log-sum-exp, so it stays finite for large logits), its gradient and the accuracy count.
 * Defines: none. Row kernels run one work-item per row; the batch reductions (mean loss, correct
 * count) are one work-item summing the per-row values in order, so results are deterministic. */

/* max and sum of exp(x - max) of one row. */
inline float row_max(__global const float *xr, int k)
{
    float m = xr[0];
    for (int j = 1; j < k; j++)
        m = fmax(m, xr[j]);
    return m;
}

inline float row_sum_exp(__global const float *xr, int k, float m)
{
    float s = 0.0f;
    for (int j = 0; j < k; j++)
        s += exp(xr[j] - m);
    return s;
}

/* y = softmax(x) (LOG 0) or log_softmax(x) (LOG 1) along each row. */
__kernel void softmax_forward(__global const float *x, const ulong x_off, __global float *y,
                              const ulong y_off, const int n, const int k, const int log_out)
{
    const int r = (int)get_global_id(0);
    if (r >= n)
        return;
    __global const float *xr = x + x_off + (ulong)r * (ulong)k;
    __global float *yr = y + y_off + (ulong)r * (ulong)k;
    const float m = row_max(xr, k);
    const float s = row_sum_exp(xr, k, m);
    if (log_out) {
        const float ls = log(s);
        for (int j = 0; j < k; j++)
            yr[j] = (xr[j] - m) - ls;
    } else {
        const float inv = 1.0f / s;
        for (int j = 0; j < k; j++)
            yr[j] = exp(xr[j] - m) * inv;
    }
}

/* probs = softmax(logits) and row_loss[r] = log(sum exp(x - m)) + m - x[label]; NaN for a label
 * outside [0, k). */
__kernel void softmax_ce_forward(__global const float *x, const ulong x_off,
                                 __global const int *labels, const ulong l_off,
                                 __global float *probs, const ulong p_off, __global float *row_loss,
                                 const int n, const int k)
{
    const int r = (int)get_global_id(0);
    if (r >= n)
        return;
    __global const float *xr = x + x_off + (ulong)r * (ulong)k;
    __global float *pr = probs + p_off + (ulong)r * (ulong)k;
    const float m = row_max(xr, k);
    const float s = row_sum_exp(xr, k, m);
    const float inv = 1.0f / s;
    for (int j = 0; j < k; j++)
        pr[j] = exp(xr[j] - m) * inv;
    const int label = labels[l_off + r];
    row_loss[r] = (label >= 0 && label < k) ? (log(s) - (xr[label] - m)) : NAN;
}

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
