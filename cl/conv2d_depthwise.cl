/* conv2d_depthwise.cl - depthwise convolution (groups == channels, channel multiplier kg) on
 * tiles: the forward with a fused epilogue, and backward data for stride 1. Each work-item owns
 * RB output rows of VW adjacent output columns, one vector each, so POCL turns every tap into one
 * vector FMA; weights stay in registers, input rows come from cache.
 * Defines (default), besides the geometry of conv2d_depthwise.h:
 *   RB          output rows per work-item (4)
 *   BWD         0: the forward (one input plane per output plane), 1: backward data for stride 1
 *               (weights flipped, summed over the channel multiplier) (0)
 *   HAS_BIAS    adds b[channel] (0)
 *   HAS_RES     adds the residual z (0)
 *   RES_BEFORE  the residual is added before the activation instead of after it (0)
 *   ACT         activation: 0 none, 1 relu, 2 gelu (erf), 3 gelu (tanh) (0)
 */
#include "conv2d_depthwise.h"

#ifndef RB
#define RB 4
#endif
#ifndef BWD
#define BWD 0
#endif
#ifndef HAS_BIAS
#define HAS_BIAS 0
#endif
#ifndef HAS_RES
#define HAS_RES 0
#endif
#ifndef RES_BEFORE
#define RES_BEFORE 0
#endif
#ifndef ACT
#define ACT 0
#endif

#if RB < 1
#error "RB must be at least 1"
#endif
#if BWD && (SH != 1 || SW != 1)
#error "dw_rows computes backward data for stride 1 only (dw_dgrad_gather does the rest)"
#endif
#if ACT < 0 || ACT > 3
#error "ACT must be 0 (none), 1 (relu), 2 (gelu) or 3 (gelu tanh)"
#endif
#if RES_BEFORE && !HAS_RES
#error "RES_BEFORE needs HAS_RES"
#endif
#if BWD && (HAS_BIAS || HAS_RES || ACT)
#error "backward data has no epilogue"
#endif

/* Rows of input one work-item reads. */
#define NIR ((RB - 1) * SH + (R - 1) * DH + 1)

static inline __attribute__((always_inline)) VEC activate(VEC v)
{
#if ACT == 1
    return fmax(v, (VEC)0.0f);
#elif ACT == 2
    return 0.5f * v * (1.0f + erf(v * 0.70710678118654752f));
#elif ACT == 3
    return 0.5f * v * (1.0f + tanh(0.79788456080286536f * (v + 0.044715f * v * v * v)));
#else
    return v;
#endif
}

/* One work-item: RB output rows x VW output columns of one output plane. x is the zero-padded
 * copy (dw_pad) of the input planes, [.][ih_n][iw_n], so output (oh, ow) reads from row
 * oh * SH and column ow * SW on.
 * Forward (BWD 0): y[n][o] (o < cout) from x[n][o / kg] and w[o].
 * Backward data (BWD 1): dx[n][c] (c < cout) from dy[n][c * kg + m] and w[c * kg + m] flipped,
 * m < kg; x is dy padded by the kernel extent minus the conv's pads, y is dx.
 * y = act(acc + b (+ z)) (+ z), then + y when accum is set (HAS_* are 0 for backward). */
__kernel void dw_rows(const __global float *x, const ulong x_off, const __global float *w,
                      const ulong w_off, const __global float *b, const ulong b_off,
                      const __global float *z, const ulong z_off, __global float *y,
                      const ulong y_off, const int ih_n, const int iw_n, const int oh_n,
                      const int ow_n, const int nplanes, const int cin, const int cout,
                      const int kg, const int accum)
{
    const int ntw = (ow_n + VW - 1) / VW, nrb = (oh_n + RB - 1) / RB;
    const int gid = (int)get_global_id(0);
    const int tw = gid % ntw;
    const int rb = (gid / ntw) % nrb;
    const int plane = gid / ntw / nrb;
    if (plane >= nplanes)
        return;
    const int n = plane / cout, oc = plane % cout;
    const int ow0 = tw * VW, oh0 = rb * RB;
    const int iwb = ow0 * SW, ihb = oh0 * SH;

    VEC acc[RB];
#pragma unroll
    for (int j = 0; j < RB; j++)
        acc[j] = 0.0f;
#if BWD
    for (int m = 0; m < kg; m++) {
        const int ic = oc * kg + m, wo = oc * kg + m;
#else
    {
        const int ic = oc / kg, wo = oc;
#endif
        float wr[R * S];
#pragma unroll
        for (int t = 0; t < R * S; t++)
            wr[t] = w[w_off + (size_t)wo * (R * S) + (BWD ? R * S - 1 - t : t)];
        const __global float *xp = x + x_off + (size_t)(n * cin + ic) * ih_n * iw_n;
#if NIR <= 16
#pragma unroll
#endif
        for (int ir = 0; ir < NIR; ir++) {
            const int ih = ihb + ir;
            if (ih >= ih_n)
                continue;
            const __global float *row = xp + (size_t)ih * iw_n + iwb;
            VEC xv[S];
#pragma unroll
            for (int s = 0; s < S; s++)
                xv[s] = gather(row + s * DW);
                /* Input row ir feeds output row j through kernel row (ir - j * SH) / DH. */
#pragma unroll
            for (int j = 0; j < RB; j++) {
                const int rr = ir - j * SH;
                if (rr >= 0 && rr % DH == 0 && rr / DH < R) {
#pragma unroll
                    for (int s = 0; s < S; s++)
                        acc[j] = fma((VEC)wr[(rr / DH) * S + s], xv[s], acc[j]);
                }
            }
        }
    }

#if HAS_BIAS
    const float bias = b[b_off + oc];
#endif
    const int valid = ow_n - ow0;
#pragma unroll
    for (int j = 0; j < RB; j++) {
        const int oh = oh0 + j;
        if (oh >= oh_n)
            break;
        const size_t o = ((size_t)plane * oh_n + oh) * ow_n + ow0;
        VEC v = acc[j];
#if HAS_BIAS
        v += bias;
#endif
#if HAS_RES && RES_BEFORE
        v += load_out(z + z_off + o, valid);
#endif
        v = activate(v);
#if HAS_RES && !RES_BEFORE
        v += load_out(z + z_off + o, valid);
#endif
        if (accum)
            v += load_out(y + y_off + o, valid);
        store_out(v, y + y_off + o, valid);
    }
}
