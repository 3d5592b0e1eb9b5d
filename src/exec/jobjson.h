/* jobjson.h: the runnable job (struct sl_job_spec, job.h) as versioned JSON, the one wire
 * and disk format between whoever compiles a job (`sluice run`, the server) and whoever
 * runs it (a server worker, an agent).
 *
 *   char *text;
 *   sl_job_json_encode(&text, &spec, &err);          ... store or send TEXT ...
 *   struct sl_job_decoded d;
 *   sl_job_json_decode(&d, text, strlen(text), &err); ... sl_job_run(&d.spec, ...) ...
 *   sl_job_decoded_release(&d);
 *
 * Compatibility: the object carries "version" (SL_JOB_JSON_VERSION). Fields are only ever
 * added within a version, and the decoder ignores fields it does not know, so an older
 * runner reads what a newer server writes; a version above the decoder's is an
 * incompatible format and refused (SL_EUNSUPPORTED), as is a document without one.
 *
 * Not encoded, since they belong to the process that runs the job: exec.log_path,
 * exec.on_line, exec.ctx, exec.cancel, exec.workdir (ignored by sl_job_run), sources[].archive. The
 * decoded spec has them NULL; the runner sets them. Paths (workspace, store and cache directories)
 * are encoded as given: a runner on another machine replaces them. */
#ifndef SL_EXEC_JOBJSON_H
#define SL_EXEC_JOBJSON_H

#include "base/arena.h"
#include "base/compat.h"
#include "base/error.h"
#include "exec/job.h"

#include <jansson.h>

#define SL_JOB_JSON_VERSION 1
/* Caps on hostile input: the document's size and any one list's entries. */
#define SL_JOB_JSON_MAX_BYTES (16 * 1024 * 1024)
#define SL_JOB_JSON_MAX_LIST 100000

/* Encodes SPEC as one JSON object; *OUT (caller frees) is NUL-terminated. SL_EINVAL for a
 * spec without a script. */
int sl_job_json_encode(char **out, const struct sl_job_spec *spec, struct sl_error *err);
/* The same object as a tree (*OUT: a new reference), for a caller that adds keys of its own
 * before it dumps: no dump and parse of the codec's part in between. */
int sl_job_json_encode_tree(json_t **out, const struct sl_job_spec *spec, struct sl_error *err);

/* A decoded spec and the arena its strings and lists live in. */
struct sl_job_decoded {
    struct sl_arena arena;
    struct sl_job_spec spec;
};

/* Decodes TEXT (LEN bytes) into *OUT (release with sl_job_decoded_release, also after a
 * failure). SL_EINVAL names the offending field ("job json: caches[1].policy: ..."),
 * SL_ELIMIT past the caps, SL_EUNSUPPORTED for a missing or newer version. */
int sl_job_json_decode(struct sl_job_decoded *out, const char *text, size_t len,
                       struct sl_error *err);
/* The same from a JSON object already parsed (with JSON_REJECT_DUPLICATES, as the text
 * decoder parses), for a caller that reads the document's other keys too: one parse, not
 * two. O is borrowed. */
int sl_job_json_decode_tree(struct sl_job_decoded *out, const json_t *o, struct sl_error *err);
void sl_job_decoded_release(struct sl_job_decoded *d);

#endif
