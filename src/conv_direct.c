/* conv_direct.c - the DIRECT convolution algorithm (cl/conv2d_direct_*.cl): forward with the fused
 * epilogue, backward data and backward weights for any descriptor (the workspace holds the
 * repacked weights and the zero-padded copies the flat kernels read), each pass by the row
 * kernel, the flat kernel (pixels in the vector lanes) or, where the weights are many and the
 * planes small, the channel-vector kernel (channels in the lanes). Also the bias gradient every
 * algorithm shares (cl/conv_epilogue.cl). */
#include "conv_algos.h"
#include "tune.h"

#include <limits.h>
#include <stdio.h>

#define MAX_ARGS 40

/* The kernel `name` of the pass's file (cl/conv2d_direct_fwd.cl, _bwd_data.cl,
 * _bwd_weights.cl), built with the blocks that file's kernels of the family in use read (kvec:
 * the channel-vector kernels, KV and CI; else the pixel-lane kernels' blocks): a pass tuned to
 * other blocks of one family never rebuilds the other's program. */
static oclnn_status direct_kernel(oclnn_context *ctx, oclnn_conv_pass pass, const char *name,
                                  const oclnn_conv_tuning *t, bool kvec, cl_kernel *k)
{
    char options[64];
    const char *file = pass == OCLNN_CONV_FORWARD         ? "conv2d_direct_fwd.cl"
                       : pass == OCLNN_CONV_BACKWARD_DATA ? "conv2d_direct_bwd_data.cl"
                                                          : "conv2d_direct_bwd_weights.cl";
    if (kvec)
        snprintf(options, sizeof options, "-DKV=%d -DCI=%d", t->kv, t->ci);
    else if (pass == OCLNN_CONV_FORWARD)
        snprintf(options, sizeof options, "-DKB=%d -DPX=%d", t->kb, t->px);
    else if (pass == OCLNN_CONV_BACKWARD_DATA)
        snprintf(options, sizeof options, "-DKB=%d", t->kb);
    else
        snprintf(options, sizeof options, "-DKBW=%d -DTS=%d -DTC=%d", t->kbw, t->ts, t->tc);
    return oclnn__kernel(ctx, file, options, name, k);
}

/* Appends the geometry to args[] (values stored in geo, which must outlive the launch). */
static size_t add_geom(oclnn_arg *args, size_t n, const oclnn_conv_geom *g, int *geo)
{
    int count = oclnn__conv_geom_args(g, geo);
    for (int i = 0; i < count; i++)
        args[n++] = OCLNN_ARG(geo[i]);
    return n;
}

/* The zero-padded copy that the flat kernels read: forward, x with the forward's pads, split
 * into stride_h x stride_w phases of hp x wp (conv2d_direct_pad_phases; at stride 1 one phase, by
 * oclnn__pad_planes); backward data, dy shifted by (pad_t, pad_l) into planes of hp x wp so that
 * the taps of every phase of dx read inside them (bwd_data_pad), by oclnn__pad_planes. nplanes
 * planes of h x w, shifted by (pad_t, pad_l), then zero rows for the reads of the last tiles past
 * the last plane (16*px lanes, shifted by the widest tap). */
typedef oclnn_plane_pad flat_pad;

/* The rows (or columns) of dy the phases of dx reach in backward data, along one axis of input
 * size `in`, output size `out`, stride, pad, dilation and kernel size `taps`: phase a's tap t
 * reads gradient index i + (a + pad - t*dil) / stride when the stride divides that. *shift
 * receives how far the copy shifts dy so that the lowest read is 0, *size the padded extent. */
static void bwd_data_axis(int in, int out, int stride, int pad, int dil, int taps, int *shift,
                          int *size, int *reach)
{
    int lo = INT_MAX, hi = INT_MIN;
    for (int a = 0; a < stride; a++)
        for (int t = 0; t < taps; t++) {
            const int u = a + pad - t * dil;
            if (u % stride == 0)
                lo = u / stride < lo ? u / stride : lo, hi = u / stride > hi ? u / stride : hi;
        }
    const int longest = (in + stride - 1) / stride; /* phase 0's pixels */
    *shift = lo < 0 ? -lo : 0;
    *size = (longest + hi > out ? longest + hi : out) + *shift;
    *reach = hi + *shift;
}

static flat_pad flat_shape(const oclnn_conv_tuning *t, const oclnn_conv_geom *g,
                           oclnn_conv_pass pass)
{
    const int ekh = (g->r - 1) * g->dil_h, ekw = (g->s - 1) * g->dil_w;
    flat_pad f;
    long long planes;
    size_t reach;                     /* floats the last tile reads past the last plane */
    if (pass == OCLNN_CONV_FORWARD) { /* stride_h x stride_w phases per channel */
        f.h = g->h, f.w = g->w, f.pad_t = g->pad_t, f.pad_l = g->pad_l;
        f.hp = g->oh + ekh / g->stride_h, f.wp = g->ow + ekw / g->stride_w;
        /* Rows a whole number of pixel tiles wide where x is copied anyway and that adds at
         * most 1/12 to the lanes: every tile then lies in one output row and stores its lanes
         * as runs, where a tile across two rows stores them one by one. Time with over without,
         * batch 32, AVX-512 (32-pixel tiles), in one process: 28x28 3x3 pad 1 (rows of 30 ->
         * 32) 1>32 0.76-0.80, 16>32 0.93-0.96, 32>32 0.95-0.97; on 56x56 (58 -> 64, 1/10 more)
         * 16>32 1.06 and 64>64 1.04-1.09, so those keep their rows. */
        const int tile = 16 * t->px, aligned = (f.wp + tile - 1) / tile * tile;
        const bool copied = f.pad_t || f.pad_l || f.hp != f.h || f.wp != f.w;
        if (!t->kvec && copied && (aligned - f.wp) * 12 <= f.wp)
            f.wp = aligned;
        planes = (long long)g->n * g->c * g->stride_h * g->stride_w;
        reach = 16 * (size_t)t->px + (size_t)(ekw / g->stride_w);
    } else {
        int rr, rc;
        f.h = g->oh, f.w = g->ow;
        bwd_data_axis(g->h, g->oh, g->stride_h, g->pad_t, g->dil_h, g->r, &f.pad_t, &f.hp, &rr);
        bwd_data_axis(g->w, g->ow, g->stride_w, g->pad_l, g->dil_w, g->s, &f.pad_l, &f.wp, &rc);
        planes = (long long)g->n * g->k, reach = 16 + (size_t)rc;
    }
    const long long rows = planes * f.hp + (long long)oclnn__div_up(reach, f.wp);
    f.nplanes = (int)(planes < INT_MAX ? planes : INT_MAX);
    f.nrows = rows * f.wp <= INT_MAX ? (int)rows : -1; /* -1: too large for int indexing */
    return f;
}

