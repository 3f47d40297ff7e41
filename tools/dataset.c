/* dataset.c - loads MNIST-format IDX files (gzip or raw, through zlib) and CIFAR-10 binary
 * batches, refusing malformed files with a one-line reason; see dataset.h. */
#include "dataset.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u
#define CIFAR_RECORD 3073

static int fail(char *err, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t size, const char *fmt, ...)
{
    if (err && size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, size, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Reads a whole file, decompressing it when it is gzip (zlib reads raw files as they are). */
static int slurp(const char *path, uint8_t **out, size_t *size, char *err, size_t err_size)
{
    *out = NULL;
    *size = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return fail(err, err_size, "%s: cannot open: %s", path, strerror(errno ? errno : ENOENT));
    size_t cap = 1 << 20, len = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        gzclose(f);
        return fail(err, err_size, "%s: out of memory", path);
    }
    for (;;) {
        if (cap - len < (1 << 16)) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                gzclose(f);
                return fail(err, err_size, "%s: out of memory", path);
            }
            buf = nb;
            cap *= 2;
        }
        int got = gzread(f, buf + len, (unsigned)(cap - len));
        if (got < 0) {
            int code;
            const char *msg = gzerror(f, &code);
            fail(err, err_size, "%s: cannot decompress: %s", path, msg);
            free(buf);
            gzclose(f);
            return -1;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    /* A gzip stream cut short reads as a clean end on some zlib versions: ask explicitly. */
    int code = Z_OK;
    const char *msg = gzerror(f, &code);
    if (code != Z_OK && code != Z_STREAM_END) {
        fail(err, err_size, "%s: cannot decompress: %s", path, msg);
        free(buf);
        gzclose(f);
        return -1;
    }
    gzclose(f);
    *out = buf;
    *size = len;
    return 0;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void set_norm(dataset *d)
{
    static const float cifar_mean[3] = {0.4914f, 0.4822f, 0.4465f};
    static const float cifar_std[3] = {0.2470f, 0.2435f, 0.2616f};
    for (int c = 0; c < 3; c++) {
        d->mean[c] = d->c == 3 ? cifar_mean[c] : DATASET_FMNIST_MEAN;
        d->std[c] = d->c == 3 ? cifar_std[c] : DATASET_FMNIST_STD;
    }
}

static int check_labels(const char *path, const uint8_t *labels, long n, int classes, char *err,
                        size_t err_size, long stride)
{
    for (long i = 0; i < n; i++)
        if (labels[i * stride] >= classes)
            return fail(err, err_size, "%s: label %ld is %d, not in [0, %d)", path, i,
                        labels[i * stride], classes);
    return 0;
}

int dataset_load_idx(const char *images_path, const char *labels_path, long limit, dataset *out,
                     char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    uint8_t *img = NULL, *lab = NULL;
    size_t isize, lsize;
    int rc = -1;
    if (slurp(images_path, &img, &isize, err, err_size) ||
        slurp(labels_path, &lab, &lsize, err, err_size))
        goto done;
    if (isize < 16) {
        fail(err, err_size, "%s: truncated: %zu bytes, shorter than the 16-byte IDX header",
             images_path, isize);
        goto done;
    }
    if (be32(img) != IDX_IMAGES_MAGIC) {
        fail(err, err_size, "%s: bad magic 0x%08x, expected 0x%08x (IDX u8 images)", images_path,
             be32(img), IDX_IMAGES_MAGIC);
        goto done;
    }
    if (lsize < 8) {
        fail(err, err_size, "%s: truncated: %zu bytes, shorter than the 8-byte IDX header",
             labels_path, lsize);
        goto done;
    }
    if (be32(lab) != IDX_LABELS_MAGIC) {
        fail(err, err_size, "%s: bad magic 0x%08x, expected 0x%08x (IDX u8 labels)", labels_path,
             be32(lab), IDX_LABELS_MAGIC);
        goto done;
    }
    uint32_t n = be32(img + 4), rows = be32(img + 8), cols = be32(img + 12);
    uint32_t nl = be32(lab + 4);
    if (n == 0 || rows == 0 || cols == 0 || rows > 4096 || cols > 4096) {
        fail(err, err_size, "%s: dimensions %u x %u x %u are not plausible images", images_path, n,
             rows, cols);
        goto done;
    }
    if (nl != n) {
        fail(err, err_size, "%s has %u images but %s has %u labels", images_path, n, labels_path,
             nl);
        goto done;
    }
    size_t per = (size_t)rows * cols;
    if ((isize - 16) / per < n || (isize - 16) != per * n) {
        fail(err, err_size, "%s: %s: %zu data bytes for %u images of %ux%u (%zu bytes)",
             images_path, (isize - 16) < per * n ? "truncated" : "trailing bytes", isize - 16, n,
             rows, cols, per * n);
        goto done;
    }
    if (lsize - 8 != n) {
        fail(err, err_size, "%s: %s: %zu labels for %u images", labels_path,
             lsize - 8 < n ? "truncated" : "trailing bytes", lsize - 8, n);
        goto done;
    }
    if (check_labels(labels_path, lab + 8, n, 10, err, err_size, 1))
        goto done;
    long keep = limit > 0 && limit < (long)n ? limit : (long)n;
    out->n = keep;
    out->c = 1;
    out->h = (int)rows;
    out->w = (int)cols;
    out->classes = 10;
    out->pixels = malloc((size_t)keep * per);
    out->labels = malloc((size_t)keep);
    if (!out->pixels || !out->labels) {
        dataset_free(out);
        fail(err, err_size, "%s: out of memory", images_path);
        goto done;
    }
    memcpy(out->pixels, img + 16, (size_t)keep * per);
    memcpy(out->labels, lab + 8, (size_t)keep);
    set_norm(out);
    rc = 0;
done:
    free(img);
    free(lab);
    return rc;
}

int dataset_load_cifar(const char *const *paths, int npaths, long limit, dataset *out, char *err,
                       size_t err_size)
{
    memset(out, 0, sizeof *out);
    uint8_t **files = calloc((size_t)(npaths > 0 ? npaths : 1), sizeof *files);
    size_t *sizes = calloc((size_t)(npaths > 0 ? npaths : 1), sizeof *sizes);
    int rc = -1;
    long total = 0;
    if (!files || !sizes) {
        fail(err, err_size, "cifar: out of memory");
        goto done;
    }
    if (npaths < 1) {
        fail(err, err_size, "cifar: no batch files");
        goto done;
    }
    for (int i = 0; i < npaths; i++) {
        if (slurp(paths[i], &files[i], &sizes[i], err, err_size))
            goto done;
        if (sizes[i] == 0 || sizes[i] % CIFAR_RECORD) {
            fail(err, err_size,
                 "%s: truncated: %zu bytes is not a whole number of %d-byte records "
                 "(1 label + 3x32x32 pixels)",
                 paths[i], sizes[i], CIFAR_RECORD);
            goto done;
        }
        long recs = (long)(sizes[i] / CIFAR_RECORD);
        if (check_labels(paths[i], files[i], recs, 10, err, err_size, CIFAR_RECORD))
            goto done;
        total += recs;
    }
    long keep = limit > 0 && limit < total ? limit : total;
    out->n = keep;
    out->c = 3;
    out->h = out->w = 32;
    out->classes = 10;
    out->pixels = malloc((size_t)keep * 3072);
    out->labels = malloc((size_t)keep);
    if (!out->pixels || !out->labels) {
        dataset_free(out);
        fail(err, err_size, "cifar: out of memory");
        goto done;
    }
    long k = 0;
    for (int i = 0; i < npaths && k < keep; i++)
        for (size_t r = 0; r < sizes[i] / CIFAR_RECORD && k < keep; r++, k++) {
            const uint8_t *rec = files[i] + r * CIFAR_RECORD;
            out->labels[k] = rec[0];
            memcpy(out->pixels + (size_t)k * 3072, rec + 1, 3072);
        }
    set_norm(out);
    rc = 0;
done:
    for (int i = 0; files && i < npaths; i++)
        free(files[i]);
    free(files);
    free(sizes);
    return rc;
}

/* dir/name.gz if it exists, else dir/name. */
static void find(const char *dir, const char *name, char *path, size_t size)
{
    struct stat st;
    snprintf(path, size, "%s/%s.gz", dir, name);
    if (stat(path, &st) == 0)
        return;
    snprintf(path, size, "%s/%s", dir, name);
}

int dataset_load_dir(const char *dir, int train, long limit, dataset *out, char *err,
                     size_t err_size)
{
    memset(out, 0, sizeof *out);
    char a[4096], b[4096];
    struct stat st;
    snprintf(a, sizeof a, "%s/%s", dir, train ? "data_batch_1.bin" : "test_batch.bin");
    if (stat(a, &st) == 0) {
        char names[5][4096];
        const char *paths[5];
        int n = 0;
        for (int i = 1; train && i <= 5; i++) {
            snprintf(names[n], sizeof names[n], "%s/data_batch_%d.bin", dir, i);
            if (stat(names[n], &st) == 0) {
                paths[n] = names[n];
                n++;
            }
        }
        if (!train) {
            snprintf(names[0], sizeof names[0], "%s", a);
            paths[n++] = names[0];
        }
        return dataset_load_cifar(paths, n, limit, out, err, err_size);
    }
    const char *prefix = train ? "train" : "t10k";
    char in[64], ln[64];
    snprintf(in, sizeof in, "%s-images-idx3-ubyte", prefix);
    snprintf(ln, sizeof ln, "%s-labels-idx1-ubyte", prefix);
    find(dir, in, a, sizeof a);
    find(dir, ln, b, sizeof b);
    if (stat(a, &st) != 0)
        return fail(err, err_size,
                    "%s: no %s[.gz] (MNIST format) or %s (CIFAR-10 binary) in this folder", dir, in,
                    train ? "data_batch_1.bin" : "test_batch.bin");
    return dataset_load_idx(a, b, limit, out, err, err_size);
}

int dataset_synthetic(long n, int c, int h, int w, uint64_t seed, dataset *out, char *err,
                      size_t err_size)
{
    memset(out, 0, sizeof *out);
    if (n < 1 || c < 1 || c > 3 || h < 1 || w < 1)
        return fail(err, err_size, "synthetic: shape %ld x %d x %d x %d is not valid", n, c, h, w);
    size_t per = (size_t)c * h * w;
    out->pixels = malloc((size_t)n * per);
    out->labels = malloc((size_t)n);
    if (!out->pixels || !out->labels) {
        dataset_free(out);
        return fail(err, err_size, "synthetic: out of memory");
    }
    out->n = n;
    out->c = c;
    out->h = h;
    out->w = w;
    out->classes = 10;
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < (size_t)n * per; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out->pixels[i] = (uint8_t)(x >> 56);
    }
    for (long i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out->labels[i] = (uint8_t)((x >> 32) % 10);
    }
    set_norm(out);
    return 0;
}

void dataset_batch(const dataset *d, const long *index, long first, int count, float *x,
                   int32_t *labels)
{
    size_t plane = (size_t)d->h * d->w, per = plane * (size_t)d->c;
    for (int i = 0; i < count; i++) {
        long k = index ? index[first + i] : first + i;
        const uint8_t *src = d->pixels + (size_t)k * per;
        float *dst = x + (size_t)i * per;
        for (int c = 0; c < d->c; c++) {
            float scale = 1.0f / (255.0f * d->std[c]), shift = d->mean[c] / d->std[c];
            for (size_t j = 0; j < plane; j++)
                dst[c * plane + j] = (float)src[c * plane + j] * scale - shift;
        }
        labels[i] = d->labels[k];
    }
}

void dataset_augment(const dataset *d, float *x, int count, int shift, uint64_t seed, long key)
{
    const int h = d->h, w = d->w;
    const size_t plane = (size_t)h * w;
    float *tmp = malloc(plane * sizeof *tmp);
    if (!tmp)
        return; /* augmentation is best effort: the batch stays as it is */
    for (int i = 0; i < count; i++) {
        uint64_t z = (seed + 1) * 0x9e3779b97f4a7c15ull ^
                     (uint64_t)(key + 1) * 0xbf58476d1ce4e5b9ull ^
                     (uint64_t)(i + 1) * 0x94d049bb133111ebull;
        z ^= z >> 31, z *= 0xd6e8feb86659fd39ull, z ^= z >> 29;
        const int flip = (int)(z & 1), span = 2 * shift + 1;
        const int dy = (int)((z >> 8) % (uint64_t)span) - shift;
        const int dx = (int)((z >> 24) % (uint64_t)span) - shift;
        for (int c = 0; c < d->c; c++) {
            float *img = x + ((size_t)i * d->c + c) * plane;
            const float black = -d->mean[c] / d->std[c];
            for (int r = 0; r < h; r++)
                for (int q = 0; q < w; q++) {
                    const int sr = r - dy, sq0 = q - dx, sq = flip ? w - 1 - sq0 : sq0;
                    tmp[(size_t)r * w + q] =
                        sr >= 0 && sr < h && sq0 >= 0 && sq0 < w ? img[(size_t)sr * w + sq] : black;
                }
            memcpy(img, tmp, plane * sizeof *tmp);
        }
    }
    free(tmp);
}

void dataset_free(dataset *d)
{
    if (!d)
        return;
    free(d->pixels);
    free(d->labels);
    memset(d, 0, sizeof *d);
}
