//! The verifiable record, end to end: a demo drive burned in over SSH, its evidence bundle
//! sealed once and the same on every fetch, checked offline by `burnin-server verify` (and
//! failing, naming the part, when one byte of a capture changes), the certificate PDF's text
//! and rendering, retention dropping outputs while the seal still verifies, a job deleted by
//! an admin naming what went, and an audit log the database refuses to change.

use crate::common;

use std::process::Command;

use burnin::access::Role;
use common::demo::{demo, drives, id_of, place, surface_test_to_end};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_burnin-server");

async fn bytes(server: &common::TestServer, path: &str) -> (u16, Vec<u8>, String) {
    let answer = server.client.get(server.url(path)).send().await.unwrap();
    let status = answer.status().as_u16();
    let kind = answer
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, answer.bytes().await.unwrap().to_vec(), kind)
}

fn verify(path: &std::path::Path, key: Option<&str>) -> (i32, String) {
    let mut command = Command::new(BIN);
    command.arg("verify").arg(path);
    if let Some(key) = key {
        command.arg("--key").arg(key);
    }
    let out = command.output().unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn a_sealed_bundle_verifies_offline_and_a_changed_byte_is_named() {
    let server = demo(|_| {}).await;
    let fleet = drives(&server).await;
    let job = surface_test_to_end(&server, &fleet, "FAIL001").await;
    assert_eq!(job["state"], "failed", "{job:#}");
    let id = job["id"].as_i64().unwrap();

    // What the job page shows, a viewer may read; the audit log only an admin.
    let viewer = server.client_as(Role::Viewer).await;
    for path in [
        format!("/api/v1/burnin/{id}"),
        format!("/api/v1/burnin/{id}/certificate"),
        format!("/api/v1/burnin/{id}/smart/before"),
        format!("/api/v1/burnin/{id}/evidence"),
    ] {
        let answer = viewer.get(server.url(&path)).send().await.unwrap();
        assert_eq!(answer.status(), 200, "a viewer reads {path}");
    }
    let audit = viewer.get(server.url("/api/v1/audit")).send().await.unwrap();
    assert_eq!(audit.status(), 403, "a viewer may not read the audit log");

    let key = server.get_json("/api/v1/signing-key").await;
    let public = key["public_key"].as_str().unwrap().to_owned();
    assert_eq!(key["algorithm"], "ed25519");
    // Open: a buyer needs no account to learn the key.
    let anonymous = reqwest::Client::new().get(server.url("/api/v1/signing-key")).send().await;
    assert_eq!(anonymous.unwrap().status(), 200);

    let (status, first, kind) = bytes(&server, &format!("/api/v1/burnin/{id}/evidence")).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&first));
    assert_eq!(kind, "application/json");
    let (_, second, _) = bytes(&server, &format!("/api/v1/burnin/{id}/evidence")).await;
    assert_eq!(first, second, "the bundle is sealed once: the same bytes on every fetch");
    let bundle: Value = serde_json::from_slice(&first).unwrap();
    assert_eq!(bundle["manifest"]["drive_serial"], "FAIL001");
    assert_eq!(bundle["manifest"]["outcome"], "fail");
    assert_eq!(bundle["manifest"]["public_key"], public.as_str());
    let parts = bundle["parts"].as_object().unwrap();
    for name in ["job", "drive", "verdict", "thresholds", "captures/smart_before.json"] {
        assert!(parts.contains_key(name), "no part {name}: {:?}", parts.keys());
    }
    assert!(
        parts.keys().any(|k| k.starts_with("stages/") && k.ends_with("/stderr")),
        "the surface test's output is in the bundle: {:?}",
        parts.keys()
    );

    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json");
    std::fs::write(&good, &first).unwrap();
    let (code, text) = verify(&good, Some(&public));
    assert_eq!(code, 0, "{text}");
    let hash = bundle_hash(&server, id).await;
    assert!(text.contains(&hash), "the verifier prints the certificate's hash: {text}");

    // One byte of the SMART capture changed: the verifier says which part.
    let mut tampered: Value = bundle.clone();
    let capture = tampered["parts"]["captures/smart_before.json"].as_str().unwrap().to_owned();
    let at = capture.find("FAIL001").unwrap();
    let mut changed = capture.into_bytes();
    changed[at] = b'G';
    tampered["parts"]["captures/smart_before.json"] =
        Value::String(String::from_utf8(changed).unwrap());
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, serde_json::to_vec_pretty(&tampered).unwrap()).unwrap();
    let (code, text) = verify(&bad, Some(&public));
    assert_eq!(code, 1, "a changed capture fails: {text}");
    assert!(text.contains("parts/captures/smart_before.json"), "it names the part: {text}");

    // Another key: intact, but not signed by the key the checker expects.
    let other = burnin::evidence::public_key_text(
        &ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]).verifying_key(),
    );
    let (code, text) = verify(&good, Some(&other));
    assert_eq!(code, 1, "the wrong key fails: {text}");

    // Unreadable input is told apart from a mismatch.
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, b"{ not json").unwrap();
    let (code, text) = verify(&junk, None);
    assert_eq!(code, 2, "{text}");

    // The dashboard checks the same way, and says where.
    let answer: Value = server
        .client
        .post(server.url("/api/v1/evidence/verify"))
        .body(serde_json::to_vec(&tampered).unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["valid"], false, "{answer:#}");
    assert!(
        answer["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["location"] == "parts/captures/smart_before.json"),
        "{answer:#}"
    );
    let answer: Value = server
        .client
        .post(server.url("/api/v1/evidence/verify"))
        .body(first.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["valid"], true, "{answer:#}");
    assert_eq!(answer["key_matches_expected"], true, "{answer:#}");
}

