/* batchnorm.c - batch normalisation (training, inference, backward) over (n, h, w) per channel,
 * with deterministic two-level reductions: per-(channel, chunk) partials, then per-channel. */
#include "norm.h"

#include <math.h>
#include <stdio.h>

oclnn_batchnorm_desc oclnn_batchnorm_desc_default(void)
{
    return (oclnn_batchnorm_desc){1e-5f, 0.1f};
}

/* Shape of x seen as [n][c][hw]. */
typedef struct bn_shape {
    int n, c, hw;
} bn_shape;

static oclnn_status check_desc(oclnn_context *ctx, const char *op, const oclnn_batchnorm_desc *desc)
{
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "%s: ctx is NULL", op);
    if (!desc)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: desc is NULL", op);
    if (!(desc->eps > 0.0f) || !isfinite(desc->eps))
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: eps %g, must be finite and > 0", op,
                           (double)desc->eps);
    return OCLNN_SUCCESS;
}

static oclnn_status check_common(oclnn_context *ctx, const char *op,
                                 const oclnn_batchnorm_desc *desc, const oclnn_tensor *x,
                                 bn_shape *sh)
{
    oclnn_status s = check_desc(ctx, op, desc);
    if (s == OCLNN_SUCCESS)
        s = oclnn__check_tensor(ctx, op, "x", x);
    if (s != OCLNN_SUCCESS)
        return s;
    if (x->desc.ndim != 2 && x->desc.ndim != 4)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: x has ndim %d, must be 2 ([n][c]) or 4 ([n][c][h][w])", op,
                           x->desc.ndim);
    int h, w;
    oclnn__nchw(&x->desc, &sh->n, &sh->c, &h, &w);
    sh->hw = h * w;
    return oclnn__norm_check_int(ctx, op, "x", x);
}

/* Enqueues the element-wise normalisation y = (x - mean) * inv * gamma + beta (its ReLU with
 * relu), where inv is `stat` itself (training) or 1 / sqrt(stat + eps) (inference). */
static oclnn_status normalize(oclnn_context *ctx, const oclnn_norm_plan *plan, const bn_shape *sh,
                              int from_var, float eps, const oclnn_tensor *x,
                              const oclnn_tensor *mean, const oclnn_tensor *stat,
                              const oclnn_tensor *gamma, const oclnn_tensor *beta, int relu,
                              oclnn_tensor *y)
{
    char opts[160];
    snprintf(opts, sizeof opts, "%s -DFROM_VAR=%d", plan->opts, from_var);
    cl_kernel k;
    oclnn_status s = oclnn__kernel(ctx, "batchnorm.cl", opts, "bn_normalize", &k);
    if (s != OCLNN_SUCCESS)
        return s;
    int x_off = (int)x->offset, y_off = (int)y->offset, m_off = (int)mean->offset;
    int st_off = (int)stat->offset, g_off = (int)gamma->offset, b_off = (int)beta->offset;
    int total = sh->n * sh->c * sh->hw;
    oclnn_arg args[] = {OCLNN_ARG(x->mem),    OCLNN_ARG(x_off),     OCLNN_ARG(y->mem),
                        OCLNN_ARG(y_off),     OCLNN_ARG(mean->mem), OCLNN_ARG(m_off),
                        OCLNN_ARG(stat->mem), OCLNN_ARG(st_off),    OCLNN_ARG(gamma->mem),
                        OCLNN_ARG(g_off),     OCLNN_ARG(beta->mem), OCLNN_ARG(b_off),
                        OCLNN_ARG(sh->c),     OCLNN_ARG(sh->hw),    OCLNN_ARG(total),
                        OCLNN_ARG(eps),       OCLNN_ARG(relu)};
    size_t global = oclnn__div_up((size_t)total, (size_t)plan->seg);
    return oclnn__launch(ctx, "batchnorm", k, args, sizeof args / sizeof args[0], 1, &global,
                         &plan->local);
}

