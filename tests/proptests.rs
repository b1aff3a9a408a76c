//! Property tests, run by plain `cargo test`: the parsers never panic on any input, mangled real
//! captures included, and the badblocks parser gives the same events however its streams are
//! cut into chunks.

use burnin::badblocks::{BadblocksEvent, BadblocksParser};
use burnin::smart::{
    parse_scsi_self_test_progress_text, parse_self_test_start_text, parse_smartctl_json,
};
use proptest::prelude::*;
use serde_json::Value;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus");

/// Captures with the most varied shapes: ATA with logs, failing USB ATA, SAS, NVMe.
const MUTATED_CAPTURES: [&str; 5] = [
    "smart-prom-next/sat_xall.json",
    "smart-prom-next/usbjmicron_a_when_failed_now.json",
    "smartctl_exporter/SEAGATE_ST373453LC_26.json",
    "smartctl_exporter/nvme-null-SAMSUNG_MZWLL3T2HAJQ-00005-nvme0.json",
    "smartctl_exporter/sat-Seagate_Exos_X16-ST16000NM001G-2KK103-sda.json",
];

fn capture(index: usize) -> Vec<u8> {
    let path = format!("{CORPUS}/{}", MUTATED_CAPTURES[index % MUTATED_CAPTURES.len()]);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// Runs every smartctl reader on the bytes, including the derived views.
fn read_smartctl_everything(bytes: &[u8]) {
    if let Ok(report) = parse_smartctl_json(bytes) {
        let _ = (
            report.self_test_progress(),
            report.last_self_test(),
            report.last_completed_self_test(),
        );
        let _ = serde_json::to_string(&report);
        if let Some(ata) = &report.ata {
            let _ = (
                ata.command_timeouts(),
                ata.temperature(),
                ata.airflow_temperature(),
                ata.power_on_hours(),
            );
            let _ = (ata.reallocated_sectors(), ata.udma_crc_errors());
            let _ = ata.self_test_status.as_ref().map(|status| status.percent_done());
        }
        let _ = report.scsi.as_ref().map(|scsi| scsi.total_uncorrected_errors());
    }
    let text = String::from_utf8_lossy(bytes);
    let _ = parse_scsi_self_test_progress_text(&text);
    let _ = parse_self_test_start_text(&text);
}

/// A byte-level change to a capture.
#[derive(Clone, Debug)]
enum Edit {
    Delete { at: usize, len: usize },
    Replace { at: usize, bytes: Vec<u8> },
    Insert { at: usize, bytes: Vec<u8> },
    Truncate { at: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    let bytes = prop::collection::vec(any::<u8>(), 1..16);
    prop_oneof![
        (any::<usize>(), 1..64usize).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), bytes.clone()).prop_map(|(at, bytes)| Edit::Replace { at, bytes }),
        (any::<usize>(), bytes).prop_map(|(at, bytes)| Edit::Insert { at, bytes }),
        any::<usize>().prop_map(|at| Edit::Truncate { at }),
    ]
}

fn apply(bytes: &mut Vec<u8>, edit: &Edit) {
    let position = |at: usize| if bytes.is_empty() { 0 } else { at % (bytes.len() + 1) };
    match edit {
        Edit::Delete { at, len } => {
            let start = position(*at);
            let end = (start + len).min(bytes.len());
            bytes.drain(start..end);
        }
        Edit::Replace { at, bytes: new } => {
            let start = position(*at);
            let end = (start + new.len()).min(bytes.len());
            bytes.splice(start..end, new.iter().copied());
        }
        Edit::Insert { at, bytes: new } => {
            let start = position(*at);
            bytes.splice(start..start, new.iter().copied());
        }
        Edit::Truncate { at } => bytes.truncate(position(*at)),
    }
}

/// A JSON value of any type, including the awkward ones: huge, negative, fractional, textual.
fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        Just(serde_json::json!("")),
        any::<u64>().prop_map(|n| Value::String(n.to_string())),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
        Just(serde_json::json!([null, {"value": 15}])),
        Just(serde_json::json!({"value": 249, "string": "x", "remaining_percent": 300})),
    ]
}

