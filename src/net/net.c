/* net.c - the network scheduler: layers, shape inference, initialisation, the memory plan and
 * the training step (forward, backward, optimizer) enqueued through the public op functions. */
#include "net_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        oclnn_status s_ = (expr);                                                                  \
        if (s_ != OCLNN_SUCCESS)                                                                   \
            return s_;                                                                             \
    } while (0)

static const char *kind_name(net_kind k)
{
    static const char *names[] = {"conv",  "batchnorm", "layernorm", "activation",
                                  "pool",  "gap",       "flatten",   "linear",
                                  "scale", "residual",  "softmax_ce"};
    return names[k];
}

/* ---- building ---- */

oclnn_status oclnn_net_create(oclnn_context *ctx, const char *name, oclnn_net **out)
{
    if (!out)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "net_create: out is NULL");
    *out = NULL;
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "net_create: ctx is NULL");
    if (name && (!name[0] || strlen(name) >= sizeof((oclnn_net *)0)->name))
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "net_create: name \"%s\" must have 1 to 63 characters", name);
    oclnn_net *net = oclnn__alloc(ctx, sizeof *net, "net_create");
    if (!net)
        return OCLNN_OUT_OF_MEMORY;
    memset(net, 0, sizeof *net);
    net->ctx = ctx;
    snprintf(net->name, sizeof net->name, "%s", name ? name : "net");
    net->cursor = -1;
    *out = net;
    return OCLNN_SUCCESS;
}

static void release_tensor(oclnn_tensor **t)
{
    oclnn_tensor_destroy(*t);
    *t = NULL;
}

/* Frees everything compile made, keeping the layers as they were added. */
static void release_compiled(oclnn_net *net)
{
    for (int i = 0; i < net->nlayers; i++) {
        net_layer *l = &net->layers[i];
        release_tensor(&l->y);
        release_tensor(&l->save_mean);
        release_tensor(&l->save_invstd);
        release_tensor(&l->probs);
        release_tensor(&l->argmax);
        release_tensor(&l->dy);
        for (int j = 0; j < 2; j++) {
            release_tensor(&l->dx[j]);
            release_tensor(&l->tmp[j]);
        }
        release_tensor(&l->fold_w);
        release_tensor(&l->fold_b);
        l->fold_into = -1;
        l->folded = false;
        for (int j = 0; j < 4; j++)
            l->params[j] = -1;
        l->inplace = false;
        l->gnode = l->grad_slab = -1;
    }
    for (int i = 0; i < net->nparams; i++) {
        release_tensor(&net->params[i].p);
        release_tensor(&net->params[i].g);
        release_tensor(&net->params[i].m);
        release_tensor(&net->params[i].v);
    }
    for (int j = 0; j < 2; j++) {
        release_tensor(&net->group_p[j]);
        release_tensor(&net->group_g[j]);
        release_tensor(&net->group_m[j]);
        release_tensor(&net->group_v[j]);
    }
    for (int i = 0; i < net->nacts; i++)
        oclnn_tensor_destroy(net->acts[i]);
    for (int i = 0; i < net->nslabs; i++)
        oclnn_tensor_destroy(net->slabs[i]);
    for (int i = 0; i < OCLNN_NET_STAT_SLOTS; i++) {
        release_tensor(&net->loss_slot[i]);
        release_tensor(&net->correct_slot[i]);
    }
    for (int i = 0; i < NET_STAGES; i++) {
        if (net->stage_ev[i])
            clReleaseEvent(net->stage_ev[i]);
        net->stage_ev[i] = NULL;
        free(net->stage_x[i]);
        free(net->stage_labels[i]);
        net->stage_x[i] = NULL;
        net->stage_labels[i] = NULL;
    }
    release_tensor(&net->loss_ring);
    release_tensor(&net->correct_ring);
    release_tensor(&net->scratch);
    release_tensor(&net->pbuf);
    release_tensor(&net->gbuf);
    release_tensor(&net->mbuf);
    release_tensor(&net->vbuf);
    release_tensor(&net->x);
    release_tensor(&net->labels);
    free(net->acts);
    free(net->slabs);
    free(net->written);
    free(net->logits_host);
    free(net->params);
    net->acts = NULL;
    net->slabs = NULL;
    net->written = NULL;
    net->logits_host = NULL;
    net->params = NULL;
    net->nacts = net->nslabs = net->nparams = 0;
    net->classes = 0;
    memset(&net->mem, 0, sizeof net->mem);
    net->compiled = false;
}

void oclnn_net_destroy(oclnn_net *net)
{
    if (!net)
        return;
    oclnn_context_finish(net->ctx);
    release_compiled(net);
    free(net->layers);
    free(net);
}

oclnn_status oclnn_net_branch(oclnn_net *net, int from)
{
    if (!net)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "net_branch: net is NULL");
    if (net->compiled)
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                           "net_branch: the net is compiled; no layer may be added");
    if (from < -1 || from >= net->nlayers)
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                           "net_branch: from %d is not a layer (-1 to %d)", from, net->nlayers - 1);
    net->cursor = from;
    return OCLNN_SUCCESS;
}

/* Appends a layer of `kind` reading the cursor; on success *out points at it (valid until the
 * next add). */
static oclnn_status add_layer(oclnn_net *net, const char *op, net_kind kind, const char *name,
                              net_layer **out)
{
    *out = NULL;
    if (!net)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "%s: net is NULL", op);
    if (net->compiled)
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: the net is compiled; no layer may be added", op);
    if (net->nlayers > 0 && net->layers[net->nlayers - 1].kind == NET_SOFTMAX_CE)
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT, "%s: the loss must be the last layer",
                           op);
    char def[64];
    snprintf(def, sizeof def, "%s%d", kind_name(kind), net->nlayers);
    if (!name)
        name = def;
    if (!name[0] || strlen(name) >= sizeof def || strchr(name, '.'))
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: name \"%s\" must have 1 to 63 characters and no '.'", op, name);
    for (int i = 0; i < net->nlayers; i++)
        if (!strcmp(net->layers[i].name, name))
            return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                               "%s: name \"%s\" is already layer %d's", op, name, i);
    if (net->nlayers == net->cap) {
        int cap = net->cap ? 2 * net->cap : 16;
        net_layer *nl = realloc(net->layers, (size_t)cap * sizeof *nl);
        if (!nl)
            return oclnn__fail(net->ctx, OCLNN_OUT_OF_MEMORY, "%s: out of host memory", op);
        net->layers = nl;
        net->cap = cap;
    }
    net_layer *l = &net->layers[net->nlayers];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    snprintf(l->name, sizeof l->name, "%s", name);
    l->in = net->cursor;
    l->in2 = -1;
    for (int j = 0; j < 4; j++)
        l->params[j] = -1;
    l->fold_into = -1;
    l->gnode = -1;
    l->grad_slab = -1;
    *out = l;
    return OCLNN_SUCCESS;
}

static oclnn_status added(oclnn_net *net, int *id)
{
    net->cursor = net->nlayers;
    if (id)
        *id = net->nlayers;
    net->nlayers++;
    return OCLNN_SUCCESS;
}

oclnn_net_conv_desc oclnn_net_conv_desc_default(int out_channels, int k)
{
    oclnn_net_conv_desc d;
    memset(&d, 0, sizeof d);
    d.out_channels = out_channels;
    d.kernel_h = d.kernel_w = k;
    d.conv = oclnn_conv2d_desc_default();
    oclnn_conv2d_desc_set_pad(&d.conv, k / 2, k / 2);
    d.bias = 1;
    return d;
}

oclnn_status oclnn_net_add_conv(oclnn_net *net, const char *name, const oclnn_net_conv_desc *desc,
                                int *id)
{
    if (id)
        *id = -1;
    net_layer *l;
    TRY(add_layer(net, "net_add_conv", NET_CONV, name, &l));
    if (!desc)
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT, "net_add_conv: desc is NULL");
    if (desc->out_channels < 1 || desc->kernel_h < 1 || desc->kernel_w < 1)
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                           "net_add_conv: out_channels %d, kernel %dx%d must all be >= 1",
                           desc->out_channels, desc->kernel_h, desc->kernel_w);
    if (desc->conv.activation != OCLNN_ACT_NONE && desc->conv.activation != OCLNN_ACT_RELU)
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                           "net_add_conv: fused activation %d must be NONE or RELU (add GELU "
                           "with oclnn_net_add_activation)",
                           (int)desc->conv.activation);
    l->conv = *desc;
    l->conv.conv.residual_before_act = 0;
    return added(net, id);
}

