#!/usr/bin/env bash
# Installs what building, running and testing the dashboard needs, and only what is missing.
# Idempotent: a second run changes nothing. Sources: crates.io, npm and Debian's packages only;
# nothing is downloaded from anywhere else.
#
# Usage: scripts/setup.sh [--with-test-tools] [--with-cargo-leptos]
#   --with-test-tools    also install Chromium, the OpenSSH server and csh/tcsh (for the tests)
#   --with-cargo-leptos  also build cargo-leptos, for `cargo leptos watch` while developing
#                        (about 14 minutes; no required step uses it: scripts/build-site.sh
#                        builds the site with the tools below)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

CARGO_LEPTOS_VERSION="0.3.7"
with_test_tools=false
with_cargo_leptos=false
for arg in "$@"; do
  case "$arg" in
    --with-test-tools) with_test_tools=true ;;
    --with-cargo-leptos) with_cargo_leptos=true ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

export PATH="$HOME/.cargo/bin:$PATH"

# The wasm-bindgen CLI must be exactly the version the workspace pins (a mismatch fails at
# build time with "schema version ... must exactly match").
wasm_bindgen_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
if [[ -z "$wasm_bindgen_version" ]]; then
  echo "setup.sh: cannot read the wasm-bindgen version from Cargo.lock" >&2
  exit 1
fi

if ! command -v cargo >/dev/null; then
  echo "setup.sh: cargo is missing; install Rust with rustup first (https://rustup.rs)" >&2
  exit 1
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if $with_cargo_leptos && [[ "$(cargo-leptos --version 2>/dev/null || true)" != "cargo-leptos $CARGO_LEPTOS_VERSION" ]]; then
  say "building cargo-leptos $CARGO_LEPTOS_VERSION (no_downloads); this takes a while"
  # The tool's own release profile (fat LTO, one codegen unit) doubles its build time for no
  # gain to us: it is a build driver, not a hot path.
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=2 \
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
fi

if [[ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $wasm_bindgen_version" ]]; then
  say "building wasm-bindgen-cli $wasm_bindgen_version"
  # Not --locked: its lockfile names a yanked crate version that the index no longer offers.
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install wasm-bindgen-cli --version "$wasm_bindgen_version" --force
fi

need_apt=()
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then need_apt+=(nodejs npm); fi
if ! command -v python3 >/dev/null; then need_apt+=(python3); fi
# The site's precompressed copies (scripts/build-site.sh): gzip is everywhere, brotli is not.
if ! command -v brotli >/dev/null; then need_apt+=(brotli); fi
if $with_test_tools; then
  command -v chromium >/dev/null || need_apt+=(chromium)
  [[ -x /usr/sbin/sshd ]] || need_apt+=(openssh-server)
  # The job commands are tested under the login shells a NAS may give root (csh, tcsh).
  # The certificate tests read the PDF's text and render it (pdftotext, pdftoppm, pdfinfo).
  command -v pdftotext >/dev/null || need_apt+=(poppler-utils)
  command -v csh >/dev/null || need_apt+=(csh)
  command -v tcsh >/dev/null || need_apt+=(tcsh)
  # The notification tests deliver to a real SMTP server on loopback (server/tests/smtp_sink.py).
  [[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || need_apt+=(python3-aiosmtpd)
fi
if ((${#need_apt[@]})); then
  say "installing Debian packages: ${need_apt[*]}"
  sudo_cmd=()
  if [[ "$(id -u)" != 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

# npm: Playwright (tests), binaryen's wasm-opt and esbuild (release builds: the JS and CSS
# minified). Debian's binaryen (108) produces wasm that fails to hydrate in Chromium; npm's
# 132 does not.
if [[ ! -x end2end/node_modules/.bin/wasm-opt || ! -x end2end/node_modules/.bin/playwright \
      || ! -x end2end/node_modules/.bin/esbuild \
      || end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]]; then
  say "installing npm packages (Playwright, binaryen)"
  (cd end2end && npm ci --no-audit --no-fund --loglevel=error)
fi

# xterm.js for the terminal, from the same npm install: copied into the site's assets, served
# by the binary (no CDN), loaded by the page only when a terminal opens.
vendor=public/vendor/xterm
if [[ ! -f $vendor/xterm.mjs || end2end/node_modules/@xterm/xterm/lib/xterm.mjs -nt $vendor/xterm.mjs ]]; then
  mkdir -p "$vendor"
  cp end2end/node_modules/@xterm/xterm/lib/xterm.mjs end2end/node_modules/@xterm/xterm/css/xterm.css \
     end2end/node_modules/@xterm/addon-fit/lib/addon-fit.mjs "$vendor/"
fi

say "ready: wasm-bindgen $wasm_bindgen_version, wasm-opt $(end2end/node_modules/.bin/wasm-opt --version | awk '{print $3}')"
