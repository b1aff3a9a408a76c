//! Gathers the facts the interlock rule (`burnin::interlock`) decides on, from both sides: the
//! TrueNAS API (pool membership, boot disks, identity, duplicate serials, VM raw disks, iSCSI
//! extents, the host's name and id) and the NAS itself over SSH (block tree, signatures,
//! mounts, swap, md, LVM, holders, processes with the disk open, other burn-ins, GEOM,
//! `zpool import` / `zpool status`, the host's name and id).
//!
//! Host-wide facts are read once per check, per-disk facts once per disk. Anything that fails
//! (a timeout, an unreachable host, an answer that cannot be read) becomes an error fact, and
//! the rule refuses on it.

use burnin::{
    PoolMembership,
    interlock::{
        ApiFacts, Claim, ClaimKind, DiskFacts, Fact, HostMatch, NasFacts, PoolDevice, Refusal,
        check,
        parse::{self, Answer, HostIdentity},
    },
    remote::{DevicePath, JobDir, Os, Probe, RemoteCommand},
};
use serde_json::{Value, json};

use super::nas::Shell;
use crate::truenas::{Client, TrueNasError};

/// A disk the dashboard means to write to, as it recorded it.
#[derive(Clone, Debug)]
pub struct Target {
    pub serial: String,
    pub lunid: String,
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

/// What the API says about the host as a whole.
struct ApiView {
    disks: Fact<Vec<crate::inventory::report::Reported>>,
    identity: Fact<HostIdentity>,
    claims: Fact<Vec<Claim>>,
}

/// A call whose absence on a release means "nothing of this kind" rather than an error.
async fn optional(client: &Client, method: &str, params: Value) -> Result<Option<Value>, String> {
    match client.call(method, params).await {
        Ok(value) => Ok(Some(value)),
        Err(TrueNasError::MethodMissing { .. }) => Ok(None),
        Err(error) => Err(format!("{method} failed: {error}")),
    }
}

/// VM RAW devices and iSCSI DISK extents, as configured.
async fn claims(client: &Client) -> Fact<Vec<Claim>> {
    let mut found = Vec::new();
    if let Some(devices) = optional(client, "vm.device.query", json!([])).await? {
        let vms = optional(client, "vm.query", json!([])).await?.unwrap_or_else(|| json!([]));
        let vm_name = |id: &Value| {
            vms.as_array()
                .and_then(|vms| vms.iter().find(|vm| vm["id"] == *id))
                .and_then(|vm| vm["name"].as_str())
                .map_or_else(|| format!("VM {id}"), str::to_owned)
        };
        let devices = devices
            .as_array()
            .ok_or_else(|| "vm.device.query did not answer with a list".to_owned())?;
        for device in devices {
            // CORE and SCALE before 24.10 keep the type beside the attributes; later SCALE
            // releases inside them.
            let dtype = device["dtype"].as_str().or_else(|| device["attributes"]["dtype"].as_str());
            if dtype != Some("RAW") {
                continue;
            }
            let Some(path) = device["attributes"]["path"].as_str().filter(|p| !p.is_empty()) else {
                continue;
            };
            found.push(Claim {
                kind: ClaimKind::VmRawDisk,
                name: vm_name(&device["vm"]),
                path: path.to_owned(),
                resolved: None,
            });
        }
    }
    if let Some(extents) = optional(client, "iscsi.extent.query", json!([])).await? {
        let extents = extents
            .as_array()
            .ok_or_else(|| "iscsi.extent.query did not answer with a list".to_owned())?;
        for extent in extents.iter().filter(|e| e["type"].as_str() == Some("DISK")) {
            // CORE gives the disk's name in `disk` (`da3`) and its middleware identifier in
            // `path` (`{serial_lunid}…`); SCALE only allows zvols. Both are checked.
            let name = extent["name"].as_str().unwrap_or("(unnamed)").to_owned();
            for field in ["disk", "path"] {
                let Some(path) = extent[field].as_str().filter(|p| !p.is_empty()) else {
                    continue;
                };
                if path.starts_with("zvol/") || path.starts_with("/dev/zvol/") {
                    continue;
                }
                found.push(Claim {
                    kind: ClaimKind::IscsiExtent,
                    name: name.clone(),
                    path: path.to_owned(),
                    resolved: None,
                });
            }
        }
    }
    Ok(found)
}

async fn api_view(shell: &Shell<'_>) -> ApiView {
    let client = match shell.nas().api(shell.host_id).await {
        Ok(client) => client,
        Err(error) => {
            let error = format!("the TrueNAS API could not be reached: {error}");
            return ApiView {
                disks: Err(error.clone()),
                identity: Err(error.clone()),
                claims: Err(error),
            };
        }
    };
    let disks = async {
        let disks = client
            .call("disk.query", json!([[], {"extra": {"pools": true}}]))
            .await
            .map_err(|e| format!("disk.query failed: {e}"))?;
        let boot = client
            .call("boot.get_disks", json!([]))
            .await
            .map_err(|e| format!("boot.get_disks failed: {e}"))?;
        // CORE 13 has no disk.details; disk.query's pool fields and the NAS probes cover it.
        let details =
            optional(&client, "disk.details", json!([{"join_partitions": false, "type": "BOTH"}]))
                .await?;
        crate::inventory::report::from_api(&disks, &boot, details.as_ref())
            .map_err(|e| e.to_string())
    }
    .await;
    let identity = async {
        let info = client
            .call("system.info", json!([]))
            .await
            .map_err(|e| format!("system.info failed: {e}"))?;
        let hostname = info["hostname"]
            .as_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| "system.info gave no hostname".to_owned())?
            .to_owned();
        let host_id = optional(&client, "system.host_id", json!([]))
            .await?
            .and_then(|id| id.as_str().map(|s| s.trim().to_ascii_lowercase()))
            .filter(|id| !id.is_empty());
        Ok(HostIdentity { hostname, host_id })
    }
    .await;
    let claims = claims(&client).await;
    ApiView { disks, identity, claims }
}

