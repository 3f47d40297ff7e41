/* conv_winograd.c - the WINOGRAD convolution algorithm, F(2x2, 3x3) for 3x3 kernels at stride
 * 1, dilation 1, groups 1 (cl/conv2d_winograd.cl around 16 GEMMs per chunk of images: CLBlast's,
 * or forward and backward data on devices with DIRECT's channel-vector kernels
 * winograd_gemm_kvec).
 * Backward data is the same computation on dy with the filter rotated 180 degrees, K and C
 * swapped and padding 2 - pad; backward weights runs the transforms' adjoints around GEMMs
 * summed over the chunks. */
#include "conv_algos.h"

/* A chunk's transformed tiles V and products M stay under this (and, with the transformed
 * filter, under the workspace limit). 16 MiB beat 64 MiB on the ResNet-18 56x56 and 28x28 3x3
 * layers at batch 32 in two alternating runs (noisy machine); 8 MiB left one 56x56 image per
 * chunk, slower. */
#define WINOGRAD_CHUNK_BYTES ((size_t)16 << 20)

/* winograd_gemm_kvec's blocks: KV float16 vectors of output channels x CI tiles (conv_kvec.h),
 * the AVX-512 blocks of DIRECT's channel-vector forward. */
#define WINO_KV 4
#define WINO_CI 6
#define WINO_STR_(x) #x
#define WINO_STR(x) WINO_STR_(x)
#define WINO_OPTS "-DKV=" WINO_STR(WINO_KV) " -DCI=" WINO_STR(WINO_CI)

/* One Winograd convolution: in[n][cin][hin][win] -> out[n][cout][hout][wout], padding pt, pl
 * (the bottom and right padding follow from hout, wout); kvec: the GEMMs are the channel-vector
 * kernels' (winograd_gemm_kvec, winograd_grad_gemm_kvec for backward weights: wgrad). */
typedef struct wino {
    int n, cin, hin, win, cout, hout, wout, pt, pl;
    int th, tw; /* tiles of 2x2 outputs per image */
    bool kvec, wgrad;
} wino;

bool oclnn__conv_winograd_kvec(const oclnn_context *ctx)
{
    return oclnn__conv_tuning_defaults(ctx).kv > 0;
}

static wino wino_of(const oclnn_context *ctx, const oclnn_conv_geom *g, oclnn_conv_pass pass)
{
    wino p;
    if (pass == OCLNN_CONV_BACKWARD_DATA)
        p = (wino){g->n,         g->k,         g->oh, g->ow, g->c,  g->h, g->w,
                   2 - g->pad_t, 2 - g->pad_l, 0,     0,     false, false};
    else
        p = (wino){g->n,     g->c,     g->h, g->w, g->k,  g->oh, g->ow,
                   g->pad_t, g->pad_l, 0,    0,    false, false};
    p.th = (p.hout + 1) / 2, p.tw = (p.wout + 1) / 2;
    p.kvec = oclnn__conv_winograd_kvec(ctx), p.wgrad = pass == OCLNN_CONV_BACKWARD_WEIGHTS;
    return p;
}

/* cout rounded up to the channel-vector GEMMs' blocks where they run. */
static size_t cout_blocks(const wino *p)
{
    return p->kvec ? oclnn__round_up((size_t)p->cout, 16 * WINO_KV) : (size_t)p->cout;
}

/* Floats of U (packed for the channel-vector GEMMs, as is dU: output channels in whole blocks),
 * and of V and M per image (M packed for winograd_grad_gemm_kvec). The packed layouts' 16 planes
 * are 16 floats longer (UP_PLANE of conv2d_winograd.cl): 256 floats more. */
static size_t filter_floats(const wino *p)
{
    return (size_t)16 * cout_blocks(p) * p->cin + (p->kvec ? 256 : 0);
}

static size_t image_floats(const wino *p)
{
    return (size_t)16 * (p->cin + (p->wgrad ? cout_blocks(p) : (size_t)p->cout)) * p->th * p->tw;
}

