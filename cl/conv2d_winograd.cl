/* conv2d_winograd.cl - Winograd F(2x2, 3x3) convolution (3x3, stride 1, dilation 1, groups 1):
 * the filter transform U = G g G^T, the input transform V = B^T d B of 4x4 tiles at stride 2 and
 * the output transform Y = A^T M A with the fused epilogue; the 16 GEMMs M = U x V between them
 * are CLBlast's, or on devices with DIRECT's channel-vector kernels winograd_gemm_kvec (and
 * winograd_grad_gemm_kvec for backward weights).
 * Layouts (T = tiles of a chunk of NB images, t = (n * TH + th) * TW + tw):
 *   U[OUT][16][IN] (for winograd_gemm_kvec Up[16][KBS][IN][16 * KV]: the blocks of 16 * KV
 *   output channels adjacent at each input channel, zero past OUT), V[16][IN][T], M[16][OUT][T],
 *   e = 4 * row + column of the 4x4 tile
 * (U[.][e][.] is GEMM e's [OUT][IN] operand with rows 16 * IN apart, so the filter transform
 * writes one contiguous 16 x IN block per output channel). Backward weights: dM, the output
 * transform's adjoint of dy, laid out like M (for winograd_grad_gemm_kvec dMp[16][KBS][T][16 *
 * KV], packed as Up with tiles for input channels); dU like U. The tile kernels' work-items
 * handle 16 consecutive tiles t of one channel (the packed ones a tile of 16 channels), the
 * filter kernels' one input channel.
 * Defines: KV, CI (conv_kvec.h: the blocks of the channel-vector GEMMs); the geometry is passed
 * at run time, so one build serves every shape. */

#include "conv_epilogue.h"
#include "conv_kvec.h"
#include "conv_rows.h"

/* Floats from one element's blocks of Up (or dMp, with T for IN) to the next's: 16 more than
 * the blocks, so that the 16 planes do not start a power of two apart. */
#define UP_PLANE(kbs, IN) ((size_t)(kbs) * (IN)*16 * KV + 16)

/* Lane l of g[t] = tap t of filter (o0 + l * od, i0 + l * id): w[o][i] (flip 0), or w[i][o]
 * rotated by 180 degrees (flip 1: the filter of backward data, whose output channels are w's
 * input channels); zero past OUT or IN. */
static inline void filter_lanes(__global const float *w, const int o0, const int od, const int i0,
                                const int id, const int OUT, const int IN, const int flip,
                                float16 g[9])
{
    float v[9][16];
    for (int l = 0; l < 16; l++) {
        const int o = o0 + l * od, i = i0 + l * id;
        const bool in = o < OUT && i < IN;
        __global const float *src = w + ((size_t)(flip ? i * OUT + o : o * IN + i)) * 9;
        for (int t = 0; t < 9; t++)
            v[t][l] = in ? src[flip ? 8 - t : t] : 0.0f;
    }
    for (int t = 0; t < 9; t++)
        g[t] = vload16(0, v[t]);
}

/* u[e] = (G g G^T)[e], 16 filters in the lanes. */
static inline void filter_tile(const float16 g[9], float16 u[16])
{
    /* Gg (4x3): rows g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2 of each column; then the
     * same on the rows of Gg. */
    float16 a[4][3];
    for (int c = 0; c < 3; c++) {
        a[0][c] = g[c];
        a[1][c] = 0.5f * (g[c] + g[3 + c] + g[6 + c]);
        a[2][c] = 0.5f * (g[c] - g[3 + c] + g[6 + c]);
        a[3][c] = g[6 + c];
    }
    for (int r = 0; r < 4; r++) {
        u[4 * r + 0] = a[r][0];
        u[4 * r + 1] = 0.5f * (a[r][0] + a[r][1] + a[r][2]);
        u[4 * r + 2] = 0.5f * (a[r][0] - a[r][1] + a[r][2]);
        u[4 * r + 3] = a[r][2];
    }
}