oclnn_status oclnn_net_add_batchnorm(oclnn_net *net, const char *name,
                                     const oclnn_batchnorm_desc *desc, int *id)
{
    if (id)
        *id = -1;
    net_layer *l;
    TRY(add_layer(net, "net_add_batchnorm", NET_BATCHNORM, name, &l));
    l->bn = desc ? *desc : oclnn_batchnorm_desc_default();
    if (!(l->bn.eps > 0) || !(l->bn.momentum >= 0 && l->bn.momentum <= 1))
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                           "net_add_batchnorm: eps %g must be > 0 and momentum %g in [0, 1]",
                           l->bn.eps, l->bn.momentum);
    return added(net, id);
}

oclnn_status oclnn_net_add_layernorm(oclnn_net *net, const char *name,
                                     const oclnn_layernorm_desc *desc, int *id)
{
    if (id)
        *id = -1;
    net_layer *l;
    TRY(add_layer(net, "net_add_layernorm", NET_LAYERNORM, name, &l));
    l->ln = desc ? *desc : oclnn_layernorm_desc_default();
    if (!(l->ln.eps > 0) ||
        (l->ln.mode != OCLNN_LAYERNORM_CHW && l->ln.mode != OCLNN_LAYERNORM_CHANNELS))
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                           "net_add_layernorm: eps %g must be > 0 and mode %d CHW or CHANNELS",
                           l->ln.eps, (int)l->ln.mode);
    return added(net, id);
}

oclnn_status oclnn_net_add_activation(oclnn_net *net, const char *name, oclnn_activation act,
                                      int *id)
{
    if (id)
        *id = -1;
    net_layer *l;
    TRY(add_layer(net, "net_add_activation", NET_ACTIVATION, name, &l));
    if (act != OCLNN_ACT_RELU && act != OCLNN_ACT_GELU && act != OCLNN_ACT_GELU_TANH)
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                           "net_add_activation: act %d must be RELU, GELU or GELU_TANH", (int)act);
    l->act = act;
    return added(net, id);
}

oclnn_status oclnn_net_add_pool(oclnn_net *net, const char *name, const oclnn_pool2d_desc *desc,
                                int *id)
{
    if (id)
        *id = -1;
    net_layer *l;
    TRY(add_layer(net, "net_add_pool", NET_POOL, name, &l));
    l->pool = desc ? *desc : oclnn_pool2d_desc_default();
    return added(net, id);
}

oclnn_status oclnn_net_add_global_avg_pool(oclnn_net *net, const char *name, int *id)
{
    if (id)
        *id = -1;
    net_layer *l;
    TRY(add_layer(net, "net_add_global_avg_pool", NET_GLOBAL_AVG_POOL, name, &l));
    return added(net, id);
}

oclnn_status oclnn_net_add_flatten(oclnn_net *net, const char *name, int *id)
{
    if (id)
        *id = -1;
    net_layer *l;
    TRY(add_layer(net, "net_add_flatten", NET_FLATTEN, name, &l));
    return added(net, id);
}

oclnn_status oclnn_net_add_linear(oclnn_net *net, const char *name, int out_features, int bias,
                                  int *id)
{
    if (id)
        *id = -1;
    net_layer *l;
    TRY(add_layer(net, "net_add_linear", NET_LINEAR, name, &l));
    if (out_features < 1)
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                           "net_add_linear: out_features %d must be >= 1", out_features);
    l->out_features = out_features;
    l->bias = bias != 0;
    return added(net, id);
}

oclnn_status oclnn_net_add_layer_scale(oclnn_net *net, const char *name, float init, int *id)
{
    if (id)
        *id = -1;
    net_layer *l;
    TRY(add_layer(net, "net_add_layer_scale", NET_LAYER_SCALE, name, &l));
    if (!isfinite(init))
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                           "net_add_layer_scale: init %g must be finite", init);
    l->init = init;
    return added(net, id);
}

oclnn_status oclnn_net_add_residual(oclnn_net *net, const char *name, int from,
                                    oclnn_activation act, int *id)
{
    if (id)
        *id = -1;
    net_layer *l;
    TRY(add_layer(net, "net_add_residual", NET_RESIDUAL, name, &l));
    if (from < -1 || from >= net->nlayers)
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                           "net_add_residual: from %d is not a layer (-1 to %d)", from,
                           net->nlayers - 1);
    if (act != OCLNN_ACT_NONE && act != OCLNN_ACT_RELU)
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                           "net_add_residual: act %d must be NONE or RELU", (int)act);
    l->in2 = from;
    l->act = act;
    return added(net, id);
}

oclnn_status oclnn_net_add_softmax_cross_entropy(oclnn_net *net, const char *name, int *id)
{
    if (id)
        *id = -1;
    net_layer *l;
    TRY(add_layer(net, "net_add_softmax_cross_entropy", NET_SOFTMAX_CE, name, &l));
    return added(net, id);
}

oclnn_net_train_desc oclnn_net_train_desc_default(void)
{
    oclnn_net_train_desc d;
    memset(&d, 0, sizeof d);
    d.optimizer = OCLNN_OPTIMIZER_SGD;
    d.lr = 0.1;
    d.schedule = OCLNN_SCHEDULE_COSINE;
    d.total_steps = 1;
    d.momentum = 0.9;
    d.beta1 = 0.9;
    d.beta2 = 0.999;
    d.eps = 1e-8;
    d.seed = 1;
    return d;
}

/* ---- compile: shapes ---- */

static oclnn_tensor_desc in_desc(const oclnn_net *net, int i)
{
    return i < 0 ? net->in_desc : net->layers[i].out;
}

static oclnn_status layer_fail(oclnn_net *net, int i, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static oclnn_status layer_fail(oclnn_net *net, int i, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char shape[64];
    oclnn_tensor_desc d = in_desc(net, net->layers[i].in);
    return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                       "net_compile: layer %d '%s' (%s) on input %s: %s", i, net->layers[i].name,
                       kind_name(net->layers[i].kind), oclnn__shape_str(&d, shape, sizeof shape),
                       msg);
}

static oclnn_status add_param(oclnn_net *net, int layer, int slot, const char *suffix,
                              oclnn_tensor_desc desc, bool trainable, bool decay, net_init init,
                              float value, int fan_in)
{
    net_param *np = realloc(net->params, (size_t)(net->nparams + 1) * sizeof *np);
    if (!np)
        return oclnn__fail(net->ctx, OCLNN_OUT_OF_MEMORY, "net_compile: out of host memory");
    net->params = np;
    net_param *p = &np[net->nparams];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s.%s", net->layers[layer].name, suffix);
    p->desc = desc;
    p->count = oclnn_tensor_desc_count(&desc);
    p->trainable = trainable;
    p->decay = decay;
    p->init = init;
    p->init_value = value;
    p->fan_in = fan_in;
    net->layers[layer].params[slot] = net->nparams++;
    return OCLNN_SUCCESS;
}

