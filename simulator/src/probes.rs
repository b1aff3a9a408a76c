//! The probes a safety check runs on a NAS, answered from the host's state in the formats of
//! the real tools: util-linux 2.38 `lsblk --json` and `wipefs --json` (SCALE is Debian 12
//! based), `/proc/mounts`, `/proc/swaps`, `/proc/mdstat`, LVM `pvs`, sysfs holders, OpenZFS
//! `zpool import` / `zpool status -P`; on CORE FreeBSD's `gpart show`, `fstyp`, `mount -p`,
//! `swapctl -l`.

use burnin::remote::{DevicePath, Probe};
use serde_json::json;

use crate::{drive::DriveSim, host::HostState, scenario::Protocol};

/// stdout, stderr, exit code.
pub type Answer = (Vec<u8>, Vec<u8>, u32);

fn ok(text: String) -> Answer {
    (text.into_bytes(), Vec::new(), 0)
}

fn fail(text: String, code: u32) -> Answer {
    (Vec::new(), text.into_bytes(), code)
}

const ZFS_PARTTYPE: &str = "6a898cc3-1dd2-11b2-99a6-080020736631";

/// The pool a drive's ZFS partition belongs to, imported or not.
fn pool_label(host: &HostState, drive: &DriveSim) -> Option<String> {
    if host.is_boot(&drive.spec.serial) {
        return Some("boot-pool".to_owned());
    }
    host.pools.iter().find(|p| p.members.contains(&drive.spec.serial)).map(|p| p.name.clone())
}

fn partition_name(host: &HostState, drive: &DriveSim, number: u32) -> String {
    match (host.personality.is_core(), drive.spec.protocol) {
        (true, _) => format!("{}p{number}", drive.devname),
        (false, Protocol::Nvme) => format!("{}p{number}", drive.devname),
        (false, _) => format!("{}{number}", drive.devname),
    }
}

fn lookup<'a>(host: &'a HostState, device: &DevicePath) -> Option<&'a DriveSim> {
    host.drive_by_name(device.name())
}

pub fn run(host: &HostState, probe: &Probe) -> Answer {
    let core = host.personality.is_core();
    match probe {
        Probe::BlockTree(device) if core => gpart_show(host, device),
        Probe::BlockTree(device) => lsblk(host, device),
        Probe::Signatures(device) if core => match lookup(host, device) {
            // fstyp(8) reads a file system, not a partition table: a whole disk never has one
            // it recognises. The interlock reads `gpart show` for partitions on CORE.
            Some(_) => fail(format!("fstyp: {}: filesystem not recognized\n", device.as_str()), 1),
            None => fail(format!("fstyp: {}: No such file or directory\n", device.as_str()), 1),
        },
        Probe::Signatures(device) => wipefs(host, device),
        Probe::Mounts => ok(mounts(host)),
        Probe::Swaps if core => ok(swapctl(host)),
        Probe::Swaps => ok("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n".to_owned()),
        Probe::MdStat if core => {
            fail("cat: /proc/mdstat: No such file or directory\n".to_owned(), 1)
        }
        Probe::MdStat => ok("Personalities : \nunused devices: <none>\n".to_owned()),
        Probe::LvmPhysicalVolumes if core => fail("sh: pvs: not found\n".to_owned(), 127),
        // No physical volumes: pvs prints nothing and succeeds.
        Probe::LvmPhysicalVolumes => ok(String::new()),
        Probe::Holders(device) => match lookup(host, device) {
            Some(_) if !core => ok(String::new()),
            _ => fail(
                format!(
                    "ls: cannot access '/sys/class/block/{}/holders': No such file or directory\n",
                    device.name()
                ),
                2,
            ),
        },
        Probe::ZpoolImportScan => zpool_import(host),
        Probe::ZpoolStatus => ok(zpool_status(host)),
        Probe::OpenBy(device) => open_by(host, device),
        Probe::GeomDisk(device) if core => geom_disk(host, device),
        Probe::GeomDisk(_) => fail("sh: 1: geom: not found\n".to_owned(), 127),
        Probe::BurninJobs(root) => ok(burnin_jobs(host, root)),
        Probe::HostIdentity => ok(host_identity(host)),
        Probe::Resolve(paths) => {
            let mut text = "burnin-resolve 1\n".to_owned();
            for path in paths {
                let target = host
                    .resolve_device(path.as_str())
                    .map(|drive| format!("/dev/{}", drive.devname))
                    .unwrap_or_default();
                text.push_str(&format!("path\t{}\t{target}\n", path.as_str()));
            }
            text.push_str("end\n");
            ok(text)
        }
    }
}

