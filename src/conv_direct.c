/* conv_direct.c - the DIRECT convolution algorithm (cl/conv2d_direct.cl): forward with the fused
 * epilogue, backward data and backward weights for any descriptor, no workspace. Also the bias
 * gradient every algorithm shares (cl/conv_epilogue.cl). */
#include "conv_algos.h"

#include <stdio.h>

#define MAX_ARGS 40

static oclnn_status direct_kernel(oclnn_context *ctx, const char *name, oclnn_conv_tuning *t,
                                  cl_kernel *k)
{
    *t = oclnn__conv_tuning(ctx);
    char options[32];
    snprintf(options, sizeof options, "-DKB=%d", t->kb);
    return oclnn__kernel(ctx, "conv2d_direct.cl", options, name, k);
}

/* Appends the geometry to args[] (values stored in geo, which must outlive the launch). */
static size_t add_geom(oclnn_arg *args, size_t n, const oclnn_conv_geom *g, int *geo)
{
    int count = oclnn__conv_geom_args(g, geo);
    for (int i = 0; i < count; i++)
        args[n++] = OCLNN_ARG(geo[i]);
    return n;
}

oclnn_status oclnn__conv_direct_forward(oclnn_context *ctx, const oclnn_conv_geom *g,
                                        oclnn_activation act, int residual_before_act,
                                        const oclnn_tensor *x, const oclnn_tensor *w,
                                        const oclnn_tensor *b, const oclnn_tensor *z,
                                        oclnn_tensor *y)
{
    oclnn_conv_tuning t;
    cl_kernel k;
    oclnn_status s = direct_kernel(ctx, "conv2d_direct_fwd", &t, &k);
    if (s != OCLNN_SUCCESS)
        return s;
    /* Absent b and z are passed as x (never read: has_b/has_z are 0). */
    int x_off = (int)x->offset, w_off = (int)w->offset, y_off = (int)y->offset;
    int b_off = b ? (int)b->offset : 0, z_off = z ? (int)z->offset : 0;
    int has_b = b != NULL, has_z = z != NULL, a = (int)act, rb = residual_before_act;
    cl_mem bm = b ? b->mem : x->mem, zm = z ? z->mem : x->mem;
    oclnn_arg args[MAX_ARGS];
    int geo[24];
    size_t n = 0;
    args[n++] = OCLNN_ARG(x->mem), args[n++] = OCLNN_ARG(x_off);
    args[n++] = OCLNN_ARG(w->mem), args[n++] = OCLNN_ARG(w_off);
    args[n++] = OCLNN_ARG(bm), args[n++] = OCLNN_ARG(b_off), args[n++] = OCLNN_ARG(has_b);
    args[n++] = OCLNN_ARG(zm), args[n++] = OCLNN_ARG(z_off), args[n++] = OCLNN_ARG(has_z);
    args[n++] = OCLNN_ARG(y->mem), args[n++] = OCLNN_ARG(y_off);
    n = add_geom(args, n, g, geo);
    args[n++] = OCLNN_ARG(a), args[n++] = OCLNN_ARG(rb);
    size_t global[2] = {oclnn__div_up((size_t)g->ow, 16) * (size_t)g->oh,
                        (size_t)g->n * g->groups * oclnn__div_up((size_t)g->kg, (size_t)t.kb)};
    return oclnn__launch(ctx, "conv2d", k, args, n, 2, global, t.local);
}

