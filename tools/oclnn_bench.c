/* oclnn-bench - times the library's ops through the public API only: copy bandwidth, GEMM,
 * a named convolution layer suite and the other layers; prints an aligned table or JSON lines.
 * The suites live in bench_gemm.c (copy, gemm), bench_conv.c and bench_layers.c. */
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MIN_REP_MS 2.0
#define MAX_INNER 1000

static const char usage[] =
    "usage: oclnn-bench [suite...] [options]\n"
    "suites: copy gemm conv layers all (default: all)\n"
    "  --batch N[,N...]   batch sizes for conv (default 1,32) and layers (default 32)\n"
    "  --algo NAME[,...]  conv algorithms: auto direct im2col_gemm gemm_1x1 depthwise winograd\n"
    "                     or all (default: auto and every algorithm that applies)\n"
    "  --pass P[,...]     fwd bwd_data bwd_weights bwd (both backwards) or all (default)\n"
    "  --repeat R         timed repetitions per measurement (default 5)\n"
    "  --min              report the fastest repetition instead of the median\n"
    "  --filter SUBSTR    only entries whose name contains SUBSTR\n"
    "  --json             one JSON object per line per measurement\n"
    "  --list             list the entries and their shapes; run nothing\n"
    "  --help\n"
    "layers also runs copy (its results are given as % of the copy bandwidth); its softmax,\n"
    "optimiser and linear entries have fixed shapes; optimiser steps ignore --pass; copy\n"
    "ignores --filter. The device is chosen by OCLNN_DEVICE (see oclnn-info).\n";

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static oclnn_status timed_calls(bench *b, bench_fn fn, void *arg, int calls, double *ms)
{
    oclnn_status s = oclnn_context_finish(b->ctx);
    double t0 = now_ms();
    for (int i = 0; i < calls && s == OCLNN_SUCCESS; i++)
        s = fn(b->ctx, arg);
    if (s == OCLNN_SUCCESS)
        s = oclnn_context_finish(b->ctx);
    *ms = (now_ms() - t0) / calls;
    return s;
}

oclnn_status bench_time(bench *b, bench_fn fn, void *arg, double *ms)
{
    double one;
    oclnn_status s = fn(b->ctx, arg); /* compiles kernels, grows the workspace: never timed */
    if (s == OCLNN_SUCCESS)
        s = oclnn_context_finish(b->ctx);
    if (s == OCLNN_SUCCESS)
        s = timed_calls(b, fn, arg, 1, &one);
    if (s != OCLNN_SUCCESS)
        return s;
    int inner = one >= MIN_REP_MS ? 1 : (int)ceil(MIN_REP_MS / fmax(one, 1e-3));
    if (inner > MAX_INNER)
        inner = MAX_INNER;
    enum { MAX_REPEAT = 1000 };
    double t[MAX_REPEAT];
    int n = b->opt.repeat;
    for (int r = 0; r < n; r++) {
        s = timed_calls(b, fn, arg, inner, &t[r]);
        if (s != OCLNN_SUCCESS)
            return s;
    }
    qsort(t, n, sizeof t[0], cmp_double);
    *ms = b->opt.use_min ? t[0] : (n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]));
    return OCLNN_SUCCESS;
}

