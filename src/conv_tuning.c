/* conv_tuning.c - the convolution kernels' tunable parameters as data, their defaults per device
 * type, and the lookup a pass makes: the tuner's candidate, else the tuned entry for the exact
 * shape, else for its shape class, else the defaults. Entries come from the tuning file. */
#include "conv_algos.h"
#include "tune.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bits of the passes a parameter applies to. */
#define FWD (1 << OCLNN_CONV_FORWARD)
#define BWD_DATA (1 << OCLNN_CONV_BACKWARD_DATA)
#define BWD_WEIGHTS (1 << OCLNN_CONV_BACKWARD_WEIGHTS)

/* Every parameter: its name in the tuning file, the passes and algorithms it applies to, the
 * range a file may give, and the values the tuner searches (FULL mode; the short lists of
 * tune_conv.c first). DIRECT's block sizes are compile-time defines of cl/conv2d_direct_*.cl (KB,
 * PX, KBW, TS; KV, CI of its backward weights with channels in the lanes), LX its work-group size
 * along dimension 0, CHUNK the KiB of x and dy one chunk of backward weights covers; DEPTHWISE's RB
 * is the -DRB of cl/conv2d_depthwise.cl and TILE the KiB of input rows a dw_local work-group keeps
 * in local memory (never more than the device has). ALGO is an oclnn_conv_algo (1..5). */
#define ANY_ALGO 0x3e
#define DIRECT_ONLY (1 << OCLNN_CONV_DIRECT)
#define DEPTHWISE_ONLY (1 << OCLNN_CONV_DEPTHWISE)
const oclnn__conv_param oclnn__conv_params[OCLNN__CP_COUNT] = {
    [OCLNN__CP_ALGO] = {"ALGO", FWD | BWD_DATA | BWD_WEIGHTS, ANY_ALGO, 1, 5, 0, {0}},
    [OCLNN__CP_KB] = {"KB", FWD | BWD_DATA, DIRECT_ONLY, 1, 16, 6, {2, 4, 6, 8, 12, 16}},
    [OCLNN__CP_PX] = {"PX", FWD, DIRECT_ONLY, 1, 4, 4, {1, 2, 3, 4}},
    [OCLNN__CP_KBW] = {"KBW", BWD_WEIGHTS, DIRECT_ONLY, 1, 16, 5, {4, 6, 8, 12, 16}},
    [OCLNN__CP_TS] = {"TS", BWD_WEIGHTS, DIRECT_ONLY, 1, 8, 3, {1, 2, 3}},
    [OCLNN__CP_KV] = {"KV", FWD | BWD_DATA | BWD_WEIGHTS, DIRECT_ONLY, 1, 4, 4, {1, 2, 3, 4}},
    [OCLNN__CP_CI] =
        {"CI", FWD | BWD_DATA | BWD_WEIGHTS, DIRECT_ONLY, 1, 16, 6, {4, 6, 8, 9, 12, 16}},
    [OCLNN__CP_LX] =
        {"LX", FWD | BWD_DATA | BWD_WEIGHTS, DIRECT_ONLY, 1, 1024, 6, {1, 2, 4, 8, 16, 32}},
    [OCLNN__CP_CHUNK] =
        {"CHUNK", BWD_WEIGHTS, DIRECT_ONLY, 64, 1 << 20, 5, {512, 1024, 2048, 4096, 8192}},
    [OCLNN__CP_RB] = {"RB",
                      FWD | BWD_DATA,
                      DEPTHWISE_ONLY,
                      1,
                      OCLNN__DEPTHWISE_RB_MAX,
                      7,
                      {4, 6, 7, 8, 10, 12, 14}},
    [OCLNN__CP_TILE] = {"TILE", FWD | BWD_DATA, DEPTHWISE_ONLY, 1, 1024, 5, {8, 16, 32, 64, 128}},
};

static const char *const algo_names[] = {"auto",     "direct",    "im2col_gemm",
                                         "gemm_1x1", "depthwise", "winograd"};
