/* pool.c - 2-D max/average pooling and global average pooling, NCHW (cl/pool.cl). Backward
 * passes are gathers over the windows containing each input element (max: of the arg-max codes
 * the training forward kept, or that a first pass finds): deterministic, no atomics. */
#include "internal.h"

#define POOL_ROWS 4
#define POOL_FWD_ROWS 8
#define POOL_VEC 8
#define POOL_GATHER_ROWS 16
#define STR_(x) #x
#define STR(x) STR_(x)
#define POOL_ROW_OPTS " -DFWD_ROWS=" STR(POOL_FWD_ROWS) " -DGATHER_ROWS=" STR(POOL_GATHER_ROWS)
#define POOL_OPTS "-DVEC=" STR(POOL_VEC) " -DROWS=" STR(POOL_ROWS) POOL_ROW_OPTS
/* Window kernels: each work-item handles runs of 16 columns in POOL_FWD_ROWS output rows
 * (forward, arg-max codes), 8 columns in POOL_ROWS input rows (one-pass backward) or 16 strides
 * of columns in POOL_GATHER_ROWS input rows (backward gathers); fixed local size of 8 x 8
 * work-items. */
#define RUN 8
#define GATHER_RUN 16 /* forward, arg-max and gather kernels: 16 columns per work-item */
#define GATHER_Q 4    /* as in cl/pool.cl */
static const size_t WIN_LOCAL[3] = {8, 8, 1};
#define PLANE_LOCAL 32
/* Tensors of at least this size outgrow the caches of the CPUs measured. On CPUs the backward
 * gathers write such a dx with non-temporal stores: nothing reads it before it leaves the caches,
 * and not reading each line before overwriting it nearly halves the gathers' memory traffic
 * (measured: dx written 3x faster on the POCL machine); smaller ones stay in the cache for the
 * next op. The forward and arg-max kernels sweep the rows of such an x (pool.cl's FWD_SWEEP:
 * ResNet's stem max pooling at batch 32 1.5-1.8x faster on a 2-core Zen 5; at batch 4, its x in
 * the cache, 1.1-1.2x slower). */
#define STREAM_MIN_BYTES ((size_t)16 << 20)

oclnn_pool2d_desc oclnn_pool2d_desc_default(void)
{
    return (oclnn_pool2d_desc){OCLNN_POOL_MAX, 2, 2, 2, 2, 0, 0, 0, 0};
}

/* Validates desc against the input shape x (named xname in messages: x, or dx for the backward
 * from the arg-max) and computes the output shape. */
static oclnn_status pool_shape(const oclnn_context *ctx, const char *op, const oclnn_pool2d_desc *d,
                               const char *xname, const oclnn_tensor_desc *x, oclnn_tensor_desc *y)
{
    if (!d)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: desc is NULL", op);
    if (!x)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: %s is NULL", op, xname);
    if (d->mode != OCLNN_POOL_MAX && d->mode != OCLNN_POOL_AVG &&
        d->mode != OCLNN_POOL_AVG_EXCLUDE_PAD)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: mode %d is not an oclnn_pool_mode", op,
                           (int)d->mode);
    const struct {
        const char *name;
        int v;
    } pos[] = {{"window_h", d->window_h},
               {"window_w", d->window_w},
               {"stride_h", d->stride_h},
               {"stride_w", d->stride_w}};
    for (int i = 0; i < 4; i++)
        if (pos[i].v < 1)
            return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: %s %d must be >= 1", op,
                               pos[i].name, pos[i].v);
    const struct {
        const char *name;
        int v;
        const char *wname;
        int window;
    } pads[] = {{"pad_top", d->pad_top, "window_h", d->window_h},
                {"pad_bottom", d->pad_bottom, "window_h", d->window_h},
                {"pad_left", d->pad_left, "window_w", d->window_w},
                {"pad_right", d->pad_right, "window_w", d->window_w}};
    for (int i = 0; i < 4; i++) {
        if (pads[i].v < 0)
            return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: %s %d must be >= 0", op,
                               pads[i].name, pads[i].v);
        if (pads[i].v >= pads[i].window)
            return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: %s %d must be smaller than %s %d",
                               op, pads[i].name, pads[i].v, pads[i].wname, pads[i].window);
    }
    char shape[64];
    if (x->dtype != OCLNN_F32 || x->ndim != 4 || oclnn_tensor_desc_count(x) == 0)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: %s %s (ndim %d, dtype %d) must be a 4-D f32 [n][c][h][w] shape "
                           "with every dimension >= 1",
                           op, xname, oclnn__shape_str(x, shape, sizeof shape), x->ndim,
                           (int)x->dtype);
    long ph = (long)x->dims[2] + d->pad_top + d->pad_bottom;
    long pw = (long)x->dims[3] + d->pad_left + d->pad_right;
    if (d->window_h > ph)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: window_h %d is larger than the padded input height %ld", op,
                           d->window_h, ph);
    if (d->window_w > pw)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: window_w %d is larger than the padded input width %ld", op,
                           d->window_w, pw);
    *y = oclnn_tensor_desc_4d(x->dims[0], x->dims[1], (int)(1 + (ph - d->window_h) / d->stride_h),
                              (int)(1 + (pw - d->window_w) / d->stride_w));
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_pool2d_output_shape(const oclnn_pool2d_desc *desc, const oclnn_tensor_desc *x,
                                       oclnn_tensor_desc *y)
{
    if (!y)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "pool2d_output_shape: y is NULL");
    *y = (oclnn_tensor_desc){OCLNN_F32, 0, {0, 0, 0, 0}};
    return pool_shape(NULL, "pool2d_output_shape", desc, "x", x, y);
}

