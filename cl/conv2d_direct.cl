/* conv2d_direct.cl - direct 2-D convolution, NCHW f32, any padding, stride, dilation and groups:
 * forward with the fused epilogue, backward data (a gather: no atomics) and backward weights.
 * Register-blocked: a work-item owns KB channels x 16 consecutive pixels of one row, held in
 * float16 accumulators (what POCL turns into AVX-512); each loaded input vector is reused for
 * the KB channels and each weight for the 16 pixels. No local memory.
 * Defines:
 *   KB (default 8) channels per work-item (output channels forward and for weights, input
 *      channels for backward data); 1..16.
 *   PX (default 1) float16 pixel vectors per work-item along a row, forward only; 1..4.
 *   KBW (default 8) output channels and TS (default 3) taps along a kernel row per work-item
 *       of backward weights; 1..16 and 1..8.
 * Geometry is passed at run time, so one build serves every shape. */
#include "conv_epilogue.h"
#include "conv_rows.h"

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
#ifndef KBW
#define KBW 8
#endif
#ifndef TS
#define TS 3
#endif
#if KBW < 1 || KBW > 16 || TS < 1 || TS > 8
#error "KBW must be in 1..16 and TS in 1..8"
#endif

static inline float hsum16(float16 a)
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

/* The phase-split zero-padded copy of x that the strided flat forward reads: destination row fr
 * of WP floats is row i of phase (a, b) of plane q = fr / (SH * SW * HP) (a channel of an image),
 * xpad[i * SH + a][j * SW + b] with xpad[y][x] = x[q][y - PT][x - PL] (zero outside x); rows past
 * nplanes planes (the slack that the last tiles read) are zero. Phases that no tap reads are
 * not written: the flat kernels read them only into lanes or taps they drop. One work-item per
 * row.
 * Global: (nrows). */
__kernel void conv2d_direct_pad_phases(__global const float *x, const int x_off, __global float *xp,
                                       const int xp_off, GEOM_ARGS, const int HP, const int WP,
                                       const int nrows)
{
    const int fr = (int)get_global_id(0);
    if (fr >= nrows)
        return;
    const int i = fr % HP, phase = (fr / HP) % (SH * SW), q = fr / (SH * SW * HP);
    /* Phases no tap reads (a 1x1 kernel at stride 2 reads one of four) are left unwritten. */
    bool row_used = false, col_used = false;
    for (int r = 0; r < R; r++)
        row_used |= (r * DH) % SH == phase / SW;
    for (int s = 0; s < S; s++)
        col_used |= (s * DW) % SW == phase % SW;
    if (!row_used || !col_used)
        return;
    const int y = i * SH + phase / SW - PT, b = phase % SW - PL;
    __global float *d = xp + xp_off + (size_t)fr * WP;
    const bool row_in = q < N * C && y >= 0 && y < H;
    __global const float *src = x + x_off + ((size_t)q * H + y) * W;
    for (int j = 0; j < WP; j += 16) {
        const float16 v = row_in ? load16(src, j * SW + b, SW, W) : (float16)(0.0f);
        if (j + 16 <= WP) {
            vstore16(v, 0, d + j);
        } else {
            float t[16];
            vstore16(v, 0, t);
            for (int i = 0; i < WP - j; i++)
                d[j + i] = t[i];
        }
    }
}

/* Forward over xp, the zero-padded copy of x split into SH x SW phases (conv2d_direct_pad_phases;
 * at stride 1 one phase, written by dw_pad): phase (a, b) of a channel is the HP x WP plane
 * xpad[i * SH + a][j * SW + b], HP = OH + (R-1)*DH / SH, WP = OW + (S-1)*DW / SW. The output
 * pixels of one image are one flat run p = oh * WP + ow, and tap (r, s) of pixel p reads phase
 * (r*DH % SH, s*DW % SW) at p + (r*DH / SH) * WP + s*DW / SW: contiguous across rows, whatever
 * the stride. Every tile takes plain vector loads and never idles on a short row; lanes in the
 * padding columns (ow >= OW) or past the run are computed and dropped.
 * Global: (ceil(OH * WP / (16 * PX)), N * G * ceil(KG / KB)). */
