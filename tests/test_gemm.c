/* test_gemm.c - oclnn_gemm against a double reference (transposes, odd sizes, alpha/beta, views
 * with offsets, NaN-prefilled outputs, sizes CLBlast would alias), its argument checks, and GEMM
 * tuning: the tuning file round trip, a malformed file ignored, OFF mode, a quick FAST run. Tests
 * of internals: includes src/tune.h to see the parameters a context applied. */
#include "fixture.h"
#include "ref_gemm.h"
#include "tune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct gemm_case {
    const char *name;
    int m, n, k, ta, tb;
    float alpha, beta;
    /* How CLBlast runs it with the AVX-512 defaults when it holds their GEMMK=1 set (plan_name;
     * NULL: any). */
    const char *plan;
} gemm_case;

static const gemm_case cases[] = {
    {"1x1x1 NN", 1, 1, 1, 0, 0, 1.0f, 0.0f, NULL},
    {"1x1x1 TT", 1, 1, 1, 1, 1, 1.0f, 0.0f, NULL},
    {"7x13x5 NN", 7, 13, 5, 0, 0, 1.0f, 0.0f, NULL},
    {"7x13x5 NT", 7, 13, 5, 0, 1, 1.0f, 0.0f, NULL},
    {"7x13x5 TN", 7, 13, 5, 1, 0, 1.0f, 0.0f, NULL},
    {"7x13x5 TT", 7, 13, 5, 1, 1, 1.0f, 0.0f, NULL},
    {"65x33x129 NN", 65, 33, 129, 0, 0, 1.0f, 0.0f, NULL},
    {"65x33x129 NT", 65, 33, 129, 0, 1, 1.0f, 0.0f, NULL},
    {"65x33x129 TN", 65, 33, 129, 1, 0, 1.0f, 0.0f, NULL},
    {"65x33x129 TT", 65, 33, 129, 1, 1, 1.0f, 0.0f, NULL},
    {"65x33x129 NN alpha -0.5 beta 0.75", 65, 33, 129, 0, 0, -0.5f, 0.75f, NULL},
    {"65x33x129 TT alpha 2 beta 1", 65, 33, 129, 1, 1, 2.0f, 1.0f, NULL},
    {"7x13x5 NT alpha 0 beta 1", 7, 13, 5, 0, 1, 0.0f, 1.0f, NULL},
    /* Real layer shapes, scaled down: ResNet 3x3 conv as im2col GEMM (16 channels, 14x14), its
     * weight gradient (B transposed) and data gradient (A transposed); a linear layer. */
    {"conv 16x196x144 NN", 16, 196, 144, 0, 0, 1.0f, 0.0f, NULL},
    {"wgrad 16x144x196 NT", 16, 144, 196, 0, 1, 1.0f, 1.0f, NULL},
    {"dgrad 144x196x16 TN", 144, 196, 16, 1, 0, 1.0f, 0.0f, NULL},
    {"linear 8x10x392 NT", 8, 10, 392, 0, 1, 1.0f, 0.0f, NULL},
    /* Big enough for CLBlast's indirect path (m*n*k above its threshold cube), each way the
     * library runs it there (gemm.c: the set and layout of least modelled cost), the last one
     * worth a change back to the GEMMK=0 set. */
    {"indirect 200x330x520 NN", 200, 330, 520, 0, 0, 1.0f, 0.5f, "XgemmK1 row-major"},
    {"indirect 200x330x520 TT", 200, 330, 520, 1, 1, 1.0f, 0.0f, "XgemmK1 swapped"},
    {"indirect 520x33x300 NN", 520, 33, 300, 0, 0, 1.0f, 0.5f, "XgemmK1 row-major"},
    {"indirect 300x40x200 NT", 300, 40, 200, 0, 1, -1.0f, 0.0f, "XgemmK1 row-major"},
    {"indirect 40x300x200 TT", 40, 300, 200, 1, 1, 0.5f, 1.0f, "XgemmK1 swapped"},
    {"indirect 300x40x200 TN", 300, 40, 200, 1, 0, 1.0f, 0.0f, "XgemmK1 swapped"},
    {"linear 32x512x4608 NT", 32, 512, 4608, 0, 1, 1.0f, 0.0f, "XgemmK1 swapped"},
    {"conv 64x3136x576 NN", 64, 3136, 576, 0, 0, 1.0f, 0.0f, "Xgemm swapped"},
    /* On CPUs with the library's CLBlast parameters, m and n whose tile-padded sizes are
     * multiples of 256 floats from 1024 on run on copies with unaliased sizes (gemm.c): both,
     * then m alone, then n alone. */
    {"unaliased 1024x1024x24 NN", 1024, 1024, 24, 0, 0, 1.0f, 0.0f, NULL},
    {"unaliased 1024x1024x24 NT", 1024, 1024, 24, 0, 1, -0.5f, 0.75f, NULL},
    {"unaliased 1024x1024x24 TN", 1024, 1024, 24, 1, 0, 1.0f, 1.0f, NULL},
    {"unaliased 1024x1024x24 TT", 1024, 1024, 24, 1, 1, 2.0f, 0.0f, NULL},
    {"unaliased 1280x100x24 TN", 1280, 100, 24, 1, 0, 1.0f, 0.5f, NULL},
    {"unaliased 96x1536x24 NT", 96, 1536, 24, 0, 1, 1.0f, 0.0f, NULL},
};

/* Checks got (c after the GEMM of case t) against the double reference of t on a and b (leading
 * dimensions lda, ldb) and c0, c before the GEMM (read where beta != 0). */
static void check_gemm(const gemm_case *t, const float *a, size_t lda, const float *b, size_t ldb,
                       const float *c0, const float *got)
{
    const size_t nc = (size_t)t->m * t->n;
    double *want = malloc(nc * sizeof *want), *tol = malloc(nc * sizeof *tol);
    ck_assert_ptr_nonnull(want);
    ck_assert_ptr_nonnull(tol);
    ref_gemm(t->ta, t->tb, t->m, t->n, t->k, t->alpha, a, lda, b, ldb, t->beta,
             t->beta != 0 ? c0 : NULL, (size_t)t->n, want, tol);
    /* fp32 accumulation of k products: relative to the sum of |terms|. */
    for (size_t i = 0; i < nc; i++)
        tol[i] = 1e-5 * tol[i] + 1e-7;
    fx_assert_close_tol(t->name, got, want, tol, nc);
    free(want);
    free(tol);
}

