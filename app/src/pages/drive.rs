//! A drive's page (`/drives/{serial}`): who the drive is, where it has sat, every burn-in it
//! has had on any host, and how its watched counters and power-on hours moved across runs.
//! The server builds the whole record and draws the charts (`burnin::drive_record`); this page
//! lays them out, each chart with its numbers in a table beside it.

use burnin::drive_record::{DriveRecord, Trend};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use leptos_router::hooks::use_params_map;

use crate::AppError;

#[server(input = Json)]
pub async fn fetch_drive_record(serial: String) -> Result<DriveRecord, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?
                .drive_record(crate::backend::principal().await?, serial)
                .await
        }
        .await,
    )
}

fn when(text: Option<&str>) -> String {
    text.map(|t| t.get(..19).unwrap_or(t).replace('T', " ")).unwrap_or_else(|| "–".into())
}

fn bay(slot: Option<u32>) -> String {
    slot.map_or_else(|| "–".into(), |s| s.to_string())
}

fn or_dash(text: Option<String>) -> String {
    text.filter(|t| !t.is_empty()).unwrap_or_else(|| "–".into())
}

#[component]
pub fn DrivePage() -> impl IntoView {
    let params = use_params_map();
    let serial = Memo::new(move |_| params.with(|p| p.get("serial").unwrap_or_default()));
    let record = Resource::new(move || serial.get(), fetch_drive_record);
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading the drive…"</p> }>
            {move || record.get().map(|answer| match answer {
                Err(e) => view! {
                    <section class="panel empty" data-testid="drive-error">
                        <h1>"No such drive"</h1>
                        <p>{e.message}</p>
                        <p><a href="/history">"Find it in the history"</a></p>
                    </section>
                }.into_any(),
                Ok(record) => view! { <DriveView record/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn DriveView(record: DriveRecord) -> impl IntoView {
    let DriveRecord { serial, identity: i, places, locations, jobs, trend, notes } = record;
    let history = format!("/history?serial={serial}");
    let runs = jobs.len();
    view! {
        <section class="page-head" data-testid="drive-page" data-serial=serial.clone()>
            <div>
                <p class="crumbs"><a href=history.clone()>"History"</a>" / "{serial.clone()}</p>
                <h1>{serial.clone()}</h1>
                <p class="muted">{format!(
                    "{} · {} · {}",
                    i.model,
                    burnin::format::capacity(i.capacity_bytes),
                    i.kind,
                )}</p>
            </div>
        </section>
        {notes.into_iter().map(|n| view! { <p class="notice" role="status">{n}</p> }).collect_view()}
        <div class="record-grid">
            <section class="panel">
                <h2>"Identity"</h2>
                <dl class="facts" data-testid="drive-identity">
                    <dt>"Model"</dt><dd>{i.model.clone()}</dd>
                    <dt>"Family"</dt><dd>{or_dash(i.model_family)}</dd>
                    <dt>"Vendor"</dt><dd>{or_dash(i.vendor)}</dd>
                    <dt>"Serial"</dt><dd>{serial.clone()}</dd>
                    <dt>"WWN"</dt><dd>{or_dash(i.wwn)}</dd>
                    <dt>"Capacity"</dt><dd>{format!("{} ({} bytes)", burnin::format::capacity(i.capacity_bytes), i.capacity_bytes)}</dd>
                    <dt>"Firmware"</dt><dd>{or_dash(i.firmware)}</dd>
                    <dt>"Interface"</dt><dd>{format!("{} ({})", i.kind, i.protocol)}</dd>
                    <dt>"Power-on hours"</dt><dd data-testid="drive-hours">{i.power_on_hours.map_or_else(|| "–".into(), |h| h.to_string())}</dd>
                </dl>
                <p class="muted small">{format!("From {}{}.", i.source, i.captured_at.as_deref().map(|at| format!(", {}", when(Some(at)))).unwrap_or_default())}</p>
            </section>
            <section class="panel">
                <h2>"Location history"</h2>
                <p class="muted small">"Edits of the location text, who made them and when."</p>
                {if locations.is_empty() {
                    view! { <p class="muted" data-testid="drive-moves-empty">"Its location has never been edited."</p> }.into_any()
                } else {
                    view! {
                        <div class="table-wrap">
                            <table class="record" data-testid="drive-moves">
                                <thead><tr><th scope="col">"When"</th><th scope="col">"Who"</th><th scope="col">"From"</th><th scope="col">"To"</th><th scope="col">"Host"</th></tr></thead>
                                <tbody>
                                    {locations.into_iter().map(|m| view! {
                                        <tr>
                                            <td>{when(Some(&m.at))}</td>
                                            <td>{m.actor}</td>
                                            <td>{if m.from.is_empty() { "(none)".to_owned() } else { m.from }}</td>
                                            <td>{if m.to.is_empty() { "(none)".to_owned() } else { m.to }}</td>
                                            <td>{or_dash(m.host_name)}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any()
                }}
            </section>
        </div>
        <section class="panel">
            <h2>"Where it has been"</h2>
            <p class="muted small">"Each host, device name and bay the inventory found it in, from the first poll that saw it there to the last."</p>
            <div class="table-wrap">
                <table class="record" data-testid="drive-places">
                    <thead><tr><th scope="col">"Host"</th><th scope="col">"Device"</th><th scope="col">"Bay"</th><th scope="col">"Location"</th><th scope="col">"State"</th><th scope="col">"First seen"</th><th scope="col">"Last seen"</th></tr></thead>
                    <tbody>
                        {places.into_iter().map(|p| view! {
                            <tr data-current=p.current.to_string() data-slot=p.slot.map(|s| s.to_string()).unwrap_or_default()>
                                <td>{p.host_name}{p.host_archived.then(|| view! { <span class="tag muted">" archived"</span> })}</td>
                                <td><code>{p.devname}</code></td>
                                <td class="num">{bay(p.slot)}</td>
                                <td>{if p.location.is_empty() { "–".to_owned() } else { p.location }}</td>
                                <td>{p.state}</td>
                                <td>{when(p.first_seen.as_deref())}</td>
                                <td>{when(p.last_seen.as_deref())}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
        <section class="panel">
            <h2>{format!("Burn-ins ({runs})")}</h2>
            {if jobs.is_empty() {
                view! { <p class="muted" data-testid="drive-jobs-empty">"This drive has not been burned in yet."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="record" data-testid="drive-jobs">
                            <thead><tr>
                                <th scope="col">"Job"</th><th scope="col">"Verdict"</th><th scope="col">"Host"</th><th scope="col">"Device, bay"</th>
                                <th scope="col">"Stages"</th><th scope="col">"Started"</th><th scope="col">"Finished"</th>
                                <th scope="col">"Duration"</th><th scope="col">"Bad blocks"</th><th scope="col">"Operator"</th>
                            </tr></thead>
                            <tbody>
                                {jobs.into_iter().map(|j| view! {
                                    <tr data-job=j.id.to_string() data-outcome=j.outcome.clone()>
                                        <td><a href=j.href.clone()>{format!("#{}", j.id)}</a></td>
                                        <td><span class=format!("verdict-tag {}", j.outcome)>{j.outcome_words}</span></td>
                                        <td>{j.host_name}</td>
                                        <td>{match (j.devname, j.slot) {
                                            (Some(dev), Some(slot)) => format!("{dev}, bay {slot}"),
                                            (Some(dev), None) => dev,
                                            (None, _) => "–".to_owned(),
                                        }}</td>
                                        <td>{j.stages.join(", ")}</td>
                                        <td>{when(j.started_at.as_deref().or(Some(&j.created_at)))}</td>
                                        <td>{when(j.finished_at.as_deref())}</td>
                                        <td>{or_dash(j.duration)}</td>
                                        <td class="num">{j.bad_blocks}</td>
                                        <td>{j.operator}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </section>
        <TrendPanel trend/>
    }
}

#[component]
fn TrendPanel(trend: Trend) -> impl IntoView {
    let Trend { counters, rows, hours_chart, counters_chart } = trend;
    if rows.is_empty() {
        return view! {
            <section class="panel" data-testid="drive-trend">
                <h2>"Trend across runs"</h2>
                <p class="muted">"No SMART reading has been recorded by a burn-in yet."</p>
            </section>
        }
        .into_any();
    }
    view! {
        <section class="panel" data-testid="drive-trend">
            <h2>"Trend across runs"</h2>
            <p class="muted">"Each run's reading after its tests (before them, where the run stopped early): the counters the verdict watches and the power-on hours."</p>
            <div class="stats-body">
                <div class="chart-wrap">
                    {(!hours_chart.is_empty()).then(|| view! { <div data-testid="hours-chart" inner_html=hours_chart></div> })}
                    {(!counters_chart.is_empty()).then(|| view! { <div data-testid="counters-chart" inner_html=counters_chart></div> })}
                </div>
                <div class="table-wrap stats-table">
                    <table class="stats" data-testid="trend-table">
                        <caption class="visually-hidden">"Watched counters and power-on hours by run"</caption>
                        <thead><tr>
                            <th scope="col">"Job"</th><th scope="col">"Read"</th><th scope="col">"Power-on hours"</th>
                            {counters.into_iter().map(|c| view! { <th scope="col" title=c.rule>{c.name}</th> }).collect_view()}
                        </tr></thead>
                        <tbody>
                            {rows.into_iter().map(|r| view! {
                                <tr>
                                    <td><a href=format!("/jobs/{}", r.job_id)>{format!("#{}", r.job_id)}</a></td>
                                    <td>{format!("{} ({})", when(Some(&r.at)), r.snapshot)}</td>
                                    <td class="num">{r.power_on_hours.map_or_else(|| "–".into(), |h| h.to_string())}</td>
                                    {r.values.into_iter().map(|v| view! { <td class="num">{v.map_or_else(|| "–".into(), |v| v.to_string())}</td> }).collect_view()}
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            </div>
        </section>
    }
    .into_any()
}
