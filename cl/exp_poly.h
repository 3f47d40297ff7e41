/* exp_poly.h - exp as plain vector arithmetic (POCL scalarises or slows down the built-in exp on
 * vectors), shared by elementwise.cl and softmax.cl.
 * Defines: none. DEFINE_EXP(T, S, IT) defines exp2_fS(a, b) = exp(a + b) and exp_fS(x) for the
 * float type T with the matching int type IT. */
#ifndef EXP_POLY_H
#define EXP_POLY_H

#define EXP_CAT_(a, b) a##b
#define EXP_CAT(a, b) EXP_CAT_(a, b)
#define EXP_SHIFTER 12582912.0f /* 1.5 * 2^23: adding it rounds to an integer in the low bits */

/* exp(a + b) as in Cephes' expf (S. Moshier): a + b = n ln2 + r with ln2 in two parts and a
 * degree-7 polynomial for exp(r); a (the large part, exact) is reduced before b is added so that
 * its bits are not lost to rounding a + b. n is rounded by adding the 1.5 * 2^23 shifter and read
 * from its low bits (POCL scalarises rint and convert_int on vectors); 2^n is applied in two
 * halves so that n down to -175 (subnormal results) stays exact. a is clamped to where exp is 0
 * or inf in f32 for |b| < 2, by compares that let a NaN through (min/max would not); -inf gives
 * 0. */
#define DEFINE_EXP(T, S, IT)                                                                       \
    inline T exp2_f##S(T a, T b)                                                                   \
    {                                                                                              \
        a = a > (T)91.0f ? (T)91.0f : a < (T)(-172.0f) ? (T)(-172.0f) : a;                         \
        const T k = fma(a + b, (T)1.44269504088896341f, (T)EXP_SHIFTER), n = k - (T)EXP_SHIFTER;   \
        T r = fma(n, (T)(-0.693359375f), a) + b;                                                   \
        r = fma(n, (T)2.12194440e-4f, r);                                                          \
        T p = fma((T)1.9875691500e-4f, r, (T)1.3981999507e-3f);                                    \
        p = fma(p, r, (T)8.3334519073e-3f);                                                        \
        p = fma(p, r, (T)4.1665795894e-2f);                                                        \
        p = fma(p, r, (T)1.6666665459e-1f);                                                        \
        p = fma(p, r, (T)5.0000001201e-1f);                                                        \
        p = fma(p, r * r, r) + (T)1.0f;                                                            \
        const IT ni = EXP_CAT(as_, IT)(k) - EXP_CAT(as_, IT)((T)EXP_SHIFTER), n1 = ni >> 1,        \
                 n2 = ni - n1;                                                                     \
        return p * EXP_CAT(as_, T)((n1 + 127) << 23) * EXP_CAT(as_, T)((n2 + 127) << 23);          \
    }                                                                                              \
    inline T exp_f##S(T x)                                                                         \
    {                                                                                              \
        return exp2_f##S(x, (T)0.0f);                                                              \
    }

#endif