/* The packed weights: channels (output forward, input backward) rounded up to the block. */
static size_t packed_bytes(const oclnn_conv_tuning *t, const oclnn_conv_geom *g,
                           oclnn_conv_pass pass)
{
    const size_t kb = (size_t)t->kb;
    const size_t blocked = pass == OCLNN_CONV_FORWARD ? (size_t)g->kg : (size_t)g->cg;
    const size_t other = pass == OCLNN_CONV_FORWARD ? (size_t)g->cg : (size_t)g->kg;
    return (size_t)g->groups * oclnn__div_up(blocked, kb) * kb * other * g->r * g->s *
           sizeof(float);
}

/* Whether a forward or backward data takes the flat path (at any stride), where the padded
 * copy fits the workspace limit next to the packed weights (else the row kernel, which needs no
 * copy). *bytes receives the workspace. */
static bool use_flat(const oclnn_context *ctx, const oclnn_conv_tuning *t, const oclnn_conv_geom *g,
                     oclnn_conv_pass pass, size_t *bytes)
{
    const flat_pad f = flat_shape(t, g, pass);
    *bytes = packed_bytes(t, g, pass);
    if (f.nrows < 0)
        return false;
    const size_t all = *bytes + (size_t)f.nrows * f.wp * sizeof(float);
    if (all > ctx->workspace_limit || all / sizeof(float) > INT_MAX)
        return false;
    *bytes = all;
    return true;
}

/* The flat backward weights (conv2d_direct_bwd_weights_flat): x padded and split into phases
 * as the forward pads it (fx), dy widened with zero columns to the same row width (fdy), each
 * phase and plane followed by zero rows for the last tile of 16 lanes shifted by the widest tap
 * of a work-item (ts taps from s0); images in chunks of nch whose partial sums (part_off on in
 * the workspace) are added after, when there is more than one. For the channel-vector kernel
 * (kp > 0) dy is copied with its channels last instead (conv2d_direct_dy_channels_last), in
 * rows of kp floats per pixel after x's copy. */
typedef struct wgrad_plan {
    flat_pad fx, fdy;
    int kp; /* 0: the flat kernel; else bwd_weights_kvec with dy channels last, kp per pixel */
    int nch, nchunks;
    size_t part_off; /* floats */
    size_t bytes;
} wgrad_plan;

/* The chunks: as many images as keep their x and dy within t->wgrad_chunk bytes (kv_chunk for
 * the channel-vector kernel), while the partial sums stay under 16 MiB and the whole fits the
 * workspace limit (else one chunk). For the channel-vector kernel, whose chunks are smaller,
 * the partial sums also stay under a quarter of x and dy (ResNet-18's 1x1 stride-2 256>512@14,
 * whose weights outweigh an image's x and dy, took 6.2-7.2 ms in 32 chunks of 512 KiB at batch
 * 32, 2.9 in 11 of 1 MiB and 3.1 in 3 of 4 MiB) or, where that allows fewer, as many as do at
 * least 800 FLOP per byte of partial sums: with one chunk every work-item of ResNet-18's
 * 256@14 streamed the 15.7 MB of x and dy of 32 images, 39-51 ms, against 19.8-20.6 in 3
 * chunks (and 20.7-22.1 in 7; at batch 64 3 chunks 43-44 ms, 7 39-41.5; Intel AVX-512, POCL). */
static void wgrad_chunks(const oclnn_context *ctx, const oclnn_conv_tuning *t,
                         const oclnn_conv_geom *g, wgrad_plan *p)
{
    const size_t phases = (size_t)g->stride_h * g->stride_w;
    const size_t image =
        ((size_t)g->c * phases * p->fx.hp + (size_t)g->k * p->fdy.hp) * p->fx.wp * sizeof(float);
    const size_t dw_bytes = (size_t)g->k * g->cg * g->r * g->s * sizeof(float);
    const size_t cap = ((size_t)16 << 20) / dw_bytes;
    size_t nch = (p->kp ? t->kv_chunk : t->wgrad_chunk) / image, max_parts = cap;
    if (p->kp) {
        const double flops = 2.0 * g->k * g->cg * g->r * g->s * g->oh * g->ow * g->n;
        const size_t by_data = image * g->n / 4 / dw_bytes,
                     by_flops = (size_t)(flops / (800.0 * (double)dw_bytes));
        const size_t parts = by_data > by_flops ? by_data : by_flops;
        max_parts = parts < cap ? parts : cap;
    }
    nch = nch < 1 ? 1 : nch > (size_t)g->n ? (size_t)g->n : nch;
    size_t chunks = oclnn__div_up((size_t)g->n, nch);
    if (chunks > max_parts && max_parts > 1) {
        nch = oclnn__div_up((size_t)g->n, max_parts);
        chunks = oclnn__div_up((size_t)g->n, nch);
    }
    if (chunks <= 1 || max_parts <= 1 || p->bytes + chunks * dw_bytes > ctx->workspace_limit ||
        (p->bytes + chunks * dw_bytes) / sizeof(float) > INT_MAX) {
        p->nch = g->n, p->nchunks = 1, p->part_off = 0;
        return;
    }
    p->nch = (int)nch, p->nchunks = (int)chunks;
    p->part_off = p->bytes / sizeof(float);
    p->bytes += chunks * dw_bytes;
}

/* Whether the flat plan runs conv2d_direct_bwd_weights_kvec (output channels in the lanes)
 * rather than conv2d_direct_bwd_weights_flat (pixels in the lanes): where the device enables it
 * (t->kv) and the weights are many, 256 columns (c, r, s) or more per group, 64 channels or more
 * per group and 32768 weights or more. It then pays for dy's copy with its channels last (about
 * 2 x cg * r * s FLOP per copied float) and has work-items enough. Measured on POCL (2-core
 * Intel AVX-512) at batch 32 against the flat kernel, in one process: ResNet-18's 3x3 layers
 * 0.44-0.91 of the time (512@7 0.44, the stride-2 256>512@14 0.51), its 1x1 stride-2 256>512
 * 0.64, ConvNeXt's 384>96@56 and 768>192@28 0.66 and 0.56, its 2x2 stride-2 96>192 0.68; slower
 * below the rule: 1x1 64>128 and 128>256 stride 2 1.58 and 1.06, 96>384@56 2.29, 192>768@28
 * 1.55, the 7x7 stem (147 columns) 1.98, LeNet's 32>64@14 (18432 weights) 1.08-1.17. */
static bool use_kvec(const oclnn_conv_tuning *t, const oclnn_conv_geom *g)
{
    const long long cols = (long long)g->cg * g->r * g->s;
    return t->kv > 0 && cols >= 256 && g->kg >= 64 && cols * g->k >= 32768;
}

/* The flat plan where it pays and fits: false where the copies pass the workspace limit (the
 * row kernel needs none) or carry too little work. */