/// How many nodes are below `value`.
fn node_count(value: &Value) -> usize {
    match value {
        Value::Object(map) => map.values().map(|child| 1 + node_count(child)).sum(),
        Value::Array(items) => items.iter().map(|child| 1 + node_count(child)).sum(),
        _ => 0,
    }
}

/// Replaces the `index`-th node (in document order, root excluded) with `leaf`.
fn replace_node(value: &mut Value, index: &mut usize, leaf: &Value) -> bool {
    let children: Vec<&mut Value> = match value {
        Value::Object(map) => map.values_mut().collect(),
        Value::Array(items) => items.iter_mut().collect(),
        _ => return false,
    };
    for child in children {
        if *index == 0 {
            *child = leaf.clone();
            return true;
        }
        *index -= 1;
        if replace_node(child, index, leaf) {
            return true;
        }
    }
    false
}

/// Pieces badblocks writes to stderr, plus awkward bytes, for the chunking property.
fn stderr_piece() -> impl Strategy<Value = Vec<u8>> {
    let status = (0.0f32..=100.0, 0u64..200_000, 0u32..5, 0u32..5, 0u32..5).prop_map(
        |(percent, secs, read, write, corrupt)| {
            let elapsed = if secs >= 3600 {
                format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
            } else {
                format!("{}:{:02}", secs / 60, secs % 60)
            };
            let text = format!(
                "{percent:6.2}% done, {elapsed} elapsed. ({read}/{write}/{corrupt} errors)"
            );
            format!("{text}{}", "\x08".repeat(text.len())).into_bytes()
        },
    );
    let fixed: Vec<&'static [u8]> = vec![
        b"Checking for bad blocks in read-write mode\n",
        b"Checking for bad blocks in non-destructive read-write mode\n",
        b"Checking for bad blocks in read-only mode\n",
        b"From block 0 to 4294967294\n",
        b"Checking blocks 0 to 99\n",
        b"Testing with pattern 0xaa: ",
        b"Testing with pattern 0x55: ",
        b"Testing with pattern 0x1234: ",
        b"Testing with random pattern: ",
        b"Reading and comparing: ",
        b"Checking for bad blocks (read-only test): ",
        b"done                                                 \n",
        b"Pass completed, 3 bad blocks found. (1/1/1 errors)\n",
        b"Too many bad blocks, aborting test\n",
        b"/dev/sda is mounted; it's not safe to run badblocks!\n",
        b"badblocks: invalid end block (5368709120): must be 32-bit value\n",
        b"\n\nInterrupted at block 77\n",
        "caf\u{e9} \u{2713} ".as_bytes(),
        b"\x08\x08\x08",
        b"\n",
        b"Testing with pattern 0x",
    ];
    prop_oneof![
        4 => status,
        6 => prop::sample::select(fixed).prop_map(<[u8]>::to_vec),
        1 => prop::collection::vec(any::<u8>(), 0..40),
    ]
}

