/* conv2d_depthwise_pad.cl - the zero-padded copies of input planes that the depthwise tile and
 * the flat DIRECT kernels read without bounds checks. No defines. */
#include "conv_rows.h"

/* The zero-padded copy the tile kernels read without bounds checks:
 * dst[i][j] = src[p][i - pad_t][j - pad_l] for the rows i of nplanes planes of hp rows, zero
 * outside src (negative pads crop), and zero for the rows past them up to nrows (the slack that
 * the last tiles read). One work-item per plane's run of hp rows (the last cut at nrows), which
 * divides once, as in DIRECT's phase-split copy; rows go in 16-float vectors, read with their
 * pads (load16_in) and stored in pieces. (Measured level with a work-item per row here: this
 * copy runs at about the memory's speed; the phase-split copy per row was 2.6x slower.) */
__kernel void dw_pad(const __global float *src, const ulong src_off, __global float *dst,
                     const ulong dst_off, const int h, const int w, const int hp, const int wp,
                     const int pad_t, const int pad_l, const int nplanes, const int nrows)
{
    const int p = (int)get_global_id(0), fr0 = p * hp;
    if (fr0 >= nrows)
        return;
    const int rows = min(hp, nrows - fr0);
    const long total = (long)nplanes * h * w;
    for (int i = 0; i < rows; i++) {
        const int ih = i - pad_t;
        __global float *d = dst + dst_off + (size_t)(fr0 + i) * wp;
        const bool in = p < nplanes && ih >= 0 && ih < h;
        const long at = ((long)p * h + ih) * w;
        const __global float *s = src + src_off + at;
        for (int j = 0; j < wp; j += 16)
            store16_part(in ? load16_in(s, at, total, j - pad_l, 1, w) : (float16)(0.0f), d + j,
                         wp - j);
    }
}

/* The same copy where it is the source followed by zeros (no pads, rows of w floats, hp == h):
 * dst[i] = src[i] for i < count, zero for count <= i < total, 64 floats per work-item. A work-item
 * per row (dw_pad) costs more than its copy on the small planes of late layers. */
__kernel void dw_pad_flat(const __global float *src, const ulong src_off, __global float *dst,
                          const ulong dst_off, const ulong count, const ulong total)
{
    const ulong i = get_global_id(0) * 64;
    if (i >= total)
        return;
    __global float *d = dst + dst_off + i;
    const __global float *s = src + src_off + i;
    if (i + 64 <= count) {
#pragma unroll
        for (int u = 0; u < 4; u++)
            vstore16(vload16(u, s), u, d);
        return;
    }
    const ulong n = min((ulong)64, total - i);
    for (ulong j = 0; j < n; j++)
        d[j] = i + j < count ? s[j] : 0.0f;
}
