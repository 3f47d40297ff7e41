/* conv2d_direct.cl - direct 2-D convolution, NCHW f32, any padding, stride, dilation and groups:
 * forward with the fused epilogue, backward data (a gather: no atomics) and backward weights.
 * Register-blocked: a work-item owns KB channels x 16 consecutive pixels of one row, held in
 * float16 accumulators (what POCL turns into AVX-512); each loaded input vector is reused for
 * the KB channels and each weight for the 16 pixels. No local memory.
 * Defines:
 *   KB (default 8) channels per work-item (output channels forward and for weights, input
 *      channels for backward data); 1..16.
 * Geometry is passed at run time, so one build serves every shape. */
#include "conv_epilogue.h"
#include "conv_rows.h"

#ifndef KB
#define KB 8
#endif
#if KB < 1 || KB > 16
#error "KB must be in 1..16"
#endif

inline float hsum16(float16 a)
{
    const float8 b = a.lo + a.hi;
    const float4 c = b.lo + b.hi;
    const float2 d = c.lo + c.hi;
    return d.x + d.y;
}

#define GEOM_ARGS                                                                                  \
    const int N, const int C, const int H, const int W, const int K, const int R, const int S,     \
        const int OH, const int OW, const int G, const int CG, const int KG, const int PT,         \
        const int PL, const int SH, const int SW, const int DH, const int DW

/* Forward. Global: (ceil(OW / 16) * OH, N * G * ceil(KG / KB)). */
__kernel void conv2d_direct_fwd(__global const float *x, const int x_off, __global const float *w,
                                const int w_off, __global const float *b, const int b_off,
                                const int has_b, __global const float *z, const int z_off,
                                const int has_z, __global float *y, const int y_off, GEOM_ARGS,
                                const int act, const int res_before)
{
    const int owt = (OW + 15) / 16;
    const int tile = (int)get_global_id(0);
    const int kbs = (KG + KB - 1) / KB;
    const int job = (int)get_global_id(1);
    if (tile >= owt * OH || job >= N * G * kbs)
        return;
    const int oh = tile / owt, ow0 = (tile % owt) * 16;
    const int kb = job % kbs, g = (job / kbs) % G, n = job / (kbs * G);
    const int k0 = g * KG + kb * KB; /* first output channel of this work-item */

    float16 acc[KB];
    int wbase[KB];
    for (int j = 0; j < KB; j++) {
        acc[j] = (float16)(0.0f);
        /* Channels past the group's end read the last valid channel's weights (never stored):
         * the loop below stays branch-free. */
        wbase[j] = w_off + min(k0 + j, g * KG + KG - 1) * CG * R * S;
    }
    const int iw0 = ow0 * SW - PL;
    for (int c = 0; c < CG; c++) {
        __global const float *xc = x + x_off + ((size_t)n * C + g * CG + c) * H * W;
        for (int r = 0; r < R; r++) {
            const int ih = oh * SH - PT + r * DH;
            if (ih < 0 || ih >= H)
                continue;
            __global const float *xrow = xc + ih * W;
            const int wq = (c * R + r) * S;
            for (int s = 0; s < S; s++) {
                const float16 xv = load16(xrow, iw0 + s * DW, SW, W);
                for (int j = 0; j < KB; j++)
                    acc[j] = fma((float16)(w[wbase[j] + wq + s]), xv, acc[j]);
            }
        }
    }
    const int npix = min(16, OW - ow0);
    for (int j = 0; j < KB; j++) {
        const int k = k0 + j;
        if (kb * KB + j >= KG)
            break;
        const float bias = has_b ? b[b_off + k] : 0.0f;
        const size_t o = ((size_t)n * K + k) * OH * OW + oh * OW + ow0;
        float v[16];
        vstore16(acc[j], 0, v);
        for (int i = 0; i < npix; i++) {
            const float zv = has_z ? z[z_off + o + i] : 0.0f;
            y[y_off + o + i] = conv_epilogue(v[i], bias, zv, act, res_before);
        }
    }
}

/* Backward data: dx = beta * dx + sum over the outputs each input pixel fed. A gather, each
 * input pixel computed by one work-item. Global: (ceil(W / 16) * H, N * G * ceil(CG / KB)). */
