/* tensor.c - tensor descriptors, device buffers with element offsets, host transfers. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* Bytes every buffer of oclnn_tensor_create has past the tensor's end: the flat convolution
 * kernels read the last vectors of a run past its end (into lanes they drop or mask), and with
 * this room they read 1x1 layers' inputs in place instead of copying them (conv_direct.c). */
#define TENSOR_SLACK_BYTES 4096

oclnn_tensor_desc oclnn_tensor_desc_4d(int n, int c, int h, int w)
{
    return (oclnn_tensor_desc){OCLNN_F32, 4, {n, c, h, w}};
}

oclnn_tensor_desc oclnn_tensor_desc_2d(int n, int features)
{
    return (oclnn_tensor_desc){OCLNN_F32, 2, {n, features, 1, 1}};
}

oclnn_tensor_desc oclnn_tensor_desc_1d(int n)
{
    return (oclnn_tensor_desc){OCLNN_F32, 1, {n, 1, 1, 1}};
}

size_t oclnn_tensor_desc_count(const oclnn_tensor_desc *d)
{
    if (!d || (d->ndim != 1 && d->ndim != 2 && d->ndim != 4))
        return 0;
    size_t n = 1;
    for (int i = 0; i < d->ndim; i++) {
        if (d->dims[i] <= 0)
            return 0;
        n *= (size_t)d->dims[i];
    }
    return n;
}

size_t oclnn__dtype_size(oclnn_dtype t)
{
    return t == OCLNN_U8 ? 1 : t == OCLNN_I32 ? sizeof(int32_t) : sizeof(float);
}

const char *oclnn__shape_str(const oclnn_tensor_desc *d, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < d->ndim && i < 4 && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "[%d]", d->dims[i]);
    return buf;
}

void oclnn__nchw(const oclnn_tensor_desc *d, int *n, int *c, int *h, int *w)
{
    *n = d->dims[0];
    *c = d->ndim >= 2 ? d->dims[1] : 1;
    *h = d->ndim == 4 ? d->dims[2] : 1;
    *w = d->ndim == 4 ? d->dims[3] : 1;
}

static oclnn_status check_desc(const oclnn_context *ctx, const char *op, const oclnn_tensor_desc *d)
{
    if (!d)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: desc is NULL", op);
    if (d->dtype != OCLNN_F32 && d->dtype != OCLNN_I32 && d->dtype != OCLNN_U8)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: dtype %d is not OCLNN_F32 (0), OCLNN_I32 (1) or OCLNN_U8 (2)", op,
                           (int)d->dtype);
    if (d->ndim != 1 && d->ndim != 2 && d->ndim != 4)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: ndim %d must be 1, 2 or 4", op,
                           d->ndim);
    for (int i = 0; i < d->ndim; i++)
        if (d->dims[i] <= 0)
            return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: dims[%d] is %d, must be >= 1", op,
                               i, d->dims[i]);
    size_t count = 1;
    for (int i = 0; i < d->ndim; i++) {
        if (count > SIZE_MAX / 8 / (size_t)d->dims[i])
            return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: element count overflows", op);
        count *= (size_t)d->dims[i];
    }
    return OCLNN_SUCCESS;
}

static oclnn_tensor *new_tensor(oclnn_context *ctx, const oclnn_tensor_desc *d, cl_mem mem,
                                size_t offset, const char *op)
{
    oclnn_tensor *t = oclnn__alloc(ctx, sizeof *t, op);
    if (!t)
        return NULL;
    t->ctx = ctx;
    t->desc = *d;
    for (int i = d->ndim; i < 4; i++)
        t->desc.dims[i] = 1;
    t->mem = mem;
    t->offset = offset;
    return t;
}

oclnn_status oclnn_tensor_create(oclnn_context *ctx, const oclnn_tensor_desc *desc,
                                 oclnn_tensor **out)
{
    if (!out || !ctx)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "tensor_create: %s is NULL",
                           ctx ? "out" : "ctx");
    *out = NULL;
    oclnn_status s = check_desc(ctx, "tensor_create", desc);
    if (s != OCLNN_SUCCESS)
        return s;
    cl_mem mem;
    s = oclnn__buffer(
        ctx, oclnn_tensor_desc_count(desc) * oclnn__dtype_size(desc->dtype) + TENSOR_SLACK_BYTES,
        CL_MEM_READ_WRITE, &mem, "tensor_create");
    if (s != OCLNN_SUCCESS)
        return s;
    oclnn_tensor *t = new_tensor(ctx, desc, mem, 0, "tensor_create");
    if (!t) {
        clReleaseMemObject(mem);
        return OCLNN_OUT_OF_MEMORY;
    }
    *out = t;
    return OCLNN_SUCCESS;
}