static oclnn_status infer_shapes(oclnn_net *net)
{
    for (int i = 0; i < net->nlayers; i++) {
        net_layer *l = &net->layers[i];
        oclnn_tensor_desc x = in_desc(net, l->in);
        int n, c, h, w;
        oclnn__nchw(&x, &n, &c, &h, &w);
        oclnn_tensor_desc one = oclnn_tensor_desc_1d(c);
        switch (l->kind) {
        case NET_CONV: {
            if (x.ndim != 4)
                return layer_fail(net, i, "a convolution needs a 4-D input");
            int g = l->conv.conv.groups;
            if (g < 1 || c % g || l->conv.out_channels % g)
                return layer_fail(net, i, "groups %d must divide %d input and %d output channels",
                                  g, c, l->conv.out_channels);
            oclnn_tensor_desc wd = oclnn_tensor_desc_4d(l->conv.out_channels, c / g,
                                                        l->conv.kernel_h, l->conv.kernel_w);
            if (oclnn_conv2d_output_shape(&l->conv.conv, &x, &wd, &l->out) != OCLNN_SUCCESS)
                return layer_fail(net, i, "%s", oclnn_last_error(NULL));
            int fan_in = c / g * l->conv.kernel_h * l->conv.kernel_w;
            TRY(add_param(net, i, 0, "weight", wd, true, true, INIT_HE, 0, fan_in));
            if (l->conv.bias)
                TRY(add_param(net, i, 1, "bias", oclnn_tensor_desc_1d(l->conv.out_channels), true,
                              false, INIT_ZERO, 0, 0));
            break;
        }
        case NET_BATCHNORM:
            if (x.ndim != 4 && x.ndim != 2)
                return layer_fail(net, i, "batch norm needs a 4-D or 2-D input");
            l->out = x;
            TRY(add_param(net, i, 0, "gamma", one, true, false, INIT_ONE, 0, 0));
            TRY(add_param(net, i, 1, "beta", one, true, false, INIT_ZERO, 0, 0));
            TRY(add_param(net, i, 2, "running_mean", one, false, false, INIT_ZERO, 0, 0));
            TRY(add_param(net, i, 3, "running_var", one, false, false, INIT_ONE, 0, 0));
            break;
        case NET_LAYERNORM: {
            oclnn_tensor_desc gd = one;
            if (l->ln.mode == OCLNN_LAYERNORM_CHANNELS) {
                if (x.ndim != 4)
                    return layer_fail(net, i, "a channels-first layer norm needs a 4-D input");
            } else {
                gd = oclnn_tensor_desc_1d(c * h * w);
            }
            l->out = x;
            TRY(add_param(net, i, 0, "gamma", gd, true, false, INIT_ONE, 0, 0));
            TRY(add_param(net, i, 1, "beta", gd, true, false, INIT_ZERO, 0, 0));
            break;
        }
        case NET_ACTIVATION: l->out = x; break;
        case NET_POOL:
            if (x.ndim != 4)
                return layer_fail(net, i, "pooling needs a 4-D input");
            if (oclnn_pool2d_output_shape(&l->pool, &x, &l->out) != OCLNN_SUCCESS)
                return layer_fail(net, i, "%s", oclnn_last_error(NULL));
            break;
        case NET_GLOBAL_AVG_POOL:
            if (x.ndim != 4)
                return layer_fail(net, i, "global average pooling needs a 4-D input");
            l->out = oclnn_tensor_desc_2d(n, c);
            break;
        case NET_FLATTEN: l->out = oclnn_tensor_desc_2d(n, c * h * w); break;
        case NET_LINEAR:
            l->out = oclnn_tensor_desc_2d(n, l->out_features);
            TRY(add_param(net, i, 0, "weight", oclnn_tensor_desc_2d(l->out_features, c * h * w),
                          true, true, INIT_HE, 0, c * h * w));
            if (l->bias)
                TRY(add_param(net, i, 1, "bias", oclnn_tensor_desc_1d(l->out_features), true, false,
                              INIT_ZERO, 0, 0));
            break;
        case NET_LAYER_SCALE:
            if (x.ndim != 4 && x.ndim != 2)
                return layer_fail(net, i, "layer scale needs a 4-D or 2-D input");
            l->out = x;
            TRY(add_param(net, i, 0, "gamma", one, true, false, INIT_CONST, l->init, 0));
            break;
        case NET_RESIDUAL: {
            oclnn_tensor_desc z = in_desc(net, l->in2);
            char a[64], b[64];
            if (z.ndim != x.ndim || memcmp(z.dims, x.dims, sizeof z.dims))
                return layer_fail(net, i, "the skip input (layer %d) has shape %s, not %s", l->in2,
                                  oclnn__shape_str(&z, a, sizeof a),
                                  oclnn__shape_str(&x, b, sizeof b));
            l->out = x;
            break;
        }
        case NET_SOFTMAX_CE:
            if (x.ndim != 2)
                return layer_fail(net, i, "the loss needs a 2-D input [n][classes]");
            if (i != net->nlayers - 1)
                return layer_fail(net, i, "the loss must be the last layer");
            l->out = oclnn_tensor_desc_1d(1);
            net->classes = c;
            break;
        }
    }
    if (net->nlayers == 0 || net->layers[net->nlayers - 1].kind != NET_SOFTMAX_CE)
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                           "net_compile: the last layer must be the softmax cross-entropy loss");
    return OCLNN_SUCCESS;
}

/* ---- compile: initialisation ---- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Host values of every parameter and statistic, in parameter-buffer order. */
static void init_params(const oclnn_net *net, float *host)
{
    uint64_t state = net->train.seed;
    double spare = 0;
    bool have_spare = false;
    for (int i = 0; i < net->nparams; i++) {
        const net_param *p = &net->params[i];
        float *dst = host + p->offset;
        for (size_t j = 0; j < p->count; j++) {
            switch (p->init) {
            case INIT_HE: {
                double z;
                if (have_spare) {
                    z = spare;
                    have_spare = false;
                } else {
                    double u1 = (double)(splitmix64(&state) >> 11) * 0x1p-53;
                    double u2 = (double)(splitmix64(&state) >> 11) * 0x1p-53;
                    double r = sqrt(-2.0 * log(1.0 - u1));
                    z = r * cos(2.0 * M_PI * u2);
                    spare = r * sin(2.0 * M_PI * u2);
                    have_spare = true;
                }
                dst[j] = (float)(z * sqrt(2.0 / p->fan_in));
                break;
            }
            case INIT_ZERO: dst[j] = 0.0f; break;
            case INIT_ONE: dst[j] = 1.0f; break;
            case INIT_CONST: dst[j] = p->init_value; break;
            }
        }
    }
}

/* ---- compile: memory plan ---- */

/* Layers whose backward pass reads their own output (so nothing may overwrite it). */
static bool needs_own_output(const net_layer *l)
{
    return (l->kind == NET_CONV && l->conv.conv.activation == OCLNN_ACT_RELU) ||
           (l->kind == NET_ACTIVATION && l->act == OCLNN_ACT_RELU) ||
           (l->kind == NET_RESIDUAL && l->act != OCLNN_ACT_NONE) || l->inplace;
}

/* Layers whose output's gradient is their input's, with nothing to run in the backward pass. */
static bool passes_gradient(const net_layer *l)
{
    return l->kind == NET_FLATTEN || l->in_bn;
}

static oclnn_status new_tensor(oclnn_net *net, oclnn_tensor_desc d, oclnn_tensor **out,
                               size_t *bytes)
{
    TRY(oclnn_tensor_create(net->ctx, &d, out));
    if (bytes)
        *bytes += oclnn_tensor_desc_count(&d) * oclnn__dtype_size(d.dtype);
    return OCLNN_SUCCESS;
}

static oclnn_status view(oclnn_net *net, const oclnn_tensor *base, oclnn_tensor_desc d,
                         size_t offset, oclnn_tensor **out)
{
    return oclnn_tensor_view(net->ctx, base, &d, offset, out);
}

static oclnn_status plan_activations(oclnn_net *net)
{
    int *consumers = calloc((size_t)net->nlayers, sizeof *consumers);
    net->acts = calloc((size_t)net->nlayers * 2, sizeof *net->acts);
    if (!consumers || !net->acts) {
        free(consumers);
        return oclnn__fail(net->ctx, OCLNN_OUT_OF_MEMORY, "net_compile: out of host memory");
    }
    for (int i = 0; i < net->nlayers; i++) {
        if (net->layers[i].in >= 0)
            consumers[net->layers[i].in]++;
        if (net->layers[i].in2 >= 0)
            consumers[net->layers[i].in2]++;
    }
    oclnn_status s = OCLNN_SUCCESS;
    for (int i = 0; i < net->nlayers && s == OCLNN_SUCCESS; i++) {
        net_layer *l = &net->layers[i];
        const oclnn_tensor *x = l->in < 0 ? net->x : net->layers[l->in].y;
        /* ReLU may overwrite its input when it is the input's only reader and the input's own
         * backward pass does not need it (ReLU's backward reads its output instead). */
        if (l->kind == NET_ACTIVATION && l->act == OCLNN_ACT_RELU && l->in >= 0 &&
            consumers[l->in] == 1 && net->layers[l->in].kind != NET_FLATTEN &&
            !needs_own_output(&net->layers[l->in])) {
            l->inplace = true;
            net->mem.inplace_saved += oclnn_tensor_desc_count(&l->out) * 4;
            s = view(net, x, l->out, 0, &l->y);
            /* ResNet's batch norm + ReLU pairs: one pass over the activations forward, and
             * none of the ReLU's backward. */
            if (net->layers[l->in].kind == NET_BATCHNORM)
                l->in_bn = net->layers[l->in].bn_relu = true;
        } else if (l->kind == NET_FLATTEN) {
            s = view(net, x, l->out, 0, &l->y);
        } else if (l->kind == NET_SOFTMAX_CE) {
            s = new_tensor(net, in_desc(net, l->in), &l->probs, &net->mem.activations);
        } else {
            s = new_tensor(net, l->out, &net->acts[net->nacts], &net->mem.activations);
            if (s == OCLNN_SUCCESS)
                s = view(net, net->acts[net->nacts++], l->out, 0, &l->y);
        }
        /* Training max pooling keeps a byte per output for its backward (which then reads no
         * x), as PyTorch keeps its indices. */
        if (s == OCLNN_SUCCESS && l->kind == NET_POOL && l->pool.mode == OCLNN_POOL_MAX &&
            oclnn__pool_codes_fit(&l->pool) && !net->inference_only) {
            oclnn_tensor_desc ad = l->out;
            ad.dtype = OCLNN_U8;
            s = new_tensor(net, ad, &l->argmax, &net->mem.activations);
        }
        if (s == OCLNN_SUCCESS && (l->kind == NET_BATCHNORM || l->kind == NET_LAYERNORM)) {
            int n, c, h, w;
            oclnn__nchw(&l->out, &n, &c, &h, &w);
            int groups = l->kind == NET_BATCHNORM            ? c
                         : l->ln.mode == OCLNN_LAYERNORM_CHW ? n
                                                             : n * h * w;
            s = new_tensor(net, oclnn_tensor_desc_1d(groups), &l->save_mean, &net->mem.activations);
            if (s == OCLNN_SUCCESS)
                s = new_tensor(net, oclnn_tensor_desc_1d(groups), &l->save_invstd,
                               &net->mem.activations);
        }
    }
    free(consumers);
    return s;
}