/* Runs one case with a, b, c as views starting `off` elements into larger buffers (0: plain
 * tensors) and checks c, and that the elements around c's view are untouched. */
static void run_case(const gemm_case *t, size_t off)
{
    oclnn_context *ctx = fx_ctx();
    const int ar = t->ta ? t->k : t->m, ac = t->ta ? t->m : t->k;
    const int br = t->tb ? t->n : t->k, bc = t->tb ? t->k : t->n;
    const size_t na = (size_t)ar * ac, nb = (size_t)br * bc, nc = (size_t)t->m * t->n;
    float *ha = fx_alloc(na), *hb = fx_alloc(nb), *hc = fx_alloc(nc);
    fx_fill(ha, na, 1, -1, 1);
    fx_fill(hb, nb, 2, -1, 1);
    fx_fill(hc, nc, 3, -1, 1);
    if (t->beta == 0)
        fx_fill_nan(hc, nc); /* must not leak into the result */
    oclnn_tensor_desc da = oclnn_tensor_desc_2d(ar, ac), db = oclnn_tensor_desc_2d(br, bc),
                      dc = oclnn_tensor_desc_2d(t->m, t->n);
    oclnn_tensor *a, *b, *c, *base = NULL;
    if (off == 0) {
        a = fx_tensor(&da, ha);
        b = fx_tensor(&db, hb);
        c = fx_tensor(&dc, hc);
    } else {
        /* One buffer: [off pad][a][off pad][b][off pad][c][off pad], sentinel-filled. */
        size_t total = 4 * off + na + nb + nc;
        oclnn_tensor_desc dall = oclnn_tensor_desc_1d((int)total);
        float *init = fx_alloc(total);
        for (size_t i = 0; i < total; i++)
            init[i] = 1234.5f;
        base = fx_tensor(&dall, init);
        free(init);
        ck_assert_int_eq(oclnn_tensor_view(ctx, base, &da, off, &a), OCLNN_SUCCESS);
        ck_assert_int_eq(oclnn_tensor_view(ctx, base, &db, 2 * off + na, &b), OCLNN_SUCCESS);
        ck_assert_int_eq(oclnn_tensor_view(ctx, base, &dc, 3 * off + na + nb, &c), OCLNN_SUCCESS);
        ck_assert_int_eq(oclnn_tensor_upload(ctx, a, ha, na, 1), OCLNN_SUCCESS);
        ck_assert_int_eq(oclnn_tensor_upload(ctx, b, hb, nb, 1), OCLNN_SUCCESS);
        ck_assert_int_eq(oclnn_tensor_upload(ctx, c, hc, nc, 1), OCLNN_SUCCESS);
    }
    oclnn_status s = oclnn_gemm(ctx, t->ta, t->tb, t->alpha, a, b, t->beta, c);
    ck_assert_msg(s == OCLNN_SUCCESS, "%s: %s", t->name, oclnn_last_error(ctx));
    float *got = fx_download(c);
    check_gemm(t, ha, (size_t)ac, hb, (size_t)bc, hc, got);
    if (base) {
        float *all = fx_download(base);
        size_t c0 = 3 * off + na + nb;
        for (size_t i = 0; i < off; i++) {
            ck_assert_msg(all[c0 - off + i] == 1234.5f, "%s: element before c written", t->name);
            ck_assert_msg(all[c0 + nc + i] == 1234.5f, "%s: element after c written", t->name);
        }
        free(all);
        oclnn_tensor_destroy(base);
    }
    free(got);
    free(ha);
    free(hb);
    free(hc);
    oclnn_tensor_destroy(a);
    oclnn_tensor_destroy(b);
    oclnn_tensor_destroy(c);
}

START_TEST(gemm_matches_reference)
{
    run_case(&cases[_i], 0);
}
END_TEST

START_TEST(gemm_views_with_offsets)
{
    run_case(&cases[_i], 37);
}
END_TEST

static const char *plan_name(oclnn__gemm_plan p)
{
    if (p.xgemm == OCLNN__TK_XGEMM)
        return p.swap ? "Xgemm swapped" : "Xgemm row-major";
    return p.swap ? "XgemmK1 swapped" : "XgemmK1 row-major";
}

/* Whether ctx runs the library's AVX-512 CPU defaults, under which the plans below hold. */
static bool avx512_defaults(oclnn_context *ctx)
{
    const oclnn__tune_state *st = ctx->tune_state;
    oclnn__gemm_params d;
    oclnn__tune_defaults(&ctx->info, &d);
    return d.set[OCLNN__TK_XGEMM_K1] && memcmp(st->applied.v, d.v, sizeof d.v) == 0 &&
           memcmp(st->applied.set, d.set, sizeof d.set) == 0;
}

/* Plans from either set, for the measured shapes the model was fitted on (gemm.c): GEMMK=1
 * where it spares CLBlast a transposed copy of a large A (512x49x4608), or of weights read as
 * B^T (a linear layer, 32x4096x9216), or pads less (m = 32); GEMMK=0 swapped otherwise, and
 * below the indirect path's threshold. A change of set must pay: LeNet's linear layer
 * (32x128x3136) keeps whichever set CLBlast holds. */
typedef struct plan_shape {
    gemm_case t;
    oclnn__tk loaded;
} plan_shape;

static const plan_shape plan_shapes[] = {
    {{"512x49x4608 NN", 512, 49, 4608, 0, 0, 1, 0, "XgemmK1 row-major"}, OCLNN__TK_XGEMM},
    {{"32x4096x9216 NT", 32, 4096, 9216, 0, 1, 1, 0, "XgemmK1 swapped"}, OCLNN__TK_XGEMM},
    {{"32x9216x4096 NN", 32, 9216, 4096, 0, 0, 1, 0, "XgemmK1 row-major"}, OCLNN__TK_XGEMM},
    {{"1024x1024x1024 NN", 1024, 1024, 1024, 0, 0, 1, 0, "Xgemm swapped"}, OCLNN__TK_XGEMM},
    {{"1024x1024x1024 NN", 1024, 1024, 1024, 0, 0, 1, 0, "Xgemm swapped"}, OCLNN__TK_XGEMM_K1},
    {{"64x3136x576 NN", 64, 3136, 576, 0, 0, 1, 0, "Xgemm swapped"}, OCLNN__TK_XGEMM},
    {{"256x196x2304 NN", 256, 196, 2304, 0, 0, 1, 0, "Xgemm swapped"}, OCLNN__TK_XGEMM},
    {{"4096x9216x32 TN", 4096, 9216, 32, 1, 0, 1, 0, "Xgemm swapped"}, OCLNN__TK_XGEMM_K1},
    {{"32x128x3136 NT", 32, 128, 3136, 0, 1, 1, 0, "Xgemm swapped"}, OCLNN__TK_XGEMM},
    {{"32x128x3136 NT", 32, 128, 3136, 0, 1, 1, 0, "XgemmK1 swapped"}, OCLNN__TK_XGEMM_K1},
    {{"7x13x5 NT (direct)", 7, 13, 5, 0, 1, 1, 0, "Xgemm swapped"}, OCLNN__TK_XGEMM_K1},
};

