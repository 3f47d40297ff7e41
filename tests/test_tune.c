/* test_tune.c - convolution tuning: entries of the tuning file found by exact shape, then shape
 * class, then the defaults (oclnn_conv2d_describe, oclnn_conv2d_choose); convolutions run with
 * tuned, unusual parameters against the double reference; malformed entries ignored with the
 * reason; oclnn_tune_conv2d's argument checks, a FAST run whose entries a new context uses, and
 * its check of every candidate (a deliberately broken kernel block is dropped, never chosen). */
#include "fixture.h"
#include "ref_conv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tune_dir[256];

static void tune_setup(void)
{
    snprintf(tune_dir, sizeof tune_dir, "/tmp/oclnn-test-tune-%ld-XXXXXX", (long)getpid());
    ck_assert_ptr_nonnull(mkdtemp(tune_dir));
    setenv("OCLNN_CACHE_DIR", tune_dir, 1);
}

static void tune_teardown(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tune_dir);
    ck_assert_int_eq(system(cmd), 0);
    unsetenv("OCLNN_KERNEL_DIR");
}

static oclnn_context *new_ctx(void)
{
    oclnn_context *ctx = NULL;
    ck_assert_msg(oclnn_context_create(&ctx) == OCLNN_SUCCESS, "%s", oclnn_last_error(NULL));
    return ctx;
}

/* The tuning file of the test device in tune_dir. */
static void tuning_path(char *path, size_t size)
{
    oclnn_context *ctx = new_ctx();
    const char *file;
    ck_assert_int_eq(oclnn_tune_info(ctx, NULL, &file, NULL), OCLNN_SUCCESS);
    ck_assert_ptr_nonnull(strstr(file, tune_dir));
    snprintf(path, size, "%s", file);
    oclnn_context_destroy(ctx);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "%s not written", path);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* The fixture's helpers work on its own context; these tests make theirs (each reads the tuning
 * file at creation). */
static oclnn_tensor *tensor_on(oclnn_context *ctx, const oclnn_tensor_desc *d, const float *data)
{
    oclnn_tensor *t = NULL;
    ck_assert_msg(oclnn_tensor_create(ctx, d, &t) == OCLNN_SUCCESS, "%s", oclnn_last_error(ctx));
    oclnn_status s = data ? oclnn_tensor_upload(ctx, t, data, oclnn_tensor_desc_count(d), 1)
                          : oclnn_tensor_fill(ctx, t, NAN);
    ck_assert_msg(s == OCLNN_SUCCESS, "%s", oclnn_last_error(ctx));
    return t;
}

static float *download_from(oclnn_context *ctx, const oclnn_tensor *t)
{
    const oclnn_tensor_desc d = oclnn_tensor_get_desc(t);
    float *p = fx_alloc(oclnn_tensor_desc_count(&d));
    ck_assert_msg(oclnn_tensor_download(ctx, t, p, oclnn_tensor_desc_count(&d), 1) == OCLNN_SUCCESS,
                  "%s", oclnn_last_error(ctx));
    return p;
}

static void assert_status(oclnn_context *ctx, oclnn_status got, oclnn_status want,
                          const char *needle)
{
    const char *msg = oclnn_last_error(ctx);
    ck_assert_msg(got == want, "status %d, expected %d; message: %s", (int)got, (int)want, msg);
    ck_assert_msg(strstr(msg, needle) != NULL, "message \"%s\" does not contain \"%s\"", msg,
                  needle);
}

/* A convolution of the tests: shape and geometry. */
typedef struct conv_case {
    const char *name;
    ref_conv p;
} conv_case;

static oclnn_conv2d_desc desc_of(const ref_conv *p)
{
    oclnn_conv2d_desc d = oclnn_conv2d_desc_default();
    d.pad_top = p->pt, d.pad_bottom = p->pb, d.pad_left = p->pl, d.pad_right = p->pr;
    d.stride_h = p->sh, d.stride_w = p->sw, d.dilation_h = p->dh, d.dilation_w = p->dw;
    d.groups = p->groups;
    return d;
}

/* The exact key of the tuning file ("n..c..h..w..k..r..s..g..st..dl..p...", as documented). */
static void exact_key(const ref_conv *p, char *key, size_t size)
{
    snprintf(key, size, "n%d.c%d.h%d.w%d.k%d.r%d.s%d.g%d.st%dx%d.dl%dx%d.p%d.%d.%d.%d", p->n, p->c,
             p->h, p->w, p->k, p->r, p->s, p->groups, p->sh, p->sw, p->dh, p->dw, p->pt, p->pb,
             p->pl, p->pr);
}

static void describe(oclnn_context *ctx, const ref_conv *p, oclnn_conv_pass pass, char *buf,
                     size_t size)
{
    const oclnn_conv2d_desc d = desc_of(p);
    const oclnn_tensor_desc xd = oclnn_tensor_desc_4d(p->n, p->c, p->h, p->w);
    const oclnn_tensor_desc wd = oclnn_tensor_desc_4d(p->k, p->c / p->groups, p->r, p->s);
    ck_assert_msg(oclnn_conv2d_describe(ctx, &d, pass, &xd, &wd, buf, size) == OCLNN_SUCCESS, "%s",
                  oclnn_last_error(ctx));
}

