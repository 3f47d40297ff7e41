/* hello.c - the smallest program using an installed oclnn: builds with
 *   cc hello.c $(pkg-config --cflags --libs oclnn)
 * and runs the library's self-check on the device OCLNN_DEVICE selects. */
#include <oclnn.h>

#include <stdio.h>

int main(void)
{
    oclnn_context *ctx = NULL;
    if (oclnn_context_create(&ctx) != OCLNN_SUCCESS) {
        fprintf(stderr, "oclnn: %s\n", oclnn_last_error(NULL));
        return 1;
    }
    oclnn_device_info info;
    oclnn_context_device_info(ctx, &info);
    double err = 0;
    oclnn_status s = oclnn_self_check(ctx, &err);
    printf("%s: self-check %s (max error %g)\n", info.name, s == OCLNN_SUCCESS ? "PASS" : "FAIL",
           err);
    if (s != OCLNN_SUCCESS)
        fprintf(stderr, "oclnn: %s\n", oclnn_last_error(ctx));
    oclnn_context_destroy(ctx);
    return s == OCLNN_SUCCESS ? 0 : 1;
}