static bool use_flat_wgrad(const oclnn_context *ctx, const oclnn_conv_tuning *t,
                           const oclnn_conv_geom *g, wgrad_plan *p)
{
    p->bytes = 0;
    /* The copies move about cg + kg floats per output pixel for 2 * kg * cg * r * s FLOP: with
     * too few FLOP per float they cost more than the bounds tests of the row kernel. Measured
     * on POCL (2-core Intel AVX-512, batch 32 and ConvNeXt's training batch of 128): on
     * ConvNeXt's 32<->128 pointwise layers (51 FLOP per float) the row kernel took a quarter of
     * the training step (302-356 -> 452-475 images/s with the flat one), and LeNet's one-channel
     * 3x3 stem (17) ran 0.55-0.68 ms flat against 0.88-0.93 (level at batch 1): flat from 16. */
    const double flop_per_float = 2.0 * g->kg * g->cg * g->r * g->s / (g->kg + g->cg);
    if (flop_per_float < 16)
        return false;
    const int ekh = (g->r - 1) * g->dil_h, ekw = (g->s - 1) * g->dil_w;
    /* Rows padded to a multiple of 16 floats where that adds at most a third: the kernel's
     * 16-lane tiles then start every row of every plane on the same lanes. Measured on POCL
     * (2-core Intel AVX-512), 3x3 64>64 at batch 32: 215-272 GFLOP/s where the row was
     * already a multiple of 16 (30x30, 46x46, 62x62) against 147-176 elsewhere; padded, 28x28
     * 11.8 -> 8.1 ms, 56x56 41.9 -> 33.3, 48x48 32.2 -> 26.6 (34 -> 48 floats on 32x32 and
     * 9 -> 16 on 7x7 gained nothing); ResNet-18's 64@56 and 128@28 1.3-1.45x, its stem
     * 1.2-1.3x, its stride-2 3x3 layers 1.0-1.25x. Not for 1x1 stride-1 kernels, whose one tap
     * reads the lanes it multiplies: unpadded, x and dy are read in place (in_place) and no lane
     * is padding. In one process, ConvNeXt's pointwise layers: 96>384@56 and 384>96@56 at batch
     * 32 0.61 and 0.72 of the time, 192>768@28 0.71, 32<->128@14 at batch 128 0.73-0.75. */
    const bool one_tap = g->r == 1 && g->s == 1 && g->stride_h == 1 && g->stride_w == 1;
    const int wp0 = g->ow + ekw / g->stride_w, wp16 = (wp0 + 15) / 16 * 16;
    const int wp = !one_tap && wp16 * 3 <= wp0 * 4 ? wp16 : wp0, hpx = g->oh + ekh / g->stride_h;
    /* the widest tap's column */
    const int reach = t->tc ? 0 : (g->s + t->ts - 2) * g->dil_w / g->stride_w;
    const int extra = (int)oclnn__div_up(16 + (size_t)reach, (size_t)wp);
    const long long xrows = (long long)g->n * g->c * g->stride_h * g->stride_w * hpx + extra;
    const long long dyrows = (long long)g->n * g->k * g->oh + extra;
    /* dy's rows of channels for the channel-vector kernel: as far as the last group's last
     * block of 16 * kv reads (zeros past K), in an odd number of 16-float vectors: with rows a
     * power-of-two multiple of 64 bytes apart the pixels' rows share a few cache sets (rows of
     * 512 channels took 2.2-2.6x as long as rows of 576 on ResNet-18's 512-channel layers). */
    const size_t block = 16 * (size_t)t->kv;
    const size_t vectors = oclnn__div_up(
        (size_t)(g->groups - 1) * g->kg + oclnn__div_up((size_t)g->kg, block) * block, 16);
    p->kp = use_kvec(t, g) ? (int)((vectors | 1) * 16) : 0;
    const long long dyfloats = p->kp ? (long long)g->n * g->oh * g->ow * p->kp : dyrows * wp;
    const long long floats = xrows * wp + dyfloats;
    if (floats > INT_MAX || (size_t)floats * sizeof(float) > ctx->workspace_limit)
        return false;
    p->fx = (flat_pad){g->h, g->w, hpx, wp, g->pad_t, g->pad_l, g->n * g->c, (int)xrows};
    p->fdy = (flat_pad){g->oh, g->ow, g->oh, wp, 0, 0, g->n * g->k, (int)dyrows};
    p->bytes = (size_t)floats * sizeof(float);
    wgrad_chunks(ctx, t, g, p);
    return true;
}

/* The tuning of the backward-weights kernel: kernels 1 wide have one tap, and their work-items
 * take ts input channels instead (a second build, for that kernel only). */
static oclnn_conv_tuning wgrad_tuning(const oclnn_context *ctx, const oclnn_conv_geom *g)
{
    oclnn_conv_tuning t = oclnn__conv_tuning(ctx, g, OCLNN_CONV_BACKWARD_WEIGHTS);
    if (g->s == 1)
        t.kbw = t.kbw_s1, t.ts = t.ts_s1, t.tc = 1;
    return t;
}

/* Backward-weights work-items along the first dimension (channel, kernel row and tap blocks). */
static size_t wgrad_items(const oclnn_conv_tuning *t, const oclnn_conv_geom *g)
{
    if (t->tc)
        return oclnn__div_up((size_t)g->cg, (size_t)t->ts) * g->r;
    return (size_t)g->cg * g->r * oclnn__div_up((size_t)g->s, (size_t)t->ts);
}

/* The flat path with the blocks of f where it fits: then *t becomes f. */
static bool flat_with(const oclnn_context *ctx, const oclnn_conv_geom *g, oclnn_conv_pass pass,
                      oclnn_conv_tuning f, oclnn_conv_tuning *t, size_t *bytes)
{
    if (!use_flat(ctx, &f, g, pass, bytes))
        return false;
    *t = f;
    return true;
}

/* t with the channel-vector kernels' blocks (their packed weights come in blocks of 16 * kv). */
static oclnn_conv_tuning kvec_blocks(const oclnn_conv_tuning *t)
{
    oclnn_conv_tuning f = *t;
    f.kb = 16 * t->kv, f.kvec = true;
    return f;
}

/* Whether the forward runs conv2d_direct_fwd_kvec (output channels in the lanes) over the flat
 * kernel's padded copy: where the device enables it (t->kv) on planes of at most 14x14 with 256
 * weight columns (c, r, s) or more and 64 channels or more per group, where the flat kernel's
 * 16-pixel tiles are partly padding. Measured on POCL (2-core Intel AVX-512), both kernels in one
 * process, time of the new over the flat: at batch 32 ResNet-18's 256@14 0.79, 512@7 0.63, its
 * stride-2 128>256@28 (14x14 out) 0.87 and 256>512@14 0.70, the 1x1 256>512@14 0.86, LeNet's
 * 32>64@14 0.96; at batch 1 0.57-0.84; at batch 128 the Fashion-MNIST ResNet's 128@7 0.86 and
 * 64@14 0.94. Larger planes stay flat: 28x28 0.97-0.99, 56x56 1.28, the pointwise 96<->384@56
 * 2.15-2.34. */
static bool use_kvec_forward(const oclnn_conv_tuning *t, const oclnn_conv_geom *g)
{
    return t->kv > 0 && (long long)g->oh * g->ow <= 196 && (long long)g->cg * g->r * g->s >= 256 &&
           g->kg >= 64;
}

