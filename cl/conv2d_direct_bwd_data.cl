/* conv2d_direct_bwd_data.cl - DIRECT convolution backward data (conv2d_direct.h): a gather, no
 * atomics; the weight packing, the row kernel and the flat kernel over a zero-padded copy of dy.
 * Defines:
 *   KB (default 8) input channels per work-item; 1..16.
 *   KV (default 4) float16 vectors of input channels and CI (default 6) input pixels per
 *   work-item of the channel-vector kernel; 1..4 and 1..16. */
#include "conv2d_direct.h"

#ifndef KB
#define KB 8
#endif
#if KB < 1 || KB > 16
#error "KB must be in 1..16"
#endif
#include "conv_kvec.h"

/* Runs the statements given for every tap (r, s) that reaches phase (A, B) of dx, with `tap`
 * the offset in dy's padded plane (rows WP apart, shifted by PU and PLD) of what that tap reads
 * for the phase's pixel 0: tap (r, s) feeds dx pixel (i*SH + A, j*SW + B) from dy pixel
 * ((i*SH + A + PT - r*DH) / SH, ...) where SH divides that (SW likewise). */
#define PHASE_TAPS(...)                                                                            \
    for (int r = 0; r < R; r++) {                                                                  \
        const int u = A + PT - r * DH;                                                             \
        if (u % SH != 0)                                                                           \
            continue;                                                                              \
        for (int s = 0; s < S; s++) {                                                              \
            const int v = B + PL - s * DW;                                                         \
            if (v % SW != 0)                                                                       \
                continue;                                                                          \
            const int tap = (u / SH + PU) * WP + v / SW + PLD;                                     \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    }

/* Weights packed for backward data: wp[g][cb][kk][r][s][KB] = w[g*KG + kk][cb*KB + j][r][s]
 * (zero past the group's channels): the KB input channels of a tap are adjacent.
 * Global: (KG * R * S, G * ceil(CG / KB)). */
__kernel void conv2d_direct_pack_weights_t(__global const float *w, const int w_off,
                                           __global float *wp, const int wp_off, GEOM_ARGS)
{
    const int q = (int)get_global_id(0); /* (kk * R + r) * S + s */
    const int cbs = (CG + KB - 1) / KB;
    const int job = (int)get_global_id(1); /* g * cbs + cb */
    const int krs = KG * R * S;
    if (q >= krs || job >= G * cbs)
        return;
    const int cb = job % cbs, g = job / cbs;
    const int rs = q % (R * S), kk = q / (R * S);
    __global float *out = wp + wp_off + ((size_t)job * krs + q) * KB;
    for (int j = 0; j < KB; j++) {
        const int c = cb * KB + j;
        out[j] = c < CG ? w[w_off + ((size_t)(g * KG + kk) * CG + c) * R * S + rs] : 0.0f;
    }
}

/* The backward-data sum over kk, r, s into acc[KB], with LOAD the 16 gradient lanes. */
#define BWD_TAPS(LOAD)                                                                             \
    for (int kk = 0; kk < KG; kk++) {                                                              \
        __global const float *dyk = dy + dy_off + ((size_t)n * K + g * KG + kk) * OH * OW;         \
        for (int r = 0; r < R; r++) {                                                              \
            const int t = ih + PT - r * DH;                                                        \
            if (t < 0)                                                                             \
                break; /* t only decreases with r */                                               \
            const int oh = SH == 1 ? t : t / SH;                                                   \
            if (oh * SH != t || oh >= OH)                                                          \
                continue;                                                                          \
            __global const float *dyrow = dyk + oh * OW;                                           \
            __global const float *wq = wk + (kk * R + r) * S * KB;                                 \
            for (int s = 0; s < S; s++) {                                                          \
                const float16 dv = LOAD;                                                           \
                _Pragma("unroll") for (int j = 0; j < KB; j++) acc[j] =                            \
                    fma((float16)(wq[s * KB + j]), dv, acc[j]);                                    \
            }                                                                                      \
        }                                                                                          \
    }

/* Backward data: dx = beta * dx + sum over the outputs each input pixel fed. A gather, each
 * input pixel computed by one work-item: KB input channels x 16 pixels of one row; wp holds the
 * weights packed by conv2d_direct_pack_weights_t.
 * Global: (ceil(W / 16) * H, N * G * ceil(CG / KB)). */
__kernel void conv2d_direct_bwd_data(__global const float *dy, const int dy_off,
                                     __global const float *wp, const int wp_off, __global float *dx,
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
#pragma unroll
    for (int j = 0; j < KB; j++)
        acc[j] = (float16)(0.0f);
    __global const float *wk = wp + wp_off + (size_t)(g * cbs + cb) * KG * R * S * KB;
    /* At stride 1, tiles whose every tap reads inside the gradient row take plain loads. */
    const int u0 = iw0 + PL; /* ow of lane 0 for s = 0 */
    if (SW == 1 && u0 - (S - 1) * DW >= 0 && u0 + 16 <= OW) {
        BWD_TAPS(vload16(0, dyrow + u0 - s * DW))
    } else {
        BWD_TAPS(strided_gather16(dyrow, u0 - s * DW, SW, OW))
    }
    const int npix = min(16, W - iw0);
#pragma unroll
    for (int j = 0; j < KB; j++) {
        if (c0 + j >= CG)
            continue; /* past the group's channels */
        const size_t o = dx_off + ((size_t)n * C + g * CG + c0 + j) * H * W + ih * W + iw0;
        store16_part(beta ? load16_part(dx + o, npix) + acc[j] : acc[j], dx + o, npix);
    }
}

/* Backward data over dyp, dy zero-padded to planes of HP x WP shifted by (PU, PLD) rows and
 * columns (dw_pad), one phase (A, B) of dx at a time: the input pixels ih = i*SH + A,
 * iw = j*SW + B of an image (i < HA = ceil((H - A) / SH), j < WB = ceil((W - B) / SW)) are one
 * flat run p = i * WP + j. Tap (r, s) reaches the phase when SH divides u = A + PT - r*DH and
 * SW divides v = B + PL - s*DW, from gradient pixel (i + u / SH, j + v / SW): lane p reads
 * dyp[p + (u / SH + PU) * WP + v / SW + PLD], plain vector loads; lanes past the phase's
 * columns or run are dropped. At stride 1 the one phase is the whole of dx (a forward over dy
 * with the taps reversed); a phase no tap reaches gets zeros.
 * Global: (ceil(ceil(HA * WP / 16) / LX) * LX * ceil(CG / KB), N * G) for local size
 * (LX, .). */
__kernel void conv2d_direct_bwd_data_flat(__global const float *dyp, const int dyp_off,
                                          __global const float *wp, const int wp_off,
                                          __global float *dx, const int dx_off, GEOM_ARGS,
                                          const int HP, const int WP, const int PU, const int PLD,
                                          const int A, const int B, const int beta)
{
    /* Work-group gx takes channel block gx % cbs of tile group gx / cbs: consecutive
     * work-groups share one run of dy across the channel blocks while it is in cache. */
    const int cbs = (CG + KB - 1) / KB;
    const int grp = (int)get_group_id(0);
    const int tile = grp / cbs * (int)get_local_size(0) + (int)get_local_id(0);
    const int ng = (int)get_global_id(1); /* n * G + g */
    const int HA = (H - A + SH - 1) / SH, WB = (W - B + SW - 1) / SW;
    const int run = HA * WP;
    if (tile * 16 >= run || ng >= N * G)
        return;
    const int p0 = tile * 16;
    const int cb = grp % cbs, g = ng % G, n = ng / G;
    const int c0 = cb * KB; /* first input channel within the group */

    float16 acc[KB];
#pragma unroll
    for (int j = 0; j < KB; j++)
        acc[j] = (float16)(0.0f);
    __global const float *wk = wp + wp_off + (size_t)(g * cbs + cb) * KG * R * S * KB;
    /* Taps outside (their divisibility tests and divisions once each), channels inside: long
     * inner loops of loads and FMAs. */
    const size_t plane = (size_t)HP * WP;
    __global const float *dn = dyp + dyp_off + ((size_t)n * K + g * KG) * plane + p0;
    PHASE_TAPS({
        __global const float *d = dn + tap;
        __global const float *wq = wk + (r * S + s) * KB;
        for (int kk = 0; kk < KG; kk++, d += plane, wq += R * S * KB) {
            const float16 dv = vload16(0, d);
            _Pragma("unroll") for (int j = 0; j < KB; j++)
            {
                acc[j] = fma((float16)(wq[j]), dv, acc[j]);
            }
        }
    })
    const int i0 = p0 / WP, j0 = p0 - i0 * WP; /* lane 0; lanes wrap every WP */
    if (SW == 1 && j0 + 16 <= WB) { /* all in one input row (the usual case): vector stores */
#pragma unroll
        for (int j = 0; j < KB; j++) {
            if (c0 + j >= CG)
                continue; /* past the group's channels */
            __global float *o = dx + dx_off + ((size_t)n * C + g * CG + c0 + j) * H * W +
                                (i0 * SH + A) * W + j0 + B;
            vstore16(beta ? vload16(0, o) + acc[j] : acc[j], 0, o);
        }
        return;
    }
    int dst[16]; /* offset of each lane in an input plane, -1 for dropped lanes */
    for (int l = 0, i = i0, jj = j0; l < 16; l++) {
        dst[l] = (i < HA && jj < WB) ? (i * SH + A) * W + jj * SW + B : -1;
        if (++jj == WP)
            jj = 0, i++;
    }
#pragma unroll
    for (int j = 0; j < KB; j++) {
        if (c0 + j >= CG)
            continue; /* past the group's channels */
        const size_t o = dx_off + ((size_t)n * C + g * CG + c0 + j) * H * W;
        float v[16];
        vstore16(acc[j], 0, v);
        for (int l = 0; l < 16; l++)
            if (dst[l] >= 0)
                dx[o + dst[l]] = beta ? dx[o + dst[l]] + v[l] : v[l];
    }
}

/* Weights packed for the channel-vector kernel: wt[g][cb][r][s][kk][16 * KV] =
 * w[g*KG + kk][cb*16*KV + j][r][s] (zero past the group's channels): the block's input channels
 * adjacent at each (r, s, kk), in the order the kernel walks them.
 * Global: (KG * R * S, G * ceil(CG / (16 * KV))). */
__kernel void conv2d_direct_pack_weights_t_kvec(__global const float *w, const int w_off,
                                                __global float *wt, const int wt_off, GEOM_ARGS)
{
    const int q = (int)get_global_id(0); /* (kk * R + r) * S + s */
    const int cbs = (CG + 16 * KV - 1) / (16 * KV);
    const int job = (int)get_global_id(1); /* g * cbs + cb */
    if (q >= KG * R * S || job >= G * cbs)
        return;
    const int cb = job % cbs, g = job / cbs, rs = q % (R * S), kk = q / (R * S);
    __global float *out = wt + wt_off + (((size_t)job * R * S + rs) * KG + kk) * 16 * KV;
    for (int j = 0; j < 16 * KV; j++) {
        const int c = cb * 16 * KV + j;
        out[j] = c < CG ? w[w_off + ((size_t)(g * KG + kk) * CG + c) * R * S + rs] : 0.0f;
    }
}

/* Backward data with the input channels in the vector lanes, phase (A, B) of dx as for
 * conv2d_direct_bwd_data_flat (dyp, HP, WP, PU, PLD alike): a work-item owns 16 * KV input
 * channels of one group (lanes) x CI consecutive pixels q.. of the phase (HA x WB) of one image.
 * For every tap that reaches the phase and every output channel it loads the KV weight vectors
 * (conv2d_direct_pack_weights_t_kvec) and broadcasts the CI gradient values its pixels read:
 * KV + CI loads for KV * CI FMAs, no lanes on padding columns. dx = beta * dx + the sums.
 * Global: (ceil(HA * WB / CI), N * G * ceil(CG / (16 * KV))). */
__kernel void conv2d_direct_bwd_data_kvec(__global const float *dyp, const int dyp_off,
                                          __global const float *wt, const int wt_off,
                                          __global float *dx, const int dx_off, GEOM_ARGS,
                                          const int HP, const int WP, const int PU, const int PLD,
                                          const int A, const int B, const int beta)
{
    const int HA = (H - A + SH - 1) / SH, WB = (W - B + SW - 1) / SW;
    const int npix = HA * WB;
    const int blk = (int)get_global_id(0);
    const int cbs = (CG + 16 * KV - 1) / (16 * KV);
    const int job = (int)get_global_id(1);
    if (blk * CI >= npix || job >= N * G * cbs)
        return;
    const int cb = job % cbs, g = job / cbs % G, n = job / (cbs * G);
    const int q0 = blk * CI;
    int po[CI];
    kvec_positions(po, q0, npix, WB, WP);
    float16 acc[KV][CI];
    kvec_zero(acc);
    const size_t plane = (size_t)HP * WP;
    __global const float *dn = dyp + dyp_off + ((size_t)n * K + g * KG) * plane;
    __global const float *wk = wt + wt_off + (size_t)(g * cbs + cb) * R * S * KG * 16 * KV;
    PHASE_TAPS(
        kvec_accumulate(acc, dn + tap, po, wk + (size_t)(r * S + s) * KG * 16 * KV, KG, plane);)
#pragma unroll
    for (int e = 0; e < KV; e++) {
        const int cc0 = cb * 16 * KV + e * 16; /* the vector's first channel within the group */
        const int nl = min(16, CG - cc0);      /* its lanes inside the group */
#pragma unroll
        for (int j = 0; j < CI; j++) {
            const int q = q0 + j;
            if (q >= npix)
                continue;
            __global float *o = dx + dx_off + ((size_t)n * C + g * CG + cc0) * H * W +
                                (q / WB * SH + A) * W + q % WB * SW + B;
            float out[16];
            vstore16(acc[e][j], 0, out);
            for (int l = 0; l < nl; l++, o += (size_t)H * W)
                *o = beta ? *o + out[l] : out[l];
        }
    }
}
