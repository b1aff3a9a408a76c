//! Notification channels against real receivers on loopback: a webhook endpoint that checks
//! the Standard Webhooks signature, an ntfy-shaped endpoint, and a real SMTP server (Debian's
//! aiosmtpd) over STARTTLS with a login and over plain. Retries are driven with simulated
//! time through the same outbox the worker runs.

use crate::common;

use base64::Engine as _;
use burnin::alert::{AlertKind, AlertRules, Seen, Severity};
use common::receiver::{HttpReceiver, Received, SmtpSink};
use hmac::Mac as _;
use reqwest::Method;
use serde_json::{Value, json};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Checks a delivery's Standard Webhooks signature with the receiver's own code path.
fn verify(received: &Received) {
    let id = received.header("webhook-id");
    let timestamp = received.header("webhook-timestamp");
    assert!(!id.is_empty() && !timestamp.is_empty(), "headers missing: {:?}", received.headers);
    let key = base64::engine::general_purpose::STANDARD
        .decode(SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(&received.body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let signatures = received.header("webhook-signature");
    assert!(
        signatures.split(' ').any(|s| s == format!("v1,{expected}")),
        "the signature {signatures} does not verify"
    );
}

async fn channel(server: &common::TestServer, body: Value) -> i64 {
    let (status, made) = server.call(Method::POST, "/api/v1/channels", Some(body)).await;
    assert_eq!(status, 201, "{made}");
    made["id"].as_i64().unwrap()
}

async fn set_public_url(server: &common::TestServer) {
    let (status, answer) = server
        .call(Method::PUT, "/api/v1/settings", Some(json!({"public_url": server.base})))
        .await;
    assert_eq!(status, 200, "{answer}");
}

fn events(received: &[Received]) -> Vec<String> {
    received.iter().map(|r| r.json()["type"].as_str().unwrap_or_default().to_owned()).collect()
}

#[tokio::test]
async fn a_failed_burn_in_reaches_a_signed_webhook_ntfy_and_email_and_its_handling_follows() {
    let server = common::demo::demo(|_| {}).await;
    let drives = common::demo::drives(&server).await;
    set_public_url(&server).await;
    let receiver = HttpReceiver::start().await;
    let smtp = SmtpSink::start(true, Some("alerts:s3cret-pass")).await;
    channel(
        &server,
        json!({"name": "hook", "config": {"kind": "webhook", "url": format!("{}/hook", receiver.base)}, "secret": SECRET}),
    )
    .await;
    channel(
        &server,
        json!({"name": "phone", "config": {"kind": "ntfy", "url": format!("{}/drives-topic", receiver.base), "tags": ["nas"]}, "secret": "tk_testtoken"}),
    )
    .await;
    channel(
        &server,
        json!({"name": "mail", "config": {"kind": "email", "host": "127.0.0.1", "port": smtp.port,
               "security": "starttls", "username": "alerts", "from": "Burn-in <burnin@example.lan>",
               "to": ["ops@example.lan"], "tls_certificate": smtp.cert_pem.clone().unwrap()},
               "secret": "s3cret-pass"}),
    )
    .await;

    let ended = common::demo::surface_test_to_end(&server, &drives, "FAIL001").await;
    assert_eq!(ended["state"], "failed", "{ended}");
    let job_id = ended["id"].as_i64().unwrap();
    let job_url = format!("{}/jobs/{job_id}", server.base);

    // The webhook: signed, the versioned envelope, the drive, the reasons, absolute links.
    let hooks = receiver.wait("/hook", |r| !r.is_empty()).await;
    assert_eq!(hooks.len(), 1, "one failure, one notification: {:?}", events(&hooks));
    verify(&hooks[0]);
    let envelope = hooks[0].json();
    assert_eq!(envelope["version"], 1);
    assert_eq!(envelope["type"], "alert.raised");
    assert_eq!(
        envelope["id"],
        hooks[0].header("webhook-id"),
        "the envelope id is the idempotency key"
    );
    assert_eq!(envelope["alert"]["kind"], "burnin_failed");
    assert_eq!(envelope["alert"]["severity"], "critical");
    assert_eq!(envelope["alert"]["subject"], "FAIL001");
    assert_eq!(envelope["job"]["id"], job_id);
    assert_eq!(envelope["job"]["serial"], "FAIL001");
    assert_eq!(envelope["job"]["state"], "failed");
    assert_eq!(envelope["job"]["url"], job_url);
    assert!(envelope["job"]["reasons"].as_array().is_some_and(|r| !r.is_empty()), "{envelope}");
    assert!(envelope["alert"]["url"].as_str().unwrap().starts_with(&server.base));
    assert!(envelope["host"]["name"].as_str().is_some_and(|n| !n.is_empty()));

    // ntfy: the headers carry title, priority, tags and the click link; the token is sent.
    let pushes = receiver.wait("/drives-topic", |r| !r.is_empty()).await;
    assert_eq!(pushes.len(), 1);
    let push = &pushes[0];
    assert!(push.header("title").contains("FAIL001"), "{:?}", push.headers);
    assert_eq!(push.header("priority"), "5");
    let tags = push.header("tags");
    assert!(
        tags.split(',').any(|t| t == "rotating_light") && tags.split(',').any(|t| t == "nas"),
        "{tags}"
    );
    assert_eq!(push.header("click"), job_url);
    assert_eq!(push.header("authorization"), "Bearer tk_testtoken");
    assert!(String::from_utf8_lossy(&push.body).contains("FAIL001"));

    // Email over STARTTLS with the login: one message naming the drive, the reasons, a link.
    let mail = smtp.wait_for(1).await;
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0]["tls"], true);
    assert_eq!(mail[0]["login"], "alerts", "signed in with the channel's user");
    assert_eq!(mail[0]["rcpt_tos"], json!(["ops@example.lan"]));
    let data = mail[0]["data"].as_str().unwrap();
    assert!(data.contains("Subject: Critical: FAIL001 burn-in failed"), "{data}");
    assert!(data.contains("text/plain") && data.contains("text/html"), "text and HTML parts");
    let first_reason = envelope["job"]["reasons"][0].as_str().unwrap();
    let unfolded = data.replace("=\r\n", "").replace("\r\n", "\n");
    assert!(
        unfolded.contains(&first_reason[..first_reason.len().min(20)]),
        "the reason {first_reason:?} is not in {unfolded}"
    );
    assert!(unfolded.contains(&format!("/jobs/{job_id}")));
    // The job has ended: its certificate rides along, the same PDF the API hands out.
    let name = format!("burnin-FAIL001-job{job_id}.pdf");
    assert!(unfolded.contains(&format!("filename=\"{name}\"")), "{unfolded}");
    // Read from the raw lines: the unfolding above for quoted-printable would eat base64 padding.
    let lines = data.replace("\r\n", "\n");
    let at = lines.find("Content-Type: application/pdf").expect("a PDF part");
    let body_at = at + lines[at..].find("\n\n").expect("the part's headers end") + 2;
    let encoded: String = lines[body_at..]
        .lines()
        .take_while(|line| !line.starts_with("--") && !line.is_empty())
        .collect();
    use base64::Engine as _;
    let attached = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).unwrap();
    let served = server
        .client
        .get(server.url(&format!("/api/v1/burnin/{job_id}/certificate.pdf")))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(attached.starts_with(b"%PDF-"));
    assert_eq!(attached, served.to_vec(), "the attached certificate is the job's");

    // Acknowledge and resolve: each is told to the webhook, signed, in order.
    let alert_id = envelope["alert"]["id"].as_i64().unwrap();
    let operator = server.client_as(burnin::access::Role::Operator).await;
    for verb in ["acknowledge", "resolve"] {
        let answer = operator
            .post(server.url(&format!("/api/v1/alerts/{alert_id}/{verb}")))
            .json(&json!({"note": "pulled"}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    let hooks = receiver.wait("/hook", |r| r.len() >= 3).await;
    assert_eq!(events(&hooks), ["alert.raised", "alert.acknowledged", "alert.resolved"]);
    for hook in &hooks {
        verify(hook);
    }
    assert_eq!(hooks[1].json()["alert"]["state"], "acknowledged");
    assert_eq!(hooks[1].json()["alert"]["note"], "pulled");
    let ids: std::collections::HashSet<String> =
        hooks.iter().map(|h| h.header("webhook-id")).collect();
    assert_eq!(ids.len(), 3, "each event has its own id");

    // The delivery log has each attempt, and the channel list keeps the secrets.
    let channels = server.get_json("/api/v1/channels").await;
    let text = channels.to_string();
    for secret in ["s3cret-pass", "tk_testtoken", SECRET, "drives-topic"] {
        assert!(!text.contains(secret), "{secret} shown in {text}");
    }
    assert!(channels.as_array().unwrap().iter().all(|c| c["secret_set"] == true));
    assert!(
        channels.as_array().unwrap().iter().all(|c| c["last_delivery"]["ok"] == true),
        "{channels}"
    );
}

#[tokio::test]
async fn a_receiver_answering_503_twice_then_200_gets_the_message_exactly_once_more() {
    let server = common::demo::demo(|_| {}).await;
    common::demo::drives(&server).await;
    let receiver = HttpReceiver::start().await;
    receiver.script(&[(503, None), (503, None)]);
    let id = channel(
        &server,
        json!({"name": "hook", "config": {"kind": "webhook", "url": format!("{}/hook", receiver.base)}, "secret": SECRET}),
    )
    .await;
    let host = server.get_json("/api/v1/hosts").await[0]["id"].as_i64().unwrap();
    let pool = sqlx::SqlitePool::connect(&server.database_url()).await.unwrap();
    let now = burnin_server::auth::now_unix();
    let raised = burnin_server::alerts::observe(
        &pool,
        &AlertRules::default(),
        (host, AlertKind::SmartFailed, "SER123"),
        Seen::Firing { severity: Severity::Critical, message: "SMART says FAILED".into() },
        now,
    )
    .await
    .unwrap();
    assert!(raised.is_some());

    // The worker's first attempt meets the first 503.
    receiver.wait("/hook", |r| !r.is_empty()).await;
    // Later in simulated time: the second 503, then the 200.
    let mut at = now;
    for _ in 0..40 {
        at += 60;
        burnin_server::notify::run_due(&server.notifier, at).await.unwrap();
        if receiver.received().len() >= 3 {
            break;
        }
    }
    let got = receiver.wait("/hook", |r| r.len() >= 3).await;
    // A day later nothing more comes: delivered is delivered.
    burnin_server::notify::run_due(&server.notifier, at + 86_400).await.unwrap();
    let got_after = receiver.received();
    assert_eq!(got_after.len(), 3, "{:?}", events(&got_after));
    let ids: std::collections::HashSet<String> =
        got.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids.len(), 1, "a retry carries the same id");
    for r in &got {
        verify(r);
    }
    let log = server.get_json(&format!("/api/v1/channels/{id}/deliveries")).await;
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 3, "{log:?}");
    // Newest first: 200, 503, 503; the failures each name when they retry.
    assert_eq!(log[0]["ok"], true);
    assert_eq!(log[0]["code"], 200);
    for failed in &log[1..] {
        assert_eq!(failed["ok"], false);
        assert_eq!(failed["code"], 503);
        assert!(failed["retry_at"].as_i64().is_some_and(|t| t > failed["at"].as_i64().unwrap()));
    }
    assert_eq!(log[2]["attempt"], 1);
    assert_eq!(log[0]["attempt"], 3);
}

