/* conv_depthwise.c - depthwise convolution (groups == channels) on tiled vector kernels that read
 * a zero-padded input tile in local memory, or a padded copy of their input where it does not fit
 * (cl/conv2d_depthwise*.cl): forward with a fused epilogue, backward data (flipped-weight forward
 * for stride 1, a gather otherwise) and a deterministic two-stage backward weights. */
#include "conv_algos.h"
#include "tune.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define CL_FILE "conv2d_depthwise.cl"
#define CL_GRAD_FILE "conv2d_depthwise_grad.cl"
#define OP "conv2d"
/* Fixed local sizes: POCL compiles every (kernel, local size) pair once. */
#define LOCAL_ROWS 16
#define LOCAL_WGRAD 8
#define LOCAL_FLAT 64
/* Output rows per tile work-item, unless tuned (RB): 8 vector accumulators hide the FMA latency;
 * on AVX-512 CPUs, whose 32 vector registers hold 14 and a kernel column of weights, 14
 * (ConvNeXt's 7x7 layers at batch 32 in 0.80-0.88x the time of 7 or 8 rows), as long as the input
 * rows an item reads stay within NIR_UNROLL_WIDE: the kernel unrolls its loop over them up to that
 * many (NIR_UNROLL elsewhere). */
#define RB_MAX 8
#define RB_MAX_WIDE OCLNN__DEPTHWISE_RB_MAX
#define NIR_UNROLL 16
#define NIR_UNROLL_WIDE 24
/* Images per backward-weights block: about this many bytes of x and dy planes, so the work-items
 * of one (channel, block) that stream the same planes find them in the L2 cache. */
#define WGRAD_BLOCK_BYTES (256 * 1024)
/* Fewer stage-1 work-items than this leaves cores idle: split the batch further. */
#define WGRAD_MIN_ITEMS 64

/* Work-items per dw_local work-group: planes are grouped up to this many, bands hold at most
 * LOCAL_TILE_MAX. */
#define LOCAL_TILE_TARGET 32
#define LOCAL_TILE_MAX 256

size_t oclnn__depthwise_chunk_bytes = (size_t)8 << 20;
/* Test hooks: a cap on the bytes of one dw_local work-group's input tile (none by default), a cap
 * on the row blocks per band, and building the tile kernels as for a GPU (the work-items share
 * the tile's fill, the weights are floats), to reach every path on a CPU. */
size_t oclnn__depthwise_tile_bytes = SIZE_MAX;
int oclnn__depthwise_band_blocks = 1 << 30;
int oclnn__depthwise_as_gpu = 0;

/* Output columns per work-item (the vector width) for an output row of `ow` columns. */
static int vec_width(int ow)
{
    return ow >= 12 ? 16 : ow >= 6 ? 8 : 4;
}

typedef struct epilogue {
    int bwd, has_bias, has_res, res_before, act;
} epilogue;

/* Kernel rows per backward-weights work-item: its RBW x S vector accumulators, the S input
 * vectors and dy fit the vector registers: 21 accumulators of the 32 registers of AVX-512; 10 of
 * AVX2's 16 (measured on POCL, 2-core Zen 3, ConvNeXt 7x7 layers at batch 32: one kernel row
 * per work-item 1.2-1.6x faster than three, which spill). */
static int wgrad_rows(const oclnn_context *ctx, const oclnn_conv_geom *g)
{
    if (g->stride_h != 1)
        return 1;
    const bool wide =
        !(ctx->info.type & CL_DEVICE_TYPE_CPU) || ctx->info.native_vector_width_float >= 16;
    int rbw = (wide ? 21 : 10) / g->s;
    return rbw < 1 ? 1 : rbw > g->r ? g->r : rbw;
}

/* Whether the tile kernels take RB_MAX_WIDE rows per item (AVX-512 CPUs). */
static bool wide_rows(const oclnn_context *ctx)
{
    return (ctx->info.type & CL_DEVICE_TYPE_CPU) && ctx->info.native_vector_width_float >= 16 &&
           !oclnn__depthwise_as_gpu;
}

/* Output rows per tile work-item for outputs of oh rows: the tuned RB (at most oh), else of
 * rb - 1 and rb (RB_MAX, or on wide rows the most up to RB_MAX_WIDE whose input rows fit
 * NIR_UNROLL_WIDE), the one that computes fewer rows past the last (7 for the 14 and 28 rows of
 * ConvNeXt's planes with RB_MAX, 14 with RB_MAX_WIDE). */
