/* bench.h - shared by the oclnn-bench suites (tools/bench_*.c): options, the timed measurement,
 * tensor helpers and the output of one result (aligned table or one JSON object per line). */
#ifndef OCLNN_BENCH_H
#define OCLNN_BENCH_H

#include "oclnn.h"

#include <stdbool.h>

#define BENCH_MAX_BATCHES 8

enum { BENCH_FWD = 1, BENCH_BWD_DATA = 2, BENCH_BWD_WEIGHTS = 4 };

typedef struct bench_opts {
    int batches[BENCH_MAX_BATCHES]; /* nbatches == 0: each suite's default */
    int nbatches;
    unsigned algos;  /* bit (1 << oclnn_conv_algo); 0: AUTO and every algorithm that applies */
    unsigned passes; /* BENCH_FWD | BENCH_BWD_DATA | BENCH_BWD_WEIGHTS */
    int repeat;
    bool use_min; /* report the fastest repetition instead of the median */
    bool json;
    bool list; /* print the entries (with their shapes) instead of running them */
    const char *filter;
} bench_opts;

/* One measurement. Fields that do not apply are 0 / NULL (JSON null, table "-"). */
typedef struct bench_result {
    const char *suite;
    const char *name;
    int batch;
    const char *pass;   /* "fwd", "bwd_data", "bwd_weights", "bwd", "step", "copy" */
    const char *algo;   /* conv algorithm measured */
    const char *chosen; /* the algorithm AUTO picks for this pass (oclnn_conv2d_choose) */
    double flops;       /* per call */
    double bytes;       /* per call, the bytes the op must move at least */
    bool memory_bound;  /* report GB/s and % of the copy bandwidth rather than GFLOP/s */
} bench_result;

typedef struct bench {
    oclnn_context *ctx; /* NULL with --list */
    bench_opts opt;
    char device[256];
    double copy_gbs;     /* measured by the copy suite; 0 until then */
    int errors;          /* measurements that failed with something other than UNSUPPORTED */
    int done, total;     /* progress within the current suite */
    bool progress;       /* stderr is a terminal */
    oclnn_tensor **pool; /* tensors made by bench_tensor, released by bench_release */
    size_t npool, pool_cap;
    float *host; /* upload staging buffer */
    size_t host_cap;
} bench;

/* One call of the op being measured. */
typedef oclnn_status (*bench_fn)(oclnn_context *ctx, void *arg);

/* Runs fn once untimed (kernel compilation, workspace growth), then opt.repeat timed
 * repetitions and writes the median (or minimum) ms per call. A repetition runs `inner`
 * back-to-back calls between two oclnn_context_finish, inner chosen so that it lasts about
 * 2 ms (calls far shorter than a finish are otherwise timed as the finish). */
oclnn_status bench_time(bench *b, bench_fn fn, void *arg, double *ms);

/* Times fn and prints the result (or the failure: UNSUPPORTED is left out of the table and
 * marked in JSON; other errors are shown and counted). ms (may be NULL) receives the time. */
oclnn_status bench_run(bench *b, const bench_result *r, bench_fn fn, void *arg, double *ms);

/* Progress line on stderr (when it is a terminal) before a measurement. */
void bench_progress(bench *b, const bench_result *r);

/* A tensor filled with uniform random values in [lo, hi), released by bench_release. */
oclnn_status bench_tensor(bench *b, oclnn_tensor_desc desc, float lo, float hi, oclnn_tensor **t);
/* An I32 tensor of n labels in [0, classes). */
oclnn_status bench_labels(bench *b, int n, int classes, oclnn_tensor **t);
void bench_release(bench *b);
/* Reports a setup failure (tensor allocation) for an entry; counted as an error. */
void bench_setup_failed(bench *b, const char *suite, const char *name, int batch);

/* --filter match on an entry's name. */
bool bench_selected(const bench *b, const char *name);
/* The batches to run: --batch, else the suite's defaults. */
int bench_batches(const bench *b, const int *defaults, int ndefaults, const int **out);

/* --list --json and table helpers: prints `fields` (a JSON fragment "\"k\":v,...") for one
 * entry, or a table line with the short description. */
void bench_list_entry(const bench *b, const char *suite, const char *name, int batch,
                      const char *fields, const char *desc);
void bench_suite_header(bench *b, const char *suite, const char *what);

const char *bench_algo_name(oclnn_conv_algo a);

void bench_copy(bench *b);
void bench_gemm(bench *b);
void bench_conv(bench *b);
void bench_layers(bench *b);

#endif
