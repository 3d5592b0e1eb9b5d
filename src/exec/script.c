/* script.c: the script a job's shell reads, as the runner's bash script generator makes
 * it (executors.h). Shared by the shell, sandbox and docker executors. */
#include "base/compat.h"
#include "exec/executors.h"
#include "base/str.h"

/* Appends S single-quoted for a POSIX shell. */
static void add_quoted(struct sl_str *b, const char *s, size_t n)
{
    sl_str_addc(b, '\'');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\'')
            sl_str_adds(b, "'\\''");
        else
            sl_str_addc(b, s[i]);
    }
    sl_str_addc(b, '\'');
}

/* The echo of one command, as the runner prints it: the command trimmed, and only its
 * first line plus a marker comment when it spans several lines. */
static void add_echo(struct sl_str *b, const char *marker, const char *cmd)
{
    const char *start = cmd, *end = cmd + strlen(cmd), *nl;
    struct sl_str line = SL_STR_INIT;

    while (start < end && (*start == ' ' || *start == '\t' || *start == '\n' || *start == '\r'))
        start++;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
        end--;
    sl_str_adds(&line, marker);
    sl_str_adds(&line, "$ ");
    nl = memchr(start, '\n', (size_t)(end - start));
    if (nl) {
        sl_str_add(&line, start, (size_t)(nl - start));
        sl_str_adds(&line, " # collapsed multi-line command");
    } else {
        sl_str_add(&line, start, (size_t)(end - start));
    }
    sl_str_adds(b, "printf '%s\\n' ");
    add_quoted(b, line.buf, line.len);
    sl_str_addc(b, '\n');
    sl_str_release(&line);
}

/* The script a phase's shell reads. `set -e` ends it at the first failing command and
 * pipefail (where the shell has it) makes a failing stage of a pipeline count, as the
 * runner's bash script does. */
char *sl_exec_script_build(const char *marker, bool is_bash, const char *const *lists[],
                           size_t nlists)
{
    struct sl_str b = SL_STR_INIT;

    sl_str_adds(&b, "set -e\n");
    if (is_bash)
        sl_str_adds(&b, "set -o pipefail\n");
    else
        /* `command` keeps a special builtin's error from ending the shell (POSIX), so a
         * shell without pipefail goes on, without forking a subshell to ask first. */
        sl_str_adds(&b, "command set -o pipefail 2>/dev/null || true\n");
    for (size_t l = 0; l < nlists; l++) {
        for (const char *const *c = lists[l]; c && *c; c++) {
            add_echo(&b, marker, *c);
            sl_str_adds(&b, *c);
            sl_str_addc(&b, '\n');
        }
    }
    return sl_str_detach(&b);
}
