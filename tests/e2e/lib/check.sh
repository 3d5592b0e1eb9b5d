# lib/check.sh: the checks end-to-end scripts count, TAP-style ("ok - NAME" / "not ok -
# NAME" with the detail indented under it). Source it once; lib/server.sh sources it.
#
#   ok NAME / bad NAME [DETAIL]   count a pass / a failure
#   expect NAME WANT GOT [DETAIL] passes when GOT is WANT
#   has NAME TEXT / lacks NAME TEXT   $out contains / does not contain TEXT (fixed string)
#   runs NAME WANT CMD...         runs CMD, its stdout and stderr in $out; passes when it
#                                 exits WANT (the output is the failure's detail)
#   finish                        prints "N passed, N failed"; non-zero on any failure
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "not ok - $1"; [[ -n ${2:-} ]] && sed 's/^/#   /' <<<"$2"; }
expect() {
  if [[ $2 == "$3" ]]; then ok "$1"; else bad "$1: got '$3', want '$2'" "${4:-}"; fi
}
has() { if grep -qF -- "$2" <<<"$out"; then ok "$1"; else bad "$1: output lacks '$2'" "$out"; fi; }
lacks() { if grep -qF -- "$2" <<<"$out"; then bad "$1: output has '$2'" "$out"; else ok "$1"; fi; }
runs() {
  local name=$1 want=$2 got
  shift 2
  out=$("$@" 2>&1)
  got=$?
  if [[ $got == "$want" ]]; then ok "$name"; else bad "$name: exit $got, want $want" "$out"; fi
}
finish() {
  echo "$pass passed, $fail failed"
  ((fail == 0))
}
