/* conv_depthwise.c - depthwise convolution (groups == channels) on the tiled vector kernels of
 * cl/conv2d_depthwise.cl: forward with a fused epilogue, backward data (flipped-weight forward for
 * stride 1, a gather otherwise) and a deterministic two-stage backward weights. */
#include "conv.h"

#include <stdio.h>

#define CL_FILE "conv2d_depthwise.cl"
#define OP "conv2d"
/* Fixed local sizes: POCL compiles every (kernel, local size) pair once. */
#define LOCAL_ROWS 16
#define LOCAL_WGRAD 8
#define LOCAL_FLAT 64
/* Images per backward-weights block: about this many bytes of x and dy planes, so the R + 1
 * work-items that stream the same planes find them in the L2 cache. */
#define WGRAD_BLOCK_BYTES (256 * 1024)
/* Fewer stage-1 work-items than this leaves cores idle: split the batch further. */
#define WGRAD_MIN_ITEMS 64

/* Output columns per work-item (the vector width) for an output row of `ow` columns. */
static int vec_width(int ow)
{
    return ow >= 12 ? 16 : ow >= 6 ? 8 : 4;
}

typedef struct epilogue {
    int bwd, has_bias, has_res, res_before, act;
} epilogue;

static oclnn_status get_kernel(oclnn_context *ctx, const oclnn_conv_geom *g, int vw, int rb,
                               const epilogue *e, const char *name, cl_kernel *k)
{
    char opts[256];
    snprintf(opts, sizeof opts,
             "-DR=%d -DS=%d -DSH=%d -DSW=%d -DDH=%d -DDW=%d -DVW=%d -DRB=%d -DBWD=%d "
             "-DHAS_BIAS=%d -DHAS_RES=%d -DRES_BEFORE=%d -DACT=%d",
             g->r, g->s, g->stride_h, g->stride_w, g->dil_h, g->dil_w, vw, rb, e->bwd, e->has_bias,
             e->has_res, e->res_before, e->act);
    return oclnn__kernel(ctx, CL_FILE, opts, name, k);
}

/* Enqueues dw_rows: out planes [nplanes][oh_n][ow_n] from in planes [.][ih_n][iw_n]. */
static oclnn_status rows(oclnn_context *ctx, const oclnn_conv_geom *g, const epilogue *e,
                         const oclnn_tensor *in, const oclnn_tensor *w, const oclnn_tensor *b,
                         const oclnn_tensor *z, oclnn_tensor *out, int ih_n, int iw_n, int oh_n,
                         int ow_n, int pad_t, int pad_l, int nplanes, int cin, int cout, int accum)
{
    const int vw = vec_width(ow_n), rb = oh_n < 4 ? oh_n : 4;
    cl_kernel k;
    oclnn_status s = get_kernel(ctx, g, vw, rb, e, "dw_rows", &k);
    if (s != OCLNN_SUCCESS)
        return s;
    /* Unused pointers still need a valid buffer argument. */
    cl_mem bm = b ? b->mem : in->mem, zm = z ? z->mem : in->mem;
    cl_ulong in_off = in->offset, w_off = w->offset, b_off = b ? b->offset : 0,
             z_off = z ? z->offset : 0, out_off = out->offset;
    int kg = g->kg;
    oclnn_arg args[] = {OCLNN_ARG(in->mem), OCLNN_ARG(in_off),  OCLNN_ARG(w->mem),
                        OCLNN_ARG(w_off),   OCLNN_ARG(bm),      OCLNN_ARG(b_off),
                        OCLNN_ARG(zm),      OCLNN_ARG(z_off),   OCLNN_ARG(out->mem),
                        OCLNN_ARG(out_off), OCLNN_ARG(ih_n),    OCLNN_ARG(iw_n),
                        OCLNN_ARG(oh_n),    OCLNN_ARG(ow_n),    OCLNN_ARG(pad_t),
                        OCLNN_ARG(pad_l),   OCLNN_ARG(nplanes), OCLNN_ARG(cin),
                        OCLNN_ARG(cout),    OCLNN_ARG(kg),      OCLNN_ARG(accum)};
    size_t global = (size_t)nplanes * oclnn__div_up((size_t)oh_n, (size_t)rb) *
                    oclnn__div_up((size_t)ow_n, (size_t)vw),
           local = LOCAL_ROWS;
    return oclnn__launch(ctx, OP, k, args, sizeof args / sizeof args[0], 1, &global, &local);
}

oclnn_status oclnn__conv_depthwise_forward(oclnn_context *ctx, const oclnn_conv_geom *g,
                                           oclnn_activation act, int residual_before_act,
                                           const oclnn_tensor *x, const oclnn_tensor *w,
                                           const oclnn_tensor *b, const oclnn_tensor *z,
                                           oclnn_tensor *y)
{
    epilogue e = {0, b != NULL, z != NULL, z != NULL && residual_before_act, (int)act};
    return rows(ctx, g, &e, x, w, b, z, y, g->h, g->w, g->oh, g->ow, g->pad_t, g->pad_l,
                g->n * g->k, g->c, g->k, 0);
}