static const char *plan_of(oclnn_context *ctx, oclnn__tk loaded, const gemm_case *t)
{
    return plan_name(
        oclnn__gemm_plan_for(ctx, loaded, t->ta, t->tb, (size_t)t->m, (size_t)t->n, (size_t)t->k));
}

START_TEST(gemm_plan_by_modelled_cost)
{
    oclnn_context *ctx = fx_ctx();
    if (!avx512_defaults(ctx))
        return;
    for (size_t i = 0; i < sizeof plan_shapes / sizeof plan_shapes[0]; i++) {
        const plan_shape *p = &plan_shapes[i];
        const char *got = plan_of(ctx, p->loaded, &p->t);
        ck_assert_msg(strcmp(got, p->t.plan) == 0, "%s from %s: plan %s, expected %s", p->t.name,
                      oclnn__tune_kernels[p->loaded].name, got, p->t.plan);
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const gemm_case *t = &cases[i];
        const char *got = t->plan ? plan_of(ctx, OCLNN__TK_XGEMM_K1, t) : NULL;
        ck_assert_msg(!got || strcmp(got, t->plan) == 0, "%s: plan %s, expected %s", t->name, got,
                      t->plan);
    }
}
END_TEST

/* The table's linear layer row: worth a change to the GEMMK=1 set from the GEMMK=0 one. */
static const gemm_case *linear_case(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (strcmp(cases[i].name, "linear 32x512x4608 NT") == 0)
            return &cases[i];
    ck_abort_msg("no linear 32x512x4608 NT row");
    return NULL;
}

/* CLBlast holds one Xgemm set at a time: each table row with a plan runs it from the GEMMK=1
 * set (the last row changes back to GEMMK=0), the first from GEMMK=0 too (a change to GEMMK=1),
 * and computes right; CLBlast then holds the plan's set. */
START_TEST(gemm_plans_alternate)
{
    oclnn_context *ctx = fx_ctx();
    if (!avx512_defaults(ctx))
        return;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const gemm_case *t = &cases[i];
        if (!t->plan)
            continue;
        ck_assert_int_eq(oclnn__gemm_load_set(ctx, "t", OCLNN__TK_XGEMM_K1), OCLNN_SUCCESS);
        const oclnn__gemm_plan p = oclnn__gemm_plan_for(ctx, oclnn__gemm_loaded(ctx), t->ta, t->tb,
                                                        (size_t)t->m, (size_t)t->n, (size_t)t->k);
        ck_assert_str_eq(plan_name(p), t->plan);
        run_case(t, 0);
        ck_assert_msg(oclnn__gemm_loaded(ctx) == p.xgemm, "%s: CLBlast holds another set", t->name);
    }
    const gemm_case *big = linear_case();
    ck_assert_int_eq(oclnn__gemm_load_set(ctx, "t", OCLNN__TK_XGEMM), OCLNN_SUCCESS);
    ck_assert_str_eq(plan_of(ctx, oclnn__gemm_loaded(ctx), big), big->plan);
    run_case(big, 5);
    ck_assert_int_eq(oclnn__gemm_loaded(ctx), OCLNN__TK_XGEMM_K1);
}
END_TEST

/* Two contexts on one device: CLBlast holds one Xgemm set per device for the process, so a
 * context gives it its set again where another context changed it. */
START_TEST(gemm_plans_two_contexts)
{
    oclnn_context *a = fx_ctx(), *b = NULL;
    if (!avx512_defaults(a))
        return;
    const gemm_case *big = linear_case();
    run_case(big, 0);
    ck_assert_int_eq(oclnn__gemm_loaded(a), OCLNN__TK_XGEMM_K1);
    ck_assert_int_eq(oclnn_context_create(&b), OCLNN_SUCCESS); /* gives CLBlast its first set */
    ck_assert_int_eq(oclnn__gemm_loaded(b), OCLNN__TK_XGEMM);
    ck_assert_int_eq(oclnn__gemm_loaded(a), OCLNN__TK_XGEMM);
    run_case(big, 0);
    ck_assert_int_eq(oclnn__gemm_loaded(a), OCLNN__TK_XGEMM_K1);
    ck_assert_int_eq(oclnn__gemm_loaded(b), OCLNN__TK_XGEMM_K1);
    oclnn_context_destroy(b);
}
END_TEST

/* B strided batches of case t on ctx (the library's batched GEMM, as the 1x1 convolutions and
 * the tuner call it; one batch is a single GEMM), every one checked against the reference. */
static void check_strided(oclnn_context *ctx, const gemm_case *t, size_t B)
{
    const size_t na = (size_t)t->m * t->k, nb = (size_t)t->k * t->n, nc = (size_t)t->m * t->n;
    float *ha = fx_alloc(B * na), *hb = fx_alloc(B * nb), *hc = fx_alloc(B * nc),
          *got = fx_alloc(B * nc);
    fx_fill(ha, B * na, 11, -1, 1);
    fx_fill(hb, B * nb, 12, -1, 1);
    fx_fill(hc, B * nc, 13, -1, 1);
    oclnn_tensor_desc da = oclnn_tensor_desc_1d((int)(B * na)),
                      db = oclnn_tensor_desc_1d((int)(B * nb)),
                      dc = oclnn_tensor_desc_1d((int)(B * nc));
    oclnn_tensor *a, *b, *c;
    ck_assert_int_eq(oclnn_tensor_create(ctx, &da, &a), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_create(ctx, &db, &b), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_create(ctx, &dc, &c), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_upload(ctx, a, ha, B * na, 1), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_upload(ctx, b, hb, B * nb, 1), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_upload(ctx, c, hc, B * nc, 1), OCLNN_SUCCESS);
    const size_t lda = t->ta ? (size_t)t->m : (size_t)t->k,
                 ldb = t->tb ? (size_t)t->k : (size_t)t->n;
    oclnn_status s = oclnn__sgemm_strided(ctx, "t", t->ta, t->tb, (size_t)t->m, (size_t)t->n,
                                          (size_t)t->k, t->alpha, a->mem, 0, lda, na, b->mem, 0,
                                          ldb, nb, t->beta, c->mem, 0, (size_t)t->n, nc, B);
    ck_assert_msg(s == OCLNN_SUCCESS, "%s: %s", t->name, oclnn_last_error(ctx));
    ck_assert_int_eq(oclnn_tensor_download(ctx, c, got, B * nc, 1), OCLNN_SUCCESS);
    for (size_t i = 0; i < B; i++)
        check_gemm(t, ha + i * na, lda, hb + i * nb, ldb, hc + i * nc, got + i * nc);
    free(got);
    free(ha);
    free(hb);
    free(hc);
    oclnn_tensor_destroy(a);
    oclnn_tensor_destroy(b);
    oclnn_tensor_destroy(c);
}