/* One kernel, one work-item per channel: statistics and normalisation while the channel is
 * cached (used when the channels alone keep the device busy). */
static oclnn_status forward_fused(oclnn_context *ctx, const oclnn_norm_plan *plan,
                                  const bn_shape *sh, const oclnn_batchnorm_desc *desc,
                                  const oclnn_tensor *x, const oclnn_tensor *gamma,
                                  const oclnn_tensor *beta, oclnn_tensor *running_mean,
                                  oclnn_tensor *running_var, oclnn_tensor *save_mean,
                                  oclnn_tensor *save_invstd, int relu, oclnn_tensor *y)
{
    cl_kernel k;
    oclnn_status s = oclnn__kernel(ctx, "batchnorm.cl", plan->opts, "bn_forward_fused", &k);
    if (s != OCLNN_SUCCESS)
        return s;
    int x_off = (int)x->offset, y_off = (int)y->offset, g_off = (int)gamma->offset;
    int b_off = (int)beta->offset, sm_off = (int)save_mean->offset;
    int si_off = (int)save_invstd->offset, rm_off = (int)running_mean->offset;
    int rv_off = (int)running_var->offset, count = sh->n * sh->hw;
    oclnn_arg args[] = {OCLNN_ARG(x->mem),
                        OCLNN_ARG(x_off),
                        OCLNN_ARG(y->mem),
                        OCLNN_ARG(y_off),
                        OCLNN_ARG(gamma->mem),
                        OCLNN_ARG(g_off),
                        OCLNN_ARG(beta->mem),
                        OCLNN_ARG(b_off),
                        OCLNN_ARG(save_mean->mem),
                        OCLNN_ARG(sm_off),
                        OCLNN_ARG(save_invstd->mem),
                        OCLNN_ARG(si_off),
                        OCLNN_ARG(running_mean->mem),
                        OCLNN_ARG(rm_off),
                        OCLNN_ARG(running_var->mem),
                        OCLNN_ARG(rv_off),
                        OCLNN_ARG(sh->c),
                        OCLNN_ARG(sh->hw),
                        OCLNN_ARG(count),
                        OCLNN_ARG(desc->eps),
                        OCLNN_ARG(desc->momentum),
                        OCLNN_ARG(relu)};
    size_t global = (size_t)sh->c;
    return oclnn__launch(ctx, "batchnorm", k, args, sizeof args / sizeof args[0], 1, &global,
                         &plan->local);
}