/* U[o][e][i] = (G g G^T)[e] of filter (o, i) (filter_lanes). A work-item transforms the 16
 * input channels i0.. of one o in float16 lanes and stores each element's as one vector: on
 * 512x512 filters 1.7-3.9 ms, where work-items staging 16 channels in a private 16x16 array
 * took 7.1-7.6. Global: (ceil(IN / 16), OUT). */
__kernel void winograd_filter(__global const float *w, const int w_off, __global float *U,
                              const int OUT, const int IN, const int flip)
{
    const int i0 = (int)get_global_id(0) * 16, o = (int)get_global_id(1);
    if (i0 >= IN || o >= OUT)
        return;
    float16 g[9], u[16];
    filter_lanes(w + w_off, o, 0, i0, 1, OUT, IN, flip, g);
    filter_tile(g, u);
    for (int e = 0; e < 16; e++)
        store16_part(u[e], U + ((size_t)o * 16 + e) * IN + i0, IN - i0);
}

/* Up (see the top) for winograd_gemm_kvec, zero past OUT: a work-item transforms the 16 output
 * channels o0.. (adjacent in Up) of one i in float16 lanes; consecutive work-items take
 * consecutive i, whose taps share the cache lines of w. Global: (IN, ceil(OUT / (16 * KV)) * KV).
 */
__kernel void winograd_filter_packed(__global const float *w, const int w_off, __global float *Up,
                                     const int OUT, const int IN, const int flip)
{
    const int i = (int)get_global_id(0), o0 = (int)get_global_id(1) * 16;
    const int kbs = (OUT + 16 * KV - 1) / (16 * KV);
    if (o0 >= kbs * 16 * KV || i >= IN)
        return;
    float16 g[9], u[16];
    filter_lanes(w + w_off, o0, 1, i, 0, OUT, IN, flip, g);
    filter_tile(g, u);
    __global float *dst = Up + ((size_t)(o0 / (16 * KV)) * IN + i) * 16 * KV + o0 % (16 * KV);
    for (int e = 0; e < 16; e++)
        vstore16(u[e], 0, dst + (size_t)e * UP_PLANE(kbs, IN));
}

/* M[e][k][t] = sum over c of Up's U[e][k][c] V[e][c][t], the 16 GEMMs as DIRECT's
 * channel-vector forward runs its taps (conv_kvec.h): a work-item owns 16 * KV output channels
 * (lanes) x CI consecutive tiles t0.. of one e, and for each input channel loads KV weight
 * vectors and broadcasts CI values of V's row; each lane's sums go to its channel's row of M.
 * V and M start at elements v_off and m_off. Global: (ceil(T / CI), 16 * KBS). */
__kernel void winograd_gemm_kvec(__global const float *Up, __global const float *V,
                                 const ulong v_off, __global float *M, const ulong m_off,
                                 const int OUT, const int IN, const int T)
{
    const int t0 = (int)get_global_id(0) * CI, job = (int)get_global_id(1);
    const int kbs = (OUT + 16 * KV - 1) / (16 * KV);
    if (t0 >= T || job >= 16 * kbs)
        return;
    const int e = job / kbs, kb = job % kbs;
    int po[CI];
#pragma unroll
    for (int j = 0; j < CI; j++)
        po[j] = min(t0 + j, T - 1); /* tiles past T repeat the last: their sums are dropped */
    float16 acc[KV][CI];
    kvec_zero(acc);
    kvec_accumulate(acc, V + v_off + (size_t)e * IN * T, po,
                    Up + (size_t)e * UP_PLANE(kbs, IN) + (size_t)kb * IN * 16 * KV, IN, (size_t)T);
#pragma unroll
    for (int v = 0; v < KV; v++) {
        const int k0 = kb * 16 * KV + v * 16, nl = min(16, OUT - k0);
        __global float *dst = M + m_off + ((size_t)e * OUT + k0) * T + t0;
#pragma unroll
        for (int j = 0; j < CI; j++) {
            if (t0 + j >= T)
                continue;
            float out[16];
            vstore16(acc[v][j], 0, out);
            for (int l = 0; l < nl; l++)
                dst[(size_t)l * T + j] = out[l];
        }
    }
}

