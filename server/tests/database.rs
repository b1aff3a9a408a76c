//! Opening the database: creation, migrations, and refusing a schema from the future.

use burnin_server::db::{Db, DbError, binary_schema_version};

#[tokio::test]
async fn a_missing_file_and_folder_are_created_and_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/folder/burnin.db");
    let db = Db::open(&format!("sqlite://{}", path.display())).await.unwrap();
    assert!(path.exists());
    let (version,): (i64,) = sqlx::query_as("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(version, binary_schema_version());
    // The record is the server's user's alone: the folders it made, the file and its WAL.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600, "the database file");
        assert_eq!(mode(&dir.path().join("nested/folder")), 0o700, "its folder");
        assert_eq!(mode(&dir.path().join("nested")), 0o700, "the folder above");
        let wal = dir.path().join("nested/folder/burnin.db-wal");
        assert!(wal.exists(), "WAL mode");
        assert_eq!(mode(&wal), 0o600, "the WAL");
    }
    // Opening again is a no-op, not an error.
    drop(db);
    Db::open(&format!("sqlite://{}", path.display())).await.unwrap();
}

#[tokio::test]
async fn a_schema_newer_than_the_binary_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("burnin.db").display());
    let db = Db::open(&url).await.unwrap();
    let future = binary_schema_version() + 1;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES ($1, 'from a newer release', 1, x'00', 0)",
    )
    .bind(future)
    .execute(db.pool())
    .await
    .unwrap();
    drop(db);

    let error = Db::open(&url).await.unwrap_err();
    assert!(
        matches!(error, DbError::SchemaNewer { database, .. } if database == future),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("newer than this binary"), "{message}");
    assert!(message.contains("restore a backup"), "the message names no fix: {message}");
}

#[tokio::test]
async fn an_unusable_url_names_the_expected_form() {
    let error = Db::open("postgres-but-not-really://x").await.unwrap_err();
    assert!(error.to_string().contains("sqlite://data/burnin.db"), "{error}");
}

#[tokio::test]
async fn the_database_holds_one_active_job_per_drive_for_exactly_the_active_states() {
    let dir = tempfile::tempdir().unwrap();
    let db =
        Db::open(&format!("sqlite://{}", dir.path().join("burnin.db").display())).await.unwrap();
    let (sql,): (String,) = sqlx::query_as(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'jobs_one_active_per_drive'",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    // The migration writes the states out (SQL cannot ask Rust): they must be the active ones.
    let listed: Vec<String> = sql
        .split("IN (")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap()
        .split(',')
        .map(|s| s.trim().trim_matches('\'').to_owned())
        .collect();
    let active: Vec<String> =
        burnin::job::JobState::active().map(|s| s.as_str().to_owned()).collect();
    assert_eq!(listed, active, "{sql}");

    sqlx::query("INSERT INTO hosts (id, name) VALUES (1, 'nas')").execute(db.pool()).await.unwrap();
    sqlx::query("INSERT INTO drives (id, host_id, serial, devname) VALUES (1, 1, 'S1', 'sda')")
        .execute(db.pool())
        .await
        .unwrap();
    let insert = |state: &'static str| {
        sqlx::query("INSERT INTO jobs (drive_id, host_id, operator, state) VALUES (1, 1, 't', $1)")
            .bind(state)
            .execute(db.pool())
    };
    insert("passed").await.unwrap();
    insert("failed").await.unwrap();
    insert("queued").await.unwrap();
    for second in ["queued", "running"] {
        let error = insert(second).await.unwrap_err();
        assert!(error.to_string().contains("UNIQUE"), "{error}");
    }
    insert("cancelled").await.unwrap();
}

/// A database in `dir` migrated up to, not including, the migration `version`: what an older
/// release left. Answers its URL and an open pool.
async fn migrated_before(dir: &tempfile::TempDir, version: i64) -> (String, sqlx::SqlitePool) {
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("burnin.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let mut before = sqlx::migrate::Migrator {
        migrations: std::borrow::Cow::Owned(
            burnin_server::db::MIGRATOR
                .migrations
                .iter()
                .filter(|m| m.version < version)
                .cloned()
                .collect(),
        ),
        ..sqlx::migrate::Migrator::DEFAULT
    };
    before.set_ignore_missing(true);
    before.run(&pool).await.unwrap();
    (url, pool)
}

/// Audit events written before the record migration get their job and drive columns from
/// their detail, so an older job's audit trail is found by the same indexed query.
#[tokio::test]
async fn older_audit_events_get_their_job_and_drive_columns_when_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let (url, pool) = migrated_before(&dir, 20261205000010).await;
    for sql in [
        "INSERT INTO hosts (id, name) VALUES (1, 'nas')",
        "INSERT INTO drives (id, host_id, serial, devname) VALUES (7, 1, 'S1', 'sda')",
        "INSERT INTO jobs (id, drive_id, host_id, operator, state) VALUES (3, 7, 1, 't', 'passed')",
        r#"INSERT INTO audit_events (id, actor, action, detail) VALUES
            (1, 'ann', 'burnin.start', '{"job_id": 3, "device": "sda"}'),
            (2, 'ann', 'burnin.refused', '{"drive_ids": [7], "reasons": ["in a pool"]}'),
            (3, 'ann', 'burnin.refused', '{"drive_ids": [7, 8], "reasons": ["in a pool"]}'),
            (4, 'ann', 'drive.edit', '{"drive_id": 7, "notes": {"from": "", "to": "x"}}'),
            (5, 'ann', 'settings.changed', 'not json'),
            (6, 'ann', 'burnin.start', '{"job_id": "3"}')"#,
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    pool.close().await;

    let db = Db::open(&url).await.unwrap();
    let rows: Vec<(i64, Option<i64>, Option<i64>)> =
        sqlx::query_as("SELECT id, job_id, drive_id FROM audit_events ORDER BY id")
            .fetch_all(db.pool())
            .await
            .unwrap();
    assert_eq!(
        rows,
        vec![
            (1, Some(3), Some(7)),
            (2, None, Some(7)),
            (3, None, None),
            (4, None, Some(7)),
            (5, None, None),
            (6, None, None),
        ]
    );
    // The columns are filled before the log becomes append-only, and it is append-only after.
    let update = sqlx::query("UPDATE audit_events SET job_id = 1").execute(db.pool()).await;
    assert!(update.unwrap_err().to_string().contains("append-only"));
}

