/* config.c: `sluice config [-f FILE]`, the fully merged pipeline configuration as YAML. */
#include "base/compat.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "base/alloc.h"
#include "base/diag.h"
#include "base/str.h"
#include "cli/pipeline.h"
#include "config/config.h"

static const struct sl_cli_opt config_opts[] = {SL_CLI_OPT_FILE('f'), CLI_INCLUDE_OPTS};

const struct sl_cli_spec sl_cli_spec_config = {
    .name = "config",
    .about = "Prints the pipeline configuration with includes, anchors, `extends`, `!reference`\n"
             "and `default:` resolved, as GitLab shows its merged YAML. Errors and warnings are\n"
             "printed as FILE:LINE:COL: message on stderr.\n",
    .epilog = "Exit codes: 0 valid, 1 invalid configuration (the YAML is still printed when it\n"
              "could be resolved), 2 usage error or unreadable file.\n",
    .docs = "docs/lint.md",
    .opts = config_opts,
    .nopts = SL_ARRAY_LEN(config_opts),
};

int sl_cmd_config(int argc, char **argv)
{
    const char *file = NULL;
    char *found = NULL;
    struct sl_cli_args p;
    struct cli_include_opts includes = {0};
    size_t nprojects = 0;
    int opt, ret;

    includes.projects = sl_xcalloc((size_t)argc + 1, sizeof(char *));
    sl_cli_args_init(&p, &sl_cli_spec_config, argc, argv);
    while ((opt = sl_cli_next(&p)) > 0)
        if (opt == 'f')
            file = p.arg;
        else
            sl_cli_include_opt(&includes, opt, p.arg, &nprojects);
    if (opt < 0 || sl_cli_too_many(&p, 0) ||
        (!file && !(file = found = sl_cli_default_ci_file()))) {
        ret = opt < 0 ? p.exit : SL_EXIT_USAGE;
        goto done;
    }

    struct sl_diag diag = SL_DIAG_INIT;
    struct sl_config *cfg = NULL;
    int rc = sl_cli_load_config(file, false, &includes, &cfg, &diag);
    if (rc == SL_ENOENT && diag.n == 0) {
        sl_cli_error("%s: no such file", file);
        ret = SL_EXIT_USAGE;
    } else {
        sl_cli_print_diag(&diag);
        if (cfg) {
            struct sl_str out = SL_STR_INIT;
            sl_config_emit_yaml(cfg, &out);
            fwrite(out.buf, 1, out.len, stdout);
            sl_str_release(&out);
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