#[tokio::test]
async fn retry_after_is_honoured_and_a_permanent_refusal_is_not_retried() {
    let server = common::demo::demo(|_| {}).await;
    common::demo::drives(&server).await;
    let receiver = HttpReceiver::start().await;
    receiver.script(&[(429, Some("7")), (404, None)]);
    let id = channel(
        &server,
        json!({"name": "slack", "config": {"kind": "webhook", "url": format!("{}/slack", receiver.base), "preset": "slack"}}),
    )
    .await;
    let host = server.get_json("/api/v1/hosts").await[0]["id"].as_i64().unwrap();
    let pool = sqlx::SqlitePool::connect(&server.database_url()).await.unwrap();
    let now = burnin_server::auth::now_unix();
    burnin_server::alerts::observe(
        &pool,
        &AlertRules::default(),
        (host, AlertKind::SmartFailed, "SER9"),
        Seen::Firing { severity: Severity::Critical, message: "SMART says FAILED".into() },
        now,
    )
    .await
    .unwrap();
    let first = receiver.wait("/slack", |r| !r.is_empty()).await;
    assert!(first[0].json()["text"].as_str().unwrap().contains("SER9"), "the Slack shape");
    let log = server
        .wait_json(&format!("/api/v1/channels/{id}/deliveries"), |l| {
            l.as_array().is_some_and(|l| !l.is_empty())
        })
        .await;
    assert_eq!(log[0]["code"], 429);
    let at = log[0]["at"].as_i64().unwrap();
    assert_eq!(log[0]["retry_at"], at + 7, "Retry-After: 7");
    burnin_server::notify::run_due(&server.notifier, at + 7).await.unwrap();
    burnin_server::notify::run_due(&server.notifier, at + 86_400).await.unwrap();
    assert_eq!(receiver.received().len(), 2, "a 404 is not retried");
    let log = server.get_json(&format!("/api/v1/channels/{id}/deliveries")).await;
    assert_eq!(log[0]["code"], 404);
    assert_eq!(log[0]["retry_at"], Value::Null);
    assert!(log[0]["detail"].as_str().unwrap().contains("404"), "{log}");
}

