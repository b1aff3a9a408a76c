//! A simulated host's state: its drives, pools, files and processes. Shared by the API server
//! and the SSH server behind one mutex, and brought up to date with [`HostState::advance`]
//! before every read, so both doors always see the same moment.

use std::collections::BTreeMap;

use crate::{
    clock::{SimTime, hash_str},
    drive::DriveSim,
    scenario::{HostSpec, Personality, PoolLayout, PoolSpec, Protocol},
};

/// Faults switched on and off by tests (and the binary's control), per host.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    /// New API connections are accepted and closed at once.
    pub api_refuse: bool,
    /// Every API answer is delayed this many milliseconds.
    pub api_delay_ms: u64,
    /// The WebSocket upgrade answers HTTP 500.
    pub api_http_500: bool,
    /// New SSH connections are accepted and closed at once.
    pub ssh_refuse: bool,
    /// SSH commands that run longer than an instant are cut off (channel closed without an
    /// exit status) after this many real milliseconds.
    pub ssh_drop_after_ms: Option<u64>,
    /// The host does not answer at all: both listeners refuse.
    pub offline: bool,
    /// The next `count` commands of this kind run, but the link dies before their answer
    /// arrives (channel closed without an exit status).
    pub drop_reply: Option<(CommandKind, u32)>,
    /// Processes ignore SIGTERM (stuck in the kernel); only SIGKILL ends them.
    pub ignore_term: bool,
    /// Done to the host right before the next start runs (after the dashboard's checks).
    pub before_start: Option<BeforeStart>,
    /// SSH logins land on another machine than the API describes (a wrong SSH address).
    pub ssh_other_host: bool,
    /// Pool members (by serial) ZFS has faulted after too many errors: their vdev and pool
    /// read DEGRADED, or UNAVAIL once no redundancy is left.
    pub faulted_disks: Vec<String>,
    /// Pools filled to this many percent of their size, instead of the scenario's.
    pub pool_used_percent: Vec<(String, f64)>,
}

/// What kind of command a line is, for faults aimed at one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CommandKind {
    Smartctl,
    Probe,
    Start,
    Poll,
    Stop,
    Abandon,
    Remove,
}

impl CommandKind {
    pub fn of(command: &burnin::remote::RemoteCommand) -> CommandKind {
        use burnin::remote::RemoteCommand as C;
        match command {
            C::Smartctl(_) => CommandKind::Smartctl,
            C::Probe { .. } => CommandKind::Probe,
            C::Start { .. } => CommandKind::Start,
            C::Poll { .. } => CommandKind::Poll,
            C::Stop { .. } => CommandKind::Stop,
            C::Abandon { .. } => CommandKind::Abandon,
            C::Remove { .. } => CommandKind::Remove,
        }
    }
}

/// A change of the host's disks between the dashboard's checks and its start.
#[derive(Clone, Debug, PartialEq)]
pub enum BeforeStart {
    /// The disk comes back under another device name (a bus reset, a rescan).
    Rename { serial: String, to: String },
    /// Two disks trade device names: another disk now sits at the recorded `sdX`.
    SwapNames { a: String, b: String },
}

/// A process that has a disk open (another program on the NAS).
#[derive(Clone, Debug, PartialEq)]
pub struct Holder {
    pub serial: String,
    pub pid: u32,
    pub command: String,
}

/// A VM device or an iSCSI extent configured on the host.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfiguredDisk {
    pub name: String,
    /// The path as configured: a by-id link, `/dev/sdb`, `da3`.
    pub path: String,
}

/// One writer launched on a disk (a destructive badblocks that got past the lock).
#[derive(Clone, Debug, PartialEq)]
pub struct WriterRecord {
    pub serial: String,
    pub pid: u32,
    pub dir: String,
    /// Other writers on the same disk alive when this one launched; always 0 if the lock works.
    pub overlapping: usize,
}

/// A ZFS pool as the simulator keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct Pool {
    pub name: String,
    pub guid: u64,
    pub layout: PoolLayout,
    /// Member drives, by serial.
    pub members: Vec<String>,
    pub imported: bool,
    /// How full it is, in percent of its size (see [`Faults::pool_used_percent`]).
    pub used_percent: f64,
}

