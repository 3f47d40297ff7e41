/* ref_net.c - the double-precision reference network of ref_net.h: naive loops, no
 * cleverness, so that it can be trusted by reading (and is checked by finite differences). */
#include "ref_net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { R_CONV, R_BN, R_LN, R_ACT, R_POOL, R_GAP, R_FLATTEN, R_LINEAR, R_SCALE, R_RES, R_LOSS };

typedef struct rparam {
    size_t off, count;
    int trainable, decay, he, fan_in;
    double init;
} rparam;

typedef struct rlayer {
    int kind, in, in2;
    oclnn_net_conv_desc conv;
    oclnn_pool2d_desc pool;
    oclnn_layernorm_mode ln_mode;
    double eps, momentum, init;
    oclnn_activation act;
    int out_features, bias;
    int ndim, n, c, h, w; /* output */
    int param[4];         /* indices into params, -1 none */
    double *y, *dy;       /* output and its gradient */
    double *mean, *invstd;
    double *probs;
} rlayer;

struct ref_net {
    rlayer *l;
    int nl, cursor;
    rparam *params;
    int np;
    double *p, *g, *m, *v;
    size_t total;
    int in_n, in_c, in_h, in_w;
    double *x;
    const int32_t *labels;
    int inference; /* batch norm with the running statistics, which stay unchanged */
};

ref_net *ref_net_create(void)
{
    ref_net *r = calloc(1, sizeof *r);
    r->l = calloc(256, sizeof *r->l);
    r->params = calloc(1024, sizeof *r->params);
    r->cursor = -1;
    return r;
}

void ref_net_destroy(ref_net *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->nl; i++) {
        free(r->l[i].y);
        free(r->l[i].dy);
        free(r->l[i].mean);
        free(r->l[i].invstd);
        free(r->l[i].probs);
    }
    free(r->l);
    free(r->params);
    free(r->p);
    free(r->g);
    free(r->m);
    free(r->v);
    free(r->x);
    free(r);
}

static rlayer *add(ref_net *r, int kind)
{
    rlayer *l = &r->l[r->nl];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->in = r->cursor;
    l->in2 = -1;
    for (int j = 0; j < 4; j++)
        l->param[j] = -1;
    r->cursor = r->nl++;
    return l;
}

void ref_net_branch(ref_net *r, int from)
{
    r->cursor = from;
}

int ref_net_conv(ref_net *r, const oclnn_net_conv_desc *d)
{
    add(r, R_CONV)->conv = *d;
    return r->nl - 1;
}

int ref_net_batchnorm(ref_net *r, double eps, double momentum)
{
    rlayer *l = add(r, R_BN);
    l->eps = eps;
    l->momentum = momentum;
    return r->nl - 1;
}

int ref_net_layernorm(ref_net *r, oclnn_layernorm_mode mode, double eps)
{
    rlayer *l = add(r, R_LN);
    l->ln_mode = mode;
    l->eps = eps;
    return r->nl - 1;
}

int ref_net_activation(ref_net *r, oclnn_activation act)
{
    add(r, R_ACT)->act = act;
    return r->nl - 1;
}

int ref_net_pool(ref_net *r, const oclnn_pool2d_desc *d)
{
    add(r, R_POOL)->pool = *d;
    return r->nl - 1;
}

int ref_net_gap(ref_net *r)
{
    add(r, R_GAP);
    return r->nl - 1;
}

int ref_net_flatten(ref_net *r)
{
    add(r, R_FLATTEN);
    return r->nl - 1;
}

int ref_net_linear(ref_net *r, int out_features, int bias)
{
    rlayer *l = add(r, R_LINEAR);
    l->out_features = out_features;
    l->bias = bias;
    return r->nl - 1;
}

int ref_net_layer_scale(ref_net *r, double init)
{
    add(r, R_SCALE)->init = init;
    return r->nl - 1;
}

int ref_net_residual(ref_net *r, int from, oclnn_activation act)
{
    rlayer *l = add(r, R_RES);
    l->in2 = from;
    l->act = act;
    return r->nl - 1;
}