static const char *pass_name[] = {"fwd", "bwd_data", "bwd_weights"};

/* Runs the three passes of c on ctx and compares each with the double reference. */
static void check_passes(oclnn_context *ctx, const conv_case *c)
{
    ref_conv p = c->p;
    ck_assert(ref_conv_shape(&p));
    const size_t nx = (size_t)p.n * p.c * p.h * p.w,
                 nw = (size_t)p.k * (p.c / p.groups) * p.r * p.s;
    const size_t ny = (size_t)p.n * p.k * p.oh * p.ow;
    float *hx = fx_alloc(nx), *hw = fx_alloc(nw), *hdy = fx_alloc(ny);
    fx_fill(hx, nx, 11, -1, 1);
    fx_fill(hw, nw, 12, -1, 1);
    fx_fill(hdy, ny, 13, -1, 1);
    double *x = fx_widen(hx, nx), *w = fx_widen(hw, nw), *dy = fx_widen(hdy, ny);
    double *want = calloc(nx + nw + ny, sizeof *want), *terms = calloc(nx + nw + ny, sizeof *terms);
    double *tol = calloc(nx + nw + ny, sizeof *tol);
    ck_assert(want && terms && tol);
    const oclnn_tensor_desc xd = oclnn_tensor_desc_4d(p.n, p.c, p.h, p.w);
    const oclnn_tensor_desc wd = oclnn_tensor_desc_4d(p.k, p.c / p.groups, p.r, p.s);
    const oclnn_tensor_desc yd = oclnn_tensor_desc_4d(p.n, p.k, p.oh, p.ow);
    oclnn_tensor *tx = tensor_on(ctx, &xd, hx), *tw = tensor_on(ctx, &wd, hw);
    oclnn_tensor *tdy = tensor_on(ctx, &yd, hdy);
    oclnn_tensor *ty = tensor_on(ctx, &yd, NULL), *tdx = tensor_on(ctx, &xd, NULL);
    oclnn_tensor *tdw = tensor_on(ctx, &wd, NULL);
    const oclnn_conv2d_desc d = desc_of(&p);
    char what[160];
    for (int pass = 0; pass < 3; pass++) {
        size_t n;
        oclnn_tensor *out;
        oclnn_status s;
        if (pass == OCLNN_CONV_FORWARD) {
            ref_conv_forward(&p, x, w, NULL, NULL, 0, 0, want, terms);
            s = oclnn_conv2d_forward(ctx, &d, tx, tw, NULL, NULL, ty), out = ty, n = ny;
        } else if (pass == OCLNN_CONV_BACKWARD_DATA) {
            ref_conv_backward_data(&p, dy, w, want, terms);
            s = oclnn_conv2d_backward_data(ctx, &d, tdy, tw, tdx, 0.0f), out = tdx, n = nx;
        } else {
            ref_conv_backward_weights(&p, x, dy, want, terms, NULL, NULL);
            s = oclnn_conv2d_backward_weights(ctx, &d, tx, tdy, tdw, NULL, 0.0f), out = tdw, n = nw;
        }
        ck_assert_msg(s == OCLNN_SUCCESS, "%s %s: %s", c->name, pass_name[pass],
                      oclnn_last_error(ctx));
        for (size_t i = 0; i < n; i++) /* as test_conv holds every algorithm */
            tol[i] = 1e-5 * terms[i] + 1e-6 + 1e-6 * (want[i] < 0 ? -want[i] : want[i]);
        float *got = download_from(ctx, out);
        snprintf(what, sizeof what, "%s %s with tuned parameters", c->name, pass_name[pass]);
        fx_assert_close_tol(what, got, want, tol, n);
        free(got);
    }
    oclnn_tensor *all[] = {tx, tw, tdy, ty, tdx, tdw};
    fx_destroy(all, 6);
    free(hx), free(hw), free(hdy), free(x), free(w), free(dy), free(want), free(terms), free(tol);
}

/* Odd shapes, each pass with DIRECT parameters no default uses: blocks that do not divide the
 * channels, 3 pixel vectors, work-groups of 3 and 5, chunks of 64 KiB (several per batch). */
