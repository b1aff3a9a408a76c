//! The evidence bundle: a burn-in's record (the job, the drive, raw SMART captures, every
//! stage's kept output, the verdict and the thresholds it was judged with) sealed with the
//! dashboard's Ed25519 key, so a buyer or a vendor can check it without trusting us.
//!
//! Layout (`burnin-evidence/1`, documented for independent verifiers in the README's
//! "Checking a bundle without this software"):
//! - `parts`: name → a string (text: a capture, an output, or a JSON part's canonical JSON
//!   text) or `{"base64": …}` (bytes that are not UTF-8).
//! - `manifest`: who and what (job, serial, outcome, dates, the public key) and, per part, the
//!   SHA-256 of its bytes (a string's UTF-8 bytes, or the decoded base64).
//! - `signature`: Ed25519 over the manifest's canonical form.
//!
//! The bundle's hash (printed on the certificate) is the SHA-256 of the canonical manifest:
//! it pins every part through their digests. Checking a bundle therefore needs nothing but this
//! module: the signature proves the manifest, the digests prove each part, and a mismatch names
//! the part that changed. A part the dashboard dropped under its retention setting is absent;
//! its digest stays signed, so the rest still verifies and the report says which is missing.
//!
//! Parts are digested as stored bytes, never re-serialized, so a verifier needs no JSON writer
//! that agrees with ours on numbers. Only the manifest is canonicalized, and it holds nothing
//! but strings, integers and nulls: objects with keys in code point order, no spaces, strings
//! escaped as JSON requires and no more (Python's `json.dumps(m, sort_keys=True,
//! separators=(",", ":"), ensure_ascii=False)` writes the same bytes).

use std::collections::BTreeMap;

use base64::{Engine as _, engine::general_purpose::STANDARD};
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

pub const FORMAT: &str = "burnin-evidence/1";

/// A sealed record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bundle {
    pub format: String,
    pub manifest: Manifest,
    /// Ed25519 over `canonical(manifest)`, standard base64.
    pub signature: String,
    pub parts: BTreeMap<String, Value>,
}

impl Bundle {
    /// A JSON part's value (`job`, `drive`, `verdict`, `thresholds`).
    pub fn json_part(&self, name: &str) -> Option<Value> {
        self.parts.get(name).and_then(json_of)
    }
}

/// What is signed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub job_id: i64,
    pub drive_serial: String,
    pub drive_model: String,
    pub host_name: String,
    /// `pass`, `warn`, `fail` or `incomplete`, as the job was judged.
    pub outcome: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// When the record was sealed (RFC 3339 UTC).
    pub sealed_at: String,
    /// The product and version that sealed it.
    pub issuer: String,
    /// The signing key's public half, standard base64 of its 32 bytes.
    pub public_key: String,
    pub parts: Vec<PartDigest>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartDigest {
    pub name: String,
    /// Lowercase hex SHA-256 of the part's canonical JSON.
    pub sha256: String,
    /// What the part is, for a reader of the bundle.
    pub about: String,
}

/// One part to seal: `value` is its stored form (a string, or `{"base64": …}`).
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    pub name: String,
    pub about: String,
    pub value: Value,
}

impl Part {
    /// A JSON value, kept as its canonical JSON text.
    pub fn json(name: impl Into<String>, about: impl Into<String>, value: &Value) -> Part {
        let text = String::from_utf8(canonical(value)).unwrap_or_default();
        Part { name: name.into(), about: about.into(), value: Value::String(text) }
    }

    /// A part as it was stored (read back from a bundle or the database).
    pub fn stored(name: impl Into<String>, about: impl Into<String>, value: Value) -> Part {
        Part { name: name.into(), about: about.into(), value }
    }

    /// The JSON value a [`Part::json`] holds.
    pub fn as_json(&self) -> Option<Value> {
        json_of(&self.value)
    }

    /// Captured bytes: a string when they are UTF-8, else `{"base64": …}` so no byte is lost.
    pub fn bytes(name: impl Into<String>, about: impl Into<String>, bytes: &[u8]) -> Part {
        let value = match std::str::from_utf8(bytes) {
            Ok(text) => Value::String(text.to_owned()),
            Err(_) => serde_json::json!({ "base64": STANDARD.encode(bytes) }),
        };
        Part { name: name.into(), about: about.into(), value }
    }
}

/// Writes `value` in canonical form.
pub fn canonical(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_scalar(&Value::String(key.clone()), out);
                out.push(b':');
                write_canonical(&map[key], out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => write_scalar(scalar, out),
    }
}

