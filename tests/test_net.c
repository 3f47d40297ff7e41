/* test_net.c - the network scheduler: the shipped models (tools/models.c) against the
 * double-precision reference network (ref_net.c) - structure, initialisation, the loss over
 * three optimizer steps, inference - the loss falling on a fixed batch, the memory plan,
 * checkpoints (bit-identical round trip; every malformed file refused, model unchanged) and
 * argument checks. The reference's own backward pass is checked by finite differences. */
#include "fixture.h"
#include "ref_net.h"

#include "../tools/models.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the models again, on the reference (widths divided by div; layer scale init given) ---- */

static oclnn_net_conv_desc cdesc(int out, int k, int stride, int pad, int bias)
{
    oclnn_net_conv_desc d = oclnn_net_conv_desc_default(out, k);
    d.conv.stride_h = d.conv.stride_w = stride;
    oclnn_conv2d_desc_set_pad(&d.conv, pad, pad);
    d.bias = bias;
    return d;
}

static void ref_lenet(ref_net *r, int div)
{
    oclnn_pool2d_desc pool = oclnn_pool2d_desc_default();
    oclnn_net_conv_desc c1 = cdesc(32 / div, 3, 1, 1, 1), c2 = cdesc(64 / div, 3, 1, 1, 1);
    c1.conv.activation = c2.conv.activation = OCLNN_ACT_RELU;
    ref_net_conv(r, &c1);
    ref_net_pool(r, &pool);
    ref_net_conv(r, &c2);
    ref_net_pool(r, &pool);
    ref_net_flatten(r);
    ref_net_linear(r, 128 / div, 1);
    ref_net_activation(r, OCLNN_ACT_RELU);
    ref_net_linear(r, 10, 1);
    ref_net_loss(r);
}

static void ref_resnet(ref_net *r, int div)
{
    oclnn_net_conv_desc stem = cdesc(32 / div, 3, 1, 1, 0);
    ref_net_conv(r, &stem);
    ref_net_batchnorm(r, 1e-5, 0.1);
    ref_net_activation(r, OCLNN_ACT_RELU);
    for (int s = 0; s < 3; s++)
        for (int b = 0; b < 2; b++) {
            int width = (32 << s) / div, stride = b == 0 && s > 0 ? 2 : 1;
            int in = ref_net_layers(r) - 1;
            oclnn_net_conv_desc c1 = cdesc(width, 3, stride, 1, 0), c2 = cdesc(width, 3, 1, 1, 0);
            ref_net_conv(r, &c1);
            ref_net_batchnorm(r, 1e-5, 0.1);
            ref_net_activation(r, OCLNN_ACT_RELU);
            ref_net_conv(r, &c2);
            int main_out = ref_net_batchnorm(r, 1e-5, 0.1), skip = in;
            if (stride == 2) {
                oclnn_net_conv_desc p = cdesc(width, 1, 2, 0, 0);
                ref_net_branch(r, in);
                ref_net_conv(r, &p);
                ref_net_batchnorm(r, 1e-5, 0.1);
                skip = main_out;
            }
            ref_net_residual(r, skip, OCLNN_ACT_RELU);
        }
    ref_net_gap(r);
    ref_net_linear(r, 10, 1);
    ref_net_loss(r);
}

static void ref_convnext(ref_net *r, int div, double ls)
{
    oclnn_net_conv_desc stem = cdesc(32 / div, 2, 2, 0, 1);
    ref_net_conv(r, &stem);
    ref_net_layernorm(r, OCLNN_LAYERNORM_CHANNELS, 1e-6);
    for (int s = 0; s < 3; s++) {
        int width = (32 << s) / div;
        if (s > 0) {
            oclnn_net_conv_desc down = cdesc(width, 2, 2, 0, 1);
            ref_net_layernorm(r, OCLNN_LAYERNORM_CHANNELS, 1e-6);
            ref_net_conv(r, &down);
        }
        for (int b = 0; b < 2; b++) {
            int in = ref_net_layers(r) - 1;
            oclnn_net_conv_desc dw = cdesc(width, 7, 1, 3, 1), up = cdesc(4 * width, 1, 1, 0, 1),
                                down = cdesc(width, 1, 1, 0, 1);
            dw.conv.groups = width;
            ref_net_conv(r, &dw);
            ref_net_layernorm(r, OCLNN_LAYERNORM_CHANNELS, 1e-6);
            ref_net_conv(r, &up);
            ref_net_activation(r, OCLNN_ACT_GELU);
            ref_net_conv(r, &down);
            ref_net_layer_scale(r, ls);
            ref_net_residual(r, in, OCLNN_ACT_NONE);
        }
    }
    ref_net_gap(r);
    ref_net_layernorm(r, OCLNN_LAYERNORM_CHW, 1e-6);
    ref_net_linear(r, 10, 1);
    ref_net_loss(r);
}

static const char *const models[3] = {"lenet", "resnet", "convnext"};

