/* checkpoint.c - saves and loads a compiled net: parameters, batch-norm running statistics,
 * optimizer state and step count.
 *
 * Format (version 1, every integer little-endian):
 *   header, 32 bytes:
 *     char magic[8] = "OCLNNCKP"
 *     u32  version = 1
 *     u32  reserved = 0
 *     u64  payload bytes (the file is exactly 32 + this long)
 *     u64  FNV-1a-64 of the payload (offset basis 0xcbf29ce484222325, prime 0x100000001b3)
 *   payload:
 *     u32 length + bytes   model name (the net's name, no terminator)
 *     u32                  optimizer (oclnn_optimizer: 0 SGD, 1 AdamW; 0xffffffff none: saved
 *                          from a net compiled for inference only, no state tensors)
 *     i64                  steps done
 *     u32                  tensor count
 *     per tensor, in the net's parameter order (per layer: weight, bias / gamma, beta,
 *     running_mean, running_var), then the optimizer state of every trainable parameter in the
 *     same order (SGD: NAME.momentum; AdamW: NAME.adam_m then NAME.adam_v):
 *       u32 length + bytes  name ("conv1.weight", "bn2.running_var", "fc.bias.momentum")
 *       u32                 ndim (1, 2 or 4)
 *       u32 dims[ndim]
 *       f32 data[prod(dims)] (IEEE 754 binary32)
 * Saving writes PATH.tmp and renames it over PATH, so a crash never leaves half a file under
 * PATH. Loading reads the whole file, verifies size, magic, version, checksum, model name,
 * optimizer and every tensor's name and shape against the net, and only then uploads. A net
 * compiled for inference only loads the parameters and statistics of any checkpoint of its model
 * and skips the optimizer state.
 */
#include "net_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint.c copies f32 data as the host stores it: little-endian hosts only"
#endif

#define CKP_MAGIC "OCLNNCKP"
#define CKP_VERSION 1u
#define CKP_HEADER 32
#define CKP_NO_OPTIMIZER 0xffffffffu

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* One tensor of the checkpoint: a view on the device and its name. */
typedef struct ckp_entry {
    char name[112];
    const oclnn_tensor *t;
    oclnn_tensor_desc desc;
    size_t count;
} ckp_entry;

/* The optimizer a net's checkpoints record. */
static uint32_t net_optimizer(const oclnn_net *net)
{
    return net->inference_only ? CKP_NO_OPTIMIZER : (uint32_t)net->train.optimizer;
}

/* The list of tensors of a checkpoint of this net with optimizer state `opt`, in file order;
 * state tensors the net does not hold have t NULL. *out is malloc'ed. */
static oclnn_status entries(oclnn_net *net, uint32_t opt, ckp_entry **out, int *count)
{
    int per = opt == OCLNN_OPTIMIZER_ADAMW ? 2 : opt == OCLNN_OPTIMIZER_SGD ? 1 : 0;
    int cap = net->nparams * (1 + per);
    ckp_entry *e = calloc((size_t)(cap ? cap : 1), sizeof *e);
    if (!e)
        return oclnn__fail(net->ctx, OCLNN_OUT_OF_MEMORY, "checkpoint: out of host memory");
    int n = 0;
    for (int i = 0; i < net->nparams; i++) {
        net_param *p = &net->params[i];
        snprintf(e[n].name, sizeof e[n].name, "%s", p->name);
        e[n].t = p->p;
        e[n].desc = p->desc;
        e[n++].count = p->count;
    }
    for (int i = 0; i < net->nparams; i++) {
        net_param *p = &net->params[i];
        if (!p->trainable)
            continue;
        const char *suffix[2] = {per == 1 ? "momentum" : "adam_m", "adam_v"};
        const oclnn_tensor *state[2] = {p->m, p->v};
        for (int j = 0; j < per; j++) {
            snprintf(e[n].name, sizeof e[n].name, "%s.%s", p->name, suffix[j]);
            e[n].t = state[j];
            e[n].desc = p->desc;
            e[n++].count = p->count;
        }
    }
    *out = e;
    *count = n;
    return OCLNN_SUCCESS;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static size_t payload_size(const oclnn_net *net, const ckp_entry *e, int n)
{
    size_t size = 4 + strlen(net->name) + 4 + 8 + 4;
    for (int i = 0; i < n; i++)
        size += 4 + strlen(e[i].name) + 4 + 4 * (size_t)e[i].desc.ndim + 4 * e[i].count;
    return size;
}

static oclnn_status check_net(const oclnn_net *net, const char *op, const char *path)
{
    if (!net)
        return oclnn__fail(NULL, OCLNN_INVALID_ARGUMENT, "%s: net is NULL", op);
    if (!net->compiled)
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT, "%s: the net is not compiled", op);
    if (!path || !path[0])
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT, "%s: path is NULL or empty", op);
    return OCLNN_SUCCESS;
}

