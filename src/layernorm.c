/* layernorm.c - layer normalisation forward and backward, over (c, h, w) per sample or over the
 * channels at each position (ConvNeXt), with deterministic reductions. */
#include "norm.h"

#include <math.h>
#include <stdio.h>

oclnn_layernorm_desc oclnn_layernorm_desc_default(void)
{
    return (oclnn_layernorm_desc){OCLNN_LAYERNORM_CHW, 1e-6f};
}

/* x seen as [n][c][hw]; `len` elements per group, `groups` groups, `params` gamma elements. */
typedef struct ln_shape {
    int n, c, hw;
    int groups, len, params;
} ln_shape;

static oclnn_status check_common(oclnn_context *ctx, const char *op,
                                 const oclnn_layernorm_desc *desc, const oclnn_tensor *x,
                                 const oclnn_tensor *gamma, const oclnn_tensor *save_mean,
                                 const oclnn_tensor *save_invstd, ln_shape *sh)
{
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "%s: ctx is NULL", op);
    if (!desc)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: desc is NULL", op);
    if (desc->mode != OCLNN_LAYERNORM_CHW && desc->mode != OCLNN_LAYERNORM_CHANNELS)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: mode %d, must be OCLNN_LAYERNORM_CHW (0) or "
                           "OCLNN_LAYERNORM_CHANNELS (1)",
                           op, (int)desc->mode);
    if (!(desc->eps > 0.0f) || !isfinite(desc->eps))
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: eps %g, must be finite and > 0", op,
                           (double)desc->eps);
    oclnn_status s = oclnn__check_tensor(ctx, op, "x", x);
    if (s != OCLNN_SUCCESS)
        return s;
    if (x->desc.ndim != 2 && x->desc.ndim != 4)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: x has ndim %d, must be 2 ([n][features]) or 4 ([n][c][h][w])", op,
                           x->desc.ndim);
    s = oclnn__norm_check_int(ctx, op, "x", x);
    if (s != OCLNN_SUCCESS)
        return s;
    int h, w;
    oclnn__nchw(&x->desc, &sh->n, &sh->c, &h, &w);
    sh->hw = h * w;
    if (desc->mode == OCLNN_LAYERNORM_CHW) {
        sh->groups = sh->n;
        sh->len = sh->params = sh->c * sh->hw;
    } else {
        sh->groups = sh->n * sh->hw;
        sh->len = sh->params = sh->c;
    }
    const char *names[] = {"gamma", "save_mean", "save_invstd"};
    const oclnn_tensor *ts[] = {gamma, save_mean, save_invstd};
    s = oclnn__norm_check_params(ctx, op, (size_t)sh->params, 1, names, ts);
    if (s == OCLNN_SUCCESS)
        s = oclnn__norm_check_params(ctx, op, (size_t)sh->groups, 2, names + 1, ts + 1);
    return s;
}

/* Checks t has as many elements as gamma. */
static oclnn_status check_param(oclnn_context *ctx, const char *op, const char *name,
                                const oclnn_tensor *t, const ln_shape *sh)
{
    return oclnn__norm_check_params(ctx, op, (size_t)sh->params, 1, &name, &t);
}

/* Whether the CHW forward may fuse statistics and normalisation in one work-item per sample.
 * On CPUs only while a sample with its gamma and beta stays in the L2 cache (FUSE_MAX_D floats
 * each, 384 KB in all): a larger sample is re-read from further away, and gamma and beta once
 * per sample, so the separate normalisation pass, which walks runs of d over all samples with
 * their gamma and beta in L1, is faster (ResNet stage-1 layer norm 64x56x56 at batch 32: 4.1 ms
 * against 5.6 ms on POCL). Other devices fuse whenever the samples keep them busy. */
#define FUSE_MAX_D 32768
static bool chw_fuse(const oclnn_context *ctx, int d)
{
    return !(ctx->info.type & CL_DEVICE_TYPE_CPU) || d <= FUSE_MAX_D;
}

