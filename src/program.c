/* program.c - the program cache: embedded (or OCLNN_KERNEL_DIR) sources are built with their -D
 * options on first use, kept per context in memory and on disk as device binaries. */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_MAGIC "OCLNNBIN"
#define CACHE_FORMAT 1u

uint64_t oclnn__hash(const void *data, size_t len, uint64_t seed)
{
    /* FNV-1a, 64 bit: collisions only cost a miss, because entries also store their full key. */
    const unsigned char *p = data;
    uint64_t h = seed ^ 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Reads the source of `file`: the embedded copy, or OCLNN_KERNEL_DIR/file when set. */
static oclnn_status load_source(oclnn_context *ctx, const char *file, char **out)
{
    *out = NULL;
    if (ctx->kernel_dir[0]) {
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", ctx->kernel_dir, file);
        FILE *f = fopen(path, "rb");
        if (!f)
            return oclnn__fail(ctx, OCLNN_IO_ERROR, "kernel source %s (OCLNN_KERNEL_DIR): %s", path,
                               strerror(errno));
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        /* A #line marker names the real file in build logs, like the embedded sources do. */
        char marker[1500];
        int m = snprintf(marker, sizeof marker, "#line 1 \"%s\"\n", path);
        char *buf = n >= 0 ? oclnn__alloc(ctx, (size_t)n + (size_t)m + 1, "kernel source") : NULL;
        if (buf)
            memcpy(buf, marker, (size_t)m);
        if (!buf || fread(buf + m, 1, (size_t)n, f) != (size_t)n) {
            fclose(f);
            free(buf);
            return buf ? oclnn__fail(ctx, OCLNN_IO_ERROR, "kernel source %s: short read", path)
                       : OCLNN_OUT_OF_MEMORY;
        }
        fclose(f);
        buf[m + n] = '\0';
        *out = buf;
        return OCLNN_SUCCESS;
    }
    for (size_t i = 0; i < oclnn__nsources; i++)
        if (strcmp(oclnn__sources[i].name, file) == 0) {
            *out = oclnn__strdup(ctx, oclnn__sources[i].data, "kernel source");
            return *out ? OCLNN_SUCCESS : OCLNN_OUT_OF_MEMORY;
        }
    return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "program: no embedded kernel source \"%s\"",
                       file);
}

/* The full disk-cache key: everything that can change the binary. */
static char *disk_key(oclnn_context *ctx, const char *file, const char *source, const char *opts)
{
    const oclnn_device_info *d = &ctx->info;
    char head[1200];
    int n = snprintf(head, sizeof head,
                     "oclnn %s|%s|%s|%s|%s|%s|%s|file=%s|opts=%s|src=%016llx",
                     OCLNN_VERSION_STRING, d->platform_name, d->platform_version, d->vendor,
                     d->name, d->driver_version, d->device_version, file, opts,
                     (unsigned long long)oclnn__hash(source, strlen(source), 0));
    if (n < 0)
        return NULL;
    return oclnn__strdup(ctx, head, "cache key");
}

static void cache_path(const oclnn_context *ctx, const char *key, char *path, size_t size)
{
    snprintf(path, size, "%s/%016llx.bin", ctx->cache_dir,
             (unsigned long long)oclnn__hash(key, strlen(key), 0));
}

static bool cache_on(const oclnn_context *ctx)
{
    return strcmp(ctx->cache_dir, "off") != 0 && ctx->cache_dir[0];
}

