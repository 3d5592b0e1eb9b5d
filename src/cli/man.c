/* man.c: `sluice __man DIR` writes sluice.1 and sluice-COMMAND.1 from the command table and
 * each command's option table (opts.h), the same data --help and completion are made of.
 * scripts/man.sh runs it for `make install`. */
#include "base/compat.h"
#include "base/fs.h"
#include "cli/cli.h"
#include "cli/opts.h"

#include "sl_commit.h" /* generated: build/gen, cmake/commit.cmake */

/* TEXT escaped for roff: backslashes, dashes (so `man` neither hyphenates nor turns them
 * into typographic ones) and a leading dot or quote on a line. */
static void roff(FILE *f, const char *text)
{
    bool bol = true;
    for (const char *p = text; *p; p++) {
        if (bol && (*p == '.' || *p == '\''))
            fputs("\\&", f);
        if (*p == '\\')
            fputs("\\e", f);
        else if (*p == '-')
            fputs("\\-", f);
        else
            fputc(*p, f);
        bol = *p == '\n';
    }
}

static void header(FILE *f, const char *page, const char *summary)
{
    fputs(".TH ", f);
    for (const char *p = page; *p; p++)
        fputc(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p, f);
    fprintf(f, " 1 \"\" \"sluice %s\" \"sluice manual\"\n.SH NAME\n", SL_VERSION);
    roff(f, page);
    fputs(" \\- ", f);
    roff(f, summary);
    fputc('\n', f);
}

/* A preformatted block (about, epilog, usage), as --help prints it. */
static void block(FILE *f, const char *section, const char *text)
{
    if (!text || !*text)
        return;
    fprintf(f, ".SH %s\n.nf\n", section);
    roff(f, text);
    if (text[strlen(text) - 1] != '\n')
        fputc('\n', f);
    fputs(".fi\n", f);
}

static void command_page(FILE *f, const struct command *c)
{
    const struct sl_cli_spec *spec = c->spec;
    char page[64];
    snprintf(page, sizeof(page), "sluice-%s", c->name);
    header(f, page, c->summary);
    /* the synopsis is the usage line(s) of --help, captured */
    char *usage = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&usage, &len);
    sl_cli_usage(m, spec);
    fclose(m);
    block(f, "SYNOPSIS", strncmp(usage, "usage: ", 7) ? usage : usage + 7);
    free(usage);
    block(f, "DESCRIPTION", spec->about);
    fputs(".SH OPTIONS\n", f);
    char label[128];
    for (size_t i = 0; i <= spec->nopts; i++) {
        const struct sl_cli_opt *o = i < spec->nopts ? &spec->opts[i] : &sl_cli_help_opt;
        sl_cli_opt_label(o, label, sizeof(label));
        fputs(".TP\n\\fB", f);
        roff(f, label + strspn(label, " "));
        fputs("\\fR\n", f);
        roff(f, o->help);
        fputc('\n', f);
    }
    block(f, "NOTES", spec->epilog);
    fputs(".SH SEE ALSO\n\\fBsluice\\fR(1)", f);
    if (spec->docs) {
        fputs("; ", f);
        roff(f, spec->docs);
        fputs(" in the sources", f);
    }
    fputs(".\n", f);
}

static void main_page(FILE *f, const struct command *cmds, size_t n)
{
    header(f, "sluice", "run GitLab CI pipelines locally and as a server");
    fputs(".SH SYNOPSIS\n\\fBsluice\\fR [\\-\\-version] [\\-\\-help] COMMAND [ARGS]\n"
          ".SH DESCRIPTION\nsluice runs GitLab CI pipelines (.gitlab\\-ci.yml) locally and as a "
          "server.\n.SH COMMANDS\n",
          f);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, ".TP\n\\fB%s\\fR\n", cmds[i].name);
        roff(f, cmds[i].summary);
        fprintf(f, " (\\fBsluice\\-%s\\fR(1))\n", cmds[i].name);
    }
    fputs(".SH EXIT STATUS\n0 success, 1 the pipeline or lint failed, 2 usage or configuration "
          "error.\n",
          f);
}

static int write_page(const char *dir, const char *name, const struct command *c,
                      const struct command *cmds, size_t n)
{
    char *path = sl_fs_join(dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        sl_cli_error("__man: %s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    if (c)
        command_page(f, c);
    else
        main_page(f, cmds, n);
    int rc = fclose(f) == 0 ? 0 : -1;
    if (rc < 0)
        sl_cli_error("__man: %s: %s", path, strerror(errno));
    free(path);
    return rc;
}

int sl_cli_man(int argc, char **argv)
{
    if (argc != 2) {
        sl_cli_error("usage: sluice __man DIR");
        return SL_EXIT_USAGE;
    }
    size_t n;
    const struct command *cmds = sl_cli_commands(&n);
    if (write_page(argv[1], "sluice.1", NULL, cmds, n) < 0)
        return SL_EXIT_FAIL;
    for (size_t i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof(name), "sluice-%s.1", cmds[i].name);
        if (write_page(argv[1], name, &cmds[i], cmds, n) < 0)
            return SL_EXIT_FAIL;
    }
    return SL_EXIT_OK;
}
