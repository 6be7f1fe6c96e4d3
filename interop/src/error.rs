//! The lab's error type: every failure says what was being done and what was observed.

use std::time::Duration;

/// Anything that can go wrong while building a lab, running a peer or reading its state.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A file or process operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A command ran but exited unsuccessfully (or was killed after its time limit).
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
    },
    /// A tool printed something we could not understand.
    #[error("cannot parse {what}: {detail}")]
    Parse { what: String, detail: String },
    /// A bounded wait ran out; `last` is the last thing the probe saw.
    #[error("timed out after {waited:?} waiting for {what}; last observation: {last}")]
    Timeout {
        what: String,
        waited: Duration,
        last: String,
    },
    /// A daemon exited while we expected it to run.
    #[error("{name} exited ({status}); log tail:\n{log_tail}")]
    Exited {
        name: String,
        status: String,
        log_tail: String,
    },
    /// A request the lab cannot fulfil (bad name, unsupported option for a daemon, ...).
    #[error("{0}")]
    Invalid(String),
}

impl LabError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> LabError {
        LabError::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn parse(what: impl Into<String>, detail: impl ToString) -> LabError {
        LabError::Parse {
            what: what.into(),
            detail: detail.to_string(),
        }
    }
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, LabError>;
