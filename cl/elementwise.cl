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
/* erfc(z) = t D(v) exp(-z^2) with t = 1 / (1 + z/2) and v = 1 - t = t z/2 for z >= 0 (the form
 * of Numerical Recipes' erfcc, Press et al., 2nd ed., section 6.2, with exp(C(t)) taken out of
 * the exponent): D runs smoothly from 1 at v = 0 (z = 0) to 1 / (2 sqrt(pi)) at v = 1 (z = inf),
 * so one polynomial of degree 10 covers every z. It is evaluated at v, which keeps the relative
 * precision of z where t rounds near 1 (at t, that rounding was amplified 2.3x). Fitted by
 * Chebyshev least squares against mpmath in relative error on v in [0, 1], coefficients rounded
 * to f32 one at a time from the lowest with the rest refitted (tools/fit_erfc.py): t D(v) within
 * 2.4 ulp of erfc(z) exp(z^2) for z <= 1 and 3.2 ulp for z <= 6, evaluated in f32.
 * exp(-z^2) = exp(-x^2 / 2) is phi(x) sqrt(2 pi), which the gradient needs too: one exp serves
 * both. */
#define ERFC_D0 1.0f
#define ERFC_D1 -1.2567592859268188f
#define ERFC_D2 0.48653295636177063f
#define ERFC_D3 0.21080245077610016f
#define ERFC_D4 -0.09104020893573761f
#define ERFC_D5 -0.13431097567081451f
#define ERFC_D6 0.12264036387205124f
#define ERFC_D7 -0.22565105557441711f
#define ERFC_D8 0.3233776092529297f
#define ERFC_D9 -0.19657288491725922f
#define ERFC_D10 0.04307582601904869f

/* The activation formulas once for each type T (float and floatV; IT the matching int type).
 * POCL's built-in erfc costs 10x a vector exp; these are plain vector arithmetic. GELU is written
 * with erfc and 1/(1+exp) so that its negative tail keeps full relative precision (1 + erf(x)
 * cancels). */
