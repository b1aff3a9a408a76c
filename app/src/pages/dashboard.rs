//! The drives dashboard: every drive on every host, in one table.

use burnin::{DriveRow, DriveState, TemperatureLevel, TemperatureLimits, format};
use leptos::prelude::*;

use crate::AppError;

/// All known drives, for the dashboard table.
#[server]
pub async fn list_drives() -> Result<Vec<DriveRow>, AppError> {
    crate::backend::backend()?.list_drives(burnin::DriveFilter::default()).await
}

#[component]
pub fn DashboardPage() -> impl IntoView {
    let drives = Resource::new(|| (), |_| list_drives());
    let search = RwSignal::new(String::new());

    view! {
        <section class="page-head">
            <h1>"Drives"</h1>
            <div class="toolbar">
                <label class="search">
                    <span class="visually-hidden">"Search drives"</span>
                    <input
                        type="search"
                        name="search"
                        placeholder="Search serial, model, location"
                        autocomplete="off"
                        prop:value=move || search.get()
                        on:input=move |ev| search.set(event_target_value(&ev))
                    />
                </label>
                <button
                    type="button"
                    class="button"
                    on:click=move |_| drives.refetch()
                    title="Reload the drive list from the server"
                >
                    "Refresh"
                </button>
            </div>
        </section>
        <Suspense fallback=|| view! { <p class="loading">"Loading drives…"</p> }>
            {move || Suspend::new(async move {
                match drives.await {
                    Ok(rows) => view! { <DriveOverview rows search/> }.into_any(),
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
fn DriveOverview(rows: Vec<DriveRow>, search: RwSignal<String>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <EmptyState/> }.into_any();
    }
    let total = rows.len();
    let rows = StoredValue::new(rows);
    let visible = Memo::new(move |_| {
        let needle = search.get();
        let filter = burnin::DriveFilter { search: Some(needle), ..Default::default() };
        rows.with_value(|rows| {
            rows.iter().filter(|row| filter.matches(row)).cloned().collect::<Vec<_>>()
        })
    });
    view! {
        <StatsBar rows=rows.get_value()/>
        <p class="result-count" aria-live="polite">
            {move || {
                let shown = visible.with(Vec::len);
                if shown == total {
                    format!("{total} drives")
                } else {
                    format!("{shown} of {total} drives")
                }
            }}
        </p>
        <div class="table-wrap">
            <table class="drives">
                <thead>
                    <tr>
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
                        <th scope="col">"Location"</th>
                        <th scope="col">"Notes"</th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || visible.get() key=|row| row.id let:row>
                        <DriveTableRow row/>
                    </For>
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn StatsBar(rows: Vec<DriveRow>) -> impl IntoView {
    let counts: Vec<(DriveState, usize)> = DriveState::ALL
        .into_iter()
        .map(|state| (state, rows.iter().filter(|row| row.state == state).count()))
        .filter(|(_, count)| *count > 0)
        .collect();
    view! {
        <ul class="stats" aria-label="Drives by state">
            {counts
                .into_iter()
                .map(|(state, count)| {
                    view! {
                        <li class=format!("stat state-{}", state.as_str())>
                            <span class="stat-count">{count}</span>
                            <span class="stat-label">{state.as_str()}</span>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}

#[component]
fn DriveTableRow(row: DriveRow) -> impl IntoView {
    let (temperature_class, temperature) = match row.temperature_c {
        Some(celsius) => {
            let class = match TemperatureLimits::default_for(row.kind).level(celsius) {
                TemperatureLevel::Normal => "temp",
                TemperatureLevel::Warn => "temp temp-warn",
                TemperatureLevel::Crit => "temp temp-crit",
            };
            (class, format!("{celsius:.0} °C"))
        }
        None => ("temp", "–".to_owned()),
    };
    let serial = row.serial.clone();
    view! {
        <tr data-serial=serial>
            <td>{row.host_name}</td>
            <td class="mono">{row.devname}</td>
            <td class="mono">{row.serial}</td>
            <td>{row.model}</td>
            <td class="num">{format::capacity(row.size_bytes)}</td>
            <td>{row.kind.as_str()}</td>
            <td class="num"><span class=temperature_class>{temperature}</span></td>
            <td>
                <span class=format!("badge smart-{}", row.smart_health.as_str())>
                    {row.smart_health.as_str()}
                </span>
            </td>
            <td>
                <span class=format!("badge pool-{}", row.pool.css())>{row.pool.label()}</span>
            </td>
            <td>
                <span class=format!("badge state-{}", row.state.as_str())>{row.state.as_str()}</span>
            </td>
            <td>{row.location}</td>
            <td class="notes">{row.notes}</td>
        </tr>
    }
}

#[component]
fn EmptyState() -> impl IntoView {
    view! {
        <section class="panel empty">
            <h2>"No drives yet"</h2>
            <p>
                "Drives appear here as soon as a TrueNAS host reports them. "
                "Connect a host, or start the dashboard with no hosts configured to get the "
                "built-in simulated fleet for a tour."
            </p>
        </section>
    }
}