/// A process started through SSH that outlives the command that started it.
#[derive(Clone, Debug)]
pub struct Process {
    pub pid: u32,
    /// The job directory holding its pid, logs and exit code.
    pub dir: String,
    pub started: SimTime,
    pub state: ProcessState,
    pub program: crate::badblocks::SurfaceRun,
    /// The disk's serial: the process holds that disk whatever it is called later.
    pub serial: String,
    pub term_received: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessState {
    Running,
    /// Finished and wrote its exit code.
    Exited(i32),
    /// Killed by a signal: no exit code file is written (its shell died with it).
    Killed,
}

/// A TrueNAS job (CORE's `smart.test.manual_test` returns one).
#[derive(Clone, Debug, PartialEq)]
pub struct ApiJob {
    pub id: u64,
    pub method: String,
    pub arguments: serde_json::Value,
    pub description: String,
    pub state: ApiJobState,
    pub percent: f64,
    pub progress_description: Option<String>,
    pub result: serde_json::Value,
    pub error: Option<String>,
    pub abortable: bool,
    /// The drive (serial) whose self-test the job follows.
    pub drive_serial: Option<String>,
    pub started_at_ms: i64,
    pub finished_at_ms: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiJobState {
    Waiting,
    Running,
    Success,
    Failed,
    Aborted,
}

impl ApiJobState {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiJobState::Waiting => "WAITING",
            ApiJobState::Running => "RUNNING",
            ApiJobState::Success => "SUCCESS",
            ApiJobState::Failed => "FAILED",
            ApiJobState::Aborted => "ABORTED",
        }
    }
}

/// Everything about one simulated host.
#[derive(Debug)]
pub struct HostState {
    pub name: String,
    pub personality: Personality,
    pub seed: u64,
    pub drives: Vec<DriveSim>,
    pub pools: Vec<Pool>,
    pub boot_drives: Vec<String>,
    /// Files written by SSH commands (job directories), by absolute path.
    pub files: BTreeMap<String, Vec<u8>>,
    pub processes: BTreeMap<u32, Process>,
    pub next_pid: u32,
    pub jobs: BTreeMap<u64, ApiJob>,
    pub next_job_id: u64,
    pub faults: Faults,
    /// Bumped on every change an API client could notice in `disk.query`; the event pump
    /// compares it to send `collection_update`s.
    pub disk_generation: u64,
    /// Last time [`HostState::advance`] ran.
    pub now: SimTime,
    pub api_key: String,
    pub api_user: String,
    /// The API user's privilege roles, as `auth.me` answers them.
    pub api_roles: Vec<String>,
    /// Set when the key was seen over an insecure transport: TrueNAS revokes it.
    pub api_key_revoked: bool,
    /// The SSH host public key (OpenSSH line), for `ssh.config`.
    pub ssh_host_key_pub: Option<String>,
    pub ssh_port: u16,
    /// Simulated seconds per real second (for wall-clock estimates like expected_result_time).
    pub speed: f64,
    /// Temperature changes that take effect at the next `disk.temperatures` read, so a
    /// benchmark can time the product from the moment it could first see a change.
    pub staged_temperatures: Vec<StagedTemperature>,
    /// `system.info`'s hostname, and what `hostname` prints over SSH.
    pub hostname: String,
    /// `system.host_id`: the SHA-256 of `/etc/hostid`, hex; `None`: the method does not exist
    /// and the machine has no host id.
    pub host_id: Option<String>,
    /// Other programs with disks open.
    pub holders: Vec<Holder>,
    /// VMs' RAW devices (`vm.device.query`) and iSCSI DISK extents (`iscsi.extent.query`).
    pub vm_raw_disks: Vec<ConfiguredDisk>,
    pub iscsi_extents: Vec<ConfiguredDisk>,
    /// Every destructive writer launched, in order.
    pub writers: Vec<WriterRecord>,
    /// Start commands received, per serial.
    pub start_attempts: BTreeMap<String, u32>,
    /// SIGKILLs and SIGTERMs sent to job groups, per job folder.
    pub kills: BTreeMap<String, u32>,
    pub terms: BTreeMap<String, u32>,
}

/// A drive's new temperature, waiting for the host's next temperature read.
#[derive(Debug)]
pub struct StagedTemperature {
    pub serial: String,
    pub celsius: f64,
    /// Told the real time the change took effect.
    pub applied: tokio::sync::oneshot::Sender<std::time::SystemTime>,
}

