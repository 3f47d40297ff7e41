/* elementwise.c - activations, add/scale/copy and the ConvNeXt per-channel (layer) scale; flat
 * vectorised kernels from cl/elementwise.cl. */
#include "internal.h"

#include <math.h>

/* The fixed local sizes; elements per work-item (the kernels' VEC * NV) from ew_vec and ew_nv. */
#define EW_LOCAL 64
#define PLANE_LOCAL 32

/* The float vector width, chosen here once with the vectors per work-item (ew_nv): 16 floats
 * are one AVX-512 register on a CPU (POCL's preferred width; the GELU forms are compute-bound
 * there and run ~25% faster than with 8), 8 a 32-byte transaction per work-item on a GPU. */
static size_t ew_vec(const oclnn_context *ctx)
{
    return (ctx->info.type & CL_DEVICE_TYPE_CPU) ? 16 : 8;
}

/* Vectors per work-item of the flat kernels: on a CPU 4 independent ones in straight-line code
 * keep the pipelines busy through GELU's long dependency chains (exact GELU forward on
 * 32x64x56x56: 8.0 ms of CPU time against 11.0 with 1 and 9.2 with 2 on a busy POCL; 8 is
 * slower again; backward, ReLU and add unchanged); on a GPU 1, so that neighbouring work-items
 * read neighbouring vectors. ew_opts passes the same choice to the kernels. */
static size_t ew_nv(const oclnn_context *ctx)
{
    return (ctx->info.type & CL_DEVICE_TYPE_CPU) ? 4 : 1;
}

static const char *ew_opts(const oclnn_context *ctx)
{
    return ew_vec(ctx) == 16 ? "-DVEC=16 -DNV=4" : "-DVEC=8 -DNV=1";
}

/* streams: the tensors of n floats the op reads or writes (for the profile's GB/s). */
static oclnn_status launch_ew(oclnn_context *ctx, const char *op, const char *name,
                              const oclnn_arg *args, size_t nargs, size_t n)
{
    cl_kernel k;
    oclnn_status s = oclnn__kernel(ctx, "elementwise.cl", ew_opts(ctx), name, &k);
    if (s != OCLNN_SUCCESS)
        return s;
    size_t global = oclnn__div_up(n, ew_vec(ctx) * ew_nv(ctx)), local = EW_LOCAL;
    return oclnn__launch(ctx, op, k, args, nargs, 1, &global, &local);
}

/* launch_ew for an op of its own, whose work (streams of n floats) the profile counts. */
static oclnn_status launch_flat(oclnn_context *ctx, const char *op, const char *name,
                                const oclnn_arg *args, size_t nargs, size_t n, int streams)
{
    oclnn__profile_work(ctx, op, 0, (double)streams * n * sizeof(float));
    return launch_ew(ctx, op, name, args, nargs, n);
}

/* Checks ctx and that every tensor is a valid f32 tensor with the element count of the first. */
static oclnn_status check_same(oclnn_context *ctx, const char *op, int count,
                               const char *const *names, const oclnn_tensor *const *ts)
{
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "%s: ctx is NULL", op);
    for (int i = 0; i < count; i++) {
        oclnn_status s = oclnn__check_tensor(ctx, op, names[i], ts[i]);
        if (s != OCLNN_SUCCESS)
            return s;
    }
    size_t n = oclnn_tensor_desc_count(&ts[0]->desc);
    for (int i = 1; i < count; i++) {
        oclnn_status s = oclnn__check_count(ctx, op, names[i], ts[i], n);
        if (s != OCLNN_SUCCESS)
            return s;
    }
    return OCLNN_SUCCESS;
}

static oclnn_status check_act(oclnn_context *ctx, const char *op, oclnn_activation act)
{
    if (act != OCLNN_ACT_NONE && act != OCLNN_ACT_RELU && act != OCLNN_ACT_GELU &&
        act != OCLNN_ACT_GELU_TANH)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: activation %d is not an oclnn_activation", op, (int)act);
    return OCLNN_SUCCESS;
}

static oclnn_status unary(oclnn_context *ctx, const char *op, const char *name,
                          const oclnn_tensor *x, oclnn_tensor *y)
{
    cl_ulong xo = x->offset, yo = y->offset, n = oclnn_tensor_desc_count(&x->desc);
    oclnn_arg args[] = {OCLNN_ARG(x->mem), OCLNN_ARG(xo), OCLNN_ARG(y->mem), OCLNN_ARG(yo),
                        OCLNN_ARG(n)};
    return launch_flat(ctx, op, name, args, 5, n, 2);
}

