/* softmax.c - softmax / log-softmax, softmax + cross-entropy loss and gradient, and the accuracy
 * count over x[n][k] (cl/softmax.cl). Batch reductions are ordered sums on the device. */
#include "internal.h"

#include <math.h>

#define ROW_LOCAL 32
#define ROW_GROUP 256 /* the kernels' GROUP */
/* Narrower rows keep one work-item per row on GPUs too: a work-group would idle. */
#define GROUP_MIN_K 128
static const size_t GRAD_LOCAL[2] = {64, 1};

/* Softmax-CE forward batches of at most this many logits run in one work-item on CPUs. */
#define CE_ONE_MAX 8192

/* How the softmax rows are shared out, chosen here once. On CPUs one work-item per row, walking
 * it in 16-float vectors (POCL turns the work-items of a group into a loop, so a row in one
 * work-item streams through one core's cache); on other devices one work-group per wide row,
 * coalesced strided reads and a tree reduction in local memory. */
static bool rows_by_group(const oclnn_context *ctx, int k)
{
    return !(ctx->info.type & CL_DEVICE_TYPE_CPU) && k >= GROUP_MIN_K;
}

/* Small softmax-CE forward batches on CPUs: rows and mean in one work-item, one launch instead
 * of two (128x10: 0.015 ms against 0.017-0.020 ms on a busy POCL). */
static bool ce_in_one(const oclnn_context *ctx, int n, int k)
{
    return (ctx->info.type & CL_DEVICE_TYPE_CPU) && (size_t)n * (size_t)k <= CE_ONE_MAX;
}

/* Checks x is an f32 2-D [n][k] tensor of ctx and reads n, k. */
static oclnn_status check_rows(oclnn_context *ctx, const char *op, const char *name,
                               const oclnn_tensor *x, int *n, int *k)
{
    oclnn_status s = oclnn__check_tensor(ctx, op, name, x);
    if (s != OCLNN_SUCCESS)
        return s;
    if (x->desc.ndim != 2) {
        char shape[64];
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: %s %s must be 2-D [n][k]", op, name,
                           oclnn__shape_str(&x->desc, shape, sizeof shape));
    }
    *n = x->desc.dims[0];
    *k = x->desc.dims[1];
    return OCLNN_SUCCESS;
}

static oclnn_status check_like(oclnn_context *ctx, const char *op, const char *name,
                               const oclnn_tensor *t, const oclnn_tensor *ref, const char *refname)
{
    oclnn_status s = oclnn__check_tensor(ctx, op, name, t);
    if (s != OCLNN_SUCCESS)
        return s;
    if (t->desc.ndim != 2 || t->desc.dims[0] != ref->desc.dims[0] ||
        t->desc.dims[1] != ref->desc.dims[1]) {
        char a[64], b[64];
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: %s %s does not match %s %s", op, name,
                           oclnn__shape_str(&t->desc, a, sizeof a), refname,
                           oclnn__shape_str(&ref->desc, b, sizeof b));
    }
    return OCLNN_SUCCESS;
}

/* Checks t is a tensor of ctx of `dtype` (`expected` names it in the message) with `count`
 * elements. */
static oclnn_status check_typed(oclnn_context *ctx, const char *op, const char *name,
                                const oclnn_tensor *t, oclnn_dtype dtype, const char *expected,
                                size_t count)
{
    if (!t)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: %s is NULL", op, name);
    if (t->ctx != ctx)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: %s belongs to another context", op,
                           name);
    if (t->desc.dtype != dtype)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: %s has dtype %d, expected %s", op,
                           name, (int)t->desc.dtype, expected);
    return oclnn__check_count(ctx, op, name, t, count);
}

/* Checks ctx, x as in check_rows (reading n, k) and labels: n I32 class indices. */
static oclnn_status check_rows_labels(oclnn_context *ctx, const char *op, const char *name,
                                      const oclnn_tensor *x, const oclnn_tensor *labels, int *n,
                                      int *k)
{
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "%s: ctx is NULL", op);
    oclnn_status s = check_rows(ctx, op, name, x, n, k);
    if (s == OCLNN_SUCCESS)
        s = check_typed(ctx, op, "labels", labels, OCLNN_I32, "OCLNN_I32 (class indices)",
                        (size_t)*n);
    return s;
}

/* Kernel name and launch size of a per-row kernel `name` (a *_group variant when rows go to
 * work-groups). */
static const char *row_kernel(const oclnn_context *ctx, const char *name, const char *group_name,
                              int n, int k, size_t *global, size_t *local)
{
    if (group_name && rows_by_group(ctx, k)) {
        *global = (size_t)n * ROW_GROUP;
        *local = ROW_GROUP;
        return group_name;
    }
    *global = (size_t)n;
    *local = ROW_LOCAL;
    return name;
}

