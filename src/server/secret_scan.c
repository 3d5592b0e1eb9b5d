/* secret_scan.c: secret detection on the server (scan/scan.h does the finding). Every chunk of
 * a job's log is scanned as it is stored, whoever stores it (the built-in workers, the
 * runner API); findings go to the store redacted (store.h, secret_findings).
 *
 * A secret may be split across two chunks (a runner sends what the job printed so far, a
 * worker flushes mid-line), so the last SRV_SCAN_OVERLAP bytes before a chunk are read back
 * from the store and the chunk is scanned from the start of the line it continues (or of a
 * PEM block still open there): a secret that started there is found whole with the chunk. A finding
 * that lies wholly in those earlier bytes was found with the chunk before and is skipped; the
 * store's unique index catches the rest.
 *
 * Those earlier bytes come from memory when this server stored the chunk before (the last
 * SRV_SCAN_OVERLAP bytes of each of the TAILS_MAX jobs that logged last), else from the
 * store: reading them back on every 4 KiB trace PATCH was a query per chunk, and the store
 * stays the truth (another server of several took the chunk before, a restart, a job evicted
 * from the table: the tail kept ends where the log did not, so it is not used).
 *
 * A chunk and its findings go into the store in one transaction (sl_store_log_append_findings):
 * the chunk is scanned first, outside the store's write lock, against the log's end as it was
 * kept (or read back: its size and last bytes), and the store takes the findings only if the
 * log still ends there. If not (two appends of one job racing, another server's, the cap
 * cutting the chunk), it is appended, read back and scanned the way that reads the log after
 * the append, inside one transaction (the write lock held over that scan).
 *
 * A log is scanned with its pipeline's rules: the defaults extended by the project's rule
 * file at the pipeline's commit (secret_push.c reads the same for pushes), read from the
 * project's mirror once per commit and kept for the RULES_MAX commits whose pipelines logged
 * last (a commit without a file costs nothing: the server's default scanner). A commit's
 * file never changes and the defaults are built in, so an entry is never stale: a changed
 * file is a new commit, a new key. Only a commit the mirror could not show (not fetched yet,
 * the mirror unreadable) is kept briefly, RULES_UNKNOWN_MS, then looked for again. */
#include "base/compat.h"
#include <inttypes.h>
#include "base/alloc.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "scan/scan.h"
#include "scan/toml.h"
#include "server/internal.h"

#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#include <git2.h>

#define TAILS_MAX SRV_SCAN_TAILS_MAX /* jobs whose log end is kept: 64 x 8 KiB */

/* Whose rules scan a log: its pipeline's project and commit (project_id 0: not known). */
struct rules_key {
    int64_t project_id;
    char sha[72]; /* SHA-1 or SHA-256 in hex */
};

struct log_tail {
    int64_t job_id;       /* 0: free */
    struct rules_key key; /* the job's pipeline's */
    int64_t end;          /* the log's length when BUF[0..LEN) was its end */
    int64_t lines;        /* its newlines up to END (the store's count); -1: not known */
    uint64_t used;        /* for evicting the least recently logging job */
    /* the log's last bytes, at least SRV_SCAN_OVERLAP when it has them: a chunk that
     * continues them is added at the end, and the buffer slides only when full (twice the
     * overlap), so a small chunk costs its own bytes, not the overlap's, to keep */
    size_t len;
    char buf[2 * SRV_SCAN_OVERLAP];
};

#define RULES_MAX SRV_SCAN_RULES_MAX /* commits whose rules are kept */
#define RULES_UNKNOWN_MS 5000        /* how long a commit the mirror lacked scans by defaults */

struct pipeline_rules {
    struct rules_key key; /* project_id 0: free */
    struct sl_scan *sc;   /* NULL: the commit has no rule file (the defaults scan) */
    int refs;             /* scans using SC now: it is freed by the last of them once evicted */
    uint64_t used;
    int64_t expires_ms; /* 0: never (the commit was read); else when to look again */
};

struct srv_log_tails {
    pthread_mutex_t mu;
    uint64_t clock;
    struct log_tail t[TAILS_MAX];
    struct pipeline_rules r[RULES_MAX];
    struct sl_srv_scan_stats stats; /* under MU */
};

void sl_srv_scan_init(struct sl_server *s)
{
    s->tails = sl_xcalloc(1, sizeof(*s->tails));
    pthread_mutex_init(&s->tails->mu, NULL);
}

void sl_srv_scan_stats(struct sl_server *s, struct sl_srv_scan_stats *out)
{
    *out = (struct sl_srv_scan_stats){0};
    if (!s->tails)
        return;
    pthread_mutex_lock(&s->tails->mu);
    *out = s->tails->stats;
    pthread_mutex_unlock(&s->tails->mu);
}

static void count(struct srv_log_tails *ts, uint64_t *counter)
{
    if (!ts)
        return;
    pthread_mutex_lock(&ts->mu);
    (*counter)++;
    pthread_mutex_unlock(&ts->mu);
}

void sl_srv_scan_free(struct sl_server *s)
{
    sl_scan_free(s->scan);
    s->scan = NULL;
    if (s->tails) {
        for (size_t i = 0; i < RULES_MAX; i++)
            sl_scan_free(s->tails->r[i].sc);
        pthread_mutex_destroy(&s->tails->mu);
        free(s->tails);
        s->tails = NULL;
    }
}

/* The server's default scanner, compiled at the first log chunk rather than at start:
 * compiling the embedded rules loads PCRE2 (about 500 KiB of its pages) and JIT-compiles
 * their regexes, none of which an idle server needs. Lock-free: two first chunks at once
 * may both compile, and the loser frees its copy. NULL when they cannot be compiled (out of
 * memory: logged, and tried again at the next chunk). */
