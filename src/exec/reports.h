/* reports.h: what a job leaves for the pipeline besides files: `artifacts:reports:dotenv`
 * variables, `artifacts:reports:junit` test counts, and the `coverage` percentage read from
 * its log. Pure parsing: the runner finds the files (sl_artifacts_match) and feeds lines.
 *
 *   struct sl_dotenv env;
 *   if (sl_reports_dotenv_load(&env, "build.env", &err) < 0) ... the job fails ...
 *   for (size_t i = 0; i < env.n; i++) ... env.vars[i].key, env.vars[i].value ...
 *   sl_dotenv_release(&env);
 *
 *   struct sl_junit_counts tc = {0};
 *   sl_reports_junit_load(&tc, "rspec.xml", &err);        (once per file; counts add up)
 *
 *   struct sl_coverage *cov;
 *   sl_coverage_new(&cov, "/Coverage: \\d+\\.\\d+%/", &err);
 *   ... sl_coverage_feed(cov, line, len) for every log line ...
 *   if (sl_coverage_value(cov)) ... "85.3" ...
 *   sl_coverage_free(cov);
 */
#ifndef SL_EXEC_REPORTS_H
#define SL_EXEC_REPORTS_H

#include "base/compat.h"
#include "base/error.h"

/* --- reports:dotenv ---------------------------------------------------------------------
 * GitLab's rules (Ci::ParseDotenvArtifactService): the file must be under 5 KiB; every
 * line is KEY=VALUE, split at the first '='; KEY and VALUE are trimmed of whitespace; KEY
 * is [A-Za-z0-9_]+; no empty lines, no comments, no quote processing (quotes stay in the
 * value), no multi-line values; the content must be UTF-8; a repeated KEY takes the last
 * value (and keeps its first position); at most 20 distinct variables. */
#define SL_DOTENV_MAX_BYTES 5120
#define SL_DOTENV_MAX_VARS 20

struct sl_dotenv_var {
    char *key;   /* owned */
    char *value; /* owned */
};

struct sl_dotenv {
    struct sl_dotenv_var *vars; /* in first-appearance order */
    size_t n, cap;
};

#define SL_DOTENV_INIT                                                                             \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void sl_dotenv_release(struct sl_dotenv *env);
/* The value of KEY, or NULL. Borrowed from ENV. */
const char *sl_dotenv_get(const struct sl_dotenv *env, const char *key);

/* Parses DATA (LEN bytes). On success *out (initialised by the callee) holds the
 * variables; release it with sl_dotenv_release. Errors are SL_ELIMIT (size, count) and
 * SL_EINVAL (format, key, encoding); the message names the line:
 * "line 3: invalid format: expected KEY=value", "line 2: invalid key \"A-B\": names may
 * only contain A-Z, a-z, 0-9 and _", "dotenv report is 6000 bytes: the limit is 5120
 * bytes", "dotenv report has 21 variables: the limit is 20". ERR.line carries the line. */
int sl_reports_dotenv_parse(struct sl_dotenv *out, const char *data, size_t len,
                            struct sl_error *err);
/* Reads PATH (refusing it past the size limit before reading it whole) and parses it;
 * ERR.file is PATH. */
int sl_reports_dotenv_load(struct sl_dotenv *out, const char *path, struct sl_error *err);

/* --- reports:junit ----------------------------------------------------------------------
 * Counted the way GitLab's JUnit parser counts: every <testcase> element anywhere in the
 * document (under <testsuites>, <testsuite>, nested suites) is one test; it has failed
 * when it has a <failure> child, errored when it has an <error> child, was skipped when
 * it has a <skipped> child, and succeeded otherwise. The suites' own tests=/failures=
 * attributes are not trusted. Files over SL_JUNIT_MAX_BYTES are refused; the parser
 * never loads external entities or DTDs and never touches the network. */
#define SL_JUNIT_MAX_BYTES ((size_t)64 << 20)

struct sl_junit_counts {
    size_t tests; /* all test cases */
    size_t success;
    size_t failed;
    size_t errored;
    size_t skipped;
    double time_s; /* sum of the testcases' time= attributes */
    size_t files;  /* files parsed into these counts */
};

/* Parses the JUnit XML document DATA and adds its counts to *COUNTS (which the caller
 * zeroes before the first file). NAME is used in messages. SL_EINVAL for a document that
 * is not well-formed XML (message with the line), SL_ELIMIT past the size cap. *COUNTS is
 * unchanged on error. */
int sl_reports_junit_parse(struct sl_junit_counts *counts, const char *data, size_t len,
                           const char *name, struct sl_error *err);
/* As sl_reports_junit_parse on the content of PATH. */
int sl_reports_junit_load(struct sl_junit_counts *counts, const char *path, struct sl_error *err);

/* --- coverage ---------------------------------------------------------------------------
 * `coverage: '/Total: \d+\.\d+%/'` as GitLab applies it: the regular expression (between
 * slashes, with optional i, m, s flags after the closing one) is matched against each
 * line of the log; on a line, the last capture group of the last match (the whole last
 * match when the expression has no group) is the candidate, and the first number in it
 * (\d+(?:\.\d+)?) is the coverage. The last line that yields a number wins. Matching
 * uses PCRE2 (JIT when available) with match and depth limits, so a pathological
 * expression on a long line fails that line instead of hanging the job. */
struct sl_coverage;

/* Compiles REGEX ("/.../" or "/.../i"). SL_EINVAL with GitLab's wording ("must be a
 * regular expression with re2 syntax: ...") when it is malformed. Free with
 * sl_coverage_free. */
int sl_coverage_new(struct sl_coverage **out, const char *regex, struct sl_error *err);
void sl_coverage_free(struct sl_coverage *cov);
/* Feeds one log line (LEN bytes, no newline; it need not be NUL-terminated nor valid
 * UTF-8). Lines longer than SL_COVERAGE_LINE_MAX are only matched on their first bytes. */
#define SL_COVERAGE_LINE_MAX (64 * 1024)
void sl_coverage_feed(struct sl_coverage *cov, const char *line, size_t len);
/* The coverage found so far ("85.3"), or NULL. Borrowed; valid until the next feed. */
const char *sl_coverage_value(const struct sl_coverage *cov);
/* The number of lines whose matching hit the PCRE2 limits (they yield nothing). */
size_t sl_coverage_limit_hits(const struct sl_coverage *cov);

#endif
