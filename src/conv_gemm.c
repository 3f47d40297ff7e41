/* conv_gemm.c - the IM2COL_GEMM and GEMM_1X1 convolution algorithms: im2col/col2im kernels
 * (cl/im2col.cl) around CLBlast GEMMs and the epilogue/relayout kernels of
 * cl/conv_epilogue.cl. IM2COL_GEMM unfolds a chunk of images into one wide column matrix
 * [C*R*S][nb*OH*OW] and runs one GEMM per group over the whole chunk; GEMM_1X1 (1x1, stride 1,
 * no padding) uses each image as its own column matrix: no workspace at all. */
#include "conv_algos.h"

/* Workspace per chunk stays under this; larger batches are processed in chunks of images. */
#define WORKSPACE_CHUNK_BYTES ((size_t)256 << 20)

static size_t rows_crs(const oclnn_conv_geom *g)
{
    return (size_t)g->c * g->r * g->s;
}

static size_t rows_cgrs(const oclnn_conv_geom *g)
{
    return (size_t)g->cg * g->r * g->s;
}

/* The workspace of a chunk of nb images: the columns [C*R*S][nb*OHW], then (nb > 1 only) the
 * output or output gradient in the GEMM's layout [K][nb*OHW]. With nb = 1 both layouts are
 * NCHW's, so the GEMM reads and writes y / dy in place. */
size_t oclnn__conv_gemm_workspace(const oclnn_context *ctx, const oclnn_conv_geom *g,
                                  bool one_by_one, int *chunk)
{
    if (one_by_one) {
        *chunk = g->n;
        return 0;
    }
    const size_t limit =
        ctx->workspace_limit < WORKSPACE_CHUNK_BYTES ? ctx->workspace_limit : WORKSPACE_CHUNK_BYTES;
    const size_t ohw = (size_t)g->oh * g->ow;
    const size_t per_image = (rows_crs(g) + (size_t)g->k) * ohw * sizeof(float);
    size_t nb = limit / per_image;
    if (nb > (size_t)g->n)
        nb = (size_t)g->n;
    if (nb <= 1) {
        *chunk = 1;
        return rows_crs(g) * ohw * sizeof(float);
    }
    *chunk = (int)nb;
    return nb * per_image;
}

/* Unfolds images [n0, n0 + nb) of x into the workspace columns. */
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
    const oclnn_conv_tuning t = oclnn__conv_tuning_defaults(ctx);
    size_t global[3] = {oclnn__div_up((size_t)g->ow, 16), (size_t)g->oh, (size_t)nb * g->c};
    return oclnn__launch(ctx, op, k, args, n, 3, global, t.local);
}

/* Folds the workspace column gradients of images [n0, n0 + nb) into dx (beta 0 or 1). */
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
    const oclnn_conv_tuning t = oclnn__conv_tuning_defaults(ctx);
    size_t global[3] = {oclnn__div_up((size_t)g->w, 16), (size_t)g->h, (size_t)nb * g->c};
    return oclnn__launch(ctx, op, k, args, n, 3, global, t.local);
}

/* out[b][a][p] = epilogue(in[a][b][p]) (conv_swap_planes); b and z may be NULL, and act NONE
 * without them makes it a plain relayout. */
static oclnn_status swap_planes(oclnn_context *ctx, const char *op, cl_kernel k, cl_mem in,
                                size_t in_off, cl_mem out, size_t out_off, int A, int B, int P,
                                oclnn_activation act, int residual_before_act,
                                const oclnn_tensor *b, const oclnn_tensor *z, size_t z_off)
{
    int io = (int)in_off, oo = (int)out_off, bo = b ? (int)b->offset : 0, zo = (int)z_off;
    int has_b = b != NULL, has_z = z != NULL, a = (int)act, rb = residual_before_act;
    cl_mem bm = b ? b->mem : in, zm = z ? z->mem : in; /* never read when absent */
    oclnn_arg args[] = {OCLNN_ARG(in),    OCLNN_ARG(io),    OCLNN_ARG(out), OCLNN_ARG(oo),
                        OCLNN_ARG(A),     OCLNN_ARG(B),     OCLNN_ARG(P),   OCLNN_ARG(bm),
                        OCLNN_ARG(bo),    OCLNN_ARG(has_b), OCLNN_ARG(zm),  OCLNN_ARG(zo),
                        OCLNN_ARG(has_z), OCLNN_ARG(a),     OCLNN_ARG(rb)};
    const oclnn_conv_tuning t = oclnn__conv_tuning_defaults(ctx);
    size_t global[3] = {oclnn__div_up((size_t)P, 16), (size_t)B, (size_t)A};
    return oclnn__launch(ctx, op, k, args, sizeof args / sizeof args[0], 3, global, t.local);
}

