//! One simulated drive: identity from the scenario, and the state that changes over time:
//! temperature, power-on hours, error counters, self-tests.

use crate::{
    clock::{SimTime, hash_str, unit},
    scenario::{Behaviour, DriveSpec, Protocol},
};

/// A SMART self-test type as drives know it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestKind {
    Short,
    Long,
    Conveyance,
}

/// How a finished self-test ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestResult {
    Passed,
    /// Stopped by `smartctl -X` or by the host ("Aborted by host", ATA status 0x1).
    AbortedByHost,
    /// Completed with a read failure at this LBA.
    ReadFailure {
        lba: u64,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct SelfTestRun {
    pub kind: TestKind,
    pub started: SimTime,
    pub duration: f64,
    /// Progress stops here (behaviour `SelfTestStuck`).
    pub stuck_at: Option<f64>,
    /// How and when (fraction done) the test ends, if not by passing at 100 %.
    pub ends_early: Option<(f64, TestResult)>,
}

impl SelfTestRun {
    /// Fraction done at `now`, in [0, 1].
    pub fn fraction(&self, now: SimTime) -> f64 {
        let raw = ((now - self.started) / self.duration).clamp(0.0, 1.0);
        match self.stuck_at {
            Some(stuck) => raw.min(stuck),
            None => raw,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct SelfTestLogEntry {
    pub kind: TestKind,
    pub result: TestResult,
    pub power_on_hours: u64,
}

#[derive(Clone, Debug)]
pub struct DriveSim {
    pub spec: DriveSpec,
    pub devname: String,
    pub present: bool,
    pub seed: u64,
    /// World wide name, 16 hex digits (NAA 5).
    pub wwn: String,
    pub last: SimTime,
    pub temperature_c: f64,
    pub max_temperature_c: f64,
    pub power_on_seconds: f64,
    /// Seconds spent under a surface test or self-test.
    pub load_seconds: f64,
    /// Fraction of the running surface test done, set by the badblocks emulation.
    pub surface_fraction: Option<f64>,
    pub counters: Counters,
    pub self_test: Option<SelfTestRun>,
    /// Newest first, as smartctl prints it.
    pub self_test_log: Vec<SelfTestLogEntry>,
    pub power_cycles: u64,
    /// The last simulated instant a surface test was running on the drive.
    pub surface_tested_at: Option<SimTime>,
    /// Its one [`Behaviour::Reseated`] move has happened.
    pub reseated: bool,
}

/// Error counters; fractional parts accumulate so slow growth rates still add up.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counters {
    pub reallocated: f64,
    pub pending: f64,
    pub offline_uncorrectable: f64,
    pub reported_uncorrectable: f64,
    pub udma_crc: f64,
    pub nvme_media_errors: f64,
    pub sas_grown_defects: f64,
    pub sas_uncorrected_reads: f64,
}

impl DriveSim {
    pub fn new(spec: DriveSpec, devname: String, seed: u64) -> DriveSim {
        let wwn = spec.wwn.clone().unwrap_or_else(|| {
            // NAA 5 with a vendor-ish OUI per model family, the rest from the serial.
            let oui = match spec.model.split_whitespace().next().unwrap_or("") {
                m if m.starts_with("ST") || m == "SEAGATE" => 0x000c50,
                "WDC" | "HGST" => 0x0014ee,
                "TOSHIBA" => 0x000039,
                "Samsung" => 0x002538,
                _ => 0x001b44,
            };
            format!("5{oui:06x}{:09x}", hash_str(&spec.serial) & 0xf_ffff_ffff)
        });
        let mut counters = Counters::default();
        if spec.protocol == Protocol::Scsi {
            // Used SAS drives arrive with a few grown defects; new ones with none.
            counters.sas_grown_defects = if spec.power_on_hours > 10_000 { 3.0 } else { 0.0 };
        }
        DriveSim {
            temperature_c: spec.idle_temperature_c,
            max_temperature_c: spec.idle_temperature_c,
            power_on_seconds: spec.power_on_hours as f64 * 3600.0,
            power_cycles: 4 + spec.power_on_hours / 700,
            spec,
            devname,
            present: true,
            seed,
            wwn,
            last: 0.0,
            load_seconds: 0.0,
            surface_fraction: None,
            surface_tested_at: None,
            reseated: false,
            counters,
            self_test: None,
            self_test_log: Vec::new(),
        }
    }

    pub fn is_ssd(&self) -> bool {
        self.spec.rotation_rpm == 0
    }

    pub fn power_on_hours(&self) -> u64 {
        (self.power_on_seconds / 3600.0) as u64
    }

    pub fn has(&self, matches: impl Fn(&Behaviour) -> bool) -> bool {
        self.spec.behaviours.iter().any(matches)
    }

    /// Rated self-test durations in seconds, as the drive would report them.
    pub fn test_duration(&self, kind: TestKind) -> f64 {
        match kind {
            TestKind::Short => 120.0,
            TestKind::Conveyance => 300.0,
            TestKind::Long => {
                // A full-surface read at sustained speed, rounded up to whole minutes.
                let seconds =
                    self.spec.size_bytes as f64 / (self.spec.throughput_mb_s.max(1.0) * 1e6);
                (seconds / 60.0).ceil().max(2.0) * 60.0
            }
        }
    }

    /// Starts a self-test; refused (returns the running one's fraction done) while one runs.
    pub fn start_self_test(&mut self, kind: TestKind, now: SimTime) -> Result<(), f64> {
        if let Some(run) = &self.self_test {
            return Err(run.fraction(now));
        }
        let mut run = SelfTestRun {
            kind,
            started: now,
            duration: self.test_duration(kind),
            stuck_at: None,
            ends_early: None,
        };
        for behaviour in &self.spec.behaviours {
            match behaviour {
                Behaviour::SelfTestStuck { at_percent } => {
                    run.stuck_at = Some(f64::from(*at_percent) / 100.0);
                }
                Behaviour::SelfTestAbortedByHost { at_percent } => {
                    run.ends_early =
                        Some((f64::from(*at_percent) / 100.0, TestResult::AbortedByHost));
                }
                Behaviour::SelfTestFails { at_percent } if kind != TestKind::Short => {
                    let fraction = f64::from(*at_percent) / 100.0;
                    let lba = (self.spec.size_bytes as f64 / 512.0 * fraction) as u64;
                    run.ends_early = Some((fraction, TestResult::ReadFailure { lba }));
                }
                _ => {}
            }
        }
        self.self_test = Some(run);
        Ok(())
    }

    /// Aborts the running self-test (`smartctl -X`); false when none runs.
    pub fn abort_self_test(&mut self) -> bool {
        let Some(run) = self.self_test.take() else { return false };
        self.self_test_log.insert(
            0,
            SelfTestLogEntry {
                kind: run.kind,
                result: TestResult::AbortedByHost,
                power_on_hours: self.power_on_hours(),
            },
        );
        true
    }

    /// Integer counters as smartctl reports them.
    pub fn reallocated(&self) -> u64 {
        self.counters.reallocated as u64
    }

    pub fn pending(&self) -> u64 {
        self.counters.pending as u64
    }

    /// The bay a [`Behaviour::Reseated`] drive is due to move to at `now`: once, after its
    /// first surface test, when it has been idle (no surface test, no self-test) that long.
    pub fn reseat_due(&self, now: SimTime, busy: bool) -> Option<u32> {
        if self.reseated || busy || !self.present || self.self_test.is_some() {
            return None;
        }
        let tested = self.surface_tested_at?;
        self.spec.behaviours.iter().find_map(|b| match *b {
            Behaviour::Reseated { idle_hours, slot } if now - tested >= idle_hours * 3600.0 => {
                Some(slot)
            }
            _ => None,
        })
    }

    /// Brings the drive to `now`. `under_surface_test` says whether badblocks runs on it.
    pub fn advance(&mut self, now: SimTime, under_surface_test: bool) {
        let dt = now - self.last;
        if dt <= 0.0 {
            return;
        }
        self.last = now;
        if !self.present {
            return;
        }
        self.power_on_seconds += dt;
        if under_surface_test {
            self.surface_tested_at = Some(now);
        }

        // Self-test completion.
        if let Some(run) = &self.self_test {
            let done = run.fraction(now);
            let outcome = match run.ends_early {
                Some((at, result)) if done >= at => Some(result),
                _ if done >= 1.0 => Some(TestResult::Passed),
                _ => None,
            };
            if let Some(result) = outcome {
                let kind = run.kind;
                self.self_test = None;
                self.self_test_log.insert(
                    0,
                    SelfTestLogEntry { kind, result, power_on_hours: self.power_on_hours() },
                );
            }
        }

        let loaded = under_surface_test || self.self_test.is_some();
        if loaded {
            self.load_seconds += dt;
        }
        let load_hours = if loaded { dt / 3600.0 } else { 0.0 };
        let surface = self.surface_fraction.unwrap_or(0.0) * 100.0;
        let mut peak = None;
        for behaviour in self.spec.behaviours.clone() {
            match behaviour {
                Behaviour::ReallocatedGrowing { per_hour } => {
                    self.counters.reallocated += per_hour * load_hours
                }
                Behaviour::CableErrors { per_hour } => {
                    self.counters.udma_crc += per_hour * load_hours
                }
                Behaviour::NvmeMediaErrors { per_hour } => {
                    self.counters.nvme_media_errors += per_hour * load_hours;
                }
                Behaviour::SasGrownDefects { per_hour } => {
                    self.counters.sas_grown_defects += per_hour * load_hours;
                    self.counters.sas_uncorrected_reads += per_hour * load_hours / 4.0;
                }
                Behaviour::PendingSectors { count, at_percent }
                    if under_surface_test
                        && surface >= at_percent
                        && self.counters.pending < count as f64 =>
                {
                    self.counters.pending = count as f64;
                }
                Behaviour::Overheats { peak_c } => peak = Some(peak_c),
                _ => {}
            }
        }

        // Temperature: approaches its target with a ten-minute time constant, plus a little
        // noise that is a pure function of the simulated minute.
        let idle = self.spec.idle_temperature_c;
        let target = match (loaded, peak) {
            (true, Some(peak)) => peak,
            (true, None) if under_surface_test => idle + if self.is_ssd() { 6.0 } else { 9.0 },
            (true, None) => idle + 4.0,
            (false, _) => idle,
        };
        let alpha = 1.0 - (-dt / 600.0).exp();
        self.temperature_c += (target - self.temperature_c) * alpha;
        let minute = (now / 60.0) as u64;
        let noise = unit(self.seed, 0x7e, minute) - 0.5;
        let shown = self.temperature_c + noise;
        self.max_temperature_c = self.max_temperature_c.max(shown.round());
    }

    /// The temperature a sensor reads now, in whole degrees as drives report it.
    pub fn temperature(&self) -> i64 {
        let minute = (self.last / 60.0) as u64;
        (self.temperature_c + unit(self.seed, 0x7e, minute) - 0.5).round() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::DriveSpec;

    fn spec(behaviours: Vec<Behaviour>) -> DriveSpec {
        DriveSpec {
            serial: "ZJV0TEST".into(),
            model: "ST12000NM0008-2H3101".into(),
            size_bytes: 12_000_000_000_000,
            protocol: Protocol::Ata,
            rotation_rpm: 7200,
            wwn: None,
            devname: None,
            idle_temperature_c: 33.0,
            power_on_hours: 100,
            throughput_mb_s: 200.0,
            physical_sector_bytes: 4096,
            behaviours,
            slot: None,
        }
    }

    #[test]
    fn a_long_test_takes_a_full_surface_read_and_then_passes() {
        let mut drive = DriveSim::new(spec(vec![]), "sda".into(), 1);
        assert_eq!(drive.test_duration(TestKind::Long), 1000.0 * 60.0);
        drive.start_self_test(TestKind::Long, 0.0).expect("starts");
        drive.advance(30_000.0, false);
        assert!((drive.self_test.as_ref().expect("running").fraction(30_000.0) - 0.5).abs() < 1e-9);
        assert_eq!(drive.start_self_test(TestKind::Short, 30_000.0), Err(0.5));
        drive.advance(60_000.0, false);
        assert!(drive.self_test.is_none());
        assert_eq!(drive.self_test_log[0].result, TestResult::Passed);
        assert_eq!(drive.power_on_hours(), 100 + 16);
    }

    #[test]
    fn a_stuck_test_never_passes_ten_percent() {
        let mut drive =
            DriveSim::new(spec(vec![Behaviour::SelfTestStuck { at_percent: 10 }]), "sda".into(), 1);
        drive.start_self_test(TestKind::Long, 0.0).expect("starts");
        drive.advance(1e9, false);
        assert_eq!(drive.self_test.as_ref().expect("still running").fraction(1e9), 0.1);
    }

    #[test]
    fn aborted_by_host_is_logged_as_such() {
        let mut drive = DriveSim::new(
            spec(vec![Behaviour::SelfTestAbortedByHost { at_percent: 40 }]),
            "sda".into(),
            1,
        );
        drive.start_self_test(TestKind::Long, 0.0).expect("starts");
        drive.advance(60_000.0 * 0.41, false);
        assert!(drive.self_test.is_none());
        assert_eq!(drive.self_test_log[0].result, TestResult::AbortedByHost);
    }

    #[test]
    fn load_heats_the_drive_and_an_overheating_one_reaches_its_peak() {
        let mut normal = DriveSim::new(spec(vec![]), "sda".into(), 1);
        let mut hot =
            DriveSim::new(spec(vec![Behaviour::Overheats { peak_c: 58.0 }]), "sdb".into(), 2);
        for step in 1..=60 {
            normal.advance(step as f64 * 60.0, true);
            hot.advance(step as f64 * 60.0, true);
        }
        assert!((40..=44).contains(&normal.temperature()), "{}", normal.temperature());
        assert!((56..=59).contains(&hot.temperature()), "{}", hot.temperature());
        assert!(hot.max_temperature_c >= 56.0);
    }

    #[test]
    fn counters_grow_only_under_load() {
        let mut drive = DriveSim::new(
            spec(vec![Behaviour::ReallocatedGrowing { per_hour: 2.0 }]),
            "sda".into(),
            1,
        );
        drive.advance(36_000.0, false);
        assert_eq!(drive.reallocated(), 0);
        drive.advance(72_000.0, true);
        assert_eq!(drive.reallocated(), 20);
    }
}