int ref_net_loss(ref_net *r)
{
    add(r, R_LOSS);
    return r->nl - 1;
}

/* ---- compile ---- */

static void in_shape(const ref_net *r, int i, int *ndim, int *n, int *c, int *h, int *w)
{
    if (i < 0) {
        *ndim = 4;
        *n = r->in_n, *c = r->in_c, *h = r->in_h, *w = r->in_w;
    } else {
        const rlayer *l = &r->l[i];
        *ndim = l->ndim, *n = l->n, *c = l->c, *h = l->h, *w = l->w;
    }
}

static void new_param(ref_net *r, rlayer *l, int slot, size_t count, int trainable, int decay,
                      int he, int fan_in, double init)
{
    rparam *p = &r->params[r->np];
    p->count = count;
    p->trainable = trainable;
    p->decay = decay;
    p->he = he;
    p->fan_in = fan_in;
    p->init = init;
    l->param[slot] = r->np++;
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void ref_net_compile(ref_net *r, int batch, int c0, int h0, int w0, uint64_t seed)
{
    r->in_n = batch, r->in_c = c0, r->in_h = h0, r->in_w = w0;
    for (int i = 0; i < r->nl; i++) {
        rlayer *l = &r->l[i];
        int nd, n, c, h, w;
        in_shape(r, l->in, &nd, &n, &c, &h, &w);
        l->ndim = nd, l->n = n, l->c = c, l->h = h, l->w = w;
        switch (l->kind) {
        case R_CONV: {
            const oclnn_conv2d_desc *d = &l->conv.conv;
            int kh = l->conv.kernel_h, kw = l->conv.kernel_w;
            l->c = l->conv.out_channels;
            l->h =
                1 + (h + d->pad_top + d->pad_bottom - d->dilation_h * (kh - 1) - 1) / d->stride_h;
            l->w =
                1 + (w + d->pad_left + d->pad_right - d->dilation_w * (kw - 1) - 1) / d->stride_w;
            int fan = c / d->groups * kh * kw;
            new_param(r, l, 0, (size_t)l->c * fan, 1, 1, 1, fan, 0);
            if (l->conv.bias)
                new_param(r, l, 1, (size_t)l->c, 1, 0, 0, 0, 0);
            break;
        }
        case R_BN:
            new_param(r, l, 0, (size_t)c, 1, 0, 0, 0, 1);
            new_param(r, l, 1, (size_t)c, 1, 0, 0, 0, 0);
            new_param(r, l, 2, (size_t)c, 0, 0, 0, 0, 0);
            new_param(r, l, 3, (size_t)c, 0, 0, 0, 0, 1);
            break;
        case R_LN: {
            size_t gc = l->ln_mode == OCLNN_LAYERNORM_CHANNELS ? (size_t)c : (size_t)c * h * w;
            new_param(r, l, 0, gc, 1, 0, 0, 0, 1);
            new_param(r, l, 1, gc, 1, 0, 0, 0, 0);
            break;
        }
        case R_POOL: {
            const oclnn_pool2d_desc *p = &l->pool;
            l->h = 1 + (h + p->pad_top + p->pad_bottom - p->window_h) / p->stride_h;
            l->w = 1 + (w + p->pad_left + p->pad_right - p->window_w) / p->stride_w;
            break;
        }
        case R_GAP: l->ndim = 2, l->h = l->w = 1; break;
        case R_FLATTEN: l->ndim = 2, l->c = c * h * w, l->h = l->w = 1; break;
        case R_LINEAR:
            l->ndim = 2, l->c = l->out_features, l->h = l->w = 1;
            new_param(r, l, 0, (size_t)l->c * c * h * w, 1, 1, 1, c * h * w, 0);
            if (l->bias)
                new_param(r, l, 1, (size_t)l->c, 1, 0, 0, 0, 0);
            break;
        case R_SCALE: new_param(r, l, 0, (size_t)c, 1, 0, 0, 0, l->init); break;
        case R_LOSS: l->ndim = 1, l->n = 1, l->c = l->h = l->w = 1; break;
        default: break;
        }
        size_t cnt = (size_t)l->n * l->c * l->h * l->w;
        l->y = calloc(cnt, sizeof(double));
        l->dy = calloc(cnt, sizeof(double));
        l->mean = calloc((size_t)(n * h * w + c * h * w + c), sizeof(double));
        l->invstd = calloc((size_t)(n * h * w + c * h * w + c), sizeof(double));
        if (l->kind == R_LOSS)
            l->probs = calloc((size_t)n * c, sizeof(double));
    }
    size_t off = 0;
    for (int i = 0; i < r->np; i++) {
        r->params[i].off = off;
        off += r->params[i].count;
    }
    r->total = off;
    r->p = calloc(off, sizeof(double));
    r->g = calloc(off, sizeof(double));
    r->m = calloc(off, sizeof(double));
    r->v = calloc(off, sizeof(double));
    r->x = calloc((size_t)batch * c0 * h0 * w0, sizeof(double));
    uint64_t st = seed;
    double spare = 0;
    int have = 0;
    for (int i = 0; i < r->np; i++) {
        rparam *p = &r->params[i];
        for (size_t j = 0; j < p->count; j++) {
            double v = p->init;
            if (p->he) {
                double z;
                if (have) {
                    z = spare;
                    have = 0;
                } else {
                    double u1 = (double)(splitmix64(&st) >> 11) * 0x1p-53;
                    double u2 = (double)(splitmix64(&st) >> 11) * 0x1p-53;
                    double rad = sqrt(-2.0 * log(1.0 - u1));
                    z = rad * cos(2.0 * M_PI * u2);
                    spare = rad * sin(2.0 * M_PI * u2);
                    have = 1;
                }
                /* the library stores floats: start from exactly those values */
                v = (double)(float)(z * sqrt(2.0 / p->fan_in));
            }
            r->p[p->off + j] = (double)(float)v;
        }
    }
}

size_t ref_net_param_count(const ref_net *r)
{
    return r->total;
}

void ref_net_get_params(const ref_net *r, double *out)
{
    memcpy(out, r->p, r->total * sizeof(double));
}

int ref_net_layers(const ref_net *r)
{
    return r->nl;
}

oclnn_tensor_desc ref_net_layer_out(const ref_net *r, int i)
{
    const rlayer *l = &r->l[i];
    if (l->ndim == 4)
        return oclnn_tensor_desc_4d(l->n, l->c, l->h, l->w);
    if (l->ndim == 2)
        return oclnn_tensor_desc_2d(l->n, l->c);
    return oclnn_tensor_desc_1d(1);
}

const double *ref_net_output(const ref_net *r, int i)
{
    return r->l[i].y;
}

double *ref_net_param(ref_net *r, size_t i, double **grad)
{
    if (grad)
        *grad = r->g + i;
    return r->p + i;
}

/* ---- forward ---- */

static const double *X(const ref_net *r, int i)
{
    return i < 0 ? r->x : r->l[i].y;
}

static double *P(ref_net *r, const rlayer *l, int slot)
{
    return l->param[slot] < 0 ? NULL : r->p + r->params[l->param[slot]].off;
}

static double *G(ref_net *r, const rlayer *l, int slot)
{
    return l->param[slot] < 0 ? NULL : r->g + r->params[l->param[slot]].off;
}

static double gelu(double x)
{
    return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
}

static double gelu_grad(double x)
{
    return 0.5 * (1.0 + erf(x / sqrt(2.0))) + x * exp(-0.5 * x * x) / sqrt(2.0 * M_PI);
}

/* Index of x[n][c][ih][iw] for conv/pool (or -1 outside). */
static long at(int c_, int h_, int w_, int n, int c, int ih, int iw)
{
    if (ih < 0 || ih >= h_ || iw < 0 || iw >= w_)
        return -1;
    return (((long)n * c_ + c) * h_ + ih) * w_ + iw;
}

static void forward_layer(ref_net *r, int i)
{
    rlayer *l = &r->l[i];
    int nd, n, c, h, w;
    in_shape(r, l->in, &nd, &n, &c, &h, &w);
    const double *x = X(r, l->in);
    double *y = l->y;
    size_t cnt = (size_t)l->n * l->c * l->h * l->w;
    switch (l->kind) {
    case R_CONV: {
        const oclnn_conv2d_desc *d = &l->conv.conv;
        const double *wt = P(r, l, 0), *b = P(r, l, 1);
        int kh = l->conv.kernel_h, kw = l->conv.kernel_w, cg = c / d->groups, kg = l->c / d->groups;
        for (int ni = 0; ni < n; ni++)
            for (int k = 0; k < l->c; k++)
                for (int oy = 0; oy < l->h; oy++)
                    for (int ox = 0; ox < l->w; ox++) {
                        double s = b ? b[k] : 0;
                        int g = k / kg;
                        for (int ci = 0; ci < cg; ci++)
                            for (int ry = 0; ry < kh; ry++)
                                for (int rx = 0; rx < kw; rx++) {
                                    long xi =
                                        at(c, h, w, ni, g * cg + ci,
                                           oy * d->stride_h - d->pad_top + ry * d->dilation_h,
                                           ox * d->stride_w - d->pad_left + rx * d->dilation_w);
                                    if (xi >= 0)
                                        s += x[xi] * wt[((k * cg + ci) * kh + ry) * kw + rx];
                                }
                        if (d->activation == OCLNN_ACT_RELU && s < 0)
                            s = 0;
                        y[at(l->c, l->h, l->w, ni, k, oy, ox)] = s;
                    }
        break;
    }
    case R_BN: {
        const double *gm = P(r, l, 0), *bt = P(r, l, 1);
        double *rm = P(r, l, 2), *rv = P(r, l, 3);
        long m = (long)n * h * w;
        for (int ch = 0; ch < c && r->inference; ch++) {
            const double inv = 1.0 / sqrt(rv[ch] + l->eps);
            for (long k = 0; k < m; k++) {
                const long e = (k / (h * w) * c + ch) * h * w + k % (h * w);
                y[e] = gm[ch] * (x[e] - rm[ch]) * inv + bt[ch];
            }
        }
        for (int ch = 0; ch < c && !r->inference; ch++) {
            double s = 0, q = 0;
            for (int ni = 0; ni < n; ni++)
                for (int j = 0; j < h * w; j++)
                    s += x[((long)ni * c + ch) * h * w + j];
            double mean = s / m;
            for (int ni = 0; ni < n; ni++)
                for (int j = 0; j < h * w; j++) {
                    double dd = x[((long)ni * c + ch) * h * w + j] - mean;
                    q += dd * dd;
                }
            double var = q / m, inv = 1.0 / sqrt(var + l->eps);
            l->mean[ch] = mean;
            l->invstd[ch] = inv;
            for (int ni = 0; ni < n; ni++)
                for (int j = 0; j < h * w; j++) {
                    long k = ((long)ni * c + ch) * h * w + j;
                    y[k] = gm[ch] * (x[k] - mean) * inv + bt[ch];
                }
            double unbiased = m > 1 ? q / (m - 1) : var;
            rm[ch] = (1 - l->momentum) * rm[ch] + l->momentum * mean;
            rv[ch] = (1 - l->momentum) * rv[ch] + l->momentum * unbiased;
        }
        break;
    }
    case R_LN: {
        const double *gm = P(r, l, 0), *bt = P(r, l, 1);
        int hw = h * w;
        if (l->ln_mode == OCLNN_LAYERNORM_CHW) {
            long f = (long)c * hw;
            for (int ni = 0; ni < n; ni++) {
                const double *xr = x + ni * f;
                double s = 0, q = 0;
                for (long j = 0; j < f; j++)
                    s += xr[j];
                double mean = s / f;
                for (long j = 0; j < f; j++)
                    q += (xr[j] - mean) * (xr[j] - mean);
                double inv = 1.0 / sqrt(q / f + l->eps);
                l->mean[ni] = mean;
                l->invstd[ni] = inv;
                for (long j = 0; j < f; j++)
                    y[ni * f + j] = gm[j] * (xr[j] - mean) * inv + bt[j];
            }
        } else {
            for (int ni = 0; ni < n; ni++)
                for (int j = 0; j < hw; j++) {
                    double s = 0, q = 0;
                    for (int ch = 0; ch < c; ch++)
                        s += x[((long)ni * c + ch) * hw + j];
                    double mean = s / c;
                    for (int ch = 0; ch < c; ch++) {
                        double dd = x[((long)ni * c + ch) * hw + j] - mean;
                        q += dd * dd;
                    }
                    double inv = 1.0 / sqrt(q / c + l->eps);
                    l->mean[ni * hw + j] = mean;
                    l->invstd[ni * hw + j] = inv;
                    for (int ch = 0; ch < c; ch++) {
                        long k = ((long)ni * c + ch) * hw + j;
                        y[k] = gm[ch] * (x[k] - mean) * inv + bt[ch];
                    }
                }
        }
        break;
    }
    case R_ACT:
        for (size_t k = 0; k < cnt; k++)
            y[k] = l->act == OCLNN_ACT_RELU ? (x[k] > 0 ? x[k] : 0) : gelu(x[k]);
        break;
    case R_POOL: {
        const oclnn_pool2d_desc *p = &l->pool;
        for (int ni = 0; ni < n; ni++)
            for (int ch = 0; ch < c; ch++)
                for (int oy = 0; oy < l->h; oy++)
                    for (int ox = 0; ox < l->w; ox++) {
                        double best = -INFINITY, s = 0;
                        for (int ry = 0; ry < p->window_h; ry++)
                            for (int rx = 0; rx < p->window_w; rx++) {
                                long xi = at(c, h, w, ni, ch, oy * p->stride_h - p->pad_top + ry,
                                             ox * p->stride_w - p->pad_left + rx);
                                if (xi < 0)
                                    continue;
                                if (x[xi] > best)
                                    best = x[xi];
                                s += x[xi];
                            }
                        y[at(c, l->h, l->w, ni, ch, oy, ox)] =
                            p->mode == OCLNN_POOL_MAX ? best : s / (p->window_h * p->window_w);
                    }
        break;
    }
    case R_GAP:
        for (int ni = 0; ni < n; ni++)
            for (int ch = 0; ch < c; ch++) {
                double s = 0;
                for (int j = 0; j < h * w; j++)
                    s += x[((long)ni * c + ch) * h * w + j];
                y[ni * c + ch] = s / (h * w);
            }
        break;
    case R_FLATTEN: memcpy(y, x, cnt * sizeof(double)); break;
    case R_LINEAR: {
        const double *wt = P(r, l, 0), *b = P(r, l, 1);
        long f = (long)c * h * w;
        for (int ni = 0; ni < n; ni++)
            for (int o = 0; o < l->c; o++) {
                double s = b ? b[o] : 0;
                for (long j = 0; j < f; j++)
                    s += x[ni * f + j] * wt[o * f + j];
                y[ni * l->c + o] = s;
            }
        break;
    }
    case R_SCALE: {
        const double *gm = P(r, l, 0);
        for (size_t k = 0; k < cnt; k++)
            y[k] = gm[(k / (size_t)(h * w)) % (size_t)c] * x[k];
        break;
    }
    case R_RES: {
        const double *z = X(r, l->in2);
        for (size_t k = 0; k < cnt; k++) {
            double s = x[k] + z[k];
            y[k] = l->act == OCLNN_ACT_RELU && s < 0 ? 0 : s;
        }
        break;
    }
    case R_LOSS: {
        double loss = 0;
        for (int ni = 0; ni < n; ni++) {
            const double *row = x + (long)ni * c;
            double mx = row[0], s = 0;
            for (int k = 1; k < c; k++)
                mx = row[k] > mx ? row[k] : mx;
            for (int k = 0; k < c; k++)
                s += exp(row[k] - mx);
            for (int k = 0; k < c; k++)
                l->probs[ni * c + k] = exp(row[k] - mx) / s;
            loss += -(row[r->labels[ni]] - mx - log(s));
        }
        y[0] = loss / n;
        break;
    }
    }
}

/* ---- backward: each layer adds into its inputs' dy ---- */

static double *DX(ref_net *r, int i)
{
    return i < 0 ? NULL : r->l[i].dy;
}

static void backward_layer(ref_net *r, int i)
{
    rlayer *l = &r->l[i];
    int nd, n, c, h, w;
    in_shape(r, l->in, &nd, &n, &c, &h, &w);
    const double *x = X(r, l->in);
    double *dx = DX(r, l->in), *dy = l->dy;
    size_t cnt = (size_t)l->n * l->c * l->h * l->w;
    switch (l->kind) {
    case R_CONV: {
        const oclnn_conv2d_desc *d = &l->conv.conv;
        const double *wt = P(r, l, 0);
        double *dw = G(r, l, 0), *db = G(r, l, 1);
        int kh = l->conv.kernel_h, kw = l->conv.kernel_w, cg = c / d->groups, kg = l->c / d->groups;
        for (int ni = 0; ni < n; ni++)
            for (int k = 0; k < l->c; k++)
                for (int oy = 0; oy < l->h; oy++)
                    for (int ox = 0; ox < l->w; ox++) {
                        long yi = at(l->c, l->h, l->w, ni, k, oy, ox);
                        double g = dy[yi];
                        if (d->activation == OCLNN_ACT_RELU && !(l->y[yi] > 0))
                            g = 0;
                        if (db)
                            db[k] += g;
                        int grp = k / kg;
                        for (int ci = 0; ci < cg; ci++)
                            for (int ry = 0; ry < kh; ry++)
                                for (int rx = 0; rx < kw; rx++) {
                                    long xi =
                                        at(c, h, w, ni, grp * cg + ci,
                                           oy * d->stride_h - d->pad_top + ry * d->dilation_h,
                                           ox * d->stride_w - d->pad_left + rx * d->dilation_w);
                                    if (xi < 0)
                                        continue;
                                    long wi = ((k * cg + ci) * kh + ry) * kw + rx;
                                    dw[wi] += x[xi] * g;
                                    if (dx)
                                        dx[xi] += wt[wi] * g;
                                }
                    }
        break;
    }
    case R_BN: {
        const double *gm = P(r, l, 0);
        double *dg = G(r, l, 0), *dbt = G(r, l, 1);
        long m = (long)n * h * w;
        for (int ch = 0; ch < c; ch++) {
            double sdy = 0, sdyx = 0;
            for (int ni = 0; ni < n; ni++)
                for (int j = 0; j < h * w; j++) {
                    long k = ((long)ni * c + ch) * h * w + j;
                    double xh = (x[k] - l->mean[ch]) * l->invstd[ch];
                    sdy += dy[k];
                    sdyx += dy[k] * xh;
                }
            dg[ch] += sdyx;
            dbt[ch] += sdy;
            if (!dx)
                continue;
            for (int ni = 0; ni < n; ni++)
                for (int j = 0; j < h * w; j++) {
                    long k = ((long)ni * c + ch) * h * w + j;
                    double xh = (x[k] - l->mean[ch]) * l->invstd[ch];
                    dx[k] += gm[ch] * l->invstd[ch] / m * (m * dy[k] - sdy - xh * sdyx);
                }
        }
        break;
    }
    case R_LN: {
        const double *gm = P(r, l, 0);
        double *dg = G(r, l, 0), *dbt = G(r, l, 1);
        int hw = h * w;
        if (l->ln_mode == OCLNN_LAYERNORM_CHW) {
            long f = (long)c * hw;
            for (int ni = 0; ni < n; ni++) {
                double s1 = 0, s2 = 0;
                for (long j = 0; j < f; j++) {
                    long k = ni * f + j;
                    double xh = (x[k] - l->mean[ni]) * l->invstd[ni];
                    dg[j] += dy[k] * xh;
                    dbt[j] += dy[k];
                    s1 += dy[k] * gm[j];
                    s2 += dy[k] * gm[j] * xh;
                }
                for (long j = 0; dx && j < f; j++) {
                    long k = ni * f + j;
                    double xh = (x[k] - l->mean[ni]) * l->invstd[ni];
                    dx[k] += l->invstd[ni] / f * (f * dy[k] * gm[j] - s1 - xh * s2);
                }
            }
        } else {
            for (int ni = 0; ni < n; ni++)
                for (int j = 0; j < hw; j++) {
                    double mean = l->mean[ni * hw + j], inv = l->invstd[ni * hw + j];
                    double s1 = 0, s2 = 0;
                    for (int ch = 0; ch < c; ch++) {
                        long k = ((long)ni * c + ch) * hw + j;
                        double xh = (x[k] - mean) * inv;
                        dg[ch] += dy[k] * xh;
                        dbt[ch] += dy[k];
                        s1 += dy[k] * gm[ch];
                        s2 += dy[k] * gm[ch] * xh;
                    }
                    for (int ch = 0; dx && ch < c; ch++) {
                        long k = ((long)ni * c + ch) * hw + j;
                        double xh = (x[k] - mean) * inv;
                        dx[k] += inv / c * (c * dy[k] * gm[ch] - s1 - xh * s2);
                    }
                }
        }
        break;
    }
    case R_ACT:
        for (size_t k = 0; dx && k < cnt; k++)
            dx[k] += dy[k] * (l->act == OCLNN_ACT_RELU ? (x[k] > 0 ? 1.0 : 0.0) : gelu_grad(x[k]));
        break;
    case R_POOL: {
        const oclnn_pool2d_desc *p = &l->pool;
        for (int ni = 0; dx && ni < n; ni++)
            for (int ch = 0; ch < c; ch++)
                for (int oy = 0; oy < l->h; oy++)
                    for (int ox = 0; ox < l->w; ox++) {
                        double g = dy[at(c, l->h, l->w, ni, ch, oy, ox)];
                        long best = -1;
                        for (int ry = 0; ry < p->window_h; ry++)
                            for (int rx = 0; rx < p->window_w; rx++) {
                                long xi = at(c, h, w, ni, ch, oy * p->stride_h - p->pad_top + ry,
                                             ox * p->stride_w - p->pad_left + rx);
                                if (xi < 0)
                                    continue;
                                if (p->mode == OCLNN_POOL_MAX) {
                                    if (best < 0 || x[xi] > x[best])
                                        best = xi;
                                } else {
                                    dx[xi] += g / (p->window_h * p->window_w);
                                }
                            }
                        if (best >= 0)
                            dx[best] += g;
                    }
        break;
    }
    case R_GAP:
        for (int ni = 0; dx && ni < n; ni++)
            for (int ch = 0; ch < c; ch++)
                for (int j = 0; j < h * w; j++)
                    dx[((long)ni * c + ch) * h * w + j] += dy[ni * c + ch] / (h * w);
        break;
    case R_FLATTEN:
        for (size_t k = 0; dx && k < cnt; k++)
            dx[k] += dy[k];
        break;
    case R_LINEAR: {
        const double *wt = P(r, l, 0);
        double *dw = G(r, l, 0), *db = G(r, l, 1);
        long f = (long)c * h * w;
        for (int ni = 0; ni < n; ni++)
            for (int o = 0; o < l->c; o++) {
                double g = dy[ni * l->c + o];
                if (db)
                    db[o] += g;
                for (long j = 0; j < f; j++) {
                    dw[o * f + j] += g * x[ni * f + j];
                    if (dx)
                        dx[ni * f + j] += g * wt[o * f + j];
                }
            }
        break;
    }
    case R_SCALE: {
        const double *gm = P(r, l, 0);
        double *dg = G(r, l, 0);
        for (size_t k = 0; k < cnt; k++) {
            size_t ch = (k / (size_t)(h * w)) % (size_t)c;
            dg[ch] += x[k] * dy[k];
            if (dx)
                dx[k] += gm[ch] * dy[k];
        }
        break;
    }
    case R_RES: {
        double *dz = DX(r, l->in2);
        for (size_t k = 0; k < cnt; k++) {
            double g = l->act == OCLNN_ACT_RELU && !(l->y[k] > 0) ? 0 : dy[k];
            if (dx)
                dx[k] += g;
            if (dz)
                dz[k] += g;
        }
        break;
    }
    case R_LOSS:
        for (int ni = 0; dx && ni < n; ni++)
            for (int k = 0; k < c; k++)
                dx[ni * c + k] += (l->probs[ni * c + k] - (k == r->labels[ni] ? 1.0 : 0.0)) / n;
        break;
    }
}

const double *ref_net_infer(ref_net *r, const float *x)
{
    size_t nx = (size_t)r->in_n * r->in_c * r->in_h * r->in_w;
    for (size_t k = 0; k < nx; k++)
        r->x[k] = x[k];
    r->inference = 1;
    for (int i = 0; i < r->nl - 1; i++) /* everything but the loss */
        forward_layer(r, i);
    r->inference = 0;
    return r->l[r->nl - 2].y;
}

double ref_net_loss_and_grad(ref_net *r, const float *x, const int32_t *labels, int backward)
{
    size_t nx = (size_t)r->in_n * r->in_c * r->in_h * r->in_w;
    for (size_t k = 0; k < nx; k++)
        r->x[k] = x[k];
    r->labels = labels;
    /* running statistics change in every forward: keep them when only the loss is asked for
     * (finite differences evaluate the loss many times) */
    double *saved = NULL;
    if (!backward) {
        saved = malloc(r->total * sizeof(double));
        memcpy(saved, r->p, r->total * sizeof(double));
    }
    for (int i = 0; i < r->nl; i++)
        forward_layer(r, i);
    double loss = r->l[r->nl - 1].y[0];
    if (saved) {
        memcpy(r->p, saved, r->total * sizeof(double));
        free(saved);
        return loss;
    }
    memset(r->g, 0, r->total * sizeof(double));
    for (int i = 0; i < r->nl; i++) {
        rlayer *l = &r->l[i];
        memset(l->dy, 0, (size_t)l->n * l->c * l->h * l->w * sizeof(double));
    }
    for (int i = r->nl - 1; i >= 0; i--)
        backward_layer(r, i);
    return loss;
}

void ref_net_update(ref_net *r, const oclnn_net_train_desc *t, double lr, long step)
{
    for (int i = 0; i < r->np; i++) {
        rparam *p = &r->params[i];
        if (!p->trainable)
            continue;
        double wd = p->decay ? t->weight_decay : 0;
        for (size_t j = p->off; j < p->off + p->count; j++) {
            double g = r->g[j];
            if (t->optimizer == OCLNN_OPTIMIZER_SGD) {
                g += wd * r->p[j];
                r->m[j] = step == 0 ? g : t->momentum * r->m[j] + g;
                r->p[j] -= lr * (t->nesterov ? g + t->momentum * r->m[j] : r->m[j]);
            } else {
                r->m[j] = t->beta1 * r->m[j] + (1 - t->beta1) * g;
                r->v[j] = t->beta2 * r->v[j] + (1 - t->beta2) * g * g;
                double mh = r->m[j] / (1 - pow(t->beta1, (double)(step + 1)));
                double vh = r->v[j] / (1 - pow(t->beta2, (double)(step + 1)));
                r->p[j] -= lr * wd * r->p[j];
                r->p[j] -= lr * mh / (sqrt(vh) + t->eps);
            }
        }
    }
}
