//! The record over the JSON API: the job history (filters, sorts, cursor pages that hold
//! still while jobs are added), its CSV export (RFC 4180, formula cells escaped, the same rows
//! as the JSON) and the audit log (filters, pages, the refused start, who may read it, and that
//! no route changes it). Real SQLite; jobs written straight into the database, as the engine
//! leaves them.

use crate::common;

use std::collections::HashSet;

use burnin::access::Role;
use common::TestServer;
use serde_json::{Value, json};

/// A job as seeded, with what the history filters and sorts it by.
#[derive(Clone, Debug)]
struct Seeded {
    id: i64,
    drive_id: i64,
    host_id: i64,
    serial: String,
    model: String,
    state: &'static str,
    verdict: &'static str,
    operator: &'static str,
    created: String,
    duration: Option<i64>,
}

/// Drives: (host, serial, model, location).
const DRIVES: [(i64, &str, &str, &str); 8] = [
    (1, "ZL2AAA01", "ST8000VN004", "Bay 1"),
    (1, "ZL2AAA02", "ST8000VN004", "Bay 2, left"),
    (1, "WD-WX11", "WDC WD80EFZX", "Bay 3 \"top\""),
    (1, "=HYPERLINK(\"http://evil\")", "WDC WD80EFZX", ""),
    (2, "S6PN0001", "Samsung SSD 870", "Shelf A"),
    (2, "S6PN0002", "Samsung SSD 870", "Shelf A"),
    (2, "K4G0001", "HGST HUH721212", "Shelf B"),
    (2, "K4G0002", "HGST HUH721212", "Shelf B"),
];

/// 2024-11-01T00:00:00Z: every seeded job is older than one the test adds now.
const START: i64 = 1_730_419_200;

fn stamp(secs: i64) -> String {
    burnin::format::utc(secs).replace('Z', ".000Z")
}

fn verdict_json(outcome: &str, text: &str) -> String {
    json!({
        "outcome": outcome,
        "reasons": [{"level": if outcome == "pass" { "info" } else { outcome }, "rule": "seeded", "text": text, "evidence": "the test"}],
        "deltas": [],
        "max_temperature_c": null
    })
    .to_string()
}

/// Writes two hosts, eight drives and `count` finished jobs, one every five hours from
/// 2024-11-01; answers the jobs as seeded.
async fn seed(server: &TestServer, count: i64) -> Vec<Seeded> {
    let pool = sqlx::SqlitePool::connect(&server.database_url()).await.unwrap();
    for (id, name) in [(1, "nas-one"), (2, "nas-two")] {
        sqlx::query("INSERT INTO hosts (id, name) VALUES ($1, $2)")
            .bind(id)
            .bind(name)
            .execute(&pool)
            .await
            .unwrap();
    }
    let mut drive_ids = Vec::new();
    for (host, serial, model, location) in DRIVES {
        let id = sqlx::query(
            "INSERT INTO drives (host_id, serial, devname, model, size_bytes, kind, pool_kind, location)
             VALUES ($1, $2, 'sdx', $3, 8001563222016, 'HDD', 'free', $4)",
        )
        .bind(host)
        .bind(serial)
        .bind(model)
        .bind(location)
        .execute(&pool)
        .await
        .unwrap()
        .last_insert_rowid();
        drive_ids.push(id);
    }
    let mut seeded = Vec::new();
    for n in 0..count {
        let index = usize::try_from(n).unwrap() % DRIVES.len();
        let (host, serial, model, _) = DRIVES[index];
        let (state, verdict) = match n % 5 {
            0 | 1 => ("passed", "pass"),
            2 => ("passed", "warn"),
            3 => ("failed", "fail"),
            _ => ("cancelled", "incomplete"),
        };
        let operator = if n % 3 == 0 { "bob" } else { "ann" };
        let created = START + n * 5 * 3600;
        // Durations differ and repeat, so the duration sort has ties to break by id.
        let duration = 3600 * (1 + n % 7);
        let (started, finished) = if state == "cancelled" && n % 2 == 0 {
            (None, Some(stamp(created + 60))) // cancelled in the queue
        } else {
            (Some(stamp(created + 10)), Some(stamp(created + 10 + duration)))
        };
        let judged = (state != "cancelled")
            .then(|| verdict_json(verdict, &format!("seeded {verdict} for job {n}")));
        // The outcome column beside the verdict, as the engine writes both.
        let outcome = (state != "cancelled").then_some(verdict);
        let id = sqlx::query(
            "INSERT INTO jobs (drive_id, host_id, state, operator, created_at, started_at, finished_at, reason, bad_blocks, verdict_json, outcome)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(drive_ids[index])
        .bind(host)
        .bind(state)
        .bind(operator)
        .bind(stamp(created))
        .bind(&started)
        .bind(&finished)
        .bind(if state == "cancelled" { Some("cancelled by the test") } else { None })
        .bind(if state == "failed" { 12 } else { 0 })
        .bind(judged)
        .bind(outcome)
        .execute(&pool)
        .await
        .unwrap()
        .last_insert_rowid();
        seeded.push(Seeded {
            id,
            drive_id: drive_ids[index],
            host_id: host,
            serial: serial.to_owned(),
            model: model.to_owned(),
            state,
            verdict,
            operator,
            created: stamp(created),
            duration: started.is_some().then_some(duration),
        });
    }
    pool.close().await;
    seeded
}

/// Inserts one more finished job on the drive with `serial`, created now.
async fn insert_job(server: &TestServer, serial: &str) -> i64 {
    let pool = sqlx::SqlitePool::connect(&server.database_url()).await.unwrap();
    let id = sqlx::query(
        "INSERT INTO jobs (drive_id, host_id, state, operator, started_at, finished_at, verdict_json, outcome)
         SELECT id, host_id, 'passed', 'carl', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), $2, 'pass'
           FROM drives WHERE serial = $1",
    )
    .bind(serial)
    .bind(verdict_json("pass", "late"))
    .execute(&pool)
    .await
    .unwrap()
    .last_insert_rowid();
    pool.close().await;
    id
}