static const struct sl_scan *default_scan(struct sl_server *s)
{
    struct sl_scan *sc = __atomic_load_n(&s->scan, __ATOMIC_ACQUIRE), *mine = NULL;
    if (sc)
        return sc;
    struct sl_error err = SL_ERROR_INIT;
    if (sl_scan_default(&mine, &err) < 0) {
        sl_log(SL_LOG_ERROR, "cannot compile the default secret rules: this chunk is not scanned",
               "error", sl_error_format(&err), NULL);
        sl_error_release(&err);
        return NULL;
    }
    if (__atomic_compare_exchange_n(&s->scan, &sc, mine, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return mine;
    sl_scan_free(mine); /* another thread's went in first: SC is it */
    return sc;
}

/* The rule file of COMMIT in the bare MIRROR, the first of sl_srv_scan_rule_files there, as a
 * scanner; NULL: none (or the mirror cannot be read: the defaults scan). *SEEN: whether the
 * mirror has the commit (what was found holds for good). */
static struct sl_scan *rules_at(const char *mirror, const char *commit, bool *seen)
{
    git_repository *repo = NULL;
    git_object *c = NULL;
    struct sl_scan *sc = NULL;
    *seen = false;
    git_libgit2_init();
    if (git_repository_open_bare(&repo, mirror) < 0 || git_revparse_single(&c, repo, commit) < 0 ||
        git_object_type(c) != GIT_OBJECT_COMMIT)
        goto out;
    *seen = true;
    for (size_t i = 0; i < SL_ARRAY_LEN(sl_srv_scan_rule_files); i++) {
        char spec[256];
        git_object *obj = NULL;
        snprintf(spec, sizeof(spec), "%s:%s", commit, sl_srv_scan_rule_files[i]);
        if (git_revparse_single(&obj, repo, spec) < 0)
            continue;
        if (git_object_type(obj) == GIT_OBJECT_BLOB) {
            const git_blob *b = (const git_blob *)obj;
            size_t len = (size_t)git_blob_rawsize(b);
            if (len <= SL_TOML_SIZE_MAX)
                sc = sl_srv_scan_rules(sl_srv_scan_rule_files[i], git_blob_rawcontent(b), len);
            else
                sl_log(SL_LOG_WARN,
                       "the project's secret rules are too big: the default rules scan", "file",
                       sl_srv_scan_rule_files[i], NULL);
        }
        git_object_free(obj);
        break;
    }
out:
    git_object_free(c);
    git_repository_free(repo);
    git_libgit2_shutdown();
    return sc;
}

static bool key_eq(const struct rules_key *a, const struct rules_key *b)
{
    return a->project_id == b->project_id && !strcmp(a->sha, b->sha);
}

/* The clock, read at the first need (*NOW 0: not yet): only a commit the mirror lacked has an
 * expiry to compare, and a clock read was a tenth of what a 4 KiB chunk's scan added. */
static int64_t now_of(int64_t *now)
{
    if (!*now)
        *now = sl_time_now_ms();
    return *now;
}

/* The slot of KEY in TS, with a reference taken; NULL when none (or it expired). Under MU. */
static struct pipeline_rules *slot_find(struct srv_log_tails *ts, const struct rules_key *key,
                                        int64_t *now_ms)
{
    for (size_t i = 0; i < RULES_MAX; i++) {
        struct pipeline_rules *r = &ts->r[i];
        if (r->key.project_id && key_eq(&r->key, key) &&
            (!r->expires_ms || now_of(now_ms) < r->expires_ms)) {
            r->refs++;
            r->used = ++ts->clock;
            return r;
        }
    }
    return NULL;
}

/* The scanner for JOB_ID's log (its pipeline's commit's rules; with a reference on its slot
 * *SLOT, or *OWN: a scanner the caller frees, when every slot is in use). Memory only when
 * the job's pipeline is known from the chunk before and its commit's rules are kept; else
 * the job and pipeline are read from the store, and the rule file from the project's mirror
 * when no pipeline of that commit logged lately. *KEY: the job's pipeline's (project_id 0
 * when unknown). */
static const struct sl_scan *rules_get(struct sl_server *s, int64_t job_id, int64_t pipeline_id,
                                       struct pipeline_rules **slot, struct sl_scan **own,
                                       struct rules_key *key)
{
    struct srv_log_tails *ts = s->tails;
    *slot = NULL;
    *own = NULL;
    memset(key, 0, sizeof(*key));
    if (!ts)
        return default_scan(s);
    int64_t now_ms = 0; /* read when needed: now_of() */
    pthread_mutex_lock(&ts->mu);
    for (size_t i = 0; i < TAILS_MAX && !key->project_id; i++)
        if (ts->t[i].job_id == job_id)
            *key = ts->t[i].key;
    if (key->project_id)
        *slot = slot_find(ts, key, &now_ms);
    pthread_mutex_unlock(&ts->mu);
    if (*slot)
        return (*slot)->sc ? (*slot)->sc : default_scan(s);

    struct sl_error err = SL_ERROR_INIT;
    if (!key->project_id) {
        struct sl_store_job j = {0};
        struct sl_store_pipeline p = {0};
        count(ts, &ts->stats.jobs_read);
        /* the job's pipeline as the caller knows it, else the job is read for it */
        if (!pipeline_id && sl_store_job_get(s->st, job_id, &j, &err) == 0)
            pipeline_id = j.pipeline_id;
        if (pipeline_id && sl_store_pipeline_get(s->st, pipeline_id, &p, &err) == 0 &&
            p.project_id > 0) {
            /* a pipeline without a commit has no rule file: kept as the project's "" key,
             * or every chunk of its jobs would look the job and pipeline up again */
            key->project_id = p.project_id;
            if (p.sha && strlen(p.sha) < sizeof(key->sha))
                snprintf(key->sha, sizeof(key->sha), "%s", p.sha);
        }
        sl_error_release(&err);
        sl_store_job_release(&j);
        sl_store_pipeline_release(&p);
        if (!key->project_id)
            return default_scan(s);
        pthread_mutex_lock(&ts->mu);
        *slot = slot_find(ts, key, &now_ms); /* another pipeline of the commit logged */
        pthread_mutex_unlock(&ts->mu);
        if (*slot)
            return (*slot)->sc ? (*slot)->sc : default_scan(s);
    }
    char mirror[4096];
    bool seen = !*key->sha;
    struct sl_scan *sc = NULL;
    snprintf(mirror, sizeof(mirror), "%s/repos/%" PRId64, s->data_dir, key->project_id);
    if (*key->sha)
        sc = rules_at(mirror, key->sha, &seen);
    pthread_mutex_lock(&ts->mu);
    ts->stats.rules_read += *key->sha != 0;
    struct pipeline_rules *free_slot = NULL;
    for (size_t i = 0; i < RULES_MAX && !*slot; i++) {
        struct pipeline_rules *r = &ts->r[i];
        if (r->key.project_id && key_eq(&r->key, key) &&
            (!r->expires_ms || now_of(&now_ms) < r->expires_ms))
            *slot = r; /* another chunk's scan loaded it meanwhile */
        else if (r->refs == 0 && (!free_slot || r->used < free_slot->used))
            free_slot = r;
    }
    if (!*slot && free_slot) {
        sl_scan_free(free_slot->sc);
        *free_slot = (struct pipeline_rules){
            .key = *key, .sc = sc, .expires_ms = seen ? 0 : now_of(&now_ms) + RULES_UNKNOWN_MS};
        *slot = free_slot;
        sc = NULL;
    }
    if (*slot) {
        (*slot)->refs++;
        (*slot)->used = ++ts->clock;
    }
    pthread_mutex_unlock(&ts->mu);
    if (*slot) {
        sl_scan_free(sc); /* NULL, or a copy another scan put in the slot first */
        return (*slot)->sc ? (*slot)->sc : default_scan(s);
    }
    *own = sc;
    return sc ? sc : default_scan(s);
}

static void rules_put(struct sl_server *s, struct pipeline_rules *slot, struct sl_scan *own)
{
    sl_scan_free(own);
    if (!slot)
        return;
    pthread_mutex_lock(&s->tails->mu);
    slot->refs--;
    pthread_mutex_unlock(&s->tails->mu);
}

static size_t rescan_from(const char *t, size_t n);

/* Adds to TEXT the log of JOB_ID's bytes [FROM, START) kept in memory, from the place in
 * them where a chunk's scan starts (rescan_from: only those are copied), its offset in *CUT,
 * and the log's newlines before START in *LINES (-1: not known); false when they are not kept
 * (kept for another end, or not at all). */
static bool tail_get(struct srv_log_tails *ts, int64_t job_id, int64_t from, int64_t start,
                     struct sl_str *text, size_t *cut, int64_t *lines)
{
    bool got = false;
    if (!ts)
        return false;
    pthread_mutex_lock(&ts->mu);
    for (size_t i = 0; i < TAILS_MAX; i++) {
        struct log_tail *t = &ts->t[i];
        if (t->job_id != job_id)
            continue;
        if (t->end == start && start - from <= (int64_t)t->len) {
            const char *before = t->buf + t->len - (size_t)(start - from);
            *cut = rescan_from(before, (size_t)(start - from));
            sl_str_add(text, before + *cut, (size_t)(start - from) - *cut);
            *lines = t->lines;
            t->used = ++ts->clock;
            got = true;
        }
        break;
    }
    pthread_mutex_unlock(&ts->mu);
    return got;
}

/* Keeps the end of JOB_ID's log, which is END long now with LINES newlines, for its next
 * chunk: the chunk DATA
 * (N bytes) added to what is kept when it continues that, else the last bytes of WHOLE
 * (WLEN bytes of the log up to END; DATA NULL: WHOLE only). Only forward (two appends of one
 * job racing: the later end wins). */
static void tail_put(struct srv_log_tails *ts, int64_t job_id, const struct rules_key *key,
                     int64_t end, int64_t lines, const char *data, size_t n, const char *whole,
                     size_t wlen)
{
    if (!ts)
        return;
    pthread_mutex_lock(&ts->mu);
    struct log_tail *t = NULL, *oldest = &ts->t[0];
    for (size_t i = 0; i < TAILS_MAX && !t; i++) {
        if (ts->t[i].job_id == job_id)
            t = &ts->t[i];
        else if (ts->t[i].used < oldest->used)
            oldest = &ts->t[i];
    }
    if (!t)
        t = oldest, t->job_id = job_id, t->end = -1, t->lines = -1, t->len = 0;
    t->key = *key;
    if (end > t->end) {
        if (data && n < SRV_SCAN_OVERLAP && t->end >= 0 && t->end == end - (int64_t)n) {
            if (t->len + n > sizeof(t->buf)) { /* slide: the overlap's worth before the chunk */
                size_t keep = SL_MIN(t->len, (size_t)SRV_SCAN_OVERLAP);
                memmove(t->buf, t->buf + t->len - keep, keep);
                t->len = keep;
            }
            memcpy(t->buf + t->len, data, n);
            t->len += n;
        } else {
            size_t k = SL_MIN(wlen, (size_t)SRV_SCAN_OVERLAP);
            memcpy(t->buf, whole + wlen - k, k);
            t->len = k;
        }
        t->end = end;
        t->lines = lines;
    }
    t->used = ++ts->clock;
    pthread_mutex_unlock(&ts->mu);
}

#define HITS_MAX                                                                                   \
    256 /* findings kept from one chunk (a log full of keys is not a store's worth)                \
         */

struct hits {
    struct sl_scan_finding f[HITS_MAX];
    size_t n;
    size_t skip_before; /* findings ending at or before this byte were found earlier */
};

static pthread_key_t hits_key;
static pthread_once_t hits_once = PTHREAD_ONCE_INIT;

static void hits_key_make(void)
{
    pthread_key_create(&hits_key, free);
}

/* A thread's hits, kept for its next chunk (hits_put): an 18 KiB malloc() and free() a chunk
 * were 4 % of scanning a 64 KiB one (malloc_consolidate). Taken out while in use, so a scan
 * within a scan would get its own. Not zeroed: N is set by the caller. */
static struct hits *hits_get(void)
{
    pthread_once(&hits_once, hits_key_make);
    struct hits *h = pthread_getspecific(hits_key);
    if (!h)
        return sl_xmalloc(sizeof(*h));
    pthread_setspecific(hits_key, NULL);
    return h;
}

static void hits_put(struct hits *h)
{
    if (pthread_getspecific(hits_key) || pthread_setspecific(hits_key, h))
        free(h);
}

static int on_hit(void *ctx, const struct sl_scan_finding *f)
{
    struct hits *h = ctx;
    if (f->end <= h->skip_before)
        return 0;
    h->f[h->n++] = *f;
    return h->n == HITS_MAX;
}

/* gitleaks' habit: a generic rule's finding of a secret a specific rule found as well is
 * dropped, the specific one says more */
#define GENERIC_RULE "generic-secret"

/* Of F[0..N), what is kept (moved to the front): the count */
static size_t drop_generic_overlaps(struct sl_scan_finding *fs, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        const struct sl_scan_finding *f = &fs[i];
        bool drop = false;
        for (size_t k = 0; k < n && !drop && !strcmp(f->rule_id, GENERIC_RULE); k++)
            drop =
                strcmp(fs[k].rule_id, GENERIC_RULE) && fs[k].start < f->end && f->start < fs[k].end;
        if (!drop)
            fs[kept++] = *f;
    }
    return kept;
}

/* One piece of the log scanned: TEXT[0..LEN), the log's bytes from BASE, findings that start
 * at or after START of it (a line's start), those ending at or before SKIP found before. */
struct piece {
    const char *text;
    size_t len, start, skip;
    int64_t base;
    int64_t first_line; /* the log's line of TEXT[0] (0: not known) */
    size_t from, n;     /* its findings in the hits: [FROM, FROM + N) */
    bool no_lines;      /* the chunk itself: the store numbers its findings' lines */
};

/* Scans P into H (after what H holds). False, with nothing added, when P's findings may
 * depend on the bytes after it (MORE: P's text goes on past its LEN). */
static bool scan_piece(const struct sl_scan *sc, struct piece *p, struct hits *h, bool cont)
{
    bool more = false;
    size_t before = h->n; /* findings go straight in after the earlier pieces' */
    h->skip_before = p->skip;
    sl_scan_text_part(sc, NULL, p->text, p->len, p->start, cont ? &more : NULL,
                      p->no_lines ? SL_SCAN_NO_LINES : 0, on_hit, h);
    if (more) {
        h->n = before;
        return false;
    }
    /* gitleaks' habit, within the piece (the pieces' findings lie on different lines) */
    p->from = before;
    p->n = drop_generic_overlaps(h->f + before, h->n - before);
    h->n = before + p->n;
    return true;
}

/* The log's line of P's byte 0 from the log's LINES newlines after P's end (which is the
 * log's end then): those before the last of P's findings (its line, counted by the scan) and
 * after it; 0 when P has no finding or LINES is not known. */
static int64_t first_line_at_end(const struct piece *p, const struct hits *h, int64_t lines)
{
    if (!p->n || lines < 0)
        return 0;
    const struct sl_scan_finding *last = &h->f[p->from];
    for (size_t i = p->from + 1; i < p->from + p->n; i++)
        if (h->f[i].start > last->start)
            last = &h->f[i];
    return lines - (int64_t)(last->line - 1) -
           (int64_t)sl_scan_newlines(p->text + last->start, p->len - last->start) + 1;
}

/* Records P's findings (in H) of job JOB_ID. */
static void record_piece(struct sl_server *s, int64_t job_id, const struct piece *p,
                         const struct hits *h)
{
    struct sl_error err = SL_ERROR_INIT;
    const struct sl_scan_finding *all = h->f + p->from;
    for (size_t i = 0; i < p->n; i++) {
        const struct sl_scan_finding *f = &all[i];
        char *ex = sl_scan_redact_among(p->text, f, all, p->n);
        struct sl_store_secret_finding row = {
            .job_id = job_id,
            .rule = (char *)f->rule_id,
            .line = p->first_line > 0 ? p->first_line + (int64_t)f->line - 1 : 0,
            .place = p->base + (int64_t)f->start,
            .excerpt = ex,
        };
        bool added = false;
        if (sl_store_secret_finding_add(s->st, &row, sl_time_now_ms(), &added, &err) < 0) {
            sl_log(SL_LOG_ERROR, "cannot record a secret finding", "error", sl_error_format(&err),
                   NULL);
        } else if (added) {
            char job[24], line[24];
            snprintf(job, sizeof(job), "%" PRId64, job_id);
            snprintf(line, sizeof(line), "%" PRId64, row.line);
            sl_log(SL_LOG_WARN, "secret found in a job log", "job_id", job, "rule", f->rule_id,
                   "line", line, NULL);
        }
        sl_error_release(&err);
        free(ex);
    }
}

/* Opens one store transaction for what N findings of a chunk write (one commit instead of N);
 * false when none was opened (one finding, or this thread is in a transaction already: its
 * writes go in that one). */
static bool findings_begin(struct sl_server *s, size_t n)
{
    struct sl_error err = SL_ERROR_INIT;
    bool open = n > 1 && sl_store_tx_begin(s->st, 0, &err) == 0;
    sl_error_release(&err);
    return open;
}

static void findings_end(struct sl_server *s, bool open)
{
    struct sl_error err = SL_ERROR_INIT;
    if (open && sl_store_tx_end(s->st, 0, &err) < 0)
        sl_log(SL_LOG_ERROR, "cannot record a chunk's secret findings", "error",
               sl_error_format(&err), NULL);
    sl_error_release(&err);
}

/* Scans TEXT (LEN bytes, the log's bytes from BASE, ending where the log ends, which has
 * LINES newlines then: -1 when not known) of job JOB_ID and records what is found after byte
 * SKIP of it. */
static void scan_region(struct sl_server *s, const struct sl_scan *sc, int64_t job_id,
                        const char *text, size_t len, int64_t base, size_t skip, int64_t lines)
{
    struct hits *h = sl_xmalloc(sizeof(*h)); /* 18 KiB: zeroing it cost more than a 4 KiB scan */
    h->n = 0;
    struct piece p = {.text = text, .len = len, .skip = skip, .base = base};
    scan_piece(sc, &p, h, false);
    p.first_line = first_line_at_end(&p, h, lines);
    bool tx = findings_begin(s, h->n);
    record_piece(s, job_id, &p, h);
    findings_end(s, tx);
    free(h);
}

/* A chunk (DATA, LEN bytes, the log's bytes from BASE to its end, which has LINES newlines
 * then, LINES_BEFORE before the chunk: -1 when not known) that continues CARRIED (CLEN bytes, a
 * line's start up to the chunk, of which the first SKIP were scanned with the chunk before),
 * scanned without copying the chunk: the carried bytes and the chunk's first line (the line they
 * continue) in one text, then the chunk from its second line where it is. The findings are those of
 * the two joined, as long as nothing found on the joint lines may go on into the chunk's next ones
 * (a private key begun there, a rule without keywords): then false, nothing recorded, and the
 * caller scans the two joined. TEXT is the carried bytes, to which the chunk's first line is added.
 */
static bool scan_split(struct sl_server *s, const struct sl_scan *sc, int64_t job_id,
                       struct sl_str *text, size_t skip, int64_t text_base, const char *data,
                       size_t len, int64_t base, int64_t lines, int64_t lines_before)
{
    const char *nl = memchr(data, '\n', len);
    if (!nl || nl + 1 == data + len)
        return false;
    size_t first = (size_t)(nl + 1 - data), clen = text->len;
    sl_str_add(text, data, first);
    struct hits *h = sl_xmalloc(sizeof(*h));
    h->n = 0;
    struct piece joint = {.text = text->buf, .len = text->len, .skip = skip, .base = text_base};
    struct piece rest = {.text = data, .len = len, .start = first, .base = base};
    bool ok = scan_piece(sc, &joint, h, true);
    if (ok) {
        scan_piece(sc, &rest, h, false);
        /* the log's line of the chunk's byte 0: from the count kept with the tail, else from
         * the chunk's last finding and the newlines after it, else from the chunk's count */
        int64_t chunk_line = lines < 0           ? 0
                             : lines_before >= 0 ? lines_before + 1
                             : rest.n            ? first_line_at_end(&rest, h, lines)
                                                 : lines - (int64_t)sl_scan_newlines(data, len) + 1;
        rest.first_line = chunk_line;
        joint.first_line =
            chunk_line > 0 ? chunk_line - (int64_t)sl_scan_newlines(text->buf, clen) : 0;
        bool tx = findings_begin(s, h->n);
        record_piece(s, job_id, &joint, h);
        record_piece(s, job_id, &rest, h);
        findings_end(s, tx);
    }
    sl_str_truncate(text, clen); /* the caller's carried bytes as they were */
    free(h);
    return ok;
}

/* Where in the earlier bytes T[0..N) scanning must start again so that a secret cut by the
 * chunk boundary is found whole: the start of the line the boundary cut (at most
 * LINE_BACK_MAX back: single-line secrets are far shorter), or of the last PEM block begun
 * there (the one kind of secret that spans lines). Scanning all of them would cost the chunk's
 * scan again for small chunks (a runner's 4 KiB PATCHes) for nothing. */
#define LINE_BACK_MAX 1024

static const char pem_begin[] = "-----BEGIN";
#define PEM_BEGIN_LEN (sizeof(pem_begin) - 1)

/* The last "-----BEGIN" wholly in T[0..N), NULL: none. Looked for from the end by its "-B"
 * (bytes 4-5), 16 places a step on x86-64: a build log has a 'B' every 200 bytes or so, and
 * a memrchr() per 'B' then a compare was most of what an 8 KiB tail's look cost. */
static const char *last_pem_begin(const char *t, size_t n)
{
    if (n < PEM_BEGIN_LEN)
        return NULL;
    size_t o = n - PEM_BEGIN_LEN + 1; /* the starts [0, o) are left to look at */
#if defined(__x86_64__)
    const __m128i dash = _mm_set1_epi8('-'), b = _mm_set1_epi8('B');
    while (o >= 64) { /* the starts [o - 64, o), one branch for them */
        size_t w = o - 64;
        uint64_t m = 0;
        for (int k = 0; k < 4; k++) {
            __m128i x = _mm_loadu_si128((const __m128i *)(t + w + 16 * k + 4));
            __m128i y = _mm_loadu_si128((const __m128i *)(t + w + 16 * k + 5));
            m |= (uint64_t)(unsigned)_mm_movemask_epi8(
                     _mm_and_si128(_mm_cmpeq_epi8(x, dash), _mm_cmpeq_epi8(y, b)))
                 << (16 * k);
        }
        while (m) {
            unsigned bit = 63u - (unsigned)__builtin_clzll(m);
            if (!memcmp(t + w + bit, pem_begin, PEM_BEGIN_LEN))
                return t + w + bit;
            m &= ~((uint64_t)1 << bit);
        }
        o = w;
    }
    while (o >= 16) { /* the starts [o - 16, o): bytes up to o + 4 < n read */
        size_t w = o - 16;
        __m128i x = _mm_loadu_si128((const __m128i *)(t + w + 4));
        __m128i y = _mm_loadu_si128((const __m128i *)(t + w + 5));
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_and_si128(_mm_cmpeq_epi8(x, dash), _mm_cmpeq_epi8(y, b)));
        while (m) {
            unsigned bit = 31u - (unsigned)__builtin_clz(m);
            if (!memcmp(t + w + bit, pem_begin, PEM_BEGIN_LEN))
                return t + w + bit;
            m &= ~(1u << bit);
        }
        o = w;
    }
#endif
    while (o > 0) {
        o--;
        if (t[o + 5] == 'B' && !memcmp(t + o, pem_begin, PEM_BEGIN_LEN))
            return t + o;
    }
    return NULL;
}

