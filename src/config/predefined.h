/* predefined.h: the names of GitLab's predefined CI/CD variables (predefined.c). */
#ifndef SL_CONFIG_PREDEFINED_H
#define SL_CONFIG_PREDEFINED_H

#include "base/compat.h"

/* Sorted, NULL-terminated. */
extern const char *const sl_config_predefined_vars[];
/* True when NAME is one of them. */
bool sl_config_is_predefined_var(const char *name);

#endif
