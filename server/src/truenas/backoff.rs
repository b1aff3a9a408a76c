//! Reconnect delays: exponential with full jitter, so a fleet of dashboards (or hosts) that
//! lost the network together do not all knock at once when it returns.

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Backoff {
    attempt: u32,
    min: Duration,
    max: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff::new(Duration::from_secs(1), Duration::from_secs(60))
    }
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff { attempt: 0, min, max: max.max(min) }
    }

    /// The next delay: uniform in [min, min(max, min·2^attempt)].
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.min.saturating_mul(1u32 << self.attempt.min(16)).min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let span = ceiling.saturating_sub(self.min);
        self.min + span.mul_f64(random_fraction())
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// Uniform in [0, 1); 0.5 if the system has no randomness to give.
pub fn random_fraction() -> f64 {
    let mut bytes = [0u8; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

/// A timer ticking every `period`, its first tick at a random point within the first period:
/// hosts that connected together (at start, after an outage) then poll spread out, not in one
/// burst that every open tab receives at once.
pub fn staggered_interval(period: Duration) -> tokio::time::Interval {
    let first = tokio::time::Instant::now() + period.mul_f64(random_fraction());
    let mut interval = tokio::time::interval_at(first, period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_ceiling_stay_within_bounds_and_reset() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let first = backoff.next_delay();
        assert_eq!(first, Duration::from_secs(1), "the first retry waits the minimum");
        let mut longest = Duration::ZERO;
        for _ in 0..50 {
            let delay = backoff.next_delay();
            assert!(
                delay >= Duration::from_secs(1) && delay <= Duration::from_secs(60),
                "{delay:?}"
            );
            longest = longest.max(delay);
        }
        assert!(longest > Duration::from_secs(10), "jittered delays reach far up: {longest:?}");
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_secs(1));
    }
}
