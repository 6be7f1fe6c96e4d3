//! Configuration files under `tests/fixtures/` against what loading them must give: for
//! `valid/NAME.toml`, the checked configuration (`valid/NAME.expected`, its `{:#?}`); for
//! `invalid/NAME.toml`, the complete list of errors (`invalid/NAME.errors`, one per line).
//!
//! After an intended change, `UPDATE_EXPECT=1 cargo test -p config --test fixtures` rewrites
//! the expectation files; review their diff before committing.

use std::path::{Path, PathBuf};

use config::Config;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Loads `NAME.toml` (named as just its file name in errors, so that expectations do not
/// depend on where the repository is) and compares with the expectation file.
fn check(name: &str) {
    let toml_path = fixtures().join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&toml_path)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", toml_path.display()));
    let origin = format!("{}.toml", name.rsplit('/').next().unwrap_or(name));
    let base_dir = toml_path.parent().unwrap_or(Path::new("."));
    let (actual, expect_path) = match Config::from_toml(&text, &origin, base_dir) {
        Ok(config) => (
            format!("{config:#?}\n"),
            fixtures().join(format!("{name}.expected")),
        ),
        Err(errors) => (
            format!("{errors}\n"),
            fixtures().join(format!("{name}.errors")),
        ),
    };
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&expect_path, &actual).unwrap_or_else(|e| panic!("write: {e}"));
        return;
    }
    let expected = std::fs::read_to_string(&expect_path)
        .unwrap_or_else(|e| panic!("{} (loading gave:\n{actual})\n: {e}", expect_path.display()));
    assert_eq!(
        actual,
        expected,
        "{name}: expectation {}",
        expect_path.display()
    );
}

#[test]
fn interface_example() {
    check("valid/full");
}

#[test]
fn minimal_file_takes_every_default() {
    check("valid/minimal");
}

#[test]
fn neighbor_defaults_link_local_and_secret_files() {
    check("valid/neighbors");
}

#[test]
fn routing_policy() {
    check("valid/policy");
}

#[test]
fn routing_policy_errors_are_all_reported() {
    check("invalid/policy");
}

#[test]
fn syntax_errors() {
    check("invalid/syntax");
}

#[test]
fn a_too_deep_dotted_key_is_located() {
    check("invalid/deep_key");
}

#[test]
fn unknown_keys_and_wrong_types_are_all_reported() {
    check("invalid/schema");
}

#[test]
fn semantic_errors_are_all_reported() {
    check("invalid/semantic");
}

#[test]
fn missing_global_section() {
    check("invalid/missing_global");
}

#[test]
fn reflector_roles_and_advertising() {
    check("invalid/roles");
}

#[test]
fn load_reads_a_file_and_reports_a_missing_one() {
    let loaded = Config::load(&fixtures().join("valid/minimal.toml"));
    assert!(loaded.is_ok(), "{loaded:?}");
    let missing = fixtures().join("valid/no-such-file.toml");
    let Err(errors) = Config::load(&missing) else {
        panic!("a missing file must fail");
    };
    assert_eq!(
        errors.to_string(),
        format!(
            "{}: cannot read the file: No such file or directory (os error 2)",
            missing.display()
        )
    );
}

#[test]
fn secret_files_are_read_without_their_line_ending() {
    let loaded = Config::load(&fixtures().join("valid/neighbors.toml"));
    let Ok(config) = loaded else {
        panic!("{loaded:?}");
    };
    let md5 = config.neighbors[1].password.as_ref().map(|p| p.expose());
    assert_eq!(md5, Some("tor2-md5-key"));
    let etcd = config.etcd.as_ref().and_then(|e| e.auth.as_ref());
    assert_eq!(etcd.map(|a| a.password.expose()), Some("etcd-password"));
}
