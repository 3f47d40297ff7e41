/* test_cache.c - the program cache: memory hits, disk hit/miss, corrupt and truncated entries,
 * disabled and unwritable cache directories, build failures that point at cl/<file>:<line>, and
 * OCLNN_KERNEL_DIR. Tests internals: includes src/internal.h for oclnn__kernel. */
#include "fixture.h"
#include "internal.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[256];

static void make_base(void)
{
    if (base[0])
        return;
    const char *tmp = getenv("TMPDIR");
    snprintf(base, sizeof base, "%s/oclnn-cache-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(base));
}

/* A new context with OCLNN_CACHE_DIR set to dir; builds the self-check kernel once. */
static oclnn_cache_stats run_with_cache(const char *dir, const char *options)
{
    setenv("OCLNN_CACHE_DIR", dir, 1);
    oclnn_context *c = NULL;
    ck_assert_msg(oclnn_context_create(&c) == OCLNN_SUCCESS, "%s", oclnn_last_error(NULL));
    cl_kernel k;
    oclnn_status s = oclnn__kernel(c, "selfcheck.cl", options, "selfcheck_axpi", &k);
    ck_assert_msg(s == OCLNN_SUCCESS, "%s", oclnn_last_error(c));
    s = oclnn__kernel(c, "selfcheck.cl", options, "selfcheck_axpi", &k);
    ck_assert_int_eq(s, OCLNN_SUCCESS);
    ck_assert_msg(oclnn_self_check(c, NULL) == OCLNN_SUCCESS, "%s", oclnn_last_error(c));
    oclnn_cache_stats st;
    oclnn_context_cache_stats(c, &st);
    oclnn_context_destroy(c);
    return st;
}

/* The one entry file in dir (fails unless there is exactly one). */
static void only_entry(const char *dir, char *path, size_t size)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".bin") && !strstr(e->d_name, ".tmp")) {
            snprintf(path, size, "%s/%s", dir, e->d_name);
            n++;
        }
    closedir(d);
    ck_assert_int_eq(n, 1);
}

START_TEST(disk_hit_miss_and_corruption)
{
    make_base();
    char dir[512], entry[1024];
    snprintf(dir, sizeof dir, "%s/hit", base);
    const char *opts = "-DSCALE=5.0f";
    oclnn_cache_stats st = run_with_cache(dir, opts);
    ck_assert_uint_eq(st.disk_misses, 2); /* this program and the self-check's */
    ck_assert_uint_eq(st.builds, 2);
    ck_assert_uint_eq(st.disk_writes, 2);
    ck_assert_uint_ge(st.memory_hits, 1);

    st = run_with_cache(dir, opts);
    ck_assert_uint_eq(st.disk_hits, 2);
    ck_assert_uint_eq(st.builds, 0);

    /* truncate the entry of `opts` only: use a fresh directory holding just it */
    snprintf(dir, sizeof dir, "%s/corrupt", base);
    setenv("OCLNN_CACHE_DIR", dir, 1);
    oclnn_context *c = NULL;
    ck_assert_int_eq(oclnn_context_create(&c), OCLNN_SUCCESS);
    cl_kernel k;
    ck_assert_int_eq(oclnn__kernel(c, "selfcheck.cl", opts, "selfcheck_axpi", &k), OCLNN_SUCCESS);
    oclnn_context_destroy(c);
    only_entry(dir, entry, sizeof entry);
    struct stat sb;
    ck_assert_int_eq(stat(entry, &sb), 0);
    ck_assert_int_eq(truncate(entry, sb.st_size / 2), 0);
    st = run_with_cache(dir, opts);
    ck_assert_uint_eq(st.disk_corrupt, 1);
    ck_assert_uint_eq(st.disk_hits, 0);
    ck_assert_uint_eq(st.builds, 2);

    /* flip one byte in the middle of the (rewritten) entry: the checksum refuses it */
    ck_assert_int_eq(stat(entry, &sb), 0);
    ck_assert_int_eq(sb.st_size > 64, 1);
    FILE *f = fopen(entry, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, sb.st_size - 20, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, sb.st_size - 20, SEEK_SET);
    fputc(ch ^ 0x5a, f);
    fclose(f);
    st = run_with_cache(dir, opts);
    ck_assert_uint_ge(st.disk_corrupt, 1);
    ck_assert_uint_eq(st.disk_hits, 1); /* the self-check's entry is still good */

    /* garbage of the right name and size */
    f = fopen(entry, "wb");
    ck_assert_ptr_nonnull(f);
    for (long i = 0; i < sb.st_size; i++)
        fputc((int)(i * 7), f);
    fclose(f);
    st = run_with_cache(dir, opts);
    ck_assert_uint_ge(st.disk_corrupt, 1);
}
END_TEST

