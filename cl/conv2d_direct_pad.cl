/* conv2d_direct_pad.cl - the phase-split zero-padded copy of x that the strided DIRECT forward
 * and backward weights read (conv2d_direct.h). No defines. */
#include "conv2d_direct.h"

/* The phase-split zero-padded copy of x that the strided flat forward reads: destination row fr
 * of WP floats is row i of phase (a, b) of plane q = fr / (SH * SW * HP) (a channel of an image),
 * xpad[i * SH + a][j * SW + b] with xpad[y][x] = x[q][y - PT][x - PL] (zero outside x); rows past
 * nplanes planes (the slack that the last tiles read) are zero. Phases that no tap reads are
 * not written: the flat kernels read them only into lanes or taps they drop. One work-item per
 * run of HP rows (a phase of a plane, the last run cut at nrows): the divisions by run-time
 * geometry, a dozen for a 3x3 kernel, cost more than copying a row of a small plane.
 * Global: (ceil(nrows / HP)). */
__kernel void conv2d_direct_pad_phases(__global const float *x, const int x_off, __global float *xp,
                                       const int xp_off, GEOM_ARGS, const int HP, const int WP,
                                       const int nrows)
{
    const int run = (int)get_global_id(0), fr0 = run * HP;
    if (fr0 >= nrows)
        return;
    const int phase = run % (SH * SW), q = run / (SH * SW), a = phase / SW, b = phase % SW;
    /* Phases no tap reads (a 1x1 kernel at stride 2 reads one of four) are left unwritten. */
    bool row_used = false, col_used = false;
    for (int r = 0; r < R; r++)
        row_used |= (r * DH) % SH == a;
    for (int s = 0; s < S; s++)
        col_used |= (s * DW) % SW == b;
    if (!row_used || !col_used)
        return;
    const long total = (long)N * C * H * W;
    const int rows = min(HP, nrows - fr0);
    for (int i = 0; i < rows; i++) {
        const int y = i * SH + a - PT;
        __global float *d = xp + xp_off + (size_t)(fr0 + i) * WP;
        const bool row_in = q < N * C && y >= 0 && y < H;
        const long at = ((long)q * H + y) * W;
        __global const float *src = x + x_off + at;
        for (int j = 0; j < WP; j += 16) {
            const float16 v =
                row_in ? load16_in(src, at, total, j * SW + b - PL, SW, W) : (float16)(0.0f);
            store16_part(v, d + j, WP - j);
        }
    }
}
