#![expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use serde_json::Value;

use super::*;
use crate::{
    job::{StageKind, StageState, StageView},
    smart::parse_smartctl_json,
};

const SEAGATE: &str = include_str!("../../simulator/src/smartctl/captures/ata-seagate.json");
const SAS: &str = include_str!("../../simulator/src/smartctl/captures/scsi.json");
const NVME: &str = include_str!("../../simulator/src/smartctl/captures/nvme.json");

fn stage(kind: StageKind, state: StageState) -> StageView {
    StageView {
        position: 0,
        kind,
        state,
        percent: Some(100.0),
        detail: String::new(),
        started_at: None,
        finished_at: None,
        bad_blocks: 0,
        read_errors: 0,
        write_errors: 0,
        corruption_errors: 0,
        throughput_mb_s: None,
        eta_seconds: None,
        stuck: false,
        log_tail: String::new(),
        bad_block_list: Vec::new(),
        block_size: None,
        outputs: Vec::new(),
    }
}

fn passed_stages() -> Vec<StageView> {
    [
        StageKind::Precheck,
        StageKind::ShortTest,
        StageKind::LongTest,
        StageKind::Surface,
        StageKind::FinalCheck,
    ]
    .into_iter()
    .map(|kind| stage(kind, StageState::Passed))
    .collect()
}

/// A capture with some ATA attributes' raw values replaced.
fn ata(raws: &[(u64, u64)]) -> SmartReport {
    let mut json: Value = serde_json::from_str(SEAGATE).unwrap();
    for attribute in json["ata_smart_attributes"]["table"].as_array_mut().unwrap() {
        if let Some((_, raw)) = raws.iter().find(|(id, _)| attribute["id"] == *id) {
            attribute["raw"] = serde_json::json!({"value": raw, "string": raw.to_string()});
        }
    }
    parse_smartctl_json(json.to_string().as_bytes()).unwrap()
}

fn edit(capture: &str, change: impl FnOnce(&mut Value)) -> SmartReport {
    let mut json: Value = serde_json::from_str(capture).unwrap();
    change(&mut json);
    parse_smartctl_json(json.to_string().as_bytes()).unwrap()
}

fn judge(
    kind: DriveKind,
    before: &SmartReport,
    after: &SmartReport,
    max_c: Option<f64>,
) -> Verdict {
    let stages = passed_stages();
    verdict(
        &Evidence {
            kind,
            job_state: JobState::Passed,
            stages: &stages,
            before: Some(before),
            after: Some(after),
            max_temperature_c: max_c,
        },
        &Thresholds::default(),
    )
}

fn rules(verdict: &Verdict) -> Vec<&str> {
    verdict.reasons.iter().map(|r| r.rule.as_str()).collect()
}

#[test]
fn a_clean_run_passes_with_its_counters_shown() {
    let report = ata(&[]);
    let verdict = judge(DriveKind::Hdd, &report, &report, Some(38.0));
    assert_eq!(verdict.outcome, Outcome::Pass, "{:?}", verdict.reasons);
    assert!(verdict.reasons.is_empty());
    assert!(verdict.deltas.iter().any(|d| d.name.contains("(197)")));
}

#[test]
fn seagates_packed_command_timeouts_are_not_read_as_51_billion() {
    // Raw 51540393996 is three 16-bit counters (12, 12, 12): 12 timeouts, unchanged.
    let report = ata(&[]);
    let verdict = judge(DriveKind::Hdd, &report, &report, None);
    let timeouts = verdict.deltas.iter().find(|d| d.name.contains("(188)")).unwrap();
    assert_eq!(timeouts.before, Some(12));
    assert_eq!(verdict.outcome, Outcome::Pass);
    // And a real rise in the low counter is seen as one: 12 → 13.
    let after = ata(&[(188, 51_540_393_997)]);
    let verdict = judge(DriveKind::Hdd, &report, &after, None);
    assert_eq!(verdict.outcome, Outcome::Fail);
    assert!(verdict.reasons[0].text.contains("from 12 to 13"), "{:?}", verdict.reasons);
}

