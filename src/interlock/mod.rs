//! The safety interlock: given what is known about a disk, may a destructive test write to
//! it? A pure rule; the facts are gathered in `server` from both the TrueNAS API and the NAS
//! itself over SSH.
//!
//! It refuses a disk that is in an imported pool, belongs to an exported (importable) pool,
//! is a boot disk, carries partitions or a filesystem/RAID/LVM/ZFS signature, is mounted (or a
//! partition is), is active swap, is an md, LVM or device-mapper member, is held open by a
//! process or (FreeBSD) a GEOM consumer, is being written by another burn-in, is given raw to a
//! virtual machine or shared as an iSCSI extent, shares its serial with another disk, or no
//! longer matches the recorded identity; and it refuses every disk of a NAS whose SSH login
//! reaches another machine than its API describes. A fact that could not be gathered refuses
//! too (fail closed), naming which. badblocks' own guard sees only "mounted" and "busy", and so
//! misses exported pools (reference/anchors.md gotchas 9–11).

pub mod parse;

use serde::{Deserialize, Serialize};

/// A fact, or why it could not be learned.
pub type Fact<T> = Result<T, String>;

/// What the TrueNAS API says about the disk (`disk.query` with pools, `boot.get_disks`,
/// `disk.details`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiFacts {
    /// The device name the API reports for the recorded serial; `None` when it does not list it.
    pub devname: Option<String>,
    pub size_bytes: Option<u64>,
    pub imported_pool: Option<String>,
    pub exported_pool: Option<String>,
    pub boot: bool,
    /// Other device names with the same serial (`disk.details.duplicate_serial`, or seen twice).
    pub duplicate_serial: Vec<String>,
}

/// What the NAS itself says, probe by probe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NasFacts {
    /// Partitions below the disk (lsblk children / gpart entries).
    pub partitions: Fact<Vec<String>>,
    /// Signatures on the whole disk (wipefs types: gpt, zfs_member, linux_raid_member, LVM2_member, …).
    pub signatures: Fact<Vec<String>>,
    /// Mount sources (devices) of mounted filesystems.
    pub mounted_devices: Fact<Vec<String>>,
    /// Devices in active swap.
    pub swap_devices: Fact<Vec<String>>,
    /// Devices that are members of md arrays.
    pub md_members: Fact<Vec<String>>,
    /// LVM physical volumes.
    pub lvm_devices: Fact<Vec<String>>,
    /// Holders (dm/md) of the disk or its partitions.
    pub holders: Fact<Vec<String>>,
    /// Devices of pools `zpool import` would offer: exported pools whose data is intact.
    pub importable_pool_devices: Fact<Vec<PoolDevice>>,
    /// Devices of imported pools (`zpool status`).
    pub imported_pool_devices: Fact<Vec<PoolDevice>>,
    /// Processes with the disk or one of its partitions open.
    pub open_by: Fact<Vec<parse::OpenBy>>,
    /// Burn-ins alive under the job root, from their folders.
    pub burnins: Fact<Vec<parse::RunningBurnin>>,
    /// FreeBSD's GEOM provider for the disk; `None` on Linux, which has none.
    pub geom: Fact<Option<parse::GeomDisk>>,
}

/// One device of a ZFS pool, as `zpool` names it (`sdb1`, `/dev/ada1p2`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolDevice {
    pub pool: String,
    pub device: String,
}

impl NasFacts {
    /// Every fact unknown for one reason (the NAS could not be reached): refuses.
    pub fn unknown(reason: &str) -> NasFacts {
        NasFacts {
            partitions: Err(reason.to_owned()),
            signatures: Err(reason.to_owned()),
            mounted_devices: Err(reason.to_owned()),
            swap_devices: Err(reason.to_owned()),
            md_members: Err(reason.to_owned()),
            lvm_devices: Err(reason.to_owned()),
            holders: Err(reason.to_owned()),
            importable_pool_devices: Err(reason.to_owned()),
            imported_pool_devices: Err(reason.to_owned()),
            open_by: Err(reason.to_owned()),
            burnins: Err(reason.to_owned()),
            geom: Err(reason.to_owned()),
        }
    }
}

