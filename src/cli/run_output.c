#include "base/compat.h"
#include "cli/run_output.h"
#include "base/alloc.h"
#include "base/str.h"
#include "base/time.h"

#include <pthread.h>
#include <unistd.h>

struct run_output {
    FILE *fp;
    bool color, json;
    size_t width;
    pthread_mutex_t lock;
};

#define RESET "\033[0m"
#define BOLD "\033[1m"
#define GREEN "\033[32m"
#define RED "\033[31m"
#define YELLOW "\033[33m"
#define CYAN "\033[36m"
#define GREY "\033[90m"

static const char *const palette[] = {"\033[36m", "\033[35m", "\033[34m", "\033[33m",
                                      "\033[32m", "\033[96m", "\033[95m", "\033[94m"};

struct run_output *sl_run_output_new(FILE *fp, bool color, bool json, size_t name_width)
{
    struct run_output *o = sl_xcalloc(1, sizeof(*o));
    o->fp = fp;
    o->color = color && !json;
    o->json = json;
    o->width = name_width > 40 ? 40 : name_width;
    pthread_mutex_init(&o->lock, NULL);
    return o;
}

void sl_run_output_free(struct run_output *o)
{
    if (!o)
        return;
    pthread_mutex_destroy(&o->lock);
    free(o);
}

static void json_event_start(struct sl_str *s, const char *event)
{
    char ts[40];
    int64_t now = sl_time_now_ms();
    sl_time_iso8601(now, ts, sizeof(ts));
    ts[strlen(ts) - 1] = '\0';
    sl_str_addf(s, "{\"time\":\"%s.%03dZ\",\"event\":\"%s\"", ts, (int)(now % 1000), event);
}

static void json_field(struct sl_str *s, const char *key, const char *value)
{
    sl_str_addf(s, ",\"%s\":", key);
    if (!value) {
        sl_str_adds(s, "null");
        return;
    }
    sl_str_addc(s, '"');
    sl_str_add_json_escaped(s, value);
    sl_str_addc(s, '"');
}

static void emit(struct run_output *o, const struct sl_str *s)
{
    pthread_mutex_lock(&o->lock);
    fwrite(s->buf, 1, s->len, o->fp);
    fflush(o->fp);
    pthread_mutex_unlock(&o->lock);
}

/* Bytes that are not valid in a JSON string are replaced, as log lines may hold anything. */
static void add_json_bytes(struct sl_str *s, const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c == 0)
            sl_str_adds(s, "\\u0000");
        else {
            char tmp[2] = {(char)c, 0};
            sl_str_add_json_escaped(s, tmp);
        }
    }
}

void sl_run_output_line(struct run_output *o, const char *job, size_t job_index,
                        enum sl_exec_stream stream, const char *line, size_t len)
{
    struct sl_str s = SL_STR_INIT;
    if (o->json) {
        json_event_start(&s, "log");
        json_field(&s, "job", job);
        json_field(&s, "stream",
                   stream == SL_EXEC_STREAM_ECHO     ? "command"
                   : stream == SL_EXEC_STREAM_SYSTEM ? "system"
                                                     : "output");
        sl_str_adds(&s, ",\"line\":\"");
        add_json_bytes(&s, line, len);
        sl_str_adds(&s, "\"}\n");
    } else {
        if (o->color)
            sl_str_addf(&s, "%s%-*s" RESET GREY " │ " RESET,
                        palette[job_index % SL_ARRAY_LEN(palette)], (int)o->width, job);
        else
            sl_str_addf(&s, "%-*s │ ", (int)o->width, job);
        if (o->color && stream == SL_EXEC_STREAM_ECHO)
            sl_str_adds(&s, BOLD GREEN);
        else if (o->color && stream == SL_EXEC_STREAM_SYSTEM)
            sl_str_adds(&s, CYAN);
        sl_str_add(&s, line, len);
        if (o->color && stream != SL_EXEC_STREAM_OUTPUT)
            sl_str_adds(&s, RESET);
        sl_str_addc(&s, '\n');
    }
    emit(o, &s);
    sl_str_release(&s);
}

static const char *status_colour(const char *status)
{
    if (!strcmp(status, "success"))
        return GREEN;
    if (!strcmp(status, "failed"))
        return RED;
    if (!strcmp(status, "canceled") || !strcmp(status, "manual") || !strcmp(status, "scheduled") ||
        !strcmp(status, "warning"))
        return YELLOW;
    if (!strcmp(status, "skipped") || !strcmp(status, "created"))
        return GREY;
    return CYAN;
}

void sl_run_output_job_status(struct run_output *o, const char *job, size_t job_index,
                              const char *status, const char *detail)
{
    struct sl_str s = SL_STR_INIT;
    if (o->json) {
        json_event_start(&s, "job");
        json_field(&s, "job", job);
        json_field(&s, "status", status);
        if (detail && *detail)
            json_field(&s, "detail", detail);
        sl_str_adds(&s, "}\n");
    } else {
        if (o->color)
            sl_str_addf(&s, "%s%-*s" RESET GREY " │ " RESET "%s%s●  %s" RESET,
                        palette[job_index % SL_ARRAY_LEN(palette)], (int)o->width, job, BOLD,
                        status_colour(status), status);
        else
            sl_str_addf(&s, "%-*s │ ●  %s", (int)o->width, job, status);
        if (detail && *detail)
            sl_str_addf(&s, " (%s)", detail);
        sl_str_addc(&s, '\n');
    }
    emit(o, &s);
    sl_str_release(&s);
}

