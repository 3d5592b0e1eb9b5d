/* choose.h: which executor runs a job, from its image and the operator's choice: one rule
 * for `sluice run` (cli/run_executor.c) and the server's workers.
 *
 *   auto (the default): a job with an image (its own, default:'s, or the operator's
 *   default image) runs on docker, one without on shell; shell and docker force one (a
 *   job forced onto docker without any image fails, saying so). The sandbox needs the
 *   caller's view of what to hide, so callers set it up themselves. */
#ifndef SL_EXEC_CHOOSE_H
#define SL_EXEC_CHOOSE_H

#include "base/compat.h"
#include "exec/job.h"

enum sl_exec_choice_kind {
    SL_EXEC_CHOOSE_AUTO = 0,
    SL_EXEC_CHOOSE_SHELL,
    SL_EXEC_CHOOSE_DOCKER,
};

struct sl_exec_choice {
    enum sl_exec_choice_kind kind;
    const char *image;         /* the operator's default image (--image), or NULL */
    unsigned pull_policy;      /* --pull-policy (SL_PULL_*); 0: if-not-present */
    unsigned allowed_policies; /* --allowed-pull-policies mask; 0: any */
};

/* Parses "always", "if-not-present", "never" (N bytes of S) into an SL_PULL_* bit, 0 when
 * unknown. */
unsigned sl_exec_pull_policy(const char *s, size_t n);

/* Sets JS->exec.executor (and JS->exec.docker) per O. DK and SVCS (JS->nservices entries)
 * are the caller's storage for the docker part and live as long as JS is run. Returns
 * true when the job ends up on docker. */
bool sl_exec_choose(const struct sl_exec_choice *o, struct sl_job_spec *js,
                    struct sl_exec_docker *dk, struct sl_exec_service *svcs);

#endif