/* Loads a binary for `key`; NULL on any problem (counted as a miss or as corrupt). */
static unsigned char *cache_read(oclnn_context *ctx, const char *key, size_t *bin_len)
{
    char path[1400];
    cache_path(ctx, key, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        ctx->stats.disk_misses++;
        return NULL;
    }
    unsigned char *bin = NULL;
    char magic[8];
    uint32_t format = 0, key_len = 0;
    uint64_t len = 0, sum = 0;
    size_t want_key = strlen(key);
    char *stored_key = NULL;
    bool ok = fread(magic, 1, 8, f) == 8 && memcmp(magic, CACHE_MAGIC, 8) == 0 &&
              fread(&format, 4, 1, f) == 1 && format == CACHE_FORMAT &&
              fread(&key_len, 4, 1, f) == 1 && key_len == want_key;
    if (ok) {
        stored_key = malloc(key_len + 1);
        ok = stored_key && fread(stored_key, 1, key_len, f) == key_len &&
             memcmp(stored_key, key, key_len) == 0;
    }
    ok = ok && fread(&len, 8, 1, f) == 1 && len > 0 && len < ((uint64_t)1 << 31);
    if (ok) {
        bin = malloc((size_t)len);
        ok = bin && fread(bin, 1, (size_t)len, f) == len && fread(&sum, 8, 1, f) == 1 &&
             sum == oclnn__hash(bin, (size_t)len, oclnn__hash(key, key_len, 0)) &&
             fgetc(f) == EOF;
    }
    fclose(f);
    free(stored_key);
    if (!ok) {
        free(bin);
        ctx->stats.disk_corrupt++;
        return NULL;
    }
    *bin_len = (size_t)len;
    return bin;
}

static void mkdir_p(const char *dir)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0755);
            *p = '/';
        }
    mkdir(tmp, 0755);
}

/* Writes an entry to a temporary file and renames it into place; failures are silent (the cache
 * is an optimisation: an unwritable directory only costs rebuilds). */
static void cache_write(oclnn_context *ctx, const char *key, const unsigned char *bin, size_t len)
{
    static unsigned counter; /* warm-up threads write concurrently: unique temp names */
    char path[1400], tmp[1500];
    mkdir_p(ctx->cache_dir);
    cache_path(ctx, key, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u", path, (long)getpid(),
             __atomic_fetch_add(&counter, 1u, __ATOMIC_RELAXED));
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return;
    uint32_t format = CACHE_FORMAT, key_len = (uint32_t)strlen(key);
    uint64_t len64 = len, sum = oclnn__hash(bin, len, oclnn__hash(key, key_len, 0));
    bool ok = fwrite(CACHE_MAGIC, 1, 8, f) == 8 && fwrite(&format, 4, 1, f) == 1 &&
              fwrite(&key_len, 4, 1, f) == 1 && fwrite(key, 1, key_len, f) == key_len &&
              fwrite(&len64, 8, 1, f) == 1 && fwrite(bin, 1, len, f) == len &&
              fwrite(&sum, 8, 1, f) == 1;
    ok = (fclose(f) == 0) && ok;
    if (ok && rename(tmp, path) == 0)
        ctx->stats.disk_writes++;
    else
        remove(tmp);
}

/* Puts the build log into the context message; #line markers make it point at cl/<file>:line. */
static oclnn_status build_failed(oclnn_context *ctx, cl_program prog, const char *file,
                                 const char *opts, cl_int err)
{
    size_t log_size = 0;
    clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &log_size);
    char *log = log_size ? malloc(log_size + 1) : NULL;
    if (log) {
        clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, log_size, log, NULL);
        log[log_size] = '\0';
    }
    oclnn__fail(ctx, OCLNN_BUILD_FAILURE, "build of cl/%s with options \"%s\" failed (%s):\n%s",
                file, opts, oclnn__cl_error_name(err), log ? log : "(no build log)");
    free(log);
    return OCLNN_BUILD_FAILURE;
}

