/* vec_part.h - the first n lanes of a float vector stored at p, or loaded from p with zeros in
 * the other lanes, in vector pieces of 8, 4, 2 and 1 floats: through a private array they would
 * go one by one, and the rows of planes 7, 14, 28 or 56 columns wide end in such partial vectors.
 * Any n: from the vector's width on the whole vector, below 1 nothing. No defines. */
#ifndef OCLNN_VEC_PART_H
#define OCLNN_VEC_PART_H

#define PART_INLINE static inline __attribute__((always_inline))

PART_INLINE void store4_part(float4 v, __global float *p, int n)
{
    if (n >= 4) {
        vstore4(v, 0, p);
    } else if (n >= 2) {
        vstore2(v.lo, 0, p);
        if (n == 3)
            p[2] = v.z;
    } else if (n == 1) {
        p[0] = v.x;
    }
}

PART_INLINE float4 load4_part(const __global float *p, int n)
{
    if (n >= 4)
        return vload4(0, p);
    float4 v = 0.0f;
    if (n >= 2) {
        v.lo = vload2(0, p);
        if (n == 3)
            v.z = p[2];
    } else if (n == 1) {
        v.x = p[0];
    }
    return v;
}

/* The N-float pieces from the N/2-float ones: a whole half, then the other half's part. */
#define DEFINE_PARTS(N, H)                                                                         \
    PART_INLINE void store##N##_part(float##N v, __global float *p, int n)                         \
    {                                                                                              \
        if (n >= N) {                                                                              \
            vstore##N(v, 0, p);                                                                    \
        } else if (n >= H) {                                                                       \
            vstore##H(v.lo, 0, p);                                                                 \
            store##H##_part(v.hi, p + H, n - H);                                                   \
        } else {                                                                                   \
            store##H##_part(v.lo, p, n);                                                           \
        }                                                                                          \
    }                                                                                              \
    PART_INLINE float##N load##N##_part(const __global float *p, int n)                            \
    {                                                                                              \
        if (n >= N)                                                                                \
            return vload##N(0, p);                                                                 \
        float##N v = 0.0f;                                                                         \
        if (n >= H) {                                                                              \
            v.lo = vload##H(0, p);                                                                 \
            v.hi = load##H##_part(p + H, n - H);                                                   \
        } else {                                                                                   \
            v.lo = load##H##_part(p, n);                                                           \
        }                                                                                          \
        return v;                                                                                  \
    }
DEFINE_PARTS(8, 4)
DEFINE_PARTS(16, 8)

#endif
