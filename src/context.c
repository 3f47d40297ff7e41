/* context.c - creating, wrapping and destroying contexts; the cache directory; the workspace. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static void resolve_dirs(oclnn_context *ctx)
{
    const char *v = getenv("OCLNN_CACHE_DIR");
    if (v && *v) {
        snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "%s", v);
    } else if ((v = getenv("XDG_CACHE_HOME")) && *v) {
        snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "%s/oclnn", v);
    } else if ((v = getenv("HOME")) && *v) {
        snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "%s/.cache/oclnn", v);
    } else {
        snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "off");
    }
    v = getenv("OCLNN_KERNEL_DIR");
    snprintf(ctx->kernel_dir, sizeof ctx->kernel_dir, "%s", v ? v : "");
}

static bool env_true(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

/* Common tail of create and wrap: everything after the CL objects exist. */
static oclnn_status finish_init(oclnn_context *ctx)
{
    resolve_dirs(ctx);
    size_t limit = (size_t)1 << 30;
    if (ctx->info.global_mem_bytes / 4 < limit)
        limit = (size_t)(ctx->info.global_mem_bytes / 4);
    ctx->workspace_limit = limit;
    ctx->profile = ctx->profiling_queue && env_true("OCLNN_PROFILE");
    oclnn__trace_open(ctx);
    return oclnn__gemm_init(ctx);
}

oclnn_status oclnn_context_create_with(const char *selector, oclnn_context **out)
{
    if (!out)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "context_create: out is NULL");
    *out = NULL;
    oclnn_context *ctx = oclnn__alloc(NULL, sizeof *ctx, "context_create");
    if (!ctx)
        return OCLNN_OUT_OF_MEMORY;
    cl_device_id dev = NULL;
    oclnn_status s = oclnn__device_select(selector, &ctx->info, &dev, NULL, 0);
    if (s != OCLNN_SUCCESS) {
        free(ctx);
        return s;
    }
    cl_int err;
    ctx->device = dev;
    ctx->cl_ctx = clCreateContext(NULL, 1, &dev, NULL, NULL, &err);
    if (err != CL_SUCCESS) {
        s = oclnn__cl(NULL, err, "clCreateContext");
        free(ctx);
        return s;
    }
    ctx->queue = clCreateCommandQueue(ctx->cl_ctx, dev, CL_QUEUE_PROFILING_ENABLE, &err);
    if (err != CL_SUCCESS) {
        s = oclnn__cl(NULL, err, "clCreateCommandQueue");
        clReleaseContext(ctx->cl_ctx);
        free(ctx);
        return s;
    }
    ctx->profiling_queue = true;
    s = finish_init(ctx);
    if (s != OCLNN_SUCCESS) {
        oclnn__fail(NULL, s, "%s", ctx->msg);
        oclnn_context_destroy(ctx);
        return s;
    }
    *out = ctx;
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_context_create(oclnn_context **out)
{
    return oclnn_context_create_with(getenv("OCLNN_DEVICE"), out);
}

oclnn_status oclnn_context_wrap(cl_context context, cl_device_id device, cl_command_queue queue,
                                oclnn_context **out)
{
    if (!out)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "context_wrap: out is NULL");
    *out = NULL;
    if (!context || !device || !queue)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT,
                           "context_wrap: context, device and queue must all be non-NULL "
                           "(got %p, %p, %p)",
                           (void *)context, (void *)device, (void *)queue);
    cl_context qctx = NULL;
    cl_device_id qdev = NULL;
    cl_command_queue_properties props = 0;
    cl_int err = clGetCommandQueueInfo(queue, CL_QUEUE_CONTEXT, sizeof qctx, &qctx, NULL);
    if (err == CL_SUCCESS)
        err = clGetCommandQueueInfo(queue, CL_QUEUE_DEVICE, sizeof qdev, &qdev, NULL);
    if (err == CL_SUCCESS)
        err = clGetCommandQueueInfo(queue, CL_QUEUE_PROPERTIES, sizeof props, &props, NULL);
    if (err != CL_SUCCESS)
        return oclnn__cl(NULL, err, "context_wrap: clGetCommandQueueInfo");
    if (qctx != context || qdev != device)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT,
                           "context_wrap: queue belongs to another %s than the one given",
                           qctx != context ? "context" : "device");
    if (props & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT,
                           "context_wrap: queue must be in-order (it has "
                           "CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE)");
    oclnn_context *ctx = oclnn__alloc(NULL, sizeof *ctx, "context_wrap");
    if (!ctx)
        return OCLNN_OUT_OF_MEMORY;
    cl_platform_id plat = NULL;
    clGetDeviceInfo(device, CL_DEVICE_PLATFORM, sizeof plat, &plat, NULL);
    oclnn__device_query(plat, device, -1, -1, &ctx->info);
    clRetainContext(context);
    clRetainDevice(device);
    clRetainCommandQueue(queue);
    ctx->cl_ctx = context;
    ctx->device = device;
    ctx->queue = queue;
    ctx->profiling_queue = (props & CL_QUEUE_PROFILING_ENABLE) != 0;
    oclnn_status s = finish_init(ctx);
    if (s != OCLNN_SUCCESS) {
        oclnn__fail(NULL, s, "%s", ctx->msg);
        oclnn_context_destroy(ctx);
        return s;
    }
    *out = ctx;
    return OCLNN_SUCCESS;
}