static ref_net *ref_model(int m, int div, double ls)
{
    ref_net *r = ref_net_create();
    if (m == 0)
        ref_lenet(r, div);
    else if (m == 1)
        ref_resnet(r, div);
    else
        ref_convnext(r, div, ls);
    return r;
}

/* ---- helpers ---- */

/* The shipped model compiled for [batch][1][28][28] with a schedule of `total` steps. */
static oclnn_net *device_model(const char *name, int batch, uint64_t seed, long total,
                               oclnn_net_train_desc *t_out, int optimizer)
{
    oclnn_context *c = fx_ctx();
    oclnn_net *net = NULL;
    model_setup m;
    oclnn_status s = model_build(c, name, &net, &m);
    ck_assert_msg(s == OCLNN_SUCCESS, "model_build(%s): %s", name, oclnn_last_error(c));
    m.train.seed = seed;
    m.train.total_steps = total;
    m.train.warmup_steps = m.warmup_epochs ? 2 : 0;
    if (optimizer >= 0)
        m.train.optimizer = (oclnn_optimizer)optimizer;
    s = oclnn_net_compile(net, batch, 1, 28, 28, &m.train);
    ck_assert_msg(s == OCLNN_SUCCESS, "compile(%s): %s", name, oclnn_last_error(c));
    if (t_out)
        *t_out = m.train;
    return net;
}

/* n images of 28x28 in [-1, 1) and labels i % 10 shuffled by the seed. */
static void make_data(int n, uint32_t seed, float **x, int32_t **y)
{
    *x = fx_alloc((size_t)n * 784);
    fx_fill(*x, (size_t)n * 784, seed, -1.0f, 1.0f);
    *y = calloc((size_t)n, sizeof **y);
    for (int i = 0; i < n; i++)
        (*y)[i] = (int32_t)((i * 7 + (int)seed) % 10);
}

static float *params_of(oclnn_net *net, size_t *count)
{
    ck_assert_int_eq(oclnn_net_param_count(net, count), OCLNN_SUCCESS);
    float *p = fx_alloc(*count);
    ck_assert_int_eq(oclnn_net_get_params(net, p, *count), OCLNN_SUCCESS);
    return p;
}

/* ---- structure and initialisation ---- */

START_TEST(models_match_reference_structure_and_init)
{
    oclnn_net *net = device_model(models[_i], 2, 7, 10, NULL, -1);
    ref_net *r = ref_model(_i, 1, 1e-6);
    ref_net_compile(r, 2, 1, 28, 28, 7);
    int layers;
    oclnn_net_shape(net, NULL, NULL, &layers);
    ck_assert_int_eq(layers, ref_net_layers(r));
    for (int i = 0; i < layers; i++) {
        oclnn_tensor_desc d, e = ref_net_layer_out(r, i);
        const char *kind, *name;
        ck_assert_int_eq(oclnn_net_layer_info(net, i, &kind, &name, &d), OCLNN_SUCCESS);
        ck_assert_msg(d.ndim == e.ndim && !memcmp(d.dims, e.dims, sizeof(int) * (size_t)d.ndim),
                      "%s layer %d %s (%s): shape differs from the reference", models[_i], i, name,
                      kind);
    }
    size_t n;
    float *p = params_of(net, &n);
    ck_assert_uint_eq(n, ref_net_param_count(r));
    double *q = malloc(n * sizeof *q);
    ref_net_get_params(r, q);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg((double)p[i] == q[i], "%s: parameter %zu is %.9g, reference %.9g", models[_i],
                      i, p[i], q[i]);
    /* He init: the first conv's weights have standard deviation sqrt(2 / fan_in) */
    oclnn_net_memory mem;
    oclnn_net_memory_info(net, &mem);
    ck_assert_uint_gt(mem.parameter_count, 1000);
    free(q);
    free(p);
    ref_net_destroy(r);
    oclnn_net_destroy(net);
}
END_TEST

/* ---- the loss over three steps ---- */

