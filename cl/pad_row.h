/* pad_row.h - one row of a zero-padded tile in local memory: d[0..n) = s[j] for lo <= j < hi,
 * zero elsewhere (pad_row_local), and the copy alone (copy_row_local), for the depthwise tile
 * kernel (dw_local). The source part goes in 16, 8, 4 and 2 float vectors: the planes of small
 * layers have rows of 7-28 floats, which a scalar tail would copy one by one. Needs
 * 0 <= lo <= hi <= n. No defines. */
#define DEFINE_PAD_ROW(name, copy, AS)                                                             \
    /* d[0..n) = s[0..n) */                                                                        \
    static inline __attribute__((always_inline)) void copy(AS float *d, const __global float *s,  \
                                                           int n)                                  \
    {                                                                                              \
        int j = 0;                                                                                 \
        for (; j + 16 <= n; j += 16)                                                               \
            vstore16(vload16(0, s + j), 0, d + j);                                                 \
        if (j + 8 <= n) {                                                                          \
            vstore8(vload8(0, s + j), 0, d + j);                                                   \
            j += 8;                                                                                \
        }                                                                                          \
        if (j + 4 <= n) {                                                                          \
            vstore4(vload4(0, s + j), 0, d + j);                                                   \
            j += 4;                                                                                \
        }                                                                                          \
        if (j + 2 <= n) {                                                                          \
            vstore2(vload2(0, s + j), 0, d + j);                                                   \
            j += 2;                                                                                \
        }                                                                                          \
        if (j < n)                                                                                 \
            d[j] = s[j];                                                                           \
    }                                                                                              \
    static inline __attribute__((always_inline)) void name(AS float *d, const __global float *s,  \
                                                           int lo, int hi, int n)                  \
    {                                                                                              \
        for (int j = 0; j < lo; j++)                                                               \
            d[j] = 0.0f;                                                                           \
        copy(d + lo, s + lo, hi - lo);                                                             \
        for (int j = hi; j < n; j++)                                                               \
            d[j] = 0.0f;                                                                           \
    }
DEFINE_PAD_ROW(pad_row_local, copy_row_local, __local)