static bool same_shape(const oclnn_tensor_desc *a, const oclnn_tensor_desc *b)
{
    if (a->ndim != b->ndim)
        return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i])
            return false;
    return true;
}

static oclnn_status check_shape(oclnn_context *ctx, const char *op, const char *name,
                                const oclnn_tensor *t, const oclnn_tensor_desc *want)
{
    if (same_shape(&t->desc, want))
        return OCLNN_SUCCESS;
    char a[64], b[64];
    return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: %s %s does not match the expected %s", op,
                       name, oclnn__shape_str(&t->desc, a, sizeof a),
                       oclnn__shape_str(want, b, sizeof b));
}

static const char *pool_kernel(oclnn_pool_mode mode, bool backward)
{
    static const char *const fwd[] = {"pool_max_forward", "pool_avg_forward",
                                      "pool_avg_exclude_pad_forward"};
    static const char *const bwd[] = {"pool_max_backward", "pool_avg_backward",
                                      "pool_avg_exclude_pad_backward"};
    return backward ? bwd[mode] : fwd[mode];
}

/* A window kernel's grid: blocks of `rows` rows x `run` columns over an h x w area (the outputs
 * for the forward kernels and the arg-max codes, the inputs for the backward ones). */
typedef struct pool_grid {
    size_t w, h, run, rows;
} pool_grid;

/* Launches the window kernel `name` of the program built with `opts`: args are the buffers, then
 * the shared geometry is appended. */
static oclnn_status launch_pool(oclnn_context *ctx, const oclnn_pool2d_desc *d, const char *opts,
                                const char *name, const oclnn_tensor_desc *x,
                                const oclnn_tensor_desc *y, pool_grid grid, oclnn_arg *args,
                                size_t nbuf)
{
    cl_kernel k;
    oclnn_status s = oclnn__kernel(ctx, "pool.cl", opts, name, &k);
    if (s != OCLNN_SUCCESS)
        return s;
    int geom[11] = {x->dims[2],
                    x->dims[3],
                    y->dims[2],
                    y->dims[3],
                    d->window_h,
                    d->window_w,
                    d->stride_h,
                    d->stride_w,
                    d->pad_top,
                    d->pad_left,
                    x->dims[0] * x->dims[1]};
    for (int i = 0; i < 11; i++)
        args[nbuf + (size_t)i] = OCLNN_ARG(geom[i]);
    size_t global[3] = {oclnn__div_up(grid.w, grid.run), oclnn__div_up(grid.h, grid.rows),
                        (size_t)geom[10]};
    return oclnn__launch(ctx, "pool2d", k, args, nbuf + 11, 3, global, WIN_LOCAL);
}

/* The options of the forward, arg-max and gather kernels for input shape xd, built for the window
 * and strides as constants (their loops then unroll): one program per pooling shape, and on CPUs
 * one with the rows swept for inputs beyond the caches. GATHER_Q covers the windows
 * of a row that reach an input column (the plain backward takes the gathers only where 4 do). */
