# lib/nobody.sh: for scripts that run sluice, or its jobs, as nobody. A clone in a private
# directory (mktemp -d makes 0700 ones) hides the binary and its sluice-sandbox helper from
# that user, and the run fails with "Permission denied" before testing anything: then
# bin_for_nobody copies both into $tmp/bin (which it makes reachable) and points $bin there.
bin_for_nobody() {
  [[ $(id -u) == 0 ]] && command -v setpriv >/dev/null || return 0
  setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$bin" 2>/dev/null && return 0
  mkdir -p "$tmp/bin"
  cp "$bin" "$tmp/bin/sluice"
  [[ -x $(dirname "$bin")/sluice-sandbox ]] && cp "$(dirname "$bin")/sluice-sandbox" "$tmp/bin/"
  chmod 711 "$tmp"
  chmod 755 "$tmp/bin"
  bin=$tmp/bin/sluice
}