static const char *const pass_names[] = {"fwd", "bwd_data", "bwd_weights"};

const char *oclnn__conv_algo_str(int algo)
{
    return algo >= 0 && algo <= OCLNN_CONV_WINOGRAD ? algo_names[algo] : "?";
}

const char *oclnn__conv_pass_str(int pass)
{
    return pass >= 0 && pass <= OCLNN_CONV_BACKWARD_WEIGHTS ? pass_names[pass] : "?";
}

int oclnn__conv_algo_parse(const char *s)
{
    for (int i = 1; i <= OCLNN_CONV_WINOGRAD; i++)
        if (strcmp(s, algo_names[i]) == 0)
            return i;
    return -1;
}

int oclnn__conv_pass_parse(const char *s)
{
    for (int i = 0; i <= OCLNN_CONV_BACKWARD_WEIGHTS; i++)
        if (strcmp(s, pass_names[i]) == 0)
            return i;
    return -1;
}

/* The defaults of a device, by type and vector width. */
static oclnn_conv_tuning device_defaults(const oclnn_device_info *info)
{
    oclnn_conv_tuning t;
    memset(&t, 0, sizeof t);
    t.algo = OCLNN_CONV_AUTO;
    t.source = "defaults";
    /* Backward weights sums over every image: chunks of images whose x and dy stay in the
     * caches while every work-item passes over them, partial sums added after. */
    t.wgrad_chunk = (size_t)2 << 20;
    /* The channel-vector backward weights (bwd_weights_kvec), where a device enables it (kv):
     * 6 weight columns per work-item, chunks of 512 KiB, which keep a work-group's share of x
     * and dy in the cache (on a 2-core Intel AVX-512 CPU LeNet's 32>64@14 at batch 32 took
     * 1.14 ms against 2.21 in chunks of 2 MiB). */
    t.ci = 6;
    t.kv_chunk = (size_t)512 << 10;
    /* Depthwise dw_local's input tile. CPUs: 8 KiB, one 14-row block of a 56-wide plane or four
     * 14x14 planes per work-group; measured on a 2-core Intel AVX-512 CPU, ConvNeXt's 7x7 layers
     * at batch 32 in one process, forward and backward data took 0.81-0.96x the time of 32 KiB
     * tiles (whole 56x56 planes, sixteen 14x14 ones); 16 KiB 0.92-1.16x the time of 8, 4 KiB
     * (no 14-row block of a 56-wide plane fits: padded copies instead) 1.56-1.59x on 96@56. GPUs:
     * 32 KiB of their local memory, as before (not measured). */
    t.dw_tile = (size_t)((info->type & CL_DEVICE_TYPE_CPU) ? 8 : 32) << 10;
    if ((info->type & CL_DEVICE_TYPE_CPU) && info->native_vector_width_float >= 16) {
        /* AVX-512 (32 registers of 16 floats). POCL runs a work-group's items in a loop on one
         * core: a few neighbouring tiles per group share their input rows in cache; the
         * float16 blocks are the vectors. 16 channels x 16 pixels (16 zmm accumulators)
         * measured 1.5x faster than 8 x 16 and than 8 x 32 or 16 x 32 (which spill) on 3x3
         * layers. */
        t.kb = 16;
        t.px = 1;
        t.kbw = 8, t.ts = 3;
        /* Backward weights of kernels 1 wide (one tap): 4 output x 6 input channels per
         * work-item (24 accumulators), so each gradient vector serves 6 products. Measured on a
         * 2-core Intel AVX-512 CPU at batch 32 against 16 x 1: ConvNeXt 96>384@56 149-164 ->
         * 63-68 ms, the ResNet-18 1x1 projections 1.3-1.8x (4 x 4, 6 x 3, 6 x 4, 8 x 3 and 4 x 8
         * within 20% of it). */
        t.kbw_s1 = 4, t.ts_s1 = 6;
        /* Backward weights with the output channels in the lanes where the weights are many
         * (conv_direct.c's rule): 4 vectors of 16 channels x 6 weight columns (24 accumulators;
         * 4 + 6 loads per 24 FMAs). Measured on ResNet-18 256>512@14 3x3 stride 2 at batch 32,
         * in one process against the flat kernel's 31-34 ms: 16.4-16.5 ms with 3 x 8 and
         * 4 x 6, 16.3 with 3 x 9, 17.4 with 3 x 7, 18.6-19.7 with 4 x 4, 4 x 5 and 4 x 7, 20.0
         * with 2 x 8, 22.4 with 2 x 12, 29.1 with 1 x 16; 4 x 6 fills blocks of 64 channels.
         * The forward's channel-vector kernel takes the same blocks (4 vectors x 6 pixels; not
         * swept on its own). Other devices keep the pixel-lane kernels (not measured there; on
         * AVX2 these blocks spill). */
        t.kv = 4;
        /* The flat forward (no bounds tests) is load-bound at 16 x 16: 8 channels x 32 pixels
         * halves the weight broadcasts per FMA, 1.2-1.35x faster on the 14x14 and 7x7 ResNet
         * layers, equal on 28x28 and 56x56. */
        t.kb_flat = 8, t.px_flat = 2;
        t.local[0] = 8, t.local[1] = 1, t.local[2] = 1;
    } else if (info->type & CL_DEVICE_TYPE_CPU) {
        /* AVX2 and narrower (16 registers of 8 floats): a float16 is two registers, so 6
         * channels x 16 pixels is 12 accumulators, the shape of the classic 6x16 AVX2 GEMM
         * kernel; the AVX-512 blocks spill. Measured on POCL (2-core Zen 3, ResNet-18 128@28,
         * batch 32): forward 6 x 16 79 GFLOP/s against 47 for 8 x 32 and 49 for 16 x 16;
         * backward data 6 channels 82 against 55 for 16; backward weights 4 channels x 3 taps
         * 61 against 42 for 8 x 3. */
        t.kb = 6;
        t.px = 1;
        t.kbw = 4, t.ts = 3, t.kbw_s1 = 8, t.ts_s1 = 1;
        t.kb_flat = 6, t.px_flat = 1;
        t.local[0] = 8, t.local[1] = 1, t.local[2] = 1;
    } else {
        t.kb = 4;
        t.px = 1;
        t.kbw = 4, t.ts = 1, t.kbw_s1 = 4, t.ts_s1 = 1;
        t.kb_flat = t.kb, t.px_flat = t.px;
        t.local[0] = 32, t.local[1] = 2, t.local[2] = 1;
    }
    return t;
}