/// Jobs judged before the statistics had their own columns get them from their verdicts when
/// the database is migrated, the same as the engine now writes them.
#[tokio::test]
async fn older_jobs_get_their_outcome_and_surface_columns_when_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let (url, pool) = migrated_before(&dir, 20261207000012).await;
    let verdict = |outcome: &str, before: u64, after: u64| {
        let reasons = if outcome == "fail" {
            serde_json::json!([
                {"level": "fail", "rule": "surface.bad_blocks", "text": "t", "evidence": "e"},
                {"level": "warn", "rule": "temperature.max", "text": "t", "evidence": "e"},
                {"level": "fail", "rule": "ata.5.delta", "text": "t", "evidence": "e"},
            ])
        } else {
            serde_json::json!([])
        };
        serde_json::json!({"outcome": outcome, "reasons": reasons, "max_temperature_c": null, "deltas": [
            {"name": "Reallocated sectors (x)", "before": 0, "after": 99},
            {"name": burnin::stats::REALLOCATED_ATA, "before": before, "after": after},
        ]})
        .to_string()
    };
    sqlx::query("INSERT INTO hosts (id, name) VALUES (1, 'nas')").execute(&pool).await.unwrap();
    sqlx::query("INSERT INTO drives (id, host_id, serial, devname) VALUES (7, 1, 'S1', 'sda')")
        .execute(&pool)
        .await
        .unwrap();
    for (id, state, judged) in [
        (1, "failed", Some(verdict("fail", 2, 26))),
        (2, "passed", Some(verdict("warn", 5, 5))),
        (3, "cancelled", None),
    ] {
        sqlx::query(
            "INSERT INTO jobs (id, drive_id, host_id, operator, state, started_at, finished_at, verdict_json)
             VALUES ($1, 7, 1, 't', $2, '2026-11-30T22:30:00.000Z', '2026-12-01T00:00:00.000Z', $3)",
        )
        .bind(id)
        .bind(state)
        .bind(judged)
        .execute(&pool)
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO job_stages (job_id, position, kind, state, bad_blocks, throughput_mb_s) VALUES
            (1, 0, 'surface', 'failed', 24, 180.5), (2, 0, 'precheck', 'passed', 0, NULL),
            (2, 1, 'surface', 'passed', 0, 201.25), (3, 0, 'precheck', 'cancelled', 0, NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let db = Db::open(&url).await.unwrap();
    type Row = (i64, Option<String>, Option<i64>, Option<String>, Option<i64>, Option<f64>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, outcome, reallocated_rise, surface_state, surface_bad_blocks, surface_mb_s
           FROM jobs ORDER BY id",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            (1, Some("fail".into()), Some(24), Some("failed".into()), Some(24), Some(180.5)),
            (2, Some("warn".into()), Some(0), Some("passed".into()), Some(0), Some(201.25)),
            (3, None, None, None, None, None),
        ]
    );
    let ends: Vec<(Option<i64>, Option<String>)> =
        sqlx::query_as("SELECT run_seconds, fail_rules FROM jobs ORDER BY id")
            .fetch_all(db.pool())
            .await
            .unwrap();
    assert_eq!(
        ends,
        vec![
            (Some(5400), Some("surface.bad_blocks,ata.5.delta".into())),
            (Some(5400), None),
            (Some(5400), None),
        ],
        "the run's seconds, and the failing rules of the failed job only"
    );
}

/// Drives recorded before places were kept each get one: where their row says they are, since
/// the row was first made.
#[tokio::test]
async fn older_drives_get_their_place_when_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let (url, pool) = migrated_before(&dir, 20261207000014).await;
    sqlx::query("INSERT INTO hosts (id, name) VALUES (1, 'nas'), (2, 'vault')")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO drives (id, host_id, serial, devname, slot, first_seen_at, last_seen_at) VALUES
            (7, 1, 'S1', 'sda', 4, '2026-11-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z'),
            (8, 2, 'S2', 'ada0', NULL, '2026-11-02T00:00:00.000Z', '2026-11-03T00:00:00.000Z')",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let db = Db::open(&url).await.unwrap();
    type Row = (i64, i64, String, Option<i64>, String, String);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT drive_id, host_id, devname, slot, first_seen_at, last_seen_at
           FROM drive_places ORDER BY id",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            (
                7,
                1,
                "sda".into(),
                Some(4),
                "2026-11-01T00:00:00.000Z".into(),
                "2026-12-01T00:00:00.000Z".into()
            ),
            (
                8,
                2,
                "ada0".into(),
                None,
                "2026-11-02T00:00:00.000Z".into(),
                "2026-11-03T00:00:00.000Z".into()
            ),
        ]
    );
}