START_TEST(loss_matches_reference_over_three_steps)
{
    static const int batch[3] = {8, 4, 4};
    const int b = batch[_i], steps = 3;
    oclnn_net_train_desc t;
    oclnn_net *net = device_model(models[_i], b, 11, 10, &t, -1);
    /* The parallel warm-up must leave parameters, statistics and the step count untouched:
     * everything below compares against a reference that never warmed up. */
    ck_assert_msg(oclnn_net_warmup(net, 2, NULL) == OCLNN_SUCCESS, "%s",
                  oclnn_last_error(fx_ctx()));
    ck_assert_int_eq(oclnn_net_step_count(net), 0);
    ref_net *r = ref_model(_i, 1, 1e-6);
    ref_net_compile(r, b, 1, 28, 28, 11);
    float *x;
    int32_t *y;
    make_data(b * steps, 3, &x, &y);
    for (int s = 0; s < steps; s++) {
        const float *xs = x + (size_t)s * b * 784;
        const int32_t *ys = y + s * b;
        ck_assert_int_eq(oclnn_net_train_step(net, xs, ys), OCLNN_SUCCESS);
        double got;
        long correct, images;
        ck_assert_int_eq(oclnn_net_read_stats(net, &got, &correct, &images), OCLNN_SUCCESS);
        ck_assert_int_eq(images, b);
        double lr;
        ck_assert_int_eq(oclnn_net_lr(net, s, &lr), OCLNN_SUCCESS);
        double want = ref_net_loss_and_grad(r, xs, ys, 1);
        ref_net_update(r, &t, lr, s);
        /* float32 device vs double reference: 1e-5 relative on the loss after 0, 1, 2 updates */
        ck_assert_msg(fabs(got - want) <= 1e-5 * fabs(want),
                      "%s step %d: loss %.9g, reference %.9g (rel %.3g)", models[_i], s, got, want,
                      fabs(got - want) / fabs(want));
        /* accuracy: the reference's arg-max of the logits on the same forward */
        int classes = 10, layers = ref_net_layers(r);
        const double *logits = ref_net_output(r, layers - 2);
        long hits = 0;
        for (int i = 0; i < b; i++) {
            int best = 0;
            for (int k = 1; k < classes; k++)
                if (logits[i * classes + k] > logits[i * classes + best])
                    best = k;
            hits += best == ys[i];
        }
        ck_assert_int_eq(correct, hits);
    }
    ck_assert_int_eq(oclnn_net_step_count(net), steps);
    /* parameters after three updates: |device - reference| <= 1e-4 * max|reference| + 1e-6 */
    size_t n;
    float *p = params_of(net, &n);
    double *q = malloc(n * sizeof *q), big = 0;
    ref_net_get_params(r, q);
    for (size_t i = 0; i < n; i++)
        big = fmax(big, fabs(q[i]));
    fx_assert_close("parameters after 3 steps", p, q, n, 1e-4 * big + 1e-6, 0);
    /* inference with the running statistics the steps left (resnet: batch norm folded into the
     * convolutions before it), against the reference's inference from the same parameters and
     * statistics, the device's (checked above): the logits within 1e-5 of the largest reference
     * logit (measured: at most 6e-7 of it). From the reference's own, the logits would also
     * carry the steps' rounding differences amplified through batch norm with the statistics of
     * batches of 4 (variances of a few samples per channel: 2e-4 of the largest logit after a
     * change of rounding in one layer's gradient), which measures that conditioning, not the
     * inference. */
    for (size_t i = 0; i < n; i++)
        *ref_net_param(r, i, NULL) = p[i];
    free(p);
    free(q);
    const int classes = 10;
    float *logits = fx_alloc((size_t)b * classes);
    ck_assert_int_eq(oclnn_net_infer(net, x, y, b, logits, NULL), OCLNN_SUCCESS);
    const double *want = ref_net_infer(r, x);
    double top = 0;
    for (int i = 0; i < b * classes; i++)
        top = fmax(top, fabs(want[i]));
    fx_assert_close("inference logits after 3 steps", logits, want, (size_t)b * classes, 1e-5 * top,
                    0);
    free(logits);
    free(x);
    free(y);
    ref_net_destroy(r);
    oclnn_net_destroy(net);
}
END_TEST

START_TEST(inference_matches_reference)
{
    /* lenet has no batch norm: inference is the training forward */
    const int b = 6;
    oclnn_net *net = device_model("lenet", b, 5, 10, NULL, -1);
    ref_net *r = ref_model(0, 1, 0);
    ref_net_compile(r, b, 1, 28, 28, 5);
    float *x;
    int32_t *y;
    make_data(b, 9, &x, &y);
    ref_net_loss_and_grad(r, x, y, 0);
    const double *want = ref_net_output(r, ref_net_layers(r) - 2);
    float logits[6 * 10];
    fx_fill_nan(logits, 60);
    long correct = -1;
    ck_assert_int_eq(oclnn_net_infer(net, x, y, b, logits, &correct), OCLNN_SUCCESS);
    double tol[60];
    for (int i = 0; i < 60; i++)
        tol[i] = 1e-4 * (1 + fabs(want[i]));
    fx_assert_close_tol("lenet logits", logits, want, tol, 60);
    long hits = 0;
    for (int i = 0; i < b; i++) {
        int best = 0;
        for (int k = 1; k < 10; k++)
            best = want[i * 10 + k] > want[i * 10 + best] ? k : best;
        hits += best == y[i];
    }
    ck_assert_int_eq(correct, hits);
    /* a partial batch: the first 4 images give the same logits */
    float part[4 * 10];
    ck_assert_int_eq(oclnn_net_infer(net, x, y, 4, part, &correct), OCLNN_SUCCESS);
    ck_assert_int_eq(memcmp(part, logits, sizeof part), 0);
    ck_assert_int_eq(oclnn_net_step_count(net), 0);
    free(x);
    free(y);
    ref_net_destroy(r);
    oclnn_net_destroy(net);
}
END_TEST

