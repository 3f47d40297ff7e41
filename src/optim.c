/* optim.c - optimiser steps (SGD, Adam/AdamW: one vectorised kernel per step over the parameter
 * buffer, cl/optim.cl) and the host-side cosine learning-rate schedule. */
#include "internal.h"

#include <math.h>

#define OPT_VEC 8
#define STR_(x) #x
#define STR(x) STR_(x)
#define OPT_OPTS "-DVEC=" STR(OPT_VEC)
#define OPT_LOCAL 64

/* v must be finite and >= 0 ("lr -0.1 must be a finite value >= 0"). */
static oclnn_status check_nonneg(oclnn_context *ctx, const char *op, const char *name, float v)
{
    if (!isfinite(v) || v < 0.0f)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: %s %g must be a finite value >= 0", op,
                           name, (double)v);
    return OCLNN_SUCCESS;
}

static oclnn_status check_like(oclnn_context *ctx, const char *op, const char *name,
                               const oclnn_tensor *t, size_t n)
{
    oclnn_status s = oclnn__check_tensor(ctx, op, name, t);
    return s == OCLNN_SUCCESS ? oclnn__check_count(ctx, op, name, t, n) : s;
}

/* Checks param, and grad with as many elements; sets *n to that count. */
static oclnn_status check_param_grad(oclnn_context *ctx, const char *op, const oclnn_tensor *param,
                                     const oclnn_tensor *grad, size_t *n)
{
    oclnn_status s = oclnn__check_tensor(ctx, op, "param", param);
    if (s != OCLNN_SUCCESS)
        return s;
    *n = oclnn_tensor_desc_count(&param->desc);
    return check_like(ctx, op, "grad", grad, *n);
}

static oclnn_status launch(oclnn_context *ctx, const char *op, const char *name,
                           const oclnn_arg *args, size_t nargs, size_t n)
{
    cl_kernel k;
    oclnn_status s = oclnn__kernel(ctx, "optim.cl", OPT_OPTS, name, &k);
    if (s != OCLNN_SUCCESS)
        return s;
    size_t global = oclnn__div_up(n, OPT_VEC), local = OPT_LOCAL;
    return oclnn__launch(ctx, op, k, args, nargs, 1, &global, &local);
}

oclnn_status oclnn_sgd_step(oclnn_context *ctx, const oclnn_sgd_desc *desc, oclnn_tensor *param,
                            const oclnn_tensor *grad, oclnn_tensor *momentum_buf, int first_step)
{
    const char *op = "sgd_step";
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "%s: ctx is NULL", op);
    if (!desc)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: desc is NULL", op);
    oclnn_status s = check_nonneg(ctx, op, "lr", desc->lr);
    if (s == OCLNN_SUCCESS)
        s = check_nonneg(ctx, op, "momentum", desc->momentum);
    if (s == OCLNN_SUCCESS)
        s = check_nonneg(ctx, op, "weight_decay", desc->weight_decay);
    if (s == OCLNN_SUCCESS && desc->nesterov && desc->momentum == 0.0f)
        s = oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                        "%s: nesterov needs a momentum > 0 (momentum is 0)", op);
    size_t n = 0;
    if (s == OCLNN_SUCCESS)
        s = check_param_grad(ctx, op, param, grad, &n);
    int use_mom = desc->momentum != 0.0f;
    if (s == OCLNN_SUCCESS && use_mom)
        s = momentum_buf ? check_like(ctx, op, "momentum_buf", momentum_buf, n)
                         : oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                                       "%s: momentum_buf is NULL with momentum %g", op,
                                       (double)desc->momentum);
    if (s != OCLNN_SUCCESS)
        return s;
    /* Without momentum the buffer argument is a placeholder the kernel never touches. */
    const oclnn_tensor *b = use_mom ? momentum_buf : param;
    cl_ulong po = param->offset, go = grad->offset, bo = b->offset, cn = n;
    float lr = desc->lr, mom = desc->momentum, wd = desc->weight_decay;
    int first = first_step != 0, nesterov = desc->nesterov != 0;
    oclnn_arg args[] = {OCLNN_ARG(param->mem), OCLNN_ARG(po),      OCLNN_ARG(grad->mem),
                        OCLNN_ARG(go),         OCLNN_ARG(b->mem),  OCLNN_ARG(bo),
                        OCLNN_ARG(cn),         OCLNN_ARG(lr),      OCLNN_ARG(mom),
                        OCLNN_ARG(wd),         OCLNN_ARG(use_mom), OCLNN_ARG(first),
                        OCLNN_ARG(nesterov)};
    /* param and grad read, param written; the momentum read and written when used */
    oclnn__profile_work(ctx, "sgd", 0, (use_mom ? 5.0 : 3.0) * n * sizeof(float));
    return launch(ctx, "sgd", "sgd_step", args, sizeof args / sizeof args[0], n);
}

