//! An entity's credentials, and the keyring file that holds them: a short
//! header naming the entity and cluster, then the entity's certificate, its
//! private key and the cluster CA's certificate, in PEM.

use std::io::Write;
use std::path::Path;

use crate::entity::EntityName;
use crate::error::AuthError;
use crate::Result;

/// What an entity needs to connect: its certificate and key, and the CA
/// that peers' certificates must chain to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub entity: EntityName,
    pub fsid: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub ca_pem: String,
}

const HEADER: &str = "# strata keyring v1";

impl Credentials {
    pub fn to_keyring(&self) -> String {
        format!(
            "{HEADER}\nentity {}\nfsid {}\n{}{}{}",
            self.entity,
            self.fsid,
            ensure_newline(&self.cert_pem),
            ensure_newline(&self.key_pem),
            ensure_newline(&self.ca_pem)
        )
    }

    /// Parses a keyring's text; `path` is only used in error messages.
    pub fn from_keyring(path: &str, text: &str) -> Result<Credentials> {
        let bad = |reason: &str| AuthError::Keyring {
            path: path.to_string(),
            reason: reason.to_string(),
        };
        let mut lines = text.lines();
        if lines.next() != Some(HEADER) {
            return Err(bad("not a Strata keyring (missing the header line)"));
        }
        let field = |line: Option<&str>, name: &str| -> Result<String> {
            line.and_then(|l| l.strip_prefix(name))
                .and_then(|v| v.strip_prefix(' '))
                .map(str::to_string)
                .ok_or_else(|| bad(&format!("missing the '{name}' line")))
        };
        let entity: EntityName = field(lines.next(), "entity")?.parse()?;
        let fsid = field(lines.next(), "fsid")?;
        let blocks = pem_blocks(text);
        let of = |label: &str| {
            blocks
                .iter()
                .filter(|(l, _)| l == label)
                .map(|(_, b)| b.clone())
                .collect::<Vec<_>>()
        };
        let certs = of("CERTIFICATE");
        let keys = of("PRIVATE KEY");
        if certs.len() != 2 || keys.len() != 1 {
            return Err(bad(&format!(
                "expected 2 certificates and 1 private key, found {} and {}",
                certs.len(),
                keys.len()
            )));
        }
        Ok(Credentials {
            entity,
            fsid,
            cert_pem: certs[0].clone(),
            key_pem: keys[0].clone(),
            ca_pem: certs[1].clone(),
        })
    }

    /// Writes the keyring readable by its owner only.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_private(path, self.to_keyring().as_bytes())
    }

    pub fn load(path: &Path) -> Result<Credentials> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Credentials::from_keyring(&path.display().to_string(), &text)
    }
}

fn ensure_newline(s: &str) -> String {
    if s.ends_with('\n') {
        s.to_string()
    } else {
        format!("{s}\n")
    }
}

/// `(label, block text)` of each PEM block, in order.
fn pem_blocks(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        if let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            current = Some((label.to_string(), format!("{line}\n")));
        } else if let Some((label, mut body)) = current.take() {
            body.push_str(line);
            body.push('\n');
            if line == format!("-----END {label}-----") {
                out.push((label, body));
            } else {
                current = Some((label, body));
            }
        }
    }
    out
}

/// Writes `data` to `path` readable by its owner only (mode 0600), synced:
/// keyrings, the CA's key, anything secret.
pub fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| AuthError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    f.write_all(data).and_then(|_| f.sync_all()).map_err(io)
}

/// A random (version 4 style) UUID: cluster fsids and OSD uuids.
pub fn random_uuid() -> String {
    let b: [u8; 16] = rand::random();
    let h = |r: std::ops::Range<usize>| b[r].iter().map(|x| format!("{x:02x}")).collect::<String>();
    format!(
        "{}-{}-{}-{}-{}",
        h(0..4),
        h(4..6),
        h(6..8),
        h(8..10),
        h(10..16)
    )
}