async fn bundle_hash(server: &common::TestServer, id: i64) -> String {
    let certificate = server.get_json(&format!("/api/v1/burnin/{id}/certificate")).await;
    let hash = certificate["bundle_hash"].as_str().unwrap().to_owned();
    assert_eq!(hash.len(), 64, "{certificate:#}");
    hash
}

#[tokio::test]
async fn the_pdf_holds_the_serial_verdict_and_hash_and_renders() {
    let server = demo(|_| {}).await;
    let fleet = drives(&server).await;
    let job = surface_test_to_end(&server, &fleet, "FAIL001").await;
    let id = job["id"].as_i64().unwrap();
    let certificate = server.get_json(&format!("/api/v1/burnin/{id}/certificate")).await;
    assert_eq!(certificate["outcome"], "FAIL");
    assert_eq!(certificate["bad_blocks"], 24, "{certificate:#}");
    assert_eq!(certificate["defects"].as_array().unwrap().len(), 24);
    let block = certificate["defects"][0]["block"].as_u64().unwrap();
    let offset = certificate["defects"][0]["byte_offset"].as_u64().unwrap();
    assert!(offset > 0 && offset % block == 0, "a byte offset is the block times its size");
    let hash = bundle_hash(&server, id).await;
    let dir = tempfile::tempdir().unwrap();
    for paper in ["a4", "letter"] {
        let (status, pdf, kind) =
            bytes(&server, &format!("/api/v1/burnin/{id}/certificate.pdf?paper={paper}")).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&pdf));
        assert_eq!(kind, "application/pdf");
        let path = dir.path().join(format!("{paper}.pdf"));
        std::fs::write(&path, &pdf).unwrap();
        let text = Command::new("pdftotext").arg("-layout").arg(&path).arg("-").output().unwrap();
        assert!(text.status.success(), "pdftotext read it");
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(text.contains("FAIL001"), "{text}");
        assert!(text.contains("FAIL"), "{text}");
        let flat: String = text.split_whitespace().collect();
        assert!(flat.contains(&hash), "the hash is on the certificate: {text}");
        let info = Command::new("pdfinfo").arg(&path).output().unwrap();
        let info = String::from_utf8_lossy(&info.stdout);
        let size = if paper == "a4" { "(A4)" } else { "612 x 792 pts (letter)" };
        assert!(info.contains(size), "{paper}: {info}");
        let png = dir.path().join(paper);
        let render = Command::new("pdftoppm")
            .args(["-png", "-r", "60", "-f", "1", "-l", "1"])
            .arg(&path)
            .arg(&png)
            .status()
            .unwrap();
        assert!(render.success());
        let made: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(paper))
            .filter(|e| e.file_name().to_string_lossy().ends_with(".png"))
            .collect();
        assert_eq!(made.len(), 1, "one page rendered");
        assert!(std::fs::metadata(made[0].path()).unwrap().len() > 10_000, "not a blank page");
    }
    let (status, body, _) =
        bytes(&server, &format!("/api/v1/burnin/{id}/certificate.pdf?paper=tabloid")).await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("letter"));

    // A lot in one PDF: every finished job the history filters match, a page each.
    let second = surface_test_to_end(&server, &fleet, "ZDH1X2Y3").await;
    let second = second["id"].as_i64().unwrap();
    let pages_of = |path: &std::path::Path| -> usize {
        let info = Command::new("pdfinfo").arg(path).output().unwrap();
        let info = String::from_utf8_lossy(&info.stdout).into_owned();
        let line =
            info.lines().find(|l| l.starts_with("Pages:")).unwrap_or_else(|| panic!("{info}"));
        line.trim_start_matches("Pages:").trim().parse().unwrap()
    };
    let fetch = |path: String, name: &str| {
        let file = dir.path().join(name);
        let server = &server;
        async move {
            let (status, pdf, _) = bytes(server, &path).await;
            assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&pdf));
            std::fs::write(&file, &pdf).unwrap();
            file
        }
    };
    let one = pages_of(&fetch(format!("/api/v1/burnin/{id}/certificate.pdf"), "one.pdf").await);
    let two = pages_of(&fetch(format!("/api/v1/burnin/{second}/certificate.pdf"), "two.pdf").await);
    let batch = fetch("/api/v1/burnin/certificates.pdf?paper=letter".into(), "batch.pdf").await;
    assert!(one >= 1 && two >= 1, "{one} and {two} pages");
    assert_eq!(pages_of(&batch), 2, "a page per certificate");
    let text = Command::new("pdftotext").arg(&batch).arg("-").output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("FAIL001") && text.contains("ZDH1X2Y3"), "{text}");
    let info = Command::new("pdfinfo").arg(&batch).output().unwrap();
    assert!(String::from_utf8_lossy(&info.stdout).contains("letter"));
    let only = fetch("/api/v1/burnin/certificates.pdf?serial=FAIL001".into(), "only.pdf").await;
    assert_eq!(pages_of(&only), 1, "the filters choose the jobs");
    let only = Command::new("pdftotext").arg(&only).arg("-").output().unwrap();
    let only = String::from_utf8_lossy(&only.stdout);
    assert!(only.contains("FAIL001") && !only.contains("ZDH1X2Y3"), "{only}");
    for (query, status, says) in [
        ("serial=NOSUCH", 404, "no finished job"),
        ("paper=tabloid", 400, "letter"),
        ("colour=red", 400, "serial"),
        ("verdict=maybe", 400, "verdict"),
    ] {
        let (got, body, _) =
            bytes(&server, &format!("/api/v1/burnin/certificates.pdf?{query}")).await;
        let body = String::from_utf8_lossy(&body);
        assert_eq!(got, status, "{query}: {body}");
        assert!(body.contains(says), "{query}: {body}");
    }
}

