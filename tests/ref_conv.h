/* ref_conv.h - plain C reference 2-D convolution (NCHW, double accumulation) for the tests:
 * forward with bias, activation and residual, backward data, weights and bias. Each also gives
 * the sum of |terms| of every output element, for tolerances relative to it. */
#ifndef OCLNN_REF_CONV_H
#define OCLNN_REF_CONV_H

typedef struct ref_conv {
    int n, c, h, w; /* x[n][c][h][w] */
    int k, r, s;    /* w[k][c/groups][r][s] */
    int pt, pb, pl, pr, sh, sw, dh, dw, groups;
    int oh, ow; /* set by ref_conv_shape */
} ref_conv;

/* Computes oh and ow; returns 0 if the window does not fit the padded input. */
int ref_conv_shape(ref_conv *p);
double ref_act(double v, int act); /* oclnn_activation codes */

/* y = act(conv + b) + z, or act(conv + b + z) with res_before; b and z may be NULL. terms (may
 * be NULL) receives sum |x*w| + |b| + |z| per output. */
void ref_conv_forward(const ref_conv *p, const double *x, const double *w, const double *b,
                      const double *z, int act, int res_before, double *y, double *terms);
/* dx = d(sum y*dy)/dx for the plain convolution (no epilogue). */
void ref_conv_backward_data(const ref_conv *p, const double *dy, const double *w, double *dx,
                            double *terms);
/* dw and db (db, db_terms may be NULL). */
void ref_conv_backward_weights(const ref_conv *p, const double *x, const double *dy, double *dw,
                               double *dw_terms, double *db, double *db_terms);

#endif