oclnn_status oclnn__batchnorm_forward_training(oclnn_context *ctx, const oclnn_batchnorm_desc *desc,
                                               const oclnn_tensor *x, const oclnn_tensor *gamma,
                                               const oclnn_tensor *beta, oclnn_tensor *running_mean,
                                               oclnn_tensor *running_var, oclnn_tensor *save_mean,
                                               oclnn_tensor *save_invstd, bool relu,
                                               oclnn_tensor *y)
{
    static const char op[] = "batchnorm_forward_training";
    bn_shape sh;
    oclnn_status s = check_common(ctx, op, desc, x, &sh);
    if (s != OCLNN_SUCCESS)
        return s;
    if (!(desc->momentum >= 0.0f && desc->momentum <= 1.0f))
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: momentum %g, must be in [0, 1]", op,
                           (double)desc->momentum);
    const char *names[] = {"gamma",       "beta",      "running_mean",
                           "running_var", "save_mean", "save_invstd"};
    const oclnn_tensor *ts[] = {gamma, beta, running_mean, running_var, save_mean, save_invstd};
    s = oclnn__norm_check_params(ctx, op, (size_t)sh.c, 6, names, ts);
    if (s == OCLNN_SUCCESS)
        s = oclnn__norm_check_like_x(ctx, op, "y", y, x);
    if (s != OCLNN_SUCCESS)
        return s;

    /* x read, y written */
    oclnn__profile_work(ctx, "batchnorm", 0, 2.0 * sh.n * sh.c * sh.hw * sizeof(float));
    oclnn_norm_plan plan;
    oclnn__norm_plan(ctx, &plan);
    int count = sh.n * sh.hw, chunk;
    int nchunks = oclnn__norm_chunks(&plan, sh.c, count, &chunk);
    if (nchunks == 1)
        return forward_fused(ctx, &plan, &sh, desc, x, gamma, beta, running_mean, running_var,
                             save_mean, save_invstd, relu, y);
    cl_kernel k_stats, k_finish;
    cl_mem part;
    s = oclnn__kernel(ctx, "batchnorm.cl", plan.opts, "bn_stats", &k_stats);
    if (s == OCLNN_SUCCESS)
        s = oclnn__kernel(ctx, "batchnorm.cl", plan.opts, "bn_stats_finish", &k_finish);
    if (s == OCLNN_SUCCESS)
        s = oclnn__workspace(ctx, (size_t)sh.c * nchunks * 2 * sizeof(float), op, &part);
    if (s != OCLNN_SUCCESS)
        return s;

    int x_off = (int)x->offset;
    oclnn_arg a_stats[] = {OCLNN_ARG(x->mem), OCLNN_ARG(x_off),  OCLNN_ARG(part),
                           OCLNN_ARG(sh.c),   OCLNN_ARG(sh.hw),  OCLNN_ARG(count),
                           OCLNN_ARG(chunk),  OCLNN_ARG(nchunks)};
    size_t global = (size_t)sh.c * nchunks;
    s = oclnn__launch(ctx, "batchnorm", k_stats, a_stats, sizeof a_stats / sizeof a_stats[0], 1,
                      &global, &plan.local);
    if (s != OCLNN_SUCCESS)
        return s;

    int sm_off = (int)save_mean->offset, si_off = (int)save_invstd->offset;
    int rm_off = (int)running_mean->offset, rv_off = (int)running_var->offset;
    oclnn_arg a_fin[] = {OCLNN_ARG(x->mem),
                         OCLNN_ARG(x_off),
                         OCLNN_ARG(part),
                         OCLNN_ARG(sh.c),
                         OCLNN_ARG(sh.hw),
                         OCLNN_ARG(nchunks),
                         OCLNN_ARG(chunk),
                         OCLNN_ARG(count),
                         OCLNN_ARG(desc->eps),
                         OCLNN_ARG(desc->momentum),
                         OCLNN_ARG(save_mean->mem),
                         OCLNN_ARG(sm_off),
                         OCLNN_ARG(save_invstd->mem),
                         OCLNN_ARG(si_off),
                         OCLNN_ARG(running_mean->mem),
                         OCLNN_ARG(rm_off),
                         OCLNN_ARG(running_var->mem),
                         OCLNN_ARG(rv_off)};
    global = (size_t)sh.c;
    s = oclnn__launch(ctx, "batchnorm", k_finish, a_fin, sizeof a_fin / sizeof a_fin[0], 1, &global,
                      &plan.local);
    if (s != OCLNN_SUCCESS)
        return s;
    return normalize(ctx, &plan, &sh, 0, desc->eps, x, save_mean, save_invstd, gamma, beta, relu,
                     y);
}

oclnn_status oclnn_batchnorm_forward_training(oclnn_context *ctx, const oclnn_batchnorm_desc *desc,
                                              const oclnn_tensor *x, const oclnn_tensor *gamma,
                                              const oclnn_tensor *beta, oclnn_tensor *running_mean,
                                              oclnn_tensor *running_var, oclnn_tensor *save_mean,
                                              oclnn_tensor *save_invstd, oclnn_tensor *y)
{
    return oclnn__batchnorm_forward_training(ctx, desc, x, gamma, beta, running_mean, running_var,
                                             save_mean, save_invstd, false, y);
}