/* In-place forward epilogue over all of y. */
static oclnn_status epilogue(oclnn_context *ctx, cl_kernel k, const oclnn_conv_geom *g,
                             oclnn_activation act, int residual_before_act, const oclnn_tensor *b,
                             const oclnn_tensor *z, oclnn_tensor *y)
{
    int y_off = (int)y->offset, b_off = b ? (int)b->offset : 0, z_off = z ? (int)z->offset : 0;
    int has_b = b != NULL, has_z = z != NULL, kk = g->k, plane = g->oh * g->ow, nn = g->n;
    int a = (int)act, rb = residual_before_act;
    cl_mem bm = b ? b->mem : y->mem, zm = z ? z->mem : y->mem; /* never read when absent */
    oclnn_arg args[] = {OCLNN_ARG(y->mem), OCLNN_ARG(y_off), OCLNN_ARG(bm),    OCLNN_ARG(b_off),
                        OCLNN_ARG(has_b),  OCLNN_ARG(zm),    OCLNN_ARG(z_off), OCLNN_ARG(has_z),
                        OCLNN_ARG(kk),     OCLNN_ARG(plane), OCLNN_ARG(nn),    OCLNN_ARG(a),
                        OCLNN_ARG(rb)};
    const oclnn_conv_tuning t = oclnn__conv_tuning_defaults(ctx);
    size_t global[3] = {oclnn__div_up((size_t)plane, 16), (size_t)g->k, (size_t)g->n};
    return oclnn__launch(ctx, "conv2d", k, args, sizeof args / sizeof args[0], 3, global, t.local);
}

/* Everything a pass needs before anything is enqueued: kernels built, workspace taken. */
typedef struct plan {
    cl_kernel cols;  /* im2col or col2im (IM2COL_GEMM) */
    cl_kernel swap;  /* conv_swap_planes (chunks of several images) */
    cl_kernel other; /* conv_epilogue_inplace or conv_bias_grad, when needed */
    cl_mem ws;
    int chunk;
    size_t tmp_off; /* workspace element offset of the [K][nb*OHW] part */
} plan;

static oclnn_status prepare(oclnn_context *ctx, const char *op, const oclnn_conv_geom *g,
                            bool one_by_one, const char *cols_kernel, const char *other, plan *p)
{
    *p = (plan){0};
    size_t bytes = oclnn__conv_gemm_workspace(ctx, g, one_by_one, &p->chunk);
    p->tmp_off = rows_crs(g) * p->chunk * g->oh * g->ow;
    oclnn_status s = OCLNN_SUCCESS;
    if (!one_by_one)
        s = oclnn__kernel(ctx, "im2col.cl", NULL, cols_kernel, &p->cols);
    if (s == OCLNN_SUCCESS && !one_by_one && p->chunk > 1)
        s = oclnn__kernel(ctx, "conv_epilogue.cl", NULL, "conv_swap_planes", &p->swap);
    if (s == OCLNN_SUCCESS && other)
        s = oclnn__kernel(ctx, "conv_epilogue.cl", NULL, other, &p->other);
    if (s == OCLNN_SUCCESS && bytes)
        s = oclnn__workspace(ctx, bytes, op, &p->ws);
    return s;
}

