/* linear.c - fully connected layers: y = x w^T + b and its gradients, as CLBlast GEMMs plus
 * small bias kernels. */
#include "internal.h"

#include <limits.h>
#include <math.h>

/* Rows and features of x (a 4-D x is flattened to [n][c*h*w]). */
static oclnn_status check_input(oclnn_context *ctx, const char *op, const char *name,
                                const oclnn_tensor *x, int *n, int *features)
{
    oclnn_status s = oclnn__check_tensor(ctx, op, name, x);
    if (s != OCLNN_SUCCESS)
        return s;
    if (x->desc.ndim != 2 && x->desc.ndim != 4)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: %s has ndim %d, must be 2 ([n][features]) or 4 (flattened)", op,
                           name, x->desc.ndim);
    size_t count = oclnn_tensor_desc_count(&x->desc);
    if (count > INT_MAX || x->offset > (size_t)INT_MAX - count)
        return oclnn__fail(ctx, OCLNN_UNSUPPORTED,
                           "%s: %s of %zu elements at offset %zu passes INT_MAX elements", op, name,
                           count, x->offset);
    *n = x->desc.dims[0];
    *features = (int)(count / (size_t)*n);
    return OCLNN_SUCCESS;
}

/* w must be 2-D [out][in] with in == the input features; sets *out. */
static oclnn_status check_weights(oclnn_context *ctx, const char *op, const char *name,
                                  const oclnn_tensor *w, int in, const char *in_name,
                                  const oclnn_tensor *x, int *out)
{
    oclnn_status s = oclnn__check_tensor(ctx, op, name, w);
    if (s != OCLNN_SUCCESS)
        return s;
    char sw[64], sx[64];
    if (w->desc.ndim != 2)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: %s %s has ndim %d, must be 2 ([out][in])", op, name,
                           oclnn__shape_str(&w->desc, sw, sizeof sw), w->desc.ndim);
    if (w->desc.dims[1] != in)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: %s %s has %d input features, %s %s has %d", op, name,
                           oclnn__shape_str(&w->desc, sw, sizeof sw), w->desc.dims[1], in_name,
                           oclnn__shape_str(&x->desc, sx, sizeof sx), in);
    *out = w->desc.dims[0];
    return OCLNN_SUCCESS;
}

/* t must hold rows x cols: dims[0] == rows and rows * cols elements (any ndim). */
static oclnn_status check_rows(oclnn_context *ctx, const char *op, const char *name,
                               const oclnn_tensor *t, int rows, int cols)
{
    oclnn_status s = oclnn__check_tensor(ctx, op, name, t);
    if (s != OCLNN_SUCCESS)
        return s;
    size_t count = oclnn_tensor_desc_count(&t->desc);
    if (t->desc.dims[0] != rows || count != (size_t)rows * (size_t)cols) {
        char sh[64];
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: %s %s must have %d rows of %d elements ([%d][%d])", op, name,
                           oclnn__shape_str(&t->desc, sh, sizeof sh), rows, cols, rows, cols);
    }
    if (t->offset > (size_t)INT_MAX - count)
        return oclnn__fail(ctx, OCLNN_UNSUPPORTED, "%s: %s at offset %zu passes INT_MAX elements",
                           op, name, t->offset);
    return OCLNN_SUCCESS;
}

static oclnn_status check_beta(oclnn_context *ctx, const char *op, float beta)
{
    if (!isfinite(beta))
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: beta %g, must be finite", op,
                           (double)beta);
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_linear_forward(oclnn_context *ctx, const oclnn_tensor *x, const oclnn_tensor *w,
                                  const oclnn_tensor *b, oclnn_tensor *y)
{
    static const char op[] = "linear_forward";
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "%s: ctx is NULL", op);
    int n = 0, in = 0, out = 0;
    oclnn_status s = check_input(ctx, op, "x", x, &n, &in);
    if (s == OCLNN_SUCCESS)
        s = check_weights(ctx, op, "w", w, in, "x", x, &out);
    if (s == OCLNN_SUCCESS && b) {
        s = oclnn__check_tensor(ctx, op, "b", b);
        if (s == OCLNN_SUCCESS)
            s = oclnn__check_count(ctx, op, "b", b, (size_t)out);
    }
    if (s == OCLNN_SUCCESS)
        s = check_rows(ctx, op, "y", y, n, out);
    if (s != OCLNN_SUCCESS)
        return s;
    oclnn__profile_work(ctx, "linear", 2.0 * n * out * in, 0);

    float beta = 0.0f;
    if (b) {
        /* Broadcast the bias into y, then accumulate the product onto it: one pass over y
         * instead of a separate read-modify-write after the GEMM. */
        cl_kernel k;
        s = oclnn__kernel(ctx, "linear.cl", NULL, "linear_bias_fill", &k);
        if (s != OCLNN_SUCCESS)
            return s;
        int b_off = (int)b->offset, y_off = (int)y->offset;
        oclnn_arg args[] = {OCLNN_ARG(b->mem), OCLNN_ARG(b_off), OCLNN_ARG(y->mem),
                            OCLNN_ARG(y_off),  OCLNN_ARG(n),     OCLNN_ARG(out)};
        size_t global = (size_t)n * out, local = 64;
        s = oclnn__launch(ctx, "linear", k, args, 6, 1, &global, &local);
        if (s != OCLNN_SUCCESS)
            return s;
        beta = 1.0f;
    }
    return oclnn__sgemm(ctx, "linear", false, true, (size_t)n, (size_t)out, (size_t)in, 1.0f,
                        x->mem, x->offset, (size_t)in, w->mem, w->offset, (size_t)in, beta, y->mem,
                        y->offset, (size_t)out);
}

