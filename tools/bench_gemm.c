/* bench_gemm.c - the copy suite (the device's copy bandwidth as the library itself reaches it:
 * the yardstick of every memory-bound result) and the GEMM suite (oclnn_gemm, GFLOP/s). */
#include "bench.h"

#include <stdio.h>

#define COPY_BYTES (256u << 20)

typedef struct copy_arg {
    oclnn_tensor *x, *y;
} copy_arg;

static oclnn_status copy_call(oclnn_context *ctx, void *p)
{
    copy_arg *a = p;
    return oclnn_copy(ctx, a->x, a->y);
}

void bench_copy(bench *b)
{
    const char *name = "copy 256 MiB";
    oclnn_tensor_desc d = oclnn_tensor_desc_1d(COPY_BYTES / 4);
    /* Not subject to --filter: the layers suite needs it as its yardstick. */
    bench_suite_header(b, "copy", "oclnn_copy of a 256 MiB tensor; bytes = read + write");
    if (b->opt.list) {
        bench_list_entry(b, "copy", name, 0, "\"op\":\"copy\",\"bytes\":536870912",
                         "oclnn_copy, 64Mi floats");
        return;
    }
    copy_arg a;
    b->done = 0;
    b->total = 1;
    if (bench_tensor(b, d, -1, 1, &a.x) != OCLNN_SUCCESS ||
        bench_tensor(b, d, 0, 0, &a.y) != OCLNN_SUCCESS) {
        bench_setup_failed(b, "copy", name, 0);
        bench_release(b);
        return;
    }
    bench_result r = {.suite = "copy",
                      .name = name,
                      .pass = "copy",
                      .bytes = 2.0 * COPY_BYTES,
                      .memory_bound = true};
    double ms;
    if (bench_run(b, &r, copy_call, &a, &ms) == OCLNN_SUCCESS)
        b->copy_gbs = r.bytes / (ms * 1e6);
    bench_release(b);
}

typedef struct gemm_shape {
    const char *name;
    int m, n, k;
    int trans_b; /* b stored [n][k] */
} gemm_shape;

/* Square sizes, the GEMMs of ResNet-18's 3x3 convolutions at batch 1 (M = output channels,
 * N = output pixels, K = input channels x 9), and an AlexNet-sized linear layer's forward at
 * batch 32 (y = x w^T: M = batch, N = outputs, K = inputs, w stored [N][K]). */
static const gemm_shape gemm_shapes[] = {
    {"gemm 1024^3", 1024, 1024, 1024, 0},        {"gemm 2048^3", 2048, 2048, 2048, 0},
    {"gemm 64x3136x576", 64, 3136, 576, 0},      {"gemm 128x784x1152", 128, 784, 1152, 0},
    {"gemm 256x196x2304", 256, 196, 2304, 0},    {"gemm 512x49x4608", 512, 49, 4608, 0},
    {"gemm 32x4096x9216 bT", 32, 4096, 9216, 1},
};

typedef struct gemm_arg {
    oclnn_tensor *a, *b, *c;
    int trans_b;
} gemm_arg;

static oclnn_status gemm_call(oclnn_context *ctx, void *p)
{
    gemm_arg *g = p;
    return oclnn_gemm(ctx, 0, g->trans_b, 1.0f, g->a, g->b, 0.0f, g->c);
}

void bench_gemm(bench *b)
{
    enum { N = sizeof gemm_shapes / sizeof gemm_shapes[0] };
    bench_suite_header(b, "gemm",
                       "oclnn_gemm c[m][n] = a[m][k] b[k][n] (bT: b stored [n][k]); "
                       "flops = 2mnk");
    b->done = 0;
    b->total = 0;
    for (int i = 0; i < N; i++)
        b->total += bench_selected(b, gemm_shapes[i].name);
    for (int i = 0; i < N; i++) {
        const gemm_shape *g = &gemm_shapes[i];
        if (!bench_selected(b, g->name))
            continue;
        if (b->opt.list) {
            char fields[128], desc[96];
            snprintf(fields, sizeof fields,
                     "\"op\":\"gemm\",\"m\":%d,\"n\":%d,\"k\":%d,\"trans_b\":%d", g->m, g->n, g->k,
                     g->trans_b);
            snprintf(desc, sizeof desc, "m=%d n=%d k=%d%s", g->m, g->n, g->k,
                     g->trans_b ? ", b transposed" : "");
            bench_list_entry(b, "gemm", g->name, 0, fields, desc);
            continue;
        }
        gemm_arg a = {.trans_b = g->trans_b};
        const oclnn_tensor_desc db =
            g->trans_b ? oclnn_tensor_desc_2d(g->n, g->k) : oclnn_tensor_desc_2d(g->k, g->n);
        if (bench_tensor(b, oclnn_tensor_desc_2d(g->m, g->k), -1, 1, &a.a) != OCLNN_SUCCESS ||
            bench_tensor(b, db, -1, 1, &a.b) != OCLNN_SUCCESS ||
            bench_tensor(b, oclnn_tensor_desc_2d(g->m, g->n), 0, 0, &a.c) != OCLNN_SUCCESS) {
            bench_setup_failed(b, "gemm", g->name, 0);
            bench_release(b);
            continue;
        }
        bench_result r = {
            .suite = "gemm",
            .name = g->name,
            .pass = "fwd",
            .flops = 2.0 * g->m * g->n * g->k,
            .bytes = 4.0 * ((double)g->m * g->k + (double)g->k * g->n + (double)g->m * g->n)};
        bench_run(b, &r, gemm_call, &a, NULL);
        bench_release(b);
    }
}
