/* jsonw.h: a streaming JSON writer into a struct sl_str, for large answers that would cost
 * more as a jansson tree than as text (`sluice plan --json` of 1,000 jobs: building,
 * dumping and freeing the tree was over half the command's instructions).
 *
 *   struct sl_str s = SL_STR_INIT;
 *   struct sl_jsonw w;
 *   sl_jsonw_init(&w, &s);
 *   sl_jsonw_obj(&w);
 *   sl_jsonw_key(&w, "name");
 *   sl_jsonw_str(&w, "build");
 *   sl_jsonw_end_obj(&w);          -> {"name": "build"}
 *
 * The text is jansson's default layout (", " and ": " separators), so a reader cannot
 * tell it from json_dumps; sl_jsonw_init_compact writes JSON_COMPACT's ("," and ":"), as
 * the server's answers are dumped (http.c). Commas are the writer's business: it puts one before a
 * key or an item that follows another. The caller pairs every open with its end and writes a key
 * before each member's value; the writer does not check the nesting.
 *
 * Strings: NULL is written as null. Bytes that are not UTF-8 (a commit message in Latin-1,
 * a variable read from the environment) become U+FFFD, where jansson would have refused
 * the string and dropped the member. */
#ifndef SL_JSONW_H
#define SL_JSONW_H

#include "base/compat.h"
#include "base/str.h"

struct sl_jsonw {
    struct sl_str *out; /* borrowed */
    size_t start;       /* where the writing began in OUT: no comma before the first value */
    bool compact;       /* "," and ":" without their spaces */
};

void sl_jsonw_init(struct sl_jsonw *w, struct sl_str *out);
void sl_jsonw_init_compact(struct sl_jsonw *w, struct sl_str *out);
void sl_jsonw_obj(struct sl_jsonw *w);
void sl_jsonw_end_obj(struct sl_jsonw *w);
void sl_jsonw_arr(struct sl_jsonw *w);
void sl_jsonw_end_arr(struct sl_jsonw *w);
void sl_jsonw_key(struct sl_jsonw *w, const char *key);
void sl_jsonw_str(struct sl_jsonw *w, const char *s);
void sl_jsonw_int(struct sl_jsonw *w, long long v);
void sl_jsonw_bool(struct sl_jsonw *w, bool v);
void sl_jsonw_null(struct sl_jsonw *w);
/* A real as json_dumps writes it with JSON_REAL_PRECISION(PRECISION) (1 to 30; 0: 17):
 * "%.*g", ".0" added when that reads as an integer, the exponent without '+' and leading
 * zeros. A value that is not finite (jansson has no such real) is written as null. */
void sl_jsonw_real(struct sl_jsonw *w, double v, int precision);
/* JSON, one whole value (an object, an array, a scalar) already written, as a member's
 * value or an item: the caller vouches for it. */
void sl_jsonw_raw(struct sl_jsonw *w, const char *json, size_t len);
/* A NULL-ended string vector as an array; NULL itself as null. */
void sl_jsonw_strv(struct sl_jsonw *w, const char *const *v);

/* A member: KEY and its value, as sl_jsonw_key and then the value's writer above. */
void sl_jsonw_kstr(struct sl_jsonw *w, const char *key, const char *s);
void sl_jsonw_kint(struct sl_jsonw *w, const char *key, long long v);
void sl_jsonw_kbool(struct sl_jsonw *w, const char *key, bool v);
void sl_jsonw_kstrv(struct sl_jsonw *w, const char *key, const char *const *v);

#endif
