//! Alerts: the page that lists them (open, acknowledged, resolved; filtered by host, kind and
//! severity, kept in the address), acknowledging and resolving with a note, and the header's
//! counter, which also raises a desktop notification for a new critical alert when the
//! browser allows it.

use burnin::{
    access::Action,
    alert::{AlertFilter, AlertKind, AlertState, AlertSummary, AlertView, Handling, Severity},
};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use leptos_router::hooks::use_query_map;

use crate::AppError;

#[server(input = Json)]
pub async fn list_alerts(filter: AlertFilter) -> Result<Vec<AlertView>, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?.alerts(crate::backend::principal().await?, filter).await
        }
        .await,
    )
}

/// One alert, whatever its state: what a notification's link opens.
#[server(input = leptos::server_fn::codec::GetUrl)]
pub async fn fetch_alert(id: i64) -> Result<AlertView, AppError> {
    crate::backend::reply(
        async { crate::backend::backend()?.alert(crate::backend::principal().await?, id).await }
            .await,
    )
}

/// A read polled every few seconds by each open page: a GET, so it is not logged as a change.
#[server(input = leptos::server_fn::codec::GetUrl)]
pub async fn open_alert_counts() -> Result<AlertSummary, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?.alert_summary(crate::backend::principal().await?).await
        }
        .await,
    )
}

#[server(input = Json)]
pub async fn handle_alert(
    id: i64,
    handling: Handling,
    note: Option<String>,
) -> Result<AlertView, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?
                .alert_action(crate::backend::principal().await?, id, handling, note)
                .await
        }
        .await,
    )
}

/// The open alerts' counts, shared by the header and the Hosts page; refreshed every few
/// seconds while a page is open.
#[derive(Clone, Copy)]
pub struct Alerts(pub RwSignal<AlertSummary>);

/// Seconds between two refreshes of the counter.
#[cfg(feature = "hydrate")]
const REFRESH_SECS: u64 = 5;

/// The header's counter. Provides [`Alerts`] to the pages below it.
#[component]
pub fn AlertBadge() -> impl IntoView {
    let summary = RwSignal::new(AlertSummary::default());
    provide_context(Alerts(summary));
    #[cfg(feature = "hydrate")]
    {
        let refresh = move || {
            leptos::task::spawn_local(async move {
                if let Ok(now) = open_alert_counts().await {
                    desktop::tell(&now);
                    summary.set(now);
                }
            });
        };
        refresh();
        let handle =
            set_interval_with_handle(refresh, std::time::Duration::from_secs(REFRESH_SECS));
        on_cleanup(move || {
            if let Ok(handle) = handle {
                handle.clear();
            }
        });
    }
    view! {
        <a href="/alerts" class="alert-badge" data-testid="alert-badge"
            class:has-open=move || summary.with(|s| s.open > 0)
            class:critical=move || summary.with(|s| s.critical > 0)
            title=move || summary.with(|s| format!("{} open alerts, {} critical, {} not yet acknowledged", s.open, s.critical, s.unacknowledged))>
            <span aria-hidden="true">"⚑"</span>
            <span class="count" data-testid="alert-count">{move || summary.with(|s| s.open)}</span>
            <span class="visually-hidden">" open alerts"</span>
        </a>
    }
}

/// Desktop notifications: a tab the user allowed raises one for each critical alert newer
/// than the newest it has told of (kept in local storage, so tabs and reloads do not repeat).
#[cfg(feature = "hydrate")]
mod desktop {
    use burnin::alert::AlertSummary;

    const SEEN: &str = "burnin.alerts.notified";

