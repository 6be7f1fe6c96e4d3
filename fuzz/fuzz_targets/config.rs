//! The TOML configuration file (`config::Config::from_toml`): any text gives a `Config` or a
//! non-empty list of errors, each located in this file (its origin, and a line and column
//! inside the text when it has a position), and loading is deterministic. Never a panic.
//!
//! The input is the file's text (invalid UTF-8 is skipped: the daemon reads the file as a
//! `String` and reports such a file before parsing). Relative paths in it (password files)
//! resolve under a directory that does not exist, so nothing outside is read by accident.
#![no_main]

use std::path::Path;

use config::Config;
use libfuzzer_sys::fuzz_target;

const ORIGIN: &str = "fuzz.toml";
const BASE_DIR: &str = "/nonexistent/starling-fuzz";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let first = Config::from_toml(text, ORIGIN, Path::new(BASE_DIR));
    if let Err(errors) = &first {
        assert!(!errors.is_empty(), "Err with no error");
        let lines = text.split('\n').count();
        for error in errors.iter() {
            assert_eq!(error.origin, ORIGIN, "{error}");
            if let Some(position) = error.position {
                assert!(
                    (1..=lines).contains(&position.line) && position.column >= 1,
                    "{error}: position outside the text ({lines} lines)"
                );
            }
            // Each error names where it is: a position, or at least a key path.
            assert!(
                error.position.is_some() || !error.path.is_root(),
                "{error}: not located"
            );
            // Display is what `bgpd --check` prints.
            let _ = error.to_string();
        }
    }
    let second = Config::from_toml(text, ORIGIN, Path::new(BASE_DIR));
    assert_eq!(first, second, "loading the same text twice differs");
});
