/* ref_depthwise.h - plain C references for depthwise convolution, accumulating in double, with
 * the sum of |terms| of every output so tests can bound float rounding relative to it. */
#ifndef OCLNN_TEST_REF_DEPTHWISE_H
#define OCLNN_TEST_REF_DEPTHWISE_H

#include "conv.h"

/* y[n][k][oh][ow] = act(conv(x, w) + b (+ z)) (+ z); b and z may be NULL. abs_sum (may be NULL)
 * receives sum |x*w| + |b| + |z| per output, the scale of its rounding error. */
void ref_dw_forward(const oclnn_conv_geom *g, const double *x, const double *w, const double *b,
                    const double *z, oclnn_activation act, int residual_before_act, double *y,
                    double *abs_sum);
/* dx[n][c][h][w] = d(sum y*dy)/dx for the convolution alone. */
void ref_dw_backward_data(const oclnn_conv_geom *g, const double *dy, const double *w, double *dx,
                          double *abs_sum);
/* dw[k][r][s] and db[k] (db, db_abs may be NULL). */
void ref_dw_backward_weights(const oclnn_conv_geom *g, const double *x, const double *dy,
                             double *dw, double *dw_abs, double *db, double *db_abs);
/* The activation in double (for the reference and its tests). */
double ref_dw_activate(oclnn_activation act, double v);

#endif
