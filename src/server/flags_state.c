/* flags_state.c: the Unleash document of a project's environment built from the store, the
 * cache of compiled snapshots, and the counters of the SDKs' metrics (flags_api.h). */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/lru.h"
#include "base/map.h"
#include "base/str.h"
#include "server/flags_api.h"

#include <sodium.h>

#define CACHE_SLOTS 256  /* environments kept compiled; the least recently used goes */
#define SERIES_MAX 20000 /* metric series kept; more are dropped (and counted) */

struct counter {
    int64_t project_id;
    char *environment, *flag, *variant; /* variant NULL: the yes/no counter */
    uint64_t yes, no;
};

struct srv_flags {
    pthread_mutex_t mu;
    struct sl_lru cache; /* "project\x1fenvironment" -> struct srv_flags_snapshot */
    uint64_t builds, hits;
    /* metrics, under mu too: a bucket arrives every few seconds per SDK instance */
    struct sl_map series; /* key: project \x1f env \x1f flag \x1f variant -> struct counter */
    uint64_t dropped;
};

static void snapshot_free(struct srv_flags_snapshot *snap)
{
    if (!snap)
        return;
    free(snap->environment);
    free(snap->body);
    sl_flags_state_free(snap->state);
    free(snap);
}

/* The cache lets a snapshot go (replaced, evicted, or at the end): freed unless a caller
 * still holds it, else detached, for the last caller's release to free (under f->mu). */
static void snapshot_drop(void *value, void *arg)
{
    struct srv_flags_snapshot *old = value;
    (void)arg;
    if (old->refs <= 1)
        snapshot_free(old);
    else
        old->refs = -(old->refs - 1);
}

static void cache_key(struct sl_str *key, int64_t project_id, const char *environment)
{
    sl_str_addf(key, "%lld\x1f%s", (long long)project_id, environment);
}

void sl_srv_flags_init(struct sl_server *s)
{
    s->flags = sl_xcalloc(1, sizeof(*s->flags));
    sl_lru_init(&s->flags->cache, CACHE_SLOTS, snapshot_drop, NULL);
    pthread_mutex_init(&s->flags->mu, NULL);
}

void sl_srv_flags_free(struct sl_server *s)
{
    struct srv_flags *f = s->flags;
    if (!f)
        return;
    sl_lru_release(&f->cache);
    size_t it = 0;
    const char *k;
    void *v;
    while (sl_map_next(&f->series, &it, &k, &v)) {
        struct counter *c = v;
        free(c->environment);
        free(c->flag);
        free(c->variant);
        free(c);
    }
    sl_map_release(&f->series);
    pthread_mutex_destroy(&f->mu);
    free(f);
    s->flags = NULL;
}

void sl_srv_flags_etag(const char *body, size_t len, char out[48])
{
    unsigned char h[16];
    char hex[33];
    crypto_generichash(h, sizeof(h), (const unsigned char *)body, len, NULL, 0);
    sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
    snprintf(out, 48, "\"%s\"", hex);
}

/* ---- the document ---- */

/* TEXT, the JSON array stored as WHAT of row ID; [] when it is NULL, and [] with the
 * row logged (sl_srv_stored_json) when it is not an array. *UNREADABLE (when given) is set
 * then: the caller decides what an unreadable row must not turn into. */
static json_t *parse_array(const char *text, const char *what, int64_t id, bool *unreadable)
{
    json_t *v = sl_srv_stored_json(text, JSON_ARRAY, what, id);
    if (!v) {
        if (text && unreadable)
            *unreadable = true;
        v = json_array();
    }
    return v;
}

static bool has_tag(const struct sl_store_flag *fl, const struct srv_flags_filter *flt)
{
    json_t *tags = parse_array(fl->tags, "feature flag's tags", fl->id, NULL), *t;
    size_t i;
    bool found = false;
    json_array_foreach(tags, i, t)
    {
        const char *type = json_string_value(json_object_get(t, "type"));
        const char *value = json_string_value(json_object_get(t, "value"));
        for (size_t k = 0; !found && type && value && k < flt->ntags; k++) {
            const char *colon = strchr(flt->tags[k], ':');
            /* "type:value"; a bare value matches the "simple" type, as Unleash reads it */
            found = colon ? strlen(type) == (size_t)(colon - flt->tags[k]) &&
                                !strncmp(type, flt->tags[k], (size_t)(colon - flt->tags[k])) &&
                                sl_streq(value, colon + 1)
                          : sl_streq(type, "simple") && sl_streq(value, flt->tags[k]);
        }
    }
    json_decref(tags);
    return found;
}