/* The tile coordinates after (nl, th, tw) in the order of t. */
static inline void next_tile(int *nl, int *th, int *tw, const int TH, const int TW)
{
    if (++*tw == TW) {
        *tw = 0;
        if (++*th == TH)
            *th = 0, ++*nl;
    }
}

/* V[e][c][t] = (B^T d B)[e] of the tile d = x[n][c][2th - PT .. +3][2tw - PL .. +3], zero
 * outside the image, for the NB images at x_off; V starts at element v_off. A work-item
 * transforms the 16 consecutive tiles t0.. of one channel, one tile at a time in float4 rows,
 * and stores each of the 16 planes as one float16: no lanes are wasted on small images.
 * Global: (ceil(T / 16), C). */
__kernel void winograd_input(__global const float *x, const int x_off, __global float *V,
                             const ulong v_off, const int NB, const int C, const int H, const int W,
                             const int TH, const int TW, const int PT, const int PL)
{
    const int T = NB * TH * TW;
    const int t0 = (int)get_global_id(0) * 16, c = (int)get_global_id(1);
    if (t0 >= T || c >= C)
        return;
    int tw = t0 % TW, th = (t0 / TW) % TH, nl = t0 / (TW * TH);
    const int len = min(16, T - t0);
    float res[16][16];
    for (int l = 0; l < len; l++) {
        __global const float *img = x + x_off + ((size_t)nl * C + c) * H * W;
        const int r0 = 2 * th - PT, c0 = 2 * tw - PL;
        float4 d[4];
        if (r0 >= 0 && r0 + 4 <= H && c0 >= 0 && c0 + 4 <= W) {
            for (int i = 0; i < 4; i++)
                d[i] = vload4(0, img + (r0 + i) * W + c0);
        } else {
            for (int i = 0; i < 4; i++) {
                float v[4];
                const bool row = r0 + i >= 0 && r0 + i < H;
                for (int j = 0; j < 4; j++)
                    v[j] = row && c0 + j >= 0 && c0 + j < W ? img[(r0 + i) * W + c0 + j] : 0.0f;
                d[i] = vload4(0, v);
            }
        }
        /* B^T d: rows d0 - d2, d1 + d2, d2 - d1, d1 - d3; then the same on each row. */
        const float4 b[4] = {d[0] - d[2], d[1] + d[2], d[2] - d[1], d[1] - d[3]};
        for (int i = 0; i < 4; i++) {
            res[4 * i + 0][l] = b[i].x - b[i].z;
            res[4 * i + 1][l] = b[i].y + b[i].z;
            res[4 * i + 2][l] = b[i].z - b[i].y;
            res[4 * i + 3][l] = b[i].y - b[i].w;
        }
        next_tile(&nl, &th, &tw, TH, TW);
    }
    __global float *dst = V + v_off + (size_t)c * T + t0;
    for (int e = 0; e < 16; e++)
        store16_part(vload16(0, res[e]), dst + (size_t)e * C * T, len);
}

/* y[n][k][2th + a][2tw + b] = epilogue((A^T m A)[a][b]) of the tile m = M[.][k][t], for the
 * pixels inside OH x OW, with bias b[k] (has_b) and residual z at the same position (has_z;
 * z may be y itself: backward data's accumulation). M starts at element m_off; y_off and z_off
 * point at image n0. A work-item transforms the 16 consecutive tiles t0.. of one channel in
 * float16 lanes. Global: (ceil(T / 16), K). */
