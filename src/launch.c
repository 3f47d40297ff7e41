/* launch.c - setting kernel arguments and enqueueing, with OpenCL-event profiling. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static void record(oclnn_context *ctx, const char *op, const char *kernel, cl_event begin,
                   cl_event ev)
{
    if (ctx->nrecords == ctx->records_cap) {
        size_t cap = ctx->records_cap ? ctx->records_cap * 2 : 256;
        oclnn_profile_record *r = realloc(ctx->records, cap * sizeof *r);
        if (!r) { /* profiling is best effort: drop the record rather than fail the op */
            clReleaseEvent(ev);
            if (begin)
                clReleaseEvent(begin);
            return;
        }
        ctx->records = r;
        ctx->records_cap = cap;
    }
    oclnn_profile_record *r = &ctx->records[ctx->nrecords++];
    r->op = op;
    snprintf(r->kernel, sizeof r->kernel, "%s", kernel);
    r->event = ev;
    r->begin = begin;
}

void oclnn__profile_event(oclnn_context *ctx, const char *op, const char *kernel, cl_event ev)
{
    if (ev)
        record(ctx, op, kernel, NULL, ev);
}

cl_event oclnn__profile_mark(oclnn_context *ctx)
{
    cl_event m = NULL;
    if (ctx->profile && !ctx->warmup &&
        clEnqueueMarkerWithWaitList(ctx->queue, 0, NULL, &m) != CL_SUCCESS)
        m = NULL;
    return m;
}

void oclnn__profile_span(oclnn_context *ctx, const char *op, const char *kernel, cl_event begin,
                         cl_event ev)
{
    if (ev)
        record(ctx, op, kernel, begin, ev);
    else if (begin)
        clReleaseEvent(begin);
}

void oclnn__profile_work(oclnn_context *ctx, const char *op, double flops, double bytes)
{
    if (!ctx->profile || ctx->warmup)
        return;
    size_t i = 0;
    while (i < ctx->nwork && strcmp(ctx->work[i].op, op) != 0)
        i++;
    if (i == ctx->nwork) {
        if (i == OCLNN_MAX_OP_WORK)
            return; /* best effort, as the records */
        ctx->work[ctx->nwork++] = (oclnn_op_work){op, 0, 0, 0};
    }
    ctx->work[i].calls++;
    ctx->work[i].flops += flops;
    ctx->work[i].bytes += bytes;
}

oclnn_status oclnn__launch(oclnn_context *ctx, const char *op, cl_kernel k, const oclnn_arg *args,
                           size_t nargs, cl_uint dims, const size_t *global, const size_t *local)
{
    char what[160];
    /* Warm-up records programs and runs no kernel at all: a kernel already built would
     * otherwise compute on inputs the skipped ones never wrote (an optimizer step would corrupt
     * the parameters). */
    if (ctx->warmup)
        return OCLNN_SUCCESS;
    for (size_t i = 0; i < nargs; i++) {
        cl_int err = clSetKernelArg(k, (cl_uint)i, args[i].size, args[i].ptr);
        if (err != CL_SUCCESS) {
            snprintf(what, sizeof what, "%s: clSetKernelArg(%zu)", op, i);
            return oclnn__cl(ctx, err, what);
        }
    }
    size_t g[3];
    for (cl_uint d = 0; d < dims; d++)
        g[d] = local ? oclnn__round_up(global[d], local[d]) : global[d];
    cl_event ev = NULL;
    cl_int err = clEnqueueNDRangeKernel(ctx->queue, k, dims, NULL, g, local, 0, NULL,
                                        ctx->profile ? &ev : NULL);
    if (err != CL_SUCCESS) {
        char name[64] = "?";
        clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, sizeof name, name, NULL);
        snprintf(what, sizeof what, "%s: clEnqueueNDRangeKernel(%s)", op, name);
        return oclnn__cl(ctx, err, what);
    }
    if (ev) {
        char name[64] = "?";
        clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, sizeof name, name, NULL);
        name[sizeof name - 1] = '\0';
        record(ctx, op, name, NULL, ev);
    }
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_profile_enable(oclnn_context *ctx, int enable)
{
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "profile_enable: ctx is NULL");
    if (enable && !ctx->profiling_queue)
        return oclnn__fail(ctx, OCLNN_UNSUPPORTED,
                           "profile_enable: the wrapped queue was created without "
                           "CL_QUEUE_PROFILING_ENABLE");
    ctx->profile = enable != 0;
    return OCLNN_SUCCESS;
}

static bool event_times(cl_event ev, cl_ulong *t0, cl_ulong *t1)
{
    return clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, sizeof *t0, t0, NULL) ==
               CL_SUCCESS &&
           clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof *t1, t1, NULL) ==
               CL_SUCCESS &&
           *t1 >= *t0;
}

/* A record's start and end: a span's start is its marker's end (the queue is in order). */
static bool record_times(const oclnn_profile_record *r, cl_ulong *t0, cl_ulong *t1)
{
    cl_ulong b0, b1;
    if (!event_times(r->event, t0, t1))
        return false;
    if (r->begin && event_times(r->begin, &b0, &b1) && b1 <= *t1)
        *t0 = b1;
    return true;
}

static double record_ms(const oclnn_profile_record *r)
{
    cl_ulong t0, t1;
    return record_times(r, &t0, &t1) ? (double)(t1 - t0) * 1e-6 : 0.0;
}

/* OCLNN_TRACE=file.json: every recorded command becomes a Chrome trace event ("X": complete
 * event, microseconds from the first command), viewable in chrome://tracing or Perfetto. */