size_t oclnn__conv_winograd_workspace(const oclnn_context *ctx, const oclnn_conv_geom *g,
                                      oclnn_conv_pass pass, int *chunk)
{
    const wino p = wino_of(ctx, g, pass);
    const size_t fixed = filter_floats(&p) * sizeof(float);
    const size_t per_image = image_floats(&p) * sizeof(float);
    size_t nb = WINOGRAD_CHUNK_BYTES / per_image;
    if (ctx->workspace_limit < fixed + nb * per_image)
        nb = ctx->workspace_limit > fixed ? (ctx->workspace_limit - fixed) / per_image : 0;
    if (nb > (size_t)p.n)
        nb = (size_t)p.n;
    if (nb < 1)
        nb = 1;
    *chunk = (int)nb;
    return fixed + nb * per_image;
}

/* The kernels of a pass: the filter transform (or its adjoint), the input transform and the
 * output transform (or the adjoint's of dy). */
typedef struct plan {
    cl_kernel filter, input, output, gemm; /* gemm: winograd_gemm_kvec where used */
    cl_mem ws;
    int chunk;
} plan;

static oclnn_status prepare(oclnn_context *ctx, const char *op, const oclnn_conv_geom *g,
                            oclnn_conv_pass pass, plan *pl)
{
    *pl = (plan){0};
    const size_t bytes = oclnn__conv_winograd_workspace(ctx, g, pass, &pl->chunk);
    const char *file = "conv2d_winograd.cl";
    const bool wgrad = pass == OCLNN_CONV_BACKWARD_WEIGHTS;
    const bool kvec = oclnn__conv_winograd_kvec(ctx);
    const char *filter = wgrad ? (kvec ? "winograd_grad_filter_packed" : "winograd_grad_filter")
                               : (kvec ? "winograd_filter_packed" : "winograd_filter");
    const char *output = !wgrad ? "winograd_output"
                         : kvec ? "winograd_grad_output_packed"
                                : "winograd_grad_output";
    oclnn_status s = oclnn__kernel(ctx, file, WINO_OPTS, filter, &pl->filter);
    if (s == OCLNN_SUCCESS)
        s = oclnn__kernel(ctx, file, WINO_OPTS, "winograd_input", &pl->input);
    if (s == OCLNN_SUCCESS)
        s = oclnn__kernel(ctx, file, WINO_OPTS, output, &pl->output);
    if (s == OCLNN_SUCCESS && kvec)
        s = oclnn__kernel(ctx, file, WINO_OPTS,
                          wgrad ? "winograd_grad_gemm_kvec" : "winograd_gemm_kvec", &pl->gemm);
    if (s == OCLNN_SUCCESS)
        s = oclnn__workspace(ctx, bytes, op, &pl->ws);
    return s;
}

/* V of images [n0, n0 + nb) of in into the workspace at v_off. */
static oclnn_status input_transform(oclnn_context *ctx, const char *op, const plan *pl,
                                    const wino *p, const oclnn_tensor *in, int n0, int nb,
                                    cl_ulong v_off)
{
    int x_off = (int)(in->offset + (size_t)n0 * p->cin * p->hin * p->win);
    int v[] = {nb, p->cin, p->hin, p->win, p->th, p->tw, p->pt, p->pl};
    oclnn_arg args[4 + sizeof v / sizeof v[0]];
    size_t na = 0;
    args[na++] = OCLNN_ARG(in->mem), args[na++] = OCLNN_ARG(x_off);
    args[na++] = OCLNN_ARG(pl->ws), args[na++] = OCLNN_ARG(v_off);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        args[na++] = OCLNN_ARG(v[i]);
    const oclnn_conv_tuning tu = oclnn__conv_tuning_defaults(ctx);
    size_t global[2] = {oclnn__div_up((size_t)nb * p->th * p->tw, 16), (size_t)p->cin};
    return oclnn__launch(ctx, op, pl->input, args, na, 2, global, tu.local);
}

