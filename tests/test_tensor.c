/* test_tensor.c - descriptors, create/wrap/view/destroy, blocking and non-blocking transfers,
 * labels, fill, u8 tensors, and the size checks where a buffer meets a descriptor. */
#include "fixture.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

START_TEST(descriptors)
{
    oclnn_tensor_desc d = oclnn_tensor_desc_4d(2, 3, 4, 5);
    ck_assert_uint_eq(oclnn_tensor_desc_count(&d), 120);
    d = oclnn_tensor_desc_2d(7, 9);
    ck_assert_uint_eq(oclnn_tensor_desc_count(&d), 63);
    d = oclnn_tensor_desc_1d(11);
    ck_assert_uint_eq(oclnn_tensor_desc_count(&d), 11);
    d = oclnn_tensor_desc_4d(2, 0, 4, 5);
    ck_assert_uint_eq(oclnn_tensor_desc_count(&d), 0);
    d.ndim = 3;
    ck_assert_uint_eq(oclnn_tensor_desc_count(&d), 0);
    ck_assert_uint_eq(oclnn_tensor_desc_count(NULL), 0);
}
END_TEST

START_TEST(round_trip_blocking_and_not)
{
    oclnn_context *c = fx_ctx();
    oclnn_tensor_desc d = oclnn_tensor_desc_4d(3, 5, 7, 11);
    size_t n = oclnn_tensor_desc_count(&d);
    float *a = fx_alloc(n), *b = fx_alloc(n);
    fx_fill(a, n, 1, -3, 3);
    oclnn_tensor *t = NULL;
    ck_assert_int_eq(oclnn_tensor_create(c, &d, &t), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_upload(c, t, a, n, 0), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_download(c, t, b, n, 0), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_context_finish(c), OCLNN_SUCCESS);
    ck_assert_int_eq(memcmp(a, b, n * sizeof(float)), 0);
    ck_assert_int_eq(oclnn_tensor_fill(c, t, 2.5f), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_download(c, t, b, n, 1), OCLNN_SUCCESS);
    for (size_t i = 0; i < n; i++)
        ck_assert_float_eq(b[i], 2.5f);
    oclnn_tensor_desc got = oclnn_tensor_get_desc(t);
    ck_assert_int_eq(got.ndim, 4);
    ck_assert_int_eq(got.dims[3], 11);
    oclnn_tensor_destroy(t);
    oclnn_tensor_destroy(NULL);
    free(a);
    free(b);
}
END_TEST