oclnn_conv_tuning oclnn__conv_tuning_defaults(const oclnn_context *ctx)
{
    return device_defaults(&ctx->info);
}

/* Powers of two below v (v >= 1): the buckets of a shape class. */
static int floor_pow2(long long v)
{
    int p = 1;
    while ((long long)p * 2 <= v && p < (1 << 30))
        p *= 2;
    return p;
}

void oclnn__conv_key(const oclnn_conv_geom *g, bool exact, char *key, size_t size)
{
    if (exact) {
        snprintf(key, size, "n%d.c%d.h%d.w%d.k%d.r%d.s%d.g%d.st%dx%d.dl%dx%d.p%d.%d.%d.%d", g->n,
                 g->c, g->h, g->w, g->k, g->r, g->s, g->groups, g->stride_h, g->stride_w, g->dil_h,
                 g->dil_w, g->pad_t, g->pad_b, g->pad_l, g->pad_r);
        return;
    }
    /* A class: kernel, stride and dilation as they are; channels per group, output pixels and
     * batch by powers of two (batches 1, 2-7 and 8 on); grouped or not. */
    const int nb = g->n >= 8 ? 8 : g->n >= 2 ? 2 : 1;
    snprintf(key, size, "class.r%d.s%d.%s.st%dx%d.dl%dx%d.cg%d.kg%d.px%d.n%d", g->r, g->s,
             g->groups > 1 ? "grouped" : "dense", g->stride_h, g->stride_w, g->dil_h, g->dil_w,
             floor_pow2(g->cg), floor_pow2(g->kg), floor_pow2((long long)g->oh * g->ow), nb);
}

