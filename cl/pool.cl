/* pool.cl - 2-D max/average pooling forward and backward (a gather: each dx element sums the
 * windows that contain it, no atomics) and global average pooling, NCHW f32.
 * Defines: VEC (4 or 8; default 8) - vector width of the global-average-pool plane loops.
 *          ROWS (1 to 8; default 4) - input rows per work-item in the one-pass backward kernels
 *          (the windows they share are recomputed once).
 *          FWD_ROWS (>= 1; default 8) - output rows per work-item in the forward kernels and the
 *          arg-max codes (POCL runs small work-items with a visible overhead).
 *          GATHER_ROWS (>= 1; default 16) - input rows per work-item in the backward gathers
 *          (their per-work-item set-up and integer divisions are amortised over them).
 *          GATHER_Q (>= 1; default 4) - the most windows of a row the gathers take per input
 *          column: ceil(kw / sw) must not exceed it.
 *          WIN_H, WIN_W, STRIDE_H, STRIDE_W (>= 0; default 0) - the window and strides as
 *          constants (0: from the kernel arguments, which must then match the nonzero ones).
 *          NT_STORES (0 or 1; default 0) - the backward gathers may write dx with clang's
 *          non-temporal stores (CPUs; the kernel argument nt chooses per call).
 *          FWD_SWEEP (0 or 1; default 0) - the forward and arg-max kernels' first work-item
 *          across takes every run of 16 columns of its rows, the others none (CPUs, inputs
 *          beyond the caches).
 * Window kernels handle blocks of FWD_ROWS x 16 outputs (forward and arg-max codes), ROWS x 8
 * inputs (one-pass backward) or GATHER_ROWS x 16 stride_w inputs (backward gathers); every window
 * holds at least one input position because each pad is smaller than the window. */
#ifndef ROWS
#define ROWS 4
#endif
#ifndef FWD_ROWS
#define FWD_ROWS 8
#endif
#ifndef GATHER_ROWS
#define GATHER_ROWS 16
#endif
#ifndef GATHER_Q
#define GATHER_Q 4
#endif
#if GATHER_ROWS < 1
#error "GATHER_ROWS must be >= 1"
#endif
#if ROWS < 1 || ROWS > 8
#error "ROWS must be in 1..8"
#endif
#if FWD_ROWS < 1
#error "FWD_ROWS must be >= 1"
#endif
#if VEC > 8
#error "VEC must be 4 or 8"
#endif
#ifndef WIN_H
#define WIN_H 0
#endif
#ifndef WIN_W
#define WIN_W 0
#endif
#ifndef STRIDE_H
#define STRIDE_H 0
#endif
#ifndef STRIDE_W
#define STRIDE_W 0
#endif
#if WIN_H < 0 || WIN_W < 0 || STRIDE_H < 0 || STRIDE_W < 0
#error "WIN_H, WIN_W, STRIDE_H and STRIDE_W must be >= 0"
#endif
#ifndef NT_STORES
#define NT_STORES 0
#endif
#if NT_STORES != 0 && NT_STORES != 1
#error "NT_STORES must be 0 or 1"
#endif
#ifndef FWD_SWEEP
#define FWD_SWEEP 0
#endif
#if FWD_SWEEP != 0 && FWD_SWEEP != 1
#error "FWD_SWEEP must be 0 or 1"
#endif
#include "vec.h"
#include "vec_part.h"

/* Helpers of the vector kernels: inlined whatever the compiler's cost model says (POCL builds
 * with -Dinline= and otherwise calls them, passing 64-byte vectors through the stack). */
#define INLINE inline __attribute__((always_inline))
/* Unrolls a loop over the window when its size is a small constant. */
#if WIN_H > 0 && WIN_W > 0 && WIN_H * WIN_W <= 49
#define UNROLL_WINDOW _Pragma("unroll")
#else
#define UNROLL_WINDOW
#endif

#define MODE_MAX 0
#define MODE_AVG 1
#define MODE_AVG_EXCLUDE_PAD 2

typedef struct pool_geom {
    int h, w, oh, ow, kh, kw, sh, sw, pt, pl;
} pool_geom;

/* p[0], p[sw], ..., p[7 sw] without reading past p[7 sw]: one vector load for stride 1, two
 * for stride 2 (the common cases), a gather otherwise. */
inline float8 load_cols(__global const float *p, int sw)
{
    if (sw == 1)
        return vload8(0, p);
    if (sw == 2)
        return (float8)(vload8(0, p).even, vload8(0, p + 7).odd);
    return (float8)(p[0], p[sw], p[2 * sw], p[3 * sw], p[4 * sw], p[5 * sw], p[6 * sw], p[7 * sw]);
}

/* Row r's columns c (lanes), clamped into the row so that no load leaves it. */
inline float8 gather_cols(__global const float *r, int8 c, int w)
{
    c = clamp(c, (int8)0, (int8)(w - 1));
    return (float8)(r[c.s0], r[c.s1], r[c.s2], r[c.s3], r[c.s4], r[c.s5], r[c.s6], r[c.s7]);
}

