//! The Settings page: every run-time setting (admins change them; everyone else reads them)
//! and the system card. The ranges are `burnin::settings`'s; the server checks them again.

use burnin::access::Action;
use burnin::settings::{Settings, SettingsView};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::AppError;

#[server(input = Json)]
pub async fn get_settings() -> Result<SettingsView, AppError> {
    crate::backend::reply(
        async { crate::backend::backend()?.settings(crate::backend::principal().await?).await }
            .await,
    )
}

/// Changes the settings `patch` names; answers the settings now in force.
#[server(input = Json)]
pub async fn save_settings(patch: serde_json::Value) -> Result<SettingsView, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?
                .change_settings(crate::backend::principal().await?, patch)
                .await
        }
        .await,
    )
}

type Getter = fn(&Settings) -> f64;
type Setter = fn(&mut Settings, f64);

/// One numeric setting: its name in the API, label, unit and accessors.
struct Field {
    name: &'static str,
    label: &'static str,
    unit: &'static str,
    step: &'static str,
    get: Getter,
    set: Setter,
}

const fn field(
    name: &'static str,
    label: &'static str,
    unit: &'static str,
    get: Getter,
    set: Setter,
) -> Field {
    Field { name, label, unit, step: "1", get, set }
}

fn groups() -> Vec<(&'static str, Vec<Field>)> {
    vec![
        (
            "Burn-in",
            vec![
                field(
                    "jobs_per_host",
                    "Jobs at once per host",
                    "jobs",
                    |s| s.jobs_per_host as f64,
                    |s, v| s.jobs_per_host = v as u32,
                ),
                field(
                    "stagger_ms",
                    "Between two starts on a host",
                    "ms",
                    |s| s.stagger_ms as f64,
                    |s, v| s.stagger_ms = v as u64,
                ),
                field(
                    "stuck_after_secs",
                    "A stage without progress is stuck after",
                    "s",
                    |s| s.stuck_after_secs as f64,
                    |s, v| s.stuck_after_secs = v as u64,
                ),
                field(
                    "stuck_abort_after_secs",
                    "A stuck self-test is aborted after (0: never)",
                    "s",
                    |s| s.stuck_abort_after_secs as f64,
                    |s, v| s.stuck_abort_after_secs = v as u64,
                ),
                field(
                    "critical_sustain_secs",
                    "A drive at its fail temperature is stopped after",
                    "s",
                    |s| s.critical_sustain_secs as f64,
                    |s, v| s.critical_sustain_secs = v as u64,
                ),
                field(
                    "verdict.max_bad_blocks",
                    "Bad blocks tolerated",
                    "blocks",
                    |s| s.verdict.max_bad_blocks as f64,
                    |s, v| s.verdict.max_bad_blocks = v as u64,
                ),
            ],
        ),
        (
            "Reading the hosts",
            vec![
                field(
                    "poll_interval_secs",
                    "Drive list read every",
                    "s",
                    |s| s.poll_interval_secs as f64,
                    |s, v| s.poll_interval_secs = v as u64,
                ),
                field(
                    "temperature_interval_secs",
                    "Temperatures read every",
                    "s",
                    |s| s.temperature_interval_secs as f64,
                    |s, v| s.temperature_interval_secs = v as u64,
                ),
                field(
                    "smart_interval_secs",
                    "SMART of idle drives read every",
                    "s",
                    |s| s.smart_interval_secs as f64,
                    |s, v| s.smart_interval_secs = v as u64,
                ),
            ],
        ),
        (
            "Temperatures (°C: warn, critical, fail)",
            vec![
                Field {
                    step: "0.5",
                    ..field(
                        "verdict.temperatures.hdd.warn_c",
                        "Hard disk: warn",
                        "°C",
                        |s| s.verdict.temperatures.hdd.warn_c,
                        |s, v| s.verdict.temperatures.hdd.warn_c = v,
                    )
                },
                Field {
                    step: "0.5",
                    ..field(
                        "verdict.temperatures.hdd.crit_c",
                        "Hard disk: critical",
                        "°C",
                        |s| s.verdict.temperatures.hdd.crit_c,
                        |s, v| s.verdict.temperatures.hdd.crit_c = v,
                    )
                },
                Field {
                    step: "0.5",
                    ..field(
                        "verdict.temperatures.hdd.fail_c",
                        "Hard disk: fail",
                        "°C",
                        |s| s.verdict.temperatures.hdd.fail_c,
                        |s, v| s.verdict.temperatures.hdd.fail_c = v,
                    )
                },
                Field {
                    step: "0.5",
                    ..field(
                        "verdict.temperatures.ssd.warn_c",
                        "SATA SSD: warn",
                        "°C",
                        |s| s.verdict.temperatures.ssd.warn_c,
                        |s, v| s.verdict.temperatures.ssd.warn_c = v,
                    )
                },
                Field {
                    step: "0.5",
                    ..field(
                        "verdict.temperatures.ssd.crit_c",
                        "SATA SSD: critical",
                        "°C",
                        |s| s.verdict.temperatures.ssd.crit_c,
                        |s, v| s.verdict.temperatures.ssd.crit_c = v,
                    )
                },
                Field {
                    step: "0.5",
                    ..field(
                        "verdict.temperatures.ssd.fail_c",
                        "SATA SSD: fail",
                        "°C",
                        |s| s.verdict.temperatures.ssd.fail_c,
                        |s, v| s.verdict.temperatures.ssd.fail_c = v,
                    )
                },
                Field {
                    step: "0.5",
                    ..field(
                        "verdict.temperatures.nvme.warn_c",
                        "NVMe: warn",
                        "°C",
                        |s| s.verdict.temperatures.nvme.warn_c,
                        |s, v| s.verdict.temperatures.nvme.warn_c = v,
                    )
                },
                Field {
                    step: "0.5",
                    ..field(
                        "verdict.temperatures.nvme.crit_c",
                        "NVMe: critical",
                        "°C",
                        |s| s.verdict.temperatures.nvme.crit_c,
                        |s, v| s.verdict.temperatures.nvme.crit_c = v,
                    )
                },
                Field {
                    step: "0.5",
                    ..field(
                        "verdict.temperatures.nvme.fail_c",
                        "NVMe: fail",
                        "°C",
                        |s| s.verdict.temperatures.nvme.fail_c,
                        |s, v| s.verdict.temperatures.nvme.fail_c = v,
                    )
                },
            ],
        ),
        (
            "Sign-in and safety",
            vec![
                field(
                    "session_idle_hours",
                    "A session ends after idle",
                    "h",
                    |s| s.session_idle_hours as f64,
                    |s, v| s.session_idle_hours = v as u32,
                ),
                field(
                    "session_max_days",
                    "A session ends after at most",
                    "days",
                    |s| s.session_max_days as f64,
                    |s, v| s.session_max_days = v as u32,
                ),
                field(
                    "login_account_failures",
                    "Failed sign-ins before an account is locked",
                    "",
                    |s| s.login_account_failures as f64,
                    |s, v| s.login_account_failures = v as u32,
                ),
                field(
                    "login_address_failures",
                    "Failed sign-ins before an address is locked",
                    "",
                    |s| s.login_address_failures as f64,
                    |s, v| s.login_address_failures = v as u32,
                ),
                field(
                    "destructive_limit",
                    "Destructive starts and cancels per host in 15 min",
                    "",
                    |s| s.destructive_limit as f64,
                    |s, v| s.destructive_limit = v as u32,
                ),
                field(
                    "host_tests_per_minute",
                    "Connection tests per host per minute",
                    "",
                    |s| s.host_tests_per_minute as f64,
                    |s, v| s.host_tests_per_minute = v as u32,
                ),
                field(
                    "live_connections_per_user",
                    "Live tabs and sockets per user",
                    "",
                    |s| s.live_connections_per_user as f64,
                    |s, v| s.live_connections_per_user = v as u32,
                ),
            ],
        ),
        (
            "Alerts",
            vec![
                field(
                    "alerts.host_offline_warn_mins",
                    "A host unreachable warns after",
                    "min",
                    |s| s.alerts.host_offline_warn_mins as f64,
                    |s, v| s.alerts.host_offline_warn_mins = v as u32,
                ),
                field(
                    "alerts.host_offline_crit_mins",
                    "…and is critical after",
                    "min",
                    |s| s.alerts.host_offline_crit_mins as f64,
                    |s, v| s.alerts.host_offline_crit_mins = v as u32,
                ),
                Field {
                    step: "0.5",
                    ..field(
                        "alerts.pool_usage_warn_pct",
                        "Pool usage warns at",
                        "%",
                        |s| s.alerts.pool_usage_warn_pct,
                        |s, v| s.alerts.pool_usage_warn_pct = v,
                    )
                },
                Field {
                    step: "0.5",
                    ..field(
                        "alerts.pool_usage_crit_pct",
                        "…and is critical at",
                        "%",
                        |s| s.alerts.pool_usage_crit_pct,
                        |s, v| s.alerts.pool_usage_crit_pct = v,
                    )
                },
                field(
                    "alerts.temperature_sustain_secs",
                    "A hot drive alerts after",
                    "s",
                    |s| s.alerts.temperature_sustain_secs as f64,
                    |s, v| s.alerts.temperature_sustain_secs = v as u64,
                ),
                field(
                    "alerts.connection_damping_secs",
                    "API or SSH failing alerts after",
                    "s",
                    |s| s.alerts.connection_damping_secs as f64,
                    |s, v| s.alerts.connection_damping_secs = v as u64,
                ),
                field(
                    "alerts.pool_damping_secs",
                    "A degraded pool alerts after",
                    "s",
                    |s| s.alerts.pool_damping_secs as f64,
                    |s, v| s.alerts.pool_damping_secs = v as u64,
                ),
                field(
                    "alerts.clear_checks",
                    "Clear checks in a row that resolve an alert",
                    "",
                    |s| s.alerts.clear_checks as f64,
                    |s, v| s.alerts.clear_checks = v as u32,
                ),
                field(
                    "alerts.reminder_mins",
                    "Remind of an unacknowledged alert every (0: never)",
                    "min",
                    |s| s.alerts.reminder_mins as f64,
                    |s, v| s.alerts.reminder_mins = v as u32,
                ),
            ],
        ),
        (
            "Record",
            vec![field(
                "stage_output_retention_days",
                "Keep finished jobs' stage output for (0: for ever)",
                "days",
                |s| s.stage_output_retention_days as f64,
                |s, v| s.stage_output_retention_days = v as u32,
            )],
        ),
    ]
}

