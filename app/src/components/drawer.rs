//! The drive drawer: details, the burn-in (live stages, cancel, history) and SMART.

use burnin::{
    DriveRow, PoolMembership, format,
    job::{JobView, StageState, duration_text},
    smart::{SmartReport, parse_smartctl_json},
};
use leptos::prelude::*;

use crate::{
    components::time::age_of,
    live::LiveStore,
    pages::burnin::{cancel_job, drive_jobs, drive_smart, get_job},
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tab {
    Details,
    Burnin,
    Smart,
    Terminal,
}

#[component]
pub fn DriveDrawer(
    store: LiveStore,
    open: RwSignal<Option<i64>>,
    now: ReadSignal<f64>,
) -> impl IntoView {
    let row = move || open.get().and_then(|id| store.row(id));
    let tab = RwSignal::new(Tab::Details);
    let close = move |_| open.set(None);
    view! {
        <Show when=move || row().is_some()>
            <aside class="drawer" role="dialog" aria-modal="false" aria-label="Drive details">
                <button type="button" class="button drawer-close" on:click=close aria-label="Close the drive details">"Close"</button>
                {move || row().map(|row| view! {
                    <header class="drawer-head">
                        <h2 class="mono">{move || row.with(|r| r.serial.clone())}</h2>
                        <p>{move || row.with(|r| format!("{} · {}", r.model, format::capacity(r.size_bytes)))}</p>
                        <p><a href=move || row.with(|r| format!("/drives/{}", r.serial)) data-testid="drive-record-link">"The drive's record: every burn-in, trends, locations"</a></p>
                    </header>
                })}
                <nav class="tabs" role="tablist">
                    {[(Tab::Details, "Details"), (Tab::Burnin, "Burn-in"), (Tab::Smart, "SMART"), (Tab::Terminal, "Terminal")].into_iter()
                        .filter(|(which, _)| *which != Tab::Terminal || crate::pages::access::may(burnin::access::Action::OpenTerminal))
                        .map(|(which, label)| view! {
                        <button type="button" role="tab" class="tab" aria-selected=move || (tab.get() == which).to_string() on:click=move |_| tab.set(which)>{label}</button>
                    }).collect_view()}
                </nav>
                {move || row().map(|row| match tab.get() {
                    Tab::Details => {
                        let id = row.with_untracked(|r| r.id);
                        let celsius = store.temperature(id).map(|c| c.read_only());
                        view! { <DetailsTab row celsius now/> }.into_any()
                    }
                    Tab::Burnin => view! { <BurninTab row/> }.into_any(),
                    Tab::Smart => view! { <SmartTab row/> }.into_any(),
                    Tab::Terminal => {
                        let (host_id, host_name) = row.with_untracked(|r| (r.host_id, r.host_name.clone()));
                        view! { <crate::components::terminal::TerminalPane host_id host_name/> }.into_any()
                    }
                })}
            </aside>
        </Show>
    }
    .into_any()
}

#[component]
fn DetailsTab(
    row: RwSignal<DriveRow>,
    celsius: Option<ReadSignal<Option<f64>>>,
    now: ReadSignal<f64>,
) -> impl IntoView {
    let r = move || row.get();
    view! {
        <section>
            <h3>"Identity"</h3>
            <dl class="facts">
                <dt>"Serial"</dt><dd class="mono">{move || r().serial}</dd>
                <dt>"Model"</dt><dd>{move || r().model}</dd>
                <dt>"Capacity"</dt><dd>{move || format!("{} ({} bytes)", format::capacity(r().size_bytes), r().size_bytes)}</dd>
                <dt>"Type"</dt><dd>{move || r().kind.as_str()}</dd>
                <dt>"Host"</dt><dd>{move || r().host_name}</dd>
                <dt>"Device"</dt><dd class="mono">{move || format!("/dev/{}", r().devname)}</dd>
                <dt>"Last reported"</dt><dd>{move || age_of(r().seen_at.as_deref(), now.get())}</dd>
            </dl>
        </section>
        <section>
            <h3>"Pool status"</h3>
            <p class="pool-explain">{move || pool_explanation(&r().pool)}</p>
        </section>
        <section>
            <h3>"SMART summary"</h3>
            <dl class="facts">
                <dt>"Overall health"</dt>
                <dd><span class=move || format!("badge smart-{}", r().smart_health.as_str())>{move || r().smart_health.as_str()}</span></dd>
                <dt>"Temperature"</dt>
                <dd>{move || celsius.and_then(|c| c.get()).map(|c| format!("{c:.0} °C")).unwrap_or_else(|| "not reported".to_owned())}</dd>
                <dt>"Burn-in state"</dt><dd>{move || r().state.as_str()}</dd>
            </dl>
        </section>
    }
    .into_any()
}

#[component]
fn BurninTab(row: RwSignal<DriveRow>) -> impl IntoView {
    // Re-read the job whenever its headline in the live row changes.
    let key = Memo::new(move |_| {
        row.with(|r| {
            (
                r.id,
                r.progress.as_ref().map(|p| {
                    (p.job_id, p.state, (p.percent * 10.0) as i64, p.stage, p.stuck, p.bad_blocks)
                }),
            )
        })
    });
    let job = Resource::new(
        move || key.get(),
        |(_, progress)| async move {
            match progress {
                Some((job_id, ..)) => get_job(job_id).await.map(Some),
                None => Ok(None),
            }
        },
    );
    let history = Resource::new(move || key.get().0, drive_jobs);
    let message = RwSignal::new(None::<String>);
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match job.await {
                    Ok(Some(job)) => view! { <JobPanel job message/> }.into_any(),
                    Ok(None) => view! { <p class="muted">"No burn-in yet. Select the drive in the table and choose Burn in."</p> }.into_any(),
                    Err(error) => view! { <p class="notice error">{error.message}</p> }.into_any(),
                }
            })}
        </Suspense>
        {move || message.get().map(|m| view! { <p class="notice">{m}</p> })}
        <h3>"History"</h3>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let jobs = history.await.unwrap_or_default();
                view! {
                    <ul class="history">
                        {jobs.into_iter().map(|job| view! {
                            <li><span class=format!("badge job-{}", job.state.as_str())>{job.state.as_str()}</span>" "<a href=format!("/jobs/{}", job.id)>{format!("#{}", job.id)}</a>{format!(" by {} · {}", job.operator, job.created_at.get(..16).unwrap_or(""))}</li>
                        }).collect_view()}
                    </ul>
                }
            })}
        </Suspense>
    }
    .into_any()
}

