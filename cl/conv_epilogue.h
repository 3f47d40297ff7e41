/* conv_epilogue.h - the convolution forward epilogue shared by the direct kernel and the
 * separate epilogue kernel: v = act(acc + b) + z, or act(acc + b + z) when RES_BEFORE is set.
 * Activation codes follow oclnn_activation: 0 none, 1 relu, 2 gelu (erf), 3 gelu (tanh). */
#ifndef OCLNN_CONV_EPILOGUE_H
#define OCLNN_CONV_EPILOGUE_H

static inline float conv_act(float v, int act)
{
    if (act == 1)
        return fmax(v, 0.0f);
    if (act == 2)
        return 0.5f * v * (1.0f + erf(v * 0.70710678118654752f));
    if (act == 3) {
        const float u = 0.79788456080286536f * (v + 0.044715f * v * v * v);
        return 0.5f * v * (1.0f + tanh(u));
    }
    return v;
}

/* acc: the convolution sum; bias: b[k] or 0; z: the residual or 0 (ignored unless has_z). */
static inline float conv_epilogue(float acc, float bias, float z, int act, int res_before)
{
    float v = acc + bias;
    if (res_before)
        return conv_act(v + z, act);
    return conv_act(v, act) + z;
}

#endif