static bool keep(const struct sl_store_flag *fl, const char *project,
                 const struct srv_flags_filter *flt)
{
    if (fl->archived)
        return false;
    if (!flt)
        return true;
    if (flt->name_prefix && !sl_starts_with(fl->name, flt->name_prefix))
        return false;
    if (flt->ntags && !has_tag(fl, flt))
        return false;
    bool in_project = flt->nprojects == 0;
    for (size_t i = 0; !in_project && i < flt->nprojects; i++)
        in_project = sl_streq(flt->projects[i], project);
    return in_project;
}

/* Whether a strategy of STRATEGIES names (in its "segments") one of the segment ids IDS. */
static bool uses_segment(json_t *strategies, json_t *ids)
{
    size_t i, k, m;
    json_t *st, *seg, *id;
    json_array_foreach(strategies, i, st)
    {
        json_array_foreach(json_object_get(st, "segments"), k, seg)
        {
            json_array_foreach(ids, m, id)
            {
                if (json_integer_value(seg) == json_integer_value(id))
                    return true;
            }
        }
    }
    return false;
}

int sl_srv_flags_document(struct sl_server *s, int64_t project_id, const char *environment,
                          const struct srv_flags_filter *filter, json_t **out, struct sl_error *err)
{
    struct sl_store_project p = {0};
    struct sl_store_flag *flags = NULL;
    struct sl_store_flag_env *envs = NULL;
    struct sl_store_flag_segment *segs = NULL;
    size_t nflags = 0, nenvs = 0, nsegs = 0;
    struct sl_map by_name = SL_MAP_INIT;
    int rc;

    if ((rc = sl_store_project_get(s->st, project_id, &p, err)) < 0 ||
        (rc = sl_store_flag_list(s->st, project_id, &flags, &nflags, err)) < 0 ||
        (rc = sl_store_flag_env_list(s->st, project_id, NULL, environment, &envs, &nenvs, err)) <
            0 ||
        (rc = sl_store_flag_segment_list(s->st, project_id, &segs, &nsegs, err)) < 0)
        goto out;
    /* by name, not by a merge of two sorted lists: the databases' collations differ */
    for (size_t i = 0; i < nenvs; i++)
        sl_map_put(&by_name, envs[i].flag, &envs[i]);
    /* segments first: a segment whose constraints cannot be read would match everyone, so
     * the flags whose strategies use one are sent disabled below */
    json_t *segments = json_array(), *bad_segs = json_array();
    for (size_t i = 0; i < nsegs; i++) {
        bool unreadable = false;
        json_t *c =
            parse_array(segs[i].constraints, "flag segment's constraints", segs[i].id, &unreadable);
        if (unreadable)
            json_array_append_new(bad_segs, json_integer(segs[i].id));
        json_array_append_new(segments, json_pack("{s:I,s:s,s:o}", "id", (json_int_t)segs[i].id,
                                                  "name", segs[i].name, "constraints", c));
    }
    json_t *features = json_array();
    for (size_t i = 0; i < nflags; i++) {
        const struct sl_store_flag *fl = &flags[i];
        if (!keep(fl, p.name, filter))
            continue;
        const struct sl_store_flag_env *e = sl_map_get(&by_name, fl->name);
        /* an enabled flag whose strategies or dependencies cannot be read is sent disabled:
         * read as [] they would turn it on for everyone (Unleash: no strategy, no parent) */
        bool unreadable = false;
        json_t *strategies =
            parse_array(e ? e->strategies : NULL, "feature flag's strategies", fl->id, &unreadable);
        json_t *deps =
            parse_array(fl->dependencies, "feature flag's dependencies", fl->id, &unreadable);
        if (json_array_size(bad_segs))
            unreadable = unreadable || uses_segment(strategies, bad_segs);
        json_t *o =
            json_pack("{s:s,s:s,s:s,s:s,s:b,s:b,s:b,s:o,s:o}", "name", fl->name, "description",
                      fl->description, "type", fl->type, "project", p.name, "enabled",
                      e && e->enabled && !unreadable, "stale", fl->stale, "impressionData",
                      fl->impression_data, "strategies", strategies, "variants",
                      parse_array(e ? e->variants : NULL, "feature flag's variants", fl->id, NULL));
        if (json_array_size(deps))
            json_object_set_new(o, "dependencies", deps);
        else
            json_decref(deps);
        json_array_append_new(features, o);
    }
    json_decref(bad_segs);
    *out = json_pack("{s:i,s:o,s:o}", "version", 2, "features", features, "segments", segments);
out:
    sl_map_release(&by_name);
    sl_store_project_release(&p);
    sl_store_flags_free(flags, nflags);
    sl_store_flag_envs_free(envs, nenvs);
    sl_store_flag_segments_free(segs, nsegs);
    return rc;
}

