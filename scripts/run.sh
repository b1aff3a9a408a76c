#!/usr/bin/env bash
# Builds and runs the dashboard: installs what is missing, builds an optimised binary and site,
# then serves on http://127.0.0.1:3000 with a SQLite file under ./data/.
# Flags and environment variables go to the server: scripts/run.sh --help lists them.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$root"

scripts/setup.sh
echo "[run] building the release binary and site (the first build takes several minutes)"
scripts/build.sh
export LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-$root/target/site}"
# glibc gives every thread that meets contention its own malloc arena and rarely returns their
# memory; two arenas hold the server at ~52 MiB instead of ~67 MiB with 1,000 drives and 50
# open tabs (scripts/bench-live.sh), at no measurable cost in latency. The Dockerfile sets the same.
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
exec "$root/target/release/burnin-server" "$@"