/* Gradient buffers: the gradient of layer g's output lives, in backward order, from the
 * backward step of its last reader to g's own backward step. Values whose lifetimes do not
 * overlap share a slab; a slab is as large as the largest value it ever holds. */
static oclnn_status plan_gradients(oclnn_net *net)
{
    int nl = net->nlayers;
    int *last = malloc((size_t)nl * sizeof *last);
    size_t *slab_size = calloc((size_t)nl, sizeof *slab_size);
    bool *slab_free = calloc((size_t)nl, sizeof *slab_free);
    bool *has_contrib = calloc((size_t)nl, sizeof *has_contrib);
    int *contribs = calloc((size_t)nl, sizeof *contribs);
    net->written = calloc((size_t)nl, sizeof *net->written);
    net->slabs = calloc((size_t)nl, sizeof *net->slabs);
    oclnn_status s = OCLNN_SUCCESS;
    if (!last || !slab_size || !slab_free || !has_contrib || !contribs || !net->written ||
        !net->slabs) {
        s = oclnn__fail(net->ctx, OCLNN_OUT_OF_MEMORY, "net_compile: out of host memory");
        goto done;
    }
    for (int i = 0; i < nl; i++) {
        net_layer *l = &net->layers[i];
        l->gnode = passes_gradient(l) ? (l->in < 0 ? -1 : net->layers[l->in].gnode) : i;
        last[i] = -1;
    }
    /* Who writes each gradient: every non-flatten layer into the gnode of each input. */
    for (int i = 0; i < nl; i++) {
        net_layer *l = &net->layers[i];
        if (passes_gradient(l))
            continue;
        int ins[2] = {l->in, l->in2};
        for (int j = 0; j < 2; j++) {
            if (ins[j] < 0)
                continue;
            int g = net->layers[ins[j]].gnode;
            if (g < 0)
                continue;
            has_contrib[g] = true;
            contribs[g]++;
            if (i > last[g])
                last[g] = i;
        }
    }
    size_t scratch = 0;
    for (int step = nl - 1; step >= 0; step--) {
        /* Births: gradients first written at this step. */
        for (int g = 0; g < nl; g++) {
            if (!has_contrib[g] || last[g] != step)
                continue;
            size_t need = oclnn_tensor_desc_count(&net->layers[g].out);
            net->mem.activation_gradients_unshared += need * 4;
            if (contribs[g] > 1 && need > scratch)
                scratch = need;
            int best = -1;
            for (int k = 0; k < net->nslabs; k++) {
                if (!slab_free[k])
                    continue;
                if (best < 0)
                    best = k;
                else if (slab_size[k] >= need &&
                         (slab_size[best] < need || slab_size[k] < slab_size[best]))
                    best = k;
                else if (slab_size[best] < need && slab_size[k] > slab_size[best])
                    best = k;
            }
            if (best < 0)
                best = net->nslabs++;
            if (slab_size[best] < need)
                slab_size[best] = need;
            slab_free[best] = false;
            net->layers[g].grad_slab = best;
        }
        /* Deaths: the gradient of this step's output has been consumed. */
        if (net->layers[step].gnode == step && net->layers[step].grad_slab >= 0)
            slab_free[net->layers[step].grad_slab] = true;
    }
    for (int k = 0; k < net->nslabs && s == OCLNN_SUCCESS; k++)
        s = new_tensor(net, oclnn_tensor_desc_1d((int)slab_size[k]), &net->slabs[k],
                       &net->mem.activation_gradients);
    if (s == OCLNN_SUCCESS && scratch)
        s = new_tensor(net, oclnn_tensor_desc_1d((int)scratch), &net->scratch,
                       &net->mem.activation_gradients);
    for (int i = 0; i < nl && s == OCLNN_SUCCESS; i++) {
        net_layer *l = &net->layers[i];
        if (l->gnode == i && l->grad_slab >= 0)
            s = view(net, net->slabs[l->grad_slab], l->out, 0, &l->dy);
        int ins[2] = {l->in, l->in2};
        for (int j = 0; j < 2 && s == OCLNN_SUCCESS && !passes_gradient(l); j++) {
            if (ins[j] < 0 || net->layers[ins[j]].gnode < 0)
                continue;
            const net_layer *g = &net->layers[net->layers[ins[j]].gnode];
            s = view(net, net->slabs[g->grad_slab], net->layers[ins[j]].out, 0, &l->dx[j]);
            if (s == OCLNN_SUCCESS && contribs[g - net->layers] > 1)
                s = view(net, net->scratch, net->layers[ins[j]].out, 0, &l->tmp[j]);
        }
        /* These ops always produce an input gradient: give them a buffer to drop it in. */
        bool always_dx =
            l->kind == NET_BATCHNORM || l->kind == NET_LAYERNORM || l->kind == NET_LAYER_SCALE;
        if (s == OCLNN_SUCCESS && always_dx && !l->dx[0]) {
            oclnn_tensor_desc d = in_desc(net, l->in);
            s = new_tensor(net, d, &net->acts[net->nacts], &net->mem.activation_gradients);
            if (s == OCLNN_SUCCESS)
                s = view(net, net->acts[net->nacts++], d, 0, &l->dx[0]);
        }
    }
done:
    free(last);
    free(slab_size);
    free(slab_free);
    free(has_contrib);
    free(contribs);
    return s;
}

static oclnn_status plan_params(oclnn_net *net)
{
    /* Parameter buffer: [weights with decay][trainable without decay][running statistics];
     * gradients and optimizer state mirror the first two sections, so an optimizer step is two
     * calls over contiguous groups. */
    size_t off = 0;
    for (int pass = 0; pass < 3; pass++) {
        size_t start = off;
        for (int i = 0; i < net->nparams; i++) {
            net_param *p = &net->params[i];
            int section = p->decay ? 0 : p->trainable ? 1 : 2;
            if (section != pass)
                continue;
            p->offset = off;
            off += p->count;
        }
        size_t n = off - start;
        if (pass == 0)
            net->n_decay = n;
        else if (pass == 1)
            net->n_nodecay = n;
        else
            net->n_stats = n;
    }
    size_t ntrain = net->n_decay + net->n_nodecay;
    if (off > (size_t)INT32_MAX)
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                           "net_compile: %zu parameters do not fit one tensor", off);
    net->mem.parameter_count = ntrain;
    TRY(new_tensor(net, oclnn_tensor_desc_1d((int)off), &net->pbuf, &net->mem.parameters));
    for (int i = 0; i < net->nparams; i++)
        TRY(view(net, net->pbuf, net->params[i].desc, net->params[i].offset, &net->params[i].p));
    float *host = malloc((off ? off : 1) * sizeof *host);
    if (!host)
        return oclnn__fail(net->ctx, OCLNN_OUT_OF_MEMORY, "net_compile: out of host memory");
    init_params(net, host);
    oclnn_status s = oclnn_tensor_upload(net->ctx, net->pbuf, host, off, 1);
    free(host);
    TRY(s);
    if (net->inference_only || ntrain == 0)
        return OCLNN_SUCCESS;
    TRY(new_tensor(net, oclnn_tensor_desc_1d((int)ntrain), &net->gbuf, &net->mem.gradients));
    TRY(new_tensor(net, oclnn_tensor_desc_1d((int)ntrain), &net->mbuf, &net->mem.optimizer));
    if (net->train.optimizer == OCLNN_OPTIMIZER_ADAMW)
        TRY(new_tensor(net, oclnn_tensor_desc_1d((int)ntrain), &net->vbuf, &net->mem.optimizer));
    size_t gstart[2] = {0, net->n_decay}, gcount[2] = {net->n_decay, net->n_nodecay};
    for (int j = 0; j < 2; j++) {
        if (!gcount[j])
            continue;
        oclnn_tensor_desc d = oclnn_tensor_desc_1d((int)gcount[j]);
        TRY(view(net, net->pbuf, d, gstart[j], &net->group_p[j]));
        TRY(view(net, net->gbuf, d, gstart[j], &net->group_g[j]));
        TRY(view(net, net->mbuf, d, gstart[j], &net->group_m[j]));
        if (net->vbuf)
            TRY(view(net, net->vbuf, d, gstart[j], &net->group_v[j]));
    }
    for (int i = 0; i < net->nparams; i++) {
        net_param *p = &net->params[i];
        if (!p->trainable)
            continue;
        TRY(view(net, net->gbuf, p->desc, p->offset, &p->g));
        TRY(view(net, net->mbuf, p->desc, p->offset, &p->m));
        if (net->vbuf)
            TRY(view(net, net->vbuf, p->desc, p->offset, &p->v));
    }
    TRY(oclnn_tensor_fill(net->ctx, net->gbuf, 0.0f));
    TRY(oclnn_tensor_fill(net->ctx, net->mbuf, 0.0f));
    if (net->vbuf)
        TRY(oclnn_tensor_fill(net->ctx, net->vbuf, 0.0f));
    return OCLNN_SUCCESS;
}