oclnn_status
oclnn__batchnorm_forward_inference(oclnn_context *ctx, const oclnn_batchnorm_desc *desc,
                                   const oclnn_tensor *x, const oclnn_tensor *gamma,
                                   const oclnn_tensor *beta, const oclnn_tensor *running_mean,
                                   const oclnn_tensor *running_var, bool relu, oclnn_tensor *y)
{
    static const char op[] = "batchnorm_forward_inference";
    bn_shape sh;
    oclnn_status s = check_common(ctx, op, desc, x, &sh);
    if (s != OCLNN_SUCCESS)
        return s;
    const char *names[] = {"gamma", "beta", "running_mean", "running_var"};
    const oclnn_tensor *ts[] = {gamma, beta, running_mean, running_var};
    s = oclnn__norm_check_params(ctx, op, (size_t)sh.c, 4, names, ts);
    if (s == OCLNN_SUCCESS)
        s = oclnn__norm_check_like_x(ctx, op, "y", y, x);
    if (s != OCLNN_SUCCESS)
        return s;
    /* x read, y written */
    oclnn__profile_work(ctx, "batchnorm", 0, 2.0 * sh.n * sh.c * sh.hw * sizeof(float));
    oclnn_norm_plan plan;
    oclnn__norm_plan(ctx, &plan);
    return normalize(ctx, &plan, &sh, 1, desc->eps, x, running_mean, running_var, gamma, beta, relu,
                     y);
}

oclnn_status oclnn_batchnorm_forward_inference(oclnn_context *ctx, const oclnn_batchnorm_desc *desc,
                                               const oclnn_tensor *x, const oclnn_tensor *gamma,
                                               const oclnn_tensor *beta,
                                               const oclnn_tensor *running_mean,
                                               const oclnn_tensor *running_var, oclnn_tensor *y)
{
    return oclnn__batchnorm_forward_inference(ctx, desc, x, gamma, beta, running_mean, running_var,
                                              false, y);
}

/* The mask arguments of the backward kernels: relu, then beta's buffer and offset (gamma's
 * where there is no ReLU: never read). */
typedef struct bn_mask_args {
    int relu, b_off;
    cl_mem beta;
} bn_mask_args;

static bn_mask_args mask_args(const oclnn_tensor *gamma, const oclnn_tensor *relu_beta)
{
    const oclnn_tensor *b = relu_beta ? relu_beta : gamma;
    return (bn_mask_args){relu_beta != NULL, (int)b->offset, b->mem};
}

/* The backward counterpart of forward_fused. */
static oclnn_status backward_fused(oclnn_context *ctx, const oclnn_norm_plan *plan,
                                   const bn_shape *sh, const oclnn_tensor *x,
                                   const oclnn_tensor *dy, const oclnn_tensor *gamma,
                                   const oclnn_tensor *save_mean, const oclnn_tensor *save_invstd,
                                   const bn_mask_args *ma, oclnn_tensor *dx, oclnn_tensor *dgamma,
                                   oclnn_tensor *dbeta, float beta_acc)
{
    cl_kernel k;
    oclnn_status s = oclnn__kernel(ctx, "batchnorm.cl", plan->opts, "bn_backward_fused", &k);
    if (s != OCLNN_SUCCESS)
        return s;
    int x_off = (int)x->offset, dy_off = (int)dy->offset, g_off = (int)gamma->offset;
    int m_off = (int)save_mean->offset, si_off = (int)save_invstd->offset;
    int dx_off = (int)dx->offset, dg_off = (int)dgamma->offset, db_off = (int)dbeta->offset;
    int count = sh->n * sh->hw;
    oclnn_arg args[] = {
        OCLNN_ARG(x->mem),         OCLNN_ARG(x_off),      OCLNN_ARG(dy->mem),
        OCLNN_ARG(dy_off),         OCLNN_ARG(gamma->mem), OCLNN_ARG(g_off),
        OCLNN_ARG(save_mean->mem), OCLNN_ARG(m_off),      OCLNN_ARG(save_invstd->mem),
        OCLNN_ARG(si_off),         OCLNN_ARG(dx->mem),    OCLNN_ARG(dx_off),
        OCLNN_ARG(dgamma->mem),    OCLNN_ARG(dg_off),     OCLNN_ARG(dbeta->mem),
        OCLNN_ARG(db_off),         OCLNN_ARG(beta_acc),   OCLNN_ARG(ma->beta),
        OCLNN_ARG(ma->b_off),      OCLNN_ARG(ma->relu),   OCLNN_ARG(sh->c),
        OCLNN_ARG(sh->hw),         OCLNN_ARG(count)};
    size_t global = (size_t)sh->c;
    return oclnn__launch(ctx, "batchnorm", k, args, sizeof args / sizeof args[0], 1, &global,
                         &plan->local);
}

