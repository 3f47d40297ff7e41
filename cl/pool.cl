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

/* The first position (row-major within the window, as h * w + w index) holding the maximum;
 * a NaN wins over numbers so that NaNs propagate like PyTorch. */
inline int window_argmax(__global const float *xp, int h0, int w0, const pool_geom g,
                         float *best_out)
{
    const int hs = max(h0, 0), he = min(h0 + g.kh, g.h);
    const int ws = max(w0, 0), we = min(w0 + g.kw, g.w);
    int arg = hs * g.w + ws;
    float best = xp[arg];
    for (int ih = hs; ih < he; ih++)
        for (int iw = ws; iw < we; iw++) {
            const float v = xp[ih * g.w + iw];
            if (v > best || (isnan(v) && !isnan(best))) {
                best = v;
                arg = ih * g.w + iw;
            }
        }
    *best_out = best;
    return arg;
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

#define POOL_ARGS                                                                                  \
    const int h, const int w, const int oh, const int ow, const int kh, const int kw,              \
        const int sh, const int sw, const int pt, const int pl, const int planes

#define POOL_GEOM                                                                                  \
    {                                                                                              \
        h, w, oh, ow, kh, kw, sh, sw, pt, pl                                                       \
    }

#define DEFINE_POOL_FORWARD(NAME, MODE)                                                            \
    __kernel void NAME(__global const float *x, const ulong x_off, __global float *y,              \
                       const ulong y_off, POOL_ARGS)                                               \
    {                                                                                              \
        const int ox = (int)get_global_id(0), oy = (int)get_global_id(1);                          \
        const int p = (int)get_global_id(2);                                                       \
        if (ox >= ow || oy >= oh || p >= planes)                                                   \
            return;                                                                                \
        const pool_geom g = POOL_GEOM;                                                             \
        __global const float *xp = x + x_off + (ulong)p * (ulong)(h * w);                          \
        const int h0 = oy * sh - pt, w0 = ox * sw - pl;                                            \
        float r;                                                                                   \
        if (MODE == MODE_MAX) {                                                                    \
            window_argmax(xp, h0, w0, g, &r);                                                      \
        } else {                                                                                   \
            int count;                                                                             \
            r = window_sum(xp, h0, w0, g, &count);                                                 \
            r /= MODE == MODE_AVG ? (float)(kh * kw) : (float)count;                               \
        }                                                                                          \
        y[y_off + (ulong)p * (ulong)(oh * ow) + (ulong)(oy * ow + ox)] = r;                        \
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

/* dx[p][iy][ix] = sum over the windows containing (iy, ix), in row-major window order, of the
 * share of dy they route there. Max recomputes each window's arg-max. */
#define DEFINE_POOL_BACKWARD(NAME, MODE)                                                           \
    __kernel void NAME(__global const float *x, const ulong x_off, __global const float *dy,       \
                       const ulong dy_off, __global float *dx, const ulong dx_off, POOL_ARGS)      \
    {                                                                                              \
        const int ix = (int)get_global_id(0), iy = (int)get_global_id(1);                          \
        const int p = (int)get_global_id(2);                                                       \
        if (ix >= w || iy >= h || p >= planes)                                                     \
            return;                                                                                \
        const pool_geom g = POOL_GEOM;                                                             \
        __global const float *xp = x + x_off + (ulong)p * (ulong)(h * w);                          \
        __global const float *dyp = dy + dy_off + (ulong)p * (ulong)(oh * ow);                     \
        const int oy0 = first_window(iy, pt, kh, sh), oy1 = last_window(iy, pt, sh, oh);           \
        const int ox0 = first_window(ix, pl, kw, sw), ox1 = last_window(ix, pl, sw, ow);           \
        const int me = iy * w + ix;                                                                \
        float acc = 0.0f;                                                                          \
        for (int oy = oy0; oy <= oy1; oy++)                                                        \
            for (int ox = ox0; ox <= ox1; ox++) {                                                  \
                const int h0 = oy * sh - pt, w0 = ox * sw - pl;                                    \
                const float d = dyp[oy * ow + ox];                                                 \
                if (MODE == MODE_MAX) {                                                            \
                    float best;                                                                    \
                    if (window_argmax(xp, h0, w0, g, &best) == me)                                 \
                        acc += d;                                                                  \
                } else {                                                                           \
                    acc += d / window_divisor(h0, w0, g, MODE);                                    \
                }                                                                                  \
            }                                                                                      \
        dx[dx_off + (ulong)p * (ulong)(h * w) + (ulong)me] = acc;                                  \
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
