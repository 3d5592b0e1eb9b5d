#!/usr/bin/env bash
# fuzz.sh BUILD_DIR [SECONDS]: runs every libFuzzer target of BUILD_DIR (the asan preset
# builds them: tests/fuzz/fuzz_<name>.c) for SECONDS each (default 60), starting from
# tests/fuzz/corpus/<name>/. New inputs go to a scratch corpus, not into the repository;
# a crash leaves its input under build/fuzz/<name>/ and fails the run. `make fuzz` calls this.
set -euo pipefail
build=${1:?usage: fuzz.sh BUILD_DIR [SECONDS]}
secs=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/build/fuzz
status=0
shopt -s nullglob
targets=("$build"/tests/fuzz_*)
targets=("${targets[@]/*_replay/}")
for bin in "${targets[@]}"; do
  [[ -n $bin && -x $bin ]] || continue
  name=$(basename "$bin")
  name=${name#fuzz_}
  work=$out/$name
  rm -rf "$work" && mkdir -p "$work/corpus"
  cp -r "$root/tests/fuzz/corpus/$name/." "$work/corpus/" 2>/dev/null || true
  echo "fuzz: $name for ${secs}s"
  if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0 \
    LSAN_OPTIONS=suppressions=$root/tests/lsan.supp:print_suppressions=0 "$bin" -max_total_time="$secs" -timeout=10 \
      -rss_limit_mb=2048 -artifact_prefix="$work/" -print_final_stats=1 "$work/corpus" \
      >"$work/log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$work/log" | tail -1 | sed "s/^/fuzz: $name: /"
  else
    echo "fuzz: $name FAILED: input and log in $work/" >&2
    tail -30 "$work/log" >&2
    status=1
  fi
done
[[ ${#targets[@]} -gt 0 ]] || { echo "fuzz: no targets in $build/tests (configure the asan preset)" >&2; exit 2; }
exit $status
