/* conv.c - 2-D convolution: descriptor defaults, validation (metadata only, before anything is
 * enqueued), output shape, the AUTO algorithm choice and the dispatch to one file per
 * algorithm. */
#include "conv_algos.h"
#include "tune.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#define OP_FWD "conv2d"
#define OP_BWD_DATA "conv2d_backward_data"
#define OP_BWD_WEIGHTS "conv2d_backward_weights"

oclnn_conv2d_desc oclnn_conv2d_desc_default(void)
{
    oclnn_conv2d_desc d;
    memset(&d, 0, sizeof d);
    d.stride_h = d.stride_w = 1;
    d.dilation_h = d.dilation_w = 1;
    d.groups = 1;
    d.activation = OCLNN_ACT_NONE;
    d.algo = OCLNN_CONV_AUTO;
    return d;
}

void oclnn_conv2d_desc_set_pad(oclnn_conv2d_desc *desc, int pad_h, int pad_w)
{
    if (!desc)
        return;
    desc->pad_top = desc->pad_bottom = pad_h;
    desc->pad_left = desc->pad_right = pad_w;
}

static const char *algo_name(oclnn_conv_algo a)
{
    switch (a) {
    case OCLNN_CONV_AUTO: return "AUTO";
    case OCLNN_CONV_DIRECT: return "DIRECT";
    case OCLNN_CONV_IM2COL_GEMM: return "IM2COL_GEMM";
    case OCLNN_CONV_GEMM_1X1: return "GEMM_1X1";
    case OCLNN_CONV_DEPTHWISE: return "DEPTHWISE";
    case OCLNN_CONV_WINOGRAD: return "WINOGRAD";
    }
    return "?";
}

static oclnn_status check_desc(const oclnn_context *ctx, const char *op, const oclnn_conv2d_desc *d)
{
    if (!d)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: desc is NULL", op);
    const struct {
        const char *name;
        int value, min;
    } fields[] = {
        {"pad_top", d->pad_top, 0},       {"pad_bottom", d->pad_bottom, 0},
        {"pad_left", d->pad_left, 0},     {"pad_right", d->pad_right, 0},
        {"stride_h", d->stride_h, 1},     {"stride_w", d->stride_w, 1},
        {"dilation_h", d->dilation_h, 1}, {"dilation_w", d->dilation_w, 1},
        {"groups", d->groups, 1},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (fields[i].value < fields[i].min)
            return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: %s %d must be >= %d", op,
                               fields[i].name, fields[i].value, fields[i].min);
    if (d->activation < OCLNN_ACT_NONE || d->activation > OCLNN_ACT_GELU_TANH)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: activation %d is not an oclnn_activation (0..3)", op,
                           (int)d->activation);
    if (d->residual_before_act != 0 && d->residual_before_act != 1)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: residual_before_act %d must be 0 or 1",
                           op, d->residual_before_act);
    if (d->algo < OCLNN_CONV_AUTO || d->algo > OCLNN_CONV_WINOGRAD)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: algo %d is not an oclnn_conv_algo (0..5)", op, (int)d->algo);
    return OCLNN_SUCCESS;
}

static oclnn_status check_4d(const oclnn_context *ctx, const char *op, const char *name,
                             const oclnn_tensor_desc *t)
{
    if (!t)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: %s is NULL", op, name);
    if (t->ndim != 4)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: %s has %d dimensions, expected 4", op,
                           name, t->ndim);
    for (int i = 0; i < 4; i++)
        if (t->dims[i] < 1)
            return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: %s dims[%d] is %d, must be >= 1",
                               op, name, i, t->dims[i]);
    return OCLNN_SUCCESS;
}

/* The kernels index with int: every tensor (and one image's im2col columns) stays below 2^31
 * elements. */
static oclnn_status check_size(const oclnn_context *ctx, const char *op, const char *name,
                               long long count)
{
    if (count > INT_MAX)
        return oclnn__fail(ctx, OCLNN_UNSUPPORTED,
                           "%s: %s has %lld elements, more than the 2^31 - 1 the kernels index", op,
                           name, count);
    return OCLNN_SUCCESS;
}