/// `GET path` as the admin: status, body, `X-Next-Cursor`, `Link`.
async fn get(
    client: &reqwest::Client,
    server: &TestServer,
    path: &str,
) -> (u16, Value, Option<String>, Option<String>) {
    let answer = client.get(server.url(path)).send().await.unwrap();
    let header = |name: &str| answer.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    let (next, link) = (header("x-next-cursor"), header("link"));
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null), next, link)
}

fn ids(body: &Value) -> Vec<i64> {
    body.as_array().unwrap().iter().map(|j| j["id"].as_i64().unwrap()).collect()
}

/// Follows the cursor from `first` to the last page; `between` runs after each page.
async fn walk(
    server: &TestServer,
    first: &str,
    mut between: impl AsyncFnMut(usize),
) -> (Vec<i64>, usize) {
    let mut seen = Vec::new();
    let mut path = first.to_owned();
    let mut pages = 0;
    loop {
        let (status, body, next, link) = get(&server.client, server, &path).await;
        assert_eq!(status, 200, "{path}: {body}");
        pages += 1;
        seen.extend(ids(&body));
        between(pages).await;
        let Some(next) = next else {
            assert_eq!(link, None, "a Link without a next cursor");
            break;
        };
        // The Link header is the same query with the cursor replaced.
        let link = link.expect("a Link header beside X-Next-Cursor");
        let target =
            link.strip_prefix('<').and_then(|l| l.split_once(">; rel=\"next\"")).unwrap().0;
        assert!(target.ends_with(&format!("cursor={next}")), "{link}");
        assert_eq!(target.matches("cursor=").count(), 1, "{link}");
        path = target.to_owned();
        assert!(pages < 100, "the cursor never ends");
    }
    (seen, pages)
}