oclnn_status oclnn__conv_direct_backward_data(oclnn_context *ctx, const oclnn_conv_geom *g,
                                              const oclnn_tensor *dy, const oclnn_tensor *w,
                                              oclnn_tensor *dx, float beta)
{
    oclnn_conv_tuning t;
    cl_kernel k;
    oclnn_status s = direct_kernel(ctx, "conv2d_direct_bwd_data", &t, &k);
    if (s != OCLNN_SUCCESS)
        return s;
    int dy_off = (int)dy->offset, w_off = (int)w->offset, dx_off = (int)dx->offset;
    int acc = beta != 0.0f;
    oclnn_arg args[MAX_ARGS];
    int geo[24];
    size_t n = 0;
    args[n++] = OCLNN_ARG(dy->mem), args[n++] = OCLNN_ARG(dy_off);
    args[n++] = OCLNN_ARG(w->mem), args[n++] = OCLNN_ARG(w_off);
    args[n++] = OCLNN_ARG(dx->mem), args[n++] = OCLNN_ARG(dx_off);
    n = add_geom(args, n, g, geo);
    args[n++] = OCLNN_ARG(acc);
    size_t global[2] = {oclnn__div_up((size_t)g->w, 16) * (size_t)g->h,
                        (size_t)g->n * g->groups * oclnn__div_up((size_t)g->cg, (size_t)t.kb)};
    return oclnn__launch(ctx, "conv2d_backward_data", k, args, n, 2, global, t.local);
}

oclnn_status oclnn__conv_direct_backward_weights(oclnn_context *ctx, const oclnn_conv_geom *g,
                                                 const oclnn_tensor *x, const oclnn_tensor *dy,
                                                 oclnn_tensor *dw, oclnn_tensor *db, float beta)
{
    oclnn_conv_tuning t;
    cl_kernel k, kbias = NULL;
    oclnn_status s = direct_kernel(ctx, "conv2d_direct_bwd_weights", &t, &k);
    if (s == OCLNN_SUCCESS && db) /* built before anything is enqueued */
        s = oclnn__kernel(ctx, "conv_epilogue.cl", NULL, "conv_bias_grad", &kbias);
    if (s != OCLNN_SUCCESS)
        return s;
    int x_off = (int)x->offset, dy_off = (int)dy->offset, dw_off = (int)dw->offset;
    int acc = beta != 0.0f;
    oclnn_arg args[MAX_ARGS];
    int geo[24];
    size_t n = 0;
    args[n++] = OCLNN_ARG(x->mem), args[n++] = OCLNN_ARG(x_off);
    args[n++] = OCLNN_ARG(dy->mem), args[n++] = OCLNN_ARG(dy_off);
    args[n++] = OCLNN_ARG(dw->mem), args[n++] = OCLNN_ARG(dw_off);
    n = add_geom(args, n, g, geo);
    args[n++] = OCLNN_ARG(acc);
    size_t global[2] = {(size_t)g->cg * g->r * g->s,
                        (size_t)g->groups * oclnn__div_up((size_t)g->kg, (size_t)t.kb)};
    s = oclnn__launch(ctx, "conv2d_backward_weights", k, args, n, 2, global, t.local);
    if (s == OCLNN_SUCCESS && db)
        s = oclnn__conv_bias_grad(ctx, "conv2d_backward_weights", g, dy, db, beta);
    return s;
}

oclnn_status oclnn__conv_bias_grad(oclnn_context *ctx, const char *op, const oclnn_conv_geom *g,
                                   const oclnn_tensor *dy, oclnn_tensor *db, float beta)
{
    cl_kernel k;
    oclnn_status s = oclnn__kernel(ctx, "conv_epilogue.cl", NULL, "conv_bias_grad", &k);
    if (s != OCLNN_SUCCESS)
        return s;
    int dy_off = (int)dy->offset, db_off = (int)db->offset, acc = beta != 0.0f;
    int nn = g->n, kk = g->k, plane = g->oh * g->ow;
    oclnn_arg args[] = {OCLNN_ARG(dy->mem), OCLNN_ARG(dy_off), OCLNN_ARG(db->mem),
                        OCLNN_ARG(db_off),  OCLNN_ARG(nn),     OCLNN_ARG(kk),
                        OCLNN_ARG(plane),   OCLNN_ARG(acc)};
    size_t global = (size_t)g->k, local = 8;
    return oclnn__launch(ctx, op, k, args, sizeof args / sizeof args[0], 1, &global, &local);
}