static void shape_opts(const oclnn_context *ctx, const oclnn_pool2d_desc *d,
                       const oclnn_tensor_desc *xd, char *opts, size_t size)
{
    bool cpu = (ctx->info.type & CL_DEVICE_TYPE_CPU) != 0;
    bool sweep = cpu && oclnn_tensor_desc_count(xd) * sizeof(float) >= STREAM_MIN_BYTES;
    int q = (d->window_w + d->stride_w - 1) / d->stride_w;
    snprintf(opts, size,
             POOL_OPTS " -DWIN_H=%d -DWIN_W=%d -DSTRIDE_H=%d -DSTRIDE_W=%d -DNT_STORES=%d"
                       " -DFWD_SWEEP=%d -DGATHER_Q=%d",
             d->window_h, d->window_w, d->stride_h, d->stride_w, cpu ? 1 : 0, sweep ? 1 : 0,
             q > GATHER_Q ? q : GATHER_Q);
}

/* Whether the gathers write a dx of shape xd with non-temporal stores. */
static cl_int nt_stores(const oclnn_context *ctx, const oclnn_tensor_desc *xd)
{
    return (ctx->info.type & CL_DEVICE_TYPE_CPU) &&
           oclnn_tensor_desc_count(xd) * sizeof(float) >= STREAM_MIN_BYTES;
}

/* Grids of the gathers (over the inputs) and of the forward and arg-max kernels (over the
 * outputs). */
static pool_grid gather_grid(const oclnn_pool2d_desc *d, const oclnn_tensor_desc *xd)
{
    return (pool_grid){(size_t)xd->dims[3], (size_t)xd->dims[2], GATHER_RUN * (size_t)d->stride_w,
                       POOL_GATHER_ROWS};
}
static pool_grid window_grid(const oclnn_tensor_desc *yd)
{
    return (pool_grid){(size_t)yd->dims[3], (size_t)yd->dims[2], GATHER_RUN, POOL_FWD_ROWS};
}

/* Max-pool backward from arg-max codes (a byte per output at `code` + code_off). */
static oclnn_status max_gather(oclnn_context *ctx, const oclnn_pool2d_desc *d, const char *opts,
                               cl_mem code, size_t code_off, const oclnn_tensor *dy,
                               oclnn_tensor *dx, const oclnn_tensor_desc *yd)
{
    cl_ulong co = code_off, dyo = dy->offset, dxo = dx->offset;
    cl_int nt = nt_stores(ctx, &dx->desc);
    oclnn_arg args[7 + 11] = {OCLNN_ARG(code), OCLNN_ARG(co),      OCLNN_ARG(dy->mem),
                              OCLNN_ARG(dyo),  OCLNN_ARG(dx->mem), OCLNN_ARG(dxo),
                              OCLNN_ARG(nt)};
    return launch_pool(ctx, d, opts, "pool_max_gather", &dx->desc, yd, gather_grid(d, &dx->desc),
                       args, 7);
}

oclnn_status oclnn_pool2d_forward(oclnn_context *ctx, const oclnn_pool2d_desc *desc,
                                  const oclnn_tensor *x, oclnn_tensor *y)
{
    const char *op = "pool2d_forward";
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "%s: ctx is NULL", op);
    oclnn_status s = oclnn__check_tensor(ctx, op, "x", x);
    if (s == OCLNN_SUCCESS)
        s = oclnn__check_tensor(ctx, op, "y", y);
    oclnn_tensor_desc yd;
    if (s == OCLNN_SUCCESS)
        s = pool_shape(ctx, op, desc, "x", &x->desc, &yd);
    if (s == OCLNN_SUCCESS)
        s = check_shape(ctx, op, "y", y, &yd);
    if (s != OCLNN_SUCCESS)
        return s;
    /* x read, y written */
    const double xbytes = (double)oclnn_tensor_desc_count(&x->desc) * sizeof(float);
    oclnn__profile_work(ctx, "pool2d", 0, xbytes + oclnn_tensor_desc_count(&yd) * sizeof(float));
    cl_ulong xo = x->offset, yo = y->offset;
    oclnn_arg args[4 + 11] = {OCLNN_ARG(x->mem), OCLNN_ARG(xo), OCLNN_ARG(y->mem), OCLNN_ARG(yo)};
    char opts[192];
    shape_opts(ctx, desc, &x->desc, opts, sizeof opts);
    return launch_pool(ctx, desc, opts, pool_kernel(desc->mode, false), &x->desc, &yd,
                       window_grid(&yd), args, 4);
}