#[tokio::test]
async fn every_page_of_the_history_follows_the_cursor_each_job_once_in_order_while_jobs_are_added()
{
    let server = TestServer::start().await;
    let seeded = seed(&server, 45).await;

    // Newest first (the default): a job added between pages is newer than every page read,
    // so it shows on none of the following ones, and none shifts.
    let mut expected: Vec<&Seeded> = seeded.iter().collect();
    expected.sort_by(|a, b| (&b.created, b.id).cmp(&(&a.created, a.id)));
    let expected: Vec<i64> = expected.iter().map(|s| s.id).collect();
    let mut added = Vec::new();
    let (seen, pages) = walk(&server, "/api/v1/burnin?limit=7", async |page| {
        if page == 2 {
            added.push(insert_job(&server, "K4G0001").await);
        }
    })
    .await;
    assert_eq!(pages, 7, "45 jobs at 7 a page");
    assert_eq!(seen, expected);
    assert!(!seen.contains(&added[0]));
    // Read again, the new job leads.
    let (_, body, _, _) = get(&server.client, &server, "/api/v1/burnin?limit=1").await;
    assert_eq!(ids(&body), vec![added[0]]);

    // By serial, ascending, ties by id: a job added on a serial past the cursor shows once,
    // where it sorts; every seeded job still shows exactly once, in order.
    let mut by_serial: Vec<&Seeded> = seeded.iter().collect();
    by_serial.sort_by(|a, b| (&a.serial, a.id).cmp(&(&b.serial, b.id)));
    let by_serial: Vec<i64> = by_serial.iter().map(|s| s.id).collect();
    let mut late = Vec::new();
    let (seen, _) = walk(&server, "/api/v1/burnin?sort=serial&limit=6", async |page| {
        if page == 1 {
            late.push(insert_job(&server, "ZL2AAA02").await);
        }
    })
    .await;
    let first_job = added[0];
    let originals: Vec<i64> =
        seen.iter().copied().filter(|id| *id != late[0] && *id != first_job).collect();
    assert_eq!(originals, by_serial);
    assert_eq!(seen.iter().filter(|id| **id == late[0]).count(), 1, "{seen:?}");
    let unique: HashSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "a job shown twice: {seen:?}");
    // It sorts among the ZL2AAA02 jobs, after the older ones (higher id).
    let at = seen.iter().position(|id| *id == late[0]).unwrap();
    assert_eq!(seen.get(at + 1), None, "ZL2AAA02 is the last serial and the late job its newest");

    // Longest first: ties (durations repeat every 7 jobs) broken by id, descending; jobs that
    // never started have no duration and come last.
    let mut by_duration: Vec<&Seeded> = seeded.iter().collect();
    by_duration.sort_by_key(|s| std::cmp::Reverse((s.duration.unwrap_or(-1), s.id)));
    let (seen, _) =
        walk(&server, "/api/v1/burnin?sort=-duration&limit=10&operator=ann", async |_| {}).await;
    let expected: Vec<i64> =
        by_duration.iter().filter(|s| s.operator == "ann").map(|s| s.id).collect();
    assert_eq!(seen, expected);
}

/// Every column the page sorts by, both ways: paging with the cursor gives exactly the order
/// of one long page, each job once; the operator sort is checked against the seed.
#[tokio::test]
async fn every_sort_key_pages_in_the_order_of_one_long_page() {
    let server = TestServer::start().await;
    let seeded = seed(&server, 30).await;
    for key in burnin::history::SortKey::ALL {
        for descending in [false, true] {
            let sort = burnin::history::Sort { key, descending }.as_string();
            let (_, whole, _, _) =
                get(&server.client, &server, &format!("/api/v1/burnin?sort={sort}&limit=100"))
                    .await;
            let whole = ids(&whole);
            assert_eq!(whole.len(), seeded.len(), "sort={sort}");
            let (paged, _) =
                walk(&server, &format!("/api/v1/burnin?sort={sort}&limit=4"), async |_| {}).await;
            assert_eq!(paged, whole, "sort={sort}: the pages disagree with one long page");
        }
    }
    let mut by_operator: Vec<&Seeded> = seeded.iter().collect();
    by_operator.sort_by(|a, b| (a.operator, a.id).cmp(&(b.operator, b.id)));
    let (_, body, _, _) =
        get(&server.client, &server, "/api/v1/burnin?sort=operator&limit=100").await;
    assert_eq!(ids(&body), by_operator.iter().map(|s| s.id).collect::<Vec<_>>());
}

