/* merge_requests.c: merge (pull) requests of GitHub, Gitea and GitLab, as GitLab's merge
 * request pipelines run them.
 *
 * A request's webhook is read into one shape (struct srv_mr), recorded in the store, and,
 * when it brings new commits (opened, reopened, new commits pushed, a draft marked ready),
 * makes a pipeline with CI_PIPELINE_SOURCE=merge_request_event on the request's head:
 *  - the CI_MERGE_REQUEST_* variables GitLab sets (VARIABLES.md), CI_COMMIT_REF_NAME the
 *    source branch and no CI_COMMIT_BRANCH;
 *  - rules:changes compares the head with the merge base of the target branch, as GitLab
 *    compares a merge request's diff, not the last push;
 *  - protected variables only when source and target branches are both protected and the
 *    request is not from a fork (a fork's code never sees the project's secrets); the
 *    decision is stored on the pipeline (pipelines.c), and with the project's
 *    fork_pipelines_need_approval a fork's pipeline is made held until a maintainer
 *    approves it (api.c h_pipeline_approve, transitions.c).
 * A branch pipeline of a branch with open requests gets CI_OPEN_MERGE_REQUESTS
 * ("group/project!1,group/project!4", at most 4), so the well-known workflow
 * "merge request pipelines, else branch pipelines, never both" makes one pipeline per push.
 * Where the forge made a merge of the request into its target (GitHub's test merge,
 * refs/pull/N/merge, once the request is mergeable) the pipeline runs on that merge, as
 * GitLab's merged results pipelines do (CI_MERGE_REQUEST_EVENT_TYPE=merged_result, its
 * commit statuses on the request's head); otherwise a detached pipeline on the head.
 * Forges that send both a push and a pull request event for one push get one pipeline
 * from that workflow, as on GitLab. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/time.h"
#include "server/internal.h"

#include <git2.h>

/* What a forge's description may hold in CI_MERGE_REQUEST_DESCRIPTION (GitLab's cut). */
#define MR_DESCRIPTION_MAX 2700

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* "a,b" of the NAME field of each object of the array LABELS, in A. */
static const char *label_list(struct sl_arena *a, json_t *labels, const char *name)
{
    struct sl_str s = SL_STR_INIT;
    size_t i;
    json_t *l;
    json_array_foreach(labels, i, l)
    {
        const char *n = str(l, name);
        if (n && *n) {
            if (s.len)
                sl_str_addc(&s, ',');
            sl_str_adds(&s, n);
        }
    }
    const char *out = sl_arena_strdup(a, s.len ? s.buf : "");
    sl_str_release(&s);
    return out;
}

/* GitHub's and Gitea's pull_request events (one shape, a few names apart). */
static bool read_pull_request(json_t *payload, bool gitea, struct srv_mr *mr, struct sl_arena *a,
                              const char **why)
{
    json_t *pr = json_object_get(payload, "pull_request");
    json_t *head = json_object_get(pr, "head"), *base = json_object_get(pr, "base");
    const char *action = str(payload, "action");
    mr->iid = json_integer_value(json_object_get(pr, "number"));
    if (!mr->iid)
        mr->iid = json_integer_value(json_object_get(payload, "number"));
    mr->title = str(pr, "title");
    mr->description = str(pr, "body");
    mr->source_branch = str(head, "ref");
    mr->head_sha = str(head, "sha");
    mr->target_branch = str(base, "ref");
    mr->labels = label_list(a, json_object_get(pr, "labels"), "name");
    mr->draft = json_is_true(json_object_get(pr, "draft"));
    json_t *hrepo = json_object_get(head, "repo"), *brepo = json_object_get(base, "repo");
    const char *hname = str(hrepo, "full_name"), *bname = str(brepo, "full_name");
    mr->from_fork = !hname || !bname || strcmp(hname, bname) != 0;
    mr->source_project_path = hname;
    mr->source_project_url = str(hrepo, "html_url");
    mr->head_ref = sl_arena_printf(a, "refs/pull/%lld/head", (long long)mr->iid);
    /* GitHub's test merge of the request into its base (refs/pull/N/merge), valid only once
     * it says `mergeable: true` (null while it is still computing, false on a conflict);
     * Gitea makes none */
    const char *merge = str(pr, "merge_commit_sha");
    if (!gitea && json_is_true(json_object_get(pr, "mergeable")) && merge && strlen(merge) == 40 &&
        strspn(merge, "0123456789abcdef") == 40) {
        mr->merge_sha = merge;
        mr->merge_ref = sl_arena_printf(a, "refs/pull/%lld/merge", (long long)mr->iid);
    }
    if (!action || !mr->iid || !mr->title || !mr->source_branch || !mr->head_sha ||
        !mr->target_branch) {
        *why = "the pull request event lacks its action, number, title, head or base";
        return false;
    }
    bool closed = !strcmp(action, "closed");
    mr->state = !closed                                       ? "opened"
                : json_is_true(json_object_get(pr, "merged")) ? "merged"
                                                              : "closed";
    static const char *const github_runs[] = {"opened", "synchronize", "reopened",
                                              "ready_for_review", NULL};
    static const char *const gitea_runs[] = {"opened", "synchronized", "reopened", NULL};
    for (const char *const *x = gitea ? gitea_runs : github_runs; *x; x++)
        mr->runs = mr->runs || !strcmp(action, *x);
    return true;
}