static size_t rescan_from(const char *t, size_t n)
{
    const char *open = last_pem_begin(t, n);
    if (open) {
        /* the key a boundary cuts began at the last BEGIN before it (an END after that one
         * proves nothing: a job echoes its commands, `printf -----END...` included) */
        const char *nl = open > t ? memrchr(t, '\n', (size_t)(open - t)) : NULL;
        return nl ? (size_t)(nl + 1 - t) : 0;
    }
    /* the start of the last line, at most LINE_BACK_MAX back */
    size_t lo = n > LINE_BACK_MAX ? n - LINE_BACK_MAX : 0;
    const char *nl = n > lo ? memrchr(t + lo, '\n', n - lo) : NULL;
    return nl ? (size_t)(nl + 1 - t) : lo;
}

/* A chunk at least this long that continues a kept tail is scanned where it is, only its
 * first line copied after the tail's bytes (a smaller one is copied: two scans cost more) */
#define SPLIT_MIN (16u << 10)

/* The chunk appended, then scanned (with the log's end kept or read back) and its findings
 * recorded: the way before findings went into the append's transaction, and its fallback. */
static int append_then_scan(struct sl_server *s, int64_t job_id, int64_t pipeline_id,
                            const void *data, size_t len, int64_t now, int64_t *end_out,
                            struct sl_error *err)
{
    int64_t end = 0, lines = -1, lines_before = -1; /* before the chunk: kept with the tail */
    /* the log's newlines after the append, from the count the store makes for its line
     * index: a finding's line without a query (a restart loses nothing, the store has it) */
    int rc = sl_store_log_append_lines(s->st, job_id, data, len, now, &end, &lines, err);
    if (end_out && (rc == 0 || rc == SL_ELIMIT))
        *end_out = end;
    if ((rc < 0 && rc != SL_ELIMIT) || end <= 0 || !default_scan(s))
        return rc;
    struct sl_error serr = SL_ERROR_INIT;
    struct sl_str text = SL_STR_INIT;
    int64_t start = rc == 0 ? end - (int64_t)len : -1, from, next = 0;
    /* what is scanned: SCAN[0..SCAN_LEN), the log's bytes from FROM + CUT, findings that end
     * before SKIP in it found with the chunk before */
    const char *scan = NULL;
    size_t scan_len = 0, cut = 0, skip = 0;
    bool split = false;       /* SCAN is the tail's bytes alone: the chunk is scanned where it is */
    const char *whole = NULL; /* the log's last bytes up to END when read back: WHOLE_LEN */
    size_t whole_len = 0;
    if (rc == 0) {
        /* the chunk in memory, the bytes before it kept by the tail or read from the store */
        from = start > SRV_SCAN_OVERLAP ? start - SRV_SCAN_OVERLAP : 0;
        if (from < start && !tail_get(s->tails, job_id, from, start, &text, &cut, &lines_before)) {
            count(s->tails, s->tails ? &s->tails->stats.tails_read_back : NULL);
            if (sl_store_log_read(s->st, job_id, from, (size_t)(start - from), &text, &next,
                                  &serr) < 0)
                goto fail;
            if ((int64_t)text.len != start - from) { /* the log is not what it was: the chunk */
                sl_str_reset(&text);
                from = start;
            }
            cut = rescan_from(text.buf ? text.buf : "", text.len);
            sl_str_add(&text, data, len);
            whole = text.buf, whole_len = text.len;
            scan = text.buf + cut, scan_len = text.len - cut;
        } else if (text.len) { /* the tail's bytes from CUT, then the chunk */
            split = len >= SPLIT_MIN;
            if (!split)
                sl_str_add(&text, data, len);
            scan = text.buf, scan_len = text.len;
        } else { /* nothing before the chunk to scan again: the chunk where it is */
            cut = (size_t)(start - from);
            scan = data, scan_len = len;
        }
        skip = (size_t)(start - from) - cut;
    } else {
        /* at the cap only part of the chunk was kept (and a note after it): what the log
         * now ends with is read back */
        from = end > (int64_t)len + SRV_SCAN_OVERLAP ? end - (int64_t)len - SRV_SCAN_OVERLAP : 0;
        if (sl_store_log_read(s->st, job_id, from, (size_t)(end - from), &text, &next, &serr) < 0)
            goto fail;
        start = from;
        whole = text.buf, whole_len = text.len;
        scan = text.buf, scan_len = text.len;
    }
    struct pipeline_rules *slot;
    struct sl_scan *own;
    struct rules_key key;
    const struct sl_scan *sc = rules_get(s, job_id, pipeline_id, &slot, &own, &key);
    /* the chunk's end is the log's end (a capped log gets no more); what was read back is
     * kept whole, a chunk after the tail is added to it */
    if (whole_len)
        tail_put(s->tails, job_id, &key, end, lines, NULL, 0, whole, whole_len);
    else if (rc == 0 && len)
        tail_put(s->tails, job_id, &key, end, lines, data, len, data, len);
    if (split && !scan_split(s, sc, job_id, &text, skip, from + (int64_t)cut, data, len, start,
                             lines, lines_before)) {
        sl_str_add(&text, data, len); /* the joint lines may go on into the chunk: joined */
        split = false;
        scan = text.buf, scan_len = text.len;
    }
    if (!split)
        scan_region(s, sc, job_id, scan ? scan : "", scan_len, from + (int64_t)cut, skip, lines);
    rules_put(s, slot, own);
    goto out;
fail:
    sl_log(SL_LOG_WARN, "cannot scan a log chunk for secrets", "error", sl_error_format(&serr),
           NULL);
out:
    sl_str_release(&text);
    sl_error_release(&serr);
    return rc;
}