#[test]
fn each_media_counter_rising_fails_the_drive() {
    for (id, rule) in
        [(5, "ata.5.delta"), (187, "ata.187.delta"), (197, "ata.197.delta"), (198, "ata.198.delta")]
    {
        let verdict = judge(DriveKind::Hdd, &ata(&[]), &ata(&[(id, 3)]), None);
        assert_eq!(verdict.outcome, Outcome::Fail, "attribute {id}");
        assert!(rules(&verdict).contains(&rule), "{id}: {:?}", verdict.reasons);
        assert!(verdict.reasons[0].text.contains("from 0 to 3"));
    }
}

#[test]
fn pending_sectors_appearing_during_the_run_fail_the_drive() {
    let verdict = judge(DriveKind::Hdd, &ata(&[]), &ata(&[(197, 1)]), None);
    assert_eq!(verdict.outcome, Outcome::Fail);
    assert!(verdict.reasons[0].text.contains("Current pending sectors (197) rose from 0 to 1"));
}

#[test]
fn pending_sectors_left_after_a_full_rewrite_fail_but_only_warn_without_one() {
    let pending = ata(&[(197, 2)]);
    let verdict = judge(DriveKind::Hdd, &pending, &pending, None);
    assert_eq!(verdict.outcome, Outcome::Fail);
    assert!(rules(&verdict).contains(&"ata.197.left"));
    let stages = vec![stage(StageKind::ShortTest, StageState::Passed)];
    let smart_only = verdict_of(&stages, &pending, &pending);
    assert_eq!(smart_only.outcome, Outcome::Warn, "{:?}", smart_only.reasons);
}

fn verdict_of(stages: &[StageView], before: &SmartReport, after: &SmartReport) -> Verdict {
    verdict(
        &Evidence {
            kind: DriveKind::Hdd,
            job_state: JobState::Passed,
            stages,
            before: Some(before),
            after: Some(after),
            max_temperature_c: None,
        },
        &Thresholds::default(),
    )
}

#[test]
fn cable_errors_warn_and_say_check_the_cable_but_the_drive_passes() {
    let verdict = judge(DriveKind::Hdd, &ata(&[]), &ata(&[(199, 57)]), None);
    assert_eq!(verdict.outcome, Outcome::Warn);
    assert_eq!(verdict.reasons.len(), 1);
    assert!(verdict.reasons[0].text.contains("check the cable"));
    let verdict = judge(DriveKind::Hdd, &ata(&[]), &ata(&[(10, 1)]), None);
    assert_eq!(verdict.outcome, Outcome::Warn);
}

#[test]
fn a_used_drive_with_old_reallocations_warns() {
    let used = ata(&[(5, 16)]);
    let verdict = judge(DriveKind::Hdd, &used, &used, None);
    assert_eq!(verdict.outcome, Outcome::Warn);
    assert!(verdict.reasons[0].text.contains("16 sectors were already reallocated"));
    assert_eq!(verdict.reasons[0].rule, "ata.5.before");
}

#[test]
fn sas_grown_defects_and_uncorrected_errors_fail_on_increase() {
    let before = edit(SAS, |_| {});
    let grown = edit(SAS, |j| j["scsi_grown_defect_list"] = 300.into());
    let verdict = judge(DriveKind::Hdd, &before, &grown, None);
    assert_eq!(verdict.outcome, Outcome::Fail);
    assert!(
        verdict.reasons.iter().any(|r| r.text.contains("Grown defect list rose from 260 to 300")),
        "{:?}",
        verdict.reasons
    );
    let uncorrected = edit(SAS, |j| {
        j["scsi_error_counter_log"]["read"]["total_uncorrected_errors"] = 9.into();
    });
    let verdict = judge(DriveKind::Hdd, &before, &uncorrected, None);
    assert_eq!(verdict.outcome, Outcome::Fail);
    assert!(rules(&verdict).contains(&"scsi.uncorrected.delta"));
    // Unchanged old defects on a used SAS drive only warn.
    assert_eq!(judge(DriveKind::Hdd, &before, &before, None).outcome, Outcome::Warn);
}