/* GitLab's Merge Request Hook. */
static bool read_gitlab(json_t *payload, struct srv_mr *mr, struct sl_arena *a, const char **why)
{
    json_t *oa = json_object_get(payload, "object_attributes");
    const char *action = str(oa, "action");
    mr->iid = json_integer_value(json_object_get(oa, "iid"));
    mr->title = str(oa, "title");
    mr->description = str(oa, "description");
    mr->source_branch = str(oa, "source_branch");
    mr->target_branch = str(oa, "target_branch");
    mr->head_sha = str(json_object_get(oa, "last_commit"), "id");
    mr->labels = label_list(a, json_object_get(payload, "labels"), "title");
    mr->draft = json_is_true(json_object_get(oa, "draft")) ||
                json_is_true(json_object_get(oa, "work_in_progress"));
    json_int_t src = json_integer_value(json_object_get(oa, "source_project_id"));
    json_int_t dst = json_integer_value(json_object_get(oa, "target_project_id"));
    mr->from_fork = src != dst;
    json_t *source = json_object_get(oa, "source");
    mr->source_project_path = str(source, "path_with_namespace");
    mr->source_project_url = str(source, "web_url");
    mr->head_ref = sl_arena_printf(a, "refs/merge-requests/%lld/head", (long long)mr->iid);
    const char *state = str(oa, "state");
    if (!action || !mr->iid || !mr->title || !mr->source_branch || !mr->head_sha ||
        !mr->target_branch || !state) {
        *why = "the merge request event lacks its action, iid, title, branches, state or "
               "last commit";
        return false;
    }
    mr->state = !strcmp(state, "merged")   ? "merged"
                : !strcmp(state, "opened") ? "opened"
                                           : "closed";
    /* an update makes a pipeline only when it pushed commits (GitLab sends oldrev then) */
    mr->runs = !strcmp(action, "open") || !strcmp(action, "reopen") ||
               (!strcmp(action, "update") && str(oa, "oldrev"));
    return true;
}

bool sl_srv_mr_event(enum srv_forge forge, const char *event)
{
    if (!event)
        return false;
    return forge == SRV_FORGE_GITLAB ? !strcmp(event, "Merge Request Hook")
                                     : !strcmp(event, "pull_request");
}

int sl_srv_mr_read(enum srv_forge forge, json_t *payload, struct srv_mr *mr, struct sl_arena *a,
                   const char **why)
{
    memset(mr, 0, sizeof(*mr));
    bool ok = forge == SRV_FORGE_GITLAB
                  ? read_gitlab(payload, mr, a, why)
                  : read_pull_request(payload, forge == SRV_FORGE_GITEA, mr, a, why);
    if (ok && mr->iid < 0) {
        *why = "the request's number is negative";
        ok = false;
    }
    return ok ? 0 : SL_EINVAL;
}

int sl_srv_mr_record(struct sl_server *s, int64_t project_id, const struct srv_mr *mr,
                     struct sl_error *err)
{
    struct sl_store_merge_request row = {.project_id = project_id,
                                         .iid = mr->iid,
                                         .title = mr->title,
                                         .source_branch = mr->source_branch,
                                         .target_branch = mr->target_branch,
                                         .head_sha = mr->head_sha,
                                         .state = mr->state,
                                         .from_fork = mr->from_fork};
    return sl_store_merge_request_put(s->st, &row, sl_time_now_ms(), err);
}

/* --- the pipeline's side ---------------------------------------------------------------- */

/* TARGET's commit in the mirror REPO into TARGET_SHA, the merge base of it and HEAD into
 * BASE_SHA, and the files HEAD changes since that base into T. */