/* Geometry of desc applied to x[n][c][h][w] and w[k][c/groups][r][s]. */
oclnn_status oclnn__conv_make_geom(const oclnn_context *ctx, const char *op,
                                   const oclnn_conv2d_desc *d, const oclnn_tensor_desc *x,
                                   const char *wname, const oclnn_tensor_desc *w,
                                   oclnn_conv_geom *g)
{
    oclnn_status s = check_desc(ctx, op, d);
    if (s == OCLNN_SUCCESS)
        s = check_4d(ctx, op, "x", x);
    if (s == OCLNN_SUCCESS)
        s = check_4d(ctx, op, wname, w);
    if (s != OCLNN_SUCCESS)
        return s;
    memset(g, 0, sizeof *g);
    g->n = x->dims[0], g->c = x->dims[1], g->h = x->dims[2], g->w = x->dims[3];
    g->k = w->dims[0], g->r = w->dims[2], g->s = w->dims[3];
    g->groups = d->groups;
    g->pad_t = d->pad_top, g->pad_b = d->pad_bottom, g->pad_l = d->pad_left,
    g->pad_r = d->pad_right;
    g->stride_h = d->stride_h, g->stride_w = d->stride_w;
    g->dil_h = d->dilation_h, g->dil_w = d->dilation_w;
    if (g->c % g->groups)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: groups %d does not divide input channels %d", op, g->groups, g->c);
    if (g->k % g->groups)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: groups %d does not divide output channels %d (%s dims[0])", op,
                           g->groups, g->k, wname);
    g->cg = g->c / g->groups, g->kg = g->k / g->groups;
    if (w->dims[1] != g->cg) {
        char shape[64];
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: %s %s has %d input channels per group, expected %d (c %d / "
                           "groups %d)",
                           op, wname, oclnn__shape_str(w, shape, sizeof shape), w->dims[1], g->cg,
                           g->c, g->groups);
    }
    const long long ekh = (long long)g->dil_h * (g->r - 1) + 1;
    const long long ekw = (long long)g->dil_w * (g->s - 1) + 1;
    const struct {
        const char *pad;
        int value;
        const char *dim;
        long long ek;
    } pads[] = {{"pad_top", g->pad_t, "height", ekh},
                {"pad_bottom", g->pad_b, "height", ekh},
                {"pad_left", g->pad_l, "width", ekw},
                {"pad_right", g->pad_r, "width", ekw}};
    for (int i = 0; i < 4; i++)
        if (pads[i].value >= pads[i].ek)
            return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                               "%s: %s %d is not smaller than the dilated kernel %s %lld (a "
                               "window would see padding only)",
                               op, pads[i].pad, pads[i].value, pads[i].dim, pads[i].ek);
    const long long ph = (long long)g->h + g->pad_t + g->pad_b;
    const long long pw = (long long)g->w + g->pad_l + g->pad_r;
    if (ekh > ph)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: dilated kernel height %lld is larger than the padded input height "
                           "%lld",
                           op, ekh, ph);
    if (ekw > pw)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: dilated kernel width %lld is larger than the padded input width "
                           "%lld",
                           op, ekw, pw);
    g->oh = (int)(1 + (ph - ekh) / g->stride_h);
    g->ow = (int)(1 + (pw - ekw) / g->stride_w);
    const long long hw = (long long)g->h * g->w, ohw = (long long)g->oh * g->ow;
    s = check_size(ctx, op, "x", hw * g->c * g->n);
    if (s == OCLNN_SUCCESS)
        s = check_size(ctx, op, wname, (long long)g->k * g->cg * g->r * g->s);
    if (s == OCLNN_SUCCESS)
        s = check_size(ctx, op, "y", ohw * g->k * g->n);
    return s;
}

static bool is_1x1(const oclnn_conv_geom *g)
{
    return g->r == 1 && g->s == 1 && g->stride_h == 1 && g->stride_w == 1 && g->pad_t == 0 &&
           g->pad_b == 0 && g->pad_l == 0 && g->pad_r == 0;
}

static bool is_depthwise(const oclnn_conv_geom *g)
{
    return g->groups == g->c && g->groups > 1;
}

int oclnn__conv_geom_args(const oclnn_conv_geom *g, int *o)
{
    const int v[] = {g->n,     g->c,     g->h,        g->w,        g->k,     g->r,
                     g->s,     g->oh,    g->ow,       g->groups,   g->cg,    g->kg,
                     g->pad_t, g->pad_l, g->stride_h, g->stride_w, g->dil_h, g->dil_w};
    memcpy(o, v, sizeof v);
    return (int)(sizeof v / sizeof v[0]);
}

/* The im2col kernels index one image's columns with int. */
static bool cols_indexable(const oclnn_conv_geom *g)
{
    return (long long)g->c * g->r * g->s * g->oh * g->ow <= INT_MAX;
}

/* The GEMM-based algorithm for g: GEMM_1X1 where it applies, else IM2COL_GEMM. */
static oclnn_conv_algo gemm_algo(const oclnn_conv_geom *g)
{
    return is_1x1(g) ? OCLNN_CONV_GEMM_1X1 : OCLNN_CONV_IM2COL_GEMM;
}

/* Whether WINOGRAD (F(2x2,3x3)) applies: 3x3, stride 1, dilation 1, groups 1. */
static bool winograd_applies(const oclnn_conv_geom *g)
{
    return g->r == 3 && g->s == 3 && g->stride_h == 1 && g->stride_w == 1 && g->dil_h == 1 &&
           g->dil_w == 1 && g->groups == 1;
}

/* Whether algorithm a applies to g and its workspace for the pass fits the limit: a tuned
 * algorithm (from a shape class, or a file written with another limit) may not. */
static bool algo_fits(const oclnn_context *ctx, const oclnn_conv_geom *g, oclnn_conv_pass pass,
                      oclnn_conv_algo a)
{
    int chunk;
    size_t ws = 0;
    switch (a) {
    case OCLNN_CONV_DIRECT: ws = oclnn__conv_direct_workspace(ctx, g, pass); break;
    case OCLNN_CONV_IM2COL_GEMM:
        if (!cols_indexable(g))
            return false;
        ws = oclnn__conv_gemm_workspace(ctx, g, false, &chunk);
        break;
    case OCLNN_CONV_GEMM_1X1:
        if (!is_1x1(g))
            return false;
        break;
    case OCLNN_CONV_DEPTHWISE:
        if (!is_depthwise(g))
            return false;
        ws = oclnn__conv_depthwise_workspace_size(ctx, g, pass);
        break;
    case OCLNN_CONV_WINOGRAD:
        if (!winograd_applies(g))
            return false;
        ws = oclnn__conv_winograd_workspace(ctx, g, pass, &chunk);
        break;
    default: return false;
    }
    return ws <= ctx->workspace_limit;
}

