/* ref_depthwise.c - the depthwise convolution references (see ref_depthwise.h): direct loops
 * over the definition, nothing shared with the device kernels. */
#include "ref_depthwise.h"

#include <math.h>
#include <stddef.h>

double ref_dw_activate(oclnn_activation act, double v)
{
    switch (act) {
    case OCLNN_ACT_RELU: return v > 0 ? v : 0;
    case OCLNN_ACT_GELU: return 0.5 * v * (1.0 + erf(v / sqrt(2.0)));
    case OCLNN_ACT_GELU_TANH:
        return 0.5 * v * (1.0 + tanh(sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
    default: return v;
    }
}

/* Index of x[n][c][ih][iw] under output (n, o, oh, ow) and tap (r, s), or -1 in the padding. */
static ptrdiff_t x_index(const oclnn_conv_geom *g, int n, int o, int oh, int ow, int r, int s)
{
    int ih = oh * g->stride_h - g->pad_t + r * g->dil_h;
    int iw = ow * g->stride_w - g->pad_l + s * g->dil_w;
    if (ih < 0 || ih >= g->h || iw < 0 || iw >= g->w)
        return -1;
    return (((ptrdiff_t)n * g->c + o / g->kg) * g->h + ih) * g->w + iw;
}

/* Calls f(ctx, output index, x index, weight index) for every product of the convolution. */
#define FOR_EACH_TERM(g, BODY)                                                                     \
    for (int n = 0; n < (g)->n; n++)                                                               \
        for (int o = 0; o < (g)->k; o++)                                                           \
            for (int oh = 0; oh < (g)->oh; oh++)                                                   \
                for (int ow = 0; ow < (g)->ow; ow++)                                               \
                    for (int r = 0; r < (g)->r; r++)                                               \
                        for (int s = 0; s < (g)->s; s++) {                                         \
                            ptrdiff_t xi = x_index(g, n, o, oh, ow, r, s);                         \
                            if (xi < 0)                                                            \
                                continue;                                                          \
                            ptrdiff_t yi =                                                         \
                                (((ptrdiff_t)n * (g)->k + o) * (g)->oh + oh) * (g)->ow + ow;       \
                            ptrdiff_t wi = ((ptrdiff_t)o * (g)->r + r) * (g)->s + s;               \
                            BODY                                                                   \
                        }

void ref_dw_forward(const oclnn_conv_geom *g, const double *x, const double *w, const double *b,
                    const double *z, oclnn_activation act, int residual_before_act, double *y,
                    double *abs_sum)
{
    size_t ny = (size_t)g->n * g->k * g->oh * g->ow, plane = (size_t)g->oh * g->ow;
    for (size_t i = 0; i < ny; i++) {
        y[i] = 0;
        if (abs_sum)
            abs_sum[i] = 0;
    }
    FOR_EACH_TERM(g, {
        y[yi] += x[xi] * w[wi];
        if (abs_sum)
            abs_sum[yi] += fabs(x[xi] * w[wi]);
    })
    for (size_t i = 0; i < ny; i++) {
        int o = (int)(i / plane % (size_t)g->k);
        double v = y[i] + (b ? b[o] : 0);
        if (z && residual_before_act)
            v += z[i];
        v = ref_dw_activate(act, v);
        if (z && !residual_before_act)
            v += z[i];
        y[i] = v;
        if (abs_sum)
            abs_sum[i] += (b ? fabs(b[o]) : 0) + (z ? fabs(z[i]) : 0);
    }
}

void ref_dw_backward_data(const oclnn_conv_geom *g, const double *dy, const double *w, double *dx,
                          double *abs_sum)
{
    size_t nx = (size_t)g->n * g->c * g->h * g->w;
    for (size_t i = 0; i < nx; i++)
        dx[i] = abs_sum[i] = 0;
    FOR_EACH_TERM(g, {
        dx[xi] += dy[yi] * w[wi];
        abs_sum[xi] += fabs(dy[yi] * w[wi]);
    })
}

void ref_dw_backward_weights(const oclnn_conv_geom *g, const double *x, const double *dy,
                             double *dw, double *dw_abs, double *db, double *db_abs)
{
    size_t nw = (size_t)g->k * g->r * g->s, plane = (size_t)g->oh * g->ow;
    for (size_t i = 0; i < nw; i++)
        dw[i] = dw_abs[i] = 0;
    FOR_EACH_TERM(g, {
        dw[wi] += x[xi] * dy[yi];
        dw_abs[wi] += fabs(x[xi] * dy[yi]);
    })
    if (!db)
        return;
    for (int o = 0; o < g->k; o++) {
        db[o] = 0;
        if (db_abs)
            db_abs[o] = 0;
        for (int n = 0; n < g->n; n++)
            for (size_t p = 0; p < plane; p++) {
                double v = dy[((size_t)n * g->k + o) * plane + p];
                db[o] += v;
                if (db_abs)
                    db_abs[o] += fabs(v);
            }
    }
}
