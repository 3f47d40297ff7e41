/* conv2d_direct.h - what the DIRECT convolution kernels share (conv2d_direct_*.cl): the geometry
 * arguments, passed at run time so that one build serves every shape. NCHW f32, any padding,
 * stride, dilation and groups. Register-blocked: a work-item owns a block of channels x 16
 * consecutive pixels of one row held in float16 accumulators (two AVX2 or one AVX-512 register
 * each on POCL); each loaded input vector is reused for the block's channels and each weight for
 * the 16 pixels. The channel-vector kernels (*_kvec, conv_kvec.h) turn this around for layers
 * with many weights on small planes: 16 channels per vector, values of a few pixels broadcast.
 * No local memory. Each pass has its own file and defines, so the blocks tuned for one pass
 * never rebuild the others. */
#ifndef OCLNN_CONV2D_DIRECT_H
#define OCLNN_CONV2D_DIRECT_H

#include "conv_rows.h"

#define GEOM_ARGS                                                                                  \
    const int N, const int C, const int H, const int W, const int K, const int R, const int S,     \
        const int OH, const int OW, const int G, const int CG, const int KG, const int PT,         \
        const int PL, const int SH, const int SW, const int DH, const int DW

#endif
