//! The gate every request passes after the cross-site guard: the Host allowlist (DNS
//! rebinding), who is calling (`auth::Auth::resolve`), and each door's declared need.
//!
//! Doors declare what they need in one place each: `/api/v1` routes in `api::table`, server
//! functions in `burnin_app::server_fn_doors`, `/live` beside its route. A server function
//! missing from its table is refused to everyone. The services check again with the same
//! rules (`burnin::access`), so a page rendered on the server (which calls them in-process,
//! past this gate) is held to them too.

use std::{collections::HashMap, net::IpAddr, sync::Arc};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderValue, Method, header},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use burnin::access::Door;
use burnin_app::{AppError, backend::Caller};

use crate::auth::Auth;

use super::Origins;

pub struct Gate {
    auth: Auth,
    /// Host names (with or without a port) browsers may use besides IP literals and localhost.
    hosts: Vec<String>,
    server_fns: HashMap<&'static str, Door>,
}

impl Gate {
    pub fn new(auth: Auth, origins: &Origins, listen: std::net::SocketAddr) -> Gate {
        let mut hosts: Vec<String> = origins.hosts().map(str::to_owned).collect();
        hosts.push(listen.ip().to_string());
        // The machine's own name, as people type it on a LAN.
        if let Ok(name) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
            let name = name.trim().to_ascii_lowercase();
            if !name.is_empty() {
                hosts.push(format!("{name}.local"));
                hosts.push(name);
            }
        }
        Gate { auth, hosts, server_fns: burnin_app::server_fn_doors().into_iter().collect() }
    }

    /// A Host header names this server when it is an IP literal (a rebinding page can only
    /// ever send its own DNS name), localhost, this machine's name, or a configured origin.
    fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        if host.is_empty() {
            return true;
        }
        let name = if host.starts_with('[') {
            host.split(']').next().map(|h| format!("{h}]")).unwrap_or_default()
        } else {
            host.rsplit_once(':').map_or(host.clone(), |(name, _)| name.to_owned())
        };
        let bare = name.trim_start_matches('[').trim_end_matches(']');
        bare.parse::<IpAddr>().is_ok()
            || bare == "localhost"
            || bare.ends_with(".localhost")
            || self.hosts.iter().any(|allowed| *allowed == host || *allowed == bare)
    }

    /// The client's address: the peer, or, from a trusted proxy, the nearest address in
    /// `X-Forwarded-For` that is not one of the trusted proxies.
    fn client(&self, peer: IpAddr, request: &Request) -> (IpAddr, bool) {
        if !self.auth.trusted(peer) {
            return (peer, false);
        }
        let entries: Vec<&str> = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .map(|v| v.to_str().unwrap_or(""))
            .flat_map(|v| v.split(','))
            .collect();
        let client = forwarded_client(peer, &entries, |a| self.auth.trusted(a));
        let https = request
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
        (client, https)
    }
}

/// Walks `X-Forwarded-For` from the nearest hop: each trusted proxy's entry names the hop
/// before it, until one that is not a trusted proxy (the client). An entry that does not read
/// as an address (`ip`, `ip:port`, `[v6]`, `[v6]:port`) stops the walk at the hop that wrote
/// it: skipping it would let the client's own, earlier entries choose its address.
fn forwarded_client(peer: IpAddr, entries: &[&str], trusted: impl Fn(IpAddr) -> bool) -> IpAddr {
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Some(address) = forwarded_address(entry) else { break };
        client = address;
        if !trusted(address) {
            break;
        }
    }
    client
}

/// One `X-Forwarded-For` entry as an address: `192.0.2.7`, `192.0.2.7:51234`, `2001:db8::5`,
/// `[2001:db8::5]` or `[2001:db8::5]:443`.
fn forwarded_address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(address) = entry.parse::<IpAddr>() {
        return Some(address);
    }
    if let Ok(socket) = entry.parse::<std::net::SocketAddr>() {
        return Some(socket.ip());
    }
    entry.strip_prefix('[')?.strip_suffix(']')?.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
}

fn refuse(error: AppError) -> Response {
    error.into_response()
}