oclnn_status oclnn_pool2d_backward(oclnn_context *ctx, const oclnn_pool2d_desc *desc,
                                   const oclnn_tensor *x, const oclnn_tensor *dy, oclnn_tensor *dx)
{
    const char *op = "pool2d_backward";
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "%s: ctx is NULL", op);
    oclnn_status s = oclnn__check_tensor(ctx, op, "x", x);
    if (s == OCLNN_SUCCESS)
        s = oclnn__check_tensor(ctx, op, "dy", dy);
    if (s == OCLNN_SUCCESS)
        s = oclnn__check_tensor(ctx, op, "dx", dx);
    oclnn_tensor_desc yd;
    if (s == OCLNN_SUCCESS)
        s = pool_shape(ctx, op, desc, "x", &x->desc, &yd);
    if (s == OCLNN_SUCCESS)
        s = check_shape(ctx, op, "dy", dy, &yd);
    if (s == OCLNN_SUCCESS)
        s = check_shape(ctx, op, "dx", dx, &x->desc);
    if (s != OCLNN_SUCCESS)
        return s;
    /* dy read and dx written; max also reads x */
    const double xbytes = (double)oclnn_tensor_desc_count(&x->desc) * sizeof(float);
    oclnn__profile_work(ctx, "pool2d", 0,
                        (desc->mode == OCLNN_POOL_MAX ? 2 : 1) * xbytes +
                            oclnn_tensor_desc_count(&yd) * sizeof(float));
    cl_ulong xo = x->offset, dyo = dy->offset, dxo = dx->offset;
    const size_t w = (size_t)x->desc.dims[3], h = (size_t)x->desc.dims[2];
    /* The gathers (cl/pool.cl) take at most GATHER_Q windows per column; max also needs a byte
     * per output in the workspace for the arg-max codes, and codes that fit in it. The one-pass
     * kernels, which recompute each window for every input block it touches, take the rest. */
    bool gather = desc->window_w <= GATHER_Q * desc->stride_w;
    size_t code_bytes = oclnn_tensor_desc_count(&yd);
    if (desc->mode == OCLNN_POOL_MAX)
        gather = gather && oclnn__pool_codes_fit(desc) && code_bytes <= ctx->workspace_limit;
    if (!gather) {
        oclnn_arg args[6 + 11] = {OCLNN_ARG(x->mem), OCLNN_ARG(xo),      OCLNN_ARG(dy->mem),
                                  OCLNN_ARG(dyo),    OCLNN_ARG(dx->mem), OCLNN_ARG(dxo)};
        return launch_pool(ctx, desc, POOL_OPTS, pool_kernel(desc->mode, true), &x->desc, &yd,
                           (pool_grid){w, h, RUN, POOL_ROWS}, args, 6);
    }
    char opts[192];
    shape_opts(ctx, desc, &x->desc, opts, sizeof opts);
    if (desc->mode != OCLNN_POOL_MAX) {
        cl_int nt = nt_stores(ctx, &x->desc);
        oclnn_arg args[5 + 11] = {OCLNN_ARG(dy->mem), OCLNN_ARG(dyo), OCLNN_ARG(dx->mem),
                                  OCLNN_ARG(dxo), OCLNN_ARG(nt)};
        const char *name =
            desc->mode == OCLNN_POOL_AVG ? "pool_avg_gather" : "pool_avg_exclude_pad_gather";
        return launch_pool(ctx, desc, opts, name, &x->desc, &yd, gather_grid(desc, &x->desc), args,
                           5);
    }
    cl_mem ws;
    s = oclnn__workspace(ctx, code_bytes, op, &ws);
    if (s != OCLNN_SUCCESS)
        return s;
    cl_ulong zero = 0;
    oclnn_arg cargs[4 + 11] = {OCLNN_ARG(x->mem), OCLNN_ARG(xo), OCLNN_ARG(ws), OCLNN_ARG(zero)};
    s = launch_pool(ctx, desc, opts, "pool_max_codes", &x->desc, &yd, window_grid(&yd), cargs, 4);
    if (s != OCLNN_SUCCESS)
        return s;
    return max_gather(ctx, desc, opts, ws, 0, dy, dx, &yd);
}

