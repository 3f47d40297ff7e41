/* bench_conv.c - the convolution suite: named layers of ResNet-18, ConvNeXt-T and LeNet, each
 * pass (forward, backward data, backward weights) for AUTO and every algorithm that applies. */
#include "bench.h"
#include "conv_layers.h"

#include <stdio.h>

static const int default_batches[] = {1, 32};

static const struct {
    unsigned bit;
    oclnn_conv_pass pass;
    const char *name;
} passes[] = {
    {BENCH_FWD, OCLNN_CONV_FORWARD, "fwd"},
    {BENCH_BWD_DATA, OCLNN_CONV_BACKWARD_DATA, "bwd_data"},
    {BENCH_BWD_WEIGHTS, OCLNN_CONV_BACKWARD_WEIGHTS, "bwd_weights"},
};

static bool applies(const conv_layer *l, oclnn_conv_algo a)
{
    switch (a) {
    case OCLNN_CONV_AUTO:
    case OCLNN_CONV_DIRECT:
    case OCLNN_CONV_IM2COL_GEMM: return true;
    case OCLNN_CONV_GEMM_1X1:
        return l->r == 1 && l->s == 1 && l->stride == 1 && l->pad == 0 && l->groups == 1;
    case OCLNN_CONV_DEPTHWISE: return l->groups == l->c;
    case OCLNN_CONV_WINOGRAD: return l->r == 3 && l->s == 3 && l->stride == 1 && l->groups == 1;
    }
    return false;
}

/* Algorithms to measure for a layer: --algo's, else AUTO and all that apply. */
static unsigned algos_for(const bench *b, const conv_layer *l)
{
    unsigned set = 0;
    for (int a = OCLNN_CONV_AUTO; a <= OCLNN_CONV_WINOGRAD; a++)
        if (applies(l, (oclnn_conv_algo)a) && (!b->opt.algos || (b->opt.algos & (1u << a))))
            set |= 1u << a;
    return set;
}

static int popcount(unsigned v)
{
    int n = 0;
    for (; v; v &= v - 1)
        n++;
    return n;
}

typedef struct conv_arg {
    oclnn_conv2d_desc desc;
    oclnn_conv_pass pass;
    oclnn_tensor *x, *w, *y, *dy, *dx, *dw;
} conv_arg;

static oclnn_status conv_call(oclnn_context *ctx, void *p)
{
    conv_arg *a = p;
    switch (a->pass) {
    case OCLNN_CONV_FORWARD:
        return oclnn_conv2d_forward(ctx, &a->desc, a->x, a->w, NULL, NULL, a->y);
    case OCLNN_CONV_BACKWARD_DATA:
        return oclnn_conv2d_backward_data(ctx, &a->desc, a->dy, a->w, a->dx, 0.0f);
    case OCLNN_CONV_BACKWARD_WEIGHTS:
        return oclnn_conv2d_backward_weights(ctx, &a->desc, a->x, a->dy, a->dw, NULL, 0.0f);
    }
    return OCLNN_INVALID_ARGUMENT;
}

static void list_layer(bench *b, const conv_layer *l, int n, int oh, int ow)
{
    char fields[256], desc[160];
    snprintf(fields, sizeof fields,
             "\"op\":\"conv2d\",\"c\":%d,\"h\":%d,\"w\":%d,\"k\":%d,\"r\":%d,\"s\":%d,"
             "\"stride\":%d,\"pad\":%d,\"groups\":%d,\"oh\":%d,\"ow\":%d,"
             "\"passes\":[\"fwd\",\"bwd_data\",\"bwd_weights\"]",
             l->c, l->h, l->w, l->k, l->r, l->s, l->stride, l->pad, l->groups, oh, ow);
    snprintf(desc, sizeof desc, "x %dx%dx%dx%d, w %dx%dx%dx%d, stride %d, pad %d, groups %d", n,
             l->c, l->h, l->w, l->k, l->c / l->groups, l->r, l->s, l->stride, l->pad, l->groups);
    bench_list_entry(b, "conv", l->name, n, fields, desc);
}

void bench_conv(bench *b)
{
    const int *batches;
    int nb = bench_batches(b, default_batches, 2, &batches);
    bench_suite_header(b, "conv",
                       "GFLOP/s with flops = 2*N*K*OH*OW*(C/groups)*R*S per pass; "
                       "chosen = what AUTO picks for that pass");
    b->done = 0;
    b->total = 0;
    for (int i = 0; i < CONV_NLAYERS; i++)
        if (bench_selected(b, conv_layers[i].name))
            b->total += nb * popcount(b->opt.passes) * popcount(algos_for(b, &conv_layers[i]));

    for (int i = 0; i < CONV_NLAYERS; i++) {
        const conv_layer *l = &conv_layers[i];
        if (!bench_selected(b, l->name))
            continue;
        int oh, ow;
        conv_layer_output(l, &oh, &ow);
        for (int bi = 0; bi < nb; bi++) {
            int n = batches[bi];
            if (b->opt.list) {
                list_layer(b, l, n, oh, ow);
                continue;
            }
            const oclnn_conv_tune_shape sh = conv_layer_shape(l, n);
            conv_arg a = {.desc = sh.conv};
            const oclnn_tensor_desc xd = sh.x, wd = sh.w;
            oclnn_tensor_desc yd = oclnn_tensor_desc_4d(n, l->k, oh, ow);
            if (bench_tensor(b, xd, -1, 1, &a.x) != OCLNN_SUCCESS ||
                bench_tensor(b, wd, -0.1f, 0.1f, &a.w) != OCLNN_SUCCESS ||
                bench_tensor(b, yd, 0, 0, &a.y) != OCLNN_SUCCESS ||
                bench_tensor(b, yd, -1, 1, &a.dy) != OCLNN_SUCCESS ||
                bench_tensor(b, xd, 0, 0, &a.dx) != OCLNN_SUCCESS ||
                bench_tensor(b, wd, 0, 0, &a.dw) != OCLNN_SUCCESS) {
                bench_setup_failed(b, "conv", l->name, n);
                bench_release(b);
                continue;
            }
            double flops = 2.0 * n * l->k * oh * ow * (double)(l->c / l->groups) * l->r * l->s;
            unsigned algos = algos_for(b, l);
            for (int p = 0; p < 3; p++) {
                if (!(b->opt.passes & passes[p].bit))
                    continue;
                oclnn_conv_algo chosen;
                size_t ws;
                const char *chosen_name = "?";
                a.pass = passes[p].pass;
                a.desc.algo = OCLNN_CONV_AUTO;
                if (oclnn_conv2d_choose(b->ctx, &a.desc, a.pass, &xd, &wd, &chosen, &ws) ==
                    OCLNN_SUCCESS)
                    chosen_name = bench_algo_name(chosen);
                for (int al = OCLNN_CONV_AUTO; al <= OCLNN_CONV_WINOGRAD; al++) {
                    if (!(algos & (1u << al)))
                        continue;
                    a.desc.algo = (oclnn_conv_algo)al;
                    bench_result r = {.suite = "conv",
                                      .name = l->name,
                                      .batch = n,
                                      .pass = passes[p].name,
                                      .algo = bench_algo_name((oclnn_conv_algo)al),
                                      .chosen = chosen_name,
                                      .flops = flops};
                    bench_run(b, &r, conv_call, &a, NULL);
                }
            }
            bench_release(b);
        }
    }
}
