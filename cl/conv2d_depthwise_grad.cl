/* conv2d_depthwise_grad.cl - depthwise convolution gradients: backward data for any stride (a
 * gather) and the deterministic two-stage backward weights (vector partial sums per tap, then a
 * fixed-order sum over image blocks; no atomics).
 * Defines (default), besides the geometry of conv2d_depthwise.h:
 *   RBW         kernel rows per dw_wgrad work-item, 1 unless SH is 1 (1)
 */
#include "conv2d_depthwise.h"

#ifndef RBW
#define RBW 1
#endif

#if RBW < 1 || (SH != 1 && RBW != 1)
#error "RBW must be at least 1, and 1 for a vertical stride above 1"
#endif
/* Groups of RBW kernel rows in dw_wgrad. */
#define NRG ((R + RBW - 1) / RBW)

/* Backward data for any stride: one work-item per dx element gathers the dy elements whose
 * window covers it. dx[n][c][ih][iw] (+)= sum over m, r, s of dy[n][c*kg+m][oh][ow] *
 * w[c*kg+m][r][s] where ih = oh*SH - pad_t + r*DH and iw = ow*SW - pad_l + s*DW. */
__kernel void dw_dgrad_gather(const __global float *dy, const ulong dy_off, const __global float *w,
                              const ulong w_off, __global float *dx, const ulong dx_off,
                              const int h, const int wd, const int oh_n, const int ow_n,
                              const int pad_t, const int pad_l, const int n_n, const int c,
                              const int kg, const int accum)
{
    const size_t gid = get_global_id(0);
    const int iw = (int)(gid % (size_t)wd);
    const int ih = (int)(gid / (size_t)wd % (size_t)h);
    const size_t plane = gid / ((size_t)wd * h);
    if (plane >= (size_t)n_n * c)
        return;
    const int n = (int)(plane / (size_t)c), ci = (int)(plane % (size_t)c);
    float sum = 0.0f;
    for (int m = 0; m < kg; m++) {
        const int o = ci * kg + m;
        const __global float *dyp = dy + dy_off + ((size_t)n * c * kg + o) * oh_n * ow_n;
        const __global float *wp = w + w_off + (size_t)o * (R * S);
        for (int r = 0; r < R; r++) {
            const int ohs = ih + pad_t - r * DH;
            if (ohs < 0 || ohs % SH != 0 || ohs / SH >= oh_n)
                continue;
            for (int s = 0; s < S; s++) {
                const int ows = iw + pad_l - s * DW;
                if (ows < 0 || ows % SW != 0 || ows / SW >= ow_n)
                    continue;
                sum = fma(dyp[(size_t)(ohs / SH) * ow_n + ows / SW], wp[r * S + s], sum);
            }
        }
    }
    __global float *p = dx + dx_off + gid;
    *p = accum ? *p + sum : sum;
}

/* Backward weights, stage 1. Work-item (o, blk, g) for the nblk blocks of npb images from block
 * blk0 on: for g < NRG, the S taps of the RBW kernel rows g * RBW... of output channel o summed
 * over the images of block blk and every output pixel, one vector of partial sums per tap;
 * g == NRG sums dy itself (the bias gradient). x is the zero-padded copy (dw_pad) of the input
 * images of these blocks, [.][c][hp][wp]; dy their dy with rows padded by zeros to owp, a
 * multiple of VW. Writes part[blk][o][r * S + s] (the bias at R * S), summed in a fixed order. */
