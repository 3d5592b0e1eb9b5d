/* spec_view.c: what the server reads again and again of a stored job's spec, parsed once
 * per job and kept in a bounded cache.
 *
 * Every transition of a pipeline (a claim, a job's end, a tick) rebuilds its scheduler
 * from the stored rows (transitions.c), and every GET of a pipeline answers each job's
 * `needs`: both used to json_loads the whole runnable-job spec (script, variables, image,
 * ...: kilobytes) of every job of the pipeline, so a pipeline of N jobs cost N parses per
 * transition, O(N^2) in all (58% of the server's CPU through bench/agents.sh). Here the
 * few facts those need (the scheduler's view, whether the job is a bridge, the pipeline's
 * stage count, whether it waits for a deployment approval) are parsed once.
 *
 * A stored spec never changes: a retry is a new job with a new id (sl_store_job_retry),
 * and ids are never reused (AUTOINCREMENT on SQLite, IDENTITY on PostgreSQL). So an entry
 * is keyed by the job id alone and never goes stale, even with several servers on one
 * database. The cache is direct-mapped by id (SLOTS entries; a newer job takes the slot of
 * an older one): ids of one pipeline are consecutive, so the pipelines being worked on stay
 * in, and the size is bounded whatever the number of pipelines. The slot table is made on
 * first use (an idle server pays nothing). */
#include "base/compat.h"
#include "base/alloc.h"
#include "server/internal.h"

#define SLOTS SL_SRV_SPEC_VIEWS_MAX

/* One parsed spec: the view and its arrays in one allocation. */
struct entry {
    int64_t job_id;
    struct srv_spec_view v; /* v.sched's arrays point into DATA */
    size_t data[];
};

struct srv_spec_views {
    pthread_mutex_t mu;
    struct entry **slots; /* SLOTS, NULL until first use */
    unsigned long hits, misses;
    size_t n; /* entries held */
};

