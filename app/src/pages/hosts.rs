//! The Hosts page: add, edit, test, trust, disable and remove TrueNAS hosts.

use burnin::host::{HostInput, HostTest, HostView, TlsMode};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::{
    AppError,
    components::time::{age_of, use_clock},
    live::{self, LiveStore},
    pages::dashboard::dashboard_snapshot,
};

/// Adds a host (`id` = None) or changes one. Secrets left empty keep their stored value.
/// A one-time ticket to open the terminal on a host (admins, password entered within the
/// step-up window); the page opens `/terminal?ticket=…` with it.
#[server(input = Json)]
pub async fn open_terminal_ticket(
    host_id: i64,
) -> Result<burnin::access::TerminalTicket, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?
                .terminal_ticket(crate::backend::caller().await?, host_id)
                .await
        }
        .await,
    )
}

#[server(input = Json)]
pub async fn save_host(id: Option<i64>, input: HostInput) -> Result<HostView, AppError> {
    crate::backend::reply(
        async {
            let backend = crate::backend::backend()?;
            let caller = crate::backend::principal().await?;
            match id {
                Some(id) => backend.update_host(caller, id, input).await,
                None => backend.create_host(caller, input).await,
            }
        }
        .await,
    )
}

/// Takes a host out of service; its drives and burn-ins stay on record.
#[server(input = Json)]
pub async fn delete_host(id: i64) -> Result<HostView, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?.delete_host(crate::backend::principal().await?, id).await
        }
        .await,
    )
}

#[server(input = Json)]
pub async fn archived_hosts() -> Result<Vec<HostView>, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?.archived_hosts(crate::backend::principal().await?).await
        }
        .await,
    )
}

/// Deletes an archived host's record for good; `confirm` repeats its name.
#[server(input = Json)]
pub async fn delete_host_history(id: i64, confirm: String) -> Result<(), AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?
                .delete_host_history(crate::backend::principal().await?, id, confirm)
                .await
        }
        .await,
    )
}

#[server(input = Json)]
pub async fn set_host_enabled(id: i64, enabled: bool) -> Result<HostView, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?
                .set_host_enabled(crate::backend::principal().await?, id, enabled)
                .await
        }
        .await,
    )
}

#[server(input = Json)]
pub async fn test_host(id: i64) -> Result<HostTest, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?.test_host(crate::backend::principal().await?, id).await
        }
        .await,
    )
}

#[server(input = Json)]
/// Pins the certificate a connection test saw: `observation` is the test's reference to it.
pub async fn trust_certificate(id: i64, observation: String) -> Result<HostView, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?
                .trust_certificate(crate::backend::principal().await?, id, observation)
                .await
        }
        .await,
    )
}

/// Pins the SSH host key the operator compared (trust on first use, where the NAS's API does
/// not publish it).
#[server(input = Json)]
pub async fn trust_ssh_host_key(id: i64, observation: String) -> Result<HostView, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?
                .trust_ssh_host_key(crate::backend::principal().await?, id, observation)
                .await
        }
        .await,
    )
}

