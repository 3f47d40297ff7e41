/* device.c - enumerating OpenCL platforms and devices and choosing one with the OCLNN_DEVICE
 * selector grammar (see oclnn_device_select in oclnn.h). */
#include "internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_PLATFORMS 16
#define MAX_DEVICES 64

typedef struct found_device {
    oclnn_device_info info;
    cl_device_id id;
} found_device;

static void get_str(cl_device_id d, cl_device_info what, char *buf, size_t size)
{
    buf[0] = '\0';
    if (clGetDeviceInfo(d, what, size, buf, NULL) != CL_SUCCESS)
        buf[0] = '\0';
    buf[size - 1] = '\0';
}

void oclnn__device_query(cl_platform_id p, cl_device_id d, int pi, int di, oclnn_device_info *info)
{
    memset(info, 0, sizeof *info);
    info->platform_index = pi;
    info->device_index = di;
    if (p) {
        clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof info->platform_name, info->platform_name,
                          NULL);
        clGetPlatformInfo(p, CL_PLATFORM_VERSION, sizeof info->platform_version,
                          info->platform_version, NULL);
        clGetPlatformInfo(p, CL_PLATFORM_VENDOR, sizeof info->platform_vendor,
                          info->platform_vendor, NULL);
    }
    get_str(d, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
    get_str(d, CL_DEVICE_NAME, info->name, sizeof info->name);
    get_str(d, CL_DRIVER_VERSION, info->driver_version, sizeof info->driver_version);
    get_str(d, CL_DEVICE_VERSION, info->device_version, sizeof info->device_version);
    get_str(d, CL_DEVICE_OPENCL_C_VERSION, info->opencl_c_version, sizeof info->opencl_c_version);
    cl_uint cu = 0;
    cl_ulong gm = 0, lm = 0, ma = 0;
    cl_device_local_mem_type lt = CL_LOCAL;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof info->type, &info->type, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL);
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof gm, &gm, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof ma, &ma, NULL);
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof lm, &lm, NULL);
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_TYPE, sizeof lt, &lt, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof info->max_work_group_size,
                    &info->max_work_group_size, NULL);
    cl_uint vw = 0;
    clGetDeviceInfo(d, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT, sizeof vw, &vw, NULL);
    info->native_vector_width_float = vw;
    info->compute_units = cu;
    info->global_mem_bytes = gm;
    info->max_alloc_bytes = ma;
    info->local_mem_bytes = lm;
    info->local_mem_is_global = lt == CL_GLOBAL;
    size_t ext_size = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &ext_size) == CL_SUCCESS && ext_size) {
        char *ext = malloc(ext_size + 1);
        if (ext && clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, ext_size, ext, NULL) == CL_SUCCESS) {
            ext[ext_size] = '\0';
            info->has_fp16 = strstr(ext, "cl_khr_fp16") != NULL;
            info->has_fp64 = strstr(ext, "cl_khr_fp64") != NULL;
        }
        free(ext);
    }
    cl_device_fp_config dc = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof dc, &dc, NULL) == CL_SUCCESS && dc)
        info->has_fp64 = 1;
}

