/* conv2d_depthwise_pad.cl - the zero-padded copies of input planes that the depthwise tile
 * kernels read without bounds checks. No defines. */
#include "pad_row.h"

/* The zero-padded copy the tile kernels read without bounds checks:
 * dst[i][j] = src[p][i - pad_t][j - pad_l] for the rows i of nplanes planes of hp rows, zero
 * outside src (negative pads crop), and zero for the rows past them up to nrows (the slack that
 * the last tiles read). One work-item per dst row. */
__kernel void dw_pad(const __global float *src, const ulong src_off, __global float *dst,
                     const ulong dst_off, const int h, const int w, const int hp, const int wp,
                     const int pad_t, const int pad_l, const int nplanes, const int nrows)
{
    const int fr = (int)get_global_id(0);
    if (fr >= nrows)
        return;
    const int p = fr / hp, ih = fr % hp - pad_t;
    __global float *d = dst + dst_off + (size_t)fr * wp;
    const bool in = p < nplanes && ih >= 0 && ih < h;
    const __global float *s = src + src_off + ((size_t)p * h + ih) * w - pad_l;
    pad_row_global(d, s, in ? max(0, pad_l) : wp, in ? min(wp, w + pad_l) : wp, wp);
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
