/* conv2d_winograd.cl - Winograd F(2x2, 3x3) convolution (3x3, stride 1, dilation 1, groups 1):
 * the filter transform U = G g G^T, the input transform V = B^T d B of 4x4 tiles at stride 2 and
 * the output transform Y = A^T M A with the fused epilogue; the 16 GEMMs M = U x V between them
 * are CLBlast's. Layouts (T = tiles of a chunk of NB images, t = (n * TH + th) * TW + tw):
 *   U[16][OUT][IN], V[16][IN][T], M[16][OUT][T], e = 4 * row + column of the 4x4 tile.
 * Each work-item handles 16 consecutive tiles of one tile row in float16 lanes.
 * Defines: none (geometry is passed at run time, so one build serves every shape). */

#include "conv_epilogue.h"
#include "conv_rows.h"

/* U[e][o][i] = (G g G^T)[e] for g = w[o][i] (flip 0), or for g = w[i][o] rotated by 180 degrees
 * (flip 1: the filter of backward data, whose output channels are w's input channels).
 * Global: (IN, OUT). */
__kernel void winograd_filter(__global const float *w, const int w_off, __global float *U,
                              const int OUT, const int IN, const int flip)
{
    const int i = (int)get_global_id(0), o = (int)get_global_id(1);
    if (i >= IN || o >= OUT)
        return;
    __global const float *src = w + w_off + ((size_t)(flip ? i * OUT + o : o * IN + i)) * 9;
    float g[9];
    for (int t = 0; t < 9; t++)
        g[t] = src[flip ? 8 - t : t];
    /* Gg (4x3): rows g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2 of each column. */
    float a[4][3];
    for (int c = 0; c < 3; c++) {
        a[0][c] = g[c];
        a[1][c] = 0.5f * (g[c] + g[3 + c] + g[6 + c]);
        a[2][c] = 0.5f * (g[c] - g[3 + c] + g[6 + c]);
        a[3][c] = g[6 + c];
    }
    const size_t plane = (size_t)OUT * IN;
    __global float *dst = U + (size_t)o * IN + i;
    for (int r = 0; r < 4; r++) {
        dst[(4 * r + 0) * plane] = a[r][0];
        dst[(4 * r + 1) * plane] = 0.5f * (a[r][0] + a[r][1] + a[r][2]);
        dst[(4 * r + 2) * plane] = 0.5f * (a[r][0] - a[r][1] + a[r][2]);
        dst[(4 * r + 3) * plane] = a[r][2];
    }
}

/* Stores the first len (up to 16) lanes of v at dst. */
static inline void store16_len(__global float *dst, int len, float16 v)
{
    if (len >= 16) {
        vstore16(v, 0, dst);
        return;
    }
    float t[16];
    vstore16(v, 0, t);
    for (int i = 0; i < len; i++)
        dst[i] = t[i];
}

/* V[e][c][t] = (B^T d B)[e] of the tile d = x[n][c][2th - PT .. +3][2tw - PL .. +3], zero
 * outside the image, for the NB images at x_off; V starts at element v_off. Global: (ceil(TW / 16),
 * TH, NB * C). */
