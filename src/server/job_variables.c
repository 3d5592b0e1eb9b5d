/* job_variables.c: which stored CI/CD variables a job gets, as GitLab chooses them.
 *
 * GitLab's rules (docs/secrets.md):
 *  - instance variables, then project variables: a project's value of a key replaces the
 *    instance's, whatever their scopes;
 *  - within one level, of the rows of a key whose environment scope applies to the job's
 *    environment (plan/scope.h), the most specific wins: the exact name over a pattern
 *    over `*`; a job without an environment gets only `*` rows;
 *  - a protected variable only reaches pipelines whose ref is protected (decided when the
 *    pipeline is made and stored on it, protected_refs.c; a fork's never);
 *  - masked (and hidden) values are masked in the job's log; a file variable's value goes
 *    into a file and the variable holds its path.
 * Pipeline (trigger, API) variables rank above all of this; jobspec applies that. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "exec/job.h"
#include "exec/mask.h"
#include "plan/scope.h"
#include "server/internal.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

/* The value the planned job has for KEY, or NULL. */
static const char *planned_var(const struct sl_job_spec *planned, const char *key)
{
    const char *v = NULL;
    for (size_t i = 0; i < planned->nvariables; i++)
        if (!strcmp(planned->variables[i].key, key))
            v = planned->variables[i].value; /* the last one wins: precedence order */
    return v;
}

/* Picks from one level's rows (sorted by key) the rows that apply, into OUT (appended,
 * replacing an earlier level's row of the same key). */
static void pick(struct sl_store_variable *rows, size_t n, const char *environment,
                 bool ref_protected, struct sl_store_variable **out, size_t *nout)
{
    for (size_t i = 0; i < n;) {
        size_t j = i, best = SIZE_MAX;
        int best_rank = -1;
        for (; j < n && !strcmp(rows[j].key, rows[i].key); j++) {
            if (rows[j].protected_ && !ref_protected)
                continue;
            int rank = sl_scope_env_rank(rows[j].environment_scope, environment);
            if (rank > best_rank) {
                best_rank = rank;
                best = j;
            }
        }
        if (best != SIZE_MAX) {
            size_t k = 0;
            while (k < *nout && strcmp(out[k]->key, rows[best].key))
                k++;
            out[k] = &rows[best];
            if (k == *nout)
                (*nout)++;
        }
        i = j;
    }
}

int sl_srv_job_variables(struct sl_server *s, int64_t project_id, int protected_,
                         const struct sl_job_spec *planned, struct srv_job_vars *out,
                         struct sl_error *err)
{
    /* The pipeline's own decision: a job's CI_COMMIT_REF_PROTECTED is whatever its YAML
     * (or a fork's) sets it to, so it decides only for pipelines stored before 0061. */
    bool prot = protected_ > 0;
    if (protected_ < 0) {
        const char *v = planned_var(planned, "CI_COMMIT_REF_PROTECTED");
        prot = v && !strcmp(v, "true");
    }
    return sl_srv_stored_variables(s, project_id, planned_var(planned, "CI_ENVIRONMENT_NAME"), prot,
                                   out, err);
}

int sl_srv_stored_variables(struct sl_server *s, int64_t project_id, const char *environment,
                            bool ref_protected, struct srv_job_vars *out, struct sl_error *err)
{
    struct sl_store_variable *inst = NULL, *proj = NULL;
    size_t ninst = 0, nproj = 0;
    int rc;
    memset(out, 0, sizeof(*out));
    if ((rc = sl_store_variable_list(s->st, 0, true, &inst, &ninst, err)) < 0 ||
        (rc = sl_store_variable_list(s->st, project_id, true, &proj, &nproj, err)) < 0)
        goto out;
    struct sl_store_variable **chosen = sl_xcalloc(ninst + nproj + 1, sizeof(*chosen));
    size_t n = 0;
    pick(inst, ninst, environment, ref_protected, chosen, &n);
    pick(proj, nproj, environment, ref_protected, chosen, &n);
    out->vars = sl_xcalloc(n + 1, sizeof(*out->vars));
    for (size_t i = 0; i < n; i++) {
        struct srv_job_var *v = &out->vars[i];
        v->key = sl_xstrdup(chosen[i]->key);
        v->value = sl_xstrdup(chosen[i]->value ? chosen[i]->value : "");
        v->raw = chosen[i]->raw;
        v->masked = chosen[i]->masked || chosen[i]->hidden;
        v->file = chosen[i]->variable_type && !strcmp(chosen[i]->variable_type, "file");
    }
    out->n = n;
    free(chosen);
out:
    sl_store_variables_free(inst, ninst);
    sl_store_variables_free(proj, nproj);
    return rc;
}

