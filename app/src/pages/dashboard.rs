//! The drives dashboard: every drive on every host, live.

use std::collections::{BTreeSet, HashMap};

use burnin::{DriveFilter, DriveRow, DriveState, host::HostStatus, live::Snapshot};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::{
    AppError,
    components::{
        drawer::DriveDrawer,
        start::StartDialog,
        table::{DriveTable, TableState},
        time::use_clock,
    },
    live::{self, Link, LiveStore},
};

/// Everything the dashboard shows, at the live channel's current version.
#[server]
pub async fn dashboard_snapshot() -> Result<Snapshot, AppError> {
    crate::backend::reply(
        async { crate::backend::backend()?.snapshot(crate::backend::principal().await?).await }
            .await,
    )
}

/// All known drives (kept for scripts that used it; the page uses the snapshot).
#[server]
pub async fn list_drives() -> Result<Vec<DriveRow>, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?
                .list_drives(crate::backend::principal().await?, DriveFilter::default())
                .await
        }
        .await,
    )
}

/// Sets a drive's location and/or notes.
#[server(input = Json)]
pub async fn edit_drive(
    id: i64,
    location: Option<String>,
    notes: Option<String>,
) -> Result<DriveRow, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?
                .edit_drive(
                    crate::backend::principal().await?,
                    id,
                    crate::backend::DriveEdit { location, notes },
                )
                .await
        }
        .await,
    )
}

const PAGE_SIZES: [usize; 4] = [50, 100, 250, 1000];