oclnn_status oclnn_net_save(oclnn_net *net, const char *path)
{
    oclnn_status s = check_net(net, "net_save", path);
    if (s != OCLNN_SUCCESS)
        return s;
    ckp_entry *e;
    int n;
    s = entries(net, net_optimizer(net), &e, &n);
    if (s != OCLNN_SUCCESS)
        return s;
    size_t psize = payload_size(net, e, n);
    unsigned char *buf = oclnn__alloc(net->ctx, CKP_HEADER + psize, "net_save");
    if (!buf) {
        free(e);
        return OCLNN_OUT_OF_MEMORY;
    }
    unsigned char *p = buf + CKP_HEADER;
    size_t len = strlen(net->name);
    put_u32(p, (uint32_t)len);
    memcpy(p + 4, net->name, len);
    p += 4 + len;
    put_u32(p, net_optimizer(net));
    put_u64(p + 4, (uint64_t)net->step);
    put_u32(p + 12, (uint32_t)n);
    p += 16;
    for (int i = 0; i < n && s == OCLNN_SUCCESS; i++) {
        len = strlen(e[i].name);
        put_u32(p, (uint32_t)len);
        memcpy(p + 4, e[i].name, len);
        p += 4 + len;
        put_u32(p, (uint32_t)e[i].desc.ndim);
        p += 4;
        for (int d = 0; d < e[i].desc.ndim; d++, p += 4)
            put_u32(p, (uint32_t)e[i].desc.dims[d]);
        /* Straight into the file image: the host is little-endian (checked at the top). */
        s = oclnn_tensor_download(net->ctx, e[i].t, p, e[i].count, 0);
        p += 4 * e[i].count;
    }
    if (s == OCLNN_SUCCESS)
        s = oclnn_context_finish(net->ctx);
    free(e);
    if (s != OCLNN_SUCCESS) {
        free(buf);
        return s;
    }
    memcpy(buf, CKP_MAGIC, 8);
    put_u32(buf + 8, CKP_VERSION);
    put_u32(buf + 12, 0);
    put_u64(buf + 16, psize);
    put_u64(buf + 24, fnv1a(buf + CKP_HEADER, psize));

    size_t plen = strlen(path);
    char *tmp = oclnn__alloc(net->ctx, plen + 5, "net_save");
    if (!tmp) {
        free(buf);
        return OCLNN_OUT_OF_MEMORY;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        s = oclnn__fail(net->ctx, OCLNN_IO_ERROR, "net_save: cannot create %s: %s", tmp,
                        strerror(errno));
    } else {
        /* flushed to the disk before the rename, so PATH is never a half-written file */
        bool ok = fwrite(buf, 1, CKP_HEADER + psize, f) == CKP_HEADER + psize && fflush(f) == 0 &&
                  fsync(fileno(f)) == 0;
        int err = errno;
        ok = (fclose(f) == 0) && ok;
        if (!ok)
            s = oclnn__fail(net->ctx, OCLNN_IO_ERROR, "net_save: cannot write %s: %s", tmp,
                            strerror(err ? err : errno));
        else if (rename(tmp, path) != 0)
            s = oclnn__fail(net->ctx, OCLNN_IO_ERROR, "net_save: cannot rename %s to %s: %s", tmp,
                            path, strerror(errno));
        if (s != OCLNN_SUCCESS)
            remove(tmp);
    }
    free(tmp);
    free(buf);
    return s;
}

/* A bounded reader over the payload: every read checks the bytes are there. */
typedef struct reader {
    const unsigned char *p, *end;
} reader;

static bool rd(reader *r, size_t n, const unsigned char **out)
{
    if ((size_t)(r->end - r->p) < n)
        return false;
    *out = r->p;
    r->p += n;
    return true;
}

static oclnn_status corrupt(oclnn_net *net, const char *path, const char *what)
{
    return oclnn__fail(net->ctx, OCLNN_CORRUPT_DATA, "net_load: %s: %s", path, what);
}