static int rows_per_item(const oclnn_context *ctx, const oclnn_conv_geom *g,
                         const oclnn_conv_tuning *t, int oh)
{
    if (t->dw_rb)
        return t->dw_rb < oh ? t->dw_rb : oh;
    int rb = RB_MAX;
    if (wide_rows(ctx)) {
        rb = RB_MAX_WIDE;
        while (rb > RB_MAX && (rb - 1) * g->stride_h + (g->r - 1) * g->dil_h + 1 > NIR_UNROLL_WIDE)
            rb--;
    }
    if (oh <= rb)
        return oh;
    int a = rb - 1, b = rb;
    return (oh + a - 1) / a * a < (oh + b - 1) / b * b ? a : b;
}

/* The tile kernel `name` (cl/conv2d_depthwise.cl) for outputs of ow columns and oh rows. */
static oclnn_status rows_kernel(oclnn_context *ctx, const oclnn_conv_geom *g,
                                const oclnn_conv_tuning *t, int oh, int ow, const epilogue *e,
                                const char *name, cl_kernel *k)
{
    char opts[320];
    snprintf(opts, sizeof opts,
             "-DR=%d -DS=%d -DSH=%d -DSW=%d -DDH=%d -DDW=%d -DVW=%d -DRB=%d -DBWD=%d "
             "-DHAS_BIAS=%d -DHAS_RES=%d -DRES_BEFORE=%d -DACT=%d -DLOCAL_TILE=%d -DFILL_ONE=%d "
             "-DWVEC=%d -DNIR_UNROLL=%d",
             g->r, g->s, g->stride_h, g->stride_w, g->dil_h, g->dil_w, vec_width(ow),
             rows_per_item(ctx, g, t, oh), e->bwd, e->has_bias, e->has_res, e->res_before, e->act,
             strcmp(name, "dw_local") == 0,
             ctx->info.local_mem_is_global && !oclnn__depthwise_as_gpu,
             (ctx->info.type & CL_DEVICE_TYPE_CPU) && !oclnn__depthwise_as_gpu,
             wide_rows(ctx) ? NIR_UNROLL_WIDE : NIR_UNROLL);
    return oclnn__kernel(ctx, CL_FILE, opts, name, k);
}

/* A kernel of cl/conv2d_depthwise_grad.cl; one program per geometry. */
static oclnn_status grad_kernel(oclnn_context *ctx, const oclnn_conv_geom *g, const char *name,
                                cl_kernel *k)
{
    char opts[160];
    snprintf(opts, sizeof opts, "-DR=%d -DS=%d -DSH=%d -DSW=%d -DDH=%d -DDW=%d -DVW=%d -DRBW=%d",
             g->r, g->s, g->stride_h, g->stride_w, g->dil_h, g->dil_w, vec_width(g->ow),
             wgrad_rows(ctx, g));
    return oclnn__kernel(ctx, CL_GRAD_FILE, opts, name, k);
}

/* The zero-padded copy of input planes [nplanes][h][w] that a tile kernel reads without bounds
 * checks: rows of wp columns, hp rows per plane, then zero rows for the reads of the last tiles
 * past the last row: a last row block reads up to RB_MAX_WIDE - 1 output rows past the plane's
 * last (whose values it drops), and a last tile past the row's end. */
typedef oclnn_plane_pad padded;

/* The columns the tiles of an output row of ow columns read: the last tile of a row starts at
 * (ntw - 1) * VW * SW, and a tap's vector spans 2 * VW columns at stride 2 (gather). */
static int columns_read(const oclnn_conv_geom *g, int ow)
{
    int vw = vec_width(ow), sw = g->stride_w;
    int tap_span = sw == 2 ? 2 * vw : (vw - 1) * sw + 1;
    int ntw = (int)oclnn__div_up((size_t)ow, (size_t)vw);
    return (ntw - 1) * vw * sw + (g->s - 1) * g->dil_w + tap_span;
}