/* out = epilogue(conv(in, w)) chunk by chunk. flip: w is the forward filter w[cin][cout][3][3]
 * of backward data (rotated in the filter transform). b, z may be NULL; z may be out itself
 * (accumulation). */
static oclnn_status run(oclnn_context *ctx, const char *op, const oclnn_conv_geom *g,
                        oclnn_conv_pass pass, const oclnn_tensor *in, const oclnn_tensor *w,
                        int flip, const oclnn_tensor *b, const oclnn_tensor *z,
                        oclnn_activation act, int residual_before_act, oclnn_tensor *out)
{
    plan pl;
    oclnn_status s = prepare(ctx, op, g, pass, &pl);
    if (s != OCLNN_SUCCESS)
        return s;
    const wino p = wino_of(ctx, g, pass);
    const oclnn_conv_tuning tu = oclnn__conv_tuning_defaults(ctx);
    {
        int w_off = (int)w->offset, o = p.cout, i = p.cin;
        oclnn_arg args[] = {OCLNN_ARG(w->mem), OCLNN_ARG(w_off), OCLNN_ARG(pl.ws),
                            OCLNN_ARG(o),      OCLNN_ARG(i),     OCLNN_ARG(flip)};
        /* 16 input channels a work-item, or packed 16 output channels */
        size_t global[2] = {oclnn__div_up((size_t)p.cin, 16), (size_t)p.cout};
        if (p.kvec)
            global[0] = (size_t)p.cin, global[1] = cout_blocks(&p) / 16;
        s = oclnn__launch(ctx, op, pl.filter, args, sizeof args / sizeof args[0], 2, global,
                          tu.local);
    }
    const size_t u_floats = filter_floats(&p), tiles = (size_t)p.th * p.tw;
    const size_t out_image = (size_t)p.cout * p.hout * p.wout;
    for (int n0 = 0; n0 < p.n && s == OCLNN_SUCCESS; n0 += pl.chunk) {
        int nb = p.n - n0 < pl.chunk ? p.n - n0 : pl.chunk;
        const size_t T = (size_t)nb * tiles;
        /* Workspace: U at 0, then the chunk's V, then its M (element offsets). */
        const cl_ulong v_off = u_floats, m_off = u_floats + 16 * (size_t)p.cin * T;
        s = input_transform(ctx, op, &pl, &p, in, n0, nb, v_off);
        /* M[e] [cout][T] = U[.][e][.] [cout][cin] x V[e] [cin][T]. */
        if (p.kvec && s == OCLNN_SUCCESS) {
            int o = p.cout, i = p.cin, t = (int)T;
            oclnn_arg args[] = {OCLNN_ARG(pl.ws), OCLNN_ARG(pl.ws), OCLNN_ARG(v_off),
                                OCLNN_ARG(pl.ws), OCLNN_ARG(m_off), OCLNN_ARG(o),
                                OCLNN_ARG(i),     OCLNN_ARG(t)};
            size_t global[2] = {oclnn__div_up(T, WINO_CI),
                                16 * oclnn__div_up((size_t)p.cout, 16 * WINO_KV)};
            s = oclnn__launch(ctx, op, pl.gemm, args, sizeof args / sizeof args[0], 2, global,
                              tu.local);
        }
        for (int e = 0; e < 16 && !p.kvec && s == OCLNN_SUCCESS; e++)
            s = oclnn__sgemm(ctx, op, false, false, (size_t)p.cout, T, (size_t)p.cin, 1.0f, pl.ws,
                             (size_t)e * p.cin, 16 * (size_t)p.cin, pl.ws,
                             v_off + (size_t)e * p.cin * T, T, 0.0f, pl.ws,
                             m_off + (size_t)e * p.cout * T, T);
        if (s == OCLNN_SUCCESS) {
            int y_off = (int)(out->offset + (size_t)n0 * out_image);
            int b_off = b ? (int)b->offset : 0, has_b = b != NULL, has_z = z != NULL;
            int z_off = z ? (int)(z->offset + (size_t)n0 * out_image) : 0;
            int a = (int)act, rb = residual_before_act;
            cl_mem bm = b ? b->mem : out->mem, zm = z ? z->mem : out->mem; /* unread if absent */
            int v[] = {nb, p.cout, p.hout, p.wout, p.th, p.tw, a, rb};
            oclnn_arg args[10 + sizeof v / sizeof v[0]];
            size_t na = 0;
            args[na++] = OCLNN_ARG(pl.ws), args[na++] = OCLNN_ARG(m_off);
            args[na++] = OCLNN_ARG(out->mem), args[na++] = OCLNN_ARG(y_off);
            args[na++] = OCLNN_ARG(bm), args[na++] = OCLNN_ARG(b_off),
            args[na++] = OCLNN_ARG(has_b);
            args[na++] = OCLNN_ARG(zm), args[na++] = OCLNN_ARG(z_off),
            args[na++] = OCLNN_ARG(has_z);
            for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
                args[na++] = OCLNN_ARG(v[i]);
            size_t global[2] = {oclnn__div_up(T, 16), (size_t)p.cout};
            s = oclnn__launch(ctx, op, pl.output, args, na, 2, global, tu.local);
        }
    }
    return s;
}