/* Convolutions without a fused activation whose output only a batch norm reads get the
 * tensors that inference folds that batch norm into (counted with the parameters). */
static oclnn_status plan_folds(oclnn_net *net)
{
    for (int i = 0; i < net->nlayers; i++) {
        net_layer *l = &net->layers[i];
        if (l->kind != NET_CONV || l->conv.conv.activation != OCLNN_ACT_NONE)
            continue;
        int readers = 0, bn = -1;
        for (int j = 0; j < net->nlayers; j++) {
            readers += (net->layers[j].in == i) + (net->layers[j].in2 == i);
            if (net->layers[j].in == i && net->layers[j].kind == NET_BATCHNORM)
                bn = j;
        }
        if (readers != 1 || bn < 0)
            continue;
        const net_param *w = &net->params[l->params[0]];
        TRY(new_tensor(net, w->desc, &l->fold_w, &net->mem.parameters));
        TRY(new_tensor(net, oclnn_tensor_desc_1d(w->desc.dims[0]), &l->fold_b,
                       &net->mem.parameters));
        l->fold_into = bn;
        net->layers[bn].folded = true;
    }
    return OCLNN_SUCCESS;
}

static oclnn_status reserve_workspace(oclnn_net *net)
{
    size_t most = 0;
    for (int i = 0; i < net->nlayers; i++) {
        net_layer *l = &net->layers[i];
        if (l->kind != NET_CONV)
            continue;
        oclnn_tensor_desc x = in_desc(net, l->in);
        oclnn_tensor_desc w = net->params[l->params[0]].desc;
        for (int pass = 0; pass < 3; pass++) {
            if ((pass == OCLNN_CONV_BACKWARD_DATA && l->in < 0) ||
                (pass != OCLNN_CONV_FORWARD && net->inference_only))
                continue;
            oclnn_conv_algo algo;
            size_t bytes = 0;
            TRY(oclnn_conv2d_choose(net->ctx, &l->conv.conv, (oclnn_conv_pass)pass, &x, &w, &algo,
                                    &bytes));
            if (bytes > most)
                most = bytes;
        }
    }
    if (most)
        TRY(oclnn_context_reserve_workspace(net->ctx, most));
    net->mem.workspace = most;
    return OCLNN_SUCCESS;
}

static oclnn_status validate_train(oclnn_context *ctx, const oclnn_net_train_desc *t)
{
    if (t->optimizer != OCLNN_OPTIMIZER_SGD && t->optimizer != OCLNN_OPTIMIZER_ADAMW)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "net_compile: optimizer %d is not SGD or ADAMW", (int)t->optimizer);
    if (t->schedule != OCLNN_SCHEDULE_COSINE && t->schedule != OCLNN_SCHEDULE_CONSTANT)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "net_compile: schedule %d is not COSINE or CONSTANT", (int)t->schedule);
    if (!(t->lr > 0) || !(t->min_lr >= 0) || !isfinite(t->lr))
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "net_compile: lr %g must be > 0 and min_lr %g >= 0", t->lr, t->min_lr);
    if (t->total_steps < 1 || t->warmup_steps < 0 || t->warmup_steps >= t->total_steps)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "net_compile: warmup_steps %ld must be in [0, total_steps %ld)",
                           t->warmup_steps, t->total_steps);
    if (!(t->momentum >= 0 && t->momentum < 1) || !(t->weight_decay >= 0) ||
        !(t->beta1 >= 0 && t->beta1 < 1) || !(t->beta2 >= 0 && t->beta2 < 1) || !(t->eps > 0))
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "net_compile: momentum %g, beta1 %g, beta2 %g must be in [0, 1), "
                           "weight_decay %g >= 0 and eps %g > 0",
                           t->momentum, t->beta1, t->beta2, t->weight_decay, t->eps);
    return OCLNN_SUCCESS;
}

static oclnn_status compile(oclnn_net *net)
{
    TRY(infer_shapes(net));
    size_t in_count = oclnn_tensor_desc_count(&net->in_desc);
    oclnn_tensor_desc ld = oclnn_tensor_desc_1d(net->batch);
    ld.dtype = OCLNN_I32;
    TRY(new_tensor(net, net->in_desc, &net->x, &net->mem.activations));
    TRY(oclnn_tensor_create(net->ctx, &ld, &net->labels));
    TRY(plan_activations(net));
    if (!net->inference_only)
        TRY(plan_gradients(net));
    TRY(plan_params(net));
    TRY(plan_folds(net));
    TRY(reserve_workspace(net));
    oclnn_tensor_desc rd = oclnn_tensor_desc_1d(OCLNN_NET_STAT_SLOTS);
    TRY(oclnn_tensor_create(net->ctx, &rd, &net->loss_ring));
    rd.dtype = OCLNN_I32;
    TRY(oclnn_tensor_create(net->ctx, &rd, &net->correct_ring));
    oclnn_tensor_desc one = oclnn_tensor_desc_1d(1), ione = one;
    ione.dtype = OCLNN_I32;
    for (int i = 0; i < OCLNN_NET_STAT_SLOTS; i++) {
        TRY(view(net, net->loss_ring, one, (size_t)i, &net->loss_slot[i]));
        TRY(view(net, net->correct_ring, ione, (size_t)i, &net->correct_slot[i]));
    }
    for (int i = 0; i < NET_STAGES; i++) {
        net->stage_x[i] = oclnn__alloc(net->ctx, in_count * sizeof(float), "net_compile");
        net->stage_labels[i] =
            oclnn__alloc(net->ctx, (size_t)net->batch * sizeof(int32_t), "net_compile");
        if (!net->stage_x[i] || !net->stage_labels[i])
            return OCLNN_OUT_OF_MEMORY;
    }
    net->logits_host =
        oclnn__alloc(net->ctx, (size_t)net->batch * net->classes * sizeof(float), "net_compile");
    if (!net->logits_host)
        return OCLNN_OUT_OF_MEMORY;
    oclnn_net_memory *m = &net->mem;
    m->total =
        m->parameters + m->gradients + m->optimizer + m->activations + m->activation_gradients;
    return oclnn_context_finish(net->ctx);
}

oclnn_status oclnn_net_compile(oclnn_net *net, int batch, int c, int h, int w,
                               const oclnn_net_train_desc *train)
{
    if (!net)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "net_compile: net is NULL");
    if (net->compiled)
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT, "net_compile: already compiled");
    if (batch < 1 || c < 1 || h < 1 || w < 1)
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                           "net_compile: input [%d][%d][%d][%d] must have every size >= 1", batch,
                           c, h, w);
    oclnn_net_train_desc t = train ? *train : oclnn_net_train_desc_default();
    TRY(validate_train(net->ctx, &t));
    net->inference_only = train == NULL;
    net->train = t;
    net->batch = batch;
    net->in_desc = oclnn_tensor_desc_4d(batch, c, h, w);
    oclnn_status s = compile(net);
    if (s != OCLNN_SUCCESS) {
        /* Queued uploads may still read staging memory: wait before freeing (keeps the
         * message: finish only fails when the device is lost, and then says so itself). */
        oclnn_context_finish(net->ctx);
        release_compiled(net);
        return s;
    }
    net->compiled = true;
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_net_memory_info(const oclnn_net *net, oclnn_net_memory *info)
{
    if (info)
        memset(info, 0, sizeof *info);
    if (!net || !info)
        return oclnn__fail(net ? net->ctx : NULL, OCLNN_INVALID_ARGUMENT,
                           "net_memory_info: %s is NULL", net ? "info" : "net");
    if (!net->compiled)
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                           "net_memory_info: the net is not compiled");
    *info = net->mem;
    return OCLNN_SUCCESS;
}