/// Processes with the disk open: other programs ([`crate::host::Holder`]) and running jobs,
/// whose badblocks holds its disk open.
fn open_by(host: &HostState, device: &DevicePath) -> Answer {
    let mut text = "burnin-open 1\n".to_owned();
    let Some(drive) = lookup(host, device) else {
        // Nothing can hold a device that does not exist; find prints nothing.
        text.push_str("end\n");
        return ok(text);
    };
    let serial = &drive.spec.serial;
    for holder in host.holders.iter().filter(|h| &h.serial == serial) {
        text.push_str(&format!("open\t{}\t{}\n", holder.pid, holder.command));
    }
    for process in host
        .processes
        .values()
        .filter(|p| p.state == crate::host::ProcessState::Running && &p.serial == serial)
    {
        text.push_str(&format!("open\t{}\tbadblocks\n", process.pid + 2));
    }
    text.push_str("end\n");
    ok(text)
}

/// `geom disk list <disk>` as FreeBSD 13 prints it; a disk a process or a pool holds is open.
fn geom_disk(host: &HostState, device: &DevicePath) -> Answer {
    let Some(drive) = lookup(host, device) else {
        return fail(format!("geom: No such geom: {}.\n", device.name()), 1);
    };
    let serial = &drive.spec.serial;
    let held = host.imported_pool_of(serial).is_some()
        || host.is_boot(serial)
        || host.holders.iter().any(|h| &h.serial == serial)
        || host
            .processes
            .values()
            .any(|p| p.state == crate::host::ProcessState::Running && &p.serial == serial);
    let mode = if held { "r1w1e1" } else { "r0w0e0" };
    ok(format!(
        "Geom name: {name}\nProviders:\n1. Name: {name}\n   Mediasize: {size} ({tib:.1}T)\n   Sectorsize: 512\n   Stripesize: {sector}\n   Stripeoffset: 0\n   Mode: {mode}\n   descr: {model}\n   lunid: {wwn}\n   ident: {serial}\n   rotationrate: {rpm}\n   fwsectors: 63\n   fwheads: 16\n\n",
        name = drive.devname,
        size = drive.spec.size_bytes,
        tib = drive.spec.size_bytes as f64 / (1u64 << 40) as f64,
        sector = drive.spec.physical_sector_bytes,
        model = drive.spec.model,
        wwn = drive.wwn,
        rpm = if drive.spec.rotation_rpm == 0 {
            "0".to_owned()
        } else {
            drive.spec.rotation_rpm.to_string()
        },
    ))
}

/// Live jobs under a job root, read from their folders as the probe's loop reads them.
fn burnin_jobs(host: &HostState, root: &burnin::remote::JobDir) -> String {
    let mut text = "burnin-jobs 1\n".to_owned();
    let prefix = format!("{}/", root.as_str());
    let mut dirs: Vec<&str> = host
        .processes
        .values()
        .filter(|p| p.state == crate::host::ProcessState::Running && p.dir.starts_with(&prefix))
        .map(|p| p.dir.as_str())
        .collect();
    dirs.sort_unstable();
    dirs.dedup();
    for dir in dirs {
        let Some(process) = host
            .processes
            .values()
            .find(|p| p.dir == dir && p.state == crate::host::ProcessState::Running)
        else {
            continue;
        };
        text.push_str(&format!("job\t{dir}/\t{}", process.pid));
        if let Some(target) = host.files.get(&format!("{dir}/target")) {
            for line in String::from_utf8_lossy(target).lines() {
                text.push_str(&format!("\t{line}"));
            }
        }
        text.push('\n');
    }
    text.push_str("end\n");
    text
}

fn host_identity(host: &HostState) -> String {
    let (hostname, host_id) = if host.faults.ssh_other_host {
        ("backup-nas".to_owned(), Some("0".repeat(64)))
    } else {
        (host.hostname.clone(), host.host_id.clone())
    };
    let mut text = format!("burnin-host 1\nhostname\t{hostname}\n");
    match host_id {
        Some(id) => text.push_str(&format!("hostid\t{id}\n")),
        None => text.push_str("hostid-missing\n"),
    }
    text.push_str("end\n");
    text
}