oclnn_status oclnn__batchnorm_backward(oclnn_context *ctx, const oclnn_batchnorm_desc *desc,
                                       const oclnn_tensor *x, const oclnn_tensor *dy,
                                       const oclnn_tensor *gamma, const oclnn_tensor *relu_beta,
                                       const oclnn_tensor *save_mean,
                                       const oclnn_tensor *save_invstd, oclnn_tensor *dx,
                                       oclnn_tensor *dgamma, oclnn_tensor *dbeta, float beta_acc)
{
    static const char op[] = "batchnorm_backward";
    bn_shape sh;
    oclnn_status s = check_common(ctx, op, desc, x, &sh);
    if (s != OCLNN_SUCCESS)
        return s;
    if (beta_acc != 0.0f && beta_acc != 1.0f)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: beta_acc %g, must be 0 or 1", op,
                           (double)beta_acc);
    s = oclnn__norm_check_like_x(ctx, op, "dy", dy, x);
    if (s == OCLNN_SUCCESS)
        s = oclnn__norm_check_like_x(ctx, op, "dx", dx, x);
    const char *names[] = {"gamma", "save_mean", "save_invstd", "dgamma", "dbeta", "beta"};
    const oclnn_tensor *ts[] = {gamma, save_mean, save_invstd, dgamma, dbeta, relu_beta};
    if (s == OCLNN_SUCCESS)
        s = oclnn__norm_check_params(ctx, op, (size_t)sh.c, relu_beta ? 6 : 5, names, ts);
    if (s != OCLNN_SUCCESS)
        return s;
    const bn_mask_args ma = mask_args(gamma, relu_beta);

    /* x and dy read, dx written */
    oclnn__profile_work(ctx, "batchnorm", 0, 3.0 * sh.n * sh.c * sh.hw * sizeof(float));
    oclnn_norm_plan plan;
    oclnn__norm_plan(ctx, &plan);
    int count = sh.n * sh.hw, total = count * sh.c, chunk;
    int nchunks = oclnn__norm_chunks(&plan, sh.c, count, &chunk);
    if (nchunks == 1)
        return backward_fused(ctx, &plan, &sh, x, dy, gamma, save_mean, save_invstd, &ma, dx,
                              dgamma, dbeta, beta_acc);
    size_t part_floats = (size_t)sh.c * nchunks * 2;
    cl_kernel k_part, k_fin, k_dx;
    cl_mem ws;
    s = oclnn__kernel(ctx, "batchnorm.cl", plan.opts, "bn_bwd_partial", &k_part);
    if (s == OCLNN_SUCCESS)
        s = oclnn__kernel(ctx, "batchnorm.cl", plan.opts, "bn_bwd_finish", &k_fin);
    if (s == OCLNN_SUCCESS)
        s = oclnn__kernel(ctx, "batchnorm.cl", plan.opts, "bn_bwd_dx", &k_dx);
    if (s == OCLNN_SUCCESS)
        s = oclnn__workspace(ctx, (part_floats + 4 * (size_t)sh.c) * sizeof(float), op, &ws);
    if (s != OCLNN_SUCCESS)
        return s;
    /* Partials at [0, part_floats) of the workspace, the per-channel coefficients after. */
    int coef_off = (int)part_floats;
    int x_off = (int)x->offset, dy_off = (int)dy->offset, m_off = (int)save_mean->offset;
    int si_off = (int)save_invstd->offset, g_off = (int)gamma->offset;
    oclnn_arg a_part[] = {OCLNN_ARG(x->mem),
                          OCLNN_ARG(x_off),
                          OCLNN_ARG(dy->mem),
                          OCLNN_ARG(dy_off),
                          OCLNN_ARG(save_mean->mem),
                          OCLNN_ARG(m_off),
                          OCLNN_ARG(save_invstd->mem),
                          OCLNN_ARG(si_off),
                          OCLNN_ARG(gamma->mem),
                          OCLNN_ARG(g_off),
                          OCLNN_ARG(ma.beta),
                          OCLNN_ARG(ma.b_off),
                          OCLNN_ARG(ma.relu),
                          OCLNN_ARG(ws),
                          OCLNN_ARG(sh.c),
                          OCLNN_ARG(sh.hw),
                          OCLNN_ARG(count),
                          OCLNN_ARG(chunk),
                          OCLNN_ARG(nchunks)};
    size_t global = (size_t)sh.c * nchunks;
    s = oclnn__launch(ctx, "batchnorm", k_part, a_part, sizeof a_part / sizeof a_part[0], 1,
                      &global, &plan.local);
    if (s != OCLNN_SUCCESS)
        return s;

    int dg_off = (int)dgamma->offset, db_off = (int)dbeta->offset;
    oclnn_arg a_fin[] = {OCLNN_ARG(ws),
                         OCLNN_ARG(sh.c),
                         OCLNN_ARG(nchunks),
                         OCLNN_ARG(count),
                         OCLNN_ARG(save_invstd->mem),
                         OCLNN_ARG(si_off),
                         OCLNN_ARG(gamma->mem),
                         OCLNN_ARG(g_off),
                         OCLNN_ARG(dgamma->mem),
                         OCLNN_ARG(dg_off),
                         OCLNN_ARG(dbeta->mem),
                         OCLNN_ARG(db_off),
                         OCLNN_ARG(beta_acc),
                         OCLNN_ARG(ws),
                         OCLNN_ARG(coef_off)};
    global = (size_t)sh.c;
    s = oclnn__launch(ctx, "batchnorm", k_fin, a_fin, sizeof a_fin / sizeof a_fin[0], 1, &global,
                      &plan.local);
    if (s != OCLNN_SUCCESS)
        return s;

    int dx_off = (int)dx->offset;
    oclnn_arg a_dx[] = {OCLNN_ARG(x->mem),  OCLNN_ARG(x_off),          OCLNN_ARG(dy->mem),
                        OCLNN_ARG(dy_off),  OCLNN_ARG(save_mean->mem), OCLNN_ARG(m_off),
                        OCLNN_ARG(ws),      OCLNN_ARG(coef_off),       OCLNN_ARG(save_invstd->mem),
                        OCLNN_ARG(si_off),  OCLNN_ARG(gamma->mem),     OCLNN_ARG(g_off),
                        OCLNN_ARG(ma.beta), OCLNN_ARG(ma.b_off),       OCLNN_ARG(ma.relu),
                        OCLNN_ARG(dx->mem), OCLNN_ARG(dx_off),         OCLNN_ARG(sh.c),
                        OCLNN_ARG(sh.hw),   OCLNN_ARG(total)};
    global = oclnn__div_up((size_t)total, (size_t)plan.seg);
    return oclnn__launch(ctx, "batchnorm", k_dx, a_dx, sizeof a_dx / sizeof a_dx[0], 1, &global,
                         &plan.local);
}

