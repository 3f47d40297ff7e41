/* ref_gemm.c - plain C reference GEMM accumulating in double (see ref_gemm.h). */
#include "ref_gemm.h"

#include <math.h>

void ref_gemm(int ta, int tb, int m, int n, int k, double alpha, const float *a, size_t lda,
              const float *b, size_t ldb, double beta, const float *c, size_t ldc, double *out,
              double *abs_sum)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double sum = 0, abs = 0;
            for (int p = 0; p < k; p++) {
                double x = ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                double y = tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                sum += x * y;
                abs += fabs(x * y);
            }
            double v = alpha * sum, scale = fabs(alpha) * abs;
            if (beta != 0) {
                v += beta * c[(size_t)i * ldc + j];
                scale += fabs(beta * c[(size_t)i * ldc + j]);
            }
            out[(size_t)i * n + j] = v;
            if (abs_sum)
                abs_sum[(size_t)i * n + j] = scale;
        }
}