#[tokio::test]
async fn a_test_send_goes_the_real_way_and_reports_success_and_failure_inline() {
    let server = common::TestServer::start().await;
    let receiver = HttpReceiver::start().await;
    let good = channel(
        &server,
        json!({"name": "hook", "enabled": false, "config": {"kind": "webhook", "url": format!("{}/t", receiver.base)}, "secret": SECRET}),
    )
    .await;
    let (status, result) =
        server.call(Method::POST, &format!("/api/v1/channels/{good}/test"), None).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["code"], 200);
    let got = receiver.wait("/t", |r| !r.is_empty()).await;
    assert_eq!(got[0].json()["type"], "test");
    verify(&got[0]);

    // Nobody listening: the answer says so and names the address.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let bad = channel(
        &server,
        json!({"name": "nowhere", "config": {"kind": "ntfy", "url": format!("http://{closed}/topic")}}),
    )
    .await;
    let (status, result) =
        server.call(Method::POST, &format!("/api/v1/channels/{bad}/test"), None).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["ok"], false);
    assert!(result["detail"].as_str().unwrap().contains(&closed.to_string()), "{result}");
    assert_eq!(result["retry_at"], Value::Null, "a test is tried once");

    // A viewer cannot send tests; a bad channel is refused with each problem named.
    let viewer = server.client_as(burnin::access::Role::Viewer).await;
    let answer =
        viewer.post(server.url(&format!("/api/v1/channels/{good}/test"))).send().await.unwrap();
    assert_eq!(answer.status(), 403);
    let (status, refused) = server
        .call(
            Method::POST,
            "/api/v1/channels",
            Some(json!({"name": "", "config": {"kind": "webhook", "url": "ftp://x"}})),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    let message = refused["message"].as_str().unwrap_or(&refused.to_string()).to_owned();
    for field in ["name", "config.url", "secret"] {
        assert!(message.contains(field), "{field} not named in {message}");
    }
    let audit = common::demo::audit_events(&server).await;
    assert!(audit.iter().any(|(a, _)| a == "channel.tested"), "{audit:?}");
    assert!(audit.iter().any(|(a, _)| a == "channel.created"));
}