/// What uses a disk through the NAS's configuration rather than by opening it now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimKind {
    /// A virtual machine's RAW device (`vm.device.query`).
    VmRawDisk,
    /// An iSCSI extent of type DISK (`iscsi.extent.query`).
    IscsiExtent,
}

/// A path the NAS's configuration gives to a VM or an iSCSI extent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub kind: ClaimKind,
    /// The VM's or the extent's name.
    pub name: String,
    /// The path as configured (`/dev/disk/by-id/…`, `/dev/sdb`, `da3`).
    pub path: String,
    /// Where the path leads on the NAS now (`readlink -f`), when it could be resolved.
    pub resolved: Option<String>,
}

/// The NAS as its API describes it and as the SSH login finds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostMatch {
    pub api: parse::HostIdentity,
    pub ssh: parse::HostIdentity,
}

impl HostMatch {
    /// Hostnames are compared by their first label, ignoring case: the API may give the
    /// domain where `hostname` does not.
    fn same(&self) -> bool {
        let short = |name: &str| name.split('.').next().unwrap_or("").to_ascii_lowercase();
        let names = short(&self.api.hostname) == short(&self.ssh.hostname);
        let ids = match (&self.api.host_id, &self.ssh.host_id) {
            (Some(api), Some(ssh)) => api.eq_ignore_ascii_case(ssh),
            // A release whose API has no host id: the hostname alone decides.
            (None, _) => true,
            // The API has one but the NAS has no /etc/hostid: not the machine it describes.
            (Some(_), None) => false,
        };
        names && ids
    }
}

/// Everything the rule looks at for one disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskFacts {
    /// The drive as recorded by the dashboard.
    pub serial: String,
    pub devname: String,
    pub size_bytes: u64,
    /// The recorded world wide name (LUN id), empty when the API gave none: `by-id` paths of
    /// VM disks may name the disk by it.
    #[serde(default)]
    pub lunid: String,
    pub api: Fact<ApiFacts>,
    pub nas: NasFacts,
    /// VM raw disks and iSCSI extents configured on the NAS.
    pub claims: Fact<Vec<Claim>>,
    /// Whether the SSH login reaches the machine the API describes.
    pub host: Fact<HostMatch>,
}