oclnn_status oclnn_activation_forward(oclnn_context *ctx, oclnn_activation act,
                                      const oclnn_tensor *x, oclnn_tensor *y)
{
    static const char *const names[] = {"x", "y"};
    const oclnn_tensor *ts[] = {x, y};
    oclnn_status s = check_same(ctx, "activation_forward", 2, names, ts);
    if (s == OCLNN_SUCCESS)
        s = check_act(ctx, "activation_forward", act);
    if (s != OCLNN_SUCCESS)
        return s;
    static const char *const kernels[] = {"ew_copy", "relu_forward", "gelu_forward",
                                          "gelu_tanh_forward"};
    return unary(ctx, "activation", kernels[act], x, y);
}

oclnn_status oclnn_activation_backward(oclnn_context *ctx, oclnn_activation act,
                                       const oclnn_tensor *x, const oclnn_tensor *dy,
                                       oclnn_tensor *dx)
{
    static const char *const names[] = {"x", "dy", "dx"};
    const oclnn_tensor *ts[] = {x, dy, dx};
    oclnn_status s = check_same(ctx, "activation_backward", 3, names, ts);
    if (s == OCLNN_SUCCESS)
        s = check_act(ctx, "activation_backward", act);
    if (s != OCLNN_SUCCESS)
        return s;
    if (act == OCLNN_ACT_NONE)
        return unary(ctx, "activation", "ew_copy", dy, dx);
    static const char *const kernels[] = {NULL, "relu_backward", "gelu_backward",
                                          "gelu_tanh_backward"};
    cl_ulong xo = x->offset, dyo = dy->offset, dxo = dx->offset;
    cl_ulong n = oclnn_tensor_desc_count(&x->desc);
    oclnn_arg args[] = {OCLNN_ARG(x->mem),  OCLNN_ARG(xo),  OCLNN_ARG(dy->mem), OCLNN_ARG(dyo),
                        OCLNN_ARG(dx->mem), OCLNN_ARG(dxo), OCLNN_ARG(n)};
    return launch_flat(ctx, "activation", kernels[act], args, 7, n, 3);
}

static oclnn_status check_finite(oclnn_context *ctx, const char *op, const char *name, float v)
{
    if (!isfinite(v))
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: %s %g is not finite", op, name,
                           (double)v);
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_add(oclnn_context *ctx, float alpha, const oclnn_tensor *a, float beta,
                       const oclnn_tensor *b, oclnn_tensor *y)
{
    static const char *const names[] = {"a", "b", "y"};
    const oclnn_tensor *ts[] = {a, b, y};
    oclnn_status s = check_same(ctx, "add", 3, names, ts);
    if (s == OCLNN_SUCCESS)
        s = check_finite(ctx, "add", "alpha", alpha);
    if (s == OCLNN_SUCCESS)
        s = check_finite(ctx, "add", "beta", beta);
    if (s != OCLNN_SUCCESS)
        return s;
    return oclnn__add(ctx, alpha, a, beta, b, false, y);
}

oclnn_status oclnn__add(oclnn_context *ctx, float alpha, const oclnn_tensor *a, float beta,
                        const oclnn_tensor *b, bool relu, oclnn_tensor *y)
{
    cl_ulong ao = a->offset, bo = b->offset, yo = y->offset;
    cl_ulong n = oclnn_tensor_desc_count(&a->desc);
    int r = relu;
    oclnn_arg args[] = {OCLNN_ARG(alpha),  OCLNN_ARG(a->mem), OCLNN_ARG(ao),     OCLNN_ARG(beta),
                        OCLNN_ARG(b->mem), OCLNN_ARG(bo),     OCLNN_ARG(y->mem), OCLNN_ARG(yo),
                        OCLNN_ARG(n),      OCLNN_ARG(r)};
    return launch_flat(ctx, "add", "ew_add", args, 10, n, 3);
}