/* The one place that picks an algorithm for AUTO, by shape, pass and device type.
 * - Depthwise (groups == c > 1): DEPTHWISE, on every device (per-channel GEMMs are degenerate).
 * - GPUs and accelerators: the GEMM-based algorithms (CLBlast is tuned for them; the direct
 *   kernel has no local-memory tiling yet).
 * - CPUs: measured on POCL (2-core Zen 5, ResNet-18 / ConvNeXt-T / LeNet layers, batch 8, with
 *   the CLBlast parameters of gemm.c), taking the rule never more than 1.5x slower than the
 *   faster of the two:
 *   forward: DIRECT everywhere (2-4x faster than im2col + GEMM on 3x3 and strided layers, 2x
 *     faster than GEMM_1X1 on 1x1);
 *   backward data: DIRECT with >= 16 channels per group, and for kernels wider than 1x1 with
 *     fewer, in blocks of them rounded up to 4 (conv_tuning.c; on a 2-core Intel AVX-512 CPU at
 *     batch 32, the ResNet-18 stem's 3 channels 2.3-3x faster than IM2COL_GEMM, LeNet's one
 *     channel level, 3-4x faster at batch 1), else the GEMM algorithms. Measured
 *     at batch 32 and 1 after the flat stride-1 kernels: 1.7x faster than IM2COL_GEMM on 512@7
 *     at batch 32 (1.3x slower at batch 1), 10x faster than GEMM_1X1 on the ConvNeXt 1x1
 *     96>384@56 at batch 32 (1.4x slower at batch 1); with the flat kernel by phases of dx at
 *     stride 2, 1.2-2.5x faster than IM2COL_GEMM on the ResNet 3x3 and 1x1 stride-2 layers at
 *     batch 32;
 *   backward weights: DIRECT for kernels wider than 1x1 at any stride (on AVX-512 CPUs with
 *     many weights its channel-vector kernel, conv_direct.c; else its flat kernel over
 *     chunks of images: 2.7-4.2x faster than IM2COL_GEMM on the stride-1 14x14 and 7x7 ResNet
 *     layers at batch 32, 1.4x slower on 512@7 at batch 1; on the stride-2 ResNet 3x3 layers
 *     at batch 32 48-54 ms against IM2COL_GEMM's 70-125); DIRECT for 1x1 stride-1 kernels
 *     too (after its flat backward-weights kernel: ConvNeXt 96>384@56 at batch 32 level with
 *     GEMM_1X1, 125 ms against 118, on a 2-core Intel AVX-512 CPU; the ConvNeXt training step
 *     on 28x28 images, whose pointwise layers on 7x7 and 14x14 planes ran as 128 tiny GEMMs
 *     each, 229 -> 359 images/s); for the 1x1 stride-2 projections DIRECT where they have at
 *     least 128 output pixels in all, else IM2COL_GEMM (Intel AVX-512, with 6 input channels
 *     per work-item: at batch 32 2x faster on 64>128@56 and 128>256@28, level to 1.2x on
 *     256>512@14; at batch 1 1.1-1.4x faster on the first two (784 and 196 pixels), 0.55-0.6x on
 *     256>512@14 (49); on Zen 5 before the flat kernel IM2COL_GEMM was 1.3-9x faster at batch
 *     32); but WINOGRAD for 3x3 stride-1 layers of >= 256 channels each way on planes of
 *     at most 8x8 pixels and batches of >= 8, where DIRECT's work-items each stream the whole
 *     batch (ResNet-18 512@7: 65 ms against 108 at batch 32, 17.7 against 21.2 at batch 8,
 *     6.6 against 5.8 at batch 1; level on 256@14), unless DIRECT runs its channel-vector
 *     kernel there (AVX-512 CPUs, conv_direct.c): 512@7 at batch 8, 32 and 64 6.8, 24.3 and
 *     48.0 ms against WINOGRAD's 8.1, 28.7 and 57.2. Where WINOGRAD's GEMMs run in DIRECT's
 *     channel-vector loop (winograd_grad_gemm_kvec, AVX-512) it takes 3x3 stride-1 layers of
 *     >= 256 channels each way on planes of at most 14x14 from 196 output pixels: WINOGRAD /
 *     DIRECT time, Intel, 512@7 at batch 1 1.16, 4 0.73, 8 0.65, 16 0.65, 32 0.69, 64 0.58;
 *     256@14 at batch 1 0.46-0.54, 4 0.81, 8 0.78, 16 0.84, 32 0.73, 64 0.74 (128@28 and 64@56
 *     not taken: 0.87 and 1.05 at batch 32 in one noisy run).
 *   Forward and backward data on AVX-512, where WINOGRAD's GEMMs run in DIRECT's
 *     channel-vector loop (winograd_gemm_kvec): WINOGRAD for 3x3 stride-1 layers of >= 512
 *     channels each way on planes above 4x4 and at most 8x8 with at least 392 output pixels in
 *     the batch. Intel, WINOGRAD / DIRECT time, forward and backward data, ResNet-18 512@7:
 *     batch 1 1.17 and 1.62, 2 0.96 and 1.18, 4 0.69 and 1.00, 8 0.79 and 0.71, 16 0.75 and
 *     0.74, 32 0.67 and 0.68, 64 0.66 and 0.69; 256@14 (DIRECT kept) 8 1.00 and 0.99, 16 0.93
 *     and 0.95, 32 1.03 and 0.98, 64 0.95 and 0.98; 128@28 1.13 and 1.35, 64@56 1.57 and 1.47
 *     at batch 32. With CLBlast's GEMMs, as on 4x4 planes still:
 *     WINOGRAD for 3x3 stride-1 layers on planes of at
 *     most 8x8 with at least 512 output pixels in the batch and >= 512 channels each way
 *     (>= 256 on planes of at most 4x4, where DIRECT's 16-lane runs are half padding). Intel,
 *     alternating in one process, DIRECT / WINOGRAD time: 512@7 batch 8 0.84-0.91 (392
 *     pixels: DIRECT kept), batch 16 1.03-1.10, 32 1.15-1.16, 64 1.24-1.27; 512@4 batch 16
 *     0.95-1.02 (256 pixels), 32 1.36-1.60; 1024@4 batch 32 1.56-2.22; 256@4 batch 32
 *     1.26-1.29; DIRECT kept on 256@7 (batch 32 0.93-0.97, 64 0.98-1.04) and 256@14 (batch
 *     32 0.93-1.11, 64 1.04-1.11). Both keep DIRECT where it runs its channel-vector kernels
 *     (AVX-512, conv_direct.c), the forward except on 4x4 planes of >= 1024 channels: forward
 *     DIRECT / WINOGRAD 512@7 batch 8, 16, 32, 64 0.59, 0.72, 0.81, 0.85; 512@4 batch 16
 *     0.66, 32 1.04; 256@4 batch 32 0.64; 256@7 batch 64 0.68; 1024@4 batch 32 1.26; backward
 *     data 512@7 0.61, 0.63, 0.72, 0.81; 512@4 0.53, 0.76; 256@4 0.65; 1024@4 0.76;
 *   Pointwise reductions (4c>c forward, c>4c backward data) on planes of 28x28 or more took
 *     GEMM_1X1 on AVX-512 while DIRECT's channel blocks each streamed the whole input image;
 *     with consecutive work-groups sharing it, DIRECT: Intel, alternating in one process,
 *     ConvNeXt 384>96@56 forward at batch 32 32 ms against GEMM_1X1's 58, 768>192@28 27 against
 *     39, 256>64@28 3.1 against 6.6, backward data of 96>384@56 40 against 50 and of
 *     192>768@28 29 against 36; at batch 1 0.60-0.83x GEMM_1X1's time;
 *   On AVX2 CPUs (native vector width 8; measured on POCL, 2-core Zen 3, batch 32 and the
 *   models' batch 128 on 28x28 images): backward data DIRECT from 3 channels per group for
 *   kernels wider than 1x1 (the stems' 3 input channels: 2.0-2.1x faster than IM2COL_GEMM); its
 *   1x1 backward weights measured as on AVX-512 (ConvNeXt 96>384@56: DIRECT 142 ms against
 *   GEMM_1X1's 198 and IM2COL_GEMM's 232; its pointwise layers on 7x7 and 14x14 planes 3.4-3.8x
 *   faster than GEMM_1X1's per-image GEMMs; DIRECT measured 1.3-2x faster on the stride-2
 *   projections too, which take the AVX-512 rule).
 * IM2COL_GEMM falls back to DIRECT when one image's columns pass the workspace limit.
 * A tuned algorithm (oclnn_tune_conv2d, the tuning file) comes before these rules wherever it
 * applies and fits. */
