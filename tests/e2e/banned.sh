#!/usr/bin/env bash
# base/banned.h holds in every room: each source file under src/ is compiled with
# SL_BANNED (so compat.h includes banned.h last), and a call of a banned function in any
# room fails to compile. Checked on the build's compile_commands.json: every src/ entry
# carries -DSL_BANNED, and one file's compile command of each room (its flags, its include
# paths), given a file that calls atoi, strcpy, sprintf or strtok instead, fails with
# banned.h's message.
set -u
build=${SL_BUILD_DIR:-}
if [[ -z $build || ! -f $build/compile_commands.json ]]; then
  echo "SKIPPED: SL_BUILD_DIR with a compile_commands.json not set (run through ctest)"
  [[ ${CI:-} == true ]] && exit 1
  exit 77
fi
src=$(cd "$(dirname "$0")/../.." && pwd)/src
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$build/compile_commands.json" "$src" "$tmp" <<'PY'
import json, os, shlex, subprocess, sys
cc, src, tmp = sys.argv[1], sys.argv[2], sys.argv[3]
entries = [e for e in json.load(open(cc)) if os.path.realpath(e["file"]).startswith(src + "/")]
fail = 0
missing = [e["file"] for e in entries if "-DSL_BANNED" not in e.get("command", " ".join(e.get("arguments", [])))]
if not entries:
    print("not ok - no source file of src/ in compile_commands.json"); sys.exit(1)
if missing:
    print("not ok - compiled without SL_BANNED (base/banned.h not included):")
    for f in missing: print("  " + f)
    fail = 1
rooms = {}
for e in entries:
    rel = os.path.relpath(os.path.realpath(e["file"]), src)
    rooms.setdefault(rel.split("/")[0], e)
calls = {"atoi": "return atoi(s);", "strcpy": "char b[8]; strcpy(b, s); return b[0];",
         "sprintf": "char b[64]; sprintf(b, \"%s\", s); return b[0];",
         "strtok": "return strtok((char *)s, \",\") != 0;"}
for room, e in sorted(rooms.items()):
    for name, body in calls.items():
        probe = os.path.join(tmp, f"{room}_{name}.c")
        with open(probe, "w") as f:
            f.write('#include "base/compat.h"\nint sl_banned_probe(const char *s);\n'
                    'int sl_banned_probe(const char *s) { %s }\n' % body)
        args = shlex.split(e["command"]) if "command" in e else list(e["arguments"])
        out = os.path.join(tmp, "probe.o")
        kept, skip = [], False
        for a in args:  # the room's flags; the probe instead of its file; no depfile
            if skip:
                skip = False
            elif a in ("-MT", "-MF", "-MQ", "-o"):
                skip = True
            elif a in ("-MD", "-MMD"):
                pass
            elif os.path.realpath(os.path.join(e["directory"], a)) == os.path.realpath(e["file"]):
                kept.append(probe)
            else:
                kept.append(a)
        r = subprocess.run(kept + ["-o", out], cwd=e["directory"], capture_output=True, text=True)
        if r.returncode == 0 or f"sorry_{name}_is_banned" not in r.stderr:
            print(f"not ok - {room}: a call of {name} compiles (or fails for another reason):")
            print(r.stderr[-600:])
            fail = 1
print(("not ok" if fail else "ok") + f" - {len(entries)} files with SL_BANNED; atoi, strcpy, "
      f"sprintf, strtok refused in {len(rooms)} rooms: {', '.join(sorted(rooms))}")
sys.exit(fail)
PY
