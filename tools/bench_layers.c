/* bench_layers.c - the non-convolution layers: activations, add, pooling, normalisation,
 * softmax + cross-entropy, optimiser steps and a linear layer. Most are memory-bound: each is
 * reported in GB/s counted from the bytes it must move (below) and as % of the copy bandwidth. */
#include "bench.h"

#include <stdio.h>
#include <string.h>

/* ResNet-18 stage-1 activations x[n][64][56][56]; pooling runs on the stem output at 112x112. */
#define ACT_C 64
#define ACT_HW 56
#define POOL_HW 112
/* ResNet-18's parameter count. */
#define OPT_PARAMS 11689512
#define LIN_BATCH 64
#define LIN_IN 3136
#define LIN_OUT 128

typedef enum op {
    OP_RELU,
    OP_GELU,
    OP_ADD,
    OP_MAXPOOL,
    OP_AVGPOOL,
    OP_GAP,
    OP_BATCHNORM,
    OP_LAYERNORM_CHW,
    OP_LAYERNORM_CHANNELS,
    OP_SOFTMAX_CE,
    OP_SGD,
    OP_ADAMW,
    OP_LINEAR,
} op;

typedef struct layer_entry {
    const char *name;
    const char *op_name; /* the "op" of --list --json, read by bench_torch.py */
    op op;
    int rows, cols; /* softmax-CE: n x classes (fixed batch) */
} layer_entry;

static const layer_entry entries[] = {
    {"relu", "relu", OP_RELU, 0, 0},
    {"gelu", "gelu", OP_GELU, 0, 0},
    {"add", "add", OP_ADD, 0, 0},
    {"maxpool3x3s2", "maxpool", OP_MAXPOOL, 0, 0},
    {"avgpool3x3s2", "avgpool", OP_AVGPOOL, 0, 0},
    {"global_avg_pool", "global_avg_pool", OP_GAP, 0, 0},
    {"batchnorm", "batchnorm", OP_BATCHNORM, 0, 0},
    {"layernorm.chw", "layernorm_chw", OP_LAYERNORM_CHW, 0, 0},
    {"layernorm.channels", "layernorm_channels", OP_LAYERNORM_CHANNELS, 0, 0},
    {"softmax_ce.128x10", "softmax_ce", OP_SOFTMAX_CE, 128, 10},
    {"softmax_ce.1024x1000", "softmax_ce", OP_SOFTMAX_CE, 1024, 1000},
    {"sgd.11.7M", "sgd", OP_SGD, 0, 0},
    {"adamw.11.7M", "adamw", OP_ADAMW, 0, 0},
    {"linear.3136>128", "linear", OP_LINEAR, 0, 0},
};
enum { NENTRIES = sizeof entries / sizeof entries[0] };

static const int default_batches[] = {32};

/* Pooling windows: 3x3 stride 2 pad 1 (ResNet's stem max-pool); average counts the padding
 * (PyTorch's default). */
static oclnn_pool2d_desc pool_desc(oclnn_pool_mode mode)
{
    oclnn_pool2d_desc d = oclnn_pool2d_desc_default();
    d.mode = mode;
    d.window_h = d.window_w = 3;
    d.stride_h = d.stride_w = 2;
    d.pad_top = d.pad_bottom = d.pad_left = d.pad_right = 1;
    return d;
}

/* Ops whose batch is the suite's --batch (the others have a fixed shape). */
static bool batched(op o)
{
    return o <= OP_LAYERNORM_CHANNELS;
}

typedef struct layer_arg {
    op op;
    int pass; /* 0 forward, 1 backward data (or both for ops with one backward), 2 weights */
    oclnn_pool2d_desc pool;
    oclnn_batchnorm_desc bn;
    oclnn_layernorm_desc ln;
    oclnn_sgd_desc sgd;
    oclnn_adam_desc adam;
    oclnn_tensor *x, *y, *dy, *dx, *z;
    oclnn_tensor *gamma, *beta, *rmean, *rvar, *smean, *sinv, *dgamma, *dbeta;
    oclnn_tensor *labels, *loss;
    oclnn_tensor *w, *b, *dw, *db;
    oclnn_tensor *argmax; /* max pooling: the training forward's arg-max codes */
} layer_arg;

