//! The statistics page's figures from a real SQLite record: jobs written straight into the
//! database as the engine leaves them (verdicts, stages, deltas), and a demo burn-in run to
//! its end.

use crate::common;

use burnin::access::Principal;
use burnin::stats::Statistics;
use common::{
    TestServer,
    demo::{demo, drives, id_of, run_to_end, start},
};
use serde_json::json;

const TB8: i64 = 8_001_563_222_016;
const TB12: i64 = 12_000_138_625_024;

/// A job as seeded: drive index, state, outcome, hours it ran, days ago it ended, its surface
/// stage (state, bad blocks), failing rules, and the reallocated counter (before, after).
struct Job {
    drive: usize,
    state: &'static str,
    outcome: Option<&'static str>,
    hours: i64,
    days_ago: i64,
    surface: Option<(&'static str, i64)>,
    fails: &'static [&'static str],
    reallocated: Option<(u64, u64)>,
}

/// (serial, model, size)
const DRIVES: [(&str, &str, i64); 4] = [
    ("ZA1", "ST8000VN004-3CP101", TB8),
    ("ZA2", "ST12000NM0008-2H3101", TB12),
    ("WD1", "WDC WD80EFAX-68KNBN0", TB8),
    ("TS1", "TOSHIBA MG06ACA10TE", 10_000_831_348_736),
];

const JOBS: [Job; 8] = [
    Job {
        drive: 0,
        state: "passed",
        outcome: Some("pass"),
        hours: 20,
        days_ago: 0,
        surface: Some(("passed", 0)),
        fails: &[],
        reallocated: Some((0, 0)),
    },
    Job {
        drive: 0,
        state: "passed",
        outcome: Some("pass"),
        hours: 30,
        days_ago: 1,
        surface: Some(("passed", 0)),
        fails: &[],
        reallocated: Some((0, 0)),
    },
    Job {
        drive: 0,
        state: "failed",
        outcome: Some("fail"),
        hours: 5,
        days_ago: 1,
        surface: Some(("failed", 24)),
        fails: &["surface.failed", "surface.bad_blocks", "ata.5.delta"],
        reallocated: Some((0, 24)),
    },
    Job {
        drive: 1,
        state: "passed",
        outcome: Some("warn"),
        hours: 40,
        days_ago: 2,
        surface: Some(("passed", 3)),
        fails: &[],
        reallocated: Some((2, 2)),
    },
    Job {
        drive: 2,
        state: "passed",
        outcome: Some("pass"),
        hours: 22,
        days_ago: 3,
        surface: Some(("passed", 0)),
        fails: &[],
        reallocated: Some((0, 0)),
    },
    // Failed by the verdict after every stage passed: the heat.
    Job {
        drive: 2,
        state: "failed",
        outcome: Some("fail"),
        hours: 21,
        days_ago: 3,
        surface: Some(("passed", 0)),
        fails: &["temperature.max"],
        reallocated: None,
    },
    // Cancelled: incomplete, counted only per day.
    Job {
        drive: 3,
        state: "cancelled",
        outcome: None,
        hours: 1,
        days_ago: 0,
        surface: None,
        fails: &[],
        reallocated: None,
    },
    // Ended long ago: in every figure but the last 90 days.
    Job {
        drive: 3,
        state: "passed",
        outcome: Some("pass"),
        hours: 26,
        days_ago: 200,
        surface: Some(("passed", 150)),
        fails: &[],
        reallocated: Some((10, 130)),
    },
];

fn stamp(secs: i64) -> String {
    burnin::format::utc(secs).replace('Z', ".000Z")
}

fn verdict(job: &Job) -> Option<String> {
    let outcome = job.outcome?;
    let reasons: Vec<_> = job
        .fails
        .iter()
        .map(|rule| json!({"level": "fail", "rule": rule, "text": "seeded", "evidence": "the test"}))
        .chain(std::iter::once(
            json!({"level": "info", "rule": "seeded.note", "text": "a note", "evidence": "the test"}),
        ))
        .collect();
    let mut deltas = vec![
        json!({"name": burnin::stats::REALLOCATED_ATA.replace("(5)", "(x)"), "before": 0, "after": 9}),
    ];
    if let Some((before, after)) = job.reallocated {
        deltas.push(
            json!({"name": burnin::stats::REALLOCATED_ATA, "before": before, "after": after}),
        );
        deltas.push(json!({"name": "Current pending sectors (197)", "before": 0, "after": 50}));
    }
    Some(
        json!({"outcome": outcome, "reasons": reasons, "deltas": deltas, "max_temperature_c": 40.0})
            .to_string(),
    )
}