impl HostState {
    pub fn new(spec: &HostSpec, seed: u64) -> HostState {
        let host_seed = seed ^ hash_str(&spec.name);
        let mut counters = NameCounters::default();
        let drives = spec
            .drives
            .iter()
            .enumerate()
            .map(|(index, drive)| {
                let devname = drive
                    .devname
                    .clone()
                    .unwrap_or_else(|| counters.next(spec.personality, drive.protocol));
                DriveSim::new(drive.clone(), devname, host_seed ^ (index as u64 + 1))
            })
            .collect();
        let pool = |pool: &PoolSpec, imported: bool| Pool {
            name: pool.name.clone(),
            guid: hash_str(&format!("{}/{}", spec.name, pool.name)) >> 1,
            layout: pool.layout,
            members: pool.members.clone(),
            imported,
            used_percent: pool.used_percent,
        };
        let mut pools: Vec<Pool> = spec.pools.iter().map(|p| pool(p, true)).collect();
        pools.extend(spec.exported_pools.iter().map(|p| pool(p, false)));
        HostState {
            name: spec.name.clone(),
            personality: spec.personality,
            seed: host_seed,
            drives,
            pools,
            boot_drives: spec.boot_drives.clone(),
            files: BTreeMap::new(),
            processes: BTreeMap::new(),
            next_pid: 4000 + (host_seed % 1000) as u32,
            jobs: BTreeMap::new(),
            next_job_id: 1,
            faults: Faults::default(),
            disk_generation: 1,
            now: 0.0,
            api_key: spec.api_key.clone(),
            api_user: spec.api_user.clone(),
            api_roles: vec!["FULL_ADMIN".to_owned()],
            api_key_revoked: false,
            ssh_host_key_pub: None,
            ssh_port: 22,
            speed: 1.0,
            staged_temperatures: Vec::new(),
            hostname: spec.name.clone(),
            host_id: Some(host_id_digest(&spec.name, host_seed)),
            holders: Vec::new(),
            vm_raw_disks: Vec::new(),
            iscsi_extents: Vec::new(),
            writers: Vec::new(),
            start_attempts: BTreeMap::new(),
            kills: BTreeMap::new(),
            terms: BTreeMap::new(),
        }
    }

    /// Writers launched on the disk with this serial.
    pub fn writers_for(&self, serial: &str) -> usize {
        self.writers.iter().filter(|w| w.serial == serial).count()
    }

    /// The most writers that were ever alive at once on any one disk.
    pub fn most_concurrent_writers(&self) -> usize {
        self.writers.iter().map(|w| w.overlapping + 1).max().unwrap_or(0)
    }

    /// A drive's `/dev/disk/by-id` names, as udev on SCALE makes them (the simulator's own
    /// reading of systemd's 60-persistent-storage.rules, independent of the product's).
    pub fn by_id_names(&self, drive: &DriveSim) -> Vec<String> {
        let id = |text: &str| -> String {
            let mut out = String::new();
            let mut space = false;
            for c in text.trim().chars() {
                if c.is_whitespace() {
                    space = true;
                } else {
                    if space {
                        out.push('_');
                        space = false;
                    }
                    out.push(if c.is_ascii_alphanumeric() || "#+-.:=@_".contains(c) {
                        c
                    } else {
                        '_'
                    });
                }
            }
            out
        };
        let model = id(&drive.spec.model);
        let serial = id(&drive.spec.serial);
        let mut names = match drive.spec.protocol {
            Protocol::Ata => vec![format!("ata-{model}_{serial}")],
            // scsi_id names a SAS disk by its VPD 0x83 NAA identifier, its WWN: no SAS link
            // carries the serial.
            Protocol::Scsi => vec![format!("scsi-3{}", drive.wwn)],
            Protocol::Nvme => vec![format!("nvme-{model}_{serial}")],
        };
        names.push(format!("wwn-0x{}", drive.wwn));
        names
    }

    /// The present drive a device path names: `/dev/sdb` or a `/dev/disk/by-id` link.
    pub fn resolve_device(&self, path: &str) -> Option<&DriveSim> {
        if let Some(link) = path.strip_prefix("/dev/disk/by-id/") {
            return self
                .present_drives()
                .find(|drive| self.by_id_names(drive).iter().any(|name| name == link));
        }
        self.drive_by_name(path.strip_prefix("/dev/").unwrap_or(path))
    }