/// Feeds `stream` cut at `cuts` (positions taken modulo the length) through `feed`.
fn feed_in_chunks(
    stream: &[u8],
    cuts: &[usize],
    mut feed: impl FnMut(&[u8]) -> Vec<BadblocksEvent>,
) -> Vec<BadblocksEvent> {
    let mut points: Vec<usize> = cuts.iter().map(|cut| cut % (stream.len() + 1)).collect();
    points.push(0);
    points.push(stream.len());
    points.sort_unstable();
    points.windows(2).flat_map(|pair| feed(&stream[pair[0]..pair[1]])).collect()
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_the_smartctl_readers(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        read_smartctl_everything(&bytes);
    }

    #[test]
    fn json_shaped_noise_never_panics_the_smartctl_reader(
        keys in prop::collection::vec(prop::sample::select(vec![
            "smartctl", "exit_status", "ata_smart_attributes", "table", "raw", "value", "string",
            "ata_smart_self_test_log", "extended", "standard", "status", "scsi_self_test_0",
            "nvme_self_test_log", "current_self_test_operation", "wwn", "naa", "oui", "id",
        ]), 1..6),
        leaf in json_leaf(),
    ) {
        let mut value = leaf;
        for key in keys.iter().rev() {
            value = serde_json::json!({ *key: value });
        }
        read_smartctl_everything(value.to_string().as_bytes());
    }

    #[test]
    fn byte_mangled_captures_never_panic(which in 0..MUTATED_CAPTURES.len(), edits in prop::collection::vec(edit(), 1..8)) {
        let mut bytes = capture(which);
        for edit in &edits {
            apply(&mut bytes, edit);
        }
        read_smartctl_everything(&bytes);
    }

    #[test]
    fn captures_with_values_swapped_still_parse(
        which in 0..MUTATED_CAPTURES.len(),
        swaps in prop::collection::vec((any::<usize>(), json_leaf()), 1..6),
    ) {
        let mut value: Value = serde_json::from_slice(&capture(which)).expect("capture is JSON");
        for (index, leaf) in &swaps {
            let mut position = index % node_count(&value).max(1);
            replace_node(&mut value, &mut position, leaf);
        }
        let bytes = value.to_string().into_bytes();
        prop_assert!(parse_smartctl_json(&bytes).is_ok());
        read_smartctl_everything(&bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_badblocks_parser(
        stderr in prop::collection::vec(any::<u8>(), 0..2048),
        stdout in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut parser = BadblocksParser::default();
        let _ = parser.feed_stderr(&stderr);
        let _ = parser.feed_stdout(&stdout);
        let percent = parser.overall_percent();
        prop_assert!((0.0..=100.0).contains(&percent));
    }

    #[test]
    fn badblocks_events_do_not_depend_on_chunk_boundaries(
        pieces in prop::collection::vec(stderr_piece(), 0..40),
        cuts in prop::collection::vec(any::<usize>(), 0..30),
        stdout_numbers in prop::collection::vec(any::<u64>(), 0..10),
        stdout_cuts in prop::collection::vec(any::<usize>(), 0..10),
    ) {
        let stderr: Vec<u8> = pieces.concat();
        let mut whole = BadblocksParser::default();
        let expected = whole.feed_stderr(&stderr);
        let mut chunked = BadblocksParser::default();
        let events = feed_in_chunks(&stderr, &cuts, |chunk| chunked.feed_stderr(chunk));
        prop_assert_eq!(&events, &expected);
        prop_assert_eq!(chunked.overall_percent(), whole.overall_percent());
        prop_assert_eq!((chunked.mode(), chunked.phase()), (whole.mode(), whole.phase()));

        let stdout: String = stdout_numbers.iter().map(|number| format!("{number}\n")).collect();
        let blocks = feed_in_chunks(stdout.as_bytes(), &stdout_cuts, |chunk| chunked.feed_stdout(chunk));
        let expected: Vec<BadblocksEvent> = stdout_numbers.into_iter().map(BadblocksEvent::BadBlock).collect();
        prop_assert_eq!(blocks, expected);
    }

    #[test]
    fn badblocks_events_do_not_depend_on_chunk_boundaries_even_for_noise(
        stderr in prop::collection::vec(any::<u8>(), 0..4000).prop_map(|bytes| {
            // One byte in four a separator, so segments are short and many.
            bytes.into_iter().map(|byte| match byte % 8 { 0 => b'\n', 1 => 0x08, _ => byte }).collect::<Vec<u8>>()
        }),
        cuts in prop::collection::vec(any::<usize>(), 0..30),
    ) {
        let expected = BadblocksParser::default().feed_stderr(&stderr);
        let mut chunked = BadblocksParser::default();
        let events = feed_in_chunks(&stderr, &cuts, |chunk| chunked.feed_stderr(chunk));
        prop_assert_eq!(events, expected);
    }
}