#[component]
pub fn DashboardPage() -> impl IntoView {
    let snapshot = Resource::new(|| (), |_| dashboard_snapshot());
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading drives…"</p> }>
            {move || Suspend::new(async move {
                match snapshot.await {
                    Ok(snapshot) => view! { <Dashboard snapshot/> }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ErrorPanel(error: AppError) -> impl IntoView {
    view! {
        <section class="panel error" role="alert">
            <h2>"The drive list could not be loaded"</h2>
            <p>{error.message}</p>
            <ul>{error.reasons.into_iter().map(|reason| view! { <li>{reason}</li> }).collect_view()}</ul>
        </section>
    }
}

#[component]
fn Dashboard(snapshot: Snapshot) -> impl IntoView {
    let store = LiveStore::new(snapshot);
    // Effects run only in the browser: open the live channel once hydrated.
    Effect::new(move |previous: Option<()>| {
        if previous.is_none() {
            live::connect(store);
        }
    });
    let now = use_clock();
    let search = RwSignal::new(String::new());
    let host_filter = RwSignal::new(None::<i64>);
    let state_filter = RwSignal::new(None::<DriveState>);
    let page = RwSignal::new(0usize);
    let page_size = RwSignal::new(100usize);
    let error = RwSignal::new(None::<String>);
    let state = TableState {
        selected: RwSignal::new(BTreeSet::new()),
        open: RwSignal::new(None),
        host_status: Memo::new(move |_| {
            store
                .hosts
                .with(|hosts| hosts.iter().map(|h| (h.id, h.status)).collect::<HashMap<_, _>>())
        }),
        limits: store.limits,
    };
    // Filtering reads every row (so a renamed or moved drive re-filters); the DOM only
    // changes for rows that enter or leave the page.
    let visible = Memo::new(move |_| {
        let filter = DriveFilter {
            host_id: host_filter.get(),
            state: state_filter.get(),
            search: Some(search.get()),
        };
        store
            .drive_ids
            .get()
            .into_iter()
            .filter(|id| store.row(*id).is_some_and(|row| row.with(|r| filter.matches(r))))
            .collect::<Vec<i64>>()
    });
    let pages = Memo::new(move |_| visible.with(Vec::len).div_ceil(page_size.get()).max(1));
    Effect::new(move |_| {
        if page.get() >= pages.get() {
            page.set(pages.get() - 1);
        }
    });
    let page_ids = Signal::derive(move || {
        let size = page_size.get();
        visible
            .with(|ids| ids.iter().skip(page.get() * size).take(size).copied().collect::<Vec<_>>())
    });
    let total = Memo::new(move |_| store.drive_ids.with(Vec::len));
    let starting = RwSignal::new(false);
    let notice = RwSignal::new(None::<String>);
    // What the signed-in role may do; the server refuses the rest regardless.
    let can_start = crate::pages::access::may(burnin::access::Action::StartBurnin);
    let can_cancel = crate::pages::access::may(burnin::access::Action::CancelBurnin);
    let cancel_all = move |_| {
        let confirmed = {
            #[cfg(feature = "hydrate")]
            {
                web_sys::window()
                    .and_then(|w| {
                        w.confirm_with_message("Cancel every queued and running burn-in?").ok()
                    })
                    .unwrap_or(false)
            }
            #[cfg(not(feature = "hydrate"))]
            {
                false
            }
        };
        if confirmed {
            leptos::task::spawn_local(async move {
                match crate::pages::burnin::cancel_jobs(None).await {
                    Ok(results) => notice.set(Some(cancel_summary(&results))),
                    Err(e) => notice.set(Some(e.message)),
                }
            });
        }
    };
    let active_jobs = Memo::new(move |_| {
        store
            .rows()
            .iter()
            .filter(|r| r.progress.as_ref().is_some_and(|p| p.state.is_active()))
            .count()
    });
    view! {
        <section class="page-head">
            <h1>"Drives"</h1>
            <LinkStatus link=store.link/>
            <div class="toolbar">
                <label class="search">
                    <span class="visually-hidden">"Search drives"</span>
                    <input
                        type="search"
                        name="search"
                        placeholder="Search serial, model, location"
                        autocomplete="off"
                        prop:value=move || search.get()
                        on:input=move |ev| {
                            search.set(event_target_value(&ev));
                            page.set(0);
                        }
                    />
                </label>
                <label>
                    <span class="visually-hidden">"Host"</span>
                    <select name="host" on:change=move |ev| {
                        host_filter.set(event_target_value(&ev).parse().ok());
                        page.set(0);
                    }>
                        <option value="">"All hosts"</option>
                        {move || store.hosts.get().into_iter().map(|host| view! {
                            <option value=host.id.to_string() selected=move || host_filter.get() == Some(host.id)>{host.name.clone()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label>
                    <span class="visually-hidden">"State"</span>
                    <select name="state" on:change=move |ev| {
                        state_filter.set(DriveState::parse(&event_target_value(&ev)));
                        page.set(0);
                    }>
                        <option value="">"All states"</option>
                        {DriveState::ALL.into_iter().map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> }).collect_view()}
                    </select>
                </label>
            </div>
        </section>
        <StatsBar store/>
        {move || error.get().map(|message| view! { <p class="notice error" role="alert">{message}</p> })}
        <Show
            when=move || { total.get() > 0 }
            fallback=|| view! { <EmptyState/> }
        >
            <div class="list-head">
                <p class="result-count" aria-live="polite">
                    {move || {
                        let shown = visible.with(Vec::len);
                        let all = total.get();
                        if shown == all { format!("{all} drives") } else { format!("{shown} of {all} drives") }
                    }}
                    {move || {
                        let count = state.selected.with(BTreeSet::len);
                        (count > 0).then(|| format!(" · {count} selected"))
                    }}
                </p>
                <div class="batch-actions">
                    {can_start.then(|| view! {
                        <button type="button" class="button primary" disabled=move || state.selected.with(BTreeSet::is_empty) on:click=move |_| starting.set(true)>
                            {move || format!("Burn in {}…", state.selected.with(BTreeSet::len))}
                        </button>
                    })}
                    <Show when=move || { can_cancel && active_jobs.get() > 0 }>
                        <button type="button" class="button danger" on:click=cancel_all>"Cancel all burn-ins"</button>
                    </Show>
                </div>
                <Pager page pages page_size/>
            </div>
            {move || notice.get().map(|n| view! { <p class="notice" role="status">{n}</p> })}
            <DriveTable store ids=page_ids visible=Signal::derive(move || visible.get()) state error/>
        </Show>
        <DriveDrawer store open=state.open now/>
        {move || starting.get().then(|| {
            let chosen: Vec<DriveRow> = state.selected.get_untracked().into_iter().filter_map(|id| store.row(id)).map(|r| r.get_untracked()).collect();
            view! {
                <StartDialog drives=chosen on_close=Callback::new(move |started: bool| {
                    starting.set(false);
                    if started {
                        notice.set(Some("Burn-in queued: progress shows in the table and the drawer.".into()));
                        state.selected.set(BTreeSet::new());
                    }
                })/>
            }
        })}
    }
    .into_any()
}

#[component]
fn LinkStatus(link: RwSignal<Link>) -> impl IntoView {
    view! {
        <span class=move || match link.get() {
            Link::Live => "link link-live",
            Link::Connecting => "link link-connecting",
            Link::Retrying(_) => "link link-lost",
        } role="status">
            {move || match link.get() {
                Link::Live => "live".to_owned(),
                Link::Connecting => "connecting…".to_owned(),
                Link::Retrying(seconds) => format!("updates paused, retrying in {seconds} s"),
            }}
        </span>
    }
}

#[component]
fn Pager(page: RwSignal<usize>, pages: Memo<usize>, page_size: RwSignal<usize>) -> impl IntoView {
    view! {
        <nav class="pager" aria-label="Pages">
            <button type="button" class="button" disabled=move || page.get() == 0 on:click=move |_| page.update(|p| *p = p.saturating_sub(1))>"‹ Prev"</button>
            <span>{move || format!("Page {} of {}", page.get() + 1, pages.get())}</span>
            <button type="button" class="button" disabled=move || { page.get() + 1 >= pages.get() } on:click=move |_| page.update(|p| *p += 1)>"Next ›"</button>
            <label>
                <span class="visually-hidden">"Rows per page"</span>
                <select on:change=move |ev| {
                    if let Ok(size) = event_target_value(&ev).parse() {
                        page_size.set(size);
                        page.set(0);
                    }
                }>
                    {PAGE_SIZES.into_iter().map(|size| view! {
                        <option value=size.to_string() selected=move || page_size.get() == size>{format!("{size} per page")}</option>
                    }).collect_view()}
                </select>
            </label>
        </nav>
    }
    .into_any()
}

#[component]
fn StatsBar(store: LiveStore) -> impl IntoView {
    let counts = Memo::new(move |_| {
        let mut counts: Vec<(DriveState, usize)> =
            DriveState::ALL.into_iter().map(|s| (s, 0)).collect();
        for row in store.rows() {
            if let Some(entry) = counts.iter_mut().find(|(s, _)| *s == row.state) {
                entry.1 += 1;
            }
        }
        counts
    });
    let hosts = Memo::new(move |_| {
        store.hosts.with(|hosts| {
            let online = hosts.iter().filter(|h| h.status == HostStatus::Online).count();
            (online, hosts.len() - online)
        })
    });
    view! {
        <ul class="stats" aria-label="Summary">
            {move || counts.get().into_iter().filter(|(_, n)| *n > 0).map(|(state, count)| view! {
                <li class=format!("stat state-{}", state.as_str())>
                    <span class="stat-count">{count}</span>
                    <span class="stat-label">{state.as_str()}</span>
                </li>
            }).collect_view()}
            <li class="stat hosts-online">
                <span class="stat-count">{move || hosts.get().0}</span>
                <span class="stat-label">"hosts online"</span>
            </li>
            {move || (hosts.get().1 > 0).then(|| view! {
                <li class="stat hosts-offline">
                    <span class="stat-count">{hosts.get().1}</span>
                    <span class="stat-label">"hosts not online"</span>
                </li>
            })}
        </ul>
    }
    .into_any()
}

#[component]
fn EmptyState() -> impl IntoView {
    view! {
        <section class="panel empty">
            <h2>"No drives yet"</h2>
            <p>
                "Drives appear here as soon as a TrueNAS host reports them. "
                <a href="/hosts">"Connect a host"</a>
                ", or start the dashboard with no hosts configured to get the built-in simulated "
                "fleet for a tour."
            </p>
        </section>
    }
}

/// One line for a cancel-all: how many stopped or are stopping, and every drive that could
/// not be cancelled, by name.
fn cancel_summary(results: &[burnin::job::CancelResult]) -> String {
    let count = |outcome: &str| results.iter().filter(|r| r.outcome == outcome).count();
    let mut text = format!(
        "{} cancelled, {} stopping (they read as cancelled once their work on the NAS has stopped).",
        count("cancelled"),
        count("stopping")
    );
    for failed in results.iter().filter(|r| r.outcome == "error") {
        text.push_str(&format!(
            " {} on {}: {}.",
            failed.drive_serial, failed.host_name, failed.message
        ));
    }
    text
}
