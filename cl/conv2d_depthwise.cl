/* conv2d_depthwise.cl - depthwise convolution (groups == channels, channel multiplier kg) on
 * tiles: the forward with a fused epilogue, and backward data for stride 1. Each work-item owns
 * RB output rows of VW adjacent output columns, one vector each, so POCL turns every tap into one
 * vector FMA; weights stay in registers, input rows come from cache. dw_local reads its input
 * through a zero-padded tile in local memory that its work-group fills; dw_rows reads a padded
 * copy made beforehand (dw_pad), for tiles too big for local memory.
 * Defines (default), besides the geometry of conv2d_depthwise.h:
 *   RB          output rows per work-item (4)
 *   BWD         0: the forward (one input plane per output plane), 1: backward data for stride 1
 *               (weights flipped, summed over the channel multiplier) (0)
 *   HAS_BIAS    adds b[channel] (0)
 *   HAS_RES     adds the residual z (0)
 *   RES_BEFORE  the residual is added before the activation instead of after it (0)
 *   ACT         activation: 0 none, 1 relu, 2 gelu (erf), 3 gelu (tanh) (0)
 *   LOCAL_TILE  which kernel the program holds (each is big to compile): 1 dw_local, 0 dw_rows (0)
 *   FILL_ONE    dw_local: 1 where local memory is ordinary cached memory (CPUs): work-item 0
 *               zeroes the whole tile in vectors and copies the rows inside x, which keeps the
 *               loop the compiler wraps around the work-items scalar (the fill takes twice the
 *               convolution's time otherwise); 0: the work-items fill rows in turn (0)
 *   WVEC        1: weights held as broadcast vectors (CPUs), 0: as floats (0)
 *   NIR_UNROLL  the most input rows per work-item whose loop is unrolled (16)
 */
#include "conv2d_depthwise.h"
#include "pad_row.h"

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
#ifndef LOCAL_TILE
#define LOCAL_TILE 0
#endif
#ifndef FILL_ONE
#define FILL_ONE 0
#endif
#ifndef WVEC
#define WVEC 0
#endif

/* The type a weight is held in: VEC broadcast once, then read by the FMAs as a memory operand
 * (CPUs: a scalar in a register would be broadcast again for every FMA, on the shuffle port
 * that AVX-512's second FMA unit shares: 1.0-1.45x slower on ConvNeXt's 7x7 layers), or float
 * (GPUs, where 49 vectors per work-item would not fit the registers). */
#if WVEC
#define WTYPE VEC
#else
#define WTYPE float
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

#ifndef NIR_UNROLL
#define NIR_UNROLL 16
#endif
#if NIR <= NIR_UNROLL
#define ROW_UNROLL _Pragma("unroll")
#else
#define ROW_UNROLL
#endif
/* CPUs keep the loop over kernel columns: unrolled as well, LLVM scheduled the loads of all
 * columns early and spilled the accumulators (1.5-2.0x slower with 14 rows per item), or, with a
 * run-time bound on every row, took 8.0 s to build cold against 2.2 s (oclnn-bench, one 7x7
 * program). GPUs index their float weights only at compile time. */
#if WVEC
#define COLUMN_UNROLL _Pragma("unroll 1")
#else
#define COLUMN_UNROLL _Pragma("unroll")
#endif

/* acc[j] += the taps of the RB output rows whose NIR input rows start at row pointer xr (a
 * zero-padded plane with rows of `stride` floats, column offset applied; rows past the plane
 * feed only rows past its output). Kernel column by kernel column: the column's R weights stay
 * in registers while each input row's vector feeds up to R accumulators (input row by input
 * row, most FMAs read their weight from memory: ConvNeXt's 7x7 layers took 1.08-1.11x as long
 * with 7 or 8 rows per item on AVX-512). The row loop is unrolled (up to NIR_UNROLL rows): rolled,
 * it indexes the weights at run time (4x slower). Every output sums its taps in one order (kernel
 * columns, then rows), whichever kernel and tile it comes from. */