oclnn_status oclnn__relu_backward_pair(oclnn_context *ctx, const oclnn_tensor *y,
                                       const oclnn_tensor *dy, oclnn_tensor *dx0, bool acc0,
                                       oclnn_tensor *dx1, bool acc1)
{
    cl_ulong yo = y->offset, dyo = dy->offset, o0 = dx0->offset, o1 = dx1->offset;
    cl_ulong n = oclnn_tensor_desc_count(&y->desc);
    int a0 = acc0, a1 = acc1;
    oclnn_arg args[] = {OCLNN_ARG(y->mem),   OCLNN_ARG(yo), OCLNN_ARG(dy->mem), OCLNN_ARG(dyo),
                        OCLNN_ARG(dx0->mem), OCLNN_ARG(o0), OCLNN_ARG(a0),      OCLNN_ARG(dx1->mem),
                        OCLNN_ARG(o1),       OCLNN_ARG(a1), OCLNN_ARG(n)};
    return launch_flat(ctx, "activation", "relu_backward_pair", args, 11, n, 4 + acc0 + acc1);
}

oclnn_status oclnn_scale(oclnn_context *ctx, float alpha, const oclnn_tensor *x, oclnn_tensor *y)
{
    static const char *const names[] = {"x", "y"};
    const oclnn_tensor *ts[] = {x, y};
    oclnn_status s = check_same(ctx, "scale", 2, names, ts);
    if (s == OCLNN_SUCCESS)
        s = check_finite(ctx, "scale", "alpha", alpha);
    if (s != OCLNN_SUCCESS)
        return s;
    cl_ulong xo = x->offset, yo = y->offset, n = oclnn_tensor_desc_count(&x->desc);
    oclnn_arg args[] = {OCLNN_ARG(alpha),  OCLNN_ARG(x->mem), OCLNN_ARG(xo),
                        OCLNN_ARG(y->mem), OCLNN_ARG(yo),     OCLNN_ARG(n)};
    return launch_flat(ctx, "scale", "ew_scale", args, 6, n, 2);
}

oclnn_status oclnn__fill(oclnn_context *ctx, const char *op, cl_mem y, size_t y_off, size_t n,
                         float value)
{
    cl_ulong yo = y_off, count = n;
    oclnn_arg args[] = {OCLNN_ARG(value), OCLNN_ARG(y), OCLNN_ARG(yo), OCLNN_ARG(count)};
    return launch_ew(ctx, op, "ew_fill", args, 4, n);
}

oclnn_status oclnn_copy(oclnn_context *ctx, const oclnn_tensor *x, oclnn_tensor *y)
{
    static const char *const names[] = {"x", "y"};
    const oclnn_tensor *ts[] = {x, y};
    oclnn_status s = check_same(ctx, "copy", 2, names, ts);
    if (s != OCLNN_SUCCESS)
        return s;
    return unary(ctx, "copy", "ew_copy", x, y);
}

/* The channel scale's tensors: x (4-D or 2-D, seen as [n][c][h][w]), gamma [c], y like x. */
static oclnn_status check_channel(oclnn_context *ctx, const char *op, const oclnn_tensor *x,
                                  const oclnn_tensor *gamma, int *n, int *c, int *hw)
{
    oclnn_status s = oclnn__check_tensor(ctx, op, "gamma", gamma);
    if (s != OCLNN_SUCCESS)
        return s;
    char shape[64];
    if (x->desc.ndim != 4 && x->desc.ndim != 2)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: x %s must be 4-D [n][c][h][w] or 2-D [n][c]", op,
                           oclnn__shape_str(&x->desc, shape, sizeof shape));
    int h, w;
    oclnn__nchw(&x->desc, n, c, &h, &w);
    *hw = h * w;
    return oclnn__check_count(ctx, op, "gamma", gamma, (size_t)*c);
}

static oclnn_status launch_channel_scale(oclnn_context *ctx, const char *op, const oclnn_tensor *x,
                                         const oclnn_tensor *gamma, oclnn_tensor *y, int n, int c,
                                         int hw)
{
    cl_kernel k;
    oclnn_status s = oclnn__kernel(ctx, "elementwise.cl", ew_opts(ctx), "channel_scale", &k);
    if (s != OCLNN_SUCCESS)
        return s;
    cl_ulong xo = x->offset, go = gamma->offset, yo = y->offset;
    int planes = n * c;
    oclnn_arg args[] = {OCLNN_ARG(x->mem), OCLNN_ARG(xo),     OCLNN_ARG(gamma->mem),
                        OCLNN_ARG(go),     OCLNN_ARG(y->mem), OCLNN_ARG(yo),
                        OCLNN_ARG(hw),     OCLNN_ARG(c),      OCLNN_ARG(planes)};
    size_t global[2] = {oclnn__div_up((size_t)hw, ew_vec(ctx)), (size_t)planes};
    size_t local[2] = {PLANE_LOCAL, 1};
    return oclnn__launch(ctx, op, k, args, 9, 2, global, local);
}

