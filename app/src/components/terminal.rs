//! The Terminal tab: a shell on the drive's NAS (admins, password entered within the step-up
//! window). The screen is xterm.js, loaded by `app/js/terminal.js` only when a terminal opens;
//! the session outlives the drawer, and a dropped link shows a bar to reconnect.

use burnin::access::Action;
use leptos::prelude::*;

use crate::{
    ErrorKind,
    pages::{access::step_up, hosts::open_terminal_ticket},
};

#[cfg(feature = "hydrate")]
mod js {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen(module = "/js/terminal.js")]
    extern "C" {
        #[wasm_bindgen(js_name = terminalOpen)]
        pub fn terminal_open(
            key: &str,
            container: &JsValue,
            url: Option<String>,
            on_state: &js_sys::Function,
        );
        #[wasm_bindgen(js_name = terminalConnected)]
        pub fn terminal_connected(key: &str) -> bool;
        #[wasm_bindgen(js_name = terminalClose)]
        pub fn terminal_close(key: &str);
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Link {
    Starting,
    /// The server wants the password again first.
    Password,
    Connecting,
    #[cfg_attr(not(feature = "hydrate"), expect(dead_code, reason = "reported by the browser"))]
    Open,
    Closed,
    Failed(String),
}

/// Where the screen goes, and how it is reported; the browser side only.
#[cfg(feature = "hydrate")]
fn attach(
    key: &str,
    container: &leptos::web_sys::HtmlDivElement,
    url: Option<String>,
    link: RwSignal<Link>,
) {
    use wasm_bindgen::{JsCast, prelude::Closure};
    let report = Closure::<dyn FnMut(String)>::new(move |state: String| {
        link.set(match state.as_str() {
            "connecting" => Link::Connecting,
            "open" => Link::Open,
            "closed" => Link::Closed,
            other => Link::Failed(other.trim_start_matches("error: ").to_owned()),
        })
    });
    js::terminal_open(key, container.as_ref(), url, report.as_ref().unchecked_ref());
    // The JS side keeps calling it for as long as the session lives.
    report.forget();
}

#[component]
pub fn TerminalPane(host_id: i64, host_name: String) -> impl IntoView {
    let key = format!("host-{host_id}");
    let screen = NodeRef::<leptos::html::Div>::new();
    let link = RwSignal::new(Link::Starting);
    let password = RwSignal::new(String::new());
    let allowed = crate::pages::access::may(Action::OpenTerminal);

    // Asks for a ticket and opens the socket with it.
    let connect = {
        let key = key.clone();
        move || {
            let key = key.clone();
            link.set(Link::Connecting);
            leptos::task::spawn_local(async move {
                match open_terminal_ticket(host_id).await {
                    Ok(ticket) => {
                        #[cfg(feature = "hydrate")]
                        if let Some(element) = screen.get_untracked() {
                            let location = leptos::prelude::window().location();
                            let scheme = if location.protocol().ok().as_deref() == Some("https:") {
                                "wss"
                            } else {
                                "ws"
                            };
                            let host = location.host().unwrap_or_default();
                            let url =
                                format!("{scheme}://{host}/terminal?ticket={}", ticket.ticket);
                            attach(&key, &element, Some(url), link);
                        }
                        #[cfg(not(feature = "hydrate"))]
                        let _ = (ticket, &key);
                    }
                    Err(error) if error.kind == ErrorKind::StepUp => link.set(Link::Password),
                    Err(error) => link.set(Link::Failed(error.message)),
                }
            });
        }
    };
    // On mount: the session open from before comes back into this box; otherwise a new one.
    {
        let key = key.clone();
        let connect = connect.clone();
        Effect::new(move |_| {
            if !allowed || screen.get().is_none() {
                return;
            }
            #[cfg(feature = "hydrate")]
            {
                if js::terminal_connected(&key) {
                    if let Some(element) = screen.get_untracked() {
                        attach(&key, &element, None, link);
                    }
                    return;
                }
            }
            let _ = &key;
            connect();
        });
    }
    let confirm = {
        let connect = connect.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let connect = connect.clone();
            leptos::task::spawn_local(async move {
                match step_up(password.get_untracked()).await {
                    Ok(()) => {
                        password.set(String::new());
                        connect();
                    }
                    Err(error) => link.set(Link::Failed(error.message)),
                }
            });
        }
    };
    let end = {
        let key = key.clone();
        move |_| {
            #[cfg(feature = "hydrate")]
            js::terminal_close(&key);
            let _ = &key;
            link.set(Link::Closed);
        }
    };
    let reconnect = move |_| connect();
    if !allowed {
        return view! { <p class="muted">"Only an admin opens a terminal on the NAS."</p> }
            .into_any();
    }
    view! {
        <div class="terminal-pane" data-testid="terminal">
            <div class="terminal-bar">
                <span class="muted">"Shell on " {host_name} </span>
                <span class="terminal-state" data-state=move || format!("{:?}", link.get()).to_lowercase()>{move || match link.get() {
                    Link::Starting | Link::Connecting => "connecting…".to_owned(),
                    Link::Open => "connected".to_owned(),
                    Link::Closed => "disconnected".to_owned(),
                    Link::Password => "password needed".to_owned(),
                    Link::Failed(_) => "failed".to_owned(),
                }}</span>
                <button type="button" class="button small" on:click=end>"End session"</button>
            </div>
            {move || match link.get() {
                Link::Password => view! {
                    <form class="inline-form" on:submit=confirm.clone()>
                        <label class="field"><span>"Enter your password to open a shell"</span>
                            <input type="password" name="terminal-password" autocomplete="current-password" required
                                prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/></label>
                        <button type="submit" class="button primary">"Open terminal"</button>
                    </form>
                }.into_any(),
                Link::Closed => view! {
                    <div class="notice reconnect" role="status">"The terminal is disconnected. "
                        <button type="button" class="button small" on:click=reconnect.clone()>"Reconnect"</button></div>
                }.into_any(),
                Link::Failed(message) => view! {
                    <div class="notice error" role="alert">{message} " "
                        <button type="button" class="button small" on:click=reconnect.clone()>"Try again"</button></div>
                }.into_any(),
                _ => ().into_any(),
            }}
            <div class="terminal-box" node_ref=screen></div>
        </div>
    }
    .into_any()
}