struct srv_spec_views *sl_srv_spec_views_new(void)
{
    struct srv_spec_views *c = sl_xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void sl_srv_spec_views_free(struct srv_spec_views *c)
{
    if (!c)
        return;
    if (c->slots)
        for (size_t i = 0; i < SLOTS; i++)
            free(c->slots[i]);
    free(c->slots);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void sl_srv_spec_views_stats(struct srv_spec_views *c, unsigned long *hits, unsigned long *misses,
                             size_t *entries)
{
    pthread_mutex_lock(&c->mu);
    *hits = c->hits;
    *misses = c->misses;
    *entries = c->n;
    pthread_mutex_unlock(&c->mu);
}

/* One entry of JOB_ID holding a copy of V (whose arrays stay the caller's). */
static struct entry *entry_new(int64_t job_id, const struct srv_spec_view *v)
{
    const struct sl_sched_job *sj = &v->sched;
    size_t n = sj->nneeds + sj->nallow_exit_codes + sj->nretry_exit_codes;
    struct entry *e = sl_xmalloc(sizeof(*e) + n * sizeof(size_t));
    e->job_id = job_id;
    e->v = *v;
    e->v.sched.name = NULL;
    size_t *p = e->data;
    if (sj->nneeds)
        memcpy(p, sj->needs, sj->nneeds * sizeof(size_t));
    e->v.sched.needs = sj->nneeds ? p : NULL;
    p += sj->nneeds;
    /* an int fits in a size_t slot: one array type keeps every slot aligned */
    int *ip = (int *)p;
    if (sj->nallow_exit_codes)
        memcpy(ip, sj->allow_exit_codes, sj->nallow_exit_codes * sizeof(int));
    e->v.sched.allow_exit_codes = sj->nallow_exit_codes ? ip : NULL;
    ip += sj->nallow_exit_codes;
    if (sj->nretry_exit_codes)
        memcpy(ip, sj->retry_exit_codes, sj->nretry_exit_codes * sizeof(int));
    e->v.sched.retry_exit_codes = sj->nretry_exit_codes ? ip : NULL;
    return e;
}

static void *dup_bytes(const void *p, size_t n)
{
    void *d = sl_xmalloc(n);
    memcpy(d, p, n);
    return d;
}

/* OUT as a caller's own copy of V (arrays allocated, freed by sl_srv_spec_view_release). */
static void view_copy(struct srv_spec_view *out, const struct srv_spec_view *v)
{
    const struct sl_sched_job *sj = &v->sched;
    *out = *v;
    out->sched.needs = sj->nneeds ? dup_bytes(sj->needs, sj->nneeds * sizeof(size_t)) : NULL;
    out->sched.allow_exit_codes =
        sj->nallow_exit_codes ? dup_bytes(sj->allow_exit_codes, sj->nallow_exit_codes * sizeof(int))
                              : NULL;
    out->sched.retry_exit_codes =
        sj->nretry_exit_codes ? dup_bytes(sj->retry_exit_codes, sj->nretry_exit_codes * sizeof(int))
                              : NULL;
}

static int view_parse(const char *spec, struct srv_spec_view *out, struct sl_error *err)
{
    json_error_t je;
    memset(out, 0, sizeof(*out));
    json_t *o = json_loads(spec ? spec : "{}", 0, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return sl_error_set(err, SL_EINVAL, "job spec: %s", o ? "not an object" : je.text);
    }
    int rc = sl_srv_sched_job_from_json(o, &out->sched, err);
    if (rc == 0)
        sl_srv_spec_view_flags(o, out);
    json_decref(o);
    return rc;
}

void sl_srv_spec_view_flags(json_t *o, struct srv_spec_view *v)
{
    json_int_t ns = json_integer_value(json_object_get(o, "nstages"));
    v->nstages = ns > 0 ? (size_t)ns : 0;
    json_t *b = json_object_get(o, "bridge");
    v->bridge = json_is_object(b);
    v->bridge_declared = v->bridge || json_is_true(b);
    v->deployment_approval = json_is_true(json_object_get(o, "deployment_approval"));
}

int sl_srv_spec_view_get(struct srv_spec_views *c, int64_t job_id, const char *spec,
                         struct srv_spec_view *out, struct sl_error *err)
{
    size_t slot = (size_t)((uint64_t)job_id % SLOTS);
    pthread_mutex_lock(&c->mu);
    if (!c->slots)
        c->slots = sl_xcalloc(SLOTS, sizeof(*c->slots));
    struct entry *e = c->slots[slot];
    if (e && e->job_id == job_id) {
        c->hits++;
        view_copy(out, &e->v);
        pthread_mutex_unlock(&c->mu);
        return 0;
    }
    c->misses++;
    pthread_mutex_unlock(&c->mu);

    /* parsed outside the lock; a corrupt spec is an error, and is not kept */
    int rc = view_parse(spec, out, err);
    if (rc == 0)
        sl_srv_spec_view_put(c, job_id, out);
    return rc;
}

bool sl_srv_spec_view_cached(struct srv_spec_views *c, int64_t job_id, struct srv_spec_view *out)
{
    size_t slot = (size_t)((uint64_t)job_id % SLOTS);
    bool hit = false;
    pthread_mutex_lock(&c->mu);
    struct entry *e = c->slots ? c->slots[slot] : NULL;
    if (e && e->job_id == job_id) {
        c->hits++;
        view_copy(out, &e->v);
        hit = true;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

void sl_srv_spec_view_put(struct srv_spec_views *c, int64_t job_id, const struct srv_spec_view *v)
{
    if (job_id <= 0)
        return;
    size_t slot = (size_t)((uint64_t)job_id % SLOTS);
    struct entry *ne = entry_new(job_id, v), *old = NULL;
    pthread_mutex_lock(&c->mu);
    if (!c->slots)
        c->slots = sl_xcalloc(SLOTS, sizeof(*c->slots));
    old = c->slots[slot];
    c->slots[slot] = ne;
    if (!old)
        c->n++;
    pthread_mutex_unlock(&c->mu);
    free(old);
}

void sl_srv_spec_view_release(struct srv_spec_view *v)
{
    sl_srv_sched_job_release(&v->sched);
}
