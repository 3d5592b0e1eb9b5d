/* config.c: `sluice config [-f FILE]`, the fully merged pipeline configuration as YAML. */
#include "base/compat.h"
#include "cli/cli.h"
#include "base/alloc.h"
#include "base/diag.h"
#include "base/str.h"
#include "cli/pipeline.h"
#include "config/config.h"

#include <getopt.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: sluice config [-f FILE]\n\n"
               "Prints the pipeline configuration with includes, anchors, `extends`, `!reference`\n"
               "and `default:` resolved, as GitLab shows its merged YAML. Errors and warnings are\n"
               "printed as FILE:LINE:COL: message on stderr.\n\n"
               "Options:\n"
               "  -f, --file FILE  the pipeline file (default: .gitlab-ci.yml at the root of the\n"
               "                   git work tree holding the current directory)\n"
               "  -h, --help       show this help\n\n"
               "Exit codes: 0 valid, 1 invalid configuration (the YAML is still printed when it\n"
               "could be resolved), 2 usage error or unreadable file.\n");
}

int sl_cmd_config(int argc, char **argv)
{
    static const struct option longopts[] = {{"file", required_argument, NULL, 'f'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *file = NULL;
    char *found = NULL;
    int opt;

    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'f':
            file = optarg;
            break;
        case 'h':
            usage(stdout);
            return SL_EXIT_OK;
        default:
            sl_cli_error("config: unknown option '%s'; see 'sluice config --help'",
                         argv[optind - 1]);
            return SL_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        sl_cli_error("config: unexpected argument '%s'", argv[optind]);
        return SL_EXIT_USAGE;
    }
    if (!file && !(file = found = sl_cli_default_ci_file()))
        return SL_EXIT_USAGE;

    struct sl_diag diag = SL_DIAG_INIT;
    struct sl_config *cfg = NULL;
    int rc = cli_load_config(file, false, &cfg, &diag);
    int ret;
    if (rc == SL_ENOENT && diag.n == 0) {
        sl_cli_error("%s: no such file", file);
        ret = SL_EXIT_USAGE;
    } else {
        cli_print_diag(&diag);
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
    free(found);
    return ret;
}
