#!/usr/bin/env bash
# Idle memory of `sluice serve` and where it goes.
#   bench/idle_rss.sh [PATH_TO_SLUICE] [SERVE_OPTIONS...]
# Starts the server on a fresh SQLite data directory (default options: 1 worker), waits
# until it listens and 2 s more, and prints its RSS, then /proc/PID/smaps summed by what
# each mapping is: the binary, every shared library, the heap, thread stacks and the other
# anonymous mappings (malloc arenas, libraries' relocated data, SQLite's cache). Figures only.
set -euo pipefail
sluice=$(realpath "${1:-build/release/sluice}")
shift || true
tmp=$(mktemp -d)
pid=
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
"$sluice" serve --listen 127.0.0.1:0 --data "$tmp/data" "$@" >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 600); do grep -q 'listening on' "$tmp/out" && break; sleep 0.05; done
grep -q 'listening on' "$tmp/out" || { cat "$tmp/err"; exit 1; }
sleep 2
echo "idle RSS: $(ps -o rss= -p "$pid") kB; $(grep -c '\.so' /proc/$pid/maps | tr -d ' ') library mappings, $(awk '$6 ~ /\.so/ {print $6}' /proc/$pid/maps | sort -u | wc -l) libraries; $(ls /proc/$pid/task | wc -l) threads"
python3 - "$pid" "$sluice" <<'PY'
import collections, os, re, sys
pid, exe = sys.argv[1], os.path.realpath(sys.argv[2])
rss = collections.Counter()
cur = None
for line in open("/proc/%s/smaps" % pid):
    m = re.match(r"^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$", line)
    if m:
        path = m.group(1)
        if path == exe: cur = "the binary"
        elif ".so" in path: cur = os.path.basename(path)
        elif path == "[heap]": cur = "heap"
        elif path.startswith("[stack"): cur = "main stack"
        elif path in ("[vdso]", "[vvar]"): cur = "vdso"
        elif path == "": cur = "anonymous (arenas, thread stacks, .bss of libraries)"
        else: cur = path
        continue
    if line.startswith("Rss:"):
        rss[cur] += int(line.split()[1])
libs = sum(v for k, v in rss.items() if ".so" in k)
print("  shared libraries: %d kB" % libs)
for k, v in rss.most_common():
    if v: print("  %-55s %6d kB" % (k, v))
PY
