/* cancel.h: what executors need of a cancel handle (exec.h has the public part). */
#ifndef SL_EXEC_CANCEL_H
#define SL_EXEC_CANCEL_H

#include "exec/exec.h"

/* True once sl_exec_cancel_force was called. */
bool sl_exec_cancel_forced(const struct sl_exec_cancel *c);
/* Descriptors to poll for POLLIN: readable for good once canceled / force-canceled. */
int sl_exec_cancel_fd(const struct sl_exec_cancel *c);
int sl_exec_cancel_force_fd(const struct sl_exec_cancel *c);

#endif