    pub fn tell(summary: &AlertSummary) {
        let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) else {
            return;
        };
        let seen: i64 =
            storage.get_item(SEEN).ok().flatten().and_then(|v| v.parse().ok()).unwrap_or(-1);
        let newest = summary.newest_critical.iter().map(|(id, _)| *id).max().unwrap_or(0);
        if seen < 0 {
            // First look in this browser: what is already open is not news.
            let _ = storage.set_item(SEEN, &newest.to_string());
            return;
        }
        if newest <= seen {
            return;
        }
        let _ = storage.set_item(SEEN, &newest.to_string());
        if web_sys::Notification::permission() != web_sys::NotificationPermission::Granted {
            return;
        }
        for (id, title) in summary.newest_critical.iter().filter(|(id, _)| *id > seen) {
            let options = web_sys::NotificationOptions::new();
            options.set_body(title);
            options.set_tag(&format!("burnin-alert-{id}"));
            let Ok(shown) = web_sys::Notification::new_with_options("Critical alert", &options)
            else {
                continue;
            };
            // A click opens the alert it tells of, in this tab.
            let path = format!("/alerts?id={id}");
            let open = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || {
                if let Some(window) = web_sys::window() {
                    let _ = window.focus();
                    let _ = window.location().assign(&path);
                }
            });
            shown.set_onclick(Some(wasm_bindgen::JsCast::unchecked_ref(open.as_ref())));
            // The page lives as long as the notification may be clicked.
            open.forget();
        }
    }

    pub fn ask() {
        let _ = web_sys::Notification::request_permission();
    }

    pub fn state() -> &'static str {
        match web_sys::Notification::permission() {
            web_sys::NotificationPermission::Granted => "granted",
            web_sys::NotificationPermission::Denied => "denied",
            _ => "default",
        }
    }
}

fn kind_options() -> Vec<(&'static str, &'static str)> {
    AlertKind::ALL.iter().map(|k| (k.as_str(), burnin::notify::kind_label(*k))).collect()
}

fn time(secs: i64) -> String {
    burnin::format::utc(secs).replace('T', " ").replace('Z', " UTC")
}

