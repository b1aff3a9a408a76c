//! The smartctl JSON parser on input that is broken, odd, or at the edges of its types.

use burnin::SmartHealth;
use burnin::smart::{SmartParseError, parse_smartctl_json};

#[test]
fn invalid_json_is_an_error_naming_the_position() {
    let error = parse_smartctl_json(b"{\"smartctl\": {\"version\": [7, 4]").expect_err("truncated");
    assert!(matches!(error, SmartParseError::InvalidJson { line: 1, .. }), "{error:?}");
    assert!(parse_smartctl_json(b"").is_err());
    assert!(parse_smartctl_json(b"\xff\xfe").is_err());
}

#[test]
fn json_that_is_not_an_object_is_an_error_naming_what_it_is() {
    let cases = [("[]", "an array"), ("null", "null"), ("42", "a number"), ("\"x\"", "a string")];
    for (text, found) in cases {
        assert_eq!(
            parse_smartctl_json(text.as_bytes()),
            Err(SmartParseError::NotAnObject { found: found.into() })
        );
    }
}

#[test]
fn an_empty_object_is_an_empty_report() {
    let report = parse_smartctl_json(b"{}").expect("parses");
    assert_eq!(report.health, SmartHealth::Unknown);
    assert!(report.ata.is_none() && report.scsi.is_none() && report.nvme.is_none());
    assert_eq!(report.smartctl.exit_status, None);
}

#[test]
fn stray_text_before_the_json_is_skipped() {
    let text = b"  Pending defect count:\n{\"smart_status\": {\"passed\": true}}\n";
    assert_eq!(parse_smartctl_json(text).map(|report| report.health), Ok(SmartHealth::Passed));
    let with_bom = b"\xEF\xBB\xBF{\"smart_status\": {\"passed\": false}}";
    assert_eq!(parse_smartctl_json(with_bom).map(|report| report.health), Ok(SmartHealth::Failed));
}

#[test]
fn numbers_sent_as_strings_or_whole_floats_are_read() {
    let text = br#"{"power_on_time": {"hours": "1234"}, "power_cycle_count": 17.0,
        "temperature": {"current": "-5"}, "smart_status": {"passed": 1}}"#;
    let report = parse_smartctl_json(text).expect("parses");
    assert_eq!(report.power_on_hours, Some(1234));
    assert_eq!(report.power_cycle_count, Some(17));
    assert_eq!(report.temperature.current, Some(-5));
    assert_eq!(report.health, SmartHealth::Passed);
}

#[test]
fn values_of_the_wrong_type_or_range_are_none_not_errors() {
    let text = br#"{"power_on_time": {"hours": -3}, "power_cycle_count": 1.5,
        "smart_status": {"passed": "maybe"}, "smartctl": {"exit_status": 300, "version": "7.4"},
        "logical_block_size": 99999999999, "ata_smart_attributes": {"table": [
            {"id": 300, "name": "bad id"}, {"name": "no id"}, "not an object", null,
            {"id": 5, "value": "x", "raw": {"value": [], "string": 5}}]},
        "scsi_self_test_0": [], "nvme_self_test_log": {"table": "nope"}}"#;
    let report = parse_smartctl_json(text).expect("parses");
    assert_eq!((report.power_on_hours, report.power_cycle_count), (None, None));
    assert_eq!(report.health, SmartHealth::Unknown);
    assert_eq!((report.smartctl.exit_status, report.smartctl.version), (None, None));
    assert_eq!(report.identity.logical_block_size, None);
    let ata = report.ata.as_ref().expect("ATA sections");
    assert_eq!(ata.attributes.len(), 1);
    assert_eq!((ata.attributes[0].value, ata.attributes[0].raw_value), (None, None));
    assert_eq!(ata.reallocated_sectors(), Some(5), "the raw string \"5\" still counts");
    assert!(report.scsi.is_none());
    assert_eq!(
        report.nvme.and_then(|nvme| nvme.self_test_log).map(|log| log.entries.len()),
        Some(0)
    );
}

#[test]
fn raw_values_above_2_to_the_53_are_exact() {
    let text = br#"{"ata_smart_attributes": {"table": [
        {"id": 241, "raw": {"value": 18446744073709551615, "string": "x"}},
        {"id": 242, "raw": {"value": 9007199254740993, "string": "x"}}]}}"#;
    let report = parse_smartctl_json(text).expect("parses");
    let raw = |id| report.ata.as_ref()?.attribute(id)?.raw_value;
    assert_eq!(raw(241), Some(u64::MAX));
    assert_eq!(raw(242), Some(9_007_199_254_740_993));
}

#[test]
fn nvme_counters_beyond_64_bits_are_none_rather_than_wrong() {
    // smartctl prints 128-bit counters as one JSON number (`json.cpp` `set_unsafe_uint128`).
    let text = br#"{"nvme_smart_health_information_log": {
        "data_units_read": 340282366920938463463374607431768211455, "data_units_written": 7}}"#;
    let report = parse_smartctl_json(text).expect("parses");
    let log = report.nvme.and_then(|nvme| nvme.health_log).expect("health log");
    assert_eq!((log.data_units_read, log.data_units_written), (None, Some(7)));
}

#[test]
fn deeply_nested_input_is_an_error_not_a_stack_overflow() {
    let text = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(parse_smartctl_json(text.as_bytes()).is_err());
    let object = format!("{{\"a\":{}{}}}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    assert!(parse_smartctl_json(object.as_bytes()).is_err());
}