START_TEST(loss_falls_on_a_fixed_batch)
{
    const int b = 16;
    oclnn_net *net = device_model("lenet", b, 3, 50, NULL, -1);
    float *x;
    int32_t *y;
    make_data(b, 4, &x, &y);
    double first, last;
    ck_assert_int_eq(oclnn_net_train_step(net, x, y), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_net_read_stats(net, &first, NULL, NULL), OCLNN_SUCCESS);
    for (int s = 1; s < 49; s++)
        ck_assert_int_eq(oclnn_net_train_step(net, x, y), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_net_read_stats(net, NULL, NULL, NULL), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_net_train_step(net, x, y), OCLNN_SUCCESS);
    long correct, images;
    ck_assert_int_eq(oclnn_net_read_stats(net, &last, &correct, &images), OCLNN_SUCCESS);
    ck_assert_msg(isfinite(first) && first > 1.5, "first loss %g", first);
    ck_assert_msg(last < 0.1 * first, "loss went from %g to only %g in 50 steps", first, last);
    ck_assert_int_eq(images, b);
    ck_assert_int_eq(correct, b); /* a memorised batch */
    free(x);
    free(y);
    oclnn_net_destroy(net);
}
END_TEST

/* More steps than the statistics ring holds: every step's loss is still counted once. */
START_TEST(stats_ring_wraps)
{
    const int b = 2, steps = OCLNN_NET_STAT_SLOTS + 6;
    oclnn_net *net = device_model("lenet", b, 3, steps, NULL, -1);
    float *x;
    int32_t *y;
    make_data(b, 4, &x, &y);
    for (int s = 0; s < steps; s++)
        ck_assert_int_eq(oclnn_net_train_step(net, x, y), OCLNN_SUCCESS);
    double loss;
    long correct, images;
    ck_assert_int_eq(oclnn_net_read_stats(net, &loss, &correct, &images), OCLNN_SUCCESS);
    ck_assert_int_eq(images, (long)steps * b);
    ck_assert_msg(isfinite(loss) && loss > 0, "loss %g", loss);
    ck_assert_int_le(correct, images);
    ck_assert_int_eq(oclnn_net_read_stats(net, &loss, &correct, &images), OCLNN_SUCCESS);
    ck_assert_int_eq(images, 0);
    free(x);
    free(y);
    oclnn_net_destroy(net);
}
END_TEST

/* ---- the reference's backward pass against centred differences of its forward ---- */

START_TEST(reference_gradient_matches_finite_differences)
{
    /* reduced widths, 12x12 inputs (8x8 for lenet's pools is fine too), batch 3, layer scale
     * 0.5 so the blocks' inner gradients are not scaled away */
    ref_net *r = ref_model(_i, 8, 0.5);
    const int b = 3, hw = 12;
    ref_net_compile(r, b, 1, hw, hw, 21);
    float *x = fx_alloc((size_t)b * hw * hw);
    fx_fill(x, (size_t)b * hw * hw, 5, -1, 1);
    int32_t y[3] = {1, 7, 4};
    /* move the parameters off their init (BN gamma 1, zero biases) so every term matters */
    size_t n = ref_net_param_count(r);
    float *noise = fx_alloc(n);
    fx_fill(noise, n, 6, -0.2f, 0.2f);
    for (size_t i = 0; i < n; i++)
        *ref_net_param(r, i, NULL) += noise[i];
    ref_net_loss_and_grad(r, x, y, 1);
    double *an = malloc(n * sizeof *an);
    for (size_t i = 0; i < n; i++) {
        double *g;
        ref_net_param(r, i, &g);
        an[i] = *g;
    }
    int checked = 0;
    for (size_t i = 0; i < n; i += 1 + n / 97) {
        double *p = ref_net_param(r, i, NULL), keep = *p, h = 1e-6;
        *p = keep + h;
        double lp = ref_net_loss_and_grad(r, x, y, 0);
        *p = keep - h;
        double lm = ref_net_loss_and_grad(r, x, y, 0);
        *p = keep;
        double fd = (lp - lm) / (2 * h);
        /* running statistics have no gradient; the loss does not depend on them in training */
        ck_assert_msg(fabs(fd - an[i]) <= 1e-6 + 1e-4 * fabs(fd),
                      "%s parameter %zu: backward %.9g, centred difference %.9g", models[_i], i,
                      an[i], fd);
        checked++;
    }
    ck_assert_int_gt(checked, 90);
    free(an);
    free(noise);
    free(x);
    ref_net_destroy(r);
}
END_TEST

/* ---- memory plan ---- */