void oclnn_context_destroy(oclnn_context *ctx)
{
    if (!ctx)
        return;
    if (ctx->queue)
        clFinish(ctx->queue);
    oclnn__profile_flush(ctx);
    oclnn__trace_close(ctx);
    free(ctx->records);
    oclnn__gemm_release(ctx);
    oclnn__programs_release(ctx);
    if (ctx->workspace)
        clReleaseMemObject(ctx->workspace);
    if (ctx->queue)
        clReleaseCommandQueue(ctx->queue);
    if (ctx->device)
        clReleaseDevice(ctx->device);
    if (ctx->cl_ctx)
        clReleaseContext(ctx->cl_ctx);
    free(ctx);
}

oclnn_status oclnn_context_finish(oclnn_context *ctx)
{
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "context_finish: ctx is NULL");
    return oclnn__cl(ctx, clFinish(ctx->queue), "clFinish");
}

oclnn_status oclnn_context_get_cl(const oclnn_context *ctx, cl_context *context,
                                  cl_device_id *device, cl_command_queue *queue)
{
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "context_get_cl: ctx is NULL");
    if (context)
        *context = ctx->cl_ctx;
    if (device)
        *device = ctx->device;
    if (queue)
        *queue = ctx->queue;
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_context_device_info(const oclnn_context *ctx, oclnn_device_info *info)
{
    if (!ctx || !info)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "context_device_info: %s is NULL",
                           ctx ? "info" : "ctx");
    *info = ctx->info;
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_context_cache_dir(const oclnn_context *ctx, const char **dir)
{
    if (!ctx || !dir)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "context_cache_dir: %s is NULL",
                           ctx ? "dir" : "ctx");
    *dir = ctx->cache_dir;
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_context_cache_stats(const oclnn_context *ctx, oclnn_cache_stats *stats)
{
    if (!ctx || !stats)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "context_cache_stats: %s is NULL",
                           ctx ? "stats" : "ctx");
    *stats = ctx->stats;
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_context_set_workspace_limit(oclnn_context *ctx, size_t bytes)
{
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "set_workspace_limit: ctx is NULL");
    ctx->workspace_limit = bytes;
    return OCLNN_SUCCESS;
}

oclnn_status oclnn__workspace(oclnn_context *ctx, size_t bytes, const char *op, cl_mem *out)
{
    *out = NULL;
    if (bytes > ctx->workspace_limit)
        return oclnn__fail(ctx, OCLNN_OUT_OF_MEMORY,
                           "%s: workspace of %zu bytes exceeds the limit %zu "
                           "(oclnn_context_set_workspace_limit)",
                           op, bytes, ctx->workspace_limit);
    if (bytes > ctx->workspace_size || !ctx->workspace) {
        cl_mem m;
        oclnn_status s = oclnn__buffer(ctx, bytes, CL_MEM_READ_WRITE, &m, op);
        if (s != OCLNN_SUCCESS)
            return s;
        /* Work already queued may still use the old buffer: OpenCL keeps it alive until those
         * commands finish, so releasing it here is safe. */
        if (ctx->workspace)
            clReleaseMemObject(ctx->workspace);
        ctx->workspace = m;
        ctx->workspace_size = bytes;
    }
    *out = ctx->workspace;
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_context_reserve_workspace(oclnn_context *ctx, size_t bytes)
{
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "reserve_workspace: ctx is NULL");
    cl_mem m;
    return oclnn__workspace(ctx, bytes, "reserve_workspace", &m);
}
