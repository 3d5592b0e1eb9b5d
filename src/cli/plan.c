/* plan.c: `sluice plan`, which jobs a trigger would run and why the others would not. */
#include "base/compat.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "base/alloc.h"
#include "cli/pipeline.h"
#include "cli/unacted.h"

#include "base/str.h"

static const struct sl_cli_opt plan_opts[] = {
    SL_CLI_OPT_FILE('f'),
    {'r', 0, "ref", "R", "plan for branch R (default: the checked-out branch)", 0},
    {'t', 0, "tag", "T", "plan a tag pipeline for tag T", 0},
    {'s', 0, "source", "S", "CI_PIPELINE_SOURCE (default push): web, api, schedule, ...", 0},
    SL_CLI_OPT_VAR('v'),
    SL_CLI_OPT_INPUT('i'),
    {'c', 0, "changed", "PATH",
     "a changed file for rules:changes (default: the commit's changes against its parent); "
     "repeatable",
     SL_OPT_REPEAT},
    {'j', 0, "json", NULL, "print the plan as JSON", 0},
    CLI_INCLUDE_OPTS,
};

const struct sl_cli_spec sl_cli_spec_plan = {
    .name = "plan",
    .about = "Shows the pipeline GitLab would create for a trigger: the stages in order with each\n"
             "job's when, allow_failure and needs, then the jobs left out and the rule that left\n"
             "them out. Nothing runs.\n",
    .epilog = "Exit codes: 0 planned (created or skipped), 2 usage or configuration error.\n",
    .docs = "docs/plan.md",
    .opts = plan_opts,
    .nopts = SL_ARRAY_LEN(plan_opts),
};

/* A bridge job's downstream pipeline in a few words: "child pipeline of ci/a.yml,
 * artifact gen.yml of generate" or "project group/app (branch main)". */
static void print_trigger(const struct sl_plan_trigger *t)
{
    if (t->project) {
        printf("  trigger: project %s%s%s%s", t->project, t->branch ? " (branch " : "",
               t->branch ? t->branch : "", t->branch ? ")" : "");
    } else {
        printf("  trigger: child pipeline of ");
        for (size_t i = 0; i < t->nincludes; i++) {
            const struct sl_plan_trigger_include *e = &t->includes[i];
            if (e->artifact)
                printf("%sartifact %s of %s", i ? ", " : "", e->artifact, e->job ? e->job : "?");
            else
                printf("%s%s", i ? ", " : "",
                       e->local ? e->local : "(a file sluice run cannot read)");
        }
    }
    if (t->strategy)
        printf(" (strategy: %s)", t->strategy);
}

static void print_plan(const struct sl_plan *p, bool color)
{
    const char *b = color ? "\033[1m" : "", *g = color ? "\033[90m" : "",
               *r = color ? "\033[0m" : "";
    printf("%spipeline %s%s", b, p->created ? "created" : "skipped", r);
    if (p->name)
        printf(" \"%s\"", p->name);
    if (p->reason)
        printf(" %s(%s)%s", g, p->reason, r);
    printf("\n");
    size_t w = 10;
    for (size_t i = 0; i < p->njobs; i++)
        w = SL_MAX(w, strlen(p->jobs[i].name));
    for (size_t s = 0; s < p->nstages; s++) {
        printf("\n%sstage %s%s\n", b, p->stages[s], r);
        for (size_t i = 0; i < p->njobs; i++) {
            const struct sl_plan_job *j = &p->jobs[i];
            if (j->stage_index != s)
                continue;
            printf("  %-*s  %-10s", (int)w, j->name, sl_plan_when_name(j->when));
            if (j->allow_failure)
                printf("  allow_failure");
            if (j->needs_declared) {
                printf("  needs: ");
                if (!j->nneeds)
                    printf("[]");
                for (size_t k = 0; k < j->nneeds; k++)
                    printf("%s%s%s", k ? ", " : "", j->needs[k].job,
                           j->needs[k].artifacts ? "" : " (no artifacts)");
            }
            if (j->when == SL_PLAN_DELAYED)
                printf("  start_in: %llds", (long long)j->start_in_s);
            if (j->bridge.declared)
                print_trigger(&j->bridge);
            printf("\n");
        }
    }
    if (p->nexcluded) {
        printf("\n%snot in the pipeline%s\n", b, r);
        for (size_t i = 0; i < p->nexcluded; i++)
            printf("  %-*s  %s%s%s\n", (int)w, p->excluded[i].name, g, p->excluded[i].reason, r);
    }
}

int sl_cmd_plan(int argc, char **argv)
{
    struct cli_pipeline_args args = {0};
    const char **vars = sl_xcalloc((size_t)argc + 1, sizeof(char *));
    const char **changed = sl_xcalloc((size_t)argc + 1, sizeof(char *));
    const char **inputs = sl_xcalloc((size_t)argc + 1, sizeof(char *));
    size_t nvars = 0, nchanged = 0, ninputs = 0, nprojects = 0;
    bool json = false;
    int opt, ret;

    struct sl_cli_args ca;
    args.includes.projects = sl_xcalloc((size_t)argc + 1, sizeof(char *));
    sl_cli_args_init(&ca, &sl_cli_spec_plan, argc, argv);
    while ((opt = sl_cli_next(&ca)) > 0) {
        switch (opt) {
        case 'f':
            args.file = ca.arg;
            break;
        case 'r':
            args.ref = ca.arg;
            break;
        case 't':
            args.tag = ca.arg;
            break;
        case 's':
            args.source = ca.arg;
            break;
        case 'v':
            vars[nvars++] = ca.arg;
            break;
        case 'i':
            inputs[ninputs++] = ca.arg;
            break;
        case 'c':
            changed[nchanged++] = ca.arg;
            break;
        case 'j':
            json = true;
            break;
        default:
            sl_cli_include_opt(&args.includes, opt, ca.arg, &nprojects);
        }
    }
    if (opt < 0 || sl_cli_too_many(&ca, 0)) {
        ret = opt < 0 ? ca.exit : SL_EXIT_USAGE;
        goto out;
    }
    if (args.ref && args.tag) {
        sl_cli_error("plan: --ref and --tag exclude each other");
        ret = SL_EXIT_USAGE;
        goto out;
    }
    args.vars = vars;
    args.changed = changed;
    args.inputs = inputs;
    args.json_errors = json ? CLI_JSON_OBJECT : CLI_JSON_NONE;
    struct cli_pipeline p;
    ret = sl_cli_pipeline_prepare(&p, &args);
    if (ret == SL_EXIT_OK) {
        struct cli_unacted u = {0};
        sl_cli_unacted_local(&u, p.plan, NULL);
        sl_cli_unacted_print(&u, stderr);
        sl_cli_unacted_release(&u);
        if (json) {
            struct sl_str s = SL_STR_INIT;
            sl_plan_write_json(p.plan, &s);
            sl_str_addc(&s, '\n');
            fwrite(s.buf, 1, s.len, stdout);
            sl_str_release(&s);
        } else {
            print_plan(p.plan, sl_cli_color());
        }
    }
    sl_cli_pipeline_release(&p);
out:
    free(vars);
    free(changed);
    free(inputs);
    free(args.includes.projects);
    return ret;
}
