/* conv.h - the interface between the convolution dispatcher (conv.c: validation, algorithm
 * choice) and the files that implement one algorithm each. Geometry is validated before any of
 * these is called. */
#ifndef OCLNN_CONV_H
#define OCLNN_CONV_H

#include "internal.h"

typedef struct oclnn_conv_geom {
    int n, c, h, w; /* input x[n][c][h][w] */
    int k, r, s;    /* weights w[k][c/groups][r][s] */
    int oh, ow;     /* output y[n][k][oh][ow] */
    int groups;     /* cg = c / groups input and kg = k / groups output channels per group */
    int cg, kg;
    int pad_t, pad_b, pad_l, pad_r;
    int stride_h, stride_w;
    int dil_h, dil_w;
} oclnn_conv_geom;

/* A zero-padded copy of nplanes planes of h x w floats (conv_pad.c, cl/conv2d_depthwise_pad.cl):
 * planes of hp rows of wp floats holding the source shifted by (pad_t, pad_l) (negative pads
 * crop), then zero rows up to nrows rows in all (what the last tiles read past the last plane). */
typedef struct oclnn_plane_pad {
    int h, w, hp, wp, pad_t, pad_l, nplanes, nrows;
} oclnn_plane_pad;

/* Enqueues the copy p describes from src (from element src_off) into dst (from element
 * dst_off). */
oclnn_status oclnn__pad_planes(oclnn_context *ctx, const char *op, const oclnn_plane_pad *p,
                               cl_mem src, size_t src_off, cl_mem dst, size_t dst_off);

/* Depthwise (groups == c, kg = channel multiplier): conv_depthwise.c, cl/conv2d_depthwise.cl.
 * Forward applies bias (may be NULL), activation and residual z (may be NULL) in the kernel. */
oclnn_status oclnn__conv_depthwise_forward(oclnn_context *ctx, const oclnn_conv_geom *g,
                                           oclnn_activation act, int residual_before_act,
                                           const oclnn_tensor *x, const oclnn_tensor *w,
                                           const oclnn_tensor *b, const oclnn_tensor *z,
                                           oclnn_tensor *y);
/* dx = beta * dx + ..., beta 0 or 1. */
oclnn_status oclnn__conv_depthwise_backward_data(oclnn_context *ctx, const oclnn_conv_geom *g,
                                                 const oclnn_tensor *dy, const oclnn_tensor *w,
                                                 oclnn_tensor *dx, float beta);
/* dw = beta * dw + ..., db = beta * db + ... (db may be NULL). Deterministic: no atomics. */
oclnn_status oclnn__conv_depthwise_backward_weights(oclnn_context *ctx, const oclnn_conv_geom *g,
                                                    const oclnn_tensor *x, const oclnn_tensor *dy,
                                                    oclnn_tensor *dw, oclnn_tensor *db, float beta);
/* The most output rows per work-item of the depthwise tile kernels: the padded copies have zero
 * rows for a last row block this tall past their last plane, and a tuning file gives no more. */
#define OCLNN__DEPTHWISE_RB_MAX 14
/* Bytes of zero-padded input the depthwise kernels prepare per chunk of images (8 MiB, so the
 * copy is still in cache when read); tests lower it to exercise chunking. */
extern size_t oclnn__depthwise_chunk_bytes;
/* Workspace bytes a depthwise pass needs (backward weights keeps per-block partial sums). */
size_t oclnn__conv_depthwise_workspace_size(const oclnn_context *ctx, const oclnn_conv_geom *g,
                                            oclnn_conv_pass pass);

#endif
