/* opts.c: parsing and help from a command's option table (opts.h). */
#include "base/compat.h"
#include "base/suggest.h"
#include "cli/cli.h"
#include "cli/opts.h"

#include <errno.h>

enum { WIDTH = 80, OPT_COL_MAX = 22, LONG_BASE = 256 };

const struct sl_cli_opt sl_cli_help_opt = {'h', 'h', "help", NULL, "show this help", 0};

/* The table's entry I, the implicit --help being the last one. */
static const struct sl_cli_opt *opt_at(const struct sl_cli_spec *s, size_t i)
{
    return i < s->nopts ? &s->opts[i] : &sl_cli_help_opt;
}

void sl_cli_args_init(struct sl_cli_args *p, const struct sl_cli_spec *spec, int argc, char **argv)
{
    memset(p, 0, sizeof(*p));
    p->spec = spec;
    p->argc = argc;
    p->argv = argv;
    if (spec->nopts > SL_CLI_MAX_OPTS)
        abort(); /* a table this long is a programming error: raise SL_CLI_MAX_OPTS */
    /* ':' first: a missing argument is told apart from an unknown option */
    char *s = p->shortopts;
    *s++ = ':';
    for (size_t i = 0; i <= spec->nopts; i++) {
        const struct sl_cli_opt *o = opt_at(spec, i);
        p->longopts[i] = (struct option){o->name, o->arg ? required_argument : no_argument, NULL,
                                         LONG_BASE + (int)i};
        if (o->shrt) {
            *s++ = o->shrt;
            if (o->arg)
                *s++ = ':';
        }
    }
    *s = '\0';
    optind = 1;
    opterr = 0;
}

bool sl_cli_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno == ERANGE || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

int sl_cli_subcommand_help(int argc, char **argv, const struct sl_cli_spec *spec)
{
    if (argc >= 2 && strcmp(argv[1], "--help") != 0 && strcmp(argv[1], "-h") != 0)
        return -1;
    sl_cli_help(argc < 2 ? stderr : stdout, spec);
    return argc < 2 ? SL_EXIT_USAGE : SL_EXIT_OK;
}

/* "did you mean `--list`?" for an unknown long option WORD (--lsit or --lsit=x). */
static void hint_option(const struct sl_cli_spec *spec, const char *word)
{
    if (strncmp(word, "--", 2) != 0)
        return;
    char name[SL_SUGGEST_MAX_LEN];
    snprintf(name, sizeof(name), "%s", word + 2);
    name[strcspn(name, "=")] = '\0';
    struct sl_suggest sg;
    sl_suggest_init(&sg, name);
    for (size_t i = 0; i <= spec->nopts; i++)
        sl_suggest_try(&sg, opt_at(spec, i)->name);
    if (sg.best)
        fprintf(stderr, "  hint: did you mean `--%s`?\n", sg.best);
}

int sl_cli_next(struct sl_cli_args *p)
{
    const struct sl_cli_spec *spec = p->spec;
    int idx = -1;
    optopt = 0;
    int c = getopt_long(p->argc, p->argv, p->shortopts, p->longopts, &idx);
    p->arg = optarg;
    if (c == -1) {
        p->rest = p->argv + optind;
        p->nrest = p->argc - optind;
        return SL_CLI_END;
    }
    const struct sl_cli_opt *o = NULL;
    if (c >= LONG_BASE)
        o = opt_at(spec, (size_t)(c - LONG_BASE));
    for (size_t i = 0; !o && c != '?' && c != ':' && i <= spec->nopts; i++)
        if (opt_at(spec, i)->shrt == c)
            o = opt_at(spec, i);
    if (o && o != &sl_cli_help_opt)
        return o->id;
    if (o) {
        sl_cli_help(stdout, spec);
        p->exit = SL_EXIT_OK;
        return SL_CLI_STOP;
    }
    /* the word at fault: a short option's letter, else the argument getopt just passed */
    const char *word = optind > 0 && optind <= p->argc ? p->argv[optind - 1] : "?";
    char letter[3] = {'-', (char)optopt, 0};
    if (optopt && optopt < LONG_BASE && strncmp(word, "--", 2) != 0)
        word = letter;
    if (c == ':')
        sl_cli_error("%s: option '%s' needs an argument; see 'sluice %s --help'", spec->name, word,
                     spec->name);
    else {
        sl_cli_error("%s: unknown option '%s'; see 'sluice %s --help'", spec->name, word,
                     spec->name);
        hint_option(spec, word);
    }
    p->exit = SL_EXIT_USAGE;
    return SL_CLI_STOP;
}

bool sl_cli_too_many(const struct sl_cli_args *p, int max)
{
    if (p->nrest <= max)
        return false;
    sl_cli_error("%s: unexpected argument '%s'", p->spec->name, p->rest[max]);
    return true;
}

/* --- help ------------------------------------------------------------------------ */

/* Prints TEXT's words from column *COL on, wrapping at WIDTH to column INDENT. A '\n' in
 * TEXT breaks the line there. */
