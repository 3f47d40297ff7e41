/* conv_layers.c - the named convolution layers of the benchmark and the tuner. */
#include "conv_layers.h"

#include <stdio.h>

const conv_layer conv_layers[] = {
    /* ResNet-18 3x3 stride 1, one per stage */
    {"r18.3x3.64@56", 64, 56, 56, 64, 3, 3, 1, 1, 1},
    {"r18.3x3.128@28", 128, 28, 28, 128, 3, 3, 1, 1, 1},
    {"r18.3x3.256@14", 256, 14, 14, 256, 3, 3, 1, 1, 1},
    {"r18.3x3.512@7", 512, 7, 7, 512, 3, 3, 1, 1, 1},
    /* ResNet-18 stage entries: 3x3 stride 2 and the 1x1 stride-2 projections */
    {"r18.3x3s2.64>128@56", 64, 56, 56, 128, 3, 3, 2, 1, 1},
    {"r18.3x3s2.128>256@28", 128, 28, 28, 256, 3, 3, 2, 1, 1},
    {"r18.3x3s2.256>512@14", 256, 14, 14, 512, 3, 3, 2, 1, 1},
    {"r18.1x1s2.64>128@56", 64, 56, 56, 128, 1, 1, 2, 0, 1},
    {"r18.1x1s2.128>256@28", 128, 28, 28, 256, 1, 1, 2, 0, 1},
    {"r18.1x1s2.256>512@14", 256, 14, 14, 512, 1, 1, 2, 0, 1},
    /* ResNet-18 stem */
    {"r18.stem7x7s2.3>64@224", 3, 224, 224, 64, 7, 7, 2, 3, 1},
    /* ConvNeXt-T depthwise 7x7 (stages 1-3) and the stage-1 1x1 expansion */
    {"cnx.dw7x7.96@56", 96, 56, 56, 96, 7, 7, 1, 3, 96},
    {"cnx.dw7x7.192@28", 192, 28, 28, 192, 7, 7, 1, 3, 192},
    {"cnx.dw7x7.384@14", 384, 14, 14, 384, 7, 7, 1, 3, 384},
    {"cnx.1x1.96>384@56", 96, 56, 56, 384, 1, 1, 1, 0, 1},
    /* LeNet on Fashion-MNIST */
    {"lenet.3x3.1>32@28", 1, 28, 28, 32, 3, 3, 1, 1, 1},
    {"lenet.3x3.32>64@14", 32, 14, 14, 64, 3, 3, 1, 1, 1},
};
const int CONV_NLAYERS = (int)(sizeof conv_layers / sizeof conv_layers[0]);


void conv_layer_output(const conv_layer *l, int *oh, int *ow)
{
    /* Stride and padding are the same in both directions, dilation 1. */
    *oh = (l->h + 2 * l->pad - l->r) / l->stride + 1;
    *ow = (l->w + 2 * l->pad - l->s) / l->stride + 1;
}

oclnn_conv_tune_shape conv_layer_shape(const conv_layer *l, int n)
{
    oclnn_conv_tune_shape sh;
    snprintf(sh.name, sizeof sh.name, "%s", l->name);
    sh.x = oclnn_tensor_desc_4d(n, l->c, l->h, l->w);
    sh.w = oclnn_tensor_desc_4d(l->k, l->c / l->groups, l->r, l->s);
    sh.conv = oclnn_conv2d_desc_default();
    oclnn_conv2d_desc_set_pad(&sh.conv, l->pad, l->pad);
    sh.conv.stride_h = sh.conv.stride_w = l->stride;
    sh.conv.groups = l->groups;
    return sh;
}
