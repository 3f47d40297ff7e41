/* conv_depthwise.c - placeholder for the DEPTHWISE convolution algorithm so this branch links;
 * the real implementation (with cl/conv2d_depthwise.cl) replaces this file at merge. */
#include "conv.h"

oclnn_status oclnn__conv_depthwise_forward(oclnn_context *ctx, const oclnn_conv_geom *g,
                                           oclnn_activation act, int residual_before_act,
                                           const oclnn_tensor *x, const oclnn_tensor *w,
                                           const oclnn_tensor *b, const oclnn_tensor *z,
                                           oclnn_tensor *y)
{
    (void)g, (void)act, (void)residual_before_act, (void)x, (void)w, (void)b, (void)z, (void)y;
    return oclnn__fail(ctx, OCLNN_UNSUPPORTED, "conv2d: depthwise algorithm not built");
}

oclnn_status oclnn__conv_depthwise_backward_data(oclnn_context *ctx, const oclnn_conv_geom *g,
                                                 const oclnn_tensor *dy, const oclnn_tensor *w,
                                                 oclnn_tensor *dx, float beta)
{
    (void)g, (void)dy, (void)w, (void)dx, (void)beta;
    return oclnn__fail(ctx, OCLNN_UNSUPPORTED, "conv2d: depthwise algorithm not built");
}

oclnn_status oclnn__conv_depthwise_backward_weights(oclnn_context *ctx, const oclnn_conv_geom *g,
                                                    const oclnn_tensor *x, const oclnn_tensor *dy,
                                                    oclnn_tensor *dw, oclnn_tensor *db, float beta)
{
    (void)g, (void)x, (void)dy, (void)dw, (void)db, (void)beta;
    return oclnn__fail(ctx, OCLNN_UNSUPPORTED, "conv2d: depthwise algorithm not built");
}
