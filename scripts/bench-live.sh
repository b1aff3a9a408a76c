#!/usr/bin/env bash
# The live-update benchmark (issue 4): a command that prints figures and writes a report, not a
# timed test. With 1,000 simulated drives on 20 hosts and 50 WebSocket clients it measures the
# latency from a simulator change to the DOM of a real Chromium tab (p50/p99), the bytes on the
# wire per drive update, the server's RSS and CPU, and the SSR time of the dashboard; targets:
# p99 ≤ 100 ms, ≤ 512 B per update, ≤ 64 MB RSS.
#
# Usage: scripts/bench-live.sh
#   Builds the release server and site (as scripts/run.sh does) and the benchmark fleet
#   (burnin-bench-fleet, in the simulator crate), then runs end2end/bench/live.mjs, which
#   prints a table and writes reports/bench-live.txt and reports/bench-live.json.
#   Takes about three minutes after the build on two cores. Settings, all optional:
#     BENCH_HOSTS=20 BENCH_DRIVES=50       the fleet
#     BENCH_CLIENTS=50                     raw WebSocket clients of /live (besides the tab)
#     BENCH_SAMPLES=200                    changes timed per latency mode
#     BENCH_CHURN=50                       background drive changes per second
#     BENCH_SSR=50                         GET / requests timed
#     BENCH_PAGE_SIZE=1000                 rows the tab shows (50, 100, 250 or 1000; the UI's
#                                          default page is 100)
#     BENCH_REPORT_DIR=reports             where the report files go
#     BENCH_TEMPERATURE_SECS=1             the server's --temperature-interval-secs
#     BENCH_KEEP=1                         keep the temporary folder (server log, database)
#     BENCH_NO_BUILD=1                     use the binaries already built
#     BENCH_RESTART=0                      measure the server that registered the hosts (no restart)
#     BENCH_SERVER_ARGS="--poll-interval-secs 3600"   extra server flags (experiments)
#     BENCH_SERVER_ENV="MALLOC_ARENA_MAX=2"           the server's environment; the default is
#                                                     what scripts/run.sh and the Docker image set
#                                                     (BENCH_SERVER_ENV= measures without it)
#     CHROMIUM=/usr/bin/chromium
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$root"

say() { printf '\033[1;34m[bench]\033[0m %s\n' "$*"; }

if [[ -z "${BENCH_NO_BUILD:-}" ]]; then
  scripts/setup.sh --with-test-tools
  say "building the release server and site (scripts/build.sh, as scripts/run.sh does)"
  scripts/build.sh
  share_build_env
  say "building the benchmark fleet"
  cargo build --release --locked -p burnin-simulator --bin burnin-bench-fleet
fi

# The environment the product's launchers give the server (scripts/run.sh, Dockerfile).
export BENCH_SERVER_ENV="${BENCH_SERVER_ENV-MALLOC_ARENA_MAX=2}"
say "running end2end/bench/live.mjs"
exec node end2end/bench/live.mjs
