/* oclnn_train.c - oclnn-train: trains lenet, resnet or convnext on Fashion-MNIST (IDX files,
 * gzipped or not), CIFAR-10 binary batches or synthetic data, through the public net API. */
#include "dataset.h"
#include "models.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct options {
    const char *model, *data, *save, *resume, *optimizer, *schedule, *tune;
    int epochs, batch, synthetic, eval_only, augment, shift;
    long steps, limit;
    double lr;
    uint64_t seed;
} options;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: oclnn-train [options]\n"
            "  --model lenet|resnet|convnext   model (default lenet)\n"
            "  --data DIR          IDX (train-images-idx3-ubyte[.gz], ...) or CIFAR-10 binary\n"
            "                      folder (default /usr/share/datasets/fashion-mnist)\n"
            "  --epochs N          epochs (default 1)\n"
            "  --steps N           stop after N steps in all (benchmarks)\n"
            "  --batch N           batch size (default: the model's)\n"
            "  --lr X              base learning rate (default: the model's)\n"
            "  --optimizer sgd|adamw   (default: the model's)\n"
            "  --schedule cosine|constant   (default cosine)\n"
            "  --seed N            initialisation and shuffling seed (default 1)\n"
            "  --save FILE         checkpoint after every epoch\n"
            "  --resume FILE       start from a checkpoint\n"
            "  --limit N           use the first N training images\n"
            "  --augment SHIFT     mirror training images at random and shift them by up to\n"
            "                      SHIFT pixels each way (0: mirror only; deterministic from\n"
            "                      the seed and the step)\n"
            "  --synthetic         random data of the right shape (no files needed)\n"
            "  --tune fast|full    tune every convolution of the model at this batch first and\n"
            "                      store the winners in the device's tuning file (oclnn-tune)\n"
            "  --eval-only         only report the test accuracy\n"
            "Environment: OCLNN_DEVICE selects the device, OCLNN_PROFILE=1 prints a per-op time\n"
            "breakdown at the end.\n");
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int parse_long(const char *opt, const char *s, long lo, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo) {
        fprintf(stderr, "oclnn-train: %s %s: expected an integer >= %ld\n", opt, s, lo);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse(int argc, char **argv, options *o)
{
    static const struct option longs[] = {{"model", required_argument, 0, 'm'},
                                          {"data", required_argument, 0, 'd'},
                                          {"epochs", required_argument, 0, 'e'},
                                          {"steps", required_argument, 0, 'n'},
                                          {"batch", required_argument, 0, 'b'},
                                          {"lr", required_argument, 0, 'l'},
                                          {"optimizer", required_argument, 0, 'o'},
                                          {"schedule", required_argument, 0, 'S'},
                                          {"seed", required_argument, 0, 's'},
                                          {"save", required_argument, 0, 'w'},
                                          {"resume", required_argument, 0, 'r'},
                                          {"limit", required_argument, 0, 'L'},
                                          {"synthetic", no_argument, 0, 'y'},
                                          {"augment", required_argument, 0, 'A'},
                                          {"eval-only", no_argument, 0, 'E'},
                                          {"tune", required_argument, 0, 'T'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->model = "lenet";
    o->data = "/usr/share/datasets/fashion-mnist";
    o->epochs = 1;
    o->seed = 1;
    int c;
    long v;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'm': o->model = optarg; break;
        case 'A':
            if (parse_long("--augment", optarg, 0, &v))
                return -1;
            if (v > 8) {
                fprintf(stderr, "oclnn-train: --augment %ld: expected a shift of 0 to 8 pixels\n",
                        v);
                return -1;
            }
            o->augment = 1, o->shift = (int)v;
            break;
        case 'd': o->data = optarg; break;
        case 'e':
            if (parse_long("--epochs", optarg, 1, &v))
                return -1;
            o->epochs = (int)v;
            break;
        case 'n':
            if (parse_long("--steps", optarg, 1, &o->steps))
                return -1;
            break;
        case 'b':
            if (parse_long("--batch", optarg, 1, &v))
                return -1;
            o->batch = (int)v;
            break;
        case 'l': {
            char *end;
            o->lr = strtod(optarg, &end);
            if (!*optarg || *end || !(o->lr > 0)) {
                fprintf(stderr, "oclnn-train: --lr %s: expected a number > 0\n", optarg);
                return -1;
            }
            break;
        }
        case 'o': o->optimizer = optarg; break;
        case 'S': o->schedule = optarg; break;
        case 's':
            if (parse_long("--seed", optarg, 0, &v))
                return -1;
            o->seed = (uint64_t)v;
            break;
        case 'w': o->save = optarg; break;
        case 'r': o->resume = optarg; break;
        case 'L':
            if (parse_long("--limit", optarg, 1, &o->limit))
                return -1;
            break;
        case 'y': o->synthetic = 1; break;
        case 'E': o->eval_only = 1; break;
        case 'T': o->tune = optarg; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "oclnn-train: unexpected argument %s\n", argv[optind]);
        return -1;
    }
    if (o->optimizer && strcmp(o->optimizer, "sgd") && strcmp(o->optimizer, "adamw")) {
        fprintf(stderr, "oclnn-train: --optimizer %s: expected sgd or adamw\n", o->optimizer);
        return -1;
    }
    if (o->tune && strcmp(o->tune, "fast") && strcmp(o->tune, "full")) {
        fprintf(stderr, "oclnn-train: --tune %s: expected fast or full\n", o->tune);
        return -1;
    }
    if (o->schedule && strcmp(o->schedule, "cosine") && strcmp(o->schedule, "constant")) {
        fprintf(stderr, "oclnn-train: --schedule %s: expected cosine or constant\n", o->schedule);
        return -1;
    }
    return 0;
}

/* Fisher-Yates with a xorshift stream seeded by (seed, epoch). */
static void shuffle(long *idx, long n, uint64_t seed, int epoch)
{
    uint64_t x = (seed + 1) * 0x9e3779b97f4a7c15ull ^ (uint64_t)(epoch + 1) * 0xbf58476d1ce4e5b9ull;
    for (long i = 0; i < n; i++)
        idx[i] = i;
    for (long i = n - 1; i > 0; i--) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        long j = (long)(x % (uint64_t)(i + 1));
        long t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

static int fail_net(oclnn_context *ctx, const char *what)
{
    fprintf(stderr, "oclnn-train: %s: %s\n", what, oclnn_last_error(ctx));
    return 1;
}

static int evaluate(oclnn_net *net, const dataset *test, int batch, float *x, int32_t *y,
                    double *accuracy)
{
    long correct = 0;
    for (long i = 0; i < test->n; i += batch) {
        int count = (int)(test->n - i < batch ? test->n - i : batch);
        dataset_batch(test, NULL, i, count, x, y);
        long c;
        if (oclnn_net_infer(net, x, y, count, NULL, &c) != OCLNN_SUCCESS)
            return -1;
        correct += c;
    }
    *accuracy = test->n ? (double)correct / (double)test->n : 0.0;
    return 0;
}

static void fmt_eta(double s, char *buf, size_t n)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

int main(int argc, char **argv)
{
    const double t_start = now();
    options o;
    if (parse(argc, argv, &o))
        return 2;
    char err[1024];
    dataset train = {0}, test = {0};
    if (o.synthetic) {
        long n = o.limit ? o.limit : 60000;
        if (dataset_synthetic(n, 1, 28, 28, o.seed, &train, err, sizeof err) ||
            dataset_synthetic(1000, 1, 28, 28, o.seed + 1, &test, err, sizeof err)) {
            fprintf(stderr, "oclnn-train: %s\n", err);
            return 1;
        }
    } else if (dataset_load_dir(o.data, 1, o.limit, &train, err, sizeof err) ||
               dataset_load_dir(o.data, 0, 0, &test, err, sizeof err)) {
        fprintf(stderr, "oclnn-train: %s\n", err);
        dataset_free(&train);
        return 1;
    }
    if (train.c != test.c || train.h != test.h || train.w != test.w) {
        fprintf(stderr, "oclnn-train: training images are %dx%dx%d but test images %dx%dx%d\n",
                train.c, train.h, train.w, test.c, test.h, test.w);
        return 1;
    }

    oclnn_context *ctx = NULL;
    if (oclnn_context_create(&ctx) != OCLNN_SUCCESS) {
        fprintf(stderr, "oclnn-train: %s\n", oclnn_last_error(NULL));
        return 1;
    }
    oclnn_device_info dev;
    oclnn_context_device_info(ctx, &dev);
    oclnn_net *net = NULL;
    model_setup m;
    oclnn_status st = model_build(ctx, o.model, &net, &m);
    if (st != OCLNN_SUCCESS) {
        if (st == OCLNN_INVALID_ARGUMENT && !net)
            fprintf(stderr, "oclnn-train: --model %s: expected lenet, resnet or convnext\n",
                    o.model);
        else
            fail_net(ctx, "model");
        oclnn_context_destroy(ctx);
        return 2;
    }
    int batch = o.batch ? o.batch : m.batch;
    oclnn_net_train_desc t = m.train;
    if (o.lr > 0)
        t.lr = o.lr;
    if (o.optimizer)
        t.optimizer = strcmp(o.optimizer, "sgd") ? OCLNN_OPTIMIZER_ADAMW : OCLNN_OPTIMIZER_SGD;
    if (o.schedule)
        t.schedule = strcmp(o.schedule, "cosine") ? OCLNN_SCHEDULE_CONSTANT : OCLNN_SCHEDULE_COSINE;
    t.seed = o.seed;
    long spe = train.n / batch; /* the last partial batch is dropped */
    if (spe < 1) {
        fprintf(stderr, "oclnn-train: %ld training images are fewer than one batch of %d\n",
                train.n, batch);
        return 1;
    }
    /* The schedule spans the epochs, or --steps when that is longer (so no step runs at lr 0). */
    long total = spe * o.epochs;
    if (o.steps > total)
        total = o.steps;
    int epochs = (int)((total + spe - 1) / spe);
    /* Warm-up: the model's epochs, at most a fifth of the run. */
    long warmup = m.warmup_epochs * spe;
    if (warmup > total / 5)
        warmup = total / 5;
    t.total_steps = total;
    t.warmup_steps = warmup;

    int rc = 1;
    float *x = NULL;
    int32_t *y = NULL;
    long *idx = NULL;
    /* --eval-only: an inference-only net (no gradients or optimizer state on the device) */
    if (oclnn_net_compile(net, batch, train.c, train.h, train.w, o.eval_only ? NULL : &t) !=
        OCLNN_SUCCESS) {
        fail_net(ctx, "compile");
        goto done;
    }
    if (o.resume && oclnn_net_load(net, o.resume) != OCLNN_SUCCESS) {
        fail_net(ctx, "resume");
        goto done;
    }
    if (o.tune) {
        oclnn_conv_tune_desc td = oclnn_conv_tune_desc_default();
        td.mode = strcmp(o.tune, "full") == 0 ? OCLNN_TUNE_FULL : OCLNN_TUNE_FAST;
        td.budget_s = td.mode == OCLNN_TUNE_FULL ? 1800 : 300;
        double t_tune = now();
        size_t tuned = 0;
        printf("oclnn-train: tuning the convolutions (%s, at most %.0f s)\n", o.tune, td.budget_s);
        fflush(stdout);
        static oclnn_conv_tune_result res[256];
        if (oclnn_net_tune(net, &td, stdout, res, 256, &tuned) != OCLNN_SUCCESS) {
            fail_net(ctx, "tune");
            goto done;
        }
        double before = 0, after = 0;
        for (size_t i = 0; i < tuned; i++)
            before += res[i].before_ms, after += res[i].after_ms;
        printf("oclnn-train: tuned %zu distinct layer passes in %.1f s; their sum: %.1f ms -> "
               "%.1f ms\n",
               tuned, now() - t_tune, before, after);
    }
    /* Build every kernel program of a step in parallel before the first one. */
    double t_warm = now();
    if (oclnn_net_warmup(net, 0, NULL) != OCLNN_SUCCESS) {
        fail_net(ctx, "warm-up");
        goto done;
    }
    t_warm = now() - t_warm;
    oclnn_net_memory mem;
    oclnn_net_memory_info(net, &mem);
    printf("oclnn-train: %s on %s; %ld training, %ld test images of %dx%dx%d; batch %d, %s "
           "lr %g (%s, %ld warm-up steps), %zu parameters, %.1f MiB of device memory "
           "(+%.1f MiB workspace)\n",
           o.model, dev.name, train.n, test.n, train.c, train.h, train.w, batch,
           t.optimizer == OCLNN_OPTIMIZER_SGD ? "SGD" : "AdamW", t.lr,
           t.schedule == OCLNN_SCHEDULE_COSINE ? "cosine" : "constant", warmup, mem.parameter_count,
           mem.total / 1048576.0, mem.workspace / 1048576.0);

    size_t per = (size_t)train.c * train.h * train.w;
    x = malloc((size_t)batch * per * sizeof *x);
    y = malloc((size_t)batch * sizeof *y);
    idx = malloc((size_t)train.n * sizeof *idx);
    if (!x || !y || !idx) {
        fprintf(stderr, "oclnn-train: out of memory\n");
        goto done;
    }
    double acc;
    if (o.eval_only) {
        if (evaluate(net, &test, batch, x, y, &acc)) {
            fail_net(ctx, "evaluate");
            goto done;
        }
        printf("test accuracy %.2f%% (%ld images)\n", 100 * acc, test.n);
        rc = 0;
        goto done;
    }

    int tty = isatty(STDOUT_FILENO);
    long step = oclnn_net_step_count(net);
    long stop = o.steps ? step + o.steps : total;
    double train_time = 0;
    long trained = 0;
    int epochs_run = 0;
    for (int epoch = (int)(step / spe); step < stop; epoch++) {
        shuffle(idx, train.n, o.seed, epoch);
        long first = step % spe;
        /* untimed: the steps of this epoch before t0 (the first step of the run, start-up) */
        long in_epoch = 0, untimed = 0, correct_epoch = 0, images_epoch = 0;
        double loss_epoch = 0;
        long reads = 0;
        double t0 = now(), last_draw = t0, last_loss = NAN;
        long log_every = spe / 10 > 0 ? spe / 10 : 1;
        for (long s = first; s < spe && step < stop; s++, step++, in_epoch++) {
            dataset_batch(&train, idx, s * batch, batch, x, y);
            if (o.augment)
                dataset_augment(&train, x, batch, o.shift, o.seed, step);
            if (oclnn_net_train_step(net, x, y) != OCLNN_SUCCESS) {
                fail_net(ctx, "train step");
                goto done;
            }
            if (trained == 0 && in_epoch == 0) { /* start-up cost, reported once */
                oclnn_context_finish(ctx);
                printf("first training step done %.2f s after start (parallel kernel warm-up "
                       "%.2f s)\n",
                       now() - t_start, t_warm);
                t0 = now();
                untimed = 1;
            }
            double tn = now();
            int draw = tty ? tn - last_draw >= 0.2 : (s + 1) % log_every == 0;
            if (draw || s + 1 == spe || step + 1 == stop) {
                double l;
                long c, n;
                if (oclnn_net_read_stats(net, &l, &c, &n) != OCLNN_SUCCESS) {
                    fail_net(ctx, "read stats");
                    goto done;
                }
                tn = now();
                if (n) {
                    last_loss = l;
                    loss_epoch += l * (double)(n / batch);
                    reads += n / batch;
                    correct_epoch += c;
                    images_epoch += n;
                }
                long timed = in_epoch + 1 - untimed;
                double el = tn - t0, ips = timed ? (double)timed * batch / (el > 0 ? el : 1e-9) : 0;
                long left = (spe - s - 1) < (stop - step - 1) ? spe - s - 1 : stop - step - 1;
                char eta[32] = "-";
                if (ips > 0)
                    fmt_eta((double)left * batch / ips, eta, sizeof eta);
                if (tty) {
                    int width = 24, done_w = (int)((double)(s + 1) / (double)spe * width);
                    char bar[32];
                    for (int i = 0; i < width; i++)
                        bar[i] = i < done_w ? '=' : i == done_w ? '>' : ' ';
                    bar[width] = '\0';
                    printf("\repoch %d/%d [%s] %ld/%ld %7.0f img/s loss %.4f ETA %s   ", epoch + 1,
                           epochs, bar, s + 1, spe, ips, last_loss, eta);
                } else {
                    printf("epoch %d/%d step %ld/%ld %.0f img/s loss %.4f ETA %s\n", epoch + 1,
                           epochs, s + 1, spe, ips, last_loss, eta);
                }
                fflush(stdout);
                last_draw = tn;
            }
        }
        oclnn_context_finish(ctx);
        double el = now() - t0;
        train_time += el;
        trained += (in_epoch - untimed) * batch;
        epochs_run++;
        if (tty)
            printf("\n");
        printf("epoch %d: %ld steps in %.1f s (%.0f images/s), train loss %.4f, train accuracy "
               "%.2f%%\n",
               epoch + 1, in_epoch, el, el > 0 ? (double)(in_epoch - untimed) * batch / el : 0.0,
               reads ? loss_epoch / (double)reads : 0.0,
               images_epoch ? 100.0 * (double)correct_epoch / (double)images_epoch : 0.0);
        if (o.save && oclnn_net_save(net, o.save) != OCLNN_SUCCESS) {
            fail_net(ctx, "save");
            goto done;
        }
    }
    double te0 = now();
    if (evaluate(net, &test, batch, x, y, &acc)) {
        fail_net(ctx, "evaluate");
        goto done;
    }
    double te = now() - te0;
    printf("test accuracy %.2f%% (%ld images, %.1f s); %.1f s per epoch, %.0f training images/s "
           "over %ld images\n",
           100 * acc, test.n, te, epochs_run ? train_time / epochs_run : 0.0,
           train_time > 0 ? (double)trained / train_time : 0.0, trained);
    const char *prof = getenv("OCLNN_PROFILE");
    if (prof && strcmp(prof, "0")) {
        printf("device time by op (training and evaluation):\n");
        oclnn_profile_print(ctx, stdout);
    }
    rc = 0;
done:
    free(x);
    free(y);
    free(idx);
    oclnn_net_destroy(net);
    oclnn_context_destroy(ctx);
    dataset_free(&train);
    dataset_free(&test);
    return rc;
}
