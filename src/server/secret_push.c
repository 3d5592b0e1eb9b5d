/* secret_push.c: a push's new commits scanned for secrets (secret_scan.c has the logs).
 *
 * What is new: the commits from the pushed commit back to the one this server last saw on
 * the branch (the store's project ref), or, for a branch it has not seen, back to the
 * default branch; at most PUSH_COMMITS_MAX of them and PUSH_BYTES_MAX of added text, so a
 * push of a whole history costs bounded time (what is left out is logged). Of each commit
 * only the lines its diff against its first parent adds are scanned, file by file, with the
 * file's path (rules with a `path`, path allowlists) and each line's number in the new file.
 * The rules are the defaults extended by the pushed commit's own `.sluice/secret-rules.toml`
 * or `.gitleaks.toml` (gitleaks' [extend] and [allowlist]); a rule file that does not load is
 * logged and the defaults are used, so a broken file cannot switch scanning off. */
#include "base/compat.h"
#include <inttypes.h>
#include "base/alloc.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "scan/scan.h"
#include "scan/toml.h"
#include "server/internal.h"

#include <git2.h>

#define PUSH_COMMITS_MAX 100
#define PUSH_BYTES_MAX (32u << 20)
#define PUSH_FILE_MAX (1u << 20) /* a bigger file is treated as binary (not scanned) */
#define PUSH_FINDINGS_MAX 500

void sl_srv_push_findings_release(struct srv_push_findings *pf)
{
    sl_store_secret_findings_free(pf->f, pf->n);
    *pf = (struct srv_push_findings){0};
}

const char *const sl_srv_scan_rule_files[2] = {".sluice/secret-rules.toml", ".gitleaks.toml"};

struct sl_scan *sl_srv_scan_rules(const char *name, const char *text, size_t len)
{
    struct sl_scan *sc = NULL;
    struct sl_error err = SL_ERROR_INIT;
    if (sl_scan_default(&sc, &err) < 0) { /* the embedded rules (they compile: tests/cases/scan) */
        sl_error_release(&err);
        return NULL;
    }
    if (text && sl_scan_extend(sc, text, len, name, &err) < 0) {
        /* extend may have dropped the defaults before it failed: start again from them */
        sl_log(SL_LOG_WARN, "the project's secret rules do not load: the default rules scan",
               "file", name, "error", sl_error_format(&err), NULL);
        sl_scan_free(sc);
        sc = NULL;
        sl_scan_default(&sc, NULL);
    }
    sl_error_release(&err);
    return sc;
}

/* The project's rules: the defaults, extended by the commit's rule file (in TREE). */
static struct sl_scan *project_rules(const char *tree)
{
    struct sl_error err = SL_ERROR_INIT;
    for (size_t i = 0; tree && i < SL_ARRAY_LEN(sl_srv_scan_rule_files); i++) {
        const char *file = sl_srv_scan_rule_files[i];
        char *text = NULL;
        size_t len = 0;
        int rc = sl_fs_read_within(tree, file, SL_TOML_SIZE_MAX, &text, &len, &err);
        if (rc == SL_ENOENT) {
            sl_error_release(&err);
            continue;
        }
        if (rc < 0)
            sl_log(SL_LOG_WARN, "the project's secret rules do not load: the default rules scan",
                   "file", file, "error", sl_error_format(&err), NULL);
        sl_error_release(&err);
        struct sl_scan *sc = sl_srv_scan_rules(file, text, len); /* text NULL: defaults */
        free(text);
        return sc; /* the first that exists is the project's, as gitleaks reads one */
    }
    return sl_srv_scan_rules(NULL, NULL, 0);
}

/* One file's added lines, gathered from the diff. */
struct added {
    struct sl_server *s;
    const struct sl_scan *sc;
    const char *commit;
    char path[4096];
    struct sl_str text;
    int64_t *lines; /* the new file's line of each line of TEXT */
    size_t nlines, cap;
    size_t bytes; /* of the whole push so far */
    bool full;
    struct srv_push_findings *out;
};