static oclnn_status layer_call(oclnn_context *ctx, void *p)
{
    layer_arg *a = p;
    bool fwd = a->pass == 0;
    switch (a->op) {
    case OP_RELU:
    case OP_GELU: {
        oclnn_activation act = a->op == OP_RELU ? OCLNN_ACT_RELU : OCLNN_ACT_GELU;
        return fwd ? oclnn_activation_forward(ctx, act, a->x, a->y)
                   : oclnn_activation_backward(ctx, act, a->x, a->dy, a->dx);
    }
    case OP_ADD: return oclnn_add(ctx, 1.0f, a->x, 1.0f, a->z, a->y);
    case OP_MAXPOOL: /* backward as in training (and PyTorch): from the forward's arg-max */
        return fwd ? oclnn_pool2d_forward(ctx, &a->pool, a->x, a->y)
                   : oclnn_pool2d_backward_argmax(ctx, &a->pool, a->argmax, a->dy, a->dx);
    case OP_AVGPOOL:
        return fwd ? oclnn_pool2d_forward(ctx, &a->pool, a->x, a->y)
                   : oclnn_pool2d_backward(ctx, &a->pool, a->x, a->dy, a->dx);
    case OP_GAP:
        return fwd ? oclnn_global_avg_pool_forward(ctx, a->x, a->y)
                   : oclnn_global_avg_pool_backward(ctx, a->dy, a->dx);
    case OP_BATCHNORM:
        return fwd ? oclnn_batchnorm_forward_training(ctx, &a->bn, a->x, a->gamma, a->beta,
                                                      a->rmean, a->rvar, a->smean, a->sinv, a->y)
                   : oclnn_batchnorm_backward(ctx, &a->bn, a->x, a->dy, a->gamma, a->smean, a->sinv,
                                              a->dx, a->dgamma, a->dbeta, 0.0f);
    case OP_LAYERNORM_CHW:
    case OP_LAYERNORM_CHANNELS:
        return fwd ? oclnn_layernorm_forward(ctx, &a->ln, a->x, a->gamma, a->beta, a->smean,
                                             a->sinv, a->y)
                   : oclnn_layernorm_backward(ctx, &a->ln, a->x, a->dy, a->gamma, a->smean, a->sinv,
                                              a->dx, a->dgamma, a->dbeta, 0.0f);
    case OP_SOFTMAX_CE:
        return fwd ? oclnn_softmax_cross_entropy_forward(ctx, a->x, a->labels, a->y, a->loss)
                   : oclnn_softmax_cross_entropy_backward(ctx, a->y, a->labels, 1.0f, a->dx);
    case OP_SGD: return oclnn_sgd_step(ctx, &a->sgd, a->x, a->dy, a->z, 0);
    case OP_ADAMW: return oclnn_adam_step(ctx, &a->adam, 10, a->x, a->dy, a->z, a->y);
    case OP_LINEAR:
        if (a->pass == 0)
            return oclnn_linear_forward(ctx, a->x, a->w, a->b, a->y);
        if (a->pass == 1)
            return oclnn_linear_backward_data(ctx, a->dy, a->w, a->dx, 0.0f);
        return oclnn_linear_backward_weights(ctx, a->x, a->dy, a->dw, a->db, 0.0f);
    }
    return OCLNN_INVALID_ARGUMENT;
}

