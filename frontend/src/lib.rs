//! The browser entry point. Everything else lives in `burnin-app`.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(burnin_app::App);
}