#define DEFINE_ACT(T, S, IT)                                                                       \
    /* Phi(x) = erfc(-x / sqrt 2) / 2 for |x| <= GELU_XMAX from e = exp(-x^2 / 2): 1 - erfc(z) / 2 \
     * for x >= 0, erfc(-z) / 2 (full relative precision in the tail) below. */                    \
    inline T gelu_cdf##S(T x, T e)                                                                 \
    {                                                                                              \
        const T half_z = fabs(x) * (T)(0.5f * SQRT1_2), t = (T)1.0f / (half_z + (T)1.0f);          \
        const T v = half_z * t;                                                                    \
        T d = fma(v, (T)(0.5f * ERFC_D10), (T)(0.5f * ERFC_D9));                                   \
        d = fma(d, v, (T)(0.5f * ERFC_D8));                                                        \
        d = fma(d, v, (T)(0.5f * ERFC_D7));                                                        \
        d = fma(d, v, (T)(0.5f * ERFC_D6));                                                        \
        d = fma(d, v, (T)(0.5f * ERFC_D5));                                                        \
        d = fma(d, v, (T)(0.5f * ERFC_D4));                                                        \
        d = fma(d, v, (T)(0.5f * ERFC_D3));                                                        \
        d = fma(d, v, (T)(0.5f * ERFC_D2));                                                        \
        d = fma(d, v, (T)(0.5f * ERFC_D1));                                                        \
        d = fma(d, v, (T)(0.5f * ERFC_D0));                                                        \
        const T half_erfc = t * d * e; /* d: D(v) / 2, the halving exact */                        \
        return x < (T)0.0f ? half_erfc : (T)1.0f - half_erfc;                                      \
    }                                                                                              \
    /* exp(-x^2 / 2) with x^2 = hi + lo exactly (fma): exp(-hi / 2) (1 - lo / 2), the second       \
     * factor exp(-lo / 2) to far below an ulp (|lo| <= ulp(hi) / 2), so that the tail keeps its   \
     * relative precision where x^2 / 2 is large. */                                               \
    inline T gelu_gauss##S(T x)                                                                    \
    {                                                                                              \
        const T hi = x * x, lo = fma(x, x, -hi);                                                   \
        return exp_f##S((T)(-0.5f) * hi) * fma((T)(-0.5f), lo, (T)1.0f);                           \
    }                                                                                              \
    /* x clamped to +-GELU_XMAX; a NaN stays NaN: each compare is false for it (one max or min     \
     * instruction each on x86, where OpenCL's clamp also orders NaNs). */                         \
    inline T gelu_clamp##S(T x)                                                                    \
    {                                                                                              \
        const T lo = x < (T)(-GELU_XMAX) ? (T)(-GELU_XMAX) : x;                                    \
        return lo > (T)GELU_XMAX ? (T)GELU_XMAX : lo;                                              \
    }                                                                                              \
    inline T relu_f##S(T x)                                                                        \
    {                                                                                              \
        return x < (T)0.0f ? (T)0.0f : x;                                                          \
    }                                                                                              \
    inline T relu_b##S(T x, T dy)                                                                  \
    {                                                                                              \
        return x > (T)0.0f ? dy : (T)0.0f;                                                         \
    }                                                                                              \
    /* x Phi(x); below -GELU_XMAX Phi is 0 and the clamped x keeps -inf from making NaN (above     \
     * GELU_XMAX Phi is 1 and x itself is taken: the larger of x and xc) */                        \
    inline T gelu_f##S(T x)                                                                        \
    {                                                                                              \
        const T xc = gelu_clamp##S(x);                                                             \
        return (x > xc ? x : xc) * gelu_cdf##S(xc, gelu_gauss##S(xc));                             \
    }                                                                                              \
    /* Phi(x) + x phi(x) */                                                                        \
    inline T gelu_b##S(T x, T dy)                                                                  \
    {                                                                                              \
        const T xc = gelu_clamp##S(x), e = gelu_gauss##S(xc);                                      \
        return dy * fma(xc, e * (T)INV_SQRT_2PI, gelu_cdf##S(xc, e));                              \
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

/* y = alpha * a + beta * b, with relu its ReLU (a network's residual); y may be a or b (each
 * element is read before it is written by the same work-item). */
__kernel void ew_add(const float alpha, __global const float *a, const ulong a_off,
                     const float beta, __global const float *b, const ulong b_off,
                     __global float *y, const ulong y_off, const ulong n, const int relu)
{
    const ulong i = get_global_id(0) * (NV * VEC);
    if (i + NV * VEC <= n) {
        floatV v[NV];
        EACH_V v[u] = alpha * vloadV(u, a + a_off + i) + beta * vloadV(u, b + b_off + i);
        EACH_V vstoreV(relu ? relu_f_V(v[u]) : v[u], u, y + y_off + i);
    } else {
        for (ulong j = i; j < n; j++) {
            const float v = alpha * a[a_off + j] + beta * b[b_off + j];
            y[y_off + j] = relu ? relu_f_1(v) : v;
        }
    }
}

/* ReLU's backward into the gradients of a residual's two inputs: with g = dy where y > 0 else 0,
 * dx0 = g, or dx0 + g with acc0, and dx1 likewise. dx0 and dx1 must not overlap. */
__kernel void relu_backward_pair(__global const float *y, const ulong y_off,
                                 __global const float *dy, const ulong dy_off, __global float *dx0,
                                 const ulong dx0_off, const int acc0, __global float *dx1,
                                 const ulong dx1_off, const int acc1, const ulong n)
{
    const ulong i = get_global_id(0) * (NV * VEC);
    if (i + NV * VEC <= n) {
        floatV g[NV];
        EACH_V g[u] = relu_b_V(vloadV(u, y + y_off + i), vloadV(u, dy + dy_off + i));
        EACH_V vstoreV(acc0 ? vloadV(u, dx0 + dx0_off + i) + g[u] : g[u], u, dx0 + dx0_off + i);
        EACH_V vstoreV(acc1 ? vloadV(u, dx1 + dx1_off + i) + g[u] : g[u], u, dx1 + dx1_off + i);
    } else {
        for (ulong j = i; j < n; j++) {
            const float g = relu_b_1(y[y_off + j], dy[dy_off + j]);
            dx0[dx0_off + j] = acc0 ? dx0[dx0_off + j] + g : g;
            dx1[dx1_off + j] = acc1 ? dx1[dx1_off + j] + g : g;
        }
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

/* y = value, n elements (vector stores: POCL's clEnqueueFillBuffer wrote 6-13 GB/s on 2-core
 * Intel AVX-512 where such a loop wrote 21-26). */
__kernel void ew_fill(const float value, __global float *y, const ulong y_off, const ulong n)
{
    const ulong i = get_global_id(0) * (NV * VEC);
    if (i + NV * VEC <= n) {
        EACH_V vstoreV((floatV)(value), u, y + y_off + i);
    } else {
        for (ulong j = i; j < n; j++)
            y[y_off + j] = value;
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
