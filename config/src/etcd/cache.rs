//! The last-known-good snapshot in `state_dir` (docs/interface.md: "While etcd is unreachable
//! the daemon keeps running on its last known snapshot (kept in `state_dir`, so a restart
//! during an outage also works)").
//!
//! The file holds the raw JSON values in force (only valid ones), by full key, with the
//! revision and the prefix they belong to; loading checks them again like any datastore
//! value. It is replaced atomically (write a temporary file, sync, rename), so a crash leaves
//! the old or the new file, never a torn one. Values may carry peers' TCP MD5 passwords: the
//! file is readable by its owner only.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::view::Entry;
use crate::source::Revision;

/// The cache's name inside `state_dir`.
pub const CACHE_FILE: &str = "datastore-snapshot.json";
/// Bumped when the layout changes; a file of another format is ignored.
const FORMAT: u32 = 1;
/// Owner read/write only: values may hold TCP MD5 keys.
const FILE_MODE: u32 = 0o600;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheFile {
    format: u32,
    prefix: String,
    revision: i64,
    /// Full key → the JSON value in force, as etcd held it.
    objects: BTreeMap<String, String>,
}

/// A cache read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Saved {
    pub revision: Revision,
    /// Each with the saved revision (the file does not keep each key's own).
    pub entries: Vec<Entry>,
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: not a datastore snapshot: {reason}")]
    Format { path: PathBuf, reason: String },
    #[error("{path}: format {found}, expected {FORMAT}")]
    OtherFormat { path: PathBuf, found: u32 },
    #[error("{path}: saved for prefix {found:?}, the configuration says {expected:?}")]
    OtherPrefix {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("value of {key:?} is not UTF-8")]
    NotUtf8 { key: String },
}

/// The file's content for the values in force at `revision`.
pub(crate) fn encode(
    prefix: &str,
    revision: Revision,
    in_force: &BTreeMap<String, Vec<u8>>,
) -> Result<Vec<u8>, CacheError> {
    let objects = in_force
        .iter()
        .map(|(key, value)| {
            // Values in force passed JSON parsing, which accepts UTF-8 only.
            String::from_utf8(value.clone())
                .map(|value| (key.clone(), value))
                .map_err(|_| CacheError::NotUtf8 { key: key.clone() })
        })
        .collect::<Result<_, _>>()?;
    let file = CacheFile {
        format: FORMAT,
        prefix: prefix.to_owned(),
        revision: revision.0,
        objects,
    };
    serde_json::to_vec_pretty(&file).map_err(|error| CacheError::Format {
        path: PathBuf::from(CACHE_FILE),
        reason: error.to_string(),
    })
}

/// Replaces `dir/CACHE_FILE` by `bytes` atomically, creating `dir` if needed.
pub(crate) fn write(dir: &Path, bytes: &[u8]) -> Result<(), CacheError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| CacheError::Io { path, source }
    };
    fs::create_dir_all(dir).map_err(io(dir))?;
    let path = dir.join(CACHE_FILE);
    let temporary = dir.join(format!("{CACHE_FILE}.tmp"));
    // A left-over temporary file would keep its permissions through `truncate`.
    match fs::remove_file(&temporary) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(CacheError::Io {
                path: temporary,
                source,
            })
        }
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(&temporary)
        .map_err(io(&temporary))?;
    file.write_all(bytes).map_err(io(&temporary))?;
    file.sync_all().map_err(io(&temporary))?;
    drop(file);
    fs::rename(&temporary, &path).map_err(io(&path))?;
    // The rename is durable once the directory is synced; without it a crash may bring back
    // the previous file, which is still a consistent snapshot.
    if let Ok(directory) = File::open(dir) {
        if let Err(error) = directory.sync_all() {
            tracing::debug!(dir = %dir.display(), %error, "cannot sync the state directory");
        }
    }
    Ok(())
}

/// The snapshot saved in `dir` for `prefix`; `None` when there is none.
pub(crate) fn load(dir: &Path, prefix: &str) -> Result<Option<Saved>, CacheError> {
    let path = dir.join(CACHE_FILE);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(CacheError::Io { path, source }),
    };
    let file: CacheFile = serde_json::from_slice(&bytes).map_err(|error| CacheError::Format {
        path: path.clone(),
        reason: error.to_string(),
    })?;
    if file.format != FORMAT {
        return Err(CacheError::OtherFormat {
            path,
            found: file.format,
        });
    }
    if file.prefix != prefix {
        return Err(CacheError::OtherPrefix {
            path,
            found: file.prefix,
            expected: prefix.to_owned(),
        });
    }
    let revision = Revision(file.revision);
    let entries = file
        .objects
        .into_iter()
        .map(|(key, value)| Entry {
            key: key.into_bytes(),
            value: value.into_bytes(),
            revision,
        })
        .collect();
    Ok(Some(Saved { revision, entries }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_values_read_back_and_the_file_is_private() -> Result<(), CacheError> {
        let dir = tempfile::tempdir().map_err(|source| CacheError::Io {
            path: PathBuf::from("tempdir"),
            source,
        })?;
        let state_dir = dir.path().join("state");
        let in_force = BTreeMap::from([
            (
                "/p/config".to_owned(),
                br#"{"asn":64512,"mode":"mesh"}"#.to_vec(),
            ),
            (
                "/p/nodes/a".to_owned(),
                br#"{"address_v4":"10.0.0.1"}"#.to_vec(),
            ),
        ]);
        write(&state_dir, &encode("/p", Revision(7), &in_force)?)?;
        let Some(saved) = load(&state_dir, "/p")? else {
            panic!("nothing saved");
        };
        assert_eq!(saved.revision, Revision(7));
        let read: BTreeMap<String, Vec<u8>> = saved
            .entries
            .into_iter()
            .map(|entry| {
                (
                    String::from_utf8_lossy(&entry.key).into_owned(),
                    entry.value,
                )
            })
            .collect();
        assert_eq!(read, in_force);
        let mode = fs::metadata(state_dir.join(CACHE_FILE))
            .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777);
        assert_eq!(mode.ok(), Some(FILE_MODE));
        assert!(matches!(
            load(&state_dir, "/other"),
            Err(CacheError::OtherPrefix { .. })
        ));
        assert!(load(&dir.path().join("missing"), "/p")?.is_none());
        Ok(())
    }
}