/* Fills `out` with every device; platform failures are described in `skipped`. */
static oclnn_status enumerate(found_device *out, size_t cap, size_t *count, char *skipped,
                              size_t skipped_size)
{
    cl_platform_id plats[MAX_PLATFORMS];
    cl_uint np = 0;
    *count = 0;
    if (skipped && skipped_size)
        skipped[0] = '\0';
    cl_int err = clGetPlatformIDs(MAX_PLATFORMS, plats, &np);
    if (err != CL_SUCCESS || np == 0)
        return oclnn__fail(NULL, OCLNN_DEVICE_NOT_FOUND,
                           "device: no OpenCL platform found (clGetPlatformIDs: %s); install an "
                           "ICD such as pocl-opencl-icd",
                           oclnn__cl_error_name(err == CL_SUCCESS ? -1001 : err));
    if (np > MAX_PLATFORMS)
        np = MAX_PLATFORMS;
    for (cl_uint p = 0; p < np; p++) {
        cl_device_id ids[MAX_DEVICES];
        cl_uint nd = 0;
        err = clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, MAX_DEVICES, ids, &nd);
        if (err != CL_SUCCESS) {
            if (skipped && skipped_size) {
                char name[128] = "";
                clGetPlatformInfo(plats[p], CL_PLATFORM_NAME, sizeof name, name, NULL);
                name[sizeof name - 1] = '\0';
                size_t len = strlen(skipped);
                snprintf(skipped + len, skipped_size - len,
                         "platform %u (%s) skipped: clGetDeviceIDs: %s\n", p, name,
                         oclnn__cl_error_name(err));
            }
            continue;
        }
        if (nd > MAX_DEVICES)
            nd = MAX_DEVICES;
        for (cl_uint d = 0; d < nd; d++) {
            if (*count < cap) {
                oclnn__device_query(plats[p], ids[d], (int)p, (int)d, &out[*count].info);
                out[*count].id = ids[d];
            }
            (*count)++;
        }
    }
    if (*count > cap)
        *count = cap;
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_devices_list(oclnn_device_info *devices, size_t capacity, size_t *count,
                                char *skipped, size_t skipped_size)
{
    if (!count)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "devices_list: count is NULL");
    *count = 0;
    if (capacity && !devices)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT,
                           "devices_list: devices is NULL but capacity is %zu", capacity);
    found_device *all = calloc(MAX_PLATFORMS * MAX_DEVICES, sizeof *all);
    if (!all)
        return oclnn__fail(NULL, OCLNN_OUT_OF_MEMORY, "devices_list: out of host memory");
    size_t n = 0;
    oclnn_status s = enumerate(all, MAX_PLATFORMS * MAX_DEVICES, &n, skipped, skipped_size);
    if (s == OCLNN_SUCCESS) {
        for (size_t i = 0; i < n && i < capacity; i++)
            devices[i] = all[i].info;
        *count = n;
    }
    free(all);
    return s;
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

static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return true;
    }
    return n == 0;
}