oclnn_status oclnn_channel_scale_forward(oclnn_context *ctx, const oclnn_tensor *x,
                                         const oclnn_tensor *gamma, oclnn_tensor *y)
{
    static const char *const names[] = {"x", "y"};
    const oclnn_tensor *ts[] = {x, y};
    oclnn_status s = check_same(ctx, "channel_scale_forward", 2, names, ts);
    int n = 0, c = 0, hw = 0;
    if (s == OCLNN_SUCCESS)
        s = check_channel(ctx, "channel_scale_forward", x, gamma, &n, &c, &hw);
    if (s != OCLNN_SUCCESS)
        return s;
    return launch_channel_scale(ctx, "channel_scale", x, gamma, y, n, c, hw);
}

oclnn_status oclnn_channel_scale_backward(oclnn_context *ctx, const oclnn_tensor *x,
                                          const oclnn_tensor *dy, const oclnn_tensor *gamma,
                                          oclnn_tensor *dx, oclnn_tensor *dgamma, float beta_acc)
{
    const char *op = "channel_scale_backward";
    static const char *const names[] = {"x", "dy", "dx"};
    const oclnn_tensor *ts[] = {x, dy, dx};
    oclnn_status s = check_same(ctx, op, 3, names, ts);
    int n = 0, c = 0, hw = 0;
    if (s == OCLNN_SUCCESS)
        s = check_channel(ctx, op, x, gamma, &n, &c, &hw);
    if (s == OCLNN_SUCCESS)
        s = oclnn__check_tensor(ctx, op, "dgamma", dgamma);
    if (s == OCLNN_SUCCESS)
        s = oclnn__check_count(ctx, op, "dgamma", dgamma, (size_t)c);
    if (s == OCLNN_SUCCESS && beta_acc != 0.0f && beta_acc != 1.0f)
        s = oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: beta_acc %g must be 0 or 1", op,
                        (double)beta_acc);
    if (s != OCLNN_SUCCESS)
        return s;
    cl_kernel kp, kr;
    cl_mem part;
    int planes = n * c;
    s = oclnn__kernel(ctx, "elementwise.cl", ew_opts(ctx), "channel_scale_partial", &kp);
    if (s == OCLNN_SUCCESS)
        s = oclnn__kernel(ctx, "elementwise.cl", ew_opts(ctx), "channel_scale_reduce", &kr);
    if (s == OCLNN_SUCCESS)
        s = oclnn__workspace(ctx, (size_t)planes * sizeof(float), op, &part);
    if (s != OCLNN_SUCCESS)
        return s;
    /* dgamma first: it reads x and dy, so dx may alias either. */
    cl_ulong xo = x->offset, dyo = dy->offset, dgo = dgamma->offset;
    oclnn_arg pargs[] = {OCLNN_ARG(x->mem), OCLNN_ARG(xo), OCLNN_ARG(dy->mem), OCLNN_ARG(dyo),
                         OCLNN_ARG(part),   OCLNN_ARG(hw), OCLNN_ARG(planes)};
    size_t global = (size_t)planes, local = PLANE_LOCAL;
    s = oclnn__launch(ctx, "channel_scale", kp, pargs, 7, 1, &global, &local);
    if (s != OCLNN_SUCCESS)
        return s;
    oclnn_arg rargs[] = {OCLNN_ARG(part), OCLNN_ARG(dgamma->mem), OCLNN_ARG(dgo),
                         OCLNN_ARG(n),    OCLNN_ARG(c),           OCLNN_ARG(beta_acc)};
    global = (size_t)c;
    s = oclnn__launch(ctx, "channel_scale", kr, rargs, 6, 1, &global, &local);
    if (s != OCLNN_SUCCESS)
        return s;
    return launch_channel_scale(ctx, "channel_scale", dy, gamma, dx, n, c, hw);
}
