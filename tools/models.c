/* models.c - lenet, resnet and convnext for 28x28 (or 32x32) images and 10 classes, built layer
 * by layer with oclnn_net_add_*; see models.h. */
#include "models.h"

#include <string.h>

const char *const model_names[] = {"lenet", "resnet", "convnext", NULL};

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        oclnn_status s_ = (expr);                                                                  \
        if (s_ != OCLNN_SUCCESS)                                                                   \
            return s_;                                                                             \
    } while (0)

static oclnn_net_conv_desc conv(int out, int k, int stride, int pad, int bias)
{
    oclnn_net_conv_desc d = oclnn_net_conv_desc_default(out, k);
    d.conv.stride_h = d.conv.stride_w = stride;
    oclnn_conv2d_desc_set_pad(&d.conv, pad, pad);
    d.bias = bias;
    return d;
}

/* conv 1->32 3x3 + ReLU, max-pool 2; conv 32->64 3x3 + ReLU, max-pool 2; linear 3136->128,
 * ReLU; linear 10. */
static oclnn_status lenet(oclnn_net *net)
{
    oclnn_pool2d_desc pool = oclnn_pool2d_desc_default();
    oclnn_net_conv_desc c1 = conv(32, 3, 1, 1, 1), c2 = conv(64, 3, 1, 1, 1);
    c1.conv.activation = c2.conv.activation = OCLNN_ACT_RELU; /* fused into the conv */
    TRY(oclnn_net_add_conv(net, "conv1", &c1, NULL));
    TRY(oclnn_net_add_pool(net, "pool1", &pool, NULL));
    TRY(oclnn_net_add_conv(net, "conv2", &c2, NULL));
    TRY(oclnn_net_add_pool(net, "pool2", &pool, NULL));
    TRY(oclnn_net_add_flatten(net, "flatten", NULL));
    TRY(oclnn_net_add_linear(net, "fc1", 128, 1, NULL));
    TRY(oclnn_net_add_activation(net, "relu3", OCLNN_ACT_RELU, NULL));
    TRY(oclnn_net_add_linear(net, "fc2", 10, 1, NULL));
    return oclnn_net_add_softmax_cross_entropy(net, "loss", NULL);
}

/* A basic block: conv3x3(stride) BN ReLU conv3x3 BN, plus the input (through a 1x1 conv + BN
 * projection when the shape changes), then ReLU. */
static oclnn_status basic_block(oclnn_net *net, const char *name, int width, int stride,
                                int project)
{
    char n[64];
    int in, main_out;
    oclnn_net_shape(net, NULL, NULL, &in);
    in -= 1; /* the block's input: the last layer added */
    oclnn_net_conv_desc a = conv(width, 3, stride, 1, 0), b = conv(width, 3, 1, 1, 0);
    snprintf(n, sizeof n, "%s_conv1", name);
    TRY(oclnn_net_add_conv(net, n, &a, NULL));
    snprintf(n, sizeof n, "%s_bn1", name);
    TRY(oclnn_net_add_batchnorm(net, n, NULL, NULL));
    snprintf(n, sizeof n, "%s_relu1", name);
    TRY(oclnn_net_add_activation(net, n, OCLNN_ACT_RELU, NULL));
    snprintf(n, sizeof n, "%s_conv2", name);
    TRY(oclnn_net_add_conv(net, n, &b, NULL));
    snprintf(n, sizeof n, "%s_bn2", name);
    TRY(oclnn_net_add_batchnorm(net, n, NULL, &main_out));
    int skip = in;
    if (project) {
        oclnn_net_conv_desc p = conv(width, 1, stride, 0, 0);
        TRY(oclnn_net_branch(net, in));
        snprintf(n, sizeof n, "%s_proj", name);
        TRY(oclnn_net_add_conv(net, n, &p, NULL));
        snprintf(n, sizeof n, "%s_proj_bn", name);
        TRY(oclnn_net_add_batchnorm(net, n, NULL, NULL));
        skip = main_out; /* current = projection; add the main path to it */
    }
    snprintf(n, sizeof n, "%s_add", name);
    return oclnn_net_add_residual(net, n, skip, OCLNN_ACT_RELU, NULL);
}

/* Stem conv 1->32 3x3 + BN + ReLU; stages of two basic blocks at widths 32, 64, 128 (stages 2
 * and 3 start with stride 2 and a projection); global average pool; linear 10. */
static oclnn_status resnet(oclnn_net *net)
{
    oclnn_net_conv_desc stem = conv(32, 3, 1, 1, 0);
    TRY(oclnn_net_add_conv(net, "stem", &stem, NULL));
    TRY(oclnn_net_add_batchnorm(net, "stem_bn", NULL, NULL));
    TRY(oclnn_net_add_activation(net, "stem_relu", OCLNN_ACT_RELU, NULL));
    static const int widths[3] = {32, 64, 128};
    for (int s = 0; s < 3; s++)
        for (int blk = 0; blk < 2; blk++) {
            char name[32];
            snprintf(name, sizeof name, "s%db%d", s + 1, blk + 1);
            int first = blk == 0 && s > 0;
            TRY(basic_block(net, name, widths[s], first ? 2 : 1, first));
        }
    TRY(oclnn_net_add_global_avg_pool(net, "gap", NULL));
    TRY(oclnn_net_add_linear(net, "fc", 10, 1, NULL));
    return oclnn_net_add_softmax_cross_entropy(net, "loss", NULL);
}

