/* lint_graph.h: the logical checks of GitLab's YamlProcessor on the job graph, for
 * sl_config_validate (lint.c). Private to the config room.
 *
 * A name in `needs` or `dependencies` may be a job or one instance of a parallel job:
 * GitLab expands `parallel` before these checks, so `build 1/3` (parallel: 3) and
 * `build: [a, x]` (parallel:matrix) name existing jobs. */
#ifndef SL_CONFIG_LINT_GRAPH_H
#define SL_CONFIG_LINT_GRAPH_H

#include "config/keywords.h"

/* What lint.c's check_references (names of the job's own `needs` and `dependencies`) does
 * not: each `rules:needs` list gets the same name checks (`undefined need: x`, `need x is
 * not defined in current or prior stages`, `need x is itself`); every name a
 * `needs:parallel:matrix` selection stands for must be an instance (`undefined need: b: [c]`;
 * `$[[ matrix.X ]]` values are left to the plan); `has the following needs duplicated: x.`;
 * `one job can only need 50 others, but you have listed 51. ...` (entries as written; the
 * plan room counts again after parallel expansion); `dependencies the x should be part of
 * needs`; and the four `environment:on_stop` messages. GitLab's wording throughout. */
void sl_lint_job_graph(struct lint *l, const struct sl_config_job *j);

/* `The pipeline has circular dependencies.` when `needs` form a cycle (a job needing itself
 * is reported by sl_lint_job_graph instead). Once per configuration. */
void sl_lint_graph_cycles(struct lint *l);

#endif
