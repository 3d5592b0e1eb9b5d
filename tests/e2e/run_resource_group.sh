#!/usr/bin/env bash
# `sluice run` and resource_group: jobs of one group never overlap (each holds a lock
# directory while it runs; a second holder would fail), the waiting job says which job
# holds the group, and jobs of other groups or of none still run in parallel.
. "$(dirname "$0")/lib/e2e.sh"
. "$(dirname "$0")/lib/check.sh"
. "$(dirname "$0")/lib/repo.sh"
needs git
cd "$tmp" || exit 1
repo_ci . one <<'YML' || exit 1
.hold: &hold
  - mkdir "$LOCKS/$GROUP" || { echo "overlap in $GROUP"; exit 1; }
  - sleep 0.5
  - rmdir "$LOCKS/$GROUP"
deploy_a:
  resource_group: production
  variables: {GROUP: production}
  script: *hold
deploy_b:
  resource_group: production
  variables: {GROUP: production}
  script: *hold
deploy_c:
  resource_group: $TARGET
  variables: {GROUP: production, TARGET: production}
  script: *hold
other:
  resource_group: staging
  variables: {GROUP: staging}
  script: *hold
YML
mkdir "$tmp/locks"
out=$("$bin" run --no-color -j 4 --var LOCKS="$tmp/locks" 2>&1)
expect "the pipeline passes: no two jobs of a group overlapped" 0 "$?" "$out"
expect "a waiting job names the group and its holder" 1 \
  "$(grep -cE "waiting for resource 'production' \(held by deploy_[abc]\)" <<<"$out" | awk '{print ($1 >= 1)}')" "$out"
expect "the staging job never waited" 0 "$(grep -c "waiting for resource 'staging'" <<<"$out")" "$out"
finish
