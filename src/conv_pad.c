/* conv_pad.c - the zero-padded copies of input planes that the flat DIRECT and the depthwise
 * tile kernels read without bounds checks (cl/conv2d_depthwise_pad.cl). */
#include "conv.h"

#define CL_FILE "conv2d_depthwise_pad.cl"
#define LOCAL 64

/* Where the copy is the source itself followed by zero rows. */
static bool in_order(const oclnn_plane_pad *p)
{
    return p->pad_t == 0 && p->pad_l == 0 && p->hp == p->h && p->wp == p->w;
}

oclnn_status oclnn__pad_planes(oclnn_context *ctx, const char *op, const oclnn_plane_pad *p,
                               cl_mem src, size_t src_off, cl_mem dst, size_t dst_off)
{
    const bool flat = in_order(p);
    cl_kernel k;
    oclnn_status s = oclnn__kernel(ctx, CL_FILE, NULL, flat ? "dw_pad_flat" : "dw_pad", &k);
    if (s != OCLNN_SUCCESS)
        return s;
    cl_ulong so = src_off, dso = dst_off;
    if (flat) {
        cl_ulong count = (cl_ulong)p->nplanes * p->h * p->w, total = (cl_ulong)p->nrows * p->wp;
        oclnn_arg args[] = {OCLNN_ARG(src), OCLNN_ARG(so),    OCLNN_ARG(dst),
                            OCLNN_ARG(dso), OCLNN_ARG(count), OCLNN_ARG(total)};
        size_t global = oclnn__div_up((size_t)total, 64), local = LOCAL;
        return oclnn__launch(ctx, op, k, args, sizeof args / sizeof args[0], 1, &global, &local);
    }
    oclnn_arg args[] = {OCLNN_ARG(src),      OCLNN_ARG(so),         OCLNN_ARG(dst),
                        OCLNN_ARG(dso),      OCLNN_ARG(p->h),       OCLNN_ARG(p->w),
                        OCLNN_ARG(p->hp),    OCLNN_ARG(p->wp),      OCLNN_ARG(p->pad_t),
                        OCLNN_ARG(p->pad_l), OCLNN_ARG(p->nplanes), OCLNN_ARG(p->nrows)};
    size_t global = oclnn__div_up((size_t)p->nrows, (size_t)p->hp), local = LOCAL;
    return oclnn__launch(ctx, op, k, args, sizeof args / sizeof args[0], 1, &global, &local);
}
