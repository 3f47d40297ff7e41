/* oclnn-info - lists every OpenCL device, says which one OCLNN_DEVICE selects and why, shows
 * the kernel cache, then runs the self-check on the selected device (exit 0 = PASS). */
#include "oclnn.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static const char *type_name(cl_device_type t)
{
    if (t & CL_DEVICE_TYPE_GPU)
        return "gpu";
    if (t & CL_DEVICE_TYPE_ACCELERATOR)
        return "accelerator";
    if (t & CL_DEVICE_TYPE_CPU)
        return "cpu";
    return "other";
}

int main(void)
{
    enum { MAX = 64 };
    static oclnn_device_info devs[MAX];
    static char skipped[4096];
    size_t n = 0;
    printf("oclnn %s\n\n", OCLNN_VERSION_STRING);
    oclnn_status s = oclnn_devices_list(devs, MAX, &n, skipped, sizeof skipped);
    if (s != OCLNN_SUCCESS) {
        printf("no devices: %s\n", oclnn_last_error(NULL));
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        const oclnn_device_info *d = &devs[i];
        printf("%d:%d  %s  [%s]\n", d->platform_index, d->device_index, d->name,
               type_name(d->type));
        printf("     platform        %s, %s (%s)\n", d->platform_name, d->platform_vendor,
               d->platform_version);
        printf("     vendor          %s\n", d->vendor);
        printf("     driver          %s\n", d->driver_version);
        printf("     version         %s / %s\n", d->device_version, d->opencl_c_version);
        printf("     compute units   %u\n", d->compute_units);
        printf("     global memory   %.1f MiB (largest allocation %.1f MiB)\n",
               d->global_mem_bytes / 1048576.0, d->max_alloc_bytes / 1048576.0);
        printf("     local memory    %.1f KiB%s\n", d->local_mem_bytes / 1024.0,
               d->local_mem_is_global ? " (emulated in global memory)" : "");
        printf("     max work-group  %zu\n", d->max_work_group_size);
        printf("     float vector    %u (native width)\n", d->native_vector_width_float);
        printf("     fp16 / fp64     %s / %s\n", d->has_fp16 ? "yes" : "no",
               d->has_fp64 ? "yes" : "no");
    }
    if (skipped[0])
        printf("\n%s", skipped);

    const char *sel = getenv("OCLNN_DEVICE");
    oclnn_device_info chosen;
    char why[256];
    printf("\nOCLNN_DEVICE=%s\n", sel ? sel : "(unset)");
    s = oclnn_device_select(sel, &chosen, why, sizeof why);
    if (s != OCLNN_SUCCESS) {
        printf("selection failed: %s\n", oclnn_last_error(NULL));
        return 1;
    }
    printf("selected %d:%d %s\n  because %s\n", chosen.platform_index, chosen.device_index,
           chosen.name, why);

    double t0 = now_ms();
    oclnn_context *ctx = NULL;
    s = oclnn_context_create(&ctx);
    if (s != OCLNN_SUCCESS) {
        printf("context: %s\n", oclnn_last_error(NULL));
        return 1;
    }
    const char *dir = NULL;
    oclnn_context_cache_dir(ctx, &dir);
    printf("kernel cache %s\n", dir);
    const char *kdir = getenv("OCLNN_KERNEL_DIR");
    printf("kernel sources %s\n", kdir && *kdir ? kdir : "embedded");
    const char *gemm_source, *gemm_file, *gemm_note;
    oclnn_tune_info(ctx, &gemm_source, &gemm_file, &gemm_note);
    printf("gemm parameters %s (tuning file %s)\n", gemm_source,
           gemm_file[0] ? gemm_file : "none: cache off");
    if (gemm_note[0])
        printf("gemm note %s\n", gemm_note);

    double err = 0, t1 = now_ms();
    s = oclnn_self_check(ctx, &err);
    double t2 = now_ms();
    oclnn_cache_stats st;
    oclnn_context_cache_stats(ctx, &st);
    if (s == OCLNN_SUCCESS)
        printf("self-check: PASS (max |device - host| = %g, program %s)\n"
               "time to first kernel result: %.0f ms (context %.0f ms + build and run %.0f ms)\n",
               err, st.disk_hits ? "from the disk cache" : "built from source", t2 - t0,
               t1 - t0, t2 - t1);
    else
        printf("self-check: FAIL: %s\n", oclnn_last_error(ctx));
    oclnn_context_destroy(ctx);
    return s == OCLNN_SUCCESS ? 0 : 1;
}
