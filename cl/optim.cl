/* optim.cl - one optimiser step over a parameter buffer: SGD (momentum, nesterov, L2 weight decay)
 * and Adam / AdamW. PyTorch's update formulas, element by element.
 * Defines: VEC (4, 8 or 16; default 8) - elements per work-item; the work-item past the last full
 *          vector takes the scalar tail. Buffers are (pointer, element offset) pairs. */
#include "vec.h"

/* One SGD element update for type T; flags are uniform across the launch. */
#define DEFINE_SGD(T, S)                                                                           \
    inline T sgd##S(T p, T g, T *buf, float lr, float mom, float wd, int use_mom, int first,       \
                    int nesterov)                                                                  \
    {                                                                                              \
        g = g + wd * p;                                                                            \
        if (use_mom) {                                                                             \
            *buf = first ? g : mom * *buf + g;                                                     \
            g = nesterov ? g + mom * *buf : *buf;                                                  \
        }                                                                                          \
        return p - lr * g;                                                                         \
    }

/* One Adam element update: m and v are updated in place, the new parameter returned.
 * step_size = lr / (1 - beta1^t), inv_bc2 = 1 / sqrt(1 - beta2^t), decay = 1 - lr * wd for
 * AdamW (1 for Adam), l2 = wd for Adam (0 for AdamW). */
#define DEFINE_ADAM(T, S)                                                                          \
    inline T adam##S(T p, T g, T *m, T *v, float b1, float b2, float eps, float step_size,         \
                     float inv_bc2, float decay, float l2)                                         \
    {                                                                                              \
        g = g + l2 * p;                                                                            \
        p = p * decay;                                                                             \
        *m = b1 * *m + (1.0f - b1) * g;                                                            \
        *v = b2 * *v + (1.0f - b2) * g * g;                                                        \
        return p - step_size * (*m / (sqrt(*v) * inv_bc2 + eps));                                  \
    }

DEFINE_SGD(float, _1)
DEFINE_SGD(floatV, _V)
DEFINE_ADAM(float, _1)
DEFINE_ADAM(floatV, _V)

/* buf is not touched (and may be any buffer) when use_mom is 0. */
__kernel void sgd_step(__global float *p, const ulong p_off, __global const float *g,
                       const ulong g_off, __global float *buf, const ulong b_off, const ulong n,
                       const float lr, const float mom, const float wd, const int use_mom,
                       const int first, const int nesterov)
{
    const ulong i = get_global_id(0) * VEC;
    if (i + VEC <= n) {
        floatV b = use_mom && !first ? vloadV(0, buf + b_off + i) : (floatV)0.0f;
        const floatV r = sgd_V(vloadV(0, p + p_off + i), vloadV(0, g + g_off + i), &b, lr, mom, wd,
                               use_mom, first, nesterov);
        vstoreV(r, 0, p + p_off + i);
        if (use_mom)
            vstoreV(b, 0, buf + b_off + i);
    } else {
        for (ulong j = i; j < n; j++) {
            float b = use_mom && !first ? buf[b_off + j] : 0.0f;
            p[p_off + j] =
                sgd_1(p[p_off + j], g[g_off + j], &b, lr, mom, wd, use_mom, first, nesterov);
            if (use_mom)
                buf[b_off + j] = b;
        }
    }
}

__kernel void adam_step(__global float *p, const ulong p_off, __global const float *g,
                        const ulong g_off, __global float *m, const ulong m_off, __global float *v,
                        const ulong v_off, const ulong n, const float b1, const float b2,
                        const float eps, const float step_size, const float inv_bc2,
                        const float decay, const float l2)
{
    const ulong i = get_global_id(0) * VEC;
    if (i + VEC <= n) {
        floatV mv = vloadV(0, m + m_off + i), vv = vloadV(0, v + v_off + i);
        const floatV r = adam_V(vloadV(0, p + p_off + i), vloadV(0, g + g_off + i), &mv, &vv, b1,
                                b2, eps, step_size, inv_bc2, decay, l2);
        vstoreV(r, 0, p + p_off + i);
        vstoreV(mv, 0, m + m_off + i);
        vstoreV(vv, 0, v + v_off + i);
    } else {
        for (ulong j = i; j < n; j++) {
            float mv = m[m_off + j], vv = v[v_off + j];
            p[p_off + j] = adam_1(p[p_off + j], g[g_off + j], &mv, &vv, b1, b2, eps, step_size,
                                  inv_bc2, decay, l2);
            m[m_off + j] = mv;
            v[v_off + j] = vv;
        }
    }
}
