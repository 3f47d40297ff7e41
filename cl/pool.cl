/* pool.cl - 2-D max/average pooling forward and backward (a gather: each dx element sums the
 * windows that contain it, no atomics) and global average pooling, NCHW f32.
 * Defines: VEC (4 or 8; default 8) - vector width of the global-average-pool plane loops.
 * Pool kernels run over (ow, oh, plane) or (iw, ih, plane); every window holds at least one
 * input position because each pad is smaller than the window. */
#ifndef VEC
#define VEC 8
#endif
#if VEC == 4
#define floatV float4
#define vloadV vload4
#define vstoreV vstore4
#elif VEC == 8
#define floatV float8
#define vloadV vload8
#define vstoreV vstore8
#else
#error "VEC must be 4 or 8"
#endif

#define MODE_MAX 0
#define MODE_AVG 1
#define MODE_AVG_EXCLUDE_PAD 2

typedef struct pool_geom {
    int h, w, oh, ow, kh, kw, sh, sw, pt, pl;
} pool_geom;

/* The first position (row-major within the window) holding the maximum, as its row and column;
 * a NaN wins over numbers so that NaNs propagate like PyTorch. Returns the maximum. */
inline float window_argmax(__global const float *xp, int h0, int w0, const pool_geom g, int *row,
                           int *col)
{
    const int hs = max(h0, 0), he = min(h0 + g.kh, g.h);
    const int ws = max(w0, 0), we = min(w0 + g.kw, g.w);
    int r = hs, c = ws;
    float best = xp[hs * g.w + ws];
    for (int ih = hs; ih < he; ih++)
        for (int iw = ws; iw < we; iw++) {
            const float v = xp[ih * g.w + iw];
            if (v > best || (isnan(v) && !isnan(best))) {
                best = v;
                r = ih;
                c = iw;
            }
        }
    *row = r;
    *col = c;
    return best;
}

inline float window_sum(__global const float *xp, int h0, int w0, const pool_geom g, int *count)
{
    const int hs = max(h0, 0), he = min(h0 + g.kh, g.h);
    const int ws = max(w0, 0), we = min(w0 + g.kw, g.w);
    float s = 0.0f;
    for (int ih = hs; ih < he; ih++)
        for (int iw = ws; iw < we; iw++)
            s += xp[ih * g.w + iw];
    *count = (he - hs) * (we - ws);
    return s;
}

/* The divisor of an average window: the full window when padding counts (the window never
 * reaches past the padded input with floor output sizes), else the positions inside. */
inline float window_divisor(int h0, int w0, const pool_geom g, int mode)
{
    if (mode == MODE_AVG)
        return (float)(g.kh * g.kw);
    const int hs = max(h0, 0), he = min(h0 + g.kh, g.h);
    const int ws = max(w0, 0), we = min(w0 + g.kw, g.w);
    return (float)((he - hs) * (we - ws));
}

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

#define POOL_ARGS                                                                                  \
    const int h, const int w, const int oh, const int ow, const int kh, const int kw,              \
        const int sh, const int sw, const int pt, const int pl, const int planes

#define POOL_GEOM                                                                                  \
    {                                                                                              \
        h, w, oh, ow, kh, kw, sh, sw, pt, pl                                                       \
    }

/* Each work-item computes a run of 8 outputs of one row: with vectors when all 8 windows lie
 * inside the input (the bulk of a plane), one window at a time at the borders. Both paths visit
 * window positions in the same row-major order. Global: (ceil(ow / 8), oh, planes). */