/* The log's bytes before JOB_ID's next chunk that the chunk is scanned again with, added to
 * CARRIED (from rescan_from's cut: a line's start, or an open PEM block's), and the log's
 * length *END, which the chunk's findings then hold for: from the tail kept in memory, else
 * the store's (the log read back; WHOLE gets the bytes read, for the tail to keep). False
 * when they cannot be had (the store failed: logged, the chunk goes the way that reads the
 * log in its transaction). ROOM: the bytes CARRIED is to take after them (the chunk, when it is
 * joined to them), allocated with them at once. */
static bool before_chunk(struct sl_server *s, int64_t job_id, struct sl_str *carried,
                         struct sl_str *whole, int64_t *end, size_t room)
{
    struct srv_log_tails *ts = s->tails;
    int kept = 0; /* 1: the tail's bytes, -1: a tail too short to use */
    pthread_mutex_lock(&ts->mu);
    for (size_t i = 0; i < TAILS_MAX; i++) {
        struct log_tail *t = &ts->t[i];
        if (t->job_id != job_id)
            continue;
        int64_t from = t->end > SRV_SCAN_OVERLAP ? t->end - SRV_SCAN_OVERLAP : 0;
        kept = -1;
        if (t->end >= 0 && t->end - from <= (int64_t)t->len) {
            size_t n = (size_t)(t->end - from);
            const char *before = t->buf + t->len - n;
            size_t cut = rescan_from(before, n);
            if (n > cut)
                sl_str_grow(carried, n - cut + room);
            sl_str_add(carried, before + cut, n - cut);
            *end = t->end;
            t->used = ++ts->clock;
            kept = 1;
        }
        break;
    }
    pthread_mutex_unlock(&ts->mu);
    if (kept == 1)
        return true;
    struct sl_error err = SL_ERROR_INIT;
    int64_t size = 0, from = 0, next = 0;
    bool ok = sl_store_log_size(s->st, job_id, &size, &err) == 0; /* a job's first chunk: 0 */
    if (ok && size > 0) {
        count(ts, &ts->stats.tails_read_back);
        from = size > SRV_SCAN_OVERLAP ? size - SRV_SCAN_OVERLAP : 0;
        ok = sl_store_log_read(s->st, job_id, from, (size_t)(size - from), whole, &next, &err) == 0;
        /* a log growing meanwhile: the append finds it longer than SIZE and goes the other way */
    }
    if (!ok)
        sl_log(SL_LOG_WARN, "cannot read a log's end to scan its next chunk", "error",
               sl_error_format(&err), NULL);
    sl_error_release(&err);
    if (ok && whole->len) {
        size_t cut = rescan_from(whole->buf, whole->len);
        sl_str_add(carried, whole->buf + cut, whole->len - cut);
    }
    *end = from + (int64_t)whole->len;
    return ok;
}