/* Shapes of an entry at batch n: x (input), y (output of the forward pass). */
static void shapes(const layer_entry *e, int n, oclnn_tensor_desc *x, oclnn_tensor_desc *y)
{
    switch (e->op) {
    case OP_MAXPOOL:
    case OP_AVGPOOL: {
        int out = (POOL_HW + 2 * 1 - 3) / 2 + 1; /* pool_desc's window, stride and padding */
        *x = oclnn_tensor_desc_4d(n, ACT_C, POOL_HW, POOL_HW);
        *y = oclnn_tensor_desc_4d(n, ACT_C, out, out);
        return;
    }
    case OP_GAP:
        *x = oclnn_tensor_desc_4d(n, ACT_C, ACT_HW, ACT_HW);
        *y = oclnn_tensor_desc_2d(n, ACT_C);
        return;
    case OP_SOFTMAX_CE: *x = *y = oclnn_tensor_desc_2d(e->rows, e->cols); return;
    case OP_SGD:
    case OP_ADAMW: *x = *y = oclnn_tensor_desc_1d(OPT_PARAMS); return;
    case OP_LINEAR:
        *x = oclnn_tensor_desc_2d(LIN_BATCH, LIN_IN);
        *y = oclnn_tensor_desc_2d(LIN_BATCH, LIN_OUT);
        return;
    default: *x = *y = oclnn_tensor_desc_4d(n, ACT_C, ACT_HW, ACT_HW); return;
    }
}

/* Bytes each pass must move at least (f32 = 4 bytes; E = elements of x, Ey of y, C channels,
 * P parameters): every input read once, every output written once. Kernels that read an input
 * twice (two-pass statistics) move more: the GB/s figure is then "useful" bandwidth and its % of
 * copy says how close to the minimum they come.
 *   relu/gelu fwd  x, y                          2E        bwd  x, dy, dx            3E
 *   add            a, b, y                       3E
 *   pool fwd       x, y                          E + Ey    bwd max  argmax, dy, dx   E + 1.25Ey
 *                                                          bwd avg  dy, dx           E + Ey
 *   global avg     x, y                          E + NC    bwd  dy, dx               E + NC
 *   batchnorm fwd  x, gamma, beta, running mean/var in+out, y, save mean/invstd   2E + 9C
 *            bwd   x, dy, gamma, save mean/invstd, dx, dgamma, dbeta             3E + 5C
 *   layernorm fwd  x, gamma, beta (G each: CHW or C), y, mean/invstd (M groups)  2E + 2G + 2M
 *            bwd   x, dy, gamma, mean/invstd, dx, dgamma, dbeta                  3E + 3G + 2M
 *   softmax-CE fwd logits, labels, probs, loss   2NK + N + 1
 *            bwd   probs, labels, dlogits        2NK + N
 *   SGD            p, g, buf in; p, buf out      5P        AdamW p, g, m, v in; p, m, v out 7P
 *   linear fwd     x, w, b, y;  bwd_data dy, w, dx;  bwd_weights x, dy, dw, db
 */
static double pass_bytes(const layer_entry *e, int pass, const oclnn_tensor_desc *xd,
                         const oclnn_tensor_desc *yd)
{
    double E = (double)oclnn_tensor_desc_count(xd), Ey = (double)oclnn_tensor_desc_count(yd);
    double C = ACT_C, N = xd->dims[0];
    bool fwd = pass == 0;
    double v = 0;
    switch (e->op) {
    case OP_RELU:
    case OP_GELU: v = fwd ? 2 * E : 3 * E; break;
    case OP_ADD: v = 3 * E; break;
    case OP_MAXPOOL: v = fwd ? E + Ey : E + 1.25 * Ey; break;
    case OP_AVGPOOL: v = E + Ey; break;
    case OP_GAP: v = E + N * C; break;
    case OP_BATCHNORM: v = fwd ? 2 * E + 9 * C : 3 * E + 5 * C; break;
    case OP_LAYERNORM_CHW:
        v = fwd ? 2 * E + 2 * (E / N) + 2 * N : 3 * E + 3 * (E / N) + 2 * N;
        break;
    case OP_LAYERNORM_CHANNELS: {
        double m = E / C;
        v = fwd ? 2 * E + 2 * C + 2 * m : 3 * E + 3 * C + 2 * m;
        break;
    }
    case OP_SOFTMAX_CE: v = fwd ? 2 * E + N + 1 : 2 * E + N; break;
    case OP_SGD: v = 5 * E; break;
    case OP_ADAMW: v = 7 * E; break;
    case OP_LINEAR: {
        double x = E, y = Ey, w = (double)LIN_IN * LIN_OUT, b = LIN_OUT;
        v = pass == 0 ? x + w + b + y : pass == 1 ? y + w + x : x + y + w + b;
        break;
    }
    }
    return 4 * v;
}

