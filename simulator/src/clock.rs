//! Simulated time and seeded randomness.
//!
//! Simulated time runs `speed` times faster than real time and can be pushed forward by tests,
//! so a multi-day burn-in is seconds in a test and minutes in a demo. Randomness is a pure
//! function of (seed, stream, step), so a run repeats exactly however often it is observed.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

/// Seconds of simulated time since the simulator started.
pub type SimTime = f64;

#[derive(Clone, Debug)]
pub struct SimClock {
    started: Instant,
    speed: f64,
    /// Extra simulated seconds added by [`SimClock::advance`], in milliseconds.
    skipped_ms: Arc<AtomicU64>,
}

impl SimClock {
    pub fn new(speed: f64) -> SimClock {
        let speed = if speed.is_finite() && speed > 0.0 { speed } else { 1.0 };
        SimClock { started: Instant::now(), speed, skipped_ms: Arc::new(AtomicU64::new(0)) }
    }

    pub fn now(&self) -> SimTime {
        self.started.elapsed().as_secs_f64() * self.speed
            + self.skipped_ms.load(Ordering::Relaxed) as f64 / 1000.0
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Moves simulated time forward at once.
    pub fn advance(&self, seconds: f64) {
        if seconds > 0.0 {
            self.skipped_ms.fetch_add((seconds * 1000.0) as u64, Ordering::Relaxed);
        }
    }

    /// Real seconds that `sim_seconds` of simulated time take.
    pub fn real_seconds(&self, sim_seconds: f64) -> f64 {
        sim_seconds / self.speed
    }
}

/// SplitMix64: tiny, fast and good enough for simulation noise.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A deterministic value in [0, 1) for (seed, stream, step).
pub fn unit(seed: u64, stream: u64, step: u64) -> f64 {
    (mix(seed ^ mix(stream ^ mix(step))) >> 11) as f64 / (1u64 << 53) as f64
}

/// A stable 64-bit hash of a string, for deriving streams and identifiers from names.
pub fn hash_str(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_time_runs_at_the_speed_factor_and_can_be_skipped() {
        let clock = SimClock::new(1000.0);
        let before = clock.now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let elapsed = clock.now() - before;
        assert!(elapsed >= 20.0, "{elapsed}");
        clock.advance(3600.0);
        assert!(clock.now() - before >= 3620.0);
        assert_eq!(clock.real_seconds(3600.0), 3.6);
    }

    #[test]
    fn noise_is_reproducible_and_spread() {
        assert_eq!(unit(7, 1, 2), unit(7, 1, 2));
        assert_ne!(unit(7, 1, 2), unit(8, 1, 2));
        let mean: f64 = (0..10_000).map(|step| unit(1, 2, step)).sum::<f64>() / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
    }
}
