/* conv2d_depthwise.cl - depthwise convolution (groups == channels, channel multiplier kg):
 * forward with a fused epilogue, backward data and a deterministic two-stage backward weights.
 * Each work-item of dw_rows and dw_wgrad owns VW adjacent output columns held in one vector, so
 * POCL turns every tap into one vector FMA; weights stay in registers, input rows come from cache.
 * Defines (default):
 *   R, S        kernel height and width (3, 3)
 *   SH, SW      stride (1, 1)
 *   DH, DW      dilation (1, 1)
 *   VW          output columns per work-item, the vector width: 4, 8 or 16 (16)
 *   RB          output rows per work-item in dw_rows (4)
 *   RBW         kernel rows per work-item in dw_wgrad, 1 unless SH is 1 (1)
 *   BWD         dw_rows computes 0: the forward (one input plane per output plane), 1: backward
 *               data for stride 1 (weights flipped, summed over the channel multiplier) (0)
 *   HAS_BIAS    dw_rows adds b[channel] (0)
 *   HAS_RES     dw_rows adds the residual z (0)
 *   RES_BEFORE  the residual is added before the activation instead of after it (0)
 *   ACT         activation: 0 none, 1 relu, 2 gelu (erf), 3 gelu (tanh) (0)
 */
#ifndef R
#define R 3
#endif
#ifndef S
#define S 3
#endif
#ifndef SH
#define SH 1
#endif
#ifndef SW
#define SW 1
#endif
#ifndef DH
#define DH 1
#endif
#ifndef DW
#define DW 1
#endif
#ifndef VW
#define VW 16
#endif
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
#ifndef RBW
#define RBW 1
#endif
/* Groups of RBW kernel rows in dw_wgrad. */
#define NRG ((R + RBW - 1) / RBW)

#if R < 1 || S < 1 || SH < 1 || SW < 1 || DH < 1 || DW < 1 || RB < 1
#error "R, S, SH, SW, DH, DW and RB must be at least 1"
#endif
#if VW != 4 && VW != 8 && VW != 16
#error "VW must be 4, 8 or 16"
#endif
#if RBW < 1 || (SH != 1 && RBW != 1)
#error "RBW must be at least 1, and 1 for a vertical stride above 1"
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

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define VEC CAT(float, VW)
#define VLOAD CAT(vload, VW)
#define VSTORE CAT(vstore, VW)

/* Input columns one tile reads past its first one for one tap: stride 2 loads two whole vectors
 * and keeps the even lanes, so it reads one column past the last one it uses. The host pads rows
 * and the end of the padded copy so that every such read stays inside it. */
#if SW == 2
#define TAP_SPAN (2 * VW)
#else
#define TAP_SPAN ((VW - 1) * SW + 1)
#endif
/* Rows of input one dw_rows work-item reads. */
#define NIR ((RB - 1) * SH + (R - 1) * DH + 1)

/* The VW input columns p[0], p[SW], ... as one vector. */
static inline __attribute__((always_inline)) VEC gather(const __global float *p)
{
#if SW == 1
    return VLOAD(0, p);
#elif SW == 2
    return (VEC)(VLOAD(0, p).even, VLOAD(0, p + VW).even);
#else
    float t[VW];
    for (int l = 0; l < VW; l++)
        t[l] = p[l * SW];
    return VLOAD(0, t);
#endif
}

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

/* The VW values p[0..] of an output row segment with `valid` columns; the rest read as zero. */
static inline __attribute__((always_inline)) VEC load_out(const __global float *p, int valid)
{
    if (valid >= VW)
        return VLOAD(0, p);
    float t[VW];
    for (int l = 0; l < VW; l++)
        t[l] = l < valid ? p[l] : 0.0f;
    return VLOAD(0, t);
}

static inline __attribute__((always_inline)) void store_out(VEC v, __global float *p, int valid)
{
    if (valid >= VW) {
        VSTORE(v, 0, p);
        return;
    }
    float t[VW];
    VSTORE(v, 0, t);
    for (int l = 0; l < valid; l++)
        p[l] = t[l];
}

static inline __attribute__((always_inline)) float hsum(VEC v)
{
#if VW == 16
    const float8 h8 = v.lo + v.hi;
#elif VW == 8
    const float8 h8 = v;
#endif
#if VW >= 8
    const float4 h4 = h8.lo + h8.hi;
#else
    const float4 h4 = v;
#endif
    const float2 h2 = h4.lo + h4.hi;
    return h2.x + h2.y;
}

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
