/* pool.cl - 2-D max/average pooling forward and backward (a gather: each dx element sums the
 * windows that contain it, no atomics) and global average pooling, NCHW f32.
 * Defines: VEC (4 or 8; default 8) - vector width of the global-average-pool plane loops.
 *          ROWS (1 to 8; default 4) - input rows per work-item in the backward kernels (the
 *          windows they share are recomputed once).
 *          FWD_ROWS (>= 1; default 8) - output rows per work-item in the forward kernels (POCL
 *          runs small work-items with a visible overhead).
 *          ROUTE_ROWS (>= 1; default 16) - input rows per work-item in pool_max_route (its
 *          per-work-item integer divisions are amortised over them).
 * Window kernels handle blocks of FWD_ROWS x 8 outputs (forward) or ROWS x 8 inputs (backward);
 * every window holds at least one input position because each pad is smaller than the window. */
#ifndef ROWS
#define ROWS 4
#endif
#ifndef FWD_ROWS
#define FWD_ROWS 8
#endif
#ifndef ROUTE_ROWS
#define ROUTE_ROWS 16
#endif
#if ROUTE_ROWS < 1
#error "ROUTE_ROWS must be >= 1"
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
#include "vec.h"

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

/* The 8 windows (oy, ox0 + lane), in vectors: the maximum with its arg-max position when `track`
 * (MODE_MAX), or the average. Window positions are visited in row-major order and a value
 * replaces the maximum only when strictly greater, so ties go to the first position; a NaN always
 * replaces it (NaNs propagate as in PyTorch, whose rule this is). Positions outside the input
 * are skipped: max reads them as -inf, which never replaces anything, sum as 0. Lanes past the
 * output row compute harmless values from clamped loads. */
inline float8 windows8(__global const float *xp, int oy, int ox0, const pool_geom g, int mode,
                       bool track, int8 *arg_row, int8 *arg_col)
{
    const int h0 = oy * g.sh - g.pt, w0 = ox0 * g.sw - g.pl;
    const int is = max(0, -h0), ie = min(g.kh, g.h - h0);
    const int8 c0 = (int8)(0, 1, 2, 3, 4, 5, 6, 7) * g.sw + w0;
    const float fill = mode == MODE_MAX ? -INFINITY : 0.0f;
    float8 r = (float8)fill;
    int8 ar = (int8)(h0 + is), ac = max(c0, (int8)0);
/* One pass over the window positions; LOAD gives the 8 lanes' values at row `row`, offset j. */
#define WINDOW_PASS(LOAD)                                                                          \
    for (int i = is; i < ie; i++) {                                                                \
        __global const float *row = xp + (h0 + i) * g.w;                                           \
        for (int j = 0; j < g.kw; j++) {                                                           \
            const float8 v = LOAD;                                                                 \
            if (mode == MODE_MAX) {                                                                \
                const int8 upd = isgreater(v, r) | isnan(v);                                       \
                r = select(r, v, upd);                                                             \
                if (track) {                                                                       \
                    ar = select(ar, (int8)(h0 + i), upd);                                          \
                    ac = select(ac, c0 + j, upd);                                                  \
                }                                                                                  \
            } else {                                                                               \
                r += v;                                                                            \
            }                                                                                      \
        }                                                                                          \
    }
    if (w0 >= 0 && w0 + 7 * g.sw + g.kw <= g.w) {
        WINDOW_PASS(load_cols(row + w0 + j, g.sw))
    } else {
        WINDOW_PASS(
            select((float8)fill, gather_cols(row, c0 + j, g.w), c0 + j >= 0 && c0 + j < g.w))
    }
#undef WINDOW_PASS
    *arg_row = ar;
    *arg_col = ac;
    if (mode == MODE_AVG)
        return r / (float8)(g.kh * g.kw);
    if (mode == MODE_AVG_EXCLUDE_PAD) {
        const int8 cols = min(c0 + g.kw, (int8)g.w) - max(c0, (int8)0);
        return r / convert_float8(cols * (ie - is));
    }
    return r;
}

#define POOL_ARGS                                                                                  \
    const int h, const int w, const int oh, const int ow, const int kh, const int kw,              \
        const int sh, const int sw, const int pt, const int pl, const int planes

#define POOL_GEOM                                                                                  \
    {                                                                                              \
        h, w, oh, ow, kh, kw, sh, sw, pt, pl                                                       \
    }

