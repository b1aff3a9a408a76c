//! The record's server functions (history, job record, certificate, audit log, evidence) and
//! the Verify page. The pages that show them are `history` and `job`.

use burnin::{
    evidence::{KeyView, Verification},
    history::{AuditPage, AuditParams, HistoryPage, JobParams},
    record::{CertificateView, JobRecord, Removed},
};
use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, Json};

use crate::AppError;

#[server(input = Json)]
pub async fn fetch_history(params: JobParams) -> Result<HistoryPage, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?
                .history_page(crate::backend::principal().await?, params)
                .await
        }
        .await,
    )
}

#[server(input = Json)]
pub async fn fetch_job_record(id: i64) -> Result<JobRecord, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?.job_record(crate::backend::principal().await?, id).await
        }
        .await,
    )
}

#[server(input = Json)]
pub async fn fetch_certificate(id: i64) -> Result<CertificateView, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?
                .certificate_view(crate::backend::principal().await?, id)
                .await
        }
        .await,
    )
}

/// A read, so a GET: nothing that reaches the audit log is a state-changing request.
#[server(input = GetUrl)]
pub async fn fetch_audit(params: AuditParams) -> Result<AuditPage, AppError> {
    crate::backend::reply(
        async {
            let query = params.parse().map_err(|e| AppError::bad_request(e.to_string()))?;
            crate::backend::backend()?.audit_log(crate::backend::principal().await?, query).await
        }
        .await,
    )
}

/// Checks a bundle's JSON text; the body may be large (the server allows it on this path).
#[server(input = Json)]
pub async fn verify_evidence(bundle: String) -> Result<Verification, AppError> {
    crate::backend::reply(async { crate::backend::backend()?.verify_evidence(bundle).await }.await)
}

#[server(input = Json)]
pub async fn signing_key() -> Result<KeyView, AppError> {
    crate::backend::reply(async { crate::backend::backend()?.signing_key().await }.await)
}

#[server(input = Json)]
pub async fn delete_job(id: i64, confirm: String) -> Result<Removed, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?
                .delete_job(crate::backend::principal().await?, id, confirm)
                .await
        }
        .await,
    )
}