static oclnn_status wrap(oclnn_context *ctx, const oclnn_tensor_desc *desc, cl_mem mem,
                         size_t offset, const char *op, oclnn_tensor **out)
{
    if (!out || !ctx)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: %s is NULL", op, ctx ? "out" : "ctx");
    *out = NULL;
    oclnn_status s = check_desc(ctx, op, desc);
    if (s != OCLNN_SUCCESS)
        return s;
    if (!mem)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: mem is NULL", op);
    size_t bytes = 0;
    cl_int err = clGetMemObjectInfo(mem, CL_MEM_SIZE, sizeof bytes, &bytes, NULL);
    if (err != CL_SUCCESS)
        return oclnn__cl(ctx, err, "clGetMemObjectInfo(CL_MEM_SIZE)");
    size_t need = (offset + oclnn_tensor_desc_count(desc)) * oclnn__dtype_size(desc->dtype);
    if (offset > SIZE_MAX / 8 || need > bytes) {
        char shape[64];
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: buffer of %zu bytes is too small for %s at element offset %zu "
                           "(needs %zu bytes)",
                           op, bytes, oclnn__shape_str(desc, shape, sizeof shape), offset, need);
    }
    oclnn_tensor *t = new_tensor(ctx, desc, mem, offset, op);
    if (!t)
        return OCLNN_OUT_OF_MEMORY;
    clRetainMemObject(mem);
    *out = t;
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_tensor_wrap(oclnn_context *ctx, const oclnn_tensor_desc *desc, cl_mem mem,
                               size_t offset, oclnn_tensor **out)
{
    return wrap(ctx, desc, mem, offset, "tensor_wrap", out);
}

oclnn_status oclnn_tensor_view(oclnn_context *ctx, const oclnn_tensor *base,
                               const oclnn_tensor_desc *desc, size_t offset, oclnn_tensor **out)
{
    if (out)
        *out = NULL;
    if (!base)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "tensor_view: base is NULL");
    size_t base_count = oclnn_tensor_desc_count(&base->desc);
    size_t count = oclnn_tensor_desc_count(desc);
    if (desc && count && (offset > base_count || count > base_count - offset)) {
        char a[64], b[64];
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "tensor_view: %s at offset %zu does not fit in base %s (%zu elements)",
                           oclnn__shape_str(desc, a, sizeof a), offset,
                           oclnn__shape_str(&base->desc, b, sizeof b), base_count);
    }
    if (desc && desc->dtype != base->desc.dtype)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "tensor_view: dtype %d differs from the base's %d", (int)desc->dtype,
                           (int)base->desc.dtype);
    return wrap(ctx, desc, base->mem, base->offset + offset, "tensor_view", out);
}

void oclnn_tensor_destroy(oclnn_tensor *t)
{
    if (!t)
        return;
    clReleaseMemObject(t->mem);
    free(t);
}

oclnn_tensor_desc oclnn_tensor_get_desc(const oclnn_tensor *t)
{
    oclnn_tensor_desc none = {OCLNN_F32, 0, {0, 0, 0, 0}};
    return t ? t->desc : none;
}

oclnn_status oclnn_tensor_get_mem(const oclnn_tensor *t, cl_mem *mem, size_t *offset)
{
    if (!t)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "tensor_get_mem: t is NULL");
    if (mem)
        *mem = t->mem;
    if (offset)
        *offset = t->offset;
    return OCLNN_SUCCESS;
}

oclnn_status oclnn__check_tensor(oclnn_context *ctx, const char *op, const char *name,
                                 const oclnn_tensor *t)
{
    if (!t)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: %s is NULL", op, name);
    if (t->ctx != ctx)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: %s belongs to another context", op,
                           name);
    if (t->desc.dtype != OCLNN_F32)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: %s has dtype %d, expected OCLNN_F32",
                           op, name, (int)t->desc.dtype);
    return OCLNN_SUCCESS;
}

oclnn_status oclnn__check_count(oclnn_context *ctx, const char *op, const char *name,
                                const oclnn_tensor *t, size_t count)
{
    size_t have = oclnn_tensor_desc_count(&t->desc);
    if (have != count) {
        char shape[64];
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: %s %s has %zu elements, expected %zu",
                           op, name, oclnn__shape_str(&t->desc, shape, sizeof shape), have, count);
    }
    return OCLNN_SUCCESS;
}