oclnn_status oclnn__conv_winograd_forward(oclnn_context *ctx, const oclnn_conv_geom *g,
                                          oclnn_activation act, int residual_before_act,
                                          const oclnn_tensor *x, const oclnn_tensor *w,
                                          const oclnn_tensor *b, const oclnn_tensor *z,
                                          oclnn_tensor *y)
{
    return run(ctx, "conv2d", g, OCLNN_CONV_FORWARD, x, w, 0, b, z, act, residual_before_act, y);
}

oclnn_status oclnn__conv_winograd_backward_data(oclnn_context *ctx, const oclnn_conv_geom *g,
                                                const oclnn_tensor *dy, const oclnn_tensor *w,
                                                oclnn_tensor *dx, float beta)
{
    /* beta 1 adds dx as the residual of an epilogue without bias or activation. */
    return run(ctx, "conv2d_backward_data", g, OCLNN_CONV_BACKWARD_DATA, dy, w, 1, NULL,
               beta != 0.0f ? dx : NULL, OCLNN_ACT_NONE, 0, dx);
}

/* Backward weights: dM of the chunk of images [n0, n0 + nb) of dy at m_off (the adjoint of the
 * output transform; packed for the channel-vector GEMM: 16 output channels a work-item). */
static oclnn_status grad_output(oclnn_context *ctx, const char *op, const plan *pl, const wino *p,
                                const oclnn_tensor *dy, int n0, int nb, cl_ulong m_off)
{
    const size_t T = (size_t)nb * p->th * p->tw;
    int dy_off = (int)(dy->offset + (size_t)n0 * p->cout * p->hout * p->wout);
    int v[] = {nb, p->cout, p->hout, p->wout, p->th, p->tw};
    oclnn_arg args[4 + sizeof v / sizeof v[0]];
    size_t na = 0;
    args[na++] = OCLNN_ARG(dy->mem), args[na++] = OCLNN_ARG(dy_off);
    args[na++] = OCLNN_ARG(pl->ws), args[na++] = OCLNN_ARG(m_off);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        args[na++] = OCLNN_ARG(v[i]);
    const oclnn_conv_tuning tu = oclnn__conv_tuning_defaults(ctx);
    size_t global[2] = {oclnn__div_up(T, 16), (size_t)p->cout};
    if (p->kvec)
        global[0] = T, global[1] = cout_blocks(p) / 16;
    return oclnn__launch(ctx, op, pl->output, args, na, 2, global, tu.local);
}

