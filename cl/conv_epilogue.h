/* conv_epilogue.h - the convolution forward epilogue shared by the direct kernel and the
 * separate epilogue kernels, on 16 lanes: v = act(acc + b) + z, or act(acc + b + z) when
 * res_before is set. Activation codes follow oclnn_activation: 0 none, 1 relu, 2 gelu (erf),
 * 3 gelu (tanh). */
#ifndef OCLNN_CONV_EPILOGUE_H
#define OCLNN_CONV_EPILOGUE_H

static inline float16 conv_act16(float16 v, int act)
{
    if (act == 1)
        return fmax(v, 0.0f);
    if (act == 2)
        return 0.5f * v * (1.0f + erf(v * 0.70710678118654752f));
    if (act == 3) {
        const float16 u = 0.79788456080286536f * (v + 0.044715f * v * v * v);
        return 0.5f * v * (1.0f + tanh(u));
    }
    return v;
}

/* acc: the convolution sums; bias: b[k] or 0; z: the residual lanes (zero without one). */
static inline float16 conv_epilogue16(float16 acc, float bias, float16 z, int act, int res_before)
{
    const float16 v = acc + bias;
    if (res_before)
        return conv_act16(v + z, act);
    return conv_act16(v, act) + z;
}

/* The epilogue of the 16 lanes acc, stored to the first len of dst (all 16 when len >= 16);
 * z: the residual at the same positions, read only when has_z. */
static inline void conv_epilogue_store(__global float *dst, int len, float16 acc, float bias,
                                       __global const float *z, int has_z, int act, int res_before)
{
    if (len >= 16) {
        const float16 zv = has_z ? vload16(0, z) : (float16)(0.0f);
        vstore16(conv_epilogue16(acc, bias, zv, act, res_before), 0, dst);
        return;
    }
    float zs[16], v[16];
    for (int i = 0; i < 16; i++)
        zs[i] = has_z && i < len ? z[i] : 0.0f;
    vstore16(conv_epilogue16(acc, bias, vload16(0, zs), act, res_before), 0, v);
    for (int i = 0; i < len; i++)
        dst[i] = v[i];
}

#endif