START_TEST(memory_plan_reuses_buffers)
{
    oclnn_net *lenet = device_model("lenet", 4, 1, 10, NULL, -1);
    oclnn_net *resnet = device_model("resnet", 4, 1, 10, NULL, -1);
    oclnn_net_memory a, b;
    ck_assert_int_eq(oclnn_net_memory_info(lenet, &a), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_net_memory_info(resnet, &b), OCLNN_SUCCESS);
    /* lenet: relu3 runs in place over fc1's output ([4][128] floats) */
    ck_assert_uint_eq(a.inplace_saved, 4 * 128 * 4);
    /* resnet: every stage ReLU after a batch norm runs in place; gradients share slabs */
    ck_assert_uint_gt(b.inplace_saved, 0);
    ck_assert_uint_lt(b.activation_gradients, b.activation_gradients_unshared / 3);
    ck_assert_uint_eq(b.total, b.parameters + b.gradients + b.optimizer + b.activations +
                                   b.activation_gradients);
    /* SGD: one momentum buffer per trainable parameter */
    ck_assert_uint_eq(b.optimizer, b.parameter_count * 4);
    ck_assert_uint_eq(b.gradients, b.parameter_count * 4);
    oclnn_net_destroy(lenet);
    oclnn_net_destroy(resnet);
}
END_TEST

/* ---- checkpoints ---- */

static char tmpdir[256];

static void ckp_setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/oclnn-net-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void ckp_teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *tpath(const char *name)
{
    static char p[2][512];
    static int k;
    k ^= 1;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

static unsigned char *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(*size + 1);
    ck_assert_uint_eq(fread(buf, 1, *size, f), *size);
    fclose(f);
    return buf;
}

static void write_all(const char *path, const unsigned char *buf, size_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, size, f), size);
    fclose(f);
}

START_TEST(checkpoint_round_trip_is_bit_identical)
{
    /* _i = 0: SGD (momentum state), 1: AdamW (m and v) */
    const int b = 4;
    oclnn_net *a = device_model("lenet", b, 1, 10, NULL, _i);
    oclnn_net *c = device_model("lenet", b, 2, 10, NULL, _i);
    float *x;
    int32_t *y;
    make_data(3 * b, 8, &x, &y);
    ck_assert_int_eq(oclnn_net_train_step(a, x, y), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_net_train_step(a, x + b * 784, y + b), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_net_save(a, tpath("a.ckp")), OCLNN_SUCCESS);
    ck_assert_int_eq(access(tpath("a.ckp.tmp"), F_OK), -1); /* renamed away */
    ck_assert_int_eq(oclnn_net_load(c, tpath("a.ckp")), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_net_step_count(c), 2);
    size_t n, m;
    float *pa = params_of(a, &n), *pc = params_of(c, &m);
    ck_assert_uint_eq(n, m);
    ck_assert_int_eq(memcmp(pa, pc, n * sizeof(float)), 0);
    /* the optimizer state came along: one more identical step keeps them identical */
    ck_assert_int_eq(oclnn_net_train_step(a, x + 2 * b * 784, y + 2 * b), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_net_train_step(c, x + 2 * b * 784, y + 2 * b), OCLNN_SUCCESS);
    free(pa);
    free(pc);
    pa = params_of(a, &n);
    pc = params_of(c, &m);
    ck_assert_int_eq(memcmp(pa, pc, n * sizeof(float)), 0);
    /* saving twice gives the same bytes */
    ck_assert_int_eq(oclnn_net_save(a, tpath("b.ckp")), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_net_save(c, tpath("c.ckp")), OCLNN_SUCCESS);
    size_t sb, sc;
    unsigned char *fb = read_all(tpath("b.ckp"), &sb), *fc = read_all(tpath("c.ckp"), &sc);
    ck_assert_uint_eq(sb, sc);
    ck_assert_int_eq(memcmp(fb, fc, sb), 0);
    free(fb);
    free(fc);
    free(pa);
    free(pc);
    free(x);
    free(y);
    oclnn_net_destroy(a);
    oclnn_net_destroy(c);
}
END_TEST

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static void reseal(unsigned char *buf, size_t size)
{
    uint64_t h = fnv1a(buf + 32, size - 32);
    for (int i = 0; i < 8; i++)
        buf[24 + i] = (unsigned char)(h >> (8 * i));
}

/* Loads `path` into net and checks the refusal and that nothing changed. */
static void refused(oclnn_net *net, const float *before, size_t n, const char *path,
                    oclnn_status want, const char *needle)
{
    fx_assert_status(oclnn_net_load(net, path), want, needle);
    size_t m;
    float *now = params_of(net, &m);
    ck_assert_uint_eq(m, n);
    ck_assert_msg(memcmp(now, before, n * sizeof(float)) == 0,
                  "a refused checkpoint (%s) changed the parameters", needle);
    ck_assert_int_eq(oclnn_net_step_count(net), 0);
    free(now);
}

