/* dataset.h - image classification data for oclnn-train: MNIST-format IDX files (gzipped or
 * not) and CIFAR-10 binary batches, checked record by record, kept as bytes and normalised
 * per batch. Tests include this file and link dataset.c. */
#ifndef OCLNN_TOOLS_DATASET_H
#define OCLNN_TOOLS_DATASET_H

#include <stddef.h>
#include <stdint.h>

typedef struct dataset {
    long n;                /* images */
    int c, h, w;           /* each image is [c][h][w] */
    int classes;           /* 10 */
    uint8_t *pixels;       /* n * c * h * w bytes, image after image */
    uint8_t *labels;       /* n labels in [0, classes) */
    float mean[3], std[3]; /* per channel, of pixel / 255 */
} dataset;

/* Fashion-MNIST's mean and standard deviation (of pixel / 255). */
#define DATASET_FMNIST_MEAN 0.2860f
#define DATASET_FMNIST_STD 0.3530f

/* Loads one MNIST-format pair: images (magic 0x00000803, u8, n x rows x cols) and labels (magic
 * 0x00000801, u8, n); each path may be gzip-compressed or raw. Keeps the first `limit` images
 * when limit > 0. Returns 0, or -1 with a one-line reason in err ("...: bad magic 0x00000802,
 * expected 0x00000803 (IDX u8 images)"). */
int dataset_load_idx(const char *images_path, const char *labels_path, long limit, dataset *out,
                     char *err, size_t err_size);

/* Loads CIFAR-10 binary batches (records of 1 label byte + 3072 bytes, 3x32x32). */
int dataset_load_cifar(const char *const *paths, int npaths, long limit, dataset *out, char *err,
                       size_t err_size);

/* Loads the training (train = 1) or test split from a folder: MNIST-format names
 * (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-...) or CIFAR-10
 * (data_batch_1..5.bin, test_batch.bin), whichever is there. */
int dataset_load_dir(const char *dir, int train, long limit, dataset *out, char *err,
                     size_t err_size);

/* Random images and labels of a given shape (deterministic from seed). */
int dataset_synthetic(long n, int c, int h, int w, uint64_t seed, dataset *out, char *err,
                      size_t err_size);

/* Writes `count` images, normalised ((p / 255 - mean) / std), into x ([count][c][h][w]) and
 * their labels, taking images index[0..count) (index NULL: first, first + 1, ...). */
void dataset_batch(const dataset *d, const long *index, long first, int count, float *x,
                   int32_t *labels);

/* Training-time augmentation of a batch written by dataset_batch, in place: each image is
 * mirrored left-right with probability 1/2 and shifted by up to `shift` pixels each way, the
 * uncovered border taking the value of a black pixel. The draws depend only on (seed, key, i):
 * the same batch key (e.g. the step) gives the same images. */
void dataset_augment(const dataset *d, float *x, int count, int shift, uint64_t seed, long key);

void dataset_free(dataset *d);

#endif