fn lsblk(host: &HostState, device: &DevicePath) -> Answer {
    let Some(drive) = lookup(host, device) else {
        return fail(format!("lsblk: {}: not a block device\n", device.as_str()), 32);
    };
    let size = drive.spec.size_bytes;
    let part = |number: u32, size: u64, fstype: Option<&str>, parttype: &str| {
        json!({"name": format!("/dev/{}", partition_name(host, drive, number)), "type": "part", "size": size,
               "fstype": fstype, "mountpoint": null, "parttype": parttype})
    };
    let mut disk = json!({"name": device.as_str(), "type": "disk", "size": size, "fstype": null, "mountpoint": null, "parttype": null});
    if host.is_boot(&drive.spec.serial) {
        disk["children"] = json!([
            part(1, 1_048_576, None, "21686148-6449-6e6f-744e-656564454649"),
            part(2, 536_870_912, Some("vfat"), "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"),
            part(3, size.saturating_sub(537_919_488 + 1_048_576), Some("zfs_member"), ZFS_PARTTYPE),
        ]);
    } else if pool_label(host, drive).is_some() {
        disk["children"] =
            json!([part(1, size.saturating_sub(2_097_152), Some("zfs_member"), ZFS_PARTTYPE)]);
    }
    ok(serde_json::to_string_pretty(&json!({"blockdevices": [disk]})).unwrap_or_default() + "\n")
}

fn wipefs(host: &HostState, device: &DevicePath) -> Answer {
    let Some(drive) = lookup(host, device) else {
        return fail(
            format!(
                "wipefs: error: {}: probing initialization failed: No such file or directory\n",
                device.as_str()
            ),
            1,
        );
    };
    if pool_label(host, drive).is_none() {
        // A blank disk: no signatures, no output.
        return ok(String::new());
    }
    // On the whole disk wipefs sees the partition table (GPT and its protective MBR); the
    // ZFS labels live inside the partition.
    let last = drive.spec.size_bytes.saturating_sub(512);
    let signatures = json!({"signatures": [
        {"device": drive.devname, "offset": "0x200", "type": "gpt", "uuid": null, "label": null},
        {"device": drive.devname, "offset": format!("0x{last:x}"), "type": "gpt", "uuid": null, "label": null},
        {"device": drive.devname, "offset": "0x1fe", "type": "PMBR", "uuid": null, "label": null},
    ]});
    ok(serde_json::to_string_pretty(&signatures).unwrap_or_default() + "\n")
}

fn gpart_show(host: &HostState, device: &DevicePath) -> Answer {
    let Some(drive) = lookup(host, device) else {
        return fail(format!("gpart: No such geom: {}.\n", device.name()), 1);
    };
    if pool_label(host, drive).is_none() {
        return fail(format!("gpart: No such geom: {}.\n", device.name()), 1);
    }
    let sectors = drive.spec.size_bytes / 512;
    let swap = 4_194_304u64;
    let data = sectors.saturating_sub(40 + 88 + swap + 40);
    let tib = drive.spec.size_bytes as f64 / (1u64 << 40) as f64;
    ok(format!(
        "=>{:>12}{:>12}  {}  GPT  ({tib:.1}T)\n{:>14}{:>12}        - free -  (44K)\n{:>14}{:>12}  {}  freebsd-swap  (2.0G)\n{:>14}{:>12}  {}  freebsd-zfs  ({tib:.1}T)\n\n",
        40,
        sectors - 40 - 40,
        drive.devname,
        40,
        88,
        128,
        swap,
        partition_name(host, drive, 1),
        128 + swap,
        data,
        partition_name(host, drive, 2),
    ))
}

fn mounts(host: &HostState) -> String {
    let imported: Vec<&str> =
        host.pools.iter().filter(|p| p.imported).map(|p| p.name.as_str()).collect();
    if host.personality.is_core() {
        let mut text = "boot-pool/ROOT/default\t/\tzfs\trw\t0 0\ndevfs\t/dev\tdevfs\trw\t0 0\ntmpfs\t/etc\ttmpfs\trw\t0 0\n".to_owned();
        for pool in imported {
            text.push_str(&format!("{pool}\t/mnt/{pool}\tzfs\trw,nfsv4acls\t0 0\n"));
        }
        return text;
    }
    let mut text = format!(
        "boot-pool/ROOT/{v} / zfs ro,relatime,xattr,posixacl,casesensitive 0 0\nproc /proc proc rw,relatime 0 0\nsysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\nudev /dev devtmpfs rw,nosuid,relatime,size=32845552k,nr_inodes=8211388,mode=755 0 0\ntmpfs /run tmpfs rw,nosuid,nodev,noexec,relatime,size=6577220k,mode=755 0 0\nboot-pool/ROOT/{v}/var /var zfs rw,relatime,xattr,posixacl,casesensitive 0 0\n",
        v = host.personality.version_string()
    );
    for pool in imported {
        text.push_str(&format!(
            "{pool} /mnt/{pool} zfs rw,noatime,xattr,posixacl,casesensitive 0 0\n"
        ));
    }
    text
}