static oclnn_status build_program(oclnn_context *ctx, const char *file, const char *opts,
                                  cl_program *out)
{
    char *source = NULL;
    oclnn_status s = load_source(ctx, file, &source);
    if (s != OCLNN_SUCCESS)
        return s;
    /* Options: ours, plus -I for kernel development from disk (embedded sources have their
     * includes inlined). Never -cl-fast-relaxed-math. */
    char full_opts[2200];
    if (ctx->kernel_dir[0])
        snprintf(full_opts, sizeof full_opts, "%s -I %s", opts, ctx->kernel_dir);
    else
        snprintf(full_opts, sizeof full_opts, "%s", opts);
    /* Sources from OCLNN_KERNEL_DIR skip the disk cache: their #include files are resolved by
     * the compiler, so the key could not see an edited header. */
    char *key = cache_on(ctx) && !ctx->kernel_dir[0] ? disk_key(ctx, file, source, full_opts)
                                                     : NULL;
    cl_int err;
    cl_program prog = NULL;
    if (key) {
        size_t len = 0;
        unsigned char *bin = cache_read(ctx, key, &len);
        if (bin) {
            const unsigned char *bins[1] = {bin};
            cl_int bin_status;
            prog = clCreateProgramWithBinary(ctx->cl_ctx, 1, &ctx->device, &len, bins,
                                             &bin_status, &err);
            if (err == CL_SUCCESS && bin_status == CL_SUCCESS)
                err = clBuildProgram(prog, 1, &ctx->device, full_opts, NULL, NULL);
            if (err != CL_SUCCESS || bin_status != CL_SUCCESS) {
                /* A binary the driver refuses is treated like a corrupt entry: rebuild. */
                if (prog)
                    clReleaseProgram(prog);
                prog = NULL;
                ctx->stats.disk_corrupt++;
            } else {
                ctx->stats.disk_hits++;
            }
            free(bin);
        }
    }
    if (!prog) {
        const char *src = source;
        prog = clCreateProgramWithSource(ctx->cl_ctx, 1, &src, NULL, &err);
        if (err != CL_SUCCESS) {
            free(source);
            free(key);
            return oclnn__cl(ctx, err, "clCreateProgramWithSource");
        }
        ctx->stats.builds++;
        err = clBuildProgram(prog, 1, &ctx->device, full_opts, NULL, NULL);
        if (err != CL_SUCCESS) {
            s = build_failed(ctx, prog, file, full_opts, err);
            clReleaseProgram(prog);
            free(source);
            free(key);
            return s;
        }
        size_t len = 0;
        if (key && clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof len, &len, NULL) ==
                       CL_SUCCESS &&
            len > 0) {
            unsigned char *bin = malloc(len);
            unsigned char *bins[1] = {bin};
            if (bin && clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) ==
                           CL_SUCCESS)
                cache_write(ctx, key, bin, len);
            free(bin);
        }
    }
    free(source);
    free(key);
    *out = prog;
    return OCLNN_SUCCESS;
}

static uint64_t program_key(const char *file, const char *opts)
{
    return oclnn__hash(opts, strlen(opts), oclnn__hash(file, strlen(file), 0));
}

static oclnn_program_entry *find_program(oclnn_program_entry *e, const char *file,
                                         const char *opts)
{
    uint64_t key = program_key(file, opts);
    while (e && !(e->key == key && strcmp(e->file, file) == 0 && strcmp(e->options, opts) == 0))
        e = e->next;
    return e;
}

static void free_entry(oclnn_program_entry *e)
{
    if (e->program)
        clReleaseProgram(e->program);
    free(e->file);
    free(e->options);
    free(e);
}

/* A new, unbuilt entry for (file, opts), or NULL on allocation failure. */
static oclnn_program_entry *new_entry(oclnn_context *ctx, const char *file, const char *opts)
{
    oclnn_program_entry *e = oclnn__alloc(ctx, sizeof *e, "program cache");
    if (!e)
        return NULL;
    e->key = program_key(file, opts);
    e->file = oclnn__strdup(ctx, file, "program cache");
    e->options = e->file ? oclnn__strdup(ctx, opts, "program cache") : NULL;
    if (!e->options) {
        free_entry(e);
        return NULL;
    }
    return e;
}

static oclnn_status warmup_queue(oclnn_context *ctx, oclnn_program_entry *e);