__kernel void winograd_output(__global const float *M, const ulong m_off, __global float *y,
                              const int y_off, __global const float *b, const int b_off,
                              const int has_b, __global const float *z, const int z_off,
                              const int has_z, const int NB, const int K, const int OH,
                              const int OW, const int TH, const int TW, const int act,
                              const int res_before)
{
    const int T = NB * TH * TW;
    const int t0 = (int)get_global_id(0) * 16, k = (int)get_global_id(1);
    if (t0 >= T || k >= K)
        return;
    const int len = min(16, T - t0);
    __global const float *src = M + m_off + (size_t)k * T + t0;
    /* A^T m: rows m0 + m1 + m2 and m1 - m2 - m3 of each column; then the same on the rows. */
    float16 s[2][4];
    for (int j = 0; j < 4; j++) {
        const float16 m0 = load16_part(src + (size_t)(0 + j) * K * T, len);
        const float16 m1 = load16_part(src + (size_t)(4 + j) * K * T, len);
        const float16 m2 = load16_part(src + (size_t)(8 + j) * K * T, len);
        const float16 m3 = load16_part(src + (size_t)(12 + j) * K * T, len);
        s[0][j] = m0 + m1 + m2;
        s[1][j] = m1 - m2 - m3;
    }
    float16 o[4] = {s[0][0] + s[0][1] + s[0][2], s[0][1] - s[0][2] - s[0][3],
                    s[1][0] + s[1][1] + s[1][2], s[1][1] - s[1][2] - s[1][3]};
    /* The residual of each lane's 2x2 pixels (zero outside the output), gathered before any
     * store since z may be y. */
    float zs[4][16];
    const int tw0 = t0 % TW, th0 = (t0 / TW) % TH, nl0 = t0 / (TW * TH);
    int tw = tw0, th = th0, nl = nl0;
    for (int l = 0; l < 16; l++) {
        for (int a = 0; a < 4; a++) {
            const int oh = 2 * th + a / 2, ow = 2 * tw + a % 2;
            zs[a][l] = has_z && l < len && oh < OH && ow < OW
                           ? z[z_off + (((size_t)nl * K + k) * OH + oh) * OW + ow]
                           : 0.0f;
        }
        next_tile(&nl, &th, &tw, TH, TW);
    }
    const float bias = has_b ? b[b_off + k] : 0.0f;
    float out[4][16];
    for (int a = 0; a < 4; a++)
        vstore16(conv_epilogue16(o[a], bias, vload16(0, zs[a]), act, res_before), 0, out[a]);
    tw = tw0, th = th0, nl = nl0;
    for (int l = 0; l < len; l++) {
        const int oh = 2 * th, ow = 2 * tw;
        __global float *dst = y + y_off + (((size_t)nl * K + k) * OH + oh) * OW + ow;
        const bool right = ow + 1 < OW, below = oh + 1 < OH;
        dst[0] = out[0][l];
        if (right)
            dst[1] = out[1][l];
        if (below) {
            dst[OW] = out[2][l];
            if (right)
                dst[OW + 1] = out[3][l];
        }
        next_tile(&nl, &th, &tw, TH, TW);
    }
}

/* m[e] = (A dY A^T)[e], the adjoint of the output transform, of the 2x2 tiles
 * dY = (y00 y01; y10 y11) in the lanes. */
static inline void output_adjoint(const float16 y00, const float16 y01, const float16 y10,
                                  const float16 y11, float16 m[16])
{
    /* A dY: rows y0, y0 + y1, y0 - y1, -y1; then the same on the columns. */
    const float16 r[4][2] = {
        {y00, y01}, {y00 + y10, y01 + y11}, {y00 - y10, y01 - y11}, {-y10, -y11}};
    for (int i = 0; i < 4; i++) {
        m[4 * i + 0] = r[i][0];
        m[4 * i + 1] = r[i][0] + r[i][1];
        m[4 * i + 2] = r[i][0] - r[i][1];
        m[4 * i + 3] = -r[i][1];
    }
}

/* Backward weights. dM[e][k][t] = output_adjoint of the 2x2 tile
 * dY = dy[n][k][2th .. +1][2tw .. +1] (zero outside OH x OW), for the NB images at dy_off; dM
 * starts at element m_off. Global: (ceil(T / 16), K). */
