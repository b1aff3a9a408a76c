//! The simulator's smartctl, read back with the product's own parsers.
//!
//! No public capture shows an NVMe or SAS self-test in progress, or an ATA "Aborted by host"
//! (shared/corpus/README.md): those answers are synthesized from smartmontools 7.4's source
//! shapes, and the tests below check them against the product's parser, not against a capture.

#![expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

/// Named so that `cargo test smartctl` selects every test here.
mod smartctl {
    use burnin::{
        remote::{DevicePath, DeviceType, SelfTestKind, Smartctl, SmartctlAction},
        smart::{
            Protocol, SelfTestOutcome, SmartReport, TestStartOutcome,
            parse_scsi_self_test_progress_text, parse_self_test_start_text, parse_smartctl_json,
        },
    };
    use burnin_simulator::{
        HostState,
        drive::TestKind,
        fleet,
        scenario::Behaviour,
        smartctl::{Output, run},
    };
    use serde_json::Value;

    fn command(device: &str, action: SmartctlAction, with_text: bool) -> Smartctl {
        Smartctl { device: DevicePath::new(device).unwrap(), device_type: None, action, with_text }
    }

    fn smartctl(
        host: &mut HostState,
        device: &str,
        action: SmartctlAction,
        with_text: bool,
    ) -> Output {
        run(host, &command(device, action, with_text))
    }

