//! HTTP: the router, its middleware, and the small routes the server owns itself.

pub mod access;
pub mod api;
mod auth_routes;
mod guard;
mod health;

use std::sync::Arc;

use axum::{Router, middleware, routing::get};
use burnin::access::Door;
use burnin_app::{App, backend::Backend, shell};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};

pub use guard::{CrossSiteGuard, Origins};

use crate::{live::Hub, service::Services};

/// What every handler can reach.
#[derive(Clone, axum::extract::FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub services: Services,
}

impl axum::extract::FromRef<AppState> for crate::auth::Auth {
    fn from_ref(state: &AppState) -> crate::auth::Auth {
        state.services.auth.clone()
    }
}

impl axum::extract::FromRef<AppState> for crate::settings::Live {
    fn from_ref(state: &AppState) -> crate::settings::Live {
        state.services.settings.clone()
    }
}

impl axum::extract::FromRef<AppState> for Hub {
    fn from_ref(state: &AppState) -> Hub {
        state.services.hub.clone()
    }
}

/// Every door the server has, with what it asks: `/api/v1` routes, `/auth` forms, `/live` and
/// every server function. `/healthz`, `/readyz`, pages and static files are not doors (pages
/// render through the services, which check the same rules).
/// `None`: a server function that declares no door (the gate refuses it to everyone).
pub fn inventory() -> Vec<(String, String, Option<Door>)> {
    let mut doors: Vec<(String, String, Option<Door>)> = api::doors()
        .into_iter()
        .map(|(method, path, door)| (method.as_str().to_owned(), path, Some(door)))
        .collect();
    doors.extend(
        auth_routes::doors().into_iter().map(|(m, p, d)| (m.to_owned(), p.to_owned(), Some(d))),
    );
    doors.push(("GET".into(), "/live".into(), Some(Door::Needs(burnin::access::Action::View))));
    doors.push((
        "GET".into(),
        "/terminal".into(),
        Some(Door::Needs(burnin::access::Action::OpenTerminal)),
    ));
    let declared: std::collections::HashMap<&str, Door> =
        burnin_app::server_fn_doors().into_iter().collect();
    for (path, method) in leptos::server_fn::axum::server_fn_paths() {
        doors.push((method.as_str().to_owned(), path.to_owned(), declared.get(path).copied()));
    }
    doors
}

/// The page routes, generated once per process.
///
/// Generating them renders the app with resource loading switched off through a
/// process-global flag in leptos_server (0.8): a page rendered by another server in the same
/// process at that moment would wait forever on a resource that never starts. Production
/// builds one router per process; tests build many, concurrently.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// Whether `path` (without its query) is a page the app renders. Derived from the router, so a
/// new page is gated by sign-in and accepted as a sign-in's `next` with no second list to
/// keep in step.
pub(crate) fn is_page(path: &str) -> bool {
    static PATTERNS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let patterns =
        PATTERNS.get_or_init(|| route_list().iter().map(|r| r.path().to_owned()).collect());
    patterns.iter().any(|pattern| page_matches(pattern, path))
}

/// A route pattern (`/hosts`, `/jobs/{id}` or `/jobs/:id`) against a request path.
fn page_matches(pattern: &str, path: &str) -> bool {
    let pattern = if pattern.is_empty() { "/" } else { pattern };
    let (pattern, path): (Vec<&str>, Vec<&str>) =
        (pattern.split('/').collect(), path.split('/').collect());
    pattern.len() == path.len()
        && pattern.iter().zip(&path).all(|(want, got)| {
            let parameter = want.starts_with(':') || (want.starts_with('{') && want.ends_with('}'));
            if parameter { !got.is_empty() } else { want == got }
        })
}

/// The whole application: pages, server functions, health checks, static files.
pub fn router(state: AppState, origins: Origins, listen: std::net::SocketAddr) -> Router {
    let routes = route_list();
    let auth = state.services.auth.clone();
    let backend: Arc<dyn Backend> = Arc::new(state.services.clone());
    let context = move || provide_context(backend.clone());

    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route(
            "/live",
            get(crate::live::live_socket).route_layer(middleware::from_fn_with_state(
                Door::Needs(burnin::access::Action::View),
                access::require,
            )),
        )
        .route(
            "/terminal",
            get(crate::terminal::terminal_socket).route_layer(middleware::from_fn_with_state(
                Door::Needs(burnin::access::Action::OpenTerminal),
                access::require,
            )),
        )
        .merge(auth_routes::routes())
        .nest("/api/v1", api::routes())
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, shell))
        .with_state(state)
        // The last layer added runs first: every request is logged, every answer (refusals
        // included) gets the security headers, and the guard runs before any handler.
        // Who is calling, then whether the door lets them in; after the cross-site guard.
        .layer(middleware::from_fn_with_state(
            Arc::new(access::Gate::new(auth, &origins, listen)),
            access::authenticate,
        ))
        .layer(middleware::from_fn_with_state(
            Arc::new(CrossSiteGuard::new(origins)),
            guard::refuse_cross_site,
        ))
        // Bounded work per request: no body over its limit (`body_limit`), no request held
        // open over two minutes (sockets are upgraded at once and are not held by it).
        .layer(middleware::from_fn(limit_body))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            std::time::Duration::from_secs(120),
        ))
        .layer(middleware::from_fn(guard::security_headers))
        .layer(middleware::from_fn(guard::log_request))
}

/// The largest body most requests may send: the largest legitimate one is a CA certificate
/// or an SSH key.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// An evidence bundle to verify carries a job's stage outputs (each kept to 4 MiB) and
/// captures: the two doors that take one accept this much.
pub const BUNDLE_LIMIT: usize = 64 * 1024 * 1024;

/// The doors that take a whole bundle; open to anyone, so their work is bounded below.
fn takes_bundle(path: &str) -> bool {
    use leptos::server_fn::ServerFn;
    path == "/api/v1/evidence/verify" || path == burnin_app::pages::record::VerifyEvidence::PATH
}

fn body_limit(path: &str) -> usize {
    if takes_bundle(path) { BUNDLE_LIMIT } else { BODY_LIMIT }
}

/// Bundles checked at once. Anyone may send one, and each may hold `BUNDLE_LIMIT` in memory
/// while it is hashed: a few at a time keep a flood from exhausting the machine.
const BUNDLE_CHECKS: usize = 2;
static BUNDLE_PERMITS: std::sync::LazyLock<tokio::sync::Semaphore> =
    std::sync::LazyLock::new(|| tokio::sync::Semaphore::new(BUNDLE_CHECKS));

/// Refuses a body over its path's limit: at once when its length is declared, else when
/// reading passes the limit (the extractors answer 413 then).
async fn limit_body(
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let limit = body_limit(request.uri().path());
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return (
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is over this route's limit of {} MiB", limit / (1024 * 1024)),
        )
            .into_response();
    }
    let request =
        request.map(|body| axum::body::Body::new(http_body_util::Limited::new(body, limit)));
    if takes_bundle(request.uri().path()) {
        let Ok(_permit) = BUNDLE_PERMITS.try_acquire() else {
            return (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                [(axum::http::header::RETRY_AFTER, "5")],
                "other bundles are being checked right now: try again in a few seconds",
            )
                .into_response();
        };
        return next.run(request).await;
    }
    next.run(request).await
}
