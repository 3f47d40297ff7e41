/* elementwise.cl - activations (forward/backward), add, scale, copy and the ConvNeXt per-channel
 * scale with its deterministic gradient reduction, f32.
 * Defines: VEC (4, 8 or 16; default 8) - float vector width of the flat kernels;
 *          NV (1 to 8; default 1) - vectors per work-item of the flat kernels, NV * VEC
 *          contiguous floats: loaded, computed and stored in straight-line code, so the NV
 *          independent chains of the long GELU formulas overlap in the CPU's pipelines; the
 *          work-item past the last full block takes the scalar tail.
 * Buffers are (pointer, element offset) pairs. */
#include "exp_poly.h"
#include "vec.h"

#ifndef NV
#define NV 1
#endif
#if NV < 1 || NV > 8
#error "NV must be 1 to 8"
#endif
/* Fully unrolled loops over the NV vectors of a work-item keep them in registers. */
#define EACH_V _Pragma("unroll") for (int u = 0; u < NV; u++)

#if VEC == 4
#define intV int4
#elif VEC == 8
#define intV int8
#else
#define intV int16
#endif

#define SQRT1_2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f
#define GELU_K0 0.79788456080286536f /* sqrt(2/pi) */
#define GELU_K1 0.044715f
/* Beyond |x| = 20 both GELU forms are exactly x or -0 in f32 and their slopes 1 or 0: the
 * formulas run on x clamped to this range so that +-inf give those limits instead of inf * 0. */
#define GELU_XMAX 20.0f
/* erf(z) = z P(z^2) for |z| < ERF_SPLIT (fdlibm's first interval): P of degree 6 fitted by
 * Chebyshev least squares against mpmath on z^2 in [0, ERF_SPLIT^2]; relative error 6e-8 with
 * these f32 coefficients. */
#define ERF_SPLIT 0.84375f
#define ERF_P0 1.128379225730896f
#define ERF_P1 -0.37612637877464294f
#define ERF_P2 0.1128375232219696f
#define ERF_P3 -0.026862792670726776f
#define ERF_P4 0.005210185889154673f
#define ERF_P5 -0.0008255934808403254f
#define ERF_P6 8.893431368051097e-05f
/* erfc(z) = t exp(-z^2) exp(C(t)), t = 1 / (1 + z/2), for z >= ERF_SPLIT: the form of Numerical
 * Recipes' erfcc (Press et al., 2nd ed., section 6.2), with C of degree 8 refitted (Chebyshev
 * least squares against mpmath on t in [0, 1 / (1 + ERF_SPLIT / 2)]): relative error 1.8e-8
 * in exact arithmetic, 6e-8 with these f32 coefficients. */
#define ERFC_C0 -1.265512145233172f
#define ERFC_C1 1.0000053608835375f
#define ERFC_C2 0.37476458018687575f
#define ERFC_C3 0.08735798793138162f
#define ERFC_C4 -0.12044462483918589f
#define ERFC_C5 0.021297344992376212f
#define ERFC_C6 -0.5443384448815795f
#define ERFC_C7 0.699098329779267f
#define ERFC_C8 -0.2533608021238151f

/* The activation formulas once for each type T (float and floatV; IT the matching int type).
 * POCL's built-in erfc costs 10x a vector exp; these are plain vector arithmetic. GELU is written
 * with erfc and 1/(1+exp) so that its negative tail keeps full relative precision (1 + erf(x)
 * cancels). */
