//! A job's page (`/jobs/{id}`): everything the record holds about one burn-in; and its
//! certificate's print view (`/jobs/{id}/certificate`, A4 or Letter).

use burnin::record::{Certificate, JobRecord};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::record::{delete_job, fetch_certificate, fetch_job_record};

fn job_id() -> Memo<Option<i64>> {
    let params = use_params_map();
    Memo::new(move |_| params.with(|p| p.get("id").and_then(|id| id.parse::<i64>().ok())))
}

fn when(text: Option<&str>) -> String {
    text.map(|t| t.get(..19).unwrap_or(t).replace('T', " ")).unwrap_or_else(|| "–".into())
}

fn number(value: Option<u64>) -> String {
    value.map_or_else(|| "–".into(), |v| v.to_string())
}

fn outcome_class(outcome: &str) -> &'static str {
    match outcome {
        "PASS" => "pass",
        "PASS WITH WARNINGS" => "warn",
        "FAIL" => "fail",
        _ => "incomplete",
    }
}

#[component]
pub fn JobPage() -> impl IntoView {
    let id = job_id();
    let changed = RwSignal::new(0u32);
    let record = Resource::new(
        move || (id.get(), changed.get()),
        |(id, _)| async move {
            match id {
                Some(id) => fetch_job_record(id).await,
                None => {
                    Err(crate::AppError::bad_request("a job's address is /jobs/ and its number"))
                }
            }
        },
    );
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading the job…"</p> }>
            {move || record.get().map(|answer| match answer {
                Err(e) => view! {
                    <section class="panel empty" data-testid="job-error">
                        <h1>"No such job"</h1>
                        <p>{e.message}</p>
                        <p><a href="/history">"Find it in the history"</a></p>
                    </section>
                }.into_any(),
                Ok(record) => view! { <JobView record changed/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn JobView(record: JobRecord, changed: RwSignal<u32>) -> impl IntoView {
    let JobRecord {
        job,
        certificate: c,
        sealed,
        audit,
        temperature_chart,
        temperature_table,
        throughput_chart,
    } = record;
    let id = job.id;
    let outcome = c.outcome.clone();
    let class = outcome_class(&outcome);
    let serial = c.serial.clone();
    let may_delete = crate::pages::access::may(burnin::access::Action::DeleteHistory);
    view! {
        <section class="page-head job-head" data-testid="job-page" data-job=id.to_string() data-outcome=class>
            <div>
                <p class="crumbs"><a href="/history">"History"</a>" / "<a href=format!("/drives/{}", c.serial)>{c.serial.clone()}</a></p>
                <h1>{format!("Burn-in #{id}")}<span class=format!("verdict-tag big {class}") data-testid="job-outcome">{outcome.clone()}</span></h1>
                <p class="muted">{format!("{} · {} · {} on {} · {}", c.model, burnin::format::capacity(c.capacity_bytes), c.kind, c.host_name, c.state)}</p>
            </div>
            <div class="head-actions">
                {sealed.then(|| view! {
                    <a class="button primary" href=format!("/jobs/{id}/certificate") data-testid="certificate-link">"Certificate"</a>
                    <a class="button" href=format!("/api/v1/burnin/{id}/certificate.pdf?paper=a4") data-testid="pdf-a4">"PDF (A4)"</a>
                    <a class="button" href=format!("/api/v1/burnin/{id}/certificate.pdf?paper=letter")>"PDF (Letter)"</a>
                    <a class="button" href=format!("/api/v1/burnin/{id}/evidence") data-testid="evidence-link" download>"Evidence bundle"</a>
                })}
            </div>
        </section>
        {(!sealed).then(|| view! { <p class="notice" role="status">"This burn-in is still running: the page shows it as it stands. Its certificate and evidence are sealed when it ends."</p> })}
        <div class="record-grid">
            <section class="panel">
                <h2>"Drive"</h2>
                <dl class="facts" data-testid="identity">
                    <dt>"Model"</dt><dd>{c.model.clone()}</dd>
                    <dt>"Serial"</dt><dd><a href=format!("/drives/{}", c.serial)>{c.serial.clone()}</a></dd>
                    <dt>"WWN"</dt><dd>{c.wwn.clone().unwrap_or_else(|| "–".into())}</dd>
                    <dt>"Capacity"</dt><dd>{format!("{} ({} bytes)", burnin::format::capacity(c.capacity_bytes), c.capacity_bytes)}</dd>
                    <dt>"Firmware"</dt><dd>{c.firmware.clone().unwrap_or_else(|| "–".into())}</dd>
                    <dt>"Power-on hours"</dt><dd>{number(c.power_on_hours)}</dd>
                    <dt>"Host"</dt><dd>{c.host_name.clone()}</dd>
                    <dt>"Location"</dt><dd>{if c.location.is_empty() { "–".to_owned() } else { c.location.clone() }}</dd>
                </dl>
            </section>
            <section class="panel">
                <h2>"Run"</h2>
                <dl class="facts">
                    <dt>"Operator"</dt><dd>{c.operator.clone()}</dd>
                    <dt>"Queued"</dt><dd>{when(Some(&c.created_at))}</dd>
                    <dt>"Started"</dt><dd>{when(c.started_at.as_deref())}</dd>
                    <dt>"Finished"</dt><dd>{when(c.finished_at.as_deref())}</dd>
                    <dt>"Temperature"</dt><dd>{match (c.temperature_min_c, c.temperature_max_c) {
                        (Some(lo), Some(hi)) => format!("{lo:.0} – {hi:.0} °C"),
                        _ => "–".into(),
                    }}</dd>
                    {sealed.then(|| view! {
                        <dt>"Evidence hash"</dt><dd><code class="wrap" data-testid="bundle-hash">{c.bundle_hash.clone()}</code></dd>
                    })}
                </dl>
            </section>
        </div>
        <Verdict c=c.clone()/>
        <Stages c=c.clone() job=job.clone()/>
        <Defects c=c.clone()/>
        <Counters c=c.clone()/>
        {(!temperature_chart.is_empty()).then(|| view! {
            <section class="panel">
                <h2>"Temperature"</h2>
                <div class="chart-with-table">
                    <div class="chart-wrap" inner_html=temperature_chart></div>
                    <TemperatureTable rows=temperature_table/>
                </div>
            </section>
        })}
        {(!throughput_chart.is_empty()).then(|| view! {
            <section class="panel"><h2>"Throughput across the disk"</h2><div class="chart-wrap" inner_html=throughput_chart></div></section>
        })}
        <section class="panel">
            <h2>"Stage outputs"</h2>
            <p class="hint">"Everything each stage's programs printed, as kept (the middle of a very long output is left out and says so). Open one to read or search it."</p>
            {job.stages.iter().filter(|s| !s.outputs.is_empty()).map(|stage| {
                let position = stage.position;
                let label = format!("{}. {}", stage.position, stage.kind.label());
                stage.outputs.iter().map(|o| view! {
                    <OutputView job=id position label=label.clone() stream=o.stream.clone() bytes=o.bytes omitted=o.omitted/>
                }).collect_view()
            }).collect_view()}
            {job.stages.iter().all(|s| s.outputs.is_empty()).then(|| view! { <p class="muted">"No output kept (older than the retention setting, or the job never ran a stage)."</p> })}
        </section>
        <section class="panel">
            <h2>"Audit trail"</h2>
            <table class="audit" data-testid="job-audit">
                <thead><tr><th>"When (UTC)"</th><th>"Who"</th><th>"Action"</th><th>"From"</th><th>"What"</th></tr></thead>
                <tbody>
                    {audit.into_iter().map(|e| view! {
                        <tr data-action=e.action.clone()>
                            <td class="nowrap">{when(Some(&e.at))}</td>
                            <td>{e.actor.clone()}</td>
                            <td><code>{e.action.clone()}</code></td>
                            <td>{e.address.clone()}</td>
                            <td><crate::pages::history::AuditDetail detail=e.detail.clone()/></td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
        {(may_delete && sealed).then(|| view! { <DeleteJob id serial changed/> })}
    }
}

/// A reading's time as the table shows it: month, day and minute, UTC.
fn clock_utc(secs: f64) -> String {
    // Saturating float-to-int; readings are Unix seconds.
    let text = burnin::format::utc(secs as i64);
    text.get(5..16).map_or(text.clone(), |t| t.replace('T', " "))
}

/// The numbers behind the temperature chart, stretch by stretch.
#[component]
fn TemperatureTable(rows: Vec<burnin::record::TemperatureRow>) -> impl IntoView {
    view! {
        <table class="numbers" data-testid="temperature-table">
            <caption>"Readings by stretch of the run (UTC)"</caption>
            <thead><tr><th>"From"</th><th>"To"</th><th class="num">"Min °C"</th><th class="num">"Mean °C"</th><th class="num">"Max °C"</th><th class="num">"Readings"</th></tr></thead>
            <tbody>
                {rows.into_iter().map(|r| view! {
                    <tr>
                        <td class="nowrap">{clock_utc(r.from)}</td>
                        <td class="nowrap">{clock_utc(r.to)}</td>
                        <td class="num">{format!("{:.1}", r.min_c)}</td>
                        <td class="num">{format!("{:.1}", r.mean_c)}</td>
                        <td class="num" data-max=r.max_c.to_string()>{format!("{:.1}", r.max_c)}</td>
                        <td class="num">{r.samples}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// An output's lines with every match of `needle` (any case) marked; only matching lines
/// when `needle` is not empty.
fn marked_lines(all: &str, needle: &str) -> Vec<AnyView> {
    if needle.is_empty() {
        return vec![all.to_owned().into_any()];
    }
    let lower_needle = needle.to_lowercase();
    let mut views = Vec::new();
    for line in all.lines() {
        let lower = line.to_lowercase();
        if !lower.contains(&lower_needle) {
            continue;
        }
        match marked_line(line, &lower, &lower_needle) {
            Some(parts) => views.extend(parts),
            // Lowercasing moved the bytes (outside ASCII): the line shows unmarked.
            None => views.push(format!("{line}\n").into_any()),
        }
    }
    views
}

/// One line with its matches marked, or `None` when the lowercase copy's byte positions do
/// not fall on the line's own character boundaries.
fn marked_line(line: &str, lower: &str, needle: &str) -> Option<Vec<AnyView>> {
    if lower.len() != line.len() {
        return None;
    }
    let mut parts = Vec::new();
    let mut at = 0;
    for (start, found) in lower.match_indices(needle) {
        let end = start + found.len();
        parts.push(line.get(at..start)?.to_owned().into_any());
        let hit = line.get(start..end)?.to_owned();
        parts.push(view! { <mark>{hit}</mark> }.into_any());
        at = end;
    }
    parts.push(format!("{}\n", line.get(at..)?).into_any());
    Some(parts)
}

#[component]
fn Verdict(c: Certificate) -> impl IntoView {
    view! {
        <section class="panel" data-testid="verdict">
            <h2>"Verdict: " {c.outcome.clone()}</h2>
            <ul class="reasons">
                {c.reasons.iter().map(|(level, text)| view! { <li class=format!("reason {level}")><span class="level">{level.clone()}</span>" "{text.clone()}</li> }).collect_view()}
            </ul>
            <h3>"Judged with"</h3>
            <dl class="facts" data-testid="thresholds">
                {c.thresholds.iter().map(|(label, value)| view! { <dt>{label.clone()}</dt><dd>{value.clone()}</dd> }).collect_view()}
            </dl>
        </section>
    }
}

#[component]
fn Stages(c: Certificate, job: burnin::job::JobView) -> impl IntoView {
    view! {
        <section class="panel">
            <h2>"Stages"</h2>
            <div class="table-wrap">
            <table class="stages" data-testid="stages">
                <thead><tr><th>"#"</th><th>"Stage"</th><th>"Result"</th><th>"Started"</th><th>"Finished"</th><th class="num">"Duration"</th><th class="num">"MB/s"</th><th class="num">"Bad blocks"</th><th class="num">"Errors r/w/c"</th></tr></thead>
                <tbody>
                    {c.stages.iter().map(|s| view! {
                        <tr class=format!("stage-{}", s.state)>
                            <td>{s.position}</td>
                            <td>{s.label.clone()}<div class="muted small">{s.detail.clone()}</div></td>
                            <td><span class=format!("badge stage-state-{}", s.state)>{s.state.clone()}</span></td>
                            <td class="nowrap">{when(s.started_at.as_deref())}</td>
                            <td class="nowrap">{when(s.finished_at.as_deref())}</td>
                            <td class="num">{s.duration.clone().unwrap_or_else(|| "–".into())}</td>
                            <td class="num">{s.throughput_mb_s.map_or_else(|| "–".into(), |t| format!("{t:.0}"))}</td>
                            <td class="num">{s.bad_blocks}</td>
                            <td class="num">{format!("{}/{}/{}", s.errors.0, s.errors.1, s.errors.2)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            </div>
            {(!c.profile.phases.is_empty()).then(|| view! {
                <h3>"Surface test, pattern by pattern"</h3>
                <table class="phases" data-testid="phases">
                    <thead><tr><th>"Pass"</th><th>"Pattern"</th><th class="num">"From"</th><th class="num">"To"</th><th class="num">"Output covers"</th><th class="num">"MB/s"</th></tr></thead>
                    <tbody>
                        {c.profile.phases.iter().map(|p| view! {
                            <tr>
                                <td>{p.phase}</td><td>{p.label.clone()}</td>
                                <td class="num">{clock(p.first_secs)}</td><td class="num">{clock(p.last_secs)}</td>
                                <td class="num">{format!("{:.0} %", p.covered_percent)}</td>
                                <td class="num">{p.mb_s.map_or_else(|| "–".into(), |m| format!("{m:.0}"))}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            })}
            {job.reason.clone().map(|r| view! { <p class="muted">{r}</p> })}
        </section>
    }
}

fn clock(secs: u64) -> String {
    format!("{}:{:02}:{:02}", secs / 3600, (secs % 3600) / 60, secs % 60)
}

#[component]
fn Defects(c: Certificate) -> impl IntoView {
    let shown = c.defects.len() as u64;
    view! {
        <section class="panel" data-testid="defects" data-count=c.bad_blocks.to_string()>
            <h2>{format!("Bad blocks: {}", c.bad_blocks)}</h2>
            {(c.bad_blocks == 0).then(|| view! { <p class="muted">"The surface test found no bad block."</p> })}
            {(!c.defects.is_empty()).then(|| view! {
                <div class="table-wrap defects-wrap">
                <table class="defects">
                    <thead><tr><th class="num">"Block"</th><th class="num">"Byte offset"</th><th class="num">"Offset (hex)"</th></tr></thead>
                    <tbody>
                        {c.defects.iter().map(|d| view! {
                            <tr data-block=d.block.to_string()><td class="num">{d.block}</td><td class="num">{d.byte_offset}</td><td class="num"><code>{format!("{:#x}", d.byte_offset)}</code></td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
                </div>
            })}
            {(c.bad_blocks > shown && shown > 0).then(|| view! { <p class="muted">{format!("The first {shown} of {} are listed; the evidence bundle has them all.", c.bad_blocks)}</p> })}
        </section>
    }
}

#[component]
fn Counters(c: Certificate) -> impl IntoView {
    let changed = c.counters.iter().filter(|l| l.changed).count();
    view! {
        <section class="panel">
            <h2>"SMART before and after"</h2>
            <p class="muted">{if changed == 0 { "No watched counter changed.".to_owned() } else { format!("{changed} watched counter(s) changed: highlighted.") }}</p>
            <table class="counters" data-testid="counters">
                <thead><tr><th>"Counter"</th><th class="num">"Before"</th><th class="num">"After"</th></tr></thead>
                <tbody>
                    {c.counters.iter().map(|l| view! {
                        <tr class:changed=l.changed data-changed=l.changed.to_string()>
                            <td>{l.name.clone()}</td><td class="num">{number(l.before)}</td><td class="num">{number(l.after)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

/// A stage's kept output, loaded when opened, with a search that keeps the matching lines.
#[component]
fn OutputView(
    job: i64,
    position: u32,
    label: String,
    stream: String,
    bytes: u64,
    omitted: u64,
) -> impl IntoView {
    let text = RwSignal::new(None::<Result<String, String>>);
    let search = RwSignal::new(String::new());
    let loading = RwSignal::new(false);
    let load = {
        let stream = stream.clone();
        move |_| {
            if text.with_untracked(Option::is_some) || loading.get_untracked() {
                return;
            }
            loading.set(true);
            let stream = stream.clone();
            leptos::task::spawn_local(async move {
                let answer = crate::pages::burnin::stage_output(job, i64::from(position), stream)
                    .await
                    .map_err(|e| e.message);
                text.set(Some(answer));
                loading.set(false);
            });
        }
    };
    let shown = move || {
        text.with(|t| match t {
            Some(Ok(all)) => marked_lines(all, &search.get()),
            _ => Vec::new(),
        })
    };
    let matches = move || {
        let needle = search.get().to_lowercase();
        text.with(|t| match t {
            Some(Ok(all)) if !needle.is_empty() => {
                Some(all.lines().filter(|l| l.to_lowercase().contains(&needle)).count())
            }
            _ => None,
        })
    };
    let cut = if omitted > 0 {
        format!(", middle {} left out", burnin::format::capacity(omitted))
    } else {
        String::new()
    };
    view! {
        <details class="output" data-stream=stream.clone() data-position=position.to_string() on:toggle=load>
            <summary>{format!("{label}: {stream} ({}{cut})", burnin::format::capacity(bytes))}</summary>
            <div class="output-tools">
                <input type="search" placeholder="Search this output" aria-label="Search this output" data-testid="output-search"
                    prop:value=move || search.get() on:input=move |ev| search.set(event_target_value(&ev))/>
                {move || matches().map(|n| view! { <span class="muted" data-testid="output-matches">{format!("{n} matching line(s)")}</span> })}
                <a class="muted" href=format!("/api/v1/burnin/{job}/stages/{position}/output/{stream}") target="_blank" rel="noopener">"raw"</a>
            </div>
            {move || match text.get() {
                None => view! { <p class="loading">"Loading…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="notice error">{e}</p> }.into_any(),
                Some(Ok(_)) => view! { <pre class="stage-output-text">{shown()}</pre> }.into_any(),
            }}
        </details>
    }
}

#[component]
fn DeleteJob(id: i64, serial: String, changed: RwSignal<u32>) -> impl IntoView {
    let typed = RwSignal::new(String::new());
    let message = RwSignal::new(None::<Result<String, String>>);
    let navigate = leptos_router::hooks::use_navigate();
    let go = move |_| {
        let confirm = typed.get_untracked();
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            match delete_job(id, confirm).await {
                Ok(r) => {
                    message.set(Some(Ok(format!(
                        "Deleted job #{}: {} stage(s), {} output(s), {} SMART capture(s), {} temperature reading(s){}.",
                        r.job_id, r.stages, r.outputs, r.snapshots, r.temperature_samples,
                        if r.evidence { " and its sealed evidence" } else { "" }
                    ))));
                    changed.update(|n| *n += 1);
                    navigate("/history", Default::default());
                }
                Err(e) => message.set(Some(Err(e.message))),
            }
        });
    };
    view! {
        <section class="panel danger-zone">
            <h2>"Delete this job"</h2>
            <p>{format!("Removes burn-in #{id} for good: its stages, every kept output, both SMART captures, its temperature readings and its sealed evidence. Its audit events stay. A certificate already handed out can no longer be checked against this dashboard's record (it still verifies on its own). Type the drive's serial, {serial}, to confirm.")}</p>
            <input type="text" aria-label="The drive's serial" data-testid="delete-confirm" prop:value=move || typed.get() on:input=move |ev| typed.set(event_target_value(&ev))/>
            <button type="button" class="button danger" data-testid="delete-job" on:click=go>"Delete job"</button>
            {move || message.get().map(|m| match m {
                Ok(t) => view! { <p class="notice ok" role="status">{t}</p> }.into_any(),
                Err(t) => view! { <p class="notice error" role="alert">{t}</p> }.into_any(),
            })}
        </section>
    }
}

/// The certificate, laid out for paper: `?paper=letter` for US Letter, A4 otherwise.
#[component]
pub fn CertificatePage() -> impl IntoView {
    let id = job_id();
    let query = use_query_map();
    let letter = Memo::new(move |_| {
        query.with(|q| q.get("paper").is_some_and(|p| p.eq_ignore_ascii_case("letter")))
    });
    let view_data = Resource::new(
        move || id.get(),
        |id| async move {
            match id {
                Some(id) => fetch_certificate(id).await,
                None => Err(crate::AppError::bad_request(
                    "a certificate's address is /jobs/ID/certificate",
                )),
            }
        },
    );
    let print = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(window) = web_sys::window() {
            let _ = window.print();
        }
    };
    view! {
        <div class="print-tools no-print">
            <a class="button" href=move || id.get().map(|i| format!("/jobs/{i}")).unwrap_or_default()>"← Job"</a>
            <a class="button" class:primary=move || !letter.get() href=move || id.get().map(|i| format!("/jobs/{i}/certificate?paper=a4")).unwrap_or_default()>"A4"</a>
            <a class="button" class:primary=move || letter.get() href=move || id.get().map(|i| format!("/jobs/{i}/certificate?paper=letter")).unwrap_or_default()>"Letter"</a>
            <button type="button" class="button" on:click=print>"Print"</button>
            <a class="button" href=move || id.get().map(|i| format!("/api/v1/burnin/{i}/certificate.pdf?paper={}", if letter.get() { "letter" } else { "a4" })).unwrap_or_default()>"PDF"</a>
        </div>
        <Suspense fallback=|| view! { <p class="loading">"Loading the certificate…"</p> }>
            {move || view_data.get().map(|answer| match answer {
                Err(e) => view! { <p class="notice error" role="alert">{e.message}</p> }.into_any(),
                Ok(v) => view! { <PrintedCertificate v letter=letter.get()/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn PrintedCertificate(v: burnin::record::CertificateView, letter: bool) -> impl IntoView {
    let c = v.certificate;
    let class = outcome_class(&c.outcome);
    view! {
        <article class=format!("certificate {}", if letter { "letter" } else { "a4" }) data-testid="certificate" data-paper=if letter { "letter" } else { "a4" }>
            <header class="cert-head">
                <div>
                    <p class="cert-kicker">"Burn-in certificate"</p>
                    <h1>{c.model.clone()}</h1>
                    <p class="cert-serial">"Serial " <strong data-testid="cert-serial">{c.serial.clone()}</strong></p>
                    <p class=format!("cert-outcome {class}") data-testid="cert-outcome">{c.outcome.clone()}</p>
                </div>
                <figure class="cert-qr">
                    <div inner_html=v.qr_svg></div>
                    <figcaption>{format!("Job #{}", c.job_id)}</figcaption>
                </figure>
            </header>
            <section class="cert-grid">
                <dl class="facts">
                    <dt>"WWN"</dt><dd>{c.wwn.clone().unwrap_or_else(|| "–".into())}</dd>
                    <dt>"Capacity"</dt><dd>{format!("{} ({} bytes)", burnin::format::capacity(c.capacity_bytes), c.capacity_bytes)}</dd>
                    <dt>"Firmware"</dt><dd>{c.firmware.clone().unwrap_or_else(|| "–".into())}</dd>
                    <dt>"Power-on hours"</dt><dd>{number(c.power_on_hours)}</dd>
                    <dt>"Kind"</dt><dd>{c.kind.clone()}</dd>
                </dl>
                <dl class="facts">
                    <dt>"Host"</dt><dd>{c.host_name.clone()}</dd>
                    <dt>"Location"</dt><dd>{if c.location.is_empty() { "–".to_owned() } else { c.location.clone() }}</dd>
                    <dt>"Operator"</dt><dd>{c.operator.clone()}</dd>
                    <dt>"Started"</dt><dd>{when(c.started_at.as_deref())}</dd>
                    <dt>"Finished"</dt><dd>{when(c.finished_at.as_deref())}</dd>
                    <dt>"Temperature"</dt><dd>{match (c.temperature_min_c, c.temperature_max_c) { (Some(lo), Some(hi)) => format!("{lo:.0} – {hi:.0} °C"), _ => "–".into() }}</dd>
                </dl>
            </section>
            <h2>"Verdict"</h2>
            <ul class="reasons">{c.reasons.iter().map(|(level, text)| view! { <li class=format!("reason {level}")>{text.clone()}</li> }).collect_view()}</ul>
            <h2>"Stages"</h2>
            <table class="stages">
                <thead><tr><th>"#"</th><th>"Stage"</th><th>"Result"</th><th>"Duration"</th><th class="num">"MB/s"</th><th class="num">"Bad blocks"</th></tr></thead>
                <tbody>{c.stages.iter().map(|s| view! {
                    <tr><td>{s.position}</td><td>{s.label.clone()}</td><td>{s.state.clone()}</td><td>{s.duration.clone().unwrap_or_else(|| "–".into())}</td>
                    <td class="num">{s.throughput_mb_s.map_or_else(|| "–".into(), |t| format!("{t:.0}"))}</td><td class="num">{s.bad_blocks}</td></tr>
                }).collect_view()}</tbody>
            </table>
            <h2>"SMART before and after"</h2>
            <table class="counters">
                <thead><tr><th>"Counter"</th><th class="num">"Before"</th><th class="num">"After"</th></tr></thead>
                <tbody>{c.counters.iter().map(|l| view! {
                    <tr class:changed=l.changed><td>{l.name.clone()}</td><td class="num">{number(l.before)}</td><td class="num">{number(l.after)}</td></tr>
                }).collect_view()}</tbody>
            </table>
            <h2>{format!("Defects: {} bad block(s)", c.bad_blocks)}</h2>
            {(!c.defects.is_empty()).then(|| view! {
                <p class="cert-defects">{c.defects.iter().map(|d| format!("{} (byte {})", d.block, d.byte_offset)).collect::<Vec<_>>().join(", ")}</p>
            })}
            {(!v.throughput_chart.is_empty()).then(|| view! {
                <h2>"Throughput across the disk"</h2>
                <div class="chart-wrap" inner_html=v.throughput_chart.clone()></div>
            })}
            <h2>"Judged with"</h2>
            <dl class="facts thresholds">{c.thresholds.iter().map(|(l, v)| view! { <dt>{l.clone()}</dt><dd>{v.clone()}</dd> }).collect_view()}</dl>
            <footer class="cert-foot">
                <p>"Evidence bundle SHA-256: " <code data-testid="cert-hash">{c.bundle_hash.clone()}</code></p>
                <p>"Signed with Ed25519 key " <code>{c.public_key.clone()}</code> " on " {when(Some(&c.sealed_at))} " UTC."</p>
                <p class="muted">{format!("Check it: download the evidence bundle from {}, then run `burnin-server verify BUNDLE --key {}` (the hash it prints must equal the one above).", c.job_url, c.public_key)}</p>
            </footer>
        </article>
    }
}