oclnn_status oclnn_batchnorm_backward(oclnn_context *ctx, const oclnn_batchnorm_desc *desc,
                                      const oclnn_tensor *x, const oclnn_tensor *dy,
                                      const oclnn_tensor *gamma, const oclnn_tensor *save_mean,
                                      const oclnn_tensor *save_invstd, oclnn_tensor *dx,
                                      oclnn_tensor *dgamma, oclnn_tensor *dbeta, float beta_acc)
{
    return oclnn__batchnorm_backward(ctx, desc, x, dy, gamma, NULL, save_mean, save_invstd, dx,
                                     dgamma, dbeta, beta_acc);
}

oclnn_status oclnn_batchnorm_fold_conv(oclnn_context *ctx, const oclnn_batchnorm_desc *desc,
                                       const oclnn_tensor *w, const oclnn_tensor *b,
                                       const oclnn_tensor *gamma, const oclnn_tensor *beta,
                                       const oclnn_tensor *running_mean,
                                       const oclnn_tensor *running_var, oclnn_tensor *w_out,
                                       oclnn_tensor *b_out)
{
    static const char op[] = "batchnorm_fold_conv";
    oclnn_status s = check_desc(ctx, op, desc);
    if (s == OCLNN_SUCCESS)
        s = oclnn__check_tensor(ctx, op, "w", w);
    if (s == OCLNN_SUCCESS && w->desc.ndim != 4)
        s = oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                        "%s: w has ndim %d, must be 4 ([k][c/groups][r][s])", op, w->desc.ndim);
    if (s == OCLNN_SUCCESS)
        s = oclnn__norm_check_like_x(ctx, op, "w_out", w_out, w);
    if (s != OCLNN_SUCCESS)
        return s;
    const int k = w->desc.dims[0];
    const char *names[] = {"gamma", "beta", "running_mean", "running_var", "b_out", "b"};
    const oclnn_tensor *ts[] = {gamma, beta, running_mean, running_var, b_out, b};
    s = oclnn__norm_check_params(ctx, op, (size_t)k, b ? 6 : 5, names, ts);
    if (s != OCLNN_SUCCESS)
        return s;
    /* From the program that inference's normalisation builds (no compile of its own). */
    oclnn_norm_plan plan;
    oclnn__norm_plan(ctx, &plan);
    char opts[160];
    snprintf(opts, sizeof opts, "%s -DFROM_VAR=1", plan.opts);
    cl_kernel kern;
    s = oclnn__kernel(ctx, "batchnorm.cl", opts, "bn_fold_conv", &kern);
    if (s != OCLNN_SUCCESS)
        return s;
    int per = (int)(oclnn_tensor_desc_count(&w->desc) / (size_t)k), has_b = b != NULL;
    int w_off = (int)w->offset, b_off = b ? (int)b->offset : 0, g_off = (int)gamma->offset;
    int be_off = (int)beta->offset, m_off = (int)running_mean->offset;
    int v_off = (int)running_var->offset, wo_off = (int)w_out->offset, bo_off = (int)b_out->offset;
    float eps = desc->eps;
    cl_mem bm = b ? b->mem : gamma->mem; /* never read without a bias */
    oclnn_arg args[] = {OCLNN_ARG(w->mem), OCLNN_ARG(w_off),
                        OCLNN_ARG(bm),     OCLNN_ARG(b_off),
                        OCLNN_ARG(has_b),  OCLNN_ARG(gamma->mem),
                        OCLNN_ARG(g_off),  OCLNN_ARG(beta->mem),
                        OCLNN_ARG(be_off), OCLNN_ARG(running_mean->mem),
                        OCLNN_ARG(m_off),  OCLNN_ARG(running_var->mem),
                        OCLNN_ARG(v_off),  OCLNN_ARG(w_out->mem),
                        OCLNN_ARG(wo_off), OCLNN_ARG(b_out->mem),
                        OCLNN_ARG(bo_off), OCLNN_ARG(k),
                        OCLNN_ARG(per),    OCLNN_ARG(eps)};
    size_t global = (size_t)k * per, local = 64;
    return oclnn__launch(ctx, "batchnorm", kern, args, sizeof args / sizeof args[0], 1, &global,
                         &local);
}
