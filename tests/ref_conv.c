/* ref_conv.c - the reference convolution of ref_conv.h: direct loops, double accumulation. */
#include "ref_conv.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

int ref_conv_shape(ref_conv *p)
{
    const int ekh = p->dh * (p->r - 1) + 1, ekw = p->dw * (p->s - 1) + 1;
    const int ph = p->h + p->pt + p->pb, pw = p->w + p->pl + p->pr;
    if (ekh > ph || ekw > pw)
        return 0;
    p->oh = 1 + (ph - ekh) / p->sh;
    p->ow = 1 + (pw - ekw) / p->sw;
    return 1;
}

double ref_act(double v, int act)
{
    switch (act) {
    case 1: return v > 0 ? v : 0;
    case 2: return 0.5 * v * (1.0 + erf(v / sqrt(2.0)));
    case 3: return 0.5 * v * (1.0 + tanh(sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
    default: return v;
    }
}

/* Calls f(arg, xi, wi, yi) for every (input, weight, output) index triple of the convolution
 * (padding taps skipped). */
typedef void (*tap_fn)(void *arg, size_t xi, size_t wi, size_t yi);

static void for_each_tap(const ref_conv *p, tap_fn f, void *arg)
{
    const int cg = p->c / p->groups, kg = p->k / p->groups;
    for (int n = 0; n < p->n; n++)
        for (int k = 0; k < p->k; k++)
            for (int oh = 0; oh < p->oh; oh++)
                for (int ow = 0; ow < p->ow; ow++) {
                    const size_t yi = (((size_t)n * p->k + k) * p->oh + oh) * p->ow + ow;
                    const int g = k / kg;
                    for (int c = 0; c < cg; c++)
                        for (int r = 0; r < p->r; r++) {
                            const int ih = oh * p->sh - p->pt + r * p->dh;
                            if (ih < 0 || ih >= p->h)
                                continue;
                            for (int s = 0; s < p->s; s++) {
                                const int iw = ow * p->sw - p->pl + s * p->dw;
                                if (iw < 0 || iw >= p->w)
                                    continue;
                                const size_t xi =
                                    (((size_t)n * p->c + g * cg + c) * p->h + ih) * p->w + iw;
                                const size_t wi = (((size_t)k * cg + c) * p->r + r) * p->s + s;
                                f(arg, xi, wi, yi);
                            }
                        }
                }
}

/* out[o] += a[i] * b[j] and terms[o] += |a[i] * b[j]|, with (i, j, o) picked from the triple. */
typedef struct mac {
    const double *a, *b;
    double *out, *terms;
} mac;

static void mac_add(mac *m, size_t ai, size_t bi, size_t oi)
{
    const double t = m->a[ai] * m->b[bi];
    m->out[oi] += t;
    if (m->terms)
        m->terms[oi] += fabs(t);
}

static void mac_fwd(void *arg, size_t xi, size_t wi, size_t yi)
{
    mac_add(arg, xi, wi, yi); /* a = x, b = w, out = y */
}

static void mac_data(void *arg, size_t xi, size_t wi, size_t yi)
{
    mac_add(arg, yi, wi, xi); /* a = dy, b = w, out = dx */
}

static void mac_weights(void *arg, size_t xi, size_t wi, size_t yi)
{
    mac_add(arg, yi, xi, wi); /* a = dy, b = x, out = dw */
}

void ref_conv_forward(const ref_conv *p, const double *x, const double *w, const double *b,
                      const double *z, int act, int res_before, double *y, double *terms)
{
    const size_t ny = (size_t)p->n * p->k * p->oh * p->ow;
    memset(y, 0, ny * sizeof *y);
    if (terms)
        memset(terms, 0, ny * sizeof *terms);
    for_each_tap(p, mac_fwd, &(mac){x, w, y, terms});
    const size_t plane = (size_t)p->oh * p->ow;
    for (size_t i = 0; i < ny; i++) {
        const int k = (int)(i / plane % (size_t)p->k);
        double v = y[i] + (b ? b[k] : 0.0);
        const double zv = z ? z[i] : 0.0;
        y[i] = res_before ? ref_act(v + zv, act) : ref_act(v, act) + zv;
        if (terms)
            terms[i] += (b ? fabs(b[k]) : 0.0) + fabs(zv);
    }
}

void ref_conv_backward_data(const ref_conv *p, const double *dy, const double *w, double *dx,
                            double *terms)
{
    const size_t nx = (size_t)p->n * p->c * p->h * p->w;
    memset(dx, 0, nx * sizeof *dx);
    if (terms)
        memset(terms, 0, nx * sizeof *terms);
    for_each_tap(p, mac_data, &(mac){dy, w, dx, terms});
}

void ref_conv_backward_weights(const ref_conv *p, const double *x, const double *dy, double *dw,
                               double *dw_terms, double *db, double *db_terms)
{
    const size_t nw = (size_t)p->k * (p->c / p->groups) * p->r * p->s;
    memset(dw, 0, nw * sizeof *dw);
    if (dw_terms)
        memset(dw_terms, 0, nw * sizeof *dw_terms);
    for_each_tap(p, mac_weights, &(mac){dy, x, dw, dw_terms});
    if (!db)
        return;
    const size_t plane = (size_t)p->oh * p->ow;
    for (int k = 0; k < p->k; k++) {
        double sum = 0, t = 0;
        for (int n = 0; n < p->n; n++)
            for (size_t i = 0; i < plane; i++) {
                const double v = dy[((size_t)n * p->k + k) * plane + i];
                sum += v;
                t += fabs(v);
            }
        db[k] = sum;
        if (db_terms)
            db_terms[k] = t;
    }
}
