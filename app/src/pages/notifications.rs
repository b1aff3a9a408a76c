//! Settings → Notifications: the channels (email, webhook, ntfy), each with what it hears of,
//! a test send through the real path with its result shown in place, and the delivery log.

use burnin::{
    access::Action,
    alert::{AlertKind, Severity},
    notify::{
        ChannelConfig, ChannelInput, ChannelView, DeliveryView, EmailConfig, NtfyConfig,
        SmtpSecurity, WebhookConfig, WebhookPreset,
    },
};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::AppError;

#[server(input = Json)]
pub async fn list_channels() -> Result<Vec<ChannelView>, AppError> {
    crate::backend::reply(
        async { crate::backend::backend()?.channels(crate::backend::principal().await?).await }
            .await,
    )
}

#[server(input = Json)]
pub async fn save_channel(id: Option<i64>, input: ChannelInput) -> Result<ChannelView, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?
                .save_channel(crate::backend::principal().await?, id, input)
                .await
        }
        .await,
    )
}

#[server(input = Json)]
pub async fn delete_channel(id: i64) -> Result<(), AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?.delete_channel(crate::backend::principal().await?, id).await
        }
        .await,
    )
}

#[server(input = Json)]
pub async fn test_channel(id: i64) -> Result<DeliveryView, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?.test_channel(crate::backend::principal().await?, id).await
        }
        .await,
    )
}

#[server(input = Json)]
pub async fn channel_deliveries(id: i64) -> Result<Vec<DeliveryView>, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?
                .deliveries(crate::backend::principal().await?, Some(id))
                .await
        }
        .await,
    )
}

fn blank(kind: &str) -> ChannelConfig {
    match kind {
        "email" => ChannelConfig::Email(EmailConfig {
            host: String::new(),
            port: 587,
            security: SmtpSecurity::Starttls,
            username: String::new(),
            from: String::new(),
            to: Vec::new(),
            per_alert: true,
            digest_hour: None,
            utc_offset_mins: 0,
            digest_when_empty: false,
            tls_certificate: String::new(),
            attach_certificate: true,
        }),
        "ntfy" => ChannelConfig::Ntfy(NtfyConfig { url: String::new(), tags: Vec::new() }),
        _ => ChannelConfig::Webhook(WebhookConfig {
            url: String::new(),
            preset: WebhookPreset::Standard,
        }),
    }
}

fn new_input() -> ChannelInput {
    ChannelInput {
        name: String::new(),
        enabled: true,
        min_severity: Severity::Warning,
        kinds: Vec::new(),
        send_resolved: true,
        config: blank("webhook"),
        secret: None,
    }
}

fn target(config: &ChannelConfig) -> String {
    match config {
        ChannelConfig::Email(e) => format!("{} via {}:{}", e.to.join(", "), e.host, e.port),
        ChannelConfig::Webhook(w) => format!("{} ({:?})", w.url, w.preset)
            .to_lowercase()
            .replace("(standard)", "(signed envelope)"),
        ChannelConfig::Ntfy(n) => n.url.clone(),
    }
}

fn when(secs: i64) -> String {
    burnin::format::utc(secs).replace('T', " ").replace('Z', " UTC")
}

fn result_text(d: &DeliveryView) -> String {
    let code = d.code.map(|c| format!(" ({c})")).unwrap_or_default();
    let retry = d.retry_at.map(|t| format!("; tried again at {}", when(t))).unwrap_or_default();
    if d.ok {
        format!("Delivered{code} in {} ms", d.duration_ms)
    } else {
        format!("Not delivered{code}: {}{retry}", d.detail)
    }
}

/// A random Standard Webhooks secret, made in the browser so the server never has to show one.
fn generate_secret() -> String {
    #[cfg(feature = "hydrate")]
    {
        let mut bytes = [0u8; 24];
        if let Some(crypto) = web_sys::window().and_then(|w| w.crypto().ok()) {
            let _ = crypto.get_random_values_with_u8_array(&mut bytes);
        }
        let binary: String = bytes.iter().map(|b| char::from(*b)).collect();
        let b64 = web_sys::window().and_then(|w| w.btoa(&binary).ok()).unwrap_or_default();
        format!("whsec_{b64}")
    }
    #[cfg(not(feature = "hydrate"))]
    {
        String::new()
    }
}