/* Batches of the shapes each plan takes alone: CLBlast's batched kernel computed garbage with
 * the GEMMK=1 set, so batches run with the first set (or as single GEMMs). */
START_TEST(strided_batches_match_reference)
{
    ck_assert_ptr_nonnull(cases[_i].plan); /* the loop runs over the rows with a plan */
    oclnn_context *ctx = fx_ctx();
    ck_assert_int_eq(oclnn__gemm_load_set(ctx, "t", OCLNN__TK_XGEMM_K1), OCLNN_SUCCESS);
    check_strided(ctx, &cases[_i], 3);
}
END_TEST

/* m and n grow (gemm.c's unaliased copies) for the GEMMK=0 set only: with the GEMMK=1 set a
 * linear layer's 4096x9216 weights, read in place (as B^T for the forward, as B for the
 * backward data), are not copied (with the AVX-512 defaults; the temporary bytes are those of
 * the small operands only). */
START_TEST(no_unaliased_copies_for_gemmk1)
{
    oclnn_context *ctx = fx_ctx();
    if (!avx512_defaults(ctx))
        return;
    const size_t m = 32, n = 4096, k = 9216;
    ck_assert_int_eq(oclnn__gemm_load_set(ctx, "t", OCLNN__TK_XGEMM), OCLNN_SUCCESS);
    ck_assert_str_eq(plan_name(oclnn__gemm_plan_for(ctx, OCLNN__TK_XGEMM, false, true, m, n, k)),
                     "XgemmK1 swapped");
    size_t got = 0;
    ck_assert_int_eq(
        oclnn__sgemm_temp_bytes(ctx, "t", false, true, m, n, k, 0, k, 0, k, 0, n, &got),
        OCLNN_SUCCESS);
    ck_assert_msg(got <= 2 * (m * k + m * n) * sizeof(float), "forward: %zu temporary bytes", got);
    /* dx[32][9216] = dy[32][4096] w[4096][9216] */
    ck_assert_int_eq(oclnn__gemm_load_set(ctx, "t", OCLNN__TK_XGEMM), OCLNN_SUCCESS);
    ck_assert_str_eq(plan_name(oclnn__gemm_plan_for(ctx, OCLNN__TK_XGEMM, false, false, m, k, n)),
                     "XgemmK1 row-major");
    ck_assert_int_eq(
        oclnn__sgemm_temp_bytes(ctx, "t", false, false, m, k, n, 0, n, 0, k, 0, k, &got),
        OCLNN_SUCCESS);
    ck_assert_msg(got <= 2 * (m * k + m * n) * sizeof(float), "backward data: %zu temporary bytes",
                  got);
}
END_TEST

/* OCLNN_PROFILE times a CLBlast GEMM over all of its kernels. CLBlast returns one event, for the
 * last of the kernels of its indirect path (pads of A and B, Xgemm, the copy of C out of its
 * padded tile: 500 is no multiple of any tile), which alone is a small part of the call: the op's
 * device time must be most of the wall time of five calls queued back to back and their finish
 * (measured: 0.27 ms of a 6.8 ms call with the last kernel's event alone). */
static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

START_TEST(profile_spans_clblast_gemm)
{
    oclnn_context *ctx = fx_ctx();
    const int n = 500;
    oclnn_tensor_desc d = oclnn_tensor_desc_2d(n, n);
    float *h = fx_alloc((size_t)n * n);
    for (size_t i = 0; i < (size_t)n * n; i++)
        h[i] = (float)(i % 7) - 3.0f;
    oclnn_tensor *a = fx_tensor(&d, h), *b = fx_tensor(&d, h), *c = fx_tensor(&d, NULL);
    ck_assert_int_eq(oclnn_gemm(ctx, 0, 0, 1.0f, a, b, 0.0f, c), OCLNN_SUCCESS); /* builds */
    ck_assert_int_eq(oclnn_context_finish(ctx), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_profile_reset(ctx), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_profile_enable(ctx, 1), OCLNN_SUCCESS);
    double wall = now_ms(), ms = 0;
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(oclnn_gemm(ctx, 0, 0, 1.0f, a, b, 0.0f, c), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_context_finish(ctx), OCLNN_SUCCESS);
    wall = now_ms() - wall;
    ck_assert_int_eq(oclnn_profile_op_ms(ctx, "gemm", &ms), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_profile_enable(ctx, 0), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_profile_reset(ctx), OCLNN_SUCCESS);
    ck_assert_msg(ms >= 0.5 * wall && ms <= wall, "5 GEMMs profiled %.3f ms of %.3f ms", ms, wall);
    free(h);
    oclnn_tensor_destroy(a);
    oclnn_tensor_destroy(b);
    oclnn_tensor_destroy(c);
}
END_TEST

/* The temporary bytes reported for a GEMM that runs on unaliased sizes (oclnn_tune_result's
 * temp_bytes) are CLBlast's buffer for the grown GEMM plus the library's copies of a, b and c at
 * the grown sizes. Only where the library applies its CLBlast parameters on a CPU. */