__kernel void winograd_grad_output(__global const float *dy, const int dy_off, __global float *dM,
                                   const ulong m_off, const int NB, const int K, const int OH,
                                   const int OW, const int TH, const int TW)
{
    const int T = NB * TH * TW;
    const int t0 = (int)get_global_id(0) * 16, k = (int)get_global_id(1);
    if (t0 >= T || k >= K)
        return;
    const int len = min(16, T - t0);
    float g[4][16];
    int tw = t0 % TW, th = (t0 / TW) % TH, nl = t0 / (TW * TH);
    for (int l = 0; l < 16; l++) {
        for (int a = 0; a < 4; a++) {
            const int oh = 2 * th + a / 2, ow = 2 * tw + a % 2;
            g[a][l] = l < len && oh < OH && ow < OW
                          ? dy[dy_off + (((size_t)nl * K + k) * OH + oh) * OW + ow]
                          : 0.0f;
        }
        next_tile(&nl, &th, &tw, TH, TW);
    }
    float16 m[16];
    output_adjoint(vload16(0, g[0]), vload16(0, g[1]), vload16(0, g[2]), vload16(0, g[3]), m);
    __global float *dst = dM + m_off + (size_t)k * T + t0;
    for (int e = 0; e < 16; e++)
        store16_part(m[e], dst + (size_t)e * K * T, len);
}

/* Backward weights for winograd_grad_gemm_kvec: dMp[e][kb][t][16 * KV] (element e's blocks
 * UP_PLANE(kbs, T) floats after e - 1's; dMp starts at m_off), output_adjoint of tile t of dy
 * for the 16 output channels k0.. in the lanes (zero past K). Consecutive work-items take
 * consecutive tiles, whose pixels share cache lines. Global: (T, ceil(K / (16 * KV)) * KV). */
__kernel void winograd_grad_output_packed(__global const float *dy, const int dy_off,
                                          __global float *dMp, const ulong m_off, const int NB,
                                          const int K, const int OH, const int OW, const int TH,
                                          const int TW)
{
    const int T = NB * TH * TW, kbs = (K + 16 * KV - 1) / (16 * KV);
    const int t = (int)get_global_id(0), k0 = (int)get_global_id(1) * 16;
    if (t >= T || k0 >= kbs * 16 * KV)
        return;
    const int tw = t % TW, th = (t / TW) % TH, nl = t / (TW * TH);
    float g[4][16];
    for (int l = 0; l < 16; l++)
        for (int a = 0; a < 4; a++) {
            const int oh = 2 * th + a / 2, ow = 2 * tw + a % 2;
            g[a][l] = k0 + l < K && oh < OH && ow < OW
                          ? dy[dy_off + (((size_t)nl * K + k0 + l) * OH + oh) * OW + ow]
                          : 0.0f;
        }
    float16 m[16];
    output_adjoint(vload16(0, g[0]), vload16(0, g[1]), vload16(0, g[2]), vload16(0, g[3]), m);
    __global float *dst =
        dMp + m_off + ((size_t)(k0 / (16 * KV)) * T + t) * 16 * KV + k0 % (16 * KV);
    for (int e = 0; e < 16; e++)
        vstore16(m[e], 0, dst + (size_t)e * UP_PLANE(kbs, T));
}

/* res[q][l] = (G^T dU G)[q], the adjoint of the filter transform, of the 4x4 dU = u[.] in lane
 * l. */
static inline void filter_adjoint(const float16 u[16], float res[9][16])
{
    /* dU G on each row (columns 0, 1, 2), then G^T on the columns. */
    float16 h[4][3];
    for (int i = 0; i < 4; i++) {
        const float16 a = u[4 * i], b = u[4 * i + 1], c = u[4 * i + 2], d = u[4 * i + 3];
        h[i][0] = a + 0.5f * (b + c);
        h[i][1] = 0.5f * (b - c);
        h[i][2] = 0.5f * (b + c) + d;
    }
    for (int s = 0; s < 3; s++) {
        vstore16(h[0][s] + 0.5f * (h[1][s] + h[2][s]), 0, res[s]);
        vstore16(0.5f * (h[1][s] - h[2][s]), 0, res[3 + s]);
        vstore16(0.5f * (h[1][s] + h[2][s]) + h[3][s], 0, res[6 + s]);
    }
}