/// Why a disk may not be written to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Refusal {
    ImportedPool {
        pool: String,
    },
    ExportedPool {
        pool: String,
    },
    BootDisk,
    Partitions {
        partitions: Vec<String>,
    },
    Signature {
        kind: String,
    },
    Mounted {
        device: String,
    },
    Swap {
        device: String,
    },
    MdMember {
        device: String,
    },
    LvmMember {
        device: String,
    },
    Holder {
        holder: String,
    },
    DuplicateSerial {
        others: Vec<String>,
    },
    NotListed,
    Renamed {
        now: String,
    },
    SizeChanged {
        recorded: u64,
        now: u64,
    },
    OpenBy {
        pid: u32,
        command: String,
    },
    GeomOpen {
        mode: String,
    },
    OtherBurnin {
        dir: String,
    },
    /// A burn-in runs whose folder does not say which disk it writes (an earlier version's).
    UnknownBurnin {
        dir: String,
    },
    VmRawDisk {
        vm: String,
    },
    IscsiExtent {
        extent: String,
    },
    OtherHost {
        api: String,
        ssh: String,
    },
    /// A fact could not be gathered: refused rather than guessed.
    Unverified {
        fact: String,
        error: String,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::ImportedPool { pool } => {
                write!(f, "it is a member of the imported pool {pool}")
            }
            Refusal::ExportedPool { pool } => write!(
                f,
                "it belongs to the exported pool {pool}, whose data is intact and importable"
            ),
            Refusal::BootDisk => write!(f, "it is a boot disk of the NAS"),
            Refusal::Partitions { partitions } => {
                write!(f, "it has partitions ({})", partitions.join(", "))
            }
            Refusal::Signature { kind } => write!(f, "it carries a {kind} signature"),
            Refusal::Mounted { device } => write!(f, "{device} is mounted"),
            Refusal::Swap { device } => write!(f, "{device} is in use as swap"),
            Refusal::MdMember { device } => write!(f, "{device} is a member of an md RAID array"),
            Refusal::LvmMember { device } => write!(f, "{device} is an LVM physical volume"),
            Refusal::Holder { holder } => write!(f, "it is held by {holder} (device-mapper or md)"),
            Refusal::DuplicateSerial { others } => write!(
                f,
                "its serial is also reported by {}: the disk cannot be told apart",
                others.join(", ")
            ),
            Refusal::NotListed => write!(f, "the NAS no longer lists a disk with this serial"),
            Refusal::Renamed { now } => {
                write!(f, "the disk is now /dev/{now}: device names changed since it was selected")
            }
            Refusal::SizeChanged { recorded, now } => write!(
                f,
                "it now reports {now} bytes, not the recorded {recorded}: it may not be the same disk"
            ),
            Refusal::OpenBy { pid, command } => {
                write!(f, "it is open in process {pid} ({command}): something on the NAS uses it")
            }
            Refusal::GeomOpen { mode } => write!(
                f,
                "GEOM reports it open ({mode}): a pool, geli, gmirror or another consumer uses it"
            ),
            Refusal::OtherBurnin { dir } => {
                write!(f, "another burn-in is writing to it (its folder on the NAS is {dir})")
            }
            Refusal::UnknownBurnin { dir } => write!(
                f,
                "a burn-in runs on the NAS ({dir}) whose folder does not say which disk it writes: wait for it to end"
            ),
            Refusal::VmRawDisk { vm } => {
                write!(f, "it is given to the virtual machine {vm} as a raw disk")
            }
            Refusal::IscsiExtent { extent } => {
                write!(f, "it is shared over iSCSI as the extent {extent}")
            }
            Refusal::OtherHost { api, ssh } => write!(
                f,
                "the SSH login reaches {ssh}, not {api} that the API describes: check the host's SSH address"
            ),
            Refusal::Unverified { fact, error } => {
                write!(f, "{fact} could not be checked ({error})")
            }
        }
    }
}

/// SCALE and CORE 13 call the boot pool `boot-pool`, older CORE `freenas-boot`.
fn is_boot_pool(name: &str) -> bool {
    matches!(name, "boot-pool" | "freenas-boot")
}

/// Whether `device` names the disk or one of its partitions (`sdb`, `/dev/sdb2`, `ada1p2`,
/// `nvme0n1p1`, `/dev/gptid/...` is not resolvable and does not match).
fn is_on_disk(device: &str, disk: &str) -> bool {
    let name = device.trim().trim_start_matches("/dev/");
    // FreeBSD's encryption and no-op layers name the partition they sit on.
    let name = name.trim_end_matches(".eli").trim_end_matches(".nop");
    let Some(rest) = name.strip_prefix(disk) else { return false };
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    // sdb must not match sdba; nvme0n1 must not match nvme0n10.
    rest.is_empty()
        || (digits(rest) && !disk.ends_with(|c: char| c.is_ascii_digit()))
        || rest.strip_prefix('p').is_some_and(digits)
        // FreeBSD MBR slices and their BSD labels: ada1s1, ada1s1a.
        || rest.strip_prefix('s').is_some_and(|n| {
            digits(n.trim_end_matches(|c: char| c.is_ascii_lowercase()))
        })
        // Linux's by-id names for partitions: ...-part1.
        || rest.strip_prefix("-part").is_some_and(digits)
}

fn host_text(identity: &parse::HostIdentity) -> String {
    match &identity.host_id {
        Some(id) => format!("{} (host id {}…)", identity.hostname, &id[..id.len().min(12)]),
        None => identity.hostname.clone(),
    }
}

