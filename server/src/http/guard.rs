//! Middleware every request passes: the cross-site guard, security headers, the request log.
//!
//! Leptos server functions accept form-encoded POSTs, a "simple" request any web page can send
//! with a plain `<form>` (leptos#3786; reference/security.md §2.6), and axum's WebSocket upgrade
//! checks no Origin (§2.8). So one guard in front of everything refuses state-changing requests
//! and WebSocket upgrades that a browser marks as coming from another site.

use std::{sync::Arc, time::Instant};

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use burnin_app::AppError;

/// Origins other than the one in the request's Host header that browsers may use, normalised
/// to `scheme://host[:port]` in lower case.
#[derive(Clone, Debug, Default)]
pub struct Origins(Vec<String>);

impl Origins {
    /// The `host[:port]` of each origin, as a browser sends it in `Host`.
    pub fn hosts(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|origin| origin.split_once("://").map(|(_, host)| host))
    }

    pub fn new(origins: &[String]) -> Origins {
        Origins(
            origins
                .iter()
                .map(|origin| origin.trim().trim_end_matches('/').to_ascii_lowercase())
                .filter(|origin| !origin.is_empty())
                .collect(),
        )
    }
}

#[derive(Debug)]
pub struct CrossSiteGuard {
    origins: Origins,
}

impl CrossSiteGuard {
    pub fn new(origins: Origins) -> CrossSiteGuard {
        CrossSiteGuard { origins }
    }

    /// `Ok` if the request may proceed; otherwise the reason it is refused.
    ///
    /// Rules (OWASP CSRF cheat sheet, Fetch Metadata first, Origin as the fallback):
    /// safe methods pass unless they upgrade to a WebSocket; `Sec-Fetch-Site` must be
    /// `same-origin` or `none` (`same-site` is refused: homelab siblings under one parent domain
    /// are not trusted); without it, `Origin` must match the Host or a configured public origin.
    /// A request with neither header does not come from a browser (curl, scripts, n8n) and
    /// passes, unless it carries a session cookie (a browser's state without a browser's
    /// headers).
    pub fn check(&self, method: &Method, headers: &HeaderMap) -> Result<(), String> {
        let upgrade = headers
            .get(header::UPGRADE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.eq_ignore_ascii_case("websocket"));
        let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        if safe && !upgrade {
            return Ok(());
        }
        if let Some(site) = headers.get("sec-fetch-site") {
            let site = site.to_str().unwrap_or("(unreadable)");
            return match site {
                "same-origin" | "none" => Ok(()),
                other => Err(format!(
                    "Cross-site request refused: the browser reports it comes from another site \
                     (Sec-Fetch-Site: {other}). Use the dashboard's own pages."
                )),
            };
        }
        let Some(origin) = headers.get(header::ORIGIN) else {
            // A browser always sends one of the two on such a request; one that carries a
            // session cookie without either is not telling where it comes from.
            let cookie = [crate::auth::COOKIE_SECURE, crate::auth::COOKIE_PLAIN]
                .iter()
                .any(|name| crate::auth::cookie(headers, name).is_some());
            if cookie {
                return Err("Request refused: it carries a session cookie but neither Origin nor \
                     Sec-Fetch-Site. Scripts should use an API token instead of a cookie."
                    .to_owned());
            }
            return Ok(());
        };
        let origin = origin.to_str().unwrap_or("").trim().to_ascii_lowercase();
        let host = headers
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let origin_host = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .unwrap_or("");
        if (!origin_host.is_empty() && origin_host == host) || self.origins.0.contains(&origin) {
            Ok(())
        } else {
            Err(format!(
                "Cross-site request refused: Origin `{origin}` is not this dashboard (Host `{host}`). \
                 Behind a reverse proxy that rewrites Host, add the public address with \
                 --public-origins."
            ))
        }
    }
}