static padded pad_shape(const oclnn_conv_geom *g, int nplanes, int h, int w, int oh, int ow,
                        int pad_t, int pad_l)
{
    padded p = {h, w, 0, 0, pad_t, pad_l, nplanes, 0};
    p.hp = (oh - 1) * g->stride_h + (g->r - 1) * g->dil_h + 1;
    p.wp = (ow - 1) * g->stride_w + (g->s - 1) * g->dil_w + 1;
    int last = columns_read(g, ow);
    int slack = last > p.wp ? last - p.wp : 0;
    p.nrows = nplanes * p.hp + (RB_MAX_WIDE - 1) * g->stride_h +
              (int)oclnn__div_up((size_t)slack, (size_t)p.wp);
    return p;
}

static size_t pad_floats(const padded *p)
{
    return (size_t)p->nrows * p->wp;
}

/* Images per chunk: the padded copy of a chunk (about oclnn__depthwise_chunk_bytes) is still in
 * cache when the tile kernel reads it. A multiple of `unit` images. */
static int chunk_images(const padded *p, int planes_per_image, int n, int unit)
{
    size_t per = (size_t)planes_per_image * p->hp * p->wp * sizeof(float) * (size_t)unit;
    size_t units = oclnn__depthwise_chunk_bytes / (per ? per : 1);
    size_t imgs = (units ? units : 1) * (size_t)unit;
    return imgs > (size_t)n ? n : (int)imgs;
}

/* The padded shape of `imgs` images of a chunk (p describes the whole batch). */
static padded chunk_pad(const oclnn_conv_geom *g, const padded *p, int planes_per_image, int imgs,
                        int oh, int ow)
{
    return pad_shape(g, imgs * planes_per_image, p->h, p->w, oh, ow, p->pad_t, p->pad_l);
}

/* How dw_local covers output planes of oh x ow: work-groups of `local` work-items own pp planes x
 * one band of br output rows (nbands per plane) and fill a tile of th x tcols floats per plane.
 * local 0: no band of one row block fits, dw_rows takes it. */
typedef struct tiling {
    int pp, br, nbands, th, tcols;
    size_t local;
} tiling;

/* The most bytes of a dw_local work-group's input tile: tuned (TILE) or the device default,
 * never more than the device's local memory (or the tests' cap). */
static size_t tile_budget(const oclnn_context *ctx, const oclnn_conv_tuning *tu)
{
    size_t b =
        tu->dw_tile < oclnn__depthwise_tile_bytes ? tu->dw_tile : oclnn__depthwise_tile_bytes;
    return b < ctx->info.local_mem_bytes ? b : (size_t)ctx->info.local_mem_bytes;
}

static tiling plan_tiles(const oclnn_context *ctx, const oclnn_conv_geom *g,
                         const oclnn_conv_tuning *tu, int nplanes, int oh, int ow)
{
    tiling t = {0};
    const int rb = rows_per_item(ctx, g, tu, oh), nrb = (int)oclnn__div_up((size_t)oh, (size_t)rb);
    const int ntw = (int)oclnn__div_up((size_t)ow, (size_t)vec_width(ow));
    size_t budget = tile_budget(ctx, tu);
    size_t max_local = ctx->info.max_work_group_size < LOCAL_TILE_MAX
                           ? ctx->info.max_work_group_size
                           : LOCAL_TILE_MAX;
    budget /= sizeof(float);
    t.tcols = columns_read(g, ow);
    /* The most row blocks per band that fit, then bands of equal blocks. */
    int k = nrb < oclnn__depthwise_band_blocks ? nrb : oclnn__depthwise_band_blocks;
    for (; k > 0; k--) {
        size_t th = (size_t)(k * rb - 1) * g->stride_h + (size_t)(g->r - 1) * g->dil_h + 1;
        if (th * t.tcols <= budget && (size_t)k * ntw <= max_local)
            break;
    }
    if (k == 0)
        return t;
    t.nbands = (int)oclnn__div_up((size_t)nrb, (size_t)k);
    k = (int)oclnn__div_up((size_t)nrb, (size_t)t.nbands);
    t.br = k * rb;
    t.th = (k * rb - 1) * g->stride_h + (g->r - 1) * g->dil_h + 1;
    /* Whole small planes: several per work-group, so each group has work enough. */
    const size_t per_plane = (size_t)k * ntw, tile = (size_t)t.th * t.tcols;
    t.pp = 1;
    while (t.nbands == 1 && 2 * t.pp <= nplanes && 2 * t.pp * per_plane <= LOCAL_TILE_TARGET &&
           2 * t.pp * tile <= budget)
        t.pp *= 2;
    t.local = t.pp * per_plane;
    return t;
}

