//! Logging: JSON lines in production, readable lines in development, always on stderr.
//!
//! Conventions (after crates.io's LOGGING.md): the message reads well alone; ids go in dotted
//! fields (`host.name`, `drive.serial`, `job.id`); units are in field names (`duration_ms`);
//! secrets, keys, tokens and request bodies are never logged.

use tracing_subscriber::{EnvFilter, fmt};

use crate::config::Config;

pub fn init(config: &Config) {
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|error| {
        eprintln!(
            "burnin-server: ignoring the log filter `{}` ({error}); using `info`",
            config.log
        );
        EnvFilter::new("info")
    });
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if config.json_logs() {
        builder.json().flatten_event(true).with_current_span(false).with_span_list(false).init();
    } else {
        builder.with_target(false).init();
    }
}
