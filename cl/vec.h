/* vec.h - the VEC-wide float vector of the flat kernels (element-wise, optimiser, pooling).
 * Defines: VEC (4, 8 or 16; default 8). Provides floatV, vloadV and vstoreV. */
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
