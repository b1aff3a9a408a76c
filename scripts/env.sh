# Sourced by the scripts: the tool paths and the build environment they share.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$root/end2end/node_modules/.bin:$PATH"

# The flags and build-time variables cargo-leptos sets for its own builds, so that `cargo test`,
# `cargo build` and `cargo leptos build` in test.sh and the benchmarks compile each crate once,
# not once per tool.
share_leptos_build_env() {
  export RUSTFLAGS="--cfg erase_components"
  export LEPTOS_OUTPUT_NAME=burnin LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_PKG_DIR=pkg \
    LEPTOS_SITE_ADDR=127.0.0.1:3000 LEPTOS_RELOAD_PORT=3001 LEPTOS_LIB_DIR=frontend \
    LEPTOS_BIN_DIR=server LEPTOS_JS_MINIFY=true LEPTOS_HASH_FILES=false
}
