/* norm_common.h - shared by batchnorm.cl and layernorm.cl: vector helpers, numerically sound
 * partial statistics over runs of a strided group of floats, and their deterministic
 * (fixed-order) combination.
 * Defines: VEC (1, 4, 8 or 16, default 16) - float vector width of the inner loops;
 *          BLK (default 4096) - elements per cache-resident block of the statistics pass. */
#ifndef VEC
#define VEC 16
#endif
#ifndef BLK
#define BLK 4096
#endif

#if VEC == 16
#define VTYPE float16
#define VLOAD(p) vload16(0, p)
#define VSTORE(v, p) vstore16_fast(v, p)
#define VSUM(v) vsum8((v).lo + (v).hi)
#elif VEC == 8
#define VTYPE float8
#define VLOAD(p) vload8(0, p)
#define VSTORE(v, p) vstore8(v, 0, p)
#define VSUM(v) vsum8(v)
#elif VEC == 4
#define VTYPE float4
#define VLOAD(p) vload4(0, p)
#define VSTORE(v, p) vstore4(v, 0, p)
#define VSUM(v) vsum4(v)
#elif VEC == 1
#define VTYPE float
#define VLOAD(p) (*(p))
#define VSTORE(v, p) (*(p) = (v))
#define VSUM(v) (v)
#else
#error "VEC must be 1, 4, 8 or 16"
#endif
#if BLK < VEC
#error "BLK must be at least VEC"
#endif

#if VEC == 16
/* vstore16 to a 64-byte aligned address as one store (POCL splits vstore16 into four). */
static inline void vstore16_fast(float16 v, __global float *p)
{
    if (((size_t)p & 63) == 0)
        *(__global float16 *)p = v;
    else
        vstore16(v, 0, p);
}
#endif

static inline float vsum4(float4 v)
{
    float2 t = v.lo + v.hi;
    return t.x + t.y;
}

static inline float vsum8(float8 v)
{
    return vsum4(v.lo + v.hi);
}

/* Sum of p[i] - k over p[0..len). */
static inline float seg_sum(__global const float *p, int len, float k)
{
    VTYPE acc = 0.0f;
    int i = 0;
    for (; i + VEC <= len; i += VEC)
        acc += VLOAD(p + i) - k;
    float s = VSUM(acc);
    for (; i < len; i++)
        s += p[i] - k;
    return s;
}

/* (sum of d, sum of d^2) with d = (p[i] - k) - m over p[0..len). */
static inline float2 seg_dev(__global const float *p, int len, float k, float m)
{
    VTYPE a1 = 0.0f, a2 = 0.0f;
    int i = 0;
    for (; i + VEC <= len; i += VEC) {
        VTYPE d = (VLOAD(p + i) - k) - m;
        a1 += d;
        a2 = fma(d, d, a2);
    }
    float2 s = (float2)(VSUM(a1), VSUM(a2));
    for (; i < len; i++) {
        float d = (p[i] - k) - m;
        s += (float2)(d, d * d);
    }
    return s;
}

/* Element r (0 <= r < count) of a group lives at base + (r / inner) * outer_stride + r % inner:
 * runs of `inner` contiguous floats, `outer_stride` apart (batch norm: a channel's planes). */
#define GROUP_ADDR(base, r, inner, outer_stride)                                                   \
    ((base) + (size_t)((r) / (inner)) * (size_t)(outer_stride) + (size_t)((r) % (inner)))

/* Merges the statistics (nb, mb, m2b) of a block into (n, m, m2): Chan et al.'s pairwise update,
 * stable because each block's own m2 comes from a two-pass sum. */
static inline void chan_merge(float *n, float *m, float *m2, float nb, float mb, float m2b)
{
    float nt = *n + nb;
    float delta = mb - *m;
    *m += delta * (nb / nt);
    *m2 += m2b + delta * delta * (*n * (nb / nt));
    *n = nt;
}

/* Mean and M2 (sum of squared deviations) of elements [r0, r1) of a group, the mean taken of
 * x - shift (shift: one element of the group, the same for all its chunks, so that partial means
 * are small and their differences exact when merging). Each block of up to BLK elements is read
 * twice (the second read hits the cache): pass 1 gives the block mean, pass 2 the deviations
 * from it, corrected by their sum (the "corrected two-pass" formula). */
static inline float2 run_stats(__global const float *base, int r0, int r1, int inner,
                               int outer_stride, float shift)
{
    float n = 0.0f, m = 0.0f, m2 = 0.0f;
    for (int b0 = r0; b0 < r1; b0 += BLK) {
        int b1 = min(b0 + BLK, r1);
        float s = 0.0f;
        for (int r = b0; r < b1;) {
            int len = min(inner - r % inner, b1 - r);
            s += seg_sum(GROUP_ADDR(base, r, inner, outer_stride), len, shift);
            r += len;
        }
        float nb = (float)(b1 - b0);
        float mb = s / nb;
        float2 d = 0.0f;
        for (int r = b0; r < b1;) {
            int len = min(inner - r % inner, b1 - r);
            d += seg_dev(GROUP_ADDR(base, r, inner, outer_stride), len, shift, mb);
            r += len;
        }
        float corr = d.x / nb;
        chan_merge(&n, &m, &m2, nb, mb + corr, fmax(d.y - d.x * corr, 0.0f));
    }
    return (float2)(m, m2);
}

/* Work-item gid of a chunked reduction pass (nchunks chunks of `chunk` elements per group, the
 * last one short): sets its group *g and its elements [*r0, *r1) of the group's `count`. False
 * for the work-items past the last group. */
static inline bool chunk_of(int gid, int groups, int count, int chunk, int nchunks, int *g,
                            int *r0, int *r1)
{
    *g = gid / nchunks;
    *r0 = gid % nchunks * chunk;
    *r1 = min(*r0 + chunk, count);
    return *g < groups;
}

/* Combines the (mean, M2) partials of chunks 0..nchunks-1 of one group, in that order. Chunk j
 * covers elements [j * chunk, min((j + 1) * chunk, count)). */
static inline float2 combine_chunks(__global const float *part, int nchunks, int chunk, int count)
{
    float n = 0.0f, m = 0.0f, m2 = 0.0f;
    for (int j = 0; j < nchunks; j++) {
        int nb = min(chunk, count - j * chunk);
        if (nb > 0)
            chan_merge(&n, &m, &m2, (float)nb, part[2 * j], part[2 * j + 1]);
    }
    return (float2)(m, m2);
}