#[tokio::test]
async fn each_filter_narrows_the_history_to_exactly_its_jobs() {
    let server = TestServer::start().await;
    let seeded = seed(&server, 40).await;
    let expect = |keep: &dyn Fn(&Seeded) -> bool| -> Vec<i64> {
        let mut kept: Vec<&Seeded> = seeded.iter().filter(|s| keep(s)).collect();
        kept.sort_by(|a, b| (&b.created, b.id).cmp(&(&a.created, a.id)));
        kept.iter().map(|s| s.id).collect()
    };
    let drive = seeded[3].drive_id;
    let day = &seeded[10].created[..10];
    let cases: Vec<(String, Vec<i64>)> = vec![
        ("host_id=2".into(), expect(&|s| s.host_id == 2)),
        (format!("drive_id={drive}"), expect(&|s| s.drive_id == drive)),
        ("model=wdc%20wd80".into(), expect(&|s| s.model.starts_with("WDC"))),
        ("serial=aaa0".into(), expect(&|s| s.serial.starts_with("ZL2AAA0"))),
        ("state=failed".into(), expect(&|s| s.state == "failed")),
        ("verdict=warn".into(), expect(&|s| s.verdict == "warn")),
        ("verdict=incomplete".into(), expect(&|s| s.verdict == "incomplete")),
        ("operator=bob".into(), expect(&|s| s.operator == "bob")),
        (format!("from={day}&to={day}"), expect(&|s| s.created.starts_with(day))),
        (
            // An offset is turned to UTC: 02:00+02:00 is midnight UTC of 2024-11-03.
            "from=2024-11-03T02:00:00%2B02:00&to=2024-11-04T00:00:00Z".into(),
            expect(&|s| {
                s.created.as_str() >= "2024-11-03"
                    && s.created.as_str() <= "2024-11-04T00:00:00.000Z"
            }),
        ),
        (
            "host_id=1&verdict=pass&operator=ann".into(),
            expect(&|s| s.host_id == 1 && s.verdict == "pass" && s.operator == "ann"),
        ),
        // Today's parameters keep working as they did.
        (
            format!("drive_id={drive}&state=passed"),
            expect(&|s| s.drive_id == drive && s.state == "passed"),
        ),
    ];
    for (query, expected) in cases {
        assert!(!expected.is_empty(), "{query} matches nothing: a weak case");
        assert!(expected.len() < seeded.len(), "{query} matches everything: a weak case");
        let (status, body, next, _) =
            get(&server.client, &server, &format!("/api/v1/burnin?limit=1000&{query}")).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(ids(&body), expected, "{query}");
        assert_eq!(next, None, "{query}: one page holds them all");
    }
    // The body stays an array of full jobs.
    let (_, body, _, _) = get(&server.client, &server, "/api/v1/burnin?state=failed&limit=1").await;
    assert_eq!(body[0]["verdict"]["outcome"], "fail");
    let newest_failed = expect(&|s| s.state == "failed")[0];
    let host = seeded.iter().find(|s| s.id == newest_failed).unwrap().host_id;
    assert_eq!(body[0]["host_name"], if host == 1 { "nas-one" } else { "nas-two" });
    assert_eq!(body[0]["stages"], json!([]));
}