struct file_hits {
    struct sl_scan_finding f[64];
    size_t n;
};

static int on_file_hit(void *ctx, const struct sl_scan_finding *f)
{
    struct file_hits *h = ctx;
    h->f[h->n++] = *f;
    return h->n == SL_ARRAY_LEN(h->f);
}

static void flush_file(struct added *a)
{
    if (a->text.len == 0)
        return;
    struct file_hits *h = sl_xcalloc(1, sizeof(*h));
    sl_scan_text(a->sc, a->path, a->text.buf, a->text.len, on_file_hit, h);
    for (size_t i = 0; i < h->n && a->out->n < PUSH_FINDINGS_MAX; i++) {
        const struct sl_scan_finding *f = &h->f[i];
        bool generic = !strcmp(f->rule_id, "generic-secret"), covered = false;
        for (size_t k = 0; generic && k < h->n && !covered; k++)
            covered = strcmp(h->f[k].rule_id, "generic-secret") && h->f[k].start < f->end &&
                      f->start < h->f[k].end;
        if (covered)
            continue;
        a->out->f = sl_xrealloc(a->out->f, (a->out->n + 1) * sizeof(*a->out->f));
        struct sl_store_secret_finding *row = &a->out->f[a->out->n++];
        *row = (struct sl_store_secret_finding){
            .commit_sha = sl_xstrdup(a->commit),
            .file = sl_xstrdup(a->path),
            .rule = sl_xstrdup(f->rule_id),
            .line = f->line <= a->nlines ? a->lines[f->line - 1] : 0,
            .place = (int64_t)(f->start - f->line_start),
            .excerpt = sl_scan_redact_among(a->text.buf, f, h->f, h->n),
        };
    }
    free(h);
    sl_str_reset(&a->text);
    a->nlines = 0;
}

static int on_line(const git_diff_delta *d, const git_diff_hunk *hunk, const git_diff_line *l,
                   void *payload)
{
    (void)hunk;
    struct added *a = payload;
    if (l->origin != GIT_DIFF_LINE_ADDITION || a->full)
        return 0;
    const char *path = d->new_file.path ? d->new_file.path : "";
    if (strcmp(path, a->path) != 0) {
        flush_file(a);
        snprintf(a->path, sizeof(a->path), "%s", path);
    }
    if (a->bytes + l->content_len > PUSH_BYTES_MAX) {
        a->full = true;
        return 0;
    }
    a->bytes += l->content_len;
    size_t n = l->content_len;
    if (n && l->content[n - 1] == '\n')
        n--;
    sl_str_add(&a->text, l->content, n);
    sl_str_addc(&a->text, '\n');
    if (a->nlines == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 256;
        a->lines = sl_xrealloc(a->lines, a->cap * sizeof(*a->lines));
    }
    a->lines[a->nlines++] = l->new_lineno;
    return 0;
}

static int scan_commit(git_repository *repo, const git_oid *oid, struct added *a)
{
    git_commit *c = NULL, *parent = NULL;
    git_tree *tree = NULL, *ptree = NULL;
    git_diff *diff = NULL;
    char hex[GIT_OID_HEXSZ + 1];
    int rc = -1;
    git_oid_tostr(hex, sizeof(hex), oid);
    a->commit = hex;
    if (git_commit_lookup(&c, repo, oid) < 0 || git_commit_tree(&tree, c) < 0)
        goto out;
    if (git_commit_parentcount(c) > 0 &&
        (git_commit_parent(&parent, c, 0) < 0 || git_commit_tree(&ptree, parent) < 0))
        goto out;
    git_diff_options o;
    git_diff_options_init(&o, GIT_DIFF_OPTIONS_VERSION);
    o.context_lines = 0;
    o.max_size = PUSH_FILE_MAX;
    if (git_diff_tree_to_tree(&diff, repo, ptree, tree, &o) < 0)
        goto out;
    a->path[0] = 0;
    rc = git_diff_foreach(diff, NULL, NULL, NULL, on_line, a) < 0 ? -1 : 0;
    flush_file(a);
out:
    a->commit = NULL;
    git_diff_free(diff);
    git_tree_free(ptree);
    git_tree_free(tree);
    git_commit_free(parent);
    git_commit_free(c);
    return rc;
}

