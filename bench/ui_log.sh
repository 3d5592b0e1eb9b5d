#!/usr/bin/env bash
# The web UI on a 100 MB job log (seq -f 'line %09.0f' 1 7000000): runs the UI end-to-end
# test (tests/ui/run.sh, headless chromium against a real sluice serve on loopback) and
# prints its figures: time to the first numbered line on screen, to the line count known,
# to the last line shown, to a search hit in the middle; peaks of the JS heap and of the
# renderer's private memory; DOM nodes in the log view; the log's bytes over the wire.
# Usage: bench/ui_log.sh [SLUICE_BIN]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/build/release/sluice}
[[ -x $bin ]] || bin=$root/build/dev/sluice
out=$(mktemp)
trap 'rm -f "$out"' EXIT
SLUICE_BIN=$bin BENCH_OUT=$out bash "$root/tests/ui/run.sh" >/dev/null
python3 - "$out" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
print(f"100 MB log ({f['lines']} lines, {f['bytes']} bytes) in headless chromium:")
print(f"  first numbered line on screen  {f['first_line_ms']:>6} ms")
print(f"  line count known (scrollable)  {f['all_lines_ms']:>6} ms")
print(f"  last line on screen (End)      {f['last_line_ms']:>6} ms")
print(f"  search hit in the middle shown {f['search_done_ms']:>6} ms (from opening)")
print(f"  peak JS heap                   {f['peak_js_heap_mb']:>6} MB")
print(f"  peak renderer private memory   {f['peak_renderer_private_mb']:>6} MB")
print(f"  DOM nodes in the log view      {f['log_dom_nodes']:>6}")
if 'log_wire_bytes' in f:
    print(f"  log bytes over the wire        {f['log_wire_bytes']:>6} ({f['log_requests']} requests)")
PY
