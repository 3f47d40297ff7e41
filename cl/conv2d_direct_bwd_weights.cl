/* conv2d_direct_bwd_weights.cl - DIRECT convolution backward weights (conv2d_direct.h): the row
 * kernel, the flat kernel over zero-padded copies by chunks of images, and the deterministic sum
 * of the chunks' partial sums.
 * Defines:
 *   KBW (default 8) output channels and TS (default 3) slots per work-item; 1..16 and 1..8.
 *   TC  (default 0) 0: the slots are TS taps along a kernel row of one input channel; 1 (kernels
 *       1 wide): TS input channels at the one tap, so each gradient vector serves TS channels
 *       instead of one (a 1x1 kernel has no taps to share it).
 *   KV  (default 2) float16 vectors of output channels and CI (default 12) weight columns (c, r,
 *       s) per work-item of the channel-vector kernel; 1..4 and 1..16. */
#include "conv2d_direct.h"

#ifndef KBW
#define KBW 8
#endif
#ifndef TS
#define TS 3
#endif
#ifndef TC
#define TC 0
#endif
#if KBW < 1 || KBW > 16 || TS < 1 || TS > 8
#error "KBW must be in 1..16 and TS in 1..8"
#endif
#ifndef KV
#define KV 2
#endif
#ifndef CI
#define CI 12
#endif
#if KV < 1 || KV > 4 || CI < 1 || CI > 16
#error "KV must be in 1..4 and CI in 1..16"
#endif

/* Slot t's input channel past the work-item's first, and tap past its first. */
#if TC
#define SLOT_CH(t) (t)
#define SLOT_TAP(t) 0
#else
#define SLOT_CH(t) 0
#define SLOT_TAP(t) (t)
#endif
/* Work-items along the first dimension (channel, kernel row and tap blocks). */
#define WGT_ITEMS (TC ? (CG + TS - 1) / TS * R : CG * R * ((S + TS - 1) / TS))

static inline float hsum16(float16 a)
{
    const float8 b = a.lo + a.hi;
    const float4 c = b.lo + b.hi;
    const float2 d = c.lo + c.hi;
    return d.x + d.y;
}

/* The block of a backward-weights work-item: KBW output channels from k0 x TS slots (taps from
 * s0 of input channel c, or input channels from c) of kernel row r, its accumulators zeroed,
 * kc[j] the offset of output channel j's gradient plane of PLANE floats and xc[t] that of slot
 * t's input channel past channel c's in planes of XPLANE floats (past the group's end: its last
 * channel, never stored). Needs q, job, sts and kbs. */
#define WGT_BEGIN(PLANE, XPLANE)                                                                   \
    const int s0 = TC ? 0 : (q % sts) * TS, r = TC ? q % R : (q / sts) % R;                        \
    const int c = TC ? q / R * TS : q / (R * sts);                                                 \
    const int kb = job % kbs, g = job / kbs;                                                       \
    const int k0 = g * KG + kb * KBW;                                                              \
    float16 acc[KBW][TS];                                                                          \
    int kc[KBW];                                                                                   \
    _Pragma("unroll") for (int j = 0; j < KBW; j++)                                                \
    {                                                                                              \
        _Pragma("unroll") for (int t = 0; t < TS; t++) acc[j][t] = (float16)(0.0f);                \
        kc[j] = min(k0 + j, g * KG + KG - 1) * (PLANE);                                            \
    }                                                                                              \
    int xch[TS];                                                                                   \
    _Pragma("unroll") for (int t = 0; t < TS; t++)                                                 \
    {                                                                                              \
        xch[t] = (min(c + SLOT_CH(t), CG - 1) - c) * (XPLANE);                                     \
    }

/* Stores the block's sums at DST[k][c][r][s] (added to it with beta), skipping the channels past
 * the group's and the taps past the kernel's width. */