#[test]
fn nvme_media_errors_critical_warning_spare_and_wear() {
    let before = edit(NVME, |_| {});
    assert_eq!(judge(DriveKind::Nvme, &before, &before, None).outcome, Outcome::Pass);
    let media = edit(NVME, |j| j["nvme_smart_health_information_log"]["media_errors"] = 4.into());
    assert!(
        rules(&judge(DriveKind::Nvme, &before, &media, None)).contains(&"nvme.media_errors.delta")
    );
    let warning = edit(NVME, |j| {
        j["nvme_smart_health_information_log"]["critical_warning"] = 4.into();
        j["smart_status"]["nvme"] = serde_json::json!({"value": 4});
    });
    let verdict = judge(DriveKind::Nvme, &before, &warning, None);
    assert_eq!(verdict.outcome, Outcome::Fail);
    assert!(
        verdict.reasons.iter().any(|r| r.text.contains("reliability degraded")),
        "{:?}",
        verdict.reasons
    );
    let spare =
        edit(NVME, |j| j["nvme_smart_health_information_log"]["available_spare"] = 5.into());
    assert!(rules(&judge(DriveKind::Nvme, &before, &spare, None)).contains(&"nvme.spare"));
    let worn =
        edit(NVME, |j| j["nvme_smart_health_information_log"]["percentage_used"] = 104.into());
    assert_eq!(judge(DriveKind::Nvme, &before, &worn, None).outcome, Outcome::Warn);
}

#[test]
fn smart_health_failed_fails() {
    let failed = edit(SEAGATE, |j| j["smart_status"]["passed"] = false.into());
    let verdict = judge(DriveKind::Hdd, &failed, &failed, None);
    assert_eq!(verdict.outcome, Outcome::Fail);
    assert!(rules(&verdict).contains(&"smart.health"));
}

#[test]
fn temperatures_warn_then_fail_by_drive_kind() {
    let report = ata(&[]);
    assert_eq!(judge(DriveKind::Hdd, &report, &report, Some(49.0)).outcome, Outcome::Pass);
    assert_eq!(judge(DriveKind::Hdd, &report, &report, Some(52.0)).outcome, Outcome::Warn);
    assert_eq!(judge(DriveKind::Hdd, &report, &report, Some(61.0)).outcome, Outcome::Fail);
    assert_eq!(judge(DriveKind::Nvme, &report, &report, Some(61.0)).outcome, Outcome::Pass);
}

#[test]
fn bad_blocks_fail_past_the_threshold_they_are_judged_with() {
    let report = ata(&[]);
    let mut stages = passed_stages();
    stages[3].bad_blocks = 3;
    stages[3].corruption_errors = 3;
    let evidence = Evidence {
        kind: DriveKind::Hdd,
        job_state: JobState::Passed,
        stages: &stages,
        before: Some(&report),
        after: Some(&report),
        max_temperature_c: None,
    };
    let strict = verdict(&evidence, &Thresholds::default());
    assert_eq!(strict.outcome, Outcome::Fail);
    assert!(strict.reasons[0].text.contains("3 bad blocks"));
    // The same evidence under a tolerant setting warns instead.
    let tolerant = verdict(&evidence, &Thresholds { max_bad_blocks: 10, ..Thresholds::default() });
    assert_eq!(tolerant.outcome, Outcome::Warn);
}

#[test]
fn failed_stages_fail_and_unfinished_jobs_are_incomplete() {
    let report = ata(&[]);
    let mut stages = passed_stages();
    stages[2].state = StageState::Failed;
    stages[2].detail = "Completed: read failure at LBA 1234".into();
    let failed = verdict_of(&stages, &report, &report);
    assert_eq!(failed.outcome, Outcome::Fail);
    assert!(
        failed.reasons[0].text.contains("extended SMART self-test failed: Completed: read failure")
    );
    let stages = passed_stages();
    let cancelled = verdict(
        &Evidence {
            kind: DriveKind::Hdd,
            job_state: JobState::Cancelled,
            stages: &stages,
            before: Some(&report),
            after: None,
            max_temperature_c: None,
        },
        &Thresholds::default(),
    );
    assert_eq!(cancelled.outcome, Outcome::Incomplete);
    assert!(cancelled.reasons.iter().any(|r| r.text.contains("cancelled")));
}

#[test]
fn thresholds_are_validated_with_a_message() {
    assert!(Thresholds::default().validate().is_ok());
    let mut bad = Thresholds::default();
    bad.temperatures.hdd.fail_c = f64::NAN;
    assert!(bad.validate().unwrap_err().contains("hdd.fail_c"));
}