#[component]
pub fn Notifications() -> impl IntoView {
    let admin = crate::pages::access::may(Action::ChangeSettings);
    let changed = RwSignal::new(0u32);
    let channels = Resource::new(move || changed.get(), |_| list_channels());
    // Which channel the form edits: `Some(None)` a new one.
    let editing = RwSignal::new(None::<Option<ChannelView>>);
    view! {
        <section class="panel notifications" data-testid="notifications">
            <h2>"Notifications"</h2>
            <p class="hint">"Where alerts go. Each channel hears the kinds and severities it is set to; a failed delivery is retried with backoff (honouring Retry-After) for about 14 hours, and every attempt is in its log."</p>
            {admin.then(|| view! {
                <div class="toolbar"><button type="button" class="button" on:click=move |_| editing.set(Some(None))>"Add channel"</button></div>
            })}
            {move || editing.get().map(|channel| view! { <ChannelForm channel editing changed/> })}
            <Suspense fallback=|| view! { <p class="loading">"Loading channels…"</p> }>
                {move || channels.get().map(|answer| match answer {
                    Err(e) => view! { <p class="notice error">{e.message}</p> }.into_any(),
                    Ok(list) if list.is_empty() => view! { <p class="muted">"No channel yet: alerts show on the Alerts page and in the header only."</p> }.into_any(),
                    Ok(list) => view! {
                        <ul class="channels">
                            {list.into_iter().map(|c| view! { <ChannelCard channel=c admin editing changed/> }).collect_view()}
                        </ul>
                    }.into_any(),
                })}
            </Suspense>
        </section>
    }
    .into_any()
}