oclnn_status oclnn__conv_winograd_backward_weights(oclnn_context *ctx, const oclnn_conv_geom *g,
                                                   const oclnn_tensor *x, const oclnn_tensor *dy,
                                                   oclnn_tensor *dw, oclnn_tensor *db, float beta)
{
    const char *op = "conv2d_backward_weights";
    plan pl;
    oclnn_status s = prepare(ctx, op, g, OCLNN_CONV_BACKWARD_WEIGHTS, &pl);
    const wino p = wino_of(ctx, g, OCLNN_CONV_BACKWARD_WEIGHTS);
    const oclnn_conv_tuning tu = oclnn__conv_tuning_defaults(ctx);
    const size_t u_floats = filter_floats(&p), tiles = (size_t)p.th * p.tw;
    for (int n0 = 0; n0 < p.n && s == OCLNN_SUCCESS; n0 += pl.chunk) {
        int nb = p.n - n0 < pl.chunk ? p.n - n0 : pl.chunk;
        const size_t T = (size_t)nb * tiles;
        /* Workspace: dU at 0 (like U, or dUp), then the chunk's V of x and dM (or dMp) of dy. */
        const cl_ulong v_off = u_floats, m_off = u_floats + 16 * (size_t)p.cin * T;
        s = input_transform(ctx, op, &pl, &p, x, n0, nb, v_off);
        if (s == OCLNN_SUCCESS)
            s = grad_output(ctx, op, &pl, &p, dy, n0, nb, m_off);
        /* dU (+)= dM x V^T in the channel-vector loop: dUp[e] [c][k] (the first chunk writes
         * it, the others add to it in order). */
        if (s == OCLNN_SUCCESS && p.kvec) {
            int k = p.cout, c = p.cin, t = (int)T, accumulate = n0 > 0;
            oclnn_arg args[] = {OCLNN_ARG(pl.ws), OCLNN_ARG(m_off), OCLNN_ARG(pl.ws),
                                OCLNN_ARG(v_off), OCLNN_ARG(pl.ws), OCLNN_ARG(k),
                                OCLNN_ARG(c),     OCLNN_ARG(t),     OCLNN_ARG(accumulate)};
            size_t global[2] = {oclnn__div_up((size_t)c, WINO_CI),
                                16 * oclnn__div_up((size_t)k, 16 * WINO_KV)};
            s = oclnn__launch(ctx, op, pl.gemm, args, sizeof args / sizeof args[0], 2, global,
                              tu.local);
        }
        /* dU[.][e][.] [k][c] (+)= dM[e] [k][T] x V[e]^T [T][c], chunk after chunk in order (the
         * GEMM's beta accumulates): deterministic. */
        for (int e = 0; e < 16 && !p.kvec && s == OCLNN_SUCCESS; e++)
            s = oclnn__sgemm(ctx, op, false, true, (size_t)p.cout, (size_t)p.cin, T, 1.0f, pl.ws,
                             m_off + (size_t)e * p.cout * T, T, pl.ws,
                             v_off + (size_t)e * p.cin * T, T, n0 == 0 ? 0.0f : 1.0f, pl.ws,
                             (size_t)e * p.cin, 16 * (size_t)p.cin);
    }
    if (s == OCLNN_SUCCESS) {
        int dw_off = (int)dw->offset, k = p.cout, c = p.cin, acc = beta != 0.0f;
        oclnn_arg args[] = {OCLNN_ARG(pl.ws), OCLNN_ARG(dw->mem), OCLNN_ARG(dw_off),
                            OCLNN_ARG(k),     OCLNN_ARG(c),       OCLNN_ARG(acc)};
        /* 16 input channels a work-item, or from dUp 16 output channels */
        size_t global[2] = {oclnn__div_up((size_t)c, 16), (size_t)k};
        if (p.kvec)
            global[0] = oclnn__div_up((size_t)k, 16), global[1] = (size_t)c;
        s = oclnn__launch(ctx, op, pl.filter, args, sizeof args / sizeof args[0], 2, global,
                          tu.local);
    }
    if (s == OCLNN_SUCCESS && db)
        s = oclnn__conv_bias_grad(ctx, op, g, dy, db, beta);
    return s;
}
