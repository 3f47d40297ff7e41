/* ref_layers.h - plain C references (double accumulation) for pooling, activations, the channel
 * scale, softmax / cross-entropy and the optimisers; the tests compare the device against them. */
#ifndef OCLNN_TEST_REF_LAYERS_H
#define OCLNN_TEST_REF_LAYERS_H

#include "oclnn.h"

#include <stddef.h>
#include <stdint.h>

/* Pooling over x[planes][h][w] (planes = n * c); y[planes][oh][ow] with oh, ow from desc. */
void ref_pool2d_forward(const oclnn_pool2d_desc *d, int planes, int h, int w, const double *x,
                        double *y);
/* Scatter form (the device gathers): each window routes dy to its first arg-max (max) or shares
 * it over its divisor (avg). dx is overwritten. */
void ref_pool2d_backward(const oclnn_pool2d_desc *d, int planes, int h, int w, const double *x,
                         const double *dy, double *dx);
void ref_pool2d_out(const oclnn_pool2d_desc *d, int h, int w, int *oh, int *ow);

double ref_act(oclnn_activation act, double x);
/* d act / dx at x. */
double ref_act_grad(oclnn_activation act, double x);

/* softmax (log = 0) or log-softmax of rows x[n][k]. */
void ref_softmax(int n, int k, const double *x, double *y, int log);
/* Mean cross-entropy loss of rows x[n][k] with labels. */
double ref_ce_loss(int n, int k, const double *x, const int32_t *labels);
/* dL/dx of scale * mean loss. */
void ref_ce_grad(int n, int k, const double *x, const int32_t *labels, double scale, double *dx);
int ref_accuracy(int n, int k, const float *x, const int32_t *labels);

/* PyTorch SGD / Adam on double state. */
void ref_sgd_step(const oclnn_sgd_desc *d, size_t n, double *p, const double *g, double *buf,
                  int first_step);
void ref_adam_step(const oclnn_adam_desc *d, long step, size_t n, double *p, const double *g,
                   double *m, double *v);

/* Helpers. */
double *ref_from_float(const float *p, size_t n); /* new double copy */
/* Centred finite difference of f at x[i] with step h (x restored). */
double ref_central_diff(double (*f)(const double *x, void *arg), double *x, size_t i, double h,
                        void *arg);

#endif