/* Applies the parameters an entry sets to t. */
static void apply(const oclnn__conv_entry *e, const oclnn_conv_geom *g, oclnn_conv_tuning *t)
{
    const int *v = e->v;
    if (v[OCLNN__CP_ALGO])
        t->algo = (oclnn_conv_algo)v[OCLNN__CP_ALGO];
    if (v[OCLNN__CP_KB])
        t->kb = t->kb_flat = v[OCLNN__CP_KB];
    if (v[OCLNN__CP_PX])
        t->px = t->px_flat = v[OCLNN__CP_PX];
    if (v[OCLNN__CP_KBW])
        t->kbw = t->kbw_s1 = v[OCLNN__CP_KBW];
    if (v[OCLNN__CP_TS] && g->s > 1)
        t->ts = v[OCLNN__CP_TS];
    if (v[OCLNN__CP_KV])
        t->kv = v[OCLNN__CP_KV];
    else if (v[OCLNN__CP_KB] || v[OCLNN__CP_PX] || v[OCLNN__CP_KBW] || v[OCLNN__CP_TS])
        t->kv = 0; /* an entry for the kernels with pixels in the lanes keeps to them */
    if (v[OCLNN__CP_CI])
        t->ci = v[OCLNN__CP_CI];
    if (v[OCLNN__CP_LX])
        t->local[0] = (size_t)v[OCLNN__CP_LX];
    if (v[OCLNN__CP_CHUNK])
        t->wgrad_chunk = t->kv_chunk = (size_t)v[OCLNN__CP_CHUNK] << 10;
    if (v[OCLNN__CP_RB])
        t->dw_rb = v[OCLNN__CP_RB];
    if (v[OCLNN__CP_TILE])
        t->dw_tile = (size_t)v[OCLNN__CP_TILE] << 10;
}

const oclnn__conv_entry *oclnn__conv_table_find(const oclnn__conv_table *tab, int pass,
                                                const char *key)
{
    for (size_t i = 0; i < tab->n; i++)
        if (tab->e[i].pass == pass && strcmp(tab->e[i].key, key) == 0)
            return &tab->e[i];
    return NULL;
}

oclnn_conv_tuning oclnn__conv_tuning(const oclnn_context *ctx, const oclnn_conv_geom *g,
                                     oclnn_conv_pass pass)
{
    oclnn_conv_tuning t = oclnn__conv_tuning_defaults(ctx);
    /* Backward data blocks a group's input channels: a block wider than them computes lanes it
     * drops, so it takes no more than they fill, rounded up to 4. Measured on POCL (2-core Intel
     * AVX-512, batch 32): the ResNet-18 stem's 3 channels 118-145 ms in blocks of 4 against 335-
     * 357 in blocks of 16 (and for IM2COL_GEMM), blocks of 3 level with 4, of 1 262; LeNet's one
     * channel level with IM2COL_GEMM at batch 32 and 3-4x faster at batch 1. */
    if (pass == OCLNN_CONV_BACKWARD_DATA) {
        const int fill = (g->cg + 3) / 4 * 4;
        if (t.kb > fill)
            t.kb = t.kb_flat = fill;
    }
    const oclnn__tune_state *st = ctx->tune_state;
    if (st->conv_override) { /* the tuner's candidate */
        apply(st->conv_override, g, &t);
        t.source = "tuner candidate";
        return t;
    }
    if (st->conv.n == 0)
        return t;
    char key[OCLNN__CONV_KEY_SIZE];
    oclnn__conv_key(g, true, key, sizeof key);
    const oclnn__conv_entry *e = oclnn__conv_table_find(&st->conv, pass, key);
    t.source = "tuned: exact shape";
    if (!e) {
        oclnn__conv_key(g, false, key, sizeof key);
        e = oclnn__conv_table_find(&st->conv, pass, key);
        t.source = "tuned: shape class";
    }
    if (e)
        apply(e, g, &t);
    else
        t.source = "defaults";
    return t;
}