/// One numeric setting's labelled input, bound to the draft.
fn number_input(
    f: Field,
    draft: RwSignal<Option<Settings>>,
    saved: RwSignal<bool>,
    admin: bool,
) -> impl IntoView {
    let Field { name, label, unit, step, get, set } = f;
    view! {
        <label class="field setting">
            <span>{label}</span>
            <span class="input-unit">
                <input type="number" name=name min="0" step=step disabled=!admin
                    prop:value=move || draft.with(|d| d.as_ref().map(|s| get(s).to_string()).unwrap_or_default())
                    on:input=move |ev| {
                        saved.set(false);
                        if let Ok(value) = event_target_value(&ev).trim().parse::<f64>() {
                            draft.update(|d| if let Some(s) = d.as_mut() { set(s, value.max(0.0)) });
                        }
                    }/>
                <span class="unit">{unit}</span>
            </span>
        </label>
    }
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n => format!("{:.0} KiB", n as f64 / 1024.0),
    }
}

#[component]
pub fn SettingsPage() -> impl IntoView {
    let loaded = Resource::new(|| (), |_| get_settings());
    let draft = RwSignal::new(None::<Settings>);
    let system = RwSignal::new(None::<burnin::settings::SystemInfo>);
    let error = RwSignal::new(None::<String>);
    let saved = RwSignal::new(false);
    let admin = crate::pages::access::may(Action::ChangeSettings);
    Effect::new(move |_| {
        if let Some(Ok(view)) = loaded.get() {
            draft.set(Some(view.settings));
            system.set(Some(view.system));
        }
    });
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(settings) = draft.get_untracked() else { return };
        let Ok(patch) = serde_json::to_value(&settings) else { return };
        leptos::task::spawn_local(async move {
            match save_settings(patch).await {
                Ok(view) => {
                    error.set(None);
                    saved.set(true);
                    draft.set(Some(view.settings));
                    system.set(Some(view.system));
                }
                Err(e) => {
                    saved.set(false);
                    error.set(Some(e.message));
                }
            }
        });
    };
    view! {
        <section class="page-head"><h1>"Settings"</h1></section>
        {(!admin).then(|| view! { <p class="notice">"Only an admin changes settings; you see them as they are."</p> })}
        {move || error.get().map(|e| view! { <p class="notice error" role="alert">{e}</p> })}
        {move || saved.get().then(|| view! { <p class="notice ok" role="status">"Saved: in force now, no restart needed."</p> })}
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || loaded.get().map(|answer| match answer {
                Err(e) => view! { <p class="notice error">{e.message}</p> }.into_any(),
                Ok(_) => view! {
                    <form class="settings-form" on:submit=save>
                        {groups().into_iter().map(|(title, fields)| view! {
                            <fieldset class="panel settings-group">
                                <legend>{title}</legend>
                                {fields.into_iter().map(|f| number_input(f, draft, saved, admin)).collect_view()}
                            </fieldset>
                        }).collect_view()}
                        <fieldset class="panel settings-group">
                            <legend>"Terminal"</legend>
                            <label class="field setting checkbox">
                                <span>"Admins may open a shell on a NAS from the page"</span>
                                <input type="checkbox" name="terminal_enabled" disabled=!admin
                                    prop:checked=move || draft.with(|d| d.as_ref().is_some_and(|s| s.terminal_enabled))
                                    on:change=move |ev| {
                                        saved.set(false);
                                        let on = event_target_checked(&ev);
                                        draft.update(|d| if let Some(s) = d.as_mut() { s.terminal_enabled = on });
                                    }/>
                            </label>
                            {number_input(
                                field("terminal_idle_mins", "A terminal closes when idle for", "min",
                                    |s| s.terminal_idle_mins as f64, |s, v| s.terminal_idle_mins = v as u32),
                                draft, saved, admin,
                            )}
                        </fieldset>
                        <fieldset class="panel settings-group">
                            <legend>"Links"</legend>
                            <label class="field setting wide">
                                <span>"The dashboard's address as people reach it, for links in notifications (empty: where it listens)"</span>
                                <input type="url" name="public_url" disabled=!admin placeholder="https://burnin.example.lan"
                                    prop:value=move || draft.with(|d| d.as_ref().map(|s| s.public_url.clone()).unwrap_or_default())
                                    on:input=move |ev| {
                                        saved.set(false);
                                        let value = event_target_value(&ev);
                                        draft.update(|d| if let Some(s) = d.as_mut() { s.public_url = value });
                                    }/>
                            </label>
                        </fieldset>
                        <fieldset class="panel settings-group">
                            <legend>"Updates"</legend>
                            <label class="field setting wide">
                                <span>"Check for a newer release at (empty: never, for air-gapped networks)"</span>
                                <input type="url" name="update_check_url" disabled=!admin placeholder="https://api.github.com/repos/OWNER/REPO/releases/latest"
                                    prop:value=move || draft.with(|d| d.as_ref().map(|s| s.update_check_url.clone()).unwrap_or_default())
                                    on:input=move |ev| {
                                        saved.set(false);
                                        let value = event_target_value(&ev);
                                        draft.update(|d| if let Some(s) = d.as_mut() { s.update_check_url = value });
                                    }/>
                            </label>
                        </fieldset>
                        {admin.then(|| view! {
                            <div class="form-actions"><button type="submit" class="button primary">"Save settings"</button></div>
                        })}
                    </form>
                }.into_any(),
            })}
        </Suspense>
        {view! { <crate::pages::notifications::Notifications/> }.into_any()}
        {view! { <crate::pages::record::SigningKeyCard/> }.into_any()}
        {move || system.get().map(|info| view! {
            <section class="panel system-card" data-testid="system-card">
                <h2>"System"</h2>
                <dl class="facts">
                    <dt>"Version"</dt><dd>{info.version.clone()}</dd>
                    <dt>"Listening on"</dt><dd><code>{info.listen.clone()}</code></dd>
                    <dt>"Data folder"</dt><dd><code>{if info.data_dir.is_empty() { "(in memory)".to_owned() } else { info.data_dir.clone() }}</code></dd>
                    <dt>"Database"</dt><dd>{info.database_bytes.map(bytes).unwrap_or_else(|| "in memory".into())}</dd>
                    <dt>"Update"</dt><dd>{match &info.update {
                        None => "not checked (no address set)".to_owned(),
                        Some(u) => match (&u.error, &u.latest, u.newer) {
                            (Some(e), _, _) => format!("the check failed: {e}"),
                            (None, Some(latest), true) => format!("{latest} is out{}", u.link.as_ref().map(|l| format!(": {l}")).unwrap_or_default()),
                            (None, Some(latest), false) => format!("up to date (latest is {latest})"),
                            (None, None, _) => "no version in the answer".to_owned(),
                        },
                    }}</dd>
                </dl>
                <h3>"Changed only by a restart (flags or environment)"</h3>
                <ul class="restart-list">
                    {info.restart_needed_for.iter().map(|s| view! { <li>{s.clone()}</li> }).collect_view()}
                </ul>
            </section>
        })}
    }
}
