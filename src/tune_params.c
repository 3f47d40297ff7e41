/* tune_params.c - CLBlast's GEMM kernels and their parameters as data: names, constraints (the
 * rules of CLBlast's xgemm / xgemm_direct kernels) and built-in defaults per device type. */
#include "tune.h"

#include <string.h>

const oclnn__tune_kernel oclnn__tune_kernels[OCLNN__TK_COUNT] = {
    [OCLNN__TK_XGEMM] = {"Xgemm",
                         16,
                         {"GEMMK", "KREG", "KWG", "KWI", "MDIMA", "MDIMC", "MWG", "NDIMB", "NDIMC",
                          "NWG", "SA", "SB", "STRM", "STRN", "VWM", "VWN"}},
    [OCLNN__TK_DIRECT] = {"XgemmDirect",
                          10,
                          {"KWID", "MDIMAD", "MDIMCD", "NDIMBD", "NDIMCD", "PADA", "PADB", "VWMD",
                           "VWND", "WGD"}},
    [OCLNN__TK_ROUTINE] = {"GemmRoutine", 1, {"XGEMM_MIN_INDIRECT_SIZE"}},
    [OCLNN__TK_COPY] = {"Copy", 4, {"COPY_DIMX", "COPY_DIMY", "COPY_VW", "COPY_WPT"}},
    [OCLNN__TK_PAD] = {"Pad", 4, {"PAD_DIMX", "PAD_DIMY", "PAD_WPTX", "PAD_WPTY"}},
    [OCLNN__TK_TRANSPOSE] = {"Transpose", 4, {"TRA_DIM", "TRA_PAD", "TRA_SHUFFLE", "TRA_WPT"}},
    [OCLNN__TK_PADTRANSPOSE] = {"Padtranspose", 3, {"PADTRA_PAD", "PADTRA_TILE", "PADTRA_WPT"}},
    [OCLNN__TK_XGEMM_K1] = {"XgemmK1",
                            16,
                            {"GEMMK", "KREG", "KWG", "KWI", "MDIMA", "MDIMC", "MWG", "NDIMB",
                             "NDIMC", "NWG", "SA", "SB", "STRM", "STRN", "VWM", "VWN"}},
};

/* Built-in CPU parameters, measured on POCL 3.1. Xgemm, no local memory in either set (POCL's
 * is ordinary memory):
 * - AVX-512 (2-core Xeon, 2 MiB-page buffers; figures in the README): work-groups of 8
 *   work-items side by side in N, each computing a 32x8 tile (16 float16 accumulators of the
 *   32 registers). POCL runs a work-group's items one after the other, so the 8 share the
 *   32-column panel of A from the cache while each reads its own 8 columns of B; one-item 16x16
 *   groups read every panel of A once per 16 columns of C. Across the library's GEMM shape
 *   classes this set measured 1.05-2.1x the 16x16 one in the same run (1024^3: 112 against 89
 *   GFLOP/s; ResNet's 64x3136x576: 239 against 114).
 * - Other CPUs: one work-item per work-group computing a 16x16 tile (on 2-core Zen 5 it beat
 *   CLBlast's GPU-style default by 2-10x; on AVX2 six AVX2-shaped tiles measured 0.5-1.0x of
 *   it); the grouped set has not run on AVX2.
 * The direct kernel's set is CLBlast-style 8x8 work-groups: small work-groups with local memory
 * were far slower still (POCL keeps each work-item's registers in memory across barriers). */
static const size_t cpu_xgemm_avx512[16] = {
    /* GEMMK KREG KWG KWI MDIMA MDIMC MWG NDIMB NDIMC NWG SA SB STRM STRN VWM VWN */
    0, 1, 32, 8, 1, 1, 32, 1, 8, 64, 0, 0, 0, 0, 16, 8};
static const size_t cpu_xgemm[16] = {0, 1, 32, 8, 1, 1, 16, 1, 1, 16, 0, 0, 0, 0, 16, 4};
/* AVX-512's GEMMK=1 set (XgemmK1, for the GEMMs gemm.c gives it): one work-item per work-group
 * computing a 32x32 tile, KREG 8. Of 40 GEMMK=1 sets with MWG = NWG (KREG 8/16, VWN 4-16,
 * NDIMC 1-4, tiles 16-64) timed on 512x49x4608 it was the fastest (1.89 ms, the next 1.96-2.0). */
static const size_t cpu_xgemm_k1_avx512[16] = {1, 8, 1, 1, 1, 1, 32, 1, 1, 32, 0, 0, 0, 0, 16, 4};
static const size_t cpu_direct[10] = {
    /* KWID MDIMAD MDIMCD NDIMBD NDIMCD PADA PADB VWMD VWND WGD */
    2, 8, 8, 8, 8, 0, 0, 4, 4, 32};
/* XgemmDirect keeps its tiles in local memory behind barriers, which POCL emulates slowly:
 * on a 128x128x3136 linear layer it reached 18 GFLOP/s against 66 through Xgemm, so only
 * GEMMs below 128^3 multiply-adds go direct (CLBlast's Intel CPU default is 320^3). */
