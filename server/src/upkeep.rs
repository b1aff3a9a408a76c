//! Background upkeep: pruning old stage output (the retention setting) and the optional
//! update check. Both read the run-time settings each round, so a change applies at once.

use std::time::Duration;

use burnin::settings::UpdateStatus;
use sqlx::SqlitePool;

use crate::{db::DbError, service::Services};

/// Deletes the bulky output (badblocks' messages, smartctl answers) of stages whose job
/// finished more than `days` days ago. Each stage's bad block list (`stdout`), the verdict,
/// the SMART snapshots and the job stay. Answers how many outputs went.
pub async fn prune_outputs(pool: &SqlitePool, days: u32, actor: &str) -> Result<u64, DbError> {
    if days == 0 {
        return Ok(0);
    }
    let mut tx = crate::db::begin_write(pool).await?;
    let removed = sqlx::query(
        "DELETE FROM stage_outputs WHERE stream != 'stdout' AND stage_id IN (
            SELECT s.id FROM job_stages s JOIN jobs j ON j.id = s.job_id
             WHERE j.finished_at IS NOT NULL
               AND j.finished_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || $1 || ' days'))",
    )
    .bind(i64::from(days))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if removed > 0 {
        crate::audit::record(
            &mut *tx,
            actor,
            "retention.pruned",
            "",
            &serde_json::json!({"stage_outputs": removed, "older_than_days": days}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(removed)
}

/// Runs the upkeep rounds until aborted: pruning hourly, the update check daily (and soon
/// after its address changes).
pub fn start(services: Services) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut settings = services.settings.subscribe();
        let mut prune = tokio::time::interval(Duration::from_secs(3600));
        let mut checked_url = String::new();
        let mut next_check = tokio::time::Instant::now();
        loop {
            let url = services.settings.read(|s| s.update_check_url.trim().to_owned());
            if url.is_empty() {
                if let Ok(mut update) = services.system.update.lock() {
                    *update = None;
                }
            } else if url != checked_url || tokio::time::Instant::now() >= next_check {
                let status = check(&url).await;
                if let Some(error) = &status.error {
                    tracing::warn!(update.url = %url, error = %error, "the update check failed");
                } else if status.newer {
                    tracing::info!(update.latest = ?status.latest, "a newer release is out");
                }
                if let Ok(mut update) = services.system.update.lock() {
                    *update = Some(status);
                }
                checked_url = url;
                next_check = tokio::time::Instant::now() + Duration::from_secs(86_400);
            }
            tokio::select! {
                _ = prune.tick() => {
                    let days = services.settings.read(|s| s.stage_output_retention_days);
                    match prune_outputs(services.db.pool(), days, "system").await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(retention.removed = n, retention.days = days, "pruned old stage output"),
                        Err(error) => tracing::error!(error = %error, "cannot prune old stage output"),
                    }
                }
                changed = settings.changed() => if changed.is_err() { return },
                () = tokio::time::sleep_until(next_check) => {}
            }
        }
    })
}

/// Asks `url` for the latest release: JSON with `version` (or a GitHub release's `tag_name`)
/// and optionally `url` / `html_url`. Never follows a redirect; answers over 1 MiB are refused.
pub async fn check(url: &str) -> UpdateStatus {
    let now = crate::auth::now_unix();
    match fetch(url).await {
        Ok(body) => match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(answer) => {
                let text = |keys: &[&str]| {
                    keys.iter().find_map(|k| answer[*k].as_str().map(|s| s.trim().to_owned()))
                };
                let latest = text(&["version", "tag_name", "name"]).filter(|v| !v.is_empty());
                let newer = latest
                    .as_deref()
                    .is_some_and(|l| burnin::settings::is_newer(l, env!("CARGO_PKG_VERSION")));
                UpdateStatus {
                    checked_at: now,
                    link: text(&["url", "html_url"]).filter(|l| l.starts_with("http")),
                    newer,
                    error: latest
                        .is_none()
                        .then(|| "the answer has no `version` or `tag_name`".to_owned()),
                    latest,
                }
            }
            Err(error) => UpdateStatus {
                checked_at: now,
                error: Some(format!("the answer is not JSON: {error}")),
                ..UpdateStatus::default()
            },
        },
        Err(error) => {
            UpdateStatus { checked_at: now, error: Some(error), ..UpdateStatus::default() }
        }
    }
}

const MAX_ANSWER: usize = 1 << 20;

async fn fetch(url: &str) -> Result<Vec<u8>, String> {
    use http_body_util::{BodyExt as _, Empty, Limited};
    let timeout = Duration::from_secs(15);
    let parsed = url::Url::parse(url).map_err(|e| format!("{url:?} is not an address: {e}"))?;
    let host = parsed.host_str().ok_or("the address has no host")?.to_owned();
    let secure = match parsed.scheme() {
        "https" => true,
        "http" => false,
        other => return Err(format!("{other}:// is not http or https")),
    };
    let port = parsed.port_or_known_default().unwrap_or(if secure { 443 } else { 80 });
    let tcp = tokio::time::timeout(timeout, tokio::net::TcpStream::connect((host.as_str(), port)))
        .await
        .map_err(|_| format!("{host}:{port} did not answer within 15 s"))?
        .map_err(|e| format!("cannot reach {host}:{port}: {e}"))?;
    let path = match parsed.query() {
        Some(query) => format!("{}?{query}", parsed.path()),
        None => parsed.path().to_owned(),
    };
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, host.as_str())
        .header(hyper::header::USER_AGENT, concat!("burnin-dashboard/", env!("CARGO_PKG_VERSION")))
        .header(hyper::header::ACCEPT, "application/json")
        .body(Empty::<hyper::body::Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = if secure {
        let mut roots = tokio_rustls::rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        if roots.is_empty() {
            return Err("this machine has no CA certificates to check the answer's certificate with (install ca-certificates)".into());
        }
        let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(
            std::sync::Arc::new(tokio_rustls::rustls::crypto::ring::default_provider()),
        )
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|e| format!("{host} is not a server name: {e}"))?;
        let tls = tokio::time::timeout(
            timeout,
            tokio_rustls::TlsConnector::from(std::sync::Arc::new(config)).connect(name, tcp),
        )
        .await
        .map_err(|_| "the TLS handshake timed out".to_owned())?
        .map_err(|e| format!("TLS with {host}: {e}"))?;
        send(hyper_util::rt::TokioIo::new(tls), request, timeout).await?
    } else {
        send(hyper_util::rt::TokioIo::new(tcp), request, timeout).await?
    };
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{url} answered HTTP {}", status.as_u16()));
    }
    let body =
        tokio::time::timeout(timeout, Limited::new(response.into_body(), MAX_ANSWER).collect())
            .await
            .map_err(|_| "the answer did not arrive within 15 s".to_owned())?
            .map_err(|e| format!("reading the answer: {e} (over 1 MiB?)"))?;
    Ok(body.to_bytes().to_vec())
}

async fn send<I>(
    io: I,
    request: hyper::Request<http_body_util::Empty<hyper::body::Bytes>>,
    timeout: Duration,
) -> Result<hyper::Response<hyper::body::Incoming>, String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    let driver = tokio::spawn(connection);
    let answer = tokio::time::timeout(timeout, sender.send_request(request))
        .await
        .map_err(|_| "no answer within 15 s".to_owned())?
        .map_err(|e| format!("the request failed: {e}"));
    // The body is read after this returns; the connection task keeps running until then.
    let _ = &driver;
    answer
}
