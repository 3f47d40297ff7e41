/* conv_algos.h - the convolution algorithms of conv_direct.c, conv_gemm.c and conv_winograd.c
 * as the dispatcher (conv.c) calls them, and the helpers they share. Geometry and tensors are
 * validated first. */
#ifndef OCLNN_CONV_ALGOS_H
#define OCLNN_CONV_ALGOS_H

#include "conv.h"

/* What a pass of a convolution runs with on this device (conv_tuning.c): the algorithm AUTO
 * takes when tuned, the register blocks of conv2d_direct_*.cl, the work-group size of the conv
 * kernels and the rows per item and tile of the depthwise ones. */
typedef struct oclnn_conv_tuning {
    oclnn_conv_algo algo; /* tuned algorithm, or AUTO (conv.c's rules decide) */
    int kb;            /* channels per work-item of conv2d_direct_fwd.cl and _bwd_data.cl (-DKB) */
    int px;            /* float16 pixel vectors per work-item of its forward (its -DPX) */
    int kbw, ts;       /* channels x kernel taps per work-item of its backward weights */
    int kbw_s1, ts_s1; /* kbw and ts for kernels 1 wide, where ts counts input channels */
    int tc;            /* 1: ts counts input channels (kernels 1 wide; the kernels' -DTC) */
    int kb_flat;       /* kb and px of the forward over a padded copy (fwd_flat) */
    int px_flat;
    size_t wgrad_chunk; /* bytes of x and dy a chunk of images of backward weights covers */
    int kv, ci;         /* backward weights with channels in the lanes (bwd_weights_kvec): float16
                         * vectors of output channels x weight columns per work-item; kv 0: the
                         * flat kernel only */
    size_t kv_chunk;    /* wgrad_chunk for bwd_weights_kvec */
    bool kvec;          /* set by DIRECT's forward plan: conv2d_direct_fwd_kvec runs (kb is then
                         * 16 * kv, its packed block) */
    size_t local[3];    /* work-group size (2-D kernels use the first two) */
    int dw_rb;          /* depthwise tile kernels: output rows per work-item, 0: its own rule */
    size_t dw_tile;     /* depthwise dw_local: bytes of input tile per work-group, 0: default */
    const char *source; /* "defaults", "tuned: exact shape", "tuned: shape class", ... */
} oclnn_conv_tuning;
/* The parameters of one pass of g: the tuner's candidate while it measures, else the context's
 * tuned entry for g's exact shape, else for its shape class, else the device type's defaults. */
oclnn_conv_tuning oclnn__conv_tuning(const oclnn_context *ctx, const oclnn_conv_geom *g,
                                     oclnn_conv_pass pass);
/* The device type's defaults alone: the work-group size of the helper kernels (im2col, the
 * Winograd transforms), which are not tuned per shape. */
oclnn_conv_tuning oclnn__conv_tuning_defaults(const oclnn_context *ctx);

/* Validates desc with the shapes of x and w (named wname in messages, as op) and gives their
 * geometry (conv.c). */
oclnn_status oclnn__conv_make_geom(const oclnn_context *ctx, const char *op,
                                   const oclnn_conv2d_desc *d, const oclnn_tensor_desc *x,
                                   const char *wname, const oclnn_tensor_desc *w,
                                   oclnn_conv_geom *g);

/* The geometry as kernel arguments, in the order of the kernels' GEOM_ARGS. */
int oclnn__conv_geom_args(const oclnn_conv_geom *g, int *out);

/* Direct kernels (cl/conv2d_direct_*.cl): any descriptor. Forward and backward data pack the
 * weights into the workspace, and the flat kernels add zero-padded copies of their inputs
 * (oclnn__conv_direct_workspace bytes; without the copies where they pass the workspace
 * limit). */
size_t oclnn__conv_direct_workspace(const oclnn_context *ctx, const oclnn_conv_geom *g,
                                    oclnn_conv_pass pass);
/* DIRECT's parameters for the pass, v[OCLNN__CP_*] (tune.h; ALGO untouched, parameters the pass
 * does not use 0), as the kernels it launches would run now; true when it takes the flat kernel
 * over a zero-padded copy, false for the row kernel. */
bool oclnn__conv_direct_params(const oclnn_context *ctx, const oclnn_conv_geom *g,
                               oclnn_conv_pass pass, int *v);
/* DEPTHWISE's parameters for the pass likewise (RB and TILE where its tile kernels run). */
void oclnn__conv_depthwise_params(const oclnn_context *ctx, const oclnn_conv_geom *g,
                                  oclnn_conv_pass pass, int *v);
