//! Signing in, the first admin, the password asked again, and the Users page (users and API
//! tokens). Sign-in and setup are plain HTML forms posted to the server's `/auth/*` routes, so
//! they work before (or without) the wasm bundle; the session cookie never passes through a
//! server function's result.

use burnin::access::{
    Action, NewToken, Role, Scope, SignedIn, TokenView, UserEdit, UserView, Whoami,
};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use leptos_router::hooks::use_query_map;

use crate::AppError;

/// Who the page talks to. Open to anyone: it says nothing but the caller's own name and role,
/// and whether the first admin is still to be made.
#[server(input = Json)]
pub async fn who_am_i() -> Result<Whoami, AppError> {
    crate::backend::reply(
        async { crate::backend::backend()?.whoami(crate::backend::caller().await?).await }.await,
    )
}

/// Re-enters the password; the renewed session cookie is set on the answer's header.
#[server(input = Json)]
pub async fn step_up(password: String) -> Result<(), AppError> {
    crate::backend::reply(
        async {
            let cookie = crate::backend::backend()?
                .step_up(crate::backend::caller().await?, password)
                .await?;
            if let Some(response) = use_context::<leptos_axum::ResponseOptions>()
                && let Ok(value) = axum::http::HeaderValue::from_str(&cookie)
            {
                response.append_header(axum::http::header::SET_COOKIE, value);
            }
            Ok(())
        }
        .await,
    )
}

#[server(input = Json)]
pub async fn list_users() -> Result<Vec<UserView>, AppError> {
    crate::backend::reply(
        async { crate::backend::backend()?.list_users(crate::backend::principal().await?).await }
            .await,
    )
}

#[server(input = Json)]
pub async fn add_user(name: String, role: Role, password: String) -> Result<UserView, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?
                .add_user(crate::backend::principal().await?, name, role, password)
                .await
        }
        .await,
    )
}

#[server(input = Json)]
pub async fn update_user(id: i64, edit: UserEdit) -> Result<UserView, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?
                .update_user(crate::backend::principal().await?, id, edit)
                .await
        }
        .await,
    )
}

#[server(input = Json)]
pub async fn list_tokens() -> Result<Vec<TokenView>, AppError> {
    crate::backend::reply(
        async { crate::backend::backend()?.list_tokens(crate::backend::principal().await?).await }
            .await,
    )
}

/// Makes a token; the answer carries its secret, shown once.
#[server(input = Json)]
pub async fn create_token(user: String, name: String, scope: Scope) -> Result<NewToken, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?
                .create_token(crate::backend::principal().await?, user, name, scope)
                .await
        }
        .await,
    )
}

#[server(input = Json)]
pub async fn revoke_token(id: i64) -> Result<TokenView, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?.revoke_token(crate::backend::principal().await?, id).await
        }
        .await,
    )
}

/// The signed-in user, provided to every page once `whoami` answered.
#[derive(Clone, Debug, Default)]
pub struct Me(pub Option<SignedIn>);

impl Me {
    pub fn may(&self, action: Action) -> bool {
        self.0.as_ref().is_some_and(|me| me.may(action))
    }
}

/// Who is signed in, for this render: on the server from the request the sign-in gate
/// resolved; in the browser from the header's `data-me`, written by that render.
pub fn initial_me() -> Me {
    #[cfg(feature = "ssr")]
    {
        use burnin::access::Via;
        let caller = use_context::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<crate::backend::Caller>().cloned());
        Me(caller.and_then(|c| c.principal).map(|p| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            SignedIn {
                step_up_left_secs: match p.via {
                    Via::Session { authenticated_at } => {
                        (burnin::access::STEP_UP_SECS - (now - authenticated_at)).max(0)
                    }
                    _ => burnin::access::STEP_UP_SECS,
                },
                sso: p.via == Via::Proxy,
                name: p.name,
                role: p.role,
            }
        }))
    }
    #[cfg(not(feature = "ssr"))]
    {
        let attribute = document()
            .query_selector("header[data-me]")
            .ok()
            .flatten()
            .and_then(|header| header.get_attribute("data-me"));
        Me(attribute.and_then(|json| serde_json::from_str(&json).ok()).flatten())
    }
}

/// Whether the signed-in user may do `action` (hides what the server would refuse anyway).
pub fn may(action: Action) -> bool {
    use_context::<Me>().is_some_and(|me| me.may(action))
}

#[component]
pub fn UserMenu() -> impl IntoView {
    let me = use_context::<Me>().unwrap_or_default();
    me.0.map(|me| {
        view! {
            <span class="user-menu">
                <span class="user-name" data-role=me.role.as_str()>{me.name.clone()} " · " {me.role.as_str()}</span>
                {(!me.sso).then(|| view! {
                    <form method="post" action="/auth/logout" class="inline">
                        <button type="submit" class="button small">"Sign out"</button>
                    </form>
                })}
            </span>
        }
    })
}