START_TEST(checkpoint_malformed_refused)
{
    oclnn_context *ctx = fx_ctx();
    (void)ctx;
    const int b = 2;
    oclnn_net *a = device_model("lenet", b, 1, 10, NULL, -1);
    oclnn_net *net = device_model("lenet", b, 2, 10, NULL, -1);
    float *x;
    int32_t *y;
    make_data(b, 8, &x, &y);
    ck_assert_int_eq(oclnn_net_train_step(a, x, y), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_net_save(a, tpath("good.ckp")), OCLNN_SUCCESS);
    size_t size, n;
    unsigned char *good = read_all(tpath("good.ckp"), &size);
    unsigned char *buf = malloc(size + 16);
    float *before = params_of(net, &n);

    /* truncated at several points: inside the header, at its end, inside the name, the data */
    const size_t cuts[] = {0, 7, 31, 32, 40, size / 2, size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_all(tpath("cut.ckp"), good, cuts[i]);
        refused(net, before, n, tpath("cut.ckp"), OCLNN_CORRUPT_DATA, "truncated");
    }
    /* one flipped byte in the payload: the checksum */
    memcpy(buf, good, size);
    buf[size / 3] ^= 0x10;
    write_all(tpath("flip.ckp"), buf, size);
    refused(net, before, n, tpath("flip.ckp"), OCLNN_CORRUPT_DATA, "checksum mismatch");
    /* wrong magic, wrong version */
    memcpy(buf, good, size);
    buf[0] = 'X';
    write_all(tpath("magic.ckp"), buf, size);
    refused(net, before, n, tpath("magic.ckp"), OCLNN_CORRUPT_DATA, "bad magic");
    memcpy(buf, good, size);
    buf[8] = 2;
    write_all(tpath("version.ckp"), buf, size);
    refused(net, before, n, tpath("version.ckp"), OCLNN_CORRUPT_DATA, "version 2");
    /* bytes appended */
    memcpy(buf, good, size);
    memset(buf + size, 0, 16);
    write_all(tpath("long.ckp"), buf, size + 16);
    refused(net, before, n, tpath("long.ckp"), OCLNN_CORRUPT_DATA, "extended");
    /* a consistent file whose first tensor's shape was edited (checksum redone) */
    memcpy(buf, good, size);
    size_t dims0 = 32 + 4 + 5 + 4 + 8 + 4 + 4 + strlen("conv1.weight") + 4;
    ck_assert_int_eq(buf[dims0], 32); /* conv1.weight [32][1][3][3] */
    buf[dims0] = 16;
    reseal(buf, size);
    write_all(tpath("shape.ckp"), buf, size);
    refused(net, before, n, tpath("shape.ckp"), OCLNN_INVALID_ARGUMENT,
            "tensor \"conv1.weight\" has shape [16][1][3][3], this net expects [32][1][3][3]");
    /* another model */
    oclnn_net *other = device_model("convnext", b, 1, 10, NULL, -1);
    ck_assert_int_eq(oclnn_net_save(other, tpath("convnext.ckp")), OCLNN_SUCCESS);
    oclnn_net_destroy(other);
    refused(net, before, n, tpath("convnext.ckp"), OCLNN_INVALID_ARGUMENT,
            "holds model \"convnext\", this net is \"lenet\"");
    /* the same model compiled for other images: fc1 differs */
    oclnn_net *big = NULL;
    model_setup m;
    ck_assert_int_eq(model_build(fx_ctx(), "lenet", &big, &m), OCLNN_SUCCESS);
    m.train.total_steps = 10;
    ck_assert_int_eq(oclnn_net_compile(big, b, 1, 32, 32, &m.train), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_net_save(big, tpath("big.ckp")), OCLNN_SUCCESS);
    oclnn_net_destroy(big);
    refused(net, before, n, tpath("big.ckp"), OCLNN_INVALID_ARGUMENT,
            "tensor \"fc1.weight\" has shape [128][4096], this net expects [128][3136]");
    /* the same model with the other optimizer */
    oclnn_net *adam = device_model("lenet", b, 1, 10, NULL, OCLNN_OPTIMIZER_ADAMW);
    ck_assert_int_eq(oclnn_net_save(adam, tpath("adam.ckp")), OCLNN_SUCCESS);
    oclnn_net_destroy(adam);
    refused(net, before, n, tpath("adam.ckp"), OCLNN_INVALID_ARGUMENT,
            "optimizer state is for AdamW, this net uses SGD");
    /* no file */
    refused(net, before, n, tpath("missing.ckp"), OCLNN_IO_ERROR, "cannot open");
    /* and the good one still loads */
    ck_assert_int_eq(oclnn_net_load(net, tpath("good.ckp")), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_net_step_count(net), 1);
    free(good);
    free(buf);
    free(before);
    free(x);
    free(y);
    oclnn_net_destroy(a);
    oclnn_net_destroy(net);
}
END_TEST