/* The forward's blocks and path: the channel-vector kernel or the flat kernel with its own blocks
 * where they apply, else the row kernel. *bytes receives the workspace. */
static bool forward_plan(const oclnn_context *ctx, const oclnn_conv_geom *g, oclnn_conv_tuning *t,
                         size_t *bytes)
{
    *t = oclnn__conv_tuning(ctx, g, OCLNN_CONV_FORWARD);
    oclnn_conv_tuning f = *t;
    f.kb = t->kb_flat, f.px = t->px_flat;
    if ((use_kvec_forward(t, g) &&
         flat_with(ctx, g, OCLNN_CONV_FORWARD, kvec_blocks(t), t, bytes)) ||
        flat_with(ctx, g, OCLNN_CONV_FORWARD, f, t, bytes))
        return true;
    return use_flat(ctx, t, g, OCLNN_CONV_FORWARD, bytes);
}

/* Whether backward data runs conv2d_direct_bwd_data_kvec (input channels in the lanes) over the
 * flat kernel's padded copy of dy: where the device enables it (t->kv) on phases of dx of at
 * most 28x28 with 256 gradient columns (k, r, s) or more and 64 input channels or more per
 * group. Measured on POCL (2-core Intel AVX-512), both kernels in one process, time of the new
 * over the flat: at batch 32 ResNet-18's 128@28 0.76-0.79 (0.77 at batch 8), 256@14 0.69, 512@7
 * 0.66, stride-2 128>256@28 0.75 and 256>512@14 0.63 (64>128@56, phases of 28x28, 0.99-1.01),
 * the 1x1 256>512@14 0.73 and 128>256@28 0.96-1.03, ConvNeXt's 192>768@28 0.95; at batch 1
 * 512@7 0.54 and the stride-2 256>512@14 0.56; at batch 128 the Fashion-MNIST ResNet's 128@7
 * 0.74 and 64@14 0.84. On 56x56 (64@56) 1.08: the flat kernel's 16-pixel tiles are full there. */
static bool use_kvec_backward_data(const oclnn_conv_tuning *t, const oclnn_conv_geom *g)
{
    const long long phase = (long long)oclnn__div_up((size_t)g->h, (size_t)g->stride_h) *
                            (long long)oclnn__div_up((size_t)g->w, (size_t)g->stride_w);
    return t->kv > 0 && phase <= 784 && (long long)g->kg * g->r * g->s >= 256 && g->cg >= 64;
}

/* Backward data's blocks and path: the channel-vector kernel or the flat kernel where they
 * apply, else the row kernel. *bytes receives the workspace. */
static bool backward_data_plan(const oclnn_context *ctx, const oclnn_conv_geom *g,
                               oclnn_conv_tuning *t, size_t *bytes)
{
    *t = oclnn__conv_tuning(ctx, g, OCLNN_CONV_BACKWARD_DATA);
    if (use_kvec_backward_data(t, g) &&
        flat_with(ctx, g, OCLNN_CONV_BACKWARD_DATA, kvec_blocks(t), t, bytes))
        return true;
    return use_flat(ctx, t, g, OCLNN_CONV_BACKWARD_DATA, bytes);
}

size_t oclnn__conv_direct_workspace(const oclnn_context *ctx, const oclnn_conv_geom *g,
                                    oclnn_conv_pass pass)
{
    oclnn_conv_tuning t;
    size_t bytes = 0;
    wgrad_plan wp;
    if (pass == OCLNN_CONV_FORWARD) {
        forward_plan(ctx, g, &t, &bytes);
    } else if (pass == OCLNN_CONV_BACKWARD_DATA) {
        backward_data_plan(ctx, g, &t, &bytes);
    } else {
        t = wgrad_tuning(ctx, g);
        use_flat_wgrad(ctx, &t, g, &wp);
        bytes = wp.bytes;
    }
    return bytes;
}

bool oclnn__conv_direct_params(const oclnn_context *ctx, const oclnn_conv_geom *g,
                               oclnn_conv_pass pass, int *v)
{
    oclnn_conv_tuning t;
    size_t bytes;
    wgrad_plan wp;
    bool flat;
    for (int i = 1; i < OCLNN__CP_COUNT; i++)
        v[i] = 0;
    if (pass == OCLNN_CONV_FORWARD) {
        flat = forward_plan(ctx, g, &t, &bytes);
        if (t.kvec)
            v[OCLNN__CP_KV] = t.kv, v[OCLNN__CP_CI] = t.ci;
        else
            v[OCLNN__CP_KB] = t.kb, v[OCLNN__CP_PX] = t.px;
    } else if (pass == OCLNN_CONV_BACKWARD_DATA) {
        flat = backward_data_plan(ctx, g, &t, &bytes);
        if (t.kvec)
            v[OCLNN__CP_KV] = t.kv, v[OCLNN__CP_CI] = t.ci;
        else
            v[OCLNN__CP_KB] = t.kb;
    } else {
        t = wgrad_tuning(ctx, g);
        flat = use_flat_wgrad(ctx, &t, g, &wp);
        if (flat && wp.kp) {
            v[OCLNN__CP_KV] = t.kv, v[OCLNN__CP_CI] = t.ci;
        } else {
            v[OCLNN__CP_KBW] = t.kbw;
            v[OCLNN__CP_TS] = g->s > 1 ? t.ts : 0; /* one tap at a time on kernels 1 wide */
        }
        v[OCLNN__CP_CHUNK] = (int)((flat && wp.kp ? t.kv_chunk : t.wgrad_chunk) >> 10);
    }
    v[OCLNN__CP_LX] = (int)t.local[0];
    return flat;
}

/* Whether the flat kernels can read tensor t itself where f describes its zero-padded copy: the
 * copy would hold t's planes as they are (no pads, rows as wide, as many rows; forward at stride 1
 * only, one phase), and t's buffer holds the floats the last tile reads past t's end, which
 * reach only lanes the kernels drop or mask. Then nothing is copied: 1x1 stride-1 layers without
 * padding (ConvNeXt's pointwise convolutions), and unpadded stride-1 ones forward. */
static bool in_place(const flat_pad *f, const oclnn_tensor *t)
{
    if (f->pad_t != 0 || f->pad_l != 0 || f->hp != f->h || f->wp != f->w)
        return false;
    size_t bytes = 0;
    if (clGetMemObjectInfo(t->mem, CL_MEM_SIZE, sizeof bytes, &bytes, NULL) != CL_SUCCESS)
        return false;
    return (t->offset + (size_t)f->nrows * f->wp) * sizeof(float) <= bytes;
}

/* The kernel that pads x for the flat kernels: dw_pad at stride 1, else
 * conv2d_direct_pad_phases. */
static oclnn_status pad_kernel(oclnn_context *ctx, const oclnn_conv_geom *g, cl_kernel *k)
{
    if (g->stride_h == 1 && g->stride_w == 1)
        return oclnn__kernel(ctx, "conv2d_depthwise_pad.cl", NULL, "dw_pad", k);
    return oclnn__kernel(ctx, "conv2d_direct_pad.cl", NULL, "conv2d_direct_pad_phases", k);
}