__kernel void dw_wgrad(const __global float *x, const ulong x_off, const __global float *dy,
                       const ulong dy_off, __global float *part, const int hp, const int wp,
                       const int oh_n, const int owp, const int c, const int kg, const int npb,
                       const int blk0, const int nblk, const int n_n)
{
    const int gid = (int)get_global_id(0);
    const int g = gid % (NRG + 1);
    const int blk = blk0 + gid / (NRG + 1) % nblk;
    const int o = gid / (NRG + 1) / nblk;
    const int k = c * kg;
    if (o >= k)
        return;
    const int n0 = blk * npb, n_end = min(n_n, n0 + npb);
    __global float *out = part + ((size_t)blk * k + o) * (R * S + 1);

    if (g == NRG) {
        VEC a = 0.0f;
        for (int n = n0; n < n_end; n++) {
            const __global float *dyp =
                dy + dy_off + ((size_t)(n - blk0 * npb) * k + o) * oh_n * owp;
            for (int i = 0; i < oh_n * owp; i += VW)
                a += VLOAD(0, dyp + i);
        }
        out[R * S] = hsum(a);
        return;
    }

    const int r0 = g * RBW;
    VEC acc[RBW][S];
#pragma unroll
    for (int q = 0; q < RBW; q++)
#pragma unroll
        for (int s = 0; s < S; s++)
            acc[q][s] = 0.0f;
    for (int n = n0; n < n_end; n++) {
        const __global float *xp = x + x_off + ((size_t)(n - blk0 * npb) * c + o / kg) * hp * wp;
        const __global float *dyp = dy + dy_off + ((size_t)(n - blk0 * npb) * k + o) * oh_n * owp;
#if SH == 1
        /* Input row i feeds output row i - (r0 + q) * DH through kernel row r0 + q: its shifted
         * vectors are loaded once for the RBW kernel rows. */
        const int i_end = min(hp, oh_n + (r0 + RBW - 1) * DH);
        for (int i = r0 * DH; i < i_end; i++) {
            const __global float *xrow = xp + (size_t)i * wp;
            for (int ow0 = 0; ow0 < owp; ow0 += VW) {
                VEC xv[S];
#pragma unroll
                for (int s = 0; s < S; s++)
                    xv[s] = gather(xrow + ow0 * SW + s * DW);
#pragma unroll
                for (int q = 0; q < RBW; q++) {
                    const int oh = i - (r0 + q) * DH;
                    if (r0 + q < R && oh >= 0 && oh < oh_n) {
                        const VEC d = VLOAD(0, dyp + (size_t)oh * owp + ow0);
#pragma unroll
                        for (int s = 0; s < S; s++)
                            acc[q][s] = fma(d, xv[s], acc[q][s]);
                    }
                }
            }
        }
#else
        for (int oh = 0; oh < oh_n; oh++) {
            const __global float *xrow = xp + (size_t)(oh * SH + r0 * DH) * wp;
            const __global float *dyrow = dyp + (size_t)oh * owp;
            for (int ow0 = 0; ow0 < owp; ow0 += VW) {
                const VEC d = VLOAD(0, dyrow + ow0);
#pragma unroll
                for (int s = 0; s < S; s++)
                    acc[0][s] = fma(d, gather(xrow + ow0 * SW + s * DW), acc[0][s]);
            }
        }
#endif
    }
#pragma unroll
    for (int q = 0; q < RBW; q++)
        if (r0 + q < R)
#pragma unroll
            for (int s = 0; s < S; s++)
                out[(r0 + q) * S + s] = hsum(acc[q][s]);
}

/* Backward weights, stage 2: dw[o][t] (+)= sum over blocks of part[blk][o][t] in block order,
 * and db[o] the same from the bias slot when has_db. */
__kernel void dw_wsum(const __global float *part, const int nblk, const int k, __global float *dw,
                      const ulong dw_off, __global float *db, const ulong db_off, const int has_db,
                      const int accum)
{
    const int gid = (int)get_global_id(0);
    const int t = gid % (R * S + 1), o = gid / (R * S + 1);
    if (o >= k || (t == R * S && !has_db))
        return;
    float sum = 0.0f;
    for (int blk = 0; blk < nblk; blk++)
        sum += part[((size_t)blk * k + o) * (R * S + 1) + t];
    __global float *p = t < R * S ? dw + dw_off + (size_t)o * (R * S) + t : db + db_off + o;
    *p = accum ? *p + sum : sum;
}