#define WGT_STORE(DST)                                                                             \
    _Pragma("unroll") for (int j = 0; j < KBW; j++)                                                \
    {                                                                                              \
        _Pragma("unroll") for (int t = 0; t < TS; t++)                                             \
        {                                                                                          \
            if (kb * KBW + j >= KG || c + SLOT_CH(t) >= CG || s0 + SLOT_TAP(t) >= S)               \
                continue;                                                                          \
            __global float *d = (DST) + ((size_t)(k0 + j) * CG + c + SLOT_CH(t)) * R * S + r * S + \
                                s0 + SLOT_TAP(t);                                                  \
            const float sum = hsum16(acc[j][t]);                                                   \
            *d = beta ? *d + sum : sum;                                                            \
        }                                                                                          \
    }

#define WGT_VLOAD(p) vload16(0, p)
#define WGT_TAIL(p) load16_part(p, OW - ow0)

/* The backward-weights sum for one row of 16 output pixels: XLOAD(t) gives the input lanes of
 * tap s0 + t, DYLOAD(p) the gradient lanes at p. */
#define WGT_ROW(XLOAD, DYLOAD)                                                                     \
    {                                                                                              \
        float16 xv[TS];                                                                            \
        _Pragma("unroll") for (int t = 0; t < TS; t++) xv[t] = XLOAD;                              \
        _Pragma("unroll") for (int j = 0; j < KBW; j++)                                            \
        {                                                                                          \
            const float16 dv = DYLOAD(dyn + kc[j] + oh * OW + ow0);                                \
            _Pragma("unroll") for (int t = 0; t < TS; t++) acc[j][t] = fma(dv, xv[t], acc[j][t]);  \
        }                                                                                          \
    }

/* Backward weights: dw[k][c][r][s] = beta * dw + sum over n, oh, ow of dy * x. A work-item owns
 * KBW output channels x TS consecutive taps s of one (c, r) (TC: TS consecutive channels c at
 * (r, 0)): each gradient vector serves the TS slots and each input vector the KBW channels.
 * Rows of 16 pixels are summed in float16 lanes, reduced in a fixed order: deterministic.
 * Global: (WGT_ITEMS, G * ceil(KG / KBW)). */
__kernel void conv2d_direct_bwd_weights(__global const float *x, const int x_off,
                                        __global const float *dy, const int dy_off,
                                        __global float *dw, const int dw_off, GEOM_ARGS,
                                        const int beta)
{
    const int sts = (S + TS - 1) / TS;
    const int q = (int)get_global_id(0);
    const int kbs = (KG + KBW - 1) / KBW;
    const int job = (int)get_global_id(1);
    if (q >= WGT_ITEMS || job >= G * kbs)
        return;
    WGT_BEGIN(OH * OW, H * W)
    /* At stride 1, a full tile of 16 pixels whose taps all read inside the input row takes
     * plain loads: ow0 in [lo, hi]. */
    const int lo = PL - s0 * DW, hi = min(OW - 16, W - 16 + PL - (s0 + SLOT_TAP(TS - 1)) * DW);
    for (int n = 0; n < N; n++) {
        __global const float *xc = x + x_off + ((size_t)n * C + g * CG + c) * H * W;
        __global const float *dyn = dy + dy_off + (size_t)n * K * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            const int ih = oh * SH - PT + r * DH;
            if (ih < 0 || ih >= H)
                continue;
            __global const float *xrow = xc + ih * W;
            for (int ow0 = 0; ow0 < OW; ow0 += 16) {
                if (SW == 1 && ow0 >= lo && ow0 <= hi)
                    WGT_ROW(vload16(0, xrow + xch[t] + ow0 + (s0 + SLOT_TAP(t)) * DW - PL),
                            WGT_VLOAD)
                else
                    WGT_ROW(load16(xrow + xch[t], ow0 * SW - PL + (s0 + SLOT_TAP(t)) * DW, SW, W),
                            WGT_TAIL)
            }
        }
    }
    WGT_STORE(dw + dw_off)
}