oclnn_status oclnn__conv_depthwise_backward_data(oclnn_context *ctx, const oclnn_conv_geom *g,
                                                 const oclnn_tensor *dy, const oclnn_tensor *w,
                                                 oclnn_tensor *dx, float beta)
{
    int accum = beta != 0.0f;
    if (g->stride_h == 1 && g->stride_w == 1) {
        /* dx is the correlation of dy with the flipped weights, padded by the kernel extent
         * minus the forward padding. */
        epilogue e = {1, 0, 0, 0, 0};
        return rows(ctx, g, &e, dy, w, NULL, NULL, dx, g->oh, g->ow, g->h, g->w,
                    (g->r - 1) * g->dil_h - g->pad_t, (g->s - 1) * g->dil_w - g->pad_l, g->n * g->c,
                    g->k, g->c, accum);
    }
    epilogue e = {0, 0, 0, 0, 0};
    cl_kernel k;
    oclnn_status s = get_kernel(ctx, g, vec_width(g->ow), 4, &e, "dw_dgrad_gather", &k);
    if (s != OCLNN_SUCCESS)
        return s;
    cl_ulong dy_off = dy->offset, w_off = w->offset, dx_off = dx->offset;
    int kg = g->kg;
    oclnn_arg args[] = {
        OCLNN_ARG(dy->mem), OCLNN_ARG(dy_off), OCLNN_ARG(w->mem),   OCLNN_ARG(w_off),
        OCLNN_ARG(dx->mem), OCLNN_ARG(dx_off), OCLNN_ARG(g->h),     OCLNN_ARG(g->w),
        OCLNN_ARG(g->oh),   OCLNN_ARG(g->ow),  OCLNN_ARG(g->pad_t), OCLNN_ARG(g->pad_l),
        OCLNN_ARG(g->n),    OCLNN_ARG(g->c),   OCLNN_ARG(kg),       OCLNN_ARG(accum)};
    size_t global = (size_t)g->n * g->c * g->h * g->w, local = LOCAL_FLAT;
    return oclnn__launch(ctx, OP, k, args, sizeof args / sizeof args[0], 1, &global, &local);
}

/* Images per stage-1 block and the number of blocks. */
static void wgrad_blocks(const oclnn_conv_geom *g, int *npb, int *nblk)
{
    size_t plane = ((size_t)g->h * g->w + (size_t)g->oh * g->ow) * sizeof(float);
    size_t per = WGRAD_BLOCK_BYTES / (plane ? plane : 1);
    int p = per < 1 ? 1 : per > (size_t)g->n ? g->n : (int)per;
    size_t items_per_block = (size_t)g->k * (g->r + 1);
    while (p > 1 && oclnn__div_up((size_t)g->n, (size_t)p) * items_per_block < WGRAD_MIN_ITEMS)
        p = (p + 1) / 2;
    *npb = p;
    *nblk = (int)oclnn__div_up((size_t)g->n, (size_t)p);
}

size_t oclnn__conv_depthwise_workspace_size(const oclnn_conv_geom *g, oclnn_conv_pass pass)
{
    if (pass != OCLNN_CONV_BACKWARD_WEIGHTS)
        return 0;
    int npb, nblk;
    wgrad_blocks(g, &npb, &nblk);
    return (size_t)nblk * g->k * ((size_t)g->r * g->s + 1) * sizeof(float);
}

oclnn_status oclnn__conv_depthwise_backward_weights(oclnn_context *ctx, const oclnn_conv_geom *g,
                                                    const oclnn_tensor *x, const oclnn_tensor *dy,
                                                    oclnn_tensor *dw, oclnn_tensor *db, float beta)
{
    int npb, nblk;
    wgrad_blocks(g, &npb, &nblk);
    cl_mem part;
    oclnn_status s = oclnn__workspace(
        ctx, oclnn__conv_depthwise_workspace_size(g, OCLNN_CONV_BACKWARD_WEIGHTS), OP, &part);
    if (s != OCLNN_SUCCESS)
        return s;
    epilogue e = {0, 0, 0, 0, 0};
    cl_kernel k1, k2;
    s = get_kernel(ctx, g, vec_width(g->ow), 4, &e, "dw_wgrad", &k1);
    if (s == OCLNN_SUCCESS)
        s = get_kernel(ctx, g, vec_width(g->ow), 4, &e, "dw_wsum", &k2);
    if (s != OCLNN_SUCCESS)
        return s;

    cl_ulong x_off = x->offset, dy_off = dy->offset;
    int kg = g->kg;
    oclnn_arg a1[] = {
        OCLNN_ARG(x->mem), OCLNN_ARG(x_off),    OCLNN_ARG(dy->mem),  OCLNN_ARG(dy_off),
        OCLNN_ARG(part),   OCLNN_ARG(g->h),     OCLNN_ARG(g->w),     OCLNN_ARG(g->oh),
        OCLNN_ARG(g->ow),  OCLNN_ARG(g->pad_t), OCLNN_ARG(g->pad_l), OCLNN_ARG(g->n),
        OCLNN_ARG(g->c),   OCLNN_ARG(kg),       OCLNN_ARG(npb),      OCLNN_ARG(nblk)};
    size_t global = (size_t)g->k * nblk * (g->r + 1), local = LOCAL_WGRAD;
    s = oclnn__launch(ctx, OP, k1, a1, sizeof a1 / sizeof a1[0], 1, &global, &local);
    if (s != OCLNN_SUCCESS)
        return s;

    cl_mem dbm = db ? db->mem : dw->mem;
    cl_ulong dw_off = dw->offset, db_off = db ? db->offset : 0;
    int k = g->k, has_db = db != NULL, accum = beta != 0.0f;
    oclnn_arg a2[] = {OCLNN_ARG(part),    OCLNN_ARG(nblk),   OCLNN_ARG(k),
                      OCLNN_ARG(dw->mem), OCLNN_ARG(dw_off), OCLNN_ARG(dbm),
                      OCLNN_ARG(db_off),  OCLNN_ARG(has_db), OCLNN_ARG(accum)};
    global = (size_t)g->k * ((size_t)g->r * g->s + 1);
    local = LOCAL_FLAT;
    return oclnn__launch(ctx, OP, k2, a2, sizeof a2 / sizeof a2[0], 1, &global, &local);
}