static oclnn_status row_launch(oclnn_context *ctx, const char *op, const char *name,
                               const char *group_name, const oclnn_arg *args, size_t nargs, int n,
                               int kk)
{
    size_t global, local;
    name = row_kernel(ctx, name, group_name, n, kk, &global, &local);
    cl_kernel k;
    oclnn_status s = oclnn__kernel(ctx, "softmax.cl", NULL, name, &k);
    if (s != OCLNN_SUCCESS)
        return s;
    return oclnn__launch(ctx, op, k, args, nargs, 1, &global, &local);
}

/* The per-row kernel `name` or `group_name` (one value per row into `rows`, args[] naming it),
 * then the single work-item kernel `reduce` (rows, n, out, out offset) that folds the n values in
 * order into out (mean_rows: their mean; count_rows: their sum). Both are built before either is
 * enqueued. */
static oclnn_status rows_then_reduce(oclnn_context *ctx, const char *op, const char *name,
                                     const char *group_name, const oclnn_arg *args, size_t nargs,
                                     int n, int kk, const char *reduce, cl_mem rows,
                                     const oclnn_tensor *out)
{
    size_t global, local, one = 1;
    name = row_kernel(ctx, name, group_name, n, kk, &global, &local);
    cl_kernel k, kr;
    oclnn_status s = oclnn__kernel(ctx, "softmax.cl", NULL, name, &k);
    if (s == OCLNN_SUCCESS)
        s = oclnn__kernel(ctx, "softmax.cl", NULL, reduce, &kr);
    if (s != OCLNN_SUCCESS)
        return s;
    s = oclnn__launch(ctx, op, k, args, nargs, 1, &global, &local);
    if (s != OCLNN_SUCCESS)
        return s;
    cl_ulong out_off = out->offset;
    oclnn_arg rargs[] = {OCLNN_ARG(rows), OCLNN_ARG(n), OCLNN_ARG(out->mem), OCLNN_ARG(out_off)};
    return oclnn__launch(ctx, op, kr, rargs, sizeof rargs / sizeof rargs[0], 1, &one, &one);
}

oclnn_status oclnn_softmax_forward(oclnn_context *ctx, const oclnn_tensor *x, oclnn_tensor *y,
                                   int log)
{
    const char *op = "softmax_forward";
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "%s: ctx is NULL", op);
    int n, k;
    oclnn_status s = check_rows(ctx, op, "x", x, &n, &k);
    if (s == OCLNN_SUCCESS)
        s = check_like(ctx, op, "y", y, x, "x");
    if (s != OCLNN_SUCCESS)
        return s;
    cl_ulong xo = x->offset, yo = y->offset;
    int log_out = log != 0;
    oclnn_arg args[] = {OCLNN_ARG(x->mem), OCLNN_ARG(xo), OCLNN_ARG(y->mem), OCLNN_ARG(yo),
                        OCLNN_ARG(n),      OCLNN_ARG(k),  OCLNN_ARG(log_out)};
    oclnn__profile_work(ctx, "softmax", 0, 2.0 * n * k * sizeof(float)); /* x read, y written */
    return row_launch(ctx, "softmax", "softmax_forward", "softmax_forward_group", args,
                      sizeof args / sizeof args[0], n, k);
}

