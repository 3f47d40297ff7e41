/* conv2d_depthwise_pad.cl - the zero-padded copies of input planes that the depthwise tile
 * kernels read without bounds checks. No defines. */

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
    int lo = max(0, pad_l), hi = min(wp, w + pad_l);
    if (p >= nplanes || ih < 0 || ih >= h)
        lo = hi = wp;
    const __global float *s = src + src_off + ((size_t)p * h + ih) * w - pad_l;
    int j = 0;
    for (; j < lo; j++)
        d[j] = 0.0f;
    for (; j + 16 <= hi; j += 16)
        vstore16(vload16(0, s + j), 0, d + j);
    for (; j < hi; j++)
        d[j] = s[j];
    for (; j < wp; j++)
        d[j] = 0.0f;
}
