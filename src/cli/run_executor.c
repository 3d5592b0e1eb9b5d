/* run_executor.c: the executor of each job of `sluice run` (run_executor.h). */
#include "base/compat.h"
#include "cli/run_executor.h"

static void apply(struct sl_arena *a, const struct run_executor_opts *o, struct sl_job_spec *js,
                  struct cli_unacted *u);

bool run_executor_parse(const char *s, enum run_executor *e)
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
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"always", SL_PULL_ALWAYS},
                 {"if-not-present", SL_PULL_IF_NOT_PRESENT},
                 {"never", SL_PULL_NEVER}};
    for (size_t i = 0; i < SL_ARRAY_LEN(names); i++)
        if (strlen(names[i].name) == n && !strncmp(s, names[i].name, n))
            return names[i].bit;
    return 0;
}

unsigned run_executor_policies(const char *s)
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
    cli_unacted_add(u, "services", "only the docker executor starts service containers",
                    js->exec.name);
}

void run_executor_apply(struct sl_arena *a, const struct run_executor_opts *o,
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
    struct sl_exec_docker *dk;

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
            cli_unacted_add(u, "image", "--executor sandbox runs jobs on this machine",
                            js->exec.name);
        return;
    }
    if ((!name || !*name) && o->executor != RUN_EXEC_DOCKER)
        return;
    if (o->executor == RUN_EXEC_SHELL && name) {
        if (u)
            cli_unacted_add(u, "image", "--executor shell runs jobs on this machine",
                            js->exec.name);
        return;
    }
    dk = sl_arena_alloc(a, sizeof(*dk));
    dk->image = name && *name ? name : NULL; /* none: the job fails saying so */
    if (img) { /* the job's own image: its options too (not --image's) */
        dk->entrypoint = img->entrypoint;
        for (size_t i = 0; img->pull_policy && img->pull_policy[i]; i++)
            dk->pull_policy |= policy(img->pull_policy[i], strlen(img->pull_policy[i]));
        dk->platform = img->platform;
        dk->user = img->user;
    }
    dk->default_pull_policy = o->pull_policy;
    dk->allowed_pull_policies = o->allowed_policies;
    if (js->nservices) {
        struct sl_exec_service *sv = sl_arena_alloc(a, js->nservices * sizeof(*sv));
        for (size_t i = 0; i < js->nservices; i++) {
            const struct sl_job_image *s = &js->services[i];
            unsigned pp = 0;
            for (size_t k = 0; s->pull_policy && s->pull_policy[k]; k++)
                pp |= policy(s->pull_policy[k], strlen(s->pull_policy[k]));
            sv[i] = (struct sl_exec_service){s->name,    s->alias,     s->entrypoint,
                                             s->command, s->variables, pp};
        }
        dk->services = sv;
        dk->nservices = js->nservices;
    }
    js->exec.executor = SL_EXEC_DOCKER;
    js->exec.docker = dk;
}