/* Whether DIRECT runs a channel-vector kernel for the pass of g (conv_direct.c). */
static bool direct_kvec(const oclnn_context *ctx, const oclnn_conv_geom *g, oclnn_conv_pass pass)
{
    int v[OCLNN__CP_COUNT];
    return oclnn__conv_direct_params(ctx, g, pass, v) && v[OCLNN__CP_KV];
}

static oclnn_conv_algo auto_algo(const oclnn_context *ctx, const oclnn_conv_geom *g,
                                 oclnn_conv_pass pass)
{
    const oclnn_conv_algo tuned = oclnn__conv_tuning(ctx, g, pass).algo;
    if (tuned != OCLNN_CONV_AUTO && algo_fits(ctx, g, pass, tuned))
        return tuned;
    if (is_depthwise(g))
        return OCLNN_CONV_DEPTHWISE;
    oclnn_conv_algo a = gemm_algo(g);
    if (ctx->info.type & CL_DEVICE_TYPE_CPU) {
        /* AVX2 and narrower: DIRECT's 6-channel blocks (conv_tuning.c) waste less on few
         * channels. */
        const bool narrow = ctx->info.native_vector_width_float < 16;
        const bool wide_kernel = g->r > 1 || g->s > 1;
        if (pass == OCLNN_CONV_FORWARD ||
            (pass == OCLNN_CONV_BACKWARD_DATA &&
             (g->cg >= 16 || (wide_kernel && (!narrow || g->cg >= 3)))) ||
            (pass == OCLNN_CONV_BACKWARD_WEIGHTS &&
             (wide_kernel || is_1x1(g) || (long long)g->n * g->oh * g->ow >= 128)))
            a = OCLNN_CONV_DIRECT;
        int chunk;
        const int plane = g->oh * g->ow;
        /* Its GEMMs in the channel-vector loop, WINOGRAD's backward weights beats DIRECT's from
         * 196 output pixels on planes of at most 14x14; with CLBlast's it is faster only where
         * DIRECT runs no channel-vector kernel, on planes of at most 8x8 from batch 8. */
        const bool wino_kvec = oclnn__conv_winograd_kvec(ctx);
        if (pass == OCLNN_CONV_BACKWARD_WEIGHTS && winograd_applies(g) && g->kg >= 256 &&
            g->cg >= 256 &&
            (wino_kvec ? plane <= 196 && (long long)g->n * plane >= 196
                       : plane <= 64 && g->n >= 8 && !direct_kvec(ctx, g, pass)) &&
            oclnn__conv_winograd_workspace(ctx, g, pass, &chunk) <= ctx->workspace_limit)
            a = OCLNN_CONV_WINOGRAD;
        const int min_ch = plane <= 16 ? 256 : 512;
        /* With its GEMMs in DIRECT's channel-vector loop (winograd_gemm_kvec) it beats DIRECT's
         * channel-vector kernels on planes above 4x4 from 392 output pixels; on 4x4 planes they
         * beat it (with CLBlast's GEMMs), the forward but of >= 1024 channels (asked last: it
         * plans DIRECT's pass). */
        const bool kvec_wins = wino_kvec && plane > 16 && (long long)g->n * plane >= 392;
        const bool wide_4x4 =
            pass == OCLNN_CONV_FORWARD && plane <= 16 && g->kg >= 1024 && g->cg >= 1024;
        if (!narrow && pass != OCLNN_CONV_BACKWARD_WEIGHTS && winograd_applies(g) && plane <= 64 &&
            g->kg >= min_ch && g->cg >= min_ch &&
            (kvec_wins ||
             ((long long)g->n * plane >= 512 && (wide_4x4 || !direct_kvec(ctx, g, pass)))) &&
            oclnn__conv_winograd_workspace(ctx, g, pass, &chunk) <= ctx->workspace_limit)
            a = OCLNN_CONV_WINOGRAD;
    }
    int chunk;
    if (a == OCLNN_CONV_IM2COL_GEMM &&
        (!cols_indexable(g) ||
         oclnn__conv_gemm_workspace(ctx, g, false, &chunk) > ctx->workspace_limit))
        a = OCLNN_CONV_DIRECT;
    return a;
}