fn write_scalar(value: &Value, out: &mut Vec<u8>) {
    // Scalars have one serde_json form; writing them cannot fail.
    if let Ok(text) = serde_json::to_vec(value) {
        out.extend_from_slice(&text);
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// The JSON value a JSON part's text holds; `None` for anything else.
pub fn json_of(value: &Value) -> Option<Value> {
    value.as_str().and_then(|text| serde_json::from_str(text).ok())
}

/// The bytes a part stands for: a string's UTF-8, or the decoded `{"base64": …}`. Any other
/// form (none is sealed so) counts as its canonical JSON, so that it still fails to match.
pub fn part_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::String(text) => text.as_bytes().to_vec(),
        Value::Object(map) if map.len() == 1 => match map.get("base64").and_then(Value::as_str) {
            Some(encoded) => STANDARD.decode(encoded).unwrap_or_else(|_| canonical(value)),
            None => canonical(value),
        },
        other => canonical(other),
    }
}

/// The digest a part's value is pinned by: SHA-256 of its bytes.
pub fn part_digest(value: &Value) -> String {
    sha256_hex(&part_bytes(value))
}

/// The bundle's hash: what the certificate prints and a verifier compares.
pub fn manifest_hash(manifest: &Manifest) -> String {
    sha256_hex(&canonical(&manifest_value(manifest)))
}

fn manifest_value(manifest: &Manifest) -> Value {
    // A manifest is plain data; it always serializes.
    serde_json::to_value(manifest).unwrap_or(Value::Null)
}

/// The public half of a key, as bundles and `/api/v1/signing-key` show it.
pub fn public_key_text(key: &VerifyingKey) -> String {
    STANDARD.encode(key.as_bytes())
}

/// Reads a public key given as standard base64 of its 32 bytes.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes =
        STANDARD.decode(text.trim()).map_err(|e| format!("the public key is not base64 ({e})"))?;
    let bytes: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| format!("the public key is {} bytes; an Ed25519 key is 32", bytes.len()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("the public key is not valid ({e})"))
}

/// Seals `parts` under `manifest` (whose `public_key` and `parts` are filled in here).
pub fn seal(mut manifest: Manifest, parts: Vec<Part>, key: &SigningKey) -> Bundle {
    manifest.public_key = public_key_text(&key.verifying_key());
    manifest.parts = parts
        .iter()
        .map(|part| PartDigest {
            name: part.name.clone(),
            sha256: part_digest(&part.value),
            about: part.about.clone(),
        })
        .collect();
    let signature = key.sign(&canonical(&manifest_value(&manifest)));
    Bundle {
        format: FORMAT.to_owned(),
        signature: STANDARD.encode(signature.to_bytes()),
        parts: parts.into_iter().map(|part| (part.name, part.value)).collect(),
        manifest,
    }
}

/// Puts a sealed manifest back together with the parts still kept: a part missing from
/// `parts` reads as pruned when verified.
pub fn reassemble(manifest: Manifest, signature: String, parts: Vec<Part>) -> Bundle {
    Bundle {
        format: FORMAT.to_owned(),
        manifest,
        signature,
        parts: parts.into_iter().map(|part| (part.name, part.value)).collect(),
    }
}

/// What a check found wrong, and where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// `format`, `signature`, `public_key`, `manifest.job_id`, or `parts/<name>`.
    pub location: String,
    pub message: String,
}

/// The public half of the signing key, as the Settings page and `/api/v1/signing-key` show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyView {
    pub algorithm: String,
    /// Standard base64 of the 32-byte Ed25519 public key.
    pub public_key: String,
    /// The first 16 hex digits of the key's SHA-256.
    pub fingerprint: String,
    /// Keys that signed here before this one (rotated, or a key file made anew); bundles they
    /// signed still verify as this dashboard's.
    #[serde(default)]
    pub retired: Vec<RetiredKey>,
}

/// A key this dashboard signed with before.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredKey {
    pub public_key: String,
    pub fingerprint: String,
    /// When it was first seen signing here, and when it was replaced (RFC 3339 UTC).
    pub first_seen: String,
    pub retired_at: String,
}

/// A key's fingerprint: the first 16 hex digits of the SHA-256 of its 32 bytes (given as
/// standard base64); the text's own digest when it is not base64, so it still tells keys apart.
pub fn fingerprint_of(public_key: &str) -> String {
    let bytes =
        STANDARD.decode(public_key.trim()).unwrap_or_else(|_| public_key.as_bytes().to_vec());
    sha256_hex(&bytes)[..16].to_owned()
}