fn query(name: &'static str) -> Memo<Option<String>> {
    let map = use_query_map();
    Memo::new(move |_| map.with(|m| m.get(name)))
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let error = query("error");
    let next = query("next");
    view! {
        <section class="panel auth-panel">
            <h1>"Sign in"</h1>
            {move || error.get().map(|e| view! { <p class="notice error" role="alert">{e}</p> })}
            <form method="post" action="/auth/login" class="auth-form">
                <input type="hidden" name="next" prop:value=move || next.get().unwrap_or_else(|| "/".into())/>
                <label class="field"><span>"User"</span>
                    <input type="text" name="name" autocomplete="username" required autofocus/></label>
                <label class="field"><span>"Password"</span>
                    <input type="password" name="password" autocomplete="current-password" required/></label>
                <div class="form-actions"><button type="submit" class="button primary">"Sign in"</button></div>
            </form>
            <p class="muted">"Forgot the password? On the server: " <code>"burnin-server user reset-password NAME"</code></p>
        </section>
    }
}

#[component]
pub fn SetupPage() -> impl IntoView {
    let error = query("error");
    view! {
        <section class="panel auth-panel">
            <h1>"Create the first admin"</h1>
            <p>"No user exists yet. The first one is an admin: it adds hosts, users and API tokens."</p>
            {move || error.get().map(|e| view! { <p class="notice error" role="alert">{e}</p> })}
            <form method="post" action="/auth/setup" class="auth-form">
                <label class="field"><span>"User name"</span>
                    <input type="text" name="name" autocomplete="username" required autofocus/></label>
                <label class="field"><span>"Password (at least 12 characters)"</span>
                    <input type="password" name="password" autocomplete="new-password" required/></label>
                <div class="form-actions"><button type="submit" class="button primary">"Create and sign in"</button></div>
            </form>
        </section>
    }
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let users = Resource::new(|| (), |_| list_users());
    let tokens = Resource::new(|| (), |_| list_tokens());
    let error = RwSignal::new(None::<String>);
    let secret = RwSignal::new(None::<String>);
    let notice = RwSignal::new(None::<String>);
    let new_name = RwSignal::new(String::new());
    let new_role = RwSignal::new("viewer".to_owned());
    let new_password = RwSignal::new(String::new());
    let token_name = RwSignal::new(String::new());
    let token_scope = RwSignal::new("read".to_owned());
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let role = Role::parse(&new_role.get_untracked()).unwrap_or(Role::Viewer);
        leptos::task::spawn_local(async move {
            match add_user(new_name.get_untracked(), role, new_password.get_untracked()).await {
                Ok(_) => {
                    error.set(None);
                    new_name.set(String::new());
                    new_password.set(String::new());
                    users.refetch();
                }
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    let make_token = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let scope = Scope::parse(&token_scope.get_untracked()).unwrap_or(Scope::Read);
        leptos::task::spawn_local(async move {
            match create_token(String::new(), token_name.get_untracked(), scope).await {
                Ok(made) => {
                    error.set(None);
                    secret.set(Some(made.secret));
                    token_name.set(String::new());
                    tokens.refetch();
                }
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    view! {
        <section class="page-head"><h1>"Users and API tokens"</h1></section>
        {move || error.get().map(|e| view! { <p class="notice error" role="alert">{e}</p> })}
        {move || notice.get().map(|n| view! { <p class="notice ok" role="status">{n}</p> })}
        <section class="panel">
            <h2>"Users"</h2>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Ok(list) => view! {
                            <table class="simple users">
                                <thead><tr><th>"Name"</th><th>"Role"</th><th>"Source"</th><th>"Last sign-in"</th><th></th><th>"Password"</th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|user| {
                                        let id = user.id;
                                        let disabled = user.disabled;
                                        view! {
                                            <tr class:disabled=disabled>
                                                <td>{user.name.clone()}</td>
                                                <td>
                                                    <select on:change=move |ev| {
                                                        let role = Role::parse(&event_target_value(&ev));
                                                        leptos::task::spawn_local(async move {
                                                            let edit = UserEdit { role, ..Default::default() };
                                                            if let Err(e) = update_user(id, edit).await { error.set(Some(e.message)); }
                                                            users.refetch();
                                                        });
                                                    }>
                                                        {Role::ALL.into_iter().map(|role| view! {
                                                            <option value=role.as_str() selected=role == user.role>{role.as_str()}</option>
                                                        }).collect_view()}
                                                    </select>
                                                </td>
                                                <td>{user.source.clone()}</td>
                                                <td>{user.last_login_at.clone().unwrap_or_else(|| "never".into())}</td>
                                                <td>
                                                    <button type="button" class="button small" on:click=move |_| {
                                                        leptos::task::spawn_local(async move {
                                                            let edit = UserEdit { disabled: Some(!disabled), ..Default::default() };
                                                            if let Err(e) = update_user(id, edit).await { error.set(Some(e.message)); }
                                                            users.refetch();
                                                        });
                                                    }>{if disabled { "Enable" } else { "Disable" }}</button>
                                                </td>
                                                <td>
                                                    {(user.source == "local").then(|| {
                                                        let password = RwSignal::new(String::new());
                                                        let name = user.name.clone();
                                                        view! {
                                                            <form class="inline-form compact" on:submit=move |ev: leptos::ev::SubmitEvent| {
                                                                ev.prevent_default();
                                                                let edit = UserEdit { password: Some(password.get_untracked()), ..Default::default() };
                                                                let name = name.clone();
                                                                leptos::task::spawn_local(async move {
                                                                    match update_user(id, edit).await {
                                                                        Ok(_) => {
                                                                            password.set(String::new());
                                                                            error.set(None);
                                                                            notice.set(Some(format!("{name}'s password is set; their sessions are ended.")));
                                                                        }
                                                                        Err(e) => error.set(Some(e.message)),
                                                                    }
                                                                });
                                                            }>
                                                                <input type="password" autocomplete="new-password" placeholder="new password" aria-label=format!("New password for {}", user.name)
                                                                    prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/>
                                                                <button type="submit" class="button small">"Set password"</button>
                                                            </form>
                                                        }
                                                    })}
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                        Err(e) => view! { <p class="notice error">{e.message}</p> }.into_any(),
                    }
                })}
            </Suspense>
            <form class="inline-form" on:submit=add>
                <input type="text" name="new-user" placeholder="name" prop:value=move || new_name.get() on:input=move |ev| new_name.set(event_target_value(&ev))/>
                <select name="new-role" on:change=move |ev| new_role.set(event_target_value(&ev))>
                    {Role::ALL.into_iter().map(|role| view! { <option value=role.as_str()>{role.as_str()} " (" {role.summary()} ")"</option> }).collect_view()}
                </select>
                <input type="password" name="new-password" autocomplete="new-password" placeholder="password (12+ characters)" prop:value=move || new_password.get() on:input=move |ev| new_password.set(event_target_value(&ev))/>
                <button type="submit" class="button primary">"Add user"</button>
            </form>
        </section>
        <section class="panel">
            <h2>"API tokens"</h2>
            <p class="muted">"For scripts and automation: " <code>"Authorization: Bearer <token>"</code> " on /api/v1. A token never does more than its user's role."</p>
            {move || secret.get().map(|s| view! {
                <div class="notice" role="status"><p>"The new token, shown once: copy it now."</p><code class="secret" data-testid="new-token">{s}</code></div>
            })}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match tokens.await {
                        Ok(list) => view! {
                            <table class="simple tokens">
                                <thead><tr><th>"Name"</th><th>"User"</th><th>"Scope"</th><th>"Token"</th><th>"Last used"</th><th></th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|token| {
                                        let id = token.id;
                                        let revoked = token.revoked_at.is_some();
                                        view! {
                                            <tr class:disabled=revoked>
                                                <td>{token.name.clone()}</td>
                                                <td>{token.user_name.clone()}</td>
                                                <td>{token.scope.as_str()}</td>
                                                <td><code>{token.prefix.clone()} "…"</code></td>
                                                <td>{token.last_used_at.clone().unwrap_or_else(|| "never".into())}</td>
                                                <td>{(!revoked).then(|| view! {
                                                    <button type="button" class="button small danger" on:click=move |_| {
                                                        leptos::task::spawn_local(async move {
                                                            if let Err(e) = revoke_token(id).await { error.set(Some(e.message)); }
                                                            tokens.refetch();
                                                        });
                                                    }>"Revoke"</button>
                                                })}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                        Err(e) => view! { <p class="notice error">{e.message}</p> }.into_any(),
                    }
                })}
            </Suspense>
            <form class="inline-form" on:submit=make_token>
                <input type="text" name="token-name" placeholder="what it is for, e.g. n8n" prop:value=move || token_name.get() on:input=move |ev| token_name.set(event_target_value(&ev))/>
                <select name="token-scope" on:change=move |ev| token_scope.set(event_target_value(&ev))>
                    {Scope::ALL.into_iter().map(|scope| view! { <option value=scope.as_str()>{scope.as_str()}</option> }).collect_view()}
                </select>
                <button type="submit" class="button primary">"Create a token"</button>
            </form>
        </section>
    }
}
