//! Background upkeep: pruning old stage output (the retention setting, sealing each job's
//! evidence first: `Services::prune_outputs`) and the optional
//! update check. Both read the run-time settings each round, so a change applies at once.

use std::time::Duration;

use crate::service::Services;
use burnin::settings::UpdateStatus;

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
                checked_url = url.clone();
                next_check = tokio::time::Instant::now() + Duration::from_secs(86_400);
            }
            // With no address there is nothing to wait for: a deadline left in the past would
            // wake this loop at once, for ever (a whole core, idle).
            let update_due = async {
                if url.is_empty() {
                    std::future::pending().await
                } else {
                    tokio::time::sleep_until(next_check).await
                }
            };
            tokio::select! {
                _ = prune.tick() => {
                    let days = services.settings.read(|s| s.stage_output_retention_days);
                    match services.prune_outputs(days, "system").await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(retention.removed = n, retention.days = days, "pruned old stage output"),
                        Err(error) => tracing::error!(error = %error.message, "cannot prune old stage output"),
                    }
                }
                changed = settings.changed() => if changed.is_err() { return },
                () = update_due => {}
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
    let answer = crate::outbound::request(
        hyper::Method::GET,
        url,
        &[("accept", "application/json".to_owned())],
        None,
        Duration::from_secs(15),
        MAX_ANSWER,
    )
    .await
    .map_err(|e| e.to_string())?;
    if !(200..300).contains(&answer.status) {
        return Err(format!("{url} answered HTTP {}", answer.status));
    }
    Ok(answer.body)
}