oclnn_status oclnn_layernorm_forward(oclnn_context *ctx, const oclnn_layernorm_desc *desc,
                                     const oclnn_tensor *x, const oclnn_tensor *gamma,
                                     const oclnn_tensor *beta, oclnn_tensor *save_mean,
                                     oclnn_tensor *save_invstd, oclnn_tensor *y)
{
    static const char op[] = "layernorm_forward";
    ln_shape sh;
    oclnn_status s = check_common(ctx, op, desc, x, gamma, save_mean, save_invstd, &sh);
    if (s == OCLNN_SUCCESS)
        s = check_param(ctx, op, "beta", beta, &sh);
    if (s == OCLNN_SUCCESS)
        s = oclnn__norm_check_like_x(ctx, op, "y", y, x);
    if (s != OCLNN_SUCCESS)
        return s;
    /* x read, y written */
    oclnn__profile_work(ctx, "layernorm", 0, 2.0 * sh.n * sh.c * sh.hw * sizeof(float));

    oclnn_norm_plan plan;
    oclnn__norm_plan(ctx, &plan);
    const char *opts = plan.opts;
    int x_off = (int)x->offset, y_off = (int)y->offset, g_off = (int)gamma->offset;
    int b_off = (int)beta->offset, sm_off = (int)save_mean->offset;
    int si_off = (int)save_invstd->offset;
    float eps = desc->eps;
    cl_kernel k;
    const int ch = desc->mode == OCLNN_LAYERNORM_CHANNELS;
    int chunk, nchunks = ch ? 1 : oclnn__norm_chunks(&plan, sh.groups, sh.len, &chunk);
    if (ch || (nchunks == 1 && chw_fuse(ctx, sh.len))) {
        /* One kernel: channels mode always; CHW mode when the samples alone keep the device
         * busy (fused statistics and normalisation). Both take the same tensors first. */
        s = oclnn__kernel(ctx, "layernorm.cl", opts, ch ? "ln_ch_forward" : "ln_chw_forward_fused",
                          &k);
        if (s != OCLNN_SUCCESS)
            return s;
        oclnn_arg args[16] = {OCLNN_ARG(x->mem),           OCLNN_ARG(x_off),
                              OCLNN_ARG(y->mem),           OCLNN_ARG(y_off),
                              OCLNN_ARG(gamma->mem),       OCLNN_ARG(g_off),
                              OCLNN_ARG(beta->mem),        OCLNN_ARG(b_off),
                              OCLNN_ARG(save_mean->mem),   OCLNN_ARG(sm_off),
                              OCLNN_ARG(save_invstd->mem), OCLNN_ARG(si_off)};
        size_t n = 12, global;
        if (ch) {
            args[n++] = OCLNN_ARG(sh.n), args[n++] = OCLNN_ARG(sh.c), args[n++] = OCLNN_ARG(sh.hw);
            global = (size_t)sh.n * oclnn__div_up((size_t)sh.hw, (size_t)plan.run);
        } else {
            args[n++] = OCLNN_ARG(sh.groups), args[n++] = OCLNN_ARG(sh.len);
            global = (size_t)sh.groups;
        }
        args[n++] = OCLNN_ARG(eps);
        return oclnn__launch(ctx, "layernorm", k, args, n, 1, &global, &plan.local);
    }
    cl_kernel k_fin, k_norm;
    cl_mem part;
    s = oclnn__kernel(ctx, "layernorm.cl", opts, "ln_stats", &k);
    if (s == OCLNN_SUCCESS)
        s = oclnn__kernel(ctx, "layernorm.cl", opts, "ln_stats_finish", &k_fin);
    if (s == OCLNN_SUCCESS)
        s = oclnn__kernel(ctx, "layernorm.cl", opts, "ln_chw_normalize", &k_norm);
    if (s == OCLNN_SUCCESS)
        s = oclnn__workspace(ctx, (size_t)sh.groups * nchunks * 2 * sizeof(float), op, &part);
    if (s != OCLNN_SUCCESS)
        return s;
    oclnn_arg a_stats[] = {OCLNN_ARG(x->mem),    OCLNN_ARG(x_off),  OCLNN_ARG(part),
                           OCLNN_ARG(sh.groups), OCLNN_ARG(sh.len), OCLNN_ARG(chunk),
                           OCLNN_ARG(nchunks)};
    size_t global = (size_t)sh.groups * nchunks;
    s = oclnn__launch(ctx, "layernorm", k, a_stats, sizeof a_stats / sizeof a_stats[0], 1, &global,
                      &plan.local);
    if (s != OCLNN_SUCCESS)
        return s;
    oclnn_arg a_fin[] = {OCLNN_ARG(x->mem),
                         OCLNN_ARG(x_off),
                         OCLNN_ARG(part),
                         OCLNN_ARG(sh.groups),
                         OCLNN_ARG(nchunks),
                         OCLNN_ARG(chunk),
                         OCLNN_ARG(sh.len),
                         OCLNN_ARG(eps),
                         OCLNN_ARG(save_mean->mem),
                         OCLNN_ARG(sm_off),
                         OCLNN_ARG(save_invstd->mem),
                         OCLNN_ARG(si_off)};
    global = (size_t)sh.groups;
    s = oclnn__launch(ctx, "layernorm", k_fin, a_fin, sizeof a_fin / sizeof a_fin[0], 1, &global,
                      &plan.local);
    if (s != OCLNN_SUCCESS)
        return s;
    oclnn_arg a_norm[] = {OCLNN_ARG(x->mem),
                          OCLNN_ARG(x_off),
                          OCLNN_ARG(y->mem),
                          OCLNN_ARG(y_off),
                          OCLNN_ARG(save_mean->mem),
                          OCLNN_ARG(sm_off),
                          OCLNN_ARG(save_invstd->mem),
                          OCLNN_ARG(si_off),
                          OCLNN_ARG(gamma->mem),
                          OCLNN_ARG(g_off),
                          OCLNN_ARG(beta->mem),
                          OCLNN_ARG(b_off),
                          OCLNN_ARG(sh.n),
                          OCLNN_ARG(sh.len)};
    global = oclnn__div_up((size_t)sh.len, (size_t)plan.drun);
    return oclnn__launch(ctx, "layernorm", k_norm, a_norm, sizeof a_norm / sizeof a_norm[0], 1,
                         &global, &plan.local);
}

