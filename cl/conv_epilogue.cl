/* conv_epilogue.cl - what the GEMM-based convolutions need around their GEMMs: the forward
 * epilogue applied in place (bias, activation, residual) and the bias gradient reduction.
 * Defines: none (everything is a run-time argument; one build serves every shape). */
#include "conv_epilogue.h"
#include "conv_rows.h"

/* y[n][k][p] = the epilogue of y with b[k] and z[n][k][p], in place, for p in [0, plane).
 * Global: (ceil(plane / 16), k, n); each work-item handles 16 consecutive elements. */
__kernel void conv_epilogue_inplace(__global float *y, const int y_off, __global const float *b,
                                    const int b_off, const int has_b, __global const float *z,
                                    const int z_off, const int has_z, const int K, const int plane,
                                    const int N, const int act, const int res_before)
{
    const int p0 = (int)get_global_id(0) * 16;
    const int k = (int)get_global_id(1), n = (int)get_global_id(2);
    if (p0 >= plane || k >= K || n >= N)
        return;
    const float bias = has_b ? b[b_off + k] : 0.0f;
    __global float *dst = y + y_off + ((size_t)n * K + k) * plane + p0;
    const int len = plane - p0;
    conv_epilogue_store(dst, len, load16_part(dst, len), bias,
                        z + z_off + ((size_t)n * K + k) * plane + p0, has_z, act, res_before);
}

/* out[b][a][p] = the epilogue of in[a][b][p] with b[a] and z[b][a][p], for a < A, b < B,
 * p < P: the wide GEMM result [K][NB][OH*OW] of a chunk of images back into NCHW. With has_b = has_z = 0
 * and act = 0 it is a plain copy, which also gathers dy [NB][K][P] into [K][NB][P].
 * Global: (ceil(P / 16), B, A); each work-item handles 16 consecutive elements. */
__kernel void conv_swap_planes(__global const float *in, const int in_off, __global float *out,
                               const int out_off, const int A, const int B, const int P,
                               __global const float *b, const int b_off, const int has_b,
                               __global const float *z, const int z_off, const int has_z,
                               const int act, const int res_before)
{
    const int p0 = (int)get_global_id(0) * 16;
    const int bi = (int)get_global_id(1), a = (int)get_global_id(2);
    if (p0 >= P || bi >= B || a >= A)
        return;
    __global const float *src = in + in_off + ((size_t)a * B + bi) * P + p0;
    const size_t o = ((size_t)bi * A + a) * P + p0;
    const int end = min(16, P - p0);
    if (!has_b && !has_z && act == 0) {
        if (end == 16) {
            vstore16(vload16(0, src), 0, out + out_off + o);
        } else {
            for (int i = 0; i < end; i++)
                out[out_off + o + i] = src[i];
        }
        return;
    }
    const float bias = has_b ? b[b_off + a] : 0.0f;
    conv_epilogue_store(out + out_off + o, end, load16_part(src, end), bias, z + z_off + o, has_z,
                        act, res_before);
}

/* db[k] = (beta ? db[k] : 0) + sum over n, p of dy[n][k][p]. One work-item per channel, 16
 * partial sums reduced in a fixed order: deterministic. */
__kernel void conv_bias_grad(__global const float *dy, const int dy_off, __global float *db,
                             const int db_off, const int n, const int k, const int plane,
                             const int beta)
{
    const int kk = (int)get_global_id(0);
    if (kk >= k)
        return;
    float16 acc = (float16)(0.0f);
    float tail = 0.0f;
    for (int ni = 0; ni < n; ni++) {
        __global const float *p = dy + dy_off + ((size_t)ni * k + kk) * plane;
        int i = 0;
        for (; i + 16 <= plane; i += 16)
            acc += vload16(0, p + i);
        for (; i < plane; i++)
            tail += p[i];
    }
    float8 a8 = acc.lo + acc.hi;
    float4 a4 = a8.lo + a8.hi;
    float2 a2 = a4.lo + a4.hi;
    float sum = a2.x + a2.y + tail;
    db[db_off + kk] = beta ? db[db_off + kk] + sum : sum;
}
