//! The default demo fleet: what a newcomer sees on first start; and the benchmark fleet.

mod bench;

pub use bench::{bench, bench_serial};

use crate::scenario::{
    Behaviour, DriveSpec, HostSpec, Personality, PoolLayout, PoolSpec, Protocol, Scenario,
};

const TB: u64 = 1_000_000_000_000;

fn drive(serial: &str, model: &str, size_bytes: u64, protocol: Protocol, rpm: u32) -> DriveSpec {
    DriveSpec {
        serial: serial.to_owned(),
        model: model.to_owned(),
        size_bytes,
        protocol,
        rotation_rpm: rpm,
        wwn: None,
        devname: None,
        idle_temperature_c: idle_temperature(serial, protocol),
        power_on_hours: 12,
        throughput_mb_s: 220.0,
        physical_sector_bytes: 4096,
        behaviours: Vec::new(),
        slot: None,
    }
}

/// A shelf is never one temperature: 30–38 °C by slot airflow (a pure function of the serial, so
/// runs repeat), NVMe six degrees warmer. A surface test adds 9 °C, which keeps every drive
/// but the one built to run hot under the 50 °C warning.
fn idle_temperature(serial: &str, protocol: Protocol) -> f64 {
    let spread =
        serial.bytes().fold(0u32, |sum, b| sum.wrapping_mul(31).wrapping_add(u32::from(b))) % 9;
    let warmer = if protocol == Protocol::Nvme { 6.0 } else { 0.0 };
    30.0 + f64::from(spread) + warmer
}

fn with(mut spec: DriveSpec, behaviour: Behaviour) -> DriveSpec {
    spec.behaviours.push(behaviour);
    spec
}

