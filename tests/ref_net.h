/* ref_net.h - a plain C, double-precision reference of the network layers the shipped models
 * use (conv with groups/stride/padding and fused ReLU, batch norm, layer norm in both modes,
 * ReLU/GELU, max/avg pooling, global average pooling, flatten, linear, layer scale, residual
 * add, softmax cross-entropy), their backward passes and the SGD/AdamW updates, with the same
 * layer vocabulary, parameter order and initialisation as oclnn_net (see oclnn.h). */
#ifndef OCLNN_TEST_REF_NET_H
#define OCLNN_TEST_REF_NET_H

#include "oclnn.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ref_net ref_net;

ref_net *ref_net_create(void);
void ref_net_destroy(ref_net *r);

/* Each add returns the new layer's number; the input is the previous layer unless
 * ref_net_branch chose another (-1: the network input), exactly as oclnn_net_*. */
void ref_net_branch(ref_net *r, int from);
int ref_net_conv(ref_net *r, const oclnn_net_conv_desc *d);
int ref_net_batchnorm(ref_net *r, double eps, double momentum);
int ref_net_layernorm(ref_net *r, oclnn_layernorm_mode mode, double eps);
int ref_net_activation(ref_net *r, oclnn_activation act);
int ref_net_pool(ref_net *r, const oclnn_pool2d_desc *d);
int ref_net_gap(ref_net *r);
int ref_net_flatten(ref_net *r);
int ref_net_linear(ref_net *r, int out_features, int bias);
int ref_net_layer_scale(ref_net *r, double init);
int ref_net_residual(ref_net *r, int from, oclnn_activation act);
int ref_net_loss(ref_net *r);

/* Shapes and He-normal initialisation from seed (oclnn_net_compile's recipe). */
void ref_net_compile(ref_net *r, int batch, int c, int h, int w, uint64_t seed);

/* Parameters and BN running statistics in oclnn_net_get_params order. */
size_t ref_net_param_count(const ref_net *r);
void ref_net_get_params(const ref_net *r, double *out);
/* Number of layers and the output shape of layer i (ndim 1, 2 or 4 as oclnn_net_layer_info). */
int ref_net_layers(const ref_net *r);
oclnn_tensor_desc ref_net_layer_out(const ref_net *r, int i);

/* Forward in training mode (batch statistics) and the mean loss; with `backward` set, also
 * the parameter gradients. */
double ref_net_loss_and_grad(ref_net *r, const float *x, const int32_t *labels, int backward);
/* Forward in inference mode (batch norm with the running statistics, which stay unchanged)
 * up to the loss; returns the logits [batch][classes]. */
const double *ref_net_infer(ref_net *r, const float *x);
/* One optimizer update from the last gradients at learning rate lr (desc's lr is ignored;
 * AdamW when adam, SGD otherwise); step counts from 0. */
void ref_net_update(ref_net *r, const oclnn_net_train_desc *t, double lr, long step);
/* Layer i's output after the last forward ([n][c][h][w] order). */
const double *ref_net_output(const ref_net *r, int i);
/* Flat access to parameter i's value and gradient (layer order, trainable and statistics). */
double *ref_net_param(ref_net *r, size_t i, double **grad);

#endif