oclnn_status oclnn__kernel(oclnn_context *ctx, const char *file, const char *options,
                           const char *name, cl_kernel *out)
{
    const char *opts = options ? options : "";
    *out = NULL;
    oclnn_program_entry *e = find_program(ctx->programs, file, opts);
    if (e) {
        ctx->stats.memory_hits++;
    } else if (ctx->warmup) {
        /* Warm-up: remember the program; it is built with the others at warmup_end. */
        if (find_program(ctx->pending, file, opts))
            return OCLNN_SUCCESS;
        e = new_entry(ctx, file, opts);
        if (!e)
            return OCLNN_OUT_OF_MEMORY;
        oclnn_status s = warmup_queue(ctx, e);
        if (s != OCLNN_SUCCESS) {
            free_entry(e);
            return s;
        }
        e->next = ctx->pending;
        ctx->pending = e;
        return OCLNN_SUCCESS;
    } else {
        e = new_entry(ctx, file, opts);
        if (!e)
            return OCLNN_OUT_OF_MEMORY;
        oclnn_status s = build_program(ctx, file, opts, &e->program);
        if (s != OCLNN_SUCCESS) {
            free_entry(e);
            return s;
        }
        e->next = ctx->programs;
        ctx->programs = e;
    }
    for (oclnn_kernel_entry *k = e->kernels; k; k = k->next)
        if (strcmp(k->name, name) == 0) {
            *out = k->kernel;
            return OCLNN_SUCCESS;
        }
    oclnn_kernel_entry *k = oclnn__alloc(ctx, sizeof *k, "kernel cache");
    if (!k)
        return OCLNN_OUT_OF_MEMORY;
    k->name = oclnn__strdup(ctx, name, "kernel cache");
    if (!k->name) {
        free(k);
        return OCLNN_OUT_OF_MEMORY;
    }
    cl_int err;
    k->kernel = clCreateKernel(e->program, name, &err);
    if (err != CL_SUCCESS) {
        free(k->name);
        free(k);
        char what[200];
        snprintf(what, sizeof what, "clCreateKernel(%s) from cl/%s", name, file);
        return oclnn__cl(ctx, err, what);
    }
    k->next = e->kernels;
    e->kernels = k;
    *out = k->kernel;
    return OCLNN_SUCCESS;
}

void oclnn__programs_release(oclnn_context *ctx)
{
    oclnn_program_entry *e = ctx->programs;
    while (e) {
        oclnn_program_entry *next = e->next;
        oclnn_kernel_entry *k = e->kernels;
        while (k) {
            oclnn_kernel_entry *kn = k->next;
            clReleaseKernel(k->kernel);
            free(k->name);
            free(k);
            k = kn;
        }
        free_entry(e);
        e = next;
    }
    ctx->programs = NULL;
    for (e = ctx->pending; e;) {
        oclnn_program_entry *next = e->next;
        free_entry(e);
        e = next;
    }
    ctx->pending = NULL;
}

/* ---- parallel warm-up ----
 * warmup_begin starts worker threads; every program an op asks for during the warm-up is queued
 * and built by a worker at once, while the calling thread goes on recording (and compiling
 * CLBlast's kernels through the GEMMs the ops still run). warmup_end waits for the queue. */

#define WARMUP_MAX_THREADS 64

struct oclnn_warmup {
    oclnn_context snapshot;        /* what builds read (device, dirs): fixed during the warm-up */
    oclnn_cache_stats stats;       /* merged from the builds, under the lock */
    oclnn_program_entry **jobs;    /* every queued entry, in request order */
    size_t njobs, cap, next, done;
    bool closing;
    oclnn_status status;           /* first failure */
    char msg[OCLNN_MSG_SIZE];
    FILE *progress;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t tid[WARMUP_MAX_THREADS];
    int nthreads;
};

static void add_stats(oclnn_cache_stats *to, const oclnn_cache_stats *from)
{
    to->disk_hits += from->disk_hits;
    to->disk_misses += from->disk_misses;
    to->disk_corrupt += from->disk_corrupt;
    to->disk_writes += from->disk_writes;
    to->builds += from->builds;
}

/* Builds one entry through a private copy of the snapshot, so statistics and error messages
 * never race; they are merged into the pool under its lock. */
static void warmup_build(oclnn_warmup *w, oclnn_context *local, oclnn_cache_stats *stats,
                         oclnn_program_entry *e)
{
    oclnn_status s = OCLNN_OUT_OF_MEMORY;
    if (local) {
        *local = w->snapshot;
        memset(&local->stats, 0, sizeof local->stats);
        s = build_program(local, e->file, e->options, &e->program);
    }
    pthread_mutex_lock(&w->lock);
    if (local)
        add_stats(stats, &local->stats);
    w->done++;
    if (s != OCLNN_SUCCESS && w->status == OCLNN_SUCCESS) {
        w->status = s;
        snprintf(w->msg, sizeof w->msg, "%s", local ? local->msg : "warmup: out of host memory");
    }
    if (w->progress)
        fprintf(w->progress, "warm-up: %zu programs built (cl/%s)\n", w->done, e->file);
    pthread_mutex_unlock(&w->lock);
}