/* The maxima of the 8 windows (oy, ox0 + lane), in vectors, with their arg-max positions (the
 * one-pass backward). Window positions are visited in row-major order and a value replaces the
 * maximum only when strictly greater, so ties go to the first position; a NaN always replaces it
 * (NaNs propagate as in PyTorch, whose rule this is). Positions outside the input are skipped
 * (read as -inf, which never replaces anything). Lanes past the output row compute harmless
 * values from clamped loads. */
inline void windows8_argmax(__global const float *xp, int oy, int ox0, const pool_geom g,
                            int8 *arg_row, int8 *arg_col)
{
    const int h0 = oy * g.sh - g.pt, w0 = ox0 * g.sw - g.pl;
    const int is = max(0, -h0), ie = min(g.kh, g.h - h0);
    const int8 c0 = (int8)(0, 1, 2, 3, 4, 5, 6, 7) * g.sw + w0;
    float8 r = (float8)(-INFINITY);
    int8 ar = (int8)(h0 + is), ac = max(c0, (int8)0);
/* One pass over the window positions; LOAD gives the 8 lanes' values at row `row`, offset j. */
#define WINDOW_PASS(LOAD)                                                                          \
    for (int i = is; i < ie; i++) {                                                                \
        __global const float *row = xp + (h0 + i) * g.w;                                           \
        for (int j = 0; j < g.kw; j++) {                                                           \
            const float8 v = LOAD;                                                                 \
            const int8 upd = isgreater(v, r) | isnan(v);                                           \
            r = select(r, v, upd);                                                                 \
            ar = select(ar, (int8)(h0 + i), upd);                                                  \
            ac = select(ac, c0 + j, upd);                                                          \
        }                                                                                          \
    }
    if (w0 >= 0 && w0 + 7 * g.sw + g.kw <= g.w) {
        WINDOW_PASS(load_cols(row + w0 + j, g.sw))
    } else {
        WINDOW_PASS(
            select((float8)(-INFINITY), gather_cols(row, c0 + j, g.w), c0 + j >= 0 && c0 + j < g.w))
    }
#undef WINDOW_PASS
    *arg_row = ar;
    *arg_col = ac;
}

#define POOL_ARGS                                                                                  \
    const int h, const int w, const int oh, const int ow, const int kh_arg, const int kw_arg,      \
        const int sh_arg, const int sw_arg, const int pt, const int pl, const int planes
/* The window and strides: the arguments, or the WIN_* and STRIDE_* defines when given. */
#define POOL_WINDOW                                                                                \
    const int kh = WIN_H > 0 ? WIN_H : kh_arg, kw = WIN_W > 0 ? WIN_W : kw_arg;                    \
    const int sh = STRIDE_H > 0 ? STRIDE_H : sh_arg, sw = STRIDE_W > 0 ? STRIDE_W : sw_arg;

#define POOL_GEOM                                                                                  \
    {                                                                                              \
        h, w, oh, ow, kh, kw, sh, sw, pt, pl                                                       \
    }

/* The output rows (or columns) whose windows contain input row i: [lo, hi]. */
inline int first_window(int i, int pad, int k, int s)
{
    const int t = i + pad - k + 1;
    return t <= 0 ? 0 : (t + s - 1) / s;
}
inline int last_window(int i, int pad, int s, int n)
{
    return min((i + pad) / s, n - 1);
}

/* Routing of window lane S (a vector component) to the block's accumulators: max sends d.S to
 * the input at its arg-max (row rr.S of the block, column ac.S); avg sends its share to the
 * columns it covers in the block rows it covers. Unrolled over the 8 lanes. */
#define FOR_LANES(M) M(s0) M(s1) M(s2) M(s3) M(s4) M(s5) M(s6) M(s7)
#define ROUTE_MAX(S)                                                                               \
    {                                                                                              \
        const float8 add = select((float8)0.0f, (float8)d.S, lane == ac.S);                        \
        for (int r = 0; r < ROWS; r++)                                                             \
            acc[r] += rr.S == r ? add : (float8)0.0f;                                              \
    }
#define ROUTE_AVG(S)                                                                               \
    {                                                                                              \
        const float8 add =                                                                         \
            select((float8)0.0f, (float8)share.S, lane >= w0.S && lane < w0.S + kw);               \
        for (int r = 0; r < ROWS; r++)                                                             \
            acc[r] += iy0 + r >= h0 && iy0 + r < h0 + kh ? add : (float8)0.0f;                     \
    }

/* The divisors of 8 average windows of one row starting at columns w0 (lanes): the full window
 * when padding counts (a window never reaches past the padded input with floor output sizes),
 * else the positions inside the input. */