static void json_string(const char *s)
{
    if (!s) {
        fputs("null", stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c == '\n')
            fputs("\\n", stdout);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void json_number(double v, bool present)
{
    if (present && isfinite(v))
        printf("%.6g", v);
    else
        fputs("null", stdout);
}

void bench_progress(bench *b, const bench_result *r)
{
    b->done++;
    if (!b->progress)
        return;
    fprintf(stderr, "\r\033[K[%s %d/%d] %s", r->suite, b->done, b->total, r->name);
    if (r->batch)
        fprintf(stderr, " b%d", r->batch);
    fprintf(stderr, " %s%s%s", r->pass ? r->pass : "", r->algo ? " " : "", r->algo ? r->algo : "");
    fflush(stderr);
}

static void clear_progress(const bench *b)
{
    if (b->progress) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}

static void print_result(bench *b, const bench_result *r, oclnn_status s, double ms)
{
    bool ok = s == OCLNN_SUCCESS;
    double gflops = ok && r->flops > 0 ? r->flops / (ms * 1e6) : NAN;
    double gbs = ok && r->bytes > 0 ? r->bytes / (ms * 1e6) : NAN;
    double pct = r->memory_bound && b->copy_gbs > 0 ? 100.0 * gbs / b->copy_gbs : NAN;
    clear_progress(b);
    if (b->opt.json) {
        printf("{\"suite\":");
        json_string(r->suite);
        printf(",\"name\":");
        json_string(r->name);
        printf(",\"batch\":");
        json_number(r->batch, r->batch > 0);
        printf(",\"pass\":");
        json_string(r->pass);
        printf(",\"algo\":");
        json_string(r->algo);
        printf(",\"chosen\":");
        json_string(r->chosen);
        printf(",\"status\":");
        json_string(ok ? "ok" : s == OCLNN_UNSUPPORTED ? "unsupported" : "error");
        if (!ok) {
            printf(",\"error\":");
            json_string(oclnn_last_error(b->ctx));
        }
        printf(",\"ms\":");
        json_number(ms, ok);
        printf(",\"gflops\":");
        json_number(gflops, r->flops > 0);
        printf(",\"gbs\":");
        json_number(gbs, r->bytes > 0);
        printf(",\"pct_copy\":");
        json_number(pct, r->memory_bound);
        printf(",\"bytes\":");
        json_number(r->bytes, r->bytes > 0);
        printf(",\"flops\":");
        json_number(r->flops, r->flops > 0);
        printf(",\"stat\":\"%s\",\"repeat\":%d,\"device\":", b->opt.use_min ? "min" : "median",
               b->opt.repeat);
        json_string(b->device);
        printf("}\n");
        fflush(stdout);
        return;
    }
    if (s == OCLNN_UNSUPPORTED)
        return;
    char batch[16] = "-";
    if (r->batch)
        snprintf(batch, sizeof batch, "%d", r->batch);
    printf("%-26s %5s  %-11s %-11s %-11s", r->name, batch, r->pass ? r->pass : "-",
           r->algo ? r->algo : "-", r->chosen ? r->chosen : "-");
    if (!ok) {
        printf("  error: %s\n", oclnn_last_error(b->ctx));
        fflush(stdout);
        return;
    }
    printf(" %10.3f", ms);
    if (r->memory_bound || r->flops <= 0)
        printf(" %9.2f GB/s   ", gbs);
    else
        printf(" %9.2f GFLOP/s", gflops);
    if (r->memory_bound && isfinite(pct))
        printf(" %6.1f%%", pct);
    printf("\n");
    fflush(stdout);
}

oclnn_status bench_run(bench *b, const bench_result *r, bench_fn fn, void *arg, double *ms)
{
    double t = 0;
    bench_progress(b, r);
    oclnn_status s = bench_time(b, fn, arg, &t);
    if (s != OCLNN_SUCCESS && s != OCLNN_UNSUPPORTED)
        b->errors++;
    print_result(b, r, s, t);
    if (ms)
        *ms = t;
    return s;
}

void bench_setup_failed(bench *b, const char *suite, const char *name, int batch)
{
    clear_progress(b);
    b->errors++;
    if (b->opt.json) {
        printf("{\"suite\":\"%s\",\"name\":", suite);
        json_string(name);
        printf(",\"batch\":%d,\"status\":\"error\",\"error\":", batch);
        json_string(oclnn_last_error(b->ctx));
        printf(",\"device\":");
        json_string(b->device);
        printf("}\n");
    } else {
        printf("%-26s %5d  setup failed: %s\n", name, batch, oclnn_last_error(b->ctx));
    }
    fflush(stdout);
}

void bench_suite_header(bench *b, const char *suite, const char *what)
{
    clear_progress(b);
    if (b->opt.json)
        return;
    printf("\n== %s: %s\n", suite, what);
    if (b->opt.list)
        return;
    printf("%-26s %5s  %-11s %-11s %-11s %10s %17s %7s\n", "name", "batch", "pass", "algo",
           "chosen", "ms", "rate", "%copy");
    fflush(stdout);
}

void bench_list_entry(const bench *b, const char *suite, const char *name, int batch,
                      const char *fields, const char *desc)
{
    if (b->opt.json) {
        printf("{\"suite\":\"%s\",\"name\":", suite);
        json_string(name);
        printf(",\"batch\":");
        json_number(batch, batch > 0);
        printf("%s%s}\n", fields && *fields ? "," : "", fields ? fields : "");
    } else {
        char bs[16] = "-";
        if (batch)
            snprintf(bs, sizeof bs, "%d", batch);
        printf("%-26s %5s  %s\n", name, bs, desc);
    }
}

bool bench_selected(const bench *b, const char *name)
{
    return !b->opt.filter || strstr(name, b->opt.filter);
}

int bench_batches(const bench *b, const int *defaults, int ndefaults, const int **out)
{
    if (b->opt.nbatches) {
        *out = b->opt.batches;
        return b->opt.nbatches;
    }
    *out = defaults;
    return ndefaults;
}

static oclnn_status host_buffer(bench *b, size_t n)
{
    if (n <= b->host_cap)
        return OCLNN_SUCCESS;
    float *p = realloc(b->host, n * sizeof *p);
    if (!p)
        return OCLNN_OUT_OF_MEMORY;
    b->host = p;
    b->host_cap = n;
    return OCLNN_SUCCESS;
}

static oclnn_status pool_add(bench *b, oclnn_tensor *t)
{
    if (b->npool == b->pool_cap) {
        size_t cap = b->pool_cap ? 2 * b->pool_cap : 16;
        oclnn_tensor **p = realloc(b->pool, cap * sizeof *p);
        if (!p) {
            oclnn_tensor_destroy(t);
            return OCLNN_OUT_OF_MEMORY;
        }
        b->pool = p;
        b->pool_cap = cap;
    }
    b->pool[b->npool++] = t;
    return OCLNN_SUCCESS;
}

oclnn_status bench_tensor(bench *b, oclnn_tensor_desc desc, float lo, float hi, oclnn_tensor **t)
{
    static uint32_t seed = 2463534242u;
    size_t n = oclnn_tensor_desc_count(&desc);
    oclnn_status s = oclnn_tensor_create(b->ctx, &desc, t);
    if (s != OCLNN_SUCCESS)
        return s;
    if ((s = pool_add(b, *t)) != OCLNN_SUCCESS)
        return s;
    if ((s = host_buffer(b, n)) != OCLNN_SUCCESS)
        return s;
    for (size_t i = 0; i < n; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        b->host[i] = lo + (hi - lo) * (float)((seed >> 8) * (1.0 / 16777216.0));
    }
    return oclnn_tensor_upload(b->ctx, *t, b->host, n, 1);
}

oclnn_status bench_labels(bench *b, int n, int classes, oclnn_tensor **t)
{
    oclnn_tensor_desc d = oclnn_tensor_desc_1d(n);
    d.dtype = OCLNN_I32;
    oclnn_status s = oclnn_tensor_create(b->ctx, &d, t);
    if (s != OCLNN_SUCCESS)
        return s;
    if ((s = pool_add(b, *t)) != OCLNN_SUCCESS)
        return s;
    if ((s = host_buffer(b, (size_t)n)) != OCLNN_SUCCESS)
        return s;
    int32_t *lab = (int32_t *)b->host;
    for (int i = 0; i < n; i++)
        lab[i] = (int32_t)((i * 7919u) % (unsigned)classes);
    return oclnn_tensor_upload_labels(b->ctx, *t, lab, (size_t)n, classes, 1);
}

void bench_release(bench *b)
{
    for (size_t i = 0; i < b->npool; i++)
        oclnn_tensor_destroy(b->pool[i]);
    b->npool = 0;
}

const char *bench_algo_name(oclnn_conv_algo a)
{
    switch (a) {
    case OCLNN_CONV_AUTO: return "auto";
    case OCLNN_CONV_DIRECT: return "direct";
    case OCLNN_CONV_IM2COL_GEMM: return "im2col_gemm";
    case OCLNN_CONV_GEMM_1X1: return "gemm_1x1";
    case OCLNN_CONV_DEPTHWISE: return "depthwise";
    case OCLNN_CONV_WINOGRAD: return "winograd";
    }
    return "?";
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "oclnn-bench: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage);
    return 2;
}

/* Splits a comma list; returns false on an empty item. */
static bool next_item(const char **p, char *item, size_t size)
{
    const char *end = strchr(*p, ',');
    size_t len = end ? (size_t)(end - *p) : strlen(*p);
    if (len == 0 || len >= size)
        return false;
    memcpy(item, *p, len);
    item[len] = '\0';
    *p += len + (end ? 1 : 0);
    return true;
}

static bool parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

static int parse_batches(bench_opts *o, const char *arg)
{
    char item[32];
    const char *p = arg;
    o->nbatches = 0;
    while (*p) {
        if (o->nbatches == BENCH_MAX_BATCHES)
            return usage_error("--batch '%s': at most 8 batch sizes", arg);
        if (!next_item(&p, item, sizeof item) ||
            !parse_int(item, 1, 65536, &o->batches[o->nbatches++]))
            return usage_error("--batch '%s': expected positive integers separated by commas", arg);
    }
    return o->nbatches ? 0 : usage_error("--batch '%s': no batch size given", arg);
}

static int parse_algos(bench_opts *o, const char *arg)
{
    char item[32];
    const char *p = arg;
    o->algos = 0;
    while (*p) {
        bool found = false;
        if (!next_item(&p, item, sizeof item))
            return usage_error("--algo '%s': empty or overlong name", arg);
        if (!strcmp(item, "all")) {
            o->algos = 0;
            continue;
        }
        for (int a = OCLNN_CONV_AUTO; a <= OCLNN_CONV_WINOGRAD; a++)
            if (!strcmp(item, bench_algo_name((oclnn_conv_algo)a))) {
                o->algos |= 1u << a;
                found = true;
            }
        if (!found)
            return usage_error("--algo: unknown algorithm '%s' (auto direct im2col_gemm gemm_1x1 "
                               "depthwise winograd all)",
                               item);
    }
    return 0;
}

static int parse_passes(bench_opts *o, const char *arg)
{
    char item[32];
    const char *p = arg;
    o->passes = 0;
    while (*p) {
        if (!next_item(&p, item, sizeof item))
            return usage_error("--pass '%s': empty or overlong name", arg);
        if (!strcmp(item, "fwd"))
            o->passes |= BENCH_FWD;
        else if (!strcmp(item, "bwd_data"))
            o->passes |= BENCH_BWD_DATA;
        else if (!strcmp(item, "bwd_weights"))
            o->passes |= BENCH_BWD_WEIGHTS;
        else if (!strcmp(item, "bwd"))
            o->passes |= BENCH_BWD_DATA | BENCH_BWD_WEIGHTS;
        else if (!strcmp(item, "all"))
            o->passes |= BENCH_FWD | BENCH_BWD_DATA | BENCH_BWD_WEIGHTS;
        else
            return usage_error("--pass: unknown pass '%s' (fwd bwd_data bwd_weights bwd all)",
                               item);
    }
    return o->passes ? 0 : usage_error("--pass '%s': no pass given", arg);
}

enum { SUITE_COPY = 1, SUITE_GEMM = 2, SUITE_CONV = 4, SUITE_LAYERS = 8, SUITE_ALL = 15 };

int main(int argc, char **argv)
{
    static bench b;
    bench_opts *o = &b.opt;
    unsigned suites = 0;
    o->repeat = 5;
    o->passes = BENCH_FWD | BENCH_BWD_DATA | BENCH_BWD_WEIGHTS;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        bool takes_value = !strcmp(a, "--batch") || !strcmp(a, "--algo") || !strcmp(a, "--pass") ||
                           !strcmp(a, "--repeat") || !strcmp(a, "--filter");
        if (takes_value && !val)
            return usage_error("%s needs a value", a);
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--batch")) {
            rc = parse_batches(o, val);
        } else if (!strcmp(a, "--algo")) {
            rc = parse_algos(o, val);
        } else if (!strcmp(a, "--pass")) {
            rc = parse_passes(o, val);
        } else if (!strcmp(a, "--repeat")) {
            if (!parse_int(val, 1, 1000, &o->repeat))
                rc = usage_error("--repeat '%s': expected an integer from 1 to 1000", val);
        } else if (!strcmp(a, "--filter")) {
            o->filter = val;
        } else if (!strcmp(a, "--json")) {
            o->json = true;
        } else if (!strcmp(a, "--list")) {
            o->list = true;
        } else if (!strcmp(a, "--min")) {
            o->use_min = true;
        } else if (!strcmp(a, "copy")) {
            suites |= SUITE_COPY;
        } else if (!strcmp(a, "gemm")) {
            suites |= SUITE_GEMM;
        } else if (!strcmp(a, "conv")) {
            suites |= SUITE_CONV;
        } else if (!strcmp(a, "layers")) {
            suites |= SUITE_LAYERS;
        } else if (!strcmp(a, "all")) {
            suites |= SUITE_ALL;
        } else if (a[0] == '-') {
            return usage_error("unknown option '%s'", a);
        } else {
            return usage_error("unknown suite '%s' (copy gemm conv layers all)", a);
        }
        if (rc)
            return rc;
        if (takes_value)
            i++;
    }
    if (!suites)
        suites = SUITE_ALL;
    /* Memory-bound results are reported as a share of the copy bandwidth: measure it first. */
    if ((suites & SUITE_LAYERS) && !o->list)
        suites |= SUITE_COPY;

    if (!o->list) {
        oclnn_status s = oclnn_context_create(&b.ctx);
        if (s != OCLNN_SUCCESS) {
            fprintf(stderr, "oclnn-bench: no context: %s\n", oclnn_last_error(NULL));
            return 1;
        }
        oclnn_device_info info;
        oclnn_context_device_info(b.ctx, &info);
        snprintf(b.device, sizeof b.device, "%s", info.name);
        b.progress = isatty(STDERR_FILENO);
        if (!o->json)
            printf("oclnn-bench %s on %s (%s, driver %s)\n"
                   "ms = %s of %d timed repetitions, per call; the first call (kernel compilation)"
                   " is never timed;\neach repetition runs back-to-back calls (enough for ~%.0f "
                   "ms) between two oclnn_context_finish.\n",
                   OCLNN_VERSION_STRING, info.name, info.platform_name, info.driver_version,
                   o->use_min ? "minimum" : "median", o->repeat, MIN_REP_MS);
    }
    if (suites & SUITE_COPY)
        bench_copy(&b);
    if (suites & SUITE_GEMM)
        bench_gemm(&b);
    if (suites & SUITE_CONV)
        bench_conv(&b);
    if (suites & SUITE_LAYERS)
        bench_layers(&b);
    clear_progress(&b);
    const char *prof = getenv("OCLNN_PROFILE");
    if (prof && strcmp(prof, "0")) {
        printf("\ndevice time by kernel over the whole run (warm-up calls included):\n");
        oclnn_profile_print(b.ctx, stdout);
    }
    bench_release(&b);
    free(b.pool);
    free(b.host);
    oclnn_context_destroy(b.ctx);
    if (b.errors) {
        fprintf(stderr, "oclnn-bench: %d measurement%s failed\n", b.errors,
                b.errors == 1 ? "" : "s");
        return 1;
    }
    return 0;
}
