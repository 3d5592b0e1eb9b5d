/* cli.h: what the subcommands of `sluice` share.
 *
 * Each subcommand lives in its own file (lint.c, config.c, plan.c, run.c, serve.c, ...) and
 * exposes `int sl_cmd_<name>(int argc, char **argv)`, where argv[0] is the subcommand name.
 * It returns the process exit code: 0 success, 1 the pipeline or lint failed, 2 usage or
 * configuration error (SL_EXIT_*). main.c holds the table of subcommands. */
#ifndef SL_CLI_H
#define SL_CLI_H

#include "base/compat.h"

enum { SL_EXIT_OK = 0, SL_EXIT_FAIL = 1, SL_EXIT_USAGE = 2 };

int sl_cmd_lint(int argc, char **argv);
int sl_cmd_config(int argc, char **argv);
int sl_cmd_plan(int argc, char **argv);
int sl_cmd_run(int argc, char **argv);
int sl_cmd_clean(int argc, char **argv);
int sl_cmd_serve(int argc, char **argv);
int sl_cmd_agent(int argc, char **argv);
int sl_cmd_token(int argc, char **argv);
int sl_cmd_runner(int argc, char **argv);
int sl_cmd_secrets(int argc, char **argv);
int sl_cmd_var(int argc, char **argv);
int sl_cmd_notify(int argc, char **argv);
int sl_cmd_env(int argc, char **argv);
int sl_cmd_flag(int argc, char **argv);

struct sl_cli_spec; /* cli/opts.h */

/* Each command's option table and help (beside its code; opts.h). */
extern const struct sl_cli_spec sl_cli_spec_lint, sl_cli_spec_config, sl_cli_spec_plan,
    sl_cli_spec_run, sl_cli_spec_clean, sl_cli_spec_serve, sl_cli_spec_agent, sl_cli_spec_token,
    sl_cli_spec_runner, sl_cli_spec_secrets, sl_cli_spec_var, sl_cli_spec_notify, sl_cli_spec_env,
    sl_cli_spec_flag, sl_cli_spec_completion, sl_cli_spec_version;

/* A subcommand of the table in main.c. */
struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
    const struct sl_cli_spec *spec; /* its options: parsing, help, completion, man page */
};
/* The table, in the order `sluice --help` lists it (borrowed). */
const struct command *sl_cli_commands(size_t *n);
/* `sluice completion bash|zsh|fish` (completion.c). */
int sl_cli_completion(int argc, char **argv);
/* The subcommand words, then the long and short options of COMMAND's option table (with
 * --help and -h). NULL-terminated; free each string and the array. */
char **sl_cli_command_words(const struct command *c);
/* `sluice __man DIR`: the man pages sluice.1 and sluice-COMMAND.1 from the tables (man.c). */
int sl_cli_man(int argc, char **argv);

/* The store's URL of a command that opens it (db_url.c): DB_ARG (--db, whose password, if
 * any, is then overwritten in place in the command line, with a warning), else the first
 * line of DB_FILE (--db-file), else $SLUICE_DB; *OUT NULL when none (the data directory's
 * SQLite file), else the caller's. -1 with the error printed when both options are given
 * or the file cannot be read. CMD names the command in messages. */
int sl_cli_db_url(const char *cmd, char *db_arg, const char *db_file, char **out);
/* The store options of those commands, --data DIR, --db URL and --db-file FILE, as their
 * tables give them these ids (SL_CLI_OPT_DATA(SL_CLI_O_DATA), ...): one parsing for all. */
enum { SL_CLI_O_DATA = 920, SL_CLI_O_DB, SL_CLI_O_DB_FILE };
struct sl_cli_store_args {
    const char *data;    /* --data (borrowed); the caller sets the default */
    char *db_arg;        /* --db: argv's own bytes, so that its password is scrubbed there */
    const char *db_file; /* --db-file */
};
/* Takes option OPT with ARG when it is one of the store options: true; false for others. */
bool sl_cli_store_opt(struct sl_cli_store_args *s, int opt, const char *arg);
/* Prints "sluice: MESSAGE" to stderr. */
void sl_cli_error(const char *fmt, ...) SL_PRINTF(1, 2);
/* Finds the pipeline file when -f was not given: .gitlab-ci.yml at the root of the git
 * work tree that holds the current directory (or the current directory when not in a
 * work tree). Returns a new string (caller frees) or NULL with a message printed. */
char *sl_cli_default_ci_file(void);
/* True when stdout is a terminal and NO_COLOR is unset. */
bool sl_cli_color(void);

#endif