#define DEFINE_POOL_FORWARD(NAME, MODE)                                                            \
    __kernel void NAME(__global const float *x, const ulong x_off, __global float *y,              \
                       const ulong y_off, POOL_ARGS)                                               \
    {                                                                                              \
        const int ox0 = (int)get_global_id(0) * 8, oy = (int)get_global_id(1);                     \
        const int p = (int)get_global_id(2);                                                       \
        if (ox0 >= ow || oy >= oh || p >= planes)                                                  \
            return;                                                                                \
        const pool_geom g = POOL_GEOM;                                                             \
        __global const float *xp = x + x_off + (ulong)p * (ulong)(h * w);                          \
        __global float *yp = y + y_off + (ulong)p * (ulong)(oh * ow) + (ulong)(oy * ow);           \
        const int h0 = oy * sh - pt, w0 = ox0 * sw - pl;                                           \
        if (ox0 + 8 <= ow && h0 >= 0 && h0 + kh <= h && w0 >= 0 && w0 + 7 * sw + kw <= w) {        \
            __global const float *wp = xp + h0 * w + w0;                                           \
            float8 r = load_cols(wp, sw);                                                          \
            for (int i = 0; i < kh; i++)                                                           \
                for (int j = (i == 0); j < kw; j++) {                                              \
                    const float8 v = load_cols(wp + i * w + j, sw);                                \
                    if (MODE == MODE_MAX)                                                          \
                        r = select(r, v, isgreater(v, r) | (isnan(v) & ~isnan(r)));                \
                    else                                                                           \
                        r += v;                                                                    \
                }                                                                                  \
            if (MODE != MODE_MAX)                                                                  \
                r /= (float8)(kh * kw);                                                            \
            vstore8(r, 0, yp + ox0);                                                               \
            return;                                                                                \
        }                                                                                          \
        for (int ox = ox0; ox < min(ox0 + 8, ow); ox++) {                                          \
            const int ws = ox * sw - pl;                                                           \
            float r;                                                                               \
            if (MODE == MODE_MAX) {                                                                \
                int row, col;                                                                      \
                r = window_argmax(xp, h0, ws, g, &row, &col);                                      \
            } else {                                                                               \
                int count;                                                                         \
                r = window_sum(xp, h0, ws, g, &count);                                             \
                r /= MODE == MODE_AVG ? (float)(kh * kw) : (float)count;                           \
            }                                                                                      \
            yp[ox] = r;                                                                            \
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

/* dx for a run of 8 inputs of one row: every window that touches the run is visited once, in
 * row-major window order, and routes its share to the lanes it covers (max: the lane holding its
 * recomputed arg-max, when that lies in this row). Each dx element therefore sums its own
 * windows in ascending order. Global: (ceil(w / 8), h, planes). */
#define DEFINE_POOL_BACKWARD(NAME, MODE)                                                           \
    __kernel void NAME(__global const float *x, const ulong x_off, __global const float *dy,       \
                       const ulong dy_off, __global float *dx, const ulong dx_off, POOL_ARGS)      \
    {                                                                                              \
        const int ix0 = (int)get_global_id(0) * 8, iy = (int)get_global_id(1);                     \
        const int p = (int)get_global_id(2);                                                       \
        if (ix0 >= w || iy >= h || p >= planes)                                                    \
            return;                                                                                \
        const pool_geom g = POOL_GEOM;                                                             \
        __global const float *xp = x + x_off + (ulong)p * (ulong)(h * w);                          \
        __global const float *dyp = dy + dy_off + (ulong)p * (ulong)(oh * ow);                     \
        const int ix1 = min(ix0 + 7, w - 1);                                                       \
        const int oy0 = first_window(iy, pt, kh, sh), oy1 = last_window(iy, pt, sh, oh);           \
        const int ox0 = first_window(ix0, pl, kw, sw), ox1 = last_window(ix1, pl, sw, ow);         \
        const int8 lane = (int8)(0, 1, 2, 3, 4, 5, 6, 7) + ix0;                                    \
        float8 acc = (float8)0.0f;                                                                 \
        for (int oy = oy0; oy <= oy1; oy++)                                                        \
            for (int ox = ox0; ox <= ox1; ox++) {                                                  \
                const int h0 = oy * sh - pt, w0 = ox * sw - pl;                                    \
                const float d = dyp[oy * ow + ox];                                                 \
                if (MODE == MODE_MAX) {                                                            \
                    int row, col;                                                                  \
                    window_argmax(xp, h0, w0, g, &row, &col);                                      \
                    if (row == iy)                                                                 \
                        acc += select((float8)0.0f, (float8)d, lane == col);                       \
                } else {                                                                           \
                    const float share = d / window_divisor(h0, w0, g, MODE);                       \
                    acc += select((float8)0.0f, (float8)share, lane >= w0 && lane < w0 + kw);      \
                }                                                                                  \
            }                                                                                      \
        __global float *dxp = dx + dx_off + (ulong)p * (ulong)(h * w) + (ulong)(iy * w + ix0);     \
        if (ix0 + 8 <= w) {                                                                        \
            vstore8(acc, 0, dxp);                                                                  \
        } else {                                                                                   \
            float tail[8];                                                                         \
            vstore8(acc, 0, tail);                                                                 \
            for (int j = 0; j < w - ix0; j++)                                                      \
                dxp[j] = tail[j];                                                                  \
        }                                                                                          \
    }

DEFINE_POOL_BACKWARD(pool_max_backward, MODE_MAX)
DEFINE_POOL_BACKWARD(pool_avg_backward, MODE_AVG)
DEFINE_POOL_BACKWARD(pool_avg_exclude_pad_backward, MODE_AVG_EXCLUDE_PAD)

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
