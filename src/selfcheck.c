/* selfcheck.c - builds and runs one real kernel and compares it with the host. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>

oclnn_status oclnn_self_check(oclnn_context *ctx, double *max_abs_err)
{
    enum { N = 1000 };
    if (max_abs_err)
        *max_abs_err = 0;
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "self_check: ctx is NULL");
    cl_kernel k;
    oclnn_status s = oclnn__kernel(ctx, "selfcheck.cl", "-DSCALE=3.0f", "selfcheck_axpi", &k);
    if (s != OCLNN_SUCCESS)
        return s;
    float *host = oclnn__alloc(ctx, 2 * N * sizeof(float), "self_check");
    if (!host)
        return OCLNN_OUT_OF_MEMORY;
    float *out = host + N;
    for (int i = 0; i < N; i++)
        host[i] = (float)i * 0.25f - 17.0f;
    oclnn_tensor_desc d = oclnn_tensor_desc_1d(N);
    oclnn_tensor *x = NULL, *y = NULL;
    s = oclnn_tensor_create(ctx, &d, &x);
    if (s == OCLNN_SUCCESS)
        s = oclnn_tensor_create(ctx, &d, &y);
    if (s == OCLNN_SUCCESS)
        s = oclnn_tensor_upload(ctx, x, host, N, 0);
    if (s == OCLNN_SUCCESS) {
        int n = N;
        oclnn_arg args[] = {OCLNN_ARG(x->mem), OCLNN_ARG(y->mem), OCLNN_ARG(n)};
        size_t global = N, local = 64;
        s = oclnn__launch(ctx, "self_check", k, args, 3, 1, &global, &local);
    }
    if (s == OCLNN_SUCCESS)
        s = oclnn_tensor_download(ctx, y, out, N, 1);
    double worst = 0;
    for (int i = 0; s == OCLNN_SUCCESS && i < N; i++) {
        double e = fabs((double)out[i] - (3.0 * host[i] + i));
        if (!(e <= worst)) /* catches NaN */
            worst = isnan(e) ? INFINITY : e;
    }
    if (s == OCLNN_SUCCESS && worst > 1e-4)
        s = oclnn__fail(ctx, OCLNN_OPENCL_ERROR,
                        "self_check: device result differs from the host by %g (limit 1e-4)",
                        worst);
    if (max_abs_err)
        *max_abs_err = worst;
    oclnn_tensor_destroy(x);
    oclnn_tensor_destroy(y);
    free(host);
    return s;
}
