/* jobspec.h: turning a planned job into the runnable job of exec (job.h), the one path
 * `sluice run`, the server's workers and agents share, so a job is the same everywhere.
 *
 * So far: which earlier jobs' artifacts (and dotenv variables) a job receives. */
#ifndef SL_JOBSPEC_H
#define SL_JOBSPEC_H

#include "base/compat.h"
#include "plan/plan.h"

/* The jobs whose artifacts and dotenv reports job IDX of P receives, GitLab's rule:
 *  - `dependencies:` when given (`dependencies: []`: nothing), in its order; with
 *    `needs:` as well, only those of them needed with `artifacts: true`;
 *  - else, with `needs:`, its needs with `artifacts: true` (`needs: []`: nothing);
 *  - else every job of the earlier stages, in plan order.
 * Writes plan indices to OUT (room for p->njobs entries), in the order artifacts are
 * restored (a later job's files win), and returns how many. */
size_t sl_jobspec_sources(const struct sl_plan *p, size_t idx, size_t *out);

#endif
