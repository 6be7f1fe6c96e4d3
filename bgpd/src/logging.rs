//! Structured logs through `tracing`: human-readable lines or one JSON object per event, with
//! `RUST_LOG`-style filtering (the environment overrides the configured level).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; logs go to standard error (journald and container runtimes
/// collect it).
pub fn init(format: config::LogFormat, level: config::LogLevel) {
    let default = match level {
        config::LogLevel::Error => "error",
        config::LogLevel::Warn => "warn",
        config::LogLevel::Info => "info",
        config::LogLevel::Debug => "debug",
        config::LogLevel::Trace => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        config::LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
        config::LogFormat::Human => builder.init(),
    }
}