inline float8 window_divisor8(int h0, int8 w0, const pool_geom g, int mode)
{
    if (mode == MODE_AVG)
        return (float8)(g.kh * g.kw);
    const int rows = min(h0 + g.kh, g.h) - max(h0, 0);
    return convert_float8((min(w0 + g.kw, (int8)g.w) - max(w0, (int8)0)) * rows);
}

/* dx for a block of ROWS rows x 8 columns of inputs: the windows touching the block are taken 8
 * at a time (max: their arg-maxes recomputed in vectors, once for all the block's rows) and each
 * routes its gradient to the lanes it covers (max: the lane of its arg-max), in row-major window
 * order, so each dx element sums its own windows in ascending order.
 * Global: (ceil(w / 8), ceil(h / ROWS), planes). */
#define DEFINE_POOL_BACKWARD(NAME, MODE)                                                           \
    __kernel void NAME(__global const float *x, const ulong x_off, __global const float *dy,       \
                       const ulong dy_off, __global float *dx, const ulong dx_off, POOL_ARGS)      \
    {                                                                                              \
        POOL_WINDOW                                                                                \
        const int ix0 = (int)get_global_id(0) * 8, iy0 = (int)get_global_id(1) * ROWS;             \
        const int p = (int)get_global_id(2);                                                       \
        if (ix0 >= w || iy0 >= h || p >= planes)                                                   \
            return;                                                                                \
        const pool_geom g = POOL_GEOM;                                                             \
        __global const float *xp = x + x_off + (ulong)p * (ulong)(h * w);                          \
        __global const float *dyp = dy + dy_off + (ulong)p * (ulong)(oh * ow);                     \
        const int ix1 = min(ix0 + 7, w - 1), iy1 = min(iy0 + ROWS - 1, h - 1);                     \
        const int oy0 = first_window(iy0, pt, kh, sh), oy1 = last_window(iy1, pt, sh, oh);         \
        const int ox0 = first_window(ix0, pl, kw, sw), ox1 = last_window(ix1, pl, sw, ow);         \
        const int8 wl = (int8)(0, 1, 2, 3, 4, 5, 6, 7), lane = wl + ix0;                           \
        float8 acc[ROWS];                                                                          \
        for (int r = 0; r < ROWS; r++)                                                             \
            acc[r] = (float8)0.0f;                                                                 \
        for (int oy = oy0; oy <= oy1; oy++)                                                        \
            for (int oxa = ox0; oxa <= ox1; oxa += 8) {                                            \
                const int nwin = min(8, ox1 - oxa + 1), h0 = oy * sh - pt;                         \
                /* dy of the 8 windows; lanes past ox1 route nothing */                            \
                const float8 d =                                                                   \
                    nwin == 8 ? vload8(0, dyp + oy * ow + oxa)                                     \
                              : select((float8)0.0f, gather_cols(dyp + oy * ow, wl + oxa, ow),     \
                                       wl < nwin);                                                 \
                if (MODE == MODE_MAX) {                                                            \
                    int8 ar, ac;                                                                   \
                    windows8_argmax(xp, oy, oxa, g, &ar, &ac);                                     \
                    const int8 rr = ar - iy0;                                                      \
                    FOR_LANES(ROUTE_MAX)                                                           \
                } else {                                                                           \
                    const int8 w0 = (wl + oxa) * sw - pl;                                          \
                    const float8 share =                                                           \
                        select((float8)0.0f, d / window_divisor8(h0, w0, g, MODE), wl < nwin);     \
                    FOR_LANES(ROUTE_AVG)                                                           \
                }                                                                                  \
            }                                                                                      \
        __global float *dxp = dx + dx_off + (ulong)p * (ulong)(h * w) + (ulong)(iy0 * w + ix0);    \
        for (int r = 0; r < ROWS; r++)                                                             \
            if (iy0 + r < h)                                                                       \
                store8_part(acc[r], dxp + r * w, w - ix0);                                         \
    }

DEFINE_POOL_BACKWARD(pool_max_backward, MODE_MAX)
DEFINE_POOL_BACKWARD(pool_avg_backward, MODE_AVG)
DEFINE_POOL_BACKWARD(pool_avg_exclude_pad_backward, MODE_AVG_EXCLUDE_PAD)

/* The 16 lanes' column offsets 0..15. */
#define LANES16 ((int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))
/* (T)(r[i.s0], ..., r[i.sf]): a 16-lane gather. */
#define GATHER16(T, r, i)                                                                          \
    ((T)(r[(i).s0], r[(i).s1], r[(i).s2], r[(i).s3], r[(i).s4], r[(i).s5], r[(i).s6], r[(i).s7],   \
         r[(i).s8], r[(i).s9], r[(i).sa], r[(i).sb], r[(i).sc], r[(i).sd], r[(i).se], r[(i).sf]))

/* p[0], p[sw], ..., p[15 sw] without reading past p[15 sw] (load_cols for 16 lanes). */
INLINE float16 load_cols16(__global const float *p, int sw)
{
    if (sw == 1)
        return vload16(0, p);
    if (sw == 2)
        return (float16)(vload16(0, p).even, vload16(0, p + 15).odd);
    return GATHER16(float16, p, LANES16 * sw);
}

