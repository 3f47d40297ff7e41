/* ref_norm.h - plain C references in double for batch norm, layer norm and linear layers; the
 * tests compare the device against these and check these against finite differences. */
#ifndef OCLNN_TEST_REF_NORM_H
#define OCLNN_TEST_REF_NORM_H

/* Batch norm over (n, hw) per channel of x[n][c][hw]. mean/invstd/var_unbiased: [c]; y,
 * mean, invstd and var_unbiased may each be NULL (not wanted). */
void ref_bn_forward_train(const double *x, int n, int c, int hw, const double *gamma,
                          const double *beta, double eps, double *y, double *mean, double *invstd,
                          double *var_unbiased);
void ref_bn_forward_infer(const double *x, int n, int c, int hw, const double *gamma,
                          const double *beta, const double *rmean, const double *rvar, double eps,
                          double *y);
/* Gradients of the training forward (batch statistics recomputed from x). */
void ref_bn_backward(const double *x, const double *dy, int n, int c, int hw, const double *gamma,
                     double eps, double *dx, double *dgamma, double *dbeta);

/* Layer norm of x[n][c][hw]. chw != 0: one group per n over c*hw elements, gamma/beta [c*hw];
 * chw == 0: one group per (n, hw) over c, gamma/beta [c]. mean/invstd: one per group, groups
 * ordered as n (chw) or n*hw + position (channels). */
void ref_ln_forward(int chw, const double *x, int n, int c, int hw, const double *gamma,
                    const double *beta, double eps, double *y, double *mean, double *invstd);
void ref_ln_backward(int chw, const double *x, const double *dy, int n, int c, int hw,
                     const double *gamma, double eps, double *dx, double *dgamma, double *dbeta);
/* Magnitudes of the terms behind each layer-norm result, for tolerances: y_bound = |gamma| invstd
 * (|x| + |mean|) + |beta|; dx_bound = invstd (|gamma dy| + |xhat| sum|gamma dy xhat| / len +
 * sum|gamma dy| / len); dgamma_bound = sum |dy| invstd (|x| + |mean|); dbeta_bound = sum |dy|. */
void ref_ln_bounds(int chw, const double *x, const double *dy, int n, int c, int hw,
                   const double *gamma, const double *beta, double eps, double *y_bound,
                   double *dx_bound, double *dgamma_bound, double *dbeta_bound);

/* y[n][o] = sum_i x[n][i] w[o][i] + b[o] (b may be NULL). */
void ref_linear_forward(const double *x, const double *w, const double *b, int n, int in, int out,
                        double *y);
/* dx = dy w, dw = dy^T x, db = sum_n dy. */
void ref_linear_backward(const double *x, const double *w, const double *dy, int n, int in, int out,
                         double *dx, double *dw, double *db);

#endif
