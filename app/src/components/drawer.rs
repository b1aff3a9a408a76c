//! The drive drawer: identity, pool status and SMART summary of one drive.

use burnin::{DriveRow, PoolMembership, format};
use leptos::prelude::*;

use crate::{components::time::age_of, live::LiveStore};

#[component]
pub fn DriveDrawer(
    store: LiveStore,
    open: RwSignal<Option<i64>>,
    now: ReadSignal<f64>,
) -> impl IntoView {
    let row = move || open.get().and_then(|id| store.row(id));
    let close = move |_| open.set(None);
    view! {
        <Show when=move || row().is_some()>
            <aside class="drawer" role="dialog" aria-modal="false" aria-label="Drive details">
                {move || row().map(|row| view! { <DrawerBody row now/> })}
                <button type="button" class="button drawer-close" on:click=close aria-label="Close the drive details">
                    "Close"
                </button>
            </aside>
        </Show>
    }
    .into_any()
}

#[component]
fn DrawerBody(row: RwSignal<DriveRow>, now: ReadSignal<f64>) -> impl IntoView {
    let r = move || row.get();
    view! {
        <header class="drawer-head">
            <h2 class="mono">{move || r().serial}</h2>
            <p>{move || format!("{} · {}", r().model, format::capacity(r().size_bytes))}</p>
        </header>
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
                <dd>{move || r().temperature_c.map(|c| format!("{c:.0} °C")).unwrap_or_else(|| "not reported".to_owned())}</dd>
                <dt>"Burn-in state"</dt><dd>{move || r().state.as_str()}</dd>
            </dl>
        </section>
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
