/* selfcheck.cl - the kernel oclnn_self_check() builds and runs to prove a device works.
 * Defines: SCALE (float, default 2.0f) - the factor applied to x. */
#ifndef SCALE
#define SCALE 2.0f
#endif

/* y[i] = SCALE * x[i] + i, guarded so any global size works. */
__kernel void selfcheck_axpi(__global const float *x, __global float *y, const int n)
{
    const int i = (int)get_global_id(0);
    if (i < n)
        y[i] = SCALE * x[i] + (float)i;
}