async fn seed(server: &TestServer) {
    let pool = sqlx::SqlitePool::connect(&server.database_url()).await.expect("the database");
    sqlx::query("INSERT INTO hosts (id, name) VALUES (1, 'nas')")
        .execute(&pool)
        .await
        .expect("a host");
    let mut drive_ids = Vec::new();
    for (serial, model, size) in DRIVES {
        let id = sqlx::query(
            "INSERT INTO drives (host_id, serial, devname, model, size_bytes, kind, pool_kind)
             VALUES (1, $1, 'sdx', $2, $3, 'HDD', 'free')",
        )
        .bind(serial)
        .bind(model)
        .bind(size)
        .execute(&pool)
        .await
        .expect("a drive")
        .last_insert_rowid();
        drive_ids.push(id);
    }
    // Noon today (UTC), so a job `days_ago` days back ends on that calendar day.
    let now = burnin_server::auth::now_unix();
    let noon = now.div_euclid(86_400) * 86_400 + 12 * 3600;
    for job in &JOBS {
        let finished = noon - job.days_ago * 86_400;
        let started = finished - job.hours * 3600;
        // The verdict and its columns, as `engine::store::end_in` writes them.
        let judged = verdict(job)
            .and_then(|text| serde_json::from_str::<burnin::verdict::Verdict>(&text).ok());
        let rise = judged
            .as_ref()
            .and_then(burnin::stats::reallocated_rise)
            .and_then(|n| i64::try_from(n).ok());
        let fail_rules = judged.as_ref().and_then(burnin::stats::failing_rules);
        let id = sqlx::query(
            "INSERT INTO jobs (drive_id, host_id, state, operator, created_at, started_at, finished_at, verdict_json, outcome, reallocated_rise, surface_state, surface_bad_blocks, run_seconds, fail_rules)
             VALUES ($1, 1, $2, 'tests', $3, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(drive_ids[job.drive])
        .bind(job.state)
        .bind(stamp(started))
        .bind(stamp(finished))
        .bind(verdict(job))
        .bind(job.outcome)
        .bind(rise)
        .bind(job.surface.map(|(state, _)| state))
        .bind(job.surface.map(|(_, bad)| bad))
        .bind(finished - started)
        .bind(fail_rules)
        .execute(&pool)
        .await
        .expect("a job")
        .last_insert_rowid();
        let mut stages = vec![(0, "precheck", "passed", 0)];
        if let Some((state, bad)) = job.surface {
            stages.push((1, "surface", state, bad));
        }
        for (position, kind, state, bad) in stages {
            sqlx::query(
                "INSERT INTO job_stages (job_id, position, kind, state, bad_blocks) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(position)
            .bind(kind)
            .bind(state)
            .bind(bad)
            .execute(&pool)
            .await
            .expect("a stage");
        }
    }
    // A job still running counts nowhere.
    sqlx::query(
        "INSERT INTO jobs (drive_id, host_id, state, operator, started_at) VALUES ($1, 1, 'running', 'tests', $2)",
    )
    .bind(drive_ids[1])
    .bind(stamp(now))
    .execute(&pool)
    .await
    .expect("a running job");
    pool.close().await;
}

fn labelled(counts: &[burnin::stats::Count]) -> Vec<(&str, u64)> {
    counts.iter().map(|c| (c.label.as_str(), c.jobs)).collect()
}

fn figure<'a>(stats: &'a Statistics, id: &str) -> &'a burnin::stats::Figure {
    stats.figures.iter().find(|f| f.id == id).unwrap_or_else(|| panic!("no figure {id}"))
}

#[tokio::test]
async fn the_figures_count_the_seeded_record() {
    let server = TestServer::start().await;
    seed(&server).await;
    let stats = server
        .services
        .statistics(&Principal::system("tests"), &Default::default())
        .await
        .expect("the statistics");

    assert_eq!((stats.judged, stats.passed, stats.warned, stats.failed), (7, 4, 1, 2));
    let vendors: Vec<(&str, u64, u64, u64)> =
        stats.by_vendor.iter().map(|r| (r.group.as_str(), r.passed, r.warned, r.failed)).collect();
    assert_eq!(vendors, [("Seagate", 2, 1, 1), ("Western Digital", 1, 0, 1), ("Toshiba", 1, 0, 0)]);
    assert_eq!(figure(&stats, "by-vendor").rows[0], ["Seagate", "4", "2", "1", "1", "75 %"]);
    let models: Vec<(&str, u64)> =
        stats.by_model.iter().map(|r| (r.group.as_str(), r.judged())).collect();
    assert_eq!(
        models,
        [
            ("ST8000VN004-3CP101", 3),
            ("WDC WD80EFAX-68KNBN0", 2),
            ("ST12000NM0008-2H3101", 1),
            ("TOSHIBA MG06ACA10TE", 1)
        ]
    );

    // The last 90 days: seven jobs ended (the cancelled one too), the one of 200 days ago not.
    let recent: Vec<(u64, u64)> =
        stats.per_day.iter().rev().take(4).map(|d| (d.ended, d.failed)).collect();
    assert_eq!(recent, [(2, 0), (2, 1), (1, 0), (2, 1)]);
    assert_eq!(stats.per_day.iter().map(|d| d.ended).sum::<u64>(), 7);
    assert_eq!(figure(&stats, "per-day").rows.len(), 4);

    // Passed burn-ins with a surface test: 8 TB ran 20, 22 and 30 hours.
    let durations: Vec<(&str, u64, f64, f64)> = stats
        .durations
        .iter()
        .map(|d| (d.capacity.as_str(), d.jobs, d.median_hours, d.max_hours))
        .collect();
    assert_eq!(
        durations,
        [("8 TB", 3, 22.0, 30.0), ("10 TB", 1, 26.0, 26.0), ("12 TB", 1, 40.0, 40.0)]
    );

    assert_eq!(
        labelled(&stats.failed_stages),
        [("Surface test", 1), ("No stage (the verdict)", 1)]
    );
    assert_eq!(
        labelled(&stats.failure_reasons),
        [("Bad blocks", 1), ("Reallocations rose", 1), ("Surface test failed", 1), ("Too hot", 1)]
    );
    assert_eq!(labelled(&stats.bad_blocks), [("0", 4), ("1–9", 1), ("10–99", 1), ("100+", 1)]);
    // Rises of 0 (four jobs, the warned one's 2 → 2 included), 24 and 120; the pending
    // counter and the look-alike name are not reallocations.
    assert_eq!(labelled(&stats.reallocations), [("0", 4), ("1–9", 0), ("10–99", 1), ("100+", 1)]);
    let chart = &figure(&stats, "reallocations").chart;
    assert!(chart.starts_with("<svg") && chart.contains("data-value=\"4\""), "{chart}");
    server.stop().await;
}

#[tokio::test]
async fn an_empty_record_answers_empty_figures() {
    let server = TestServer::start().await;
    let stats = server
        .services
        .statistics(&Principal::system("tests"), &Default::default())
        .await
        .expect("the statistics");
    assert_eq!(stats.judged, 0);
    assert_eq!(stats.per_day.len(), 90);
    assert!(stats.figures.iter().all(|f| f.rows.is_empty() && f.chart.contains("No data")));
    server.stop().await;
}

#[tokio::test]
async fn a_demo_burn_in_shows_in_the_figures() {
    let server = demo(|_| {}).await;
    let drives = drives(&server).await;
    let ids = [id_of(&drives, "ZJV0A1B2"), id_of(&drives, "FAIL001"), id_of(&drives, "VGH1K2L3")];
    let (status, body) = start(
        &server,
        json!({"drive_ids": ids, "stages": ["short_test", "surface"], "operator": "tester", "confirm_phrase": "ERASE 3 DRIVES"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let jobs: Vec<i64> = body
        .as_array()
        .expect("the jobs")
        .iter()
        .map(|j| j["id"].as_i64().expect("a job id"))
        .collect();
    let views = run_to_end(&server, &jobs, 4000.0).await;
    assert_eq!(views[1]["state"], "failed", "{:#}", views[1]);
    let stats = server
        .services
        .statistics(&Principal::system("tests"), &Default::default())
        .await
        .expect("the statistics");
    assert_eq!((stats.judged, stats.failed), (3, 1), "{stats:#?}");
    let vendors: Vec<(&str, u64, u64)> =
        stats.by_vendor.iter().map(|r| (r.group.as_str(), r.judged(), r.failed)).collect();
    assert_eq!(vendors, [("Seagate", 2, 1), ("Western Digital", 1, 0)]);
    assert_eq!(stats.per_day.last().map(|d| (d.ended, d.failed)), Some((3, 1)));
    assert_eq!(labelled(&stats.failed_stages), [("Surface test", 1)]);
    assert!(labelled(&stats.failure_reasons).contains(&("Bad blocks", 1)), "{stats:#?}");
    // FAIL001's 24 bad blocks; the two healthy drives none.
    assert_eq!(labelled(&stats.bad_blocks), [("0", 2), ("1–9", 0), ("10–99", 1), ("100+", 0)]);
    let capacities: Vec<(&str, u64)> =
        stats.durations.iter().map(|d| (d.capacity.as_str(), d.jobs)).collect();
    assert_eq!(capacities, [("8 TB", 1), ("12 TB", 1)]);
    // The engine kept each surface test's closing rate beside its job, as it kept its stage's.
    let pool = sqlx::SqlitePool::connect(&server.database_url()).await.expect("the database");
    let rates: Vec<(Option<f64>, Option<f64>)> = sqlx::query_as(
        "SELECT j.surface_mb_s, s.throughput_mb_s FROM jobs j
           JOIN job_stages s ON s.job_id = j.id AND s.kind = 'surface' ORDER BY j.id",
    )
    .fetch_all(&pool)
    .await
    .expect("the rates");
    assert_eq!(rates.len(), 3);
    assert!(rates.iter().all(|(job, stage)| job.is_some() && job == stage), "{rates:?}");
    // …and its run's seconds and failing rules, as the history and the verdict tell them.
    let ends: Vec<(Option<i64>, i64, Option<String>, String)> = sqlx::query_as(
        "SELECT run_seconds,
                CAST(ROUND((julianday(finished_at) - julianday(started_at)) * 86400) AS INTEGER),
                fail_rules, outcome
           FROM jobs ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .expect("the ends");
    assert!(ends.iter().all(|(stored, run, _, _)| *stored == Some(*run)), "{ends:?}");
    for (_, _, rules, outcome) in &ends {
        match outcome.as_str() {
            "fail" => assert!(
                rules.as_deref().is_some_and(|r| r.split(',').any(|r| r == "surface.bad_blocks")),
                "{ends:?}"
            ),
            _ => assert_eq!(rules, &None, "{ends:?}"),
        }
    }
    pool.close().await;
    server.stop().await;
}

#[tokio::test]
async fn each_model_s_drives_are_compared_with_their_peers() {
    let server = TestServer::start().await;
    let pool = sqlx::SqlitePool::connect(&server.database_url()).await.expect("the database");
    sqlx::query("INSERT INTO hosts (id, name) VALUES (1, 'nas')")
        .execute(&pool)
        .await
        .expect("a host");
    // (serial, model, [(surface state, MB/s)]): M1's two passes average 180; M4 is slow at
    // 150 of a 181 median (83 %); its failed surface test does not count; the two drives of
    // another model are too few to compare.
    type Seeded<'a> = (&'a str, &'a str, &'a [(&'a str, f64)]);
    let drives: [Seeded<'_>; 6] = [
        ("M1", "ST4000VN008-2DR166", &[("passed", 176.0), ("passed", 184.0)]),
        ("M2", "ST4000VN008-2DR166", &[("passed", 182.0)]),
        ("M3", "ST4000VN008-2DR166", &[("passed", 185.0)]),
        ("M4", "ST4000VN008-2DR166", &[("passed", 150.0), ("failed", 30.0)]),
        ("W1", "WDC WD40EFRX-68N32N0", &[("passed", 150.0)]),
        ("W2", "WDC WD40EFRX-68N32N0", &[("passed", 60.0)]),
    ];
    for (serial, model, jobs) in drives {
        let drive = sqlx::query(
            "INSERT INTO drives (host_id, serial, devname, model, size_bytes, kind, pool_kind)
             VALUES (1, $1, 'sdx', $2, 4000787030016, 'HDD', 'free')",
        )
        .bind(serial)
        .bind(model)
        .execute(&pool)
        .await
        .expect("a drive")
        .last_insert_rowid();
        for (surface, mb_s) in jobs.iter().copied() {
            let (state, outcome) =
                if surface == "passed" { ("passed", "pass") } else { ("failed", "fail") };
            sqlx::query(
                "INSERT INTO jobs (drive_id, host_id, state, operator, started_at, finished_at, outcome, surface_state, surface_bad_blocks, surface_mb_s)
                 VALUES ($1, 1, $2, 'tests', '2026-12-01T00:00:00.000Z', '2026-12-02T00:00:00.000Z', $3, $4, 0, $5)",
            )
            .bind(drive)
            .bind(state)
            .bind(outcome)
            .bind(surface)
            .bind(mb_s)
            .execute(&pool)
            .await
            .expect("a job");
        }
    }
    pool.close().await;
    let stats = server
        .services
        .statistics(&Principal::system("tests"), &Default::default())
        .await
        .expect("the statistics");
    let models: Vec<(&str, u64, f64, u64, u64)> = stats
        .model_rates
        .iter()
        .map(|m| (m.model.as_str(), m.drives, m.median_mb_s, m.slow, m.fast))
        .collect();
    assert_eq!(models, [("ST4000VN008-2DR166", 4, 181.0, 1, 0)]);
    let outliers: Vec<(&str, bool, i64)> = stats
        .outliers
        .iter()
        .map(|o| (o.serial.as_str(), o.slow, o.percent_of_median.round() as i64))
        .collect();
    assert_eq!(outliers, [("M4", true, 83)]);
    assert_eq!(
        figure(&stats, "throughput-outliers").rows,
        [["M4", "ST4000VN008-2DR166", "150 MB/s", "83 %", "slow"]]
    );
    // The API answers the same.
    let answer = server.get_json("/api/v1/stats").await;
    assert_eq!(answer["outliers"][0]["serial"], "M4", "{answer}");
    server.stop().await;
}

#[tokio::test]
async fn a_host_and_a_date_range_narrow_every_figure() {
    let server = TestServer::start().await;
    seed(&server).await;
    let now = burnin_server::auth::now_unix();
    let date = |days_ago: i64| burnin::format::utc(now - days_ago * 86_400)[..10].to_owned();
    let scoped = |host: Option<&str>, from: Option<String>, to: Option<String>| {
        let params = burnin::history::StatsParams { host_id: host.map(str::to_owned), from, to };
        let server = &server;
        async move {
            let scope = params.parse().expect("valid parameters");
            server.services.statistics(&Principal::system("tests"), &scope).await.expect("figures")
        }
    };
    let counts = |s: &Statistics| (s.judged, s.passed, s.warned, s.failed);
    assert_eq!(counts(&scoped(Some("1"), None, None).await), (7, 4, 1, 2), "the one host: all");
    assert_eq!(counts(&scoped(Some("99"), None, None).await), (0, 0, 0, 0), "another host: none");
    // Ended yesterday or today: two passes and a failure (the cancelled one is not judged).
    let recent = scoped(None, Some(date(1)), None).await;
    assert_eq!(counts(&recent), (3, 2, 0, 1));
    assert_eq!(
        recent.per_day.iter().map(|d| d.ended).sum::<u64>(),
        4,
        "the cancelled one ended too"
    );
    // Up to two days ago: the warning, a pass and the heat failure of three days ago, and the
    // pass of 200 days ago; the per-day figure ends on that last day.
    let older = scoped(None, None, Some(date(2))).await;
    assert_eq!(counts(&older), (4, 2, 1, 1));
    assert_eq!(older.per_day.last().map(|d| d.ended), Some(1), "{:?}", older.per_day.last());

    // Through the API, and bad parameters named.
    let answer = server.get_json(&format!("/api/v1/stats?host_id=1&from={}", date(1))).await;
    assert_eq!(answer["judged"], 3);
    for (query, names) in
        [("host_id=first", "host_id"), ("from=yesterday", "from"), ("colour=red", "host_id")]
    {
        let (status, body) =
            server.call(reqwest::Method::GET, &format!("/api/v1/stats?{query}"), None).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.to_string().contains(names), "{query}: {body}");
    }
}