pub async fn refuse_cross_site(
    State(guard): State<Arc<CrossSiteGuard>>,
    request: Request,
    next: Next,
) -> Response {
    match guard.check(request.method(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(reason) => {
            tracing::warn!(
                http.method = %request.method(),
                http.path = %request.uri().path(),
                reason = %reason,
                "refused a cross-site request"
            );
            AppError::refused(reason, Vec::new()).into_response()
        }
    }
}

/// A policy for answers that are not pages: they may load nothing and be framed by no one.
/// Pages set their own (with the hydration script's nonce) in `burnin_app::shell`.
const DEFAULT_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(DEFAULT_CSP));
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    response
}

/// One line per request: method, path (never the query, which may carry filters with names
/// in them), status and duration.
pub async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let duration_ms = started.elapsed().as_millis() as u64;
    if status >= 500 {
        tracing::warn!(http.method = %method, http.path = %path, http.status = status, duration_ms, "request failed");
    } else if method != Method::GET || status >= 400 {
        tracing::info!(http.method = %method, http.path = %path, http.status = status, duration_ms, "request");
    } else {
        tracing::debug!(http.method = %method, http.path = %path, http.status = status, duration_ms, "request");
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(method: Method, headers: &[(&str, &str)], extra: &[&str]) -> Result<(), String> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                HeaderValue::from_str(value).expect("header value"),
            );
        }
        let extra: Vec<String> = extra.iter().map(|origin| (*origin).to_owned()).collect();
        CrossSiteGuard::new(Origins::new(&extra)).check(&method, &map)
    }

    #[test]
    fn safe_requests_pass_whatever_their_origin() {
        assert!(check(Method::GET, &[("sec-fetch-site", "cross-site")], &[]).is_ok());
        assert!(check(Method::HEAD, &[("origin", "https://evil.example")], &[]).is_ok());
    }

    #[test]
    fn posts_pass_only_from_the_same_origin() {
        assert!(check(Method::POST, &[("sec-fetch-site", "same-origin")], &[]).is_ok());
        assert!(check(Method::POST, &[("sec-fetch-site", "cross-site")], &[]).is_err());
        // A sibling app under the same parent domain is not trusted.
        assert!(check(Method::POST, &[("sec-fetch-site", "same-site")], &[]).is_err());
        assert!(check(Method::PATCH, &[("sec-fetch-site", "cross-site")], &[]).is_err());
        assert!(check(Method::DELETE, &[("sec-fetch-site", "cross-site")], &[]).is_err());
    }

    #[test]
    fn without_fetch_metadata_the_origin_must_match_the_host() {
        let host = ("host", "127.0.0.1:3000");
        assert!(check(Method::POST, &[host, ("origin", "http://127.0.0.1:3000")], &[]).is_ok());
        assert!(check(Method::POST, &[host, ("origin", "http://127.0.0.1:3001")], &[]).is_err());
        assert!(check(Method::POST, &[host, ("origin", "null")], &[]).is_err());
        // Suffix tricks do not match.
        assert!(
            check(
                Method::POST,
                &[("host", "nas.lan"), ("origin", "http://nas.lan.evil.example")],
                &[]
            )
            .is_err()
        );
    }

    #[test]
    fn configured_public_origins_are_accepted_behind_a_proxy() {
        let headers = [("host", "127.0.0.1:3000"), ("origin", "https://burnin.example.net")];
        assert!(check(Method::POST, &headers, &[]).is_err());
        assert!(check(Method::POST, &headers, &["https://burnin.example.net/"]).is_ok());
    }

    #[test]
    fn websocket_upgrades_are_checked_like_state_changes() {
        let upgrade = ("upgrade", "websocket");
        assert!(check(Method::GET, &[upgrade, ("sec-fetch-site", "cross-site")], &[]).is_err());
        assert!(check(Method::GET, &[upgrade, ("sec-fetch-site", "same-origin")], &[]).is_ok());
        assert!(
            check(Method::GET, &[upgrade, ("host", "a:1"), ("origin", "http://b:1")], &[]).is_err()
        );
    }

    #[test]
    fn non_browser_clients_without_origin_headers_pass() {
        assert!(check(Method::POST, &[("host", "127.0.0.1:3000")], &[]).is_ok());
    }
}
