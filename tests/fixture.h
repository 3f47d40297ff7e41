/* fixture.h - what every Check executable shares: one context on the test device (OCLNN_DEVICE,
 * POCL's CPU device under tools/test.sh), seeded random fills, NaN prefills, host/device
 * transfers and an abs+rel comparison that names the first bad element. */
#ifndef OCLNN_TEST_FIXTURE_H
#define OCLNN_TEST_FIXTURE_H

#include "oclnn.h"

#include <check.h>
#include <stdint.h>

/* The process-wide test context, created on first use (Check runs with CK_FORK=no: OpenCL is
 * not fork-safe). Fails the test if no device is available. */
oclnn_context *fx_ctx(void);
/* Destroys the context (called at exit by fx_main). */
void fx_ctx_release(void);

/* Deterministic uniform floats in [lo, hi) from a seed (xorshift). */
void fx_fill(float *p, size_t n, uint32_t seed, float lo, float hi);
void fx_fill_nan(float *p, size_t n);
float *fx_alloc(size_t n); /* calloc that fails the test on NULL */
/* A new double copy of p[0..n) for the references; fails the test on allocation failure. */
double *fx_widen(const float *p, size_t n);

/* A device tensor holding host data (the element type's bytes; NULL data: f32 NaN-filled, i32
 * -1, u8 255). Fails the test on error. */
oclnn_tensor *fx_tensor(const oclnn_tensor_desc *d, const float *data);
/* Downloads t into a new host array of its element count. */
float *fx_download(const oclnn_tensor *t);
/* Asserts every element of t is still NaN (the fx_tensor prefill: nothing wrote t); names
 * `what` and the first written element in the failure. */
void fx_assert_all_nan(const char *what, const oclnn_tensor *t);
/* For tests that run the same calls twice: with *first NULL, keeps a download of t in *first;
 * else asserts t holds the same bits as *first ("`what` differs between two identical runs")
 * and frees and clears *first. */
void fx_same_as_first_run(const char *what, const oclnn_tensor *t, float **first);
/* Destroys the n tensors ts (NULL entries allowed). */
void fx_destroy(oclnn_tensor *const *ts, size_t n);

/* Asserts |got - want| <= atol + rtol * |want| (or <= tol[i] when tol is given) for every i,
 * and that got is finite where want is; names `what` and the first bad index in the failure. */
void fx_assert_close(const char *what, const float *got, const double *want, size_t n,
                     double atol, double rtol);
void fx_assert_close_tol(const char *what, const float *got, const double *want,
                         const double *tol, size_t n);
/* fx_assert_close on the first n elements of a download of t. */
void fx_assert_tensor_close(const char *what, const oclnn_tensor *t, const double *want, size_t n,
                            double atol, double rtol);

/* Asserts status s and that the context message contains `needle` (NULL: not checked). */
void fx_assert_status(oclnn_status got, oclnn_status want, const char *needle);

/* main() of a test executable: runs the suite, prints the Check summary, exits 0 on success. */
int fx_main(Suite *suite);

#endif
