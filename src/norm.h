/* norm.h - what batch norm and layer norm share: the device-dependent launch plan (vector width,
 * block and segment sizes, work split) chosen in one place, and argument checks. Internal. */
#ifndef OCLNN_NORM_H
#define OCLNN_NORM_H

#include "internal.h"

typedef struct oclnn_norm_plan {
    int vec;        /* float vector width of the inner loops (VEC) */
    int seg;        /* elements per work-item of the element-wise kernels (SEG) */
    int tile;       /* vectors of positions per step of channels layer norm (TILE) */
    int drun;       /* elements of d per work-item of CHW layer norm (DRUN) */
    int run;        /* positions per work-item of channels layer norm (RUN) */
    int target;     /* work-items wanted for a reduction pass */
    int min_chunk;  /* fewest elements worth a work-item of a reduction */
    size_t local;   /* local size of every 1-D norm kernel */
    char opts[128]; /* "-DVEC=.. -DBLK=.. -DSEG=.. -DTILE=.. -DDRUN=.. -DRUN=.." */
} oclnn_norm_plan;

/* The plan for ctx's device. */
void oclnn__norm_plan(const oclnn_context *ctx, oclnn_norm_plan *plan);

/* Splits each of `groups` groups of `count` elements into chunks for the reduction kernels:
 * returns the number of chunks per group and sets *chunk to the elements per chunk. */
int oclnn__norm_chunks(const oclnn_norm_plan *plan, int groups, int count, int *chunk);

/* Fails with OCLNN_UNSUPPORTED when the tensor's offset + elements exceed INT_MAX: the kernels
 * index with int. */
oclnn_status oclnn__norm_check_int(oclnn_context *ctx, const char *op, const char *name,
                                   const oclnn_tensor *t);

/* Checks t is a non-NULL f32 tensor of ctx with the shape of x ("dy [..] does not match
 * x [..]") that the kernels can index with int. */
oclnn_status oclnn__norm_check_like_x(oclnn_context *ctx, const char *op, const char *name,
                                      const oclnn_tensor *t, const oclnn_tensor *x);

/* Checks each of the n named tensors ts is a non-NULL f32 tensor of ctx with `count` elements
 * that the kernels can index with int; fails on the first that is not. */
oclnn_status oclnn__norm_check_params(oclnn_context *ctx, const char *op, size_t count, size_t n,
                                      const char *const *names, const oclnn_tensor *const *ts);

#endif
