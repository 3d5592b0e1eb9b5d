/* job_sources.c: the earlier jobs a claimed job receives artifacts and dotenv variables
 * from (the run context's sources, jobspec.h), as they are in the store and the data
 * directory now: for the built-in workers and for the runner API's payload alike. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "jobspec/jobspec.h"
#include "server/internal.h"

/* A stored dotenv report (a JSON array of "KEY=VALUE") as a NULL-terminated list in A. */
static const char *const *dotenv_list(struct sl_arena *a, const char *text, int64_t job_id)
{
    json_t *arr = sl_srv_stored_json(text, JSON_ARRAY, "job's dotenv report", job_id);
    if (!json_is_array(arr)) {
        json_decref(arr);
        return NULL;
    }
    const char **kv = sl_arena_alloc(a, (json_array_size(arr) + 1) * sizeof(*kv));
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(arr); i++)
        if (json_is_string(json_array_get(arr, i)))
            kv[n++] = sl_arena_strdup(a, json_string_value(json_array_get(arr, i)));
    json_decref(arr);
    return kv;
}

int sl_srv_job_sources(struct sl_server *s, const struct sl_store_job *job, json_t *spec,
                       const char *pdir, struct sl_arena *a, struct sl_jobspec_source **out,
                       size_t *n)
{
    struct sl_store_job *peers = NULL;
    struct sl_store_job_report *reps = NULL;
    size_t npeers = 0, nreps = 0;
    json_t *srcs = json_object_get(spec, "source_positions");
    int rc = 0;
    /* no sources (a first stage's job, dependencies: []): nothing of the pipeline's other
     * jobs to read (all of them, at each of a big pipeline's claims) */
    if (json_array_size(srcs) && (rc = sl_store_job_list_by_pipeline_no_spec(
                                      s->st, job->pipeline_id, &peers, &npeers, NULL)) == 0)
        rc = sl_store_job_reports_by_pipeline(s->st, job->pipeline_id, &reps, &nreps, NULL);
    struct sl_jobspec_source *src = sl_arena_alloc(a, (json_array_size(srcs) + 1) * sizeof(*src));
    size_t ns = 0;
    for (size_t i = 0; rc == 0 && i < json_array_size(srcs); i++) {
        json_int_t pos = json_integer_value(json_array_get(srcs, i));
        if (pos < 0 || (size_t)pos >= npeers)
            continue;
        struct sl_jobspec_source *x = &src[ns++];
        x->name = sl_arena_strdup(a, peers[pos].name);
        x->job_id = peers[pos].id;
        /* the newest attempt's own artifacts (sl_srv_artifacts_dir), else, for a pipeline
         * stored before they were kept per attempt, the position's directory */
        char *dirs[2] = {sl_xasprintf("%s/jobs/%lld/artifacts", pdir, (long long)peers[pos].id),
                         sl_xasprintf("%s/artifacts/%d", pdir, (int)pos)};
        for (size_t d = 0; d < SL_ARRAY_LEN(dirs) && !x->store_dir; d++) {
            char *meta = sl_fs_join(dirs[d], "artifacts.json");
            if (sl_fs_exists(meta))
                x->store_dir = sl_arena_strdup(a, dirs[d]);
            free(meta);
        }
        free(dirs[0]);
        free(dirs[1]);
        for (size_t r = 0; r < nreps; r++)
            if (reps[r].position == pos)
                x->dotenv = dotenv_list(a, reps[r].dotenv, reps[r].job_id);
    }
    sl_store_jobs_free(peers, npeers);
    sl_store_job_reports_free(reps, nreps);
    *out = src;
    *n = ns;
    return rc;
}

char *sl_srv_artifacts_dir(const struct sl_server *s, int64_t pipeline_id, int64_t job_id)
{
    return sl_xasprintf("%s/pipelines/%lld/jobs/%lld/artifacts", s->data_dir,
                        (long long)pipeline_id, (long long)job_id);
}
