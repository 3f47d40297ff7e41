/* ref_layers.c - plain C references (double accumulation) for the layer ops; see ref_layers.h. */
#include "ref_layers.h"

#include <math.h>
#include <stdlib.h>

void ref_pool2d_out(const oclnn_pool2d_desc *d, int h, int w, int *oh, int *ow)
{
    *oh = 1 + (h + d->pad_top + d->pad_bottom - d->window_h) / d->stride_h;
    *ow = 1 + (w + d->pad_left + d->pad_right - d->window_w) / d->stride_w;
}

/* Visits one window: the first arg-max index (max), the sum and the count of inside positions. */
static void window(const oclnn_pool2d_desc *d, int h, int w, const double *xp, int oy, int ox,
                   int *arg, double *sum, int *count)
{
    int h0 = oy * d->stride_h - d->pad_top, w0 = ox * d->stride_w - d->pad_left;
    *arg = -1;
    *sum = 0;
    *count = 0;
    double best = 0;
    for (int i = h0; i < h0 + d->window_h; i++)
        for (int j = w0; j < w0 + d->window_w; j++) {
            if (i < 0 || i >= h || j < 0 || j >= w)
                continue;
            double v = xp[i * w + j];
            if (*arg < 0 || v > best) {
                best = v;
                *arg = i * w + j;
            }
            *sum += v;
            ++*count;
        }
}

static double divisor(const oclnn_pool2d_desc *d, int count)
{
    return d->mode == OCLNN_POOL_AVG ? (double)d->window_h * d->window_w : (double)count;
}

void ref_pool2d_forward(const oclnn_pool2d_desc *d, int planes, int h, int w, const double *x,
                        double *y)
{
    int oh, ow;
    ref_pool2d_out(d, h, w, &oh, &ow);
    for (int p = 0; p < planes; p++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                const double *xp = x + (size_t)p * h * w;
                int arg, count;
                double sum;
                window(d, h, w, xp, oy, ox, &arg, &sum, &count);
                y[((size_t)p * oh + oy) * ow + ox] =
                    d->mode == OCLNN_POOL_MAX ? xp[arg] : sum / divisor(d, count);
            }
}

void ref_pool2d_backward(const oclnn_pool2d_desc *d, int planes, int h, int w, const double *x,
                         const double *dy, double *dx)
{
    int oh, ow;
    ref_pool2d_out(d, h, w, &oh, &ow);
    for (size_t i = 0; i < (size_t)planes * h * w; i++)
        dx[i] = 0;
    for (int p = 0; p < planes; p++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                const double *xp = x + (size_t)p * h * w;
                double *dxp = dx + (size_t)p * h * w;
                double g = dy[((size_t)p * oh + oy) * ow + ox];
                int arg, count;
                double sum;
                window(d, h, w, xp, oy, ox, &arg, &sum, &count);
                if (d->mode == OCLNN_POOL_MAX) {
                    dxp[arg] += g;
                    continue;
                }
                int h0 = oy * d->stride_h - d->pad_top, w0 = ox * d->stride_w - d->pad_left;
                for (int i = h0; i < h0 + d->window_h; i++)
                    for (int j = w0; j < w0 + d->window_w; j++)
                        if (i >= 0 && i < h && j >= 0 && j < w)
                            dxp[i * w + j] += g / divisor(d, count);
            }
}

#define GELU_K0 0.79788456080286535588 /* sqrt(2/pi) */
#define GELU_K1 0.044715

double ref_act(oclnn_activation act, double x)
{
    switch (act) {
    case OCLNN_ACT_NONE: return x;
    case OCLNN_ACT_RELU: return x > 0 ? x : 0;
    case OCLNN_ACT_GELU: return 0.5 * x * erfc(-x / sqrt(2.0));
    /* 0.5x(1 + tanh(u)) = x / (1 + exp(-2u)): no cancellation in the negative tail */
    case OCLNN_ACT_GELU_TANH: return x / (1 + exp(-2 * GELU_K0 * (x + GELU_K1 * x * x * x)));
    }
    return NAN;
}

