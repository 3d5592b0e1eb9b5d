#!/usr/bin/env bash
# Installs every Debian package that building and testing sluice needs. Idempotent: it runs
# `apt-get update` and `apt-get install` only when something is missing. Needs root (or
# sudo when it is there). Usage: scripts/install-deps.sh [--bench] (also the peers' tools).
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config clang clang-format libclang-rt-14-dev git
  # llvm-symbolizer: sanitizer reports with names (the leak suppressions match on them);
  # libc's own symbols, static functions included: tests/tsan.supp's tzset_internal (glibc's
  # time-zone reload, locked where ThreadSanitizer cannot see) names one, and without them a
  # fresh machine's make check-tsan reported it in agent_jobs (two slots' artifact
  # extraction calling localtime at once)
  llvm libc6-dbg
  # libraries (DESIGN.md §3)
  libfyaml-dev libjansson-dev libpcre2-dev libmicrohttpd-dev libcurl4-openssl-dev
  libsqlite3-dev libpq-dev libgit2-dev libarchive-dev libzstd-dev libsodium-dev
  libxml2-dev zlib1g-dev
  # tests: a real PostgreSQL server, the schema-fixture splitter, tools the e2e tests call
  # (iproute2: ss, which sees a test's connection to a remote that never answers)
  postgresql python3 python3-yaml sqlite3 curl procps iproute2 ca-certificates
  # tests/e2e/openapi.sh validates the examples of docs/openapi.yaml
  python3-jsonschema
  # tests/e2e/server_smtp_tls.sh: SMTP relays with STARTTLS and AUTH
  python3-aiosmtpd
  # the docker executor's tests: a real Podman API service (runc; netavark, aardvark-dns and
  # iptables for per-job networks) and busybox-static for the offline test image
  podman runc netavark aardvark-dns iptables uidmap busybox-static
  # the web UI's end-to-end test (tests/ui): real browsers, driven by playwright-core
  # (Firefox over WebDriver BiDi)
  chromium firefox-esr
)
if [[ ${1:-} == --bench ]]; then
  packages+=(hyperfine wrk rsync time)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm (playwright-core for tests/ui; the peers for --bench) only when the
# commands are missing: a machine may have them from elsewhere (NodeSource's nodejs bundles
# npm and conflicts with Debian's npm package), and any of them will do.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
# Test-only npm modules, once the packages are in: test_npm DIR MODULE... installs DIR's
# package.json when a MODULE is missing. Only the test of DIR needs them and it says SKIPPED
# without them; in CI nothing may skip, so there a failed install is an error.
test_npm() {
  local dir m need=
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/$1"
  shift
  for m in "$@"; do [[ -d $dir/node_modules/$m ]] || need=1; done
  [[ -n $need ]] || return 0
  echo "install-deps: npm install in ${dir##*/} ($*)"
  if ! (cd "$dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null); then
    [[ ${CI:-} == true ]] && { echo "install-deps: npm install failed in $dir" >&2; return 1; }
    echo "install-deps: WARNING: npm could not install $*; the tests that need them will be" \
      "SKIPPED" >&2
  fi
}
ui_npm() {
  # playwright-core for the web UI test (tests/ui); the Unleash SDKs for the feature flags'
  # end-to-end test (tests/flags, e2e/server_flags)
  test_npm tests/ui playwright-core && test_npm tests/flags unleash-client unleash-proxy-client
}
# --bench: the peers sluice is measured against (gitlab-ci-local 4.75.1 and its Node), in
# bench/peers/ (bench/setup-peers.sh)
bench_peers() {
  [[ ${1:-} == --bench ]] || return 0
  bash "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/bench/setup-peers.sh"
}
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  ui_npm
  bench_peers "${1:-}"
  exit 0
fi

SUDO=
if ((EUID != 0)); then
  command -v sudo >/dev/null || { echo "install-deps: need root to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
ui_npm
bench_peers "${1:-}"
echo "install-deps: done"
