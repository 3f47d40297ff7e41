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

#include "vec_part.h"

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

/* The VW values p[0..] of an output row segment with `valid` columns (the rest read as zero),
 * and the segment's store. */
static inline __attribute__((always_inline)) VEC load_out(const __global float *p, int valid)
{
    return CAT(CAT(load, VW), _part)(p, valid);
}

static inline __attribute__((always_inline)) void store_out(VEC v, __global float *p, int valid)
{
    CAT(CAT(store, VW), _part)(v, p, valid);
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
