/* test_context.c - status strings, device selection (every OCLNN_DEVICE form and bad ones),
 * context create/wrap/destroy, the self-check, and failure injection without leaks. */
#include "fixture.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <ctype.h>
#include <stdbool.h>

START_TEST(status_strings_are_distinct)
{
    const char *seen[16] = {0};
    for (int s = 0; s <= OCLNN_CORRUPT_DATA; s++) {
        const char *str = oclnn_status_string((oclnn_status)s);
        ck_assert_ptr_nonnull(str);
        ck_assert_str_ne(str, "unknown status");
        for (int j = 0; j < s; j++)
            ck_assert_str_ne(str, seen[j]);
        seen[s] = str;
    }
    ck_assert_str_eq(oclnn_status_string((oclnn_status)999), "unknown status");
    ck_assert_int_eq(OCLNN_SUCCESS, 0); /* pinned values */
    ck_assert_int_eq(OCLNN_INVALID_ARGUMENT, 1);
    ck_assert_int_eq(OCLNN_UNSUPPORTED, 2);
    ck_assert_int_eq(OCLNN_CORRUPT_DATA, 8);
}
END_TEST

static oclnn_device_info devs[64];
static size_t ndevs;

static void list_devices(void)
{
    char skipped[1024];
    oclnn_status s = oclnn_devices_list(devs, 64, &ndevs, skipped, sizeof skipped);
    ck_assert_msg(s == OCLNN_SUCCESS, "devices_list: %s", oclnn_last_error(NULL));
    ck_assert_uint_gt(ndevs, 0);
}

static oclnn_status select_dev(const char *sel, oclnn_device_info *out)
{
    char why[256];
    return oclnn_device_select(sel, out, why, sizeof why);
}

START_TEST(select_by_index_type_and_name)
{
    list_devices();
    oclnn_device_info d;
    char sel[64];
    /* every P:D names exactly that device */
    for (size_t i = 0; i < ndevs; i++) {
        snprintf(sel, sizeof sel, "%d:%d", devs[i].platform_index, devs[i].device_index);
        ck_assert_int_eq(select_dev(sel, &d), OCLNN_SUCCESS);
        ck_assert_str_eq(d.name, devs[i].name);
    }
    /* type forms: the n-th device of that type */
    static const char *tn[] = {"cpu", "gpu", "accelerator"};
    static const cl_device_type tt[] = {CL_DEVICE_TYPE_CPU, CL_DEVICE_TYPE_GPU,
                                        CL_DEVICE_TYPE_ACCELERATOR};
    for (int t = 0; t < 3; t++) {
        int count = 0;
        for (size_t i = 0; i < ndevs; i++)
            if (devs[i].type & tt[t]) {
                snprintf(sel, sizeof sel, "%s:%d", tn[t], count);
                ck_assert_int_eq(select_dev(sel, &d), OCLNN_SUCCESS);
                ck_assert_str_eq(d.name, devs[i].name);
                if (count == 0) {
                    snprintf(sel, sizeof sel, "%s", t == 0 ? "CPU" : tn[t]); /* any case */
                    ck_assert_int_eq(select_dev(sel, &d), OCLNN_SUCCESS);
                    ck_assert_str_eq(d.name, devs[i].name);
                }
                count++;
            }
        snprintf(sel, sizeof sel, "%s:%d", tn[t], count);
        ck_assert_int_eq(select_dev(sel, &d), OCLNN_DEVICE_NOT_FOUND);
        ck_assert_ptr_nonnull(strstr(oclnn_last_error(NULL), "devices found"));
    }
    /* name substring, case-insensitive: the first device's platform name upper-cased */
    char upper[128];
    snprintf(upper, sizeof upper, "%s", devs[0].platform_name);
    for (char *p = upper; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    ck_assert_int_eq(select_dev(upper, &d), OCLNN_SUCCESS);
    ck_assert_str_eq(d.platform_name, devs[0].platform_name);
}
END_TEST

START_TEST(select_default_prefers_gpu)
{
    list_devices();
    oclnn_device_info d;
    ck_assert_int_eq(select_dev(NULL, &d), OCLNN_SUCCESS);
    bool any_gpu = false;
    for (size_t i = 0; i < ndevs; i++)
        any_gpu |= (devs[i].type & CL_DEVICE_TYPE_GPU) != 0;
    if (any_gpu)
        ck_assert(d.type & CL_DEVICE_TYPE_GPU);
    ck_assert_int_eq(select_dev("", &d), OCLNN_SUCCESS);
}
END_TEST

START_TEST(select_bad_values)
{
    list_devices();
    oclnn_device_info d;
    ck_assert_int_eq(select_dev("57:0", &d), OCLNN_DEVICE_NOT_FOUND);
    const char *msg = oclnn_last_error(NULL);
    ck_assert_ptr_nonnull(strstr(msg, "57:0"));
    char first[16];
    snprintf(first, sizeof first, "%d:%d", devs[0].platform_index, devs[0].device_index);
    ck_assert_msg(strstr(msg, first) && strstr(msg, devs[0].name),
                  "the message lists every device: %s", msg);
    ck_assert_int_eq(select_dev("no such device anywhere", &d), OCLNN_DEVICE_NOT_FOUND);
    ck_assert_int_eq(select_dev("cpu:x", &d), OCLNN_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(NULL), "cpu:x"));
    ck_assert_int_eq(select_dev("0:abc", &d), OCLNN_INVALID_ARGUMENT);
    ck_assert_int_eq(oclnn_device_select("cpu", NULL, NULL, 0), OCLNN_INVALID_ARGUMENT);
}
END_TEST