#[component]
pub fn AlertsPage() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| {
        query.with(|q| AlertFilter {
            state: q.get("state").filter(|s| !s.is_empty()),
            host_id: q.get("host_id").and_then(|h| h.parse().ok()),
            kind: q.get("kind").and_then(|k| AlertKind::parse(&k)),
            severity: q.get("severity").and_then(|s| Severity::parse(&s)),
        })
    });
    // `?id=N` (every notification's link) shows that alert first, even once resolved.
    let named_id =
        Memo::new(move |_| query.with(|q| q.get("id").and_then(|i| i.parse::<i64>().ok())));
    let changed = RwSignal::new(0u32);
    let alerts = Resource::new(move || (filter.get(), changed.get()), |(f, _)| list_alerts(f));
    let named = Resource::new(
        move || (named_id.get(), changed.get()),
        |(id, _)| async move {
            match id {
                Some(id) => fetch_alert(id).await.map(Some),
                None => Ok(None),
            }
        },
    );
    let hosts = Resource::new(|| (), |_| crate::pages::history::host_choices());
    let notice = RwSignal::new(None::<Result<String, String>>);
    let may_handle = crate::pages::access::may(Action::HandleAlerts);
    let navigate = leptos_router::hooks::use_navigate();
    let set = move |key: &'static str, value: String| {
        let mut params: Vec<(String, String)> = query.with_untracked(|q| {
            ["state", "host_id", "kind", "severity"]
                .iter()
                .filter(|k| **k != key)
                .filter_map(|k| q.get(k).filter(|v| !v.is_empty()).map(|v| ((*k).to_owned(), v)))
                .collect()
        });
        if !value.is_empty() {
            params.push((key.to_owned(), value));
        }
        let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        navigate(&format!("/alerts?{}", query.join("&")), Default::default());
    };
    let current = move |key: &'static str| query.with(|q| q.get(key).unwrap_or_default());
    // The server cannot know the browser's permission: both render "default", and the real
    // one is read after hydration (reading it first made the browser's first render differ
    // from the server's where permission was already given, and the page stopped updating).
    let permission = RwSignal::new("default");
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| permission.set(desktop::state()));
    view! {
        <section class="page-head">
            <h1>"Alerts"</h1>
            <Show when=move || permission.get() == "default">
                <button type="button" class="button" data-testid="allow-notifications" on:click=move |_| {
                    #[cfg(feature = "hydrate")]
                    {
                        desktop::ask();
                        permission.set(desktop::state());
                    }
                }>"Allow desktop notifications"</button>
            </Show>
        </section>
        {move || notice.get().map(|n| match n {
            Ok(text) => view! { <p class="notice ok" role="status">{text}</p> }.into_any(),
            Err(text) => view! { <p class="notice error" role="alert">{text}</p> }.into_any(),
        })}
        <form class="toolbar alert-filters" on:submit=|ev| ev.prevent_default()>
            <label class="field">
                <span>"State"</span>
                <select name="state" prop:value=move || current("state") on:change={let set = set.clone(); move |ev| set("state", event_target_value(&ev))}>
                    <option value="">"Open"</option>
                    <option value="raised">"Not acknowledged"</option>
                    <option value="acknowledged">"Acknowledged"</option>
                    <option value="resolved">"Resolved"</option>
                    <option value="all">"All"</option>
                </select>
            </label>
            <label class="field">
                <span>"Host"</span>
                <select name="host_id" prop:value=move || current("host_id") on:change={let set = set.clone(); move |ev| set("host_id", event_target_value(&ev))}>
                    <option value="">"Any"</option>
                    <Suspense fallback=|| ()>
                        {move || hosts.get().and_then(Result::ok).map(|hosts| hosts.into_iter().map(|h| view! {
                            <option value=h.id.to_string()>{h.label()}</option>
                        }).collect_view())}
                    </Suspense>
                </select>
            </label>
            <label class="field">
                <span>"Kind"</span>
                <select name="kind" prop:value=move || current("kind") on:change={let set = set.clone(); move |ev| set("kind", event_target_value(&ev))}>
                    <option value="">"Any"</option>
                    {kind_options().into_iter().map(|(value, label)| view! { <option value=value>{label}</option> }).collect_view()}
                </select>
            </label>
            <label class="field">
                <span>"Severity"</span>
                <select name="severity" prop:value=move || current("severity") on:change={let set = set.clone(); move |ev| set("severity", event_target_value(&ev))}>
                    <option value="">"Any"</option>
                    <option value="critical">"Critical"</option>
                    <option value="warning">"Warning"</option>
                    <option value="info">"Notice"</option>
                </select>
            </label>
        </form>
        <Suspense fallback=|| ()>
            {move || named.get().map(|answer| match answer {
                Ok(None) => ().into_any(),
                Err(e) => view! {
                    <section class="panel empty" data-testid="named-alert">
                        <p class="notice error" role="alert">{format!("The linked alert cannot be shown: {}", e.message)}</p>
                        <p><a href="/alerts">"Show the open alerts"</a></p>
                    </section>
                }.into_any(),
                Ok(Some(alert)) => view! {
                    <section class="named-alert" data-testid="named-alert" aria-label="The linked alert">
                        <p class="hint">{format!("The alert this link names (#{}), as it is now.", alert.id)}" "<a href="/alerts">"Show the open alerts"</a></p>
                        <ul class="alerts"><AlertItem alert may_handle changed notice hidden_when=Memo::new(|_| None)/></ul>
                    </section>
                }.into_any(),
            })}
        </Suspense>
        <Suspense fallback=|| view! { <p class="loading">"Loading alerts…"</p> }>
            // The linked alert is shown above, once: its item in the list is hidden, not
            // filtered out, so that leaving `?id=N` unhides it instead of re-rendering the list
            // (which would drop a note being typed and race an Acknowledge).
            {move || alerts.get().map(|answer| match answer {
                Err(e) => view! { <p class="notice error" role="alert">{e.message}</p> }.into_any(),
                Ok(list) if list.is_empty() => view! {
                    <section class="panel empty" data-testid="no-alerts">
                        <h2>"Nothing here"</h2>
                        <p>"No alert matches. Open alerts show here as soon as something needs a person."</p>
                    </section>
                }.into_any(),
                Ok(list) => {
                    let ids: Vec<i64> = list.iter().map(|a| a.id).collect();
                    let only_named = move || {
                        let named = named_id.get();
                        ids.iter().all(|id| Some(*id) == named)
                    };
                    view! {
                        <Show when=only_named>
                            <section class="panel empty" data-testid="no-alerts">
                                <p>"No other alert matches."</p>
                            </section>
                        </Show>
                        <ul class="alerts" data-testid="alerts">
                            {list.into_iter().map(|alert| view! { <AlertItem alert may_handle changed notice hidden_when=named_id/> }).collect_view()}
                        </ul>
                    }.into_any()
                }
            })}
        </Suspense>
    }
    .into_any()
}

