//! A drive's record by serial, end to end: a demo drive burned in twice over SSH with its
//! location changed between the runs, read back with both jobs, a trend point per run and the
//! move old → new; an unknown serial is a 404 that says where drives are found.

use crate::common;

use burnin::access::Principal;
use common::demo::{demo, drives, id_of, place, surface_test_to_end};

const SERIAL: &str = "ZDH1X2Y3";

#[tokio::test]
async fn a_drive_burned_in_twice_shows_both_jobs_its_trend_and_its_move() {
    let server = demo(|_| {}).await;
    let fleet = drives(&server).await;
    let drive_id = id_of(&fleet, SERIAL);

    place(&server, drive_id, "Shelf A, bay 2").await;
    let first = surface_test_to_end(&server, &fleet, SERIAL).await;
    assert_eq!(first["state"], "passed", "{first:#}");
    place(&server, drive_id, "Shelf C, bay 9").await;
    // A technician moves it from bay 9 to bay 22; the host names it anew.
    let old_devname = fleet
        .as_array()
        .and_then(|all| all.iter().find(|d| d["serial"] == SERIAL))
        .and_then(|d| d["devname"].as_str())
        .expect("the drive's device name")
        .to_owned();
    let devname = server
        .sim_host("truenas-lab")
        .with(|state| state.move_drive(SERIAL, 22))
        .expect("a present drive moves");
    server
        .wait_json(&format!("/api/v1/drives/{drive_id}"), |d| d["devname"] == devname.as_str())
        .await;
    let second = surface_test_to_end(&server, &fleet, SERIAL).await;
    assert_eq!(second["state"], "passed", "{second:#}");
    let ids = [first["id"].as_i64().expect("an id"), second["id"].as_i64().expect("an id")];

    let record = server
        .services
        .drive_record(&Principal::system("tests"), SERIAL)
        .await
        .expect("the drive's record");
    assert_eq!(record.serial, SERIAL);
    assert_eq!(record.identity.model, "ST4000VN008-2DR166");
    assert_eq!(record.identity.kind, "HDD");
    assert!(record.identity.captured_at.is_some(), "{:?}", record.identity);
    assert!(record.identity.power_on_hours.is_some(), "{:?}", record.identity);

    let jobs: Vec<i64> = record.jobs.iter().map(|j| j.id).collect();
    assert_eq!(jobs, [ids[1], ids[0]], "both jobs, newest first");
    for job in &record.jobs {
        assert_eq!(job.href, format!("/jobs/{}", job.id));
        assert_eq!(job.host_name, "truenas-lab");
        assert_eq!(job.outcome, "pass", "{job:?}");
        assert_eq!(job.bad_blocks, 0);
        assert!(job.duration_seconds.is_some(), "{job:?}");
    }
    assert!(record.notes.is_empty(), "{:?}", record.notes);

    let trend = &record.trend;
    let points: Vec<i64> = trend.rows.iter().map(|r| r.job_id).collect();
    assert_eq!(points, ids, "one point per run, oldest first");
    let hours: Vec<u64> =
        trend.rows.iter().map(|r| r.power_on_hours.expect("power-on hours")).collect();
    assert!(hours[1] >= hours[0], "the drive aged between the runs: {hours:?}");
    assert!(
        trend.counters.iter().any(|c| c.rule == "ata.5"),
        "the verdict's watched counters: {:?}",
        trend.counters
    );
    assert!(trend.rows.iter().all(|r| r.values.len() == trend.counters.len()));
    assert!(trend.hours_chart.contains("<svg"), "a power-on hours chart");
    assert!(trend.counters_chart.contains("<svg"), "a counters chart");

    // Both bays, each with its dates; the move is a new place, not an overwrite.
    let places: Vec<(&str, Option<u32>, bool, &str)> = record
        .places
        .iter()
        .map(|p| (p.devname.as_str(), p.slot, p.current, p.state.as_str()))
        .collect();
    assert_eq!(
        places,
        [
            (devname.as_str(), Some(22), true, "passed"),
            (old_devname.as_str(), Some(9), false, "moved")
        ],
        "{:?}",
        record.places
    );
    assert_eq!(record.places[0].location, "Shelf C, bay 9");
    assert!(record.places.iter().all(|p| p.host_name == "truenas-lab" && !p.host_archived));
    let left = record.places[1].last_seen.as_deref().expect("a last sighting");
    let arrived = record.places[0].first_seen.as_deref().expect("a first sighting");
    assert!(left <= arrived, "left bay 9 ({left}) before it was seen in bay 22 ({arrived})");
    let bays: Vec<Option<u32>> = record.jobs.iter().map(|j| j.slot).collect();
    assert_eq!(bays, [Some(22), Some(9)], "each burn-in in the bay it ran in");
    let moves: Vec<(&str, &str)> =
        record.locations.iter().map(|c| (c.from.as_str(), c.to.as_str())).collect();
    assert_eq!(moves, [("Shelf A, bay 2", "Shelf C, bay 9"), ("", "Shelf A, bay 2")]);
    assert!(record.locations.iter().all(|c| c.host_name.as_deref() == Some("truenas-lab")));

    let missing = server
        .services
        .drive_record(&Principal::system("tests"), "NO-SUCH-SERIAL")
        .await
        .expect_err("an unknown serial");
    assert_eq!(missing.kind.status(), 404, "{missing:?}");
    assert!(missing.message.contains("NO-SUCH-SERIAL"), "{}", missing.message);
    assert!(missing.message.contains("/history"), "{}", missing.message);
}
