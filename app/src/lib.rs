//! `burnin-app`: the burn-in dashboard's user interface.
//!
//! Built twice: with `ssr` inside the server binary (rendering HTML and running server
//! functions) and with `hydrate` into the browser's wasm bundle. UI only: it reaches the
//! services through [`backend::Backend`] and never imports server internals.

#[cfg(feature = "ssr")]
pub mod backend;
mod components;
mod error;
pub mod live;
pub mod pages;

pub use error::{AppError, ErrorBody, ErrorKind};

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::{
    ParamSegment, StaticSegment,
    components::{A, Route, Router, Routes},
};

/// The product's version, shown in the header and reported by the API.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The HTML document around the app. Rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="dark"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <link rel="stylesheet" href="/pkg/burnin.css"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Pages get a policy that admits only this origin plus the one inline hydration script, by
/// its per-response nonce. Other responses get the stricter default from the server's
/// middleware, which leaves this header alone when it is already set.
#[cfg(feature = "ssr")]
fn set_content_security_policy() {
    use axum::http::{HeaderValue, header::CONTENT_SECURITY_POLICY};
    let Some(nonce) = leptos::nonce::use_nonce() else { return };
    let Some(response) = use_context::<leptos_axum::ResponseOptions>() else { return };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'nonce-{nonce}'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.insert_header(CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser, after hydration: the marker lets styles (and the
    // end-to-end tests) tell a live page from server-rendered HTML.
    Effect::new(|_| {
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("data-hydrated", "true");
        }
    });
    // Who is signed in: known to the server when it renders, carried to the browser in the
    // header's `data-me`, read back before hydration. Synchronous, so the routes stay visible
    // to the route list and nothing waits on it.
    let me = pages::access::initial_me();
    let me_json = serde_json::to_string(&me.0).unwrap_or_else(|_| "null".into());
    let admin = me.may(burnin::access::Action::ManageUsers);
    let auditor = me.may(burnin::access::Action::ReadAudit);
    let signed_in = me.0.is_some();
    provide_context(me);
    view! {
        <Title text="Burn-in dashboard"/>
        <Router>
            <header class="topbar" data-me=me_json>
                <a class="brand" href="/">
                    <span class="brand-mark" aria-hidden="true">"▮"</span>
                    <span class="brand-name">"Burn-in dashboard"</span>
                </a>
                <span class="version" title="Version">"v" {VERSION}</span>
                {signed_in.then(|| view! {
                    <nav class="nav">
                        <A href="/">"Drives"</A>
                        <A href="/hosts">"Hosts"</A>
                        <A href="/history">"History"</A>
                        <A href="/stats">"Statistics"</A>
                        <A href="/alerts">"Alerts"</A>
                        {auditor.then(|| view! { <A href="/audit">"Audit"</A> })}
                        {admin.then(|| view! { <A href="/users">"Users"</A> })}
                        <A href="/settings">"Settings"</A>
                    </nav>
                })}
                {signed_in.then(|| view! { <pages::alerts::AlertBadge/> })}
                <pages::access::UserMenu/>
            </header>
            <main class="content">
                <Routes fallback=pages::NotFound>
                    <Route path=StaticSegment("") view=pages::dashboard::DashboardPage/>
                    <Route path=StaticSegment("hosts") view=pages::hosts::HostsPage/>
                    <Route path=StaticSegment("alerts") view=pages::alerts::AlertsPage/>
                    <Route path=StaticSegment("history") view=pages::history::HistoryPage/>
                    <Route path=StaticSegment("audit") view=pages::history::AuditPage/>
                    <Route path=StaticSegment("verify") view=pages::record::VerifyPage/>
                    <Route path=StaticSegment("stats") view=pages::stats::StatsPage/>
                    <Route path=(StaticSegment("drives"), ParamSegment("serial")) view=pages::drive::DrivePage/>
                    <Route path=(StaticSegment("jobs"), ParamSegment("id")) view=pages::job::JobPage/>
                    <Route path=(StaticSegment("jobs"), ParamSegment("id"), StaticSegment("certificate")) view=pages::job::CertificatePage/>
                    <Route path=StaticSegment("users") view=pages::access::UsersPage/>
                    <Route path=StaticSegment("settings") view=pages::settings::SettingsPage/>
                    <Route path=StaticSegment("login") view=pages::access::LoginPage/>
                    <Route path=StaticSegment("setup") view=pages::access::SetupPage/>
                </Routes>
            </main>
        </Router>
    }
}

/// What each server function asks of its caller, checked by the server before the function
/// runs (and again by the service it calls). Every registered server function must be here:
/// the server refuses one that is not, and a test fails.
#[cfg(feature = "ssr")]
pub fn server_fn_doors() -> Vec<(&'static str, burnin::access::Door)> {
    use burnin::access::{Action, Door};
    use leptos::server_fn::ServerFn;
    use pages::{
        access::*, alerts::*, burnin::*, dashboard::*, history::HostChoices, hosts::*,
        notifications::*, record::*, settings::*,
    };
    let view = Door::Needs(Action::View);
    vec![
        (WhoAmI::PATH, Door::Open),
        // Signed in; the password itself is the check.
        (StepUp::PATH, view),
        (DashboardSnapshot::PATH, view),
        (ListDrives::PATH, view),
        (EditDrive::PATH, Door::Needs(Action::EditDrive)),
        (StartBurnin::PATH, Door::Needs(Action::StartBurnin)),
        (CancelJob::PATH, Door::Needs(Action::CancelBurnin)),
        (CancelJobs::PATH, Door::Needs(Action::CancelBurnin)),
        (GetJob::PATH, view),
        (DriveJobs::PATH, view),
        (DriveSmart::PATH, view),
        (StageOutput::PATH, view),
        (SaveHost::PATH, Door::Needs(Action::ManageHosts)),
        (DeleteHost::PATH, Door::Needs(Action::ManageHosts)),
        (ArchivedHosts::PATH, view),
        (HostChoices::PATH, view),
        (DeleteHostHistory::PATH, Door::Needs(Action::DeleteHistory)),
        (SetHostEnabled::PATH, Door::Needs(Action::ManageHosts)),
        (TestHost::PATH, Door::Needs(Action::ManageHosts)),
        (TrustCertificate::PATH, Door::Needs(Action::ManageHosts)),
        (TrustSshHostKey::PATH, Door::Needs(Action::ManageHosts)),
        (ListUsers::PATH, Door::Needs(Action::ManageUsers)),
        (AddUser::PATH, Door::Needs(Action::ManageUsers)),
        (UpdateUser::PATH, Door::Needs(Action::ManageUsers)),
        (ListTokens::PATH, Door::Needs(Action::ManageTokens)),
        (CreateToken::PATH, Door::Needs(Action::ManageTokens)),
        (RevokeToken::PATH, Door::Needs(Action::ManageTokens)),
        (ListAlerts::PATH, view),
        (OpenAlertCounts::PATH, view),
        (FetchAlert::PATH, view),
        (HandleAlert::PATH, Door::Needs(Action::HandleAlerts)),
        (ListChannels::PATH, view),
        (ChannelDeliveries::PATH, view),
        (SaveChannel::PATH, Door::Needs(Action::ChangeSettings)),
        (DeleteChannel::PATH, Door::Needs(Action::ChangeSettings)),
        (TestChannel::PATH, Door::Needs(Action::ChangeSettings)),
        (GetSettings::PATH, view),
        (SaveSettings::PATH, Door::Needs(Action::ChangeSettings)),
        (OpenTerminalTicket::PATH, Door::Needs(Action::OpenTerminal)),
        (FetchHistory::PATH, view),
        (FetchJobRecord::PATH, view),
        (FetchCertificate::PATH, view),
        (FetchAudit::PATH, Door::Needs(Action::ReadAudit)),
        // Open: whoever holds a bundle checks it here without an account (the Verify page).
        (VerifyEvidence::PATH, Door::Open),
        (SigningKey::PATH, Door::Open),
        (DeleteJob::PATH, Door::Needs(Action::DeleteHistory)),
        (pages::stats::Statistics::PATH, view),
        (pages::drive::FetchDriveRecord::PATH, view),
    ]
}
