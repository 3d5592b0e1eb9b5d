/* pipeline.c: the steps `sluice plan` and `sluice run` share (pipeline.h). */
#include "base/compat.h"
#include "base/time.h"
#include "cli/pipeline.h"
#include "base/alloc.h"
#include "base/diag.h"
#include "base/fs.h"
#include "cli/cli.h"
#include "expr/expr.h"

#include <libgen.h>

extern char **environ;

/* The variables GitLab lets include:local paths use, from the environment (so a user can
 * set them), with CI_PROJECT_DIR and CI_PROJECT_NAME derived from the project directory. */
char **sl_cli_env_include_vars(const char *project_dir)
{
    static const char *const prefixes[] = {
        "CI_PROJECT_", "CI_DEFAULT_BRANCH=", "CI_COMMIT_",       "CI_PIPELINE_SOURCE=",
        "CI_SERVER_",  "GITLAB_FEATURES=",   "CI_MERGE_REQUEST_"};
    size_t n = 0, cap = 0;
    char **vars = NULL;
    char *abs = realpath(project_dir, NULL);
    const char *dir = abs ? abs : project_dir;
    char *tmp = sl_xstrdup(dir);

    for (char **e = environ; e && *e; e++) {
        for (size_t i = 0; i < SL_ARRAY_LEN(prefixes); i++) {
            if (sl_starts_with(*e, prefixes[i])) {
                SL_GROW(vars, cap, n + 1);
                vars[n++] = sl_xstrdup(*e);
                break;
            }
        }
    }
    /* the loader takes the first match, so the environment wins over these */
    SL_GROW(vars, cap, n + 3);
    vars[n++] = sl_xasprintf("CI_PROJECT_DIR=%s", dir);
    vars[n++] = sl_xasprintf("CI_PROJECT_NAME=%s", basename(tmp));
    vars[n] = NULL;
    free(tmp);
    free(abs);
    return vars;
}

void sl_cli_print_diag(const struct sl_diag *d)
{
    sl_cli_diag_write(stderr, d);
}

bool sl_cli_parse_var(struct sl_vars *vars, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) {
        sl_cli_error("--var takes KEY=VALUE, not '%s'", kv);
        return false;
    }
    char *key = sl_xstrndup(kv, (size_t)(eq - kv));
    for (const char *c = key; *c; c++) {
        if (!(*c == '_' || (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') ||
              (*c >= 'A' && *c <= 'Z'))) {
            sl_cli_error("--var: '%s' is not a variable name ([A-Za-z0-9_])", key);
            free(key);
            return false;
        }
    }
    sl_vars_set(vars, key, eq + 1, false);
    free(key);
    return true;
}

int sl_cli_load_config(const char *file, bool shape_only, const struct cli_include_opts *includes,
                       struct sl_config **cfg, struct sl_diag *diag)
{
    struct sl_config_opts opts = {0};
    struct cli_includes res;
    char *dir = sl_xstrdup(file);
    opts.project_dir = dirname(dir);
    opts.shape_only = shape_only;
    char **vars = sl_cli_env_include_vars(opts.project_dir);
    opts.vars = (const char *const *)vars;
    sl_cli_includes_init(&res, includes, opts.vars);
    opts.fetch = sl_cli_includes_fetch;
    opts.fetch_ctx = &res;
    sl_config_set_expr_checker(sl_expr_valid);
    sl_config_set_regex_matcher(sl_regex_match_once);
    int rc = sl_config_load_file(cfg, file, &opts, diag);
    sl_cli_includes_release(&res);
    sl_diag_sort(diag);
    for (char **v = vars; *v; v++)
        free(*v);
    free(vars);
    free(dir);
    return rc;
}

/* A refused configuration on stdout for --json (the text went to stderr already). */
static void json_errors(int how, const struct sl_diag *diag)
{
    if (how == CLI_JSON_NONE)
        return;
    json_t *o = json_object();
    if (how == CLI_JSON_EVENT) {
        char ts[40];
        sl_time_iso8601(sl_time_now_ms(), ts, sizeof(ts));
        json_object_set_new(o, "time", json_string(ts));
        json_object_set_new(o, "event", json_string("config"));
    }
    json_t *items = sl_cli_diag_json(diag, false);
    json_object_update(o, items);
    json_decref(items);
    char *s = json_dumps(o, JSON_PRESERVE_ORDER |
                                (how == CLI_JSON_EVENT ? JSON_COMPACT : JSON_INDENT(2)));
    printf("%s\n", s ? s : "{}");
    fflush(stdout);
    free(s);
    json_decref(o);
}

