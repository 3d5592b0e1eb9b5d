/* ui.c: the embedded web UI (web/ compiled into the binary by cmake/embed.cmake).
 *
 * Assets are served as /assets/NAME.HASH.EXT with a year of immutable caching: HASH is the
 * BLAKE2b of the content, so a new build changes the name and no browser keeps a stale
 * file. index.html (served for / and for every page's deep link, so reload works) is never
 * cached without revalidation and names the hashed files: {{asset:NAME}} placeholders in it
 * are replaced at start-up. Each asset is gzip-compressed once, at first use, and sent so
 * to clients that accept it. The security headers of every answer are in http.c. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/embedded.h"
#include "base/str.h"
#include "server/internal.h"

#include <microhttpd.h>
#include <pthread.h>
#include <sodium.h>
#include <zlib.h>

#define HASH_BYTES 8

struct asset {
    char *name;   /* "app.js" */
    char *hashed; /* "app.0123456789abcdef.js" */
    const char *type;
    unsigned char *data; /* owned when OWNED (index.html after substitution) */
    size_t size;
    unsigned char *gz; /* gzip of data; NULL when it would not be smaller */
    size_t gz_size;
    char etag[2 * HASH_BYTES + 3];
};

static struct asset *assets;
static size_t nassets;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".json", "application/json"},
    {".txt", "text/plain; charset=utf-8"},
};

static const char *type_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < SL_ARRAY_LEN(types); i++)
        if (!strcmp(dot, types[i].ext))
            return types[i].type;
    return "application/octet-stream";
}

static void hash_hex(const unsigned char *data, size_t size, char *hex)
{
    unsigned char h[HASH_BYTES];
    crypto_generichash(h, sizeof(h), data, size, NULL, 0);
    sodium_bin2hex(hex, 2 * HASH_BYTES + 1, h, sizeof(h));
}

static void gzip_asset(struct asset *a)
{
    z_stream z = {0};
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return;
    size_t cap = deflateBound(&z, a->size);
    unsigned char *out = sl_xmalloc(cap);
    z.next_in = (unsigned char *)a->data;
    z.avail_in = (uInt)a->size;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) == Z_STREAM_END && z.total_out < a->size) {
        a->gz = out;
        a->gz_size = z.total_out;
        out = NULL;
    }
    free(out);
    deflateEnd(&z);
}

static void finish_asset(struct asset *a)
{
    char hex[2 * HASH_BYTES + 1];
    hash_hex(a->data, a->size, hex);
    snprintf(a->etag, sizeof(a->etag), "\"%s\"", hex);
    const char *dot = strrchr(a->name, '.');
    size_t stem = dot ? (size_t)(dot - a->name) : strlen(a->name);
    a->hashed = sl_xasprintf("%.*s.%s%s", (int)stem, a->name, hex, dot ? dot : "");
    a->type = type_of(a->name);
    gzip_asset(a);
}

static const struct asset *find_by(const char *name, bool hashed)
{
    for (size_t i = 0; i < nassets; i++)
        if (!strcmp(hashed ? assets[i].hashed : assets[i].name, name))
            return &assets[i];
    return NULL;
}

/* index.html with each {{asset:NAME}} replaced by /assets/ + NAME's hashed name. */
static void substitute(struct asset *index)
{
    struct sl_str out = SL_STR_INIT;
    const char *p = (const char *)index->data, *end = p + index->size;
    while (p < end) {
        const char *open = strstr(p, "{{asset:");
        const char *close = open ? strstr(open, "}}") : NULL;
        if (!open || !close) {
            sl_str_add(&out, p, (size_t)(end - p));
            break;
        }
        sl_str_add(&out, p, (size_t)(open - p));
        char *name = sl_xstrndup(open + 8, (size_t)(close - open - 8));
        const struct asset *a = find_by(name, false);
        sl_str_adds(&out, "/assets/");
        sl_str_adds(&out, a ? a->hashed : name);
        free(name);
        p = close + 2;
    }
    index->size = out.len;
    index->data = (unsigned char *)sl_str_detach(&out);
}

static void load(void)
{
    size_t n = 0;
    for (const struct sl_embedded *e = sl_embedded_files; e->path; e++)
        n += sl_starts_with(e->path, "web/");
    assets = sl_xcalloc(n ? n : 1, sizeof(*assets));
    struct asset *index = NULL;
    for (const struct sl_embedded *e = sl_embedded_files; e->path; e++) {
        if (!sl_starts_with(e->path, "web/"))
            continue;
        struct asset *a = &assets[nassets++];
        a->name = sl_xstrdup(e->path + 4);
        a->data = (unsigned char *)e->data;
        a->size = e->size;
        if (!strcmp(a->name, "index.html"))
            index = a;
        else
            finish_asset(a);
    }
    if (index) {
        substitute(index); /* after the others have their hashed names */
        finish_asset(index);
    }
}

static bool accepts_gzip(struct req *r)
{
    const char *ae = sl_header_arg(r, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    if (!ae)
        return false;
    /* "gzip;q=0" refuses it; anything else naming gzip accepts */
    const char *g = strstr(ae, "gzip");
    return g && strncmp(g + 4, ";q=0", 4) != 0;
}

static void serve(struct req *r, const struct asset *a, const char *cache)
{
    const char *inm = sl_header_arg(r, MHD_HTTP_HEADER_IF_NONE_MATCH);
    struct MHD_Response *resp;
    bool gz = a->gz && accepts_gzip(r);
    if (inm && strstr(inm, a->etag)) {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        r->status = 304;
    } else {
        resp = MHD_create_response_from_buffer(gz ? a->gz_size : a->size,
                                               gz ? (void *)a->gz : (void *)a->data,
                                               MHD_RESPMEM_PERSISTENT);
        r->status = 200;
        if (gz)
            MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cache);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, a->etag);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    r->response = resp;
}

/* The UI's pages (index.html answers them all; the script routes on the path). */
static const char *const pages[] = {"/projects",      "/pipelines/", "/jobs/",
                                    "/environments/", "/admin",      "/signin"};

bool sl_srv_ui_handle(struct req *r)
{
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0)
        return false;
    pthread_once(&once, load);
    if (sl_starts_with(r->path, "/assets/")) {
        const char *name = r->path + 8;
        const struct asset *a = find_by(name, true);
        if (a) {
            serve(r, a, "public, max-age=31536000, immutable");
            return true;
        }
        if ((a = find_by(name, false)) && strcmp(name, "index.html") != 0) {
            serve(r, a, "no-cache");
            return true;
        }
        return false;
    }
    bool page = !strcmp(r->path, "/");
    for (size_t i = 0; !page && i < SL_ARRAY_LEN(pages); i++)
        page = sl_starts_with(r->path, pages[i]) || !strcmp(r->path, pages[i]);
    const struct asset *index = page ? find_by("index.html", false) : NULL;
    if (!index)
        return false;
    serve(r, index, "no-cache");
    return true;
}