#[component]
fn ChannelCard(
    channel: ChannelView,
    admin: bool,
    editing: RwSignal<Option<Option<ChannelView>>>,
    changed: RwSignal<u32>,
) -> impl IntoView {
    let id = channel.id;
    let tested = RwSignal::new(None::<Result<DeliveryView, String>>);
    let busy = RwSignal::new(false);
    let log_open = RwSignal::new(false);
    let log = Resource::new(
        move || (log_open.get(), tested.get().is_some()),
        move |(open, _)| async move { if open { channel_deliveries(id).await } else { Ok(Vec::new()) } },
    );
    let test = move |_| {
        busy.set(true);
        leptos::task::spawn_local(async move {
            tested.set(Some(test_channel(id).await.map_err(|e| e.message)));
            busy.set(false);
        });
    };
    let name = channel.name.clone();
    let remove = move |_| {
        let confirmed = {
            #[cfg(feature = "hydrate")]
            {
                web_sys::window()
                    .and_then(|w| {
                        w.confirm_with_message(&format!(
                            "Delete the channel {name} and its delivery log?"
                        ))
                        .ok()
                    })
                    .unwrap_or(false)
            }
            #[cfg(not(feature = "hydrate"))]
            {
                let _ = &name;
                false
            }
        };
        if confirmed {
            leptos::task::spawn_local(async move {
                if delete_channel(id).await.is_ok() {
                    changed.update(|n| *n += 1);
                }
            });
        }
    };
    let kinds = if channel.kinds.is_empty() {
        "every kind but passes".to_owned()
    } else {
        channel.kinds.iter().map(|k| burnin::notify::kind_label(*k)).collect::<Vec<_>>().join(", ")
    };
    let edit_channel = channel.clone();
    view! {
        <li class="channel" data-channel=channel.name.clone()>
            <div class="channel-head">
                <strong>{channel.name.clone()}</strong>
                <span class="badge">{channel.config.kind()}</span>
                {(!channel.enabled).then(|| view! { <span class="badge muted">"off"</span> })}
            </div>
            <dl class="facts">
                <dt>"To"</dt><dd class="mono">{target(&channel.config)}</dd>
                <dt>"Hears"</dt><dd>{format!("{} and worse; {kinds}{}", burnin::notify::severity_label(channel.min_severity), if channel.send_resolved { "; acknowledged and resolved too" } else { "" })}</dd>
                <dt>"Last delivery"</dt><dd>{channel.last_delivery.as_ref().map(|d| format!("{}: {}", when(d.at), result_text(d))).unwrap_or_else(|| "none yet".into())}</dd>
            </dl>
            <div class="channel-actions">
                {admin.then(|| view! {
                    <button type="button" class="button" data-testid="send-test" disabled=move || busy.get() on:click=test>
                        {move || if busy.get() { "Sending…" } else { "Send test" }}
                    </button>
                    <button type="button" class="button" on:click=move |_| editing.set(Some(Some(edit_channel.clone())))>"Edit"</button>
                    <button type="button" class="button danger" on:click=remove>"Delete"</button>
                })}
                <button type="button" class="button link" on:click=move |_| log_open.update(|o| *o = !*o)>
                    {move || if log_open.get() { "Hide delivery log" } else { "Delivery log" }}
                </button>
            </div>
            {move || tested.get().map(|r| match r {
                Ok(d) => view! {
                    <p class=if d.ok { "notice ok" } else { "notice error" } role="status" data-testid="test-result" data-ok=d.ok.to_string()>
                        {result_text(&d)}
                    </p>
                }.into_any(),
                Err(e) => view! { <p class="notice error" role="alert" data-testid="test-result" data-ok="false">{e}</p> }.into_any(),
            })}
            <Show when=move || log_open.get()>
                <Suspense fallback=|| ()>
                    {move || log.get().and_then(Result::ok).map(|rows| view! {
                        <table class="deliveries">
                            <thead><tr><th>"When"</th><th>"Event"</th><th>"Try"</th><th>"Result"</th></tr></thead>
                            <tbody>
                                {rows.into_iter().take(50).map(|d| view! {
                                    <tr class=if d.ok { "ok" } else { "failed" }>
                                        <td>{when(d.at)}</td><td>{d.event.clone()}</td><td>{d.attempt}</td><td>{result_text(&d)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    })}
                </Suspense>
            </Show>
        </li>
    }
    .into_any()
}

#[component]
fn ChannelForm(
    channel: Option<ChannelView>,
    editing: RwSignal<Option<Option<ChannelView>>>,
    changed: RwSignal<u32>,
) -> impl IntoView {
    let id = channel.as_ref().map(|c| c.id);
    let secret_set = channel.as_ref().is_some_and(|c| c.secret_set);
    let draft = RwSignal::new(match &channel {
        Some(c) => ChannelInput {
            name: c.name.clone(),
            enabled: c.enabled,
            min_severity: c.min_severity,
            kinds: c.kinds.clone(),
            send_resolved: c.send_resolved,
            config: c.config.clone(),
            secret: None,
        },
        None => new_input(),
    });
    let error = RwSignal::new(None::<String>);
    let kind = move || draft.with(|d| d.config.kind());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let input = draft.get_untracked();
        leptos::task::spawn_local(async move {
            match save_channel(id, input).await {
                Ok(_) => {
                    editing.set(None);
                    changed.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    let text = move |label: &'static str,
                     name: &'static str,
                     get: fn(&ChannelConfig) -> String,
                     set: fn(&mut ChannelConfig, String)| {
        view! {
            <label class="field">
                <span>{label}</span>
                <input type="text" name=name
                    prop:value=move || draft.with(|d| get(&d.config))
                    on:input=move |ev| { let v = event_target_value(&ev); draft.update(|d| set(&mut d.config, v)); }/>
            </label>
        }
    };
    view! {
        <form class="panel channel-form" on:submit=submit data-testid="channel-form">
            <h3>{if id.is_some() { "Edit channel" } else { "New channel" }}</h3>
            {move || error.get().map(|e| view! { <p class="notice error" role="alert">{e}</p> })}
            <label class="field">
                <span>"Name"</span>
                <input type="text" name="name" required maxlength="80"
                    prop:value=move || draft.with(|d| d.name.clone())
                    on:input=move |ev| { let v = event_target_value(&ev); draft.update(|d| d.name = v); }/>
            </label>
            <label class="field">
                <span>"Kind"</span>
                <select name="kind" prop:value=kind on:change=move |ev| {
                    let k = event_target_value(&ev);
                    draft.update(|d| if d.config.kind() != k { d.config = blank(&k); d.secret = None; });
                }>
                    <option value="webhook">"Webhook"</option>
                    <option value="ntfy">"ntfy"</option>
                    <option value="email">"Email"</option>
                </select>
            </label>
            {move || match kind() {
                "email" => view! {
                    <div class="kind-fields">
                        {text("SMTP server", "host", |c| match c { ChannelConfig::Email(e) => e.host.clone(), _ => String::new() }, |c, v| if let ChannelConfig::Email(e) = c { e.host = v })}
                        <label class="field"><span>"Port"</span>
                            <input type="number" name="port" min="1" max="65535"
                                prop:value=move || draft.with(|d| match &d.config { ChannelConfig::Email(e) => e.port.to_string(), _ => String::new() })
                                on:input=move |ev| { let v = event_target_value(&ev).parse().unwrap_or(0); draft.update(|d| if let ChannelConfig::Email(e) = &mut d.config { e.port = v }); }/>
                        </label>
                        <label class="field"><span>"Security"</span>
                            <select name="security"
                                prop:value=move || draft.with(|d| match &d.config { ChannelConfig::Email(e) => format!("{:?}", e.security).to_lowercase(), _ => String::new() })
                                on:change=move |ev| {
                                    let v = event_target_value(&ev);
                                    draft.update(|d| if let ChannelConfig::Email(e) = &mut d.config {
                                        e.security = match v.as_str() { "tls" => SmtpSecurity::Tls, "plain" => SmtpSecurity::Plain, _ => SmtpSecurity::Starttls };
                                    });
                                }>
                                <option value="starttls">"STARTTLS (587)"</option>
                                <option value="tls">"TLS (465)"</option>
                                <option value="plain">"Plain (a relay on this network only)"</option>
                            </select>
                        </label>
                        {text("Login (empty: none)", "username", |c| match c { ChannelConfig::Email(e) => e.username.clone(), _ => String::new() }, |c, v| if let ChannelConfig::Email(e) = c { e.username = v })}
                        {text("From", "from", |c| match c { ChannelConfig::Email(e) => e.from.clone(), _ => String::new() }, |c, v| if let ChannelConfig::Email(e) = c { e.from = v })}
                        {text("To (commas between)", "to", |c| match c { ChannelConfig::Email(e) => e.to.join(", "), _ => String::new() }, |c, v| if let ChannelConfig::Email(e) = c { e.to = v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect() })}
                        <label class="field setting checkbox"><span>"One message per alert"</span>
                            <input type="checkbox" name="per_alert"
                                prop:checked=move || draft.with(|d| matches!(&d.config, ChannelConfig::Email(e) if e.per_alert))
                                on:change=move |ev| { let on = event_target_checked(&ev); draft.update(|d| if let ChannelConfig::Email(e) = &mut d.config { e.per_alert = on }); }/>
                        </label>
                        <label class="field setting checkbox"><span>"Attach the certificate (PDF) when a burn-in ends"</span>
                            <input type="checkbox" name="attach_certificate"
                                prop:checked=move || draft.with(|d| matches!(&d.config, ChannelConfig::Email(e) if e.attach_certificate))
                                on:change=move |ev| { let on = event_target_checked(&ev); draft.update(|d| if let ChannelConfig::Email(e) = &mut d.config { e.attach_certificate = on }); }/>
                        </label>
                        <label class="field"><span>"Daily digest at hour (0–23, empty: none)"</span>
                            <input type="number" name="digest_hour" min="0" max="23"
                                prop:value=move || draft.with(|d| match &d.config { ChannelConfig::Email(e) => e.digest_hour.map(|h| h.to_string()).unwrap_or_default(), _ => String::new() })
                                on:input=move |ev| { let v = event_target_value(&ev).trim().parse().ok(); draft.update(|d| if let ChannelConfig::Email(e) = &mut d.config { e.digest_hour = v }); }/>
                        </label>
                        <label class="field"><span>"Time zone: minutes east of UTC"</span>
                            <input type="number" name="utc_offset_mins" min="-840" max="840"
                                prop:value=move || draft.with(|d| match &d.config { ChannelConfig::Email(e) => e.utc_offset_mins.to_string(), _ => String::new() })
                                on:input=move |ev| { let v = event_target_value(&ev).trim().parse().unwrap_or(0); draft.update(|d| if let ChannelConfig::Email(e) = &mut d.config { e.utc_offset_mins = v }); }/>
                        </label>
                        <label class="field setting checkbox"><span>"Send the digest on a quiet day too"</span>
                            <input type="checkbox" name="digest_when_empty"
                                prop:checked=move || draft.with(|d| matches!(&d.config, ChannelConfig::Email(e) if e.digest_when_empty))
                                on:change=move |ev| { let on = event_target_checked(&ev); draft.update(|d| if let ChannelConfig::Email(e) = &mut d.config { e.digest_when_empty = on }); }/>
                        </label>
                        <label class="field wide"><span>"Also trust this certificate (PEM, for a relay with its own)"</span>
                            <textarea name="tls_certificate" rows="3"
                                prop:value=move || draft.with(|d| match &d.config { ChannelConfig::Email(e) => e.tls_certificate.clone(), _ => String::new() })
                                on:input=move |ev| { let v = event_target_value(&ev); draft.update(|d| if let ChannelConfig::Email(e) = &mut d.config { e.tls_certificate = v }); }></textarea>
                        </label>
                    </div>
                }.into_any(),
                "ntfy" => view! {
                    <div class="kind-fields">
                        {text("Topic address", "url", |c| match c { ChannelConfig::Ntfy(n) => n.url.clone(), _ => String::new() }, |c, v| if let ChannelConfig::Ntfy(n) = c { n.url = v })}
                        {text("Extra tags (commas between)", "tags", |c| match c { ChannelConfig::Ntfy(n) => n.tags.join(","), _ => String::new() }, |c, v| if let ChannelConfig::Ntfy(n) = c { n.tags = v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect() })}
                    </div>
                }.into_any(),
                _ => view! {
                    <div class="kind-fields">
                        {text("Address", "url", |c| match c { ChannelConfig::Webhook(w) => w.url.clone(), _ => String::new() }, |c, v| if let ChannelConfig::Webhook(w) = c { w.url = v })}
                        <label class="field"><span>"Shape"</span>
                            <select name="preset"
                                prop:value=move || draft.with(|d| match &d.config { ChannelConfig::Webhook(w) => format!("{:?}", w.preset).to_lowercase(), _ => String::new() })
                                on:change=move |ev| {
                                    let v = event_target_value(&ev);
                                    draft.update(|d| if let ChannelConfig::Webhook(w) = &mut d.config {
                                        w.preset = match v.as_str() { "slack" => WebhookPreset::Slack, "discord" => WebhookPreset::Discord, _ => WebhookPreset::Standard };
                                    });
                                }>
                                <option value="standard">"Signed envelope (n8n, scripts)"</option>
                                <option value="slack">"Slack"</option>
                                <option value="discord">"Discord"</option>
                            </select>
                        </label>
                    </div>
                }.into_any(),
            }}
            <label class="field">
                <span>{move || match kind() { "email" => "SMTP password", "ntfy" => "Access token (tk_…, or user:password)", _ => "Signing secret" }}</span>
                <span class="input-with-button">
                    <input type="text" name="secret" autocomplete="off" spellcheck="false"
                        placeholder=if secret_set { "set (leave empty to keep it)" } else { "" }
                        prop:value=move || draft.with(|d| d.secret.clone().unwrap_or_default())
                        on:input=move |ev| { let v = event_target_value(&ev); draft.update(|d| d.secret = Some(v).filter(|s| !s.is_empty())); }/>
                    <Show when=move || kind() == "webhook">
                        <button type="button" class="button" on:click=move |_| draft.update(|d| d.secret = Some(generate_secret()))>"Generate"</button>
                    </Show>
                </span>
            </label>
            <p class="hint">"A secret is shown only while you type it here; copy a generated one to the receiver before saving."</p>
            <label class="field">
                <span>"Least severity"</span>
                <select name="min_severity"
                    prop:value=move || draft.with(|d| d.min_severity.as_str().to_owned())
                    on:change=move |ev| { let v = event_target_value(&ev); draft.update(|d| d.min_severity = Severity::parse(&v).unwrap_or(Severity::Warning)); }>
                    <option value="info">"Notice (everything)"</option>
                    <option value="warning">"Warning"</option>
                    <option value="critical">"Critical only"</option>
                </select>
            </label>
            <fieldset class="kinds">
                <legend>"Kinds (none ticked: every kind but passes)"</legend>
                {AlertKind::ALL.into_iter().map(|k| view! {
                    <label class="checkbox">
                        <input type="checkbox" name="kinds" value=k.as_str()
                            prop:checked=move || draft.with(|d| d.kinds.contains(&k))
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                draft.update(|d| { d.kinds.retain(|x| *x != k); if on { d.kinds.push(k) } });
                            }/>
                        {burnin::notify::kind_label(k)}
                    </label>
                }).collect_view()}
            </fieldset>
            <label class="field setting checkbox"><span>"Tell of acknowledgements and resolutions"</span>
                <input type="checkbox" name="send_resolved" prop:checked=move || draft.with(|d| d.send_resolved)
                    on:change=move |ev| { let on = event_target_checked(&ev); draft.update(|d| d.send_resolved = on); }/>
            </label>
            <label class="field setting checkbox"><span>"On"</span>
                <input type="checkbox" name="enabled" prop:checked=move || draft.with(|d| d.enabled)
                    on:change=move |ev| { let on = event_target_checked(&ev); draft.update(|d| d.enabled = on); }/>
            </label>
            <div class="form-actions">
                <button type="submit" class="button primary">"Save channel"</button>
                <button type="button" class="button" on:click=move |_| editing.set(None)>"Cancel"</button>
            </div>
        </form>
    }
    .into_any()
}
