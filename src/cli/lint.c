/* lint.c: `sluice lint`, every error of a pipeline file as FILE:LINE:COL: message. */
#include "base/compat.h"
#include "base/alloc.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "base/diag.h"
#include "cli/pipeline.h"
#include "config/config.h"

#include <jansson.h>
#include <sys/stat.h>

static const struct sl_cli_opt lint_opts[] = {
    SL_CLI_OPT_FILE('f'),
    {'j', 0, "json", NULL, "print {\"valid\", \"errors\", \"warnings\"} as JSON", 0},
    {'s', 0, "schema", NULL,
     "check only the shape of every keyword, as GitLab's JSON schema does in its editor; skip "
     "the checks that need the whole project: stages exist, needs/dependencies name jobs, "
     "included files exist, extends parents exist, !reference targets exist",
     0},
    CLI_INCLUDE_OPTS,
};

const struct sl_cli_spec sl_cli_spec_lint = {
    .name = "lint",
    .about = "Checks a pipeline file (with its includes) as GitLab would and prints every\n"
             "error as FILE:LINE:COL: message, and warnings as FILE:LINE:COL: warning: message,\n"
             "on stdout.\n",
    .epilog = "Exit codes: 0 valid (warnings allowed), 1 invalid, 2 usage error.\n",
    .docs = "docs/lint.md",
    .opts = lint_opts,
    .nopts = SL_ARRAY_LEN(lint_opts),
};

int sl_cmd_lint(int argc, char **argv)
{
    const char *file = NULL;
    char *found = NULL;
    bool json = false, shape_only = false;
    struct sl_cli_args p;
    struct cli_include_opts includes = {0};
    size_t nprojects = 0;
    int opt, ret = SL_EXIT_OK;

    includes.projects = sl_xcalloc((size_t)argc + 1, sizeof(char *));

    sl_cli_args_init(&p, &sl_cli_spec_lint, argc, argv);
    while ((opt = sl_cli_next(&p)) > 0) {
        switch (opt) {
        case 'f':
            file = p.arg;
            break;
        case 'j':
            json = true;
            break;
        case 's':
            shape_only = true;
            break;
        default:
            sl_cli_include_opt(&includes, opt, p.arg, &nprojects);
        }
    }
    if (opt < 0 || sl_cli_too_many(&p, 0) ||
        (!file && !(file = found = sl_cli_default_ci_file()))) {
        ret = opt < 0 ? p.exit : SL_EXIT_USAGE;
        goto done;
    }

    /* a missing pipeline file is a usage error (exit 2, stderr), not a finding; a missing
     * included file stays a finding of the pipeline (exit 1, stdout) */
    struct stat st;
    if (stat(file, &st) < 0) {
        sl_cli_error("%s: %s", file, strerror(errno));
        ret = SL_EXIT_USAGE;
        goto done;
    }
    struct sl_diag diag = SL_DIAG_INIT;
    struct sl_config *cfg = NULL;
    int rc = sl_cli_load_config(file, shape_only, &includes, &cfg, &diag);
    if (rc == SL_ENOENT && diag.n == 0) {
        sl_cli_error("%s: no such file", file);
        ret = SL_EXIT_USAGE;
    } else {
        if (json) {
            json_t *o = sl_cli_diag_json(&diag, rc == 0 && diag.errors == 0);
            char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            printf("%s\n", s);
            free(s);
            json_decref(o);
        } else {
            /* findings then the verdict, all on stdout, as shellcheck and eslint print them */
            sl_cli_diag_write(stdout, &diag);
            if (rc == 0 && diag.errors == 0)
                printf("%s is valid\n", file);
            else
                printf("%s is invalid: %zu error%s, %zu warning%s\n", file, diag.errors,
                       diag.errors == 1 ? "" : "s", diag.warnings, diag.warnings == 1 ? "" : "s");
        }
        ret = rc == 0 && diag.errors == 0 ? SL_EXIT_OK : SL_EXIT_FAIL;
    }
    sl_config_free(cfg);
    sl_diag_release(&diag);
done:
    free(includes.projects);
    free(found);
    return ret;
}