/* The columns of an edge block (load_cols16's lanes, some outside the row [0, w) and masked by
 * the caller): the same vector loads spilling into the neighbouring rows wherever they stay
 * inside the tensor (p is its element e of `total`), so only the tensor's first and last rows
 * gather, lane by lane with columns c clamped into the row r. (conv_rows.h's load16_in, which
 * zeroes the lanes outside the row itself, measured 1.07-1.36x slower here.) */
INLINE float16 edge_cols16(__global const float *p, long e, long total, int sw,
                           __global const float *r, int16 c, int w)
{
    if (sw <= 2 && e >= 0 && e + 15 * sw < total)
        return load_cols16(p, sw);
    return GATHER16(float16, r, clamp(c, (int16)0, (int16)(w - 1)));
}

/* The forward kernels and the arg-max codes: 16 windows of a row in vectors, FWD_ROWS rows per
 * work-item, over a window of constants (WIN_*, STRIDE_*: one program per pooling shape).
 * Window positions are visited in row-major order. Max: a value replaces the maximum only when
 * strictly greater, so ties go to the first position; a NaN always replaces it (NaNs propagate
 * as in PyTorch, whose rule this is); positions outside the input are skipped, and the arg-max
 * is the position in the window, i * kw + j (a window whose values are all -inf keeps its first
 * position inside the input). Average: the sum over kh * kw, or over the positions inside the
 * input (exclude-pad). The codes alone are pass 1 of the max-pool backward when the forward kept
 * nothing (the host takes the two passes when the workspace holds a byte per output and
 * kh * kw <= 256); with the maxima, the training forward.
 * A work-item takes run gid0 of 16 columns of each of its rows, or with FWD_SWEEP (CPUs) the
 * first work-item across every run of them, a row after another: its input rows then stream from
 * left to right, which the CPU's prefetchers follow (ResNet's 3x3 stride-2 max pooling at batch
 * 32, its input from memory: 1.5-1.8x faster on a 2-core Zen 5).
 * Global: (ceil(ow / 16), ceil(oh / FWD_ROWS), planes). */
#define DEFINE_POOL_WINDOWS16(NAME, MODE, OUT_ARGS, STORE)                                         \
    __kernel void NAME(__global const float *x, const ulong x_off, OUT_ARGS POOL_ARGS)             \
    {                                                                                              \
        POOL_WINDOW                                                                                \
        const int oy0 = (int)get_global_id(1) * FWD_ROWS, p = (int)get_global_id(2);               \
        const int oy1 = min(oy0 + FWD_ROWS, oh);                                                   \
        if ((FWD_SWEEP && get_global_id(0) > 0) || oy0 >= oh || p >= planes)                       \
            return;                                                                                \
        __global const float *xp = x + x_off + (ulong)p * (ulong)(h * w);                          \
        const long at_x = (long)p * (h * w), total = (long)planes * (h * w);                       \
        const float fill = MODE == MODE_MAX ? -INFINITY : 0.0f;                                    \
        if (FWD_SWEEP) {                                                                           \
            for (int oy = oy0; oy < oy1; oy++)                                                     \
                for (int ox0 = 0; ox0 < ow; ox0 += 16) {                                           \
                    if (run_inside(ox0, sw, pl, kw, w))                                            \
                        POOL_RUN16(MODE, STORE, load_cols16(row + w0 + j, sw))                     \
                    else                                                                           \
                        POOL_RUN16(MODE, STORE, EDGE_COLS16)                                       \
                }                                                                                  \
        } else {                                                                                   \
            /* The test out of the row loop (inside it: 1.2-1.5x slower, x in the cache). */       \
            const int ox0 = (int)get_global_id(0) * 16;                                            \
            if (ox0 >= ow)                                                                         \
                return;                                                                            \
            if (run_inside(ox0, sw, pl, kw, w))                                                    \
                for (int oy = oy0; oy < oy1; oy++)                                                 \
                    POOL_RUN16(MODE, STORE, load_cols16(row + w0 + j, sw))                         \
            else                                                                                   \
                for (int oy = oy0; oy < oy1; oy++)                                                 \
                    POOL_RUN16(MODE, STORE, EDGE_COLS16)                                           \
        }                                                                                          \
    }
/* Whether the 16 windows from output column ox0 read inside their input rows. */
INLINE bool run_inside(int ox0, int sw, int pl, int kw, int w)
{
    const int w0 = ox0 * sw - pl;
    return w0 >= 0 && w0 + 15 * sw + kw <= w;
}
/* The columns of window offset (i, j) of a run at a row's edge, those outside the row the fill. */
#define EDGE_COLS16                                                                                \
    select((float16)fill,                                                                          \
           edge_cols16(row + w0 + j, at_x + (h0 + i) * w + w0 + j, total, sw, row, c0 + j, w),     \
           c0 + j >= 0 && c0 + j < w)
