/* linear.cl - the bias parts of fully connected layers (the products run through CLBlast):
 * broadcasting the bias into y before an accumulating GEMM, and the bias gradient as column sums
 * of dy in a fixed order.
 * Defines: none. */

/* y[i][o] = b[o] for every row i (one work-item per element). */
__kernel void linear_bias_fill(__global const float *b, const int b_off, __global float *y,
                               const int y_off, const int n, const int out)
{
    const int e = (int)get_global_id(0);
    if (e < n * out)
        y[y_off + e] = b[b_off + e % out];
}

/* db[o] = beta * db[o] + sum over i of dy[i][o], rows summed in order; with beta 0 the old db
 * is never read. */
__kernel void linear_bias_grad(__global const float *dy, const int dy_off, __global float *db,
                               const int db_off, const int n, const int out, const float beta)
{
    const int o = (int)get_global_id(0);
    if (o >= out)
        return;
    float s = 0.0f;
    for (int i = 0; i < n; i++)
        s += dy[dy_off + (size_t)i * out + o];
    db[db_off + o] = beta != 0.0f ? fma(beta, db[db_off + o], s) : s;
}