static const size_t cpu_routine[1] = {128};

void oclnn__tune_defaults(const oclnn_device_info *info, oclnn__gemm_params *p)
{
    memset(p, 0, sizeof *p);
    /* GPUs and accelerators: CLBlast's own database is tuned for them. */
    if (!(info->type & CL_DEVICE_TYPE_CPU))
        return;
    p->set[OCLNN__TK_XGEMM] = p->set[OCLNN__TK_DIRECT] = p->set[OCLNN__TK_ROUTINE] = true;
    memcpy(p->v[OCLNN__TK_XGEMM],
           info->native_vector_width_float >= 16 ? cpu_xgemm_avx512 : cpu_xgemm, sizeof cpu_xgemm);
    if (info->native_vector_width_float >= 16) {
        p->set[OCLNN__TK_XGEMM_K1] = true;
        memcpy(p->v[OCLNN__TK_XGEMM_K1], cpu_xgemm_k1_avx512, sizeof cpu_xgemm_k1_avx512);
    }
    memcpy(p->v[OCLNN__TK_DIRECT], cpu_direct, sizeof cpu_direct);
    memcpy(p->v[OCLNN__TK_ROUTINE], cpu_routine, sizeof cpu_routine);
}

static bool pow2_upto(size_t v, size_t max)
{
    return v >= 1 && v <= max && (v & (v - 1)) == 0;
}

bool oclnn__tune_why(char *why, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
    return false;
}

#define MULT(x, y, xs, ys)                                                                         \
    do {                                                                                           \
        if ((y) == 0 || (x) % (y) != 0)                                                            \
            return oclnn__tune_why(why, why_size, "%s %zu is not a multiple of %s %zu", xs,        \
                                   (size_t)(x), ys, (size_t)(y));                                  \
    } while (0)

static bool xgemm_valid(const size_t *v, const oclnn_device_info *info, char *why, size_t why_size)
{
    const size_t gemmk = v[0], kreg = v[1], kwg = v[2], kwi = v[3], mdima = v[4], mdimc = v[5],
                 mwg = v[6], ndimb = v[7], ndimc = v[8], nwg = v[9], sa = v[10], sb = v[11],
                 strm = v[12], strn = v[13], vwm = v[14], vwn = v[15];
    if (gemmk > 1 || sa > 1 || sb > 1 || strm > 1 || strn > 1)
        return oclnn__tune_why(why, why_size, "GEMMK, SA, SB, STRM and STRN must be 0 or 1");
    if (!pow2_upto(vwm, 16) || !pow2_upto(vwn, 16))
        return oclnn__tune_why(why, why_size, "VWM %zu and VWN %zu must be 1, 2, 4, 8 or 16", vwm,
                               vwn);
    if (!kreg || !kwg || !kwi || !mdima || !mdimc || !mwg || !ndimb || !ndimc || !nwg)
        return oclnn__tune_why(why, why_size, "tile sizes must be positive");
    MULT(kwg, kwi, "KWG", "KWI");
    MULT(mwg, mdimc * vwm, "MWG", "MDIMC*VWM");
    MULT(nwg, ndimc * vwn, "NWG", "NDIMC*VWN");
    MULT(mwg, mdima * vwm, "MWG", "MDIMA*VWM");
    MULT(nwg, ndimb * vwn, "NWG", "NDIMB*VWN");
    MULT(mdimc * ndimc, mdima, "MDIMC*NDIMC", "MDIMA");
    MULT(mdimc * ndimc, ndimb, "MDIMC*NDIMC", "NDIMB");
    if (gemmk == 0) {
        if (kreg != 1)
            return oclnn__tune_why(why, why_size, "KREG %zu must be 1 when GEMMK is 0", kreg);
        MULT(kwg, mdimc * ndimc / mdima, "KWG", "KDIMA (MDIMC*NDIMC/MDIMA)");
        MULT(kwg, mdimc * ndimc / ndimb, "KWG", "KDIMB (MDIMC*NDIMC/NDIMB)");
    } else {
        if (sa || sb || mdima != mdimc || ndimb != ndimc || kwg != 1 || kwi != 1)
            return oclnn__tune_why(
                why, why_size,
                "GEMMK 1 needs SA = SB = 0, MDIMA = MDIMC, NDIMB = NDIMC, KWG = KWI = 1");
        MULT(kreg, vwn, "KREG", "VWN");
        /* For GEMMK 1 CLBlast 1.5's indirect path pads m to NWG and n to MWG but launches its
         * grid as if the tiles were MWG x NWG: with MWG != NWG the kernel reads and writes past
         * its buffers (on POCL: wrong results, heap corruption or a segfault). */
        if (mwg != nwg)
            return oclnn__tune_why(why, why_size, "GEMMK 1 needs MWG %zu = NWG %zu", mwg, nwg);
    }
    if (mdimc * ndimc > info->max_work_group_size)
        return oclnn__tune_why(why, why_size,
                               "work-group MDIMC*NDIMC %zu exceeds the device maximum %zu",
                               mdimc * ndimc, info->max_work_group_size);
    const size_t local = 4 * (sa * kwg * mwg + sb * kwg * nwg);
    if (local > info->local_mem_bytes)
        return oclnn__tune_why(why, why_size, "local memory %zu bytes exceeds the device's %llu",
                               local, (unsigned long long)info->local_mem_bytes);
    return true;
}

