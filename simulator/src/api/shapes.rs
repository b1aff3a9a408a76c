//! The JSON shapes of disks, pools and the system, per release (reference/truenas-api.md §2.1,
//! §3; /tmp research notes from truenas/middleware where cited).

use serde_json::{Value, json};

use crate::{
    drive::DriveSim,
    host::{HostState, Pool},
    scenario::{Personality, PoolLayout, Protocol},
};

/// Milliseconds since the epoch, as the middleware's `{"$date": ms}` (ejson).
pub fn date(ms: i64) -> Value {
    json!({"$date": ms})
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The boot pool's name: `boot-pool` on SCALE and on CORE 13 (renamed from `freenas-boot`).
pub const BOOT_POOL: &str = "boot-pool";

/// `identifier`: `{serial_lunid}<serial>_<lunid>` when both exist (SCALE `disk_class.py`),
/// `{serial}<serial>` otherwise; CORE uses the same forms for the common cases.
pub fn identifier(drive: &DriveSim) -> String {
    if drive.spec.protocol == Protocol::Nvme {
        format!("{{serial}}{}", drive.spec.serial)
    } else {
        format!("{{serial_lunid}}{}_{}", drive.spec.serial, drive.wwn)
    }
}

fn lunid(drive: &DriveSim) -> Value {
    if drive.spec.protocol == Protocol::Nvme { Value::Null } else { json!(drive.wwn) }
}

fn bus(drive: &DriveSim) -> &'static str {
    match drive.spec.protocol {
        Protocol::Ata => "ATA",
        Protocol::Scsi => "SCSI",
        Protocol::Nvme => "NVME",
    }
}

/// Linux major:minor packed as the kernel's `number` field.
fn number(host: &HostState, drive: &DriveSim) -> u64 {
    let index =
        host.drives.iter().position(|d| d.spec.serial == drive.spec.serial).unwrap_or(0) as u64;
    match drive.spec.protocol {
        Protocol::Nvme => 259 * 256 + index,
        _ => 8 * 256 + index * 16,
    }
}

/// The pool a drive's `pool` field names with `extra.pools`: imported pools and the boot pool
/// (an exported pool is not imported, so `pool` is null for its members).
pub fn pool_name(host: &HostState, drive: &DriveSim) -> Option<String> {
    if host.is_boot(&drive.spec.serial) {
        return Some(BOOT_POOL.to_owned());
    }
    host.imported_pool_of(&drive.spec.serial).map(|pool| pool.name.clone())
}