START_TEST(temp_bytes_count_unaliased_copies)
{
    oclnn_context *ctx = fx_ctx();
    const oclnn__tune_state *st = ctx->tune_state;
    if (!(ctx->info.type & CL_DEVICE_TYPE_CPU) || !st->applied.set[OCLNN__TK_XGEMM])
        return;
    /* NN on the GEMMK=0 set, swapped (CLBlast sees n as m): CLBlast copies A transposed and
     * reads B in place with n as its leading dimension, so both grow by a tile. */
    const size_t m = 1024, n = 1024, k = 64;
    ck_assert_int_eq(oclnn__gemm_load_set(ctx, "t", OCLNN__TK_XGEMM), OCLNN_SUCCESS);
    ck_assert_str_eq(plan_name(oclnn__gemm_plan_for(ctx, OCLNN__TK_XGEMM, false, false, m, n, k)),
                     "Xgemm swapped");
    const size_t *v = st->applied.v[OCLNN__TK_XGEMM];
    const size_t mp = m + v[9], np = n + v[6];
    size_t got = 0, grown = 0;
    ck_assert_int_eq(
        oclnn__sgemm_temp_bytes(ctx, "t", false, false, m, n, k, 0, k, 0, n, 0, n, &got),
        OCLNN_SUCCESS);
    ck_assert_int_eq(
        oclnn__sgemm_temp_bytes(ctx, "t", false, false, mp, np, k, 0, k, 0, np, 0, np, &grown),
        OCLNN_SUCCESS);
    ck_assert_uint_eq(got, grown + (mp * k + k * np + mp * np) * sizeof(float));
}
END_TEST

/* ---- argument checks ---- */

START_TEST(gemm_bad_arguments)
{
    oclnn_context *ctx = fx_ctx();
    oclnn_tensor_desc d45 = oclnn_tensor_desc_2d(4, 5), d56 = oclnn_tensor_desc_2d(5, 6),
                      d46 = oclnn_tensor_desc_2d(4, 6), d66 = oclnn_tensor_desc_2d(6, 6),
                      d4 = oclnn_tensor_desc_4d(4, 5, 1, 1);
    oclnn_tensor *a = fx_tensor(&d45, NULL), *b = fx_tensor(&d56, NULL), *c = fx_tensor(&d46, NULL),
                 *sq = fx_tensor(&d66, NULL), *a4 = fx_tensor(&d4, NULL);
    /* The valid call, then one broken rule at a time. */
    ck_assert_int_eq(oclnn_gemm(ctx, 0, 0, 1, a, b, 0, c), OCLNN_SUCCESS);
    fx_assert_status(oclnn_gemm(NULL, 0, 0, 1, a, b, 0, c), OCLNN_INVALID_ARGUMENT, NULL);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(NULL), "gemm: ctx is NULL"));
    fx_assert_status(oclnn_gemm(ctx, 0, 0, 1, NULL, b, 0, c), OCLNN_INVALID_ARGUMENT,
                     "gemm: a is NULL");
    fx_assert_status(oclnn_gemm(ctx, 0, 0, 1, a, NULL, 0, c), OCLNN_INVALID_ARGUMENT,
                     "gemm: b is NULL");
    fx_assert_status(oclnn_gemm(ctx, 0, 0, 1, a, b, 0, NULL), OCLNN_INVALID_ARGUMENT,
                     "gemm: c is NULL");
    fx_assert_status(oclnn_gemm(ctx, 0, 0, 1, a4, b, 0, c), OCLNN_INVALID_ARGUMENT,
                     "gemm: a[4][5][1][1] has 4 dimensions, must be 2");
    /* NN: a [4][5], b must be [5][n], c [4][6]. */
    fx_assert_status(oclnn_gemm(ctx, 0, 0, 1, a, sq, 0, c), OCLNN_INVALID_ARGUMENT,
                     "gemm: b[6][6] dimension 0 is 6, must equal k (columns of a) 5");
    fx_assert_status(oclnn_gemm(ctx, 0, 0, 1, a, b, 0, sq), OCLNN_INVALID_ARGUMENT,
                     "gemm: c[6][6] dimension 0 is 6, must equal m (rows of a) 4");
    fx_assert_status(oclnn_gemm(ctx, 0, 0, 1, a, b, 0, a), OCLNN_INVALID_ARGUMENT,
                     "gemm: c[4][5] dimension 1 is 5, must equal n (columns of b) 6");
    /* TN: op(a) = a^T is [5][4], so b must have 4 rows. */
    fx_assert_status(oclnn_gemm(ctx, 1, 0, 1, a, b, 0, c), OCLNN_INVALID_ARGUMENT,
                     "gemm: b[5][6] dimension 0 is 5, must equal k (rows of a, trans_a) 4");
    /* NT: op(b) = b^T is [6][5]: b must have k = 5 columns... b [5][6] has 6. */
    fx_assert_status(oclnn_gemm(ctx, 0, 1, 1, a, b, 0, c), OCLNN_INVALID_ARGUMENT,
                     "gemm: b[5][6] dimension 1 is 6, must equal k (columns of a) 5");
    /* TT: a^T [5][4], b^T: b [n][4] given [6][6]. */
    fx_assert_status(oclnn_gemm(ctx, 1, 1, 1, a, sq, 0, c), OCLNN_INVALID_ARGUMENT,
                     "gemm: b[6][6] dimension 1 is 6, must equal k (rows of a, trans_a) 4");
    /* NT with a valid b [6][5]: c must be [4][6]; TN c must be [5][n]. */
    fx_assert_status(oclnn_gemm(ctx, 0, 1, 1, a, sq, 0, c), OCLNN_INVALID_ARGUMENT,
                     "must equal k (columns of a) 5");
    fx_assert_status(oclnn_gemm(ctx, 1, 1, 1, b, a, 0, c), OCLNN_INVALID_ARGUMENT,
                     "gemm: c[4][6] dimension 0 is 4, must equal m (columns of a, trans_a) 6");

    /* A tensor of another context. */
    oclnn_context *other = NULL;
    ck_assert_int_eq(oclnn_context_create(&other), OCLNN_SUCCESS);
    oclnn_tensor *foreign = NULL;
    ck_assert_int_eq(oclnn_tensor_create(other, &d56, &foreign), OCLNN_SUCCESS);
    fx_assert_status(oclnn_gemm(ctx, 0, 0, 1, a, foreign, 0, c), OCLNN_INVALID_ARGUMENT,
                     "gemm: b belongs to another context");
    oclnn_tensor_destroy(foreign);
    oclnn_context_destroy(other);
    oclnn_tensor_destroy(a);
    oclnn_tensor_destroy(b);
    oclnn_tensor_destroy(c);
    oclnn_tensor_destroy(sq);
    oclnn_tensor_destroy(a4);
}
END_TEST