oclnn_status oclnn_softmax_cross_entropy_forward(oclnn_context *ctx, const oclnn_tensor *logits,
                                                 const oclnn_tensor *labels, oclnn_tensor *probs,
                                                 oclnn_tensor *loss)
{
    const char *op = "softmax_cross_entropy_forward";
    int n, k;
    oclnn_status s = check_rows_labels(ctx, op, "logits", logits, labels, &n, &k);
    if (s == OCLNN_SUCCESS)
        s = check_like(ctx, op, "probs", probs, logits, "logits");
    if (s == OCLNN_SUCCESS)
        s = check_typed(ctx, op, "loss", loss, OCLNN_F32, "OCLNN_F32", 1);
    cl_mem rows = NULL;
    if (s == OCLNN_SUCCESS)
        s = oclnn__workspace(ctx, (size_t)n * sizeof(float), op, &rows);
    if (s != OCLNN_SUCCESS)
        return s;
    cl_ulong xo = logits->offset, lo = labels->offset, po = probs->offset;
    if (ce_in_one(ctx, n, k)) {
        cl_kernel kern;
        s = oclnn__kernel(ctx, "softmax.cl", NULL, "softmax_ce_forward_one", &kern);
        if (s != OCLNN_SUCCESS)
            return s;
        cl_ulong loss_off = loss->offset;
        oclnn_arg a1[] = {
            OCLNN_ARG(logits->mem), OCLNN_ARG(xo), OCLNN_ARG(labels->mem), OCLNN_ARG(lo),
            OCLNN_ARG(probs->mem),  OCLNN_ARG(po), OCLNN_ARG(loss->mem),   OCLNN_ARG(loss_off),
            OCLNN_ARG(n),           OCLNN_ARG(k)};
        size_t one = 1;
        return oclnn__launch(ctx, "softmax_ce", kern, a1, sizeof a1 / sizeof a1[0], 1, &one, &one);
    }
    oclnn_arg args[] = {OCLNN_ARG(logits->mem), OCLNN_ARG(xo),         OCLNN_ARG(labels->mem),
                        OCLNN_ARG(lo),          OCLNN_ARG(probs->mem), OCLNN_ARG(po),
                        OCLNN_ARG(rows),        OCLNN_ARG(n),          OCLNN_ARG(k)};
    /* logits read, probs written */
    oclnn__profile_work(ctx, "softmax_ce", 0, 2.0 * n * k * sizeof(float));
    return rows_then_reduce(ctx, "softmax_ce", "softmax_ce_forward", "softmax_ce_forward_group",
                            args, sizeof args / sizeof args[0], n, k, "mean_rows", rows, loss);
}

oclnn_status oclnn_softmax_cross_entropy_backward(oclnn_context *ctx, const oclnn_tensor *probs,
                                                  const oclnn_tensor *labels, float scale,
                                                  oclnn_tensor *dlogits)
{
    const char *op = "softmax_cross_entropy_backward";
    int n, k;
    oclnn_status s = check_rows_labels(ctx, op, "probs", probs, labels, &n, &k);
    if (s == OCLNN_SUCCESS)
        s = check_like(ctx, op, "dlogits", dlogits, probs, "probs");
    if (s == OCLNN_SUCCESS && !isfinite(scale))
        s = oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: scale %g is not finite", op,
                        (double)scale);
    if (s != OCLNN_SUCCESS)
        return s;
    cl_kernel kern;
    s = oclnn__kernel(ctx, "softmax.cl", NULL, "softmax_ce_backward", &kern);
    if (s != OCLNN_SUCCESS)
        return s;
    cl_ulong po = probs->offset, lo = labels->offset, dxo = dlogits->offset;
    float coef = (float)((double)scale / n);
    oclnn_arg args[] = {
        OCLNN_ARG(probs->mem),   OCLNN_ARG(po),  OCLNN_ARG(labels->mem), OCLNN_ARG(lo),
        OCLNN_ARG(dlogits->mem), OCLNN_ARG(dxo), OCLNN_ARG(n),           OCLNN_ARG(k),
        OCLNN_ARG(coef)};
    size_t global[2] = {(size_t)k, (size_t)n};
    oclnn__profile_work(ctx, "softmax_ce", 0, 2.0 * n * k * sizeof(float)); /* probs, dlogits */
    return oclnn__launch(ctx, "softmax_ce", kern, args, sizeof args / sizeof args[0], 2, global,
                         GRAD_LOCAL);
}

oclnn_status oclnn_accuracy_count(oclnn_context *ctx, const oclnn_tensor *logits,
                                  const oclnn_tensor *labels, oclnn_tensor *correct)
{
    const char *op = "accuracy_count";
    int n, k;
    oclnn_status s = check_rows_labels(ctx, op, "logits", logits, labels, &n, &k);
    if (s == OCLNN_SUCCESS)
        s = check_typed(ctx, op, "correct", correct, OCLNN_I32, "OCLNN_I32", 1);
    cl_mem hits = NULL;
    if (s == OCLNN_SUCCESS)
        s = oclnn__workspace(ctx, (size_t)n * sizeof(int32_t), op, &hits);
    if (s != OCLNN_SUCCESS)
        return s;
    cl_ulong xo = logits->offset, lo = labels->offset;
    oclnn_arg args[] = {OCLNN_ARG(logits->mem),
                        OCLNN_ARG(xo),
                        OCLNN_ARG(labels->mem),
                        OCLNN_ARG(lo),
                        OCLNN_ARG(hits),
                        OCLNN_ARG(n),
                        OCLNN_ARG(k)};
    return rows_then_reduce(ctx, "accuracy", "accuracy_rows", NULL, args,
                            sizeof args / sizeof args[0], n, k, "count_rows", hits, correct);
}