double ref_act_grad(oclnn_activation act, double x)
{
    switch (act) {
    case OCLNN_ACT_NONE: return 1;
    case OCLNN_ACT_RELU: return x > 0 ? 1 : 0;
    case OCLNN_ACT_GELU: return 0.5 * erfc(-x / sqrt(2.0)) + x * exp(-0.5 * x * x) / sqrt(2 * M_PI);
    case OCLNN_ACT_GELU_TANH: {
        /* with s = (1 + tanh(u)) / 2: (1 - tanh(u)^2) / 2 = 2 s (1 - s) */
        double s = 1 / (1 + exp(-2 * GELU_K0 * (x + GELU_K1 * x * x * x)));
        return s + x * 2 * s * (1 - s) * GELU_K0 * (1 + 3 * GELU_K1 * x * x);
    }
    }
    return NAN;
}

void ref_softmax(int n, int k, const double *x, double *y, int log_out)
{
    for (int r = 0; r < n; r++) {
        const double *xr = x + (size_t)r * k;
        double m = xr[0], s = 0;
        for (int j = 1; j < k; j++)
            m = fmax(m, xr[j]);
        for (int j = 0; j < k; j++)
            s += exp(xr[j] - m);
        for (int j = 0; j < k; j++)
            y[(size_t)r * k + j] = log_out ? xr[j] - m - log(s) : exp(xr[j] - m) / s;
    }
}

double ref_ce_loss(int n, int k, const double *x, const int32_t *labels)
{
    double total = 0;
    for (int r = 0; r < n; r++) {
        const double *xr = x + (size_t)r * k;
        double m = xr[0], s = 0;
        for (int j = 1; j < k; j++)
            m = fmax(m, xr[j]);
        for (int j = 0; j < k; j++)
            s += exp(xr[j] - m);
        total += log(s) + m - xr[labels[r]];
    }
    return total / n;
}

void ref_ce_grad(int n, int k, const double *x, const int32_t *labels, double scale, double *dx)
{
    ref_softmax(n, k, x, dx, 0);
    for (int r = 0; r < n; r++)
        for (int j = 0; j < k; j++)
            dx[(size_t)r * k + j] = scale * (dx[(size_t)r * k + j] - (j == labels[r])) / n;
}

int ref_accuracy(int n, int k, const float *x, const int32_t *labels)
{
    int correct = 0;
    for (int r = 0; r < n; r++) {
        int arg = 0;
        for (int j = 1; j < k; j++)
            if (x[(size_t)r * k + j] > x[(size_t)r * k + arg])
                arg = j;
        correct += arg == labels[r];
    }
    return correct;
}

void ref_sgd_step(const oclnn_sgd_desc *d, size_t n, double *p, const double *g, double *buf,
                  int first_step)
{
    for (size_t i = 0; i < n; i++) {
        double gi = g[i] + d->weight_decay * p[i];
        if (d->momentum != 0) {
            buf[i] = first_step ? gi : d->momentum * buf[i] + gi;
            gi = d->nesterov ? gi + d->momentum * buf[i] : buf[i];
        }
        p[i] -= d->lr * gi;
    }
}

void ref_adam_step(const oclnn_adam_desc *d, long step, size_t n, double *p, const double *g,
                   double *m, double *v)
{
    double bc1 = 1 - pow(d->beta1, (double)step), bc2 = 1 - pow(d->beta2, (double)step);
    for (size_t i = 0; i < n; i++) {
        double gi = g[i];
        if (d->decoupled)
            p[i] *= 1 - (double)d->lr * d->weight_decay;
        else
            gi += d->weight_decay * p[i];
        m[i] = d->beta1 * m[i] + (1 - d->beta1) * gi;
        v[i] = d->beta2 * v[i] + (1 - d->beta2) * gi * gi;
        p[i] -= d->lr / bc1 * m[i] / (sqrt(v[i]) / sqrt(bc2) + d->eps);
    }
}

double *ref_from_float(const float *p, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    if (!d)
        abort();
    for (size_t i = 0; i < n; i++)
        d[i] = p[i];
    return d;
}

double ref_central_diff(double (*f)(const double *x, void *arg), double *x, size_t i, double h,
                        void *arg)
{
    double keep = x[i];
    x[i] = keep + h;
    double fp = f(x, arg);
    x[i] = keep - h;
    double fm = f(x, arg);
    x[i] = keep;
    return (fp - fm) / (2 * h);
}