START_TEST(disabled_and_unwritable)
{
    make_base();
    oclnn_cache_stats st = run_with_cache("off", NULL);
    ck_assert_uint_eq(st.disk_writes, 0);
    ck_assert_uint_eq(st.disk_hits + st.disk_misses + st.disk_corrupt, 0);
    ck_assert_uint_eq(st.builds, 2); /* this program and the self-check's */
    setenv("OCLNN_CACHE_DIR", "off", 1);
    oclnn_context *c = NULL;
    ck_assert_int_eq(oclnn_context_create(&c), OCLNN_SUCCESS);
    const char *dir = NULL;
    oclnn_context_cache_dir(c, &dir);
    ck_assert_str_eq(dir, "off");
    oclnn_context_destroy(c);

    /* a directory below a regular file can never be created, even by root */
    char file[512], below[600];
    snprintf(file, sizeof file, "%s/a-file", base);
    FILE *f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    snprintf(below, sizeof below, "%s/cache", file);
    st = run_with_cache(below, NULL);
    ck_assert_uint_eq(st.disk_writes, 0);
    ck_assert_uint_eq(st.builds, 2);
}
END_TEST

START_TEST(xdg_and_home_defaults)
{
    make_base();
    unsetenv("OCLNN_CACHE_DIR");
    char xdg[512];
    snprintf(xdg, sizeof xdg, "%s/xdg", base);
    setenv("XDG_CACHE_HOME", xdg, 1);
    oclnn_context *c = NULL;
    ck_assert_int_eq(oclnn_context_create(&c), OCLNN_SUCCESS);
    const char *dir = NULL;
    oclnn_context_cache_dir(c, &dir);
    char want[600];
    snprintf(want, sizeof want, "%s/oclnn", xdg);
    ck_assert_str_eq(dir, want);
    oclnn_context_destroy(c);
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", base, 1);
    ck_assert_int_eq(oclnn_context_create(&c), OCLNN_SUCCESS);
    oclnn_context_cache_dir(c, &dir);
    snprintf(want, sizeof want, "%s/.cache/oclnn", base);
    ck_assert_str_eq(dir, want);
    oclnn_context_destroy(c);
}
END_TEST

START_TEST(build_failure_points_at_source_line)
{
    setenv("OCLNN_CACHE_DIR", "off", 1);
    oclnn_context *c = NULL;
    ck_assert_int_eq(oclnn_context_create(&c), OCLNN_SUCCESS);
    cl_kernel k = (cl_kernel)1;
    oclnn_status s = oclnn__kernel(c, "selfcheck.cl", "-DSCALE=(1.0f+)", "selfcheck_axpi", &k);
    ck_assert_int_eq(s, OCLNN_BUILD_FAILURE);
    ck_assert_ptr_null(k);
    const char *msg = oclnn_last_error(c);
    ck_assert_msg(strstr(msg, "cl/selfcheck.cl:") != NULL, "log names the file: %s", msg);
    ck_assert_msg(strstr(msg, "-DSCALE=(1.0f+)") != NULL, "message names the options: %s", msg);
    /* the context stays usable */
    ck_assert_int_eq(oclnn_self_check(c, NULL), OCLNN_SUCCESS);
    s = oclnn__kernel(c, "no_such_file.cl", NULL, "x", &k);
    ck_assert_int_eq(s, OCLNN_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(c), "no_such_file.cl"));
    oclnn_context_destroy(c);
}
END_TEST

