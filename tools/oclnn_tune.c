/* oclnn-tune - tunes the CLBlast GEMM parameters of the device OCLNN_DEVICE selects, stores the
 * winner in the tuning file of the kernel cache directory and prints GFLOP/s before and after
 * per shape class.
 *   oclnn-tune gemm [--mode off|fast|full] [--budget SECONDS] [--no-write] [--quiet]
 *                   [--shape NAME:M:N:K[:TA:TB:BATCH]]...   (default: the built-in classes) */
#include "oclnn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_SHAPES = 64 };

static int usage(void)
{
    fprintf(stderr, "usage: oclnn-tune gemm [--mode off|fast|full] [--budget SECONDS] "
                    "[--no-write] [--quiet] [--shape NAME:M:N:K[:TA:TB:BATCH]]...\n");
    return 2;
}

static int parse_shape(const char *arg, oclnn_gemm_shape *s)
{
    memset(s, 0, sizeof *s);
    s->batch = 1;
    const char *colon = strchr(arg, ':');
    if (!colon || colon == arg || (size_t)(colon - arg) >= sizeof s->name)
        return 0;
    memcpy(s->name, arg, (size_t)(colon - arg));
    int n = sscanf(colon + 1, "%d:%d:%d:%d:%d:%d", &s->m, &s->n, &s->k, &s->trans_a, &s->trans_b,
                   &s->batch);
    return n == 3 || n == 6;
}

int main(int argc, char **argv)
{
    static oclnn_gemm_shape shapes[MAX_SHAPES];
    size_t nshapes = 0;
    oclnn_tune_desc desc = oclnn_tune_desc_default();
    int quiet = 0;
    if (argc < 2 || strcmp(argv[1], "gemm") != 0)
        return usage();
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
            const char *m = argv[++i];
            if (strcmp(m, "off") == 0)
                desc.mode = OCLNN_TUNE_OFF;
            else if (strcmp(m, "fast") == 0)
                desc.mode = OCLNN_TUNE_FAST;
            else if (strcmp(m, "full") == 0)
                desc.mode = OCLNN_TUNE_FULL;
            else
                return usage();
        } else if (strcmp(argv[i], "--budget") == 0 && i + 1 < argc) {
            desc.budget_s = atof(argv[++i]);
        } else if (strcmp(argv[i], "--no-write") == 0) {
            desc.write_file = 0;
        } else if (strcmp(argv[i], "--quiet") == 0) {
            quiet = 1;
        } else if (strcmp(argv[i], "--shape") == 0 && i + 1 < argc && nshapes < MAX_SHAPES) {
            if (!parse_shape(argv[++i], &shapes[nshapes++]))
                return usage();
        } else {
            return usage();
        }
    }
    if (nshapes) {
        desc.shapes = shapes;
        desc.nshapes = nshapes;
    }
    oclnn_context *ctx = NULL;
    if (oclnn_context_create(&ctx) != OCLNN_SUCCESS) {
        fprintf(stderr, "oclnn-tune: %s\n", oclnn_last_error(NULL));
        return 1;
    }
    oclnn_device_info info;
    oclnn_context_device_info(ctx, &info);
    const char *source, *file, *note;
    oclnn_tune_info(ctx, &source, &file, &note);
    printf("device      %s (%s)\nparameters  %s\ntuning file %s\n", info.name, info.driver_version,
           source, file[0] ? file : "(none: cache directory is off)");
    if (note[0])
        printf("note        %s\n", note);
    static oclnn_tune_result res[MAX_SHAPES];
    size_t count = 0;
    oclnn_status s = oclnn_tune_gemm(ctx, &desc, quiet ? NULL : stdout, res, MAX_SHAPES, &count);
    if (s != OCLNN_SUCCESS) {
        fprintf(stderr, "oclnn-tune: %s\n", oclnn_last_error(ctx));
        oclnn_context_destroy(ctx);
        return 1;
    }
    if (count)
        printf("\n%-16s %6s %6s %6s %-5s %5s %10s %10s  %-8s %s\n", "class", "m", "n", "k", "trans",
               "batch", "before", "after", "path", "temp MiB");
    for (size_t i = 0; i < count; i++) {
        const oclnn_tune_result *r = &res[i];
        printf("%-16s %6d %6d %6d %-5s %5d %10.1f %10.1f  %-8s %.2f\n", r->shape.name, r->shape.m,
               r->shape.n, r->shape.k,
               r->shape.trans_a ? (r->shape.trans_b ? "TT" : "TN")
                                : (r->shape.trans_b ? "NT" : "NN"),
               r->shape.batch, r->before_gflops, r->after_gflops, r->direct ? "direct" : "indirect",
               r->temp_bytes / 1048576.0);
    }
    if (count)
        printf("(GFLOP/s, minimum time over repetitions)\n");
    oclnn_context_destroy(ctx);
    return 0;
}