/* ---- the step ---- */

static const oclnn_tensor *input_of(const oclnn_net *net, int i)
{
    return i < 0 ? net->x : net->layers[i].y;
}

static oclnn_status forward(oclnn_net *net, bool training, int slot)
{
    oclnn_context *ctx = net->ctx;
    for (int i = 0; i < net->nlayers; i++) {
        net_layer *l = &net->layers[i];
        const oclnn_tensor *x = input_of(net, l->in);
        oclnn_tensor *p0 = l->params[0] >= 0 ? net->params[l->params[0]].p : NULL;
        oclnn_tensor *p1 = l->params[1] >= 0 ? net->params[l->params[1]].p : NULL;
        oclnn_tensor *p2 = l->params[2] >= 0 ? net->params[l->params[2]].p : NULL;
        oclnn_tensor *p3 = l->params[3] >= 0 ? net->params[l->params[3]].p : NULL;
        switch (l->kind) {
        case NET_CONV:
            if (!training && l->fold_into >= 0) {
                net_layer *bn = &net->layers[l->fold_into];
                oclnn_tensor *q[4];
                for (int j = 0; j < 4; j++)
                    q[j] = net->params[bn->params[j]].p;
                TRY(oclnn_batchnorm_fold_conv(ctx, &bn->bn, p0, p1, q[0], q[1], q[2], q[3],
                                              l->fold_w, l->fold_b));
                oclnn_conv2d_desc cd = l->conv.conv;
                cd.activation = bn->bn_relu ? OCLNN_ACT_RELU : OCLNN_ACT_NONE;
                TRY(oclnn_conv2d_forward(ctx, &cd, x, l->fold_w, l->fold_b, NULL, bn->y));
            } else {
                TRY(oclnn_conv2d_forward(ctx, &l->conv.conv, x, p0, p1, NULL, l->y));
            }
            break;
        case NET_BATCHNORM:
            if (!training && l->folded)
                break; /* computed by the convolution before it */
            if (training)
                TRY(oclnn__batchnorm_forward_training(ctx, &l->bn, x, p0, p1, p2, p3, l->save_mean,
                                                      l->save_invstd, l->bn_relu, l->y));
            else
                TRY(oclnn__batchnorm_forward_inference(ctx, &l->bn, x, p0, p1, p2, p3, l->bn_relu,
                                                       l->y));
            break;
        case NET_LAYERNORM:
            TRY(oclnn_layernorm_forward(ctx, &l->ln, x, p0, p1, l->save_mean, l->save_invstd,
                                        l->y));
            break;
        case NET_ACTIVATION:
            if (!l->in_bn) /* else the batch norm before it wrote its output */
                TRY(oclnn_activation_forward(ctx, l->act, x, l->y));
            break;
        case NET_POOL:
            if (training && l->argmax)
                TRY(oclnn_pool2d_forward_argmax(ctx, &l->pool, x, l->y, l->argmax));
            else
                TRY(oclnn_pool2d_forward(ctx, &l->pool, x, l->y));
            break;
        case NET_GLOBAL_AVG_POOL: TRY(oclnn_global_avg_pool_forward(ctx, x, l->y)); break;
        case NET_FLATTEN: break;
        case NET_LINEAR: TRY(oclnn_linear_forward(ctx, x, p0, p1, l->y)); break;
        case NET_LAYER_SCALE: TRY(oclnn_channel_scale_forward(ctx, x, p0, l->y)); break;
        case NET_RESIDUAL: /* act is NONE or RELU */
            TRY(oclnn__add(ctx, 1.0f, x, 1.0f, input_of(net, l->in2), l->act == OCLNN_ACT_RELU,
                           l->y));
            break;
        case NET_SOFTMAX_CE:
            if (training) {
                TRY(oclnn_softmax_cross_entropy_forward(ctx, x, net->labels, l->probs,
                                                        net->loss_slot[slot]));
                TRY(oclnn_accuracy_count(ctx, x, net->labels, net->correct_slot[slot]));
            }
            break;
        }
    }
    return OCLNN_SUCCESS;
}

/* Where layer l writes the gradient of its input j: the gradient buffer itself when it is the
 * first contribution this step, else the scratch (added afterwards by `accumulate`). */
static oclnn_tensor *grad_target(oclnn_net *net, net_layer *l, int j)
{
    int in = j ? l->in2 : l->in;
    return net->written[net->layers[in].gnode] ? l->tmp[j] : l->dx[j];
}

static oclnn_status accumulate(oclnn_net *net, net_layer *l, int j)
{
    int g = net->layers[j ? l->in2 : l->in].gnode;
    if (net->written[g])
        TRY(oclnn_add(net->ctx, 1.0f, l->dx[j], 1.0f, l->tmp[j], l->dx[j]));
    net->written[g] = true;
    return OCLNN_SUCCESS;
}

/* Adds src into the gradient of input j of l (copies it when it is the first contribution). */
static oclnn_status contribute(oclnn_net *net, net_layer *l, int j, const oclnn_tensor *src)
{
    int g = net->layers[j ? l->in2 : l->in].gnode;
    if (net->written[g])
        TRY(oclnn_add(net->ctx, 1.0f, l->dx[j], 1.0f, src, l->dx[j]));
    else
        TRY(oclnn_copy(net->ctx, src, l->dx[j]));
    net->written[g] = true;
    return OCLNN_SUCCESS;
}

static oclnn_status backward(oclnn_net *net)
{
    oclnn_context *ctx = net->ctx;
    memset(net->written, 0, (size_t)net->nlayers * sizeof *net->written);
    for (int i = net->nlayers - 1; i >= 0; i--) {
        net_layer *l = &net->layers[i];
        if (passes_gradient(l))
            continue;
        if (l->kind != NET_SOFTMAX_CE && !net->written[i])
            continue; /* nothing depends on this output */
        const oclnn_tensor *x = input_of(net, l->in);
        bool want_dx = l->in >= 0 && net->layers[l->in].gnode >= 0;
        oclnn_tensor *dy = l->dy;
        net_param *p0 = l->params[0] >= 0 ? &net->params[l->params[0]] : NULL;
        net_param *p1 = l->params[1] >= 0 ? &net->params[l->params[1]] : NULL;
        int g0 = want_dx ? net->layers[l->in].gnode : -1;
        float beta0 = g0 >= 0 && net->written[g0] ? 1.0f : 0.0f;
        switch (l->kind) {
        case NET_SOFTMAX_CE:
            if (want_dx) {
                TRY(oclnn_softmax_cross_entropy_backward(ctx, l->probs, net->labels, 1.0f,
                                                         grad_target(net, l, 0)));
                TRY(accumulate(net, l, 0));
            }
            break;
        case NET_CONV:
            if (l->conv.conv.activation == OCLNN_ACT_RELU)
                TRY(oclnn_activation_backward(ctx, OCLNN_ACT_RELU, l->y, dy, dy));
            TRY(oclnn_conv2d_backward_weights(ctx, &l->conv.conv, x, dy, p0->g, p1 ? p1->g : NULL,
                                              0.0f));
            if (want_dx) {
                TRY(oclnn_conv2d_backward_data(ctx, &l->conv.conv, dy, p0->p, l->dx[0], beta0));
                net->written[g0] = true;
            }
            break;
        case NET_LINEAR:
            TRY(oclnn_linear_backward_weights(ctx, x, dy, p0->g, p1 ? p1->g : NULL, 0.0f));
            if (want_dx) {
                TRY(oclnn_linear_backward_data(ctx, dy, p0->p, l->dx[0], beta0));
                net->written[g0] = true;
            }
            break;
        case NET_BATCHNORM: {
            oclnn_tensor *dx = want_dx ? grad_target(net, l, 0) : l->dx[0];
            /* With bn_relu dy is the ReLU's output gradient. */
            TRY(oclnn__batchnorm_backward(ctx, &l->bn, x, dy, p0->p, l->bn_relu ? p1->p : NULL,
                                          l->save_mean, l->save_invstd, dx, p0->g, p1->g, 0.0f));
            if (want_dx)
                TRY(accumulate(net, l, 0));
            break;
        }
        case NET_LAYERNORM: {
            oclnn_tensor *dx = want_dx ? grad_target(net, l, 0) : l->dx[0];
            TRY(oclnn_layernorm_backward(ctx, &l->ln, x, dy, p0->p, l->save_mean, l->save_invstd,
                                         dx, p0->g, p1->g, 0.0f));
            if (want_dx)
                TRY(accumulate(net, l, 0));
            break;
        }
        case NET_LAYER_SCALE: {
            oclnn_tensor *dx = want_dx ? grad_target(net, l, 0) : l->dx[0];
            TRY(oclnn_channel_scale_backward(ctx, x, dy, p0->p, dx, p0->g, 0.0f));
            if (want_dx)
                TRY(accumulate(net, l, 0));
            break;
        }
        case NET_ACTIVATION:
            if (want_dx) {
                /* In place, x is the ReLU's output: ReLU's derivative reads the same from it. */
                TRY(oclnn_activation_backward(ctx, l->act, x, dy, grad_target(net, l, 0)));
                TRY(accumulate(net, l, 0));
            }
            break;
        case NET_POOL:
            if (want_dx) {
                if (l->argmax)
                    TRY(oclnn_pool2d_backward_argmax(ctx, &l->pool, l->argmax, dy,
                                                     grad_target(net, l, 0)));
                else
                    TRY(oclnn_pool2d_backward(ctx, &l->pool, x, dy, grad_target(net, l, 0)));
                TRY(accumulate(net, l, 0));
            }
            break;
        case NET_GLOBAL_AVG_POOL:
            if (want_dx) {
                TRY(oclnn_global_avg_pool_backward(ctx, dy, grad_target(net, l, 0)));
                TRY(accumulate(net, l, 0));
            }
            break;
        case NET_RESIDUAL:
            /* Two distinct inputs taking the gradient through a ReLU: one pass for both. */
            if (l->act == OCLNN_ACT_RELU && want_dx && l->in2 >= 0 && l->dx[1] &&
                g0 != net->layers[l->in2].gnode) {
                const int g1 = net->layers[l->in2].gnode;
                TRY(oclnn__relu_backward_pair(ctx, l->y, dy, l->dx[0], net->written[g0], l->dx[1],
                                              net->written[g1]));
                net->written[g0] = net->written[g1] = true;
                break;
            }
            if (l->act != OCLNN_ACT_NONE)
                TRY(oclnn_activation_backward(ctx, l->act, l->y, dy, dy));
            if (want_dx)
                TRY(contribute(net, l, 0, dy));
            if (l->in2 >= 0 && l->dx[1])
                TRY(contribute(net, l, 1, dy));
            break;
        case NET_FLATTEN: break;
        }
    }
    return OCLNN_SUCCESS;
}