static const char *pass_name(const layer_entry *e, int pass)
{
    if (e->op == OP_SGD || e->op == OP_ADAMW)
        return "step";
    if (e->op == OP_LINEAR)
        return pass == 0 ? "fwd" : pass == 1 ? "bwd_data" : "bwd_weights";
    return pass == 0 ? "fwd" : "bwd";
}

/* Passes of an entry as a bit set: 1 forward, 2 backward (data, or the only backward),
 * 4 backward weights. */
static unsigned entry_passes(const layer_entry *e)
{
    switch (e->op) {
    case OP_ADD:
    case OP_SGD:
    case OP_ADAMW: return 1;
    case OP_LINEAR: return 7;
    default: return 3;
    }
}

/* --pass selects: "fwd" forward passes; "bwd_data" and "bwd_weights" an op's only backward
 * ("bwd") as well as linear's own; optimiser steps always run. */
static bool pass_selected(const bench *b, const layer_entry *e, int pass)
{
    if (e->op == OP_SGD || e->op == OP_ADAMW)
        return true;
    if (pass == 0)
        return b->opt.passes & BENCH_FWD;
    if (e->op == OP_LINEAR)
        return b->opt.passes & (pass == 1 ? BENCH_BWD_DATA : BENCH_BWD_WEIGHTS);
    return b->opt.passes & (BENCH_BWD_DATA | BENCH_BWD_WEIGHTS);
}