static const conv_case odd_cases[] = {
    {"5>7 3x3 pads 1,0,2,1 on 7x13, batch 3",
     {3, 5, 7, 13, 7, 3, 3, 1, 0, 2, 1, 1, 1, 1, 1, 1, 0, 0}},
    {"6>4 3x3 stride 2, groups 2, on 10x9",
     {2, 6, 10, 9, 4, 3, 3, 1, 1, 1, 1, 2, 2, 1, 1, 2, 0, 0}},
    {"16>16 3x3 dilation 2 on 9x9, batch 12",
     {12, 16, 9, 9, 16, 3, 3, 2, 2, 2, 2, 1, 1, 2, 2, 1, 0, 0}},
};
static const char *const odd_params[3][3] = {
    {"ALGO=direct KB=5 PX=3 LX=3", "ALGO=direct KB=7 LX=5", "ALGO=direct KBW=5 TS=2 LX=3 CHUNK=64"},
    {"ALGO=direct KB=3 PX=2 LX=5", "ALGO=direct KB=1 LX=3",
     "ALGO=direct KBW=3 TS=1 LX=16 CHUNK=64"},
    {"ALGO=direct KB=12 PX=1 LX=1", "ALGO=direct KB=9 LX=2",
     "ALGO=direct KBW=16 TS=3 LX=5 CHUNK=64"},
};

START_TEST(tuned_parameters_compute_correctly)
{
    char path[1300], text[8192], key[128];
    tuning_path(path, sizeof path);
    int len = snprintf(text, sizeof text, "# oclnn tuning file v2\n");
    for (int i = 0; i < 3; i++) {
        exact_key(&odd_cases[i].p, key, sizeof key);
        for (int pass = 0; pass < 3; pass++)
            len += snprintf(text + len, sizeof text - (size_t)len, "conv2d %s %s %s\n",
                            pass_name[pass], key, odd_params[i][pass]);
    }
    write_text(path, text);
    oclnn_context *ctx = new_ctx();
    const char *note;
    ck_assert_int_eq(oclnn_tune_info(ctx, NULL, NULL, &note), OCLNN_SUCCESS);
    ck_assert_str_eq(note, "");
    for (int i = 0; i < 3; i++) {
        for (int pass = 0; pass < 3; pass++) {
            char got[256], want[256];
            describe(ctx, &odd_cases[i].p, (oclnn_conv_pass)pass, got, sizeof got);
            /* describe names the algorithm, then the parameters (TS=1 is implied on kernels 1
             * wide; here every kernel is 3 wide) */
            snprintf(want, sizeof want, "direct %s", odd_params[i][pass] + strlen("ALGO=direct "));
            ck_assert_msg(strncmp(got, want, strlen(want)) == 0, "%s %s: \"%s\", expected \"%s\"",
                          odd_cases[i].name, pass_name[pass], got, want);
            ck_assert_ptr_nonnull(strstr(got, "(tuned: exact shape)"));
        }
        check_passes(ctx, &odd_cases[i]);
    }
    oclnn_context_destroy(ctx);
}
END_TEST

/* Writes DIRECT entries params[pass] ("ALGO=direct ...") for c's exact shape, then checks that
 * describe reports exactly them for every pass and that the passes compute correctly. */
static void check_direct_entries(const conv_case *c, const char *const params[3])
{
    char path[1300], text[1024], key[128], got[256], want[256];
    tuning_path(path, sizeof path);
    exact_key(&c->p, key, sizeof key);
    int len = snprintf(text, sizeof text, "# oclnn tuning file v2\n");
    for (int pass = 0; pass < 3; pass++)
        len += snprintf(text + len, sizeof text - (size_t)len, "conv2d %s %s %s\n", pass_name[pass],
                        key, params[pass]);
    write_text(path, text);
    oclnn_context *ctx = new_ctx();
    for (int pass = 0; pass < 3; pass++) {
        describe(ctx, &c->p, (oclnn_conv_pass)pass, got, sizeof got);
        snprintf(want, sizeof want, "direct %s (tuned: exact shape)",
                 params[pass] + strlen("ALGO=direct "));
        ck_assert_msg(strcmp(got, want) == 0, "%s: \"%s\", expected \"%s\"", pass_name[pass], got,
                      want);
    }
    check_passes(ctx, c);
    oclnn_context_destroy(ctx);
}

/* DIRECT's channel-vector kernels from tuning entries, on any device (the defaults give them to
 * AVX-512 CPUs only): forward 3 vectors x 7 pixels (a last block of 2 of the 100 output
 * pixels), backward data 1 vector x 9 pixels of each phase of dx, backward weights 2 vectors x 5
 * columns in chunks of 64 KiB (14 images of ~0.5 MB in 4 chunks, the last of two); the groups'
 * 80 output and 64 input channels and 576 weight columns divide by few blocks; stride 2 with
 * dilation 2, asymmetric pads and 2 groups. describe shows KV and CI only where those kernels
 * run, so the check fails when an entry is ignored. */
START_TEST(tuned_channel_vectors)
{
    const conv_case c = {"128>160 3x3 stride 2 dilation 2 groups 2 on 20x20, batch 14",
                         {14, 128, 20, 20, 160, 3, 3, 2, 1, 2, 2, 2, 2, 2, 2, 2, 0, 0}};
    static const char *const params[3] = {"ALGO=direct KV=3 CI=7 LX=2",
                                          "ALGO=direct KV=1 CI=9 LX=5",
                                          "ALGO=direct KV=2 CI=5 LX=3 CHUNK=64"};
    check_direct_entries(&c, params);
}
END_TEST