oclnn_status oclnn__conv_table_put(oclnn_context *ctx, oclnn__conv_table *tab,
                                   const oclnn__conv_entry *e)
{
    oclnn__conv_entry *old = (oclnn__conv_entry *)oclnn__conv_table_find(tab, e->pass, e->key);
    if (old) {
        *old = *e;
        return OCLNN_SUCCESS;
    }
    if (tab->n == tab->cap) {
        size_t cap = tab->cap ? 2 * tab->cap : 16;
        oclnn__conv_entry *m = realloc(tab->e, cap * sizeof *m);
        if (!m)
            return oclnn__fail(ctx, OCLNN_OUT_OF_MEMORY, "tune: out of host memory");
        tab->e = m;
        tab->cap = cap;
    }
    tab->e[tab->n++] = *e;
    return OCLNN_SUCCESS;
}

void oclnn__conv_table_free(oclnn__conv_table *tab)
{
    free(tab->e);
    memset(tab, 0, sizeof *tab);
}

/* The key of a file line is one of the two forms oclnn__conv_key writes. */
static bool key_valid(const char *key)
{
    oclnn_conv_geom g;
    memset(&g, 0, sizeof g);
    char again[OCLNN__CONV_KEY_SIZE], kind[16];
    int nb, cgb, kgb, pxb;
    if (sscanf(key, "n%d.c%d.h%d.w%d.k%d.r%d.s%d.g%d.st%dx%d.dl%dx%d.p%d.%d.%d.%d", &g.n, &g.c,
               &g.h, &g.w, &g.k, &g.r, &g.s, &g.groups, &g.stride_h, &g.stride_w, &g.dil_h,
               &g.dil_w, &g.pad_t, &g.pad_b, &g.pad_l, &g.pad_r) == 16) {
        oclnn__conv_key(&g, true, again, sizeof again);
        return strcmp(again, key) == 0 && g.n > 0 && g.c > 0 && g.h > 0 && g.w > 0 && g.k > 0 &&
               g.r > 0 && g.s > 0 && g.groups > 0 && g.stride_h > 0 && g.stride_w > 0 &&
               g.dil_h > 0 && g.dil_w > 0 && g.pad_t >= 0 && g.pad_b >= 0 && g.pad_l >= 0 &&
               g.pad_r >= 0;
    }
    if (sscanf(key, "class.r%d.s%d.%15[a-z].st%dx%d.dl%dx%d.cg%d.kg%d.px%d.n%d", &g.r, &g.s, kind,
               &g.stride_h, &g.stride_w, &g.dil_h, &g.dil_w, &cgb, &kgb, &pxb, &nb) != 11)
        return false;
    if (strcmp(kind, "dense") != 0 && strcmp(kind, "grouped") != 0)
        return false;
    if (cgb < 1 || kgb < 1 || pxb < 1 || (nb != 1 && nb != 2 && nb != 8))
        return false;
    g.groups = kind[0] == 'g' ? 2 : 1;
    g.cg = cgb, g.kg = kgb, g.oh = pxb, g.ow = 1, g.n = nb;
    oclnn__conv_key(&g, false, again, sizeof again);
    return strcmp(again, key) == 0;
}

bool oclnn__conv_entry_valid(const oclnn__conv_entry *e, const oclnn_device_info *info, char *why,
                             size_t why_size)
{
    const size_t lx = (size_t)e->v[OCLNN__CP_LX], ly = device_defaults(info).local[1];
    if (lx * ly > info->max_work_group_size)
        return oclnn__tune_why(why, why_size,
                               "LX=%zu makes work-groups of %zu, more than the device's %zu", lx,
                               lx * ly, info->max_work_group_size);
    return true;
}

