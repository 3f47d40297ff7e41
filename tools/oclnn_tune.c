/* oclnn-tune - tunes the device OCLNN_DEVICE selects and stores the winners in the tuning file
 * of the kernel cache directory: the CLBlast GEMM parameters (GFLOP/s before and after per shape
 * class), or the convolutions of a model or of the benchmark's layers (ms before and after per
 * layer and pass).
 *   oclnn-tune gemm [--mode off|fast|full] [--budget SECONDS] [--no-write] [--quiet]
 *                   [--shape NAME:M:N:K[:TA:TB:BATCH]]...   (default: the built-in classes)
 *   oclnn-tune conv [--mode off|fast|full] [--budget SECONDS] [--no-write] [--quiet]
 *                   [--model lenet|resnet|convnext [--batch N] [--size H]]
 *                   [--layers [--batch N] [--filter SUBSTR]]   (default: --model resnet) */
#include "conv_layers.h"
#include "models.h"
#include "oclnn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_SHAPES = 64 };

static int usage(void)
{
    fprintf(stderr,
            "usage: oclnn-tune gemm [--mode off|fast|full] [--budget SECONDS] [--no-write] "
            "[--quiet] [--shape NAME:M:N:K[:TA:TB:BATCH]]...\n"
            "       oclnn-tune conv [--mode off|fast|full] [--budget SECONDS] [--no-write] "
            "[--quiet] [--model lenet|resnet|convnext [--batch N] [--size H]]\n"
            "                       [--layers [--batch N] [--filter SUBSTR]]\n"
            "conv tunes every convolution of a model (default resnet, at its training batch, "
            "on HxH images, default 28: Fashion-MNIST) or the layers of oclnn-bench's conv "
            "suite (default batch 32).\n");
    return 2;
}

/* The options both subcommands take, at argv[*i]: 1 when taken (*i past its value), 0 when it
 * is not one of them, -1 when its value is bad. */
typedef struct common_opts {
    oclnn_tune_mode mode;
    double budget_s;
    int write_file, quiet;
} common_opts;

static int common_option(int argc, char **argv, int *i, common_opts *o)
{
    const char *a = argv[*i];
    if (strcmp(a, "--no-write") == 0)
        o->write_file = 0;
    else if (strcmp(a, "--quiet") == 0)
        o->quiet = 1;
    else if (*i + 1 >= argc || (strcmp(a, "--mode") != 0 && strcmp(a, "--budget") != 0))
        return 0;
    else if (strcmp(a, "--budget") == 0)
        o->budget_s = atof(argv[++*i]);
    else if (strcmp(argv[++*i], "off") == 0)
        o->mode = OCLNN_TUNE_OFF;
    else if (strcmp(argv[*i], "fast") == 0)
        o->mode = OCLNN_TUNE_FAST;
    else if (strcmp(argv[*i], "full") == 0)
        o->mode = OCLNN_TUNE_FULL;
    else
        return -1;
    return 1;
}

static void print_header(oclnn_context *ctx)
{
    oclnn_device_info info;
    oclnn_context_device_info(ctx, &info);
    const char *source, *file, *note;
    oclnn_tune_info(ctx, &source, &file, &note);
    printf("device      %s (%s)\nparameters  %s\ntuning file %s\n", info.name, info.driver_version,
           source, file[0] ? file : "(none: cache directory is off)");
    if (note[0])
        printf("note        %s\n", note);
}

static const char *const pass_names[] = {"fwd", "bwd_data", "bwd_weights"};
static const char *const algo_names[] = {"auto",      "direct",   "im2col_gemm",
                                         "gemm_1x1", "depthwise", "winograd"};

static void print_conv_results(const oclnn_conv_tune_result *res, size_t count)
{
    if (!count)
        return;
    printf("\n%-24s %-11s %10s %-11s %10s %7s  %s\n", "layer", "pass", "before ms", "algorithm",
           "after ms", "speedup", "winner");
    for (size_t i = 0; i < count; i++) {
        const oclnn_conv_tune_result *r = &res[i];
        printf("%-24s %-11s %10.3f %-11s %10.3f %6.2fx  %s\n", r->name, pass_names[r->pass],
               r->before_ms, algo_names[r->before_algo], r->after_ms,
               r->after_ms > 0 ? r->before_ms / r->after_ms : 0.0, r->params);
    }
    printf("(ms per call, minimum over repetitions; each candidate checked before it is timed)\n");
}

