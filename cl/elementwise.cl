/* elementwise.cl - activations (forward/backward), add, scale, copy and the ConvNeXt per-channel
 * scale with its deterministic gradient reduction, f32.
 * Defines: VEC (4, 8 or 16; default 8) - elements per work-item in the flat kernels: each
 *          work-item handles one contiguous vector, the work-item past the last full vector the
 *          scalar tail. Buffers are (pointer, element offset) pairs. */
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
#elif VEC == 16
#define floatV float16
#define vloadV vload16
#define vstoreV vstore16
#else
#error "VEC must be 4, 8 or 16"
#endif

#define SQRT1_2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f
#define GELU_K0 0.79788456080286536f /* sqrt(2/pi) */
#define GELU_K1 0.044715f

/* The activation formulas once for each type T (float and floatV). GELU is written with erfc
 * and 1/(1+exp) so that its negative tail keeps full relative precision (1 + erf(x) cancels). */
#define DEFINE_ACT(T, S)                                                                           \
    inline T relu_f##S(T x)                                                                        \
    {                                                                                              \
        return x < (T)0.0f ? (T)0.0f : x;                                                          \
    }                                                                                              \
    inline T relu_b##S(T x, T dy)                                                                  \
    {                                                                                              \
        return x > (T)0.0f ? dy : (T)0.0f;                                                         \
    }                                                                                              \
    inline T gelu_f##S(T x)                                                                        \
    {                                                                                              \
        return (T)0.5f * x * erfc(x * (T)(-SQRT1_2));                                              \
    }                                                                                              \
    inline T gelu_b##S(T x, T dy)                                                                  \
    {                                                                                              \
        const T cdf = (T)0.5f * erfc(x * (T)(-SQRT1_2));                                           \
        const T pdf = exp((T)(-0.5f) * x * x) * (T)INV_SQRT_2PI;                                   \
        return dy * (cdf + x * pdf);                                                               \
    }                                                                                              \
    /* 0.5x(1 + tanh(u)) = x * s with s = 1 / (1 + exp(-2u)) */                                    \
    inline T gelu_tanh_s##S(T x)                                                                   \
    {                                                                                              \
        const T u = (T)GELU_K0 * (x + (T)GELU_K1 * x * x * x);                                     \
        return (T)1.0f / ((T)1.0f + exp((T)(-2.0f) * u));                                          \
    }                                                                                              \
    inline T gelu_tanh_f##S(T x)                                                                   \
    {                                                                                              \
        return x * gelu_tanh_s##S(x);                                                              \
    }                                                                                              \
    /* d/dx = s + x * (1 - tanh^2) / 2 * du/dx, and (1 - tanh^2) / 2 = 2 s (1 - s) */              \
    inline T gelu_tanh_b##S(T x, T dy)                                                             \
    {                                                                                              \
        const T s = gelu_tanh_s##S(x);                                                             \
        const T du = (T)GELU_K0 * ((T)1.0f + (T)(3.0f * GELU_K1) * x * x);                         \
        return dy * (s + x * (T)2.0f * s * ((T)1.0f - s) * du);                                    \
    }                                                                                              \
    inline T copy_f##S(T x)                                                                        \
    {                                                                                              \
        return x;                                                                                  \
    }

DEFINE_ACT(float, _1)
DEFINE_ACT(floatV, _V)

/* y = F(x) over n elements. */
#define UNARY_KERNEL(NAME, F)                                                                      \
    __kernel void NAME(__global const float *x, const ulong x_off, __global float *y,              \
                       const ulong y_off, const ulong n)                                           \
    {                                                                                              \
        const ulong i = get_global_id(0) * VEC;                                                    \
        if (i + VEC <= n) {                                                                        \
            vstoreV(F##_V(vloadV(0, x + x_off + i)), 0, y + y_off + i);                            \
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
        const ulong i = get_global_id(0) * VEC;                                                    \
        if (i + VEC <= n) {                                                                        \
            vstoreV(F##_V(vloadV(0, x + x_off + i), vloadV(0, dy + dy_off + i)), 0,                \
                    dx + dx_off + i);                                                              \
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
    const ulong i = get_global_id(0) * VEC;
    if (i + VEC <= n) {
        const floatV r = alpha * vloadV(0, a + a_off + i) + beta * vloadV(0, b + b_off + i);
        vstoreV(r, 0, y + y_off + i);
    } else {
        for (ulong j = i; j < n; j++)
            y[y_off + j] = alpha * a[a_off + j] + beta * b[b_off + j];
    }
}

__kernel void ew_scale(const float alpha, __global const float *x, const ulong x_off,
                       __global float *y, const ulong y_off, const ulong n)
{
    const ulong i = get_global_id(0) * VEC;
    if (i + VEC <= n) {
        vstoreV(alpha * vloadV(0, x + x_off + i), 0, y + y_off + i);
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