/* ---- the cache ---- */

static int build(struct sl_server *s, int64_t project_id, const char *environment, int64_t revision,
                 struct srv_flags_snapshot **out, struct sl_error *err)
{
    json_t *doc = NULL;
    struct srv_flags_snapshot *snap = NULL;
    int rc;

    if ((rc = sl_srv_flags_document(s, project_id, environment, NULL, &doc, err)) < 0)
        goto out;
    snap = sl_xcalloc(1, sizeof(*snap));
    snap->project_id = project_id;
    snap->environment = sl_xstrdup(environment);
    snap->revision = revision;
    /* what is stored was compiled before it was stored, so this fails only on a store
     * edited by hand: then the SDKs get an answer that is refused here too */
    if ((rc = sl_flags_state_compile(&snap->state, doc, err)) < 0)
        goto out;
    snap->body = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    snap->len = strlen(snap->body);
    sl_srv_flags_etag(snap->body, snap->len, snap->etag);
    *out = snap;
    snap = NULL;
out:
    snapshot_free(snap);
    json_decref(doc);
    return rc;
}

int sl_srv_flags_snapshot_get(struct sl_server *s, int64_t project_id, const char *environment,
                              struct srv_flags_snapshot **out, struct sl_error *err)
{
    struct srv_flags *f = s->flags;
    struct srv_flags_snapshot *snap = NULL;
    struct sl_str key = SL_STR_INIT;
    int64_t revision = 0;
    int rc;

    if ((rc = sl_store_flag_revision(s->st, project_id, &revision, err)) < 0)
        return rc;
    cache_key(&key, project_id, environment);
    pthread_mutex_lock(&f->mu);
    struct srv_flags_snapshot *c = sl_lru_get(&f->cache, key.buf);
    if (c && c->revision == revision) {
        c->refs++;
        f->hits++;
        snap = c;
    }
    pthread_mutex_unlock(&f->mu);
    if (snap) {
        *out = snap;
        goto out;
    }
    /* built outside the lock: other environments keep being served meanwhile; two threads
     * may build the same one, the later simply replaces the earlier */
    if ((rc = build(s, project_id, environment, revision, &snap, err)) < 0)
        goto out;
    pthread_mutex_lock(&f->mu);
    snap->refs = 2; /* the cache's and the caller's */
    /* in place of the same environment's older snapshot, else of the least recently used */
    sl_lru_put(&f->cache, key.buf, snap);
    f->builds++;
    pthread_mutex_unlock(&f->mu);
    *out = snap;
out:
    sl_str_release(&key);
    return rc;
}

/* A snapshot's refs: positive while in the cache (the cache holds one), negative once
 * detached (its absolute value counts the callers still holding it). */
void sl_srv_flags_snapshot_release(struct sl_server *s, struct srv_flags_snapshot *snap)
{
    if (!snap)
        return;
    struct srv_flags *f = s->flags;
    bool gone = false;
    pthread_mutex_lock(&f->mu);
    if (snap->refs > 0)
        snap->refs--;
    else
        gone = ++snap->refs == 0;
    pthread_mutex_unlock(&f->mu);
    if (gone)
        snapshot_free(snap);
}

void sl_srv_flags_cache_stats(struct sl_server *s, uint64_t *builds, uint64_t *hits)
{
    pthread_mutex_lock(&s->flags->mu);
    *builds = s->flags->builds;
    *hits = s->flags->hits;
    pthread_mutex_unlock(&s->flags->mu);
}

/* ---- metrics ---- */

static struct counter *series(struct srv_flags *f, const struct srv_flags_snapshot *snap,
                              const char *flag, const char *variant)
{
    char *key = sl_xasprintf("%lld\x1f%s\x1f%s\x1f%s", (long long)snap->project_id,
                             snap->environment, flag, variant ? variant : "");
    struct counter *c = sl_map_get(&f->series, key);
    if (!c && f->series.n < SERIES_MAX) {
        c = sl_xcalloc(1, sizeof(*c));
        c->project_id = snap->project_id;
        c->environment = sl_xstrdup(snap->environment);
        c->flag = sl_xstrdup(flag);
        c->variant = variant ? sl_xstrdup(variant) : NULL;
        sl_map_put(&f->series, key, c);
    } else if (!c) {
        f->dropped++;
    }
    free(key);
    return c;
}

