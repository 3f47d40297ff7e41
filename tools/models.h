/* models.h - the models oclnn-train ships (lenet, resnet, convnext), built with the public API
 * only so users can copy them; tests link models.c to train exactly these. */
#ifndef OCLNN_TOOLS_MODELS_H
#define OCLNN_TOOLS_MODELS_H

#include "oclnn.h"

/* A model's recommended training setup. train.total_steps and warmup_steps are left for the
 * caller (they depend on the data size): warm-up is `warmup_epochs` epochs. */
typedef struct model_setup {
    int batch;
    oclnn_net_train_desc train;
    int warmup_epochs;
} model_setup;

/* "lenet", "resnet", "convnext" (NULL-terminated). */
extern const char *const model_names[];

/* Builds model `name` for 10 classes into a new, uncompiled net (the caller compiles it for
 * its input shape and destroys it) and fills *setup (may be NULL). Errors:
 * OCLNN_INVALID_ARGUMENT for an unknown name, or what a layer add returned. */
oclnn_status model_build(oclnn_context *ctx, const char *name, oclnn_net **out, model_setup *setup);

#endif