static void *warmup_worker(void *arg)
{
    oclnn_warmup *w = arg;
    oclnn_context *local = malloc(sizeof *local);
    oclnn_cache_stats stats = {0};
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->next == w->njobs && !w->closing)
            pthread_cond_wait(&w->wake, &w->lock);
        if (w->next == w->njobs)
            break;
        oclnn_program_entry *e = w->jobs[w->next++];
        pthread_mutex_unlock(&w->lock);
        warmup_build(w, local, &stats, e);
        pthread_mutex_lock(&w->lock);
    }
    add_stats(&w->stats, &stats);
    pthread_mutex_unlock(&w->lock);
    free(local);
    return NULL;
}

/* Queues a recorded entry for the workers (called by oclnn__kernel during a warm-up). */
static oclnn_status warmup_queue(oclnn_context *ctx, oclnn_program_entry *e)
{
    oclnn_warmup *w = ctx->warmup;
    pthread_mutex_lock(&w->lock);
    if (w->njobs == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 32;
        oclnn_program_entry **jobs = realloc(w->jobs, cap * sizeof *jobs);
        if (!jobs) {
            pthread_mutex_unlock(&w->lock);
            return oclnn__fail(ctx, OCLNN_OUT_OF_MEMORY, "warmup: cannot queue cl/%s", e->file);
        }
        w->jobs = jobs;
        w->cap = cap;
    }
    w->jobs[w->njobs++] = e;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_context_warmup_begin(oclnn_context *ctx, int threads, FILE *progress)
{
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "warmup_begin: ctx is NULL");
    if (ctx->warmup)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "warmup_begin: a warm-up is already open (call warmup_end)");
    if (threads < 0)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT, "warmup_begin: threads %d must be >= 0",
                           threads);
    oclnn_warmup *w = oclnn__alloc(ctx, sizeof *w, "warmup_begin");
    if (!w)
        return OCLNN_OUT_OF_MEMORY;
    w->snapshot = *ctx;
    w->progress = progress;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    if (threads == 0)
        threads = ctx->info.compute_units ? (int)ctx->info.compute_units : 1;
    if (threads > WARMUP_MAX_THREADS)
        threads = WARMUP_MAX_THREADS;
    while (w->nthreads < threads &&
           pthread_create(&w->tid[w->nthreads], NULL, warmup_worker, w) == 0)
        w->nthreads++;
    /* With no thread at all, warmup_end builds the queue on the calling thread. */
    ctx->warmup = w;
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_context_warmup_end(oclnn_context *ctx)
{
    if (!ctx)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "warmup_end: ctx is NULL");
    oclnn_warmup *w = ctx->warmup;
    if (!w)
        return oclnn__fail(ctx, OCLNN_INVALID_ARGUMENT,
                           "warmup_end: no warm-up is open (call warmup_begin first)");
    pthread_mutex_lock(&w->lock);
    w->closing = true;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    for (int t = 0; t < w->nthreads; t++)
        pthread_join(w->tid[t], NULL);
    if (w->nthreads == 0) {
        oclnn_context *local = malloc(sizeof *local);
        for (; w->next < w->njobs; w->next++)
            warmup_build(w, local, &w->stats, w->jobs[w->next]);
        free(local);
    }
    add_stats(&ctx->stats, &w->stats);
    ctx->warmup = NULL;
    /* Built programs join the cache; failed ones are dropped (their op reports the failure
     * again on first use). */
    oclnn_program_entry *e = ctx->pending;
    ctx->pending = NULL;
    while (e) {
        oclnn_program_entry *next = e->next;
        if (e->program) {
            e->next = ctx->programs;
            ctx->programs = e;
        } else {
            free_entry(e);
        }
        e = next;
    }
    oclnn_status s = w->status;
    if (s != OCLNN_SUCCESS)
        oclnn__fail(ctx, s, "%s", w->msg);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w->jobs);
    free(w);
    return s;
}