/* A count from JSON: a non-negative integer, anything else 0. */
static uint64_t count_of(const json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

void sl_srv_flags_count(struct sl_server *s, const struct srv_flags_snapshot *snap,
                        const json_t *bucket)
{
    struct srv_flags *f = s->flags;
    const json_t *toggles = json_object_get(bucket, "toggles");
    const char *name;
    json_t *t;
    if (!json_is_object(toggles))
        return;
    pthread_mutex_lock(&f->mu);
    json_object_foreach((json_t *)toggles, name, t)
    {
        if (sl_flags_state_find(snap->state, name) < 0)
            continue;
        struct counter *c = series(f, snap, name, NULL);
        if (c) {
            c->yes += count_of(json_object_get(t, "yes"));
            c->no += count_of(json_object_get(t, "no"));
        }
        const char *vname;
        json_t *vn;
        const json_t *variants = json_object_get(t, "variants");
        if (!json_is_object(variants))
            continue;
        json_object_foreach((json_t *)variants, vname, vn)
        {
            /* variant names are the flag's own, or "disabled": others are not counted */
            if (strlen(vname) > SL_STORE_FLAG_NAME_MAX)
                continue;
            struct counter *vc = series(f, snap, name, vname);
            if (vc)
                vc->yes += count_of(vn);
        }
    }
    pthread_mutex_unlock(&f->mu);
}

/* A Prometheus label value: backslash, quote and newline escaped. */
static void label(struct sl_str *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            sl_str_addc(out, '\\');
        if (*v == '\n') {
            sl_str_adds(out, "\\n");
            continue;
        }
        sl_str_addc(out, *v);
    }
}

void sl_srv_flags_metrics_render(struct sl_server *s, struct sl_str *out)
{
    struct srv_flags *f = s->flags;
    size_t it;
    const char *k;
    void *v;
    pthread_mutex_lock(&f->mu);
    sl_str_adds(out, "# HELP sluice_feature_flag_evaluations_total Evaluations reported by "
                     "Unleash SDKs, by project, environment, flag and result.\n"
                     "# TYPE sluice_feature_flag_evaluations_total counter\n");
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            sl_str_adds(out, "# HELP sluice_feature_flag_variants_total Variants reported by "
                             "Unleash SDKs, by project, environment, flag and variant.\n"
                             "# TYPE sluice_feature_flag_variants_total counter\n");
        it = 0;
        while (sl_map_next(&f->series, &it, &k, &v)) {
            const struct counter *c = v;
            if ((pass == 0) != (c->variant == NULL))
                continue;
            for (int yes = 1; yes >= (pass == 0 ? 0 : 1); yes--) {
                sl_str_addf(out, "%s{project=\"%lld\",environment=\"",
                            pass == 0 ? "sluice_feature_flag_evaluations_total"
                                      : "sluice_feature_flag_variants_total",
                            (long long)c->project_id);
                label(out, c->environment);
                sl_str_adds(out, "\",flag=\"");
                label(out, c->flag);
                if (pass == 0) {
                    sl_str_addf(out, "\",result=\"%s\"} %llu\n", yes ? "yes" : "no",
                                (unsigned long long)(yes ? c->yes : c->no));
                } else {
                    sl_str_adds(out, "\",variant=\"");
                    label(out, c->variant);
                    sl_str_addf(out, "\"} %llu\n", (unsigned long long)c->yes);
                }
            }
        }
    }
    sl_str_addf(out,
                "# HELP sluice_feature_flag_cache_builds_total Environments compiled for SDKs.\n"
                "# TYPE sluice_feature_flag_cache_builds_total counter\n"
                "sluice_feature_flag_cache_builds_total %llu\n"
                "# HELP sluice_feature_flag_cache_hits_total SDK polls served from the cache.\n"
                "# TYPE sluice_feature_flag_cache_hits_total counter\n"
                "sluice_feature_flag_cache_hits_total %llu\n"
                "# HELP sluice_feature_flag_metrics_dropped_total SDK metric series over the cap.\n"
                "# TYPE sluice_feature_flag_metrics_dropped_total counter\n"
                "sluice_feature_flag_metrics_dropped_total %llu\n",
                (unsigned long long)f->builds, (unsigned long long)f->hits,
                (unsigned long long)f->dropped);
    pthread_mutex_unlock(&f->mu);
}