/* ---- tuning ---- */

/* Each tuning test gets its own cache directory, so no test (or later test executable) reads a
 * tuning file written here. */
static char tune_dir[256];

static void tune_setup(void)
{
    snprintf(tune_dir, sizeof tune_dir, "/tmp/oclnn-test-gemm-%ld-XXXXXX", (long)getpid());
    ck_assert_ptr_nonnull(mkdtemp(tune_dir));
    setenv("OCLNN_CACHE_DIR", tune_dir, 1);
}

static void tune_teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tune_dir);
    ck_assert_int_eq(system(cmd), 0);
}

static oclnn_context *tune_ctx(void)
{
    oclnn_context *ctx = NULL;
    oclnn_status s = oclnn_context_create(&ctx);
    ck_assert_msg(s == OCLNN_SUCCESS, "context_create: %s", oclnn_last_error(NULL));
    return ctx;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

static void assert_params_equal(const oclnn__gemm_params *x, const oclnn__gemm_params *y)
{
    for (int k = 0; k < OCLNN__TK_COUNT; k++) {
        ck_assert_int_eq(x->set[k], y->set[k]);
        for (size_t i = 0; x->set[k] && i < oclnn__tune_kernels[k].nparams; i++)
            ck_assert_msg(x->v[k][i] == y->v[k][i], "%s %s: %zu != %zu",
                          oclnn__tune_kernels[k].name, oclnn__tune_kernels[k].params[i], x->v[k][i],
                          y->v[k][i]);
    }
}

static int file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* A small GEMM on ctx, checked against the reference: the applied parameters compute. */
static void check_small_gemm(oclnn_context *ctx)
{
    enum { M = 9, N = 11, K = 7 };
    float ha[M * K], hb[K * N], hc[M * N];
    double want[M * N], tol[M * N];
    fx_fill(ha, M * K, 5, -1, 1);
    fx_fill(hb, K * N, 6, -1, 1);
    oclnn_tensor_desc da = oclnn_tensor_desc_2d(M, K), db = oclnn_tensor_desc_2d(K, N),
                      dc = oclnn_tensor_desc_2d(M, N);
    oclnn_tensor *a, *b, *c;
    ck_assert_int_eq(oclnn_tensor_create(ctx, &da, &a), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_create(ctx, &db, &b), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_create(ctx, &dc, &c), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_upload(ctx, a, ha, M * K, 1), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_upload(ctx, b, hb, K * N, 1), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_fill(ctx, c, NAN), OCLNN_SUCCESS);
    oclnn_status s = oclnn_gemm(ctx, 0, 0, 1, a, b, 0, c);
    ck_assert_msg(s == OCLNN_SUCCESS, "gemm: %s", oclnn_last_error(ctx));
    ck_assert_int_eq(oclnn_tensor_download(ctx, c, hc, M * N, 1), OCLNN_SUCCESS);
    ref_gemm(0, 0, M, N, K, 1, ha, K, hb, N, 0, NULL, N, want, tol);
    for (int i = 0; i < M * N; i++)
        tol[i] = 1e-5 * tol[i] + 1e-7;
    fx_assert_close_tol("small gemm with tuned parameters", hc, want, tol, M * N);
    oclnn_tensor_destroy(a);
    oclnn_tensor_destroy(b);
    oclnn_tensor_destroy(c);
}

/* A valid set that differs from the built-in CPU defaults in every kernel it names. */
static const char *round_trip_text =
    "# oclnn tuning file v1\n"
    "# device: written by test_gemm\n"
    "Xgemm GEMMK=0 KREG=1 KWG=16 KWI=2 MDIMA=2 MDIMC=2 MWG=32 NDIMB=2 NDIMC=2 NWG=32 SA=0 SB=0 "
    "STRM=0 STRN=0 VWM=16 VWN=16\n"
    "XgemmDirect KWID=2 MDIMAD=4 MDIMCD=4 NDIMBD=4 NDIMCD=4 PADA=0 PADB=0 VWMD=4 VWND=4 WGD=16\n"
    "GemmRoutine XGEMM_MIN_INDIRECT_SIZE=100\n";

START_TEST(tuning_file_round_trip)
{
    oclnn_context *ctx = tune_ctx();
    const char *source, *file, *note;
    ck_assert_int_eq(oclnn_tune_info(ctx, &source, &file, &note), OCLNN_SUCCESS);
    ck_assert_ptr_nonnull(strstr(file, tune_dir));
    ck_assert_str_eq(note, "");
    ck_assert_int_eq(file_exists(file), 0);
    char path[1300];
    snprintf(path, sizeof path, "%s", file);
    oclnn_context_destroy(ctx);

    /* Written by hand, read back at context creation, applied. */
    write_file(path, round_trip_text);
    ctx = tune_ctx();
    ck_assert_int_eq(oclnn_tune_info(ctx, &source, NULL, &note), OCLNN_SUCCESS);
    ck_assert_str_eq(source, "tuning file");
    ck_assert_str_eq(note, "");
    const oclnn__tune_state *st = ctx->tune_state;
    ck_assert(st->applied.set[OCLNN__TK_XGEMM] && st->applied.set[OCLNN__TK_ROUTINE]);
    ck_assert_uint_eq(st->applied.v[OCLNN__TK_XGEMM][6], 32);  /* MWG */
    ck_assert_uint_eq(st->applied.v[OCLNN__TK_DIRECT][9], 16); /* WGD */
    ck_assert_uint_eq(st->applied.v[OCLNN__TK_ROUTINE][0], 100);
    /* (Computing with it would cost a CLBlast compile; tune_fast_tiny_budget computes with a
     * set read back from a file.) */

    /* Written by the library (the writer the tuner uses), read back identically. */
    oclnn__gemm_params p = st->applied;
    p.v[OCLNN__TK_ROUTINE][0] = 77;
    ck_assert_int_eq(oclnn__tune_file_write(ctx, path, &p, NULL, "# a comment line\n"),
                     OCLNN_SUCCESS);
    oclnn_context_destroy(ctx);
    ctx = tune_ctx();
    st = ctx->tune_state;
    ck_assert_uint_eq(st->applied.v[OCLNN__TK_ROUTINE][0], 77);
    assert_params_equal(&st->applied, &p);
    oclnn_context_destroy(ctx);
}
END_TEST

/* With a GEMMK=1 first set (a tuning file may give one) batches on the indirect path run as
 * single GEMMs: CLBlast's batched kernel computes garbage with it. */
START_TEST(gemmk1_first_set_batches_right)
{
    oclnn_context *ctx = tune_ctx();
    const char *file, *source;
    ck_assert_int_eq(oclnn_tune_info(ctx, NULL, &file, NULL), OCLNN_SUCCESS);
    char path[1300];
    snprintf(path, sizeof path, "%s", file);
    oclnn_context_destroy(ctx);
    write_file(path, "# oclnn tuning file v2\n"
                     "Xgemm GEMMK=1 KREG=8 KWG=1 KWI=1 MDIMA=1 MDIMC=1 MWG=32 NDIMB=1 NDIMC=1 "
                     "NWG=32 SA=0 SB=0 STRM=0 STRN=0 VWM=16 VWN=4\n"
                     "GemmRoutine XGEMM_MIN_INDIRECT_SIZE=128\n");
    ctx = tune_ctx();
    ck_assert_int_eq(oclnn_tune_info(ctx, &source, NULL, NULL), OCLNN_SUCCESS);
    ck_assert_str_eq(source, "tuning file");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (cases[i].plan && strcmp(cases[i].plan, "XgemmK1 row-major") == 0)
            check_strided(ctx, &cases[i], 3);
    oclnn_context_destroy(ctx);
}
END_TEST

typedef struct bad_file {
    const char *text;
    const char *why; /* substring of the note */
} bad_file;

static const bad_file bad_files[] = {
    {"garbage\n", "line 1: first line is not"},
    {"", "empty file"},
    {"# oclnn tuning file v1\nXgemm GEMMK=0\n", "Xgemm is missing KREG"},
    {"# oclnn tuning file v1\nNoSuchKernel A=1\n", "unknown kernel \"NoSuchKernel\""},
    {"# oclnn tuning file v1\nGemmRoutine XGEMM_MIN_INDIRECT_SIZE=abc\n", "is not a number"},
    {"# oclnn tuning file v1\nGemmRoutine XGEMM_MIN_INDIRECT_SIZE=1 XGEMM_MIN_INDIRECT_SIZE=2\n",
     "given twice"},
    {"# oclnn tuning file v1\nGemmRoutine XGEMM_MIN_INDIRECT_SIZE=0\n", "must be in [1, 65536]"},
    /* MWG 48 is not a multiple of MDIMC*VWM = 32: CLBlast's kernel would not compile. */
    {"# oclnn tuning file v1\nXgemm GEMMK=0 KREG=1 KWG=32 KWI=2 MDIMA=8 MDIMC=8 MWG=48 NDIMB=8 "
     "NDIMC=8 NWG=64 SA=0 SB=0 STRM=0 STRN=0 VWM=4 VWN=8\n",
     "line 2: MWG 48 is not a multiple of MDIMC*VWM 32"},
    /* CLBlast's GEMMK=1 path with MWG != NWG runs past its buffers (it crashed oclnn-tune). */
    {"# oclnn tuning file v1\nXgemm GEMMK=1 KREG=16 KWG=1 KWI=1 MDIMA=2 MDIMC=2 MWG=16 NDIMB=1 "
     "NDIMC=1 NWG=32 SA=0 SB=0 STRM=0 STRN=0 VWM=8 VWN=8\n",
     "line 2: GEMMK 1 needs MWG 16 = NWG 32"},
    /* The second Xgemm set is the GEMMK=1 kernel's (gemm.c picks between them per GEMM). */
    {"# oclnn tuning file v2\nXgemmK1 GEMMK=0 KREG=1 KWG=32 KWI=8 MDIMA=1 MDIMC=1 MWG=32 NDIMB=1 "
     "NDIMC=8 NWG=64 SA=0 SB=0 STRM=0 STRN=0 VWM=16 VWN=8\n",
     "line 2: XgemmK1 needs GEMMK 1, not 0"},
};

START_TEST(malformed_tuning_file_is_ignored)
{
    oclnn_context *ctx = tune_ctx();
    const char *file, *source, *note;
    ck_assert_int_eq(oclnn_tune_info(ctx, NULL, &file, NULL), OCLNN_SUCCESS);
    char path[1300];
    snprintf(path, sizeof path, "%s", file);
    oclnn__gemm_params defaults = ((oclnn__tune_state *)ctx->tune_state)->applied;
    oclnn_context_destroy(ctx);
    write_file(path, bad_files[_i].text);
    ctx = tune_ctx();
    ck_assert_int_eq(oclnn_tune_info(ctx, &source, NULL, &note), OCLNN_SUCCESS);
    ck_assert_msg(strstr(note, "tuning file ignored") && strstr(note, bad_files[_i].why),
                  "note \"%s\" lacks \"%s\"", note, bad_files[_i].why);
    ck_assert_str_ne(source, "tuning file");
    const oclnn__tune_state *st = ctx->tune_state;
    assert_params_equal(&st->applied, &defaults);
    oclnn_context_destroy(ctx);
}
END_TEST

/* NN, so that the run compiles no kernel variant the GEMM tests did not already need. */
static const oclnn_gemm_shape tiny_shape[] = {{"tiny", 24, 40, 16, 0, 0, 1}};

START_TEST(tune_off_writes_nothing)
{
    oclnn_context *ctx = tune_ctx();
    const char *file;
    ck_assert_int_eq(oclnn_tune_info(ctx, NULL, &file, NULL), OCLNN_SUCCESS);
    oclnn_tune_desc d = oclnn_tune_desc_default();
    d.mode = OCLNN_TUNE_OFF;
    d.shapes = tiny_shape;
    d.nshapes = 1;
    oclnn_tune_result r[1];
    size_t count = 99;
    ck_assert_int_eq(oclnn_tune_gemm(ctx, &d, NULL, r, 1, &count), OCLNN_SUCCESS);
    ck_assert_uint_eq(count, 0);
    ck_assert_int_eq(file_exists(file), 0);
    /* Bad descriptors are refused before anything runs. */
    d.mode = (oclnn_tune_mode)7;
    fx_assert_status(oclnn_tune_gemm(ctx, &d, NULL, r, 1, &count), OCLNN_INVALID_ARGUMENT, NULL);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(ctx), "tune_gemm: mode 7"));
    d.mode = OCLNN_TUNE_FAST;
    d.budget_s = 0;
    ck_assert_int_eq(oclnn_tune_gemm(ctx, &d, NULL, r, 1, &count), OCLNN_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(ctx), "budget_s 0"));
    d.budget_s = 1;
    oclnn_gemm_shape bad = tiny_shape[0];
    bad.k = 0;
    d.shapes = &bad;
    ck_assert_int_eq(oclnn_tune_gemm(ctx, &d, NULL, r, 1, &count), OCLNN_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(ctx), "k 0"));
    ck_assert_int_eq(oclnn_tune_gemm(NULL, &d, NULL, r, 1, &count), OCLNN_INVALID_ARGUMENT);
    ck_assert_int_eq(file_exists(file), 0);
    oclnn_context_destroy(ctx);
}
END_TEST