/* An entry with the pixel-lane kernels' blocks (KB, PX; KBW, TS) and no KV keeps a pass on them
 * where the defaults would give it the channel-vector kernels: how the tuner compares both. */
START_TEST(tuned_pixel_blocks_keep_the_flat_kernels)
{
    const conv_case c = {"64>80 3x3 on 9x9, batch 2",
                         {2, 64, 9, 9, 80, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}};
    static const char *const params[3] = {"ALGO=direct KB=6 PX=1 LX=8", "ALGO=direct KB=8 LX=8",
                                          "ALGO=direct KBW=4 TS=3 LX=8 CHUNK=512"};
    check_direct_entries(&c, params);
}
END_TEST

/* Depthwise entries: rows per work-item and tile sizes no default uses (3 rows per item in tiles
 * of 1 KiB, one row block per band and a partial last one; 5 rows in 2 KiB, two blocks per band)
 * are what the passes run with, and they compute correctly. */
START_TEST(tuned_depthwise_rows_and_tiles)
{
    const conv_case c = {"depthwise 5x5 on 13x19, 6 channels, batch 3",
                         {3, 6, 13, 19, 6, 5, 5, 2, 2, 2, 2, 1, 1, 1, 1, 6, 0, 0}};
    static const char *const params[3] = {"ALGO=depthwise RB=3 TILE=1",
                                          "ALGO=depthwise RB=5 TILE=2", "ALGO=depthwise"};
    char path[1300], text[1024], key[128];
    tuning_path(path, sizeof path);
    exact_key(&c.p, key, sizeof key);
    int len = snprintf(text, sizeof text, "# oclnn tuning file v2\n");
    for (int pass = 0; pass < 3; pass++)
        len += snprintf(text + len, sizeof text - (size_t)len, "conv2d %s %s %s\n", pass_name[pass],
                        key, params[pass]);
    write_text(path, text);
    oclnn_context *ctx = new_ctx();
    for (int pass = 0; pass < 3; pass++) {
        char got[256], want[256];
        describe(ctx, &c.p, (oclnn_conv_pass)pass, got, sizeof got);
        snprintf(want, sizeof want, "depthwise%s%s (tuned: exact shape)", pass < 2 ? " " : "",
                 params[pass] + strlen("ALGO=depthwise") + (pass < 2));
        ck_assert_msg(strcmp(got, want) == 0, "%s: \"%s\", expected \"%s\"", pass_name[pass], got,
                      want);
    }
    check_passes(ctx, &c);
    oclnn_context_destroy(ctx);
}
END_TEST

