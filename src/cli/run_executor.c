/* run_executor.c: the executor of each job of `sluice run` (run_executor.h). */
#include "base/compat.h"
#include "cli/run_executor.h"

static void apply(struct sl_arena *a, const struct run_executor_opts *o, const struct sl_node *node,
                  struct sl_job_spec *js, struct cli_unacted *u);

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

static const char *const *strv(struct sl_arena *a, const struct sl_node *n)
{
    size_t cnt, k = 0;
    const char **out;

    if (!n || n->kind == SL_NODE_NULL)
        return NULL;
    cnt = n->kind == SL_NODE_SEQ ? n->n : 1;
    out = sl_arena_alloc(a, (cnt + 1) * sizeof(*out));
    for (size_t i = 0; i < cnt; i++) {
        const char *s = sl_node_scalar(n->kind == SL_NODE_SEQ ? n->items[i] : n);
        if (s)
            out[k++] = sl_arena_strdup(a, s);
    }
    return out;
}

/* services: are started only by the docker executor, when it was given them */
static void note_services(const struct sl_node *node, const struct sl_job_spec *js,
                          struct cli_unacted *u)
{
    const struct sl_node *sv = sl_node_get(node, "services");
    if (!sv || sv->kind == SL_NODE_NULL || (sv->kind == SL_NODE_SEQ && sv->n == 0))
        return;
    if (js->exec.executor == SL_EXEC_DOCKER && js->exec.docker && js->exec.docker->nservices)
        return;
    cli_unacted_add(u, "services",
                    js->exec.executor == SL_EXEC_DOCKER
                        ? "sluice run does not start service containers yet"
                        : "only the docker executor starts service containers",
                    js->exec.name);
}

void run_executor_apply(struct sl_arena *a, const struct run_executor_opts *o,
                        const struct sl_node *node, struct sl_job_spec *js, struct cli_unacted *u)
{
    apply(a, o, node, js, u);
    note_services(node, js, u);
}

static void apply(struct sl_arena *a, const struct run_executor_opts *o, const struct sl_node *node,
                  struct sl_job_spec *js, struct cli_unacted *u)
{
    const struct sl_node *img = sl_node_get(node, "image");
    const char *name = sl_node_scalar(img);
    struct sl_exec_docker *dk;

    if (!name)
        name = sl_node_scalar(sl_node_get(img, "name"));
    if (!name || !*name)
        name = o->image;
    js->exec.executor = SL_EXEC_SHELL;
    if (o->executor == RUN_EXEC_SANDBOX) {
        /* the job sees neither the other jobs' workspaces nor the run's data: the whole
         * .sluice directory (two levels above the workspace) is hidden */
        struct sl_exec_sandbox *sb = sl_arena_alloc(a, sizeof(*sb));
        const char **hide = sl_arena_alloc(a, 2 * sizeof(*hide));
        char *dot = sl_arena_strdup(a, js->workspace);
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
        if (name && *name)
            cli_unacted_add(u, "image", "--executor sandbox runs jobs on this machine",
                            js->exec.name);
        return;
    }
    if ((!name || !*name) && o->executor != RUN_EXEC_DOCKER)
        return;
    if (o->executor == RUN_EXEC_SHELL && name) {
        cli_unacted_add(u, "image", "--executor shell runs jobs on this machine", js->exec.name);
        return;
    }
    dk = sl_arena_alloc(a, sizeof(*dk));
    dk->image = name && *name ? name : NULL; /* none: the job fails saying so */
    dk->entrypoint = strv(a, sl_node_get(img, "entrypoint"));
    const struct sl_node *pp = sl_node_get(img, "pull_policy");
    if (pp) {
        const char *const *v = strv(a, pp);
        for (size_t i = 0; v && v[i]; i++)
            dk->pull_policy |= policy(v[i], strlen(v[i]));
    }
    const struct sl_node *d = sl_node_get(img, "docker");
    dk->platform = sl_node_scalar(sl_node_get(d, "platform"));
    dk->user = sl_node_scalar(sl_node_get(d, "user"));
    dk->default_pull_policy = o->pull_policy;
    dk->allowed_pull_policies = o->allowed_policies;
    js->exec.executor = SL_EXEC_DOCKER;
    js->exec.docker = dk;
}