#define DEFINE_ACT(T, S, IT)                                                                       \
    /* Phi(x) = erfc(-x / sqrt 2) / 2 for |x| <= GELU_XMAX. x^2 = hi + lo exactly (fma): the       \
     * tail's exp(-x^2 / 2 + C) is taken as exp2_f(-hi / 2, C - lo / 2) so that it keeps its       \
     * relative precision where x^2 / 2 is large. */                                               \
    inline T gelu_cdf##S(T x, T hi, T lo)                                                          \
    {                                                                                              \
        const T z = x * (T)SQRT1_2, az = fabs(z), s = z * z;                                       \
        T p = fma(s, (T)ERF_P6, (T)ERF_P5);                                                        \
        p = fma(p, s, (T)ERF_P4);                                                                  \
        p = fma(p, s, (T)ERF_P3);                                                                  \
        p = fma(p, s, (T)ERF_P2);                                                                  \
        p = fma(p, s, (T)ERF_P1);                                                                  \
        p = fma(p, s, (T)ERF_P0);                                                                  \
        const T small = fma((T)0.5f * z, p, (T)0.5f);                                              \
        const T t = (T)1.0f / fma(az, (T)0.5f, (T)1.0f);                                           \
        T c = fma(t, (T)ERFC_C8, (T)ERFC_C7);                                                      \
        c = fma(c, t, (T)ERFC_C6);                                                                 \
        c = fma(c, t, (T)ERFC_C5);                                                                 \
        c = fma(c, t, (T)ERFC_C4);                                                                 \
        c = fma(c, t, (T)ERFC_C3);                                                                 \
        c = fma(c, t, (T)ERFC_C2);                                                                 \
        c = fma(c, t, (T)ERFC_C1);                                                                 \
        c = fma(c, t, (T)ERFC_C0);                                                                 \
        const T half_erfc = (T)0.5f * t * exp2_f##S((T)(-0.5f) * hi, fma((T)(-0.5f), lo, c));      \
        const T large = x < (T)0.0f ? half_erfc : (T)1.0f - half_erfc;                             \
        return az < (T)ERF_SPLIT ? small : large;                                                  \
    }                                                                                              \
    /* x clamped to +-GELU_XMAX; a NaN stays NaN. */                                               \
    inline T gelu_clamp##S(T x)                                                                    \
    {                                                                                              \
        return isnan(x) ? x : clamp(x, (T)(-GELU_XMAX), (T)GELU_XMAX);                             \
    }                                                                                              \
    inline T relu_f##S(T x)                                                                        \
    {                                                                                              \
        return x < (T)0.0f ? (T)0.0f : x;                                                          \
    }                                                                                              \
    inline T relu_b##S(T x, T dy)                                                                  \
    {                                                                                              \
        return x > (T)0.0f ? dy : (T)0.0f;                                                         \
    }                                                                                              \
    /* x Phi(x); below -GELU_XMAX Phi is 0 and the clamped x keeps -inf from making NaN */         \
    inline T gelu_f##S(T x)                                                                        \
    {                                                                                              \
        const T xc = gelu_clamp##S(x), hi = xc * xc;                                               \
        return (x > (T)0.0f ? x : xc) * gelu_cdf##S(xc, hi, fma(xc, xc, -hi));                     \
    }                                                                                              \
    inline T gelu_b##S(T x, T dy)                                                                  \
    {                                                                                              \
        const T xc = gelu_clamp##S(x), hi = xc * xc, lo = fma(xc, xc, -hi);                        \
        /* exp(-lo / 2) = 1 - lo / 2 to far below an ulp (|lo| <= ulp(hi) / 2) */                  \
        const T e = exp_f##S((T)(-0.5f) * hi), g = fma(e, (T)(-0.5f) * lo, e);                     \
        return dy * fma(xc, g * (T)INV_SQRT_2PI, gelu_cdf##S(xc, hi, lo));                         \
    }                                                                                              \
    /* 0.5x(1 + tanh(u)) = x * s with s = 1 / (1 + exp(-2u)); exp overflows to inf for x below     \
     * about -10, giving s = 0 */                                                                  \
    inline T gelu_tanh_s##S(T x)                                                                   \
    {                                                                                              \
        const T u = (T)GELU_K0 * (x + (T)GELU_K1 * x * x * x);                                     \
        return (T)1.0f / ((T)1.0f + exp_f##S((T)(-2.0f) * u));                                     \
    }                                                                                              \
    /* s is exactly 0 or 1 in the saturated tails: the terms it zeroes are taken as 0 there so     \
     * that +-inf give the limits instead of inf * 0 (a NaN keeps s NaN) */                        \
    inline T gelu_tanh_f##S(T x)                                                                   \
    {                                                                                              \
        const T s = gelu_tanh_s##S(x);                                                             \
        return s == (T)0.0f ? (T)0.0f : x * s;                                                     \
    }                                                                                              \
    /* d/dx = s + x * (1 - tanh^2) / 2 * du/dx, and (1 - tanh^2) / 2 = 2 s (1 - s) */              \
    inline T gelu_tanh_b##S(T x, T dy)                                                             \
    {                                                                                              \
        const T s = gelu_tanh_s##S(x), s2 = s * ((T)1.0f - s);                                     \
        const T du = (T)GELU_K0 * ((T)1.0f + (T)(3.0f * GELU_K1) * x * x);                         \
        return dy * (s + (s2 == (T)0.0f ? (T)0.0f : x * (T)2.0f * s2 * du));                       \
    }                                                                                              \
    inline T copy_f##S(T x)                                                                        \
    {                                                                                              \
        return x;                                                                                  \
    }

DEFINE_EXP(float, _1, int)
DEFINE_EXP(floatV, _V, intV)
DEFINE_ACT(float, _1, int)
DEFINE_ACT(floatV, _V, intV)

/* y = F(x) over n elements. */
#define UNARY_KERNEL(NAME, F)                                                                      \
    __kernel void NAME(__global const float *x, const ulong x_off, __global float *y,              \
                       const ulong y_off, const ulong n)                                           \
    {                                                                                              \
        const ulong i = get_global_id(0) * (NV * VEC);                                             \
        if (i + NV * VEC <= n) {                                                                   \
            floatV v[NV];                                                                          \
            EACH_V v[u] = vloadV(u, x + x_off + i);                                                \
            EACH_V v[u] = F##_V(v[u]);                                                             \
            EACH_V vstoreV(v[u], u, y + y_off + i);                                                \
        } else {                                                                                   \
            for (ulong j = i; j < n; j++)                                                          \
                y[y_off + j] = F##_1(x[x_off + j]);                                                \
        }                                                                                          \
    }

/* dx = F(x, dy) over n elements. */
#define BINARY_KERNEL(NAME, F)                                                                     \
    __kernel void NAME(__global const float *x, const ulong x_off, __global const float *dy,       \
                       const ulong dy_off, __global float *dx, const ulong dx_off, const ulong n)  \
    {                                                                                              \
        const ulong i = get_global_id(0) * (NV * VEC);                                             \
        if (i + NV * VEC <= n) {                                                                   \
            floatV v[NV], g[NV];                                                                   \
            EACH_V v[u] = vloadV(u, x + x_off + i);                                                \
            EACH_V g[u] = vloadV(u, dy + dy_off + i);                                              \
            EACH_V v[u] = F##_V(v[u], g[u]);                                                       \
            EACH_V vstoreV(v[u], u, dx + dx_off + i);                                              \
        } else {                                                                                   \
            for (ulong j = i; j < n; j++)                                                          \
                dx[dx_off + j] = F##_1(x[x_off + j], dy[dy_off + j]);                              \
        }                                                                                          \
    }

UNARY_KERNEL(ew_copy, copy_f)
UNARY_KERNEL(relu_forward, relu_f)
UNARY_KERNEL(gelu_forward, gelu_f)
UNARY_KERNEL(gelu_tanh_forward, gelu_tanh_f)
BINARY_KERNEL(relu_backward, relu_b)
BINARY_KERNEL(gelu_backward, gelu_b)
BINARY_KERNEL(gelu_tanh_backward, gelu_tanh_b)

/* y = alpha * a + beta * b; y may be a or b (each element is read before it is written by the
 * same work-item). */
__kernel void ew_add(const float alpha, __global const float *a, const ulong a_off,
                     const float beta, __global const float *b, const ulong b_off,
                     __global float *y, const ulong y_off, const ulong n)
{
    const ulong i = get_global_id(0) * (NV * VEC);
    if (i + NV * VEC <= n) {
        floatV v[NV];
        EACH_V v[u] = alpha * vloadV(u, a + a_off + i) + beta * vloadV(u, b + b_off + i);
        EACH_V vstoreV(v[u], u, y + y_off + i);
    } else {
        for (ulong j = i; j < n; j++)
            y[y_off + j] = alpha * a[a_off + j] + beta * b[b_off + j];
    }
}

__kernel void ew_scale(const float alpha, __global const float *x, const ulong x_off,
                       __global float *y, const ulong y_off, const ulong n)
{
    const ulong i = get_global_id(0) * (NV * VEC);
    if (i + NV * VEC <= n) {
        floatV v[NV];
        EACH_V v[u] = alpha * vloadV(u, x + x_off + i);
        EACH_V vstoreV(v[u], u, y + y_off + i);
    } else {
        for (ulong j = i; j < n; j++)
            y[y_off + j] = alpha * x[x_off + j];
    }
}

/* y[p][i] = gamma[p % c] * x[p][i] for planes p of hw elements. Global: (ceil(hw / VEC), planes);
 * a 2-D range keeps the channel lookup to one modulo per vector. */
__kernel void channel_scale(__global const float *x, const ulong x_off, __global const float *gamma,
                            const ulong g_off, __global float *y, const ulong y_off, const int hw,
                            const int c, const int planes)
{
    const int i = (int)get_global_id(0) * VEC;
    const int p = (int)get_global_id(1);
    if (i >= hw || p >= planes)
        return;
    const float g = gamma[g_off + (ulong)(p % c)];
    const ulong base = (ulong)p * (ulong)hw + (ulong)i;
    if (i + VEC <= hw) {
        vstoreV(g * vloadV(0, x + x_off + base), 0, y + y_off + base);
    } else {
        for (int j = 0; j < hw - i; j++)
            y[y_off + base + j] = g * x[x_off + base + j];
    }
}

/* part[p] = sum over the plane p of x * dy, in a fixed order (vector lanes, then the lanes
 * added in order, then the tail). One work-item per plane. */
__kernel void channel_scale_partial(__global const float *x, const ulong x_off,
                                    __global const float *dy, const ulong dy_off,
                                    __global float *part, const int hw, const int planes)
{
    const int p = (int)get_global_id(0);
    if (p >= planes)
        return;
    const ulong base = (ulong)p * (ulong)hw;
    floatV acc = (floatV)0.0f;
    int i = 0;
    for (; i + VEC <= hw; i += VEC)
        acc += vloadV(0, x + x_off + base + i) * vloadV(0, dy + dy_off + base + i);
    float s = 0.0f;
#if VEC == 16
    const float8 a8 = acc.lo + acc.hi;
    const float4 a4 = a8.lo + a8.hi;
#elif VEC == 8
    const float4 a4 = acc.lo + acc.hi;
#else
    const float4 a4 = acc;
#endif
    s = (a4.x + a4.y) + (a4.z + a4.w);
    for (; i < hw; i++)
        s += x[x_off + base + i] * dy[dy_off + base + i];
    part[p] = s;
}

/* dgamma[ch] = beta_acc * dgamma[ch] + sum over n of part[n][ch] (beta_acc 0 overwrites, so a
 * NaN already in dgamma does not survive). */
__kernel void channel_scale_reduce(__global const float *part, __global float *dgamma,
                                   const ulong dg_off, const int n, const int c,
                                   const float beta_acc)
{
    const int ch = (int)get_global_id(0);
    if (ch >= c)
        return;
    float s = 0.0f;
    for (int i = 0; i < n; i++)
        s += part[(ulong)i * (ulong)c + (ulong)ch];
    dgamma[dg_off + ch] = beta_acc == 0.0f ? s : beta_acc * dgamma[dg_off + ch] + s;
}