int sl_srv_scan_push(struct sl_server *s, const char *mirror, const char *tree, const char *ref,
                     const char *default_branch, const char *old_sha, const char *sha,
                     struct srv_push_findings *out, struct sl_error *err)
{
    git_repository *repo = NULL;
    git_revwalk *walk = NULL;
    struct sl_scan *sc = NULL;
    struct added a = {.s = s, .text = SL_STR_INIT, .out = out};
    git_oid oid;
    int rc = 0;
    *out = (struct srv_push_findings){0};
    if (git_repository_open_bare(&repo, mirror) < 0 || git_revwalk_new(&walk, repo) < 0 ||
        git_oid_fromstr(&oid, sha) < 0 || git_revwalk_push(walk, &oid) < 0) {
        const git_error *e = git_error_last();
        rc = sl_error_set(err, SL_EIO, "secret scan of %s: %s", sha, e ? e->message : "git");
        goto out;
    }
    git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME);
    git_oid old;
    if (old_sha && git_oid_fromstr(&old, old_sha) == 0 && git_revwalk_hide(walk, &old) == 0) {
        /* what the branch held before: not new */
    } else if (default_branch && *default_branch && strcmp(ref, default_branch) != 0) {
        char *head = sl_xasprintf("refs/heads/%s", default_branch);
        git_revwalk_hide_ref(walk, head); /* none yet: every commit (bounded) is new */
        free(head);
    }
    git_error_clear();
    if (!(sc = project_rules(tree))) {
        rc = sl_error_set(err, SL_EINVAL, "the default secret rules do not load");
        goto out;
    }
    a.sc = sc;
    size_t commits = 0;
    while (git_revwalk_next(&oid, walk) == 0) {
        if (commits == PUSH_COMMITS_MAX || a.full) {
            sl_log(SL_LOG_WARN, "a push has more new commits than are scanned for secrets", "ref",
                   ref, "sha", sha, NULL);
            break;
        }
        commits++;
        if (scan_commit(repo, &oid, &a) < 0) {
            const git_error *e = git_error_last();
            sl_log(SL_LOG_WARN, "cannot scan a pushed commit for secrets", "sha", sha, "error",
                   e ? e->message : "git", NULL);
            git_error_clear();
        }
    }
out:
    sl_scan_free(sc);
    sl_str_release(&a.text);
    free(a.lines);
    git_revwalk_free(walk);
    git_repository_free(repo);
    return rc;
}

void sl_srv_push_findings_store(struct sl_server *s, int64_t project_id, int64_t pipeline_id,
                                const struct srv_push_findings *pf)
{
    for (size_t i = 0; i < pf->n; i++) {
        struct sl_error err = SL_ERROR_INIT;
        struct sl_store_secret_finding row = pf->f[i];
        row.project_id = project_id;
        row.pipeline_id = pipeline_id;
        bool added = false;
        if (sl_store_secret_finding_add(s->st, &row, sl_time_now_ms(), &added, &err) < 0) {
            sl_log(SL_LOG_ERROR, "cannot record a secret finding", "error", sl_error_format(&err),
                   NULL);
        } else if (added) {
            char line[24];
            snprintf(line, sizeof(line), "%" PRId64, row.line);
            sl_log(SL_LOG_WARN, "secret found in a pushed commit", "commit", row.commit_sha, "file",
                   row.file, "line", line, "rule", row.rule, NULL);
        }
        sl_error_release(&err);
    }
}