fn swapctl(host: &HostState) -> String {
    let mut text = "Device:       1024-blocks     Used:\n".to_owned();
    for drive in host
        .present_drives()
        .filter(|d| host.is_boot(&d.spec.serial) || host.imported_pool_of(&d.spec.serial).is_some())
    {
        text.push_str(&format!(
            "/dev/{}.eli   2097152         0\n",
            partition_name(host, drive, 1)
        ));
    }
    text
}

fn vdev_lines(
    host: &HostState,
    pool: &crate::host::Pool,
    full_paths: bool,
    indent: &str,
) -> String {
    let mut text = String::new();
    let layout = match pool.layout {
        crate::scenario::PoolLayout::Mirror => Some("mirror-0"),
        crate::scenario::PoolLayout::Raidz1 => Some("raidz1-0"),
        crate::scenario::PoolLayout::Raidz2 => Some("raidz2-0"),
        crate::scenario::PoolLayout::Stripe => None,
    };
    let mut member_indent = format!("{indent}  ");
    if let Some(vdev) = layout {
        text.push_str(&format!("{indent}  {vdev:<10}ONLINE       0     0     0\n"));
        member_indent.push_str("  ");
    }
    for serial in &pool.members {
        let name = match host.drive_by_serial(serial) {
            Some(drive) if drive.present => {
                let partition = host.zfs_partition(drive);
                if full_paths { format!("/dev/{partition}") } else { partition }
            }
            _ => "UNAVAIL".to_owned(),
        };
        text.push_str(&format!("{member_indent}{name:<10}ONLINE       0     0     0\n"));
    }
    text
}

fn zpool_import(host: &HostState) -> Answer {
    let exported: Vec<&crate::host::Pool> = host.pools.iter().filter(|p| !p.imported).collect();
    if exported.is_empty() {
        // OpenZFS 2.x: the message on stderr, exit 0 (cmd/zpool/zpool_main.c).
        return fail("no pools available to import\n".to_owned(), 0);
    }
    let mut text = String::new();
    for pool in exported {
        text.push_str(&format!(
            "   pool: {}\n     id: {}\n  state: ONLINE\n action: The pool can be imported using its name or numeric identifier.\n config:\n\n\t{:<12}ONLINE\n",
            pool.name, pool.guid, pool.name
        ));
        for line in vdev_lines(host, pool, false, "\t").lines() {
            // `zpool import` lists no error counters.
            let trimmed: Vec<&str> = line.split_whitespace().collect();
            if let Some(name) = trimmed.first() {
                let depth = line.len() - line.trim_start().len();
                text.push_str(&format!("{}{name:<10}ONLINE\n", &line[..depth]));
            }
        }
        text.push('\n');
    }
    ok(text)
}

fn zpool_status(host: &HostState) -> String {
    let mut text = String::new();
    let boot: Vec<String> = host.boot_drives.clone();
    let boot_pool = crate::host::Pool {
        name: "boot-pool".to_owned(),
        guid: 1,
        layout: if boot.len() > 1 {
            crate::scenario::PoolLayout::Mirror
        } else {
            crate::scenario::PoolLayout::Stripe
        },
        members: boot,
        imported: true,
        used_percent: 0.0,
    };
    for pool in std::iter::once(&boot_pool).chain(host.pools.iter().filter(|p| p.imported)) {
        text.push_str(&format!(
            "  pool: {}\n state: ONLINE\n  scan: scrub repaired 0B in 00:00:41 with 0 errors on Sun Nov 15 03:45:42 2026\nconfig:\n\n\tNAME        STATE     READ WRITE CKSUM\n\t{:<12}ONLINE       0     0     0\n{}\nerrors: No known data errors\n\n",
            pool.name,
            pool.name,
            vdev_lines(host, pool, true, "\t")
        ));
    }
    text
}