#[tokio::test]
async fn plain_smtp_without_login_delivers_and_the_digest_comes_once_at_its_hour() {
    let server = common::demo::demo(|_| {}).await;
    let drives = common::demo::drives(&server).await;
    set_public_url(&server).await;
    let smtp = SmtpSink::start(false, None).await;
    let now = burnin_server::auth::now_unix();
    // The digest hour: two hours from now in UTC.
    let (_, hour_now) = burnin::notify::local_day_and_hour(now, 0);
    let hour = (hour_now + 2) % 24;
    channel(
        &server,
        json!({"name": "digest", "config": {"kind": "email", "host": "127.0.0.1", "port": smtp.port,
               "security": "plain", "from": "burnin@example.lan", "to": ["ops@example.lan"],
               "per_alert": false, "digest_hour": hour}}),
    )
    .await;
    let ended = common::demo::surface_test_to_end(&server, &drives, "FAIL001").await;
    assert_eq!(ended["state"], "failed");
    // per_alert off: the failure itself sends no mail.
    burnin_server::notify::run_due(&server.notifier, now + 60).await.unwrap();
    assert_eq!(smtp.messages().len(), 0);

    let top_of = |offset_hours: i64| (now / 3600 + offset_hours) * 3600 + 60;
    assert_eq!(
        burnin_server::notify::digest_tick(&server.notifier, top_of(1)).await.unwrap(),
        0,
        "not its hour"
    );
    let at = top_of(2);
    assert_eq!(burnin_server::notify::digest_tick(&server.notifier, at).await.unwrap(), 1);
    assert_eq!(
        burnin_server::notify::digest_tick(&server.notifier, at + 600).await.unwrap(),
        0,
        "one digest a day"
    );
    burnin_server::notify::run_due(&server.notifier, at).await.unwrap();
    let mail = smtp.wait_for(1).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0]["tls"], false);
    assert_eq!(mail[0]["login"], Value::Null);
    let data = mail[0]["data"].as_str().unwrap().replace("=\r\n", "").replace("\r\n", "\n");
    assert!(data.contains("Subject: Attention: Burn-in digest"), "{data}");
    assert!(data.contains("0 passed, 1 failed"), "{data}");
    assert!(data.contains("FAIL001"), "{data}");
    assert!(data.contains(&format!("/jobs/{}", ended["id"])), "{data}");
    assert!(data.contains("Open alerts"), "the failure's alert is open: {data}");
}

