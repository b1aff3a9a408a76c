//! The benchmark fleet: many hosts of many ordinary drives, every release the product speaks,
//! and temperatures that stay put until a benchmark changes them.

use crate::scenario::{DriveSpec, HostSpec, Personality, PoolLayout, PoolSpec, Protocol, Scenario};

const TB: u64 = 1_000_000_000_000;

/// Drive models the fleet cycles through: (model, size, protocol, rpm).
const MODELS: [(&str, u64, Protocol, u32); 6] = [
    ("ST12000NM0008-2H3101", 12 * TB, Protocol::Ata, 7200),
    ("WDC WD80EFAX-68KNBN0", 8 * TB, Protocol::Ata, 5400),
    ("ST16000NM001G-2KK103", 16 * TB, Protocol::Ata, 7200),
    ("TOSHIBA MG06ACA10TE", 10 * TB, Protocol::Ata, 7200),
    ("ST4000VN008-2DR166", 4 * TB, Protocol::Ata, 5900),
    ("WDC WD40EFZX-68AWUN0", 4 * TB, Protocol::Ata, 5400),
];

/// The release of host `index`: mostly SCALE 25.10, with every other release represented.
fn personality(index: usize) -> Personality {
    match index % 5 {
        0 | 1 => Personality::Scale2510,
        2 => Personality::Scale2504,
        3 => Personality::Core13,
        _ => Personality::Scale26,
    }
}

/// The serial of drive `drive` on host `host` (both from 0).
pub fn bench_serial(host: usize, drive: usize) -> String {
    format!("BN{host:02}X{drive:03}")
}

/// `hosts` hosts named `bench-01`… with `drives_per_host` drives each: drive 0 is a boot SSD,
/// drives 1-4 form a RAIDZ1 pool, the rest are free SATA hard drives. Every drive idles at a
/// whole-degree temperature, so no reading changes until something changes it (the
/// simulator's sensor noise cannot move a whole number). All hosts accept `api_key` and the
/// SSH key `authorized_key`.
pub fn bench(
    hosts: usize,
    drives_per_host: usize,
    api_key: &str,
    authorized_key: &str,
) -> Scenario {
    let hosts = (0..hosts)
        .map(|host| {
            let drives: Vec<DriveSpec> = (0..drives_per_host)
                .map(|n| {
                    let (model, size_bytes, protocol, rpm) = if n == 0 {
                        ("Samsung SSD 870 EVO 250GB", 250_059_350_016, Protocol::Ata, 0)
                    } else {
                        MODELS[(host + n) % MODELS.len()]
                    };
                    DriveSpec {
                        idle_temperature_c: 28.0 + ((host * 7 + n * 3) % 9) as f64,
                        power_on_hours: 10 + (n as u64 * 37) % 900,
                        slot: Some(n as u32 + 1),
                        ..super::drive(&bench_serial(host, n), model, size_bytes, protocol, rpm)
                    }
                })
                .collect();
            let pool = drives.iter().skip(1).take(4).map(|d| d.serial.clone()).collect::<Vec<_>>();
            HostSpec {
                name: format!("bench-{:02}", host + 1),
                personality: personality(host),
                api_key: api_key.to_owned(),
                api_user: "root".to_owned(),
                tls: false,
                ssh_user: "root".to_owned(),
                authorized_keys: vec![authorized_key.to_owned()],
                boot_drives: drives.first().map(|d| vec![d.serial.clone()]).unwrap_or_default(),
                pools: if pool.len() == 4 {
                    vec![PoolSpec {
                        name: "tank".to_owned(),
                        layout: PoolLayout::Raidz1,
                        members: pool,
                        used_percent: 40.0,
                    }]
                } else {
                    Vec::new()
                },
                exported_pools: Vec::new(),
                drives,
            }
        })
        .collect();
    Scenario { seed: 4, speed: 1.0, hosts }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bench_fleet_has_the_asked_size_and_unique_serials() {
        let scenario = bench(20, 50, "1-k", "ssh-ed25519 AAAA test");
        assert_eq!(scenario.hosts.len(), 20);
        let serials: std::collections::BTreeSet<&str> = scenario
            .hosts
            .iter()
            .flat_map(|h| h.drives.iter().map(|d| d.serial.as_str()))
            .collect();
        assert_eq!(serials.len(), 1000);
        assert!(
            scenario
                .hosts
                .iter()
                .all(|h| h.drives.iter().all(|d| d.idle_temperature_c.fract() == 0.0))
        );
    }

    #[test]
    fn a_staged_temperature_takes_effect_at_the_next_read_and_stays() {
        let scenario = bench(1, 20, "1-k", "ssh-ed25519 AAAA test");
        let mut host = crate::HostState::new(&scenario.hosts[0], scenario.seed);
        let serial = bench_serial(0, 7);
        let (applied, mut told) = tokio::sync::oneshot::channel();
        host.staged_temperatures.push(crate::host::StagedTemperature {
            serial: serial.clone(),
            celsius: 47.0,
            applied,
        });
        let reading = |host: &crate::HostState| {
            host.drive_by_serial(&serial).map(crate::drive::DriveSim::temperature)
        };
        assert_ne!(reading(&host), Some(47));
        assert!(told.try_recv().is_err(), "not applied before a read");
        host.apply_staged_temperatures();
        assert!(told.try_recv().is_ok(), "told when applied");
        host.advance(3600.0);
        assert_eq!(reading(&host), Some(47), "an hour later, still 47 °C");
    }
}
