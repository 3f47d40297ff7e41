/* ref_gemm.h - plain C reference GEMM accumulating in double, for the GEMM tests. */
#ifndef OCLNN_TEST_REF_GEMM_H
#define OCLNN_TEST_REF_GEMM_H

#include <stddef.h>

/* Row-major out[m][n] = alpha * op(a) op(b) + beta * c (c may be NULL when beta is 0: c is then
 * not read, so NaN in c does not reach out). op(a) is [m][k] (a is [k][m] when ta), op(b) is
 * [k][n] (b is [n][k] when tb); lda/ldb/ldc are row strides. abs_sum[m][n] (may be NULL)
 * receives |alpha| * sum |a b| + |beta c|, the scale of the rounding error. */
void ref_gemm(int ta, int tb, int m, int n, int k, double alpha, const float *a, size_t lda,
              const float *b, size_t ldb, double beta, const float *c, size_t ldc, double *out,
              double *abs_sum);

#endif
