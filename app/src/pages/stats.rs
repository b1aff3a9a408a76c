//! The statistics page: the record's finished burn-ins as figures, each a chart with its
//! numbers in a table beside it. The server computes every figure and draws every chart
//! (`burnin::stats`, `burnin::chart`); this page only lays them out, so the browser bundle
//! carries no statistics or plotting code. (The server function's generated type is
//! `Statistics`, so the figures' type is named by its path.)

use burnin::stats::Figure;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::AppError;

#[server(input = Json)]
pub async fn statistics(
    params: burnin::history::StatsParams,
) -> Result<burnin::stats::Statistics, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?.statistics(crate::backend::principal().await?, params).await
        }
        .await,
    )
}

#[component]
pub fn StatsPage() -> impl IntoView {
    let query = leptos_router::hooks::use_query_map();
    // The filters live in the address, so a link opens the same figures.
    let params = Memo::new(move |_| {
        query.with(|q| {
            let get = |k: &str| q.get(k).filter(|v| !v.trim().is_empty());
            burnin::history::StatsParams {
                host_id: get("host_id"),
                from: get("from"),
                to: get("to"),
            }
        })
    });
    let stats = Resource::new(move || params.get(), statistics);
    let value = move |k: &'static str| query.with(|q| q.get(k).unwrap_or_default());
    view! {
        <section class="page-head">
            <h1>"Statistics"</h1>
        </section>
        <form class="toolbar stats-filters" method="get" action="/stats" data-testid="stats-filters">
            <crate::pages::history::HostFilter any="Every host"/>
            <label class="field"><span>"Ended from"</span>
                <input type="date" name="from" prop:value=move || value("from")/></label>
            <label class="field"><span>"to (through)"</span>
                <input type="date" name="to" prop:value=move || value("to")/></label>
            <button type="submit" class="button primary" data-testid="apply-stats">"Apply"</button>
            <a class="button" href="/stats">"Clear"</a>
        </form>
        <Suspense fallback=|| view! { <p class="loading">"Loading statistics…"</p> }>
            {move || Suspend::new(async move {
                match stats.await {
                    Ok(stats) => {
                        let filtered = params.with_untracked(|p| p != &Default::default());
                        view! { <Figures stats filtered/> }.into_any()
                    }
                    Err(error) => view! {
                        <section class="panel error" role="alert">
                            <h2>"The statistics could not be loaded"</h2>
                            <p>{error.message}</p>
                            <p><a href="/stats">"Show every finished burn-in"</a></p>
                        </section>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Figures(stats: burnin::stats::Statistics, filtered: bool) -> impl IntoView {
    let summary = if stats.judged == 0 && filtered {
        "No finished burn-in matches these filters: widen the dates or choose every host."
            .to_owned()
    } else if stats.judged == 0 {
        "No burn-in has finished yet: the figures fill in as jobs pass or fail.".to_owned()
    } else {
        format!(
            "{} finished burn-ins: {} passed, {} passed with warnings, {} failed.",
            stats.judged, stats.passed, stats.warned, stats.failed
        )
    };
    view! {
        <p class="stats-summary" data-testid="stats-summary">{summary}</p>
        <div class="stats-figures">
            {stats.figures.into_iter().map(|figure| view! { <FigurePanel figure/> }).collect_view()}
        </div>
    }
}

#[component]
fn FigurePanel(figure: Figure) -> impl IntoView {
    let Figure { id, title, note, chart, columns, rows } = figure;
    let empty = rows.is_empty();
    view! {
        <section class="panel stats-figure" id=id.clone() data-testid=format!("figure-{id}")>
            <h2>{title.clone()}</h2>
            <p class="muted">{note}</p>
            <div class="stats-body">
                <div class="chart-wrap" inner_html=chart></div>
                <div class="table-wrap stats-table">
                    <table class="stats">
                        <caption class="visually-hidden">{title}</caption>
                        <thead>
                            <tr>{columns.into_iter().map(|c| view! { <th scope="col">{c}</th> }).collect_view()}</tr>
                        </thead>
                        <tbody>
                            {rows.into_iter().map(|row| view! {
                                <tr>{row.into_iter().map(|cell| view! { <td>{cell}</td> }).collect_view()}</tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    {empty.then(|| view! { <p class="muted">"Nothing to count yet."</p> })}
                </div>
            </div>
        </section>
    }
}