void oclnn__trace_open(oclnn_context *ctx)
{
    const char *path = getenv("OCLNN_TRACE");
    if (!path || !*path || !ctx->profiling_queue)
        return;
    ctx->trace = fopen(path, "w");
    if (ctx->trace) {
        fputs("{\"traceEvents\":[\n", ctx->trace);
        ctx->profile = true;
    }
}

void oclnn__trace_close(oclnn_context *ctx)
{
    if (!ctx->trace)
        return;
    fputs("\n],\"displayTimeUnit\":\"ms\"}\n", ctx->trace);
    fclose(ctx->trace);
    ctx->trace = NULL;
}

void oclnn__profile_flush(oclnn_context *ctx)
{
    if (ctx->trace && ctx->nrecords)
        clFinish(ctx->queue);
    for (size_t i = 0; i < ctx->nrecords; i++) {
        const oclnn_profile_record *r = &ctx->records[i];
        cl_ulong t0, t1;
        if (ctx->trace && record_times(r, &t0, &t1)) {
            if (ctx->trace_events == 0)
                ctx->trace_t0 = t0;
            double ts = t0 >= ctx->trace_t0 ? (double)(t0 - ctx->trace_t0) * 1e-3 : 0.0;
            fprintf(ctx->trace,
                    "%s{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"X\",\"ts\":%.3f,"
                    "\"dur\":%.3f,\"pid\":1,\"tid\":1,\"args\":{\"op\":\"%s\"}}",
                    ctx->trace_events++ ? ",\n" : "", r->kernel, r->op, ts,
                    (double)(t1 - t0) * 1e-3, r->op);
        }
        clReleaseEvent(r->event);
        if (r->begin)
            clReleaseEvent(r->begin);
    }
    ctx->nrecords = 0;
    ctx->nwork = 0;
}

oclnn_status oclnn_profile_reset(oclnn_context *ctx)
{
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "profile_reset: ctx is NULL");
    oclnn__profile_flush(ctx);
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_profile_op_ms(oclnn_context *ctx, const char *op, double *ms)
{
    if (!ctx || !op || !ms)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "profile_op_ms: NULL argument");
    *ms = 0;
    oclnn_status s = oclnn_context_finish(ctx);
    if (s != OCLNN_SUCCESS)
        return s;
    for (size_t i = 0; i < ctx->nrecords; i++)
        if (strcmp(ctx->records[i].op, op) == 0)
            *ms += record_ms(&ctx->records[i]);
    return OCLNN_SUCCESS;
}

typedef struct row {
    const char *op;
    const char *kernel;
    unsigned count;
    double ms;
} row;

static int by_ms_desc(const void *a, const void *b)
{
    double d = ((const row *)b)->ms - ((const row *)a)->ms;
    return (d > 0) - (d < 0);
}

oclnn_status oclnn_profile_print(oclnn_context *ctx, FILE *out)
{
    if (!ctx || !out)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "profile_print: %s is NULL",
                           ctx ? "out" : "ctx");
    oclnn_status s = oclnn_context_finish(ctx);
    if (s != OCLNN_SUCCESS)
        return s;
    row *rows = oclnn__alloc(ctx, (ctx->nrecords + 1) * sizeof *rows, "profile_print");
    if (!rows)
        return OCLNN_OUT_OF_MEMORY;
    size_t nrows = 0;
    double total = 0;
    for (size_t i = 0; i < ctx->nrecords; i++) {
        const oclnn_profile_record *r = &ctx->records[i];
        double ms = record_ms(r);
        total += ms;
        size_t j = 0;
        while (j < nrows &&
               !(strcmp(rows[j].op, r->op) == 0 && strcmp(rows[j].kernel, r->kernel) == 0))
            j++;
        if (j == nrows)
            rows[nrows++] = (row){r->op, r->kernel, 0, 0};
        rows[j].count++;
        rows[j].ms += ms;
    }
    qsort(rows, nrows, sizeof *rows, by_ms_desc);
    fprintf(out, "%-16s %-32s %8s %12s %7s\n", "op", "kernel", "count", "total ms", "%");
    for (size_t j = 0; j < nrows; j++)
        fprintf(out, "%-16s %-32s %8u %12.3f %6.1f%%\n", rows[j].op, rows[j].kernel, rows[j].count,
                rows[j].ms, total > 0 ? 100.0 * rows[j].ms / total : 0.0);
    fprintf(out, "%-16s %-32s %8zu %12.3f %6.1f%%\n", "total", "", ctx->nrecords, total, 100.0);
    /* By op: the work its calls asked for over its kernels' time (GEMM and convolution in
     * GFLOP/s, the memory-bound ops in GB/s of the bytes they must move). */
    if (ctx->nwork)
        fprintf(out, "\n%-24s %8s %12s %14s %7s\n", "op", "calls", "total ms", "rate", "%");
    for (size_t i = 0; i < ctx->nwork; i++) {
        const oclnn_op_work *w = &ctx->work[i];
        double ms = 0;
        for (size_t j = 0; j < nrows; j++)
            if (strcmp(rows[j].op, w->op) == 0)
                ms += rows[j].ms;
        const bool f = w->flops > 0;
        const double rate = ms > 0 ? (f ? w->flops : w->bytes) / (ms * 1e6) : 0.0;
        fprintf(out, "%-24s %8u %12.3f %8.1f %-5s %6.1f%%\n", w->op, w->calls, ms, rate,
                f ? "GF/s" : "GB/s", total > 0 ? 100.0 * ms / total : 0.0);
    }
    free(rows);
    return OCLNN_SUCCESS;
}