/* The findings of P (in H) as rows for sl_store_log_append_findings (places and lines against
 * the chunk: P's text starts at the chunk's byte P->base, on its line P->first_line; the store
 * numbers the lines of those in the chunk, P->no_lines: not counted), added to ROWS[*N...]. */
static void rows_of_piece(const struct piece *p, const struct hits *h,
                          struct sl_store_secret_finding *rows, size_t *n)
{
    const struct sl_scan_finding *all = h->f + p->from;
    for (size_t i = 0; i < p->n; i++)
        rows[(*n)++] = (struct sl_store_secret_finding){
            .rule = (char *)all[i].rule_id,
            .line = p->no_lines ? 0 : p->first_line + (int64_t)all[i].line - 1,
            .place = p->base + (int64_t)all[i].start,
            .excerpt = sl_scan_redact_among(p->text, &all[i], all, p->n),
        };
}

/* Scans the chunk DATA (LEN bytes) after CARRIED (the log's bytes before it from where it is
 * scanned again, all of them scanned with the chunk before) into rows against the chunk
 * (*ROWS_OUT, the caller frees; NULL when nothing is found: a chunk without findings allocates
 * none), their count answered, as the old joined scan would: the chunk where it is when it is long
 * and the carried line's findings cannot go on past the chunk's first line (scan_split), else the
 * two joined. */