#[tokio::test]
async fn retention_drops_outputs_but_the_seal_still_verifies() {
    let server = demo(|_| {}).await;
    let fleet = drives(&server).await;
    let job = surface_test_to_end(&server, &fleet, "ZJV0A1B2").await;
    let id = job["id"].as_i64().unwrap();
    let streams = |job: &Value| -> Vec<String> {
        job["stages"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["outputs"].as_array().cloned().unwrap_or_default())
            .map(|o| o["stream"].as_str().unwrap().to_owned())
            .collect()
    };
    let kept = streams(&job);
    let bulky = kept.iter().filter(|s| *s != "stdout").count();
    assert!(bulky > 0 && kept.contains(&"stdout".to_owned()), "the job kept outputs: {job:#}");
    let hash = bundle_hash(&server, id).await;
    // Not old enough yet: nothing goes.
    assert_eq!(server.services.prune_outputs(30, "tests").await.unwrap(), 0);
    let pool = sqlx::SqlitePool::connect(&server.database_url()).await.unwrap();
    sqlx::query("UPDATE jobs SET finished_at = '2020-01-01T00:00:00.000Z' WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    let removed = server.services.prune_outputs(30, "tests").await.unwrap();
    assert_eq!(removed, bulky as u64);
    let after = server.get_json(&format!("/api/v1/burnin/{id}")).await;
    assert!(streams(&after).iter().all(|s| s == "stdout"), "only bad block lists stay: {after:#}");
    assert_eq!(after["verdict"], job["verdict"], "the verdict stays");
    assert_eq!(bundle_hash(&server, id).await, hash, "the certificate's hash stays");
    let (_, bundle, _) = bytes(&server, &format!("/api/v1/burnin/{id}/evidence")).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pruned.json");
    std::fs::write(&path, &bundle).unwrap();
    let key = server.get_json("/api/v1/signing-key").await;
    let (code, text) = verify(&path, key["public_key"].as_str());
    assert_eq!(code, 0, "what is left still verifies: {text}");
    assert!(text.contains("no longer keeps"), "and it says what was left out: {text}");
}

#[tokio::test]
async fn an_admin_deletes_a_job_naming_what_went_and_the_audit_log_cannot_change() {
    let server = demo(|_| {}).await;
    let fleet = drives(&server).await;
    let job = surface_test_to_end(&server, &fleet, "ZJV0A1B2").await;
    let id = job["id"].as_i64().unwrap();
    bundle_hash(&server, id).await;

    let operator = server.client_as(Role::Operator).await;
    let refused = operator
        .delete(server.url(&format!("/api/v1/burnin/{id}")))
        .json(&json!({"confirm": "ZJV0A1B2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403, "an operator may not delete history");
    let wrong = server
        .client
        .delete(server.url(&format!("/api/v1/burnin/{id}")))
        .json(&json!({"confirm": "ZJV0A1B3"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    assert_eq!(server.get_json(&format!("/api/v1/burnin/{id}")).await["id"], id, "still there");

    let removed: Value = server
        .client
        .delete(server.url(&format!("/api/v1/burnin/{id}")))
        .json(&json!({"confirm": "ZJV0A1B2"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(removed["job_id"], id, "{removed:#}");
    assert!(removed["stages"].as_u64().unwrap() >= 3, "{removed:#}");
    assert!(removed["outputs"].as_u64().unwrap() > 0, "{removed:#}");
    assert_eq!(removed["evidence"], true, "{removed:#}");
    let gone = server.client.get(server.url(&format!("/api/v1/burnin/{id}"))).send().await.unwrap();
    assert_eq!(gone.status(), 404);
    let events = common::demo::audit_events(&server).await;
    let (_, detail) = events.iter().find(|(action, _)| action == "burnin.delete").unwrap();
    let detail: Value = serde_json::from_str(detail).unwrap();
    assert_eq!(detail, removed, "the audit event names what was removed");
    // The job's own events stay.
    assert!(events.iter().any(|(action, d)| action.starts_with("burnin.start")
        && serde_json::from_str::<Value>(d).unwrap()["job_id"] == id));

    // Nothing changes the log, whatever path asks: the database refuses.
    let pool = sqlx::SqlitePool::connect(&server.database_url()).await.unwrap();
    // The job's trail is found by its column, carries the drive, and outlives the job.
    let drive_id = common::demo::id_of(&fleet, "ZJV0A1B2");
    let trail = burnin_server::audit::of_job(&pool, id).await.unwrap();
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    assert!(actions.iter().any(|a| a.starts_with("burnin.start")), "{actions:?}");
    let by_column: Vec<(i64, Option<i64>)> =
        sqlx::query_as("SELECT id, drive_id FROM audit_events WHERE job_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        by_column.iter().map(|(e, _)| *e).collect::<Vec<_>>(),
        trail.iter().map(|e| e.id).collect::<Vec<_>>()
    );
    assert!(by_column.iter().all(|(_, d)| *d == Some(drive_id)), "{by_column:?}");
    let before: (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit_events").fetch_one(&pool).await.unwrap();
    assert!(before.0 > 0);
    let update = sqlx::query("UPDATE audit_events SET actor = 'nobody'").execute(&pool).await;
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = sqlx::query("DELETE FROM audit_events").execute(&pool).await;
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    let after: (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit_events").fetch_one(&pool).await.unwrap();
    assert_eq!(after, before);
    let actors: Vec<(String,)> =
        sqlx::query_as("SELECT DISTINCT actor FROM audit_events").fetch_all(&pool).await.unwrap();
    assert!(actors.iter().all(|(a,)| a != "nobody"));
}

#[tokio::test]
async fn a_job_is_sealed_as_it_ends_with_the_drive_where_it_was_then() {
    let server = demo(|_| {}).await;
    let fleet = drives(&server).await;
    let drive_id = id_of(&fleet, "ZDH1X2Y3");
    place(&server, drive_id, "Shelf A, bay 2").await;
    let job = surface_test_to_end(&server, &fleet, "ZDH1X2Y3").await;
    assert_eq!(job["state"], "passed", "{job:#}");
    let id = job["id"].as_i64().unwrap();

    // Nobody asked for the bundle: the job was sealed as it ended.
    let pool = sqlx::SqlitePool::connect(&server.database_url()).await.unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let sealed: Option<(String,)> =
            sqlx::query_as("SELECT parts_json FROM job_evidence WHERE job_id = $1")
                .bind(id)
                .fetch_optional(&pool)
                .await
                .unwrap();
        if let Some((parts,)) = sealed {
            assert!(parts.contains("Shelf A, bay 2"), "sealed with the drive's place: {parts}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "job {id} was not sealed as it ended");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // The drive moves on; its record keeps where it was burned in.
    place(&server, drive_id, "Shelf C, bay 9").await;
    let certificate = server.get_json(&format!("/api/v1/burnin/{id}/certificate")).await;
    assert_eq!(certificate["location"], "Shelf A, bay 2", "{certificate:#}");
}

#[tokio::test]
async fn a_rotated_key_stays_listed_and_the_bundles_it_signed_still_verify() {
    let server = demo(|_| {}).await;
    let fleet = drives(&server).await;
    let job = surface_test_to_end(&server, &fleet, "ZDH1X2Y3").await;
    let id = job["id"].as_i64().unwrap();
    let (_, sealed, _) = bytes(&server, &format!("/api/v1/burnin/{id}/evidence")).await;
    let before = server.get_json("/api/v1/signing-key").await;
    assert_eq!(before["retired"], json!([]), "{before:#}");
    let url = server.database_url();
    let dir = server.stop().await;

    // The operator rotates with the server stopped, as the command's help says.
    let out =
        Command::new(BIN).args(["rotate-signing-key", "--database-url", &url]).output().unwrap();
    let said =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains(before["fingerprint"].as_str().unwrap()),
        "names the retired key: {said}"
    );

    let server = common::TestServer::start_in(dir).await;
    let after = server.get_json("/api/v1/signing-key").await;
    assert_ne!(after["public_key"], before["public_key"], "a new key signs from now on");
    let retired = after["retired"].as_array().unwrap();
    assert_eq!(retired.len(), 1, "{after:#}");
    assert_eq!(retired[0]["public_key"], before["public_key"]);
    assert_eq!(retired[0]["fingerprint"], before["fingerprint"]);
    assert!(!retired[0]["retired_at"].as_str().unwrap().is_empty());

    // The old bundle is unchanged and still this dashboard's, by its retired key.
    let (status, again, _) = bytes(&server, &format!("/api/v1/burnin/{id}/evidence")).await;
    assert_eq!(status, 200);
    assert_eq!(again, sealed, "a rotation does not re-sign what was sealed");
    let answer = server
        .client
        .post(server.url("/api/v1/evidence/verify"))
        .body(sealed.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let report: Value = answer.json().await.unwrap();
    assert_eq!(report["valid"], true, "{report:#}");
    assert_eq!(report["key_matches_expected"], true, "{report:#}");
    assert_eq!(report["key_retired_at"], retired[0]["retired_at"]);
    // Offline, against the new key only, it says another key signed it.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &sealed).unwrap();
    let (code, text) = verify(file.path(), after["public_key"].as_str());
    assert_eq!(code, 1, "{text}");
    let (code, text) = verify(file.path(), before["public_key"].as_str());
    assert_eq!(code, 0, "{text}");
    // The rotation is in the audit log.
    let audit = server.get_json("/api/v1/audit?action=signing_key.rotated").await;
    assert_eq!(audit.as_array().unwrap().len(), 1, "{audit:#}");

    // A key file lost (and made anew at the next start) is retired the same way.
    let dir = server.stop().await;
    std::fs::remove_file(dir.path().join("signing.key")).unwrap();
    let server = common::TestServer::start_in(dir).await;
    let lost = server.get_json("/api/v1/signing-key").await;
    let retired: Vec<&Value> =
        lost["retired"].as_array().unwrap().iter().map(|k| &k["public_key"]).collect();
    assert_eq!(retired.len(), 2, "{lost:#}");
    assert!(retired.contains(&&after["public_key"]) && retired.contains(&&before["public_key"]));
}
