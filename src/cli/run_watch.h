/* run_watch.h: the wait of `sluice run --watch` for tracked files to change (inotify). */
#ifndef SL_CLI_RUN_WATCH_H
#define SL_CLI_RUN_WATCH_H

#include "base/compat.h"
#include "base/error.h"

/* Waits until files tracked by the git work tree holding PROJECT_DIR change (written,
 * replaced, removed), gathering a burst of changes into one. Returns 1 with *CHANGED set
 * (paths relative to the work tree, NULL-terminated; sl_run_watch_free), 0 when Ctrl-C or
 * SIGTERM stopped the wait, or an SL_E* code with ERR set (no work tree, no inotify). */
int sl_run_watch_wait(const char *project_dir, char ***changed, struct sl_error *err);
void sl_run_watch_free(char **changed);

#endif
