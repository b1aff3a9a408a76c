//! Gathers the facts the interlock rule (`burnin::interlock`) decides on, from both sides: the
//! TrueNAS API (pool membership, boot disks, identity) and the NAS itself over SSH (block
//! tree, signatures, mounts, swap, md, LVM, holders, `zpool import` / `zpool status`).
//!
//! Host-wide facts are read once per check, per-disk facts once per disk. Anything that fails
//! (a timeout, an unreachable host, an answer that cannot be read) becomes an error fact, and
//! the rule refuses on it.

use burnin::{
    PoolMembership,
    interlock::{
        ApiFacts, DiskFacts, Fact, NasFacts, PoolDevice, Refusal, check,
        parse::{self, Answer},
    },
    remote::{DevicePath, Os, Probe, RemoteCommand},
};

use super::nas::Nas;

/// A disk the dashboard means to write to, as it recorded it.
#[derive(Clone, Debug)]
pub struct Target {
    pub serial: String,
    pub devname: String,
    pub size_bytes: u64,
}

/// One disk's verdict from the interlock.
#[derive(Clone, Debug)]
pub struct Checked {
    pub target: Target,
    pub facts: DiskFacts,
    pub result: Result<(), Vec<Refusal>>,
}

/// The API's view of every disk of the host, or why it could not be had.
async fn api_view(nas: &Nas, host_id: i64) -> Fact<Vec<crate::inventory::report::Reported>> {
    let client =
        nas.api(host_id).await.map_err(|e| format!("the TrueNAS API could not be reached: {e}"))?;
    let disks = client
        .call("disk.query", serde_json::json!([[], {"extra": {"pools": true}}]))
        .await
        .map_err(|e| format!("disk.query failed: {e}"))?;
    let boot = client
        .call("boot.get_disks", serde_json::json!([]))
        .await
        .map_err(|e| format!("boot.get_disks failed: {e}"))?;
    let details = match client
        .call("disk.details", serde_json::json!([{"join_partitions": false, "type": "BOTH"}]))
        .await
    {
        Ok(details) => Some(details),
        // CORE 13 has no disk.details; disk.query's pool fields and the NAS probes cover it.
        Err(crate::truenas::TrueNasError::MethodMissing { .. }) => None,
        Err(e) => return Err(format!("disk.details failed: {e}")),
    };
    crate::inventory::report::from_api(&disks, &boot, details.as_ref()).map_err(|e| e.to_string())
}

fn api_facts(reported: &[crate::inventory::report::Reported], target: &Target) -> Fact<ApiFacts> {
    let same: Vec<&crate::inventory::report::Reported> =
        reported.iter().filter(|d| d.serial.eq_ignore_ascii_case(&target.serial)).collect();
    let Some(first) = same.iter().find(|d| d.devname == target.devname).or(same.first()) else {
        return Ok(ApiFacts::default());
    };
    let mut facts = ApiFacts {
        devname: Some(first.devname.clone()),
        size_bytes: Some(first.size_bytes),
        duplicate_serial: same
            .iter()
            .filter(|d| d.devname != first.devname)
            .map(|d| d.devname.clone())
            .collect(),
        ..ApiFacts::default()
    };
    match &first.pool {
        PoolMembership::Free => {}
        PoolMembership::Pool { name } => facts.imported_pool = Some(name.clone()),
        PoolMembership::ExportedPool { name } => facts.exported_pool = Some(name.clone()),
        PoolMembership::Boot => facts.boot = true,
        PoolMembership::Unknown => {
            return Err("the TrueNAS API did not say whether the disk is in a pool".into());
        }
    }
    Ok(facts)
}

struct Probed {
    stdout: String,
    stderr: String,
    exit_code: u32,
}

impl Probed {
    fn answer(&self) -> Answer<'_> {
        Answer { stdout: &self.stdout, stderr: &self.stderr, exit_code: self.exit_code }
    }
}

async fn probe(nas: &Nas, host_id: i64, os: Os, probe: Probe) -> Result<Probed, String> {
    let command = RemoteCommand::Probe { os, probe };
    let output = nas
        .run(host_id, &command)
        .await
        .map_err(|e| format!("`{}` could not be run: {e}", command.render()))?;
    Ok(Probed {
        stdout: output.stdout_text(),
        stderr: output.stderr_text(),
        exit_code: output.exit_code,
    })
}

