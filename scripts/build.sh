#!/usr/bin/env bash
# Builds the dashboard as users get it: the release server binary and the site (the hydrate
# bundle, the stylesheet, the static assets, each with gzip and brotli copies) under
# target/site. The one build every launcher uses: scripts/run.sh, scripts/test.sh, the
# benchmarks and the Dockerfile. It calls the tools directly (cargo, wasm-bindgen, wasm-opt,
# esbuild, gzip, brotli); cargo-leptos is not needed (it stays optional, for `cargo leptos
# watch` while developing: scripts/setup.sh --with-cargo-leptos).
#
# Usage: scripts/build.sh [--site-only] [--server-only]
#   --site-only    the site alone (the test command serves it with the server `cargo test` built)
#   --server-only  the release server alone
# The tools come from scripts/setup.sh; run it first on a fresh machine.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$root"

build_server=true
build_site=true
for arg in "$@"; do
  case "$arg" in
    --site-only) build_server=false ;;
    --server-only) build_site=false ;;
    *) echo "build.sh: unknown option $arg (see the usage at the top of scripts/build.sh)" >&2; exit 2 ;;
  esac
done

say() { printf '\033[1;34m[build]\033[0m %s\n' "$*"; }
timed() {
  local label=$1 t0
  shift
  t0=$(date +%s)
  "$@"
  say "$label: $(( $(date +%s) - t0 ))s"
}

share_build_env

if $build_server; then
  timed "release server" cargo build --release --locked -p burnin-server --bin burnin-server
fi

if $build_site; then
  for tool in wasm-bindgen wasm-opt esbuild brotli gzip; do
    command -v "$tool" >/dev/null \
      || { echo "build.sh: $tool is missing: run scripts/setup.sh first" >&2; exit 1; }
  done
  site="$LEPTOS_SITE_ROOT"
  name="$LEPTOS_OUTPUT_NAME"
  wasm_in="target/wasm32-unknown-unknown/wasm-release/burnin_frontend.wasm"

  timed "wasm (burnin-frontend, profile wasm-release)" \
    cargo build --locked -p burnin-frontend --target wasm32-unknown-unknown --profile wasm-release

  # Built beside the site and moved in at the end, so that a failed build never leaves a half
  # site for a running server to serve.
  staging="$site.new"
  rm -rf "$staging"
  mkdir -p "$staging/$LEPTOS_SITE_PKG_DIR"
  stage_pkg="$staging/$LEPTOS_SITE_PKG_DIR"

  timed "wasm-bindgen" wasm-bindgen --target web --no-typescript --out-dir "$stage_pkg" \
    --out-name "$name" "$wasm_in"
  # The page loads `/pkg/<name>.wasm` (leptos' hydration script), not wasm-bindgen's
  # `_bg.wasm` default.
  mv "$stage_pkg/${name}_bg.wasm" "$stage_pkg/$name.wasm"

  # The features rustc's wasm32 target emits by default (bulk memory, sign extension,
  # non-trapping float-to-int, multi-value, reference types), so that wasm-opt accepts and keeps
  # them; debug sections and the producers note are of no use to a browser.
  timed "wasm-opt -Oz" wasm-opt -Oz --enable-bulk-memory --enable-sign-ext \
    --enable-nontrapping-float-to-int --enable-multivalue --enable-reference-types \
    --strip-debug --strip-producers "$stage_pkg/$name.wasm" -o "$stage_pkg/$name.opt.wasm"
  mv "$stage_pkg/$name.opt.wasm" "$stage_pkg/$name.wasm"

  minify() {
    esbuild "$stage_pkg/$name.js" --minify --format=esm --log-level=warning --allow-overwrite \
      --outfile="$stage_pkg/$name.js"
    esbuild style/main.css --minify --log-level=warning --outfile="$stage_pkg/$name.css"
  }
  timed "JS and CSS (esbuild --minify)" minify

  # The static assets at the site's root (the favicon, the terminal's xterm.js from npm).
  cp -R public/. "$staging/"

  # Every text and wasm file, precompressed once here, served by the binary as the browser
  # accepts (gzip or brotli). The originals stay for clients that accept neither.
  precompress() {
    find "$1" -type f \( -name '*.wasm' -o -name '*.js' -o -name '*.mjs' -o -name '*.css' \
      -o -name '*.svg' -o -name '*.html' -o -name '*.json' -o -name '*.txt' \) -print0 \
      | while IFS= read -r -d '' file; do
          gzip -9 -n -c "$file" >"$file.gz"
          brotli -q 11 -f -o "$file.br" "$file"
        done
  }
  timed "gzip and brotli copies" precompress "$staging"

  rm -rf "$site.old"
  [[ -d "$site" ]] && mv "$site" "$site.old"
  mv "$staging" "$site"
  rm -rf "$site.old"
  say "site ready in $site"
fi