static double lr_at(const oclnn_net *net, long step)
{
    const oclnn_net_train_desc *t = &net->train;
    if (t->schedule == OCLNN_SCHEDULE_CONSTANT || step >= t->total_steps) {
        if (step < t->warmup_steps)
            return t->lr * (double)(step + 1) / (double)t->warmup_steps;
        return t->schedule == OCLNN_SCHEDULE_CONSTANT ? t->lr : t->min_lr;
    }
    double lr = t->lr;
    oclnn_lr_cosine(t->lr, t->min_lr, step, t->warmup_steps, t->total_steps, &lr);
    return lr;
}

static oclnn_status optimize(oclnn_net *net)
{
    const oclnn_net_train_desc *t = &net->train;
    float lr = (float)lr_at(net, net->step);
    for (int j = 0; j < 2; j++) {
        if (!net->group_p[j])
            continue;
        float wd = j == 0 ? (float)t->weight_decay : 0.0f;
        if (t->optimizer == OCLNN_OPTIMIZER_SGD) {
            oclnn_sgd_desc d = {lr, (float)t->momentum, wd, t->nesterov};
            TRY(oclnn_sgd_step(net->ctx, &d, net->group_p[j], net->group_g[j], net->group_m[j],
                               net->step == 0));
        } else {
            oclnn_adam_desc d = oclnn_adam_desc_default();
            d.lr = lr;
            d.beta1 = (float)t->beta1;
            d.beta2 = (float)t->beta2;
            d.eps = (float)t->eps;
            d.weight_decay = wd;
            d.decoupled = 1;
            TRY(oclnn_adam_step(net->ctx, &d, net->step + 1, net->group_p[j], net->group_g[j],
                                net->group_m[j], net->group_v[j]));
        }
    }
    return OCLNN_SUCCESS;
}

static oclnn_status check_ready(const oclnn_net *net, const char *op)
{
    if (!net)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "%s: net is NULL", op);
    if (!net->compiled)
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT, "%s: the net is not compiled", op);
    return OCLNN_SUCCESS;
}

static oclnn_status check_labels(oclnn_net *net, const char *op, const int32_t *labels, int n)
{
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= net->classes)
            return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                               "%s: labels[%d] = %d is outside [0, %d)", op, i, (int)labels[i],
                               net->classes);
    return OCLNN_SUCCESS;
}

/* Copies the batch into a staging slot and uploads it without blocking; the slot's previous
 * upload (NET_STAGES steps ago) has finished long before in practice, but is waited for. */
static oclnn_status stage(oclnn_net *net, const float *x, const int32_t *labels, int count)
{
    oclnn_context *ctx = net->ctx;
    int k = net->stage_next;
    net->stage_next = (k + 1) % NET_STAGES;
    if (net->stage_ev[k]) {
        cl_int err = clWaitForEvents(1, &net->stage_ev[k]);
        clReleaseEvent(net->stage_ev[k]);
        net->stage_ev[k] = NULL;
        TRY(oclnn__cl(ctx, err, "net: clWaitForEvents(upload)"));
    }
    size_t per = oclnn_tensor_desc_count(&net->in_desc) / (size_t)net->batch;
    memcpy(net->stage_x[k], x, (size_t)count * per * sizeof(float));
    if (count < net->batch)
        memset(net->stage_x[k] + (size_t)count * per, 0,
               (size_t)(net->batch - count) * per * sizeof(float));
    for (int i = 0; i < net->batch; i++)
        net->stage_labels[k][i] = labels && i < count ? labels[i] : 0;
    cl_event evs[2] = {NULL, NULL};
    TRY(oclnn__cl(ctx,
                  clEnqueueWriteBuffer(
                      ctx->queue, net->x->mem, CL_FALSE, net->x->offset * sizeof(float),
                      (size_t)net->batch * per * sizeof(float), net->stage_x[k], 0, NULL, &evs[0]),
                  "net: clEnqueueWriteBuffer(x)"));
    oclnn_status s = oclnn__cl(ctx,
                               clEnqueueWriteBuffer(ctx->queue, net->labels->mem, CL_FALSE,
                                                    net->labels->offset * sizeof(int32_t),
                                                    (size_t)net->batch * sizeof(int32_t),
                                                    net->stage_labels[k], 0, NULL, &evs[1]),
                               "net: clEnqueueWriteBuffer(labels)");
    if (s != OCLNN_SUCCESS) {
        clWaitForEvents(1, &evs[0]);
        clReleaseEvent(evs[0]);
        return s;
    }
    if (ctx->profile) {
        clRetainEvent(evs[0]);
        oclnn__profile_event(ctx, "transfer", "net_upload_x", evs[0]);
    }
    clReleaseEvent(evs[0]);
    net->stage_ev[k] = evs[1]; /* in order: the labels finish after x */
    return OCLNN_SUCCESS;
}

