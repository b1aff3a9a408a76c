#!/usr/bin/env bash
# Runs every test and check: formatting, clippy (native and wasm), the wasm build's dependency
# rule, unit and integration tests, the site build, the bundle-size figure, the benchmarks' smoke
# runs, and the end-to-end tests in Debian's Chromium. Installs what is missing first. CI runs
# exactly this (.ci/run). At the end it prints each step's duration and, when everything
# passed, writes the commit it passed on to target/test-passed (`<commit> clean|dirty`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$root"

started=$(date +%s)
step_names=()
step_starts=()
durations() {
  local now i end
  now=$(date +%s)
  printf '\n\033[1;34m[test]\033[0m step durations\n'
  for i in "${!step_names[@]}"; do
    end=${step_starts[$((i + 1))]:-$now}
    printf '  %6ss  %s\n' "$(( end - step_starts[i] ))" "${step_names[$i]}"
  done
  printf '  %6ss  in all\n' "$(( now - started ))"
  # A full disk has ended a CI run before: the figures that tell it from a real failure.
  printf 'disk: target/ holds %s, %s free\n' "$(du -sh target 2>/dev/null | cut -f1)" \
    "$(df -h --output=avail . | tail -1 | tr -d ' ')"
}
trap durations EXIT
step() {
  step_names+=("$*")
  step_starts+=("$(date +%s)")
  printf '\n\033[1;34m[test]\033[0m %s  (+%ss, %s free)\n' "$*" "$(( $(date +%s) - started ))" \
    "$(df -h --output=avail . | tail -1 | tr -d ' ')"
}
fail() { printf '\033[1;31m[test] FAILED:\033[0m %s\n' "$*" >&2; exit 1; }

# Whatever this run ends in, an earlier pass no longer speaks for the work tree.
rm -f target/test-passed
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
tree_state() { [[ -z "$(git status --porcelain 2>/dev/null)" ]] && echo clean || echo dirty; }
tree_at_start=$(tree_state)

step "set-up"
scripts/setup.sh --with-test-tools

# The flags every build uses (scripts/env.sh), so that `cargo test`, clippy and
# scripts/build.sh compile each crate once.
share_build_env

step "formatting (cargo fmt --check)"
cargo fmt --all --check

step "clippy, native crates"
cargo clippy --all-targets --locked -- -D warnings

step "clippy, the wasm build of app and frontend"
cargo clippy -p burnin-frontend --target wasm32-unknown-unknown --locked -- -D warnings

step "the wasm build pulls in no server-side crates"
forbidden=$(cargo tree -p burnin-frontend --target wasm32-unknown-unknown -e normal --prefix none \
  | awk '{print $1}' | sort -u | grep -E '^(tokio|sqlx.*|russh.*|mio|hyper|axum|libsqlite3-sys)$' || true)
[[ -z "$forbidden" ]] || fail "the wasm build depends on: $forbidden"

step "unit and integration tests"
cargo test --locked

# The server binary under test is the one `cargo test` just built (target/debug/burnin-server,
# with the build-time variables above); scripts/build.sh adds the site exactly as users get it:
# the release wasm bundle, CSS and static assets, with their compressed copies.
step "site build (scripts/build.sh --site-only)"
scripts/build.sh --site-only

step "bundle size"
mkdir -p reports
wasm=target/site/pkg/burnin.wasm
js=target/site/pkg/burnin.js
[[ -f "$wasm" && -f "$js" ]] || fail "the site build left no $wasm / $js"
wasm_gz=$(gzip -9c "$wasm" | wc -c)
js_gz=$(gzip -9c "$js" | wc -c)
total_kib=$(( (wasm_gz + js_gz + 1023) / 1024 ))
printf 'hydrate bundle (gzip -9): wasm %d B + js %d B = %d KiB\n' "$wasm_gz" "$js_gz" "$total_kib" \
  | tee reports/bundle-size.txt

# Each benchmark at a small size: it must complete and print its figures (their values are
# not judged here), so that a change that breaks a benchmark fails CI.
step "benchmarks, smoke runs"
smoke=target/bench-smoke
rm -rf "$smoke"
mkdir -p "$smoke"
cargo build --locked -p burnin-simulator --bin burnin-bench-fleet
BENCH_NO_BUILD=1 BENCH_SERVER_BIN=target/debug/burnin-server BENCH_IDLE_SECS=3 BENCH_SETTLE_SECS=1 \
  BENCH_REPORT_DIR="$smoke" scripts/bench-idle.sh
[[ $(grep -c '^idle, ' "$smoke/bench-idle.txt") == 2 ]] || fail "bench-idle.sh printed no figures"
BENCH_NO_BUILD=1 BENCH_SERVER_BIN=target/debug/burnin-server BENCH_FLEET_BIN=target/debug/burnin-bench-fleet \
  BENCH_HOSTS=2 BENCH_DRIVES=16 BENCH_CLIENTS=12 BENCH_SAMPLES=10 BENCH_CHURN=5 BENCH_SSR=5 \
  BENCH_PAGE_SIZE=50 BENCH_REPORT_DIR="$smoke" scripts/bench-live.sh
[[ -s "$smoke/bench-live.txt" && -s "$smoke/bench-live.json" ]] || fail "bench-live.sh wrote no report"
BENCH_NO_BUILD=1 BENCH_SERVER_BIN=target/debug/burnin-server BENCH_JOBS=2000 BENCH_REPEAT=3 \
  BENCH_REPORT_DIR="$smoke" scripts/bench-stats.sh
[[ $(grep -c ' p50 ' "$smoke/bench-stats.txt") == 4 ]] || fail "bench-stats.sh printed no figures"
BENCH_SIZE_MIB=64 BENCH_SWEEP=1024 BENCH_REPEAT=1 BENCH_POLL_MS=200 \
  BENCH_REPORT="$smoke/bench-surface.txt" scripts/bench-surface.sh
[[ -s "$smoke/bench-surface.txt" ]] || fail "bench-surface.sh wrote no report"

# Each spec file against its own server and fresh database (the config starts one per run), so
# that no spec depends on what an earlier one did, and `npx playwright test tests/x.spec.ts`
# runs one alone exactly as here.
step "end-to-end tests in Chromium, each spec file on its own server"
failed_specs=()
for spec in end2end/tests/*.spec.ts; do
  name=$(basename "$spec")
  printf '\n[test] end-to-end: %s\n' "$name"
  (cd end2end && npx playwright test "tests/$name") || failed_specs+=("$name")
done
((${#failed_specs[@]} == 0)) || fail "end-to-end specs failed: ${failed_specs[*]}"

step "all tests passed in $(( $(date +%s) - started ))s"
mkdir -p target
# `dirty` if the tree changed while the tests ran, too: then no commit is known to have passed.
state=$(tree_state)
[[ "$tree_at_start" == clean ]] || state=dirty
echo "$commit $state" > target/test-passed
echo "[test] wrote target/test-passed: $commit $state"
