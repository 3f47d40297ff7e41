/* conv_layers.h - the named convolution layers of ResNet-18, ConvNeXt-T and LeNet that
 * oclnn-bench times (bench_conv.c) and oclnn-tune tunes. */
#ifndef OCLNN_CONV_LAYERS_H
#define OCLNN_CONV_LAYERS_H

#include "oclnn.h"

typedef struct conv_layer {
    const char *name;
    int c, h, w;     /* input channels and size */
    int k, r, s;     /* output channels, kernel */
    int stride, pad; /* both directions; dilation 1 */
    int groups;
} conv_layer;

extern const conv_layer conv_layers[];
extern const int CONV_NLAYERS;

/* The output size of l. */
void conv_layer_output(const conv_layer *l, int *oh, int *ow);
/* l at batch n as a tuning shape (x, w and the descriptor, named as l). */
oclnn_conv_tune_shape conv_layer_shape(const conv_layer *l, int n);

#endif