    /// Sets a drive's temperature and keeps it there (its idle temperature moves with it).
    pub fn set_temperature(&mut self, serial: &str, celsius: f64) -> bool {
        let Some(drive) = self.drives.iter_mut().find(|d| d.spec.serial == serial) else {
            return false;
        };
        drive.spec.idle_temperature_c = celsius;
        drive.temperature_c = celsius;
        drive.max_temperature_c = drive.max_temperature_c.max(celsius);
        true
    }

    /// Applies the staged temperature changes (`disk.temperatures` calls this first).
    pub fn apply_staged_temperatures(&mut self) {
        if self.staged_temperatures.is_empty() {
            return;
        }
        let now = std::time::SystemTime::now();
        for staged in std::mem::take(&mut self.staged_temperatures) {
            if self.set_temperature(&staged.serial, staged.celsius) {
                let _ = staged.applied.send(now);
            }
        }
    }

    /// Drives present on the host right now (a vanished drive is not listed anywhere).
    pub fn present_drives(&self) -> impl Iterator<Item = &DriveSim> {
        self.drives.iter().filter(|drive| drive.present)
    }

    pub fn drive_by_name(&self, devname: &str) -> Option<&DriveSim> {
        self.present_drives().find(|drive| drive.devname == devname)
    }

    pub fn drive_by_name_mut(&mut self, devname: &str) -> Option<&mut DriveSim> {
        self.drives.iter_mut().find(|drive| drive.present && drive.devname == devname)
    }

    pub fn drive_by_serial(&self, serial: &str) -> Option<&DriveSim> {
        self.drives.iter().find(|drive| drive.spec.serial == serial)
    }

    /// The imported pool a drive belongs to.
    pub fn imported_pool_of(&self, serial: &str) -> Option<&Pool> {
        self.pools.iter().find(|pool| pool.imported && pool.members.iter().any(|m| m == serial))
    }

    /// The exported (importable) pool a drive belongs to.
    pub fn exported_pool_of(&self, serial: &str) -> Option<&Pool> {
        self.pools.iter().find(|pool| !pool.imported && pool.members.iter().any(|m| m == serial))
    }

    pub fn is_boot(&self, serial: &str) -> bool {
        self.boot_drives.iter().any(|boot| boot == serial)
    }

    /// The partition a pool member's ZFS data lives on: SCALE puts it in partition 1, CORE in
    /// partition 2 after a 2 GiB swap partition (reference §3, §4.4).
    pub fn zfs_partition(&self, drive: &DriveSim) -> String {
        let name = &drive.devname;
        match (self.personality.is_core(), drive.spec.protocol) {
            (true, _) => format!("{name}p2"),
            (false, Protocol::Nvme) => format!("{name}p1"),
            (false, _) => format!("{name}1"),
        }
    }

    /// Whether a drive carries partitions (pool members and boot drives do).
    pub fn has_partitions(&self, serial: &str) -> bool {
        self.is_boot(serial)
            || self.pools.iter().any(|pool| pool.members.iter().any(|m| m == serial))
    }

    /// Brings everything up to simulated time `now`: temperatures, counters, self-tests,
    /// surface tests, API jobs. Idempotent for the same `now`; time never runs backwards.
    pub fn advance(&mut self, now: SimTime) {
        if now <= self.now {
            return;
        }
        let busy = self.writing_serials();
        for drive in &mut self.drives {
            let under_surface_test = busy.contains(&drive.spec.serial);
            drive.advance(now, under_surface_test);
        }
        crate::badblocks::advance_processes(self, now);
        crate::api::jobs::advance_jobs(self, now);
        let still_busy = self.writing_serials();
        let due: Vec<(String, u32)> = self
            .drives
            .iter()
            .filter_map(|d| {
                let busy = still_busy.contains(&d.spec.serial);
                d.reseat_due(now, busy).map(|slot| (d.spec.serial.clone(), slot))
            })
            .collect();
        for (serial, slot) in due {
            self.move_drive(&serial, slot);
            if let Some(drive) = self.drives.iter_mut().find(|d| d.spec.serial == serial) {
                drive.reseated = true;
            }
        }
        self.now = now;
    }

    /// The serials a surface test process is running on.
    fn writing_serials(&self) -> Vec<String> {
        self.processes
            .values()
            .filter(|process| process.state == ProcessState::Running)
            .map(|process| process.serial.clone())
            .collect()
    }

