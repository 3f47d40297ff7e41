/* conv_gemm.c - the IM2COL_GEMM and GEMM_1X1 convolution algorithms: im2col/col2im kernels
 * (cl/im2col.cl) around CLBlast GEMMs, one per group and chunk of images, and the separate
 * forward epilogue (cl/conv_epilogue.cl). For 1x1, stride 1, no padding the image itself is the
 * column matrix: no im2col, no workspace. */
#include "conv_algos.h"

/* im2col columns above this size are processed in chunks of images. */
#define WORKSPACE_CHUNK_BYTES ((size_t)256 << 20)

size_t oclnn__conv_gemm_workspace(const oclnn_context *ctx, const oclnn_conv_geom *g,
                                  bool one_by_one, int *chunk)
{
    if (one_by_one) {
        *chunk = g->n;
        return 0;
    }
    const size_t limit =
        ctx->workspace_limit < WORKSPACE_CHUNK_BYTES ? ctx->workspace_limit : WORKSPACE_CHUNK_BYTES;
    const size_t per_image = (size_t)g->c * g->r * g->s * g->oh * g->ow * sizeof(float);
    size_t nb = limit / per_image;
    if (nb < 1)
        nb = 1;
    if (nb > (size_t)g->n)
        nb = (size_t)g->n;
    *chunk = (int)nb;
    return nb * per_image;
}

/* The GEMM view of the columns of image i of a chunk: buffer, offset of image 0, ld = OH*OW,
 * stride between images. */
typedef struct cols_view {
    cl_mem mem;
    size_t off, stride;
} cols_view;

static size_t rows_crs(const oclnn_conv_geom *g)
{
    return (size_t)g->c * g->r * g->s;
}

static size_t rows_cgrs(const oclnn_conv_geom *g)
{
    return (size_t)g->cg * g->r * g->s;
}

/* Unfolds images [n0, n0 + nb) of x into the workspace. */
static oclnn_status im2col(oclnn_context *ctx, const char *op, cl_kernel k,
                           const oclnn_conv_geom *g, const oclnn_tensor *x, int n0, int nb,
                           cl_mem ws)
{
    int x_off = (int)(x->offset + (size_t)n0 * g->c * g->h * g->w), ws_off = 0;
    int v[] = {nb,    g->c,     g->h,     g->w,        g->r,        g->s,     g->oh,
               g->ow, g->pad_t, g->pad_l, g->stride_h, g->stride_w, g->dil_h, g->dil_w};
    oclnn_arg args[4 + sizeof v / sizeof v[0]];
    size_t n = 0;
    args[n++] = OCLNN_ARG(x->mem), args[n++] = OCLNN_ARG(x_off);
    args[n++] = OCLNN_ARG(ws), args[n++] = OCLNN_ARG(ws_off);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        args[n++] = OCLNN_ARG(v[i]);
    const oclnn_conv_tuning t = oclnn__conv_tuning(ctx);
    size_t global[2] = {oclnn__div_up((size_t)g->ow, 16), (size_t)nb * rows_crs(g) * (size_t)g->oh};
    return oclnn__launch(ctx, op, k, args, n, 2, global, t.local);
}

/* Folds the column gradients of images [n0, n0 + nb) into dx (beta 0 or 1). */
static oclnn_status col2im(oclnn_context *ctx, const char *op, cl_kernel k,
                           const oclnn_conv_geom *g, cl_mem ws, oclnn_tensor *dx, int n0, int nb,
                           float beta)
{
    int dx_off = (int)(dx->offset + (size_t)n0 * g->c * g->h * g->w), ws_off = 0;
    int acc = beta != 0.0f;
    int v[] = {nb,    g->c,     g->h,     g->w,        g->r,        g->s,     g->oh,
               g->ow, g->pad_t, g->pad_l, g->stride_h, g->stride_w, g->dil_h, g->dil_w};
    oclnn_arg args[5 + sizeof v / sizeof v[0]];
    size_t n = 0;
    args[n++] = OCLNN_ARG(ws), args[n++] = OCLNN_ARG(ws_off);
    args[n++] = OCLNN_ARG(dx->mem), args[n++] = OCLNN_ARG(dx_off);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        args[n++] = OCLNN_ARG(v[i]);
    args[n++] = OCLNN_ARG(acc);
    const oclnn_conv_tuning t = oclnn__conv_tuning(ctx);
    size_t global[2] = {oclnn__div_up((size_t)g->w, 16), (size_t)nb * g->c * (size_t)g->h};
    return oclnn__launch(ctx, op, k, args, n, 2, global, t.local);
}