/// Whether a VM's or an extent's path names this disk: by device name (`/dev/sdb`, `sdb1`,
/// `da3`), by a `by-id` link carrying its serial or its WWN, or by where the path resolves.
fn claims_disk(claim: &Claim, facts: &DiskFacts) -> bool {
    let disk = facts.devname.as_str();
    let serial = facts.serial.trim();
    let named = |path: &str| {
        if is_on_disk(path, disk) {
            return true;
        }
        // CORE stores an extent's disk by its middleware identifier
        // (plugins/disk_/identify_freebsd.py).
        if let Some(rest) = path.strip_prefix("{serial_lunid}") {
            return rest.strip_prefix(serial).is_some_and(|tail| tail.starts_with('_'));
        }
        if let Some(rest) = path.strip_prefix("{serial}") {
            return rest == serial;
        }
        if let Some(rest) = path.strip_prefix("{devicename}") {
            return is_on_disk(rest, disk);
        }
        let Some(link) = path.strip_prefix("/dev/disk/by-id/") else {
            return path
                .strip_prefix("/dev/diskid/DISK-")
                .is_some_and(|serial| serial.eq_ignore_ascii_case(facts.serial.trim()));
        };
        // by-id links of partitions name the disk too: the whole disk is taken.
        let link = link.split("-part").next().unwrap_or(link);
        let serial = crate::remote::udev_id(&facts.serial);
        let wwn = facts.lunid.trim().trim_start_matches("0x").to_ascii_lowercase();
        link.ends_with(&format!("_{serial}"))
            || link.ends_with(&format!("-{serial}"))
            || link.contains(&format!("_{serial}_"))
            || (!wwn.is_empty() && link.to_ascii_lowercase().contains(&wwn))
    };
    named(&claim.path) || claim.resolved.as_deref().is_some_and(named)
}

