/* conv2d_direct_fwd.cl - DIRECT convolution forward with the fused epilogue (conv2d_direct.h):
 * the weight packing, the row kernel and the flat kernel over a zero-padded copy.
 * Defines:
 *   KB (default 8) output channels per work-item; 1..16.
 *   PX (default 1) float16 pixel vectors per work-item along a row; 1..4.
 *   KV (default 4) float16 vectors of output channels and CI (default 6) output pixels per
 *   work-item of the channel-vector kernel; 1..4 and 1..16. */
#include "conv2d_direct.h"
#include "conv_epilogue.h"

#ifndef KB
#define KB 8
#endif
#ifndef PX
#define PX 1
#endif
#if KB < 1 || KB > 16
#error "KB must be in 1..16"
#endif
#if PX < 1 || PX > 4
#error "PX must be in 1..4"
#endif
#include "conv_kvec.h"

/* Weights packed for the forward kernel: wp[g][kb][c][r][s][KB] = w[g*KG + kb*KB + j][c][r][s]
 * (zero past the group's channels), so the KB weights a work-item needs at each tap are
 * adjacent: one base address, broadcast loads at constant offsets.
 * Global: (CG * R * S, G * ceil(KG / KB)). */
__kernel void conv2d_direct_pack_weights(__global const float *w, const int w_off,
                                         __global float *wp, const int wp_off, GEOM_ARGS)
{
    const int q = (int)get_global_id(0);
    const int kbs = (KG + KB - 1) / KB;
    const int job = (int)get_global_id(1); /* g * kbs + kb */
    const int crs = CG * R * S;
    if (q >= crs || job >= G * kbs)
        return;
    const int kb = job % kbs, g = job / kbs;
    __global float *out = wp + wp_off + ((size_t)job * crs + q) * KB;
#pragma unroll
    for (int j = 0; j < KB; j++) {
        const int kk = kb * KB + j;
        out[j] = kk < KG ? w[w_off + (size_t)(g * KG + kk) * crs + q] : 0.0f;
    }
}