static int diff_to_target(git_repository *repo, const char *head_sha, const char *target,
                          char *target_sha, char *base_sha, struct sl_trigger *t,
                          struct sl_error *err)
{
    git_object *tobj = NULL;
    git_commit *hc = NULL, *bc = NULL;
    git_tree *ht = NULL, *bt = NULL;
    git_diff *diff = NULL;
    git_oid head, base;
    int rc = 0;
    char *spec = sl_xasprintf("refs/heads/%s^{commit}", target);
    if (git_revparse_single(&tobj, repo, spec) < 0) {
        rc = sl_error_set(err, SL_EINVAL,
                          "the merge request's target branch '%s' is not in "
                          "the repository",
                          target);
        goto out;
    }
    git_oid_tostr(target_sha, GIT_OID_HEXSZ + 1, git_object_id(tobj));
    if (git_oid_fromstr(&head, head_sha) < 0 ||
        git_merge_base(&base, repo, &head, git_object_id(tobj)) < 0) {
        rc = sl_error_set(err, SL_EINVAL,
                          "the merge request's head %.12s has no common "
                          "history with '%s'",
                          head_sha, target);
        goto out;
    }
    git_oid_tostr(base_sha, GIT_OID_HEXSZ + 1, &base);
    if (git_commit_lookup(&hc, repo, &head) < 0 || git_commit_lookup(&bc, repo, &base) < 0 ||
        git_commit_tree(&ht, hc) < 0 || git_commit_tree(&bt, bc) < 0 ||
        git_diff_tree_to_tree(&diff, repo, bt, ht, NULL) < 0) {
        const git_error *e = git_error_last();
        rc = sl_error_set(err, SL_EIO, "cannot diff the merge request: %s",
                          e && e->message ? e->message : "libgit2 failed");
        goto out;
    }
    for (size_t i = 0; i < git_diff_num_deltas(diff); i++) {
        const git_diff_delta *d = git_diff_get_delta(diff, i);
        sl_trigger_add_changed(t, d->new_file.path);
        if (d->old_file.path && strcmp(d->old_file.path, d->new_file.path))
            sl_trigger_add_changed(t, d->old_file.path);
    }
    /* the diff is the request's, not a --changed of the user's: compare_to still
     * compares with its own ref */
    t->changed_by_user = false;
    t->changes_known = true;
out:
    free(spec);
    git_diff_free(diff);
    git_tree_free(ht);
    git_tree_free(bt);
    git_commit_free(hc);
    git_commit_free(bc);
    git_object_free(tobj);
    return rc;
}

