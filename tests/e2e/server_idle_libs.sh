#!/usr/bin/env bash
# An idle `sluice serve` has not loaded the libraries it loads on first use (SL_LAZY_SPECS in
# CMakeLists.txt, base/lazy.h): most of its idle memory is the loaded libraries' pages, and a
# start-up step that calls one of them (as compiling the secret rules at start once loaded
# PCRE2, 500 KiB) raises it unnoticed. Read from /proc/PID/maps after the server has answered
# a request without a token and one with the admin token; the libraries it always loads must
# be there, so an unreadable map cannot pass. bench/idle_rss.sh says what each one costs.
. "$(dirname "$0")/lib/e2e.sh"
needs curl readelf
[[ -r /proc/self/maps ]] || skip "needs /proc"
readelf -d "$bin" | grep -q 'NEEDED.*libgit2' && skip "this build links the first-use libraries at start (SL_LAZY_LIBS off)"
# shellcheck source=lib/server.sh
. "$src/tests/e2e/lib/server.sh"

server_start --workers 1 || { bad "server starts"; finish; exit 1; }
req GET /healthz ""
expect "GET /healthz answers" 200 "$code"
api GET /api/v1/projects
expect "an authenticated GET answers" 200 "$code"
out=$(awk '$6 ~ /\.so/ {print $6}' "/proc/$pid/maps" | sort -u)
has "the map is read: libc is loaded" "libc.so"
has "the map is read: SQLite is loaded" "libsqlite3.so"
for lib in libgit2 libcurl libpq libarchive libxml2 libfyaml libpcre2-8 libz; do
  lacks "an idle server has not loaded $lib" "/$lib.so"
done
server_stop
finish