#[component]
fn AlertItem(
    alert: AlertView,
    may_handle: bool,
    changed: RwSignal<u32>,
    notice: RwSignal<Option<Result<String, String>>>,
    /// The alert is hidden while this names it (it is shown above the list then).
    hidden_when: Memo<Option<i64>>,
) -> impl IntoView {
    let note = RwSignal::new(String::new());
    let id = alert.id;
    let act = move |handling: Handling| {
        let text = note.get_untracked();
        leptos::task::spawn_local(async move {
            let note = Some(text).filter(|t| !t.trim().is_empty());
            match handle_alert(id, handling, note).await {
                Ok(done) => {
                    notice.set(Some(Ok(format!("Alert {} is {}.", done.id, done.state.as_str()))));
                    changed.update(|n| *n += 1);
                }
                Err(e) => notice.set(Some(Err(e.message))),
            }
        });
    };
    let severity = alert.severity.as_str();
    let open = alert.state.is_open();
    let subject = alert.subject.clone();
    let host_link = format!("/alerts?host_id={}", alert.host_id);
    view! {
        <li class=format!("panel alert {severity}") data-alert=alert.id.to_string() data-kind=alert.kind.as_str() data-state=alert.state.as_str()
            hidden=move || hidden_when.get() == Some(id)>
            <div class="alert-head">
                <span class=format!("severity {severity}")>{burnin::notify::severity_label(alert.severity)}</span>
                <strong class="alert-title">
                    {(!subject.is_empty()).then(|| format!("{subject} "))}
                    {burnin::notify::kind_label(alert.kind)}
                </strong>
                <span class="alert-host">" on " <a href=host_link>{alert.host_name.clone()}</a></span>
                <span class=format!("alert-state {}", alert.state.as_str())>{alert.state.as_str()}</span>
            </div>
            <p class="alert-message">{alert.message.clone()}</p>
            <dl class="facts alert-facts">
                <dt>"First seen"</dt><dd>{time(alert.first_seen)}</dd>
                <dt>"Last seen"</dt><dd>{format!("{} ({}×)", time(alert.last_seen), alert.count)}</dd>
                {alert.acknowledged_by.clone().map(|by| view! { <dt>"Acknowledged by"</dt><dd>{format!("{by}, {}", alert.acknowledged_at.map(time).unwrap_or_default())}</dd> })}
                {alert.resolved_by.clone().map(|by| view! { <dt>"Resolved by"</dt><dd>{format!("{by}, {}", alert.resolved_at.map(time).unwrap_or_default())}</dd> })}
                {alert.note.clone().map(|n| view! { <dt>"Note"</dt><dd class="alert-note">{n}</dd> })}
                {alert.job_id.map(|job| view! { <dt>"Burn-in"</dt><dd><a href=format!("/jobs/{job}")>{format!("job #{job}")}</a></dd> })}
            </dl>
            {(may_handle && open).then(|| view! {
                <div class="alert-actions">
                    <input type="text" class="alert-note-input" placeholder="Note (optional): what was done" maxlength="500"
                        aria-label="Note"
                        prop:value=move || note.get() on:input=move |ev| note.set(event_target_value(&ev))/>
                    {(alert.state == AlertState::Raised).then(|| view! {
                        <button type="button" class="button" on:click=move |_| act(Handling::Acknowledge)>"Acknowledge"</button>
                    })}
                    <button type="button" class="button" on:click=move |_| act(Handling::Resolve)>"Resolve"</button>
                </div>
            })}
        </li>
    }
    .into_any()
}