/// How long a finished stage ran, from its stored start and end.
fn stage_duration(stage: &burnin::job::StageView) -> Option<String> {
    let start = burnin::format::parse_utc(stage.started_at.as_deref()?)?;
    let end = burnin::format::parse_utc(stage.finished_at.as_deref()?)?;
    Some(duration_text((end - start).max(0.0)))
}

#[component]
fn JobPanel(job: JobView, message: RwSignal<Option<String>>) -> impl IntoView {
    let id = job.id;
    let active = job.state.is_active();
    let verdict = job.verdict.clone();
    let job_for_verdict = job.clone();
    let stopping = job.cancel_requested;
    let cancel = move |_| {
        leptos::task::spawn_local(async move {
            match cancel_job(id).await {
                Ok(view) if view.state == burnin::job::JobState::Cancelled => {
                    message.set(Some("Cancelled before it started.".into()))
                }
                Ok(_) => message.set(Some(
                    "Stopping: the work on the NAS is being stopped; the burn-in reads cancelled once it has.".into(),
                )),
                Err(e) => message.set(Some(e.message)),
            }
        });
    };
    view! {
        <section class="job" data-job=id>
            <h3>{format!("Burn-in #{id}: {}", job.state.as_str())}</h3>
            <p class="muted">{format!("by {} · {:.0} % overall", job.operator, job.percent)}{job.eta_seconds.map(|e| format!(" · about {} left", duration_text(e)))}" · "<a href=format!("/jobs/{id}")>"the job's page"</a></p>
            {job.reason.clone().map(|reason| view! { <p class=format!("reason job-{}", job.state.as_str())>{reason}</p> })}
            <ol class="stage-list">
                {job.stages.iter().map(|stage| {
                    let running = stage.state == StageState::Running;
                    view! {
                        <li class=format!("stage stage-{}", stage.state.as_str()) data-kind=stage.kind.as_str()>
                            <div class="stage-head">
                                <strong>{stage.kind.label()}</strong>
                                <span class=format!("badge stage-state-{}", stage.state.as_str())>{stage.state.as_str()}</span>
                                {stage.stuck.then(|| view! { <span class="badge stuck">"stuck"</span> })}
                            </div>
                            {running.then(|| view! { <progress max="100" value=format!("{:.1}", stage.percent.unwrap_or(0.0))></progress> })}
                            <p class="stage-detail">{stage.detail.clone()}</p>
                            <p class="stage-facts">
                                {stage_duration(stage).map(|d| format!("took {d} · "))}
                                {stage.percent.filter(|_| running).map(|p| format!("{p:.1} % · "))}
                                {stage.throughput_mb_s.map(|t| format!("{t:.0} MB/s · "))}
                                {stage.eta_seconds.filter(|_| running).map(|e| format!("{} left · ", duration_text(e)))}
                                {(stage.bad_blocks > 0 || stage.kind == burnin::job::StageKind::Surface).then(|| format!("{} bad blocks ({}/{}/{} errors)", stage.bad_blocks, stage.read_errors, stage.write_errors, stage.corruption_errors))}
                            </p>
                            {(!stage.log_tail.is_empty()).then(|| view! { <pre class="log-tail">{stage.log_tail.clone()}</pre> })}
                            {(!stage.outputs.is_empty()).then(|| view! {
                                <StageOutputs job=id position=stage.position outputs=stage.outputs.clone()/>
                            })}
                        </li>
                    }
                }).collect_view()}
            </ol>
            {(active && stopping).then(|| view! {
                <p class="notice stopping" role="status">"Stopping: the work on the NAS is being stopped. The burn-in reads cancelled once nothing of it runs there any more."</p>
            })}
            {(active && !stopping && crate::pages::access::may(burnin::access::Action::CancelBurnin)).then(|| view! { <button type="button" class="button danger" on:click=cancel>"Cancel this burn-in"</button> })}
            {verdict.map(|verdict| view! { <crate::components::verdict::VerdictPanel job=job_for_verdict verdict/> })}
        </section>
    }
    .into_any()
}