/* Pads x into ws from element ws_off as f describes, with kpad from pad_kernel. */
static oclnn_status pad_x(oclnn_context *ctx, const char *op, const oclnn_conv_geom *g,
                          cl_kernel kpad, const flat_pad *f, const oclnn_tensor *x, cl_mem ws,
                          int ws_off)
{
    if (g->stride_h == 1 && g->stride_w == 1)
        return oclnn__pad_planes(ctx, op, f, x->mem, x->offset, ws, (size_t)ws_off);
    int geo[24], x_off = (int)x->offset, hp = f->hp, wp = f->wp, nrows = f->nrows;
    oclnn_arg args[MAX_ARGS];
    size_t n = 0;
    args[n++] = OCLNN_ARG(x->mem), args[n++] = OCLNN_ARG(x_off);
    args[n++] = OCLNN_ARG(ws), args[n++] = OCLNN_ARG(ws_off);
    n = add_geom(args, n, g, geo);
    args[n++] = OCLNN_ARG(hp), args[n++] = OCLNN_ARG(wp), args[n++] = OCLNN_ARG(nrows);
    size_t global = oclnn__div_up((size_t)nrows, (size_t)hp), local = 64;
    return oclnn__launch(ctx, op, kpad, args, n, 1, &global, &local);
}

/* The flat forward: x padded (split into phases when strided) into the workspace after the
 * packed weights, then conv2d_direct_fwd_flat. */
static oclnn_status flat_forward(oclnn_context *ctx, const oclnn_conv_geom *g,
                                 const oclnn_conv_tuning *t, cl_kernel kpad, cl_kernel k,
                                 oclnn_activation act, int residual_before_act,
                                 const oclnn_tensor *x, const oclnn_tensor *b,
                                 const oclnn_tensor *z, oclnn_tensor *y, cl_mem ws)
{
    const oclnn_conv_pass pass = OCLNN_CONV_FORWARD;
    const flat_pad f = flat_shape(t, g, pass);
    const bool direct = g->stride_h == 1 && g->stride_w == 1 && in_place(&f, x);
    const cl_mem xp = direct ? x->mem : ws;
    const int xp_off = direct ? (int)x->offset : (int)(packed_bytes(t, g, pass) / sizeof(float));
    int geo[24], zero = 0, y_off = (int)y->offset, hp = f.hp, wp = f.wp;
    oclnn_status s = direct ? OCLNN_SUCCESS : pad_x(ctx, "conv2d", g, kpad, &f, x, ws, xp_off);
    if (s != OCLNN_SUCCESS)
        return s;
    int b_off = b ? (int)b->offset : 0, z_off = z ? (int)z->offset : 0;
    int has_b = b != NULL, has_z = z != NULL, a = (int)act, rb = residual_before_act;
    cl_mem bm = b ? b->mem : x->mem, zm = z ? z->mem : x->mem;
    oclnn_arg args[MAX_ARGS];
    size_t n = 0;
    args[n++] = OCLNN_ARG(xp), args[n++] = OCLNN_ARG(xp_off);
    args[n++] = OCLNN_ARG(ws), args[n++] = OCLNN_ARG(zero);
    args[n++] = OCLNN_ARG(bm), args[n++] = OCLNN_ARG(b_off), args[n++] = OCLNN_ARG(has_b);
    args[n++] = OCLNN_ARG(zm), args[n++] = OCLNN_ARG(z_off), args[n++] = OCLNN_ARG(has_z);
    args[n++] = OCLNN_ARG(y->mem), args[n++] = OCLNN_ARG(y_off);
    n = add_geom(args, n, g, geo);
    args[n++] = OCLNN_ARG(hp), args[n++] = OCLNN_ARG(wp);
    args[n++] = OCLNN_ARG(a), args[n++] = OCLNN_ARG(rb);
    const size_t kbs = oclnn__div_up((size_t)g->kg, (size_t)t->kb);
    if (t->kvec) { /* pixel blocks of ci, then the channel blocks of every group and image */
        size_t kglobal[2] = {oclnn__div_up((size_t)g->oh * g->ow, (size_t)t->ci),
                             (size_t)g->n * g->groups * kbs};
        return oclnn__launch(ctx, "conv2d", k, args, n, 2, kglobal, t->local);
    }
    const size_t tiles = oclnn__div_up((size_t)g->oh * wp, 16 * (size_t)t->px);
    size_t global[2] = {oclnn__div_up(tiles, t->local[0]) * t->local[0] * kbs,
                        (size_t)g->n * g->groups};
    return oclnn__launch(ctx, "conv2d", k, args, n, 2, global, t->local);
}

/* Whether a tap of g reaches phase (a, b) of dx: the kernels' PHASE_TAPS test. */
static bool phase_reached(const oclnn_conv_geom *g, int a, int b)
{
    bool rows = false, cols = false;
    for (int r = 0; r < g->r; r++)
        rows = rows || (a + g->pad_t - r * g->dil_h) % g->stride_h == 0;
    for (int s = 0; s < g->s; s++)
        cols = cols || (b + g->pad_l - s * g->dil_w) % g->stride_w == 0;
    return rows && cols;
}

/* The flat backward data: dy padded into the workspace after the packed weights, then the
 * kernel (flat or channel-vector) for each phase of dx that a tap reaches. The others (three
 * of four for a 1x1 kernel at stride 2) are zero: with beta 0 dx is zeroed first, with beta 1
 * they keep dx. Their launches stored zeros a lane at a time: ResNet-18's 64>128@56 projection
 * at batch 32 took 7.3-8.5 ms, against 4.9-5.2 with them skipped and dx zeroed by
 * clEnqueueFillBuffer and 3.2-3.8 by ew_fill; 128>256@28 and 256>512@14 2.7-2.8 and 2.0-2.3
 * against 1.8-1.9 and 1.4-1.5 (Intel AVX-512, POCL). */
