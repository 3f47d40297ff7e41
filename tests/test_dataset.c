/* test_dataset.c - the data loader of oclnn-train (tools/dataset.c): good IDX and CIFAR-10
 * files, raw and gzipped, load exactly; every malformed file is refused with a clear reason.
 * Files are written into a fresh temporary folder. */
#include "fixture.h"

#include "../tools/dataset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static char dir[256];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/oclnn-dataset-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *path(const char *name)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

static void write_file(const char *name, const uint8_t *data, size_t n, int gz)
{
    if (gz) {
        gzFile f = gzopen(path(name), "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(gzwrite(f, data, (unsigned)n), (int)n);
        ck_assert_int_eq(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path(name), "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(data, 1, n, f), n);
        ck_assert_int_eq(fclose(f), 0);
    }
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* IDX images: n images of rows x cols with pixel (i, j) = (i * 7 + j * 3) & 255. */
static size_t make_images(uint8_t *buf, uint32_t magic, uint32_t n, uint32_t rows, uint32_t cols)
{
    put_be32(buf, magic);
    put_be32(buf + 4, n);
    put_be32(buf + 8, rows);
    put_be32(buf + 12, cols);
    for (uint32_t i = 0; i < n * rows * cols; i++)
        buf[16 + i] = (uint8_t)((i * 7 + i / 5 * 3) & 255);
    return 16 + (size_t)n * rows * cols;
}

static size_t make_labels(uint8_t *buf, uint32_t magic, uint32_t n)
{
    put_be32(buf, magic);
    put_be32(buf + 4, n);
    for (uint32_t i = 0; i < n; i++)
        buf[8 + i] = (uint8_t)((i * 3) % 10);
    return 8 + n;
}

static uint8_t img[16 + 5 * 6 * 4 + 64], lab[8 + 5 + 16];

/* Loads the pair written as "img" and "lab"; returns the loader's status. */
static int load_pair(long limit, dataset *d, char *err, size_t errsize)
{
    return dataset_load_idx(path("img"), path("lab"), limit, d, err, errsize);
}

START_TEST(idx_good_loads_exactly)
{
    for (int gz = 0; gz < 2; gz++) {
        size_t ni = make_images(img, 0x803, 5, 6, 4), nl = make_labels(lab, 0x801, 5);
        write_file("img", img, ni, gz);
        write_file("lab", lab, nl, !gz); /* mixed: one gzipped, one raw */
        dataset d;
        char err[512] = "";
        ck_assert_msg(load_pair(0, &d, err, sizeof err) == 0, "load failed: %s", err);
        ck_assert_int_eq(d.n, 5);
        ck_assert_int_eq(d.c, 1);
        ck_assert_int_eq(d.h, 6);
        ck_assert_int_eq(d.w, 4);
        ck_assert_int_eq(memcmp(d.pixels, img + 16, 5 * 24), 0);
        ck_assert_int_eq(memcmp(d.labels, lab + 8, 5), 0);
        /* normalisation of one batch, images 3 and 1 */
        float x[2 * 24];
        int32_t y[2];
        long index[2] = {3, 1};
        dataset_batch(&d, index, 0, 2, x, y);
        ck_assert_int_eq(y[0], lab[8 + 3]);
        ck_assert_int_eq(y[1], lab[8 + 1]);
        for (int i = 0; i < 24; i++) {
            double want = ((double)img[16 + 3 * 24 + i] / 255.0 - 0.2860) / 0.3530;
            ck_assert_msg(fabs(x[i] - want) <= 1e-5 * (1 + fabs(want)), "pixel %d: %g vs %g", i,
                          x[i], want);
        }
        dataset_free(&d);
        /* limit keeps the first images */
        ck_assert_int_eq(load_pair(2, &d, err, sizeof err), 0);
        ck_assert_int_eq(d.n, 2);
        ck_assert_int_eq(memcmp(d.pixels, img + 16, 2 * 24), 0);
        dataset_free(&d);
    }
}
END_TEST

/* One malformed-file case: how to break the pair and what the message must say. */
typedef struct bad_case {
    const char *name;
    uint32_t img_magic, lab_magic;
    uint32_t img_n, lab_n;
    long img_cut, lab_cut; /* bytes removed from the end (negative: bytes appended) */
    int bad_label;         /* write label 10 at index 2 */
    const char *needle;
} bad_case;

static const bad_case bad_cases[] = {
    {"image magic", 0x802, 0x801, 5, 5, 0, 0, 0, "bad magic 0x00000802"},
    {"label magic", 0x803, 0x803, 5, 5, 0, 0, 0, "bad magic 0x00000803, expected 0x00000801"},
    {"count mismatch", 0x803, 0x801, 5, 4, 0, 0, 0, "has 5 images but"},
    {"images truncated", 0x803, 0x801, 5, 5, 7, 0, 0, "truncated"},
    {"images header cut", 0x803, 0x801, 5, 5, 16 + 120 - 10, 0, 0, "shorter than the 16-byte"},
    {"labels truncated", 0x803, 0x801, 5, 5, 0, 2, 0, "truncated: 3 labels for 5 images"},
    {"images trailing", 0x803, 0x801, 5, 5, -3, 0, 0, "trailing bytes"},
    {"label out of range", 0x803, 0x801, 5, 5, 0, 0, 1, "label 2 is 10"},
};

START_TEST(idx_malformed_refused)
{
    const bad_case *c = &bad_cases[_i / 2];
    int gz = _i % 2;
    memset(img, 0, sizeof img);
    size_t ni = make_images(img, c->img_magic, c->img_n, 6, 4);
    size_t nl = make_labels(lab, c->lab_magic, c->lab_n);
    if (c->bad_label)
        lab[8 + 2] = 10;
    write_file("img", img, (size_t)((long)ni - c->img_cut), gz);
    write_file("lab", lab, (size_t)((long)nl - c->lab_cut), gz);
    dataset d;
    char err[512] = "";
    ck_assert_msg(load_pair(0, &d, err, sizeof err) == -1, "%s (gz %d) was accepted", c->name, gz);
    ck_assert_msg(strstr(err, c->needle) != NULL, "%s (gz %d): message \"%s\" lacks \"%s\"",
                  c->name, gz, err, c->needle);
    ck_assert_ptr_null(d.pixels);
}
END_TEST

START_TEST(gzip_stream_cut_refused)
{
    size_t ni = make_images(img, 0x803, 5, 6, 4), nl = make_labels(lab, 0x801, 5);
    write_file("img", img, ni, 1);
    write_file("lab", lab, nl, 0);
    /* cut the compressed file in the middle of the deflate stream */
    FILE *f = fopen(path("img"), "rb");
    ck_assert_ptr_nonnull(f);
    uint8_t gzbuf[512];
    size_t n = fread(gzbuf, 1, sizeof gzbuf, f);
    fclose(f);
    ck_assert_uint_gt(n, 20);
    write_file("img", gzbuf, n - 12, 0);
    dataset d;
    char err[512] = "";
    ck_assert_int_eq(load_pair(0, &d, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "img") != NULL && (strstr(err, "decompress") || strstr(err, "trunc")),
                  "message: %s", err);
}
END_TEST

START_TEST(missing_files_refused)
{
    dataset d;
    char err[512] = "";
    ck_assert_int_eq(dataset_load_idx(path("nope"), path("nope2"), 0, &d, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "cannot open") != NULL, "message: %s", err);
    ck_assert_int_eq(dataset_load_dir(dir, 1, 0, &d, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "no train-images-idx3-ubyte") != NULL, "message: %s", err);
}
END_TEST

START_TEST(dir_finds_mnist_names)
{
    size_t ni = make_images(img, 0x803, 5, 6, 4), nl = make_labels(lab, 0x801, 5);
    write_file("t10k-images-idx3-ubyte.gz", img, ni, 1);
    write_file("t10k-labels-idx1-ubyte", lab, nl, 0);
    dataset d;
    char err[512] = "";
    ck_assert_msg(dataset_load_dir(dir, 0, 0, &d, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(d.n, 5);
    ck_assert_int_eq(memcmp(d.pixels, img + 16, 120), 0);
    dataset_free(&d);
}
END_TEST

static uint8_t cifar[3 * 3073 + 8];

static size_t make_cifar(int records)
{
    for (int r = 0; r < records; r++) {
        cifar[r * 3073] = (uint8_t)(9 - r);
        for (int i = 0; i < 3072; i++)
            cifar[r * 3073 + 1 + i] = (uint8_t)((i * 13 + r) & 255);
    }
    return (size_t)records * 3073;
}

START_TEST(cifar_good_and_bad)
{
    size_t n = make_cifar(3);
    write_file("data_batch_1.bin", cifar, n, 0);
    write_file("data_batch_2.bin", cifar, 3073, 0);
    dataset d;
    char err[512] = "";
    ck_assert_msg(dataset_load_dir(dir, 1, 0, &d, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(d.n, 4);
    ck_assert_int_eq(d.c, 3);
    ck_assert_int_eq(d.h, 32);
    for (int r = 0; r < 3; r++) {
        ck_assert_int_eq(d.labels[r], 9 - r);
        ck_assert_int_eq(memcmp(d.pixels + r * 3072, cifar + r * 3073 + 1, 3072), 0);
    }
    ck_assert_int_eq(d.labels[3], 9);
    float x[3072];
    int32_t y;
    dataset_batch(&d, NULL, 1, 1, x, &y);
    ck_assert_int_eq(y, 8);
    double want = ((double)cifar[3073 + 1 + 1024] / 255.0 - 0.4822) / 0.2435; /* green plane */
    ck_assert_msg(fabs(x[1024] - want) < 1e-5, "%g vs %g", x[1024], want);
    dataset_free(&d);

    const char *p1[] = {path("data_batch_1.bin")};
    write_file("data_batch_1.bin", cifar, n - 100, 0);
    ck_assert_int_eq(dataset_load_cifar(p1, 1, 0, &d, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "truncated") && strstr(err, "3073"), "message: %s", err);
    make_cifar(3);
    cifar[3073] = 10;
    write_file("data_batch_1.bin", cifar, n, 1);
    ck_assert_int_eq(dataset_load_cifar(p1, 1, 0, &d, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "label 1 is 10"), "message: %s", err);
    write_file("data_batch_1.bin", cifar, 0, 0);
    ck_assert_int_eq(dataset_load_cifar(p1, 1, 0, &d, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "truncated: 0 bytes"), "message: %s", err);
}
END_TEST

START_TEST(synthetic_is_deterministic)
{
    dataset a, b;
    char err[256];
    ck_assert_int_eq(dataset_synthetic(20, 1, 28, 28, 7, &a, err, sizeof err), 0);
    ck_assert_int_eq(dataset_synthetic(20, 1, 28, 28, 7, &b, err, sizeof err), 0);
    ck_assert_int_eq(memcmp(a.pixels, b.pixels, 20 * 784), 0);
    ck_assert_int_eq(memcmp(a.labels, b.labels, 20), 0);
    int seen[10] = {0};
    for (int i = 0; i < 20; i++) {
        ck_assert_int_lt(a.labels[i], 10);
        seen[a.labels[i]] = 1;
    }
    int kinds = 0;
    for (int i = 0; i < 10; i++)
        kinds += seen[i];
    ck_assert_int_gt(kinds, 3);
    dataset_free(&a);
    dataset_free(&b);
    ck_assert_int_eq(dataset_synthetic(0, 1, 28, 28, 7, &a, err, sizeof err), -1);
}
END_TEST

/* Augmentation: every image becomes exactly one of its mirrored/shifted versions (black where
 * the shift uncovers the border), the draws repeat for the same key and change with it, and
 * over a batch both mirror choices and several shifts occur. */
START_TEST(augment_mirrors_and_shifts)
{
    dataset d;
    char err[256];
    const int n = 64, h = 6, w = 7, plane = h * w;
    ck_assert_int_eq(dataset_synthetic(n, 1, h, w, 3, &d, err, sizeof err), 0);
    float *orig = malloc(sizeof(float) * n * plane), *a = malloc(sizeof(float) * n * plane);
    float *b = malloc(sizeof(float) * n * plane);
    int32_t *labels = malloc(sizeof(int32_t) * n);
    dataset_batch(&d, NULL, 0, n, orig, labels);
    memcpy(a, orig, sizeof(float) * n * plane);
    memcpy(b, orig, sizeof(float) * n * plane);
    dataset_augment(&d, a, n, 2, 9, 5);
    dataset_augment(&d, b, n, 2, 9, 5);
    ck_assert_int_eq(memcmp(a, b, sizeof(float) * n * plane), 0);
    const float black = -d.mean[0] / d.std[0];
    int flips = 0, shifts[25] = {0};
    for (int i = 0; i < n; i++) {
        int matches = 0;
        for (int f = 0; f < 2; f++)
            for (int dy = -2; dy <= 2; dy++)
                for (int dx = -2; dx <= 2; dx++) {
                    int same = 1;
                    for (int r = 0; r < h && same; r++)
                        for (int q = 0; q < w && same; q++) {
                            const int sr = r - dy, sq = q - dx;
                            const float want =
                                sr >= 0 && sr < h && sq >= 0 && sq < w
                                    ? orig[i * plane + sr * w + (f ? w - 1 - sq : sq)]
                                    : black;
                            same = a[i * plane + r * w + q] == want;
                        }
                    if (same)
                        matches++, flips += f, shifts[(dy + 2) * 5 + dx + 2] = 1;
                }
        ck_assert_msg(matches >= 1, "image %d is no mirrored/shifted version of itself", i);
    }
    int kinds = 0;
    for (int k = 0; k < 25; k++)
        kinds += shifts[k];
    ck_assert_int_gt(flips, 8);
    ck_assert_int_lt(flips, n - 8);
    ck_assert_int_gt(kinds, 10);
    memcpy(b, orig, sizeof(float) * n * plane);
    dataset_augment(&d, b, n, 2, 9, 6);
    ck_assert_int_ne(memcmp(a, b, sizeof(float) * n * plane), 0);
    /* shift 0: each image is itself or its mirror, and both occur */
    memcpy(b, orig, sizeof(float) * n * plane);
    dataset_augment(&d, b, n, 0, 9, 5);
    int mirrored = 0;
    for (int i = 0; i < n; i++) {
        int same = 1, mirror = 1;
        for (int r = 0; r < h; r++)
            for (int q = 0; q < w; q++) {
                const float got = b[i * plane + r * w + q];
                same &= got == orig[i * plane + r * w + q];
                mirror &= got == orig[i * plane + r * w + w - 1 - q];
            }
        ck_assert_msg(same || mirror, "image %d with shift 0 is neither itself nor its mirror", i);
        mirrored += !same;
    }
    ck_assert_int_gt(mirrored, 8);
    ck_assert_int_lt(mirrored, n - 8);
    free(orig), free(a), free(b), free(labels);
    dataset_free(&d);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("dataset");
    TCase *tc = tcase_create("dataset");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, idx_good_loads_exactly);
    tcase_add_loop_test(tc, idx_malformed_refused, 0,
                        (int)(2 * sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(tc, gzip_stream_cut_refused);
    tcase_add_test(tc, missing_files_refused);
    tcase_add_test(tc, dir_finds_mnist_names);
    tcase_add_test(tc, cifar_good_and_bad);
    tcase_add_test(tc, synthetic_is_deterministic);
    tcase_add_test(tc, augment_mirrors_and_shifts);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_main(suite());
}