/* acc += the products of a tile of 16 lanes, from px of the flat run of x's copy and pd of dy's:
 * XLOAD(p) and DLOAD(p) read the 16 floats at p. */
#define FLAT_TILE(px, pd, XLOAD, DLOAD)                                                            \
    {                                                                                              \
        float16 xv[TS];                                                                            \
        _Pragma("unroll") for (int t = 0; t < TS; t++) xv[t] = XLOAD(xc + xo[t] + (px));           \
        _Pragma("unroll") for (int j = 0; j < KBW; j++)                                            \
        {                                                                                          \
            const float16 dv = DLOAD(dyn + kc[j] + (pd));                                          \
            _Pragma("unroll") for (int t = 0; t < TS; t++) acc[j][t] = fma(dv, xv[t], acc[j][t]);  \
        }                                                                                          \
    }
#define FLAT_WHOLE(p) vload16(0, p)
#define FLAT_IN_RUN(p) select((float16)(0.0f), vload16(0, p), in_run)
#define FLAT_IN_ROW(p) select((float16)(0.0f), vload16(0, p), in_row)

/* Backward weights over flat padded copies, at any stride: xp, x padded and split into SH x SW
 * phases of HPX x WP as for the flat forward (conv2d_direct_pad_phases; at stride 1 one phase, by
 * dw_pad), WP = OW + (S-1)*DW / SW, HPX = OH + (R-1)*DH / SH, and dyp, dy in planes of HPD = OH
 * rows of WP with zeros in the columns ow >= OW. The output pixels of one image are one flat run
 * p = oh * WP + ow, and tap (r, s) pairs dyp[p] with phase (r*DH % SH, s*DW % SW) of xp at
 * p + (r*DH / SH) * WP + s*DW / SW: plain vector loads in whole tiles of 16 across rows; lanes
 * in the padding columns meet zeros in dyp, and those of the last tile past the run (read from
 * the next plane, or zero rows after the last) are zeroed: the planes need no zero rows of
 * their own, so at stride 1 without pads (and with WP == OW for dy) the copies keep the
 * source's order and move as one block. dy may instead be read in place (DYW = OW < WP, its
 * planes OH x OW): then the tiles go along each row, x's at oh * WP + ow0 and dy's at
 * oh * OW + ow0, the lanes of a row's last tile past OW zeroed in dy (they read the next row or
 * the floats past dy's end). With DYW = WP dy is the copy (or in place where OW = WP). The
 * third dimension splits the images into chunks of
 * NCH: chunk z sums images [z * NCH, z * NCH + NCH) into out + z * K*CG*R*S (the partial sums
 * that conv2d_direct_sum_chunks adds; with one chunk, out is dw).
 * Global: (WGT_ITEMS, G * ceil(KG / KBW), ceil(N / NCH)). */
