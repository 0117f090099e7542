//! `strata-osd --mkfs --data DIR`: asks the monitors for an OSD id (they
//! sign its certificate, like `ceph osd new`), creates the object store
//! and writes the superblock last, so a half-made directory is never
//! mistaken for a working OSD.

use std::path::Path;

use auth::Credentials;
use cluster::msg::mon::MonCommand;
use config::Options;
use monclient::MonClient;

use super::superblock::{OsdDir, Superblock};
use crate::store::{RocksStore, StoreOptions};

/// Registers a new OSD for the disk at `dir`; returns its id.
pub async fn mkfs(dir: &Path, opts: &Options, creds: &Credentials) -> Result<u32, String> {
    let d = OsdDir::new(dir);
    if d.superblock_path().exists() {
        let sb = d.read_superblock()?;
        return Err(format!(
            "{}: already holds osd.{} of cluster {}; refusing to overwrite it",
            dir.display(),
            sb.osd_id,
            sb.fsid
        ));
    }
    if d.store_path().exists() {
        return Err(format!(
            "{}: holds an object store without a superblock (an interrupted mkfs?); remove it first",
            d.store_path().display()
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mc = MonClient::from_options(opts, creds, None, None).map_err(|e| e.to_string())?;
    let uuid = auth::random_uuid();
    let done = mc
        .command(MonCommand::OsdNew { uuid: uuid.clone() })
        .await
        .map_err(|e| format!("registering with the monitors: {e}"))?;
    let id = done.osd_id.ok_or("the monitors allocated no id")?;
    let keyring = done.keyring.ok_or("the monitors sent no keyring")?;
    let creds = Credentials::from_keyring("keyring from the monitors", &keyring)
        .map_err(|e| e.to_string())?;
    creds.save(&d.keyring_path()).map_err(|e| e.to_string())?;
    RocksStore::mkfs(&d.store_path(), StoreOptions::default()).map_err(|e| e.to_string())?;
    d.write_superblock(&Superblock {
        fsid: creds.fsid.clone(),
        osd_id: id,
        uuid,
    })?;
    mc.messenger.close();
    Ok(id)
}