/* A net compiled for inference only keeps no gradients or optimizer state, refuses to train,
 * takes a training checkpoint's parameters and predicts exactly as the trained net. */
START_TEST(inference_only_net)
{
    const int b = 4;
    oclnn_net *trained = device_model("lenet", b, 1, 10, NULL, OCLNN_OPTIMIZER_ADAMW);
    float *x;
    int32_t *y;
    make_data(b, 8, &x, &y);
    ck_assert_int_eq(oclnn_net_train_step(trained, x, y), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_net_save(trained, tpath("trained.ckp")), OCLNN_SUCCESS);

    oclnn_net *inf = NULL;
    ck_assert_int_eq(model_build(fx_ctx(), "lenet", &inf, NULL), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_net_compile(inf, b, 1, 28, 28, NULL), OCLNN_SUCCESS);
    oclnn_net_memory mem;
    ck_assert_int_eq(oclnn_net_memory_info(inf, &mem), OCLNN_SUCCESS);
    ck_assert_uint_eq(mem.gradients, 0);
    ck_assert_uint_eq(mem.optimizer, 0);
    ck_assert_uint_eq(mem.activation_gradients, 0);
    ck_assert_uint_gt(mem.parameters, 0);
    fx_assert_status(oclnn_net_train_step(inf, x, y), OCLNN_INVALID_ARGUMENT,
                     "compiled for inference only");
    ck_assert_int_eq(oclnn_net_load(inf, tpath("trained.ckp")), OCLNN_SUCCESS);
    size_t n, m;
    float *pa = params_of(trained, &n), *pb = params_of(inf, &m);
    ck_assert_uint_eq(n, m);
    ck_assert_int_eq(memcmp(pa, pb, n * sizeof(float)), 0);
    float la[4 * 10], lb[4 * 10];
    long ca, cb;
    ck_assert_int_eq(oclnn_net_infer(trained, x, y, b, la, &ca), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_net_infer(inf, x, y, b, lb, &cb), OCLNN_SUCCESS);
    ck_assert_int_eq(memcmp(la, lb, sizeof la), 0);
    ck_assert_int_eq(ca, cb);
    /* its own checkpoints hold no optimizer state: a training net refuses them */
    ck_assert_int_eq(oclnn_net_save(inf, tpath("inf.ckp")), OCLNN_SUCCESS);
    fx_assert_status(oclnn_net_load(trained, tpath("inf.ckp")), OCLNN_INVALID_ARGUMENT,
                     "optimizer state is for no optimizer (an inference-only net), this net "
                     "uses AdamW");
    size_t sa, sb;
    unsigned char *fa = read_all(tpath("trained.ckp"), &sa), *fb = read_all(tpath("inf.ckp"), &sb);
    ck_assert_uint_lt(sb, sa / 2); /* parameters only: AdamW's m and v are gone */
    free(fa);
    free(fb);
    free(pa);
    free(pb);
    free(x);
    free(y);
    oclnn_net_destroy(inf);
    oclnn_net_destroy(trained);
}
END_TEST

/* ---- arguments ---- */

