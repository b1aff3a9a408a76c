//! What a host reports about its drives, read from the TrueNAS API's answers
//! (`disk.query` with `extra.pools`, `boot.get_disks`, `disk.details`; reference §2.1, §3).

use burnin::{DriveKind, PoolMembership};
use serde_json::Value;

/// One drive as a host reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Reported {
    pub serial: String,
    /// WWN / LUN id, lower-case hex without `0x`; empty when the drive has none (NVMe).
    pub lunid: String,
    pub identifier: String,
    pub devname: String,
    pub model: String,
    pub size_bytes: u64,
    pub kind: DriveKind,
    pub rotation_rpm: Option<u32>,
    pub bus: String,
    pub pool: PoolMembership,
    pub slot: Option<u32>,
    /// Other device names `disk.details` says share this serial (`duplicate_serial`).
    pub duplicate_serial: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ReportError {
    #[error("the host's {method} answer is not a list")]
    NotAList { method: &'static str },
}

/// Boot pool names: SCALE and CORE 13 call it `boot-pool`, older CORE `freenas-boot`.
fn is_boot_pool(name: &str) -> bool {
    matches!(name, "boot-pool" | "freenas-boot")
}

fn text(value: &Value) -> String {
    value.as_str().map(str::trim).unwrap_or("").to_owned()
}

/// Builds the report from `disk.query` (with `extra.pools`), `boot.get_disks` and, where the
/// release has it, `disk.details({"type": "BOTH"})` (24.10+), which alone names exported
/// pools. Without `disk.details` (CORE) a member of an exported pool cannot be told from a
/// free disk through the API; the safety interlock asks the NAS itself over SSH.
pub fn from_api(
    disks: &Value,
    boot: &Value,
    details: Option<&Value>,
) -> Result<Vec<Reported>, ReportError> {
    let disks = disks.as_array().ok_or(ReportError::NotAList { method: "disk.query" })?;
    let boot: Vec<String> = boot
        .as_array()
        .ok_or(ReportError::NotAList { method: "boot.get_disks" })?
        .iter()
        .map(text)
        .collect();
    let detail_entries: Vec<&Value> = details
        .map(|d| {
            ["used", "unused"]
                .iter()
                .flat_map(|side| d[side].as_array().into_iter().flatten())
                .collect()
        })
        .unwrap_or_default();
    let mut reported = Vec::new();
    for disk in disks {
        let devname = text(&disk["name"]);
        if devname.is_empty() {
            continue;
        }
        let identifier = text(&disk["identifier"]);
        let serial = match text(&disk["serial"]) {
            // Virtual and some USB disks report no serial; the identifier still tells them
            // apart (it falls back to the partition UUID or the device name).
            s if s.is_empty() => identifier.clone(),
            s => s,
        };
        let lunid = text(&disk["lunid"]).trim_start_matches("0x").to_ascii_lowercase();
        let bus = text(&disk["bus"]);
        let kind = if devname.starts_with("nvme")
            || devname.starts_with("nvd")
            || devname.starts_with("nda")
            || bus.eq_ignore_ascii_case("NVME")
        {
            DriveKind::Nvme
        } else {
            match disk["type"].as_str() {
                Some("SSD") => DriveKind::Ssd,
                Some("HDD") => DriveKind::Hdd,
                _ => DriveKind::Unknown,
            }
        };
        let detail = detail_entries
            .iter()
            .find(|entry| text(&entry["name"]) == devname || text(&entry["devname"]) == devname);
        let pool = if boot.contains(&devname) {
            PoolMembership::Boot
        } else if let Some(name) = disk["pool"].as_str().filter(|n| !n.is_empty()) {
            if is_boot_pool(name) {
                PoolMembership::Boot
            } else {
                PoolMembership::Pool { name: name.to_owned() }
            }
        } else if let Some(name) = detail.and_then(|d| d["imported_zpool"].as_str()) {
            if is_boot_pool(name) {
                PoolMembership::Boot
            } else {
                PoolMembership::Pool { name: name.to_owned() }
            }
        } else if let Some(name) = detail.and_then(|d| d["exported_zpool"].as_str()) {
            PoolMembership::ExportedPool { name: name.to_owned() }
        } else {
            PoolMembership::Free
        };
        let slot = disk["enclosure"]["slot"]
            .as_u64()
            .or_else(|| detail.and_then(|d| d["enclosure"]["drive_bay_number"].as_u64()))
            .and_then(|slot| u32::try_from(slot).ok());
        let duplicate_serial = detail
            .and_then(|d| d["duplicate_serial"].as_array())
            .map(|names| {
                names.iter().map(text).filter(|n| !n.is_empty() && *n != devname).collect()
            })
            .unwrap_or_default();
        reported.push(Reported {
            serial,
            lunid,
            identifier,
            devname,
            model: text(&disk["model"]),
            size_bytes: disk["size"].as_u64().unwrap_or(0),
            kind,
            rotation_rpm: disk["rotationrate"].as_u64().and_then(|r| u32::try_from(r).ok()),
            bus,
            pool,
            slot,
            duplicate_serial,
        });
    }
    Ok(reported)
}

/// `disk.temperatures` answers `{name: int|float|null}` (CORE, 25.04) or
/// `{name: [temp, crit]}` with thresholds (25.10+).
pub fn temperatures(answer: &Value) -> std::collections::BTreeMap<String, Option<f64>> {
    answer
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| {
            let celsius = match value {
                Value::Array(pair) => pair.first().and_then(Value::as_f64),
                other => other.as_f64(),
            };
            (name.clone(), celsius.filter(|c| c.is_finite() && (-40.0..150.0).contains(c)))
        })
        .collect()
}

