//! A monitor's data directory: its keyring, the cluster CA (monitors sign
//! the certificates of new OSDs and clients), the bootstrap seed, and the
//! RocksDB store holding the Raft log and the applied state.
//!
//! ```text
//! DIR/keyring   mon.ID's certificate and key
//! DIR/ca.crt    the cluster CA
//! DIR/ca.key
//! DIR/seed      what the first leader proposes (fsid, monmap, admin)
//! DIR/store/    RocksDB: raft_log, raft_meta, state
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use auth::{Caps, ClusterCa, Credentials, EntityName};
use cluster::{MonInfo, MonMap};
use config::Options;

use crate::raft::log_store::{CF_LOG, CF_META};
use crate::raft::state_machine::CF_SM;
use crate::state::{AuthRecord, Seed};

#[derive(Debug, thiserror::Error)]
pub enum MonStoreError {
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    #[error("{0}")]
    Config(String),
}

fn file_err(path: &Path, e: impl std::fmt::Display) -> MonStoreError {
    MonStoreError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

pub fn read(path: &Path) -> Result<String, MonStoreError> {
    std::fs::read_to_string(path).map_err(|e| file_err(path, e))
}

/// Writes a file only its owner can read, synced.
pub fn write_private(path: &Path, data: &[u8]) -> Result<(), MonStoreError> {
    auth::write_private(path, data).map_err(|e| MonStoreError::Config(e.to_string()))
}

/// The monmap the configuration describes.
pub fn monmap_from(opts: &Options) -> MonMap {
    MonMap::new(
        &opts.fsid,
        opts.mons()
            .into_iter()
            .map(|(name, addr)| MonInfo {
                name,
                addr: addr.to_string(),
            })
            .collect(),
    )
}

pub struct MonDir {
    pub dir: PathBuf,
}

impl MonDir {
    pub fn new(dir: &Path) -> MonDir {
        MonDir {
            dir: dir.to_path_buf(),
        }
    }

    pub fn store_path(&self) -> PathBuf {
        self.dir.join("store")
    }

    /// Creates the directory for monitor `id`: keyring, CA, seed, store.
    pub fn mkfs(&self, id: &str, opts: &Options, admin: &Credentials) -> Result<(), MonStoreError> {
        if opts.fsid.is_empty() {
            return Err(MonStoreError::Config(
                "the config has no fsid: run strata-mon bootstrap first".into(),
            ));
        }
        let monmap = monmap_from(opts);
        if monmap.rank(id).is_none() {
            return Err(MonStoreError::Config(format!(
                "mon.{id} is not in mon_host ({})",
                opts.mon_host.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        if self.store_path().exists() {
            return Err(file_err(
                &self.dir,
                "already holds a monitor store; refusing to overwrite it",
            ));
        }
        let ca = ClusterCa::from_pem(&opts.fsid, &read(&opts.ca_cert)?, &read(&opts.ca_key)?)
            .map_err(|e| MonStoreError::Config(format!("cluster CA: {e}")))?;
        std::fs::create_dir_all(&self.dir).map_err(|e| file_err(&self.dir, e))?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| file_err(&self.dir, e))?;
        }
        let creds = ca
            .issue(&EntityName::mon(id))
            .map_err(|e| MonStoreError::Config(e.to_string()))?;
        creds
            .save(&self.dir.join("keyring"))
            .map_err(|e| MonStoreError::Config(e.to_string()))?;
        write_private(&self.dir.join("ca.crt"), ca.cert_pem().as_bytes())?;
        write_private(&self.dir.join("ca.key"), ca.key_pem().as_bytes())?;
        let seed = Seed {
            fsid: opts.fsid.clone(),
            monmap,
            admin_entity: admin.entity.to_string(),
            admin: AuthRecord {
                caps: Caps::admin().to_string(),
                cert_pem: admin.cert_pem.clone(),
                key_pem: admin.key_pem.clone(),
            },
            chooseleaf_type: opts.osd_crush_chooseleaf_type,
            max_incrementals: opts.mon_max_incrementals,
        };
        write_private(&self.dir.join("seed"), &cluster::codec::encode(&seed))?;
        let db = self.open_db()?;
        db.flush().map_err(|e| file_err(&self.store_path(), e))?;
        Ok(())
    }

    pub fn open_db(&self) -> Result<Arc<rocksdb::DB>, MonStoreError> {
        let mut o = rocksdb::Options::default();
        o.create_if_missing(true);
        o.create_missing_column_families(true);
        let db = rocksdb::DB::open_cf(&o, self.store_path(), [CF_LOG, CF_META, CF_SM])
            .map_err(|e| file_err(&self.store_path(), e))?;
        Ok(Arc::new(db))
    }

    pub fn credentials(&self) -> Result<Credentials, MonStoreError> {
        Credentials::load(&self.dir.join("keyring"))
            .map_err(|e| MonStoreError::Config(e.to_string()))
    }

    pub fn ca(&self, fsid: &str) -> Result<ClusterCa, MonStoreError> {
        ClusterCa::from_pem(
            fsid,
            &read(&self.dir.join("ca.crt"))?,
            &read(&self.dir.join("ca.key"))?,
        )
        .map_err(|e| MonStoreError::Config(format!("cluster CA: {e}")))
    }

    pub fn seed(&self) -> Result<Seed, MonStoreError> {
        let p = self.dir.join("seed");
        let bytes = std::fs::read(&p).map_err(|e| file_err(&p, e))?;
        cluster::codec::decode("monitor seed", &bytes).map_err(|e| file_err(&p, e))
    }
}