oclnn_status oclnn__conv_gemm_forward(oclnn_context *ctx, const oclnn_conv_geom *g, bool one_by_one,
                                      oclnn_activation act, int residual_before_act,
                                      const oclnn_tensor *x, const oclnn_tensor *w,
                                      const oclnn_tensor *b, const oclnn_tensor *z, oclnn_tensor *y)
{
    const char *op = "conv2d";
    const bool need_epilogue = b || z || act != OCLNN_ACT_NONE;
    plan p;
    oclnn_status s = prepare(ctx, op, g, one_by_one, "im2col",
                             need_epilogue ? "conv_epilogue_inplace" : NULL, &p);
    const size_t ohw = (size_t)g->oh * g->ow, cgrs = rows_cgrs(g), kohw = (size_t)g->k * ohw;
    if (s == OCLNN_SUCCESS && one_by_one) {
        /* y_n,g [kg][hw] = w_g [kg][cg] x x_n,g [cg][hw], the images of a group in one batched
         * call (the weights repeat: stride 0). */
        const size_t chw = (size_t)g->c * ohw;
        for (int gi = 0; gi < g->groups && s == OCLNN_SUCCESS; gi++)
            s = oclnn__sgemm_strided(ctx, op, false, false, (size_t)g->kg, ohw, cgrs, 1.0f, w->mem,
                                     w->offset + (size_t)gi * g->kg * cgrs, cgrs, 0, x->mem,
                                     x->offset + (size_t)gi * cgrs * ohw, ohw, chw, 0.0f, y->mem,
                                     y->offset + (size_t)gi * g->kg * ohw, ohw, kohw, (size_t)g->n);
        if (s == OCLNN_SUCCESS && need_epilogue)
            s = epilogue(ctx, p.other, g, act, residual_before_act, b, z, y);
        return s;
    }
    for (int n0 = 0; n0 < g->n && s == OCLNN_SUCCESS; n0 += p.chunk) {
        const int nb = g->n - n0 < p.chunk ? g->n - n0 : p.chunk;
        const size_t wide = (size_t)nb * ohw;
        s = im2col(ctx, op, p.cols, g, x, n0, nb, p.ws);
        /* out_g [kg][nb*ohw] = w_g [kg][cg*r*s] x cols_g [cg*r*s][nb*ohw]: straight into y
         * when the chunk is one image, else into the workspace and then relaid into y with
         * the epilogue. */
        cl_mem om = p.chunk > 1 ? p.ws : y->mem;
        size_t ooff = p.chunk > 1 ? p.tmp_off : y->offset + (size_t)n0 * kohw;
        for (int gi = 0; gi < g->groups && s == OCLNN_SUCCESS; gi++)
            s = oclnn__sgemm(ctx, op, false, false, (size_t)g->kg, wide, cgrs, 1.0f, w->mem,
                             w->offset + (size_t)gi * g->kg * cgrs, cgrs, p.ws,
                             (size_t)gi * cgrs * wide, wide, 0.0f, om,
                             ooff + (size_t)gi * g->kg * wide, wide);
        if (s == OCLNN_SUCCESS && p.chunk > 1)
            s = swap_planes(ctx, op, p.swap, p.ws, p.tmp_off, y->mem, y->offset + (size_t)n0 * kohw,
                            g->k, nb, (int)ohw, act, residual_before_act, b, z,
                            z ? z->offset + (size_t)n0 * kohw : 0);
    }
    if (s == OCLNN_SUCCESS && p.chunk == 1 && need_epilogue)
        s = epilogue(ctx, p.other, g, act, residual_before_act, b, z, y);
    return s;
}

oclnn_status oclnn__conv_gemm_backward_data(oclnn_context *ctx, const oclnn_conv_geom *g,
                                            bool one_by_one, const oclnn_tensor *dy,
                                            const oclnn_tensor *w, oclnn_tensor *dx, float beta)
{
    const char *op = "conv2d_backward_data";
    plan p;
    oclnn_status s = prepare(ctx, op, g, one_by_one, "col2im", NULL, &p);
    const size_t ohw = (size_t)g->oh * g->ow, cgrs = rows_cgrs(g), kohw = (size_t)g->k * ohw;
    if (s == OCLNN_SUCCESS && one_by_one) {
        /* dx_n,g = w_g^T x dy_n,g, beta applied by the GEMM. */
        const size_t chw = (size_t)g->c * ohw;
        for (int gi = 0; gi < g->groups && s == OCLNN_SUCCESS; gi++)
            s = oclnn__sgemm_strided(ctx, op, true, false, cgrs, ohw, (size_t)g->kg, 1.0f, w->mem,
                                     w->offset + (size_t)gi * g->kg * cgrs, cgrs, 0, dy->mem,
                                     dy->offset + (size_t)gi * g->kg * ohw, ohw, kohw, beta,
                                     dx->mem, dx->offset + (size_t)gi * cgrs * ohw, ohw, chw,
                                     (size_t)g->n);
        return s;
    }
    for (int n0 = 0; n0 < g->n && s == OCLNN_SUCCESS; n0 += p.chunk) {
        const int nb = g->n - n0 < p.chunk ? g->n - n0 : p.chunk;
        const size_t wide = (size_t)nb * ohw;
        /* dy of the chunk in the GEMM's layout [k][nb*ohw] (in place for one image). */
        cl_mem dm = p.chunk > 1 ? p.ws : dy->mem;
        size_t doff = p.chunk > 1 ? p.tmp_off : dy->offset + (size_t)n0 * kohw;
        if (p.chunk > 1)
            s = swap_planes(ctx, op, p.swap, dy->mem, dy->offset + (size_t)n0 * kohw, p.ws,
                            p.tmp_off, nb, g->k, (int)ohw, OCLNN_ACT_NONE, 0, NULL, NULL, 0);
        /* dcols_g [cg*r*s][nb*ohw] = w_g^T x dy_g, then col2im applies beta. */
        for (int gi = 0; gi < g->groups && s == OCLNN_SUCCESS; gi++)
            s = oclnn__sgemm(ctx, op, true, false, cgrs, wide, (size_t)g->kg, 1.0f, w->mem,
                             w->offset + (size_t)gi * g->kg * cgrs, cgrs, dm,
                             doff + (size_t)gi * g->kg * wide, wide, 0.0f, p.ws,
                             (size_t)gi * cgrs * wide, wide);
        if (s == OCLNN_SUCCESS)
            s = col2im(ctx, op, p.cols, g, p.ws, dx, n0, nb, beta);
    }
    return s;
}

