/* conv_rows.h - reading 16 consecutive lanes of an image or gradient row, with zeros where
 * the lanes fall into padding, for the convolution kernels (conv2d_direct_*.cl, im2col.cl). */
#ifndef OCLNN_CONV_ROWS_H
#define OCLNN_CONV_ROWS_H

#include "vec_part.h"

/* 16 values row[iw0 + i * step], zero where the index leaves [0, len). */
static inline float16 load16(__global const float *row, int iw0, int step, int len)
{
    if (step == 1 && iw0 >= 0 && iw0 + 16 <= len)
        return vload16(0, row + iw0);
    if (step == 2 && iw0 >= 0 && iw0 + 32 <= len) {
        const float16 a = vload16(0, row + iw0), b = vload16(0, row + iw0 + 16);
        return (float16)(a.even, b.even);
    }
    float v[16];
    for (int i = 0; i < 16; i++) {
        const int iw = iw0 + i * step;
        v[i] = (iw >= 0 && iw < len) ? row[iw] : 0.0f;
    }
    return vload16(0, v);
}

/* Lanes i = 0..15 of a gradient row read at u = u0 + i, where u = SW * ow: lane i gets
 * row[u / SW] when SW divides u and 0 <= u / SW < len, else 0. Walks the residue instead of
 * dividing per lane. */
static inline float16 strided_gather16(__global const float *row, int u0, int sw, int len)
{
    if (sw == 1)
        return load16(row, u0, 1, len);
    int m = u0 % sw;
    if (m < 0)
        m += sw;
    int o = (u0 - m) / sw + (m != 0); /* the first ow at or after lane 0 */
    int next = m == 0 ? 0 : sw - m;   /* lane that reads it */
    float v[16];
    for (int i = 0; i < 16; i++) {
        float e = 0.0f;
        if (i == next) {
            if (o >= 0 && o < len)
                e = row[o];
            o++;
            next += sw;
        }
        v[i] = e;
    }
    return vload16(0, v);
}

/* load16 for a row that starts at element `at` of a tensor of `total` elements: for steps 1
 * and 2 the same vector loads wherever they stay inside the tensor, spilling into the
 * neighbouring rows, with the lanes outside [0, len) zeroed (at a row's edges load16 goes lane by
 * lane, and the rows of small planes are all edge). */
static inline float16 load16_in(__global const float *row, long at, long total, int iw0, int step,
                                int len)
{
    if ((step == 1 || step == 2) && at + iw0 >= 0 && at + iw0 + 16 * step <= total) {
        const float16 a = vload16(0, row + iw0);
        const float16 v = step == 1 ? a : (float16)(a.even, vload16(0, row + iw0 + 16).even);
        const int16 c = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) * step + iw0;
        return select((float16)(0.0f), v, c >= 0 && c < len);
    }
    return load16(row, iw0, step, len);
}

#endif