/* Exact shape, then class, then defaults. */
START_TEST(lookup_falls_back_from_shape_to_class_to_defaults)
{
    char path[1300], key[128];
    tuning_path(path, sizeof path);
    const ref_conv a = {2, 8, 9, 11, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    /* b: another batch and size in a's class (cg 8, kg 8, 99 output pixels -> 64, batch 2-7) */
    const ref_conv b = {3, 8, 10, 10, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    /* c: another class (batch 1) */
    const ref_conv c = {1, 8, 9, 11, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    exact_key(&a, key, sizeof key);
    char text[2048];
    snprintf(text, sizeof text,
             "# oclnn tuning file v2\n# a comment\n\n"
             "conv2d fwd %s ALGO=im2col_gemm\n"
             "conv2d fwd class.r3.s3.dense.st1x1.dl1x1.cg8.kg8.px64.n2 ALGO=direct KB=4 PX=2 "
             "LX=2\n"
             "conv2d bwd_weights %s ALGO=winograd\n",
             key, key);
    write_text(path, text);
    oclnn_context *ctx = new_ctx();
    char got[256];
    describe(ctx, &a, OCLNN_CONV_FORWARD, got, sizeof got);
    ck_assert_str_eq(got, "im2col_gemm (tuned: exact shape)");
    describe(ctx, &a, OCLNN_CONV_BACKWARD_WEIGHTS, got, sizeof got);
    ck_assert_str_eq(got, "winograd (tuned: exact shape)");
    oclnn_conv2d_desc d = desc_of(&a);
    oclnn_tensor_desc xd = oclnn_tensor_desc_4d(a.n, a.c, a.h, a.w),
                      wd = oclnn_tensor_desc_4d(8, 8, 3, 3);
    oclnn_conv_algo algo;
    size_t ws;
    ck_assert_int_eq(oclnn_conv2d_choose(ctx, &d, OCLNN_CONV_FORWARD, &xd, &wd, &algo, &ws),
                     OCLNN_SUCCESS);
    ck_assert_int_eq(algo, OCLNN_CONV_IM2COL_GEMM);
    /* A forced algorithm is still the caller's. */
    d.algo = OCLNN_CONV_DIRECT;
    ck_assert_int_eq(oclnn_conv2d_choose(ctx, &d, OCLNN_CONV_FORWARD, &xd, &wd, &algo, &ws),
                     OCLNN_SUCCESS);
    ck_assert_int_eq(algo, OCLNN_CONV_DIRECT);
    describe(ctx, &a, OCLNN_CONV_BACKWARD_DATA, got, sizeof got); /* no entry for this pass */
    ck_assert_msg(strstr(got, "(defaults)") != NULL, "%s", got);
    describe(ctx, &b, OCLNN_CONV_FORWARD, got, sizeof got);
    ck_assert_str_eq(got, "direct KB=4 PX=2 LX=2 (tuned: shape class)");
    describe(ctx, &c, OCLNN_CONV_FORWARD, got, sizeof got);
    ck_assert_msg(strncmp(got, "direct ", 7) == 0 && strstr(got, "(defaults)"), "%s", got);
    oclnn_context_destroy(ctx);
    /* A tuned algorithm that does not apply is not taken: GEMM_1X1 on a 3x3 kernel. */
    snprintf(text, sizeof text, "# oclnn tuning file v2\nconv2d fwd %s ALGO=gemm_1x1\n", key);
    write_text(path, text);
    ctx = new_ctx();
    d.algo = OCLNN_CONV_AUTO;
    ck_assert_int_eq(oclnn_conv2d_choose(ctx, &d, OCLNN_CONV_FORWARD, &xd, &wd, &algo, &ws),
                     OCLNN_SUCCESS);
    ck_assert_int_ne(algo, OCLNN_CONV_GEMM_1X1);
    oclnn_context_destroy(ctx);
}
END_TEST

typedef struct bad_entry {
    const char *line;
    const char *why; /* substring of the note */
} bad_entry;

#define KEY "n2.c8.h9.w11.k8.r3.s3.g1.st1x1.dl1x1.p1.1.1.1"
static const bad_entry bad_entries[] = {
    {"conv2d forward " KEY " ALGO=direct", "pass \"forward\" is not fwd, bwd_data or bwd_weights"},
    {"conv2d fwd n2.c8 ALGO=direct", "key \"n2.c8\" is not a shape"},
    {"conv2d fwd n2.c8.h9.w11.k8.r3.s3.g1.st1x1.dl1x1.p1.1.1.-1 ALGO=direct", "is not a shape"},
    {"conv2d fwd class.r3.s3.dense.st1x1.dl1x1.cg8.kg8.px99.n2 ALGO=direct", "is not a shape"},
    {"conv2d fwd " KEY " KB=4", "is missing ALGO"},
    {"conv2d fwd " KEY " ALGO=fft", "ALGO=fft is not direct"},
    {"conv2d fwd " KEY " ALGO=direct KB=17", "KB=17 is not a number in [1, 16]"},
    {"conv2d fwd " KEY " ALGO=direct PX=x", "PX=x is not a number"},
    {"conv2d fwd " KEY " ALGO=direct FOO=1", "conv2d has no parameter FOO"},
    {"conv2d bwd_data " KEY " ALGO=direct PX=2", "PX does not apply to conv2d bwd_data"},
    {"conv2d fwd " KEY " ALGO=direct KB=4 KB=4", "KB given twice"},
    {"conv2d fwd " KEY " ALGO=direct LX", "\"LX\" is not NAME=value"},
    {"conv2d fwd " KEY " ALGO=direct\nconv2d fwd " KEY " ALGO=winograd", "given twice"},
    {"conv2d fwd " KEY " ALGO=direct RB=4", "RB does not apply to ALGO=direct"},
    {"conv2d bwd_weights " KEY " ALGO=direct KV=5", "KV=5 is not a number in [1, 4]"},
    {"conv2d fwd " KEY " ALGO=depthwise CI=6", "CI does not apply to ALGO=depthwise"},
    {"conv2d fwd " KEY " ALGO=depthwise KB=4", "KB does not apply to ALGO=depthwise"},
    {"conv2d fwd " KEY " ALGO=depthwise RB=15", "RB=15 is not a number in [1, 14]"},
    {"conv2d fwd " KEY " ALGO=depthwise TILE=0", "TILE=0 is not a number in [1, 1024]"},
    {"conv2d bwd_weights " KEY " ALGO=depthwise RB=4", "RB does not apply to conv2d bwd_weights"},
};
#undef KEY

START_TEST(malformed_entry_ignored)
{
    const bad_entry *t = &bad_entries[_i];
    char path[1300], text[1024];
    tuning_path(path, sizeof path);
    snprintf(text, sizeof text,
             "# oclnn tuning file v2\nGemmRoutine XGEMM_MIN_INDIRECT_SIZE=100\n%s\n", t->line);
    write_text(path, text);
    oclnn_context *ctx = new_ctx();
    const char *source, *note;
    ck_assert_int_eq(oclnn_tune_info(ctx, &source, NULL, &note), OCLNN_SUCCESS);
    ck_assert_msg(strstr(note, "tuning file ignored") && strstr(note, t->why),
                  "line \"%s\": note \"%s\", expected \"%s\"", t->line, note, t->why);
    ck_assert_str_ne(source, "tuning file");
    char got[256];
    const ref_conv a = {2, 8, 9, 11, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    describe(ctx, &a, OCLNN_CONV_FORWARD, got, sizeof got);
    ck_assert_msg(strstr(got, "(defaults)") != NULL, "%s", got);
    oclnn_context_destroy(ctx);
}
END_TEST

static oclnn_conv_tune_shape tune_shape(const char *name, const ref_conv *p)
{
    oclnn_conv_tune_shape sh;
    memset(&sh, 0, sizeof sh);
    snprintf(sh.name, sizeof sh.name, "%s", name);
    sh.x = oclnn_tensor_desc_4d(p->n, p->c, p->h, p->w);
    sh.w = oclnn_tensor_desc_4d(p->k, p->c / p->groups, p->r, p->s);
    sh.conv = desc_of(p);
    return sh;
}

/* Runs oclnn_tune_conv2d with its progress captured; asserts success and `want` results. The
 * caller frees the returned progress text. */
static char *tune_logged(oclnn_context *ctx, const oclnn_conv_tune_desc *d,
                         oclnn_conv_tune_result *r, size_t capacity, size_t want)
{
    char *log = NULL;
    size_t log_size = 0, count = 0;
    FILE *progress = open_memstream(&log, &log_size);
    ck_assert_ptr_nonnull(progress);
    oclnn_status s = oclnn_tune_conv2d(ctx, d, progress, r, capacity, &count);
    fclose(progress);
    ck_assert_msg(s == OCLNN_SUCCESS, "%s", oclnn_last_error(ctx));
    ck_assert_uint_eq(count, want);
    return log;
}

START_TEST(tune_conv2d_arguments)
{
    oclnn_context *ctx = new_ctx();
    const ref_conv a = {2, 8, 9, 11, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    oclnn_conv_tune_shape shapes[2] = {tune_shape("good", &a), tune_shape("bad", &a)};
    shapes[1].conv.groups = 3;
    oclnn_conv_tune_desc d = oclnn_conv_tune_desc_default();
    ck_assert_int_eq(d.mode, OCLNN_TUNE_FAST);
    ck_assert(d.budget_s == 120.0 && d.write_file == 1 && d.passes == 0 && !d.shapes);
    oclnn_conv_tune_result r[6];
    size_t count = 99;
    assert_status(ctx, oclnn_tune_conv2d(ctx, &d, NULL, r, 6, &count), OCLNN_INVALID_ARGUMENT,
                  "tune_conv2d: shapes is NULL");
    ck_assert_uint_eq(count, 0);
    d.shapes = shapes;
    assert_status(ctx, oclnn_tune_conv2d(ctx, &d, NULL, r, 6, &count), OCLNN_INVALID_ARGUMENT,
                  "nshapes is 0");
    d.nshapes = 2;
    assert_status(ctx, oclnn_tune_conv2d(ctx, &d, NULL, r, 6, &count), OCLNN_INVALID_ARGUMENT,
                  "tune_conv2d: shape 1 (bad): groups 3 does not divide input channels 8");
    d.nshapes = 1;
    d.mode = (oclnn_tune_mode)5;
    assert_status(ctx, oclnn_tune_conv2d(ctx, &d, NULL, r, 6, &count), OCLNN_INVALID_ARGUMENT,
                  "mode 5 is not OFF (0), FAST (1) or FULL (2)");
    d.mode = OCLNN_TUNE_FAST;
    d.budget_s = 0;
    assert_status(ctx, oclnn_tune_conv2d(ctx, &d, NULL, r, 6, &count), OCLNN_INVALID_ARGUMENT,
                  "budget_s 0 must be in (0, 1e6]");
    d.budget_s = 10;
    d.passes = 8;
    assert_status(ctx, oclnn_tune_conv2d(ctx, &d, NULL, r, 6, &count), OCLNN_INVALID_ARGUMENT,
                  "passes 0x8");
    d.passes = 0;
    assert_status(ctx, oclnn_tune_conv2d(ctx, &d, NULL, NULL, 6, &count), OCLNN_INVALID_ARGUMENT,
                  "results is NULL but capacity is 6");
    assert_status(ctx, oclnn_tune_conv2d(ctx, NULL, NULL, r, 6, &count), OCLNN_INVALID_ARGUMENT,
                  "tune_conv2d: desc is NULL");
    ck_assert_int_eq(oclnn_tune_conv2d(NULL, &d, NULL, r, 6, &count), OCLNN_INVALID_ARGUMENT);
    /* OFF: nothing measured, nothing written. */
    d.mode = OCLNN_TUNE_OFF;
    count = 99;
    ck_assert_int_eq(oclnn_tune_conv2d(ctx, &d, NULL, r, 6, &count), OCLNN_SUCCESS);
    ck_assert_uint_eq(count, 0);
    const char *file;
    oclnn_tune_info(ctx, NULL, &file, NULL);
    ck_assert_int_ne(access(file, F_OK), 0);
    /* describe's own checks */
    char buf[64];
    oclnn_conv2d_desc cd = desc_of(&a);
    assert_status(
        ctx,
        oclnn_conv2d_describe(ctx, &cd, OCLNN_CONV_FORWARD, &shapes[0].x, &shapes[0].w, NULL, 64),
        OCLNN_INVALID_ARGUMENT, "buf is NULL");
    assert_status(ctx,
                  oclnn_conv2d_describe(ctx, &cd, (oclnn_conv_pass)3, &shapes[0].x, &shapes[0].w,
                                        buf, sizeof buf),
                  OCLNN_INVALID_ARGUMENT, "pass 3 is not an oclnn_conv_pass");
    ck_assert_str_eq(buf, "");
    oclnn_context_destroy(ctx);
}
END_TEST

/* A FAST run on two small shapes: a result per shape and pass, never slower than what ran
 * before (the winner is confirmed against it), entries written that a new context finds, and
 * correct results with them. */
START_TEST(tune_fast_run_is_used_by_a_new_context)
{
    char path[1300];
    tuning_path(path, sizeof path);
    write_text(path, "# oclnn tuning file v1\nGemmRoutine XGEMM_MIN_INDIRECT_SIZE=100\n");
    const conv_case cases[2] = {
        {"3x3 8>8 9x11", {2, 8, 9, 11, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}},
        {"1x1 s2 8>16 10x10", {2, 8, 10, 10, 16, 1, 1, 0, 0, 0, 0, 2, 2, 1, 1, 1, 0, 0}},
    };
    oclnn_conv_tune_shape shapes[2] = {tune_shape(cases[0].name, &cases[0].p),
                                       tune_shape(cases[1].name, &cases[1].p)};
    oclnn_context *ctx = new_ctx();
    oclnn_conv_tune_desc d = oclnn_conv_tune_desc_default();
    d.shapes = shapes;
    d.nshapes = 2;
    d.budget_s = 12; /* two seconds a pass: what runs now and one candidate at least */
    oclnn_conv_tune_result r[6];
    char *log = tune_logged(ctx, &d, r, 6, 6);
    for (size_t i = 0; i < 6; i++) {
        ck_assert_str_eq(r[i].name, cases[i / 3].name);
        ck_assert_int_eq(r[i].pass, (int)(i % 3));
        ck_assert_msg(r[i].before_ms > 0 && r[i].after_ms > 0 && r[i].after_ms <= r[i].before_ms,
                      "%s %s: %g ms -> %g ms", r[i].name, pass_name[i % 3], r[i].before_ms,
                      r[i].after_ms);
        ck_assert_msg(strncmp(r[i].params, "ALGO=", 5) == 0, "%s", r[i].params);
    }
    ck_assert_ptr_nonnull(strstr(log, "wrote "));
    free(log);
    oclnn_context_destroy(ctx);

    /* The file: the GEMM line kept, an exact entry per shape and pass and a class entry. */
    const char *text = read_text(path);
    ck_assert_ptr_nonnull(strstr(text, "# oclnn tuning file v2\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nGemmRoutine XGEMM_MIN_INDIRECT_SIZE=100\n"));
    char key[128], line[256];
    for (int i = 0; i < 2; i++) {
        exact_key(&cases[i].p, key, sizeof key);
        for (int pass = 0; pass < 3; pass++) {
            snprintf(line, sizeof line, "\nconv2d %s %s %s\n", pass_name[pass], key,
                     r[i * 3 + pass].params);
            ck_assert_msg(strstr(text, line) != NULL, "no line \"%s\" in\n%s", line + 1, text);
        }
    }
    ck_assert_ptr_nonnull(
        strstr(text, "\nconv2d fwd class.r1.s1.dense.st2x2.dl1x1.cg8.kg16.px16.n2 "));

    /* A new context runs the tuned entries, correctly. */
    ctx = new_ctx();
    const char *source;
    oclnn_tune_info(ctx, &source, NULL, NULL);
    ck_assert_str_eq(source, "tuning file");
    for (int i = 0; i < 2; i++) {
        for (int pass = 0; pass < 3; pass++) {
            char got[256];
            describe(ctx, &cases[i].p, (oclnn_conv_pass)pass, got, sizeof got);
            ck_assert_msg(strstr(got, "(tuned: exact shape)") != NULL, "%s", got);
        }
        check_passes(ctx, &cases[i]);
    }
    oclnn_context_destroy(ctx);
}
END_TEST

/* On a depthwise layer the tuner tries DEPTHWISE's rows per item and tiles first, and a new
 * context computes correctly with what it wrote. */
START_TEST(tune_tries_depthwise_rows_and_tiles)
{
    const conv_case c = {"depthwise 3x3 on 12x12",
                         {2, 8, 12, 12, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8, 0, 0}};
    oclnn_conv_tune_shape sh = tune_shape(c.name, &c.p);
    oclnn_context *ctx = new_ctx();
    oclnn_conv_tune_desc d = oclnn_conv_tune_desc_default();
    d.shapes = &sh;
    d.nshapes = 1;
    d.passes = 1u << OCLNN_CONV_FORWARD | 1u << OCLNN_CONV_BACKWARD_DATA;
    d.budget_s = 40; /* the first candidates, IM2COL_GEMM (compiling CLBlast) among them */
    oclnn_conv_tune_result r[2];
    char *log = tune_logged(ctx, &d, r, 2, 2);
    for (int pass = 0; pass < 2; pass++) {
        char tried[128];
        snprintf(tried, sizeof tried, "%s %s ALGO=depthwise RB=4 TILE=", c.name, pass_name[pass]);
        ck_assert_msg(strstr(log, tried) != NULL, "\"%s\" not tried:\n%s", tried, log);
        ck_assert_msg(r[pass].after_ms > 0 && r[pass].after_ms <= r[pass].before_ms,
                      "%s: %g ms -> %g ms", pass_name[pass], r[pass].before_ms, r[pass].after_ms);
    }
    free(log);
    oclnn_context_destroy(ctx);
    ctx = new_ctx();
    char got[256];
    describe(ctx, &c.p, OCLNN_CONV_FORWARD, got, sizeof got);
    ck_assert_msg(strstr(got, "(tuned: exact shape)") != NULL, "%s", got);
    check_passes(ctx, &c);
    oclnn_context_destroy(ctx);
}
END_TEST

/* The check before timing: a copy of the kernels whose forward block of 4 channels starts its
 * sums at 1 instead of 0 (OCLNN_KERNEL_DIR). Every candidate with KB=4 must be dropped and the
 * winner must not be one; the defaults (never KB=4) pass. */
START_TEST(tune_drops_a_wrong_candidate)
{
    char kdir[512], cmd[1400];
    snprintf(kdir, sizeof kdir, "%s/kernels", tune_dir);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s'/*.cl '%s'/*.h '%s'/", kdir,
             OCLNN_TEST_CL_DIR, OCLNN_TEST_CL_DIR, kdir);
    ck_assert_int_eq(system(cmd), 0);
    char path[600];
    snprintf(path, sizeof path, "%s/conv2d_direct_fwd.cl", kdir);
    char *src = strdup(read_text(path));
    const char *zero = "acc[j][v] = (float16)(0.0f);";
    const char *broken = "acc[j][v] = (float16)(KB == 4 ? 1.0f : 0.0f);";
    char *out = calloc(strlen(src) * 2 + 1, 1);
    ck_assert(src && out);
    int replaced = 0;
    for (const char *p = src; *p;) {
        const char *hit = strstr(p, zero);
        if (!hit) {
            strcat(out, p);
            break;
        }
        strncat(out, p, (size_t)(hit - p));
        strcat(out, broken);
        p = hit + strlen(zero);
        replaced++;
    }
    ck_assert_int_eq(replaced, 2); /* the row and the flat forward kernels */
    write_text(path, out);
    free(src), free(out);
    setenv("OCLNN_KERNEL_DIR", kdir, 1);

    const ref_conv p = {2, 8, 9, 11, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    oclnn_conv_tune_shape sh = tune_shape("3x3 8>8 9x11", &p);
    oclnn_context *ctx = new_ctx();
    oclnn_conv_tune_desc d = oclnn_conv_tune_desc_default();
    d.shapes = &sh;
    d.nshapes = 1;
    d.passes = 1u << OCLNN_CONV_FORWARD;
    d.budget_s = 30; /* the short list reaches KB=4 within a few candidates */
    d.write_file = 0;
    oclnn_conv_tune_result r;
    char *log = tune_logged(ctx, &d, &r, 1, 1);
    const char *line = strstr(log, "KB=4 PX=2 LX=");
    ck_assert_msg(line && strstr(line, "wrong result at output") &&
                      strstr(line, "wrong result at output") < strchr(line, '\n'),
                  "KB=4 not dropped:\n%s", log);
    ck_assert_msg(strstr(r.params, "KB=4 ") == NULL, "winner %s", r.params);
    free(log);
    oclnn_context_destroy(ctx);
}
END_TEST

static Suite *tune_suite(void)
{
    Suite *s = suite_create("tune");
    TCase *tc = tcase_create("conv2d");
    tcase_add_checked_fixture(tc, tune_setup, tune_teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, lookup_falls_back_from_shape_to_class_to_defaults);
    tcase_add_test(tc, tuned_parameters_compute_correctly);
    tcase_add_test(tc, tuned_depthwise_rows_and_tiles);
    tcase_add_test(tc, tuned_channel_vectors);
    tcase_add_test(tc, tuned_pixel_blocks_keep_the_flat_kernels);
    tcase_add_loop_test(tc, malformed_entry_ignored, 0,
                        (int)(sizeof bad_entries / sizeof bad_entries[0]));
    tcase_add_test(tc, tune_conv2d_arguments);
    tcase_add_test(tc, tune_fast_run_is_used_by_a_new_context);
    tcase_add_test(tc, tune_drops_a_wrong_candidate);
    tcase_add_test(tc, tune_tries_depthwise_rows_and_tiles);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_main(tune_suite());
}
