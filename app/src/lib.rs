//! `burnin-app`: the burn-in dashboard's user interface.
//!
//! Built twice: with `ssr` inside the server binary (rendering HTML and running server
//! functions) and with `hydrate` into the browser's wasm bundle. UI only: it reaches the
//! services through [`backend::Backend`] and never imports server internals.

#[cfg(feature = "ssr")]
pub mod backend;
mod components;
mod error;
pub mod live;
pub mod pages;

pub use error::{AppError, ErrorBody, ErrorKind};

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::{
    StaticSegment,
    components::{A, Route, Router, Routes},
};

/// The product's version, shown in the header and reported by the API.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The HTML document around the app. Rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="dark"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <link rel="stylesheet" href="/pkg/burnin.css"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Pages get a policy that admits only this origin plus the one inline hydration script, by
/// its per-response nonce. Other responses get the stricter default from the server's
/// middleware, which leaves this header alone when it is already set.
#[cfg(feature = "ssr")]
fn set_content_security_policy() {
    use axum::http::{HeaderValue, header::CONTENT_SECURITY_POLICY};
    let Some(nonce) = leptos::nonce::use_nonce() else { return };
    let Some(response) = use_context::<leptos_axum::ResponseOptions>() else { return };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.insert_header(CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser, after hydration: the marker lets styles (and the
    // end-to-end tests) tell a live page from server-rendered HTML.
    Effect::new(|_| {
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Title text="Burn-in dashboard"/>
        <Router>
            <header class="topbar">
                <a class="brand" href="/">
                    <span class="brand-mark" aria-hidden="true">"▮"</span>
                    <span class="brand-name">"Burn-in dashboard"</span>
                </a>
                <span class="version" title="Version">"v" {VERSION}</span>
                <nav class="nav">
                    <A href="/">"Drives"</A>
                    <A href="/hosts">"Hosts"</A>
                </nav>
            </header>
            <main class="content">
                <Routes fallback=pages::NotFound>
                    <Route path=StaticSegment("") view=pages::dashboard::DashboardPage/>
                    <Route path=StaticSegment("hosts") view=pages::hosts::HostsPage/>
                </Routes>
            </main>
        </Router>
    }
}