/* The 16 windows from column ox0 of output row oy, stored. */
#define POOL_RUN16(MODE, STORE, LOAD)                                                              \
    {                                                                                              \
        const int h0 = oy * sh - pt, is = max(0, -h0), ie = min(kh, h - h0);                       \
        const int w0 = ox0 * sw - pl;                                                              \
        const ulong at = (ulong)p * (ulong)(oh * ow) + (ulong)ox0;                                 \
        const int16 c0 = LANES16 * sw + w0;                                                        \
        float16 m = (float16)fill;                                                                 \
        int16 arg = max(c0, (int16)0) - c0 + is * kw;                                              \
        WINDOW16_PASS(MODE, LOAD)                                                                  \
        if (MODE == MODE_AVG)                                                                      \
            m = m / (float16)(kh * kw);                                                            \
        if (MODE == MODE_AVG_EXCLUDE_PAD)                                                          \
            m = m / convert_float16((min(c0 + kw, (int16)w) - max(c0, (int16)0)) * (ie - is));     \
        const int n = min(ow - ox0, 16);                                                           \
        STORE                                                                                      \
    }
/* One pass over the window positions; LOAD gives the 16 lanes' values at row `row`, offset j. */
#define WINDOW16_PASS(MODE, LOAD)                                                                  \
    UNROLL_WINDOW for (int i = 0; i < kh; i++)                                                     \
    {                                                                                              \
        __global const float *row = xp + (h0 + i) * w;                                             \
        if (i >= is && i < ie) {                                                                   \
            UNROLL_WINDOW for (int j = 0; j < kw; j++)                                             \
            {                                                                                      \
                const float16 v = LOAD;                                                            \
                if (MODE == MODE_MAX) {                                                            \
                    const int16 upd = isgreater(v, m) | isnan(v);                                  \
                    m = select(m, v, upd);                                                         \
                    arg = select(arg, (int16)(i * kw + j), upd);                                   \
                } else {                                                                           \
                    m += v;                                                                        \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }
#define Y_ARGS __global float *y, const ulong y_off,
#define CODES_ARGS __global uchar *code, const ulong code_off,
#define STORE_Y store16_part(m, y + y_off + at + oy * ow, n);
#define STORE_CODES                                                                                \
    {                                                                                              \
        __global uchar *cp = code + code_off + at + oy * ow;                                       \
        const uchar16 a = convert_uchar16(arg);                                                    \
        if (n == 16) {                                                                             \
            vstore16(a, 0, cp);                                                                    \
        } else {                                                                                   \
            uchar t[16];                                                                           \
            vstore16(a, 0, t);                                                                     \
            for (int j = 0; j < n; j++)                                                            \
                cp[j] = t[j];                                                                      \
        }                                                                                          \
    }
DEFINE_POOL_WINDOWS16(pool_max_forward, MODE_MAX, Y_ARGS, STORE_Y)
DEFINE_POOL_WINDOWS16(pool_avg_forward, MODE_AVG, Y_ARGS, STORE_Y)
DEFINE_POOL_WINDOWS16(pool_avg_exclude_pad_forward, MODE_AVG_EXCLUDE_PAD, Y_ARGS, STORE_Y)
DEFINE_POOL_WINDOWS16(pool_max_codes, MODE_MAX, CODES_ARGS, STORE_CODES)
DEFINE_POOL_WINDOWS16(pool_max_forward_codes, MODE_MAX, Y_ARGS CODES_ARGS, STORE_Y STORE_CODES)

/* Row r's dy (or arg-max codes) of the windows o + l for the 16 lanes l, for an edge block whose
 * lanes past the row are masked: one vector load where it stays inside the tensor (r is element
 * `at` of `n`), spilling into the neighbouring rows; loads clamped into the row, one lane at a
 * time in a loop that is not unrolled, at the tensor's first and last rows. (Unrolled, as a
 * 16-lane gather, the compiler worked out its 16 addresses for every load ahead of the branch
 * and spilled them: ~40% of the time of edge blocks.) */
INLINE float16 dy_lanes(__global const float *r, int o, int ow, long at, long n)
{
    if (at + o >= 0 && at + o + 15 < n)
        return vload16(0, r + o);
    float t[16];
#pragma nounroll
    for (int l = 0; l < 16; l++)
        t[l] = r[clamp(l + o, 0, ow - 1)];
    return vload16(0, t);
}
INLINE int16 code_lanes(__global const uchar *r, int o, int ow, long at, long n)
{
    if (at + o >= 0 && at + o + 15 < n)
        return convert_int16(vload16(0, r + o));
    uchar t[16];
#pragma nounroll
    for (int l = 0; l < 16; l++)
        t[l] = r[clamp(l + o, 0, ow - 1)];
    return convert_int16(vload16(0, t));
}

/* Stores the lanes of v at columns c + l sw of row, those inside [0, w). */
INLINE void store_strided(float16 v, __global float *row, int c, int sw, int w)
{
    float t[16];
    vstore16(v, 0, t);
    for (int l = 0; l < 16; l++)
        if (c + l * sw < w)
            row[c + l * sw] = t[l];
}

/* Stores the first n (<= 16) lanes of v at p; with nt (and NT_STORES) a full vector at a 64-byte
 * boundary is stored non-temporally: the cache line is not read before it is overwritten. Such
 * stores are weakly ordered: what makes them visible to the next command is the runtime's
 * completion signalling (x86 drains write-combining buffers on its locked instructions), as no
 * fence can be afforded per work-item. */
INLINE void store_lanes16(float16 v, __global float *p, int n, int nt)
{
#if NT_STORES
    if (n >= 16 && nt && ((ulong)p & 63) == 0) {
        __builtin_nontemporal_store(v, (__global float16 *)p);
        return;
    }
#endif
    store16_part(v, p, n);
}

/* Stores a (columns c + l sw) and, when `two`, b (columns c + l sw + 1) into row (width w):
 * stride 1 and 2 as vectors (stride 2 interleaves a and b), other strides lane by lane. */
INLINE void store_pair(float16 a, float16 b, bool two, __global float *row, int c, int sw, int w,
                       int nt)
{
    if (sw == 1) {
        store_lanes16(a, row + c, w - c, nt);
    } else if (sw == 2) {
        const float16 lo = (float16)(a.s0, b.s0, a.s1, b.s1, a.s2, b.s2, a.s3, b.s3, a.s4, b.s4,
                                     a.s5, b.s5, a.s6, b.s6, a.s7, b.s7);
        const float16 hi = (float16)(a.s8, b.s8, a.s9, b.s9, a.sa, b.sa, a.sb, b.sb, a.sc, b.sc,
                                     a.sd, b.sd, a.se, b.se, a.sf, b.sf);
        store_lanes16(lo, row + c, w - c, nt);
        if (w - c > 16)
            store_lanes16(hi, row + c + 16, w - c - 16, nt);
    } else {
        store_strided(a, row, c, sw, w);
        if (two)
            store_strided(b, row, c + 1, sw, w);
    }
}

/* Backward gathers over GATHER_ROWS input rows x 16 sw input columns from c0, a row at a time.
 * Lane l holds the columns c0 + l sw + e, e < sw, taken two at a time (e, e + 1): for each, the
 * lanes' windows are consecutive, b_e + l - q for candidate q, at column offset r_e + q sw with
 * b_e = (c0 + e + pl) / sw and r_e its remainder, for the q with r_e + q sw < kw (at most
 * GATHER_Q: the host checks kw <= GATHER_Q sw). So every candidate is one vector load of dy (and
 * of arg-max codes) whatever the stride. For each window row covering the input row, in
 * ascending order, the candidates (from the leftmost) add their dy (max: where the window's
 * arg-max code is the lane's position; avg: times the window's weight). Blocks whose candidate
 * windows all lie inside the input take them unmasked; edge blocks clamp their loads and mask
 * the lanes whose window does not exist. Stride 2 interleaves the two parities on store.
 * Global: (ceil(w / (16 sw)), ceil(h / GATHER_ROWS), planes). */
#define DEFINE_POOL_GATHER(NAME, MODE, CODE_ARGS)                                                  \
    __kernel void NAME(CODE_ARGS __global const float *dy, const ulong dy_off, __global float *dx, \
                       const ulong dx_off, const int nt, POOL_ARGS)                                \
    {                                                                                              \
        POOL_WINDOW                                                                                \
        const int c0 = (int)get_global_id(0) * 16 * sw, iy0 = (int)get_global_id(1) * GATHER_ROWS; \
        const int p = (int)get_global_id(2);                                                       \
        if (c0 >= w || iy0 >= h || p >= planes)                                                    \
            return;                                                                                \
        __global const float *dyp = dy + dy_off + (ulong)p * (ulong)(oh * ow);                     \
        __global float *dxp = dx + dx_off + (ulong)p * (ulong)(h * w);                             \
        const int nq = (kw + sw - 1) / sw;                                                         \
        for (int e = 0; e < sw; e += 2) {                                                          \
            const bool two = e + 1 < sw;                                                           \
            const int b0 = (c0 + e + pl) / sw, r0 = c0 + e + pl - b0 * sw;                         \
            const int b1 = (c0 + e + 1 + pl) / sw, r1 = c0 + e + 1 + pl - b1 * sw;                 \
            if ((b0 - nq + 1) * sw - pl >= 0 && (b1 + 15) * sw - pl + kw <= w && b1 + 15 < ow) {   \
                GATHER_ROW_LOOP(GATHER_INSIDE_##MODE)                                              \
            } else {                                                                               \
                /* Candidate q of column e (0) and e + 1 (1): the column part of the code each     \
                 * lane looks for (a large negative where the window does not exist or does not    \
                 * reach the column), and the window's weight. */                                  \
                int16 col0[GATHER_Q], col1[GATHER_Q];                                              \
                float16 wt0[GATHER_Q], wt1[GATHER_Q];                                              \
                for (int q = 0; q < GATHER_Q; q++) {                                               \
                    const int16 o0 = LANES16 + b0 - q, o1 = LANES16 + b1 - q;                      \
                    col0[q] = select((int16)(-(1 << 20)), (int16)(r0 + q * sw),                    \
                                     o0 >= 0 && o0 < ow && r0 + q * sw < kw);                      \
                    col1[q] = select((int16)(-(1 << 20)), (int16)(r1 + q * sw),                    \
                                     o1 >= 0 && o1 < ow && r1 + q * sw < kw && two);               \
                    wt0[q] = window_weight(o0 * sw - pl, kh, kw, w, MODE);                         \
                    wt1[q] = window_weight(o1 * sw - pl, kh, kw, w, MODE);                         \
                }                                                                                  \
                GATHER_ROW_LOOP(GATHER_EDGE_##MODE)                                                \
            }                                                                                      \
        }                                                                                          \
    }
/* The rows of a gather block for columns e and e + 1. The window rows containing row iy are
 * [max(0, u / sh), min(v / sh, oh - 1)] with u = iy + pt - kh + sh and v = iy + pt (u / sh: the
 * ceiling of (iy + pt - kh + 1) / sh where that is positive); the quotients are stepped row by
 * row rather than divided again. */
#define GATHER_ROW_LOOP(WINDOW_ROW)                                                                \
    int uq = (iy0 + pt - kh + sh) / sh, ur = (iy0 + pt - kh + sh) - uq * sh;                       \
    int vq = (iy0 + pt) / sh, vr = (iy0 + pt) - vq * sh;                                           \
    for (int iy = iy0; iy < min(iy0 + GATHER_ROWS, h); iy++) {                                     \
        float16 acc0 = (float16)0.0f, acc1 = (float16)0.0f;                                        \
        for (int oy = max(uq, 0); oy <= min(vq, oh - 1); oy++) {                                   \
            __global const float *dr = dyp + oy * ow;                                              \
            WINDOW_ROW                                                                             \
        }                                                                                          \
        store_pair(acc0, acc1, two, dxp + iy * w, c0 + e, sw, w, nt);                              \
        if (++ur == sh) {                                                                          \
            ur = 0;                                                                                \
            uq++;                                                                                  \
        }                                                                                          \
        if (++vr == sh) {                                                                          \
            vr = 0;                                                                                \
            vq++;                                                                                  \
        }                                                                                          \
    }
/* The weights of the windows whose first padded columns are w0 (lanes): 1 / (kh kw), or for
 * exclude-pad 1 / (columns inside the input), the rows being divided out per window row. */
INLINE float16 window_weight(int16 w0, int kh, int kw, int w, int mode)
{
    if (mode == MODE_AVG)
        return (float16)(1.0f / (float)(kh * kw));
    return 1.0f / convert_float16(max(min(w0 + kw, w) - max(w0, 0), 1));
}
/* The rows of window row oy inside the input. */
#define WINDOW_ROWS (min(oy * sh - pt + kh, h) - max(oy * sh - pt, 0))
/* One window row oy of a block inside the input, for columns e (acc0) and e + 1 (acc1): max
 * compares the codes with the lanes' positions, avg sums and weighs by the window (exclude-pad:
 * kw columns, the window's rows inside the input). */
#define GATHER_INSIDE_MODE_MAX                                                                     \
    __global const uchar *cr = code + code_off + (ulong)p * (ulong)(oh * ow) + (ulong)(oy * ow);   \
    const int rc = (iy + pt - oy * sh) * kw;                                                       \
    _Pragma("unroll") for (int q = GATHER_Q - 1; q >= 0; q--)                                      \
    {                                                                                              \
        if (q < nq && r0 + q * sw < kw)                                                            \
            acc0 += select((float16)0.0f, vload16(0, dr + b0 - q),                                 \
                           convert_int16(vload16(0, cr + b0 - q)) == rc + r0 + q * sw);            \
        if (q < nq && two && r1 + q * sw < kw)                                                     \
            acc1 += select((float16)0.0f, vload16(0, dr + b1 - q),                                 \
                           convert_int16(vload16(0, cr + b1 - q)) == rc + r1 + q * sw);            \
    }
#define GATHER_INSIDE_AVG(WEIGHT)                                                                  \
    float16 t0 = (float16)0.0f, t1 = (float16)0.0f;                                                \
    _Pragma("unroll") for (int q = GATHER_Q - 1; q >= 0; q--)                                      \
    {                                                                                              \
        if (q < nq && r0 + q * sw < kw)                                                            \
            t0 += vload16(0, dr + b0 - q);                                                         \
        if (q < nq && two && r1 + q * sw < kw)                                                     \
            t1 += vload16(0, dr + b1 - q);                                                         \
    }                                                                                              \
    acc0 += t0 * (WEIGHT);                                                                         \
    acc1 += t1 * (WEIGHT);
#define GATHER_INSIDE_MODE_AVG GATHER_INSIDE_AVG(1.0f / (float)(kh * kw))
#define GATHER_INSIDE_MODE_AVG_EXCLUDE_PAD GATHER_INSIDE_AVG(1.0f / (float)(WINDOW_ROWS * kw))
/* The same for an edge block: lanes masked by col0 / col1 (at, n: for dy_lanes). */
#define GATHER_EDGE_MODE_MAX                                                                       \
    const long at = ((long)p * oh + oy) * ow, n = (long)planes * oh * ow;                          \
    __global const uchar *cr = code + code_off + (ulong)p * (ulong)(oh * ow) + (ulong)(oy * ow);   \
    const int rc = (iy + pt - oy * sh) * kw;                                                       \
    _Pragma("unroll") for (int q = GATHER_Q - 1; q >= 0; q--)                                      \
    {                                                                                              \
        if (q < nq && r0 + q * sw < kw)                                                            \
            acc0 += select((float16)0.0f, dy_lanes(dr, b0 - q, ow, at, n),                         \
                           code_lanes(cr, b0 - q, ow, at, n) - col0[q] == rc);                     \
        if (q < nq && two && r1 + q * sw < kw)                                                     \
            acc1 += select((float16)0.0f, dy_lanes(dr, b1 - q, ow, at, n),                         \
                           code_lanes(cr, b1 - q, ow, at, n) - col1[q] == rc);                     \
    }
#define GATHER_EDGE_AVG(ROW_WEIGHT)                                                                \
    const long at = ((long)p * oh + oy) * ow, n = (long)planes * oh * ow;                          \
    float16 t0 = (float16)0.0f, t1 = (float16)0.0f;                                                \
    _Pragma("unroll") for (int q = GATHER_Q - 1; q >= 0; q--)                                      \
    {                                                                                              \
        if (q < nq && r0 + q * sw < kw)                                                            \
            t0 += select((float16)0.0f, dy_lanes(dr, b0 - q, ow, at, n) * wt0[q], col0[q] >= 0);   \
        if (q < nq && two && r1 + q * sw < kw)                                                     \
            t1 += select((float16)0.0f, dy_lanes(dr, b1 - q, ow, at, n) * wt1[q], col1[q] >= 0);   \
    }                                                                                              \
    acc0 += t0 ROW_WEIGHT;                                                                         \
    acc1 += t1 ROW_WEIGHT;
#define GATHER_EDGE_MODE_AVG GATHER_EDGE_AVG()
#define GATHER_EDGE_MODE_AVG_EXCLUDE_PAD GATHER_EDGE_AVG(/ (float)WINDOW_ROWS)

#define CODE_ARGS __global const uchar *code, const ulong code_off,
#define NO_CODE_ARGS
DEFINE_POOL_GATHER(pool_max_gather, MODE_MAX, CODE_ARGS)
DEFINE_POOL_GATHER(pool_avg_gather, MODE_AVG, NO_CODE_ARGS)
DEFINE_POOL_GATHER(pool_avg_exclude_pad_gather, MODE_AVG_EXCLUDE_PAD, NO_CODE_ARGS)

/* y[p] = mean of the plane p (hw elements); one work-item per plane, fixed summation order. */
__kernel void global_avg_forward(__global const float *x, const ulong x_off, __global float *y,
                                 const ulong y_off, const int hw, const int planes)
{
    const int p = (int)get_global_id(0);
    if (p >= planes)
        return;
    __global const float *xp = x + x_off + (ulong)p * (ulong)hw;
    floatV acc = (floatV)0.0f;
    int i = 0;
    for (; i + VEC <= hw; i += VEC)
        acc += vloadV(0, xp + i);
#if VEC == 8
    const float4 a4 = acc.lo + acc.hi;
#else
    const float4 a4 = acc;
#endif
    float s = (a4.x + a4.y) + (a4.z + a4.w);
    for (; i < hw; i++)
        s += xp[i];
    y[y_off + p] = s / (float)hw;
}

/* dx[p][i] = dy[p] / hw. Global: (ceil(hw / VEC), planes). */
__kernel void global_avg_backward(__global const float *dy, const ulong dy_off, __global float *dx,
                                  const ulong dx_off, const int hw, const int planes)
{
    const int i = (int)get_global_id(0) * VEC;
    const int p = (int)get_global_id(1);
    if (i >= hw || p >= planes)
        return;
    const float d = dy[dy_off + p] / (float)hw;
    __global float *dxp = dx + dx_off + (ulong)p * (ulong)hw + (ulong)i;
    if (i + VEC <= hw) {
        vstoreV((floatV)d, 0, dxp);
    } else {
        for (int j = 0; j < hw - i; j++)
            dxp[j] = d;
    }
}