void sl_srv_job_vars_add(struct srv_job_vars *jv, const char *key, const char *value, bool masked)
{
    jv->vars = sl_xrealloc(jv->vars, (jv->n + 2) * sizeof(*jv->vars));
    jv->vars[jv->n++] = (struct srv_job_var){
        .key = sl_xstrdup(key), .value = sl_xstrdup(value), .raw = true, .masked = masked};
}

void sl_srv_job_vars_release(struct srv_job_vars *jv)
{
    for (size_t i = 0; jv->vars && i < jv->n; i++) {
        free(jv->vars[i].key);
        if (jv->vars[i].value) {
            sodium_memzero(jv->vars[i].value, strlen(jv->vars[i].value));
            free(jv->vars[i].value);
        }
    }
    free(jv->vars);
    memset(jv, 0, sizeof(*jv));
}

int sl_srv_job_vars_mask(const struct srv_job_vars *jv, struct sl_mask *m, struct sl_error *err)
{
    for (size_t i = 0; i < jv->n; i++) {
        const struct srv_job_var *v = &jv->vars[i];
        int rc;
        if (v->masked && *v->value && (rc = sl_mask_add(m, v->value, strlen(v->value), err)) < 0)
            return rc;
    }
    return 0;
}

int sl_srv_job_vars_env(struct sl_server *s, const struct srv_job_vars *jv, const char *files_dir,
                        struct sl_arena *a, const char *const **plain, const char *const **raw,
                        struct sl_error *err)
{
    const char **p = sl_arena_alloc(a, (jv->n + 1) * sizeof(*p));
    const char **r = sl_arena_alloc(a, (jv->n + 1) * sizeof(*r));
    size_t np = 0, nr = 0;
    bool dir_made = false;
    int rc = 0;
    for (size_t i = 0; i < jv->n; i++) {
        const struct srv_job_var *v = &jv->vars[i];
        const char *value = v->value;
        char *path = NULL;
        if (v->file) {
            if (!dir_made) {
                sl_fs_remove_tree(files_dir, NULL);
                if (mkdir(files_dir, 0700) < 0 ||
                    (s->run_as && chown(files_dir, s->run_uid, s->run_gid) < 0))
                    return sl_error_set(err, SL_EIO, "cannot make %s: %s", files_dir,
                                        strerror(errno));
                dir_made = true;
            }
            path = sl_fs_join(files_dir, v->key);
            if ((rc = sl_fs_write_atomic(path, v->value, strlen(v->value), 0600, err)) < 0 ||
                (s->run_as && chown(path, s->run_uid, s->run_gid) < 0 &&
                 (rc = sl_error_set(err, SL_EIO, "cannot hand %s to the job's user: %s", path,
                                    strerror(errno))) < 0)) {
                free(path);
                return rc;
            }
            value = path;
        }
        char *kv = sl_arena_printf(a, "%s=%s", v->key, value);
        free(path);
        /* a file variable's path is never expanded; a raw variable's value neither */
        if (v->raw || v->file)
            r[nr++] = kv;
        else
            p[np++] = kv;
    }
    p[np] = NULL;
    r[nr] = NULL;
    *plain = p;
    *raw = r;
    return 0;
}