/// The outcome of checking a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// The signature holds and every kept part matches its digest.
    pub valid: bool,
    /// Every part named by the manifest is present (none pruned).
    pub complete: bool,
    /// The manifest's hash, to compare with the certificate.
    pub hash: String,
    pub job_id: i64,
    pub drive_serial: String,
    pub outcome: String,
    pub public_key: String,
    /// Whether the key that signed is the one the verifier was told to expect.
    pub key_matches_expected: Option<bool>,
    /// Set when the key that signed is one the dashboard retired (rotated): when it was.
    #[serde(default)]
    pub key_retired_at: Option<String>,
    pub problems: Vec<Problem>,
    /// Parts named by the manifest but not in the bundle (dropped by retention).
    pub missing: Vec<String>,
    /// Parts checked and found to match.
    pub checked: Vec<String>,
}

fn problem(location: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem { location: location.into(), message: message.into() }
}

/// Reads a bundle from its JSON text, naming what makes it unreadable.
pub fn parse(text: &[u8]) -> Result<Bundle, String> {
    let value: Value = serde_json::from_slice(text).map_err(|e| {
        format!(
            "the file is not JSON ({e}); an evidence bundle is the JSON from /api/v1/burnin/{{id}}/evidence"
        )
    })?;
    match value.get("format").and_then(Value::as_str) {
        Some(FORMAT) => {}
        Some(other) => {
            return Err(format!(
                "the bundle's format is {other:?}; this version reads {FORMAT:?} bundles"
            ));
        }
        None => {
            return Err(format!(
                "the file has no \"format\": it is not an evidence bundle ({FORMAT})"
            ));
        }
    }
    serde_json::from_value(value).map_err(|e| format!("the bundle is not complete: {e}"))
}

/// Checks a bundle: the signature over the manifest, each part against its digest, the
/// manifest against the job it describes, and (given one) the key against the expected key.
pub fn verify(bundle: &Bundle, expected_key: Option<&VerifyingKey>) -> Verification {
    let manifest = &bundle.manifest;
    let mut problems = Vec::new();
    if bundle.format != FORMAT {
        problems.push(problem("format", format!("{:?} is not {FORMAT:?}", bundle.format)));
    }
    let key = match parse_public_key(&manifest.public_key) {
        Ok(key) => Some(key),
        Err(message) => {
            problems.push(problem("manifest.public_key", message));
            None
        }
    };
    let key_matches_expected = match (&key, expected_key) {
        (Some(key), Some(expected)) => Some(key == expected),
        _ => None,
    };
    if key_matches_expected == Some(false) {
        problems.push(problem(
            "manifest.public_key",
            format!(
                "the bundle was signed by key {}, not by the expected key {}",
                manifest.public_key,
                expected_key.map(public_key_text).unwrap_or_default()
            ),
        ));
    }
    if let Some(key) = &key {
        match STANDARD.decode(bundle.signature.trim()).ok().and_then(|bytes| {
            <[u8; 64]>::try_from(bytes.as_slice()).ok().map(|b| Signature::from_bytes(&b))
        }) {
            None => problems.push(problem(
                "signature",
                "the signature is not 64 bytes of base64: it is damaged",
            )),
            Some(signature) => {
                if key.verify(&canonical(&manifest_value(manifest)), &signature).is_err() {
                    problems.push(problem(
                        "signature",
                        "the signature does not match the manifest: the manifest was changed after it was signed, or another key signed it",
                    ));
                }
            }
        }
    }
    let mut missing = Vec::new();
    let mut checked = Vec::new();
    for digest in &manifest.parts {
        match bundle.parts.get(&digest.name) {
            None => missing.push(digest.name.clone()),
            Some(value) => {
                let now = part_digest(value);
                if now == digest.sha256 {
                    checked.push(digest.name.clone());
                } else {
                    problems.push(problem(
                        format!("parts/{}", digest.name),
                        format!(
                            "{} does not match its signed digest (signed {}, found {}): it was changed",
                            if digest.about.is_empty() { &digest.name } else { &digest.about },
                            short(&digest.sha256),
                            short(&now)
                        ),
                    ));
                }
            }
        }
    }
    for name in bundle.parts.keys() {
        if !manifest.parts.iter().any(|digest| &digest.name == name) {
            problems.push(problem(
                format!("parts/{name}"),
                "this part is not named by the signed manifest: it was added after signing",
            ));
        }
    }
    if let Some(job) = bundle.json_part("job") {
        let same = |field: &str, expected: Value| job.get(field).is_some_and(|v| *v == expected);
        if !same("id", Value::from(manifest.job_id)) {
            problems.push(problem(
                "manifest.job_id",
                "the job part is another job than the manifest names",
            ));
        }
        if !same("drive_serial", Value::from(manifest.drive_serial.clone())) {
            problems.push(problem(
                "manifest.drive_serial",
                "the job part names another drive than the manifest",
            ));
        }
    }
    Verification {
        valid: problems.is_empty(),
        complete: missing.is_empty(),
        hash: manifest_hash(manifest),
        job_id: manifest.job_id,
        drive_serial: manifest.drive_serial.clone(),
        outcome: manifest.outcome.clone(),
        public_key: manifest.public_key.clone(),
        key_matches_expected,
        key_retired_at: None,
        problems,
        missing,
        checked,
    }
}