int sl_srv_mr_prepare(struct sl_server *s, int64_t project_id, const struct srv_mr *mr,
                      const char *mirror, const char *merged_target, struct sl_trigger *t,
                      bool *protected_out, struct sl_error *err)
{
    /* (the tree and the trigger are already at the request's head: sl_trigger_from_git) */
    git_repository *repo = NULL;
    char target_sha[GIT_OID_HEXSZ + 1] = "", base_sha[GIT_OID_HEXSZ + 1] = "";
    bool src_prot = false, dst_prot = false;
    int rc;
    if (git_repository_open_bare(&repo, mirror) < 0)
        return sl_error_set(err, SL_EIO, "cannot open the mirror %s", mirror);
    rc = diff_to_target(repo, mr->head_sha, mr->target_branch, target_sha, base_sha, t, err);
    git_repository_free(repo);
    /* a fork's source branch is the fork's, whatever the project protects under its name */
    if (rc < 0 ||
        (!mr->from_fork && (rc = sl_srv_ref_protected(s, project_id, mr->source_branch, false,
                                                      &src_prot, err)) < 0) ||
        (rc = sl_srv_ref_protected(s, project_id, mr->target_branch, false, &dst_prot, err)) < 0)
        return rc;
    *protected_out = src_prot && dst_prot && !mr->from_fork;
    sl_vars_set(&t->predefined, "CI_COMMIT_REF_PROTECTED", *protected_out ? "true" : "false",
                false);

    struct sl_vars *v = &t->predefined;
    char iid[24], pid[24];
    snprintf(iid, sizeof(iid), "%lld", (long long)mr->iid);
    snprintf(pid, sizeof(pid), "%lld", (long long)project_id);
    const char *path = sl_vars_get(v, "CI_PROJECT_PATH"), *url = sl_vars_get(v, "CI_PROJECT_URL");
    const char *desc = mr->description ? mr->description : "";
    size_t dlen = strlen(desc);
    char *cut = sl_xstrndup(desc, SL_MIN(dlen, (size_t)MR_DESCRIPTION_MAX));
    /* a merged results pipeline's target is the commit the forge merged into, which the
     * branch may have moved past since */
    if (merged_target)
        snprintf(target_sha, sizeof(target_sha), "%s", merged_target);
    char *ref_path = sl_xasprintf("refs/merge-requests/%lld/%s", (long long)mr->iid,
                                  merged_target ? "merge" : "head");
    const struct {
        const char *name, *value;
    } vars[] = {
        {"CI_MERGE_REQUEST_ID", iid},
        {"CI_MERGE_REQUEST_IID", iid},
        {"CI_MERGE_REQUEST_TITLE", mr->title},
        {"CI_MERGE_REQUEST_DESCRIPTION", cut},
        {"CI_MERGE_REQUEST_DESCRIPTION_IS_TRUNCATED", dlen > MR_DESCRIPTION_MAX ? "true" : "false"},
        {"CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", mr->source_branch},
        {"CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", mr->head_sha},
        {"CI_MERGE_REQUEST_SOURCE_BRANCH_PROTECTED", src_prot ? "true" : "false"},
        {"CI_MERGE_REQUEST_TARGET_BRANCH_NAME", mr->target_branch},
        {"CI_MERGE_REQUEST_TARGET_BRANCH_SHA", target_sha},
        {"CI_MERGE_REQUEST_TARGET_BRANCH_PROTECTED", dst_prot ? "true" : "false"},
        {"CI_MERGE_REQUEST_DIFF_BASE_SHA", base_sha},
        {"CI_MERGE_REQUEST_LABELS", mr->labels && *mr->labels ? mr->labels : NULL},
        {"CI_MERGE_REQUEST_DRAFT", mr->draft ? "true" : "false"},
        {"CI_MERGE_REQUEST_EVENT_TYPE", merged_target ? "merged_result" : "detached"},
        {"CI_MERGE_REQUEST_REF_PATH", ref_path},
        {"CI_MERGE_REQUEST_PROJECT_ID", pid},
        {"CI_MERGE_REQUEST_PROJECT_PATH", path},
        {"CI_MERGE_REQUEST_PROJECT_URL", url},
        {"CI_MERGE_REQUEST_SOURCE_PROJECT_ID", mr->from_fork ? NULL : pid},
        {"CI_MERGE_REQUEST_SOURCE_PROJECT_PATH",
         mr->from_fork && mr->source_project_path ? mr->source_project_path : path},
        {"CI_MERGE_REQUEST_SOURCE_PROJECT_URL",
         mr->from_fork && mr->source_project_url ? mr->source_project_url : url},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(vars); i++)
        if (vars[i].value)
            sl_vars_set(v, vars[i].name, vars[i].value, false);
    free(cut);
    free(ref_path);
    return 0;
}

bool sl_srv_pipeline_from_fork(struct sl_server *s, const struct sl_store_pipeline *p)
{
    if (!p->merge_request_iid)
        return false;
    bool fork = true;
    struct sl_error err = SL_ERROR_INIT;
    if (sl_store_merge_request_from_fork(s->st, p->project_id, p->merge_request_iid, &fork, &err) <
        0) {
        sl_log(SL_LOG_WARN, "cannot tell whether a pipeline runs a fork's code: taken as one",
               "error", sl_error_format(&err), NULL);
        fork = true;
    }
    sl_error_release(&err);
    return fork;
}

int sl_srv_mr_open_list(struct sl_server *s, int64_t project_id, const char *branch,
                        struct sl_trigger *t, struct sl_error *err)
{
    int64_t iids[4]; /* GitLab lists at most 4 */
    size_t n = 0;
    int rc = sl_store_merge_request_open_iids(s->st, project_id, branch, iids, SL_ARRAY_LEN(iids),
                                              &n, err);
    if (rc < 0 || n == 0)
        return rc;
    const char *path = sl_vars_get(&t->predefined, "CI_PROJECT_PATH");
    struct sl_str list = SL_STR_INIT;
    for (size_t i = 0; i < n; i++)
        sl_str_addf(&list, "%s%s!%lld", i ? "," : "", path ? path : "", (long long)iids[i]);
    sl_vars_set(&t->predefined, "CI_OPEN_MERGE_REQUESTS", list.buf, false);
    sl_str_release(&list);
    return 0;
}