START_TEST(context_from_env_and_errors)
{
    const char *old = getenv("OCLNN_DEVICE");
    char *saved = old ? strdup(old) : NULL;
    oclnn_context *c = (oclnn_context *)1;
    setenv("OCLNN_DEVICE", "definitely-not-a-device", 1);
    ck_assert_int_eq(oclnn_context_create(&c), OCLNN_DEVICE_NOT_FOUND);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(NULL), "definitely-not-a-device"));
    if (saved)
        setenv("OCLNN_DEVICE", saved, 1);
    else
        unsetenv("OCLNN_DEVICE");
    free(saved);
    ck_assert_int_eq(oclnn_context_create(NULL), OCLNN_INVALID_ARGUMENT);
    oclnn_context_destroy(NULL); /* no-op */
    ck_assert_int_eq(oclnn_context_finish(NULL), OCLNN_INVALID_ARGUMENT);
}
END_TEST

START_TEST(wrap_application_objects)
{
    oclnn_context *own = fx_ctx();
    cl_context cc;
    cl_device_id dev;
    cl_command_queue q;
    ck_assert_int_eq(oclnn_context_get_cl(own, &cc, &dev, &q), OCLNN_SUCCESS);
    cl_uint before = 0, after = 0;
    clGetContextInfo(cc, CL_CONTEXT_REFERENCE_COUNT, sizeof before, &before, NULL);
    oclnn_context *w = NULL;
    ck_assert_int_eq(oclnn_context_wrap(cc, dev, q, &w), OCLNN_SUCCESS);
    double err = -1;
    ck_assert_msg(oclnn_self_check(w, &err) == OCLNN_SUCCESS, "%s", oclnn_last_error(w));
    ck_assert(err >= 0 && err < 1e-4);
    oclnn_context_destroy(w);
    /* Released exactly what it retained. The driver drops the references its own objects hold
     * (events of finished commands) on its worker threads, which can lag behind under valgrind
     * on a busy machine: wait up to 10 s for the count to come back. */
    for (int i = 0; i < 1000; i++) {
        clGetContextInfo(cc, CL_CONTEXT_REFERENCE_COUNT, sizeof after, &after, NULL);
        if (after == before)
            break;
        usleep(10000);
    }
    ck_assert_uint_eq(before, after);
    ck_assert_int_eq(oclnn_context_wrap(NULL, dev, q, &w), OCLNN_INVALID_ARGUMENT);
    ck_assert_ptr_null(w);
}
END_TEST