START_TEST(wrap_and_view_with_offsets)
{
    oclnn_context *c = fx_ctx();
    cl_context cc;
    oclnn_context_get_cl(c, &cc, NULL, NULL);
    cl_int err;
    cl_mem mem = clCreateBuffer(cc, CL_MEM_READ_WRITE, 100 * sizeof(float), NULL, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    float host[100];
    for (int i = 0; i < 100; i++)
        host[i] = (float)i;
    oclnn_tensor_desc all = oclnn_tensor_desc_1d(100);
    oclnn_tensor *whole = NULL, *part = NULL, *view = NULL;
    ck_assert_int_eq(oclnn_tensor_wrap(c, &all, mem, 0, &whole), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_upload(c, whole, host, 100, 1), OCLNN_SUCCESS);
    oclnn_tensor_desc d = oclnn_tensor_desc_2d(4, 5);
    ck_assert_int_eq(oclnn_tensor_wrap(c, &d, mem, 30, &part), OCLNN_SUCCESS);
    float got[20];
    ck_assert_int_eq(oclnn_tensor_download(c, part, got, 20, 1), OCLNN_SUCCESS);
    for (int i = 0; i < 20; i++)
        ck_assert_float_eq(got[i], 30.0f + i);
    oclnn_tensor_desc v = oclnn_tensor_desc_4d(1, 2, 2, 2);
    ck_assert_int_eq(oclnn_tensor_view(c, part, &v, 12, &view), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_download(c, view, got, 8, 1), OCLNN_SUCCESS);
    ck_assert_float_eq(got[0], 42.0f);
    cl_mem m2;
    size_t off;
    ck_assert_int_eq(oclnn_tensor_get_mem(view, &m2, &off), OCLNN_SUCCESS);
    ck_assert_ptr_eq(m2, mem);
    ck_assert_uint_eq(off, 42);
    /* too small / out of range */
    oclnn_tensor *bad = (oclnn_tensor *)1;
    fx_assert_status(oclnn_tensor_wrap(c, &d, mem, 81, &bad), OCLNN_INVALID_ARGUMENT,
                     "too small");
    ck_assert_ptr_null(bad);
    fx_assert_status(oclnn_tensor_view(c, part, &v, 13, &bad), OCLNN_INVALID_ARGUMENT,
                     "does not fit");
    fx_assert_status(oclnn_tensor_wrap(c, &d, NULL, 0, &bad), OCLNN_INVALID_ARGUMENT,
                     "mem is NULL");
    clReleaseMemObject(mem); /* the tensors keep it alive */
    ck_assert_int_eq(oclnn_tensor_download(c, whole, host, 100, 1), OCLNN_SUCCESS);
    oclnn_tensor_destroy(view);
    oclnn_tensor_destroy(part);
    oclnn_tensor_destroy(whole);
}
END_TEST

START_TEST(bad_arguments)
{
    oclnn_context *c = fx_ctx();
    oclnn_tensor *t = (oclnn_tensor *)1;
    oclnn_tensor_desc d = oclnn_tensor_desc_4d(2, 0, 3, 3);
    fx_assert_status(oclnn_tensor_create(c, &d, &t), OCLNN_INVALID_ARGUMENT, "dims[1] is 0");
    ck_assert_ptr_null(t);
    d = oclnn_tensor_desc_4d(2, 3, 3, 3);
    d.ndim = 3;
    fx_assert_status(oclnn_tensor_create(c, &d, &t), OCLNN_INVALID_ARGUMENT, "ndim 3");
    d.ndim = 4;
    d.dtype = (oclnn_dtype)7;
    fx_assert_status(oclnn_tensor_create(c, &d, &t), OCLNN_INVALID_ARGUMENT, "dtype 7");
    d = oclnn_tensor_desc_4d(1 << 20, 1 << 20, 1 << 20, 1 << 20);
    fx_assert_status(oclnn_tensor_create(c, &d, &t), OCLNN_INVALID_ARGUMENT, "overflow");
    d = oclnn_tensor_desc_2d(4, 5);
    ck_assert_int_eq(oclnn_tensor_create(c, &d, &t), OCLNN_SUCCESS);
    float buf[21];
    fx_assert_status(oclnn_tensor_upload(c, t, buf, 21, 1), OCLNN_INVALID_ARGUMENT,
                     "count 21 does not match the tensor [4][5] (20 elements)");
    fx_assert_status(oclnn_tensor_download(c, t, NULL, 20, 1), OCLNN_INVALID_ARGUMENT,
                     "host pointer is NULL");
    int32_t labels[20] = {0};
    fx_assert_status(oclnn_tensor_upload_labels(c, t, labels, 20, 10, 1), OCLNN_INVALID_ARGUMENT,
                     "expected OCLNN_I32");
    oclnn_tensor_destroy(t);
}
END_TEST

START_TEST(labels_are_validated)
{
    oclnn_context *c = fx_ctx();
    oclnn_tensor_desc d = oclnn_tensor_desc_1d(6);
    d.dtype = OCLNN_I32;
    oclnn_tensor *t = NULL;
    ck_assert_int_eq(oclnn_tensor_create(c, &d, &t), OCLNN_SUCCESS);
    int32_t good[6] = {0, 1, 9, 3, 4, 5}, bad[6] = {0, 1, 2, 10, 4, 5}, got[6];
    ck_assert_int_eq(oclnn_tensor_fill(c, t, 7), OCLNN_SUCCESS);
    fx_assert_status(oclnn_tensor_upload_labels(c, t, bad, 6, 10, 1), OCLNN_INVALID_ARGUMENT,
                     "labels[3] = 10 is outside [0, 10)");
    ck_assert_int_eq(oclnn_tensor_download(c, t, got, 6, 1), OCLNN_SUCCESS);
    ck_assert_int_eq(got[3], 7); /* nothing was uploaded */
    ck_assert_int_eq(oclnn_tensor_upload_labels(c, t, good, 6, 10, 1), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_download(c, t, got, 6, 1), OCLNN_SUCCESS);
    ck_assert_int_eq(memcmp(got, good, sizeof good), 0);
    oclnn_tensor_destroy(t);
}
END_TEST

/* u8 tensors (max pooling's arg-max): a byte per element through fill, upload, views and
 * download; fill takes 0..255 only. */
START_TEST(u8_tensors)
{
    oclnn_context *c = fx_ctx();
    oclnn_tensor_desc d = oclnn_tensor_desc_4d(1, 2, 3, 5);
    d.dtype = OCLNN_U8;
    oclnn_tensor *t = NULL, *v = NULL;
    ck_assert_int_eq(oclnn_tensor_create(c, &d, &t), OCLNN_SUCCESS);
    uint8_t got[30], up[30];
    ck_assert_int_eq(oclnn_tensor_fill(c, t, 200), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_download(c, t, got, 30, 1), OCLNN_SUCCESS);
    for (int i = 0; i < 30; i++)
        ck_assert_int_eq(got[i], 200);
    fx_assert_status(oclnn_tensor_fill(c, t, 256), OCLNN_INVALID_ARGUMENT,
                     "value 256 does not fit a u8 tensor (0 to 255)");
    fx_assert_status(oclnn_tensor_fill(c, t, NAN), OCLNN_INVALID_ARGUMENT, "does not fit");
    fx_assert_status(oclnn_tensor_fill(c, t, -1), OCLNN_INVALID_ARGUMENT, "does not fit");
    for (int i = 0; i < 30; i++)
        up[i] = (uint8_t)(7 * i + 3);
    ck_assert_int_eq(oclnn_tensor_upload(c, t, up, 30, 1), OCLNN_SUCCESS);
    oclnn_tensor_desc vd = oclnn_tensor_desc_1d(4);
    vd.dtype = OCLNN_U8;
    ck_assert_int_eq(oclnn_tensor_view(c, t, &vd, 26, &v), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_fill(c, v, 1), OCLNN_SUCCESS);
    ck_assert_int_eq(oclnn_tensor_download(c, t, got, 30, 1), OCLNN_SUCCESS);
    for (int i = 0; i < 30; i++)
        ck_assert_int_eq(got[i], i >= 26 ? 1 : up[i]);
    vd.dims[0] = 5;
    oclnn_tensor_destroy(v);
    v = NULL;
    fx_assert_status(oclnn_tensor_view(c, t, &vd, 26, &v), OCLNN_INVALID_ARGUMENT,
                     "[5] at offset 26 does not fit in base [1][2][3][5] (30 elements)");
    ck_assert_ptr_null(v);
    oclnn_tensor_destroy(t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tensor");
    TCase *tc = tcase_create("tensor");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, descriptors);
    tcase_add_test(tc, round_trip_blocking_and_not);
    tcase_add_test(tc, wrap_and_view_with_offsets);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, labels_are_validated);
    tcase_add_test(tc, u8_tensors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_main(suite());
}