#[tokio::test]
async fn a_flapping_condition_notifies_once_and_a_restart_loses_no_pending_notification() {
    let server = common::demo::demo(|_| {}).await;
    common::demo::drives(&server).await;
    let receiver = HttpReceiver::start().await;
    // Down at first: the notification waits in the outbox.
    receiver.script(&[(503, None)]);
    channel(
        &server,
        json!({"name": "hook", "config": {"kind": "webhook", "url": format!("{}/hook", receiver.base)}, "secret": SECRET}),
    )
    .await;
    let host = server.get_json("/api/v1/hosts").await[0]["id"].as_i64().unwrap();
    let pool = sqlx::SqlitePool::connect(&server.database_url()).await.unwrap();
    let rules = AlertRules::default();
    let now = burnin_server::auth::now_unix();
    let hot = || Seen::Firing { severity: Severity::Critical, message: "61 °C".into() };
    // Hot and cool every minute for half an hour: inside the damping time, so never raised.
    for minute in 0..30 {
        let seen = if minute % 2 == 0 { hot() } else { Seen::Clear };
        burnin_server::alerts::observe(
            &pool,
            &rules,
            (host, AlertKind::TemperatureHigh, "SERT"),
            seen,
            now + minute * 60,
        )
        .await
        .unwrap();
    }
    // Then hot for ten minutes: raised once.
    let mut told = Vec::new();
    for minute in 30..41 {
        told.extend(
            burnin_server::alerts::observe(
                &pool,
                &rules,
                (host, AlertKind::TemperatureHigh, "SERT"),
                hot(),
                now + minute * 60,
            )
            .await
            .unwrap(),
        );
    }
    assert_eq!(told.len(), 1, "{told:?}");
    burnin_server::notify::run_due(&server.notifier, now + 41 * 60).await.unwrap();
    receiver.wait("/hook", |r| r.len() == 1).await;
    let (pending,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(pending, 1, "the 503 left it pending");

    // Restart on the same database: the new process delivers it.
    let dir = server.stop().await;
    let server = common::TestServer::start_with(dir, |config| {
        config.simulator = burnin_server::config::SimulatorMode::Always;
    })
    .await;
    burnin_server::notify::run_due(&server.notifier, now + 86_400).await.unwrap();
    let got = receiver.wait("/hook", |r| r.len() == 2).await;
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));
    assert_eq!(got[1].json()["alert"]["kind"], "temperature_high");
    let (delivered,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE state = 'delivered'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(delivered, 1);
    assert_eq!(receiver.received().len(), 2, "told once, delivered once");
}