/* Resolves desc->algo for g and a pass: AUTO picks; a forced algorithm must apply. *ws receives
 * the workspace the pass needs. */
static oclnn_status resolve_algo(oclnn_context *ctx, const char *op, const oclnn_conv2d_desc *d,
                                 const oclnn_conv_geom *g, oclnn_conv_pass pass,
                                 oclnn_conv_algo *algo, size_t *ws)
{
    oclnn_conv_algo a = d->algo == OCLNN_CONV_AUTO ? auto_algo(ctx, g, pass) : d->algo;
    *algo = a;
    *ws = 0;
    switch (a) {
    case OCLNN_CONV_GEMM_1X1:
        if (!is_1x1(g))
            return oclnn__fail(ctx, OCLNN_UNSUPPORTED,
                               "%s: algorithm GEMM_1X1 needs a 1x1 kernel, stride 1 and no "
                               "padding (kernel %dx%d, stride %dx%d, padding %d,%d,%d,%d)",
                               op, g->r, g->s, g->stride_h, g->stride_w, g->pad_t, g->pad_b,
                               g->pad_l, g->pad_r);
        return OCLNN_SUCCESS;
    case OCLNN_CONV_DEPTHWISE:
        if (!is_depthwise(g))
            return oclnn__fail(ctx, OCLNN_UNSUPPORTED,
                               "%s: algorithm DEPTHWISE needs groups == input channels > 1 "
                               "(groups %d, c %d)",
                               op, g->groups, g->c);
        *ws = oclnn__conv_depthwise_workspace_size(ctx, g, pass);
        return OCLNN_SUCCESS;
    case OCLNN_CONV_WINOGRAD: {
        /* F(2x2, 3x3): any padding make_geom accepts (0..2 per side for a 3x3 kernel), which
         * keeps backward data's padding 2 - pad valid too. */
        const struct {
            const char *name;
            int value, want;
        } need[] = {{"kernel height", g->r, 3},   {"kernel width", g->s, 3},
                    {"stride_h", g->stride_h, 1}, {"stride_w", g->stride_w, 1},
                    {"dilation_h", g->dil_h, 1},  {"dilation_w", g->dil_w, 1},
                    {"groups", g->groups, 1}};
        for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
            if (need[i].value != need[i].want)
                return oclnn__fail(ctx, OCLNN_UNSUPPORTED,
                                   "%s: algorithm WINOGRAD needs a 3x3 kernel, stride 1, "
                                   "dilation 1 and groups 1 (%s %d)",
                                   op, need[i].name, need[i].value);
        int chunk;
        *ws = oclnn__conv_winograd_workspace(ctx, g, pass, &chunk);
        if (*ws > ctx->workspace_limit)
            return oclnn__fail(ctx, OCLNN_OUT_OF_MEMORY,
                               "%s: algorithm WINOGRAD needs %zu bytes of workspace for one "
                               "image, more than the limit %zu (oclnn_context_set_workspace_limit)",
                               op, *ws, ctx->workspace_limit);
        return OCLNN_SUCCESS;
    }
    case OCLNN_CONV_DIRECT:
        *ws = oclnn__conv_direct_workspace(ctx, g, pass);
        if (*ws > ctx->workspace_limit)
            return oclnn__fail(ctx, OCLNN_OUT_OF_MEMORY,
                               "%s: algorithm DIRECT needs %zu bytes of workspace for the packed "
                               "weights, more than the limit %zu "
                               "(oclnn_context_set_workspace_limit)",
                               op, *ws, ctx->workspace_limit);
        return OCLNN_SUCCESS;
    case OCLNN_CONV_IM2COL_GEMM: {
        if (!cols_indexable(g))
            return oclnn__fail(ctx, OCLNN_UNSUPPORTED,
                               "%s: algorithm IM2COL_GEMM needs one image's columns (c*r*s*oh*ow "
                               "= %lld) below 2^31 elements",
                               op, (long long)g->c * g->r * g->s * g->oh * g->ow);
        int chunk;
        *ws = oclnn__conv_gemm_workspace(ctx, g, false, &chunk);
        if (*ws > ctx->workspace_limit)
            return oclnn__fail(ctx, OCLNN_OUT_OF_MEMORY,
                               "%s: algorithm IM2COL_GEMM needs %zu bytes of workspace for one "
                               "image, more than the limit %zu (oclnn_context_set_workspace_limit)",
                               op, *ws, ctx->workspace_limit);
        return OCLNN_SUCCESS;
    }
    default: return OCLNN_SUCCESS;
    }
}

