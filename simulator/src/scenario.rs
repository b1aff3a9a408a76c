//! Scenarios: which hosts exist, which drives they hold and how each drive behaves. Drive
//! behaviour is data here, never code paths elsewhere, so a test or a demo picks a fault by
//! naming it.

use serde::{Deserialize, Serialize};

/// A whole simulated fleet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// Seeds every random choice (temperature noise, error growth), so runs repeat exactly.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Simulated seconds per real second. 3600 makes a 12 TB surface test (8 passes over the
    /// disk, about 130 hours on real hardware) take about two minutes.
    #[serde(default = "default_speed")]
    pub speed: f64,
    pub hosts: Vec<HostSpec>,
}

fn default_seed() -> u64 {
    1
}

fn default_speed() -> f64 {
    3600.0
}

/// The TrueNAS release a host pretends to be. Decides the API dialect, field shapes, device
/// names and which methods exist (reference/truenas-api.md §1-§3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Personality {
    /// TrueNAS CORE 13.3 (FreeBSD): legacy `/websocket` only, `ada`/`da`/`nvd` names,
    /// `smart.test.*` with jobs.
    #[serde(rename = "CORE-13.3")]
    Core13,
    /// SCALE 25.04: JSON-RPC 2.0 at `/api/current`; `smart.test.*` still exists.
    #[serde(rename = "SCALE-25.04")]
    Scale2504,
    /// SCALE 25.10 "Goldeye": SMART removed from the API.
    #[serde(rename = "SCALE-25.10")]
    Scale2510,
    /// SCALE 26: REST gone, `disk.query` events.
    #[serde(rename = "SCALE-26")]
    Scale26,
}

impl Personality {
    pub fn is_core(self) -> bool {
        self == Personality::Core13
    }

    /// The `system.info` version string.
    pub fn version_string(self) -> &'static str {
        match self {
            Personality::Core13 => "TrueNAS-13.3-U1.2",
            Personality::Scale2504 => "25.04.2.6",
            Personality::Scale2510 => "25.10.6",
            Personality::Scale26 => "26.0.0",
        }
    }

    /// `GET /api/versions`; `None` where the route does not exist (404).
    pub fn api_versions(self) -> Option<&'static [&'static str]> {
        match self {
            Personality::Core13 => None,
            Personality::Scale2504 => Some(&["v25.04.0", "v25.04.1", "v25.04.2"]),
            Personality::Scale2510 => Some(&[
                "v25.04.0", "v25.04.1", "v25.04.2", "v25.10.0", "v25.10.1", "v25.10.2", "v25.10.5",
            ]),
            Personality::Scale26 => Some(&[
                "v25.04.0", "v25.04.1", "v25.04.2", "v25.10.0", "v25.10.1", "v25.10.2", "v25.10.5",
                "v26.0.0",
            ]),
        }
    }

    /// `smart.test.*` was removed in 25.10 (reference §2.4).
    pub fn has_smart_api(self) -> bool {
        matches!(self, Personality::Core13 | Personality::Scale2504)
    }

    /// `disk.query` became a subscribable event in 26 (reference §1.2, Events).
    pub fn has_disk_events(self) -> bool {
        self == Personality::Scale26
    }

    pub fn os(self) -> burnin::remote::Os {
        if self.is_core() { burnin::remote::Os::FreeBsd } else { burnin::remote::Os::Linux }
    }
}

/// One simulated TrueNAS host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostSpec {
    pub name: String,
    pub personality: Personality,
    /// The API key the host accepts, in TrueNAS's wire form `<id>-<key>` (reference §1.2).
    pub api_key: String,
    /// The user the API key belongs to.
    #[serde(default = "default_user")]
    pub api_user: String,
    /// Serve the API over TLS with a self-signed certificate (wss://).
    #[serde(default)]
    pub tls: bool,
    /// The user SSH logins are accepted for.
    #[serde(default = "default_user")]
    pub ssh_user: String,
    /// OpenSSH public key lines (`ssh-ed25519 AAAA… comment`) allowed to log in.
    #[serde(default)]
    pub authorized_keys: Vec<String>,
    pub drives: Vec<DriveSpec>,
    /// Imported pools. A drive named in no pool is free.
    #[serde(default)]
    pub pools: Vec<PoolSpec>,
    /// Exported pools: not imported, but their data is intact and `zpool import` lists them.
    #[serde(default)]
    pub exported_pools: Vec<PoolSpec>,
    /// Serials of the drives holding the boot pool.
    #[serde(default)]
    pub boot_drives: Vec<String>,
}