__kernel void winograd_input(__global const float *x, const int x_off, __global float *V,
                             const ulong v_off, const int NB, const int C, const int H, const int W,
                             const int TH, const int TW, const int PT, const int PL)
{
    const int tw0 = (int)get_global_id(0) * 16, th = (int)get_global_id(1);
    const int nc = (int)get_global_id(2);
    if (tw0 >= TW || th >= TH || nc >= NB * C)
        return;
    const int nl = nc / C, c = nc % C;
    __global const float *img = x + x_off + (size_t)nc * H * W;
    /* d[i][j]: lane l holds row 2th - PT + i, column 2(tw0 + l) - PL + j. */
    float16 d[4][4];
    for (int i = 0; i < 4; i++) {
        const int ih = 2 * th - PT + i;
        for (int j = 0; j < 4; j++)
            d[i][j] = (ih >= 0 && ih < H) ? load16(img + (size_t)ih * W, 2 * tw0 - PL + j, 2, W)
                                          : (float16)(0.0f);
    }
    /* B^T d: rows d0 - d2, d1 + d2, d2 - d1, d1 - d3; then the same on the columns. */
    float16 b[4][4];
    for (int j = 0; j < 4; j++) {
        b[0][j] = d[0][j] - d[2][j];
        b[1][j] = d[1][j] + d[2][j];
        b[2][j] = d[2][j] - d[1][j];
        b[3][j] = d[1][j] - d[3][j];
    }
    const size_t T = (size_t)NB * TH * TW, plane = (size_t)C * T;
    __global float *dst = V + v_off + (size_t)c * T + ((size_t)nl * TH + th) * TW + tw0;
    const int len = TW - tw0;
    for (int i = 0; i < 4; i++) {
        store16_len(dst + (4 * i + 0) * plane, len, b[i][0] - b[i][2]);
        store16_len(dst + (4 * i + 1) * plane, len, b[i][1] + b[i][2]);
        store16_len(dst + (4 * i + 2) * plane, len, b[i][2] - b[i][1]);
        store16_len(dst + (4 * i + 3) * plane, len, b[i][1] - b[i][3]);
    }
}

/* y[n][k][2th + a][2tw + b] = epilogue((A^T m A)[a][b]) of the tile m = M[.][k][t], for the
 * pixels inside OH x OW, with bias b[k] (has_b) and residual z at the same position (has_z;
 * z may be y itself: backward data's accumulation). M starts at element m_off; y_off and z_off
 * point at image n0.
 * Global: (ceil(TW / 16), TH, NB * K). */
__kernel void winograd_output(__global const float *M, const ulong m_off, __global float *y,
                              const int y_off, __global const float *b, const int b_off,
                              const int has_b, __global const float *z, const int z_off,
                              const int has_z, const int NB, const int K, const int OH,
                              const int OW, const int TH, const int TW, const int act,
                              const int res_before)
{
    const int tw0 = (int)get_global_id(0) * 16, th = (int)get_global_id(1);
    const int nk = (int)get_global_id(2);
    if (tw0 >= TW || th >= TH || nk >= NB * K)
        return;
    const int nl = nk / K, k = nk % K;
    const size_t T = (size_t)NB * TH * TW, plane = (size_t)K * T;
    __global const float *src = M + m_off + (size_t)k * T + ((size_t)nl * TH + th) * TW + tw0;
    const int len = TW - tw0;
    /* A^T m: rows m0 + m1 + m2 and m1 - m2 - m3 of each column; then the same on the rows. */
    float16 s[2][4];
    for (int j = 0; j < 4; j++) {
        const float16 m0 = load16_tail(src + (0 + j) * plane, len);
        const float16 m1 = load16_tail(src + (4 + j) * plane, len);
        const float16 m2 = load16_tail(src + (8 + j) * plane, len);
        const float16 m3 = load16_tail(src + (12 + j) * plane, len);
        s[0][j] = m0 + m1 + m2;
        s[1][j] = m1 - m2 - m3;
    }
    const float bias = has_b ? b[b_off + k] : 0.0f;
    const uint16 lo = (uint16)(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const uint16 hi = lo + 8u;
    const int ow0 = 2 * tw0, cols = OW - ow0;
    for (int a = 0; a < 2; a++) {
        const int oh = 2 * th + a;
        if (oh >= OH)
            break;
        const float16 y0 = s[a][0] + s[a][1] + s[a][2], y1 = s[a][1] - s[a][2] - s[a][3];
        const size_t at = (((size_t)nl * K + k) * OH + oh) * OW + ow0;
        __global float *dst = y + y_off + at;
        __global const float *zr = z + z_off + at;
        conv_epilogue_store(dst, cols, shuffle2(y0, y1, lo), bias, zr, has_z, act, res_before);
        if (cols > 16)
            conv_epilogue_store(dst + 16, cols - 16, shuffle2(y0, y1, hi), bias, zr + 16, has_z,
                                act, res_before);
    }
}