__kernel void conv2d_direct_bwd_weights_flat(__global const float *xp, const int xp_off,
                                             __global const float *dyp, const int dyp_off,
                                             __global float *out, const int out_off, GEOM_ARGS,
                                             const int HPX, const int HPD, const int WP,
                                             const int DYW, const int NCH, const int beta)
{
    const int sts = (S + TS - 1) / TS;
    const int q = (int)get_global_id(0);
    const int kbs = (KG + KBW - 1) / KBW;
    const int job = (int)get_global_id(1);
    const int chunk = (int)get_global_id(2);
    if (q >= WGT_ITEMS || job >= G * kbs || chunk * NCH >= N)
        return;
    WGT_BEGIN(HPD * DYW, SH * SW * HPX * WP)
    const int rr = r * DH;
    int xo[TS]; /* where slot t's tap starts in its channel's phases, from channel c's */
#pragma unroll
    for (int t = 0; t < TS; t++) {
        const int ss = (s0 + SLOT_TAP(t)) * DW;
        xo[t] = xch[t] + ((rr % SH) * SW + ss % SW) * HPX * WP + (rr / SH) * WP + ss / SW;
    }
    const int run = OH * WP, whole = run / 16 * 16;
    const int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const int16 in_run = lane < run - whole, in_row = lane < OW % 16;
    for (int n = chunk * NCH; n < min(N, chunk * NCH + NCH); n++) {
        __global const float *xc = xp + xp_off + ((size_t)n * C + g * CG + c) * SH * SW * HPX * WP;
        __global const float *dyn = dyp + dyp_off + (size_t)n * K * HPD * DYW;
        if (DYW == WP) {
            for (int p0 = 0; p0 < whole; p0 += 16)
                FLAT_TILE(p0, p0, FLAT_WHOLE, FLAT_WHOLE)
            if (whole < run) /* the last tile: lanes past the run read the next plane, zeroed */
                FLAT_TILE(whole, whole, FLAT_IN_RUN, FLAT_IN_RUN)
            continue;
        }
        for (int oh = 0; oh < OH; oh++) {
            int ow0 = 0;
            for (; ow0 + 16 <= OW; ow0 += 16)
                FLAT_TILE(oh * WP + ow0, oh * OW + ow0, FLAT_WHOLE, FLAT_WHOLE)
            if (ow0 < OW)
                FLAT_TILE(oh * WP + ow0, oh * OW + ow0, FLAT_WHOLE, FLAT_IN_ROW)
        }
    }
    WGT_STORE(out + out_off + (size_t)chunk * K * CG * R * S)
}

/* dyt[n][q][k] = dy[n][k][q] (q = oh * OW + ow) for k < K, zero for K <= k < KP: the gradient
 * with its channels adjacent, for conv2d_direct_bwd_weights_kvec. A work-item moves a block of
 * 16 channels x 16 pixels through registers. Global: (ceil(OH * OW / 16), KP / 16, N). */
__kernel void conv2d_direct_dy_channels_last(__global const float *dy, const int dy_off,
                                             __global float *dyt, const int dyt_off, const int K,
                                             const int OHW, const int KP)
{
    const int q0 = (int)get_global_id(0) * 16, k0 = (int)get_global_id(1) * 16;
    const int n = (int)get_global_id(2);
    if (q0 >= OHW || k0 >= KP)
        return;
    const int nq = min(16, OHW - q0);
    float blk[16][16]; /* [k][q] */
#pragma unroll
    for (int j = 0; j < 16; j++) {
        const float16 v = k0 + j < K
                              ? load16_part(dy + dy_off + ((size_t)n * K + k0 + j) * OHW + q0, nq)
                              : (float16)(0.0f);
        vstore16(v, 0, blk[j]);
    }
    __global float *out = dyt + dyt_off + ((size_t)n * OHW + q0) * KP + k0;
    for (int i = 0; i < nq; i++) {
        float16 v;
#pragma unroll
        for (int j = 0; j < 16; j++)
            v[j] = blk[j][i];
        vstore16(v, 0, out + (size_t)i * KP);
    }
}

/* Backward weights with the output channels in the vector lanes, for layers with many of them:
 * dw[k][c][r][s] for 16 * KV channels k0.. (lanes) x CI consecutive weight columns (c, r, s) of
 * one group, from dyt (conv2d_direct_dy_channels_last: KP floats per pixel) and xp, x padded
 * and split into phases as for the flat kernels (HPX x WP planes, SH * SW per channel). Every
 * output pixel p = oh * WP + ow of an image adds the KV gradient vectors at it times the CI
 * input values its columns read (xp at the column's offset + p, broadcast): KV + CI loads for
 * KV * CI FMAs, no lanes spent on padding columns and no sums across lanes (the flat kernel's
 * 16 pixel lanes need both; on 7x7 planes a quarter of its lanes are padding). Images in
 * chunks of NCH as for the flat kernel. The KP - K channels past the last (zeros in dyt) and the
 * lanes past a group's channels are computed and dropped.
 * Global: (ceil(CG * R * S / CI), G * ceil(KG / (16 * KV)), ceil(N / NCH)). */
