//! "How old is this?" displays that stay correct while the page sits open.

use leptos::prelude::*;

/// Seconds since the epoch now: the browser's clock after hydration, the server's while
/// rendering. A page left open re-reads it every ten seconds.
pub fn now_seconds() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now() / 1000.0
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    }
}

/// A signal with the current time, ticking every ten seconds in the browser.
pub fn use_clock() -> ReadSignal<f64> {
    if let Some(clock) = use_context::<ReadSignal<f64>>() {
        return clock;
    }
    let (now, set_now) = signal(now_seconds());
    #[cfg(feature = "hydrate")]
    {
        let handle = set_interval_with_handle(
            move || set_now.set(now_seconds()),
            std::time::Duration::from_secs(10),
        );
        on_cleanup(move || {
            if let Ok(handle) = handle {
                handle.clear();
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = set_now;
    provide_context(now);
    now
}

/// "12 s ago" for an RFC 3339 timestamp, or a dash.
pub fn age_of(timestamp: Option<&str>, now: f64) -> String {
    timestamp
        .and_then(burnin::format::parse_utc)
        .map(|at| burnin::format::age(now - at))
        .unwrap_or_else(|| "never".to_owned())
}