fn short(hex: &str) -> &str {
    hex.get(..16).unwrap_or(hex)
}

/// Where in a text part two versions first differ, for a reader comparing a bundle with a
/// copy: line and column (1-based) of the first differing character.
pub fn first_difference(a: &str, b: &str) -> Option<(usize, usize)> {
    let (mut line, mut column) = (1, 1);
    let mut left = a.chars();
    let mut right = b.chars();
    loop {
        match (left.next(), right.next()) {
            (None, None) => return None,
            (Some(x), Some(y)) if x == y => {
                if x == '\n' {
                    line += 1;
                    column = 1;
                } else {
                    column += 1;
                }
            }
            _ => return Some((line, column)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    fn manifest() -> Manifest {
        Manifest {
            job_id: 4,
            drive_serial: "ZL2ABC".into(),
            drive_model: "ST4000".into(),
            host_name: "nas1".into(),
            outcome: "pass".into(),
            started_at: Some("2026-12-01T00:00:00Z".into()),
            finished_at: Some("2026-12-02T00:00:00Z".into()),
            sealed_at: "2026-12-02T00:00:01Z".into(),
            issuer: "test".into(),
            public_key: String::new(),
            parts: Vec::new(),
        }
    }

    fn sealed() -> Bundle {
        seal(
            manifest(),
            vec![
                Part::json(
                    "job",
                    "the job",
                    &json!({"id": 4, "drive_serial": "ZL2ABC", "z": 1.5, "a": [1, 2]}),
                ),
                Part::bytes(
                    "captures/smart_before.json",
                    "SMART before",
                    b"{\"serial_number\": \"ZL2ABC\"}",
                ),
                Part::bytes("stages/5-surface/stdout", "bad blocks", &[0xff, 0x00, 0x41]),
            ],
            &key(),
        )
    }

    #[test]
    fn canonical_form_sorts_keys_at_every_depth_and_has_no_spaces() {
        let value = json!({"b": {"y": 1, "x": [true, null, "é"]}, "a": 0.5});
        assert_eq!(
            String::from_utf8(canonical(&value)).expect("canonical JSON is UTF-8"),
            r#"{"a":0.5,"b":{"x":[true,null,"é"],"y":1}}"#
        );
    }

    /// What the README promises an independent verifier: a part's digest is the SHA-256 of
    /// its bytes as stored, and the manifest's canonical form escapes only what JSON must.
    #[test]
    fn digests_are_over_stored_bytes_and_the_manifest_form_is_the_documented_one() {
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(part_digest(&json!("abc")), abc);
        assert_eq!(part_digest(&json!({"base64": "YWJj"})), abc);
        let job = Part::json("job", "", &json!({"b": 2.5, "a": "x"}));
        assert_eq!(job.value, json!(r#"{"a":"x","b":2.5}"#));
        assert_eq!(job.as_json(), Some(json!({"a": "x", "b": 2.5})));
        let mut m = manifest();
        m.drive_model = "Q\"u\\o\n\u{1}é\u{7f}/".into();
        m.finished_at = None;
        let text = String::from_utf8(canonical(&manifest_value(&m))).expect("UTF-8");
        let expected = "{\"drive_model\":\"Q\\\"u\\\\o\\n\\u0001é\u{7f}/\",\"drive_serial\":\"ZL2ABC\",\"finished_at\":null,\"host_name\":\"nas1\",\"issuer\":\"test\",\"job_id\":4,";
        assert!(text.starts_with(expected), "{text}");
    }

    #[test]
    fn a_sealed_bundle_verifies_after_a_round_trip_through_text() {
        let bundle = sealed();
        let text = serde_json::to_vec_pretty(&bundle).expect("a bundle serializes");
        let back = parse(&text).expect("a written bundle parses");
        let report = verify(&back, Some(&key().verifying_key()));
        assert!(report.valid, "{:?}", report.problems);
        assert!(report.complete);
        assert_eq!(report.checked.len(), 3);
        assert_eq!(report.hash, manifest_hash(&bundle.manifest));
        assert_eq!(sealed(), bundle, "sealing is deterministic");
    }

    /// A signed part's digest is over its numbers as written; reading them back must give the
    /// same bits, or a bundle stops verifying once parsed (serde_json's `float_roundtrip`).
    #[test]
    fn every_float_reads_back_to_the_same_canonical_bytes() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let floats: Vec<Value> = (0..20_000)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Temperatures and rates as sampled (tenths summed), and arbitrary doubles.
                if i % 2 == 0 {
                    json!(30.0 + f64::from(u32::try_from(state % 400).unwrap_or(0)) * 0.1)
                } else {
                    json!(f64::from_bits(state >> 2))
                }
            })
            .filter(|v| v.is_f64())
            .collect();
        let value = Value::Array(floats);
        let text = canonical(&value);
        let back: Value = serde_json::from_slice(&text).expect("canonical JSON parses");
        assert!(canonical(&back) == text, "a float did not read back to the same bits");
    }

    #[test]
    fn one_changed_byte_of_a_capture_fails_and_names_the_part() {
        let mut bundle = sealed();
        bundle.parts.insert(
            "captures/smart_before.json".into(),
            Value::String("{\"serial_number\": \"ZL2ABD\"}".into()),
        );
        let report = verify(&bundle, None);
        assert!(!report.valid);
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        assert_eq!(report.problems[0].location, "parts/captures/smart_before.json");
    }

    #[test]
    fn an_edited_manifest_fails_the_signature() {
        let mut bundle = sealed();
        bundle.manifest.outcome = "fail".into();
        let report = verify(&bundle, None);
        assert!(!report.valid);
        assert!(report.problems.iter().any(|p| p.location == "signature"), "{:?}", report.problems);
    }

    #[test]
    fn another_key_is_named_and_a_pruned_part_is_missing_not_invalid() {
        let mut bundle = sealed();
        bundle.parts.remove("stages/5-surface/stdout");
        let other = SigningKey::from_bytes(&[9u8; 32]).verifying_key();
        let report = verify(&bundle, Some(&other));
        assert_eq!(report.key_matches_expected, Some(false));
        assert!(!report.valid);
        assert!(!report.complete);
        assert_eq!(report.missing, ["stages/5-surface/stdout"]);
        let report = verify(&bundle, Some(&key().verifying_key()));
        assert!(report.valid, "{:?}", report.problems);
        assert!(!report.complete);
    }

    #[test]
    fn an_added_part_and_a_swapped_job_are_caught() {
        let mut bundle = sealed();
        bundle.parts.insert("extra".into(), json!(1));
        let report = verify(&bundle, None);
        assert!(!report.valid);
        assert!(
            report.problems.iter().any(|p| p.location == "parts/extra"),
            "{:?}",
            report.problems
        );
        let mut bundle = sealed();
        bundle.parts.insert("job".into(), json!(r#"{"drive_serial":"ZL2ABC","id":5}"#));
        let report = verify(&bundle, None);
        assert!(!report.valid);
        assert!(report.problems.iter().any(|p| p.location == "parts/job"));
        assert!(report.problems.iter().any(|p| p.location == "manifest.job_id"));
    }

    #[test]
    fn unreadable_files_say_why() {
        assert!(parse(b"not json").expect_err("bad input is refused").contains("not JSON"));
        assert!(parse(b"{}").expect_err("bad input is refused").contains("no \"format\""));
        assert!(
            parse(br#"{"format":"other/2"}"#)
                .expect_err("bad input is refused")
                .contains("other/2")
        );
    }

    #[test]
    fn the_first_difference_is_located_by_line_and_column() {
        assert_eq!(first_difference("ab\ncd", "ab\nce"), Some((2, 2)));
        assert_eq!(first_difference("same", "same"), None);
    }
}
