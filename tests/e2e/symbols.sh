#!/usr/bin/env bash
# Every external symbol of ours is named sl_<module>_...: the rooms are static libraries
# linked into one binary (and into tests and fuzzers with other code), so an unprefixed
# global (`audit`, `reply_json`, `db_exec`) can collide with a library's or another room's
# and hides which module owns it. A function only one file uses is static. Checked with nm
# on the build's objects: the room libraries and the CLI's objects. Exempt: main, the
# generated stubs of the first-use libraries (they take the libraries' own names,
# base/lazy.h), and compiler-made symbols (leading "__" or ".", sanitizer instrumentation).
set -u
build=${SL_BUILD_DIR:-}
if [[ -z $build || ! -d $build ]]; then
  echo "SKIPPED: SL_BUILD_DIR not set (run through ctest)"
  [[ ${CI:-} == true ]] && exit 1
  exit 77
fi
objs=("$build"/libsl_*.a "$build"/CMakeFiles/sluice.dir/src/cli/*.o)
bad=$(nm -A -g --defined-only "${objs[@]}" 2>/dev/null |
  awk 'NF >= 3 { f = $1; sub(/:[0-9a-f]*$/, "", f); n = split(f, a, ":"); obj = a[n]; s = $NF
         if (obj == "lazy_stubs.c.o" || s == "main" || s ~ /^(sl_|__|\.)/) next
         print obj ": " s }' | sort -u)
count=$(nm -A -g --defined-only "${objs[@]}" 2>/dev/null | grep -c ' sl_')
if [[ -n $bad ]]; then
  echo "not ok - external symbols without the sl_ prefix (make them static or name them sl_<module>_...):"
  echo "$bad"
  exit 1
fi
echo "ok - $count external symbols, all sl_-prefixed"