/// One pool as `pool.query` lists it: what the pool alerts read.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolFacts {
    pub name: String,
    /// ZFS health (`ONLINE`, `DEGRADED`, …); `None` when not reported.
    pub status: Option<String>,
    /// Bytes, as `zpool list` counts them (parity included); `None` when not reported.
    pub size: Option<u64>,
    pub allocated: Option<u64>,
}

/// A byte count as `pool.query` gives it: a number on SCALE (`size`, `allocated`), or null; a
/// ZFS property object (`{"parsed": n, "rawvalue": "n", …}`) or a digit string is read too.
fn bytes_of(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0 && *f < u64::MAX as f64)
                .map(|f| f as u64)
        }),
        Value::String(text) => text.trim().parse().ok(),
        Value::Object(property) => ["parsed", "value", "rawvalue"]
            .iter()
            .find_map(|field| property.get(*field).and_then(bytes_of)),
        _ => None,
    }
}

/// `pool.query`'s answer (both dialects, `[{name, status, size, allocated, …}]`): every pool
/// with a name. A missing or odd field is left out, never guessed; an answer that is no list
/// gives no pools.
pub fn pools(answer: &Value) -> Vec<PoolFacts> {
    answer
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|pool| {
            let name = pool["name"].as_str().map(str::trim).filter(|n| !n.is_empty())?;
            Some(PoolFacts {
                name: name.to_owned(),
                status: pool["status"]
                    .as_str()
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty()),
                size: bytes_of(&pool["size"]).filter(|s| *s > 0),
                allocated: bytes_of(&pool["allocated"]),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn pool_membership_comes_from_pools_boot_and_details() {
        let disks = json!([
            {"name": "sda", "serial": "BOOT1", "lunid": "5002538e4096c8fe", "type": "SSD", "pool": "boot-pool", "size": 250059350016u64, "identifier": "{serial_lunid}BOOT1_5002538e4096c8fe"},
            {"name": "sdb", "serial": "POOL1", "lunid": "0x5000C500A1B2C3D4", "type": "HDD", "rotationrate": 5400, "pool": "tank", "size": 4000787030016u64},
            {"name": "sdc", "serial": "EXP1", "lunid": null, "type": "HDD", "pool": null, "size": 1},
            {"name": "sdd", "serial": "", "identifier": "{devicename}sdd", "type": "HDD", "pool": null},
            {"name": "nvme0n1", "serial": "NV1", "type": "SSD", "bus": "NVME", "pool": null, "enclosure": {"number": 0, "slot": 7}},
            {"name": "", "serial": "IGNORED"}
        ]);
        let details = json!({"used": [{"name": "sdc", "exported_zpool": "oldbackup", "imported_zpool": null}], "unused": []});
        let report = from_api(&disks, &json!(["sda"]), Some(&details)).expect("parses");
        let pools: Vec<(&str, PoolMembership)> =
            report.iter().map(|r| (r.devname.as_str(), r.pool.clone())).collect();
        assert_eq!(
            pools,
            [
                ("sda", PoolMembership::Boot),
                ("sdb", PoolMembership::Pool { name: "tank".into() }),
                ("sdc", PoolMembership::ExportedPool { name: "oldbackup".into() }),
                ("sdd", PoolMembership::Free),
                ("nvme0n1", PoolMembership::Free),
            ]
        );
        assert_eq!(report[1].lunid, "5000c500a1b2c3d4");
        assert_eq!(report[1].rotation_rpm, Some(5400));
        assert_eq!(report[3].serial, "{devicename}sdd", "a drive without serial keeps an identity");
        assert_eq!(report[4].kind, DriveKind::Nvme);
        assert_eq!(report[4].slot, Some(7));
        assert_eq!(report[0].kind, DriveKind::Ssd);
    }

    #[test]
    fn a_malformed_answer_is_an_error_not_an_empty_fleet() {
        assert_eq!(
            from_api(&json!({"oops": 1}), &json!([]), None),
            Err(ReportError::NotAList { method: "disk.query" })
        );
        assert!(from_api(&json!([]), &json!(null), None).is_err());
    }

    #[test]
    fn temperatures_read_every_release_shape() {
        let parsed = temperatures(
            &json!({"sda": 34, "sdb": 35.5, "sdc": [41.0, 70.0], "sdd": null, "sde": 9999}),
        );
        assert_eq!(parsed["sda"], Some(34.0));
        assert_eq!(parsed["sdb"], Some(35.5));
        assert_eq!(parsed["sdc"], Some(41.0));
        assert_eq!(parsed["sdd"], None);
        assert_eq!(parsed["sde"], None, "an impossible reading is no reading");
    }

    #[test]
    fn pools_read_size_allocated_and_status_and_tolerate_what_is_missing() {
        let answer = json!([
            {"id": 1, "name": "tank", "status": "ONLINE", "size": 16000000000000u64, "allocated": 9920000000000u64, "topology": {}},
            {"id": 2, "name": "scratch", "status": "DEGRADED", "size": null, "allocated": null},
            {"id": 3, "name": "legacy", "status": "ONLINE", "size": {"parsed": 1000, "rawvalue": "1000"}, "allocated": "250"},
            {"id": 4, "name": "odd", "status": 7, "size": -5, "allocated": [1]},
            {"id": 5, "name": "", "status": "FAULTED"},
            {"id": 6},
            "not a pool"
        ]);
        let parsed = pools(&answer);
        let tank = PoolFacts {
            name: "tank".into(),
            status: Some("ONLINE".into()),
            size: Some(16_000_000_000_000),
            allocated: Some(9_920_000_000_000),
        };
        assert_eq!(parsed[0], tank);
        assert_eq!(
            parsed[1],
            PoolFacts {
                name: "scratch".into(),
                status: Some("DEGRADED".into()),
                size: None,
                allocated: None
            }
        );
        assert_eq!((parsed[2].size, parsed[2].allocated), (Some(1000), Some(250)));
        assert_eq!(
            parsed[3],
            PoolFacts { name: "odd".into(), status: None, size: None, allocated: None }
        );
        assert_eq!(parsed.len(), 4, "a pool without a name is left out");
        assert_eq!(pools(&json!({"error": "no"})), vec![]);
        assert_eq!(pools(&json!(null)), vec![]);
    }
}
