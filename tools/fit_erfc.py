#!/usr/bin/python3
"""Fits ERFC_D0..ERFC_D10 of cl/elementwise.cl: erfc(z) = t D(v) exp(-z^2), t = 1 / (1 + z/2),
v = 1 - t. Chebyshev least squares in relative error on v in [0, 1] against mpmath; the
coefficients are rounded to f32 one at a time from the lowest, the rest refitted each time.
Run with Debian's python3 (python3-mpmath, python3-numpy); prints the #defines."""
import mpmath as mp
import numpy as np

mp.mp.dps = 30
DEG, NODES = 10, 160


def d_of_v(v):
    t = 1 - mp.mpf(v)
    if t == 0:
        return 1 / (2 * mp.sqrt(mp.pi))
    z = 2 * (1 / t - 1)
    return mp.erfc(z) * mp.exp(z * z) / t


nodes = [0.5 - 0.5 * mp.cos(mp.pi * (k + 0.5) / NODES) for k in range(NODES)]
vals = [d_of_v(v) for v in nodes]
fixed = {}
for j in range(DEG + 1):
    free = [q for q in range(DEG + 1) if q not in fixed]
    a, b = mp.matrix(NODES, len(free)), mp.matrix(NODES, 1)
    for i, (v, d) in enumerate(zip(nodes, vals)):
        for k, q in enumerate(free):
            a[i, k] = v**q / d
        b[i] = 1 - sum(c * v**q for q, c in fixed.items()) / d
    c = mp.lu_solve(a.T * a, a.T * b)
    fixed[j] = mp.mpf(float(np.float32(float(c[free.index(j)]))))
for j in range(DEG + 1):
    print("#define ERFC_D%d %rf" % (j, float(fixed[j])))