oclnn_adam_desc oclnn_adam_desc_default(void)
{
    return (oclnn_adam_desc){1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 0};
}

static oclnn_status check_beta(oclnn_context *ctx, const char *op, const char *name, float v)
{
    if (!(v >= 0.0f && v < 1.0f))
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: %s %g must be in [0, 1)", op, name,
                           (double)v);
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_adam_step(oclnn_context *ctx, const oclnn_adam_desc *desc, long step,
                             oclnn_tensor *param, const oclnn_tensor *grad, oclnn_tensor *m,
                             oclnn_tensor *v)
{
    const char *op = "adam_step";
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "%s: ctx is NULL", op);
    if (!desc)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: desc is NULL", op);
    oclnn_status s = check_nonneg(ctx, op, "lr", desc->lr);
    if (s == OCLNN_SUCCESS)
        s = check_beta(ctx, op, "beta1", desc->beta1);
    if (s == OCLNN_SUCCESS)
        s = check_beta(ctx, op, "beta2", desc->beta2);
    if (s == OCLNN_SUCCESS && !(isfinite(desc->eps) && desc->eps > 0.0f))
        s = oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: eps %g must be a finite value > 0", op,
                        (double)desc->eps);
    if (s == OCLNN_SUCCESS)
        s = check_nonneg(ctx, op, "weight_decay", desc->weight_decay);
    if (s == OCLNN_SUCCESS && step < 1)
        s = oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: step %ld must be >= 1", op, step);
    size_t n = 0;
    if (s == OCLNN_SUCCESS)
        s = check_param_grad(ctx, op, param, grad, &n);
    if (s == OCLNN_SUCCESS)
        s = check_like(ctx, op, "m", m, n);
    if (s == OCLNN_SUCCESS)
        s = check_like(ctx, op, "v", v, n);
    if (s != OCLNN_SUCCESS)
        return s;
    /* Bias corrections in double on the host: beta^step underflows gracefully to 0. */
    double bc1 = 1.0 - pow(desc->beta1, (double)step);
    double bc2 = 1.0 - pow(desc->beta2, (double)step);
    float step_size = (float)(desc->lr / bc1), inv_bc2 = (float)(1.0 / sqrt(bc2));
    float decay = desc->decoupled ? (float)(1.0 - (double)desc->lr * desc->weight_decay) : 1.0f;
    float l2 = desc->decoupled ? 0.0f : desc->weight_decay;
    float b1 = desc->beta1, b2 = desc->beta2, eps = desc->eps;
    cl_ulong po = param->offset, go = grad->offset, mo = m->offset, vo = v->offset, cn = n;
    oclnn_arg args[] = {
        OCLNN_ARG(param->mem), OCLNN_ARG(po),      OCLNN_ARG(grad->mem), OCLNN_ARG(go),
        OCLNN_ARG(m->mem),     OCLNN_ARG(mo),      OCLNN_ARG(v->mem),    OCLNN_ARG(vo),
        OCLNN_ARG(cn),         OCLNN_ARG(b1),      OCLNN_ARG(b2),        OCLNN_ARG(eps),
        OCLNN_ARG(step_size),  OCLNN_ARG(inv_bc2), OCLNN_ARG(decay),     OCLNN_ARG(l2)};
    /* param, grad, m and v read, param, m and v written */
    oclnn__profile_work(ctx, "adam", 0, 7.0 * n * sizeof(float));
    return launch(ctx, "adam", "adam_step", args, sizeof args / sizeof args[0], n);
}

oclnn_status oclnn_lr_cosine(double base_lr, double min_lr, long step, long warmup, long total,
                             double *lr)
{
    const char *op = "lr_cosine";
    if (!lr)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "%s: lr is NULL", op);
    *lr = 0;
    if (!isfinite(base_lr) || !isfinite(min_lr))
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT,
                           "%s: base_lr %g and min_lr %g must be finite", op, base_lr, min_lr);
    if (warmup < 0)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "%s: warmup %ld must be >= 0", op, warmup);
    if (total <= warmup)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT,
                           "%s: total %ld must be larger than warmup %ld", op, total, warmup);
    if (step < 0)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "%s: step %ld must be >= 0", op, step);
    if (step < warmup) {
        *lr = base_lr * (double)(step + 1) / (double)warmup;
        return OCLNN_SUCCESS;
    }
    /* Past the end the schedule stays at min_lr instead of climbing back up. */
    long t = step < total ? step : total;
    double progress = (double)(t - warmup) / (double)(total - warmup);
    *lr = min_lr + (base_lr - min_lr) * 0.5 * (1.0 + cos(M_PI * progress));
    return OCLNN_SUCCESS;
}
