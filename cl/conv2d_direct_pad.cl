/* conv2d_direct_pad.cl - the phase-split zero-padded copy of x that the strided DIRECT forward
 * and backward weights read (conv2d_direct.h). No defines. */
#include "conv2d_direct.h"

/* The phase-split zero-padded copy of x that the strided flat forward reads: destination row fr
 * of WP floats is row i of phase (a, b) of plane q = fr / (SH * SW * HP) (a channel of an image),
 * xpad[i * SH + a][j * SW + b] with xpad[y][x] = x[q][y - PT][x - PL] (zero outside x); rows past
 * nplanes planes (the slack that the last tiles read) are zero. Phases that no tap reads are
 * not written: the flat kernels read them only into lanes or taps they drop. One work-item per
 * row.
 * Global: (nrows). */
__kernel void conv2d_direct_pad_phases(__global const float *x, const int x_off, __global float *xp,
                                       const int xp_off, GEOM_ARGS, const int HP, const int WP,
                                       const int nrows)
{
    const int fr = (int)get_global_id(0);
    if (fr >= nrows)
        return;
    const int i = fr % HP, phase = (fr / HP) % (SH * SW), q = fr / (SH * SW * HP);
    /* Phases no tap reads (a 1x1 kernel at stride 2 reads one of four) are left unwritten. */
    bool row_used = false, col_used = false;
    for (int r = 0; r < R; r++)
        row_used |= (r * DH) % SH == phase / SW;
    for (int s = 0; s < S; s++)
        col_used |= (s * DW) % SW == phase % SW;
    if (!row_used || !col_used)
        return;
    const int y = i * SH + phase / SW - PT, b = phase % SW - PL;
    __global float *d = xp + xp_off + (size_t)fr * WP;
    const bool row_in = q < N * C && y >= 0 && y < H;
    const long at = ((long)q * H + y) * W;
    __global const float *src = x + x_off + at;
    for (int j = 0; j < WP; j += 16) {
        const float16 v =
            row_in ? load16_in(src, at, (long)N * C * H * W, j * SW + b, SW, W) : (float16)(0.0f);
        store16_part(v, d + j, WP - j);
    }
}