START_TEST(kernel_dir_reads_sources_from_disk)
{
    make_base();
    char kdir[512], path[600];
    snprintf(kdir, sizeof kdir, "%s/kernels", base);
    mkdir(kdir, 0755);
    snprintf(path, sizeof path, "%s/selfcheck.cl", kdir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("// an edited copy with a deliberate error on line 2\n"
          "__kernel void selfcheck_axpi(__global float *x) { x[0] = undefined_name; }\n",
          f);
    fclose(f);
    char cdir[600];
    snprintf(cdir, sizeof cdir, "%s/kernel-dir-cache", base);
    setenv("OCLNN_CACHE_DIR", cdir, 1);
    setenv("OCLNN_KERNEL_DIR", kdir, 1);
    oclnn_context *c = NULL;
    ck_assert_int_eq(oclnn_context_create(&c), OCLNN_SUCCESS);
    oclnn_status s = oclnn_self_check(c, NULL);
    unsetenv("OCLNN_KERNEL_DIR");
    oclnn_cache_stats st;
    oclnn_context_cache_stats(c, &st);
    /* edited sources (and the headers they include) never go through the disk cache */
    ck_assert_uint_eq(st.disk_writes + st.disk_hits + st.disk_misses, 0);
    ck_assert_int_eq(s, OCLNN_BUILD_FAILURE);
    char want[700];
    snprintf(want, sizeof want, "%s:2", path);
    ck_assert_msg(strstr(oclnn_last_error(c), want) != NULL, "log names %s: %s", want,
                  oclnn_last_error(c));
    oclnn_context_destroy(c);
}
END_TEST

START_TEST(parallel_warmup)
{
    make_base();
    char dir[512];
    snprintf(dir, sizeof dir, "%s/warmup", base);
    setenv("OCLNN_CACHE_DIR", dir, 1);
    oclnn_context *c = NULL;
    ck_assert_int_eq(oclnn_context_create(&c), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_context_warmup_end(c), OCLNN_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(c), "no warm-up is open"));
    ck_assert_int_eq(oclnn_context_warmup_begin(c, -1, NULL), OCLNN_INVALID_ARGUMENT);
    char lines[4096] = "";
    FILE *f = fmemopen(lines, sizeof lines - 1, "w");
    ck_assert_int_eq(oclnn_context_warmup_begin(c, 2, f), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_context_warmup_begin(c, 2, NULL), OCLNN_INVALID_ARGUMENT);
    char opts[64];
    cl_kernel k = (cl_kernel)1;
    for (int i = 0; i < 6; i++) {
        snprintf(opts, sizeof opts, "-DSCALE=%d.0f", i + 10);
        ck_assert_int_eq(oclnn__kernel(c, "selfcheck.cl", opts, "selfcheck_axpi", &k),
                         OCLNN_SUCCESS);
        ck_assert_ptr_null(k); /* recorded and queued for the build threads */
        ck_assert_int_eq(oclnn__kernel(c, "selfcheck.cl", opts, "selfcheck_axpi", &k),
                         OCLNN_SUCCESS); /* a repeat is recorded once */
    }
    ck_assert_int_eq(oclnn_context_warmup_end(c), OCLNN_SUCCESS);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(lines, "warm-up: 6 programs built"));
    oclnn_cache_stats st;
    oclnn_context_cache_stats(c, &st);
    ck_assert_uint_eq(st.builds, 6);
    ck_assert_uint_eq(st.disk_writes, 6);
    for (int i = 0; i < 6; i++) {
        snprintf(opts, sizeof opts, "-DSCALE=%d.0f", i + 10);
        ck_assert_int_eq(oclnn__kernel(c, "selfcheck.cl", opts, "selfcheck_axpi", &k),
                         OCLNN_SUCCESS);
        ck_assert_ptr_nonnull(k);
    }
    oclnn_context_cache_stats(c, &st);
    ck_assert_uint_eq(st.builds, 6);
    ck_assert_uint_eq(st.memory_hits, 6);
    /* a program that fails to build reports its log; the good ones are kept */
    ck_assert_int_eq(oclnn_context_warmup_begin(c, 0, NULL), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn__kernel(c, "selfcheck.cl", "-DSCALE=(", "selfcheck_axpi", &k),
                     OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn__kernel(c, "selfcheck.cl", "-DSCALE=7.0f", "selfcheck_axpi", &k),
                     OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_context_warmup_end(c), OCLNN_BUILD_FAILURE);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(c), "cl/selfcheck.cl:"));
    ck_assert_int_eq(oclnn__kernel(c, "selfcheck.cl", "-DSCALE=7.0f", "selfcheck_axpi", &k),
                     OCLNN_SUCCESS);
    oclnn_context_cache_stats(c, &st);
    ck_assert_uint_eq(st.builds, 8);
    ck_assert_int_eq(oclnn_self_check(c, NULL), OCLNN_SUCCESS);
    oclnn_context_destroy(c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cache");
    TCase *tc = tcase_create("cache");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, disk_hit_miss_and_corruption);
    tcase_add_test(tc, disabled_and_unwritable);
    tcase_add_test(tc, xdg_and_home_defaults);
    tcase_add_test(tc, build_failure_points_at_source_line);
    tcase_add_test(tc, kernel_dir_reads_sources_from_disk);
    tcase_add_test(tc, parallel_warmup);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_main(suite());
}
