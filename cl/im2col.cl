/* im2col.cl - unfolding NCHW images into GEMM columns and folding column gradients back, for
 * the im2col + GEMM convolution. Layout of the columns of a chunk of NB images starting at n0:
 *   cols[nl][(c * R + r) * S + s][oh * OW + ow] = x[n0 + nl][c][oh*SH - PT + r*DH][ow*SW - PL +
 * s*DW] (zero in the padding), so each image's columns are one row-major [C*R*S][OH*OW] matrix and
 * a group's rows are contiguous. Each work-item writes 16 consecutive elements of one row: stores
 * are contiguous and the loads are too at stride 1 (the naive one-element-per-work-item im2col
 * runs under 2 GB/s on POCL and would cost more than the GEMM).
 * Defines: none (geometry is passed at run time, so one build serves every shape). */

#include "conv_rows.h"

#define GEOM_ARGS                                                                                  \
    const int C, const int H, const int W, const int R, const int S, const int OH, const int OW,   \
        const int PT, const int PL, const int SH, const int SW, const int DH, const int DW

/* Global: (ceil(OW / 16), OH, NB * C). A work-item writes 16 pixels of one output row for
 * every (r, s): no integer division per element (a division per element costs more than the
 * copy on a CPU). x_off points at image n0. */
__kernel void im2col(__global const float *x, const int x_off, __global float *cols,
                     const int cols_off, const int NB, GEOM_ARGS)
{
    const int ow0 = (int)get_global_id(0) * 16;
    const int oh = (int)get_global_id(1);
    const int nc = (int)get_global_id(2);
    if (ow0 >= OW || oh >= OH || nc >= NB * C)
        return;
    const int nl = nc / C, c = nc % C;
    const int n = min(16, OW - ow0);
    __global const float *xc = x + x_off + (size_t)nc * H * W;
    for (int r = 0; r < R; r++) {
        const int ih = oh * SH - PT + r * DH;
        for (int s = 0; s < S; s++) {
            __global float *out = cols + cols_off +
                                  ((size_t)((c * R + r) * S + s) * NB + nl) * OH * OW + oh * OW +
                                  ow0;
            float16 v = (float16)(0.0f);
            if (ih >= 0 && ih < H)
                v = load16_in(xc + ih * W, ((long)nc * H + ih) * W, (long)NB * C * H * W,
                              ow0 * SW - PL + s * DW, SW, W);
            store16_part(v, out, n);
        }
    }
}

/* dx[n0 + nl][c][ih][iw] = beta * dx + the sum of the column entries that read it. A gather
 * (each input pixel sums its own contributions in a fixed order): no atomics, deterministic.
 * Global: (ceil(W / 16), H, NB * C). */
__kernel void col2im(__global const float *cols, const int cols_off, __global float *dx,
                     const int dx_off, const int NB, GEOM_ARGS, const int beta)
{
    const int iw0 = (int)get_global_id(0) * 16;
    const int ih = (int)get_global_id(1);
    const int nc = (int)get_global_id(2);
    if (iw0 >= W || ih >= H || nc >= NB * C)
        return;
    const int nl = nc / C, c = nc % C;
    float16 acc = (float16)(0.0f);
    for (int r = 0; r < R; r++) {
        const int t = ih + PT - r * DH;
        if (t < 0)
            break; /* t only decreases with r */
        const int oh = SH == 1 ? t : t / SH;
        if (oh * SH != t || oh >= OH)
            continue;
        for (int s = 0; s < S; s++) {
            __global const float *crow =
                cols + cols_off + ((size_t)((c * R + r) * S + s) * NB + nl) * OH * OW + oh * OW;
            acc += strided_gather16(crow, iw0 + PL - s * DW, SW, OW);
        }
    }
    __global float *out = dx + dx_off + ((size_t)nc * H + ih) * W + iw0;
    const int n = min(16, W - iw0);
    store16_part(beta ? load16_part(out, n) + acc : acc, out, n);
}