#[tokio::test]
async fn an_unacknowledged_event_is_told_again_at_its_reminder_and_not_once_acknowledged() {
    let server = common::demo::demo(|_| {}).await;
    common::demo::drives(&server).await;
    let receiver = HttpReceiver::start().await;
    channel(
        &server,
        json!({"name": "hook", "config": {"kind": "webhook", "url": format!("{}/hook", receiver.base)}, "secret": SECRET}),
    )
    .await;
    let host = server.get_json("/api/v1/hosts").await[0]["id"].as_i64().unwrap();
    let pool = sqlx::SqlitePool::connect(&server.database_url()).await.unwrap();
    let rules = AlertRules::default();
    let now = burnin_server::auth::now_unix();
    let (id, _) = burnin_server::alerts::observe(
        &pool,
        &rules,
        (host, AlertKind::BurninFailed, "SERR"),
        Seen::Firing { severity: Severity::Critical, message: "failed".into() },
        now,
    )
    .await
    .unwrap()
    .unwrap();
    receiver.wait("/hook", |r| r.len() == 1).await;
    let every = i64::from(rules.reminder_mins) * 60;
    let remind = |at: i64| {
        let pool = pool.clone();
        let rules = rules.clone();
        async move { burnin_server::alerts::remind_due(&pool, &rules, at).await.unwrap() }
    };
    assert_eq!(remind(now + every - 60).await, 0, "not yet");
    assert_eq!(remind(now + every).await, 1);
    assert_eq!(remind(now + every + 60).await, 0, "once per interval");
    burnin_server::notify::run_due(&server.notifier, now + every).await.unwrap();
    let got = receiver.wait("/hook", |r| r.len() == 2).await;
    assert_eq!(events(&got), ["alert.raised", "alert.reminder"]);
    verify(&got[1]);
    let (status, _) =
        server.call(Method::POST, &format!("/api/v1/alerts/{id}/acknowledge"), None).await;
    assert_eq!(status, 200);
    assert_eq!(remind(now + 10 * every).await, 0, "an acknowledged alert is not reminded of");
}

#[tokio::test]
async fn implicit_tls_delivers_and_a_refused_login_is_reported_not_retried() {
    let server = common::TestServer::start().await;
    let smtp = SmtpSink::start_with(true, true, Some("alerts:right-password")).await;
    let mail = |secret: &str| {
        json!({"name": format!("smtps {secret}"), "config": {"kind": "email", "host": "127.0.0.1", "port": smtp.port,
               "security": "tls", "username": "alerts", "from": "burnin@example.lan", "to": ["ops@example.lan"],
               "tls_certificate": smtp.cert_pem.clone().unwrap()}, "secret": secret})
    };
    let good = channel(&server, mail("right-password")).await;
    let (status, result) =
        server.call(Method::POST, &format!("/api/v1/channels/{good}/test"), None).await;
    assert_eq!(status, 200);
    assert_eq!(result["ok"], true, "{result}");
    let got = smtp.wait_for(1).await;
    assert_eq!(got[0]["login"], "alerts");
    assert!(got[0]["data"].as_str().unwrap().contains("Subject: Test from"), "{}", got[0]["data"]);

    let bad = channel(&server, mail("wrong-password")).await;
    let (_, result) =
        server.call(Method::POST, &format!("/api/v1/channels/{bad}/test"), None).await;
    assert_eq!(result["ok"], false, "{result}");
    assert_eq!(result["code"], 535, "{result}");
    assert!(result["detail"].as_str().unwrap().contains("login was refused"), "{result}");
    assert_eq!(smtp.messages().len(), 1, "nothing sent without the login");

    // STARTTLS against a server that speaks TLS at once: a clear failure, not a hang.
    let mut wrong = mail("right-password");
    wrong["name"] = json!("starttls to smtps");
    wrong["config"]["security"] = json!("starttls");
    let mismatched = channel(&server, wrong).await;
    let patient =
        reqwest::Client::builder().timeout(std::time::Duration::from_secs(90)).build().unwrap();
    let result: Value = patient
        .post(server.url(&format!("/api/v1/channels/{mismatched}/test")))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(result["ok"], false, "{result}");
    assert!(result["detail"].as_str().unwrap().contains("check the port and security"), "{result}");
}