/* The checks of the arg-max kernels: a max-pooling desc whose arg-max positions fit in a byte,
 * and argmax an OCLNN_U8 tensor of ctx shaped like the pooled output yd. */
static oclnn_status check_argmax(oclnn_context *ctx, const char *op, const oclnn_pool2d_desc *d,
                                 const oclnn_tensor *argmax, const oclnn_tensor_desc *yd)
{
    if (d->mode != OCLNN_POOL_MAX)
        return oclnn__fail(
            ctx, OCLNN_INVALID_ARGUMENT,
            "%s: mode %d must be OCLNN_POOL_MAX (0): only max pooling has an arg-max", op,
            (int)d->mode);
    if (!oclnn__pool_codes_fit(d))
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: window %dx%d has more than 256 positions, which a byte of argmax "
                           "cannot name",
                           op, d->window_h, d->window_w);
    if (!argmax)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: argmax is NULL", op);
    if (argmax->ctx != ctx)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: argmax belongs to another context",
                           op);
    if (argmax->desc.dtype != OCLNN_U8)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: argmax has dtype %d, expected OCLNN_U8 (2)", op,
                           (int)argmax->desc.dtype);
    return check_shape(ctx, op, "argmax", argmax, yd);
}

/* The checks of the arg-max pair: in (x or dx) and out (y or dy, of the shape pooling in gives:
 * *yd) f32 tensors of ctx, argmax as check_argmax wants. Both move in, out and a byte per
 * output, which the profile records. */
static oclnn_status argmax_pair(oclnn_context *ctx, const char *op, const oclnn_pool2d_desc *desc,
                                const char *in_name, const oclnn_tensor *in, const char *out_name,
                                const oclnn_tensor *out, const oclnn_tensor *argmax,
                                oclnn_tensor_desc *yd)
{
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "%s: ctx is NULL", op);
    oclnn_status s = oclnn__check_tensor(ctx, op, in_name, in);
    if (s == OCLNN_SUCCESS)
        s = oclnn__check_tensor(ctx, op, out_name, out);
    if (s == OCLNN_SUCCESS)
        s = pool_shape(ctx, op, desc, in_name, &in->desc, yd);
    if (s == OCLNN_SUCCESS)
        s = check_shape(ctx, op, out_name, out, yd);
    if (s == OCLNN_SUCCESS)
        s = check_argmax(ctx, op, desc, argmax, yd);
    if (s == OCLNN_SUCCESS)
        oclnn__profile_work(ctx, "pool2d", 0,
                            (double)oclnn_tensor_desc_count(&in->desc) * sizeof(float) +
                                (double)oclnn_tensor_desc_count(yd) * (sizeof(float) + 1));
    return s;
}

oclnn_status oclnn_pool2d_forward_argmax(oclnn_context *ctx, const oclnn_pool2d_desc *desc,
                                         const oclnn_tensor *x, oclnn_tensor *y,
                                         oclnn_tensor *argmax)
{
    oclnn_tensor_desc yd;
    oclnn_status s = argmax_pair(ctx, "pool2d_forward_argmax", desc, "x", x, "y", y, argmax, &yd);
    if (s != OCLNN_SUCCESS)
        return s;
    char opts[192];
    shape_opts(ctx, desc, &x->desc, opts, sizeof opts);
    cl_ulong xo = x->offset, yo = y->offset, ao = argmax->offset;
    oclnn_arg args[6 + 11] = {OCLNN_ARG(x->mem), OCLNN_ARG(xo),          OCLNN_ARG(y->mem),
                              OCLNN_ARG(yo),     OCLNN_ARG(argmax->mem), OCLNN_ARG(ao)};
    return launch_pool(ctx, desc, opts, "pool_max_forward_codes", &x->desc, &yd, window_grid(&yd),
                       args, 6);
}

oclnn_status oclnn_pool2d_backward_argmax(oclnn_context *ctx, const oclnn_pool2d_desc *desc,
                                          const oclnn_tensor *argmax, const oclnn_tensor *dy,
                                          oclnn_tensor *dx)
{
    oclnn_tensor_desc yd;
    oclnn_status s =
        argmax_pair(ctx, "pool2d_backward_argmax", desc, "dx", dx, "dy", dy, argmax, &yd);
    if (s != OCLNN_SUCCESS)
        return s;
    char opts[192];
    shape_opts(ctx, desc, &dx->desc, opts, sizeof opts);
    return max_gather(ctx, desc, opts, argmax->mem, argmax->offset, dy, dx, &yd);
}

