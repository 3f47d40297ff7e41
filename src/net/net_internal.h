/* net_internal.h - the network's data structures, shared by the scheduler (net.c) and the
 * checkpoint reader/writer (checkpoint.c); never installed. */
#ifndef OCLNN_NET_INTERNAL_H
#define OCLNN_NET_INTERNAL_H

#include "../internal.h"

/* Host staging copies of the batch: an upload may still be reading one while the next steps
 * are enqueued. */
#define NET_STAGES 4

typedef enum net_kind {
    NET_CONV,
    NET_BATCHNORM,
    NET_LAYERNORM,
    NET_ACTIVATION,
    NET_POOL,
    NET_GLOBAL_AVG_POOL,
    NET_FLATTEN,
    NET_LINEAR,
    NET_LAYER_SCALE,
    NET_RESIDUAL,
    NET_SOFTMAX_CE,
} net_kind;

typedef enum net_init { INIT_HE, INIT_ZERO, INIT_ONE, INIT_CONST } net_init;

/* One parameter tensor (weight, bias, gamma, beta) or BN running statistic. */
typedef struct net_param {
    char name[96]; /* "conv1.weight" */
    oclnn_tensor_desc desc;
    size_t count;
    size_t offset;  /* elements into the parameter buffer */
    bool trainable; /* false: running statistics */
    bool decay;     /* weight decay applies */
    net_init init;
    float init_value;
    int fan_in;
    oclnn_tensor *p, *g, *m, *v; /* views: value, gradient, optimizer state (m: momentum) */
} net_param;

typedef struct net_layer {
    net_kind kind;
    char name[64];
    int in, in2; /* input layers (-1: the network input; in2 only for residual) */
    oclnn_net_conv_desc conv;
    oclnn_batchnorm_desc bn;
    oclnn_layernorm_desc ln;
    oclnn_pool2d_desc pool;
    oclnn_activation act;
    int out_features, bias;
    float init;
    /* compiled */
    oclnn_tensor_desc out;
    bool inplace; /* ReLU writing over its input */
    /* A batch norm whose output only an in-place ReLU reads runs that ReLU itself (bn_relu), in
     * the forward pass and, masking dy, in the backward; the ReLU layer (in_bn) then runs
     * nothing, and its output's gradient is the batch norm's (as flatten's is its input's). */
    bool bn_relu, in_bn;
    int params[4];   /* indices into net->params, -1 unused: weight/gamma, bias/beta,
                      * running_mean, running_var */
    int gnode;       /* the layer whose gradient buffer holds this output's gradient */
    int grad_slab;   /* slab index of this layer's gradient (gnode == self), -1 none */
    oclnn_tensor *y; /* forward output (may share the input's buffer) */
    oclnn_tensor *save_mean, *save_invstd;
    oclnn_tensor *probs;
    oclnn_tensor *argmax; /* max pooling in training: the forward's arg-max codes (u8) */
    oclnn_tensor *dy;     /* gradient of the output, in the gnode's slab */
    oclnn_tensor *dx[2];  /* gradient of each input, shaped like that input */
    oclnn_tensor *tmp[2]; /* the accumulation scratch, shaped like each input */
    /* Inference: a convolution whose only reader is a batch norm runs with it folded into its
     * weights and bias (fold_w, fold_b), writing the batch norm's output; that layer is then
     * `folded` and skipped. */
    int fold_into; /* that batch norm layer, -1 none */
    bool folded;
    oclnn_tensor *fold_w, *fold_b;
} net_layer;

struct oclnn_net {
    oclnn_context *ctx;
    char name[64];
    net_layer *layers;
    int nlayers, cap;
    int cursor; /* input of the next layer added */
    bool compiled;
    bool inference_only; /* compiled without a train desc: no gradients, no state */
    /* after compile */
    int batch, classes;
    oclnn_tensor_desc in_desc;
    oclnn_net_train_desc train;
    net_param *params;
    int nparams;
    size_t n_decay, n_nodecay, n_stats; /* element counts of the parameter buffer's sections */
    oclnn_tensor *pbuf, *gbuf, *mbuf, *vbuf;
    oclnn_tensor *group_p[2], *group_g[2], *group_m[2], *group_v[2]; /* decay / no decay */
    oclnn_tensor *x, *labels;
    oclnn_tensor **acts; /* owned activation buffers */
    int nacts;
    oclnn_tensor **slabs; /* gradient slabs */
    int nslabs;
    oclnn_tensor *scratch; /* gradient accumulation scratch (NULL when never needed) */
    bool *written;         /* per layer, during backward: gradient holds a contribution */
    /* staging: host copies of the batch, uploaded without blocking */
    float *stage_x[NET_STAGES];
    int32_t *stage_labels[NET_STAGES];
    cl_event stage_ev[NET_STAGES];
    int stage_next;
    /* statistics ring */
    oclnn_tensor *loss_ring, *correct_ring;
    oclnn_tensor *loss_slot[OCLNN_NET_STAT_SLOTS], *correct_slot[OCLNN_NET_STAT_SLOTS];
    int pending;
    double acc_loss;
    long acc_correct, acc_images, acc_steps;
    float *logits_host;
    long step;
    oclnn_net_memory mem;
};

#endif