__kernel void conv2d_direct_fwd_flat(__global const float *xp, const int xp_off,
                                     __global const float *wp, const int wp_off,
                                     __global const float *b, const int b_off, const int has_b,
                                     __global const float *z, const int z_off, const int has_z,
                                     __global float *y, const int y_off, GEOM_ARGS, const int HP,
                                     const int WP, const int act, const int res_before)
{
    const int tile = (int)get_global_id(0);
    const int kbs = (KG + KB - 1) / KB;
    const int job = (int)get_global_id(1);
    const int run = OH * WP;
    if (tile * 16 * PX >= run || job >= N * G * kbs)
        return;
    const int p0 = tile * 16 * PX;
    const int kb = job % kbs, g = (job / kbs) % G, n = job / (kbs * G);
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
    if (ow0 + 16 * PX <= OW) { /* all in one output row (the usual case): vector stores */
#pragma unroll
        for (int j = 0; j < KB; j++) {
            if (kb * KB + j >= KG)
                continue; /* past the group's channels */
            const float bias = has_b ? b[b_off + k0 + j] : 0.0f;
            const size_t o = ((size_t)n * K + k0 + j) * OH * OW + oh0 * OW + ow0;
#pragma unroll
            for (int v = 0; v < PX; v++)
                conv_epilogue_store(y + y_off + o + 16 * v, 16, acc[j][v], bias,
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
        if (npix == 16) {
            vstore16(beta ? vload16(0, dx + o) + acc[j] : acc[j], 0, dx + o);
        } else {
            float v[16];
            vstore16(acc[j], 0, v);
            for (int i = 0; i < npix; i++)
                dx[o + i] = beta ? dx[o + i] + v[i] : v[i];
        }
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
 * Global: (ceil(HA * WP / 16), N * G * ceil(CG / KB)). */
__kernel void conv2d_direct_bwd_data_flat(__global const float *dyp, const int dyp_off,
                                          __global const float *wp, const int wp_off,
                                          __global float *dx, const int dx_off, GEOM_ARGS,
                                          const int HP, const int WP, const int PU, const int PLD,
                                          const int A, const int B, const int beta)
{
    const int tile = (int)get_global_id(0);
    const int cbs = (CG + KB - 1) / KB;
    const int job = (int)get_global_id(1);
    const int HA = (H - A + SH - 1) / SH, WB = (W - B + SW - 1) / SW;
    const int run = HA * WP;
    if (tile * 16 >= run || job >= N * G * cbs)
        return;
    const int p0 = tile * 16;
    const int cb = job % cbs, g = (job / cbs) % G, n = job / (cbs * G);
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
    for (int r = 0; r < R; r++) {
        const int u = A + PT - r * DH;
        if (u % SH != 0)
            continue;
        for (int s = 0; s < S; s++) {
            const int v = B + PL - s * DW;
            if (v % SW != 0)
                continue;
            __global const float *d = dn + (u / SH + PU) * WP + v / SW + PLD;
            __global const float *wq = wk + (r * S + s) * KB;
            for (int kk = 0; kk < KG; kk++, d += plane, wq += R * S * KB) {
                const float16 dv = vload16(0, d);
#pragma unroll
                for (int j = 0; j < KB; j++)
                    acc[j] = fma((float16)(wq[j]), dv, acc[j]);
            }
        }
    }
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

/* The block of a backward-weights work-item: KBW output channels from k0 x TS taps from s0 of
 * input channel c and kernel row r, its accumulators zeroed, and kc[j] the offset of channel j's
 * gradient plane of PLANE floats (past the group's end: its last channel, never stored). Needs
 * q, job, sts and kbs. */
#define WGT_BEGIN(PLANE)                                                                           \
    const int s0 = (q % sts) * TS, r = (q / sts) % R, c = q / (R * sts);                           \
    const int kb = job % kbs, g = job / kbs;                                                       \
    const int k0 = g * KG + kb * KBW;                                                              \
    float16 acc[KBW][TS];                                                                          \
    int kc[KBW];                                                                                   \
    _Pragma("unroll") for (int j = 0; j < KBW; j++)                                                \
    {                                                                                              \
        _Pragma("unroll") for (int t = 0; t < TS; t++) acc[j][t] = (float16)(0.0f);                \
        kc[j] = min(k0 + j, g * KG + KG - 1) * (PLANE);                                            \
    }

/* Stores the block's sums at DST[k][c][r][s] (added to it with beta), skipping the channels past
 * the group's and the taps past the kernel's width. */
#define WGT_STORE(DST)                                                                             \
    _Pragma("unroll") for (int j = 0; j < KBW; j++)                                                \
    {                                                                                              \
        _Pragma("unroll") for (int t = 0; t < TS; t++)                                             \
        {                                                                                          \
            if (kb * KBW + j >= KG || s0 + t >= S)                                                 \
                continue;                                                                          \
            __global float *d = (DST) + ((size_t)(k0 + j) * CG + c) * R * S + r * S + s0 + t;      \
            const float sum = hsum16(acc[j][t]);                                                   \
            *d = beta ? *d + sum : sum;                                                            \
        }                                                                                          \
    }

#define WGT_VLOAD(p) vload16(0, p)
#define WGT_TAIL(p) load16_tail(p, OW - ow0)

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
 * KBW output channels x TS consecutive taps s of one (c, r): each gradient vector serves the TS
 * taps and each input vector the KBW channels. Rows of 16 pixels are summed in float16 lanes,
 * reduced in a fixed order: deterministic. Global: (CG * R * ceil(S / TS), G * ceil(KG / KBW)). */
__kernel void conv2d_direct_bwd_weights(__global const float *x, const int x_off,
                                        __global const float *dy, const int dy_off,
                                        __global float *dw, const int dw_off, GEOM_ARGS,
                                        const int beta)
{
    const int sts = (S + TS - 1) / TS;
    const int q = (int)get_global_id(0);
    const int kbs = (KG + KBW - 1) / KBW;
    const int job = (int)get_global_id(1);
    if (q >= CG * R * sts || job >= G * kbs)
        return;
    WGT_BEGIN(OH * OW)
    /* At stride 1, a full tile of 16 pixels whose taps all read inside the input row takes
     * plain loads: ow0 in [lo, hi]. */
    const int lo = PL - s0 * DW, hi = min(OW - 16, W - 16 + PL - (s0 + TS - 1) * DW);
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
                    WGT_ROW(vload16(0, xrow + ow0 + (s0 + t) * DW - PL), WGT_VLOAD)
                else
                    WGT_ROW(load16(xrow, ow0 * SW - PL + (s0 + t) * DW, SW, W), WGT_TAIL)
            }
        }
    }
    WGT_STORE(dw + dw_off)
}

/* Backward weights over flat padded copies, at any stride: xp, x padded and split into SH x SW
 * phases of HPX x WP as for the flat forward (conv2d_direct_pad_phases; at stride 1 one phase, by
 * dw_pad), WP = OW + (S-1)*DW / SW, and dyp, dy in planes of HPD x WP with zeros in the columns
 * ow >= OW and in the rows past OH. The output pixels of one image are one flat run
 * p = oh * WP + ow, and tap (r, s) pairs dyp[p] with phase (r*DH % SH, s*DW % SW) of xp at
 * p + (r*DH / SH) * WP + s*DW / SW: plain vector loads in whole tiles of 16 across rows; lanes
 * outside the output meet zeros in dyp. Rows past each phase's last (HPX) take the reads of
 * the last tile. The third dimension splits the images into chunks of NCH: chunk z sums images
 * [z * NCH, z * NCH + NCH) into out + z * K*CG*R*S (the partial sums that
 * conv2d_direct_sum_chunks adds; with one chunk, out is dw).
 * Global: (CG * R * ceil(S / TS), G * ceil(KG / KBW), ceil(N / NCH)). */
__kernel void conv2d_direct_bwd_weights_flat(__global const float *xp, const int xp_off,
                                             __global const float *dyp, const int dyp_off,
                                             __global float *out, const int out_off, GEOM_ARGS,
                                             const int HPX, const int HPD, const int WP,
                                             const int NCH, const int beta)
{
    const int sts = (S + TS - 1) / TS;
    const int q = (int)get_global_id(0);
    const int kbs = (KG + KBW - 1) / KBW;
    const int job = (int)get_global_id(1);
    const int chunk = (int)get_global_id(2);
    if (q >= CG * R * sts || job >= G * kbs || chunk * NCH >= N)
        return;
    WGT_BEGIN(HPD * WP)
    const int rr = r * DH;
    int xo[TS]; /* where tap s0 + t starts in a channel's phases */
#pragma unroll
    for (int t = 0; t < TS; t++) {
        const int ss = (s0 + t) * DW;
        xo[t] = ((rr % SH) * SW + ss % SW) * HPX * WP + (rr / SH) * WP + ss / SW;
    }
    const int run = OH * WP;
    for (int n = chunk * NCH; n < min(N, chunk * NCH + NCH); n++) {
        __global const float *xc = xp + xp_off + ((size_t)n * C + g * CG + c) * SH * SW * HPX * WP;
        __global const float *dyn = dyp + dyp_off + (size_t)n * K * HPD * WP;
        for (int p0 = 0; p0 < run; p0 += 16) {
            float16 xv[TS];
#pragma unroll
            for (int t = 0; t < TS; t++)
                xv[t] = vload16(0, xc + xo[t] + p0);
#pragma unroll
            for (int j = 0; j < KBW; j++) {
                const float16 dv = vload16(0, dyn + kc[j] + p0);
#pragma unroll
                for (int t = 0; t < TS; t++)
                    acc[j][t] = fma(dv, xv[t], acc[j][t]);
            }
        }
    }
    WGT_STORE(out + out_off + (size_t)chunk * K * CG * R * S)
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