/* x 4-D [n][c][h][w] and pooled y: 2-D [n][c] or 4-D [n][c][1][1]. */
static oclnn_status check_global(oclnn_context *ctx, const char *op, const char *xname,
                                 const oclnn_tensor *x, const char *yname, const oclnn_tensor *y)
{
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "%s: ctx is NULL", op);
    oclnn_status s = oclnn__check_tensor(ctx, op, xname, x);
    if (s == OCLNN_SUCCESS)
        s = oclnn__check_tensor(ctx, op, yname, y);
    if (s != OCLNN_SUCCESS)
        return s;
    char a[64], b[64];
    if (x->desc.ndim != 4)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: %s %s must be 4-D [n][c][h][w]", op,
                           xname, oclnn__shape_str(&x->desc, a, sizeof a));
    const int *xd = x->desc.dims, *yd = y->desc.dims;
    bool ok = yd[0] == xd[0] && yd[1] == xd[1] &&
              (y->desc.ndim == 2 || (y->desc.ndim == 4 && yd[2] == 1 && yd[3] == 1));
    if (!ok)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: %s %s must be [%d][%d] or [%d][%d][1][1] for %s %s", op, yname,
                           oclnn__shape_str(&y->desc, a, sizeof a), xd[0], xd[1], xd[0], xd[1],
                           xname, oclnn__shape_str(&x->desc, b, sizeof b));
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_global_avg_pool_forward(oclnn_context *ctx, const oclnn_tensor *x,
                                           oclnn_tensor *y)
{
    oclnn_status s = check_global(ctx, "global_avg_pool_forward", "x", x, "y", y);
    if (s != OCLNN_SUCCESS)
        return s;
    cl_kernel k;
    s = oclnn__kernel(ctx, "pool.cl", POOL_OPTS, "global_avg_forward", &k);
    if (s != OCLNN_SUCCESS)
        return s;
    cl_ulong xo = x->offset, yo = y->offset;
    int hw = x->desc.dims[2] * x->desc.dims[3], planes = x->desc.dims[0] * x->desc.dims[1];
    oclnn__profile_work(ctx, "global_avg_pool", 0, (double)planes * (hw + 1) * sizeof(float));
    oclnn_arg args[] = {OCLNN_ARG(x->mem), OCLNN_ARG(xo), OCLNN_ARG(y->mem),
                        OCLNN_ARG(yo),     OCLNN_ARG(hw), OCLNN_ARG(planes)};
    size_t global = (size_t)planes, local = PLANE_LOCAL;
    return oclnn__launch(ctx, "global_avg_pool", k, args, 6, 1, &global, &local);
}

oclnn_status oclnn_global_avg_pool_backward(oclnn_context *ctx, const oclnn_tensor *dy,
                                            oclnn_tensor *dx)
{
    oclnn_status s = check_global(ctx, "global_avg_pool_backward", "dx", dx, "dy", dy);
    if (s != OCLNN_SUCCESS)
        return s;
    cl_kernel k;
    s = oclnn__kernel(ctx, "pool.cl", POOL_OPTS, "global_avg_backward", &k);
    if (s != OCLNN_SUCCESS)
        return s;
    cl_ulong dyo = dy->offset, dxo = dx->offset;
    int hw = dx->desc.dims[2] * dx->desc.dims[3], planes = dx->desc.dims[0] * dx->desc.dims[1];
    oclnn__profile_work(ctx, "global_avg_pool", 0, (double)planes * (hw + 1) * sizeof(float));
    oclnn_arg args[] = {OCLNN_ARG(dy->mem), OCLNN_ARG(dyo), OCLNN_ARG(dx->mem),
                        OCLNN_ARG(dxo),     OCLNN_ARG(hw),  OCLNN_ARG(planes)};
    size_t global[2] = {oclnn__div_up((size_t)hw, POOL_VEC), (size_t)planes};
    size_t local[2] = {PLANE_LOCAL, 1};
    return oclnn__launch(ctx, "global_avg_pool", k, args, 6, 2, global, local);
}
