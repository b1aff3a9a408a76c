//! The start dialog: stages to run (tick, drag or move to reorder), the surface test's
//! warning, the confirmation a destructive start needs, and the password when it is asked again.

use burnin::{
    DriveKind, DriveRow,
    job::{StageKind, StartRequest, SurfaceOptions, batch_phrase},
};
use leptos::prelude::*;

use crate::{
    AppError, ErrorKind,
    pages::{access::step_up, burnin::start_burnin},
};

const CHOICES: [StageKind; 4] =
    [StageKind::ShortTest, StageKind::LongTest, StageKind::ConveyanceTest, StageKind::Surface];

#[component]
pub fn StartDialog(
    /// The drives to burn in.
    drives: Vec<DriveRow>,
    /// Closes the dialog; `true` after a successful start.
    on_close: Callback<bool>,
) -> impl IntoView {
    let any_flash = drives.iter().any(|d| matches!(d.kind, DriveKind::Ssd | DriveKind::Nvme));
    // Defaults: short → long → surface, but no surface test for flash (it wears it out).
    let initial: Vec<(StageKind, bool)> = CHOICES
        .into_iter()
        .map(|kind| {
            let on = match kind {
                StageKind::ShortTest | StageKind::LongTest => true,
                StageKind::Surface => !any_flash,
                _ => false,
            };
            (kind, on)
        })
        .collect();
    let stages = RwSignal::new(initial);
    let dragging = RwSignal::new(None::<usize>);
    let password = RwSignal::new(String::new());
    let needs_password = RwSignal::new(false);
    let confirmation = RwSignal::new(String::new());
    let stop_at_first = RwSignal::new(false);
    let error = RwSignal::new(None::<AppError>);
    let busy = RwSignal::new(false);
    let count = drives.len();
    let ids: Vec<i64> = drives.iter().map(|d| d.id).collect();
    let single_serial = (count == 1).then(|| drives[0].serial.clone());
    let destructive = Memo::new(move |_| {
        stages.with(|s| s.iter().any(|(k, on)| *on && *k == StageKind::Surface))
    });
    let expected = single_serial.clone().unwrap_or_else(|| batch_phrase(count));
    let confirmed = {
        let expected = expected.clone();
        move || !destructive.get() || confirmation.get().trim() == expected
    };
    let move_stage = move |from: usize, to: usize| {
        stages.update(|s| {
            if from < s.len() && to < s.len() && from != to {
                let item = s.remove(from);
                s.insert(to, item);
            }
        })
    };
    // One key per dialog: a double click, or a retry after the answer was lost, starts
    // nothing twice (the server returns the first answer for a repeated key).
    let key = StoredValue::new(None::<String>);
    let submit = {
        let ids = ids.clone();
        let single_serial = single_serial.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let idempotency_key = key.get_value().unwrap_or_else(|| {
                let fresh = request_key();
                key.set_value(Some(fresh.clone()));
                fresh
            });
            let chosen: Vec<StageKind> =
                stages.get_untracked().into_iter().filter(|(_, on)| *on).map(|(k, _)| k).collect();
            let text = confirmation.get_untracked().trim().to_owned();
            let request = StartRequest {
                drive_ids: ids.clone(),
                stages: chosen,
                // The server records the signed-in user as the operator.
                operator: String::new(),
                confirm_serial: single_serial.as_ref().map(|_| text.clone()),
                confirm_phrase: single_serial.is_none().then_some(text),
                surface: SurfaceOptions {
                    max_bad_blocks: stop_at_first.get_untracked().then_some(1),
                },
                idempotency_key: Some(idempotency_key),
            };
            busy.set(true);
            leptos::task::spawn_local(async move {
                // An erase asks for the password again when the sign-in is older than ten
                // minutes: entered here, it renews the session, then the start goes.
                if needs_password.get_untracked()
                    && let Err(failure) = step_up(password.get_untracked()).await
                {
                    error.set(Some(failure));
                    busy.set(false);
                    return;
                }
                match start_burnin(request).await {
                    Ok(_) => on_close.run(true),
                    Err(failure) => {
                        if failure.kind == ErrorKind::StepUp {
                            needs_password.set(true);
                        }
                        error.set(Some(failure));
                    }
                }
                busy.set(false);
            });
        }
    };
    let serials: Vec<String> = drives.iter().map(|d| d.serial.clone()).collect();
    view! {
        <div class="modal-backdrop">
            <form class="panel dialog start-dialog" role="dialog" aria-modal="true" aria-label="Start a burn-in" on:submit=submit>
                <h2>{format!("Burn in {count} drive{}", if count == 1 { "" } else { "s" })}</h2>
                <p class="muted">{serials.join(", ")}</p>
                <fieldset>
                    <legend>"Stages, in order (drag or use the arrows)"</legend>
                    <ol class="stages">
                        {move || stages.get().into_iter().enumerate().map(|(index, (kind, on))| {
                            let last = stages.with(Vec::len) - 1;
                            view! {
                                <li
                                    class:destructive=kind.is_destructive()
                                    draggable="true"
                                    data-stage=kind.as_str()
                                    on:dragstart=move |_| dragging.set(Some(index))
                                    on:dragover=move |ev| ev.prevent_default()
                                    on:drop=move |ev| {
                                        ev.prevent_default();
                                        if let Some(from) = dragging.get_untracked() {
                                            move_stage(from, index);
                                        }
                                        dragging.set(None);
                                    }
                                >
                                    <label>
                                        <input type="checkbox" name=kind.as_str() prop:checked=on
                                            on:change=move |_| stages.update(|s| s[index].1 = !s[index].1)/>
                                        " " {kind.label()}
                                    </label>
                                    <span class="reorder">
                                        <button type="button" class="button small" aria-label=format!("Move {} up", kind.label()) disabled=index == 0 on:click=move |_| move_stage(index, index.saturating_sub(1))>"↑"</button>
                                        <button type="button" class="button small" aria-label=format!("Move {} down", kind.label()) disabled=index == last on:click=move |_| move_stage(index, index + 1)>"↓"</button>
                                    </span>
                                </li>
                            }
                        }).collect_view()}
                    </ol>
                    <p class="muted">"A pre-check runs first (the drive is the one recorded, readable, not too hot) and a final SMART check last."</p>
                    {any_flash.then(|| view! { <p class="notice">"SSD/NVMe selected: the surface test is off by default because it wears flash."</p> })}
                </fieldset>
                <Show when=move || destructive.get()>
                    <div class="danger-zone" role="alert">
                        <p><strong>"The surface test erases every selected drive."</strong>" Disks in a pool, an exported pool or used for boot are refused."</p>
                        <label class="field">
                            <input type="checkbox" prop:checked=move || stop_at_first.get() on:change=move |_| stop_at_first.update(|v| *v = !*v)/>
                            " Stop at the first bad block (otherwise the full list is collected for an RMA)"
                        </label>
                        <label class="field">
                            <span>{format!("Type {expected} to confirm")}</span>
                            <input type="text" name="confirmation" autocomplete="off" prop:value=move || confirmation.get() on:input=move |ev| confirmation.set(event_target_value(&ev))/>
                        </label>
                    </div>
                </Show>
                <Show when=move || needs_password.get()>
                    <label class="field">
                        <span>"Your password (asked again before erasing)"</span>
                        <input type="password" name="password" autocomplete="current-password" prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/>
                    </label>
                </Show>
                {move || error.get().map(|e| view! {
                    <div class="notice error" role="alert">
                        <p>{e.message.clone()}</p>
                        <ul>{e.reasons.iter().map(|r| view! { <li>{r.clone()}</li> }).collect_view()}</ul>
                    </div>
                })}
                <div class="form-actions">
                    <button type="submit" class=move || if destructive.get() { "button danger-fill" } else { "button primary" }
                        disabled={
                            let confirmed = confirmed.clone();
                            move || busy.get() || !confirmed() || (needs_password.get() && password.get().is_empty())
                        }>
                        {move || if destructive.get() { "Erase and test" } else { "Start" }}
                    </button>
                    <button type="button" class="button" on:click=move |_| on_close.run(false)>"Cancel"</button>
                </div>
            </form>
        </div>
    }
    .into_any()
}

/// A random key for one start dialog.
fn request_key() -> String {
    #[cfg(feature = "hydrate")]
    {
        let part = || (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64;
        format!("ui-{:014x}{:014x}{:x}", part(), part(), js_sys::Date::now() as u64)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        "ui-server-rendered".to_owned()
    }
}