void sl_run_output_note(struct run_output *o, const char *fmt, ...)
{
    struct sl_str msg = SL_STR_INIT, s = SL_STR_INIT;
    va_list ap;
    va_start(ap, fmt);
    sl_str_vaddf(&msg, fmt, ap);
    va_end(ap);
    if (o->json) {
        json_event_start(&s, "note");
        json_field(&s, "message", msg.buf);
        sl_str_adds(&s, "}\n");
    } else {
        sl_str_addf(&s, "%s%s%s\n", o->color ? BOLD : "", msg.buf, o->color ? RESET : "");
    }
    emit(o, &s);
    sl_str_release(&msg);
    sl_str_release(&s);
}

static void format_duration(char *buf, size_t size, int64_t ms)
{
    if (ms < 0)
        snprintf(buf, size, "-");
    else if (ms < 1000)
        snprintf(buf, size, "%d ms", (int)ms);
    else if (ms < 60000)
        snprintf(buf, size, "%.1f s", (double)ms / 1000);
    else
        snprintf(buf, size, "%dm %02ds", (int)(ms / 60000), (int)(ms / 1000 % 60));
}

/* PATH relative to the current directory when under it (borrowed from PATH or CWD). */
static const char *shown_path(const char *path, const char *cwd)
{
    size_t n = cwd ? strlen(cwd) : 0;
    if (n && !strncmp(path, cwd, n) && path[n] == '/')
        return path + n + 1;
    return path;
}

void sl_run_output_summary(struct run_output *o, const struct run_summary_row *rows, size_t n,
                           const char *pipeline_status, bool warnings, int64_t duration_ms,
                           const char *logs_dir)
{
    struct sl_str s = SL_STR_INIT;
    char dur[32];
    char *cwd = get_current_dir_name();
    const char *logs = shown_path(logs_dir, cwd);
    if (o->json) {
        for (size_t i = 0; i < n; i++) {
            const struct run_summary_row *r = &rows[i];
            json_event_start(&s, "summary");
            json_field(&s, "job", r->name);
            json_field(&s, "stage", r->stage);
            json_field(&s, "status", r->status);
            sl_str_addf(&s, ",\"allow_failure\":%s,\"duration_ms\":%lld,\"attempt\":%d",
                        r->allowed_failure ? "true" : "false", (long long)r->duration_ms,
                        r->attempt);
            json_field(&s, "coverage", r->coverage);
            if (r->tests_passed >= 0)
                sl_str_addf(&s, ",\"tests\":{\"passed\":%d,\"failed\":%d}", r->tests_passed,
                            r->tests_failed);
            json_field(&s, "failure_reason",
                       r->failure_reason && *r->failure_reason ? r->failure_reason : NULL);
            sl_str_adds(&s, "}\n");
        }
        json_event_start(&s, "pipeline");
        json_field(&s, "status", pipeline_status);
        sl_str_addf(&s, ",\"warnings\":%s,\"duration_ms\":%lld", warnings ? "true" : "false",
                    (long long)duration_ms);
        json_field(&s, "logs", logs_dir);
        sl_str_adds(&s, "}\n");
        emit(o, &s);
        sl_str_release(&s);
        free(cwd);
        return;
    }
    size_t wname = 3, wstage = 5;
    for (size_t i = 0; i < n; i++) {
        wname = SL_MAX(wname, strlen(rows[i].name));
        wstage = SL_MAX(wstage, strlen(rows[i].stage));
    }
    wname = SL_MIN(wname, 50);
    sl_str_addf(&s, "\n%s%-*s  %-*s  %-9s  %9s  %8s  %-11s  %s%s\n", o->color ? BOLD : "",
                (int)wname, "job", (int)wstage, "stage", "status", "duration", "coverage", "tests",
                "failure", o->color ? RESET : "");
    for (size_t i = 0; i < n; i++) {
        const struct run_summary_row *r = &rows[i];
        const char *shown = r->allowed_failure ? "warning" : r->status;
        char tests[32] = "-", cov[16] = "-";
        if (r->tests_passed >= 0)
            snprintf(tests, sizeof(tests), "%d/%d", r->tests_passed,
                     r->tests_passed + r->tests_failed);
        if (r->coverage)
            snprintf(cov, sizeof(cov), "%s%%", r->coverage);
        format_duration(dur, sizeof(dur), r->duration_ms);
        sl_str_addf(&s, "%-*s  %-*s  %s%-9s%s  %9s  %8s  %-11s  %s", (int)wname, r->name,
                    (int)wstage, r->stage, o->color ? status_colour(shown) : "", shown,
                    o->color ? RESET : "", dur, cov, tests,
                    r->failure_reason && *r->failure_reason ? r->failure_reason : "");
        if (r->attempt > 1)
            sl_str_addf(&s, " (attempt %d)", r->attempt);
        sl_str_addc(&s, '\n');
    }
    format_duration(dur, sizeof(dur), duration_ms);
    const char *shown = warnings && !strcmp(pipeline_status, "success") ? "passed with warnings"
                        : !strcmp(pipeline_status, "success")           ? "passed"
                                                                        : pipeline_status;
    sl_str_addf(&s, "\n%spipeline %s%s in %s\n", o->color ? status_colour(pipeline_status) : "",
                shown, o->color ? RESET : "", dur);
    sl_str_addf(&s, "job logs: %s/\n", logs);
    emit(o, &s);
    sl_str_release(&s);
    free(cwd);
}