/// One `disk.query` entry.
pub fn disk_entry(host: &HostState, drive: &DriveSim, with_pools: bool) -> Value {
    let personality = host.personality;
    let ssd = drive.is_ssd();
    let pool = if with_pools {
        pool_name(host, drive).map(Value::from).unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    let mut entry = json!({
        "identifier": identifier(drive),
        "name": drive.devname,
        "subsystem": if drive.spec.protocol == Protocol::Nvme { "nvme" } else if personality.is_core() { if drive.devname.starts_with("ada") { "ada" } else { "da" } } else { "scsi" },
        "number": number(host, drive),
        "serial": drive.spec.serial,
        "lunid": lunid(drive),
        "size": drive.spec.size_bytes,
        "description": "",
        "transfermode": "Auto",
        "hddstandby": "ALWAYS ON",
        "advpowermgmt": "DISABLED",
        "expiretime": null,
        "model": drive.spec.model,
        "rotationrate": if ssd { Value::Null } else { json!(drive.spec.rotation_rpm) },
        "type": if ssd { "SSD" } else { "HDD" },
        "zfs_guid": if host.has_partitions(&drive.spec.serial) { json!(format!("{}", crate::clock::hash_str(&drive.spec.serial) >> 2)) } else { Value::Null },
        "bus": bus(drive),
        "devname": drive.devname,
        "enclosure": null,
        "pool": pool,
    });
    let map = entry.as_object_mut().expect("a JSON object literal");
    match personality {
        Personality::Core13 => {
            map.insert("multipath_name".into(), json!(""));
            map.insert("multipath_member".into(), json!(""));
            map.insert("hddstandby_force".into(), json!(false));
            map.insert("acousticlevel".into(), json!("DISABLED"));
            map.insert("togglesmart".into(), json!(true));
            map.insert("smartoptions".into(), json!(""));
            map.insert("critical".into(), Value::Null);
            map.insert("difference".into(), Value::Null);
            map.insert("informational".into(), Value::Null);
            map.insert(
                "enclosure".into(),
                drive
                    .spec
                    .slot
                    .map(|slot| json!({"number": 0, "slot": slot}))
                    .unwrap_or(Value::Null),
            );
        }
        Personality::Scale2504 => {
            map.insert("togglesmart".into(), json!(true));
            map.insert("smartoptions".into(), json!(""));
            map.insert("critical".into(), Value::Null);
            map.insert("difference".into(), Value::Null);
            map.insert("informational".into(), Value::Null);
            map.insert("supports_smart".into(), Value::Null);
        }
        Personality::Scale2510 => {}
        Personality::Scale26 => {
            map.insert("sed".into(), json!(false));
            map.insert("sed_status".into(), json!("UNSUPPORTED"));
        }
    }
    entry
}

/// Partitions as `disk.details` lists them.
fn partitions(host: &HostState, drive: &DriveSim) -> Value {
    if !host.has_partitions(&drive.spec.serial) {
        return json!([]);
    }
    let zfs = host.zfs_partition(drive);
    let size = drive.spec.size_bytes;
    json!([{
        "name": zfs,
        "partition_type": "6a898cc3-1dd2-11b2-99a6-080020736631",
        "partition_number": 1,
        "partition_uuid": format!("{:08x}-0000-4000-8000-{:012x}", crate::clock::hash_str(&zfs) as u32, crate::clock::hash_str(&drive.spec.serial) & 0xffff_ffff_ffff),
        "disk": drive.devname,
        "start_sector": 4096,
        "end_sector": (size / 512).saturating_sub(1),
        "start": 2_097_152,
        "end": size.saturating_sub(512),
        "size": size.saturating_sub(2_097_152),
        "id": format!("{}/{}", drive.devname, zfs),
        "path": format!("/dev/{zfs}"),
        "encrypted_provider": null,
    }])
}

/// One `disk.details` entry: a `device.get_disks` record plus availability fields.
pub fn details_entry(host: &HostState, drive: &DriveSim) -> Value {
    let mut entry = disk_entry(host, drive, true);
    let map = entry.as_object_mut().expect("object");
    let serial = &drive.spec.serial;
    map.insert("dev".into(), json!(drive.devname));
    map.insert("partitions".into(), partitions(host, drive));
    map.insert("imported_zpool".into(), json!(pool_name(host, drive)));
    map.insert(
        "exported_zpool".into(),
        json!(host.exported_pool_of(serial).map(|pool| pool.name.clone())),
    );
    let duplicates: Vec<&str> = host
        .present_drives()
        .filter(|other| other.spec.serial == *serial && other.devname != drive.devname)
        .map(|other| other.devname.as_str())
        .collect();
    map.insert("duplicate_serial".into(), json!(duplicates));
    map.insert("unavailable".into(), json!(false));
    // SCALE names a disk's bay here, not in `disk.query` (reference §3): the shelf's SES
    // enclosure id and the bay number.
    map.insert(
        "enclosure".into(),
        drive
            .spec
            .slot
            .map(|slot| {
                let id = format!("{:016x}", crate::clock::hash_str(&host.name));
                json!({"drive_bay_number": slot, "id": id})
            })
            .unwrap_or(Value::Null),
    );
    entry
}

/// `system.info`.
pub fn system_info(host: &HostState, uptime_seconds: f64) -> Value {
    let version = host.personality.version_string();
    let mut info = json!({
        "version": version,
        "buildtime": date(1_730_000_000_000),
        "hostname": host.hostname,
        "physmem": 68_719_476_736u64,
        "model": "Intel(R) Xeon(R) CPU E5-2650 v4 @ 2.20GHz",
        "cores": 24,
        "physical_cores": 12,
        "loadavg": [0.21, 0.3, 0.28],
        "uptime": format!("{} days", (uptime_seconds / 86400.0) as u64),
        "uptime_seconds": uptime_seconds,
        "system_serial": format!("SIM{:08X}", crate::clock::hash_str(&host.name) as u32),
        "system_product": "Simulated TrueNAS",
        "system_product_version": "1.0",
        "license": null,
        "boottime": date(now_ms() - (uptime_seconds * 1000.0) as i64),
        "datetime": date(now_ms()),
        "birthday": null,
        "timezone": "UTC",
        "system_manufacturer": "burn-in dashboard simulator",
        "ecc_memory": true,
    });
    if !host.personality.is_core() {
        info["version"] = json!(format!("TrueNAS-SCALE-{version}"));
    }
    info
}

fn vdev_leaf(host: &HostState, serial: &str) -> Value {
    let Some(drive) = host.drive_by_serial(serial) else {
        return json!({"type": "DISK", "status": "UNAVAIL", "name": serial, "children": []});
    };
    let partition = host.zfs_partition(drive);
    let path = if host.personality.is_core() {
        format!(
            "/dev/gptid/{:08x}-0000-11ef-8000-{:012x}",
            crate::clock::hash_str(&partition) as u32,
            crate::clock::hash_str(serial) & 0xffff_ffff_ffff
        )
    } else {
        format!(
            "/dev/disk/by-partuuid/{:08x}-0000-4000-8000-{:012x}",
            crate::clock::hash_str(&partition) as u32,
            crate::clock::hash_str(serial) & 0xffff_ffff_ffff
        )
    };
    let status = host.member_status(serial);
    json!({
        "name": path.rsplit('/').next().unwrap_or(&path),
        "type": "DISK",
        "path": path,
        "guid": format!("{}", crate::clock::hash_str(&format!("leaf/{serial}")) >> 1),
        "status": status,
        "stats": {"timestamp": 0, "read_errors": 0, "write_errors": 0, "checksum_errors": 0, "ops": [0, 0, 0, 0, 0, 0, 0], "bytes": [0, 0, 0, 0, 0, 0, 0], "size": drive.spec.size_bytes, "allocated": 0, "fragmentation": 0, "self_healed": 0, "configured_ashift": 12, "logical_ashift": 9, "physical_ashift": 12},
        "children": [],
        "device": partition,
        "disk": drive.devname,
        "unavail_disk": null,
    })
}

/// One `pool.query` entry with its topology.
pub fn pool_entry(host: &HostState, pool: &Pool, id: usize) -> Value {
    let leaves: Vec<Value> = pool.members.iter().map(|serial| vdev_leaf(host, serial)).collect();
    let status = host.pool_status(pool);
    let (size, allocated) = host.pool_space(pool);
    let free = size - allocated;
    let lost_faulted = pool.members.iter().any(|m| host.member_status(m) == "FAULTED");
    // libzfs' zpool_status_t names (ZPOOL_STATUS_…), and `zpool status`'s explanation.
    let (status_code, status_detail) = match (status, lost_faulted) {
        ("ONLINE", _) => (json!("OK"), Value::Null),
        ("DEGRADED", true) => (
            json!("FAULTED_DEV_R"),
            json!(
                "One or more devices are faulted in response to persistent errors. Sufficient replicas exist for the pool to continue functioning in a degraded state."
            ),
        ),
        ("DEGRADED", false) => (
            json!("MISSING_DEV_R"),
            json!(
                "One or more devices could not be used because the label is missing or invalid. Sufficient replicas exist for the pool to continue functioning in a degraded state."
            ),
        ),
        (_, true) => (
            json!("FAULTED_DEV_NR"),
            json!(
                "One or more devices are faulted in response to persistent errors. There are insufficient replicas for the pool to continue functioning."
            ),
        ),
        (_, false) => (
            json!("MISSING_DEV_NR"),
            json!(
                "One or more devices could not be opened. There are insufficient replicas for the pool to continue functioning."
            ),
        ),
    };
    let data = match pool.layout {
        PoolLayout::Stripe => leaves,
        layout => {
            let kind = match layout {
                PoolLayout::Mirror => "MIRROR",
                PoolLayout::Raidz1 => "RAIDZ1",
                _ => "RAIDZ2",
            };
            vec![json!({
                "name": format!("{}-0", kind.to_lowercase()),
                "type": kind,
                "path": null,
                "guid": format!("{}", crate::clock::hash_str(&format!("vdev/{}", pool.name)) >> 1),
                "status": status,
                "stats": {"read_errors": 0, "write_errors": 0, "checksum_errors": 0},
                "children": leaves,
                "unavail_disk": null,
            })]
        }
    };
    json!({
        "id": id,
        "name": pool.name,
        "guid": format!("{}", pool.guid),
        "path": format!("/mnt/{}", pool.name),
        "status": status,
        "scan": null,
        "expand": null,
        "topology": {"data": data, "log": [], "cache": [], "spare": [], "special": [], "dedup": []},
        "healthy": status == "ONLINE",
        "warning": false,
        "status_code": status_code,
        "status_detail": status_detail,
        "size": size,
        "allocated": allocated,
        "free": free,
        "freeing": 0,
        "fragmentation": "3",
        "size_str": size.to_string(),
        "allocated_str": allocated.to_string(),
        "free_str": free.to_string(),
        "freeing_str": "0",
        "autotrim": {"parsed": "off", "rawvalue": "off", "value": "off", "source": "DEFAULT"},
    })
}