oclnn_status oclnn_conv2d_output_shape(const oclnn_conv2d_desc *desc, const oclnn_tensor_desc *x,
                                       const oclnn_tensor_desc *w, oclnn_tensor_desc *y)
{
    if (!y)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, OP_FWD ": y is NULL");
    memset(y, 0, sizeof *y);
    oclnn_conv_geom g;
    oclnn_status s = oclnn__conv_make_geom(NULL, OP_FWD, desc, x, "w", w, &g);
    if (s != OCLNN_SUCCESS)
        return s;
    *y = oclnn_tensor_desc_4d(g.n, g.k, g.oh, g.ow);
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_conv2d_choose(oclnn_context *ctx, const oclnn_conv2d_desc *desc,
                                 oclnn_conv_pass pass, const oclnn_tensor_desc *x,
                                 const oclnn_tensor_desc *w, oclnn_conv_algo *algo,
                                 size_t *workspace_bytes)
{
    if (algo)
        *algo = OCLNN_CONV_AUTO;
    if (workspace_bytes)
        *workspace_bytes = 0;
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, OP_FWD ": ctx is NULL");
    if (!algo || !workspace_bytes)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, OP_FWD ": %s is NULL",
                           algo ? "workspace_bytes" : "algo");
    if (pass != OCLNN_CONV_FORWARD && pass != OCLNN_CONV_BACKWARD_DATA &&
        pass != OCLNN_CONV_BACKWARD_WEIGHTS)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           OP_FWD ": pass %d is not an oclnn_conv_pass (0..2)", (int)pass);
    oclnn_conv_geom g;
    oclnn_status s = oclnn__conv_make_geom(ctx, OP_FWD, desc, x, "w", w, &g);
    if (s != OCLNN_SUCCESS)
        return s;
    oclnn_conv_algo a;
    size_t ws;
    s = resolve_algo(ctx, OP_FWD, desc, &g, pass, &a, &ws);
    if (s != OCLNN_SUCCESS)
        return s;
    *algo = a;
    *workspace_bytes = ws;
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_conv2d_describe(oclnn_context *ctx, const oclnn_conv2d_desc *desc,
                                   oclnn_conv_pass pass, const oclnn_tensor_desc *x,
                                   const oclnn_tensor_desc *w, char *buf, size_t size)
{
    if (buf && size)
        buf[0] = '\0';
    if (!buf || !size)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, OP_FWD ": %s",
                           buf ? "size is 0" : "buf is NULL");
    oclnn_conv_algo a;
    size_t ws;
    oclnn_status s = oclnn_conv2d_choose(ctx, desc, pass, x, w, &a, &ws);
    if (s != OCLNN_SUCCESS)
        return s;
    oclnn_conv_geom g;
    oclnn__conv_make_geom(ctx, OP_FWD, desc, x, "w", w, &g);
    const oclnn_conv_tuning t = oclnn__conv_tuning(ctx, &g, pass);
    int v[OCLNN__CP_COUNT] = {0};
    bool flat = true;
    if (a == OCLNN_CONV_DIRECT)
        flat = oclnn__conv_direct_params(ctx, &g, pass, v);
    else if (a == OCLNN_CONV_DEPTHWISE)
        oclnn__conv_depthwise_params(ctx, &g, pass, v);
    char params[128];
    oclnn__conv_params_format(v, params, sizeof params);
    snprintf(buf, size, "%s%s%s%s (%s)", oclnn__conv_algo_str(a), params[0] ? " " : "", params,
             flat ? "" : " rows", t.source);
    return OCLNN_SUCCESS;
}