static oclnn_status flat_backward_data(oclnn_context *ctx, const oclnn_conv_geom *g,
                                       const oclnn_conv_tuning *t, cl_kernel k,
                                       const oclnn_tensor *dy, oclnn_tensor *dx, int acc, cl_mem ws)
{
    const oclnn_conv_pass pass = OCLNN_CONV_BACKWARD_DATA;
    const flat_pad f = flat_shape(t, g, pass);
    const bool direct = in_place(&f, dy);
    const cl_mem dyp = direct ? dy->mem : ws;
    const int dyp_off = direct ? (int)dy->offset : (int)(packed_bytes(t, g, pass) / sizeof(float));
    oclnn_status s = direct ? OCLNN_SUCCESS
                            : oclnn__pad_planes(ctx, "conv2d_backward_data", &f, dy->mem,
                                                dy->offset, ws, (size_t)dyp_off);
    if (s != OCLNN_SUCCESS)
        return s;
    bool unreached = false;
    for (int a = 0; a < g->stride_h && a < g->h; a++)
        for (int b = 0; b < g->stride_w && b < g->w; b++)
            unreached = unreached || !phase_reached(g, a, b);
    if (unreached && !acc)
        s = oclnn__fill(ctx, "conv2d_backward_data", dx->mem, dx->offset,
                        oclnn_tensor_desc_count(&dx->desc), 0.0f);
    int geo[24], zero = 0, dx_off = (int)dx->offset, hp = f.hp, wp = f.wp;
    int pu = f.pad_t, pld = f.pad_l;
    const size_t cbs = oclnn__div_up((size_t)g->cg, (size_t)t->kb);
    for (int a = 0; a < g->stride_h && s == OCLNN_SUCCESS; a++)
        for (int b = 0; b < g->stride_w && s == OCLNN_SUCCESS; b++) { /* one launch per phase */
            if (a >= g->h || b >= g->w || !phase_reached(g, a, b))
                continue; /* no pixels (the image is smaller than the stride), or no tap */
            oclnn_arg args[MAX_ARGS];
            size_t n = 0;
            args[n++] = OCLNN_ARG(dyp), args[n++] = OCLNN_ARG(dyp_off);
            args[n++] = OCLNN_ARG(ws), args[n++] = OCLNN_ARG(zero);
            args[n++] = OCLNN_ARG(dx->mem), args[n++] = OCLNN_ARG(dx_off);
            n = add_geom(args, n, g, geo);
            args[n++] = OCLNN_ARG(hp), args[n++] = OCLNN_ARG(wp);
            args[n++] = OCLNN_ARG(pu), args[n++] = OCLNN_ARG(pld);
            args[n++] = OCLNN_ARG(a), args[n++] = OCLNN_ARG(b), args[n++] = OCLNN_ARG(acc);
            const size_t ha = oclnn__div_up((size_t)(g->h - a), (size_t)g->stride_h);
            if (t->kvec) { /* pixel blocks of ci, then the channel blocks of every group, image */
                const size_t wb = oclnn__div_up((size_t)(g->w - b), (size_t)g->stride_w);
                size_t kglobal[2] = {oclnn__div_up(ha * wb, (size_t)t->ci),
                                     (size_t)g->n * g->groups * cbs};
                s = oclnn__launch(ctx, "conv2d_backward_data", k, args, n, 2, kglobal, t->local);
                continue;
            }
            const size_t tiles = oclnn__div_up(ha * wp, 16);
            size_t global[2] = {oclnn__div_up(tiles, t->local[0]) * t->local[0] * cbs,
                                (size_t)g->n * g->groups};
            s = oclnn__launch(ctx, "conv2d_backward_data", k, args, n, 2, global, t->local);
        }
    return s;
}

/* The kernels of a forward or backward data (k; the weight packing, kpack; the padding of the
 * flat path, kpad), all built before anything is enqueued, and the workspace with the weights
 * packed at its start (conv2d_direct_pack_weights forward, _t backward: channel blocks of kb). */
static oclnn_status prepare(oclnn_context *ctx, const char *op, const oclnn_conv_geom *g,
                            const oclnn_conv_tuning *t, oclnn_conv_pass pass, bool flat,
                            size_t ws_bytes, const oclnn_tensor *w, cl_kernel *k, cl_kernel *kpad,
                            cl_mem *ws)
{
    const bool fwd = pass == OCLNN_CONV_FORWARD;
    const char *name = fwd ? (t->kvec ? "conv2d_direct_fwd_kvec"
                              : flat  ? "conv2d_direct_fwd_flat"
                                      : "conv2d_direct_fwd")
                           : (t->kvec ? "conv2d_direct_bwd_data_kvec"
                              : flat  ? "conv2d_direct_bwd_data_flat"
                                      : "conv2d_direct_bwd_data");
    cl_kernel kpack;
    oclnn_status s = direct_kernel(ctx, pass, name, t, t->kvec, k);
    if (s == OCLNN_SUCCESS)
        s = direct_kernel(
            ctx, pass,
            fwd ? (t->kvec ? "conv2d_direct_pack_weights_kvec" : "conv2d_direct_pack_weights")
                : (t->kvec ? "conv2d_direct_pack_weights_t_kvec" : "conv2d_direct_pack_weights_t"),
            t, t->kvec, &kpack);
    if (s == OCLNN_SUCCESS && flat) /* x at any stride forward, dy backward */
        s = fwd ? pad_kernel(ctx, g, kpad)
                : oclnn__kernel(ctx, "conv2d_depthwise_pad.cl", NULL, "dw_pad", kpad);
    if (s == OCLNN_SUCCESS)
        s = oclnn__workspace(ctx, ws_bytes, op, ws);
    if (s != OCLNN_SUCCESS)
        return s;
    int geo[24], zero = 0, w_off = (int)w->offset;
    oclnn_arg args[MAX_ARGS];
    size_t n = 0;
    args[n++] = OCLNN_ARG(w->mem), args[n++] = OCLNN_ARG(w_off);
    args[n++] = OCLNN_ARG(*ws), args[n++] = OCLNN_ARG(zero);
    n = add_geom(args, n, g, geo);
    const size_t blocked = fwd ? (size_t)g->kg : (size_t)g->cg;
    const size_t other = fwd ? (size_t)g->cg : (size_t)g->kg;
    size_t global[2] = {other * g->r * g->s,
                        (size_t)g->groups * oclnn__div_up(blocked, (size_t)t->kb)};
    return oclnn__launch(ctx, op, kpack, args, n, 2, global, t->local);
}

oclnn_status oclnn__conv_direct_forward(oclnn_context *ctx, const oclnn_conv_geom *g,
                                        oclnn_activation act, int residual_before_act,
                                        const oclnn_tensor *x, const oclnn_tensor *w,
                                        const oclnn_tensor *b, const oclnn_tensor *z,
                                        oclnn_tensor *y)
{
    oclnn_conv_tuning t;
    cl_kernel k, kpad = NULL;
    cl_mem ws;
    size_t ws_bytes;
    const bool flat = forward_plan(ctx, g, &t, &ws_bytes);
    oclnn_status s =
        prepare(ctx, "conv2d", g, &t, OCLNN_CONV_FORWARD, flat, ws_bytes, w, &k, &kpad, &ws);
    if (s != OCLNN_SUCCESS)
        return s;
    if (flat)
        return flat_forward(ctx, g, &t, kpad, k, act, residual_before_act, x, b, z, y, ws);
    /* Absent b and z are passed as x (never read: has_b/has_z are 0). */
    int geo[24], zero = 0, x_off = (int)x->offset, y_off = (int)y->offset;
    int b_off = b ? (int)b->offset : 0, z_off = z ? (int)z->offset : 0;
    int has_b = b != NULL, has_z = z != NULL, a = (int)act, rb = residual_before_act;
    cl_mem bm = b ? b->mem : x->mem, zm = z ? z->mem : x->mem;
    oclnn_arg args[MAX_ARGS];
    size_t n = 0;
    args[n++] = OCLNN_ARG(x->mem), args[n++] = OCLNN_ARG(x_off);
    args[n++] = OCLNN_ARG(ws), args[n++] = OCLNN_ARG(zero);
    args[n++] = OCLNN_ARG(bm), args[n++] = OCLNN_ARG(b_off), args[n++] = OCLNN_ARG(has_b);
    args[n++] = OCLNN_ARG(zm), args[n++] = OCLNN_ARG(z_off), args[n++] = OCLNN_ARG(has_z);
    args[n++] = OCLNN_ARG(y->mem), args[n++] = OCLNN_ARG(y_off);
    n = add_geom(args, n, g, geo);
    args[n++] = OCLNN_ARG(a), args[n++] = OCLNN_ARG(rb);
    size_t global[2] = {oclnn__div_up((size_t)g->ow, 16 * (size_t)t.px) * (size_t)g->oh,
                        (size_t)g->n * g->groups * oclnn__div_up((size_t)g->kg, (size_t)t.kb)};
    return oclnn__launch(ctx, "conv2d", k, args, n, 2, global, t.local);
}