oclnn_status oclnn_layernorm_backward(oclnn_context *ctx, const oclnn_layernorm_desc *desc,
                                      const oclnn_tensor *x, const oclnn_tensor *dy,
                                      const oclnn_tensor *gamma, const oclnn_tensor *save_mean,
                                      const oclnn_tensor *save_invstd, oclnn_tensor *dx,
                                      oclnn_tensor *dgamma, oclnn_tensor *dbeta, float beta_acc)
{
    static const char op[] = "layernorm_backward";
    ln_shape sh;
    oclnn_status s = check_common(ctx, op, desc, x, gamma, save_mean, save_invstd, &sh);
    if (s != OCLNN_SUCCESS)
        return s;
    if (beta_acc != 0.0f && beta_acc != 1.0f)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: beta_acc %g, must be 0 or 1", op,
                           (double)beta_acc);
    s = oclnn__norm_check_like_x(ctx, op, "dy", dy, x);
    if (s == OCLNN_SUCCESS)
        s = oclnn__norm_check_like_x(ctx, op, "dx", dx, x);
    if (s == OCLNN_SUCCESS)
        s = check_param(ctx, op, "dgamma", dgamma, &sh);
    if (s == OCLNN_SUCCESS)
        s = check_param(ctx, op, "dbeta", dbeta, &sh);
    if (s != OCLNN_SUCCESS)
        return s;
    /* x and dy read, dx written */
    oclnn__profile_work(ctx, "layernorm", 0, 3.0 * sh.n * sh.c * sh.hw * sizeof(float));

    oclnn_norm_plan plan;
    oclnn__norm_plan(ctx, &plan);
    const char *opts = plan.opts;
    int x_off = (int)x->offset, dy_off = (int)dy->offset, dx_off = (int)dx->offset;
    int g_off = (int)gamma->offset, m_off = (int)save_mean->offset;
    int si_off = (int)save_invstd->offset, dg_off = (int)dgamma->offset;
    int db_off = (int)dbeta->offset;
    cl_kernel k1, k2, k3;
    cl_mem ws;
    if (desc->mode == OCLNN_LAYERNORM_CHANNELS) {
        int run = plan.run;
        int nparts = sh.n * (int)oclnn__div_up((size_t)sh.hw, (size_t)run);
        s = oclnn__kernel(ctx, "layernorm.cl", opts, "ln_ch_backward", &k1);
        if (s == OCLNN_SUCCESS)
            s = oclnn__kernel(ctx, "layernorm.cl", opts, "ln_ch_params", &k2);
        if (s == OCLNN_SUCCESS)
            s = oclnn__workspace(ctx, (size_t)nparts * sh.c * 2 * sizeof(float), op, &ws);
        if (s != OCLNN_SUCCESS)
            return s;
        oclnn_arg a1[] = {OCLNN_ARG(x->mem),
                          OCLNN_ARG(x_off),
                          OCLNN_ARG(dy->mem),
                          OCLNN_ARG(dy_off),
                          OCLNN_ARG(gamma->mem),
                          OCLNN_ARG(g_off),
                          OCLNN_ARG(save_mean->mem),
                          OCLNN_ARG(m_off),
                          OCLNN_ARG(save_invstd->mem),
                          OCLNN_ARG(si_off),
                          OCLNN_ARG(dx->mem),
                          OCLNN_ARG(dx_off),
                          OCLNN_ARG(ws),
                          OCLNN_ARG(sh.n),
                          OCLNN_ARG(sh.c),
                          OCLNN_ARG(sh.hw)};
        size_t global = (size_t)nparts;
        s = oclnn__launch(ctx, "layernorm", k1, a1, sizeof a1 / sizeof a1[0], 1, &global,
                          &plan.local);
        if (s != OCLNN_SUCCESS)
            return s;
        oclnn_arg a2[] = {OCLNN_ARG(ws),          OCLNN_ARG(nparts),  OCLNN_ARG(sh.c),
                          OCLNN_ARG(dgamma->mem), OCLNN_ARG(dg_off),  OCLNN_ARG(dbeta->mem),
                          OCLNN_ARG(db_off),      OCLNN_ARG(beta_acc)};
        global = (size_t)sh.c;
        return oclnn__launch(ctx, "layernorm", k2, a2, sizeof a2 / sizeof a2[0], 1, &global,
                             &plan.local);
    }

    int chunk, nchunks = oclnn__norm_chunks(&plan, sh.groups, sh.len, &chunk);
    size_t part_floats = (size_t)sh.groups * nchunks * 2;
    s = oclnn__kernel(ctx, "layernorm.cl", opts, "ln_chw_bwd_partial", &k1);
    if (s == OCLNN_SUCCESS)
        s = oclnn__kernel(ctx, "layernorm.cl", opts, "ln_chw_bwd_finish", &k2);
    if (s == OCLNN_SUCCESS)
        s = oclnn__kernel(ctx, "layernorm.cl", opts, "ln_chw_bwd_dx", &k3);
    if (s == OCLNN_SUCCESS)
        s = oclnn__workspace(ctx, (part_floats + 2 * (size_t)sh.groups) * sizeof(float), op, &ws);
    if (s != OCLNN_SUCCESS)
        return s;
    /* Partials at [0, part_floats) of the workspace, per-sample coefficients after. */
    int coef_off = (int)part_floats;
    oclnn_arg a1[] = {OCLNN_ARG(x->mem),     OCLNN_ARG(x_off),          OCLNN_ARG(dy->mem),
                      OCLNN_ARG(dy_off),     OCLNN_ARG(save_mean->mem), OCLNN_ARG(m_off),
                      OCLNN_ARG(gamma->mem), OCLNN_ARG(g_off),          OCLNN_ARG(ws),
                      OCLNN_ARG(sh.groups),  OCLNN_ARG(sh.len),         OCLNN_ARG(chunk),
                      OCLNN_ARG(nchunks)};
    size_t global = (size_t)sh.groups * nchunks;
    s = oclnn__launch(ctx, "layernorm", k1, a1, sizeof a1 / sizeof a1[0], 1, &global, &plan.local);
    if (s != OCLNN_SUCCESS)
        return s;
    oclnn_arg a2[] = {OCLNN_ARG(ws),     OCLNN_ARG(sh.groups),        OCLNN_ARG(nchunks),
                      OCLNN_ARG(sh.len), OCLNN_ARG(save_invstd->mem), OCLNN_ARG(si_off),
                      OCLNN_ARG(ws),     OCLNN_ARG(coef_off)};
    global = (size_t)sh.groups;
    s = oclnn__launch(ctx, "layernorm", k2, a2, sizeof a2 / sizeof a2[0], 1, &global, &plan.local);
    if (s != OCLNN_SUCCESS)
        return s;
    oclnn_arg a3[] = {OCLNN_ARG(x->mem),
                      OCLNN_ARG(x_off),
                      OCLNN_ARG(dy->mem),
                      OCLNN_ARG(dy_off),
                      OCLNN_ARG(save_mean->mem),
                      OCLNN_ARG(m_off),
                      OCLNN_ARG(save_invstd->mem),
                      OCLNN_ARG(si_off),
                      OCLNN_ARG(gamma->mem),
                      OCLNN_ARG(g_off),
                      OCLNN_ARG(ws),
                      OCLNN_ARG(coef_off),
                      OCLNN_ARG(dx->mem),
                      OCLNN_ARG(dx_off),
                      OCLNN_ARG(dgamma->mem),
                      OCLNN_ARG(dg_off),
                      OCLNN_ARG(dbeta->mem),
                      OCLNN_ARG(db_off),
                      OCLNN_ARG(beta_acc),
                      OCLNN_ARG(sh.n),
                      OCLNN_ARG(sh.len)};
    global = oclnn__div_up((size_t)sh.len, (size_t)plan.drun);
    return oclnn__launch(ctx, "layernorm", k3, a3, sizeof a3 / sizeof a3[0], 1, &global,
                         &plan.local);
}