/* The tensor list of the payload (after the fixed fields) against the expected entries. */
static oclnn_status verify_tensors(oclnn_net *net, const char *path, reader *rp, uint32_t count,
                                   const ckp_entry *e, int n, const unsigned char **data)
{
    reader r = *rp;
    const unsigned char *q;
    uint32_t len;
    if (count != (uint32_t)n)
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                           "net_load: %s: holds %u tensors, this net has %d", path, count, n);
    for (int i = 0; i < n; i++) {
        char shape[64];
        if (!rd(&r, 4, &q))
            return corrupt(net, path, "payload ends inside a tensor name");
        len = get_u32(q);
        if (len > 4096 || !rd(&r, len, &q))
            return corrupt(net, path, "tensor name length is past the payload");
        if (len != strlen(e[i].name) || memcmp(q, e[i].name, len))
            return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                               "net_load: %s: tensor %d is \"%.*s\", this net expects \"%s\"", path,
                               i, (int)(len > 100 ? 100 : len), (const char *)q, e[i].name);
        if (!rd(&r, 4, &q))
            return corrupt(net, path, "payload ends inside a tensor shape");
        uint32_t ndim = get_u32(q);
        if (ndim != 1 && ndim != 2 && ndim != 4)
            return corrupt(net, path, "a tensor's ndim is not 1, 2 or 4");
        if (!rd(&r, 4 * ndim, &q))
            return corrupt(net, path, "payload ends inside a tensor shape");
        bool same = ndim == (uint32_t)e[i].desc.ndim;
        char got[64];
        size_t glen = 0;
        got[0] = '\0';
        for (uint32_t d = 0; d < ndim; d++) {
            uint32_t v = get_u32(q + 4 * d);
            same = same && v == (uint32_t)e[i].desc.dims[d];
            glen += (size_t)snprintf(got + glen, sizeof got - (glen < sizeof got ? glen : 0),
                                     "[%u]", v);
            if (glen >= sizeof got)
                glen = sizeof got - 1;
        }
        if (!same)
            return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                               "net_load: %s: tensor \"%s\" has shape %s, this net expects %s",
                               path, e[i].name, got,
                               oclnn__shape_str(&e[i].desc, shape, sizeof shape));
        if (!rd(&r, 4 * e[i].count, &data[i]))
            return corrupt(net, path, "payload ends inside a tensor's data");
    }
    if (r.p != r.end)
        return corrupt(net, path, "bytes left after the last tensor");
    return OCLNN_SUCCESS;
}

static const char *opt_name(uint32_t opt)
{
    return opt == OCLNN_OPTIMIZER_SGD     ? "SGD"
           : opt == OCLNN_OPTIMIZER_ADAMW ? "AdamW"
           : opt == CKP_NO_OPTIMIZER      ? "no optimizer (an inference-only net)"
                                          : "an unknown optimizer";
}

/* Parses and verifies the payload against the net: on success *e_out lists its n tensors and
 * data[i] points at tensor i's bytes in the payload (both malloc'ed). */
static oclnn_status verify(oclnn_net *net, const char *path, const unsigned char *payload,
                           size_t size, ckp_entry **e_out, const unsigned char ***data_out,
                           int *n_out, long *step)
{
    *e_out = NULL;
    *data_out = NULL;
    *n_out = 0;
    reader r = {payload, payload + size};
    const unsigned char *q;
    if (!rd(&r, 4, &q))
        return corrupt(net, path, "payload ends inside the model name");
    uint32_t len = get_u32(q);
    if (len > 4096 || !rd(&r, len, &q))
        return corrupt(net, path, "model name length is past the payload");
    if (len != strlen(net->name) || memcmp(q, net->name, len))
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                           "net_load: %s: holds model \"%.*s\", this net is \"%s\"", path,
                           (int)(len > 64 ? 64 : len), (const char *)q, net->name);
    if (!rd(&r, 16, &q))
        return corrupt(net, path, "payload ends inside the optimizer/step fields");
    uint32_t opt = get_u32(q);
    int64_t st = (int64_t)get_u64(q + 4);
    uint32_t count = get_u32(q + 12);
    bool opt_ok =
        opt == OCLNN_OPTIMIZER_SGD || opt == OCLNN_OPTIMIZER_ADAMW || opt == CKP_NO_OPTIMIZER;
    if (!opt_ok)
        return corrupt(net, path, "unknown optimizer code");
    if (!net->inference_only && opt != net_optimizer(net))
        return oclnn__fail(net->ctx, OCLNN_INVALID_ARGUMENT,
                           "net_load: %s: optimizer state is for %s, this net uses %s", path,
                           opt_name(opt), opt_name(net_optimizer(net)));
    if (st < 0)
        return corrupt(net, path, "negative step count");
    ckp_entry *e;
    int n;
    oclnn_status s = entries(net, opt, &e, &n);
    if (s != OCLNN_SUCCESS)
        return s;
    const unsigned char **data = calloc((size_t)(n ? n : 1), sizeof *data);
    if (!data) {
        free(e);
        return oclnn__fail(net->ctx, OCLNN_OUT_OF_MEMORY, "net_load: out of host memory");
    }
    s = verify_tensors(net, path, &r, count, e, n, data);
    if (s != OCLNN_SUCCESS) {
        free(e);
        free(data);
        return s;
    }
    *e_out = e;
    *data_out = data;
    *n_out = n;
    *step = (long)st;
    return OCLNN_SUCCESS;
}