static oclnn_status epilogue(oclnn_context *ctx, cl_kernel k, const oclnn_conv_geom *g,
                             oclnn_activation act, int residual_before_act, const oclnn_tensor *b,
                             const oclnn_tensor *z, oclnn_tensor *y)
{
    int y_off = (int)y->offset, b_off = b ? (int)b->offset : 0, z_off = z ? (int)z->offset : 0;
    int has_b = b != NULL, has_z = z != NULL, kk = g->k, plane = g->oh * g->ow, nk = g->n * g->k;
    int a = (int)act, rb = residual_before_act;
    cl_mem bm = b ? b->mem : y->mem, zm = z ? z->mem : y->mem; /* never read when absent */
    oclnn_arg args[] = {OCLNN_ARG(y->mem), OCLNN_ARG(y_off), OCLNN_ARG(bm),    OCLNN_ARG(b_off),
                        OCLNN_ARG(has_b),  OCLNN_ARG(zm),    OCLNN_ARG(z_off), OCLNN_ARG(has_z),
                        OCLNN_ARG(kk),     OCLNN_ARG(plane), OCLNN_ARG(nk),    OCLNN_ARG(a),
                        OCLNN_ARG(rb)};
    const oclnn_conv_tuning t = oclnn__conv_tuning(ctx);
    size_t global[2] = {oclnn__div_up((size_t)plane, 16), (size_t)nk};
    return oclnn__launch(ctx, "conv2d", k, args, sizeof args / sizeof args[0], 2, global, t.local);
}

/* Builds the kernels a pass needs and takes the workspace, before anything is enqueued. */
static oclnn_status prepare(oclnn_context *ctx, const char *op, const oclnn_conv_geom *g,
                            bool one_by_one, const char *kernel, cl_kernel *k, cl_mem *ws,
                            int *chunk)
{
    *k = NULL;
    *ws = NULL;
    size_t bytes = oclnn__conv_gemm_workspace(ctx, g, one_by_one, chunk);
    if (one_by_one)
        return OCLNN_SUCCESS;
    oclnn_status s = oclnn__kernel(ctx, "im2col.cl", NULL, kernel, k);
    if (s == OCLNN_SUCCESS)
        s = oclnn__workspace(ctx, bytes, op, ws);
    return s;
}

/* The column matrices of images [n0, ...): the workspace, or x itself for 1x1. */
static cols_view cols_of(const oclnn_conv_geom *g, bool one_by_one, const oclnn_tensor *x, int n0,
                         cl_mem ws)
{
    if (one_by_one)
        return (cols_view){x->mem, x->offset + (size_t)n0 * g->c * g->h * g->w,
                           (size_t)g->c * g->h * g->w};
    return (cols_view){ws, 0, rows_crs(g) * g->oh * g->ow};
}

oclnn_status oclnn__conv_gemm_forward(oclnn_context *ctx, const oclnn_conv_geom *g, bool one_by_one,
                                      oclnn_activation act, int residual_before_act,
                                      const oclnn_tensor *x, const oclnn_tensor *w,
                                      const oclnn_tensor *b, const oclnn_tensor *z, oclnn_tensor *y)
{
    const char *op = "conv2d";
    cl_kernel kim, kepi = NULL;
    cl_mem ws;
    int chunk;
    oclnn_status s = prepare(ctx, op, g, one_by_one, "im2col", &kim, &ws, &chunk);
    bool need_epilogue = b || z || act != OCLNN_ACT_NONE;
    if (s == OCLNN_SUCCESS && need_epilogue)
        s = oclnn__kernel(ctx, "conv_epilogue.cl", NULL, "conv_epilogue_inplace", &kepi);
    if (s != OCLNN_SUCCESS)
        return s;
    const size_t ohw = (size_t)g->oh * g->ow, cgrs = rows_cgrs(g), kohw = (size_t)g->k * ohw;
    for (int n0 = 0; n0 < g->n && s == OCLNN_SUCCESS; n0 += chunk) {
        const int nb = g->n - n0 < chunk ? g->n - n0 : chunk;
        if (!one_by_one)
            s = im2col(ctx, op, kim, g, x, n0, nb, ws);
        const cols_view cv = cols_of(g, one_by_one, x, n0, ws);
        /* y_n,g [kg][ohw] = w_g [kg][cg*r*s] x cols_n,g [cg*r*s][ohw], all images of the chunk
         * in one batched call (the weights repeat: stride 0). */
        for (int gi = 0; gi < g->groups && s == OCLNN_SUCCESS; gi++)
            s = oclnn__sgemm_strided(ctx, op, false, false, (size_t)g->kg, ohw, cgrs, 1.0f, w->mem,
                                     w->offset + (size_t)gi * g->kg * cgrs, cgrs, 0, cv.mem,
                                     cv.off + (size_t)gi * cgrs * ohw, ohw, cv.stride, 0.0f, y->mem,
                                     y->offset + (size_t)n0 * kohw + (size_t)gi * g->kg * ohw, ohw,
                                     kohw, (size_t)nb);
    }
    if (s == OCLNN_SUCCESS && need_epilogue)
        s = epilogue(ctx, kepi, g, act, residual_before_act, b, z, y);
    return s;
}