/// A SCALE 25.10 host with the fifteen drives of the original dashboard, a boot SSD, a pool
/// already holding data and a disk of an exported pool; and a CORE 13 host with the awkward
/// cases: a SAS drive growing defects, an NVMe drive, a 20 TB drive, a drive that runs hot.
pub fn demo(api_key_scale: &str, api_key_core: &str, authorized_key: &str) -> Scenario {
    let ata = Protocol::Ata;
    let mut lab = vec![
        drive("ZJV0A1B2", "ST12000NM0008-2H3101", 12 * TB, ata, 7200),
        with(
            drive("ZJV0A1B3", "ST12000NM0008-2H3101", 12 * TB, ata, 7200),
            Behaviour::CableErrors { per_hour: 0.5 },
        ),
        drive("ZJV0A1B4", "ST12000NM0008-2H3101", 12 * TB, ata, 7200),
        drive("VGH1K2L3", "WDC WD80EFAX-68KNBN0", 8 * TB, ata, 5400),
        with(
            drive("VGH1K2L4", "WDC WD80EFAX-68KNBN0", 8 * TB, ata, 5400),
            Behaviour::PendingSectors { count: 8, at_percent: 60.0 },
        ),
        drive("VGH1K2L5", "WDC WD80EFAX-68KNBN0", 8 * TB, ata, 5400),
        drive("ZL2AB1C1", "ST16000NM001G-2KK103", 16 * TB, ata, 7200),
        drive("ZL2AB1C2", "ST16000NM001G-2KK103", 16 * TB, ata, 7200),
        drive("ZDH1X2Y3", "ST4000VN008-2DR166", 4 * TB, ata, 5900),
        with(
            drive("ZDH1X2Y4", "ST4000VN008-2DR166", 4 * TB, ata, 5900),
            Behaviour::SelfTestStuck { at_percent: 10 },
        ),
        // Moved to bay 24 two idle days after its first burn-in: its drive page shows both
        // places, and which bay each burn-in ran in.
        with(
            drive("71T0A0AAFVGG", "TOSHIBA MG06ACA10TE", 10 * TB, ata, 7200),
            Behaviour::Reseated { idle_hours: 48.0, slot: 24 },
        ),
        with(
            drive("71T0A0ABFVGG", "TOSHIBA MG06ACA10TE", 10 * TB, ata, 7200),
            Behaviour::SelfTestAbortedByHost { at_percent: 40 },
        ),
        drive("VAGX1234", "HGST HUS728T8TAL5200", 8 * TB, Protocol::Scsi, 7200),
        with(
            drive("ZAD1Q2W3", "ST6000DM003-2CY186", 6 * TB, ata, 5400),
            Behaviour::ReallocatedGrowing { per_hour: 0.08 },
        ),
        with(
            drive("FAIL001", "ST8000DM004-2CX188", 8 * TB, ata, 5400),
            Behaviour::FailsSurface { at_percent: 30.0, bad_blocks: 24, remaps: true },
        ),
    ];
    for (slot, spec) in lab.iter_mut().enumerate() {
        spec.slot = Some(slot as u32 + 1);
        spec.power_on_hours = 8 + slot as u64 * 3;
    }
    let tank: Vec<DriveSpec> = (1..=4)
        .map(|n| {
            let mut spec =
                drive(&format!("WD-WX12D40{n}AB"), "WDC WD40EFZX-68AWUN0", 4 * TB, ata, 5400);
            spec.power_on_hours = 21_000 + n * 37;
            spec.slot = Some(15 + n as u32);
            spec
        })
        .collect();
    let mut boot = drive("S6PNNS0T123456A", "Samsung SSD 870 EVO 250GB", 250_059_350_016, ata, 0);
    boot.power_on_hours = 9_100;
    let mut exported = drive("ZW60ABCD", "ST4000VN006-3CW104", 4 * TB, ata, 5400);
    exported.power_on_hours = 30_500;
    exported.slot = Some(20);

    let mut lab_drives = lab;
    lab_drives.extend(tank.clone());
    lab_drives.push(boot.clone());
    lab_drives.push(exported.clone());

    let scale = HostSpec {
        name: "truenas-lab".to_owned(),
        personality: Personality::Scale2510,
        api_key: api_key_scale.to_owned(),
        api_user: "root".to_owned(),
        tls: false,
        ssh_user: "root".to_owned(),
        authorized_keys: vec![authorized_key.to_owned()],
        drives: lab_drives,
        pools: vec![PoolSpec {
            name: "tank".to_owned(),
            layout: PoolLayout::Raidz1,
            members: tank.iter().map(|d| d.serial.clone()).collect(),
            used_percent: 62.0,
        }],
        exported_pools: vec![PoolSpec {
            name: "oldbackup".to_owned(),
            layout: PoolLayout::Stripe,
            members: vec![exported.serial.clone()],
            used_percent: 35.0,
        }],
        boot_drives: vec![boot.serial.clone()],
    };

    let mut sas = with(
        drive("Z1Z2X3C4", "SEAGATE ST4000NM0023", 4 * TB, Protocol::Scsi, 7200),
        Behaviour::SasGrownDefects { per_hour: 0.05 },
    );
    sas.power_on_hours = 41_000;
    let mut nvme = drive(
        "S4EWNX0N123456",
        "Samsung SSD 970 EVO Plus 500GB",
        500_107_862_016,
        Protocol::Nvme,
        0,
    );
    nvme.physical_sector_bytes = 512;
    nvme.throughput_mb_s = 1800.0;
    let mut big = drive("ZVT0AB12", "ST20000NM007D-3DJ103", 20 * TB, ata, 7200);
    big.throughput_mb_s = 270.0;
    let hot = with(
        drive("WD-CA0HOT01", "WDC WD100EMAZ-00WJTA0", 10 * TB, ata, 5400),
        Behaviour::Overheats { peak_c: 58.0 },
    );
    let mut core_boot = drive("BTWL1234567A", "INTEL SSDSC2KB240G8", 240_057_409_536, ata, 0);
    core_boot.power_on_hours = 15_000;

    let core = HostSpec {
        name: "core-vault".to_owned(),
        personality: Personality::Core13,
        api_key: api_key_core.to_owned(),
        api_user: "root".to_owned(),
        tls: false,
        ssh_user: "root".to_owned(),
        authorized_keys: vec![authorized_key.to_owned()],
        drives: vec![core_boot.clone(), sas, nvme, big, hot],
        pools: Vec::new(),
        exported_pools: Vec::new(),
        boot_drives: vec![core_boot.serial],
    };

    Scenario { seed: 2026, speed: 3600.0, hosts: vec![scale, core] }
}