static oclnn_status read_file(oclnn_net *net, const char *path, unsigned char **out, size_t *size)
{
    *out = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return oclnn__fail(net->ctx, OCLNN_IO_ERROR, "net_load: cannot open %s: %s", path,
                           strerror(errno));
    oclnn_status s = OCLNN_SUCCESS;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        len = ftell(f);
    if (len < 0 || fseek(f, 0, SEEK_SET) != 0) {
        s = oclnn__fail(net->ctx, OCLNN_IO_ERROR, "net_load: cannot size %s: %s", path,
                        strerror(errno));
    } else {
        unsigned char *buf = oclnn__alloc(net->ctx, (size_t)len + 1, "net_load");
        if (!buf) {
            s = OCLNN_OUT_OF_MEMORY;
        } else if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
            free(buf);
            s = oclnn__fail(net->ctx, OCLNN_IO_ERROR, "net_load: cannot read %s", path);
        } else {
            *out = buf;
            *size = (size_t)len;
        }
    }
    fclose(f);
    return s;
}

oclnn_status oclnn_net_load(oclnn_net *net, const char *path)
{
    oclnn_status s = check_net(net, "net_load", path);
    if (s != OCLNN_SUCCESS)
        return s;
    unsigned char *buf;
    size_t size;
    s = read_file(net, path, &buf, &size);
    if (s != OCLNN_SUCCESS)
        return s;
    ckp_entry *e = NULL;
    const unsigned char **data = NULL;
    int n = 0;
    long step = 0;
    if (size < CKP_HEADER) {
        s = oclnn__fail(net->ctx, OCLNN_CORRUPT_DATA,
                        "net_load: %s: truncated: %zu bytes, shorter than the %d-byte header", path,
                        size, CKP_HEADER);
    } else if (memcmp(buf, CKP_MAGIC, 8) != 0) {
        s = corrupt(net, path, "bad magic (not an oclnn checkpoint)");
    } else if (get_u32(buf + 8) != CKP_VERSION) {
        s = oclnn__fail(net->ctx, OCLNN_CORRUPT_DATA,
                        "net_load: %s: version %u is not the supported version %u", path,
                        get_u32(buf + 8), CKP_VERSION);
    } else if (get_u64(buf + 16) != size - CKP_HEADER) {
        s = oclnn__fail(net->ctx, OCLNN_CORRUPT_DATA,
                        "net_load: %s: truncated or extended: the header says %llu payload "
                        "bytes, the file has %zu",
                        path, (unsigned long long)get_u64(buf + 16), size - CKP_HEADER);
    } else if (get_u64(buf + 24) != fnv1a(buf + CKP_HEADER, size - CKP_HEADER)) {
        s = corrupt(net, path, "checksum mismatch (the payload is corrupt)");
    }
    if (s == OCLNN_SUCCESS)
        s = verify(net, path, buf + CKP_HEADER, size - CKP_HEADER, &e, &data, &n, &step);
    /* Everything is verified: now the device. Data may be unaligned in the file image. */
    for (int i = 0; i < n && s == OCLNN_SUCCESS; i++) {
        if (!e[i].t)
            continue; /* optimizer state an inference-only net does not keep */
        float *tmp = oclnn__alloc(net->ctx, 4 * (e[i].count ? e[i].count : 1), "net_load");
        if (!tmp) {
            s = OCLNN_OUT_OF_MEMORY;
            break;
        }
        memcpy(tmp, data[i], 4 * e[i].count);
        s = oclnn_tensor_upload(net->ctx, (oclnn_tensor *)e[i].t, tmp, e[i].count, 1);
        free(tmp);
    }
    if (s == OCLNN_SUCCESS) {
        net->step = step;
        net->pending = 0;
        net->acc_loss = 0;
        net->acc_correct = net->acc_images = net->acc_steps = 0;
    }
    free(data);
    free(e);
    free(buf);
    return s;
}