/// Runs a probe and reads its answer; an error on either side is the fact's error.
async fn read<T>(
    nas: &Nas,
    host_id: i64,
    os: Os,
    which: Probe,
    reader: impl FnOnce(Answer<'_>) -> Fact<T>,
) -> Fact<T> {
    let probed = probe(nas, host_id, os, which).await?;
    reader(probed.answer())
}

/// Host-wide facts: the same for every disk of the host.
struct HostFacts {
    mounted: Fact<Vec<String>>,
    swaps: Fact<Vec<String>>,
    md: Fact<Vec<String>>,
    lvm: Fact<Vec<String>>,
    importable: Fact<Vec<PoolDevice>>,
    imported: Fact<Vec<PoolDevice>>,
}

async fn host_facts(nas: &Nas, host_id: i64, os: Os) -> HostFacts {
    let mounted = read(nas, host_id, os, Probe::Mounts, parse::mounts).await;
    let swaps = match os {
        Os::Linux => read(nas, host_id, os, Probe::Swaps, parse::proc_swaps).await,
        Os::FreeBsd => read(nas, host_id, os, Probe::Swaps, parse::swapctl).await,
    };
    // md and LVM are Linux's; FreeBSD's GEOM classes show up as partitions and signatures.
    let md = match os {
        Os::Linux => read(nas, host_id, os, Probe::MdStat, parse::mdstat).await,
        Os::FreeBsd => Ok(Vec::new()),
    };
    let lvm = match os {
        Os::Linux => {
            read(nas, host_id, os, Probe::LvmPhysicalVolumes, |answer| {
                // Without the LVM tools a PV can still be there, but it carries an LVM2_member
                // signature and a dm holder, which the per-disk probes read.
                if answer.not_found() { Ok(Vec::new()) } else { parse::pvs(answer) }
            })
            .await
        }
        Os::FreeBsd => Ok(Vec::new()),
    };
    let importable = read(nas, host_id, os, Probe::ZpoolImportScan, parse::zpool_import).await;
    let imported = read(nas, host_id, os, Probe::ZpoolStatus, parse::zpool_status).await;
    HostFacts { mounted, swaps, md, lvm, importable, imported }
}

async fn disk_facts(
    nas: &Nas,
    host_id: i64,
    os: Os,
    host: &HostFacts,
    target: &Target,
) -> NasFacts {
    let device = match DevicePath::for_name(&target.devname) {
        Ok(device) => device,
        Err(error) => return NasFacts::unknown(&error.to_string()),
    };
    let (partitions, signatures, holders) = match os {
        Os::Linux => {
            let tree = read(nas, host_id, os, Probe::BlockTree(device.clone()), parse::lsblk).await;
            let signatures =
                read(nas, host_id, os, Probe::Signatures(device.clone()), parse::wipefs).await;
            let sysfs = read(nas, host_id, os, Probe::Holders(device), parse::holders).await;
            let holders = match (&tree, sysfs) {
                (Ok(tree), Ok(mut holders)) => {
                    for holder in &tree.holders {
                        let name = holder.trim_start_matches("/dev/").to_owned();
                        if !holders.contains(&name) {
                            holders.push(name);
                        }
                    }
                    Ok(holders)
                }
                (Err(error), _) => Err(error.clone()),
                (_, Err(error)) => Err(error),
            };
            let signatures = match (&tree, signatures) {
                // lsblk sees filesystems inside partitions that wipefs on the disk does not.
                (Ok(tree), Ok(mut kinds)) => {
                    for kind in &tree.fstypes {
                        if !kinds.contains(kind) {
                            kinds.push(kind.clone());
                        }
                    }
                    Ok(kinds)
                }
                (_, other) => other,
            };
            (tree.map(|t| t.partitions), signatures, holders)
        }
        Os::FreeBsd => {
            let partitions =
                read(nas, host_id, os, Probe::BlockTree(device.clone()), parse::gpart_show).await;
            let signatures = read(nas, host_id, os, Probe::Signatures(device), parse::fstyp).await;
            (partitions, signatures, Ok(Vec::new()))
        }
    };
    NasFacts {
        partitions,
        signatures,
        mounted_devices: host.mounted.clone(),
        swap_devices: host.swaps.clone(),
        md_members: host.md.clone(),
        lvm_devices: host.lvm.clone(),
        holders,
        importable_pool_devices: host.importable.clone(),
        imported_pool_devices: host.imported.clone(),
    }
}

/// Gathers the facts for every target on one host and applies the rule to each.
pub async fn check_host(nas: &Nas, host_id: i64, os: Os, targets: &[Target]) -> Vec<Checked> {
    let reported = api_view(nas, host_id).await;
    let host = host_facts(nas, host_id, os).await;
    let mut checked = Vec::new();
    for target in targets {
        let api = match &reported {
            Ok(reported) => api_facts(reported, target),
            Err(error) => Err(error.clone()),
        };
        let nas_facts = disk_facts(nas, host_id, os, &host, target).await;
        let facts = DiskFacts {
            serial: target.serial.clone(),
            devname: target.devname.clone(),
            size_bytes: target.size_bytes,
            api,
            nas: nas_facts,
        };
        let result = check(&facts);
        checked.push(Checked { target: target.clone(), facts, result });
    }
    checked
}