/// What a stream holds, for its button.
fn stream_label(stream: &str) -> &'static str {
    match stream {
        "stderr" => "badblocks' output",
        "stdout" => "bad block list",
        "smartctl" => "smartctl calls",
        _ => "output",
    }
}

/// The stage's kept output: a button per stream, opening it as text in place; and the raw
/// stream from the API.
#[component]
fn StageOutputs(job: i64, position: u32, outputs: Vec<burnin::job::StageOutput>) -> impl IntoView {
    let shown = RwSignal::new(None::<(String, Result<String, String>)>);
    view! {
        <div class="stage-outputs">
            {outputs.into_iter().map(|output| {
                let stream = output.stream.clone();
                let open = {
                    let stream = stream.clone();
                    move |_| {
                        let stream = stream.clone();
                        if shown.with_untracked(|s| s.as_ref().is_some_and(|(open, _)| *open == stream)) {
                            shown.set(None);
                            return;
                        }
                        leptos::task::spawn_local(async move {
                            let text = crate::pages::burnin::stage_output(job, i64::from(position), stream.clone())
                                .await
                                .map_err(|e| e.message);
                            shown.set(Some((stream, text)));
                        });
                    }
                };
                let size = burnin::format::capacity(output.bytes);
                let cut = (output.omitted > 0).then(|| format!(", middle {} left out", burnin::format::capacity(output.omitted)));
                view! {
                    <span class="stage-output">
                        <button type="button" class="link" data-stream=stream.clone() on:click=open>
                            {format!("{} ({size}{})", stream_label(&stream), cut.unwrap_or_default())}
                        </button>
                        " "
                        <a class="muted" href=format!("/api/v1/burnin/{job}/stages/{position}/output/{stream}") target="_blank" rel="noopener">"raw"</a>
                    </span>
                }
            }).collect_view()}
            {move || shown.get().map(|(stream, text)| match text {
                Ok(text) => view! { <pre class="stage-output-text" data-stream=stream>{text}</pre> }.into_any(),
                Err(error) => view! { <p class="notice error">{error}</p> }.into_any(),
            })}
        </div>
    }
}