/* A ConvNeXt block: depthwise 7x7 -> LN (channels) -> 1x1 to 4x -> GELU -> 1x1 back -> layer
 * scale (1e-6) -> + input. */
static oclnn_status convnext_block(oclnn_net *net, const char *name, int width)
{
    char n[64];
    int in;
    oclnn_net_shape(net, NULL, NULL, &in);
    in -= 1;
    oclnn_layernorm_desc ln = oclnn_layernorm_desc_default();
    ln.mode = OCLNN_LAYERNORM_CHANNELS;
    oclnn_net_conv_desc dw = conv(width, 7, 1, 3, 1), up = conv(4 * width, 1, 1, 0, 1),
                        down = conv(width, 1, 1, 0, 1);
    dw.conv.groups = width;
    snprintf(n, sizeof n, "%s_dw", name);
    TRY(oclnn_net_add_conv(net, n, &dw, NULL));
    snprintf(n, sizeof n, "%s_ln", name);
    TRY(oclnn_net_add_layernorm(net, n, &ln, NULL));
    snprintf(n, sizeof n, "%s_pw1", name);
    TRY(oclnn_net_add_conv(net, n, &up, NULL));
    snprintf(n, sizeof n, "%s_gelu", name);
    TRY(oclnn_net_add_activation(net, n, OCLNN_ACT_GELU, NULL));
    snprintf(n, sizeof n, "%s_pw2", name);
    TRY(oclnn_net_add_conv(net, n, &down, NULL));
    snprintf(n, sizeof n, "%s_scale", name);
    TRY(oclnn_net_add_layer_scale(net, n, 1e-6f, NULL));
    snprintf(n, sizeof n, "%s_add", name);
    return oclnn_net_add_residual(net, n, in, OCLNN_ACT_NONE, NULL);
}

/* Patchify stem conv 1->32 2x2 s2 + LN; three stages of two blocks at widths 32/64/128,
 * downsampling between stages by LN + 2x2 s2 conv; global average pool, LN, linear 10. */
static oclnn_status convnext(oclnn_net *net)
{
    oclnn_layernorm_desc ln = oclnn_layernorm_desc_default();
    ln.mode = OCLNN_LAYERNORM_CHANNELS;
    oclnn_net_conv_desc stem = conv(32, 2, 2, 0, 1);
    TRY(oclnn_net_add_conv(net, "stem", &stem, NULL));
    TRY(oclnn_net_add_layernorm(net, "stem_ln", &ln, NULL));
    static const int widths[3] = {32, 64, 128};
    for (int s = 0; s < 3; s++) {
        char name[32];
        if (s > 0) {
            oclnn_net_conv_desc down = conv(widths[s], 2, 2, 0, 1);
            snprintf(name, sizeof name, "down%d_ln", s);
            TRY(oclnn_net_add_layernorm(net, name, &ln, NULL));
            snprintf(name, sizeof name, "down%d_conv", s);
            TRY(oclnn_net_add_conv(net, name, &down, NULL));
        }
        for (int blk = 0; blk < 2; blk++) {
            snprintf(name, sizeof name, "s%db%d", s + 1, blk + 1);
            TRY(convnext_block(net, name, widths[s]));
        }
    }
    oclnn_layernorm_desc head = oclnn_layernorm_desc_default(); /* over the features */
    TRY(oclnn_net_add_global_avg_pool(net, "gap", NULL));
    TRY(oclnn_net_add_layernorm(net, "head_ln", &head, NULL));
    TRY(oclnn_net_add_linear(net, "fc", 10, 1, NULL));
    return oclnn_net_add_softmax_cross_entropy(net, "loss", NULL);
}

oclnn_status model_build(oclnn_context *ctx, const char *name, oclnn_net **out, model_setup *setup)
{
    if (out)
        *out = NULL;
    if (!out || !name)
        return OCLNN_INVALID_ARGUMENT;
    model_setup m;
    memset(&m, 0, sizeof m);
    m.train = oclnn_net_train_desc_default();
    oclnn_status (*build)(oclnn_net *) = NULL;
    if (!strcmp(name, "lenet")) {
        build = lenet;
        m.batch = 64;
        m.train.lr = 0.05;
        m.train.momentum = 0.9;
        m.train.weight_decay = 5e-4;
    } else if (!strcmp(name, "resnet")) {
        build = resnet;
        m.batch = 128;
        m.train.lr = 0.1;
        m.train.momentum = 0.9;
        m.train.weight_decay = 5e-4;
        m.warmup_epochs = 1;
    } else if (!strcmp(name, "convnext")) {
        build = convnext;
        m.batch = 128;
        m.train.optimizer = OCLNN_OPTIMIZER_ADAMW;
        m.train.lr = 2e-3;
        m.train.weight_decay = 0.05;
        m.warmup_epochs = 1;
    } else {
        return OCLNN_INVALID_ARGUMENT;
    }
    m.train.schedule = OCLNN_SCHEDULE_COSINE;
    oclnn_net *net = NULL;
    oclnn_status s = oclnn_net_create(ctx, name, &net);
    if (s == OCLNN_SUCCESS)
        s = build(net);
    if (s != OCLNN_SUCCESS) {
        oclnn_net_destroy(net);
        return s;
    }
    if (setup)
        *setup = m;
    *out = net;
    return OCLNN_SUCCESS;
}
