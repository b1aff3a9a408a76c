pub mod access;
pub mod alerts;
pub mod burnin;
pub mod dashboard;
pub mod drive;
pub mod history;
pub mod hosts;
pub mod job;
pub mod notifications;
pub mod record;
pub mod settings;
pub mod stats;

use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <section class="panel empty">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. " <a href="/">"Back to the drives"</a></p>
        </section>
    }
}
