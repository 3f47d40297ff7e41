/* tune_file.c - the plain-text tuning file of a device and driver, beside the kernel cache: the
 * CLBlast GEMM parameters and the tuned convolution entries, read at context creation and written
 * by the tuners (through a temporary file and a rename). */
#include "tune.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TUNE_MAGIC "# oclnn tuning file v2"
/* Files of the first version hold GEMM lines only; they are read as they are. */
#define TUNE_MAGIC_V1 "# oclnn tuning file v1"

void oclnn__tune_file_path(const char *cache_dir, const oclnn_device_info *info, char *path,
                           size_t size)
{
    char key[1024];
    snprintf(key, sizeof key, "%s|%s|%s|%s|%s|%s", info->platform_name, info->platform_version,
             info->vendor, info->name, info->driver_version, info->device_version);
    snprintf(path, size, "%s/tuning-%016llx.txt", cache_dir,
             (unsigned long long)oclnn__hash(key, strlen(key), 0));
}

/* Parses "NAME=value" words of one GEMM kernel line into v; every parameter exactly once. */
static bool parse_gemm_line(char *line, oclnn__tk *kernel, size_t *v, char *why, size_t why_size)
{
    char *save = NULL;
    char *word = strtok_r(line, " \t", &save);
    int k = -1;
    for (int i = 0; i < OCLNN__TK_COUNT && word; i++)
        if (strcmp(word, oclnn__tune_kernels[i].name) == 0)
            k = i;
    if (k < 0)
        return oclnn__tune_why(why, why_size, "unknown kernel \"%s\"", word ? word : "");
    const oclnn__tune_kernel *tk = &oclnn__tune_kernels[k];
    bool seen[OCLNN__TUNE_MAX_PARAMS] = {false};
    while ((word = strtok_r(NULL, " \t", &save))) {
        char *eq = strchr(word, '=');
        if (!eq)
            return oclnn__tune_why(why, why_size, "\"%s\" is not NAME=value", word);
        *eq = '\0';
        size_t i = 0;
        while (i < tk->nparams && strcmp(word, tk->params[i]) != 0)
            i++;
        if (i == tk->nparams)
            return oclnn__tune_why(why, why_size, "%s has no parameter %s", tk->name, word);
        if (seen[i])
            return oclnn__tune_why(why, why_size, "%s given twice", word);
        char *end;
        errno = 0;
        unsigned long long val = strtoull(eq + 1, &end, 10);
        if (eq[1] < '0' || eq[1] > '9' || *end || errno || val > 1000000)
            return oclnn__tune_why(why, why_size, "%s=%s is not a number in [0, 1000000]", word,
                                   eq + 1);
        seen[i] = true;
        v[i] = (size_t)val;
    }
    for (size_t i = 0; i < tk->nparams; i++)
        if (!seen[i])
            return oclnn__tune_why(why, why_size, "%s is missing %s", tk->name, tk->params[i]);
    *kernel = (oclnn__tk)k;
    return true;
}

/* One line after the header (comments and blank lines already skipped) into got / conv. */
static bool parse_line(char *line, const oclnn_device_info *info, oclnn__gemm_params *got,
                       oclnn__conv_table *conv, bool *oom, char *msg, size_t size)
{
    if (strncmp(line, "conv2d ", 7) == 0) {
        oclnn__conv_entry e;
        if (!oclnn__conv_entry_parse(line + 7, &e, msg, size) ||
            !oclnn__conv_entry_valid(&e, info, msg, size))
            return false;
        if (oclnn__conv_table_find(conv, e.pass, e.key))
            return oclnn__tune_why(msg, size, "conv2d %s %s given twice",
                                   oclnn__conv_pass_str(e.pass), e.key);
        if (oclnn__conv_table_put(NULL, conv, &e) != OCLNN_SUCCESS) {
            *oom = true;
            return oclnn__tune_why(msg, size, "out of host memory");
        }
        return true;
    }
    oclnn__tk k = OCLNN__TK_XGEMM;
    size_t v[OCLNN__TUNE_MAX_PARAMS] = {0};
    if (!parse_gemm_line(line, &k, v, msg, size))
        return false;
    if (got->set[k])
        return oclnn__tune_why(msg, size, "%s given twice", oclnn__tune_kernels[k].name);
    if (!oclnn__tune_valid(k, v, info, msg, size))
        return false;
    got->set[k] = true;
    memcpy(got->v[k], v, sizeof v);
    return true;
}