oclnn_status oclnn__conv_direct_backward_data(oclnn_context *ctx, const oclnn_conv_geom *g,
                                              const oclnn_tensor *dy, const oclnn_tensor *w,
                                              oclnn_tensor *dx, float beta)
{
    const char *op = "conv2d_backward_data";
    oclnn_conv_tuning t;
    cl_kernel k, kpad = NULL;
    cl_mem ws;
    size_t ws_bytes;
    const bool flat = backward_data_plan(ctx, g, &t, &ws_bytes);
    oclnn_status s =
        prepare(ctx, op, g, &t, OCLNN_CONV_BACKWARD_DATA, flat, ws_bytes, w, &k, &kpad, &ws);
    if (s != OCLNN_SUCCESS)
        return s;
    const int acc = beta != 0.0f;
    if (flat)
        return flat_backward_data(ctx, g, &t, k, dy, dx, acc, ws);
    int geo[24], zero = 0, dy_off = (int)dy->offset, dx_off = (int)dx->offset;
    oclnn_arg args[MAX_ARGS];
    size_t n = 0;
    args[n++] = OCLNN_ARG(dy->mem), args[n++] = OCLNN_ARG(dy_off);
    args[n++] = OCLNN_ARG(ws), args[n++] = OCLNN_ARG(zero);
    args[n++] = OCLNN_ARG(dx->mem), args[n++] = OCLNN_ARG(dx_off);
    n = add_geom(args, n, g, geo);
    args[n++] = OCLNN_ARG(acc);
    size_t global[2] = {oclnn__div_up((size_t)g->w, 16) * (size_t)g->h,
                        (size_t)g->n * g->groups * oclnn__div_up((size_t)g->cg, (size_t)t.kb)};
    return oclnn__launch(ctx, op, k, args, n, 2, global, t.local);
}

/* Whether the flat backward weights reads dy in place row by row where its copy would widen
 * dy's rows to x's (f: dy's copy), with dy's buffer holding the floats a row's last tile reads
 * past its end. Only where the widened rows are whole tiles of 16: the lanes then sum the same
 * pixels as over the copy (the same bits). And where dy's rows are whole tiles too (aligned,
 * and fewer tiles than the widened rows) or the kernel reads dy at most 4 times (its work-items
 * along dimension 0), so that the copy, a read and a write of dy, is a large part of the work.
 * Measured on POCL (2-core Intel
 * AVX-512), alternating with the copy: ResNet-18's 7x7 stem (112 columns, widened to 128) at
 * batch 32 41.1-41.9 -> 30.9-33.1 ms, at batch 1 1.44-1.47 -> 1.00-1.05; LeNet's 1>32@28 (3
 * reads, rows of 28 in 32) at batch 32 0.21-0.40 -> 0.11-0.20; but its 32>64@14 (96 reads of
 * unaligned rows of 14) took 1.62 ms against 0.92-0.97. */
static bool dy_rows_in_place(const oclnn_conv_tuning *t, const oclnn_conv_geom *g,
                             const flat_pad *f, const oclnn_tensor *dy)
{
    if (f->wp == g->ow || f->wp % 16 != 0 || (g->ow % 16 != 0 && wgrad_items(t, g) > 4))
        return false;
    size_t bytes = 0;
    if (clGetMemObjectInfo(dy->mem, CL_MEM_SIZE, sizeof bytes, &bytes, NULL) != CL_SUCCESS)
        return false;
    return (dy->offset + (size_t)g->n * g->k * g->oh * g->ow + 16) * sizeof(float) <= bytes;
}

/* The flat backward weights: x and dy padded into the workspace (x from element 0, dy after
 * it; dy read in place where in_place or dy_rows_in_place allows), conv2d_direct_bwd_weights_flat
 * over chunks of images, and their partial sums added (conv2d_direct_sum_chunks) when there is
 * more than one chunk. */