static oclnn_status make_tensors(bench *b, const layer_entry *e, const oclnn_tensor_desc *xd,
                                 const oclnn_tensor_desc *yd, layer_arg *a)
{
    oclnn_status s;
    int n = xd->dims[0];
    oclnn_tensor_desc cd = oclnn_tensor_desc_1d(ACT_C);
#define T(dst, desc, lo, hi)                                                                       \
    do {                                                                                           \
        if ((s = bench_tensor(b, desc, lo, hi, &a->dst)) != OCLNN_SUCCESS)                         \
            return s;                                                                              \
    } while (0)
    T(x, *xd, -2, 2);
    switch (e->op) {
    case OP_RELU:
    case OP_GELU:
    case OP_MAXPOOL:
    case OP_AVGPOOL:
    case OP_GAP:
        T(y, *yd, 0, 0);
        T(dy, *yd, -1, 1);
        T(dx, *xd, 0, 0);
        if (e->op == OP_MAXPOOL) { /* random bytes, then the codes of x */
            oclnn_tensor_desc ad = *yd;
            ad.dtype = OCLNN_U8;
            T(argmax, ad, 0, 0);
            s = oclnn_pool2d_forward_argmax(b->ctx, &a->pool, a->x, a->y, a->argmax);
            if (s != OCLNN_SUCCESS)
                return s;
        }
        break;
    case OP_ADD:
        T(z, *xd, -2, 2);
        T(y, *xd, 0, 0);
        break;
    case OP_BATCHNORM:
        T(y, *xd, 0, 0);
        T(dy, *xd, -1, 1);
        T(dx, *xd, 0, 0);
        T(gamma, cd, 0.5f, 1.5f);
        T(beta, cd, -0.5f, 0.5f);
        T(rmean, cd, -0.1f, 0.1f);
        T(rvar, cd, 0.9f, 1.1f);
        T(smean, cd, 0, 0);
        T(sinv, cd, 1, 1);
        T(dgamma, cd, 0, 0);
        T(dbeta, cd, 0, 0);
        break;
    case OP_LAYERNORM_CHW:
    case OP_LAYERNORM_CHANNELS: {
        bool chw = e->op == OP_LAYERNORM_CHW;
        oclnn_tensor_desc gd = oclnn_tensor_desc_1d(chw ? ACT_C * ACT_HW * ACT_HW : ACT_C);
        oclnn_tensor_desc sd = oclnn_tensor_desc_1d(chw ? n : n * ACT_HW * ACT_HW);
        T(y, *xd, 0, 0);
        T(dy, *xd, -1, 1);
        T(dx, *xd, 0, 0);
        T(gamma, gd, 0.5f, 1.5f);
        T(beta, gd, -0.5f, 0.5f);
        T(smean, sd, 0, 0);
        T(sinv, sd, 1, 1);
        T(dgamma, gd, 0, 0);
        T(dbeta, gd, 0, 0);
        break;
    }
    case OP_SOFTMAX_CE:
        T(y, *xd, 0, 0);
        T(dx, *xd, 0, 0);
        T(loss, oclnn_tensor_desc_1d(1), 0, 0);
        if ((s = bench_labels(b, e->rows, e->cols, &a->labels)) != OCLNN_SUCCESS)
            return s;
        break;
    case OP_SGD:
    case OP_ADAMW:
        T(dy, *xd, -1e-3f, 1e-3f); /* gradient */
        T(z, *xd, -1e-3f, 1e-3f);  /* momentum buffer / first moment */
        T(y, *xd, 0, 1e-6f);       /* second moment */
        break;
    case OP_LINEAR: {
        oclnn_tensor_desc wd = oclnn_tensor_desc_2d(LIN_OUT, LIN_IN);
        oclnn_tensor_desc bd = oclnn_tensor_desc_1d(LIN_OUT);
        T(w, wd, -0.02f, 0.02f);
        T(b, bd, -0.1f, 0.1f);
        T(y, *yd, 0, 0);
        T(dy, *yd, -1, 1);
        T(dx, *xd, 0, 0);
        T(dw, wd, 0, 0);
        T(db, bd, 0, 0);
        break;
    }
    }
#undef T
    return OCLNN_SUCCESS;
}

static void list_entry(bench *b, const layer_entry *e, int n, const oclnn_tensor_desc *xd,
                       const oclnn_tensor_desc *yd)
{
    char fields[320], dims[64], desc[256], passes[64] = "";
    int len = 0;
    for (int i = 0; i < xd->ndim; i++)
        len += snprintf(dims + len, sizeof dims - len, "%s%d", i ? "," : "", xd->dims[i]);
    for (int p = 0; p < 3; p++)
        if (entry_passes(e) & (1u << p))
            snprintf(passes + strlen(passes), sizeof passes - strlen(passes), "%s\"%s\"",
                     passes[0] ? "," : "", pass_name(e, p));
    int k = snprintf(fields, sizeof fields, "\"op\":\"%s\",\"x\":[%s],\"passes\":[%s]", e->op_name,
                     dims, passes);
    if (e->op == OP_MAXPOOL || e->op == OP_AVGPOOL)
        snprintf(fields + k, sizeof fields - k,
                 ",\"window\":3,\"stride\":2,\"pad\":1,\"count_include_pad\":true");
    else if (e->op == OP_LINEAR)
        snprintf(fields + k, sizeof fields - k, ",\"out\":%d", LIN_OUT);
    else if (e->op == OP_SGD)
        snprintf(fields + k, sizeof fields - k,
                 ",\"lr\":0.05,\"momentum\":0.9,\"weight_decay\":0.0005");
    else if (e->op == OP_ADAMW)
        snprintf(fields + k, sizeof fields - k, ",\"lr\":0.002,\"weight_decay\":0.05");
    else if (e->op == OP_LAYERNORM_CHW || e->op == OP_LAYERNORM_CHANNELS)
        snprintf(fields + k, sizeof fields - k, ",\"eps\":1e-6");
    (void)yd;
    snprintf(desc, sizeof desc, "%s, x [%s], passes %s", e->op_name, dims, passes);
    bench_list_entry(b, "layers", e->name, n, fields, desc);
}