#[tokio::test]
async fn bad_history_and_audit_parameters_are_refused_naming_the_parameter() {
    let server = TestServer::start().await;
    seed(&server, 3).await;
    let (_, _, serial_cursor, _) =
        get(&server.client, &server, "/api/v1/burnin?sort=serial&limit=1").await;
    let serial_cursor = serial_cursor.unwrap();
    for (path, parameter, allowed) in [
        (
            "/api/v1/burnin?sort=size",
            "sort",
            "created, finished, serial, model, host, state, verdict, duration",
        ),
        ("/api/v1/burnin?verdict=ok", "verdict", "pass, warn, fail, incomplete"),
        (
            "/api/v1/burnin?state=done",
            "state",
            "queued, running, passed, failed, cancelled, interrupted",
        ),
        ("/api/v1/burnin?host_id=nas1", "host_id", "numbers"),
        ("/api/v1/burnin?limit=5000", "limit", "1 to 1000"),
        ("/api/v1/burnin?from=yesterday", "from", "YYYY-MM-DD"),
        ("/api/v1/burnin?cursor=bm90LWEtY3Vyc29y", "cursor", "X-Next-Cursor"),
        ("/api/v1/burnin?colour=red", "colour", "drive_id, host_id, model, serial"),
        ("/api/v1/burnin.csv?verdict=great", "verdict", "pass, warn, fail, incomplete"),
        ("/api/v1/burnin.csv?sort=-size", "sort", "created, finished"),
        ("/api/v1/audit?action=alert.*.raised", "action", "alert.*"),
        ("/api/v1/audit?cursor=%%%", "cursor", "X-Next-Cursor"),
        ("/api/v1/audit?limit=0", "limit", "1 to 1000"),
        ("/api/v1/audit?to=2026-13-01", "to", "YYYY-MM-DD"),
        ("/api/v1/audit?sort=at", "sort", "actor, action, subject"),
    ] {
        let answer = server.client.get(server.url(path)).send().await.unwrap();
        assert_eq!(answer.status(), 400, "{path}");
        let body: Value = answer.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(parameter), "{path}: {message}");
        assert!(message.contains(allowed), "{path}: {message}");
    }
    // A cursor read under one sort is refused under another.
    let answer = server
        .client
        .get(server.url(&format!("/api/v1/burnin?sort=-created&cursor={serial_cursor}")))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let body: Value = answer.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("sort=serial"), "{body}");
    // … and a job cursor is not an audit cursor.
    let answer = server
        .client
        .get(server.url(&format!("/api/v1/audit?cursor={serial_cursor}")))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
}

/// A small RFC 4180 reader: records of fields, CRLF between records, quoted fields with
/// doubled quotes. Refuses a bare LF outside quotes, which the export must never write.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            ',' => record.push(std::mem::take(&mut field)),
            '\r' => {
                assert_eq!(chars.next(), Some('\n'), "a CR not followed by LF");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            '\n' => panic!("a bare LF ends a record: {text:?}"),
            c => field.push(c),
        }
    }
    assert!(field.is_empty() && record.is_empty(), "the last record has no CRLF");
    records
}