/* dUp[e][c][k] = sum over t of dM[e][k][t] V[e][c][t] (k up to K rounded up to 16 * KV; added
 * to dUp with accumulate: the chunks after the first, in order), from dMp
 * (winograd_grad_output_packed) in DIRECT's channel-vector loop: a work-item owns 16 * KV output
 * channels (lanes) x CI input channels c0.. of one e, for each tile loads KV vectors of dM and
 * broadcasts CI values of V's rows, and stores each vector whole (dUp has the lanes adjacent:
 * in U's layout the lanes' sums went 16 * C floats apart, a cache line and often a page each,
 * and took as long as CLBlast's GEMMs). Global: (ceil(C / CI), 16 * KBS). */
__kernel void winograd_grad_gemm_kvec(__global const float *dMp, const ulong m_off,
                                      __global const float *V, const ulong v_off,
                                      __global float *dUp, const int K, const int C, const int T,
                                      const int accumulate)
{
    const int c0 = (int)get_global_id(0) * CI, job = (int)get_global_id(1);
    const int kbs = (K + 16 * KV - 1) / (16 * KV);
    if (c0 >= C || job >= 16 * kbs)
        return;
    const int e = job / kbs, kb = job % kbs;
    int po[CI];
#pragma unroll
    for (int j = 0; j < CI; j++)
        po[j] = min(c0 + j, C - 1) * T; /* channels past C repeat the last: dropped */
    float16 acc[KV][CI];
    kvec_zero(acc);
    kvec_accumulate(acc, V + v_off + (size_t)e * C * T, po,
                    dMp + m_off + (size_t)e * UP_PLANE(kbs, T) + (size_t)kb * T * 16 * KV, T, 1);
#pragma unroll
    for (int j = 0; j < CI; j++) {
        if (c0 + j >= C)
            continue;
        __global float *dst = dUp + ((size_t)e * C + c0 + j) * kbs * 16 * KV + kb * 16 * KV;
#pragma unroll
        for (int v = 0; v < KV; v++)
            vstore16(accumulate ? vload16(v, dst) + acc[v][j] : acc[v][j], v, dst);
    }
}

/* dw[k][c] = beta * dw + G^T dU G (as winograd_grad_filter) from dUp (winograd_grad_gemm_kvec),
 * 16 output channels k0.. in the lanes of a work-item. Global: (ceil(K / 16), C). */
__kernel void winograd_grad_filter_packed(__global const float *dUp, __global float *dw,
                                          const int dw_off, const int K, const int C,
                                          const int beta)
{
    const int k0 = (int)get_global_id(0) * 16, c = (int)get_global_id(1);
    if (k0 >= K || c >= C)
        return;
    const int kp = (K + 16 * KV - 1) / (16 * KV) * 16 * KV;
    float16 u[16];
    for (int e = 0; e < 16; e++)
        u[e] = vload16(0, dUp + ((size_t)e * C + c) * kp + k0);
    float res[9][16];
    filter_adjoint(u, res);
    for (int l = 0; l < min(16, K - k0); l++) {
        __global float *out = dw + dw_off + ((size_t)(k0 + l) * C + c) * 9;
        for (int q = 0; q < 9; q++)
            out[q] = beta ? out[q] + res[q][l] : res[q][l];
    }
}

/* dw[k][c] = beta * dw + G^T dU G, the adjoint of the filter transform, of dU[k][.][c] (laid out
 * like U: [K][16][C]). A work-item takes 16 consecutive input channels c0.. of one k.
 * Global: (ceil(C / 16), K). */
__kernel void winograd_grad_filter(__global const float *dU, __global float *dw, const int dw_off,
                                   const int K, const int C, const int beta)
{
    const int c0 = (int)get_global_id(0) * 16, k = (int)get_global_id(1);
    if (c0 >= C || k >= K)
        return;
    const int len = min(16, C - c0);
    __global const float *src = dU + (size_t)k * 16 * C + c0;
    float16 u[16];
    for (int e = 0; e < 16; e++)
        u[e] = load16_part(src + (size_t)e * C, len);
    float res[9][16];
    filter_adjoint(u, res);
    __global float *out = dw + dw_off + ((size_t)k * C + c0) * 9;
    for (int l = 0; l < len; l++)
        for (int q = 0; q < 9; q++)
            out[l * 9 + q] = beta ? out[l * 9 + q] + res[q][l] : res[q][l];
}
