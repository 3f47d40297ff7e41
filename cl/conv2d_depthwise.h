/* conv2d_depthwise.h - what the depthwise kernel files share: the geometry defines, the vector
 * type of one tile (VW output columns) and its loads, stores and sums.
 * Defines (default): R, S kernel height and width (3, 3); SH, SW stride (1, 1); DH, DW dilation
 * (1, 1); VW output columns per work-item, the vector width: 4, 8 or 16 (16). */
#ifndef R
#define R 3
#endif
#ifndef S
#define S 3
#endif
#ifndef SH
#define SH 1
#endif
#ifndef SW
#define SW 1
#endif
#ifndef DH
#define DH 1
#endif
#ifndef DW
#define DW 1
#endif
#ifndef VW
#define VW 16
#endif

#if R < 1 || S < 1 || SH < 1 || SW < 1 || DH < 1 || DW < 1
#error "R, S, SH, SW, DH and DW must be at least 1"
#endif
#if VW != 4 && VW != 8 && VW != 16
#error "VW must be 4, 8 or 16"
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define VEC CAT(float, VW)
#define VLOAD CAT(vload, VW)
#define VSTORE CAT(vstore, VW)

/* The VW input columns p[0], p[SW], ... as one vector, from global (gather) or local
 * (gather_local) memory. */
#if SW == 1
#define GATHER_BODY return VLOAD(0, p);
#elif SW == 2
#define GATHER_BODY return (VEC)(VLOAD(0, p).even, VLOAD(0, p + VW).even);
#else
#define GATHER_BODY                                                                                \
    float t[VW];                                                                                   \
    for (int l = 0; l < VW; l++)                                                                   \
        t[l] = p[l * SW];                                                                          \
    return VLOAD(0, t);
#endif
static inline __attribute__((always_inline)) VEC gather(const __global float *p) { GATHER_BODY }
static inline __attribute__((always_inline)) VEC gather_local(const __local float *p)
{
    GATHER_BODY
}

/* The first `valid` (< the vector's width) of v stored to p, or read from p with zeros in the
 * other lanes, in vector pieces: through a private array they would go lane by lane, and the
 * planes of 7, 14, 28 and 56 columns end in such partial tiles. */
static inline __attribute__((always_inline)) void store4_part(float4 v, __global float *p,
                                                              int valid)
{
    if (valid >= 2) {
        vstore2(v.lo, 0, p);
        if (valid == 3)
            p[2] = v.z;
    } else if (valid == 1) {
        p[0] = v.x;
    }
}

static inline __attribute__((always_inline)) void store8_part(float8 v, __global float *p,
                                                              int valid)
{
    if (valid >= 4) {
        vstore4(v.lo, 0, p);
        store4_part(v.hi, p + 4, valid - 4);
    } else {
        store4_part(v.lo, p, valid);
    }
}

static inline __attribute__((always_inline)) float4 load4_part(const __global float *p, int valid)
{
    float4 v = 0.0f;
    if (valid >= 2) {
        v.lo = vload2(0, p);
        if (valid == 3)
            v.z = p[2];
    } else if (valid == 1) {
        v.x = p[0];
    }
    return v;
}

static inline __attribute__((always_inline)) float8 load8_part(const __global float *p, int valid)
{
    float8 v = 0.0f;
    if (valid >= 4) {
        v.lo = vload4(0, p);
        v.hi = load4_part(p + 4, valid - 4);
    } else {
        v.lo = load4_part(p, valid);
    }
    return v;
}

/* The VW values p[0..] of an output row segment with `valid` columns; the rest read as zero. */
static inline __attribute__((always_inline)) VEC load_out(const __global float *p, int valid)
{
    if (valid >= VW)
        return VLOAD(0, p);
#if VW == 16
    float16 v = 0.0f;
    if (valid >= 8) {
        v.lo = vload8(0, p);
        v.hi = load8_part(p + 8, valid - 8);
    } else {
        v.lo = load8_part(p, valid);
    }
    return v;
#elif VW == 8
    return load8_part(p, valid);
#else
    return load4_part(p, valid);
#endif
}

static inline __attribute__((always_inline)) void store_out(VEC v, __global float *p, int valid)
{
    if (valid >= VW) {
        VSTORE(v, 0, p);
        return;
    }
#if VW == 16
    if (valid >= 8) {
        vstore8(v.lo, 0, p);
        store8_part(v.hi, p + 8, valid - 8);
    } else {
        store8_part(v.lo, p, valid);
    }
#elif VW == 8
    store8_part(v, p, valid);
#else
    store4_part(v, p, valid);
#endif
}

static inline __attribute__((always_inline)) float hsum(VEC v)
{
#if VW == 16
    const float8 h8 = v.lo + v.hi;
#elif VW == 8
    const float8 h8 = v;
#endif
#if VW >= 8
    const float4 h4 = h8.lo + h8.hi;
#else
    const float4 h4 = v;
#endif
    const float2 h2 = h4.lo + h4.hi;
    return h2.x + h2.y;
}