__kernel void conv2d_direct_bwd_weights_kvec(__global const float *xp, const int xp_off,
                                             __global const float *dyt, const int dyt_off,
                                             __global float *out, const int out_off, GEOM_ARGS,
                                             const int HPX, const int WP, const int KP,
                                             const int NCH, const int beta)
{
    const int crs = CG * R * S;
    const int col0 = (int)get_global_id(0) * CI;
    const int kbs = (KG + 16 * KV - 1) / (16 * KV);
    const int job = (int)get_global_id(1);
    const int chunk = (int)get_global_id(2);
    if (col0 >= crs || job >= G * kbs || chunk * NCH >= N)
        return;
    const int kb = job % kbs, g = job / kbs;
    const int k0 = g * KG + kb * 16 * KV;
    const size_t xplane = (size_t)SH * SW * HPX * WP; /* one channel's phases */
    int xo[CI]; /* where column i's taps start in an image's phases, from channel g * CG's */
#pragma unroll
    for (int i = 0; i < CI; i++) {
        const int col = min(col0 + i, crs - 1), c = col / (R * S), r = col / S % R, s = col % S;
        const int rr = r * DH, ss = s * DW;
        xo[i] =
            (int)(c * xplane) + ((rr % SH) * SW + ss % SW) * HPX * WP + (rr / SH) * WP + ss / SW;
    }
    float16 acc[KV][CI];
#pragma unroll
    for (int v = 0; v < KV; v++)
#pragma unroll
        for (int i = 0; i < CI; i++)
            acc[v][i] = (float16)(0.0f);
    for (int n = chunk * NCH; n < min(N, chunk * NCH + NCH); n++) {
        __global const float *xn = xp + xp_off + ((size_t)n * C + g * CG) * xplane;
        __global const float *dn = dyt + dyt_off + (size_t)n * OH * OW * KP + k0;
        for (int oh = 0; oh < OH; oh++) {
            __global const float *xr = xn + oh * WP;
            __global const float *dr = dn + (size_t)oh * OW * KP;
            for (int ow = 0; ow < OW; ow++) {
                float16 dv[KV];
#pragma unroll
                for (int v = 0; v < KV; v++)
                    dv[v] = vload16(v, dr + (size_t)ow * KP);
#pragma unroll
                for (int i = 0; i < CI; i++) {
                    const float16 xv = (float16)(xr[xo[i] + ow]);
#pragma unroll
                    for (int v = 0; v < KV; v++)
                        acc[v][i] = fma(xv, dv[v], acc[v][i]);
                }
            }
        }
    }
#pragma unroll
    for (int v = 0; v < KV; v++) {
        const int kk0 = kb * 16 * KV + v * 16; /* the vector's first channel within the group */
        const int nl = min(16, KG - kk0);      /* its lanes inside the group */
        float sums[16];
#pragma unroll
        for (int i = 0; i < CI; i++) {
            if (col0 + i >= crs)
                continue;
            vstore16(acc[v][i], 0, sums);
            __global float *d = out + out_off + ((size_t)chunk * K + g * KG + kk0) * crs + col0 + i;
            for (int l = 0; l < nl; l++, d += crs)
                *d = beta ? *d + sums[l] : sums[l];
        }
    }
}

/* dw[i] = beta * dw[i] + the sum over chunks z of part[z * count + i], in chunk order:
 * deterministic. Global: (count). */
__kernel void conv2d_direct_sum_chunks(__global const float *part, const int part_off,
                                       const int count, const int nchunks, __global float *dw,
                                       const int dw_off, const int beta)
{
    const int i = (int)get_global_id(0);
    if (i >= count)
        return;
    float sum = 0.0f;
    for (int z = 0; z < nchunks; z++)
        sum += part[part_off + (size_t)z * count + i];
    dw[dw_off + i] = beta ? dw[dw_off + i] + sum : sum;
}