enum { MAX_RESULTS = 256 };

static int tune_conv(int argc, char **argv)
{
    oclnn_conv_tune_desc desc = oclnn_conv_tune_desc_default();
    common_opts o = {desc.mode, desc.budget_s, desc.write_file, 0};
    const char *model = NULL, *filter = NULL;
    int batch = 0, size = 28, layers = 0, taken;
    for (int i = 2; i < argc; i++) {
        if ((taken = common_option(argc, argv, &i, &o)) != 0) {
            if (taken < 0)
                return usage();
        } else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
            model = argv[++i];
        } else if (strcmp(argv[i], "--layers") == 0) {
            layers = 1;
        } else if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) {
            filter = argv[++i];
        } else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
            batch = atoi(argv[++i]);
            if (batch < 1)
                return usage();
        } else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
            size = atoi(argv[++i]);
            if (size < 1)
                return usage();
        } else {
            return usage();
        }
    }
    if ((model && layers) || (filter && !layers))
        return usage();
    desc.mode = o.mode, desc.budget_s = o.budget_s, desc.write_file = o.write_file;
    const int quiet = o.quiet;
    oclnn_context *ctx = NULL;
    if (oclnn_context_create(&ctx) != OCLNN_SUCCESS) {
        fprintf(stderr, "oclnn-tune: %s\n", oclnn_last_error(NULL));
        return 1;
    }
    print_header(ctx);
    static oclnn_conv_tune_result res[MAX_RESULTS];
    size_t count = 0;
    oclnn_status s;
    if (layers) {
        static oclnn_conv_tune_shape shapes[64];
        size_t n = 0;
        for (int i = 0; i < CONV_NLAYERS && n < 64; i++)
            if (!filter || strstr(conv_layers[i].name, filter))
                shapes[n++] = conv_layer_shape(&conv_layers[i], batch ? batch : 32);
        desc.shapes = shapes;
        desc.nshapes = n;
        s = n ? oclnn_tune_conv2d(ctx, &desc, quiet ? NULL : stdout, res, MAX_RESULTS, &count)
              : OCLNN_SUCCESS;
        if (!n)
            fprintf(stderr, "oclnn-tune: no layer matches --filter %s\n", filter);
    } else {
        oclnn_net *net = NULL;
        model_setup setup;
        s = model_build(ctx, model ? model : "resnet", &net, &setup);
        if (s == OCLNN_SUCCESS)
            s = oclnn_net_compile(net, batch ? batch : setup.batch, 1, size, size, &setup.train);
        if (s == OCLNN_SUCCESS)
            s = oclnn_net_tune(net, &desc, quiet ? NULL : stdout, res, MAX_RESULTS, &count);
        oclnn_net_destroy(net);
    }
    if (s != OCLNN_SUCCESS) {
        fprintf(stderr, "oclnn-tune: %s\n", oclnn_last_error(ctx));
        oclnn_context_destroy(ctx);
        return 1;
    }
    print_conv_results(res, count);
    oclnn_context_destroy(ctx);
    return 0;
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
    common_opts o = {desc.mode, desc.budget_s, desc.write_file, 0};
    int taken;
    if (argc >= 2 && strcmp(argv[1], "conv") == 0)
        return tune_conv(argc, argv);
    if (argc < 2 || strcmp(argv[1], "gemm") != 0)
        return usage();
    for (int i = 2; i < argc; i++) {
        if ((taken = common_option(argc, argv, &i, &o)) != 0) {
            if (taken < 0)
                return usage();
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
    desc.mode = o.mode, desc.budget_s = o.budget_s, desc.write_file = o.write_file;
    const int quiet = o.quiet;
    oclnn_context *ctx = NULL;
    if (oclnn_context_create(&ctx) != OCLNN_SUCCESS) {
        fprintf(stderr, "oclnn-tune: %s\n", oclnn_last_error(NULL));
        return 1;
    }
    print_header(ctx);
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