static size_t scan_chunk(const struct sl_scan *sc, struct sl_str *carried, const char *data,
                         size_t len, struct sl_store_secret_finding **rows_out)
{
    struct sl_store_secret_finding *rows = NULL;
    struct hits *h = hits_get(); /* 18 KiB: zeroing it cost more than a 4 KiB scan */
    size_t clen = carried->len, n = 0;
    int64_t carried_line = 1 - (int64_t)sl_scan_newlines(carried->buf ? carried->buf : "", clen);
    h->n = 0;
    if (!clen) { /* nothing to scan again: the chunk where it is */
        struct piece p = {.text = data, .len = len, .first_line = 1, .no_lines = true};
        scan_piece(sc, &p, h, false);
        rows = *rows_out = h->n ? sl_xmalloc(h->n * sizeof(*rows)) : NULL;
        rows_of_piece(&p, h, rows, &n);
        hits_put(h);
        return n;
    }
    const char *nl = len >= SPLIT_MIN ? memchr(data, '\n', len) : NULL;
    if (nl && nl + 1 < data + len) {
        size_t first = (size_t)(nl + 1 - data);
        sl_str_add(carried, data, first);
        struct piece joint = {.text = carried->buf,
                              .len = carried->len,
                              .skip = clen,
                              .base = -(int64_t)clen,
                              .first_line = carried_line};
        struct piece rest = {
            .text = data, .len = len, .start = first, .first_line = 1, .no_lines = true};
        if (scan_piece(sc, &joint, h, true)) {
            scan_piece(sc, &rest, h, false);
            rows = *rows_out = h->n ? sl_xmalloc(h->n * sizeof(*rows)) : NULL;
            rows_of_piece(&joint, h, rows, &n);
            rows_of_piece(&rest, h, rows, &n);
            sl_str_truncate(carried, clen);
            hits_put(h);
            return n;
        }
        sl_str_truncate(carried, clen); /* the joint lines may go on into the chunk: joined */
    }
    sl_str_add(carried, data, len);
    struct piece p = {.text = carried->buf,
                      .len = carried->len,
                      .skip = clen,
                      .base = -(int64_t)clen,
                      .first_line = carried_line};
    scan_piece(sc, &p, h, false);
    rows = *rows_out = h->n ? sl_xmalloc(h->n * sizeof(*rows)) : NULL;
    rows_of_piece(&p, h, rows, &n);
    sl_str_truncate(carried, clen);
    hits_put(h);
    return n;
}

