//! The `/api/v1` answers pinned: the shape (every field's name and JSON type, arrays by the
//! union of their items) of each answer automation reads, and the status and error kind of
//! each refusal, compared with `tests/snapshots/api.json`. A change to the API's contract
//! fails here until the snapshot is regenerated on purpose (`UPDATE_SNAPSHOTS=1`) and the
//! change is reviewed in the diff.

use crate::common;

use std::collections::BTreeMap;

use burnin::access::Role;
use serde_json::{Value, json};

/// A value's shape: objects by key, arrays by the union of their items' shapes, scalars by
/// type (`null` kept apart, so a field that may be missing shows as `string|null`).
fn shape(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
        }
        Value::Array(items) => {
            let mut merged: Option<Value> = None;
            for item in items {
                let next = shape(item);
                merged = Some(match merged {
                    None => next,
                    Some(previous) => union(previous, next),
                });
            }
            json!([merged.unwrap_or(Value::Null)])
        }
        Value::Null => json!("null"),
        Value::Bool(_) => json!("boolean"),
        Value::Number(_) => json!("number"),
        Value::String(_) => json!("string"),
    }
}

fn union(a: Value, b: Value) -> Value {
    match (a, b) {
        (Value::Object(mut a), Value::Object(b)) => {
            for (key, value) in b {
                let merged = match a.remove(&key) {
                    Some(existing) => union(existing, value),
                    None => value,
                };
                a.insert(key, merged);
            }
            Value::Object(a)
        }
        (Value::Array(a), Value::Array(b)) => {
            let a = a.into_iter().next().unwrap_or(Value::Null);
            let b = b.into_iter().next().unwrap_or(Value::Null);
            json!([union(a, b)])
        }
        (Value::String(a), Value::String(b)) => {
            let mut kinds: Vec<&str> = a.split('|').chain(b.split('|')).collect();
            kinds.sort_unstable();
            kinds.dedup();
            json!(kinds.join("|"))
        }
        // An object where another item had null: keep the object, note the null.
        (Value::String(s), other) | (other, Value::String(s)) if s == "null" => {
            json!({"nullable": other})
        }
        (a, _) => a,
    }
}

#[tokio::test]
async fn the_api_answers_keep_their_shape() {
    let server = common::demo::demo(|_| {}).await;
    let drives = common::demo::drives(&server).await;
    let serial = "ZJV0A1B3";
    let drive = common::demo::id_of(&drives, serial);
    let (status, started) = common::demo::start(
        &server,
        json!({"drive_ids": [drive], "stages": ["short_test", "surface"], "confirm_serial": serial}),
    )
    .await;
    assert_eq!(status, 201, "{started}");
    let job = started[0]["id"].as_i64().unwrap();
    common::demo::run_to_end(&server, &[job], 600.0).await;
    let hosts = server.get_json("/api/v1/hosts").await;
    let host = hosts[0]["id"].as_i64().unwrap();

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut channel = 0;
    for body in [
        json!({"name": "hook", "config": {"kind": "webhook", "url": format!("http://{closed}/hook")}, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}),
        json!({"name": "mail", "config": {"kind": "email", "host": "127.0.0.1", "port": closed.port(), "security": "plain", "from": "a@example.lan", "to": ["b@example.lan"], "digest_hour": 7}}),
    ] {
        let (status, made) =
            server.call(reqwest::Method::POST, "/api/v1/channels", Some(body)).await;
        assert_eq!(status, 201, "{made}");
        channel = made["id"].as_i64().unwrap();
        let (status, tested) = server
            .call(reqwest::Method::POST, &format!("/api/v1/channels/{channel}/test"), None)
            .await;
        assert_eq!((status, &tested["ok"]), (200, &json!(false)), "{tested}");
    }

    let mut pinned: BTreeMap<String, Value> = BTreeMap::new();
    for path in [
        "/api/v1/channels".to_owned(),
        format!("/api/v1/channels/{channel}/deliveries"),
        "/api/v1/hosts".to_owned(),
        format!("/api/v1/hosts/{host}"),
        "/api/v1/drives".to_owned(),
        format!("/api/v1/drives/{drive}"),
        "/api/v1/burnin".to_owned(),
        format!("/api/v1/burnin/{job}"),
        "/api/v1/settings".to_owned(),
        "/api/v1/settings/verdict".to_owned(),
        "/api/v1/alerts?state=all".to_owned(),
    ] {
        let answer = server.client.get(server.url(&path)).send().await.unwrap();
        assert_eq!(answer.status(), 200, "{path}");
        let body: Value = answer.json().await.unwrap();
        let key = path
            .replace(&format!("/{host}"), "/{id}")
            .replace(&format!("/{drive}"), "/{id}")
            .replace(&format!("/{job}"), "/{id}")
            .replace(&format!("/channels/{channel}/"), "/channels/{id}/");
        pinned.insert(format!("GET {key}"), shape(&body));
    }
    // Refusals: the status and the error's kind, which scripts branch on.
    let viewer = server.client_as(Role::Viewer).await;
    let refusals: Vec<(&str, reqwest::RequestBuilder)> = vec![
        ("anonymous GET /api/v1/drives", server.anon.get(server.url("/api/v1/drives"))),
        (
            "viewer POST /api/v1/burnin/start",
            viewer
                .post(server.url("/api/v1/burnin/start"))
                .json(&json!({"drive_ids": [drive], "stages": ["short_test"]})),
        ),
        ("GET /api/v1/drives/999999", server.client.get(server.url("/api/v1/drives/999999"))),
        ("GET /api/v1/drives/abc", server.client.get(server.url("/api/v1/drives/abc"))),
        ("GET /api/v1/nothing", server.client.get(server.url("/api/v1/nothing"))),
        (
            "PUT /api/v1/settings out of range",
            server.client.put(server.url("/api/v1/settings")).json(&json!({"jobs_per_host": 0})),
        ),
        (
            "POST /api/v1/burnin/start without the serial",
            server
                .client
                .post(server.url("/api/v1/burnin/start"))
                .json(&json!({"drive_ids": [drive], "stages": ["surface"]})),
        ),
    ];
    for (name, request) in refusals {
        let answer = request.send().await.unwrap();
        let status = answer.status().as_u16();
        let body: Value = answer.json().await.unwrap();
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{name}: {body}");
        pinned.insert(
            format!("refusal: {name}"),
            json!({"status": status, "kind": body["error"]["kind"], "shape": shape(&body)}),
        );
    }
    let now = serde_json::to_string_pretty(&pinned).unwrap() + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/api.json");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &now).unwrap();
        return;
    }
    let kept = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot at {}: run with UPDATE_SNAPSHOTS=1 once, review it and commit it",
            path.display()
        )
    });
    if kept != now {
        let kept: BTreeMap<String, Value> = serde_json::from_str(&kept).unwrap();
        let mut differences = Vec::new();
        for (key, value) in &pinned {
            match kept.get(key) {
                None => differences.push(format!("new: {key}")),
                Some(old) if old != value => differences.push(format!(
                    "changed: {key}\n  was {}\n  now {}",
                    serde_json::to_string(old).unwrap(),
                    serde_json::to_string(value).unwrap()
                )),
                Some(_) => {}
            }
        }
        for key in kept.keys().filter(|k| !pinned.contains_key(*k)) {
            differences.push(format!("gone: {key}"));
        }
        panic!(
            "the API's answers changed shape (if on purpose, run with UPDATE_SNAPSHOTS=1 and commit the diff):\n{}",
            differences.join("\n")
        );
    }
}
