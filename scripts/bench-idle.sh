#!/usr/bin/env bash
# The idle benchmark: a command that prints figures and writes a report, not a timed test.
# Every installation runs 24/7 next to a NAS, so what the server costs doing nothing matters:
# this measures the CPU (user + system, from /proc) and the RSS of a server that is serving but
# has no work, twice: with no hosts at all, and with the built-in demo fleet (20 simulated
# drives on two hosts, polled, their temperatures read, nothing burning in). Target: well under
# 1 % of one core.
#
# Usage: scripts/bench-idle.sh
#   Builds the release server (scripts/build.sh --server-only, as scripts/run.sh builds it),
#   then measures. Prints a table and writes reports/bench-idle.txt. Settings, all optional:
#     BENCH_IDLE_SECS=60         the measured window of each case
#     BENCH_SETTLE_SECS=10       how long the server runs before the window (its start-up work,
#                                the fleet's first inventory sweep)
#     BENCH_SERVER_BIN=target/release/burnin-server
#     BENCH_REPORT_DIR=reports
#     BENCH_NO_BUILD=1           use the binary already built
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$root"

say() { printf '\033[1;34m[bench]\033[0m %s\n' "$*"; }

idle_secs=${BENCH_IDLE_SECS:-60}
settle_secs=${BENCH_SETTLE_SECS:-10}
server_bin=${BENCH_SERVER_BIN:-target/release/burnin-server}
report_dir=${BENCH_REPORT_DIR:-reports}

if [[ -z "${BENCH_NO_BUILD:-}" ]]; then
  scripts/build.sh --server-only
fi
[[ -x "$server_bin" ]] || { echo "bench-idle.sh: $server_bin is missing: build it, or unset BENCH_NO_BUILD" >&2; exit 1; }

work=$(mktemp -d)
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

ticks_per_second=$(getconf CLK_TCK)
# utime + stime of a process, in clock ticks (fields 14 and 15; the name in field 2 may hold
# spaces, so count from its closing parenthesis).
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

results=()
measure() {
  local label=$1 case_dir
  shift
  case_dir="$work/$label"
  mkdir -p "$case_dir"
  say "$label: starting the server"
  MALLOC_ARENA_MAX=2 "$server_bin" --listen 127.0.0.1:0 --database-url "sqlite://$case_dir/burnin.db" \
    --environment production "$@" >"$case_dir/server.log" 2>&1 &
  pid=$!
  wait_serving "$case_dir/server.log" "$pid" >/dev/null || exit 1
  sleep "$settle_secs"
  local t0 c0 t1 c1
  t0=$(date +%s.%N); c0=$(cpu_ticks "$pid")
  sleep "$idle_secs"
  t1=$(date +%s.%N); c1=$(cpu_ticks "$pid")
  local rss
  rss=$(rss_kib "$pid")
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  results+=("$(awk -v l="$label" -v c=$(( c1 - c0 )) -v hz="$ticks_per_second" -v t0="$t0" -v t1="$t1" -v rss="$rss" \
    'BEGIN { s = c / hz; w = t1 - t0; printf "%-26s %8.3f %% of one core  (%.2f s CPU in %.0f s)  RSS %.0f MiB", l, 100 * s / w, s, w, rss / 1024 }')")
}

# Loopback only, and no initial admin: the page would ask for one; nothing here signs in.
measure "idle, no hosts" --simulator never
measure "idle, demo fleet" --simulator always

mkdir -p "$report_dir"
{
  echo "idle server CPU ($(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ), window ${idle_secs} s after ${settle_secs} s): target well under 1 % of one core"
  printf '%s\n' "${results[@]}"
} | tee "$report_dir/bench-idle.txt"