/* Whether dw_local takes a pass planned as t: its tile fits, and backward data has one dy plane
 * per dx plane. */
static bool takes_local(const tiling *t, const oclnn_conv_geom *g, bool bwd)
{
    return t->local && !(bwd && g->kg != 1);
}

/* dw_local over the output planes of every image ([cout][oh_n][ow_n] per image) from `in`
 * padded as p describes. */
static oclnn_status local_tiles(oclnn_context *ctx, const oclnn_conv_geom *g,
                                const oclnn_conv_tuning *tu, const epilogue *e, const tiling *t,
                                const padded *p, const oclnn_tensor *in, const oclnn_tensor *w,
                                const oclnn_tensor *b, const oclnn_tensor *z, oclnn_tensor *out,
                                int oh_n, int ow_n, int cin, int cout, int accum)
{
    cl_kernel k;
    oclnn_status s = rows_kernel(ctx, g, tu, oh_n, ow_n, e, "dw_local", &k);
    if (s != OCLNN_SUCCESS)
        return s;
    /* Unused pointers still need a valid buffer argument. */
    cl_mem bm = b ? b->mem : in->mem, zm = z ? z->mem : in->mem;
    cl_ulong in_off = in->offset, w_off = w->offset, b_off = b ? b->offset : 0,
             z_off = z ? z->offset : 0, out_off = out->offset;
    int kg = g->kg, nplanes = g->n * cout, h = p->h, iw = p->w, pad_t = p->pad_t, pad_l = p->pad_l,
        pp = t->pp, br = t->br, th = t->th, tcols = t->tcols;
    oclnn_arg args[] = {
        OCLNN_ARG(in->mem),  OCLNN_ARG(in_off),
        OCLNN_ARG(w->mem),   OCLNN_ARG(w_off),
        OCLNN_ARG(bm),       OCLNN_ARG(b_off),
        OCLNN_ARG(zm),       OCLNN_ARG(z_off),
        OCLNN_ARG(out->mem), OCLNN_ARG(out_off),
        OCLNN_ARG(h),        OCLNN_ARG(iw),
        OCLNN_ARG(oh_n),     OCLNN_ARG(ow_n),
        OCLNN_ARG(pad_t),    OCLNN_ARG(pad_l),
        OCLNN_ARG(nplanes),  OCLNN_ARG(cin),
        OCLNN_ARG(cout),     OCLNN_ARG(kg),
        OCLNN_ARG(accum),    OCLNN_ARG(pp),
        OCLNN_ARG(br),       OCLNN_ARG(th),
        OCLNN_ARG(tcols),    OCLNN_ARG_LOCAL((size_t)pp * th * tcols * sizeof(float))};
    size_t global = oclnn__div_up((size_t)nplanes, (size_t)pp) * t->nbands * t->local;
    return oclnn__launch(ctx, OP, k, args, sizeof args / sizeof args[0], 1, &global, &t->local);
}

/* Enqueues the tile kernel over the output planes of every image ([cout][oh_n][ow_n] per image):
 * dw_local where its tile fits (and backward data has one dy plane per dx plane), else for each
 * chunk of images pads `in` into the workspace, then dw_rows. p is the padded shape of the
 * batch. */
