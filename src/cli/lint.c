/* lint.c: `sluice lint`, every error of a pipeline file as FILE:LINE:COL: message. */
#include "base/compat.h"
#include "cli/cli.h"
#include "base/diag.h"
#include "cli/pipeline.h"
#include "config/config.h"

#include <getopt.h>
#include <jansson.h>
#include <sys/stat.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: sluice lint [-f FILE] [--json] [--schema]\n\n"
               "Checks a pipeline file (with its includes) as GitLab would and prints every\n"
               "error as FILE:LINE:COL: message, and warnings as FILE:LINE:COL: warning: message,\n"
               "on stdout.\n\n"
               "Options:\n"
               "  -f, --file FILE  the pipeline file (default: .gitlab-ci.yml at the root of the\n"
               "                   git work tree holding the current directory)\n"
               "      --json       print {\"valid\", \"errors\", \"warnings\"} as JSON\n"
               "      --schema     check only the shape of every keyword, as GitLab's JSON schema\n"
               "                   does in its editor; skip the checks that need the whole\n"
               "                   project: stages exist, needs/dependencies name jobs, included\n"
               "                   files exist, extends parents exist, !reference targets exist\n"
               "  -h, --help       show this help\n\n"
               "Exit codes: 0 valid (warnings allowed), 1 invalid, 2 usage error.\n");
}

static json_t *items_json(const struct sl_diag *d, enum sl_diag_level level)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < d->n; i++) {
        const struct sl_diag_item *it = &d->items[i];
        if (it->level != level)
            continue;
        json_t *o = json_object();
        json_object_set_new(o, "file", it->file ? json_string(it->file) : json_null());
        json_object_set_new(o, "line", json_integer(it->line));
        json_object_set_new(o, "column", json_integer(it->column));
        json_object_set_new(o, "message", json_string(it->message));
        if (it->hint)
            json_object_set_new(o, "hint", json_string(it->hint));
        json_array_append_new(arr, o);
    }
    return arr;
}

int sl_cmd_lint(int argc, char **argv)
{
    static const struct option longopts[] = {{"file", required_argument, NULL, 'f'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"schema", no_argument, NULL, 's'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *file = NULL;
    char *found = NULL;
    bool json = false, shape_only = false;
    int opt;

    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'f':
            file = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 's':
            shape_only = true;
            break;
        case 'h':
            usage(stdout);
            return SL_EXIT_OK;
        default:
            sl_cli_error("lint: unknown option '%s'; see 'sluice lint --help'", argv[optind - 1]);
            return SL_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        sl_cli_error("lint: unexpected argument '%s'", argv[optind]);
        return SL_EXIT_USAGE;
    }
    if (!file && !(file = found = sl_cli_default_ci_file()))
        return SL_EXIT_USAGE;

    /* a missing pipeline file is a usage error (exit 2, stderr), not a finding; a missing
     * included file stays a finding of the pipeline (exit 1, stdout) */
    struct stat st;
    if (stat(file, &st) < 0) {
        sl_cli_error("%s: %s", file, strerror(errno));
        free(found);
        return SL_EXIT_USAGE;
    }
    struct sl_diag diag = SL_DIAG_INIT;
    struct sl_config *cfg = NULL;
    int rc = cli_load_config(file, shape_only, &cfg, &diag);
    int ret = SL_EXIT_OK;
    if (rc == SL_ENOENT && diag.n == 0) {
        sl_cli_error("%s: no such file", file);
        ret = SL_EXIT_USAGE;
    } else {
        if (json) {
            json_t *o = json_object();
            json_object_set_new(o, "valid", json_boolean(rc == 0 && diag.errors == 0));
            json_object_set_new(o, "errors", items_json(&diag, SL_DIAG_ERROR));
            json_object_set_new(o, "warnings", items_json(&diag, SL_DIAG_WARNING));
            char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            printf("%s\n", s);
            free(s);
            json_decref(o);
        } else {
            /* findings then the verdict, all on stdout, as shellcheck and eslint print them */
            cli_diag_write(stdout, &diag);
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
    free(found);
    return ret;
}
