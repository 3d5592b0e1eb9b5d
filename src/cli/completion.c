/* completion.c: `sluice completion bash|zsh|fish`. The words come from the command table
 * (main.c) and each command's option table (opts.h), so a command or option added later
 * completes without an edit here. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/str.h"
#include "cli/cli.h"
#include "cli/opts.h"

static void add_word(char ***v, size_t *n, size_t *cap, const char *w, size_t len)
{
    for (size_t i = 0; i < *n; i++)
        if (strlen((*v)[i]) == len && !strncmp((*v)[i], w, len))
            return;
    SL_GROW(*v, *cap, *n + 2);
    (*v)[(*n)++] = sl_xstrndup(w, len);
    (*v)[*n] = NULL;
}

char **sl_cli_command_words(const struct command *c)
{
    const struct sl_cli_spec *spec = c->spec;
    char **v = sl_xcalloc(1, sizeof(*v));
    size_t n = 0, cap = 1;
    /* subcommands first: "list|set|rm" */
    for (const char *w = spec->subcommands; w && *w;) {
        size_t len = strcspn(w, "|");
        add_word(&v, &n, &cap, w, len);
        w += len + (w[len] == '|');
    }
    char buf[128];
    for (size_t i = 0; i <= spec->nopts; i++) {
        const struct sl_cli_opt *o = i < spec->nopts ? &spec->opts[i] : &sl_cli_help_opt;
        snprintf(buf, sizeof(buf), "--%s", o->name);
        add_word(&v, &n, &cap, buf, strlen(buf));
        if (o->shrt) {
            snprintf(buf, sizeof(buf), "-%c", o->shrt);
            add_word(&v, &n, &cap, buf, strlen(buf));
        }
    }
    return v;
}

static void free_words(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static void words_line(const struct command *c, const char *sep)
{
    char **w = sl_cli_command_words(c);
    for (size_t i = 0; w[i]; i++)
        printf("%s%s", i ? sep : "", w[i]);
    free_words(w);
}

static void bash(const struct command *cmds, size_t n)
{
    printf("# sluice completion for bash: source it, or install it as\n"
           "# /usr/share/bash-completion/completions/sluice\n"
           "_sluice() {\n"
           "    local cur=${COMP_WORDS[COMP_CWORD]}\n"
           "    if ((COMP_CWORD == 1)); then\n"
           "        COMPREPLY=($(compgen -W \"");
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i ? " " : "", cmds[i].name);
    printf(" help --help --version\" -- \"$cur\"))\n"
           "        return\n"
           "    fi\n"
           "    local words=\n"
           "    case ${COMP_WORDS[1]} in\n");
    for (size_t i = 0; i < n; i++) {
        printf("    %s) words=\"", cmds[i].name);
        words_line(&cmds[i], " ");
        printf("\" ;;\n");
    }
    printf("    help) words=\"");
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i ? " " : "", cmds[i].name);
    printf("\" ;;\n"
           "    esac\n"
           "    COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
           "    [[ $cur == -* ]] || COMPREPLY+=($(compgen -f -- \"$cur\"))\n"
           "}\n"
           "complete -o filenames -F _sluice sluice\n");
}

/* A summary in single quotes for zsh and fish. */
static void quoted(const char *s)
{
    for (; *s; s++)
        if (*s == '\'')
            fputs("'\\''", stdout);
        else
            putchar(*s);
}

static void zsh(const struct command *cmds, size_t n)
{
    printf("#compdef sluice\n"
           "# sluice completion for zsh: put it on $fpath as _sluice\n"
           "_sluice() {\n"
           "    local -a cmds\n"
           "    cmds=(\n");
    for (size_t i = 0; i < n; i++) {
        printf("        '%s:", cmds[i].name);
        quoted(cmds[i].summary);
        printf("'\n");
    }
    printf("    )\n"
           "    if ((CURRENT == 2)); then\n"
           "        _describe 'command' cmds\n"
           "        return\n"
           "    fi\n"
           "    local -a opts\n"
           "    case $words[2] in\n");
    for (size_t i = 0; i < n; i++) {
        printf("    %s) opts=(", cmds[i].name);
        words_line(&cmds[i], " ");
        printf(") ;;\n");
    }
    printf("    esac\n"
           "    _alternative \"options:option:($opts)\" 'files:file:_files'\n"
           "}\n"
           "_sluice \"$@\"\n");
}

static void fish(const struct command *cmds, size_t n)
{
    printf("# sluice completion for fish: put it in ~/.config/fish/completions/sluice.fish\n"
           "complete -c sluice -f\n");
    for (size_t i = 0; i < n; i++) {
        printf("complete -c sluice -n __fish_use_subcommand -a %s -d '", cmds[i].name);
        quoted(cmds[i].summary);
        printf("'\n");
        char **w = sl_cli_command_words(&cmds[i]);
        for (size_t k = 0; w[k]; k++) {
            const char *x = w[k];
            printf("complete -c sluice -n '__fish_seen_subcommand_from %s' ", cmds[i].name);
            if (x[0] == '-' && x[1] == '-')
                printf("-l %s -F\n", x + 2);
            else if (x[0] == '-')
                printf("-s %s -F\n", x + 1);
            else
                printf("-a %s\n", x);
        }
        free_words(w);
    }
}

const struct sl_cli_spec sl_cli_spec_completion = {
    .name = "completion",
    .forms = (const char *const[]){"bash|zsh|fish", NULL},
    .subcommands = "bash|zsh|fish",
    .about = "Prints the completion script of that shell: commands, their subcommands and\n"
             "options (from each command's option table), file names for the rest.\n\n"
             "  bash: source <(sluice completion bash)\n"
             "  zsh:  sluice completion zsh > \"${fpath[1]}/_sluice\"\n"
             "  fish: sluice completion fish > ~/.config/fish/completions/sluice.fish\n\n"
             "'make install' installs all three.\n",
    .docs = "docs/run.md",
};

int sl_cli_completion(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*emit)(const struct command *, size_t);
    } shells[] = {{"bash", bash}, {"zsh", zsh}, {"fish", fish}};
    struct sl_cli_args p;
    int opt;
    sl_cli_args_init(&p, &sl_cli_spec_completion, argc, argv);
    while ((opt = sl_cli_next(&p)) > 0)
        ;
    if (opt < 0)
        return p.exit;
    for (size_t i = 0; p.nrest == 1 && i < SL_ARRAY_LEN(shells); i++) {
        if (!strcmp(p.rest[0], shells[i].name)) {
            size_t n;
            const struct command *cmds = sl_cli_commands(&n);
            shells[i].emit(cmds, n);
            return SL_EXIT_OK;
        }
    }
    sl_cli_usage(stderr, &sl_cli_spec_completion);
    return SL_EXIT_USAGE;
}