#[component]
fn SmartTab(row: RwSignal<DriveRow>) -> impl IntoView {
    let key = Memo::new(move |_| {
        row.with(|r| (r.id, r.progress.as_ref().map(|p| (p.job_id, (p.percent / 5.0) as i64))))
    });
    let smart = Resource::new(move || key.get(), |(id, _)| drive_smart(id));
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match smart.await {
                    Ok(Some(snapshot)) => {
                        let report = parse_smartctl_json(snapshot.raw_json.as_bytes()).ok();
                        view! {
                            <p class="muted">{format!("Read {}", snapshot.taken_at.get(..19).unwrap_or(""))}</p>
                            {report.map(|report| view! { <SmartSummary report/> })}
                            <details>
                                <summary>"Raw smartctl JSON"</summary>
                                <pre class="raw-json">{pretty(&snapshot.raw_json)}</pre>
                            </details>
                        }.into_any()
                    }
                    Ok(None) => view! { <p class="muted">"No SMART report yet: one is read at the start of a burn-in."</p> }.into_any(),
                    Err(error) => view! { <p class="notice error">{error.message}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
    .into_any()
}

fn pretty(raw: &str) -> String {
    serde_json::from_str::<serde_json::Value>(raw)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| raw.to_owned())
}

#[component]
fn SmartSummary(report: SmartReport) -> impl IntoView {
    let attributes = report.attributes().to_vec();
    let facts = vec![
        ("Health", report.health.as_str().to_owned()),
        (
            "Temperature",
            report.temperature.current.map(|t| format!("{t} °C")).unwrap_or_else(|| "–".into()),
        ),
        (
            "Power-on hours",
            report.power_on_hours.map(|h| h.to_string()).unwrap_or_else(|| "–".into()),
        ),
        ("Firmware", report.identity.firmware.clone().unwrap_or_default()),
        (
            "smartctl exit status",
            report.smartctl.exit_status.map(|e| e.bits.to_string()).unwrap_or_default(),
        ),
    ];
    let scsi = report.scsi.as_ref().map(|s| (s.grown_defect_list, s.total_uncorrected_errors()));
    let nvme = report
        .nvme
        .as_ref()
        .and_then(|n| n.health_log.as_ref())
        .map(|h| (h.media_errors, h.critical_warning, h.available_spare));
    view! {
        <dl class="facts">
            {facts.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()}
            {scsi.map(|(defects, uncorrected)| view! {
                <dt>"Grown defects"</dt><dd>{defects.map(|d| d.to_string()).unwrap_or_default()}</dd>
                <dt>"Uncorrected errors"</dt><dd>{format!("{uncorrected:?}")}</dd>
            })}
            {nvme.map(|(media, warning, spare)| view! {
                <dt>"Media errors"</dt><dd>{media.map(|m| m.to_string()).unwrap_or_default()}</dd>
                <dt>"Critical warning"</dt><dd>{warning.map(|w| w.to_string()).unwrap_or_default()}</dd>
                <dt>"Available spare"</dt><dd>{spare.map(|s| format!("{s} %")).unwrap_or_default()}</dd>
            })}
        </dl>
        {(!attributes.is_empty()).then(|| view! {
            <table class="attributes">
                <thead><tr><th>"ID"</th><th>"Attribute"</th><th class="num">"Value"</th><th class="num">"Worst"</th><th class="num">"Thresh"</th><th>"Raw"</th></tr></thead>
                <tbody>
                    {attributes.into_iter().map(|a| view! {
                        <tr class:failing=a.when_failed.is_some()>
                            <td class="num">{a.id}</td>
                            <td>{a.name.clone().unwrap_or_default()}</td>
                            <td class="num">{a.value.map(|v| v.to_string()).unwrap_or_default()}</td>
                            <td class="num">{a.worst.map(|v| v.to_string()).unwrap_or_default()}</td>
                            <td class="num">{a.thresh.map(|v| v.to_string()).unwrap_or_default()}</td>
                            <td class="mono">{a.raw_string.clone().unwrap_or_else(|| a.raw_value.map(|r| r.to_string()).unwrap_or_default())}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        })}
    }
    .into_any()
}

fn pool_explanation(pool: &PoolMembership) -> String {
    match pool {
        PoolMembership::Free => "Free: in no pool the host knows of.".to_owned(),
        PoolMembership::Pool { name } => format!(
            "Member of the imported pool {name}: it holds data. Destructive tests are refused."
        ),
        PoolMembership::ExportedPool { name } => format!(
            "Member of the exported pool {name}: the pool is not imported, but its data is intact. Destructive tests are refused."
        ),
        PoolMembership::Boot => "Boot disk of the host. Destructive tests are refused.".to_owned(),
        PoolMembership::Unknown => "Unknown: the host has not said.".to_owned(),
    }
}