START_TEST(self_check_passes)
{
    double err = -1;
    oclnn_status s = oclnn_self_check(fx_ctx(), &err);
    ck_assert_msg(s == OCLNN_SUCCESS, "%s", oclnn_last_error(fx_ctx()));
    ck_assert(err >= 0 && err < 1e-4);
    oclnn_device_info info;
    ck_assert_int_eq(oclnn_context_device_info(fx_ctx(), &info), OCLNN_SUCCESS);
    ck_assert_uint_gt(info.compute_units, 0);
}
END_TEST

/* Every host allocation that can fail does so once; each run must fail cleanly or succeed,
 * and the sanitizer run of tools/test.sh checks nothing leaks. */
START_TEST(allocation_failures_are_clean)
{
    char n[16];
    int failures = 0;
    for (int i = 1; i <= 40; i++) {
        snprintf(n, sizeof n, "%d", i);
        setenv("OCLNN_FAIL_ALLOC", n, 1);
        oclnn_context *c = NULL;
        oclnn_status s = oclnn_context_create(&c);
        if (s == OCLNN_SUCCESS)
            s = oclnn_self_check(c, NULL);
        ck_assert_msg(s == OCLNN_SUCCESS || s == OCLNN_OUT_OF_MEMORY, "step %d: %s", i,
                      oclnn_status_string(s));
        failures += s == OCLNN_OUT_OF_MEMORY;
        oclnn_context_destroy(c);
    }
    unsetenv("OCLNN_FAIL_ALLOC");
    ck_assert_int_gt(failures, 3);
}
END_TEST

START_TEST(profile_and_trace)
{
    char path[] = "/tmp/oclnn-trace-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    setenv("OCLNN_TRACE", path, 1);
    oclnn_context *c = NULL;
    ck_assert_int_eq(oclnn_context_create(&c), OCLNN_SUCCESS);
    unsetenv("OCLNN_TRACE");
    ck_assert_int_eq(oclnn_self_check(c, NULL), OCLNN_SUCCESS);
    double ms = -1;
    ck_assert_int_eq(oclnn_profile_op_ms(c, "self_check", &ms), OCLNN_SUCCESS);
    ck_assert(ms > 0);
    char table[4096] = "";
    FILE *f = fmemopen(table, sizeof table - 1, "w");
    ck_assert_int_eq(oclnn_profile_print(c, f), OCLNN_SUCCESS);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(table, "selfcheck_axpi"));
    oclnn_context_destroy(c);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char trace[8192];
    size_t n = fread(trace, 1, sizeof trace - 1, f);
    fclose(f);
    remove(path);
    trace[n] = '\0';
    ck_assert_msg(strncmp(trace, "{\"traceEvents\":[", 16) == 0, "%s", trace);
    ck_assert_ptr_nonnull(strstr(trace, "\"name\":\"selfcheck_axpi\""));
    ck_assert_ptr_nonnull(strstr(trace, "],\"displayTimeUnit\":\"ms\"}"));
    /* a context without OCLNN_PROFILE records nothing */
    ck_assert_int_eq(oclnn_context_create(&c), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_self_check(c, NULL), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_profile_op_ms(c, "self_check", &ms), OCLNN_SUCCESS);
    ck_assert(ms == 0 || getenv("OCLNN_PROFILE"));
    oclnn_context_destroy(c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("context");
    TCase *tc = tcase_create("context");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, status_strings_are_distinct);
    tcase_add_test(tc, select_by_index_type_and_name);
    tcase_add_test(tc, select_default_prefers_gpu);
    tcase_add_test(tc, select_bad_values);
    tcase_add_test(tc, context_from_env_and_errors);
    tcase_add_test(tc, wrap_application_objects);
    tcase_add_test(tc, self_check_passes);
    tcase_add_test(tc, allocation_failures_are_clean);
    tcase_add_test(tc, profile_and_trace);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_main(suite());
}