static oclnn_status flat_backward_weights(oclnn_context *ctx, const oclnn_conv_geom *g,
                                          const oclnn_conv_tuning *t, const wgrad_plan *p,
                                          const oclnn_tensor *x, const oclnn_tensor *dy,
                                          oclnn_tensor *dw, int acc)
{
    const char *op = "conv2d_backward_weights";
    cl_kernel k, kpad, ksum = NULL, kdy = NULL;
    cl_mem ws;
    const bool kvec = p->kp != 0;
    oclnn_status s = direct_kernel(
        ctx, OCLNN_CONV_BACKWARD_WEIGHTS,
        kvec ? "conv2d_direct_bwd_weights_kvec" : "conv2d_direct_bwd_weights_flat", t, kvec, &k);
    if (s == OCLNN_SUCCESS)
        s = pad_kernel(ctx, g, &kpad);
    if (s == OCLNN_SUCCESS && p->kp)
        s = direct_kernel(ctx, OCLNN_CONV_BACKWARD_WEIGHTS, "conv2d_direct_dy_channels_last", t,
                          kvec, &kdy);
    if (s == OCLNN_SUCCESS && p->nchunks > 1)
        s = direct_kernel(ctx, OCLNN_CONV_BACKWARD_WEIGHTS, "conv2d_direct_sum_chunks", t, kvec,
                          &ksum);
    if (s == OCLNN_SUCCESS)
        s = oclnn__workspace(ctx, p->bytes, op, &ws);
    if (s != OCLNN_SUCCESS)
        return s;
    const bool x_direct = g->stride_h == 1 && g->stride_w == 1 && in_place(&p->fx, x);
    const bool dy_rows = !p->kp && dy_rows_in_place(t, g, &p->fdy, dy);
    const bool dy_direct = dy_rows || (!p->kp && in_place(&p->fdy, dy));
    const cl_mem xp = x_direct ? x->mem : ws, dyp = dy_direct ? dy->mem : ws;
    const int xp_off = x_direct ? (int)x->offset : 0;
    const int dyp_off = dy_direct ? (int)dy->offset : p->fx.nrows * p->fx.wp;
    if (!x_direct)
        s = pad_x(ctx, op, g, kpad, &p->fx, x, ws, 0);
    if (s == OCLNN_SUCCESS && p->kp) {
        int dy_off = (int)dy->offset, kk = g->k, ohw = g->oh * g->ow, kp = p->kp;
        oclnn_arg targs[] = {OCLNN_ARG(dy->mem), OCLNN_ARG(dy_off), OCLNN_ARG(ws),
                             OCLNN_ARG(dyp_off), OCLNN_ARG(kk),     OCLNN_ARG(ohw),
                             OCLNN_ARG(kp)};
        size_t tglobal[3] = {oclnn__div_up((size_t)ohw, 16), (size_t)kp / 16, (size_t)g->n};
        size_t tlocal[3] = {1, 1, 1};
        s = oclnn__launch(ctx, op, kdy, targs, sizeof targs / sizeof targs[0], 3, tglobal, tlocal);
    } else if (s == OCLNN_SUCCESS && !dy_direct) {
        s = oclnn__pad_planes(ctx, op, &p->fdy, dy->mem, dy->offset, ws, (size_t)dyp_off);
    }
    if (s != OCLNN_SUCCESS)
        return s;
    /* One chunk writes dw; more write their partial sums into the workspace. */
    const bool split = p->nchunks > 1;
    int out_off = split ? (int)p->part_off : (int)dw->offset;
    int hpx = p->fx.hp, hpd = p->fdy.hp, wp = p->fx.wp, nch = p->nch, beta = split ? 0 : acc;
    int dyw = dy_rows ? g->ow : wp;
    cl_mem out = split ? ws : dw->mem;
    int geo[24];
    oclnn_arg args[MAX_ARGS];
    size_t n = 0;
    args[n++] = OCLNN_ARG(xp), args[n++] = OCLNN_ARG(xp_off);
    args[n++] = OCLNN_ARG(dyp), args[n++] = OCLNN_ARG(dyp_off);
    args[n++] = OCLNN_ARG(out), args[n++] = OCLNN_ARG(out_off);
    n = add_geom(args, n, g, geo);
    int kp = p->kp;
    size_t global[3] = {wgrad_items(t, g),
                        (size_t)g->groups * oclnn__div_up((size_t)g->kg, (size_t)t->kbw),
                        (size_t)p->nchunks};
    if (kp) {
        args[n++] = OCLNN_ARG(hpx), args[n++] = OCLNN_ARG(wp), args[n++] = OCLNN_ARG(kp);
        global[0] = oclnn__div_up((size_t)g->cg * g->r * g->s, (size_t)t->ci);
        global[1] = (size_t)g->groups * oclnn__div_up((size_t)g->kg, 16 * (size_t)t->kv);
    } else {
        args[n++] = OCLNN_ARG(hpx), args[n++] = OCLNN_ARG(hpd), args[n++] = OCLNN_ARG(wp);
        args[n++] = OCLNN_ARG(dyw);
    }
    args[n++] = OCLNN_ARG(nch), args[n++] = OCLNN_ARG(beta);
    size_t local[3] = {t->local[0], t->local[1], 1};
    s = oclnn__launch(ctx, op, k, args, n, 3, global, local);
    if (s != OCLNN_SUCCESS || !split)
        return s;
    int part_off = (int)p->part_off, count = g->k * g->cg * g->r * g->s;
    int nchunks = p->nchunks, dw_off = (int)dw->offset;
    oclnn_arg sargs[] = {OCLNN_ARG(ws),      OCLNN_ARG(part_off), OCLNN_ARG(count),
                         OCLNN_ARG(nchunks), OCLNN_ARG(dw->mem),  OCLNN_ARG(dw_off),
                         OCLNN_ARG(acc)};
    size_t sglobal = (size_t)count, slocal = 64;
    return oclnn__launch(ctx, op, ksum, sargs, sizeof sargs / sizeof sargs[0], 1, &sglobal,
                         &slocal);
}

oclnn_status oclnn__conv_direct_backward_weights(oclnn_context *ctx, const oclnn_conv_geom *g,
                                                 const oclnn_tensor *x, const oclnn_tensor *dy,
                                                 oclnn_tensor *dw, oclnn_tensor *db, float beta)
{
    oclnn_conv_tuning t = wgrad_tuning(ctx, g);
    wgrad_plan p;
    cl_kernel k, kbias;
    const int acc = beta != 0.0f;
    oclnn_status s = db ? oclnn__kernel(ctx, "conv_epilogue.cl", NULL, "conv_bias_grad", &kbias)
                        : OCLNN_SUCCESS; /* built before anything is enqueued */
    if (s != OCLNN_SUCCESS)
        return s;
    if (use_flat_wgrad(ctx, &t, g, &p)) {
        s = flat_backward_weights(ctx, g, &t, &p, x, dy, dw, acc);
    } else {
        s = direct_kernel(ctx, OCLNN_CONV_BACKWARD_WEIGHTS, "conv2d_direct_bwd_weights", &t, false,
                          &k);
        if (s != OCLNN_SUCCESS)
            return s;
        int x_off = (int)x->offset, dy_off = (int)dy->offset, dw_off = (int)dw->offset;
        int geo[24];
        oclnn_arg args[MAX_ARGS];
        size_t n = 0;
        args[n++] = OCLNN_ARG(x->mem), args[n++] = OCLNN_ARG(x_off);
        args[n++] = OCLNN_ARG(dy->mem), args[n++] = OCLNN_ARG(dy_off);
        args[n++] = OCLNN_ARG(dw->mem), args[n++] = OCLNN_ARG(dw_off);
        n = add_geom(args, n, g, geo);
        args[n++] = OCLNN_ARG(acc);
        size_t global[2] = {wgrad_items(&t, g),
                            (size_t)g->groups * oclnn__div_up((size_t)g->kg, (size_t)t.kbw)};
        s = oclnn__launch(ctx, "conv2d_backward_weights", k, args, n, 2, global, t.local);
    }
    if (s == OCLNN_SUCCESS && db)
        s = oclnn__conv_bias_grad(ctx, "conv2d_backward_weights", g, dy, db, beta);
    return s;
}

oclnn_status oclnn__conv_bias_grad(oclnn_context *ctx, const char *op, const oclnn_conv_geom *g,
                                   const oclnn_tensor *dy, oclnn_tensor *db, float beta)
{
    cl_kernel k;
    oclnn_status s = oclnn__kernel(ctx, "conv_epilogue.cl", NULL, "conv_bias_grad", &k);
    if (s != OCLNN_SUCCESS)
        return s;
    int dy_off = (int)dy->offset, db_off = (int)db->offset, acc = beta != 0.0f;
    int nn = g->n, kk = g->k, plane = g->oh * g->ow;
    oclnn_arg args[] = {OCLNN_ARG(dy->mem), OCLNN_ARG(dy_off), OCLNN_ARG(db->mem),
                        OCLNN_ARG(db_off),  OCLNN_ARG(nn),     OCLNN_ARG(kk),
                        OCLNN_ARG(plane),   OCLNN_ARG(acc)};
    size_t global = (size_t)g->k, local = 8;
    return oclnn__launch(ctx, op, k, args, sizeof args / sizeof args[0], 1, &global, &local);
}
