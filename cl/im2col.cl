/* im2col.cl - unfolding NCHW images into GEMM columns and folding column gradients back, for
 * the im2col + GEMM convolution. Layout of the columns of a chunk of NB images starting at n0:
 *   cols[nl][(c * R + r) * S + s][oh * OW + ow] = x[n0 + nl][c][oh*SH - PT + r*DH][ow*SW - PL +
 * s*DW] (zero in the padding), so each image's columns are one row-major [C*R*S][OH*OW] matrix and
 * a group's rows are contiguous. Each work-item writes 16 consecutive elements of one row: stores
 * are contiguous and the loads are too at stride 1 (the naive one-element-per-work-item im2col
 * runs under 2 GB/s on POCL and would cost more than the GEMM).
 * Defines: none (geometry is passed at run time, so one build serves every shape). */

/* 16 values row[iw0 + i * step], zero where the index leaves [0, len). */
inline float16 im2col_load16(__global const float *row, int iw0, int step, int len)
{
    if (step == 1 && iw0 >= 0 && iw0 + 16 <= len)
        return vload16(0, row + iw0);
    if (step == 2 && iw0 >= 0 && iw0 + 32 <= len) {
        const float16 a = vload16(0, row + iw0), b = vload16(0, row + iw0 + 16);
        return (float16)(a.even, b.even);
    }
    float v[16];
    for (int i = 0; i < 16; i++) {
        const int iw = iw0 + i * step;
        v[i] = (iw >= 0 && iw < len) ? row[iw] : 0.0f;
    }
    return vload16(0, v);
}

#define GEOM_ARGS                                                                                  \
    const int C, const int H, const int W, const int R, const int S, const int OH, const int OW,   \
        const int PT, const int PL, const int SH, const int SW, const int DH, const int DW

/* Global: (ceil(OW / 16), NB * C * R * S * OH). x_off points at image n0. */
__kernel void im2col(__global const float *x, const int x_off, __global float *cols,
                     const int cols_off, const int NB, GEOM_ARGS)
{
    const int ow0 = (int)get_global_id(0) * 16;
    const int row = (int)get_global_id(1);
    if (ow0 >= OW || row >= NB * C * R * S * OH)
        return;
    const int oh = row % OH;
    const int q = row / OH; /* (nl * C + c) * R * S + r * S + s */
    const int s = q % S, r = (q / S) % R, nc = q / (R * S);
    const int ih = oh * SH - PT + r * DH;
    __global float *out = cols + cols_off + (size_t)q * OH * OW + oh * OW + ow0;
    float16 v = (float16)(0.0f);
    if (ih >= 0 && ih < H)
        v = im2col_load16(x + x_off + ((size_t)nc * H + ih) * W, ow0 * SW - PL + s * DW, SW, W);
    if (ow0 + 16 <= OW) {
        vstore16(v, 0, out);
    } else {
        float t[16];
        vstore16(v, 0, t);
        for (int i = 0; i < OW - ow0; i++)
            out[i] = t[i];
    }
}

/* dx[n0 + nl][c][ih][iw] = beta * dx + the sum of the column entries that read it. A gather
 * (each input pixel sums its own contributions in a fixed order): no atomics, deterministic.
 * Global: (ceil(W / 16), NB * C * H). */
__kernel void col2im(__global const float *cols, const int cols_off, __global float *dx,
                     const int dx_off, const int NB, GEOM_ARGS, const int beta)
{
    const int iw0 = (int)get_global_id(0) * 16;
    const int row = (int)get_global_id(1);
    if (iw0 >= W || row >= NB * C * H)
        return;
    const int ih = row % H, nc = row / H;
    float16 acc = (float16)(0.0f);
    for (int r = 0; r < R; r++) {
        const int t = ih + PT - r * DH;
        if (t < 0 || t % SH != 0 || t / SH >= OH)
            continue;
        const int oh = t / SH;
        for (int s = 0; s < S; s++) {
            __global const float *crow =
                cols + cols_off + ((size_t)(nc * R + r) * S + s) * OH * OW + oh * OW;
            const int u0 = iw0 + PL - s * DW; /* SW * ow for lane 0 */
            if (SW == 1) {
                acc += im2col_load16(crow, u0, 1, OW);
            } else {
                float v[16];
                for (int i = 0; i < 16; i++) {
                    const int u = u0 + i;
                    v[i] = (u >= 0 && u % SW == 0 && u / SW < OW) ? crow[u / SW] : 0.0f;
                }
                acc += vload16(0, v);
            }
        }
    }
    __global float *out = dx + dx_off + (size_t)row * W + iw0;
    float t[16];
    vstore16(acc, 0, t);
    for (int i = 0; i < min(16, W - iw0); i++)
        out[i] = beta ? out[i] + t[i] : t[i];
}