/* The chunk appended, then scanned with the log's end read in the same store transaction
 * (which holds the store's write lock over the scan): for a chunk whose scan before the
 * append was made for another log than the append found (two appends of one job racing,
 * another server's), or that the log's cap cuts. */
static int append_in_tx(struct sl_server *s, int64_t job_id, int64_t pipeline_id, const void *data,
                        size_t len, int64_t now, int64_t *end_out, struct sl_error *err)
{
    struct sl_error terr = SL_ERROR_INIT;
    bool tx = sl_store_tx_begin(s->st, 0, &terr) == 0; /* else this thread's is open: in it */
    sl_error_release(&terr);
    int rc = append_then_scan(s, job_id, pipeline_id, data, len, now, end_out, err);
    if (tx) {
        bool stored = rc == 0 || rc == SL_ELIMIT; /* at the cap: what fitted and the note */
        int r = sl_store_tx_end(s->st, stored ? 0 : rc, stored ? err : NULL);
        if (stored && r < 0)
            rc = r;
    }
    return rc;
}

int sl_srv_log_append(struct sl_server *s, int64_t job_id, int64_t pipeline_id, const void *data,
                      size_t len, int64_t now, int64_t *end_out, struct sl_error *err)
{
    const struct sl_scan *dsc = default_scan(s);
    if (!dsc || !s->tails || !len)
        return append_then_scan(s, job_id, pipeline_id, data, len, now, end_out, err);
    /* scanned first, against the log's end as it is kept (or read), outside the store's write
     * lock; then one transaction appends the chunk and records its findings, provided the log
     * still ends there */
    struct sl_str carried = SL_STR_INIT, whole = SL_STR_INIT;
    int64_t expect = 0, end = 0, lines = -1;
    /* the carried bytes get room for what scan_chunk adds to them: the chunk, or its first
     * line when it is scanned where it is (a realloc of them a chunk otherwise) */
    size_t room = len;
    if (len >= SPLIT_MIN) {
        const char *nl = memchr(data, '\n', len);
        room = nl ? (size_t)(nl + 1 - (const char *)data) : len;
    }
    if (!before_chunk(s, job_id, &carried, &whole, &expect, room)) {
        sl_str_release(&carried);
        sl_str_release(&whole);
        return append_in_tx(s, job_id, pipeline_id, data, len, now, end_out, err);
    }
    struct pipeline_rules *slot;
    struct sl_scan *own;
    struct rules_key key;
    const struct sl_scan *sc = rules_get(s, job_id, pipeline_id, &slot, &own, &key);
    struct sl_store_secret_finding *rows = NULL; /* allocated when there are findings */
    bool added[HITS_MAX];
    size_t n = scan_chunk(sc, &carried, data, len, &rows), failed = 0;
    int rc = sl_store_log_append_findings(s->st, job_id, data, len, now, expect, rows, n, added,
                                          &failed, &end, &lines, err);
    if (rc == 0) {
        if (end_out)
            *end_out = end;
        /* the log's end for the next chunk: the chunk after the tail kept, or what was read */
        if (whole.len && len < SRV_SCAN_OVERLAP) {
            sl_str_add(&whole, data, len);
            tail_put(s->tails, job_id, &key, end, lines, NULL, 0, whole.buf, whole.len);
        } else {
            tail_put(s->tails, job_id, &key, end, lines, data, len, data, len);
        }
        for (size_t i = 0; i < n; i++) {
            if (!added[i])
                continue;
            char jobs[24], line[24];
            snprintf(jobs, sizeof(jobs), "%" PRId64, job_id);
            snprintf(line, sizeof(line), "%" PRId64, rows[i].line); /* the log's now */
            sl_log(SL_LOG_WARN, "secret found in a job log", "job_id", jobs, "rule", rows[i].rule,
                   "line", line, NULL);
        }
        if (failed)
            sl_log(SL_LOG_ERROR, "cannot record a secret finding: the store refused it", NULL);
    }
    for (size_t i = 0; i < n; i++)
        free(rows[i].excerpt);
    free(rows);
    rules_put(s, slot, own);
    sl_str_release(&carried);
    sl_str_release(&whole);
    if (rc == SL_EBUSY) { /* the log does not end where it was scanned against, or is capped */
        sl_error_release(err);
        rc = append_in_tx(s, job_id, pipeline_id, data, len, now, end_out, err);
    }
    return rc;
}