#[test]
fn thresholds_read_the_current_form_and_the_first_releases_flat_one() {
    let current: Thresholds = serde_json::from_str(
        &serde_json::to_string(&Thresholds { max_bad_blocks: 7, ..Thresholds::default() }).unwrap(),
    )
    .unwrap();
    assert_eq!(current.max_bad_blocks, 7);
    assert_eq!(current.temperatures, crate::TemperatureTable::default());
    let legacy: Thresholds =
        serde_json::from_str(r#"{"max_bad_blocks": 100, "hdd_fail_c": 58, "nvme_fail_c": 85}"#)
            .unwrap();
    assert_eq!(legacy.max_bad_blocks, 100);
    assert_eq!(legacy.temperatures.hdd.fail_c, 58.0);
    assert_eq!(legacy.temperatures.nvme.fail_c, 85.0);
    assert_eq!(legacy.temperatures.ssd.fail_c, 70.0);
}

fn run(bad_blocks: u64, completed: bool) -> SurfaceRun {
    SurfaceRun {
        completed,
        bad_blocks,
        corruption_errors: u32::try_from(bad_blocks).unwrap(),
        first_bad_blocks: (0..bad_blocks).map(|b| 1000 + b).collect(),
        last_line: "Pass completed".into(),
        ..SurfaceRun::default()
    }
}

#[test]
fn the_surface_stage_passes_within_the_tolerated_bad_blocks_and_fails_past_them() {
    let tolerant = Thresholds { max_bad_blocks: 100, ..Thresholds::default() };
    let strict = Thresholds::default();
    let cases: Vec<(SurfaceRun, &Thresholds, bool, &str)> = vec![
        (run(0, true), &strict, true, "0 bad blocks"),
        (run(24, true), &tolerant, true, "within the 100 tolerated"),
        (run(100, true), &tolerant, true, "100 bad blocks"),
        (run(101, true), &tolerant, false, "101 bad blocks found"),
        (run(1, true), &strict, false, "tolerated: 0"),
        (run(0, false), &strict, false, "without completing"),
        (SurfaceRun { exit_code: 1, ..run(0, true) }, &strict, false, "status 1"),
        (
            SurfaceRun { refusal: Some("mounted".into()), ..run(0, true) },
            &tolerant,
            false,
            "status 0",
        ),
        (
            SurfaceRun { stopped_at_limit: true, ..run(5, false) },
            &tolerant,
            false,
            "without completing",
        ),
    ];
    for (run, thresholds, passes, says) in cases {
        let outcome = surface_outcome(&run, thresholds);
        let text = match &outcome {
            SurfaceOutcome::Passed { detail } => detail,
            SurfaceOutcome::Failed { reason } => reason,
        };
        assert_eq!(matches!(outcome, SurfaceOutcome::Passed { .. }), passes, "{run:?}: {text}");
        assert!(text.contains(says), "{run:?}: {text}");
    }
}

#[test]
fn a_drive_whose_only_fault_is_tolerated_bad_blocks_passes_with_a_warning() {
    let report = ata(&[]);
    let mut stages = passed_stages();
    stages[3].bad_blocks = 24;
    stages[3].corruption_errors = 24;
    let thresholds = Thresholds { max_bad_blocks: 100, ..Thresholds::default() };
    let evidence = Evidence {
        kind: DriveKind::Hdd,
        job_state: JobState::Passed,
        stages: &stages,
        before: Some(&report),
        after: Some(&report),
        max_temperature_c: Some(40.0),
    };
    let judged = verdict(&evidence, &thresholds);
    assert_eq!(judged.outcome, Outcome::Warn, "{:?}", judged.reasons);
    let (state, reason) = final_state(None, &judged);
    assert_eq!(state, JobState::Passed);
    assert!(reason.contains("24 bad blocks"), "{reason}");
    // Past the tolerance the same evidence fails the job.
    let failed = verdict(&evidence, &Thresholds::default());
    assert_eq!(final_state(None, &failed).0, JobState::Failed);
    // A stage's own outcome decides before the verdict does.
    let cancelled = (JobState::Cancelled, "cancelled by the operator".to_owned());
    assert_eq!(final_state(Some(cancelled.clone()), &judged), cancelled);
}

#[test]
fn damage_carried_before_the_run_warns_alike_for_every_protocol() {
    let cases: Vec<(DriveKind, SmartReport, &str, &str)> = vec![
        (DriveKind::Hdd, ata(&[(5, 16)]), "ata.5.before", "16 sectors were already reallocated"),
        (DriveKind::Hdd, ata(&[(197, 1)]), "ata.197.before", "1 sectors were already pending"),
        (DriveKind::Hdd, ata(&[(198, 2)]), "ata.198.before", "2 sectors were already offline"),
        (DriveKind::Hdd, ata(&[(187, 3)]), "ata.187.before", "3 uncorrectable errors"),
        (DriveKind::Hdd, edit(SAS, |_| {}), "scsi.grown_defects.before", "260 grown defects"),
        (
            DriveKind::Hdd,
            edit(SAS, |j| j["scsi_grown_defect_list"] = 0.into()),
            "scsi.uncorrected.before",
            "uncorrected read/write/verify errors",
        ),
        (
            DriveKind::Nvme,
            edit(NVME, |j| j["nvme_smart_health_information_log"]["media_errors"] = 2.into()),
            "nvme.media_errors.before",
            "2 media and data integrity errors",
        ),
        (
            DriveKind::Nvme,
            edit(NVME, |j| {
                j["nvme_smart_health_information_log"]["num_err_log_entries"] = 9.into()
            }),
            "nvme.error_log.before",
            "9 entries were already in the error log",
        ),
    ];
    for (kind, used, rule, says) in cases {
        let judged = judge(kind, &used, &used, None);
        assert_ne!(judged.outcome, Outcome::Pass, "{rule}: {:?}", judged.reasons);
        let reason = judged
            .reasons
            .iter()
            .find(|r| r.rule == rule)
            .unwrap_or_else(|| panic!("{rule} missing: {:?}", judged.reasons));
        assert_eq!(reason.level, Level::Warn, "{rule}");
        assert!(reason.text.contains(says), "{rule}: {}", reason.text);
        assert!(reason.evidence.contains("before"), "{rule}");
    }
    // A new drive with nothing counted passes clean.
    let fresh = ata(&[]);
    assert_eq!(judge(DriveKind::Hdd, &fresh, &fresh, None).outcome, Outcome::Pass);
}

#[test]
fn counters_rising_between_two_readings_are_the_verdicts_watched_ones() {
    let quiet = ata(&[(5, 0), (197, 0), (199, 2)]);
    assert_eq!(counters_rising(&quiet, &quiet), vec![], "the same reading twice is no rise");
    let later = ata(&[(5, 3), (197, 0), (199, 4)]);
    let rises = counters_rising(&quiet, &later);
    let named: Vec<(&str, u64, u64, Level)> =
        rises.iter().map(|r| (r.rule, r.before, r.after, r.level)).collect();
    assert_eq!(named, vec![("ata.5", 0, 3, Level::Fail), ("ata.199", 2, 4, Level::Warn)]);
    assert_eq!(counters_rising(&later, &quiet), vec![], "a counter that fell is no rise");
    // The rule names are the verdict's: a rise the alert names fails or warns a burn-in too.
    let verdict = verdict_of(&passed_stages(), &quiet, &later);
    for rise in &rises {
        assert!(rules(&verdict).contains(&format!("{}.delta", rise.rule).as_str()), "{rise:?}");
    }
    let sas = parse_smartctl_json(SAS.as_bytes()).unwrap();
    let grown = edit(SAS, |json| {
        let grown = json["scsi_grown_defect_list"].as_u64().unwrap_or(0);
        json["scsi_grown_defect_list"] = serde_json::json!(grown + 1);
    });
    assert_eq!(
        counters_rising(&sas, &grown).iter().map(|r| r.rule).collect::<Vec<_>>(),
        vec!["scsi.grown_defects"]
    );
    let nvme = parse_smartctl_json(NVME.as_bytes()).unwrap();
    assert_eq!(counters_rising(&sas, &nvme), vec![], "another protocol's reading proves nothing");
}