/* The tuner searches XgemmK1 as well as the first set (one candidate at least, however small
 * the budget), and the sets it leaves run the GEMMs planned on them right. */
START_TEST(tune_searches_xgemmk1)
{
    const gemm_case *t = NULL;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (strcmp(cases[i].name, "indirect 520x33x300 NN") == 0)
            t = &cases[i];
    ck_assert_ptr_nonnull(t);
    const oclnn_gemm_shape shape = {"k1", t->m, t->n, t->k, t->ta, t->tb, 1};
    oclnn_context *ctx = tune_ctx();
    oclnn_tune_desc d = oclnn_tune_desc_default();
    d.budget_s = 0.5;
    d.shapes = &shape;
    d.nshapes = 1;
    d.write_file = 0;
    FILE *out = tmpfile();
    ck_assert_ptr_nonnull(out);
    oclnn_tune_result r[1];
    size_t count = 0;
    oclnn_status s = oclnn_tune_gemm(ctx, &d, out, r, 1, &count);
    ck_assert_msg(s == OCLNN_SUCCESS, "tune_gemm: %s", oclnn_last_error(ctx));
    static char text[1 << 16];
    rewind(out);
    text[fread(text, 1, sizeof text - 1, out)] = '\0';
    fclose(out);
    ck_assert_msg(strstr(text, "XgemmK1 GEMMK=1 KREG="), "no XgemmK1 candidate in:\n%s", text);
    const oclnn__gemm_params *p = &((oclnn__tune_state *)ctx->tune_state)->applied;
    char why[256] = "";
    if (p->set[OCLNN__TK_XGEMM_K1])
        ck_assert_msg(oclnn__tune_valid(OCLNN__TK_XGEMM_K1, p->v[OCLNN__TK_XGEMM_K1], &ctx->info,
                                        why, sizeof why),
                      "XgemmK1 left invalid: %s", why);
    check_strided(ctx, t, 1);
    oclnn_context_destroy(ctx);
}
END_TEST

