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
int sl_cmd_env(int argc, char **argv);
int sl_cmd_flag(int argc, char **argv);

/* A subcommand of the table in main.c. */
struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};
/* The table, in the order `sluice --help` lists it (borrowed). */
const struct command *sl_cli_commands(size_t *n);
/* `sluice completion bash|zsh|fish` (completion.c). */
int sl_cli_completion(int argc, char **argv);
/* The long and short options (and subcommand words) COMMAND's --help lists: every command
 * documents its options in its usage text, so completion reads them there and a command
 * added later needs no edit. NULL-terminated; free each string and the array. */
char **sl_cli_command_words(const struct command *c);

/* Prints "sluice: MESSAGE" to stderr. */
void sl_cli_error(const char *fmt, ...) SL_PRINTF(1, 2);
/* Finds the pipeline file when -f was not given: .gitlab-ci.yml at the root of the git
 * work tree that holds the current directory (or the current directory when not in a
 * work tree). Returns a new string (caller frees) or NULL with a message printed. */
char *sl_cli_default_ci_file(void);
/* True when stdout is a terminal and NO_COLOR is unset. */
bool sl_cli_color(void);

#endif