    /// Moves a present drive to enclosure bay `slot`: the host names it anew, with the first
    /// device name no drive of the host holds (present or pulled, so a pulled one keeps its
    /// name for a comeback). Returns the new name; `None` for an unknown or absent drive.
    pub fn move_drive(&mut self, serial: &str, slot: u32) -> Option<String> {
        let protocol = self.drive_by_serial(serial).filter(|d| d.present)?.spec.protocol;
        let mut counters = NameCounters::default();
        let devname = std::iter::repeat_with(|| counters.next(self.personality, protocol))
            .find(|name| !self.drives.iter().any(|d| &d.devname == name))?;
        let drive = self.drives.iter_mut().find(|d| d.spec.serial == serial)?;
        drive.devname = devname.clone();
        drive.spec.slot = Some(slot);
        self.disk_generation += 1;
        Some(devname)
    }

    /// Makes a drive vanish (pulled, or a bus reset); it keeps its state for a comeback.
    pub fn remove_drive(&mut self, serial: &str) -> bool {
        let Some(drive) = self.drives.iter_mut().find(|d| d.spec.serial == serial && d.present)
        else {
            return false;
        };
        drive.present = false;
        self.disk_generation += 1;
        true
    }

    /// Brings a vanished drive back under a new device name, as Linux does after a rescan.
    pub fn return_drive(&mut self, serial: &str, devname: &str) -> bool {
        if self.drives.iter().any(|d| d.present && d.devname == devname) {
            return false;
        }
        let Some(drive) = self.drives.iter_mut().find(|d| d.spec.serial == serial && !d.present)
        else {
            return false;
        };
        drive.present = true;
        drive.devname = devname.to_owned();
        self.disk_generation += 1;
        true
    }

    /// A pool member's state as ZFS shows it: `ONLINE`, `FAULTED` (the fault) or `UNAVAIL`
    /// (not present).
    pub fn member_status(&self, serial: &str) -> &'static str {
        if self.faults.faulted_disks.iter().any(|s| s == serial) {
            "FAULTED"
        } else if self.drive_by_serial(serial).is_some_and(|d| d.present) {
            "ONLINE"
        } else {
            "UNAVAIL"
        }
    }

    /// A pool's health from its members' (ZFS's `zpool status` state): ONLINE, DEGRADED while
    /// its redundancy covers the members lost, UNAVAIL past that.
    pub fn pool_status(&self, pool: &Pool) -> &'static str {
        let lost = pool.members.iter().filter(|m| self.member_status(m) != "ONLINE").count();
        let redundancy = match pool.layout {
            PoolLayout::Stripe => 0,
            PoolLayout::Mirror => pool.members.len().saturating_sub(1),
            PoolLayout::Raidz1 => 1,
            _ => 2,
        };
        match lost {
            0 => "ONLINE",
            lost if lost <= redundancy => "DEGRADED",
            _ => "UNAVAIL",
        }
    }

    /// A pool's size and allocated bytes as `zpool list` counts them: raw capacity with
    /// parity (a mirror holds one member's).
    pub fn pool_space(&self, pool: &Pool) -> (u64, u64) {
        let sizes =
            pool.members.iter().filter_map(|m| self.drive_by_serial(m)).map(|d| d.spec.size_bytes);
        let size = match pool.layout {
            PoolLayout::Mirror => sizes.min().unwrap_or(0),
            _ => sizes.sum(),
        };
        let percent = self
            .faults
            .pool_used_percent
            .iter()
            .find(|(name, _)| *name == pool.name)
            .map_or(pool.used_percent, |(_, percent)| *percent)
            .clamp(0.0, 100.0);
        (size, (size as f64 * percent / 100.0) as u64)
    }

    /// Exports an imported pool (its disks keep their data and show up in `zpool import`).
    pub fn export_pool(&mut self, name: &str) -> bool {
        let Some(pool) = self.pools.iter_mut().find(|p| p.name == name && p.imported) else {
            return false;
        };
        pool.imported = false;
        self.disk_generation += 1;
        true
    }

    pub fn allocate_pid(&mut self) -> u32 {
        let pid = self.next_pid;
        self.next_pid += 1;
        pid
    }
}

/// A stable stand-in for `sha256(/etc/hostid)`: 64 hex digits from the host's name and seed.
fn host_id_digest(name: &str, seed: u64) -> String {
    (0..4u64).map(|i| format!("{:016x}", hash_str(&format!("{name}/{seed}/{i}")))).collect()
}

