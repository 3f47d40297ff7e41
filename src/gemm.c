/* gemm.c - every GEMM of the library goes through CLBlast here, with parameters for the device
 * applied once at context creation (CLBlast ships no tuned entry for CPUs such as POCL's). */
#include "internal.h"

#include <clblast_c.h>
#include <string.h>

static const char *clblast_status_name(CLBlastStatusCode s)
{
    switch (s) {
    case CLBlastNotImplemented: return "CLBlastNotImplemented";
    case CLBlastInvalidMatrixA: return "CLBlastInvalidMatrixA";
    case CLBlastInvalidMatrixB: return "CLBlastInvalidMatrixB";
    case CLBlastInvalidMatrixC: return "CLBlastInvalidMatrixC";
    case CLBlastInsufficientMemoryA: return "CLBlastInsufficientMemoryA";
    case CLBlastInsufficientMemoryB: return "CLBlastInsufficientMemoryB";
    case CLBlastInsufficientMemoryC: return "CLBlastInsufficientMemoryC";
    case CLBlastInsufficientMemoryTemp: return "CLBlastInsufficientMemoryTemp";
    case CLBlastInvalidLocalMemUsage: return "CLBlastInvalidLocalMemUsage";
    case CLBlastNoHalfPrecision: return "CLBlastNoHalfPrecision";
    case CLBlastNoDoublePrecision: return "CLBlastNoDoublePrecision";
    case CLBlastInvalidVectorScalar: return "CLBlastInvalidVectorScalar";
    case CLBlastInsufficientMemoryScalar: return "CLBlastInsufficientMemoryScalar";
    case CLBlastDatabaseError: return "CLBlastDatabaseError";
    case CLBlastUnknownError: return "CLBlastUnknownError";
    case CLBlastUnexpectedError: return "CLBlastUnexpectedError";
    default: return s < 0 && s > -100 ? oclnn__cl_error_name((cl_int)s) : "CLBlast error";
    }
}

static oclnn_status clblast_fail(oclnn_context *ctx, const char *op, const char *call,
                                 CLBlastStatusCode s)
{
    if (s == CLBlastOpenCLBuildProgramFailure)
        return oclnn__fail(ctx, OCLNN_BUILD_FAILURE, "%s: %s: CLBlast kernel build failed", op,
                           call);
    if (s == CL_MEM_OBJECT_ALLOCATION_FAILURE || s == CL_OUT_OF_HOST_MEMORY ||
        s == CLBlastInsufficientMemoryTemp)
        return oclnn__fail(ctx, OCLNN_OUT_OF_MEMORY, "%s: %s: %s (%d)", op, call,
                           clblast_status_name(s), (int)s);
    return oclnn__fail(ctx, OCLNN_OPENCL_ERROR, "%s: %s failed: %s (%d)", op, call,
                       clblast_status_name(s), (int)s);
}

/* CPU-style Xgemm parameters: big register tiles, vectors, no local memory (on POCL local
 * memory is ordinary memory). Measured in DEVICE-NOTES.md: ~150 GFLOP/s vs ~20 for CLBlast's
 * GPU-style default on this CPU. */
static oclnn_status override(oclnn_context *ctx, const char *kernel, const char **names,
                             const size_t *values, size_t n)
{
    CLBlastStatusCode s =
        CLBlastOverrideParameters(ctx->device, kernel, CLBlastPrecisionSingle, n, names, values);
    return s == CLBlastSuccess ? OCLNN_SUCCESS
                               : clblast_fail(ctx, "context_create", "CLBlastOverrideParameters", s);
}

oclnn_status oclnn__gemm_init(oclnn_context *ctx)
{
    if (!(ctx->info.type & CL_DEVICE_TYPE_CPU))
        return OCLNN_SUCCESS; /* CLBlast's own database covers GPUs */
    static const char *xgemm_names[] = {"GEMMK", "KREG",  "KWG", "KWI",  "MDIMA", "MDIMC",
                                        "MWG",   "NDIMB", "NDIMC", "NWG", "SA",    "SB",
                                        "STRM",  "STRN",  "VWM", "VWN"};
    static const size_t xgemm_values[] = {0, 1, 32, 2, 8, 8, 64, 8, 8, 128, 0, 0, 0, 0, 8, 16};
    oclnn_status s = override(ctx, "Xgemm", xgemm_names, xgemm_values,
                              sizeof xgemm_values / sizeof xgemm_values[0]);
    if (s != OCLNN_SUCCESS)
        return s;
    static const char *direct_names[] = {"KWID",  "MDIMAD", "MDIMCD", "NDIMBD", "NDIMCD",
                                         "PADA",  "PADB",   "VWMD",   "VWND",   "WGD"};
    static const size_t direct_values[] = {2, 8, 8, 8, 8, 0, 0, 4, 4, 32};
    return override(ctx, "XgemmDirect", direct_names, direct_values,
                    sizeof direct_values / sizeof direct_values[0]);
}

void oclnn__gemm_release(oclnn_context *ctx)
{
    (void)ctx;
}

oclnn_status oclnn__sgemm(oclnn_context *ctx, const char *op, bool trans_a, bool trans_b,
                          size_t m, size_t n, size_t k, float alpha, cl_mem a, size_t a_off,
                          size_t lda, cl_mem b, size_t b_off, size_t ldb, float beta, cl_mem c,
                          size_t c_off, size_t ldc)
{
    cl_event ev, *evp = oclnn__event_slot(ctx, &ev);
    CLBlastStatusCode s = CLBlastSgemm(
        CLBlastLayoutRowMajor, trans_a ? CLBlastTransposeYes : CLBlastTransposeNo,
        trans_b ? CLBlastTransposeYes : CLBlastTransposeNo, m, n, k, alpha, a, a_off, lda, b,
        b_off, ldb, beta, c, c_off, ldc, &ctx->queue, evp);
    if (s != CLBlastSuccess)
        return clblast_fail(ctx, op, "CLBlastSgemm", s);
    if (evp)
        oclnn__profile_event(ctx, op, "clblast_sgemm", ev);
    return OCLNN_SUCCESS;
}

oclnn_status oclnn__sgemm_strided(oclnn_context *ctx, const char *op, bool trans_a, bool trans_b,
                                  size_t m, size_t n, size_t k, float alpha, cl_mem a,
                                  size_t a_off, size_t lda, size_t a_stride, cl_mem b,
                                  size_t b_off, size_t ldb, size_t b_stride, float beta, cl_mem c,
                                  size_t c_off, size_t ldc, size_t c_stride, size_t batch)
{
    if (batch == 1)
        return oclnn__sgemm(ctx, op, trans_a, trans_b, m, n, k, alpha, a, a_off, lda, b, b_off,
                            ldb, beta, c, c_off, ldc);
    cl_event ev, *evp = oclnn__event_slot(ctx, &ev);
    CLBlastStatusCode s = CLBlastSgemmStridedBatched(
        CLBlastLayoutRowMajor, trans_a ? CLBlastTransposeYes : CLBlastTransposeNo,
        trans_b ? CLBlastTransposeYes : CLBlastTransposeNo, m, n, k, alpha, a, a_off, lda,
        a_stride, b, b_off, ldb, b_stride, beta, c, c_off, ldc, c_stride, batch, &ctx->queue, evp);
    if (s != CLBlastSuccess)
        return clblast_fail(ctx, op, "CLBlastSgemmStridedBatched", s);
    if (evp)
        oclnn__profile_event(ctx, op, "clblast_sgemm_batched", ev);
    return OCLNN_SUCCESS;
}
