/* toml.h: the part of TOML 1.0 that secret-scanning rule files use (gitleaks' format),
 * read into a jansson tree.
 *
 *   json_t *doc;
 *   if (sl_toml_parse(text, len, ".gitleaks.toml", &doc, err) < 0) ...   ERR: FILE:LINE: why
 *
 * Supported: comments; bare, quoted and dotted keys; [tables] and [[arrays of tables]]
 * (also nested: [[rules.allowlists]] belongs to the last [[rules]]); basic, literal and
 * both multi-line strings with their escapes; integers (with `_`, hex, octal, binary),
 * floats, booleans; arrays (several lines, trailing comma, comments); inline tables.
 * Refused with a clear error: dates and times, a key defined twice, a table defined
 * twice, text after a value, nesting deeper than SL_TOML_DEPTH_MAX, more than
 * SL_TOML_SIZE_MAX bytes.
 *
 * On success *OUT is a new object (caller decrefs); on failure NULL, SL_EINVAL. */
#ifndef SL_SCAN_TOML_H
#define SL_SCAN_TOML_H

#include "base/compat.h"
#include "base/error.h"

#include <jansson.h>

#define SL_TOML_SIZE_MAX (4u << 20)
#define SL_TOML_DEPTH_MAX 32

int sl_toml_parse(const char *text, size_t len, const char *name, json_t **out,
                  struct sl_error *err);

#endif