void bench_layers(bench *b)
{
    const int *batches;
    int nb = bench_batches(b, default_batches, 1, &batches);
    bench_suite_header(b, "layers",
                       "GB/s from the bytes each op must move (tools/bench_layers.c"
                       "), % of the copy bandwidth; linear in GFLOP/s");
    b->done = 0;
    b->total = 0;
    for (int i = 0; i < NENTRIES; i++)
        if (bench_selected(b, entries[i].name))
            for (int p = 0; p < 3; p++)
                if ((entry_passes(&entries[i]) & (1u << p)) && pass_selected(b, &entries[i], p))
                    b->total += batched(entries[i].op) ? nb : 1;

    for (int i = 0; i < NENTRIES; i++) {
        const layer_entry *e = &entries[i];
        if (!bench_selected(b, e->name))
            continue;
        for (int bi = 0; bi < (batched(e->op) ? nb : 1); bi++) {
            int n = batched(e->op) ? batches[bi] : 0;
            oclnn_tensor_desc xd, yd;
            shapes(e, n, &xd, &yd);
            int shown_batch = xd.ndim == 1 ? 0 : xd.dims[0];
            if (b->opt.list) {
                list_entry(b, e, shown_batch, &xd, &yd);
                continue;
            }
            layer_arg a;
            memset(&a, 0, sizeof a);
            a.op = e->op;
            a.pool = pool_desc(e->op == OP_MAXPOOL ? OCLNN_POOL_MAX : OCLNN_POOL_AVG);
            a.bn = oclnn_batchnorm_desc_default();
            a.ln = oclnn_layernorm_desc_default();
            a.ln.mode =
                e->op == OP_LAYERNORM_CHANNELS ? OCLNN_LAYERNORM_CHANNELS : OCLNN_LAYERNORM_CHW;
            a.sgd = (oclnn_sgd_desc){.lr = 0.05f, .momentum = 0.9f, .weight_decay = 5e-4f};
            a.adam = oclnn_adam_desc_default();
            a.adam.lr = 2e-3f;
            a.adam.weight_decay = 0.05f;
            a.adam.decoupled = 1;
            if (make_tensors(b, e, &xd, &yd, &a) != OCLNN_SUCCESS) {
                bench_setup_failed(b, "layers", e->name, shown_batch);
                bench_release(b);
                continue;
            }
            /* Backward passes read what the forward pass saves (statistics, probabilities).
             * A failure here is reported by the forward measurement itself. */
            if (entry_passes(e) & 2) {
                a.pass = 0;
                (void)layer_call(b->ctx, &a);
            }
            for (int p = 0; p < 3; p++) {
                if (!(entry_passes(e) & (1u << p)) || !pass_selected(b, e, p))
                    continue;
                a.pass = p;
                bool lin = e->op == OP_LINEAR;
                bench_result r = {.suite = "layers",
                                  .name = e->name,
                                  .batch = shown_batch,
                                  .pass = pass_name(e, p),
                                  .bytes = pass_bytes(e, p, &xd, &yd),
                                  .flops = lin ? 2.0 * LIN_BATCH * LIN_IN * LIN_OUT : 0,
                                  .memory_bound = !lin};
                bench_run(b, &r, layer_call, &a, NULL);
            }
            bench_release(b);
        }
    }
}