/// Hands out device names in the order the OS would.
#[derive(Default)]
struct NameCounters {
    sd: u32,
    ada: u32,
    da: u32,
    nvme: u32,
}

impl NameCounters {
    fn next(&mut self, personality: Personality, protocol: Protocol) -> String {
        let take = |counter: &mut u32| {
            let n = *counter;
            *counter += 1;
            n
        };
        match (personality.is_core(), protocol) {
            (true, Protocol::Ata) => format!("ada{}", take(&mut self.ada)),
            (true, Protocol::Scsi) => format!("da{}", take(&mut self.da)),
            (true, Protocol::Nvme) => format!("nvd{}", take(&mut self.nvme)),
            (false, Protocol::Nvme) => format!("nvme{}n1", take(&mut self.nvme)),
            (false, _) => sd_name(take(&mut self.sd)),
        }
    }
}

/// `sda`…`sdz`, `sdaa`…, as the Linux kernel names SCSI disks.
pub fn sd_name(index: u32) -> String {
    let mut letters = Vec::new();
    let mut n = index as i64;
    loop {
        letters.push((b'a' + (n % 26) as u8) as char);
        n = n / 26 - 1;
        if n < 0 {
            break;
        }
    }
    format!("sd{}", letters.iter().rev().collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_disk_names_continue_past_z() {
        assert_eq!(sd_name(0), "sda");
        assert_eq!(sd_name(25), "sdz");
        assert_eq!(sd_name(26), "sdaa");
        assert_eq!(sd_name(27), "sdab");
        assert_eq!(sd_name(52), "sdba");
    }

    #[test]
    fn a_reseated_drive_moves_once_after_its_idle_time_under_a_free_name() {
        let scenario = crate::fleet::demo("1-a", "1-b", "");
        let mut host = HostState::new(&scenario.hosts[0], 1);
        let serial = "71T0A0AAFVGG";
        let before = host.drive_by_serial(serial).expect("the demo drive").clone();
        assert_eq!(before.spec.slot, Some(11));
        let generation = host.disk_generation;

        // Idle without any surface test: it stays.
        host.advance(100.0 * 3600.0);
        assert_eq!(host.drive_by_serial(serial).expect("the demo drive").devname, before.devname);

        // A surface test ended at 100 h: it moves once 48 idle hours have passed, not before.
        host.drives
            .iter_mut()
            .find(|d| d.spec.serial == serial)
            .expect("the demo drive")
            .surface_tested_at = Some(100.0 * 3600.0);
        host.advance(147.0 * 3600.0);
        assert_eq!(host.drive_by_serial(serial).expect("the demo drive").spec.slot, Some(11));
        host.advance(148.0 * 3600.0);
        let moved = host.drive_by_serial(serial).expect("the demo drive").clone();
        assert_eq!(moved.spec.slot, Some(24));
        assert_ne!(moved.devname, before.devname);
        assert!(moved.present);
        assert_eq!(
            host.drives.iter().filter(|d| d.devname == moved.devname).count(),
            1,
            "a name no other drive holds"
        );
        assert!(host.disk_generation > generation, "the host's disk list changed");

        // Once only, whatever runs on it later.
        host.drives
            .iter_mut()
            .find(|d| d.spec.serial == serial)
            .expect("the demo drive")
            .surface_tested_at = Some(148.0 * 3600.0);
        host.advance(400.0 * 3600.0);
        assert_eq!(host.drive_by_serial(serial).expect("the demo drive").devname, moved.devname);
    }

    #[test]
    fn a_moved_drive_never_takes_a_pulled_drive_s_name() {
        let scenario = crate::fleet::demo("1-a", "1-b", "");
        let mut host = HostState::new(&scenario.hosts[0], 1);
        let taken: Vec<String> = host.drives.iter().map(|d| d.devname.clone()).collect();
        assert!(host.remove_drive("ZJV0A1B2"));
        let name = host.move_drive("ZJV0A1B3", 30).expect("a present drive moves");
        assert!(!taken.contains(&name), "{name} was held by a drive, pulled or not");
        assert_eq!(host.move_drive("ZJV0A1B2", 31), None, "a pulled drive cannot be moved");
        assert_eq!(host.move_drive("NO-SUCH", 31), None);
    }
}
