/* opts.h: one option table per command, as data (as redis's config table and h2o's
 * configurator tables are). The table is the only place a command's options are written: it
 * drives the parsing (sl_cli_next), the usage line and --help (sl_cli_help), the shell
 * completion (completion.c) and the man page (man.c), so they cannot drift apart.
 *
 * A command declares its table and spec beside its code:
 *
 *   static const struct sl_cli_opt lint_opts[] = {
 *       {'f', 'f', "file", "FILE", "the pipeline file (default: ...)", 0},
 *       {'j', 0, "json", NULL, "print the findings as JSON", 0},
 *   };
 *   const struct sl_cli_spec sl_cli_spec_lint = {
 *       .name = "lint", .about = "Checks ...", .docs = "docs/lint.md",
 *       .opts = lint_opts, .nopts = SL_ARRAY_LEN(lint_opts)};
 *
 * and parses with:
 *
 *   struct sl_cli_args p;
 *   sl_cli_args_init(&p, &sl_cli_spec_lint, argc, argv);
 *   int o;
 *   while ((o = sl_cli_next(&p)) > 0)
 *       switch (o) { case 'f': file = p.arg; break; ... }
 *   if (o < 0)
 *       return p.exit;            (--help printed: 0; a usage error reported: 2)
 *   ... p.rest[0 .. p.nrest-1] are the operands ...
 *
 * -h/--help is implicit in every table. Options and operands may be mixed (GNU order, as
 * before); "--" ends the options; long names may be abbreviated while unambiguous. */
#ifndef SL_CLI_OPTS_H
#define SL_CLI_OPTS_H

#include "base/compat.h"

#include <getopt.h>

enum {
    SL_OPT_REPEAT = 1,   /* may be given more than once: the usage line shows "[--var K=V]..." */
    SL_OPT_REQUIRED = 2, /* the usage line shows it without brackets (the command checks it) */
};

struct sl_cli_opt {
    int id;           /* what sl_cli_next returns for it: > 0, unique in the table */
    char shrt;        /* the short form's letter (-f), or 0 */
    const char *name; /* the long form without its dashes (file for --file) */
    const char *arg;  /* its argument's name in the help ("FILE"), NULL for a flag */
    const char *help; /* what it does: prose, wrapped by the help printer */
    unsigned flags;   /* SL_OPT_* */
};

struct sl_cli_spec {
    const char *name; /* the command as typed after "sluice" ("lint") */
    /* The usage forms after "sluice NAME", NULL-terminated, for commands whose subcommands
     * take different operands ("set KEY VALUE --url URL ..."); NULL: one form made of
     * OPERANDS and every option of the table. */
    const char *const *forms;
    const char *operands;    /* the words of the generated form before the options, or NULL */
    const char *subcommands; /* "list|set|rm": the first words it takes (completion), or NULL */
    const char *about;       /* the description: preformatted lines, after the usage */
    const char *epilog;      /* after the options (exit codes, notes), preformatted; or NULL */
    const char *docs;        /* its page in the sources ("docs/run.md"): help and man name it */
    const struct sl_cli_opt *opts;
    size_t nopts;
};

/* Entries several commands share, so their help says the same everywhere. */
#define SL_CLI_OPT_FILE(id)                                                                        \
    {                                                                                              \
        (id), 'f', "file", "FILE",                                                                 \
            "the pipeline file (default: .gitlab-ci.yml at the root of the git work tree holding " \
            "the current directory)",                                                              \
            0                                                                                      \
    }
#define SL_CLI_OPT_VAR(id)                                                                         \
    {                                                                                              \
        (id), 0, "var", "K=V", "a pipeline variable (highest precedence); repeatable",             \
            SL_OPT_REPEAT                                                                          \
    }
#define SL_CLI_OPT_INPUT(id)                                                                       \
    {                                                                                              \
        (id), 0, "input", "N=V", "a value for input N of the file's spec:inputs; repeatable",      \
            SL_OPT_REPEAT                                                                          \
    }
#define SL_CLI_OPT_URL(id, also)                                                                   \
    {                                                                                              \
        (id), 0, "url", "URL", "the server (or SLUICE_URL" also ")", 0                             \
    }
