//! Test certificates made with the `openssl` command line tool: a certificate authority and
//! the server and client certificates it signs, for etcd over TLS with client certificates.
//! Keys are ECDSA P-256 in PKCS #8 (what both etcd and rustls read); everything is valid for
//! one day and lives in the lab directory.

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::bird::path_str;
use crate::command::run;
use crate::error::{LabError, Result};

pub const OPENSSL: &str = "openssl";
/// Validity of every certificate: a test needs minutes.
const DAYS: &str = "1";

/// What a leaf certificate may be used for (X.509 extended key usage, RFC 5280 §4.2.1.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    Server,
    Client,
}

impl Usage {
    fn extended_key_usage(self) -> &'static str {
        match self {
            Usage::Server => "serverAuth",
            Usage::Client => "clientAuth",
        }
    }
}

/// A certificate and its private key, as PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A self-signed certificate authority.
#[derive(Debug, Clone)]
pub struct CertificateAuthority {
    dir: PathBuf,
    name: String,
    files: KeyPair,
}

impl CertificateAuthority {
    /// Creates `<dir>/<name>-ca.pem` and its key.
    pub fn create(dir: &Path, name: &str) -> Result<CertificateAuthority> {
        let files = KeyPair {
            cert: dir.join(format!("{name}-ca.pem")),
            key: dir.join(format!("{name}-ca.key")),
        };
        run(
            OPENSSL,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                DAYS,
                "-subj",
                &format!("/CN={name} test CA"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
                "-keyout",
                path_str(&files.key)?,
                "-out",
                path_str(&files.cert)?,
            ],
        )?;
        Ok(CertificateAuthority {
            dir: dir.to_owned(),
            name: name.to_owned(),
            files,
        })
    }

    /// The CA certificate, which clients or servers trust.
    pub fn cert(&self) -> &Path {
        &self.files.cert
    }

    /// Issues `<dir>/<name>-<leaf>.pem` and its key for `common_name`, valid for `usage` and,
    /// for a server, for the IP address `address` (the name a client checks).
    pub fn issue(
        &self,
        leaf: &str,
        common_name: &str,
        usage: Usage,
        address: Option<IpAddr>,
    ) -> Result<KeyPair> {
        let stem = self.dir.join(format!("{}-{leaf}", self.name));
        let files = KeyPair {
            cert: stem.with_extension("pem"),
            key: stem.with_extension("key"),
        };
        let request = stem.with_extension("csr");
        let extensions = stem.with_extension("ext");
        let mut text = format!(
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage={}\n",
            usage.extended_key_usage()
        );
        if let Some(address) = address {
            text += &format!("subjectAltName=IP:{address}\n");
        }
        fs::write(&extensions, text)
            .map_err(|e| LabError::io(format!("write {}", extensions.display()), e))?;
        run(
            OPENSSL,
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-subj",
                &format!("/CN={common_name}"),
                "-keyout",
                path_str(&files.key)?,
                "-out",
                path_str(&request)?,
            ],
        )?;
        run(
            OPENSSL,
            &[
                "x509",
                "-req",
                "-in",
                path_str(&request)?,
                "-CA",
                path_str(&self.files.cert)?,
                "-CAkey",
                path_str(&self.files.key)?,
                "-CAcreateserial",
                "-days",
                DAYS,
                "-extfile",
                path_str(&extensions)?,
                "-out",
                path_str(&files.cert)?,
            ],
        )?;
        Ok(files)
    }
}