#[component]
pub fn HostsPage() -> impl IntoView {
    let snapshot = Resource::new(|| (), |_| dashboard_snapshot());
    view! {
        <section class="page-head"><h1>"Hosts"</h1></section>
        <Suspense fallback=|| view! { <p class="loading">"Loading hosts…"</p> }>
            {move || Suspend::new(async move {
                match snapshot.await {
                    Ok(snapshot) => {
                        let store = LiveStore::new(snapshot);
                        Effect::new(move |previous: Option<()>| {
                            if previous.is_none() {
                                live::connect(store);
                            }
                        });
                        view! { <Hosts store/> }.into_any()
                    }
                    Err(error) => view! { <p class="notice error" role="alert">{error.message}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The form's state: which host is edited (`Some(None)` = a new one).
type Editing = RwSignal<Option<Option<HostView>>>;

#[component]
fn Hosts(store: LiveStore) -> impl IntoView {
    let admin = crate::pages::access::may(burnin::access::Action::ManageHosts);
    let editing: Editing = RwSignal::new(None);
    let notice = RwSignal::new(None::<Result<String, String>>);
    let tests = RwSignal::new(std::collections::HashMap::<i64, HostTest>::new());
    let now = use_clock();
    view! {
        {admin.then(|| view! {
            <div class="toolbar hosts-toolbar">
                <button type="button" class="button primary" on:click=move |_| editing.set(Some(None))>"Add host"</button>
            </div>
        })}
        {move || notice.get().map(|n| match n {
            Ok(text) => view! { <p class="notice ok" role="status">{text}</p> }.into_any(),
            Err(text) => view! { <p class="notice error" role="alert">{text}</p> }.into_any(),
        })}
        {move || editing.get().map(|host| view! { <HostForm host editing notice/> })}
        <Show when=move || store.hosts.with(Vec::is_empty)>
            <section class="panel empty">
                <h2>"No hosts yet"</h2>
                <p>"Add a TrueNAS host: its address, an API key (create one under Credentials → API Keys in TrueNAS), and SSH access for the tests."</p>
            </section>
        </Show>
        <ul class="hosts">
            <For each=move || store.hosts.get() key=|host| (host.id, host.status, host.enabled, host.status_detail.clone(), host.last_seen_at.clone(), host.drive_count, host.tls_fingerprint.clone(), host.name.clone(), host.terminal) let:host>
                <HostCard host editing notice tests now/>
            </For>
        </ul>
        <ArchivedHosts notice/>
    }
    .into_any()
}

/// Hosts taken out of service: their records can be exported, and deleted on purpose.
#[component]
fn ArchivedHosts(notice: RwSignal<Option<Result<String, String>>>) -> impl IntoView {
    let archived = Resource::new(move || notice.get().is_some(), |_| archived_hosts());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let hosts = archived.await.unwrap_or_default();
                (!hosts.is_empty()).then(|| view! {
                    <section class="panel archived-hosts">
                        <h2>"Archived hosts"</h2>
                        <p class="hint">"Removed from service; their drives and burn-ins stay on record."</p>
                        <ul>
                            {hosts.into_iter().map(|host| {
                                let id = host.id;
                                let name = host.name.clone();
                                let delete = move |_| {
                                    let typed = {
                                        #[cfg(feature = "hydrate")]
                                        {
                                            web_sys::window()
                                                .and_then(|w| w.prompt_with_message(&format!("This deletes every drive, burn-in, report and SMART snapshot of {name} for good. Type the host's name to confirm:")).ok().flatten())
                                        }
                                        #[cfg(not(feature = "hydrate"))]
                                        {
                                            None::<String>
                                        }
                                    };
                                    let Some(typed) = typed else { return };
                                    let name = name.clone();
                                    leptos::task::spawn_local(async move {
                                        match delete_host_history(id, typed).await {
                                            Ok(()) => notice.set(Some(Ok(format!("Deleted the history of {name}.")))),
                                            Err(error) => notice.set(Some(Err(error.message))),
                                        }
                                    });
                                };
                                view! {
                                    <li class="archived-host" data-host=host.name.clone()>
                                        <span class="name">{host.name.clone()}</span>
                                        <span class="when">{host.archived_at.clone().unwrap_or_default()}</span>
                                        <a class="button" href=format!("/api/v1/hosts/{id}/record") download=format!("host-{id}-record.json")>"Export record"</a>
                                        {crate::pages::access::may(burnin::access::Action::DeleteHistory).then(|| view! {
                                            <button type="button" class="button danger" on:click=delete>"Delete history"</button>
                                        })}
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    </section>
                })
            })}
        </Suspense>
    }
}

#[component]
fn HostCard(
    host: HostView,
    editing: Editing,
    notice: RwSignal<Option<Result<String, String>>>,
    tests: RwSignal<std::collections::HashMap<i64, HostTest>>,
    now: ReadSignal<f64>,
) -> impl IntoView {
    let id = host.id;
    let busy = RwSignal::new(false);
    let edit_host = host.clone();
    let enabled = host.enabled;
    let admin = crate::pages::access::may(burnin::access::Action::ManageHosts);
    let name = host.name.clone();
    let last_seen = host.last_seen_at.clone();
    let run_test = move |_| {
        busy.set(true);
        leptos::task::spawn_local(async move {
            match test_host(id).await {
                Ok(report) => tests.update(|t| {
                    t.insert(id, report);
                }),
                Err(error) => notice.set(Some(Err(error.message))),
            }
            busy.set(false);
        });
    };
    let toggle = {
        let enabled = host.enabled;
        move |_| {
            leptos::task::spawn_local(async move {
                if let Err(error) = set_host_enabled(id, !enabled).await {
                    notice.set(Some(Err(error.message)));
                }
            });
        }
    };
    let remove = {
        let name = name.clone();
        move |_| {
            let confirmed = {
                #[cfg(feature = "hydrate")]
                {
                    web_sys::window()
                        .and_then(|w| w.confirm_with_message(&format!("Remove host {name}? It is no longer watched; its drives and burn-in history stay on record under Archived hosts.")).ok())
                        .unwrap_or(false)
                }
                #[cfg(not(feature = "hydrate"))]
                {
                    false
                }
            };
            if !confirmed {
                return;
            }
            let name = name.clone();
            leptos::task::spawn_local(async move {
                match delete_host(id).await {
                    Ok(_) => notice.set(Some(Ok(format!(
                        "Removed {name}; its record is under Archived hosts."
                    )))),
                    Err(error) => notice.set(Some(Err(error.message))),
                }
            });
        }
    };
    let status = host.status;
    let terminal = RwSignal::new(false);
    let terminal_name = host.name.clone();
    let may_terminal =
        crate::pages::access::may(burnin::access::Action::OpenTerminal) && enabled && host.terminal;
    view! {
        <li class="host-card" data-host=host.name.clone()>
            <div class="host-head">
                <h2>{host.name.clone()}</h2>
                <span class=format!("badge host-{}", status.as_str())>{status.as_str()}</span>
                {host.simulated.then(|| view! { <span class="badge simulated" title="Part of the built-in simulated fleet">"simulated"</span> })}
            </div>
            {host.status_detail.clone().map(|detail| view! { <p class="host-detail">{detail}</p> })}
            <dl class="facts">
                <dt>"API"</dt><dd class="mono">{host.api_url.clone()}</dd>
                <dt>"TrueNAS"</dt><dd>{host.truenas_version.clone().unwrap_or_else(|| "–".to_owned())}</dd>
                <dt>"Drives"</dt><dd>{host.drive_count}</dd>
                <dt>"Alerts"</dt><dd data-testid="host-alerts">{move || {
                    let open = use_context::<crate::pages::alerts::Alerts>()
                        .and_then(|a| a.0.with(|s| s.by_host.iter().find(|(h, _, _)| *h == id).map(|(_, n, sev)| (*n, *sev))));
                    match open {
                        Some((n, severity)) => view! {
                            <a class=format!("host-alerts {}", severity.as_str()) href=format!("/alerts?host_id={id}")>
                                {format!("{n} open")}
                            </a>
                        }.into_any(),
                        None => view! { <span class="muted">"none open"</span> }.into_any(),
                    }
                }}</dd>
                <dt>"Last seen"</dt><dd>{move || age_of(last_seen.as_deref(), now.get())}</dd>
                <dt>"TLS"</dt><dd>{tls_text(&host)}</dd>
                <dt>"SSH"</dt><dd class="mono">{format!("{}@{}:{}", host.ssh_user, host.ssh_host, host.ssh_port)}</dd>
                <dt>"SSH host key"</dt><dd class="mono">{host.ssh_host_key_fingerprint.clone().unwrap_or_else(|| "not pinned yet".to_owned())}</dd>
            </dl>
            {admin.then(|| view! {
                <div class="host-actions">
                    <button type="button" class="button" on:click=move |_| editing.set(Some(Some(edit_host.clone())))>"Edit"</button>
                    <button type="button" class="button" disabled=move || busy.get() on:click=run_test>
                        {move || if busy.get() { "Testing…" } else { "Test connection" }}
                    </button>
                    <button type="button" class="button" on:click=toggle>{if enabled { "Disable" } else { "Enable" }}</button>
                    <button type="button" class="button danger" on:click=remove>"Remove"</button>
                    {may_terminal.then(|| view! {
                        <button type="button" class="button" aria-expanded=move || terminal.get().to_string()
                            on:click=move |_| terminal.update(|open| *open = !*open)>"Terminal"</button>
                    })}
                </div>
            })}
            {move || terminal.get().then(|| view! {
                <crate::components::terminal::TerminalPane host_id=id host_name=terminal_name.clone()/>
            })}
            {move || tests.with(|t| t.get(&id).cloned()).map(|report| view! { <TestReport id report notice/> })}
        </li>
    }
    .into_any()
}

fn tls_text(host: &HostView) -> String {
    match host.tls_mode {
        TlsMode::PlainLoopback => "none (loopback only)".to_owned(),
        TlsMode::Ca => "trusted CA".to_owned(),
        TlsMode::Fingerprint => match &host.tls_fingerprint {
            Some(pin) => format!("pinned {pin}"),
            None => "not trusted yet: test the connection".to_owned(),
        },
    }
}

#[component]
fn TestReport(
    id: i64,
    report: HostTest,
    notice: RwSignal<Option<Result<String, String>>>,
) -> impl IntoView {
    let presented = report.certificate_observation.clone();
    let trust = move |_| {
        let Some(fingerprint) = presented.clone() else { return };
        leptos::task::spawn_local(async move {
            match trust_certificate(id, fingerprint).await {
                Ok(host) => {
                    notice.set(Some(Ok(format!("Pinned the certificate of {}.", host.name))))
                }
                Err(error) => notice.set(Some(Err(error.message))),
            }
        });
    };
    let needs_trust =
        report.presented_fingerprint.is_some() && report.fingerprint_matches_pin != Some(true);
    let ssh_key = report.ssh_host_key_observation.clone();
    let trust_ssh = move |_| {
        let Some(key) = ssh_key.clone() else { return };
        leptos::task::spawn_local(async move {
            match trust_ssh_host_key(id, key).await {
                Ok(host) => {
                    notice.set(Some(Ok(format!("Pinned the SSH host key of {}.", host.name))))
                }
                Err(error) => notice.set(Some(Err(error.message))),
            }
        });
    };
    view! {
        <section class=if report.ok { "test-report ok" } else { "test-report failed" } aria-label="Connection test">
            <ol>
                {report.steps.iter().map(|step| view! {
                    <li class=if step.ok { "step ok" } else { "step failed" }>
                        <strong>{step.name.clone()}</strong>" "{step.detail.clone()}
                    </li>
                }).collect_view()}
            </ol>
            {needs_trust.then(|| view! {
                <div class="trust">
                    <p>
                        "The host presents this certificate. Compare its fingerprint with the one TrueNAS shows "
                        "(System → Certificates), then trust it:"
                    </p>
                    <p class="mono fingerprint">{report.presented_fingerprint.clone()}</p>
                    <button type="button" class="button primary" on:click=trust>"Trust this certificate"</button>
                </div>
            })}
            {report.presented_ssh_fingerprint.clone().map(|fingerprint| view! {
                <div class="trust">
                    <p>"The NAS presents this SSH host key. Compare it with the NAS's own, then trust it:"</p>
                    <p class="mono fingerprint">{fingerprint}</p>
                    <button type="button" class="button primary" on:click=trust_ssh>"Trust this SSH host key"</button>
                </div>
            })}
        </section>
    }
    .into_any()
}

#[component]
fn HostForm(
    host: Option<HostView>,
    editing: Editing,
    notice: RwSignal<Option<Result<String, String>>>,
) -> impl IntoView {
    let id = host.as_ref().map(|h| h.id);
    let field = |value: Option<String>| RwSignal::new(value.unwrap_or_default());
    let name = field(host.as_ref().map(|h| h.name.clone()));
    let api_url = field(host.as_ref().map(|h| h.api_url.clone()));
    let api_user = field(host.as_ref().map(|h| h.api_user.clone()));
    let api_key = RwSignal::new(String::new());
    let ca_pem = RwSignal::new(String::new());
    let ssh_host = field(host.as_ref().map(|h| h.ssh_host.clone()));
    let ssh_port = field(host.as_ref().map(|h| h.ssh_port.to_string()));
    let ssh_user = field(host.as_ref().map(|h| h.ssh_user.clone()));
    let ssh_key = RwSignal::new(String::new());
    let ssh_password = RwSignal::new(String::new());
    // The terminal switch: sent only when changed, so a new host keeps its default by role.
    let terminal_at_start = host.as_ref().is_none_or(|h| h.terminal);
    let terminal = RwSignal::new(terminal_at_start);
    let read_only_key = host.as_ref().is_some_and(|h| h.api_read_only);
    let error = RwSignal::new(None::<AppError>);
    let saving = RwSignal::new(false);
    let key_hint = host.as_ref().and_then(|h| h.api_key_hint.clone());
    let has_ssh_key = host.as_ref().is_some_and(|h| h.has_ssh_key);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let secret = |s: RwSignal<String>| Some(s.get_untracked()).filter(|v| !v.trim().is_empty());
        let input = HostInput {
            name: name.get_untracked(),
            api_url: api_url.get_untracked(),
            api_user: api_user.get_untracked(),
            api_key: secret(api_key),
            tls_mode: if ca_pem.get_untracked().trim().is_empty() {
                None
            } else {
                Some(TlsMode::Ca)
            },
            // A pin comes only from a connection test the server ran (Test, then Trust).
            tls_fingerprint: None,
            tls_ca_pem: secret(ca_pem),
            ssh_host: ssh_host.get_untracked(),
            ssh_port: ssh_port.get_untracked().trim().parse().ok(),
            ssh_user: ssh_user.get_untracked(),
            ssh_private_key: secret(ssh_key),
            ssh_password: secret(ssh_password),
            enabled: None,
            terminal: Some(terminal.get_untracked()).filter(|on| *on != terminal_at_start),
        };
        saving.set(true);
        leptos::task::spawn_local(async move {
            match save_host(id, input).await {
                Ok(saved) => {
                    notice.set(Some(Ok(format!(
                        "Saved {}. Test the connection to check it.",
                        saved.name
                    ))));
                    editing.set(None);
                }
                Err(failure) => error.set(Some(failure)),
            }
            saving.set(false);
        });
    };
    let text = |label: &'static str,
                name_attr: &'static str,
                value: RwSignal<String>,
                placeholder: &'static str| {
        view! {
            <label class="field">
                <span>{label}</span>
                <input type="text" name=name_attr placeholder=placeholder prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/>
            </label>
        }
    };
    view! {
        <form class="panel host-form" on:submit=submit aria-label=if id.is_some() { "Edit host" } else { "Add host" }>
            <h2>{if id.is_some() { "Edit host" } else { "Add a host" }}</h2>
            {move || error.get().map(|e| view! {
                <div class="notice error" role="alert"><p>{e.message.clone()}</p></div>
            })}
            <fieldset>
                <legend>"TrueNAS API"</legend>
                {text("Name", "name", name, "nas1")}
                {text("API address", "api_url", api_url, "wss://truenas.lan")}
                {text("API user", "api_user", api_user, "root")}
                <label class="field">
                    <span>"API key"</span>
                    <input type="password" name="api_key" autocomplete="off"
                        placeholder=key_hint.map(|hint| format!("stored ({hint}); leave empty to keep")).unwrap_or_else(|| "1-AbC… from Credentials → API Keys".to_owned())
                        prop:value=move || api_key.get() on:input=move |ev| api_key.set(event_target_value(&ev))/>
                </label>
                <p class="muted">"The certificate is pinned after saving: Test connection shows what the NAS presents; compare it with the TrueNAS UI and trust it."</p>
                <label class="field">
                    <span>"CA certificate, PEM (optional)"</span>
                    <textarea name="tls_ca_pem" rows="3" placeholder="-----BEGIN CERTIFICATE-----" prop:value=move || ca_pem.get() on:input=move |ev| ca_pem.set(event_target_value(&ev))></textarea>
                </label>
            </fieldset>
            <fieldset>
                <legend>"SSH (for SMART tests and surface tests)"</legend>
                {text("SSH host", "ssh_host", ssh_host, "defaults to the API host")}
                {text("SSH port", "ssh_port", ssh_port, "22")}
                {text("SSH user", "ssh_user", ssh_user, "root")}
                <label class="field">
                    <span>"Private key"</span>
                    <textarea name="ssh_private_key" rows="3" autocomplete="off"
                        placeholder=if has_ssh_key { "stored; leave empty to keep" } else { "-----BEGIN OPENSSH PRIVATE KEY-----" }
                        prop:value=move || ssh_key.get() on:input=move |ev| ssh_key.set(event_target_value(&ev))></textarea>
                </label>
                <label class="field">
                    <span>"Password (fallback)"</span>
                    <input type="password" name="ssh_password" autocomplete="off" prop:value=move || ssh_password.get() on:input=move |ev| ssh_password.set(event_target_value(&ev))/>
                </label>
                <label class="field checkbox">
                    <span>"Allow the terminal (admins open a shell on this NAS from the page)"
                        {read_only_key.then_some(" · off by default: its API key has only read-only roles")}</span>
                    <input type="checkbox" name="terminal" prop:checked=move || terminal.get()
                        on:change=move |ev| terminal.set(event_target_checked(&ev))/>
                </label>
            </fieldset>
            <div class="form-actions">
                <button type="submit" class="button primary" disabled=move || saving.get()>"Save"</button>
                <button type="button" class="button" on:click=move |_| editing.set(None)>"Cancel"</button>
            </div>
        </form>
    }
    .into_any()
}
