//! `/auth/*`: signing in, the first admin, signing out. Plain form posts answered with a
//! redirect, so they work before (or without) the page's wasm; the session cookie is set on
//! the redirect and never appears in a body.

use axum::{
    Extension, Form, Router,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Redirect, Response},
    routing::post,
};
use burnin::access::Door;
use burnin_app::backend::Caller;
use serde::Deserialize;

use super::{AppState, access};
use crate::auth::{Auth, NewSession, set_cookie};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/auth/login",
            post(login)
                .route_layer(axum::middleware::from_fn_with_state(Door::Open, access::require)),
        )
        .route(
            "/auth/setup",
            post(setup)
                .route_layer(axum::middleware::from_fn_with_state(Door::Open, access::require)),
        )
        .route(
            "/auth/logout",
            post(logout)
                .route_layer(axum::middleware::from_fn_with_state(Door::Open, access::require)),
        )
}

/// Every `/auth` route and its door, for the route inventory.
pub fn doors() -> Vec<(&'static str, &'static str, Door)> {
    vec![
        ("POST", "/auth/login", Door::Open),
        ("POST", "/auth/setup", Door::Open),
        ("POST", "/auth/logout", Door::Open),
    ]
}

#[derive(Debug, Deserialize)]
struct Credentials {
    name: String,
    password: String,
    #[serde(default)]
    next: Option<String>,
}

/// Only a page of this site: never `//elsewhere` or a full URL (an open redirect). Browsers
/// drop tabs and line breaks from a `Location` and read `\` as `/`, so `/<TAB>/evil.example`
/// would become `//evil.example`: only printable ASCII without spaces or `\` passes, and the
/// path must be one the router renders.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(next)
            if next.len() <= 2048
                && next.starts_with('/')
                && !next.starts_with("//")
                && next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
                && super::is_page(next.split(['?', '#']).next().unwrap_or("")) =>
        {
            next.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn signed_in(auth: &Auth, session: NewSession, https: bool, next: &str) -> Response {
    let mut response = Redirect::to(next).into_response();
    let cookie = set_cookie(Some(&session.cookie_value), https, auth.absolute_secs());
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

fn back_to(page: &str, message: &str, next: Option<&str>) -> Response {
    let mut target = format!("{page}?error={}", access::encode(message));
    if let Some(next) = next {
        target.push_str(&format!("&next={}", access::encode(&safe_next(Some(next)))));
    }
    Redirect::to(&target).into_response()
}

async fn login(
    State(auth): State<Auth>,
    Extension(caller): Extension<Caller>,
    form: Result<Form<Credentials>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return back_to(
            "/login",
            "the sign-in form was incomplete: give a user name and a password",
            None,
        );
    };
    let next = safe_next(form.next.as_deref());
    match auth.login(&form.name, &form.password, caller.address, &caller.user_agent).await {
        Ok(session) => signed_in(&auth, session, caller.https, &next),
        Err(error) => back_to("/login", &error.to_string(), Some(&next)),
    }
}

async fn setup(
    State(auth): State<Auth>,
    Extension(caller): Extension<Caller>,
    form: Result<Form<Credentials>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return back_to("/setup", "give a user name and a password", None);
    };
    match auth.setup(&form.name, &form.password, caller.address, &caller.user_agent).await {
        Ok(session) => signed_in(&auth, session, caller.https, "/"),
        Err(error) => back_to("/setup", &error.to_string(), None),
    }
}

async fn logout(State(auth): State<Auth>, Extension(caller): Extension<Caller>) -> Response {
    if let (Some(session), Some(principal)) = (&caller.session, &caller.principal)
        && let Err(error) = auth.logout(session, &principal.actor()).await
    {
        tracing::warn!(error = %error, "signing out failed");
    }
    let mut response = Redirect::to("/login").into_response();
    for https in [true, false] {
        if let Ok(value) = HeaderValue::from_str(&set_cookie(None, https, 0)) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}