START_TEST(bad_arguments)
{
    oclnn_context *c = fx_ctx();
    oclnn_net *net = NULL;
    ck_assert_int_eq(oclnn_net_create(c, "t", &net), OCLNN_SUCCESS);
    oclnn_net_conv_desc cd = oclnn_net_conv_desc_default(4, 3);
    cd.conv.activation = OCLNN_ACT_GELU;
    int id = 5;
    fx_assert_status(oclnn_net_add_conv(net, "c", &cd, &id), OCLNN_INVALID_ARGUMENT,
                     "fused activation 2 must be NONE or RELU");
    ck_assert_int_eq(id, -1);
    cd.conv.activation = OCLNN_ACT_RELU;
    ck_assert_int_eq(oclnn_net_add_conv(net, "c", &cd, &id), OCLNN_SUCCESS);
    ck_assert_int_eq(id, 0);
    fx_assert_status(oclnn_net_add_batchnorm(net, "c", NULL, NULL), OCLNN_INVALID_ARGUMENT,
                     "name \"c\" is already layer 0's");
    fx_assert_status(oclnn_net_add_batchnorm(net, "a.b", NULL, NULL), OCLNN_INVALID_ARGUMENT,
                     "no '.'");
    fx_assert_status(oclnn_net_branch(net, 3), OCLNN_INVALID_ARGUMENT, "from 3 is not a layer");
    fx_assert_status(oclnn_net_add_residual(net, NULL, 7, OCLNN_ACT_NONE, NULL),
                     OCLNN_INVALID_ARGUMENT, "from 7 is not a layer");
    fx_assert_status(oclnn_net_add_activation(net, NULL, OCLNN_ACT_NONE, NULL),
                     OCLNN_INVALID_ARGUMENT, "must be RELU, GELU or GELU_TANH");
    fx_assert_status(oclnn_net_add_linear(net, NULL, 0, 1, NULL), OCLNN_INVALID_ARGUMENT,
                     "out_features 0");
    /* compile: the loss must be last */
    fx_assert_status(oclnn_net_compile(net, 2, 1, 8, 8, NULL), OCLNN_INVALID_ARGUMENT,
                     "the last layer must be the softmax cross-entropy loss");
    /* compile: a residual of another shape names the layer; the net stays usable */
    oclnn_pool2d_desc pool = oclnn_pool2d_desc_default();
    ck_assert_int_eq(oclnn_net_add_pool(net, "p", &pool, NULL), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_net_add_residual(net, "r", 0, OCLNN_ACT_NONE, NULL), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_net_add_flatten(net, NULL, NULL), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_net_add_linear(net, NULL, 3, 1, NULL), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_net_add_softmax_cross_entropy(net, NULL, NULL), OCLNN_SUCCESS);
    fx_assert_status(oclnn_net_add_linear(net, NULL, 3, 1, NULL), OCLNN_INVALID_ARGUMENT,
                     "the loss must be the last layer");
    fx_assert_status(oclnn_net_compile(net, 2, 1, 8, 8, NULL), OCLNN_INVALID_ARGUMENT,
                     "layer 2 'r' (residual) on input [2][4][4][4]: the skip input (layer 0) has "
                     "shape [2][4][8][8]");
    fx_assert_status(oclnn_net_compile(net, 0, 1, 8, 8, NULL), OCLNN_INVALID_ARGUMENT,
                     "must have every size >= 1");
    oclnn_net_train_desc t = oclnn_net_train_desc_default();
    t.warmup_steps = 5;
    t.total_steps = 5;
    fx_assert_status(oclnn_net_compile(net, 2, 1, 8, 8, &t), OCLNN_INVALID_ARGUMENT,
                     "warmup_steps 5 must be in [0, total_steps 5)");
    float x[2 * 64] = {0};
    int32_t y[2] = {0, 3};
    fx_assert_status(oclnn_net_train_step(net, x, y), OCLNN_INVALID_ARGUMENT, "not compiled");
    oclnn_net_destroy(net);

    /* a compiled net */
    net = device_model("lenet", 2, 1, 10, NULL, -1);
    float img[2 * 784] = {0};
    ck_assert_int_eq(oclnn_net_train_step(net, img, y), OCLNN_SUCCESS);
    y[1] = 10;
    fx_assert_status(oclnn_net_train_step(net, img, y), OCLNN_INVALID_ARGUMENT,
                     "labels[1] = 10 is outside [0, 10)");
    ck_assert_int_eq(oclnn_net_step_count(net), 1);
    fx_assert_status(oclnn_net_train_step(net, NULL, y), OCLNN_INVALID_ARGUMENT, "x is NULL");
    fx_assert_status(oclnn_net_infer(net, img, NULL, 3, NULL, NULL), OCLNN_INVALID_ARGUMENT,
                     "count 3 is outside [1, batch 2]");
    long correct;
    fx_assert_status(oclnn_net_infer(net, img, NULL, 2, NULL, &correct), OCLNN_INVALID_ARGUMENT,
                     "labels is NULL");
    fx_assert_status(oclnn_net_add_flatten(net, NULL, NULL), OCLNN_INVALID_ARGUMENT,
                     "the net is compiled");
    fx_assert_status(oclnn_net_save(net, ""), OCLNN_INVALID_ARGUMENT, "path is NULL or empty");
    fx_assert_status(oclnn_net_save(net, "/nonexistent-dir/x.ckp"), OCLNN_IO_ERROR,
                     "cannot create /nonexistent-dir/x.ckp.tmp");
    fx_assert_status(oclnn_net_set_schedule(net, 3, 2), OCLNN_INVALID_ARGUMENT, "warmup_steps 3");
    oclnn_net_destroy(net);
    oclnn_net_destroy(NULL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("net");
    TCase *tc = tcase_create("net");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, models_match_reference_structure_and_init, 0, 3);
    tcase_add_loop_test(tc, loss_matches_reference_over_three_steps, 0, 3);
    tcase_add_test(tc, inference_matches_reference);
    tcase_add_test(tc, loss_falls_on_a_fixed_batch);
    tcase_add_test(tc, stats_ring_wraps);
    tcase_add_loop_test(tc, reference_gradient_matches_finite_differences, 0, 3);
    tcase_add_test(tc, memory_plan_reuses_buffers);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    TCase *ck = tcase_create("checkpoint");
    tcase_set_timeout(ck, 600);
    tcase_add_checked_fixture(ck, ckp_setup, ckp_teardown);
    tcase_add_loop_test(ck, checkpoint_round_trip_is_bit_identical, 0, 2);
    tcase_add_test(ck, checkpoint_malformed_refused);
    tcase_add_test(ck, inference_only_net);
    suite_add_tcase(s, ck);
    return s;
}

int main(void)
{
    return fx_main(suite());
}