bool sl_srv_secret_fails_job(struct sl_server *s, int64_t pipeline_id, int64_t project_id,
                             int64_t job_id)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store_pipeline p = {0};
    char *policy = NULL;
    int64_t n = 0;
    bool fails = false;
    if (!project_id && sl_store_pipeline_get(s->st, pipeline_id, &p, &err) == 0)
        project_id = p.project_id;
    if (err.code || sl_store_secret_policy_get(s->st, project_id, &policy, &err) < 0)
        goto out;
    if (strcmp(policy, "fail") != 0 && strcmp(policy, "refuse") != 0)
        goto out;
    if (sl_store_secret_finding_count(s->st, pipeline_id, job_id, &n, &err) < 0)
        goto out;
    fails = n > 0;
out:
    if (err.code)
        sl_log(SL_LOG_ERROR, "cannot read the secret detection policy: the job ends as it did",
               "error", sl_error_format(&err), NULL);
    sl_error_release(&err);
    sl_store_pipeline_release(&p);
    free(policy);
    return fails;
}

/* ---- GET /api/v1/projects/{id}/secret_findings ---- */

static json_t *finding_json(const struct sl_store_secret_finding *f)
{
    json_t *o = json_pack("{s:I,s:s,s:s,s:I,s:s}", "id", (json_int_t)f->id, "source",
                          f->job_id > 0 ? "log" : "push", "rule", f->rule, "line",
                          (json_int_t)f->line, "excerpt", f->excerpt);
    json_object_set_new(o, "pipeline_id",
                        f->pipeline_id ? json_integer(f->pipeline_id) : json_null());
    json_object_set_new(o, "job_id", f->job_id ? json_integer(f->job_id) : json_null());
    json_object_set_new(o, "commit", *f->commit_sha ? json_string(f->commit_sha) : json_null());
    json_object_set_new(o, "file", *f->file ? json_string(f->file) : json_null());
    json_object_set_new(o, "created_at", sl_srv_time_json(f->created_at));
    return o;
}

void sl_h_secret_finding_list(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store_project proj = {0};
    struct sl_store_secret_finding *fs = NULL;
    struct sl_store_page page;
    size_t n = 0;
    if (!sl_srv_page_args(r, &page))
        return;
    page.status = sl_query_arg(r, "source");
    if (page.status && strcmp(page.status, "log") != 0 && strcmp(page.status, "push") != 0) {
        sl_reply_error(r, 400, "invalid", "source must be log or push");
        return;
    }
    int rc = sl_store_project_get(r->s->st, r->id, &proj, &err);
    if (rc == 0)
        rc = sl_store_secret_finding_list(r->s->st, r->id, &page, &fs, &n, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, finding_json(&fs[i]));
        sl_reply_json(r, 200, a);
    }
    sl_store_secret_findings_free(fs, n);
    sl_store_project_release(&proj);
    sl_error_release(&err);
}

/* ---- GET/PUT /api/v1/projects/{id}/secret_detection ---- */

static void reply_policy(struct req *r, int status)
{
    struct sl_error err = SL_ERROR_INIT;
    char *policy = NULL;
    int rc = sl_store_secret_policy_get(r->s->st, r->id, &policy, &err);
    if (rc < 0)
        sl_reply_sl_error(r, rc, &err);
    else
        sl_reply_json(r, status, json_pack("{s:s}", "policy", policy));
    free(policy);
    sl_error_release(&err);
}

void sl_h_secret_policy_get(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store_project proj = {0};
    int rc = sl_store_project_get(r->s->st, r->id, &proj, &err);
    if (rc < 0)
        sl_reply_sl_error(r, rc, &err);
    else
        reply_policy(r, 200);
    sl_store_project_release(&proj);
    sl_error_release(&err);
}

void sl_h_secret_policy_put(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store_project proj = {0};
    json_t *b = sl_body_json(r);
    if (!b)
        return;
    const char *policy = json_string_value(json_object_get(b, "policy"));
    int rc = sl_store_project_get(r->s->st, r->id, &proj, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
        goto out;
    }
    if (!policy ||
        (strcmp(policy, "report") && strcmp(policy, "fail") && strcmp(policy, "refuse"))) {
        sl_reply_error(r, 400, "invalid", "policy must be report, fail or refuse");
        goto out;
    }
    if ((rc = sl_store_secret_policy_set(r->s->st, r->id, policy, sl_time_now_ms(), &err)) < 0) {
        sl_reply_sl_error(r, rc, &err);
        goto out;
    }
    sl_srv_audit_on(r, "secret_detection.update", "project", r->id);
    reply_policy(r, 200);
out:
    json_decref(b);
    sl_store_project_release(&proj);
    sl_error_release(&err);
}
