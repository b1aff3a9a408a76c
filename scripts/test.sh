#!/usr/bin/env bash
# Runs every test and check: formatting, clippy (native and wasm), the wasm build's dependency
# rule, unit and integration tests, the site build, the bundle-size figure, and the end-to-end
# tests in Debian's Chromium. Installs what is missing first. CI runs exactly this (.ci/run).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$root"

started=$(date +%s)
step() { printf '\n\033[1;34m[test]\033[0m %s  (+%ss)\n' "$*" "$(( $(date +%s) - started ))"; }
fail() { printf '\033[1;31m[test] FAILED:\033[0m %s\n' "$*" >&2; exit 1; }

step "set-up"
scripts/setup.sh --with-test-tools

# The server compiled for `cargo test` is the one cargo-leptos builds: compiled once, not twice.
share_leptos_build_env

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
# with the build-time variables above); cargo-leptos adds the site: the release wasm bundle,
# CSS and static assets, as users get them.
step "site build (release bundle)"
cargo leptos build --release --frontend-only --precompress

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

step "end-to-end tests in Chromium"
(cd end2end && npx playwright test)

step "all tests passed in $(( $(date +%s) - started ))s"
