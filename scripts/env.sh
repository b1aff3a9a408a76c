# Sourced by the scripts: the tool paths and the build environment they share.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$root/end2end/node_modules/.bin:$PATH"

# One set of compiler flags and build-time variables for every build (scripts/build.sh, the
# tests, the benchmarks, the Dockerfile), so that the bundle the tests measure is the one users
# get and each crate compiles once, not once per tool. `erase_components` type-erases Leptos
# views: faster builds and a smaller wasm. The LEPTOS_* variables are those cargo-leptos sets
# (for `cargo leptos watch`, which stays optional), so its builds share the same cache.
share_build_env() {
  export RUSTFLAGS="--cfg erase_components"
  # Incremental state is gigabytes per crate and feature set, and a CI machine builds once; a
  # full run once died of a full disk. Every scripted build shares this, so none rebuilds for it.
  export CARGO_INCREMENTAL=0
  export LEPTOS_OUTPUT_NAME=burnin LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_PKG_DIR=pkg \
    LEPTOS_SITE_ADDR=127.0.0.1:3000 LEPTOS_RELOAD_PORT=3001 LEPTOS_LIB_DIR=frontend \
    LEPTOS_BIN_DIR=server LEPTOS_JS_MINIFY=true LEPTOS_HASH_FILES=false
}

# Waits (60 s at most) until the server `pid` writing `log` says it is serving, then prints its
# address (`http://127.0.0.1:PORT`); fails naming the cause, with the log, if it exits or stays
# silent. For the benchmarks, which start servers on free ports.
wait_serving() {
  local log=$1 pid=$2 deadline=$(( $(date +%s) + 60 ))
  until grep -q 'serving the burn-in dashboard' "$log"; do
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "the server exited before serving" >&2; return 1; }
    (( $(date +%s) < deadline )) || { echo "the server was not serving within 60 s" >&2; return 1; }
    sleep 0.2
  done
  grep -o 'serving the burn-in dashboard on https\?://[0-9.:]*' "$log" | head -1 | sed 's/.* on //'
}
