//! The drive table: one row per drive, each cell reading only its own field, so a live
//! update re-renders the cells that changed and nothing else.

use std::collections::{BTreeSet, HashMap};

use burnin::{DriveRow, TemperatureLevel, TemperatureTable, format, host::HostStatus};
use leptos::prelude::*;

use crate::{components::editable::EditableText, live::LiveStore};

/// Shared selection and drawer state of the dashboard.
#[derive(Clone, Copy)]
pub struct TableState {
    pub selected: RwSignal<BTreeSet<i64>>,
    pub open: RwSignal<Option<i64>>,
    /// Host id → status, to mark rows whose data is stale.
    pub host_status: Memo<HashMap<i64, HostStatus>>,
    /// The temperature limits in force (the server's settings).
    pub limits: RwSignal<TemperatureTable>,
}

/// Saves a drive's location or notes through the server; errors land in `error`.
pub fn save_text(
    id: i64,
    location: Option<String>,
    notes: Option<String>,
    error: RwSignal<Option<String>>,
) {
    leptos::task::spawn_local(async move {
        match crate::pages::dashboard::edit_drive(id, location, notes).await {
            Ok(_) => error.set(None),
            Err(failure) => error.set(Some(failure.message)),
        }
    });
}

#[component]
pub fn DriveTable(
    store: LiveStore,
    /// The ids on the current page, in order.
    ids: Signal<Vec<i64>>,
    /// Every id the filters let through (for "select all").
    visible: Signal<Vec<i64>>,
    state: TableState,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let all_selected = move || {
        let visible = visible.get();
        !visible.is_empty() && state.selected.with(|s| visible.iter().all(|id| s.contains(id)))
    };
    let toggle_all = move |_| {
        let visible = visible.get_untracked();
        let every = state.selected.with_untracked(|s| visible.iter().all(|id| s.contains(id)));
        state.selected.update(|s| {
            for id in visible {
                if every {
                    s.remove(&id);
                } else {
                    s.insert(id);
                }
            }
        });
    };
    view! {
        <div class="table-wrap">
            <table class="drives">
                <thead>
                    <tr>
                        <th scope="col" class="select">
                            <input
                                type="checkbox"
                                aria-label="Select all drives shown"
                                prop:checked=all_selected
                                on:change=toggle_all
                            />
                        </th>
                        <th scope="col">"Host"</th>
                        <th scope="col">"Device"</th>
                        <th scope="col">"Serial"</th>
                        <th scope="col">"Model"</th>
                        <th scope="col" class="num">"Size"</th>
                        <th scope="col">"Type"</th>
                        <th scope="col" class="num">"Temp"</th>
                        <th scope="col">"SMART"</th>
                        <th scope="col">"Pool"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Burn-in"</th>
                        <th scope="col">"Location"</th>
                        <th scope="col">"Notes"</th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || ids.get() key=|id| *id let:id>
                        {store.row(id).zip(store.temperature(id)).map(|(row, celsius)| view! {
                            <DriveTableRow row celsius state error/>
                        })}
                    </For>
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn DriveTableRow(
    row: RwSignal<DriveRow>,
    /// The row's temperature, notified on its own (`LiveStore::temperature`).
    celsius: RwSignal<Option<f64>>,
    state: TableState,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let id = row.with_untracked(|r| r.id);
    let field = move |f: fn(&DriveRow) -> String| Memo::new(move |_| row.with(f));
    let kind = Memo::new(move |_| row.with(|r| r.kind));
    let limits = state.limits;
    let temperature = Memo::new(move |_| (celsius.get(), kind.get()));
    let temperature_level = Memo::new(move |_| {
        let (celsius, kind) = temperature.get();
        celsius.map(|c| limits.with(|table| table.for_kind(kind).level(c)))
    });
    let stale = move || {
        let host = row.with(|r| r.host_id);
        state.host_status.with(|statuses| !matches!(statuses.get(&host), Some(HostStatus::Online)))
    };
    let absent = move || row.with(|r| r.state == burnin::DriveState::Absent);
    let selected = move || state.selected.with(|s| s.contains(&id));
    let location = Signal::derive(move || row.with(|r| r.location.clone()));
    let notes = Signal::derive(move || row.with(|r| r.notes.clone()));
    view! {
        <tr
            data-serial=move || row.with(|r| r.serial.clone())
            data-id=id
            class:stale=stale
            class:absent=absent
            class:selected=selected
            class:open=move || state.open.get() == Some(id)
            on:click=move |_| state.open.set(Some(id))
        >
            <td class="select" on:click=|ev| ev.stop_propagation()>
                <input
                    type="checkbox"
                    aria-label=move || format!("Select {}", row.with(|r| r.serial.clone()))
                    prop:checked=selected
                    on:change=move |_| state.selected.update(|s| {
                        if !s.remove(&id) {
                            s.insert(id);
                        }
                    })
                />
            </td>
            <td>{field(|r| r.host_name.clone())}</td>
            <td class="mono">{field(|r| r.devname.clone())}</td>
            <td class="mono">
                <button type="button" class="link" on:click=move |ev| {
                    ev.stop_propagation();
                    state.open.set(Some(id));
                }>{field(|r| r.serial.clone())}</button>
            </td>
            <td>{field(|r| r.model.clone())}</td>
            <td class="num">{field(|r| format::capacity(r.size_bytes))}</td>
            <td>{field(|r| r.kind.as_str().to_owned())}</td>
            <td class="num">
                <span class=move || temperature_class(temperature_level.get())>
                    {move || match temperature.get().0 {
                        Some(celsius) => format!("{celsius:.0} °C"),
                        None => "–".to_owned(),
                    }}
                </span>
            </td>
            <td>
                {move || {
                    let health = row.with(|r| r.smart_health);
                    view! { <span class=format!("badge smart-{}", health.as_str())>{health.as_str()}</span> }
                }}
            </td>
            <td>
                {move || {
                    let pool = row.with(|r| r.pool.clone());
                    view! { <span class=format!("badge pool-{}", pool.css())>{pool.label()}</span> }
                }}
            </td>
            <td>
                {move || {
                    let drive_state = row.with(|r| r.state);
                    view! { <span class=format!("badge state-{}", drive_state.as_str())>{drive_state.as_str()}</span> }
                }}
            </td>
            <td class="burnin">
                {move || row.with(|r| r.progress.clone()).map(|progress| view! { <ProgressCell progress/> })}
            </td>
            <td class="location">
                <EditableText
                    value=location
                    placeholder="add"
                    label="location"
                    on_save=Callback::new(move |text: String| save_text(id, Some(text), None, error))
                />
            </td>
            <td class="notes">
                <EditableText
                    value=notes
                    placeholder="add"
                    label="notes"
                    on_save=Callback::new(move |text: String| save_text(id, None, Some(text), error))
                />
            </td>
        </tr>
    }
    .into_any()
}

fn temperature_class(level: Option<TemperatureLevel>) -> &'static str {
    match level {
        Some(TemperatureLevel::Warn) => "temp temp-warn",
        Some(TemperatureLevel::Crit) => "temp temp-crit",
        _ => "temp",
    }
}

#[component]
pub fn ProgressCell(progress: burnin::job::JobProgress) -> impl IntoView {
    let active = progress.state.is_active();
    let stage = progress.stage.map(|s| s.label().split(" (").next().unwrap_or("").to_owned());
    let text = if active {
        let mut parts = vec![stage.unwrap_or_else(|| progress.state.as_str().to_owned())];
        if let Some(p) = progress.stage_percent {
            parts.push(format!("{p:.0} %"));
        }
        if let Some(eta) = progress.eta_seconds {
            parts.push(format!("{} left", burnin::job::duration_text(eta)));
        }
        parts.join(" · ")
    } else if progress.bad_blocks > 0 {
        format!("{} · {} bad blocks", progress.state.as_str(), progress.bad_blocks)
    } else {
        progress.state.as_str().to_owned()
    };
    view! {
        <div class=format!("progress-cell job-{}", progress.state.as_str())>
            {active.then(|| view! { <progress max="100" value=format!("{:.1}", progress.percent)></progress> })}
            <span class="progress-text">{text}</span>
            {progress.stopping.then(|| view! { <span class="badge stopping" title="A cancel is under way: the work on the NAS is being stopped">"stopping"</span> })}
            {progress.stuck.then(|| view! { <span class="badge stuck" title="No progress for a long time">"stuck"</span> })}
        </div>
    }
}