__kernel void conv2d_direct_bwd_data(__global const float *dy, const int dy_off,
                                     __global const float *w, const int w_off, __global float *dx,
                                     const int dx_off, GEOM_ARGS, const int beta)
{
    const int iwt = (W + 15) / 16;
    const int tile = (int)get_global_id(0);
    const int cbs = (CG + KB - 1) / KB;
    const int job = (int)get_global_id(1);
    if (tile >= iwt * H || job >= N * G * cbs)
        return;
    const int ih = tile / iwt, iw0 = (tile % iwt) * 16;
    const int cb = job % cbs, g = (job / cbs) % G, n = job / (cbs * G);
    const int c0 = cb * KB; /* first input channel within the group */

    float16 acc[KB];
    int wc[KB];
    for (int j = 0; j < KB; j++) {
        acc[j] = (float16)(0.0f);
        wc[j] = min(c0 + j, CG - 1) * R * S;
    }
    for (int kk = 0; kk < KG; kk++) {
        const int k = g * KG + kk;
        __global const float *dyk = dy + dy_off + ((size_t)n * K + k) * OH * OW;
        const int wk = w_off + k * CG * R * S;
        for (int r = 0; r < R; r++) {
            const int t = ih + PT - r * DH;
            if (t < 0)
                break; /* t only decreases with r */
            const int oh = SH == 1 ? t : t / SH;
            if (oh * SH != t || oh >= OH)
                continue;
            __global const float *dyrow = dyk + oh * OW;
            for (int s = 0; s < S; s++) {
                const float16 dv = strided_gather16(dyrow, iw0 + PL - s * DW, SW, OW);
                for (int j = 0; j < KB; j++)
                    acc[j] = fma((float16)(w[wk + wc[j] + r * S + s]), dv, acc[j]);
            }
        }
    }
    const int npix = min(16, W - iw0);
    for (int j = 0; j < KB; j++) {
        if (c0 + j >= CG)
            break;
        const size_t o = dx_off + ((size_t)n * C + g * CG + c0 + j) * H * W + ih * W + iw0;
        float v[16];
        vstore16(acc[j], 0, v);
        for (int i = 0; i < npix; i++)
            dx[o + i] = beta ? dx[o + i] + v[i] : v[i];
    }
}

/* Backward weights: dw[k][c][r][s] = beta * dw + sum over n, oh, ow of dy * x. A work-item owns
 * KB output channels of one (c, r, s) and sums rows of 16 pixels in float16 lanes, reduced in
 * a fixed order: deterministic. Global: (CG * R * S, G * ceil(KG / KB)). */
__kernel void conv2d_direct_bwd_weights(__global const float *x, const int x_off,
                                        __global const float *dy, const int dy_off,
                                        __global float *dw, const int dw_off, GEOM_ARGS,
                                        const int beta)
{
    const int q = (int)get_global_id(0);
    const int kbs = (KG + KB - 1) / KB;
    const int job = (int)get_global_id(1);
    if (q >= CG * R * S || job >= G * kbs)
        return;
    const int s = q % S, r = (q / S) % R, c = q / (R * S);
    const int kb = job % kbs, g = job / kbs;
    const int k0 = g * KG + kb * KB;

    float16 acc[KB];
    int kc[KB];
    for (int j = 0; j < KB; j++) {
        acc[j] = (float16)(0.0f);
        kc[j] = min(k0 + j, g * KG + KG - 1);
    }
    for (int n = 0; n < N; n++) {
        __global const float *xc = x + x_off + ((size_t)n * C + g * CG + c) * H * W;
        for (int oh = 0; oh < OH; oh++) {
            const int ih = oh * SH - PT + r * DH;
            if (ih < 0 || ih >= H)
                continue;
            __global const float *xrow = xc + ih * W;
            for (int ow0 = 0; ow0 < OW; ow0 += 16) {
                const float16 xv = load16(xrow, ow0 * SW - PL + s * DW, SW, W);
                const int len = OW - ow0;
                for (int j = 0; j < KB; j++) {
                    __global const float *dyrow =
                        dy + dy_off + (((size_t)n * K + kc[j]) * OH + oh) * OW + ow0;
                    acc[j] = fma(load16_tail(dyrow, len), xv, acc[j]);
                }
            }
        }
    }
    for (int j = 0; j < KB; j++) {
        if (kb * KB + j >= KG)
            break;
        const size_t o = dw_off + ((size_t)(k0 + j) * CG + c) * R * S + r * S + s;
        const float sum = hsum16(acc[j]);
        dw[o] = beta ? dw[o] + sum : sum;
    }
}
