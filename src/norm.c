/* norm.c - the launch plan and argument checks shared by batch norm and layer norm. */
#include "norm.h"

#include <limits.h>
#include <stdio.h>

void oclnn__norm_plan(const oclnn_context *ctx, oclnn_norm_plan *p)
{
    int cus = ctx->info.compute_units ? (int)ctx->info.compute_units : 1;
    if (ctx->info.type & CL_DEVICE_TYPE_GPU) {
        /* Many narrow work-items: neighbours touch neighbouring floats (coalesced). */
        p->vec = 4;
        p->seg = 4;
        p->tile = 1;
        p->drun = 4;
        p->run = 4;
        p->target = cus * 512;
        p->min_chunk = 256;
        p->local = 64;
    } else {
        /* CPU (POCL): few wide work-items, each streaming a long contiguous run with 16-float
         * vectors (AVX-512); blocks of 4096 floats stay in L1 for the second statistics pass;
         * 8-vector tiles are the most registers hold (channels layer norm). */
        p->vec = 16;
        p->seg = 8192;
        p->tile = 8;
        p->drun = 2048;
        p->run = 1024; /* 8 tiles: each channel row is read in 4 KB runs by one core */
        p->target = cus * 16;
        p->min_chunk = 8192;
        p->local = 1;
    }
    snprintf(p->opts, sizeof p->opts, "-DVEC=%d -DBLK=%d -DSEG=%d -DTILE=%d -DDRUN=%d -DRUN=%d",
             p->vec, 4096, p->seg, p->tile, p->drun, p->run);
}

int oclnn__norm_chunks(const oclnn_norm_plan *p, int groups, int count, int *chunk)
{
    int want = (p->target + groups - 1) / groups;
    int most = (count + p->min_chunk - 1) / p->min_chunk;
    int n = want < most ? want : most;
    if (n < 1)
        n = 1;
    *chunk = (count + n - 1) / n;
    return (count + *chunk - 1) / *chunk;
}

oclnn_status oclnn__norm_check_int(oclnn_context *ctx, const char *op, const char *name,
                                   const oclnn_tensor *t)
{
    size_t n = oclnn_tensor_desc_count(&t->desc);
    if (t->offset > (size_t)INT_MAX || n > (size_t)INT_MAX - t->offset)
        return oclnn__fail(ctx, OCLNN_UNSUPPORTED,
                           "%s: %s of %zu elements at offset %zu passes INT_MAX elements, the "
                           "largest the kernels index",
                           op, name, n, t->offset);
    return OCLNN_SUCCESS;
}

oclnn_status oclnn__norm_check_like_x(oclnn_context *ctx, const char *op, const char *name,
                                      const oclnn_tensor *t, const oclnn_tensor *x)
{
    oclnn_status s = oclnn__check_tensor(ctx, op, name, t);
    if (s != OCLNN_SUCCESS)
        return s;
    const oclnn_tensor_desc *a = &t->desc, *b = &x->desc;
    int same = a->ndim == b->ndim;
    for (int i = 0; same && i < a->ndim; i++)
        same = a->dims[i] == b->dims[i];
    if (!same) {
        char sa[64], sb[64];
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: %s %s does not match x %s", op, name,
                           oclnn__shape_str(a, sa, sizeof sa), oclnn__shape_str(b, sb, sizeof sb));
    }
    return oclnn__norm_check_int(ctx, op, name, t);
}

oclnn_status oclnn__norm_check_params(oclnn_context *ctx, const char *op, size_t count, size_t n,
                                      const char *const *names, const oclnn_tensor *const *ts)
{
    for (size_t i = 0; i < n; i++) {
        oclnn_status s = oclnn__check_tensor(ctx, op, names[i], ts[i]);
        if (s == OCLNN_SUCCESS)
            s = oclnn__check_count(ctx, op, names[i], ts[i], count);
        if (s == OCLNN_SUCCESS)
            s = oclnn__norm_check_int(ctx, op, names[i], ts[i]);
        if (s != OCLNN_SUCCESS)
            return s;
    }
    return OCLNN_SUCCESS;
}