static oclnn_status flush_stats(oclnn_net *net)
{
    if (!net->pending)
        return OCLNN_SUCCESS;
    float loss[OCLNN_NET_STAT_SLOTS];
    int32_t correct[OCLNN_NET_STAT_SLOTS];
    TRY(oclnn_tensor_download(net->ctx, net->loss_ring, loss, OCLNN_NET_STAT_SLOTS, 1));
    TRY(oclnn_tensor_download(net->ctx, net->correct_ring, correct, OCLNN_NET_STAT_SLOTS, 1));
    for (int i = 0; i < net->pending; i++) {
        net->acc_loss += loss[i];
        net->acc_correct += correct[i];
        net->acc_images += net->batch;
        net->acc_steps++;
    }
    net->pending = 0;
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_net_train_step(oclnn_net *net, const float *x, const int32_t *labels)
{
    TRY(check_ready(net, "net_train_step"));
    if (net->inference_only)
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                           "net_train_step: the net was compiled for inference only (train NULL)");
    if (!x || !labels)
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT, "net_train_step: %s is NULL",
                           x ? "labels" : "x");
    TRY(check_labels(net, "net_train_step", labels, net->batch));
    if (net->pending == OCLNN_NET_STAT_SLOTS)
        TRY(flush_stats(net));
    TRY(stage(net, x, labels, net->batch));
    TRY(forward(net, true, net->pending));
    TRY(backward(net));
    TRY(optimize(net));
    net->pending++;
    net->step++;
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_net_warmup(oclnn_net *net, int threads, FILE *progress)
{
    TRY(check_ready(net, "net_warmup"));
    /* One pass of everything a step and an evaluation enqueue, with the context recording the
     * programs instead of running kernels: no host counter moves (step, stats ring, staging),
     * and the optimizer kernels do not run, so the parameters stay as they are. */
    TRY(oclnn_context_warmup_begin(net->ctx, threads, progress));
    oclnn_status s = forward(net, false, 0);
    if (s == OCLNN_SUCCESS && !net->inference_only) {
        s = forward(net, true, 0);
        if (s == OCLNN_SUCCESS)
            s = backward(net);
        if (s == OCLNN_SUCCESS)
            s = optimize(net);
    }
    oclnn_status e = oclnn_context_warmup_end(net->ctx);
    return s != OCLNN_SUCCESS ? s : e;
}

oclnn_status oclnn_net_tune(oclnn_net *net, const oclnn_conv_tune_desc *desc, FILE *progress,
                            oclnn_conv_tune_result *results, size_t capacity, size_t *count)
{
    if (count)
        *count = 0;
    TRY(check_ready(net, "net_tune"));
    if (!desc)
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT, "net_tune: desc is NULL");
    oclnn_conv_tune_shape *shapes =
        oclnn__alloc(net->ctx, (size_t)net->nlayers * sizeof *shapes, "net_tune");
    if (!shapes)
        return OCLNN_OUT_OF_MEMORY;
    size_t n = 0;
    for (int i = 0; i < net->nlayers; i++) {
        const net_layer *l = &net->layers[i];
        if (l->kind != NET_CONV)
            continue;
        oclnn_conv_tune_shape sh;
        memset(&sh, 0, sizeof sh);
        sh.x = in_desc(net, l->in);
        sh.w = net->params[l->params[0]].desc;
        sh.conv = l->conv.conv;
        sh.conv.algo = OCLNN_CONV_AUTO;
        sh.conv.activation = OCLNN_ACT_NONE;
        sh.conv.residual_before_act = 0;
        bool seen = false; /* identical layers (a stage's blocks) once */
        for (size_t j = 0; j < n && !seen; j++)
            seen = memcmp(&shapes[j].x, &sh.x, sizeof sh.x) == 0 &&
                   memcmp(&shapes[j].w, &sh.w, sizeof sh.w) == 0 &&
                   memcmp(&shapes[j].conv, &sh.conv, sizeof sh.conv) == 0;
        if (seen)
            continue;
        snprintf(sh.name, sizeof sh.name, "%.31s", l->name);
        shapes[n++] = sh;
    }
    oclnn_status s = OCLNN_SUCCESS;
    if (n) {
        oclnn_conv_tune_desc d = *desc;
        d.shapes = shapes;
        d.nshapes = n;
        d.passes = net->inference_only ? 1u << OCLNN_CONV_FORWARD : 0;
        s = oclnn_tune_conv2d(net->ctx, &d, progress, results, capacity, count);
    }
    free(shapes);
    return s;
}

oclnn_status oclnn_net_read_stats(oclnn_net *net, double *mean_loss, long *correct, long *images)
{
    if (mean_loss)
        *mean_loss = 0;
    if (correct)
        *correct = 0;
    if (images)
        *images = 0;
    TRY(check_ready(net, "net_read_stats"));
    TRY(flush_stats(net));
    if (mean_loss)
        *mean_loss = net->acc_steps ? net->acc_loss / (double)net->acc_steps : 0.0;
    if (correct)
        *correct = net->acc_correct;
    if (images)
        *images = net->acc_images;
    net->acc_loss = 0;
    net->acc_correct = net->acc_images = net->acc_steps = 0;
    return OCLNN_SUCCESS;
}

long oclnn_net_step_count(const oclnn_net *net)
{
    return net ? net->step : 0;
}

oclnn_status oclnn_net_lr(const oclnn_net *net, long step, double *lr)
{
    if (lr)
        *lr = 0;
    TRY(check_ready(net, "net_lr"));
    if (!lr || step < 0)
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT, "net_lr: lr is NULL or step %ld < 0",
                           step);
    *lr = lr_at(net, step);
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_net_set_schedule(oclnn_net *net, long warmup_steps, long total_steps)
{
    TRY(check_ready(net, "net_set_schedule"));
    oclnn_net_train_desc t = net->train;
    t.warmup_steps = warmup_steps;
    t.total_steps = total_steps;
    oclnn_status s = validate_train(net->ctx, &t);
    if (s != OCLNN_SUCCESS)
        return s;
    net->train = t;
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_net_infer(oclnn_net *net, const float *x, const int32_t *labels, int count,
                             float *logits, long *correct)
{
    if (correct)
        *correct = 0;
    TRY(check_ready(net, "net_infer"));
    if (!x || count < 1 || count > net->batch)
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                           "net_infer: x is NULL or count %d is outside [1, batch %d]", count,
                           net->batch);
    if (correct && !labels)
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                           "net_infer: labels is NULL but correct is asked for");
    if (labels)
        TRY(check_labels(net, "net_infer", labels, count));
    TRY(stage(net, x, labels, count));
    TRY(forward(net, false, 0));
    const net_layer *loss = &net->layers[net->nlayers - 1];
    const oclnn_tensor *out = input_of(net, loss->in);
    size_t k = (size_t)net->classes;
    TRY(oclnn_tensor_download(net->ctx, out, net->logits_host, (size_t)net->batch * k, 1));
    if (logits)
        memcpy(logits, net->logits_host, (size_t)count * k * sizeof(float));
    if (correct) {
        long hits = 0;
        for (int i = 0; i < count; i++) {
            const float *row = net->logits_host + (size_t)i * k;
            size_t best = 0;
            for (size_t j = 1; j < k; j++)
                if (row[j] > row[best])
                    best = j;
            hits += (int32_t)best == labels[i];
        }
        *correct = hits;
    }
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_net_param_count(const oclnn_net *net, size_t *count)
{
    if (count)
        *count = 0;
    TRY(check_ready(net, "net_param_count"));
    if (!count)
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT, "net_param_count: count is NULL");
    *count = net->n_decay + net->n_nodecay + net->n_stats;
    return OCLNN_SUCCESS;
}

static oclnn_status params_io(oclnn_net *net, const char *op, float *host, size_t count, bool get)
{
    TRY(check_ready(net, op));
    size_t total = net->n_decay + net->n_nodecay + net->n_stats;
    if (!host || count != total)
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: host is NULL or count %zu is not the parameter count %zu", op,
                           count, total);
    size_t off = 0;
    for (int i = 0; i < net->nparams; i++) {
        net_param *p = &net->params[i];
        if (get)
            TRY(oclnn_tensor_download(net->ctx, p->p, host + off, p->count, 0));
        else
            TRY(oclnn_tensor_upload(net->ctx, p->p, host + off, p->count, 0));
        off += p->count;
    }
    return oclnn_context_finish(net->ctx);
}

oclnn_status oclnn_net_get_params(oclnn_net *net, float *host, size_t count)
{
    return params_io(net, "net_get_params", host, count, true);
}

oclnn_status oclnn_net_set_params(oclnn_net *net, const float *host, size_t count)
{
    return params_io(net, "net_set_params", (float *)host, count, false);
}

oclnn_status oclnn_net_shape(const oclnn_net *net, int *batch, int *classes, int *layers)
{
    if (batch)
        *batch = 0;
    if (classes)
        *classes = 0;
    if (layers)
        *layers = 0;
    if (!net)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "net_shape: net is NULL");
    if (batch)
        *batch = net->batch;
    if (classes)
        *classes = net->classes;
    if (layers)
        *layers = net->nlayers;
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_net_layer_info(const oclnn_net *net, int i, const char **kind, const char **name,
                                  oclnn_tensor_desc *out)
{
    if (!net)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "net_layer_info: net is NULL");
    if (i < 0 || i >= net->nlayers)
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                           "net_layer_info: layer %d is outside [0, %d)", i, net->nlayers);
    if (kind)
        *kind = kind_name(net->layers[i].kind);
    if (name)
        *name = net->layers[i].name;
    if (out)
        *out = net->layers[i].out;
    return OCLNN_SUCCESS;
}
