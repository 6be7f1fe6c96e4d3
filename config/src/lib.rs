//! Starling configuration: TOML model, validation, diff, etcd source.