#define SL_CLI_OPT_TOKEN(id, also)                                                                 \
    {                                                                                              \
        (id), 0, "token", "TOKEN", "an API token (or SLUICE_TOKEN" also ")", 0                     \
    }
#define SL_CLI_OPT_DATA(id)                                                                        \
    {                                                                                              \
        (id), 0, "data", "DIR", "the server's data directory (default ./sluice-data)", 0           \
    }
#define SL_CLI_OPT_DB(id)                                                                          \
    {                                                                                              \
        (id), 0, "db", "URL",                                                                      \
            "the store, when the server uses one (or SLUICE_DB; a password here is visible in "    \
            "ps: use SLUICE_DB or --db-file)",                                                     \
            0                                                                                      \
    }
#define SL_CLI_OPT_DB_FILE(id)                                                                     \
    {                                                                                              \
        (id), 0, "db-file", "FILE",                                                                \
            "the store's URL read from FILE's first line (instead of --db)", 0                     \
    }
#define SL_CLI_OPT_INIT(id)                                                                        \
    {                                                                                              \
        (id), 0, "init", NULL,                                                                     \
            "create the store when the database holds none yet (without it, a directory or "       \
            "database no server has used is an error)",                                            \
            0                                                                                      \
    }

#define SL_CLI_MAX_OPTS 40

enum { SL_CLI_END = 0, SL_CLI_STOP = -1 };

struct sl_cli_args {
    const struct sl_cli_spec *spec;
    int argc;
    char **argv;
    const char *arg; /* the argument of the option sl_cli_next returned (NULL for a flag) */
    char **rest;     /* after SL_CLI_END: the operands, in order (borrowed from argv) */
    int nrest;
    int exit; /* after SL_CLI_STOP: the command's exit code (0 after --help, 2 usage error) */
    /* private: the getopt_long tables made from the spec */
    struct option longopts[SL_CLI_MAX_OPTS + 2];
    char shortopts[2 * SL_CLI_MAX_OPTS + 8];
};

/* ARGV[0] is the command (or subcommand) word; the options start at ARGV[1]. Borrows SPEC
 * and ARGV. A table over SL_CLI_MAX_OPTS options is a programming error (abort). */
void sl_cli_args_init(struct sl_cli_args *p, const struct sl_cli_spec *spec, int argc, char **argv);
/* The id of the next option (its argument in p->arg); SL_CLI_END when the options are done
 * (the operands in p->rest); SL_CLI_STOP after --help was printed on stdout or a usage error
 * ("sluice: NAME: unknown option '--x'; see 'sluice NAME --help'", with a "did you mean"
 * hint) on stderr: the command returns p->exit. */
int sl_cli_next(struct sl_cli_args *p);
/* After SL_CLI_END: true (and the error printed) when operands were given to a command that
 * takes at most MAX of them. */
bool sl_cli_too_many(const struct sl_cli_args *p, int max);

/* For a command with subcommands, before parsing its options: -1 when ARGV[1] may be a
 * subcommand; else the command's exit code after its help was printed (missing: on stderr,
 * SL_EXIT_USAGE; -h or --help: on stdout, SL_EXIT_OK). */
int sl_cli_subcommand_help(int argc, char **argv, const struct sl_cli_spec *spec);
/* An option's whole-number argument S from LO to HI into *OUT; false when S is anything
 * else (empty, trailing bytes, out of range). */
bool sl_cli_parse_long(const char *s, long lo, long hi, long *out);
/* The usage line(s): "usage: sluice lint [-f FILE] [--json] ...", wrapped. */
void sl_cli_usage(FILE *f, const struct sl_cli_spec *spec);
/* The whole --help text: usage, description, options, epilog, docs page. */
void sl_cli_help(FILE *f, const struct sl_cli_spec *spec);
/* "-f, --file FILE" of O, as the help and the man page show it, into BUF. */
void sl_cli_opt_label(const struct sl_cli_opt *o, char *buf, size_t size);
/* The implicit -h/--help entry every command has. */
extern const struct sl_cli_opt sl_cli_help_opt;

#endif