oclnn_status oclnn_linear_backward_data(oclnn_context *ctx, const oclnn_tensor *dy,
                                        const oclnn_tensor *w, oclnn_tensor *dx, float beta)
{
    static const char op[] = "linear_backward_data";
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "%s: ctx is NULL", op);
    int n = 0, out = 0, in = 0;
    oclnn_status s = check_beta(ctx, op, beta);
    if (s == OCLNN_SUCCESS)
        s = oclnn__check_tensor(ctx, op, "dy", dy);
    if (s == OCLNN_SUCCESS && dy->desc.ndim != 2) {
        char sh[64];
        s = oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: dy %s has ndim %d, must be 2 ([n][out])",
                        op, oclnn__shape_str(&dy->desc, sh, sizeof sh), dy->desc.ndim);
    }
    if (s == OCLNN_SUCCESS)
        s = check_input(ctx, op, "dy", dy, &n, &out);
    if (s == OCLNN_SUCCESS)
        s = oclnn__check_tensor(ctx, op, "w", w);
    if (s == OCLNN_SUCCESS && (w->desc.ndim != 2 || w->desc.dims[0] != out)) {
        char sw[64], sd[64];
        s = oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                        "%s: w %s must be 2-D with %d output rows, as dy %s has", op,
                        oclnn__shape_str(&w->desc, sw, sizeof sw), out,
                        oclnn__shape_str(&dy->desc, sd, sizeof sd));
    }
    if (s == OCLNN_SUCCESS) {
        in = w->desc.dims[1];
        s = check_rows(ctx, op, "dx", dx, n, in);
    }
    if (s != OCLNN_SUCCESS)
        return s;
    oclnn__profile_work(ctx, "linear", 2.0 * n * in * out, 0);
    return oclnn__sgemm(ctx, "linear", false, false, (size_t)n, (size_t)in, (size_t)out, 1.0f,
                        dy->mem, dy->offset, (size_t)out, w->mem, w->offset, (size_t)in, beta,
                        dx->mem, dx->offset, (size_t)in);
}

oclnn_status oclnn_linear_backward_weights(oclnn_context *ctx, const oclnn_tensor *x,
                                           const oclnn_tensor *dy, oclnn_tensor *dw,
                                           oclnn_tensor *db, float beta)
{
    static const char op[] = "linear_backward_weights";
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "%s: ctx is NULL", op);
    int n = 0, in = 0, out = 0;
    oclnn_status s = check_beta(ctx, op, beta);
    if (s == OCLNN_SUCCESS)
        s = check_input(ctx, op, "x", x, &n, &in);
    if (s == OCLNN_SUCCESS)
        s = oclnn__check_tensor(ctx, op, "dy", dy);
    if (s == OCLNN_SUCCESS && (dy->desc.ndim != 2 || dy->desc.dims[0] != n)) {
        char sd[64], sx[64];
        s = oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                        "%s: dy %s must be 2-D with %d rows, as x %s has", op,
                        oclnn__shape_str(&dy->desc, sd, sizeof sd), n,
                        oclnn__shape_str(&x->desc, sx, sizeof sx));
    }
    if (s == OCLNN_SUCCESS) {
        out = dy->desc.dims[1];
        s = check_rows(ctx, op, "dw", dw, out, in);
    }
    if (s == OCLNN_SUCCESS && dw->desc.ndim != 2) {
        char sw[64];
        s = oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: dw %s has ndim %d, must be 2 ([%d][%d])",
                        op, oclnn__shape_str(&dw->desc, sw, sizeof sw), dw->desc.ndim, out, in);
    }
    if (s == OCLNN_SUCCESS && db) {
        s = oclnn__check_tensor(ctx, op, "db", db);
        if (s == OCLNN_SUCCESS)
            s = oclnn__check_count(ctx, op, "db", db, (size_t)out);
    }
    if (s != OCLNN_SUCCESS)
        return s;
    oclnn__profile_work(ctx, "linear", 2.0 * n * in * out, 0);

    cl_kernel k = NULL;
    if (db) {
        s = oclnn__kernel(ctx, "linear.cl", NULL, "linear_bias_grad", &k);
        if (s != OCLNN_SUCCESS)
            return s;
    }
    s = oclnn__sgemm(ctx, "linear", true, false, (size_t)out, (size_t)in, (size_t)n, 1.0f, dy->mem,
                     dy->offset, (size_t)out, x->mem, x->offset, (size_t)in, beta, dw->mem,
                     dw->offset, (size_t)in);
    if (s != OCLNN_SUCCESS || !db)
        return s;
    int dy_off = (int)dy->offset, db_off = (int)db->offset;
    oclnn_arg args[] = {OCLNN_ARG(dy->mem), OCLNN_ARG(dy_off), OCLNN_ARG(db->mem),
                        OCLNN_ARG(db_off),  OCLNN_ARG(n),      OCLNN_ARG(out),
                        OCLNN_ARG(beta)};
    size_t global = (size_t)out, local = 64;
    return oclnn__launch(ctx, "linear", k, args, 7, 1, &global, &local);
}