/// Resolves the caller into the request's extensions and applies the door of pages and server
/// functions; `/api/v1` routes and `/live` apply theirs with [`require`].
pub async fn authenticate(
    State(gate): State<Arc<Gate>>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let peer = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let (address, forwarded_https) = gate.client(peer, &request);
    let https = forwarded_https || request.extensions().get::<crate::https::NativeTls>().is_some();
    let allowed = &gate.auth.options().allowed_networks;
    if !allowed.is_empty()
        && !address.is_loopback()
        && !allowed.iter().any(|net| net.contains(&address))
    {
        tracing::warn!(http.client = %address, http.path = %path, "refused a client outside the allowed networks");
        return refuse(AppError::refused(
            format!(
                "Your address {address} is not in this dashboard's allowed networks. Ask its admin to add it to --allowed-networks (BURNIN_ALLOWED_NETWORKS)."
            ),
            Vec::new(),
        ));
    }
    if matches!(path.as_str(), "/healthz" | "/readyz") {
        return next.run(request).await;
    }
    let host =
        request.headers().get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    if !gate.host_allowed(&host) {
        tracing::warn!(http.host = %host, http.path = %path, "refused a request for another host name");
        return refuse(AppError::refused(
            format!(
                "This dashboard does not answer to the name `{host}` (a guard against DNS rebinding). If that is how you reach it, start it with --public-origins http://{host} (or BURNIN_PUBLIC_ORIGINS)."
            ),
            Vec::new(),
        ));
    }
    // The proxy's identity headers count only from the proxy: from anyone else they go.
    if !gate.auth.trusted(peer)
        && let Some(sso) = &gate.auth.options().sso
    {
        request.headers_mut().remove(sso.user_header.as_str());
        request.headers_mut().remove(sso.groups_header.as_str());
    }
    let resolved = match gate.auth.resolve(request.headers(), peer).await {
        Ok(resolved) => resolved,
        Err(error) => return refuse(error.into()),
    };
    let user_agent = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let caller = Caller {
        principal: resolved.principal.clone(),
        session: resolved.session.clone(),
        address,
        user_agent,
        https,
    };
    let signed_in = caller.principal.is_some();
    request.extensions_mut().insert(caller);
    request.extensions_mut().insert(Rejected(resolved.rejected.clone()));

    let method = request.method().clone();
    // A page the app renders; anything else under a GET is an asset, an API or a socket.
    if method == Method::GET && super::is_page(&path) {
        let needs_setup = gate.auth.user_count().await.unwrap_or(1) == 0;
        let target = request.uri().path_and_query().map(|p| p.as_str().to_owned());
        match (path.as_str(), needs_setup, signed_in) {
            ("/setup", true, _) => {}
            (_, true, _) => return Redirect::to("/setup").into_response(),
            ("/setup" | "/login", false, true) => return Redirect::to("/").into_response(),
            ("/setup", false, false) => return Redirect::to("/login").into_response(),
            ("/login", false, false) => {}
            // Whoever holds a bundle may check it without an account.
            ("/verify", false, false) => {}
            (_, false, false) => {
                let next = target.unwrap_or_else(|| "/".into());
                return Redirect::to(&format!("/login?next={}", encode(&next))).into_response();
            }
            _ => {}
        }
    } else if path.starts_with("/api/") && !path.starts_with("/api/v1/") && path != "/api/v1" {
        let Some(door) = gate.server_fns.get(path.as_str()).copied() else {
            tracing::error!(http.path = %path, "a server function without a declared door was called");
            return refuse(AppError::refused(
                "This server function declares no access rule and is refused to everyone (a bug: report it).",
                Vec::new(),
            ));
        };
        if let Err(error) = check(door, &request) {
            return error.into_response();
        }
    }
    let mut response = crate::audit::CLIENT.scope(address, next.run(request)).await;
    if signed_in && !response.headers().contains_key(header::CACHE_CONTROL) {
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if https {
        response.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

/// Why a presented credential was not accepted, for the 401's message.
#[derive(Clone, Debug)]
pub struct Rejected(pub Option<String>);

/// The door's rule against the caller the gate resolved.
pub fn check(door: Door, request: &Request) -> Result<(), AppError> {
    let Door::Needs(action) = door else { return Ok(()) };
    let caller = request.extensions().get::<Caller>();
    let Some(principal) = caller.and_then(|c| c.principal.as_ref()) else {
        let reason = request.extensions().get::<Rejected>().and_then(|r| r.0.clone());
        let error = match reason {
            Some(reason) => AppError::new(
                burnin_app::ErrorKind::Unauthenticated,
                format!("Not signed in: {reason}."),
            ),
            None => AppError::unauthenticated(),
        };
        return Err(error);
    };
    // The role here; the step-up, which depends on what is asked, in the service.
    if principal.may(action) {
        Ok(())
    } else {
        let denied =
            burnin::access::Denied::Role { action, needed: action.role(), have: principal.role };
        tracing::warn!(user.name = %principal.name, action = ?action, "refused: role too low");
        Err(crate::service::denied(denied))
    }
}

/// A route layer applying its door before the handler (and before its body is read):
/// `route_layer(from_fn_with_state(door, require))`.
pub async fn require(State(door): State<Door>, request: Request, next: Next) -> Response {
    match check(door, &request) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

/// Percent-encodes a path for a query value.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn forwarded_entries_read_with_or_without_a_port() {
        for (entry, address) in [
            ("192.0.2.7", "192.0.2.7"),
            (" 192.0.2.7:51234 ", "192.0.2.7"),
            ("2001:db8::5", "2001:db8::5"),
            ("[2001:db8::5]", "2001:db8::5"),
            ("[2001:db8::5]:443", "2001:db8::5"),
        ] {
            assert_eq!(forwarded_address(entry), Some(ip(address)), "{entry}");
        }
        for entry in ["", "unknown", "_hidden", "192.0.2", "[192.0.2.7]", "2001:db8::5:443x"] {
            assert_eq!(forwarded_address(entry), None, "{entry}");
        }
    }

    #[test]
    fn the_client_is_the_nearest_untrusted_hop_and_an_unreadable_entry_is_its_writer() {
        let proxy = ip("127.0.0.1");
        let trusted = |a: IpAddr| a == ip("127.0.0.1") || a == ip("10.0.0.2");
        // A proxy that writes ports: the client's own earlier entry does not win.
        assert_eq!(
            forwarded_client(proxy, &["203.0.113.5", "198.51.100.9:51234"], trusted),
            ip("198.51.100.9")
        );
        // Through two proxies.
        assert_eq!(
            forwarded_client(proxy, &["198.51.100.9", "10.0.0.2"], trusted),
            ip("198.51.100.9")
        );
        assert_eq!(forwarded_client(proxy, &["[2001:db8::5]:443"], trusted), ip("2001:db8::5"));
        // An entry that is not an address: the address is the hop that wrote it.
        assert_eq!(forwarded_client(proxy, &["203.0.113.5", "unknown"], trusted), proxy);
        assert_eq!(
            forwarded_client(proxy, &["203.0.113.5", "garbage", "10.0.0.2"], trusted),
            ip("10.0.0.2")
        );
        // No header: the peer.
        assert_eq!(forwarded_client(proxy, &[], trusted), proxy);
    }
}
