/* run_executor.c: the executor of each job of `sluice run` (run_executor.h). */
#include "base/compat.h"
#include "cli/run_executor.h"
#include "cli/cli.h"
#include "exec/choose.h"

static void apply(struct sl_arena *a, const struct run_executor_opts *o, struct sl_job_spec *js,
                  struct cli_unacted *u);

bool sl_run_executor_parse(const char *s, enum run_executor *e)
{
    static const struct {
        const char *name;
        enum run_executor e;
    } names[] = {{"auto", RUN_EXEC_AUTO},
                 {"shell", RUN_EXEC_SHELL},
                 {"docker", RUN_EXEC_DOCKER},
                 {"sandbox", RUN_EXEC_SANDBOX}};
    for (size_t i = 0; i < SL_ARRAY_LEN(names); i++)
        if (sl_streq(s, names[i].name)) {
            *e = names[i].e;
            return true;
        }
    return false;
}

static unsigned policy(const char *s, size_t n)
{
    return sl_exec_pull_policy(s, n);
}

unsigned sl_run_executor_policies(const char *s)
{
    unsigned mask = 0;
    while (*s) {
        size_t n = strcspn(s, ",");
        unsigned b = policy(s, n);
        if (!b)
            return 0;
        mask |= b;
        s += n;
        if (*s == ',')
            s++;
    }
    return mask;
}

/* services: are started only by the docker executor, when it was given them */
static void note_services(const struct sl_job_spec *js, struct cli_unacted *u)
{
    if (!u || js->nservices == 0)
        return;
    if (js->exec.executor == SL_EXEC_DOCKER && js->exec.docker && js->exec.docker->nservices)
        return;
    sl_cli_unacted_add(u, "services", "only the docker executor starts service containers",
                       js->exec.name);
}

void sl_run_executor_apply(struct sl_arena *a, const struct run_executor_opts *o,
                           struct sl_job_spec *js, struct cli_unacted *u)
{
    apply(a, o, js, u);
    note_services(js, u);
}

static void apply(struct sl_arena *a, const struct run_executor_opts *o, struct sl_job_spec *js,
                  struct cli_unacted *u)
{
    const struct sl_job_image *img = js->image;
    const char *name = img ? img->name : NULL;

    if (!name || !*name)
        name = o->image;
    js->exec.executor = SL_EXEC_SHELL;
    if (o->executor == RUN_EXEC_SANDBOX) {
        /* the job sees neither the other jobs' workspaces nor the run's data: the whole
         * .sluice directory (two levels above the workspace) is hidden */
        struct sl_exec_sandbox *sb = sl_arena_alloc(a, sizeof(*sb));
        const char **hide = sl_arena_alloc(a, 2 * sizeof(*hide));
        char *dot = sl_arena_strdup(a, js->workspace ? js->workspace : "/");
        for (int up = 0; up < 2; up++) {
            char *slash = strrchr(dot, '/');
            if (slash && slash != dot)
                *slash = 0;
        }
        *sb = o->sandbox;
        hide[0] = dot;
        sb->hide = hide;
        js->exec.executor = SL_EXEC_SANDBOX;
        js->exec.sandbox = sb;
        if (name && *name && u)
            sl_cli_unacted_add(u, "image", "--executor sandbox runs jobs on this machine",
                               js->exec.name);
        return;
    }
    if (o->executor == RUN_EXEC_SHELL && name && *name && u)
        sl_cli_unacted_add(u, "image", "--executor shell runs jobs on this machine", js->exec.name);
    struct sl_exec_choice c = {o->executor == RUN_EXEC_SHELL    ? SL_EXEC_CHOOSE_SHELL
                               : o->executor == RUN_EXEC_DOCKER ? SL_EXEC_CHOOSE_DOCKER
                                                                : SL_EXEC_CHOOSE_AUTO,
                               o->image, o->pull_policy, o->allowed_policies};
    struct sl_exec_docker *dk = sl_arena_alloc(a, sizeof(*dk));
    struct sl_exec_service *sv = sl_arena_alloc(a, (js->nservices + 1) * sizeof(*sv));
    sl_exec_choose(&c, js, dk, sv);
}

bool sl_run_executor_limit(const char *cmd, const char *name, const char *s,
                           struct sl_exec_sandbox *sb)
{
    char *end;
    bool memory = !strcmp(name, "memory");
    double v = strtod(s, &end);
    double unit = !memory                      ? 1
                  : *end == 'k' || *end == 'K' ? 1024.0
                  : *end == 'm' || *end == 'M' ? 1048576.0
                  : *end == 'g' || *end == 'G' ? 1073741824.0
                                               : 1;
    if (unit != 1)
        end++;
    /* an upper bound keeps the conversions below defined (1 PiB, a million pids, 4096 cores) */
    double max = memory ? 1125899906842624.0 : !strcmp(name, "pids") ? 1e6 : 4096;
    if (end == s || *end || !(v > 0) || v * unit > max) {
        sl_cli_error("%s: --%s takes a positive number%s, not '%s'", cmd, name,
                     memory ? " of bytes (k, m, g suffixes)" : "", s);
        return false;
    }
    if (memory)
        sb->memory_bytes = (int64_t)(v * unit);
    else if (!strcmp(name, "pids"))
        sb->pids = (int64_t)v;
    else
        sb->cpus = v;
    return true;
}

bool sl_run_executor_probe(const char *cmd, const struct sl_exec_sandbox *sb)
{
    struct sl_error err = SL_ERROR_INIT;
    bool ok = sl_exec_sandbox_probe(sb, &err) == 0;
    if (!ok)
        sl_cli_error("%s: %s", cmd, sl_error_format(&err));
    sl_error_release(&err);
    return ok;
}