/// Decides. `Ok` only when every fact was gathered and none forbids writing.
pub fn check(facts: &DiskFacts) -> Result<(), Vec<Refusal>> {
    let mut refusals = Vec::new();
    let disk = facts.devname.as_str();
    match &facts.api {
        Err(error) => refusals.push(Refusal::Unverified {
            fact: "the TrueNAS API's view of the disk".into(),
            error: error.clone(),
        }),
        Ok(api) => {
            match &api.devname {
                None => refusals.push(Refusal::NotListed),
                Some(now) if now != disk => refusals.push(Refusal::Renamed { now: now.clone() }),
                Some(_) => {}
            }
            if let Some(now) = api.size_bytes.filter(|now| *now != 0 && *now != facts.size_bytes) {
                refusals.push(Refusal::SizeChanged { recorded: facts.size_bytes, now });
            }
            if let Some(pool) = &api.imported_pool {
                refusals.push(if is_boot_pool(pool) {
                    Refusal::BootDisk
                } else {
                    Refusal::ImportedPool { pool: pool.clone() }
                });
            }
            if let Some(pool) = &api.exported_pool {
                refusals.push(Refusal::ExportedPool { pool: pool.clone() });
            }
            if api.boot && !refusals.contains(&Refusal::BootDisk) {
                refusals.push(Refusal::BootDisk);
            }
            if !api.duplicate_serial.is_empty() {
                refusals.push(Refusal::DuplicateSerial { others: api.duplicate_serial.clone() });
            }
        }
    }
    let nas = &facts.nas;
    let mut found = Vec::new();
    match &nas.partitions {
        Ok(parts) if !parts.is_empty() => {
            found.push(Refusal::Partitions { partitions: parts.clone() })
        }
        Ok(_) => {}
        Err(error) => found.push(Refusal::Unverified {
            fact: "the disk's partitions".into(),
            error: error.clone(),
        }),
    }
    match &nas.signatures {
        Ok(kinds) => {
            let mut seen = Vec::new();
            for kind in kinds.iter().filter(|k| !k.is_empty()) {
                if !seen.contains(kind) {
                    seen.push(kind.clone());
                    found.push(Refusal::Signature { kind: kind.clone() });
                }
            }
        }
        Err(error) => found.push(Refusal::Unverified {
            fact: "the disk's signatures".into(),
            error: error.clone(),
        }),
    }
    type DeviceList<'a> = (&'a Fact<Vec<String>>, &'a str, fn(String) -> Refusal);
    let device_lists: [DeviceList<'_>; 4] = [
        (&nas.mounted_devices, "the mount table", |device| Refusal::Mounted { device }),
        (&nas.swap_devices, "the active swap devices", |device| Refusal::Swap { device }),
        (&nas.md_members, "the md RAID arrays", |device| Refusal::MdMember { device }),
        (&nas.lvm_devices, "the LVM physical volumes", |device| Refusal::LvmMember { device }),
    ];
    for (fact, name, make) in device_lists {
        match fact {
            Ok(devices) => {
                for device in devices.iter().filter(|d| is_on_disk(d, disk)) {
                    found.push(make(device.clone()));
                }
            }
            Err(error) => {
                found.push(Refusal::Unverified { fact: name.into(), error: error.clone() })
            }
        }
    }
    match &nas.holders {
        Ok(holders) => {
            found.extend(holders.iter().map(|holder| Refusal::Holder { holder: holder.clone() }))
        }
        Err(error) => found
            .push(Refusal::Unverified { fact: "the disk's holders".into(), error: error.clone() }),
    }
    for (fact, name, exported) in [
        (&nas.importable_pool_devices, "the importable pools (zpool import)", true),
        (&nas.imported_pool_devices, "the imported pools (zpool status)", false),
    ] {
        match fact {
            Ok(devices) => {
                for PoolDevice { pool, .. } in
                    devices.iter().filter(|d| is_on_disk(&d.device, disk))
                {
                    let refusal = if exported {
                        Refusal::ExportedPool { pool: pool.clone() }
                    } else if is_boot_pool(pool) {
                        Refusal::BootDisk
                    } else {
                        Refusal::ImportedPool { pool: pool.clone() }
                    };
                    found.push(refusal);
                }
            }
            Err(error) => {
                found.push(Refusal::Unverified { fact: name.into(), error: error.clone() })
            }
        }
    }
    match &nas.open_by {
        Ok(holders) => found.extend(
            holders.iter().map(|h| Refusal::OpenBy { pid: h.pid, command: h.command.clone() }),
        ),
        Err(error) => found.push(Refusal::Unverified {
            fact: "the processes that have the disk open".into(),
            error: error.clone(),
        }),
    }
    match &nas.geom {
        Ok(Some(geom)) if geom.is_open() => {
            found.push(Refusal::GeomOpen { mode: geom.mode.clone() })
        }
        Ok(_) => {}
        Err(error) => found.push(Refusal::Unverified {
            fact: "the disk's GEOM provider".into(),
            error: error.clone(),
        }),
    }
    match &nas.burnins {
        Ok(burnins) => {
            for burnin in burnins {
                match (&burnin.serial, &burnin.device) {
                    (Some(serial), device) => {
                        let same_disk = serial.trim().eq_ignore_ascii_case(facts.serial.trim())
                            || device.as_deref().is_some_and(|d| is_on_disk(d, disk));
                        if same_disk {
                            found.push(Refusal::OtherBurnin { dir: burnin.dir.clone() });
                        }
                    }
                    (None, _) => found.push(Refusal::UnknownBurnin { dir: burnin.dir.clone() }),
                }
            }
        }
        Err(error) => found.push(Refusal::Unverified {
            fact: "the other burn-ins on the NAS".into(),
            error: error.clone(),
        }),
    }
    match &facts.claims {
        Ok(claims) => {
            for claim in claims.iter().filter(|c| claims_disk(c, facts)) {
                found.push(match claim.kind {
                    ClaimKind::VmRawDisk => Refusal::VmRawDisk { vm: claim.name.clone() },
                    ClaimKind::IscsiExtent => Refusal::IscsiExtent { extent: claim.name.clone() },
                });
            }
        }
        Err(error) => found.push(Refusal::Unverified {
            fact: "the virtual machines' raw disks and the iSCSI extents".into(),
            error: error.clone(),
        }),
    }
    match &facts.host {
        Ok(host) if !host.same() => {
            found.push(Refusal::OtherHost { api: host_text(&host.api), ssh: host_text(&host.ssh) })
        }
        Ok(_) => {}
        Err(error) => found.push(Refusal::Unverified {
            fact: "which machine the SSH login reaches".into(),
            error: error.clone(),
        }),
    }
    for refusal in found {
        if !refusals.contains(&refusal) {
            refusals.push(refusal);
        }
    }
    if refusals.is_empty() { Ok(()) } else { Err(refusals) }
}

#[cfg(test)]
mod tests;