bool oclnn__conv_entry_parse(char *rest, oclnn__conv_entry *e, char *why, size_t why_size)
{
    memset(e, 0, sizeof *e);
    char *save = NULL;
    const char *pass = strtok_r(rest, " \t", &save);
    const char *key = pass ? strtok_r(NULL, " \t", &save) : NULL;
    if (!pass || (e->pass = oclnn__conv_pass_parse(pass)) < 0)
        return oclnn__tune_why(why, why_size,
                               "conv2d pass \"%s\" is not fwd, bwd_data or bwd_weights",
                               pass ? pass : "");
    if (!key || strlen(key) >= sizeof e->key || !key_valid(key))
        return oclnn__tune_why(why, why_size,
                               "conv2d key \"%s\" is not a shape (n..c..h..w..) or a class",
                               key ? key : "");
    snprintf(e->key, sizeof e->key, "%s", key);
    char *word;
    while ((word = strtok_r(NULL, " \t", &save))) {
        char *eq = strchr(word, '=');
        if (!eq)
            return oclnn__tune_why(why, why_size, "\"%s\" is not NAME=value", word);
        *eq = '\0';
        int i = 0;
        while (i < OCLNN__CP_COUNT && strcmp(word, oclnn__conv_params[i].name) != 0)
            i++;
        if (i == OCLNN__CP_COUNT)
            return oclnn__tune_why(why, why_size, "conv2d has no parameter %s", word);
        const oclnn__conv_param *p = &oclnn__conv_params[i];
        if (!(p->passes & (1 << e->pass)))
            return oclnn__tune_why(why, why_size, "%s does not apply to conv2d %s", word, pass);
        if (e->v[i])
            return oclnn__tune_why(why, why_size, "%s given twice", word);
        long val;
        if (i == OCLNN__CP_ALGO) {
            if ((val = oclnn__conv_algo_parse(eq + 1)) < 0)
                return oclnn__tune_why(
                    why, why_size,
                    "ALGO=%s is not direct, im2col_gemm, gemm_1x1, depthwise or winograd", eq + 1);
        } else {
            char *end;
            val = strtol(eq + 1, &end, 10);
            if (eq[1] < '0' || eq[1] > '9' || *end || val < p->min || val > p->max)
                return oclnn__tune_why(why, why_size, "%s=%s is not a number in [%d, %d]", word,
                                       eq + 1, p->min, p->max);
        }
        e->v[i] = (int)val;
    }
    if (!e->v[OCLNN__CP_ALGO])
        return oclnn__tune_why(why, why_size, "conv2d %s %s is missing ALGO", pass, key);
    for (int i = 1; i < OCLNN__CP_COUNT; i++)
        if (e->v[i] && !(oclnn__conv_params[i].algos & (1 << e->v[OCLNN__CP_ALGO])))
            return oclnn__tune_why(why, why_size, "%s does not apply to ALGO=%s",
                                   oclnn__conv_params[i].name,
                                   oclnn__conv_algo_str(e->v[OCLNN__CP_ALGO]));
    return true;
}

void oclnn__conv_params_format(const int *v, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < OCLNN__CP_COUNT && len < size; i++) {
        if (!v[i])
            continue;
        if (i == OCLNN__CP_ALGO)
            len += (size_t)snprintf(buf + len, size - len, "%sALGO=%s", len ? " " : "",
                                    oclnn__conv_algo_str(v[i]));
        else
            len += (size_t)snprintf(buf + len, size - len, "%s%s=%d", len ? " " : "",
                                    oclnn__conv_params[i].name, v[i]);
    }
}

void oclnn__conv_entry_format(const oclnn__conv_entry *e, char *line, size_t size)
{
    char params[256];
    oclnn__conv_params_format(e->v, params, sizeof params);
    snprintf(line, size, "conv2d %s %s %s", oclnn__conv_pass_str(e->pass), e->key, params);
}