/* Checks t is a tensor of ctx with exactly the 4-D shape [n][c][h][w]. */
static oclnn_status check_shape(oclnn_context *ctx, const char *op, const char *name,
                                const oclnn_tensor *t, int n, int c, int h, int w)
{
    oclnn_status s = oclnn__check_tensor(ctx, op, name, t);
    if (s != OCLNN_SUCCESS)
        return s;
    const oclnn_tensor_desc want = oclnn_tensor_desc_4d(n, c, h, w);
    if (t->desc.ndim != 4 || memcmp(t->desc.dims, want.dims, sizeof want.dims) != 0) {
        char have[64], need[64];
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: %s %s does not match %s", op, name,
                           oclnn__shape_str(&t->desc, have, sizeof have),
                           oclnn__shape_str(&want, need, sizeof need));
    }
    return OCLNN_SUCCESS;
}

/* Kernels take int element offsets: the whole tensor must end below 2^31. */
static oclnn_status check_extent(oclnn_context *ctx, const char *op, const char *name,
                                 const oclnn_tensor *t)
{
    if (t && t->offset + oclnn_tensor_desc_count(&t->desc) > (size_t)INT_MAX)
        return oclnn__fail(ctx, OCLNN_UNSUPPORTED,
                           "%s: %s ends at element %zu, beyond the 2^31 - 1 the kernels index", op,
                           name, t->offset + oclnn_tensor_desc_count(&t->desc));
    return OCLNN_SUCCESS;
}

static oclnn_status check_beta(oclnn_context *ctx, const char *op, float beta)
{
    if (beta != 0.0f && beta != 1.0f)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: beta %g must be 0 or 1", op,
                           (double)beta);
    return OCLNN_SUCCESS;
}

/* The last checks of a pass, before anything is enqueued: the extents of the n tensors (NULL
 * ones skipped), the algorithm, and its workspace reserved so a failure leaves outputs
 * untouched. */
static oclnn_status prepare(oclnn_context *ctx, const char *op, const oclnn_conv2d_desc *desc,
                            const oclnn_conv_geom *g, oclnn_conv_pass pass, size_t n,
                            const char *const *names, const oclnn_tensor *const *all,
                            oclnn_conv_algo *algo)
{
    oclnn_status s = OCLNN_SUCCESS;
    for (size_t i = 0; i < n && s == OCLNN_SUCCESS; i++)
        s = check_extent(ctx, op, names[i], all[i]);
    size_t ws = 0;
    cl_mem m;
    if (s == OCLNN_SUCCESS)
        s = resolve_algo(ctx, op, desc, g, pass, algo, &ws);
    if (s == OCLNN_SUCCESS && ws)
        s = oclnn__workspace(ctx, ws, op, &m);
    if (s == OCLNN_SUCCESS) /* every pass: 2 * n*k*oh*ow * cg*r*s FLOP */
        oclnn__profile_work(ctx, op,
                            2.0 * g->n * g->k * g->oh * g->ow * (double)g->cg * g->r * g->s, 0);
    return s;
}

oclnn_status oclnn_conv2d_forward(oclnn_context *ctx, const oclnn_conv2d_desc *desc,
                                  const oclnn_tensor *x, const oclnn_tensor *w,
                                  const oclnn_tensor *b, const oclnn_tensor *z, oclnn_tensor *y)
{
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, OP_FWD ": ctx is NULL");
    oclnn_status s = oclnn__check_tensor(ctx, OP_FWD, "x", x);
    if (s == OCLNN_SUCCESS)
        s = oclnn__check_tensor(ctx, OP_FWD, "w", w);
    if (s != OCLNN_SUCCESS)
        return s;
    oclnn_conv_geom g;
    s = oclnn__conv_make_geom(ctx, OP_FWD, desc, &x->desc, "w", &w->desc, &g);
    if (s == OCLNN_SUCCESS)
        s = check_shape(ctx, OP_FWD, "y", y, g.n, g.k, g.oh, g.ow);
    if (s == OCLNN_SUCCESS && b)
        s = oclnn__check_tensor(ctx, OP_FWD, "b", b);
    if (s == OCLNN_SUCCESS && b)
        s = oclnn__check_count(ctx, OP_FWD, "b", b, (size_t)g.k);
    if (s == OCLNN_SUCCESS && z)
        s = check_shape(ctx, OP_FWD, "z", z, g.n, g.k, g.oh, g.ow);
    const oclnn_tensor *all[] = {x, w, b, z, y};
    const char *names[] = {"x", "w", "b", "z", "y"};
    oclnn_conv_algo a;
    if (s == OCLNN_SUCCESS)
        s = prepare(ctx, OP_FWD, desc, &g, OCLNN_CONV_FORWARD, 5, names, all, &a);
    if (s != OCLNN_SUCCESS)
        return s;
    switch (a) {
    case OCLNN_CONV_DIRECT:
        return oclnn__conv_direct_forward(ctx, &g, desc->activation, desc->residual_before_act, x,
                                          w, b, z, y);
    case OCLNN_CONV_IM2COL_GEMM:
    case OCLNN_CONV_GEMM_1X1:
        return oclnn__conv_gemm_forward(ctx, &g, a == OCLNN_CONV_GEMM_1X1, desc->activation,
                                        desc->residual_before_act, x, w, b, z, y);
    case OCLNN_CONV_DEPTHWISE:
        return oclnn__conv_depthwise_forward(ctx, &g, desc->activation, desc->residual_before_act,
                                             x, w, b, z, y);
    case OCLNN_CONV_WINOGRAD:
        return oclnn__conv_winograd_forward(ctx, &g, desc->activation, desc->residual_before_act, x,
                                            w, b, z, y);
    default:
        return oclnn__fail(ctx, OCLNN_UNSUPPORTED, OP_FWD ": algorithm %s is not built",
                           algo_name(a));
    }
}