/// The signing key's public half, for the Settings page: what a buyer checks bundles with.
#[component]
pub fn SigningKeyCard() -> impl IntoView {
    let key = Resource::new(|| (), |_| signing_key());
    view! {
        <section class="panel" data-testid="signing-key">
            <h2>"Evidence signing key"</h2>
            <p class="hint">"Every finished job's evidence bundle is signed with this Ed25519 key, made on the first start and kept beside the database. Give the public key to whoever checks a certificate: "
                <code>"burnin-server verify BUNDLE --key KEY"</code>" checks a bundle offline, and "<a href="/verify">"the Verify page"</a>" checks one here."</p>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || key.get().map(|answer| match answer {
                    Ok(k) => view! {
                        <dl class="facts">
                            <dt>"Algorithm"</dt><dd>{k.algorithm}</dd>
                            <dt>"Public key"</dt><dd><code class="wrap" data-testid="public-key">{k.public_key}</code></dd>
                            <dt>"Fingerprint"</dt><dd><code>{k.fingerprint}</code></dd>
                            <dt>"Also at"</dt><dd><a href="/api/v1/signing-key">"/api/v1/signing-key"</a></dd>
                        </dl>
                        {(!k.retired.is_empty()).then(|| view! {
                            <h3>"Earlier keys"</h3>
                            <p class="hint">"Keys this dashboard signed with before ("<code>"burnin-server rotate-signing-key"</code>", or a key file made anew). Bundles they signed still verify here as this dashboard's."</p>
                            <table class="keys" data-testid="retired-keys">
                                <thead><tr><th>"Fingerprint"</th><th>"Public key"</th><th>"Retired"</th></tr></thead>
                                <tbody>
                                    {k.retired.into_iter().map(|r| view! {
                                        <tr><td><code>{r.fingerprint}</code></td><td><code class="wrap">{r.public_key}</code></td><td>{r.retired_at}</td></tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        })}
                    }.into_any(),
                    Err(e) => view! { <p class="notice error" role="alert">{e.message}</p> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

/// Checks an evidence bundle: chosen as a file or pasted, sent to the server, which answers
/// each part that does not match.
#[component]
pub fn VerifyPage() -> impl IntoView {
    let text = RwSignal::new(String::new());
    let result = RwSignal::new(None::<Result<Verification, String>>);
    let busy = RwSignal::new(false);
    let check = move |bundle: String| {
        if bundle.trim().is_empty() {
            result.set(Some(Err("Choose a bundle file or paste its JSON first.".into())));
            return;
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            let answer = verify_evidence(bundle).await.map_err(|e| e.message);
            result.set(Some(answer));
            busy.set(false);
        });
    };
    #[cfg(feature = "hydrate")]
    let on_file = move |ev: leptos::ev::Event| {
        use wasm_bindgen::JsCast;
        let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        let Some(file) = input.files().and_then(|list| list.get(0)) else { return };
        leptos::task::spawn_local(async move {
            match wasm_bindgen_futures::JsFuture::from(file.text()).await {
                Ok(value) => {
                    let bundle = value.as_string().unwrap_or_default();
                    text.set(bundle.clone());
                    check(bundle);
                }
                Err(_) => result.set(Some(Err("The browser could not read that file.".into()))),
            }
        });
    };
    #[cfg(not(feature = "hydrate"))]
    let on_file = move |_ev: leptos::ev::Event| {};
    view! {
        <section class="page-head">
            <h1>"Verify an evidence bundle"</h1>
        </section>
        <section class="panel">
            <p class="hint">"A bundle is the JSON a job's page offers as “Evidence bundle”. Checking it recomputes every part's SHA-256, compares them with the signed manifest, checks the Ed25519 signature, and says whether it was signed by this dashboard's key. Offline, without this server: "<code>"burnin-server verify BUNDLE --key KEY"</code>"."</p>
            <label class="field">
                <span>"Bundle file"</span>
                <input type="file" accept=".json,application/json" data-testid="bundle-file" on:change=on_file/>
            </label>
            <label class="field">
                <span>"…or paste its JSON"</span>
                <textarea rows="6" data-testid="bundle-text" prop:value=move || text.get()
                    on:input=move |ev| text.set(event_target_value(&ev))></textarea>
            </label>
            <button type="button" class="button primary" data-testid="verify" disabled=move || busy.get()
                on:click=move |_| check(text.get_untracked())>"Verify"</button>
        </section>
        {move || result.get().map(|r| match r {
            Err(message) => view! { <p class="notice error" role="alert" data-testid="verify-error">{message}</p> }.into_any(),
            Ok(v) => view! { <VerificationView v/> }.into_any(),
        })}
    }
}

#[component]
fn VerificationView(v: Verification) -> impl IntoView {
    let verdict =
        if v.valid && v.key_matches_expected != Some(false) { "verified" } else { "failed" };
    let headline = match (v.valid, v.key_matches_expected) {
        (true, Some(false)) => {
            "The bundle is intact, but it was signed by another key than this dashboard's."
                .to_owned()
        }
        (true, _) if v.key_retired_at.is_some() => format!(
            "Verified: signed by this dashboard's earlier key (retired {}), and no part has changed since it was sealed.",
            v.key_retired_at.as_deref().unwrap_or_default()
        ),
        (true, _) if !v.complete => format!(
            "Verified: signed by this dashboard and unchanged. {} part(s) were left out of this copy (their digests are still signed).",
            v.missing.len()
        ),
        (true, _) => {
            "Verified: signed by this dashboard's key, and no part has changed since it was sealed."
                .to_owned()
        }
        (false, _) => format!("Verification failed: {} problem(s).", v.problems.len()),
    };
    view! {
        <section class=format!("panel verification {verdict}") data-testid="verification" data-outcome=verdict>
            <h2>{headline}</h2>
            <dl class="facts">
                <dt>"Job"</dt><dd><a href=format!("/jobs/{}", v.job_id)>{format!("#{}", v.job_id)}</a></dd>
                <dt>"Drive"</dt><dd>{v.drive_serial.clone()}</dd>
                <dt>"Outcome"</dt><dd>{v.outcome.clone()}</dd>
                <dt>"Bundle hash"</dt><dd><code class="wrap" data-testid="verified-hash">{v.hash.clone()}</code></dd>
                <dt>"Signed by"</dt><dd><code class="wrap">{v.public_key.clone()}</code></dd>
                <dt>"Parts that match"</dt><dd>{v.checked.len()}</dd>
            </dl>
            {(!v.problems.is_empty()).then(|| view! {
                <h3>"What does not match"</h3>
                <ul class="problems" data-testid="problems">
                    {v.problems.iter().map(|p| view! { <li><code>{p.location.clone()}</code>": "{p.message.clone()}</li> }).collect_view()}
                </ul>
            })}
            {(!v.missing.is_empty()).then(|| view! {
                <h3>"Left out of this copy"</h3>
                <ul>{v.missing.iter().map(|m| view! { <li><code>{m.clone()}</code></li> }).collect_view()}</ul>
            })}
        </section>
    }
}