fn api_facts(reported: &[crate::inventory::report::Reported], target: &Target) -> Fact<ApiFacts> {
    let same: Vec<&crate::inventory::report::Reported> =
        reported.iter().filter(|d| d.serial.eq_ignore_ascii_case(&target.serial)).collect();
    let Some(first) = same.iter().find(|d| d.devname == target.devname).or(same.first()) else {
        return Ok(ApiFacts::default());
    };
    let mut duplicate_serial: Vec<String> =
        same.iter().filter(|d| d.devname != first.devname).map(|d| d.devname.clone()).collect();
    for other in &first.duplicate_serial {
        if *other != first.devname && !duplicate_serial.contains(other) {
            duplicate_serial.push(other.clone());
        }
    }
    let mut facts = ApiFacts {
        devname: Some(first.devname.clone()),
        size_bytes: Some(first.size_bytes),
        duplicate_serial,
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

async fn probe(shell: &Shell<'_>, os: Os, probe: Probe) -> Result<Probed, String> {
    let command = RemoteCommand::Probe { os, probe };
    let output = shell
        .run(&command)
        .await
        .map_err(|e| format!("{} could not be run: {e}", command.what()))?;
    Ok(Probed {
        stdout: output.stdout_text(),
        stderr: output.stderr_text(),
        exit_code: output.exit_code,
    })
}

/// Runs a probe and reads its answer; an error on either side is the fact's error.
async fn read<T>(
    shell: &Shell<'_>,
    os: Os,
    which: Probe,
    reader: impl FnOnce(Answer<'_>) -> Fact<T>,
) -> Fact<T> {
    let probed = probe(shell, os, which).await?;
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
    burnins: Fact<Vec<parse::RunningBurnin>>,
    identity: Fact<HostIdentity>,
}

async fn host_facts(shell: &Shell<'_>, os: Os, job_root: &JobDir) -> HostFacts {
    let mounted = read(shell, os, Probe::Mounts, parse::mounts).await;
    let swaps = match os {
        Os::Linux => read(shell, os, Probe::Swaps, parse::proc_swaps).await,
        Os::FreeBsd => read(shell, os, Probe::Swaps, parse::swapctl).await,
    };
    // md and LVM are Linux's; FreeBSD's GEOM classes show up in the provider's access counts.
    let md = match os {
        Os::Linux => read(shell, os, Probe::MdStat, parse::mdstat).await,
        Os::FreeBsd => Ok(Vec::new()),
    };
    let lvm = match os {
        Os::Linux => {
            read(shell, os, Probe::LvmPhysicalVolumes, |answer| {
                // Without the LVM tools a PV can still be there, but it carries an LVM2_member
                // signature and a dm holder, which the per-disk probes read.
                if answer.not_found() { Ok(Vec::new()) } else { parse::pvs(answer) }
            })
            .await
        }
        Os::FreeBsd => Ok(Vec::new()),
    };
    let importable = read(shell, os, Probe::ZpoolImportScan, parse::zpool_import).await;
    let imported = read(shell, os, Probe::ZpoolStatus, parse::zpool_status).await;
    let burnins = read(shell, os, Probe::BurninJobs(job_root.clone()), parse::burnin_jobs).await;
    let identity = read(shell, os, Probe::HostIdentity, parse::host_identity).await;
    HostFacts { mounted, swaps, md, lvm, importable, imported, burnins, identity }
}

async fn disk_facts(shell: &Shell<'_>, os: Os, host: &HostFacts, target: &Target) -> NasFacts {
    let device = match DevicePath::for_name(&target.devname) {
        Ok(device) => device,
        Err(error) => return NasFacts::unknown(&error.to_string()),
    };
    let open_by = read(shell, os, Probe::OpenBy(device.clone()), parse::open_by).await;
    let (partitions, signatures, holders, geom) = match os {
        Os::Linux => {
            let tree = read(shell, os, Probe::BlockTree(device.clone()), parse::lsblk).await;
            let signatures =
                read(shell, os, Probe::Signatures(device.clone()), parse::wipefs).await;
            let sysfs = read(shell, os, Probe::Holders(device), parse::holders).await;
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
            (tree.map(|t| t.partitions), signatures, holders, Ok(None))
        }
        Os::FreeBsd => {
            let partitions =
                read(shell, os, Probe::BlockTree(device.clone()), parse::gpart_show).await;
            let signatures = read(shell, os, Probe::Signatures(device.clone()), parse::fstyp).await;
            // FreeBSD has no holders in sysfs: GEOM's access counts say whether a consumer
            // (ZFS, geli, gmirror, a label) has the disk open.
            let geom = read(shell, os, Probe::GeomDisk(device), parse::geom_disk).await.map(Some);
            (partitions, signatures, Ok(Vec::new()), geom)
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
        open_by,
        burnins: host.burnins.clone(),
        geom,
    }
}

/// Fills in where each claim's path leads on the NAS, so a VM disk configured by-path or
/// by-partuuid is tied to its disk.
async fn resolve_claims(shell: &Shell<'_>, os: Os, claims: Fact<Vec<Claim>>) -> Fact<Vec<Claim>> {
    let mut claims = claims?;
    let paths: Vec<DevicePath> = claims
        .iter()
        .filter(|c| c.path.starts_with("/dev/"))
        .filter_map(|c| DevicePath::new(c.path.clone()).ok())
        .collect();
    if paths.is_empty() {
        return Ok(claims);
    }
    let resolved = read(shell, os, Probe::Resolve(paths), parse::resolved).await?;
    for claim in &mut claims {
        if let Some((_, target)) = resolved.iter().find(|(path, _)| *path == claim.path) {
            claim.resolved = target.clone();
        }
    }
    Ok(claims)
}

/// Gathers the facts for every target on one host and applies the rule to each.
pub async fn check_host(
    shell: &Shell<'_>,
    os: Os,
    job_root: &JobDir,
    targets: &[Target],
) -> Vec<Checked> {
    let api = api_view(shell).await;
    let host = host_facts(shell, os, job_root).await;
    let claims = resolve_claims(shell, os, api.claims).await;
    let identity = match (&api.identity, &host.identity) {
        (Ok(api), Ok(ssh)) => Ok(HostMatch { api: api.clone(), ssh: ssh.clone() }),
        (Err(error), _) | (_, Err(error)) => Err(error.clone()),
    };
    let mut checked = Vec::new();
    for target in targets {
        let api_facts = match &api.disks {
            Ok(reported) => api_facts(reported, target),
            Err(error) => Err(error.clone()),
        };
        let nas_facts = disk_facts(shell, os, &host, target).await;
        let facts = DiskFacts {
            serial: target.serial.clone(),
            devname: target.devname.clone(),
            size_bytes: target.size_bytes,
            lunid: target.lunid.clone(),
            api: api_facts,
            nas: nas_facts,
            claims: claims.clone(),
            host: identity.clone(),
        };
        let result = check(&facts);
        checked.push(Checked { target: target.clone(), facts, result });
    }
    checked
}