/* Parses a non-negative decimal integer filling the whole string. */
static bool parse_index(const char *s, size_t len, int *out)
{
    if (len == 0 || len > 6)
        return false;
    int v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static oclnn_status not_found(const found_device *all, size_t n, const char *selector,
                              const char *rule)
{
    char list[OCLNN_MSG_SIZE / 2] = "";
    size_t len = 0;
    for (size_t i = 0; i < n && len < sizeof list - 1; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "\n  %d:%d %-11s %s (%s, %s)",
                                all[i].info.platform_index, all[i].info.device_index,
                                type_name(all[i].info.type), all[i].info.name,
                                all[i].info.platform_name, all[i].info.vendor);
    return oclnn__fail(NULL, OCLNN_DEVICE_NOT_FOUND,
                       "device: OCLNN_DEVICE=\"%s\" %s; devices found:%s", selector, rule,
                       n ? list : " none");
}

oclnn_status oclnn__device_select(const char *selector, oclnn_device_info *info,
                                  cl_device_id *id, char *why, size_t why_size)
{
    char whybuf[256];
    found_device *all = calloc(MAX_PLATFORMS * MAX_DEVICES, sizeof *all);
    if (!all)
        return oclnn__fail(NULL, OCLNN_OUT_OF_MEMORY, "device: out of host memory");
    size_t n = 0;
    oclnn_status s = enumerate(all, MAX_PLATFORMS * MAX_DEVICES, &n, NULL, 0);
    long pick = -1;
    if (s != OCLNN_SUCCESS)
        goto done;
    if (!selector || !*selector) {
        static const cl_device_type order[] = {CL_DEVICE_TYPE_GPU, CL_DEVICE_TYPE_ACCELERATOR,
                                               CL_DEVICE_TYPE_CPU};
        for (size_t o = 0; o < 3 && pick < 0; o++)
            for (size_t i = 0; i < n && pick < 0; i++)
                if (all[i].info.type & order[o]) {
                    pick = (long)i;
                    snprintf(whybuf, sizeof whybuf,
                             "OCLNN_DEVICE unset: the first %s (order: gpu, accelerator, cpu)",
                             type_name(order[o]));
                }
        if (pick < 0 && n > 0) {
            pick = 0;
            snprintf(whybuf, sizeof whybuf, "OCLNN_DEVICE unset: the first device");
        }
        if (pick < 0)
            s = not_found(all, n, "", "matches nothing");
        goto done;
    }
    const char *colon = strchr(selector, ':');
    size_t head_len = colon ? (size_t)(colon - selector) : strlen(selector);
    static const struct {
        const char *name;
        cl_device_type type;
    } types[] = {{"cpu", CL_DEVICE_TYPE_CPU},
                 {"gpu", CL_DEVICE_TYPE_GPU},
                 {"accelerator", CL_DEVICE_TYPE_ACCELERATOR}};
    for (size_t t = 0; t < 3; t++) {
        if (strlen(types[t].name) != head_len || strncasecmp(selector, types[t].name, head_len))
            continue;
        int want = 0;
        if (colon && !parse_index(colon + 1, strlen(colon + 1), &want)) {
            s = oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT,
                            "device: OCLNN_DEVICE=\"%s\": the part after ':' must be a device "
                            "number of that type (e.g. \"%s:1\")",
                            selector, types[t].name);
            goto done;
        }
        int seen = 0;
        for (size_t i = 0; i < n && pick < 0; i++)
            if (all[i].info.type & types[t].type) {
                if (seen == want) {
                    pick = (long)i;
                    snprintf(whybuf, sizeof whybuf, "OCLNN_DEVICE=\"%s\": %s number %d", selector,
                             types[t].name, want);
                }
                seen++;
            }
        if (pick < 0) {
            char rule[96];
            snprintf(rule, sizeof rule, "asks for %s number %d but there %s %d", types[t].name,
                     want, seen == 1 ? "is" : "are", seen);
            s = not_found(all, n, selector, rule);
        }
        goto done;
    }
    int pi, di;
    if (colon && parse_index(selector, head_len, &pi)) {
        if (!parse_index(colon + 1, strlen(colon + 1), &di)) {
            s = oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT,
                            "device: OCLNN_DEVICE=\"%s\" is not of the form P:D (two numbers)",
                            selector);
            goto done;
        }
        for (size_t i = 0; i < n && pick < 0; i++)
            if (all[i].info.platform_index == pi && all[i].info.device_index == di) {
                pick = (long)i;
                snprintf(whybuf, sizeof whybuf, "OCLNN_DEVICE=\"%s\": platform %d, device %d",
                         selector, pi, di);
            }
        if (pick < 0)
            s = not_found(all, n, selector, "names no platform:device pair");
        goto done;
    }
    for (size_t i = 0; i < n && pick < 0; i++) {
        char hay[800];
        snprintf(hay, sizeof hay, "%s %s %s %s", all[i].info.platform_name,
                 all[i].info.platform_vendor, all[i].info.vendor, all[i].info.name);
        if (contains_ci(hay, selector)) {
            pick = (long)i;
            snprintf(whybuf, sizeof whybuf,
                     "OCLNN_DEVICE=\"%s\": the first device whose \"platform vendor name\" "
                     "contains it",
                     selector);
        }
    }
    if (pick < 0)
        s = not_found(all, n, selector, "matches no platform, vendor or device name");
done:
    if (s == OCLNN_SUCCESS && pick >= 0) {
        if (info)
            *info = all[pick].info;
        if (id)
            *id = all[pick].id;
        if (why && why_size)
            snprintf(why, why_size, "%s", whybuf);
    }
    free(all);
    return s;
}

oclnn_status oclnn_device_select(const char *selector, oclnn_device_info *info, char *why,
                                 size_t why_size)
{
    if (!info)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "device_select: info is NULL");
    return oclnn__device_select(selector, info, NULL, why, why_size);
}