static oclnn_status rows(oclnn_context *ctx, const oclnn_conv_geom *g, const epilogue *e,
                         const padded *p, const oclnn_tensor *in, const oclnn_tensor *w,
                         const oclnn_tensor *b, const oclnn_tensor *z, oclnn_tensor *out, int oh_n,
                         int ow_n, int cin, int cout, int accum)
{
    const oclnn_conv_tuning tu =
        oclnn__conv_tuning(ctx, g, e->bwd ? OCLNN_CONV_BACKWARD_DATA : OCLNN_CONV_FORWARD);
    const tiling t = plan_tiles(ctx, g, &tu, g->n * cout, oh_n, ow_n);
    if (takes_local(&t, g, e->bwd))
        return local_tiles(ctx, g, &tu, e, &t, p, in, w, b, z, out, oh_n, ow_n, cin, cout, accum);
    const int vw = vec_width(ow_n), rb = rows_per_item(ctx, g, &tu, oh_n);
    const int chunk = chunk_images(p, cin, g->n, 1);
    const padded pc = chunk_pad(g, p, cin, chunk, oh_n, ow_n);
    cl_kernel k;
    oclnn_status s = rows_kernel(ctx, g, &tu, oh_n, ow_n, e, "dw_rows", &k);
    cl_mem ws = NULL;
    if (s == OCLNN_SUCCESS)
        s = oclnn__workspace(ctx, pad_floats(&pc) * sizeof(float), OP, &ws);
    const size_t in_image = (size_t)cin * p->h * p->w, out_image = (size_t)cout * oh_n * ow_n;
    for (int i0 = 0; s == OCLNN_SUCCESS && i0 < g->n; i0 += chunk) {
        const int imgs = g->n - i0 < chunk ? g->n - i0 : chunk;
        const padded pi = chunk_pad(g, p, cin, imgs, oh_n, ow_n);
        s = oclnn__pad_planes(ctx, OP, &pi, in->mem, in->offset + (size_t)i0 * in_image, ws, 0);
        if (s != OCLNN_SUCCESS)
            break;
        /* Unused pointers still need a valid buffer argument. */
        cl_mem bm = b ? b->mem : ws, zm = z ? z->mem : ws;
        cl_ulong ws_off = 0, w_off = w->offset, b_off = b ? b->offset : 0,
                 z_off = z ? z->offset + (size_t)i0 * out_image : 0,
                 out_off = out->offset + (size_t)i0 * out_image;
        int kg = g->kg, nplanes = imgs * cout;
        oclnn_arg args[] = {
            OCLNN_ARG(ws),       OCLNN_ARG(ws_off),  OCLNN_ARG(w->mem),  OCLNN_ARG(w_off),
            OCLNN_ARG(bm),       OCLNN_ARG(b_off),   OCLNN_ARG(zm),      OCLNN_ARG(z_off),
            OCLNN_ARG(out->mem), OCLNN_ARG(out_off), OCLNN_ARG(pi.hp),   OCLNN_ARG(pi.wp),
            OCLNN_ARG(oh_n),     OCLNN_ARG(ow_n),    OCLNN_ARG(nplanes), OCLNN_ARG(cin),
            OCLNN_ARG(cout),     OCLNN_ARG(kg),      OCLNN_ARG(accum)};
        size_t global = (size_t)nplanes * oclnn__div_up((size_t)oh_n, (size_t)rb) *
                        oclnn__div_up((size_t)ow_n, (size_t)vw),
               local = LOCAL_ROWS;
        s = oclnn__launch(ctx, OP, k, args, sizeof args / sizeof args[0], 1, &global, &local);
    }
    return s;
}

static padded forward_pad(const oclnn_conv_geom *g)
{
    return pad_shape(g, g->n * g->c, g->h, g->w, g->oh, g->ow, g->pad_t, g->pad_l);
}

/* Backward data for stride 1 reads dy padded by the kernel extent minus the forward pads. */
static padded backward_pad(const oclnn_conv_geom *g)
{
    return pad_shape(g, g->n * g->k, g->oh, g->ow, g->h, g->w, (g->r - 1) * g->dil_h - g->pad_t,
                     (g->s - 1) * g->dil_w - g->pad_l);
}

static bool stride_one(const oclnn_conv_geom *g)
{
    return g->stride_h == 1 && g->stride_w == 1;
}

void oclnn__conv_depthwise_params(const oclnn_context *ctx, const oclnn_conv_geom *g,
                                  oclnn_conv_pass pass, int *v)
{
    for (int i = 1; i < OCLNN__CP_COUNT; i++)
        v[i] = 0;
    const bool fwd = pass == OCLNN_CONV_FORWARD;
    if (!fwd && !(pass == OCLNN_CONV_BACKWARD_DATA && stride_one(g)))
        return; /* the gather and backward weights have no tile kernel */
    const oclnn_conv_tuning tu = oclnn__conv_tuning(ctx, g, pass);
    const int oh = fwd ? g->oh : g->h, ow = fwd ? g->ow : g->w;
    v[OCLNN__CP_RB] = rows_per_item(ctx, g, &tu, oh);
    const tiling t = plan_tiles(ctx, g, &tu, g->n * (fwd ? g->k : g->c), oh, ow);
    if (takes_local(&t, g, !fwd))
        v[OCLNN__CP_TILE] = (int)(tile_budget(ctx, &tu) >> 10);
}

