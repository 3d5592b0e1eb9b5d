/* main.c: the `sluice` entry point and its table of subcommands. */
#include "base/compat.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "exec/exec.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/suggest.h"

#include <unistd.h>

#include "sl_commit.h" /* generated: build/gen, cmake/commit.cmake */

static int cmd_version(int argc, char **argv);

static const struct command commands[] = {
    {"lint", sl_cmd_lint, "check a pipeline file and report every error", &sl_cli_spec_lint},
    {"config", sl_cmd_config, "print the fully merged pipeline configuration", &sl_cli_spec_config},
    {"plan", sl_cmd_plan, "show which jobs a trigger would run", &sl_cli_spec_plan},
    {"run", sl_cmd_run, "run the pipeline here, as GitLab would", &sl_cli_spec_run},
    {"clean", sl_cmd_clean, "remove the workspaces, caches and old pipelines of sluice run",
     &sl_cli_spec_clean},
    {"serve", sl_cmd_serve, "run the CI server (HTTP API and workers)", &sl_cli_spec_serve},
    {"agent", sl_cmd_agent, "take jobs from a server over its runner API and run them here",
     &sl_cli_spec_agent},
    {"token", sl_cmd_token, "create API tokens for the server", &sl_cli_spec_token},
    {"runner", sl_cmd_runner, "create runners and registration tokens for the runner API",
     &sl_cli_spec_runner},
    {"secrets", sl_cmd_secrets, "rotate the key CI/CD variables are sealed with",
     &sl_cli_spec_secrets},
    {"var", sl_cmd_var, "set, list and remove CI/CD variables of a server", &sl_cli_spec_var},
    {"notify", sl_cmd_notify, "send a sample notification of a project (notify test)",
     &sl_cli_spec_notify},
    {"env", sl_cmd_env, "environments and deployments of a server: list, stop, roll back, approve",
     &sl_cli_spec_env},
    {"flag", sl_cmd_flag, "feature flags of a server: list, enable, disable, roll out",
     &sl_cli_spec_flag},
    {"completion", sl_cli_completion, "print the shell completion script for bash, zsh or fish",
     &sl_cli_spec_completion},
    {"version", cmd_version, "print the version", &sl_cli_spec_version},
};

const struct command *sl_cli_commands(size_t *n)
{
    *n = SL_ARRAY_LEN(commands);
    return commands;
}

const struct sl_cli_spec sl_cli_spec_version = {
    .name = "version",
    .about = "Prints the version of sluice and the commit it was built from.\n",
    .docs = "docs/run.md",
};

static int cmd_version(int argc, char **argv)
{
    struct sl_cli_args p;
    int opt;
    sl_cli_args_init(&p, &sl_cli_spec_version, argc, argv);
    while ((opt = sl_cli_next(&p)) > 0)
        ;
    if (opt < 0)
        return p.exit;
    if (sl_cli_too_many(&p, 0))
        return SL_EXIT_USAGE;
    printf("sluice %s (commit %s)\n", SL_VERSION, SL_COMMIT);
    return SL_EXIT_OK;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: sluice [--version] [--help] COMMAND [ARGS]\n\n"
               "sluice runs GitLab CI pipelines (.gitlab-ci.yml) locally and as a server.\n\n"
               "Commands:\n");
    for (size_t i = 0; i < SL_ARRAY_LEN(commands); i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun 'sluice COMMAND --help' (or 'sluice help COMMAND') for a command's options.\n"
               "Exit codes: 0 success, 1 the pipeline or lint failed, 2 usage or configuration "
               "error.\n");
}

void sl_cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("sluice: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

bool sl_cli_color(void)
{
    const char *nc = getenv("NO_COLOR");
    return isatty(1) && !(nc && *nc);
}

char *sl_cli_default_ci_file(void)
{
    char *cwd = get_current_dir_name();
    if (!cwd) {
        sl_cli_error("cannot determine the current directory: %s", strerror(errno));
        return NULL;
    }
    /* walk up to the directory holding .git (a work tree root); else use cwd */
    char *dir = sl_xstrdup(cwd);
    char *root = NULL;
    for (;;) {
        char *git = sl_fs_join(dir, ".git");
        bool found = sl_fs_exists(git);
        free(git);
        if (found) {
            root = dir;
            break;
        }
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir) {
            free(dir);
            break;
        }
        *slash = '\0';
    }
    char *path = sl_fs_join(root ? root : cwd, ".gitlab-ci.yml");
    free(root);
    free(cwd);
    return path;
}

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(commands); i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

/* The error for NAME, with the closest command as a hint, as git does. */
static void unknown_command(const char *name)
{
    struct sl_suggest s;
    sl_suggest_init(&s, name);
    for (size_t i = 0; i < SL_ARRAY_LEN(commands); i++)
        sl_suggest_try(&s, commands[i].name);
    sl_cli_error("'%s' is not a sluice command; see 'sluice --help'", name);
    if (s.best)
        fprintf(stderr, "  hint: did you mean `%s`?\n", s.best);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return SL_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") && argc > 2) { /* `sluice help run` is `sluice run --help` */
        const struct command *c = find_command(argv[2]);
        if (!c || argc > 3) {
            if (!c)
                unknown_command(argv[2]);
            else
                sl_cli_error("usage: sluice help [COMMAND]");
            return SL_EXIT_USAGE;
        }
        char *hargv[] = {argv[2], (char *)"--help", NULL};
        return c->fn(2, hargv);
    }
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return SL_EXIT_OK;
    }
    if (!strcmp(cmd, "__man")) /* scripts/man.sh (make install) */
        return sl_cli_man(argc - 1, argv + 1);
    if (!strcmp(cmd, "__sandbox")) /* the sandbox executor's helper (exec/sandbox.c) */
        return sl_exec_sandbox_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "--version"))
        return cmd_version(argc - 1, argv + 1);
    const struct command *c = find_command(cmd);
    if (c)
        return c->fn(argc - 1, argv + 1);
    unknown_command(cmd);
    return SL_EXIT_USAGE;
}