#[tokio::test]
async fn the_csv_export_holds_the_same_rows_as_the_json_with_formulas_escaped() {
    let server = TestServer::start().await;
    let seeded = seed(&server, 30).await;
    for query in ["", "?sort=serial&host_id=1", "?verdict=fail&sort=-duration"] {
        let answer = server
            .client
            .get(server.url(&format!("/api/v1/burnin.csv{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{query}");
        assert_eq!(answer.headers()["content-type"], "text/csv; charset=utf-8");
        assert_eq!(
            answer.headers()["content-disposition"],
            "attachment; filename=\"burnin-history.csv\""
        );
        let records = parse_csv(&answer.text().await.unwrap());
        assert_eq!(records[0], burnin::history::CSV_COLUMNS.map(str::to_owned).to_vec());
        let rows = &records[1..];
        let separator = if query.is_empty() { "?" } else { "&" };
        let (_, json, _, _) =
            get(&server.client, &server, &format!("/api/v1/burnin{query}{separator}limit=1000"))
                .await;
        let jobs = json.as_array().unwrap();
        assert_eq!(rows.len(), jobs.len(), "{query}");
        assert!(!rows.is_empty());
        for (row, job) in rows.iter().zip(jobs) {
            assert_eq!(row.len(), 15);
            assert_eq!(row[0], job["id"].as_i64().unwrap().to_string(), "{query}");
            assert_eq!(row[1], job["host_name"]);
            let serial = job["drive_serial"].as_str().unwrap();
            if serial.starts_with('=') {
                assert_eq!(row[2], format!("'{serial}"), "a formula serial is escaped");
            } else {
                assert_eq!(row[2], serial);
            }
            assert_eq!(row[6], job["state"]);
            assert_eq!(row[7], job["verdict"]["outcome"], "{query}: job {}", row[0]);
            assert_eq!(row[10], job["operator"]);
            assert_eq!(row[11], job["created_at"]);
            assert_eq!(row[12], job["started_at"].as_str().unwrap_or(""));
            assert_eq!(row[13], job["finished_at"].as_str().unwrap_or(""));
            let seeded = seeded.iter().find(|s| s.id.to_string() == row[0]).unwrap();
            assert_eq!(row[3], seeded.model);
            assert_eq!(row[4], "8001563222016");
            assert_eq!(row[9], if seeded.state == "failed" { "12" } else { "0" });
            assert_eq!(row[14], seeded.duration.map(|d| d.to_string()).unwrap_or_default());
            let location = DRIVES.iter().find(|d| d.1 == seeded.serial).unwrap().3;
            assert_eq!(row[5], location, "quoted locations read back whole");
            if seeded.state == "cancelled" {
                assert_eq!(row[8], "cancelled by the test");
            } else {
                assert!(row[8].starts_with(&format!("seeded {}", seeded.verdict)), "{row:?}");
            }
        }
    }
    // The formula serial, as written: a leading quote mark inside a quoted field.
    let text = server
        .client
        .get(server.url("/api/v1/burnin.csv?serial=HYPERLINK"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains(",\"'=HYPERLINK(\"\"http://evil\"\")\","), "{text}");
    assert!(!text.contains(",=HYPERLINK"), "{text}");
    // Anonymous callers get nothing.
    let anonymous = server.anon.get(server.url("/api/v1/burnin.csv")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn the_audit_log_lists_a_refused_start_filters_pages_and_is_for_admins() {
    let server = common::demo::demo(|_| {}).await;
    let drives = common::demo::drives(&server).await;
    let pooled = common::demo::id_of(&drives, "WD-WX12D401AB");
    let (status, body) = common::demo::start(
        &server,
        json!({"drive_ids": [pooled], "stages": ["surface"], "confirm_serial": "WD-WX12D401AB"}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // A few more events, by another actor: settings changes (old and new values) and a
    // drive's location.
    let operator_name = "operator-ops";
    server
        .auth
        .add_user(operator_name, Role::Operator, common::ADMIN_PASSWORD, "tests", false)
        .await
        .unwrap();
    let (_, token) = server
        .auth
        .create_token(operator_name, "tests", burnin::access::Scope::Operate, "tests")
        .await
        .unwrap();
    let operator = common::bearer_client(&token);
    for bay in ["Bay 1", "Bay 2", "Bay 3"] {
        let answer = operator
            .patch(server.url(&format!("/api/v1/drives/{pooled}")))
            .json(&json!({"location": bay}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    let (status, _) = server
        .call(reqwest::Method::PUT, "/api/v1/settings", Some(json!({"jobs_per_host": 3})))
        .await;
    assert_eq!(status, 200);

    // The refusal, under its action, with every reason and where the request came from.
    let (status, refused, _, _) =
        get(&server.client, &server, "/api/v1/audit?action=burnin.refused").await;
    assert_eq!(status, 200, "{refused}");
    let refused = refused.as_array().unwrap();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["actor"], "admin (token #1)");
    assert_eq!(refused[0]["address"], "127.0.0.1");
    assert_eq!(refused[0]["detail"]["drive_ids"], json!([pooled]));
    let reasons = refused[0]["detail"]["reasons"].as_array().unwrap();
    assert!(
        reasons.iter().any(|r| r.as_str().unwrap().contains("imported pool tank")),
        "{reasons:?}"
    );
    for key in ["id", "at", "actor", "action", "subject", "address", "detail"] {
        assert!(refused[0].get(key).is_some(), "no {key}");
    }

    // A prefix, an actor, a subject.
    let (_, burnin, _, _) = get(&server.client, &server, "/api/v1/audit?action=burnin.*").await;
    assert!(
        burnin
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["action"].as_str().unwrap().starts_with("burnin."))
    );
    assert!(burnin.as_array().unwrap().iter().any(|e| e["action"] == "burnin.refused"));
    let (_, edits, _, _) =
        get(&server.client, &server, &format!("/api/v1/audit?actor={operator_name}")).await;
    let edits = edits.as_array().unwrap();
    assert_eq!(edits.len(), 3, "{edits:?}");
    assert!(
        edits
            .iter()
            .all(|e| burnin::access::actor_name(e["actor"].as_str().unwrap()) == operator_name
                && e["action"] == "drive.edit"),
        "{edits:?}"
    );
    // A whole actor matches exactly; a name that only begins another does not match it.
    let actor = edits[0]["actor"].as_str().unwrap().replace(' ', "%20").replace('#', "%23");
    let (_, exact, _, _) =
        get(&server.client, &server, &format!("/api/v1/audit?actor={actor}")).await;
    assert_eq!(ids(&exact), ids(&Value::Array(edits.clone())));
    let (_, partial, _, _) = get(&server.client, &server, "/api/v1/audit?actor=operator").await;
    assert_eq!(partial, json!([]));
    // The subject: the drive's serial, any case.
    let (_, subject, _, _) =
        get(&server.client, &server, "/api/v1/audit?subject=wd-wx12d401ab&action=drive.edit").await;
    assert_eq!(ids(&subject), ids(&Value::Array(edits.clone())));
    let (_, settings, _, _) =
        get(&server.client, &server, "/api/v1/audit?action=settings.*&actor=admin").await;
    let settings = settings.as_array().unwrap();
    assert!(!settings.is_empty());
    assert!(
        settings[0]["detail"].is_object() || settings[0]["detail"].is_array(),
        "detail is parsed JSON: {settings:?}"
    );
    assert!(settings[0]["detail"].to_string().contains("jobs_per_host"), "{settings:?}");
    let (_, none, _, _) = get(&server.client, &server, "/api/v1/audit?actor=nobody").await;
    assert_eq!(none, json!([]));

    // Pages of one, newest first, each event once; ids fall.
    let (_, all, _, _) = get(&server.client, &server, "/api/v1/audit?limit=1000").await;
    let all_ids = ids(&all);
    assert!(all_ids.len() >= 5, "{all}");
    assert!(all_ids.windows(2).all(|w| w[0] > w[1]), "{all_ids:?}");
    let mut paged = Vec::new();
    let mut path = "/api/v1/audit?limit=2".to_owned();
    loop {
        let (status, body, next, link) = get(&server.client, &server, &path).await;
        assert_eq!(status, 200);
        paged.extend(ids(&body));
        let Some(next) = next else { break };
        assert!(link.unwrap().contains(&format!("cursor={next}")));
        path = format!("/api/v1/audit?limit=2&cursor={next}");
        assert!(paged.len() <= all_ids.len() + 10, "the pages never end");
    }
    // Events written while paging (each request may log) are newer than the first page: the
    // walk sees exactly the events there were.
    assert_eq!(paged, all_ids);
    let (_, dated, _, _) =
        get(&server.client, &server, "/api/v1/audit?from=2000-01-01&to=2000-12-31").await;
    assert_eq!(dated, json!([]));

    // Who may read it: admins; an operator or a viewer is refused, an anonymous caller 401.
    let viewer = server.client_as(Role::Viewer).await;
    assert_eq!(operator.get(server.url("/api/v1/audit")).send().await.unwrap().status(), 403);
    assert_eq!(viewer.get(server.url("/api/v1/audit")).send().await.unwrap().status(), 403);
    assert_eq!(server.anon.get(server.url("/api/v1/audit")).send().await.unwrap().status(), 401);
    let admin_token = server.client_as(Role::Admin).await;
    assert_eq!(admin_token.get(server.url("/api/v1/audit")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn no_route_edits_or_deletes_an_audit_event() {
    // No door that changes anything has audit in its path.
    for (method, path, _) in burnin_server::http::inventory() {
        if path.to_ascii_lowercase().contains("audit") {
            assert_eq!(method, "GET", "{method} {path} reaches the audit log");
        }
    }
    let server = TestServer::start().await;
    let (_, before, _, _) = get(&server.client, &server, "/api/v1/audit?limit=1000").await;
    for method in [
        reqwest::Method::DELETE,
        reqwest::Method::PUT,
        reqwest::Method::PATCH,
        reqwest::Method::POST,
    ] {
        for path in ["/api/v1/audit", "/api/v1/audit/1"] {
            let answer = server
                .client
                .request(method.clone(), server.url(path))
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            assert!(
                [404, 405].contains(&answer.status().as_u16()),
                "{method} {path} answered {}",
                answer.status()
            );
        }
    }
    let (_, after, _, _) = get(&server.client, &server, "/api/v1/audit?limit=1000").await;
    let before = ids(&before);
    assert!(
        after
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| before.contains(&e["id"].as_i64().unwrap()))
            .count()
            == before.len(),
        "an event went missing"
    );
}