    fn json(out: &Output) -> Value {
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// `smartctl.output[]` joined into smartctl's text.
    fn text(out: &Output) -> String {
        json(out)["smartctl"]["output"]
            .as_array()
            .map(|lines| lines.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }

    fn report(host: &mut HostState, device: &str) -> SmartReport {
        parse_smartctl_json(&smartctl(host, device, SmartctlAction::Report, false).stdout).unwrap()
    }

    fn start(host: &mut HostState, device: &str, kind: SelfTestKind) -> Output {
        smartctl(host, device, SmartctlAction::StartSelfTest(kind), true)
    }

    /// The SCALE host (index 0) or the CORE host (index 1) of the demo fleet.
    fn demo_host(index: usize) -> HostState {
        let scenario = fleet::demo("1-a", "1-b", "");
        HostState::new(&scenario.hosts[index], scenario.seed)
    }

    fn index_of(host: &HostState, serial: &str) -> usize {
        host.drives.iter().position(|d| d.spec.serial == serial).unwrap()
    }

    fn device_of(host: &HostState, serial: &str) -> String {
        format!("/dev/{}", host.drives[index_of(host, serial)].devname)
    }

    #[test]
    fn every_drive_of_the_demo_fleet_answers_a_report_the_product_can_read() {
        let scenario = fleet::demo("1-a", "1-b", "");
        for spec in &scenario.hosts {
            let mut host = HostState::new(spec, scenario.seed);
            host.advance(600.0);
            for index in 0..host.drives.len() {
                let drive = host.drives[index].clone();
                // CORE's smartctl reads NVMe through the controller node (reference §4.2).
                let name = match drive.devname.strip_prefix("nvd") {
                    Some(n) if host.personality.is_core() => format!("nvme{n}"),
                    _ => drive.devname.clone(),
                };
                for with_text in [false, true] {
                    let out = smartctl(
                        &mut host,
                        &format!("/dev/{name}"),
                        SmartctlAction::Report,
                        with_text,
                    );
                    let report = parse_smartctl_json(&out.stdout).unwrap();
                    let what = format!("{} {}", spec.name, drive.devname);
                    assert!(!report.read_failed(), "{what}");
                    assert_eq!(out.exit_code & 0b11, 0, "{what}");
                    assert_eq!(report.smartctl.version, Some([7, 4]), "{what}");
                    assert_eq!(
                        report.identity.serial.as_deref(),
                        Some(drive.spec.serial.as_str()),
                        "{what}"
                    );
                    assert_eq!(
                        report.identity.model.as_deref(),
                        Some(drive.spec.model.as_str()),
                        "{what}"
                    );
                    assert_eq!(
                        report.identity.capacity_bytes,
                        Some(drive.spec.size_bytes),
                        "{what}"
                    );
                    assert_eq!(report.temperature.current, Some(drive.temperature()), "{what}");
                    assert_eq!(report.power_on_hours, Some(drive.power_on_hours()), "{what}");
                    assert_eq!(
                        report.identity.rotation_rate.is_some(),
                        drive.spec.protocol != burnin_simulator::Protocol::Nvme,
                        "{what}"
                    );
                    let expected = match drive.spec.protocol {
                        burnin_simulator::Protocol::Ata => Protocol::Ata,
                        burnin_simulator::Protocol::Scsi => Protocol::Scsi,
                        burnin_simulator::Protocol::Nvme => Protocol::Nvme,
                    };
                    assert_eq!(report.identity.protocol, expected, "{what}");
                    assert_eq!(json(&out)["smartctl"]["output"].is_array(), with_text, "{what}");
                    assert!(report.self_test_progress().is_none(), "{what}");
                }
            }
        }
    }

    #[test]
    fn an_ata_report_carries_the_drives_counters_wwn_and_identity() {
        let mut host = demo_host(0);
        let index = index_of(&host, "VGH1K2L3");
        let device = device_of(&host, "VGH1K2L3");
        {
            let drive = &mut host.drives[index];
            drive.counters.reallocated = 7.0;
            drive.counters.pending = 3.0;
            drive.counters.offline_uncorrectable = 2.0;
            drive.counters.reported_uncorrectable = 4.0;
            drive.counters.udma_crc = 9.0;
        }
        host.advance(60.0);
        let drive = host.drives[index].clone();
        let report = report(&mut host, &device);
        let ata = report.ata.as_ref().unwrap();
        assert_eq!(ata.reallocated_sectors(), Some(7));
        assert_eq!(ata.current_pending_sectors(), Some(3));
        assert_eq!(ata.offline_uncorrectable(), Some(2));
        assert_eq!(ata.reported_uncorrectable(), Some(4));
        assert_eq!(ata.udma_crc_errors(), Some(9));
        assert_eq!(ata.temperature(), Some(drive.temperature() as u64));
        assert_eq!(ata.power_on_hours(), Some(drive.power_on_hours()));
        assert_eq!(report.identity.wwn.as_deref(), Some(drive.wwn.as_str()));
        assert_eq!(report.identity.model_family.as_deref(), Some("Western Digital Red"));
        assert_eq!(report.identity.physical_block_size, Some(4096));
        assert_eq!(report.power_cycle_count, Some(drive.power_cycles));
        assert_eq!(report.health, burnin::drive::SmartHealth::Passed);
        let polling = ata.polling_minutes;
        assert_eq!(polling.short, Some(2));
        assert_eq!(
            polling.extended.map(u64::from),
            Some((drive.test_duration(TestKind::Long) / 60.0) as u64)
        );
        assert_eq!(polling.conveyance, Some(5));
        // No tests yet: the log is just a count, as smartctl prints it.
        let log = ata.self_test_log.as_ref().unwrap();
        assert_eq!((log.count, log.entries.len()), (Some(0), 0));
    }

    #[test]
    fn an_ata_drive_past_500_reallocated_sectors_fails_smart_with_exit_bits_3_and_4() {
        let mut host = demo_host(0);
        let device = device_of(&host, "ZAD1Q2W3");
        let index = index_of(&host, "ZAD1Q2W3");
        host.drives[index].counters.reallocated = 501.0;
        let out = smartctl(&mut host, &device, SmartctlAction::Report, true);
        let report = parse_smartctl_json(&out.stdout).unwrap();
        assert_eq!(report.health, burnin::drive::SmartHealth::Failed);
        assert_eq!(out.exit_code & 0b1_1000, 0b1_1000);
        let status = report.smartctl.exit_status.unwrap();
        assert!(status.disk_failing && status.prefail_attributes_at_threshold);
        let five = report.ata.as_ref().unwrap().attribute(5).unwrap().clone();
        assert_eq!(five.raw_value, Some(501));
        assert_eq!(five.when_failed, Some(burnin::smart::WhenFailed::Now));
        assert!(text(&out).contains("SMART overall-health self-assessment test result: FAILED!"));
    }

    #[test]
    fn an_ata_long_test_reports_progress_refuses_a_second_start_and_logs_its_completion() {
        let mut host = demo_host(0);
        let started = start(&mut host, "/dev/sda", SelfTestKind::Long);
        assert_eq!(started.exit_code, 0);
        let duration = host.drives[0].test_duration(TestKind::Long);
        assert_eq!(
            parse_self_test_start_text(&text(&started)),
            TestStartOutcome::Started {
                wait_seconds: Some(duration as u64),
                completes_at: text(&started)
                    .lines()
                    .find_map(|l| l.strip_prefix("Test will complete after "))
                    .map(str::to_owned),
            }
        );
        host.advance(duration * 0.35);
        let running = report(&mut host, "/dev/sda");
        let progress = running.self_test_progress().unwrap();
        assert_eq!(progress.percent_done, Some(30), "ATA counts remaining tenths: 70% remaining");
        assert_eq!(progress.kind, burnin::smart::SelfTestKind::Extended);
        assert_eq!(running.last_self_test().unwrap().outcome, SelfTestOutcome::InProgress);
        let status = running.ata.as_ref().unwrap().self_test_status.clone().unwrap();
        assert_eq!((status.value, status.remaining_percent), (0xF7, Some(70)));
        let log = running.ata.as_ref().unwrap().self_test_log.clone().unwrap();
        assert_eq!(log.entries[0].status.as_ref().unwrap().value, 0xF7);

        let refused = start(&mut host, "/dev/sda", SelfTestKind::Short);
        assert_eq!(refused.exit_code, 4);
        assert!(text(&refused).contains(
        "Can't start self-test without aborting current test (70% remaining),\nadd '-t force' option to override, or run 'smartctl -X' to abort test."
    ));
        assert_eq!(
            parse_self_test_start_text(&text(&refused)),
            TestStartOutcome::AlreadyRunning { percent_done: Some(30) }
        );

        host.advance(duration * 1.1);
        let done = report(&mut host, "/dev/sda");
        assert!(done.self_test_progress().is_none());
        let last = done.last_self_test().unwrap();
        assert_eq!(
            (last.kind, last.outcome),
            (burnin::smart::SelfTestKind::Extended, SelfTestOutcome::Passed)
        );
        assert_eq!(last.power_on_hours, Some(host.drives[0].self_test_log[0].power_on_hours));
        assert_eq!(done.smartctl.exit_status.unwrap().bits & 0x80, 0);
    }

    #[test]
    fn a_test_aborted_by_the_host_reads_as_aborted() {
        let mut host = demo_host(0);
        let device = device_of(&host, "71T0A0ABFVGG");
        let out = start(&mut host, &device, SelfTestKind::Long);
        assert_eq!(out.exit_code, 0);
        let duration = host.drives[index_of(&host, "71T0A0ABFVGG")].test_duration(TestKind::Long);
        host.advance(duration * 0.5);
        let report = report(&mut host, &device);
        assert!(report.self_test_progress().is_none());
        let last = report.last_self_test().unwrap();
        assert_eq!(last.outcome, SelfTestOutcome::Aborted { reason: "Aborted by host".into() });
        let status = report.ata.unwrap().self_test_status.unwrap();
        assert_eq!(
            (status.value, status.string.as_deref(), status.passed),
            (0x10, Some("was aborted by the host"), None)
        );
    }

    #[test]
    fn a_failed_long_test_sets_exit_bit_7_until_a_newer_extended_test_passes() {
        let mut host = demo_host(0);
        host.drives[0].spec.behaviours.push(Behaviour::SelfTestFails { at_percent: 30 });
        let duration = host.drives[0].test_duration(TestKind::Long);
        start(&mut host, "/dev/sda", SelfTestKind::Long);
        host.advance(duration * 0.31);
        let out = smartctl(&mut host, "/dev/sda", SmartctlAction::Report, true);
        let failed = parse_smartctl_json(&out.stdout).unwrap();
        let last = failed.last_self_test().unwrap();
        assert!(matches!(last.outcome, SelfTestOutcome::Failed { .. }), "{last:?}");
        let lba = last.first_failing_lba.unwrap();
        assert!(lba > 0 && lba < host.drives[0].spec.size_bytes / 512);
        assert_eq!(out.exit_code & 0x80, 0x80);
        let status = failed.ata.as_ref().unwrap().self_test_status.clone().unwrap();
        assert_eq!((status.value >> 4, status.passed), (0x7, Some(false)));
        assert!(text(&out).contains("Completed: read failure"));

        host.drives[0].spec.behaviours.clear();
        start(&mut host, "/dev/sda", SelfTestKind::Long);
        host.advance(duration * 2.5);
        let passed = smartctl(&mut host, "/dev/sda", SmartctlAction::Report, false);
        assert_eq!(passed.exit_code & 0x80, 0);
        let log = parse_smartctl_json(&passed.stdout).unwrap().ata.unwrap().self_test_log.unwrap();
        assert_eq!(
            (log.count, log.error_count_total, log.error_count_outdated),
            (Some(2), Some(1), Some(1))
        );
    }

    #[test]
    fn the_seagate_command_timeout_attribute_stays_packed_as_captured() {
        let mut host = demo_host(0);
        let device = device_of(&host, "ZL2AB1C1");
        let report = report(&mut host, &device);
        let ata = report.ata.unwrap();
        let timeouts = ata.attribute(188).unwrap();
        assert_eq!(timeouts.raw_value, Some(51_540_393_996));
        assert_eq!(ata.command_timeouts().unwrap().timeouts, 12);
        assert_eq!(report.identity.model_family.as_deref(), Some("Seagate Exos X16"));
    }

    #[test]
    fn a_sas_report_shows_grown_defects_and_uncorrected_reads() {
        let mut host = demo_host(1);
        let device = device_of(&host, "Z1Z2X3C4");
        let index = index_of(&host, "Z1Z2X3C4");
        host.drives[index].counters.sas_grown_defects = 42.0;
        host.drives[index].counters.sas_uncorrected_reads = 5.0;
        let out = smartctl(&mut host, &device, SmartctlAction::Report, false);
        let report = parse_smartctl_json(&out.stdout).unwrap();
        assert_eq!(report.identity.protocol, Protocol::Scsi);
        assert_eq!(report.identity.vendor.as_deref(), Some("SEAGATE"));
        assert_eq!(report.identity.product.as_deref(), Some("ST4000NM0023"));
        assert_eq!(report.identity.model.as_deref(), Some("SEAGATE ST4000NM0023"));
        assert_eq!(report.temperature.drive_trip, Some(68));
        let scsi = report.scsi.unwrap();
        assert_eq!(scsi.grown_defect_list, Some(42));
        assert_eq!(scsi.error_counters.read.as_ref().unwrap().total_uncorrected_errors, Some(5));
        assert!(json(&out)["scsi_error_counter_log"]["read"]["gigabytes_processed"].is_string());
        assert_eq!(report.health, burnin::drive::SmartHealth::Passed);
        // smartctl 7.4 sets no error-log bit for SAS error counters.
        assert_eq!(out.exit_code, 0);
    }

    #[test]
    fn sas_self_test_progress_is_only_in_the_text_output() {
        let mut host = demo_host(0);
        let device = device_of(&host, "VAGX1234");
        let started = start(&mut host, &device, SelfTestKind::Long);
        assert!(text(&started).contains("Extended Background Self Test has begun"));
        assert!(matches!(
            parse_self_test_start_text(&text(&started)),
            TestStartOutcome::Started { wait_seconds: Some(_), .. }
        ));
        let duration = host.drives[index_of(&host, "VAGX1234")].test_duration(TestKind::Long);
        host.advance(duration / 2.0);

        let out = smartctl(&mut host, &device, SmartctlAction::Report, true);
        let report = parse_smartctl_json(&out.stdout).unwrap();
        let progress = report.self_test_progress().unwrap();
        assert_eq!(progress.percent_done, None, "7.4's JSON has no SAS percentage");
        assert_eq!(progress.kind, burnin::smart::SelfTestKind::Extended);
        // Half done is progress 32767 of 65535, which smartctl prints as 100 - 49 = 51% remaining.
        assert!(text(&out).contains("Self-test execution status:\t\t51% of test remaining"));
        assert_eq!(parse_scsi_self_test_progress_text(&text(&out)), Some(49));
        let entry = &json(&out)["scsi_self_test_0"];
        assert_eq!(entry["self_test_in_progress"], Value::Bool(true));
        assert_eq!(entry["result"]["value"], 15);

        let refused = start(&mut host, &device, SelfTestKind::Short);
        assert_eq!(refused.exit_code, 255, "scsiPrintMain returns -1");
        assert_eq!(json(&refused)["smartctl"]["exit_status"], -1);
        assert_eq!(
            parse_self_test_start_text(&text(&refused)),
            TestStartOutcome::AlreadyRunning { percent_done: Some(49) }
        );

        host.advance(duration * 1.5);
        let done = smartctl(&mut host, &device, SmartctlAction::Report, true);
        let report = parse_smartctl_json(&done.stdout).unwrap();
        assert!(report.self_test_progress().is_none());
        assert_eq!(parse_scsi_self_test_progress_text(&text(&done)), None);
        assert_eq!(report.last_self_test().unwrap().outcome, SelfTestOutcome::Passed);
        assert_eq!(report.scsi.unwrap().extended_self_test_seconds, Some(duration as u64));
    }

    #[test]
    fn nvme_progress_is_percent_completed_and_a_refusal_says_so() {
        let mut core = demo_host(1);
        let out = start(&mut core, "/dev/nvme0", SelfTestKind::Short);
        assert_eq!(out.exit_code, 0);
        assert!(text(&out).ends_with("Self-test has begun\nUse smartctl -X to abort test"));
        core.advance(60.0);
        let running = report(&mut core, "/dev/nvme0");
        assert_eq!(running.identity.protocol, Protocol::Nvme);
        let progress = running.self_test_progress().unwrap();
        assert_eq!(
            (progress.kind, progress.percent_done),
            (burnin::smart::SelfTestKind::Short, Some(50))
        );

        let refused = start(&mut core, "/dev/nvme0", SelfTestKind::Long);
        assert_eq!(refused.exit_code, 4);
        assert!(
            text(&refused)
                .contains("Can't start self-test without aborting current test (50% completed)")
        );
        assert_eq!(
            parse_self_test_start_text(&text(&refused)),
            TestStartOutcome::AlreadyRunning { percent_done: Some(50) }
        );

        core.advance(200.0);
        let done = report(&mut core, "/dev/nvme0");
        assert!(done.self_test_progress().is_none());
        let last = done.last_self_test().unwrap();
        assert_eq!(
            (last.kind, last.outcome),
            (burnin::smart::SelfTestKind::Short, SelfTestOutcome::Passed)
        );
    }

    #[test]
    fn nvme_media_errors_are_reported_and_many_of_them_fail_smart() {
        let mut core = demo_host(1);
        let index = index_of(&core, "S4EWNX0N123456");
        core.drives[index].counters.nvme_media_errors = 12.0;
        let report = report(&mut core, "/dev/nvme0");
        let nvme = report.nvme.unwrap();
        assert_eq!(nvme.health_log.as_ref().unwrap().media_errors, Some(12));
        assert_eq!(nvme.health_log.as_ref().unwrap().available_spare, Some(100));
        assert_eq!(report.health, burnin::drive::SmartHealth::Passed);

        core.drives[index].counters.nvme_media_errors = 1500.0;
        let out = smartctl(&mut core, "/dev/nvme0", SmartctlAction::Report, false);
        let failing = parse_smartctl_json(&out.stdout).unwrap();
        assert_eq!(failing.health, burnin::drive::SmartHealth::Failed);
        assert!(failing.nvme.unwrap().critical_warning.unwrap().reliability_degraded);
        assert_eq!(out.exit_code, 8);
    }

    #[test]
    fn core_refuses_the_nvd_name_and_accepts_the_controller_and_scale_accepts_both() {
        let mut core = demo_host(1);
        let out = smartctl(&mut core, "/dev/nvd0", SmartctlAction::Report, true);
        assert_eq!(out.exit_code, 1);
        let report = parse_smartctl_json(&out.stdout).unwrap();
        assert!(report.read_failed());
        assert_eq!(
            report.smartctl.messages[0].text,
            "/dev/nvd0: To monitor NVMe disks use /dev/nvme* device names"
        );
        assert_eq!(
            self::report(&mut core, "/dev/nvme0").identity.serial.as_deref(),
            Some("S4EWNX0N123456")
        );
        let ada = self::report(&mut core, "/dev/ada0");
        assert_eq!(ada.identity.device_type.as_deref(), Some("atacam"));

        let mut scale = demo_host(0);
        let sda = self::report(&mut scale, "/dev/sda");
        assert_eq!(sda.identity.device_type.as_deref(), Some("sat"));
    }

    #[test]
    fn an_unknown_device_is_an_open_failure_with_exit_status_2() {
        let mut host = demo_host(0);
        let out = smartctl(&mut host, "/dev/sdzz", SmartctlAction::Report, false);
        assert_eq!(out.exit_code, 2);
        let value = json(&out);
        assert_eq!(
            value["smartctl"]["messages"][0]["string"],
            "Smartctl open device: /dev/sdzz failed: No such device"
        );
        assert_eq!(value["smartctl"]["messages"][0]["severity"], "error");
        assert_eq!(value["smartctl"]["exit_status"], 2);
        assert!(value.get("device").is_none());
        assert!(parse_smartctl_json(&out.stdout).unwrap().read_failed());
        // A drive that vanished is unknown too.
        host.drives[0].present = false;
        assert_eq!(smartctl(&mut host, "/dev/sda", SmartctlAction::Report, false).exit_code, 2);
    }

    #[test]
    fn starting_a_test_prints_smartctls_own_words_for_each_protocol() {
        let mut scale = demo_host(0);
        let ata = text(&start(&mut scale, "/dev/sdb", SelfTestKind::Short));
        let lines: Vec<&str> = ata.lines().collect();
        assert!(lines[0].starts_with("smartctl 7.4 2023-08-01 r5530 [x86_64-linux-"));
        assert_eq!(lines[3], "=== START OF OFFLINE IMMEDIATE AND SELF-TEST SECTION ===");
        assert_eq!(
            lines[4],
            "Sending command: \"Execute SMART Short self-test routine immediately in off-line mode\"."
        );
        assert_eq!(
            lines[5],
            "Drive command \"Execute SMART Short self-test routine immediately in off-line mode\" successful."
        );
        assert_eq!(lines[6], "Testing has begun.");
        assert_eq!(lines[7], "Please wait 2 minutes for test to complete.");
        assert!(lines[8].starts_with("Test will complete after ") && lines[8].ends_with(" UTC"));
        assert_eq!(lines[9], "Use smartctl -X to abort test.");

        let sas = device_of(&scale, "VAGX1234");
        let short = text(&start(&mut scale, &sas, SelfTestKind::Short));
        assert!(
            short.ends_with("Short Background Self Test has begun\nUse smartctl -X to abort test")
        );
        assert!(matches!(
            parse_self_test_start_text(&short),
            TestStartOutcome::Started { wait_seconds: None, .. }
        ));
    }

    #[test]
    fn conveyance_is_refused_where_the_drive_lacks_it() {
        let mut scale = demo_host(0);
        let ssd = device_of(&scale, "S6PNNS0T123456A");
        let out = start(&mut scale, &ssd, SelfTestKind::Conveyance);
        assert_eq!(out.exit_code, 4);
        assert!(text(&out).contains("Conveyance Self-test functions not supported"));
        assert!(scale.drives[index_of(&scale, "S6PNNS0T123456A")].self_test.is_none());
        let ssd_report = report(&mut scale, &ssd);
        assert_eq!(ssd_report.ata.unwrap().polling_minutes.conveyance, None);

        let hdd = start(&mut scale, "/dev/sda", SelfTestKind::Conveyance);
        assert_eq!(hdd.exit_code, 0);
        assert!(
            text(&hdd).contains(
                "Execute SMART Conveyance self-test routine immediately in off-line mode"
            )
        );

        // -t conveyance sets no SAS or NVMe option: smartctl only opens the device.
        let sas = device_of(&scale, "VAGX1234");
        let out = start(&mut scale, &sas, SelfTestKind::Conveyance);
        assert_eq!(out.exit_code, 0);
        assert!(text(&out).contains("SCSI device successfully opened"));
        assert_eq!(parse_self_test_start_text(&text(&out)), TestStartOutcome::Unrecognized);
        assert!(scale.drives[index_of(&scale, "VAGX1234")].self_test.is_none());
    }

    #[test]
    fn aborting_prints_smartctls_words_and_logs_the_test_as_aborted() {
        let mut scale = demo_host(0);
        start(&mut scale, "/dev/sda", SelfTestKind::Long);
        scale.advance(100.0);
        let out = smartctl(&mut scale, "/dev/sda", SmartctlAction::AbortSelfTest, true);
        assert_eq!(out.exit_code, 0);
        assert!(text(&out).ends_with(
        "Sending command: \"Abort SMART off-line mode self-test routine\".\nSelf-testing aborted!"
    ));
        let last = report(&mut scale, "/dev/sda").last_self_test().unwrap();
        assert!(matches!(last.outcome, SelfTestOutcome::Aborted { .. }));

        let mut core = demo_host(1);
        start(&mut core, "/dev/nvme0", SelfTestKind::Long);
        let out = smartctl(&mut core, "/dev/nvme0", SmartctlAction::AbortSelfTest, true);
        assert!(text(&out).ends_with("Self-test aborted!"));
        let last = report(&mut core, "/dev/nvme0").last_self_test().unwrap();
        assert_eq!(
            last.outcome,
            SelfTestOutcome::Aborted { reason: "Aborted: Self-test command".into() }
        );

        let sas = device_of(&core, "Z1Z2X3C4");
        start(&mut core, &sas, SelfTestKind::Short);
        let out = smartctl(&mut core, &sas, SmartctlAction::AbortSelfTest, true);
        assert!(text(&out).ends_with("Self Test returned without error"));
        let last = report(&mut core, &sas).last_self_test().unwrap();
        assert!(matches!(last.outcome, SelfTestOutcome::Aborted { .. }));
    }

    #[test]
    fn answers_carry_smartctls_envelope() {
        let mut core = demo_host(1);
        let out = smartctl(&mut core, "/dev/ada1", SmartctlAction::Report, true);
        let value = json(&out);
        assert_eq!(value["json_format_version"], serde_json::json!([1, 0]));
        assert_eq!(
            value["smartctl"]["argv"],
            serde_json::json!(["smartctl", "--json=co", "-x", "/dev/ada1"])
        );
        assert_eq!(value["smartctl"]["exit_status"], out.exit_code);
        assert_eq!(value["smartctl"]["platform_info"], "FreeBSD 13.3-RELEASE-p4 amd64");
        assert!(value["local_time"]["time_t"].is_i64());
        assert!(value["local_time"]["asctime"].as_str().unwrap().ends_with(" UTC"));
        assert_eq!(value["device"]["name"], "/dev/ada1");
        assert_eq!(value["device"]["protocol"], "ATA");
        // Compact (`--json=c`): one line.
        assert!(out.stdout.ends_with(b"}\n"));
        assert_eq!(out.stdout.iter().filter(|b| **b == b'\n').count(), 1);
        assert!(out.stderr.is_empty());
        assert_eq!(
            value["smartctl"]["output"][1],
            "Copyright (C) 2002-23, Bruce Allen, Christian Franke, www.smartmontools.org"
        );
    }

    #[test]
    fn odd_drive_states_never_make_it_panic() {
        let mut scale = demo_host(0);
        let mut core = demo_host(1);
        for host in [&mut scale, &mut core] {
            for (index, drive) in host.drives.iter_mut().enumerate() {
                let odd = index % 2 == 1;
                drive.spec.size_bytes = if odd { 0 } else { u64::MAX };
                drive.spec.throughput_mb_s = f64::NAN;
                drive.power_on_seconds = if odd { f64::INFINITY } else { -1.0 };
                drive.temperature_c = if odd { f64::NAN } else { f64::INFINITY };
                drive.power_cycles = u64::MAX;
                drive.load_seconds = f64::INFINITY;
                drive.self_test = odd.then_some(burnin_simulator::drive::SelfTestRun {
                    kind: TestKind::Long,
                    started: f64::NAN,
                    duration: 0.0,
                    stuck_at: None,
                    ends_early: None,
                });
                drive.counters.reallocated = -5.0;
                drive.counters.nvme_media_errors = f64::MAX;
                drive.counters.sas_grown_defects = f64::NAN;
                drive.wwn = "zz".into();
                drive.spec.model = String::new();
                drive.self_test_log.push(burnin_simulator::drive::SelfTestLogEntry {
                    kind: TestKind::Conveyance,
                    result: burnin_simulator::drive::TestResult::ReadFailure { lba: u64::MAX },
                    power_on_hours: u64::MAX,
                });
            }
            let names: Vec<String> = host.drives.iter().map(|d| d.devname.clone()).collect();
            for name in names.iter().map(String::as_str).chain(["nvme0", "nvme99", "x", "sd/../a"])
            {
                let Ok(device) = DevicePath::new(format!("/dev/{name}")) else { continue };
                for action in [
                    SmartctlAction::StartSelfTest(SelfTestKind::Long),
                    SmartctlAction::Report,
                    SmartctlAction::StartSelfTest(SelfTestKind::Conveyance),
                    SmartctlAction::StartSelfTest(SelfTestKind::Short),
                    SmartctlAction::AbortSelfTest,
                ] {
                    for (with_text, device_type) in [
                        (false, None),
                        (true, None),
                        (true, Some(DeviceType::Sat)),
                        (false, Some(DeviceType::Scsi)),
                        (true, Some(DeviceType::Nvme)),
                    ] {
                        let out = run(
                            host,
                            &Smartctl { device: device.clone(), device_type, action, with_text },
                        );
                        parse_smartctl_json(&out.stdout).unwrap();
                    }
                }
            }
        }
    }
}