static oclnn_status check_transfer(oclnn_context *ctx, const char *op, const oclnn_tensor *t,
                                   const void *host, size_t count)
{
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "%s: ctx is NULL", op);
    if (!t)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: tensor is NULL", op);
    if (t->ctx != ctx)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: tensor belongs to another context",
                           op);
    if (!host)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "%s: host pointer is NULL", op);
    size_t have = oclnn_tensor_desc_count(&t->desc);
    if (count != have) {
        char shape[64];
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "%s: count %zu does not match the tensor %s (%zu elements)", op, count,
                           oclnn__shape_str(&t->desc, shape, sizeof shape), have);
    }
    return OCLNN_SUCCESS;
}

/* Enqueues the copy of count elements between host and t (host to t when `write`), checked. */
static oclnn_status transfer(oclnn_context *ctx, const char *op, const oclnn_tensor *t,
                             const void *host, size_t count, int blocking, int write)
{
    oclnn_status s = check_transfer(ctx, op, t, host, count);
    if (s != OCLNN_SUCCESS)
        return s;
    size_t es = oclnn__dtype_size(t->desc.dtype), off = t->offset * es, bytes = count * es;
    cl_bool block = blocking ? CL_TRUE : CL_FALSE;
    cl_event ev, *evp = oclnn__event_slot(ctx, &ev);
    /* host travels as const so one helper serves both ways; download passed it writable. */
    cl_int err =
        write ? clEnqueueWriteBuffer(ctx->queue, t->mem, block, off, bytes, host, 0, NULL, evp)
              : clEnqueueReadBuffer(ctx->queue, t->mem, block, off, bytes, (void *)host, 0, NULL,
                                    evp);
    s = oclnn__cl(ctx, err,
                  write ? "tensor_upload: clEnqueueWriteBuffer"
                        : "tensor_download: clEnqueueReadBuffer");
    if (s == OCLNN_SUCCESS && evp)
        oclnn__profile_event(ctx, "transfer", write ? "write_buffer" : "read_buffer", ev);
    return s;
}

oclnn_status oclnn_tensor_upload(oclnn_context *ctx, oclnn_tensor *t, const void *host,
                                 size_t count, int blocking)
{
    return transfer(ctx, "tensor_upload", t, host, count, blocking, 1);
}

oclnn_status oclnn_tensor_download(oclnn_context *ctx, const oclnn_tensor *t, void *host,
                                   size_t count, int blocking)
{
    return transfer(ctx, "tensor_download", t, host, count, blocking, 0);
}

oclnn_status oclnn_tensor_upload_labels(oclnn_context *ctx, oclnn_tensor *t, const int32_t *labels,
                                        size_t count, int num_classes, int blocking)
{
    oclnn_status s = check_transfer(ctx, "tensor_upload_labels", t, labels, count);
    if (s != OCLNN_SUCCESS)
        return s;
    if (t->desc.dtype != OCLNN_I32)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "tensor_upload_labels: tensor has dtype %d, expected OCLNN_I32",
                           (int)t->desc.dtype);
    if (num_classes < 1)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "tensor_upload_labels: num_classes %d must be >= 1", num_classes);
    for (size_t i = 0; i < count; i++)
        if (labels[i] < 0 || labels[i] >= num_classes)
            return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                               "tensor_upload_labels: labels[%zu] = %d is outside [0, %d)", i,
                               (int)labels[i], num_classes);
    return oclnn_tensor_upload(ctx, t, labels, count, blocking);
}

oclnn_status oclnn_tensor_fill(oclnn_context *ctx, oclnn_tensor *t, float value)
{
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "tensor_fill: ctx is NULL");
    if (!t || t->ctx != ctx)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "tensor_fill: tensor is %s",
                           t ? "from another context" : "NULL");
    if (t->desc.dtype == OCLNN_U8 && !(value >= 0.0f && value <= 255.0f))
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "tensor_fill: value %g does not fit a u8 tensor (0 to 255)",
                           (double)value);
    size_t es = oclnn__dtype_size(t->desc.dtype);
    int32_t iv = (int32_t)value;
    uint8_t bv = t->desc.dtype == OCLNN_U8 ? (uint8_t)value : 0;
    const void *pattern = t->desc.dtype == OCLNN_I32  ? (const void *)&iv
                          : t->desc.dtype == OCLNN_U8 ? (const void *)&bv
                                                      : (const void *)&value;
    cl_event ev, *evp = oclnn__event_slot(ctx, &ev);
    oclnn_status s =
        oclnn__cl(ctx,
                  clEnqueueFillBuffer(ctx->queue, t->mem, pattern, es, t->offset * es,
                                      oclnn_tensor_desc_count(&t->desc) * es, 0, NULL, evp),
                  "tensor_fill: clEnqueueFillBuffer");
    if (s == OCLNN_SUCCESS && evp)
        oclnn__profile_event(ctx, "fill", "fill_buffer", ev);
    return s;
}