oclnn_status oclnn__conv_depthwise_forward(oclnn_context *ctx, const oclnn_conv_geom *g,
                                           oclnn_activation act, int residual_before_act,
                                           const oclnn_tensor *x, const oclnn_tensor *w,
                                           const oclnn_tensor *b, const oclnn_tensor *z,
                                           oclnn_tensor *y)
{
    epilogue e = {0, b != NULL, z != NULL, z != NULL && residual_before_act, (int)act};
    padded p = forward_pad(g);
    return rows(ctx, g, &e, &p, x, w, b, z, y, g->oh, g->ow, g->c, g->k, 0);
}

oclnn_status oclnn__conv_depthwise_backward_data(oclnn_context *ctx, const oclnn_conv_geom *g,
                                                 const oclnn_tensor *dy, const oclnn_tensor *w,
                                                 oclnn_tensor *dx, float beta)
{
    int accum = beta != 0.0f;
    if (stride_one(g)) {
        /* dx is the correlation of dy with the flipped weights. */
        epilogue e = {1, 0, 0, 0, 0};
        padded p = backward_pad(g);
        return rows(ctx, g, &e, &p, dy, w, NULL, NULL, dx, g->h, g->w, g->k, g->c, accum);
    }
    cl_kernel k;
    oclnn_status s = grad_kernel(ctx, g, "dw_dgrad_gather", &k);
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
static void wgrad_blocks(const oclnn_context *ctx, const oclnn_conv_geom *g, int *npb, int *nblk)
{
    size_t plane = ((size_t)g->h * g->w + (size_t)g->oh * g->ow) * sizeof(float);
    size_t per = WGRAD_BLOCK_BYTES / (plane ? plane : 1);
    int p = per < 1 ? 1 : per > (size_t)g->n ? g->n : (int)per;
    const int rbw = wgrad_rows(ctx, g);
    size_t items_per_block = (size_t)g->k * ((g->r + rbw - 1) / rbw + 1);
    while (p > 1 && oclnn__div_up((size_t)g->n, (size_t)p) * items_per_block < WGRAD_MIN_ITEMS)
        p = (p + 1) / 2;
    *npb = p;
    *nblk = (int)oclnn__div_up((size_t)g->n, (size_t)p);
}

/* Backward weights keeps its partial sums first, then the padded x at this float offset. */
static size_t wgrad_pad_offset(const oclnn_conv_geom *g, int nblk)
{
    return oclnn__round_up((size_t)nblk * g->k * ((size_t)g->r * g->s + 1), 16);
}

/* dy of `imgs` images for backward weights: rows padded with zeros to whole vectors. */
static padded dy_pad(const oclnn_conv_geom *g, int imgs)
{
    int owp = (int)oclnn__round_up((size_t)g->ow, (size_t)vec_width(g->ow));
    padded p = {g->oh, g->ow, g->oh, owp, 0, 0, imgs * g->k, imgs * g->k * g->oh};
    return p;
}

/* Workspace floats of the padded copy of one chunk of images. */
static size_t chunk_floats(const oclnn_conv_geom *g, const padded *p, int planes_per_image,
                           int unit, int oh, int ow)
{
    padded pc =
        chunk_pad(g, p, planes_per_image, chunk_images(p, planes_per_image, g->n, unit), oh, ow);
    return pad_floats(&pc);
}

/* Backward weights: images per chunk (whole blocks) and the float offset of the padded dy. */
static int wgrad_chunk(const oclnn_conv_geom *g, int npb, int nblk, size_t *dy_off)
{
    padded p = forward_pad(g);
    int chunk = chunk_images(&p, g->c, g->n, npb);
    *dy_off = oclnn__round_up(
        wgrad_pad_offset(g, nblk) + chunk_floats(g, &p, g->c, npb, g->oh, g->ow), 16);
    return chunk;
}

size_t oclnn__conv_depthwise_workspace_size(const oclnn_context *ctx, const oclnn_conv_geom *g,
                                            oclnn_conv_pass pass)
{
    padded p;
    switch (pass) {
    case OCLNN_CONV_FORWARD:
        p = forward_pad(g);
        return chunk_floats(g, &p, g->c, 1, g->oh, g->ow) * sizeof(float);
    case OCLNN_CONV_BACKWARD_DATA:
        if (!stride_one(g))
            return 0;
        p = backward_pad(g);
        return chunk_floats(g, &p, g->k, 1, g->h, g->w) * sizeof(float);
    default: break;
    }
    int npb, nblk;
    size_t dy_off;
    wgrad_blocks(ctx, g, &npb, &nblk);
    int chunk = wgrad_chunk(g, npb, nblk, &dy_off);
    p = dy_pad(g, chunk);
    return (dy_off + pad_floats(&p)) * sizeof(float);
}

oclnn_status oclnn__conv_depthwise_backward_weights(oclnn_context *ctx, const oclnn_conv_geom *g,
                                                    const oclnn_tensor *x, const oclnn_tensor *dy,
                                                    oclnn_tensor *dw, oclnn_tensor *db, float beta)
{
    int npb, nblk;
    size_t dyp_off;
    wgrad_blocks(ctx, g, &npb, &nblk);
    const padded p = forward_pad(g);
    const int chunk = wgrad_chunk(g, npb, nblk, &dyp_off);
    const int rbw = wgrad_rows(ctx, g);
    cl_kernel k1, k2;
    oclnn_status s = grad_kernel(ctx, g, "dw_wgrad", &k1);
    if (s == OCLNN_SUCCESS)
        s = grad_kernel(ctx, g, "dw_wsum", &k2);
    cl_mem ws = NULL;
    if (s == OCLNN_SUCCESS)
        s = oclnn__workspace(
            ctx, oclnn__conv_depthwise_workspace_size(ctx, g, OCLNN_CONV_BACKWARD_WEIGHTS), OP,
            &ws);
    const cl_ulong xp_off = wgrad_pad_offset(g, nblk), dp_off = dyp_off;
    const size_t x_image = (size_t)g->c * g->h * g->w, dy_image = (size_t)g->k * g->oh * g->ow;
    const int ngroups = (g->r + rbw - 1) / rbw;
    /* Each chunk is whole blocks: pad its images, then sum its blocks into their partials. */
    for (int i0 = 0; s == OCLNN_SUCCESS && i0 < g->n; i0 += chunk) {
        const int imgs = g->n - i0 < chunk ? g->n - i0 : chunk;
        const padded pi = chunk_pad(g, &p, g->c, imgs, g->oh, g->ow), pd = dy_pad(g, imgs);
        s = oclnn__pad_planes(ctx, OP, &pi, x->mem, x->offset + (size_t)i0 * x_image, ws, xp_off);
        if (s == OCLNN_SUCCESS)
            s = oclnn__pad_planes(ctx, OP, &pd, dy->mem, dy->offset + (size_t)i0 * dy_image, ws,
                                  dp_off);
        if (s != OCLNN_SUCCESS)
            break;
        int kg = g->kg, blk0 = i0 / npb, nb = (int)oclnn__div_up((size_t)imgs, (size_t)npb);
        oclnn_arg a1[] = {OCLNN_ARG(ws),    OCLNN_ARG(xp_off), OCLNN_ARG(ws),    OCLNN_ARG(dp_off),
                          OCLNN_ARG(ws),    OCLNN_ARG(pi.hp),  OCLNN_ARG(pi.wp), OCLNN_ARG(g->oh),
                          OCLNN_ARG(pd.wp), OCLNN_ARG(g->c),   OCLNN_ARG(kg),    OCLNN_ARG(npb),
                          OCLNN_ARG(blk0),  OCLNN_ARG(nb),     OCLNN_ARG(g->n)};
        size_t global = (size_t)g->k * nb * (ngroups + 1), local = LOCAL_WGRAD;
        s = oclnn__launch(ctx, OP, k1, a1, sizeof a1 / sizeof a1[0], 1, &global, &local);
    }
    if (s != OCLNN_SUCCESS)
        return s;

    cl_mem dbm = db ? db->mem : dw->mem;
    cl_ulong dw_off = dw->offset, db_off = db ? db->offset : 0;
    int k = g->k, has_db = db != NULL, accum = beta != 0.0f;
    oclnn_arg a2[] = {OCLNN_ARG(ws),      OCLNN_ARG(nblk),   OCLNN_ARG(k),
                      OCLNN_ARG(dw->mem), OCLNN_ARG(dw_off), OCLNN_ARG(dbm),
                      OCLNN_ARG(db_off),  OCLNN_ARG(has_db), OCLNN_ARG(accum)};
    size_t global = (size_t)g->k * ((size_t)g->r * g->s + 1), local = LOCAL_FLAT;
    return oclnn__launch(ctx, OP, k2, a2, sizeof a2 / sizeof a2[0], 1, &global, &local);
}
