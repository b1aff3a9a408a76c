//! History (every job, filtered, sorted and paged on the server, with its CSV) and the audit
//! log. Both keep their filters in the address, so a link reproduces the view, and both work
//! as plain forms before the page has hydrated.

use burnin::history::{AuditParams, JobParams, Sort, SortKey};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::record::{fetch_audit, fetch_history};
use crate::AppError;

/// `key=value` pairs of an address's query, in order.
type Pairs = Vec<(String, String)>;

/// A page's filters as the address gives them (blank ones left out), from the parameters
/// `burnin::history` accepts less those in `skip`, and the page's cursor.
fn address_filters(
    params: &'static [&'static str],
    skip: &'static [&'static str],
) -> (Memo<Pairs>, Memo<Option<String>>) {
    let query = use_query_map();
    let pairs = Memo::new(move |_| {
        query.with(|q| {
            params
                .iter()
                .filter(|k| !skip.contains(k))
                .filter_map(|k| {
                    q.get(k).filter(|v| !v.trim().is_empty()).map(|v| ((*k).to_owned(), v))
                })
                .collect::<Pairs>()
        })
    });
    let cursor = Memo::new(move |_| query.with(|q| q.get("cursor").filter(|c| !c.is_empty())));
    (pairs, cursor)
}

/// `key=value&…` of the given pairs, values percent-encoded.
fn query_string(pairs: &[(String, String)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect::<Vec<_>>().join("&")
}

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn when(text: &str) -> String {
    text.get(..16).unwrap_or(text).replace('T', " ")
}

fn hours(seconds: Option<i64>) -> String {
    match seconds {
        Some(s) if s >= 3600 => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
        Some(s) => format!("{}m {:02}s", s / 60, s % 60),
        None => "–".into(),
    }
}

/// A column's heading as a link that sorts the history by it: the first click in the column's
/// natural direction, the next reverses it. Filters stay; paging starts again.
#[component]
fn SortHeader(
    label: &'static str,
    key: SortKey,
    numeric: bool,
    pairs: Vec<(String, String)>,
) -> impl IntoView {
    let current = pairs
        .iter()
        .find(|(k, _)| k == "sort")
        .and_then(|(_, v)| Sort::parse(v).ok())
        .unwrap_or_default();
    let active = current.key == key;
    let next =
        Sort { key, descending: if active { !current.descending } else { key.first_descending() } };
    let mut linked: Vec<(String, String)> =
        pairs.into_iter().filter(|(k, _)| k != "sort").collect();
    if next != Sort::default() {
        linked.push(("sort".into(), next.as_string()));
    }
    let href = if linked.is_empty() {
        "/history".to_owned()
    } else {
        format!("/history?{}", query_string(&linked))
    };
    let aria = match (active, current.descending) {
        (false, _) => "none",
        (true, true) => "descending",
        (true, false) => "ascending",
    };
    let arrow = match (active, current.descending) {
        (false, _) => "",
        (true, true) => " ▼",
        (true, false) => " ▲",
    };
    view! {
        <th class:num=numeric aria-sort=aria data-sort=key.as_str()>
            <a class="sort" href=href>{label}{arrow}</a>
        </th>
    }
}

#[component]
pub fn HistoryPage() -> impl IntoView {
    let query = use_query_map();
    let (pairs, cursor) = address_filters(&burnin::history::JOB_PARAMS, &["drive_id", "cursor"]);
    let page = Resource::new(
        move || (pairs.get(), cursor.get()),
        |(pairs, cursor)| {
            let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
            fetch_history(JobParams {
                drive_id: None,
                host_id: get("host_id"),
                model: get("model"),
                serial: get("serial"),
                state: get("state"),
                verdict: get("verdict"),
                operator: get("operator"),
                from: get("from"),
                to: get("to"),
                sort: get("sort"),
                limit: get("limit"),
                cursor,
            })
        },
    );
    let value = move |k: &'static str| query.with(|q| q.get(k).unwrap_or_default());
    let csv = move || format!("/api/v1/burnin.csv?{}", query_string(&pairs.get()));
    let certificates =
        move || format!("/api/v1/burnin/certificates.pdf?{}", query_string(&pairs.get()));
    view! {
        <section class="page-head">
            <h1>"History"</h1>
            <div class="head-actions">
                <a class="button" href=csv data-testid="csv" download>"Download CSV"</a>
                <a class="button" href=certificates data-testid="certificates-pdf" download
                    title="The certificates of every finished job these filters match, in one PDF">"Certificates (PDF)"</a>
                <a class="button" href="/verify">"Verify a bundle"</a>
            </div>
        </section>
        <form class="toolbar history-filters" method="get" action="/history" data-testid="history-filters">
            <label class="field"><span>"Serial"</span>
                <input type="search" name="serial" prop:value=move || value("serial") placeholder="any part"/></label>
            <label class="field"><span>"Model"</span>
                <input type="search" name="model" prop:value=move || value("model") placeholder="any part"/></label>
            <HostFilter any="Any"/>
            <label class="field"><span>"State"</span>
                <select name="state" prop:value=move || value("state")>
                    <option value="">"Any"</option>
                    {burnin::job::JobState::ALL.into_iter().map(|state| {
                        let s = state.as_str();
                        view! { <option value=s selected=move || value("state") == s>{s}</option> }
                    }).collect_view()}
                </select></label>
            <label class="field"><span>"Verdict"</span>
                <select name="verdict" prop:value=move || value("verdict")>
                    <option value="">"Any"</option>
                    {[("pass", "Pass"), ("warn", "Pass with warnings"), ("fail", "Fail"), ("incomplete", "Incomplete")].into_iter().map(|(v, l)| {
                        view! { <option value=v selected=move || value("verdict") == v>{l}</option> }
                    }).collect_view()}
                </select></label>
            <label class="field"><span>"Operator"</span>
                <input type="search" name="operator" prop:value=move || value("operator")/></label>
            <label class="field"><span>"From"</span>
                <input type="date" name="from" prop:value=move || value("from")/></label>
            <label class="field"><span>"To"</span>
                <input type="date" name="to" prop:value=move || value("to")/></label>
            <label class="field"><span>"Sort"</span>
                <select name="sort" prop:value=move || value("sort")>
                    {[("", "Newest first"), ("created", "Oldest first"), ("-finished", "Recently finished"), ("serial", "Serial"), ("model", "Model"), ("host", "Host"), ("verdict", "Verdict"), ("-duration", "Longest")].into_iter().map(|(v, l)| {
                        view! { <option value=v selected=move || value("sort") == v>{l}</option> }
                    }).collect_view()}
                </select></label>
            <button type="submit" class="button primary" data-testid="apply-filters">"Apply"</button>
            <a class="button" href="/history">"Clear"</a>
        </form>
        <Suspense fallback=|| view! { <p class="loading">"Loading the history…"</p> }>
            {move || page.get().map(|answer| match answer {
                Err(e) => view! { <p class="notice error" role="alert" data-testid="history-error">{e.message}</p> }.into_any(),
                Ok(p) if p.rows.is_empty() => view! {
                    <section class="panel empty" data-testid="no-history">
                        <h2>"No jobs match"</h2>
                        <p>"Every burn-in ever run shows here. Change or clear the filters, or start a burn-in from the drives table."</p>
                    </section>
                }.into_any(),
                Ok(p) => {
                    let next = p.next_cursor.clone().map(|c| {
                        let mut all = pairs.get_untracked();
                        all.push(("cursor".into(), c));
                        format!("/history?{}", query_string(&all))
                    });
                    let first = cursor.get_untracked().map(|_| format!("/history?{}", query_string(&pairs.get_untracked())));
                    view! {
                        <div class="table-wrap">
                        <table class="history" data-testid="history">
                            <thead><tr>
                                {[
                                    ("Job", SortKey::Created, false),
                                    ("Serial", SortKey::Serial, false),
                                    ("Model", SortKey::Model, false),
                                    ("Capacity", SortKey::Capacity, true),
                                    ("Host", SortKey::Host, false),
                                    ("Location", SortKey::Location, false),
                                    ("State", SortKey::State, false),
                                    ("Verdict", SortKey::Verdict, false),
                                    ("Bad blocks", SortKey::BadBlocks, true),
                                    ("Operator", SortKey::Operator, false),
                                    ("Started", SortKey::Started, false),
                                    ("Duration", SortKey::Duration, true),
                                ].into_iter().map(|(label, key, numeric)| {
                                    let pairs = pairs.get_untracked();
                                    view! { <SortHeader label key numeric pairs/> }
                                }).collect_view()}
                                <th>"Record"</th>
                            </tr></thead>
                            <tbody>
                                {p.rows.into_iter().map(|r| {
                                    let verdict_class = format!("verdict-tag {}", r.verdict);
                                    view! {
                                        <tr data-job=r.job_id.to_string() data-serial=r.serial.clone()>
                                            <td><a href=format!("/jobs/{}", r.job_id) data-testid="job-link">{format!("#{}", r.job_id)}</a></td>
                                            <td><a href=format!("/drives/{}", encode(&r.serial))>{r.serial.clone()}</a></td>
                                            <td>{r.model.clone()}</td>
                                            <td class="num">{burnin::format::capacity(r.capacity_bytes)}</td>
                                            <td>{r.host.clone()}</td>
                                            <td>{r.location.clone()}</td>
                                            <td><span class=format!("state {}", r.state)>{r.state.clone()}</span></td>
                                            <td><span class=verdict_class title=r.first_reason.clone()>{r.verdict.clone()}</span></td>
                                            <td class="num">{r.bad_blocks}</td>
                                            <td>{r.operator.clone()}</td>
                                            <td>{when(&r.started)}</td>
                                            <td class="num">{hours(r.duration_seconds)}</td>
                                            <td class="record-links">
                                                {burnin::job::JobState::parse(&r.state).is_some_and(|s| !s.is_active()).then(|| view! {
                                                    <a href=format!("/api/v1/burnin/{}/certificate.pdf", r.job_id) data-testid="row-certificate"
                                                        title="The certificate (PDF)">"PDF"</a>
                                                    " · "
                                                    <a href=format!("/api/v1/burnin/{}/evidence", r.job_id) data-testid="row-bundle" download
                                                        title="The signed evidence bundle (JSON)">"Bundle"</a>
                                                })}
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                        </div>
                        <nav class="pager" aria-label="Pages">
                            {first.map(|href| view! { <a class="button" href=href data-testid="first-page">"← First page"</a> })}
                            {next.map(|href| view! { <a class="button" href=href data-testid="next-page">"Next page →"</a> })}
                        </nav>
                    }.into_any()
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let (pairs, cursor) = address_filters(&burnin::history::AUDIT_PARAMS, &["cursor"]);
    let page = Resource::new(
        move || (pairs.get(), cursor.get()),
        |(pairs, cursor)| {
            let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
            fetch_audit(AuditParams {
                actor: get("actor"),
                action: get("action"),
                subject: get("subject"),
                from: get("from"),
                to: get("to"),
                limit: get("limit"),
                cursor,
            })
        },
    );
    let value = move |k: &'static str| query.with(|q| q.get(k).unwrap_or_default());
    view! {
        <section class="page-head">
            <h1>"Audit log"</h1>
            <a class="button" href=move || format!("/api/v1/audit?{}", query_string(&pairs.get()))>"As JSON"</a>
        </section>
        <p class="hint">"Every change anyone made, and every refusal, newest first. The log is append-only: no page or route edits or removes an event, and the database refuses to."</p>
        <form class="toolbar audit-filters" method="get" action="/audit" data-testid="audit-filters">
            <label class="field"><span>"Who"</span><input type="search" name="actor" prop:value=move || value("actor")/></label>
            <label class="field"><span>"Action"</span><input type="search" name="action" placeholder="burnin.* or burnin.refused" prop:value=move || value("action")/></label>
            <label class="field"><span>"Subject"</span><input type="search" name="subject" placeholder="serial, host, user" prop:value=move || value("subject")/></label>
            <label class="field"><span>"From"</span><input type="date" name="from" prop:value=move || value("from")/></label>
            <label class="field"><span>"To"</span><input type="date" name="to" prop:value=move || value("to")/></label>
            <button type="submit" class="button primary">"Apply"</button>
            <a class="button" href="/audit">"Clear"</a>
        </form>
        <Suspense fallback=|| view! { <p class="loading">"Loading the audit log…"</p> }>
            {move || page.get().map(|answer| match answer {
                Err(e) => view! { <p class="notice error" role="alert">{e.message}</p> }.into_any(),
                Ok(p) if p.events.is_empty() => view! { <section class="panel empty"><h2>"No events match"</h2></section> }.into_any(),
                Ok(p) => {
                    let next = p.next_cursor.clone().map(|c| {
                        let mut all = pairs.get_untracked();
                        all.push(("cursor".into(), c));
                        format!("/audit?{}", query_string(&all))
                    });
                    view! {
                        <div class="table-wrap">
                        <table class="audit" data-testid="audit">
                            <thead><tr><th>"When (UTC)"</th><th>"Who"</th><th>"Action"</th><th>"Subject"</th><th>"From"</th><th>"What"</th></tr></thead>
                            <tbody>
                                {p.events.into_iter().map(|e| view! {
                                    <tr data-action=e.action.clone()>
                                        <td class="nowrap">{e.at.replace('T', " ").trim_end_matches('Z').to_owned()}</td>
                                        <td>{e.actor.clone()}</td>
                                        <td><code>{e.action.clone()}</code></td>
                                        <td>{e.subject.clone()}</td>
                                        <td>{e.address.clone()}</td>
                                        <td><AuditDetail detail=e.detail.clone()/></td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        </div>
                        <nav class="pager" aria-label="Pages">
                            {cursor.get_untracked().map(|_| view! { <a class="button" href=format!("/audit?{}", query_string(&pairs.get_untracked()))>"← Newest"</a> })}
                            {next.map(|href| view! { <a class="button" href=href data-testid="next-page">"Older →"</a> })}
                        </nav>
                    }.into_any()
                }
            })}
        </Suspense>
    }
}

/// An event's detail: each field on a line; a change as old → new; a job id as its link.
#[component]
pub fn AuditDetail(detail: serde_json::Value) -> impl IntoView {
    use serde_json::Value;
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let Value::Object(map) = detail else {
        return view! { <span>{text(&detail)}</span> }.into_any();
    };
    view! {
        <dl class="detail">
            {map.into_iter().map(|(key, value)| {
                let shown = match (&value, key.as_str()) {
                    (Value::Number(n), "job_id") => view! { <a href=format!("/jobs/{n}")>{format!("#{n}")}</a> }.into_any(),
                    (Value::Object(change), _) if change.contains_key("old") || change.contains_key("new") => {
                        let old = change.get("old").map(text).unwrap_or_default();
                        let new = change.get("new").map(text).unwrap_or_default();
                        view! { <span><del>{old}</del>" → "<ins>{new}</ins></span> }.into_any()
                    }
                    _ => view! { <span>{text(&value)}</span> }.into_any(),
                };
                view! { <dt>{key}</dt><dd>{shown}</dd> }
            }).collect_view()}
        </dl>
    }
    .into_any()
}

/// A host a record filter can choose: its id and name, archived ones marked.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HostChoice {
    pub id: i64,
    pub name: String,
    pub archived: bool,
}

impl HostChoice {
    /// How a filter's menu names it: archived hosts say so.
    pub fn label(&self) -> String {
        if self.archived { format!("{} (archived)", self.name) } else { self.name.clone() }
    }
}

/// The hosts a record filter offers: those in service, then the archived ones whose jobs the
/// record keeps. Names only: the page carries no drive list for a host menu.
#[server]
pub async fn host_choices() -> Result<Vec<HostChoice>, AppError> {
    crate::backend::reply(
        async {
            let backend = crate::backend::backend()?;
            let caller = crate::backend::principal().await?;
            let active = backend.list_hosts(caller.clone()).await?;
            let archived = backend.archived_hosts(caller).await?;
            Ok(active
                .into_iter()
                .map(|h| HostChoice { id: h.id, name: h.name, archived: false })
                .chain(archived.into_iter().map(|h| HostChoice {
                    id: h.id,
                    name: h.name,
                    archived: true,
                }))
                .collect())
        }
        .await,
    )
}

/// A filter form's host choice: `host_id` from the address, among every host the record
/// knows; `any` names the empty choice.
#[component]
pub fn HostFilter(any: &'static str) -> impl IntoView {
    let query = use_query_map();
    let chosen = move || query.with(|q| q.get("host_id").unwrap_or_default());
    let hosts = Resource::new(|| (), |_| host_choices());
    view! {
        <label class="field"><span>"Host"</span>
            <select name="host_id" prop:value=chosen>
                <option value="">{any}</option>
                <Suspense fallback=|| ()>
                    {move || hosts.get().and_then(Result::ok).map(|hosts| hosts.into_iter().map(|h| {
                        let id = h.id.to_string();
                        let selected = chosen() == id;
                        view! { <option value=id selected=selected>{h.label()}</option> }
                    }).collect_view())}
                </Suspense>
            </select></label>
    }
}