oclnn_status oclnn__tune_file_read(const char *path, const oclnn_device_info *info,
                                   oclnn__gemm_params *p, oclnn__conv_table *conv, char *why,
                                   size_t why_size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, why_size, "%s: %s", path, strerror(errno));
        return OCLNN_IO_ERROR;
    }
    oclnn__gemm_params got;
    memset(&got, 0, sizeof got);
    oclnn__conv_table entries = {NULL, 0, 0};
    char line[1024], msg[512];
    int lineno = 0;
    bool ok = true, oom = false;
    while (ok && fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            ok = oclnn__tune_why(msg, sizeof msg, "line too long");
            break;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' '))
            line[--len] = '\0';
        if (lineno == 1) {
            if (strcmp(line, TUNE_MAGIC) != 0 && strcmp(line, TUNE_MAGIC_V1) != 0)
                ok = oclnn__tune_why(msg, sizeof msg, "first line is not \"%s\"", TUNE_MAGIC);
            continue;
        }
        if (len == 0 || line[0] == '#')
            continue;
        ok = parse_line(line, info, &got, &entries, &oom, msg, sizeof msg);
    }
    bool read_error = ferror(f) != 0;
    fclose(f);
    if (ok && read_error)
        ok = oclnn__tune_why(msg, sizeof msg, "read error");
    if (ok && lineno == 0)
        ok = oclnn__tune_why(msg, sizeof msg, "empty file");
    if (!ok) {
        oclnn__conv_table_free(&entries);
        snprintf(why, why_size, "%s line %d: %s", path, lineno, msg);
        return oom ? OCLNN_OUT_OF_MEMORY : OCLNN_CORRUPT_DATA;
    }
    for (int k = 0; k < OCLNN__TK_COUNT; k++)
        if (got.set[k]) {
            p->set[k] = true;
            memcpy(p->v[k], got.v[k], sizeof got.v[k]);
        }
    if (conv) {
        oclnn__conv_table_free(conv);
        *conv = entries;
    } else {
        oclnn__conv_table_free(&entries);
    }
    return OCLNN_SUCCESS;
}

static void mkdir_p(const char *dir)
{
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *s = tmp + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(tmp, 0755);
            *s = '/';
        }
    mkdir(tmp, 0755);
}

oclnn_status oclnn__tune_file_write(oclnn_context *ctx, const char *path,
                                    const oclnn__gemm_params *p, const oclnn__conv_table *conv,
                                    const char *comment)
{
    /* What the tuner does not replace comes from the file as it is (if it is valid). */
    oclnn__gemm_params old_gemm;
    memset(&old_gemm, 0, sizeof old_gemm);
    oclnn__conv_table old_conv = {NULL, 0, 0};
    char why[1024];
    if (!p || !conv)
        oclnn__tune_file_read(path, &ctx->info, &old_gemm, &old_conv, why, sizeof why);
    if (!p)
        p = &old_gemm;
    if (!conv)
        conv = &old_conv;

    char dir[1200], tmp[1300];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        mkdir_p(dir);
    }
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        oclnn__conv_table_free(&old_conv);
        return oclnn__fail(ctx, OCLNN_IO_ERROR, "tune: cannot write %s: %s", tmp, strerror(errno));
    }
    const oclnn_device_info *d = &ctx->info;
    fprintf(f, "%s\n# device: %s\n# platform: %s (%s)\n# driver: %s\n", TUNE_MAGIC, d->name,
            d->platform_name, d->platform_version, d->driver_version);
    if (comment)
        fputs(comment, f);
    for (int k = 0; k < OCLNN__TK_COUNT; k++) {
        if (!p->set[k])
            continue;
        const oclnn__tune_kernel *tk = &oclnn__tune_kernels[k];
        fputs(tk->name, f);
        for (size_t i = 0; i < tk->nparams; i++)
            fprintf(f, " %s=%zu", tk->params[i], p->v[k][i]);
        fputc('\n', f);
    }
    for (size_t i = 0; i < conv->n; i++) {
        char line[512];
        oclnn__conv_entry_format(&conv->e[i], line, sizeof line);
        fprintf(f, "%s\n", line);
    }
    oclnn__conv_table_free(&old_conv);
    bool ok = fflush(f) == 0 && !ferror(f);
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return oclnn__fail(ctx, OCLNN_IO_ERROR, "tune: cannot write %s: %s", path, strerror(e));
    }
    return OCLNN_SUCCESS;
}
