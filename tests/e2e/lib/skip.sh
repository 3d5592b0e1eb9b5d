# lib/skip.sh: how an end-to-end script says it cannot run. Source it first.
#
#   skip REASON   prints "SKIPPED: <script>: REASON" and exits 77, which ctest reports as
#                 skipped (SKIP_RETURN_CODE); under CI=true nothing may skip, so it prints
#                 FAILED and exits 1 instead: a CI without PostgreSQL, Podman or Chromium
#                 fails rather than passes.
#   needs TOOL... skips (as above) unless every TOOL is a command here
skip() {
  local name
  name=$(basename "$0" .sh)
  if [[ ${CI:-} == true ]]; then
    echo "FAILED (CI=true, nothing may skip): $name: $*" >&2
    exit 1
  fi
  echo "SKIPPED: $name: $*" >&2
  exit 77
}
needs() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null || skip "needs $t, which is not installed"
  done
}