/* The forward's sum over c, r, s into acc[KB][PX], with LOAD(v, s) the PX input vectors. */
#define FWD_TAPS(LOAD)                                                                             \
    for (int c = 0; c < CG; c++) {                                                                 \
        __global const float *xc = x + x_off + ((size_t)n * C + g * CG + c) * H * W;               \
        for (int r = 0; r < R; r++) {                                                              \
            const int ih = oh * SH - PT + r * DH;                                                  \
            if (ih < 0 || ih >= H)                                                                 \
                continue;                                                                          \
            __global const float *xrow = xc + ih * W;                                              \
            __global const float *wq = wk + (c * R + r) * S * KB;                                  \
            for (int s = 0; s < S; s++) {                                                          \
                float16 xv[PX];                                                                    \
                _Pragma("unroll") for (int v = 0; v < PX; v++) xv[v] = LOAD;                       \
                _Pragma("unroll") for (int j = 0; j < KB; j++)                                     \
                {                                                                                  \
                    const float16 wv = (float16)(wq[s * KB + j]);                                  \
                    _Pragma("unroll") for (int v = 0; v < PX; v++) acc[j][v] =                     \
                        fma(wv, xv[v], acc[j][v]);                                                 \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

/* Forward. A work-item owns KB output channels x 16*PX pixels of one output row; wp holds the
 * weights packed by conv2d_direct_pack_weights.
 * Global: (ceil(OW / (16 * PX)) * OH, N * G * ceil(KG / KB)). */
__kernel void conv2d_direct_fwd(__global const float *x, const int x_off, __global const float *wp,
                                const int wp_off, __global const float *b, const int b_off,
                                const int has_b, __global const float *z, const int z_off,
                                const int has_z, __global float *y, const int y_off, GEOM_ARGS,
                                const int act, const int res_before)
{
    const int owt = (OW + 16 * PX - 1) / (16 * PX);
    const int tile = (int)get_global_id(0);
    const int kbs = (KG + KB - 1) / KB;
    const int job = (int)get_global_id(1);
    if (tile >= owt * OH || job >= N * G * kbs)
        return;
    const int oh = tile / owt, ow0 = (tile % owt) * 16 * PX;
    const int kb = job % kbs, g = (job / kbs) % G, n = job / (kbs * G);
    const int k0 = g * KG + kb * KB; /* first output channel of this work-item */

    float16 acc[KB][PX];
#pragma unroll
    for (int j = 0; j < KB; j++)
#pragma unroll
        for (int v = 0; v < PX; v++)
            acc[j][v] = (float16)(0.0f);
    __global const float *wk = wp + wp_off + (size_t)(g * kbs + kb) * CG * R * S * KB;
    const int iw0 = ow0 * SW - PL;
    /* Tiles whose every tap lies inside the row at stride 1 (most of them) take plain vector
     * loads: no bounds test in the inner loop. */
    if (SW == 1 && iw0 >= 0 && iw0 + (S - 1) * DW + 16 * PX <= W) {
        FWD_TAPS(vload16(0, xrow + iw0 + v * 16 + s * DW))
    } else {
        FWD_TAPS(load16(xrow, iw0 + v * 16 * SW + s * DW, SW, W))
    }
    const int npix = min(16 * PX, OW - ow0);
#pragma unroll
    for (int j = 0; j < KB; j++) {
        const int k = k0 + j;
        if (kb * KB + j >= KG)
            continue; /* past the group's channels */
        const float bias = has_b ? b[b_off + k] : 0.0f;
        const size_t o = ((size_t)n * K + k) * OH * OW + oh * OW + ow0;
#pragma unroll
        for (int q = 0; q < PX; q++)
            if (npix > 16 * q)
                conv_epilogue_store(y + y_off + o + 16 * q, npix - 16 * q, acc[j][q], bias,
                                    z + z_off + o + 16 * q, has_z, act, res_before);
    }
}

/* Forward over xp, the zero-padded copy of x split into SH x SW phases (conv2d_direct_pad_phases;
 * at stride 1 one phase, written by dw_pad): phase (a, b) of a channel is the HP x WP plane
 * xpad[i * SH + a][j * SW + b], HP = OH + (R-1)*DH / SH, WP = OW + (S-1)*DW / SW. The output
 * pixels of one image are one flat run p = oh * WP + ow, and tap (r, s) of pixel p reads phase
 * (r*DH % SH, s*DW % SW) at p + (r*DH / SH) * WP + s*DW / SW: contiguous across rows, whatever
 * the stride. Every tile takes plain vector loads and never idles on a short row; lanes in the
 * padding columns (ow >= OW) or past the run are computed and dropped.
 * Global: (ceil(ceil(OH * WP / (16 * PX)) / LX) * LX * ceil(KG / KB), N * G) for local size
 * (LX, .). */
__kernel void conv2d_direct_fwd_flat(__global const float *xp, const int xp_off,
                                     __global const float *wp, const int wp_off,
                                     __global const float *b, const int b_off, const int has_b,
                                     __global const float *z, const int z_off, const int has_z,
                                     __global float *y, const int y_off, GEOM_ARGS, const int HP,
                                     const int WP, const int act, const int res_before)
{
    /* Work-group gx takes channel block gx % kbs of tile group gx / kbs: the work-groups that
     * follow one another (dimension 0 first) share one run of x across the channel blocks while
     * it is in cache, instead of each block streaming the whole image again. */
    const int kbs = (KG + KB - 1) / KB;
    const int grp = (int)get_group_id(0);
    const int tile = grp / kbs * (int)get_local_size(0) + (int)get_local_id(0);
    const int ng = (int)get_global_id(1); /* n * G + g */
    const int run = OH * WP;
    if (tile * 16 * PX >= run || ng >= N * G)
        return;
    const int p0 = tile * 16 * PX;
    const int kb = grp % kbs, g = ng % G, n = ng / G;
    const int k0 = g * KG + kb * KB; /* first output channel of this work-item */

    float16 acc[KB][PX];
#pragma unroll
    for (int j = 0; j < KB; j++)
#pragma unroll
        for (int v = 0; v < PX; v++)
            acc[j][v] = (float16)(0.0f);
    __global const float *wk = wp + wp_off + (size_t)(g * kbs + kb) * CG * R * S * KB;
    /* Taps outside, channels inside: the phase arithmetic (divisions by the run-time strides)
     * runs once per tap, and the channel loop is loads and FMAs alone. */
    const size_t xplane = (size_t)SH * SW * HP * WP;
    __global const float *xn = xp + xp_off + ((size_t)n * C + g * CG) * xplane + p0;
    for (int r = 0; r < R; r++) {
        const int rr = r * DH; /* row phase rr % SH, shifted by rr / SH rows */
        __global const float *xr = xn + ((rr % SH) * SW * HP + rr / SH) * WP;
        for (int s = 0; s < S; s++) {
            const int ss = s * DW;
            __global const float *xs = xr + (ss % SW) * HP * WP + ss / SW;
            __global const float *wq = wk + (r * S + s) * KB;
            for (int c = 0; c < CG; c++, xs += xplane, wq += R * S * KB) {
                float16 xv[PX];
#pragma unroll
                for (int v = 0; v < PX; v++)
                    xv[v] = vload16(0, xs + v * 16);
#pragma unroll
                for (int j = 0; j < KB; j++) {
                    const float16 wv = (float16)(wq[j]);
#pragma unroll
                    for (int v = 0; v < PX; v++)
                        acc[j][v] = fma(wv, xv[v], acc[j][v]);
                }
            }
        }
    }
    /* The tile's lanes p0 + i sit in output row oh0 from column ow0 on, wrapping every WP. */
    const int oh0 = p0 / WP, ow0 = p0 - oh0 * WP;
    /* A tile inside one output row stores runs: all its lanes (the usual case; the constant
     * count folds the tests away), or those before the row's padding columns. */
    if (ow0 + 16 * PX <= OW || (ow0 + 16 * PX <= WP && oh0 < OH)) {
        const int npix = ow0 + 16 * PX <= OW ? 16 * PX : OW - ow0;
#pragma unroll
        for (int j = 0; j < KB; j++) {
            if (kb * KB + j >= KG)
                continue; /* past the group's channels */
            const float bias = has_b ? b[b_off + k0 + j] : 0.0f;
            const size_t o = ((size_t)n * K + k0 + j) * OH * OW + oh0 * OW + ow0;
#pragma unroll
            for (int v = 0; v < PX; v++)
                if (npix > 16 * v)
                    conv_epilogue_store(y + y_off + o + 16 * v, npix - 16 * v, acc[j][v], bias,
                                        z + z_off + o + 16 * v, has_z, act, res_before);
        }
        return;
    }
    int dst[16 * PX]; /* offset of each lane in an output plane, -1 for dropped lanes */
    for (int i = 0, oh = oh0, ow = ow0; i < 16 * PX; i++) {
        dst[i] = (oh < OH && ow < OW) ? oh * OW + ow : -1;
        if (++ow == WP)
            ow = 0, oh++;
    }
#pragma unroll
    for (int j = 0; j < KB; j++) {
        if (kb * KB + j >= KG)
            continue; /* past the group's channels */
        const float bias = has_b ? b[b_off + k0 + j] : 0.0f;
        const size_t o = ((size_t)n * K + k0 + j) * OH * OW;
        float v[16 * PX], zs[16 * PX];
        for (int i = 0; i < 16 * PX; i++)
            zs[i] = has_z && dst[i] >= 0 ? z[z_off + o + dst[i]] : 0.0f;
#pragma unroll
        for (int q = 0; q < PX; q++)
            vstore16(conv_epilogue16(acc[j][q], bias, vload16(q, zs), act, res_before), q, v);
        for (int i = 0; i < 16 * PX; i++)
            if (dst[i] >= 0)
                y[y_off + o + dst[i]] = v[i];
    }
}

/* Weights packed for the channel-vector kernel: wt[g][kb][r][s][c][16 * KV] =
 * w[g*KG + kb*16*KV + j][c][r][s] (zero past the group's channels): the block's channels
 * adjacent at each (r, s, c), in the order the kernel walks them.
 * Global: (CG * R * S, G * ceil(KG / (16 * KV))). */
__kernel void conv2d_direct_pack_weights_kvec(__global const float *w, const int w_off,
                                              __global float *wt, const int wt_off, GEOM_ARGS)
{
    const int q = (int)get_global_id(0); /* (c, r, s) of w's row */
    const int kbs = (KG + 16 * KV - 1) / (16 * KV);
    const int job = (int)get_global_id(1); /* g * kbs + kb */
    const int crs = CG * R * S;
    if (q >= crs || job >= G * kbs)
        return;
    const int kb = job % kbs, g = job / kbs, c = q / (R * S), rs = q % (R * S);
    __global float *out = wt + wt_off + (((size_t)job * R * S + rs) * CG + c) * 16 * KV;
    for (int j = 0; j < 16 * KV; j++) {
        const int kk = kb * 16 * KV + j;
        out[j] = kk < KG ? w[w_off + (size_t)(g * KG + kk) * crs + q] : 0.0f;
    }
}

/* Forward with the output channels in the vector lanes: a work-item owns 16 * KV channels of one
 * group (lanes) x CI consecutive output pixels q.. of one image, from xp, x padded and split
 * into phases as for conv2d_direct_fwd_flat (HP x WP planes, SH * SW per channel), and wt
 * (conv2d_direct_pack_weights_kvec). For every tap and input channel it loads the KV weight
 * vectors and broadcasts the CI input values its pixels read: KV + CI loads for KV * CI FMAs,
 * with no lanes spent on padding columns or on a short last tile of a small plane. The
 * epilogue runs on the channel lanes; each lane's value goes to its channel's plane.
 * Global: (ceil(OH * OW / CI), N * G * ceil(KG / (16 * KV))). */
__kernel void conv2d_direct_fwd_kvec(__global const float *xp, const int xp_off,
                                     __global const float *wt, const int wt_off,
                                     __global const float *b, const int b_off, const int has_b,
                                     __global const float *z, const int z_off, const int has_z,
                                     __global float *y, const int y_off, GEOM_ARGS, const int HP,
                                     const int WP, const int act, const int res_before)
{
    const int ohw = OH * OW;
    const int blk = (int)get_global_id(0);
    const int kbs = (KG + 16 * KV - 1) / (16 * KV);
    const int job = (int)get_global_id(1);
    if (blk * CI >= ohw || job >= N * G * kbs)
        return;
    const int kb = job % kbs, g = job / kbs % G, n = job / (kbs * G);
    const int q0 = blk * CI;
    int po[CI];
    kvec_positions(po, q0, ohw, OW, WP);
    float16 acc[KV][CI];
    kvec_zero(acc);
    const size_t xplane = (size_t)SH * SW * HP * WP;
    __global const float *xn = xp + xp_off + ((size_t)n * C + g * CG) * xplane;
    __global const float *wq = wt + wt_off + (size_t)(g * kbs + kb) * R * S * CG * 16 * KV;
    for (int r = 0; r < R; r++) {
        const int rr = r * DH;
        for (int s = 0; s < S; s++) {
            const int ss = s * DW;
            kvec_accumulate(acc,
                            xn + ((rr % SH) * SW + ss % SW) * HP * WP + (rr / SH) * WP + ss / SW,
                            po, wq, CG, xplane);
            wq += (size_t)CG * 16 * KV;
        }
    }
#pragma unroll
    for (int v = 0; v < KV; v++) {
        const int kk0 = kb * 16 * KV + v * 16; /* the vector's first channel within the group */
        const int nl = min(16, KG - kk0);      /* its lanes inside the group */
        const size_t k0 = (size_t)g * KG + kk0;
        float bs[16];
        for (int l = 0; l < 16; l++)
            bs[l] = has_b && l < nl ? b[b_off + k0 + l] : 0.0f;
        const float16 bv = vload16(0, bs);
#pragma unroll
        for (int j = 0; j < CI; j++) {
            if (q0 + j >= ohw)
                continue;
            const size_t o = ((size_t)n * K + k0) * ohw + q0 + j; /* lane 0's output */
            float zs[16], out[16];
            for (int l = 0; l < 16; l++)
                zs[l] = has_z && l < nl ? z[z_off + o + (size_t)l * ohw] : 0.0f;
            vstore16(conv_epilogue16(acc[v][j] + bv, 0.0f, vload16(0, zs), act, res_before), 0,
                     out);
            for (int l = 0; l < nl; l++)
                y[y_off + o + (size_t)l * ohw] = out[l];
        }
    }
}