oclnn_status oclnn__conv_gemm_backward_weights(oclnn_context *ctx, const oclnn_conv_geom *g,
                                               bool one_by_one, const oclnn_tensor *x,
                                               const oclnn_tensor *dy, oclnn_tensor *dw,
                                               oclnn_tensor *db, float beta)
{
    const char *op = "conv2d_backward_weights";
    plan p;
    oclnn_status s = prepare(ctx, op, g, one_by_one, "im2col", db ? "conv_bias_grad" : NULL, &p);
    const size_t ohw = (size_t)g->oh * g->ow, cgrs = rows_cgrs(g), kohw = (size_t)g->k * ohw;
    if (s == OCLNN_SUCCESS && one_by_one) {
        /* dw_g [kg][cg] += dy_n,g [kg][hw] x x_n,g^T, image after image in order (the GEMM's
         * beta accumulates): deterministic. */
        const size_t chw = (size_t)g->c * ohw;
        for (int n = 0; n < g->n && s == OCLNN_SUCCESS; n++)
            for (int gi = 0; gi < g->groups && s == OCLNN_SUCCESS; gi++)
                s = oclnn__sgemm(ctx, op, false, true, (size_t)g->kg, cgrs, ohw, 1.0f, dy->mem,
                                 dy->offset + (size_t)n * kohw + (size_t)gi * g->kg * ohw, ohw,
                                 x->mem, x->offset + (size_t)n * chw + (size_t)gi * cgrs * ohw, ohw,
                                 n == 0 ? beta : 1.0f, dw->mem,
                                 dw->offset + (size_t)gi * g->kg * cgrs, cgrs);
    }
    for (int n0 = 0; !one_by_one && n0 < g->n && s == OCLNN_SUCCESS; n0 += p.chunk) {
        const int nb = g->n - n0 < p.chunk ? g->n - n0 : p.chunk;
        const size_t wide = (size_t)nb * ohw;
        s = im2col(ctx, op, p.cols, g, x, n0, nb, p.ws);
        cl_mem dm = p.chunk > 1 ? p.ws : dy->mem;
        size_t doff = p.chunk > 1 ? p.tmp_off : dy->offset + (size_t)n0 * kohw;
        if (s == OCLNN_SUCCESS && p.chunk > 1)
            s = swap_planes(ctx, op, p.swap, dy->mem, dy->offset + (size_t)n0 * kohw, p.ws,
                            p.tmp_off, nb, g->k, (int)ohw, OCLNN_ACT_NONE, 0, NULL, NULL, 0);
        /* dw_g [kg][cg*r*s] += dy_g [kg][nb*ohw] x cols_g^T, chunk after chunk in order (the
         * GEMM's beta accumulates): deterministic. */
        for (int gi = 0; gi < g->groups && s == OCLNN_SUCCESS; gi++)
            s = oclnn__sgemm(ctx, op, false, true, (size_t)g->kg, cgrs, wide, 1.0f, dm,
                             doff + (size_t)gi * g->kg * wide, wide, p.ws, (size_t)gi * cgrs * wide,
                             wide, n0 == 0 ? beta : 1.0f, dw->mem,
                             dw->offset + (size_t)gi * g->kg * cgrs, cgrs);
    }
    if (s == OCLNN_SUCCESS && db)
        s = oclnn__conv_bias_grad(ctx, op, g, dy, db, beta);
    return s;
}