static void wrap(FILE *f, const char *text, size_t *col, size_t indent)
{
    const char *p = text;
    while (*p) {
        if (*p == '\n') {
            fprintf(f, "\n%*s", (int)indent, "");
            *col = indent;
            p++;
            continue;
        }
        if (*p == ' ') {
            p++;
            continue;
        }
        size_t n = strcspn(p, " \n");
        bool first = *col == indent;
        if (!first && *col + 1 + n > WIDTH) {
            fprintf(f, "\n%*s", (int)indent, "");
            *col = indent;
            first = true;
        }
        fprintf(f, "%s%.*s", first ? "" : " ", (int)n, p);
        *col += n + !first;
        p += n;
    }
}

void sl_cli_opt_label(const struct sl_cli_opt *o, char *buf, size_t size)
{
    if (o->shrt)
        snprintf(buf, size, "-%c, --%s%s%s", o->shrt, o->name, o->arg ? " " : "",
                 o->arg ? o->arg : "");
    else
        snprintf(buf, size, "    --%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
}

/* "[-f FILE]", "[--var K=V]...", "--role ROLE" as the usage line shows O. */
static void usage_item(const struct sl_cli_opt *o, char *buf, size_t size)
{
    bool req = o->flags & SL_OPT_REQUIRED;
    char dash[64];
    if (o->shrt)
        snprintf(dash, sizeof(dash), "-%c", o->shrt);
    else
        snprintf(dash, sizeof(dash), "--%s", o->name);
    snprintf(buf, size, "%s%s%s%s%s%s", req ? "" : "[", dash, o->arg ? " " : "",
             o->arg ? o->arg : "", req ? "" : "]", o->flags & SL_OPT_REPEAT ? "..." : "");
}

/* An item of the usage line: on this line when it fits, else on the next at INDENT. The
 * spaces inside an item (between an option and its argument) never break. */
static void usage_word(FILE *f, const char *w, size_t *col, size_t indent)
{
    size_t n = strlen(w);
    if (*col > indent && *col + 1 + n > WIDTH) {
        fprintf(f, "\n%*s", (int)indent, "");
        *col = indent;
    }
    fprintf(f, "%s%s", *col > indent ? " " : "", w);
    *col += n + (*col > indent);
}

/* FORM's items on the usage line: "[--scope S]" and "--url URL" stay whole. */
static void form_words(FILE *f, const char *form, size_t *col, size_t indent)
{
    char w[256];
    for (const char *p = form; *p;) {
        p += strspn(p, " ");
        if (!*p)
            break;
        const char *e = p;
        if (*p == '[') { /* to the matching bracket, and a "..." after it */
            int depth = 0;
            for (; *e && (e == p || depth > 0); e++)
                depth += *e == '[' ? 1 : *e == ']' ? -1 : 0;
        } else {
            e += strcspn(e, " ");
            const char *q = e + strspn(e, " ");
            if (*p == '-' && *q >= 'A' && *q <= 'Z') /* --url URL */
                e = q + strcspn(q, " ");
        }
        e += strcspn(e, " ");
        snprintf(w, sizeof(w), "%.*s", (int)(e - p), p);
        usage_word(f, w, col, indent);
        p = e;
    }
}

void sl_cli_usage(FILE *f, const struct sl_cli_spec *spec)
{
    char lead[64];
    snprintf(lead, sizeof(lead), "usage: sluice %s", spec->name);
    size_t indent = strlen(lead) + 1;
    if (spec->forms) {
        for (size_t k = 0; spec->forms[k]; k++) {
            /* "usage: sluice var set ...", then "       sluice var list ..." */
            fprintf(f, "%*s%s ", k ? 7 : 0, "", k ? lead + 7 : lead);
            size_t col = indent;
            form_words(f, spec->forms[k], &col, indent);
            fputc('\n', f);
        }
        return;
    }
    fputs(lead, f);
    size_t col = indent;
    fputc(' ', f);
    if (spec->operands)
        usage_word(f, spec->operands, &col, indent);
    char item[128];
    for (size_t i = 0; i < spec->nopts; i++) {
        usage_item(&spec->opts[i], item, sizeof(item));
        usage_word(f, item, &col, indent);
    }
    fputc('\n', f);
}

void sl_cli_help(FILE *f, const struct sl_cli_spec *spec)
{
    sl_cli_usage(f, spec);
    if (spec->about)
        fprintf(f, "\n%s", spec->about);
    fputs("\nOptions:\n", f);
    char label[128];
    size_t width = 0;
    for (size_t i = 0; i <= spec->nopts; i++) {
        sl_cli_opt_label(opt_at(spec, i), label, sizeof(label));
        if (strlen(label) <= OPT_COL_MAX)
            width = SL_MAX(width, strlen(label));
    }
    size_t indent = 2 + width + 2;
    for (size_t i = 0; i <= spec->nopts; i++) {
        const struct sl_cli_opt *o = opt_at(spec, i);
        sl_cli_opt_label(o, label, sizeof(label));
        fprintf(f, "  %s", label);
        size_t col = strlen(label);
        if (col > width)
            fprintf(f, "\n%*s", (int)indent, "");
        else
            fprintf(f, "%*s", (int)(indent - 2 - col), "");
        col = indent;
        wrap(f, o->help, &col, indent);
        fputc('\n', f);
    }
    if (spec->epilog)
        fprintf(f, "\n%s", spec->epilog);
    if (spec->docs)
        fprintf(f, "\nMore: %s in sluice's sources.\n", spec->docs);
}