int sl_cli_pipeline_prepare(struct cli_pipeline *p, const struct cli_pipeline_args *args)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_diag diag = SL_DIAG_INIT;
    char **ivars = NULL;
    int ret = SL_EXIT_OK;

    memset(p, 0, sizeof(*p));
    sl_trigger_init(&p->trigger);
    p->trigger.created_at_ms = sl_time_now_ms();
    p->file = args->file ? sl_xstrdup(args->file) : sl_cli_default_ci_file();
    if (!p->file)
        return SL_EXIT_USAGE;
    char *abs = realpath(p->file, NULL);
    if (!abs) {
        sl_cli_error("%s: %s", p->file, strerror(errno));
        return SL_EXIT_USAGE;
    }
    char *dir = sl_xstrdup(abs);
    p->project_dir = sl_xstrdup(dirname(dir));
    free(dir);
    free(abs);

    struct sl_trigger *t = &p->trigger;
    if (args->tag) {
        t->ref = sl_xstrdup(args->tag);
        t->tag = true;
    } else if (args->ref) {
        t->ref = sl_xstrdup(args->ref);
    }
    if (args->source) {
        free(t->source);
        t->source = sl_xstrdup(args->source);
    }
    for (const char **c = args->changed; c && *c; c++)
        sl_trigger_add_changed(t, *c);
    if (sl_trigger_from_git(t, p->project_dir, &err) < 0) {
        sl_cli_error("%s", sl_error_format(&err));
        ret = SL_EXIT_USAGE;
        goto out;
    }
    if (t->warning)
        fprintf(stderr, "sluice: warning: %s\n", t->warning);
    for (const char **v = args->vars; v && *v; v++) {
        if (!sl_cli_parse_var(&t->pipeline_vars, *v)) {
            ret = SL_EXIT_USAGE;
            goto out;
        }
    }
    if (sl_plan_next_pipeline_id(p->project_dir, false, &t->pipeline_id, &err) < 0) {
        sl_cli_error("%s", sl_error_format(&err));
        ret = SL_EXIT_USAGE;
        goto out;
    }
    t->pipeline_iid = t->pipeline_id;

    sl_config_set_expr_checker(sl_expr_valid);
    sl_config_set_regex_matcher(sl_regex_match_once);
    ivars = sl_trigger_include_vars(t);
    struct sl_config_opts opts = {0};
    opts.project_dir = p->project_dir;
    opts.vars = (const char *const *)ivars;
    opts.include_rule = sl_plan_include_rule;
    opts.include_rule_ctx = t;
    opts.inputs = args->inputs;
    p->includes = args->includes;
    struct cli_includes res;
    sl_cli_includes_init(&res, &args->includes, opts.vars);
    opts.fetch = sl_cli_includes_fetch;
    opts.fetch_ctx = &res;
    int rc = sl_config_load_file(&p->cfg, p->file, &opts, &diag);
    sl_cli_includes_release(&res);
    sl_diag_sort(&diag);
    sl_cli_print_diag(&diag);
    if (rc < 0) {
        json_errors(args->json_errors, &diag);
        ret = SL_EXIT_USAGE;
        goto out;
    }
    if (sl_plan_build(&p->plan, p->cfg, t, &err) < 0) {
        sl_cli_error("%s: %s", p->file, sl_error_format(&err));
        ret = SL_EXIT_USAGE;
        goto out;
    }
out:
    if (ivars) {
        for (char **v = ivars; *v; v++)
            free(*v);
        free(ivars);
    }
    sl_diag_release(&diag);
    sl_error_release(&err);
    return ret;
}

int sl_cli_sluice_dir_ensure(const char *project_dir, struct sl_error *err)
{
    char *dir = sl_fs_join(project_dir, ".sluice");
    char *ignore = sl_fs_join(dir, ".gitignore");
    int rc = sl_fs_mkdir_p(dir, 0755, err);
    if (rc == 0 && !sl_fs_exists(ignore))
        rc = sl_fs_write_atomic(ignore, "*\n", 2, 0644, err);
    free(ignore);
    free(dir);
    return rc;
}

int sl_cli_pipeline_start(struct cli_pipeline *p)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_trigger *t = &p->trigger;
    int64_t id = 0;
    int ret = SL_EXIT_OK;

    if (sl_cli_sluice_dir_ensure(p->project_dir, &err) < 0 ||
        sl_plan_next_pipeline_id(p->project_dir, true, &id, &err) < 0) {
        sl_cli_error("%s", sl_error_format(&err));
        ret = SL_EXIT_USAGE;
        goto out;
    }
    if (id != t->pipeline_id) { /* another run started in between: plan with ours */
        t->pipeline_id = t->pipeline_iid = id;
        sl_plan_free(p->plan);
        p->plan = NULL;
        if (sl_plan_build(&p->plan, p->cfg, t, &err) < 0) {
            sl_cli_error("%s: %s", p->file, sl_error_format(&err));
            ret = SL_EXIT_USAGE;
        }
    }
out:
    sl_error_release(&err);
    return ret;
}

void sl_cli_pipeline_release(struct cli_pipeline *p)
{
    sl_plan_free(p->plan);
    sl_config_free(p->cfg);
    sl_trigger_release(&p->trigger);
    free(p->file);
    free(p->project_dir);
    memset(p, 0, sizeof(*p));
}