oclnn_status oclnn_conv2d_backward_data(oclnn_context *ctx, const oclnn_conv2d_desc *desc,
                                        const oclnn_tensor *dy, const oclnn_tensor *w,
                                        oclnn_tensor *dx, float beta)
{
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, OP_BWD_DATA ": ctx is NULL");
    oclnn_status s = oclnn__check_tensor(ctx, OP_BWD_DATA, "dx", dx);
    if (s == OCLNN_SUCCESS)
        s = oclnn__check_tensor(ctx, OP_BWD_DATA, "w", w);
    if (s == OCLNN_SUCCESS)
        s = check_beta(ctx, OP_BWD_DATA, beta);
    if (s != OCLNN_SUCCESS)
        return s;
    oclnn_conv_geom g;
    s = oclnn__conv_make_geom(ctx, OP_BWD_DATA, desc, &dx->desc, "w", &w->desc, &g);
    if (s == OCLNN_SUCCESS)
        s = check_shape(ctx, OP_BWD_DATA, "dy", dy, g.n, g.k, g.oh, g.ow);
    const oclnn_tensor *all[] = {dy, w, dx};
    const char *names[] = {"dy", "w", "dx"};
    oclnn_conv_algo a;
    if (s == OCLNN_SUCCESS)
        s = prepare(ctx, OP_BWD_DATA, desc, &g, OCLNN_CONV_BACKWARD_DATA, 3, names, all, &a);
    if (s != OCLNN_SUCCESS)
        return s;
    switch (a) {
    case OCLNN_CONV_DIRECT: return oclnn__conv_direct_backward_data(ctx, &g, dy, w, dx, beta);
    case OCLNN_CONV_IM2COL_GEMM:
    case OCLNN_CONV_GEMM_1X1:
        return oclnn__conv_gemm_backward_data(ctx, &g, a == OCLNN_CONV_GEMM_1X1, dy, w, dx, beta);
    case OCLNN_CONV_DEPTHWISE: return oclnn__conv_depthwise_backward_data(ctx, &g, dy, w, dx, beta);
    case OCLNN_CONV_WINOGRAD: return oclnn__conv_winograd_backward_data(ctx, &g, dy, w, dx, beta);
    default:
        return oclnn__fail(ctx, OCLNN_UNSUPPORTED, OP_BWD_DATA ": algorithm %s is not built",
                           algo_name(a));
    }
}

oclnn_status oclnn_conv2d_backward_weights(oclnn_context *ctx, const oclnn_conv2d_desc *desc,
                                           const oclnn_tensor *x, const oclnn_tensor *dy,
                                           oclnn_tensor *dw, oclnn_tensor *db, float beta)
{
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, OP_BWD_WEIGHTS ": ctx is NULL");
    oclnn_status s = oclnn__check_tensor(ctx, OP_BWD_WEIGHTS, "x", x);
    if (s == OCLNN_SUCCESS)
        s = oclnn__check_tensor(ctx, OP_BWD_WEIGHTS, "dw", dw);
    if (s == OCLNN_SUCCESS)
        s = check_beta(ctx, OP_BWD_WEIGHTS, beta);
    if (s != OCLNN_SUCCESS)
        return s;
    oclnn_conv_geom g;
    s = oclnn__conv_make_geom(ctx, OP_BWD_WEIGHTS, desc, &x->desc, "dw", &dw->desc, &g);
    if (s == OCLNN_SUCCESS)
        s = check_shape(ctx, OP_BWD_WEIGHTS, "dy", dy, g.n, g.k, g.oh, g.ow);
    if (s == OCLNN_SUCCESS && db)
        s = oclnn__check_tensor(ctx, OP_BWD_WEIGHTS, "db", db);
    if (s == OCLNN_SUCCESS && db)
        s = oclnn__check_count(ctx, OP_BWD_WEIGHTS, "db", db, (size_t)g.k);
    const oclnn_tensor *all[] = {x, dy, dw, db};
    const char *names[] = {"x", "dy", "dw", "db"};
    oclnn_conv_algo a;
    if (s == OCLNN_SUCCESS)
        s = prepare(ctx, OP_BWD_WEIGHTS, desc, &g, OCLNN_CONV_BACKWARD_WEIGHTS, 4, names, all, &a);
    if (s != OCLNN_SUCCESS)
        return s;
    switch (a) {
    case OCLNN_CONV_DIRECT:
        return oclnn__conv_direct_backward_weights(ctx, &g, x, dy, dw, db, beta);
    case OCLNN_CONV_IM2COL_GEMM:
    case OCLNN_CONV_GEMM_1X1:
        return oclnn__conv_gemm_backward_weights(ctx, &g, a == OCLNN_CONV_GEMM_1X1, x, dy, dw, db,
                                                 beta);
    case OCLNN_CONV_DEPTHWISE:
        return oclnn__conv_depthwise_backward_weights(ctx, &g, x, dy, dw, db, beta);
    case OCLNN_CONV_WINOGRAD:
        return oclnn__conv_winograd_backward_weights(ctx, &g, x, dy, dw, db, beta);
    default:
        return oclnn__fail(ctx, OCLNN_UNSUPPORTED, OP_BWD_WEIGHTS ": algorithm %s is not built",
                           algo_name(a));
    }
}
