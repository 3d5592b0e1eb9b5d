/* choose.c: the executor of a job (choose.h). */
#include "base/compat.h"
#include "exec/choose.h"

unsigned sl_exec_pull_policy(const char *s, size_t n)
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

static unsigned policies(const char *const *v)
{
    unsigned mask = 0;
    for (size_t i = 0; v && v[i]; i++)
        mask |= sl_exec_pull_policy(v[i], strlen(v[i]));
    return mask;
}

bool sl_exec_choose(const struct sl_exec_choice *o, struct sl_job_spec *js,
                    struct sl_exec_docker *dk, struct sl_exec_service *svcs)
{
    const struct sl_job_image *img = js->image;
    const char *name = img && img->name && *img->name ? img->name : o->image;

    js->exec.executor = SL_EXEC_SHELL;
    if ((!name || !*name) && o->kind != SL_EXEC_CHOOSE_DOCKER)
        return false;
    if (o->kind == SL_EXEC_CHOOSE_SHELL)
        return false;
    memset(dk, 0, sizeof(*dk));
    dk->image = name && *name ? name : NULL; /* none: the job fails saying so */
    if (img) { /* the job's own image: its options too (not --image's) */
        dk->entrypoint = img->entrypoint;
        dk->pull_policy = policies(img->pull_policy);
        dk->platform = img->platform;
        dk->user = img->user;
    }
    dk->default_pull_policy = o->pull_policy;
    dk->allowed_pull_policies = o->allowed_policies;
    for (size_t i = 0; i < js->nservices; i++) {
        const struct sl_job_image *s = &js->services[i];
        svcs[i] = (struct sl_exec_service){s->name,    s->alias,     s->entrypoint,
                                           s->command, s->variables, policies(s->pull_policy)};
    }
    dk->services = js->nservices ? svcs : NULL;
    dk->nservices = js->nservices;
    js->exec.executor = SL_EXEC_DOCKER;
    js->exec.docker = dk;
    return true;
}