static bool direct_valid(const size_t *v, const oclnn_device_info *info, char *why, size_t why_size)
{
    const size_t kwid = v[0], mdimad = v[1], mdimcd = v[2], ndimbd = v[3], ndimcd = v[4],
                 pada = v[5], padb = v[6], vwmd = v[7], vwnd = v[8], wgd = v[9];
    if (pada > 1 || padb > 1)
        return oclnn__tune_why(why, why_size, "PADA and PADB must be 0 or 1");
    if (!pow2_upto(vwmd, 16) || !pow2_upto(vwnd, 16))
        return oclnn__tune_why(why, why_size, "VWMD %zu and VWND %zu must be 1, 2, 4, 8 or 16",
                               vwmd, vwnd);
    if (!kwid || !mdimad || !mdimcd || !ndimbd || !ndimcd || !wgd)
        return oclnn__tune_why(why, why_size, "tile sizes must be positive");
    MULT(wgd, kwid, "WGD", "KWID");
    MULT(wgd, mdimcd * vwmd, "WGD", "MDIMCD*VWMD");
    MULT(wgd, ndimcd * vwnd, "WGD", "NDIMCD*VWND");
    MULT(wgd, mdimad * vwmd, "WGD", "MDIMAD*VWMD");
    MULT(wgd, ndimbd * vwnd, "WGD", "NDIMBD*VWND");
    MULT(mdimcd * ndimcd, mdimad, "MDIMCD*NDIMCD", "MDIMAD");
    MULT(mdimcd * ndimcd, ndimbd, "MDIMCD*NDIMCD", "NDIMBD");
    MULT(wgd, mdimcd * ndimcd / mdimad, "WGD", "KDIMAD (MDIMCD*NDIMCD/MDIMAD)");
    MULT(wgd, mdimcd * ndimcd / ndimbd, "WGD", "KDIMBD (MDIMCD*NDIMCD/NDIMBD)");
    if (mdimcd * ndimcd > info->max_work_group_size)
        return oclnn__tune_why(why, why_size,
                               "work-group MDIMCD*NDIMCD %zu exceeds the device maximum %zu",
                               mdimcd * ndimcd, info->max_work_group_size);
    const size_t local = 4 * (wgd * (wgd + pada) + wgd * (wgd + padb));
    if (local > info->local_mem_bytes)
        return oclnn__tune_why(why, why_size, "local memory %zu bytes exceeds the device's %llu",
                               local, (unsigned long long)info->local_mem_bytes);
    return true;
}

/* The helper kernels: work-group dimensions and per-item work must be positive, vector widths
 * and tiles powers of two, work-groups within the device limit. */
static bool helper_valid(oclnn__tk k, const size_t *v, const oclnn_device_info *info, char *why,
                         size_t why_size)
{
    const oclnn__tune_kernel *tk = &oclnn__tune_kernels[k];
    for (size_t i = 0; i < tk->nparams; i++) {
        const char *name = tk->params[i];
        bool flag = strcmp(name, "TRA_PAD") == 0 || strcmp(name, "TRA_SHUFFLE") == 0 ||
                    strcmp(name, "PADTRA_PAD") == 0;
        if (flag ? v[i] > 1 : !pow2_upto(v[i], 256))
            return oclnn__tune_why(why, why_size, "%s %zu must be %s", name, v[i],
                                   flag ? "0 or 1" : "a power of two up to 256");
    }
    size_t wg = k == OCLNN__TK_COPY        ? v[0] * v[1]
                : k == OCLNN__TK_PAD       ? v[0] * v[1]
                : k == OCLNN__TK_TRANSPOSE ? v[0] * v[0]
                                           : v[1] * v[1];
    if (wg > info->max_work_group_size)
        return oclnn__tune_why(why, why_size, "work-group of %zu exceeds the device maximum %zu",
                               wg, info->max_work_group_size);
    return true;
}

bool oclnn__tune_valid(oclnn__tk kernel, const size_t *v, const oclnn_device_info *info, char *why,
                       size_t why_size)
{
    switch (kernel) {
    case OCLNN__TK_XGEMM: return xgemm_valid(v, info, why, why_size);
    case OCLNN__TK_XGEMM_K1:
        if (v[0] != 1)
            return oclnn__tune_why(why, why_size, "XgemmK1 needs GEMMK 1, not %zu", v[0]);
        return xgemm_valid(v, info, why, why_size);
    case OCLNN__TK_DIRECT: return direct_valid(v, info, why, why_size);
    case OCLNN__TK_ROUTINE:
        /* Its cube is compared with m*n*k in 64 bits. */
        if (v[0] < 1 || v[0] > 65536)
            return oclnn__tune_why(why, why_size,
                                   "XGEMM_MIN_INDIRECT_SIZE %zu must be in [1, 65536]", v[0]);
        return true;
    default: return helper_valid(kernel, v, info, why, why_size);
    }
}