/* Stores the first n (<= 8) lanes of v at p. */
inline void store_lanes(float8 v, __global float *p, int n)
{
    if (n >= 8) {
        vstore8(v, 0, p);
        return;
    }
    float t[8];
    vstore8(v, 0, t);
    for (int j = 0; j < n; j++)
        p[j] = t[j];
}

/* Each work-item computes runs of 8 outputs in FWD_ROWS consecutive rows.
 * Global: (ceil(ow / 8), ceil(oh / FWD_ROWS), planes). */
#define DEFINE_POOL_FORWARD(NAME, MODE)                                                            \
    __kernel void NAME(__global const float *x, const ulong x_off, __global float *y,              \
                       const ulong y_off, POOL_ARGS)                                               \
    {                                                                                              \
        const int ox0 = (int)get_global_id(0) * 8, oy0 = (int)get_global_id(1) * FWD_ROWS;         \
        const int p = (int)get_global_id(2);                                                       \
        if (ox0 >= ow || oy0 >= oh || p >= planes)                                                 \
            return;                                                                                \
        const pool_geom g = POOL_GEOM;                                                             \
        __global const float *xp = x + x_off + (ulong)p * (ulong)(h * w);                          \
        __global float *yp = y + y_off + (ulong)p * (ulong)(oh * ow) + (ulong)ox0;                 \
        for (int oy = oy0; oy < min(oy0 + FWD_ROWS, oh); oy++) {                                   \
            int8 ar, ac;                                                                           \
            const float8 r = windows8(xp, oy, ox0, g, MODE, false, &ar, &ac);                      \
            store_lanes(r, yp + oy * ow, ow - ox0);                                                \
        }                                                                                          \
    }

DEFINE_POOL_FORWARD(pool_max_forward, MODE_MAX)
DEFINE_POOL_FORWARD(pool_avg_forward, MODE_AVG)
DEFINE_POOL_FORWARD(pool_avg_exclude_pad_forward, MODE_AVG_EXCLUDE_PAD)

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
                    windows8(xp, oy, oxa, g, MODE, true, &ar, &ac);                                \
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
                store_lanes(acc[r], dxp + r * w, w - ix0);                                         \
    }

DEFINE_POOL_BACKWARD(pool_max_backward, MODE_MAX)
DEFINE_POOL_BACKWARD(pool_avg_backward, MODE_AVG)
DEFINE_POOL_BACKWARD(pool_avg_exclude_pad_backward, MODE_AVG_EXCLUDE_PAD)

/* Max-pool backward in two passes (the host uses them when the workspace can hold one int per
 * output): first the arg-max of every window, by the forward's scan (same tie and NaN rules), as
 * a flat index iy * w + ix into its input plane; then each input sums the dy of the windows whose
 * arg-max it is. Each window is scanned once instead of once per input block that it touches.
 * Global: (ceil(ow / 8), ceil(oh / FWD_ROWS), planes). */
__kernel void pool_max_argmax(__global const float *x, const ulong x_off, __global int *arg,
                              const ulong arg_off, POOL_ARGS)
{
    const int ox0 = (int)get_global_id(0) * 8, oy0 = (int)get_global_id(1) * FWD_ROWS;
    const int p = (int)get_global_id(2);
    if (ox0 >= ow || oy0 >= oh || p >= planes)
        return;
    const pool_geom g = POOL_GEOM;
    __global const float *xp = x + x_off + (ulong)p * (ulong)(h * w);
    __global int *ap = arg + arg_off + (ulong)p * (ulong)(oh * ow) + (ulong)ox0;
    const int n = min(8, ow - ox0);
    for (int oy = oy0; oy < min(oy0 + FWD_ROWS, oh); oy++) {
        int8 ar, ac;
        windows8(xp, oy, ox0, g, MODE_MAX, true, &ar, &ac);
        const int8 flat = ar * w + ac;
        if (n == 8) {
            vstore8(flat, 0, ap + oy * ow);
        } else {
            int t[8];
            vstore8(flat, 0, t);
            for (int j = 0; j < n; j++)
                ap[oy * ow + j] = t[j];
        }
    }
}

/* 16 windows' int or float values for the 16 lanes of a stride-2 run: lane l takes window
 * (c + l) / 2 of v (then e for window 8), c being the parity of the run's first padded column. */
#define STRIDE2_LANES(T, v, e, c)                                                                  \
    ((c) == 0 ? (T)((v).s00112233, (v).s44556677) : (T)((v).s01122334, (v).s4556, (v).s677, (e)))

