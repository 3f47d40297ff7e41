/* conv_kvec.h - the block DIRECT's channel-vector kernels share (conv2d_direct_fwd_kvec,
 * conv2d_direct_bwd_data_kvec): KV float16 vectors of channels (the lanes) x CI pixels of one
 * plane, fed by KV weight vectors and CI broadcast input values per input channel: KV + CI loads
 * for KV * CI FMAs (KV 1..4, CI 1..16; defaults 4 and 6, the AVX-512 blocks). */
#ifndef OCLNN_CONV_KVEC_H
#define OCLNN_CONV_KVEC_H

#ifndef KV
#define KV 4
#endif
#ifndef CI
#define CI 6
#endif
#if KV < 1 || KV > 4 || CI < 1 || CI > 16
#error "KV must be in 1..4 and CI in 1..16"
#endif

#define KVEC_INLINE static inline __attribute__((always_inline))

/* po[j]: where pixel q0 + j of a plane of npix pixels, `cols` wide, sits in a padded plane with
 * rows of `stride` floats (pixels past the end repeat the last one; their sums are dropped). */
KVEC_INLINE void kvec_positions(int *po, int q0, int npix, int cols, int stride)
{
#pragma unroll
    for (int j = 0; j < CI; j++) {
        const int q = min(q0 + j, npix - 1);
        po[j] = q / cols * stride + q % cols;
    }
}

KVEC_INLINE void kvec_zero(float16 acc[KV][CI])
{
#pragma unroll
    for (int v = 0; v < KV; v++)
#pragma unroll
        for (int j = 0; j < CI; j++)
            acc[v][j] = (float16)(0.0f);
}

/* acc[v][j] += the sum over n input channels of wq's vector v times x[po[j]], the channels'
 * planes xstep floats apart and their weight vectors 16 * KV floats apart. */
KVEC_INLINE void kvec_accumulate(float16 acc[KV][CI], const __global float *x, const int *po,
                                 const __global float *wq, int n, size_t xstep)
{
    for (int c = 0; c < n; c++, x += xstep, wq += 16 * KV) {
        float16 wv[KV];
#pragma unroll
        for (int v = 0; v < KV; v++)
            wv[v] = vload16(v, wq);
#pragma unroll
        for (int j = 0; j < CI; j++) {
            const float16 xv = (float16)(x[po[j]]);
#pragma unroll
            for (int v = 0; v < KV; v++)
                acc[v][j] = fma(xv, wv[v], acc[v][j]);
        }
    }
}

#endif
