//! Text edited in place: click to edit, Enter or leaving the field saves, Escape restores.

use leptos::{ev, prelude::*};

#[component]
pub fn EditableText(
    /// The current value (from the live store, so other tabs' edits show up).
    #[prop(into)]
    value: Signal<String>,
    /// Called with the new value; returns an error message on failure.
    on_save: Callback<String>,
    /// Shown when empty.
    #[prop(into)]
    placeholder: String,
    /// Accessible name of the field.
    #[prop(into)]
    label: String,
) -> impl IntoView {
    let editing = RwSignal::new(false);
    let draft = RwSignal::new(String::new());
    let input_ref = NodeRef::<leptos::html::Input>::new();
    // `autofocus` only works at page load; a field that appears later is focused by hand.
    Effect::new(move |_| {
        if editing.get()
            && let Some(input) = input_ref.get()
        {
            let _ = input.focus();
            input.select();
        }
    });
    let begin = move || {
        draft.set(value.get_untracked());
        editing.set(true);
    };
    let commit = move || {
        if !editing.get_untracked() {
            return;
        }
        editing.set(false);
        let text = draft.get_untracked().trim().to_owned();
        if text != value.get_untracked() {
            on_save.run(text);
        }
    };
    let label_for_button = label.clone();
    // A viewer sees the text; only roles that may edit get a working button.
    let can_edit = crate::pages::access::may(burnin::access::Action::EditDrive);
    view! {
        <Show
            when=move || editing.get()
            fallback=move || {
                let label = label_for_button.clone();
                let placeholder = placeholder.clone();
                view! {
                    <button
                        type="button"
                        class="editable"
                        disabled=!can_edit
                        title=format!("Edit {label}")
                        aria-label=format!("Edit {label}")
                        on:click=move |ev: ev::MouseEvent| {
                            ev.stop_propagation();
                            begin();
                        }
                    >
                        {move || {
                            let text = value.get();
                            if text.is_empty() {
                                view! { <span class="placeholder">{placeholder.clone()}</span> }.into_any()
                            } else {
                                view! { <span>{text}</span> }.into_any()
                            }
                        }}
                    </button>
                }
            }
        >
            <input
                node_ref=input_ref
                class="editable-input"
                type="text"
                maxlength="500"
                aria-label=label.clone()
                prop:value=move || draft.get()
                on:input=move |ev| draft.set(event_target_value(&ev))
                on:click=|ev: ev::MouseEvent| ev.stop_propagation()
                on:keydown=move |ev: ev::KeyboardEvent| match ev.key().as_str() {
                    "Enter" => {
                        ev.prevent_default();
                        commit();
                    }
                    "Escape" => {
                        ev.prevent_default();
                        editing.set(false);
                    }
                    _ => {}
                }
                on:blur=move |_| commit()
            />
        </Show>
    }
    .into_any()
}