oclnn_status oclnn__conv_gemm_backward_data(oclnn_context *ctx, const oclnn_conv_geom *g,
                                            bool one_by_one, const oclnn_tensor *dy,
                                            const oclnn_tensor *w, oclnn_tensor *dx, float beta)
{
    const char *op = "conv2d_backward_data";
    cl_kernel kcol;
    cl_mem ws;
    int chunk;
    oclnn_status s = prepare(ctx, op, g, one_by_one, "col2im", &kcol, &ws, &chunk);
    if (s != OCLNN_SUCCESS)
        return s;
    const size_t ohw = (size_t)g->oh * g->ow, cgrs = rows_cgrs(g), kohw = (size_t)g->k * ohw;
    for (int n0 = 0; n0 < g->n && s == OCLNN_SUCCESS; n0 += chunk) {
        const int nb = g->n - n0 < chunk ? g->n - n0 : chunk;
        /* dcols_n,g [cg*r*s][ohw] = w_g^T x dy_n,g; for 1x1 dcols is dx itself, so beta goes
         * to the GEMM; otherwise col2im applies it. */
        cl_mem cm = one_by_one ? dx->mem : ws;
        size_t coff = one_by_one ? dx->offset + (size_t)n0 * g->c * ohw : 0;
        size_t cstride = one_by_one ? (size_t)g->c * ohw : rows_crs(g) * ohw;
        float gbeta = one_by_one ? beta : 0.0f;
        for (int gi = 0; gi < g->groups && s == OCLNN_SUCCESS; gi++)
            s = oclnn__sgemm_strided(ctx, op, true, false, cgrs, ohw, (size_t)g->kg, 1.0f, w->mem,
                                     w->offset + (size_t)gi * g->kg * cgrs, cgrs, 0, dy->mem,
                                     dy->offset + (size_t)n0 * kohw + (size_t)gi * g->kg * ohw, ohw,
                                     kohw, gbeta, cm, coff + (size_t)gi * cgrs * ohw, ohw, cstride,
                                     (size_t)nb);
        if (s == OCLNN_SUCCESS && !one_by_one)
            s = col2im(ctx, op, kcol, g, ws, dx, n0, nb, beta);
    }
    return s;
}

oclnn_status oclnn__conv_gemm_backward_weights(oclnn_context *ctx, const oclnn_conv_geom *g,
                                               bool one_by_one, const oclnn_tensor *x,
                                               const oclnn_tensor *dy, oclnn_tensor *dw,
                                               oclnn_tensor *db, float beta)
{
    const char *op = "conv2d_backward_weights";
    cl_kernel kim, kbias;
    cl_mem ws;
    int chunk;
    oclnn_status s = prepare(ctx, op, g, one_by_one, "im2col", &kim, &ws, &chunk);
    if (s == OCLNN_SUCCESS && db) /* built before anything is enqueued */
        s = oclnn__kernel(ctx, "conv_epilogue.cl", NULL, "conv_bias_grad", &kbias);
    if (s != OCLNN_SUCCESS)
        return s;
    const size_t ohw = (size_t)g->oh * g->ow, cgrs = rows_cgrs(g), kohw = (size_t)g->k * ohw;
    for (int n0 = 0; n0 < g->n && s == OCLNN_SUCCESS; n0 += chunk) {
        const int nb = g->n - n0 < chunk ? g->n - n0 : chunk;
        if (!one_by_one)
            s = im2col(ctx, op, kim, g, x, n0, nb, ws);
        const cols_view cv = cols_of(g, one_by_one, x, n0, ws);
        /* dw_g [kg][cg*r*s] += dy_n,g [kg][ohw] x cols_n,g^T, image after image in order (beta
         * of the GEMM accumulates): deterministic. */
        for (int i = 0; i < nb && s == OCLNN_SUCCESS; i++) {
            const float gbeta = n0 + i == 0 ? beta : 1.0f;
            for (int gi = 0; gi < g->groups && s == OCLNN_SUCCESS; gi++)
                s = oclnn__sgemm(ctx, op, false, true, (size_t)g->kg, cgrs, ohw, 1.0f, dy->mem,
                                 dy->offset + (size_t)(n0 + i) * kohw + (size_t)gi * g->kg * ohw,
                                 ohw, cv.mem, cv.off + i * cv.stride + (size_t)gi * cgrs * ohw, ohw,
                                 gbeta, dw->mem, dw->offset + (size_t)gi * g->kg * cgrs, cgrs);
        }
    }
    if (s == OCLNN_SUCCESS && db)
        s = oclnn__conv_bias_grad(ctx, op, g, dy, db, beta);
    return s;
}
