//! The verdict and its evidence in a job's panel: what a technician copies into an RMA.

use burnin::{
    job::{JobView, StageKind},
    verdict::{Level, Outcome, Verdict, report_text},
};
use leptos::prelude::*;

fn outcome_text(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "Pass",
        Outcome::Warn => "Pass with warnings",
        Outcome::Fail => "Fail",
        Outcome::Incomplete => "Incomplete",
    }
}

fn level_text(level: Level) -> &'static str {
    match level {
        Level::Fail => "fail",
        Level::Warn => "warn",
        Level::Info => "note",
    }
}

/// An inline SVG line of the temperatures, so the shape of a run is visible at a glance.
fn sparkline(points: &[f64]) -> Option<impl IntoView + use<>> {
    if points.len() < 2 {
        return None;
    }
    let (min, max) =
        points.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &c| (lo.min(c), hi.max(c)));
    let span = (max - min).max(1.0);
    let step = 200.0 / (points.len() - 1) as f64;
    let path: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{:.1},{:.1}", i as f64 * step, 38.0 - (c - min) / span * 36.0))
        .collect();
    Some(view! {
        <figure class="temperature-series">
            <svg viewBox="0 0 200 40" width="200" height="40" role="img"
                aria-label=format!("temperature from {min:.0} to {max:.0} °C")>
                <polyline points=path.join(" ") fill="none" stroke="currentColor" stroke-width="1.5"/>
            </svg>
            <figcaption>{format!("{min:.0}–{max:.0} °C over the run")}</figcaption>
        </figure>
    })
}

#[component]
pub fn VerdictPanel(job: JobView, verdict: Verdict) -> impl IntoView {
    let id = job.id;
    let report = report_text(&job, &verdict);
    let copied = RwSignal::new(None::<&'static str>);
    let area = NodeRef::<leptos::html::Textarea>::new();
    let copy = {
        let report = report.clone();
        move |_| {
            copied.set(Some(copy_text(&report, area)));
        }
    };
    let bad_blocks: Vec<(u64, Option<u32>)> = job
        .stages
        .iter()
        .filter(|s| s.kind == StageKind::Surface)
        .flat_map(|s| s.bad_block_list.iter().map(|b| (*b, s.block_size)))
        .collect();
    let outcome = verdict.outcome;
    view! {
        <section class="verdict" data-outcome=outcome.as_str()>
            <h4>
                <span class=format!("badge verdict-{}", outcome.as_str())>{outcome_text(outcome)}</span>
                " Verdict"
            </h4>
            {(!verdict.reasons.is_empty()).then(|| view! {
                <ul class="reasons">
                    {verdict.reasons.iter().map(|reason| view! {
                        <li class=format!("reason-{}", level_text(reason.level)) data-rule=reason.rule.clone()>
                            <span class="level">{level_text(reason.level)}</span>" "
                            {reason.text.clone()}
                            <small class="evidence">{format!(" — {}", reason.evidence)}</small>
                        </li>
                    }).collect_view()}
                </ul>
            })}
            {(!verdict.deltas.is_empty()).then(|| view! {
                <table class="deltas">
                    <caption>"SMART counters, before and after"</caption>
                    <thead><tr><th scope="col">"Counter"</th><th scope="col">"Before"</th><th scope="col">"After"</th></tr></thead>
                    <tbody>
                        {verdict.deltas.iter().map(|d| {
                            let rose = matches!((d.before, d.after), (Some(b), Some(a)) if a > b);
                            let show = |v: Option<u64>| v.map_or("–".to_owned(), |v| v.to_string());
                            view! {
                                <tr class:rose=rose>
                                    <th scope="row">{d.name.clone()}</th>
                                    <td>{show(d.before)}</td>
                                    <td>{show(d.after)}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            })}
            {sparkline(&job.temperatures)}
            {verdict.max_temperature_c.map(|max| view! { <p class="muted">{format!("Hottest: {max:.0} °C")}</p> })}
            {(!bad_blocks.is_empty()).then(|| view! {
                <details class="bad-blocks">
                    <summary>{format!("{} bad block numbers", bad_blocks.len())}</summary>
                    <pre>{bad_blocks.iter().map(|(block, size)| match size {
                        Some(size) => format!("{block} (byte {})", block * u64::from(*size)),
                        None => block.to_string(),
                    }).collect::<Vec<_>>().join("\n")}</pre>
                </details>
            })}
            <p class="evidence-links">
                <a href=format!("/api/v1/burnin/{id}/report") target="_blank" rel="noopener">"Report (text)"</a>
                " · "
                <a href=format!("/api/v1/burnin/{id}/smart/before") target="_blank" rel="noopener">"SMART before (JSON)"</a>
                " · "
                <a href=format!("/api/v1/burnin/{id}/smart/after") target="_blank" rel="noopener">"SMART after (JSON)"</a>
                {(!job.state.is_active()).then(|| view! {
                    " · "
                    <a href=format!("/jobs/{id}/certificate") data-testid="drawer-certificate">"Certificate"</a>
                    " · "
                    <a href=format!("/api/v1/burnin/{id}/evidence") data-testid="drawer-bundle" download>"Evidence bundle"</a>
                })}
            </p>
            <details class="report">
                <summary>"Report for an RMA or a ticket"</summary>
                <textarea node_ref=area readonly rows="12" aria-label="Burn-in report">{report.clone()}</textarea>
                <button type="button" class="button" on:click=copy>"Copy report"</button>
                {move || copied.get().map(|text| view! { <span class="muted" role="status">" "{text}</span> })}
            </details>
        </section>
    }
    .into_any()
}

/// Copies through the Clipboard API where the page may use it (HTTPS or localhost); on a
/// plain-HTTP LAN address it selects the text so Ctrl+C copies it.
#[cfg(feature = "hydrate")]
fn copy_text(text: &str, area: NodeRef<leptos::html::Textarea>) -> &'static str {
    use wasm_bindgen::JsCast;
    let clipboard = web_sys::window()
        .map(|w| w.navigator())
        .and_then(|n| js_sys::Reflect::get(&n, &"clipboard".into()).ok())
        .filter(|c| !c.is_undefined() && !c.is_null());
    if let Some(clipboard) = clipboard
        && let Ok(write) = js_sys::Reflect::get(&clipboard, &"writeText".into())
        && let Ok(write) = write.dyn_into::<js_sys::Function>()
        && write.call1(&clipboard, &text.into()).is_ok()
    {
        return "Copied.";
    }
    if let Some(area) = area.get_untracked() {
        area.select();
    }
    "Selected: press Ctrl+C (this page is not HTTPS, so it may not use the clipboard)."
}

#[cfg(not(feature = "hydrate"))]
fn copy_text(_text: &str, _area: NodeRef<leptos::html::Textarea>) -> &'static str {
    ""
}