/* dx for ROUTE_ROWS rows x 16 columns of inputs, a row at a time: each window containing the
 * row's run, in row-major order, adds its dy to the lane (if any) holding its arg-max; an arg-max
 * lies in its window, so windows not containing a lane never match it. Lanes past the row's end
 * may match an index of the next row; they are not stored. Strides 1 and 2 away from the row's
 * edges take the windows as vectors: the q-th window from the right that can contain lane l is
 * (ix0 + l + pl) / sw - q, i.e. contiguous (stride 1) or each window twice (stride 2), so each of
 * the ceil(kw / sw) candidates per lane costs two vector loads, a compare and an add; otherwise
 * the windows are visited one by one (scalar loads, one compare each).
 * Global: (ceil(w / 16), ceil(h / ROUTE_ROWS), planes). */
__kernel void pool_max_route(__global const int *arg, const ulong arg_off, __global const float *dy,
                             const ulong dy_off, __global float *dx, const ulong dx_off, POOL_ARGS)
{
    const int ix0 = (int)get_global_id(0) * 16, iy0 = (int)get_global_id(1) * ROUTE_ROWS;
    const int p = (int)get_global_id(2);
    if (ix0 >= w || iy0 >= h || p >= planes)
        return;
    __global const int *ap = arg + arg_off + (ulong)p * (ulong)(oh * ow);
    __global const float *dyp = dy + dy_off + (ulong)p * (ulong)(oh * ow);
    __global float *dxp = dx + dx_off + (ulong)p * (ulong)(h * w) + (ulong)ix0;
    const int ox0 = first_window(ix0, pl, kw, sw);
    const int ox1 = last_window(min(ix0 + 15, w - 1), pl, sw, ow);
    const int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) + ix0;
    /* b: the last window that can contain lane 0; nq: candidates per lane */
    const int b = (ix0 + pl) / sw, nq = (kw + sw - 1) / sw, c = (ix0 + pl) & 1;
    const bool vec1 = sw == 1 && b - (nq - 1) >= 0 && b + 15 < ow;
    const bool vec2 = sw == 2 && b - (nq - 1) >= 0 && b + 8 < ow;
    /* The window rows containing row iy are [max(0, u / sh), min(v / sh, oh - 1)] with
     * u = iy + pt - kh + sh and v = iy + pt (u / sh: the ceiling of (iy + pt - kh + 1) / sh where
     * that is positive); the quotients are stepped row by row rather than divided again. */
    int uq = (iy0 + pt - kh + sh) / sh, ur = (iy0 + pt - kh + sh) - uq * sh;
    int vq = (iy0 + pt) / sh, vr = (iy0 + pt) - vq * sh;
    for (int iy = iy0; iy < min(iy0 + ROUTE_ROWS, h); iy++) {
        const int16 pos = lane + iy * w;
        const int oy1 = min(vq, oh - 1);
        float16 acc = (float16)0.0f;
        for (int oy = max(uq, 0); oy <= oy1; oy++) {
            __global const int *ar = ap + oy * ow;
            __global const float *dr = dyp + oy * ow;
            if (vec1) {
                for (int o = b - (nq - 1); o <= b; o++)
                    acc += select((float16)0.0f, vload16(0, dr + o), pos == vload16(0, ar + o));
            } else if (vec2) {
                for (int o = b - (nq - 1); o <= b; o++) {
                    const int8 a8 = vload8(0, ar + o);
                    const float8 d8 = vload8(0, dr + o);
                    const int16 a = STRIDE2_LANES(int16, a8, ar[o + 8], c);
                    const float16 d = STRIDE2_LANES(float16, d8, dr[o + 8], c);
                    acc += select((float16)0.0f, d, pos == a);
                }
            } else {
                for (int ox = ox0; ox <= ox1; ox++)
                    acc += select((float16)0.0f, (float16)dr[ox], pos == (int16)ar[ox]);
            }
        }
        __global float *row = dxp + iy * w;
        if (w - ix0 >= 16) {
            vstore16(acc, 0, row);
        } else {
            store_lanes(acc.lo, row, w - ix0);
            if (w - ix0 > 8)
                store_lanes(acc.hi, row + 8, w - ix0 - 8);
        }
        if (++ur == sh) {
            ur = 0;
            uq++;
        }
        if (++vr == sh) {
            vr = 0;
            vq++;
        }
    }
}

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