oclnn_status oclnn__conv_direct_forward(oclnn_context *ctx, const oclnn_conv_geom *g,
                                        oclnn_activation act, int residual_before_act,
                                        const oclnn_tensor *x, const oclnn_tensor *w,
                                        const oclnn_tensor *b, const oclnn_tensor *z,
                                        oclnn_tensor *y);
oclnn_status oclnn__conv_direct_backward_data(oclnn_context *ctx, const oclnn_conv_geom *g,
                                              const oclnn_tensor *dy, const oclnn_tensor *w,
                                              oclnn_tensor *dx, float beta);
oclnn_status oclnn__conv_direct_backward_weights(oclnn_context *ctx, const oclnn_conv_geom *g,
                                                 const oclnn_tensor *x, const oclnn_tensor *dy,
                                                 oclnn_tensor *dw, oclnn_tensor *db, float beta);

/* GEMM-based (cl/im2col.cl + CLBlast): im2col into the workspace for any descriptor, or no
 * im2col at all when one_by_one (1x1, stride 1, no padding: the image is its own column
 * matrix). */
/* Workspace bytes one chunk of images needs (0 for 1x1); *chunk receives the images per chunk.
 * The chunk keeps the columns under 256 MiB and the context's workspace limit; one image may
 * still need more (the caller compares with the limit). */
size_t oclnn__conv_gemm_workspace(const oclnn_context *ctx, const oclnn_conv_geom *g,
                                  bool one_by_one, int *chunk);
oclnn_status oclnn__conv_gemm_forward(oclnn_context *ctx, const oclnn_conv_geom *g, bool one_by_one,
                                      oclnn_activation act, int residual_before_act,
                                      const oclnn_tensor *x, const oclnn_tensor *w,
                                      const oclnn_tensor *b, const oclnn_tensor *z,
                                      oclnn_tensor *y);
oclnn_status oclnn__conv_gemm_backward_data(oclnn_context *ctx, const oclnn_conv_geom *g,
                                            bool one_by_one, const oclnn_tensor *dy,
                                            const oclnn_tensor *w, oclnn_tensor *dx, float beta);
oclnn_status oclnn__conv_gemm_backward_weights(oclnn_context *ctx, const oclnn_conv_geom *g,
                                               bool one_by_one, const oclnn_tensor *x,
                                               const oclnn_tensor *dy, oclnn_tensor *dw,
                                               oclnn_tensor *db, float beta);

/* Whether WINOGRAD's GEMMs run in DIRECT's channel-vector loop on ctx's device (AVX-512 CPUs:
 * where DIRECT runs its channel-vector kernels), else through CLBlast. */
bool oclnn__conv_winograd_kvec(const oclnn_context *ctx);
/* Winograd F(2x2, 3x3) (cl/conv2d_winograd.cl + CLBlast or the channel-vector GEMMs): 3x3
 * kernels, stride 1, dilation 1, groups 1, any padding the geometry allows (0..2 per side).
 * Workspace: the transformed filter U [K][16][C] and, per chunk of images, the transformed tiles
 * V [16][C][T] and products M [16][K][T] (K rounded up to the channel-vector blocks where they
 * run); *chunk receives the images per chunk (at least 1: the caller compares the bytes with
 * the limit). Backward data transforms dy with the rotated filter; backward weights sums
 * dU = dM x V^T over the chunks (dM: the output transform's adjoint of dy) and applies the
 * filter transform's adjoint. */
size_t oclnn__conv_winograd_workspace(const oclnn_context *ctx, const oclnn_conv_geom *g,
                                      oclnn_conv_pass pass, int *chunk);
oclnn_status oclnn__conv_winograd_forward(oclnn_context *ctx, const oclnn_conv_geom *g,
                                          oclnn_activation act, int residual_before_act,
                                          const oclnn_tensor *x, const oclnn_tensor *w,
                                          const oclnn_tensor *b, const oclnn_tensor *z,
                                          oclnn_tensor *y);
oclnn_status oclnn__conv_winograd_backward_data(oclnn_context *ctx, const oclnn_conv_geom *g,
                                                const oclnn_tensor *dy, const oclnn_tensor *w,
                                                oclnn_tensor *dx, float beta);
oclnn_status oclnn__conv_winograd_backward_weights(oclnn_context *ctx, const oclnn_conv_geom *g,
                                                   const oclnn_tensor *x, const oclnn_tensor *dy,
                                                   oclnn_tensor *dw, oclnn_tensor *db, float beta);

/* db = beta * db + sum over n, h, w of dy (cl/conv_epilogue.cl), shared by the algorithms. */
oclnn_status oclnn__conv_bias_grad(oclnn_context *ctx, const char *op, const oclnn_conv_geom *g,
                                   const oclnn_tensor *dy, oclnn_tensor *db, float beta);

#endif