#define ACCUMULATE(xr, stride)                                                                     \
    do {                                                                                           \
        COLUMN_UNROLL for (int s = 0; s < S; s++)                                                  \
        {                                                                                          \
            ROW_UNROLL for (int ir = 0; ir < NIR; ir++)                                            \
            {                                                                                      \
                const VEC xv = GATHER((xr) + (size_t)ir * (stride) + s * DW);                      \
                /* Input row ir feeds output row j through kernel row (ir - j * SH) / DH. */       \
                _Pragma("unroll") for (int j = 0; j < RB; j++)                                     \
                {                                                                                  \
                    const int rr = ir - j * SH;                                                    \
                    if (rr >= 0 && rr % DH == 0 && rr / DH < R)                                    \
                        acc[j] = fma((VEC)wr[(rr / DH) * S + s], xv, acc[j]);                      \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* The R x S weights of output plane wo (flipped for backward data). */
static inline __attribute__((always_inline)) void load_weights(const __global float *w, int wo,
                                                               WTYPE *wr)
{
#pragma unroll
    for (int t = 0; t < R * S; t++)
        wr[t] = w[(size_t)wo * (R * S) + (BWD ? R * S - 1 - t : t)];
}

/* y = act(acc + b (+ z)) (+ z), then + y when accum is set, for output rows oh0.. of plane at
 * column ow0 (HAS_* are 0 for backward). */
static inline __attribute__((always_inline)) void finish(VEC *acc, const __global float *b,
                                                         const __global float *z, __global float *y,
                                                         int plane, int oc, int oh0, int ow0,
                                                         int oh_n, int ow_n, int accum)
{
#if HAS_BIAS
    const float bias = b[oc];
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
        v += load_out(z + o, valid);
#endif
        v = activate(v);
#if HAS_RES && !RES_BEFORE
        v += load_out(z + o, valid);
#endif
        if (accum)
            v += load_out(y + o, valid);
        store_out(v, y + o, valid);
    }
}

#if !LOCAL_TILE
/* One work-item: RB output rows x VW output columns of one output plane. x is the zero-padded
 * copy (dw_pad) of the input planes, [.][ih_n][iw_n], so output (oh, ow) reads from row
 * oh * SH and column ow * SW on, followed by the zero rows that the last plane's last row block
 * and tile read past its end.
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
        WTYPE wr[R * S];
        load_weights(w + w_off, wo, wr);
        const __global float *xp = x + x_off + (size_t)(n * cin + ic) * ih_n * iw_n;
#define GATHER gather
        ACCUMULATE(xp + (size_t)ihb * iw_n + iwb, iw_n);
#undef GATHER
    }
    finish(acc, b + b_off, z + z_off, y + y_off, plane, oc, oh0, ow0, oh_n, ow_n, accum);
}

#else
/* The same tiles as dw_rows from the unpadded input x ([.][h][w] planes): a work-group owns
 * `pp` planes x one band of `br` output rows (a multiple of RB); its ntw * br / RB * pp
 * work-items (the local size; ntw tiles per output row) first copy the input rows the band
 * reads, zero-padded by (pad_t, pad_l) (negative pads crop), into `tile` (pp planes of th rows
 * of tcols floats), then compute from it. One input plane per output plane: backward data only
 * for kg == 1. */
__kernel void dw_local(const __global float *x, const ulong x_off, const __global float *w,
                       const ulong w_off, const __global float *b, const ulong b_off,
                       const __global float *z, const ulong z_off, __global float *y,
                       const ulong y_off, const int h, const int iw, const int oh_n, const int ow_n,
                       const int pad_t, const int pad_l, const int nplanes, const int cin,
                       const int cout, const int kg, const int accum, const int pp, const int br,
                       const int th, const int tcols, __local float *tile)
{
    const int ntw = (ow_n + VW - 1) / VW, nbands = (oh_n + br - 1) / br;
    const int lid = (int)get_local_id(0);
    const int grp = (int)get_group_id(0);
    const int band = grp % nbands, plane0 = grp / nbands * pp;
    const int ih0 = band * br * SH - pad_t;

    /* Fill, plane by plane (the divisions of a flat row index would cost more than the copy). */
    const int lo = max(0, pad_l), hi = min(tcols, iw + pad_l);
    const int r_lo = clamp(-ih0, 0, th), r_hi = clamp(h - ih0, r_lo, th);
#if FILL_ONE
    /* Work-item 0: zero the tile in vectors, then copy the rows inside x between the margins. */
    if (lid == 0) {
        const int nt = pp * th * tcols;
        int j = 0;
        for (; j + 16 <= nt; j += 16)
            vstore16((float16)0.0f, 0, tile + j);
        for (; j < nt; j++)
            tile[j] = 0.0f;
        for (int pi = 0; pi < pp && plane0 + pi < nplanes; pi++) {
            const int pl = plane0 + pi, n = pl / cout, ic = pl % cout / kg;
            const __global float *s = x + x_off + ((size_t)(n * cin + ic) * h + ih0) * iw - pad_l;
            for (int r = r_lo; r < r_hi; r++)
                copy_row_local(tile + ((size_t)pi * th + r) * tcols + lo, s + (size_t)r * iw + lo,
                               hi - lo);
        }
    }
#else
    /* The work-items fill the rows of each plane in turn. */
    for (int pi = 0; pi < pp; pi++) {
        const int pl = plane0 + pi, n = pl / cout, ic = pl % cout / kg;
        const __global float *s = x + x_off + ((size_t)(n * cin + ic) * h + ih0) * iw - pad_l;
        for (int r = lid; r < th; r += (int)get_local_size(0)) {
            const bool in = pl < nplanes && r >= r_lo && r < r_hi;
            pad_row_local(tile + ((size_t)pi * th + r) * tcols, s + (size_t)r * iw, in ? lo : tcols,
                          in ? hi : tcols, tcols);
        }
    }
#endif
    barrier(CLK_LOCAL_MEM_FENCE);

    const int per_plane = ntw * (br / RB);
    const int pi = lid / per_plane, tw = lid % ntw, rb = lid % per_plane / ntw;
    const int plane = plane0 + pi, oh0 = band * br + rb * RB, ow0 = tw * VW;
    if (plane >= nplanes || oh0 >= oh_n)
        return;
    const int oc = plane % cout;
    VEC acc[RB];
#pragma unroll
    for (int j = 0; j < RB; j++)
        acc[j] = 0.0f;
    WTYPE wr[R * S];
    load_weights(w + w_off, oc, wr);
#define GATHER gather_local
    ACCUMULATE(tile + ((size_t)pi * th + rb * RB * SH) * tcols + ow0 * SW, tcols);
#undef GATHER
    finish(acc, b + b_off, z + z_off, y + y_off, plane, oc, oh0, ow0, oh_n, ow_n, accum);
}
#endif