fn yes() -> bool {
    true
}

fn default_user() -> String {
    "root".to_owned()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PoolSpec {
    pub name: String,
    #[serde(default)]
    pub layout: PoolLayout,
    /// Member drives, by serial.
    pub members: Vec<String>,
    /// How full the pool is, in percent of its size.
    #[serde(default)]
    pub used_percent: f64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PoolLayout {
    #[default]
    Mirror,
    Raidz1,
    Raidz2,
    Stripe,
}

/// How a drive talks: decides the smartctl JSON shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    /// SATA (smartctl `-d sat`): attributes, ATA self-tests.
    Ata,
    /// SAS: grown defect list, error counters, progress in text only.
    Scsi,
    Nvme,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriveSpec {
    pub serial: String,
    pub model: String,
    pub size_bytes: u64,
    pub protocol: Protocol,
    /// 0 for solid state.
    #[serde(default)]
    pub rotation_rpm: u32,
    /// World wide name (LUN id) as 16 hex digits; derived from the serial when absent.
    #[serde(default)]
    pub wwn: Option<String>,
    /// Device name at start; assigned in order (`sda`…, `ada0`…, `nvme0n1`…) when absent.
    #[serde(default)]
    pub devname: Option<String>,
    #[serde(default = "default_temperature")]
    pub idle_temperature_c: f64,
    #[serde(default)]
    pub power_on_hours: u64,
    /// Sequential throughput, for surface-test timing.
    #[serde(default = "default_throughput")]
    pub throughput_mb_s: f64,
    #[serde(default = "default_sector")]
    pub physical_sector_bytes: u32,
    #[serde(default)]
    pub behaviours: Vec<Behaviour>,
    /// Enclosure slot, shown as the drive's bay.
    #[serde(default)]
    pub slot: Option<u32>,
}

fn default_temperature() -> f64 {
    33.0
}

fn default_throughput() -> f64 {
    220.0
}

fn default_sector() -> u32 {
    4096
}

/// What a drive does over time. Several may combine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Behaviour {
    /// The surface test finds `bad_blocks` unreadable blocks once it is `at_percent` through
    /// the whole test, and (unless `remaps` is false) reallocations follow in SMART.
    FailsSurface {
        at_percent: f64,
        bad_blocks: u32,
        #[serde(default = "yes")]
        remaps: bool,
    },
    /// Reallocated sectors (ATA 5) grow while the drive is under test, `per_hour` of load.
    ReallocatedGrowing { per_hour: f64 },
    /// Current pending sectors (ATA 197) appear once the surface test passes `at_percent`.
    PendingSectors { count: u64, at_percent: f64 },
    /// Under load the drive heats to `peak_c` instead of a few degrees over idle.
    Overheats { peak_c: f64 },
    /// NVMe media and data integrity errors grow under load.
    NvmeMediaErrors { per_hour: f64 },
    /// The SAS grown defect list grows under load.
    SasGrownDefects { per_hour: f64 },
    /// UDMA CRC errors (ATA 199) grow: a cable, not the media.
    CableErrors { per_hour: f64 },
    /// Self-tests stop making progress at `at_percent` done (smartmontools#503).
    SelfTestStuck { at_percent: u8 },
    /// Self-tests end as "Aborted by host" a while after they start.
    SelfTestAbortedByHost { at_percent: u8 },
    /// The drive's long self-test fails with a read failure at `at_percent`.
    SelfTestFails { at_percent: u8 },
    /// The surface test hangs at `at_percent` of the whole test (the drive stops answering
    /// I/O there): badblocks stays alive and prints nothing more.
    SurfaceStuck { at_percent: f64 },
    /// A technician moves the drive once: after its first surface test has ended and it has
    /// sat idle for `idle_hours`, it is pulled and put back in bay `slot`, where the host
    /// names it anew (the next free device name), as a hot-swap bay does.
    Reseated { idle_hours: f64, slot: u32 },
}