START_TEST(tune_fast_tiny_budget)
{
    oclnn_context *ctx = tune_ctx();
    const char *file;
    ck_assert_int_eq(oclnn_tune_info(ctx, NULL, &file, NULL), OCLNN_SUCCESS);
    char path[1300];
    snprintf(path, sizeof path, "%s", file);
    oclnn_tune_desc d = oclnn_tune_desc_default();
    d.budget_s = 0.5;
    d.shapes = tiny_shape;
    d.nshapes = 1;
    oclnn_tune_result r[2];
    size_t count = 0;
    oclnn_status s = oclnn_tune_gemm(ctx, &d, NULL, r, 2, &count);
    ck_assert_msg(s == OCLNN_SUCCESS, "tune_gemm: %s", oclnn_last_error(ctx));
    ck_assert_uint_eq(count, 1);
    ck_assert_str_eq(r[0].shape.name, "tiny");
    ck_assert(r[0].before_gflops > 0 && r[0].after_gflops > 0);
    ck_assert_int_eq(file_exists(path), 1);
    const char *source;
    ck_assert_int_eq(oclnn_tune_info(ctx, &source, NULL, NULL), OCLNN_SUCCESS);
    ck_assert_str_eq(source, "tuned in this process");
    oclnn__gemm_params won = ((oclnn__tune_state *)ctx->tune_state)->applied;
    oclnn_context_destroy(ctx);
    /* The next context reads the winner back. */
    ctx = tune_ctx();
    ck_assert_int_eq(oclnn_tune_info(ctx, &source, NULL, NULL), OCLNN_SUCCESS);
    ck_assert_str_eq(source, "tuning file");
    assert_params_equal(&((oclnn__tune_state *)ctx->tune_state)->applied, &won);
    check_small_gemm(ctx);
    oclnn_context_destroy(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("gemm");
    const int ncases = (int)(sizeof cases / sizeof cases[0]);
    TCase *tc = tcase_create("gemm");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, gemm_matches_reference, 0, ncases);
    tcase_add_loop_test(tc, gemm_views_with_offsets, 0, ncases);
    tcase_add_test(tc, gemm_bad_arguments);
    tcase_add_test(tc, profile_spans_clblast_gemm);
    tcase_add_test(tc, temp_bytes_count_unaliased_copies);
    tcase_add_test(tc, gemm_plan_by_modelled_cost);
    tcase_add_test(tc, gemm_plans_alternate);
    tcase_add_test(tc, gemm_plans_two_contexts);
    tcase_add_test(tc, no_unaliased_copies_for_gemmk1);
    int first = -1, end = 0; /* the rows with a plan, one block of the table */
    for (int i = 0; i < ncases; i++)
        if (cases[i].plan) {
            first = first < 0 ? i : first;
            end = i + 1;
        }
    tcase_add_loop_test(tc, strided_batches_match_reference, first, end);
    suite_add_tcase(s, tc);
    /* Tuning changes CLBlast's parameters for the whole process: it runs last. */
    TCase *tt = tcase_create("tuning");
    tcase_set_timeout(tt, 600);
    tcase_add_checked_fixture(tt, tune_setup, tune_teardown);
    tcase_add_test(tt, tuning_file_round_trip);
    tcase_add_test(tt, gemmk1_first_set_batches_right);
    tcase_add_loop_test(tt, malformed_tuning_file_is_ignored, 0,
                        (int)(sizeof bad_files / sizeof bad_files[0]));
    tcase_add_test(tt, tune_off_writes_nothing);
    tcase_add_test(tt, tune_fast_tiny_budget);
    tcase_add_test(tt, tune_searches_xgemmk1);
    suite_add_tcase(s, tt);
    return s;
}

int main(void)
{
    return fx_main(suite());
}
