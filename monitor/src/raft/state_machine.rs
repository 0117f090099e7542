//! The replicated state machine: applies committed proposals to the
//! [`ClusterState`] and keeps it in RocksDB. Each applied batch is written
//! with its last log id and membership in one synced batch, so a restart
//! resumes exactly where it stopped. Snapshots are the encoded state.

use std::io::Cursor;
use std::sync::{Arc, RwLock};

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    EntryPayload, ErrorSubject, ErrorVerb, LogId, RaftSnapshotBuilder, SnapshotMeta,
    StoredMembership,
};
use rocksdb::{WriteBatch, WriteOptions, DB};
use tokio::sync::watch;

use super::{io_err, Applied, NodeId, StorageError, TypeConfig};
use crate::state::{ClusterOp, ClusterState, OpOutcome};

pub const CF_SM: &str = "state";

const KEY_STATE: &[u8] = b"state";
const KEY_APPLIED: &[u8] = b"last_applied";
const KEY_MEMBERSHIP: &[u8] = b"membership";
const KEY_SNAPSHOT: &[u8] = b"snapshot";
const KEY_SNAPSHOT_META: &[u8] = b"snapshot_meta";

type Membership = StoredMembership<NodeId, openraft::BasicNode>;

/// The state the service reads, and a signal of each new OSDMap epoch.
pub struct Shared {
    pub state: RwLock<ClusterState>,
    pub epoch: watch::Sender<u32>,
}

impl Shared {
    pub fn read<T>(&self, f: impl FnOnce(&ClusterState) -> T) -> T {
        f(&self.state.read().unwrap_or_else(|p| p.into_inner()))
    }
}

#[derive(Clone)]
pub struct StateMachine {
    db: Arc<DB>,
    pub shared: Arc<Shared>,
    last_applied: Option<LogId<NodeId>>,
    membership: Membership,
}

fn synced() -> WriteOptions {
    let mut w = WriteOptions::default();
    w.set_sync(true);
    w
}

fn read_err(e: impl std::fmt::Display) -> StorageError {
    io_err(ErrorSubject::StateMachine, ErrorVerb::Read, e)
}

fn write_err(e: impl std::fmt::Display) -> StorageError {
    io_err(ErrorSubject::StateMachine, ErrorVerb::Write, e)
}

impl StateMachine {
    /// Loads the persisted state (or an empty one).
    pub fn open(db: Arc<DB>) -> Result<StateMachine, StorageError> {
        let cf = db.cf_handle(CF_SM).expect("column family created at open");
        let state = match db.get_cf(cf, KEY_STATE).map_err(read_err)? {
            Some(b) => {
                cluster::codec::decode::<ClusterState>("monitor state", &b).map_err(read_err)?
            }
            None => ClusterState::default(),
        };
        let json = |k: &[u8]| -> Result<Option<Vec<u8>>, StorageError> {
            db.get_cf(cf, k).map_err(read_err)
        };
        let last_applied = match json(KEY_APPLIED)? {
            Some(b) => serde_json::from_slice(&b).map_err(read_err)?,
            None => None,
        };
        let membership = match json(KEY_MEMBERSHIP)? {
            Some(b) => serde_json::from_slice(&b).map_err(read_err)?,
            None => Membership::default(),
        };
        let (epoch, _) = watch::channel(state.osdmap.epoch);
        Ok(StateMachine {
            shared: Arc::new(Shared {
                state: RwLock::new(state),
                epoch,
            }),
            db,
            last_applied,
            membership,
        })
    }

    fn cf(&self) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(CF_SM)
            .expect("column family created at open")
    }

    fn persist(&self, state: &ClusterState) -> Result<(), StorageError> {
        let mut batch = WriteBatch::default();
        let cf = self.cf();
        batch.put_cf(cf, KEY_STATE, cluster::codec::encode(state));
        batch.put_cf(
            cf,
            KEY_APPLIED,
            serde_json::to_vec(&self.last_applied).expect("serde types encode"),
        );
        batch.put_cf(
            cf,
            KEY_MEMBERSHIP,
            serde_json::to_vec(&self.membership).expect("serde types encode"),
        );
        self.db.write_opt(batch, &synced()).map_err(write_err)
    }

    fn snapshot_of(&self, data: Vec<u8>) -> Snapshot<TypeConfig> {
        let meta = SnapshotMeta {
            last_log_id: self.last_applied,
            last_membership: self.membership.clone(),
            snapshot_id: format!(
                "{}-{}",
                self.last_applied.map_or(0, |l| l.leader_id.term),
                self.last_applied.map_or(0, |l| l.index)
            ),
        };
        Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let data = self.shared.read(cluster::codec::encode);
        let snap = self.snapshot_of(data.clone());
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(), KEY_SNAPSHOT, &data);
        batch.put_cf(
            self.cf(),
            KEY_SNAPSHOT_META,
            serde_json::to_vec(&snap.meta).expect("serde types encode"),
        );
        self.db.write_opt(batch, &synced()).map_err(write_err)?;
        Ok(snap)
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(&mut self) -> Result<(Option<LogId<NodeId>>, Membership), StorageError> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Applied>, StorageError>
    where
        I: IntoIterator<Item = openraft::Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let mut out = Vec::new();
        let mut state = self.shared.read(ClusterState::clone);
        for e in entries {
            self.last_applied = Some(e.log_id);
            match e.payload {
                EntryPayload::Blank => out.push(Applied::default()),
                EntryPayload::Membership(m) => {
                    self.membership = StoredMembership::new(Some(e.log_id), m);
                    out.push(Applied::default());
                }
                EntryPayload::Normal(p) => {
                    let outcome = match cluster::codec::decode::<ClusterOp>("proposal", &p.0) {
                        Ok(op) => state.apply(&op),
                        // A proposal this build cannot read changes nothing.
                        Err(e) => OpOutcome::Err(cluster::msg::RemoteError::invalid(e.to_string())),
                    };
                    out.push(Applied(cluster::codec::encode(&outcome)));
                }
            }
        }
        self.persist(&state)?;
        let epoch = state.osdmap.epoch;
        *self.shared.state.write().unwrap_or_else(|p| p.into_inner()) = state;
        self.shared.epoch.send_replace(epoch);
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, openraft::BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let state: ClusterState = cluster::codec::decode("snapshot", &data).map_err(read_err)?;
        self.last_applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(), KEY_SNAPSHOT, &data);
        batch.put_cf(
            self.cf(),
            KEY_SNAPSHOT_META,
            serde_json::to_vec(meta).expect("serde types encode"),
        );
        self.db.write_opt(batch, &synced()).map_err(write_err)?;
        self.persist(&state)?;
        let epoch = state.osdmap.epoch;
        *self.shared.state.write().unwrap_or_else(|p| p.into_inner()) = state;
        self.shared.epoch.send_replace(epoch);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let cf = self.cf();
        let data = self.db.get_cf(cf, KEY_SNAPSHOT).map_err(read_err)?;
        let meta = self.db.get_cf(cf, KEY_SNAPSHOT_META).map_err(read_err)?;
        match (data, meta) {
            (Some(d), Some(m)) => {
                let meta: SnapshotMeta<NodeId, openraft::BasicNode> =
                    serde_json::from_slice(&m).map_err(read_err)?;
                Ok(Some(Snapshot {
                    meta,
                    snapshot: Box::new(Cursor::new(d)),
                }))
            }
            _ => Ok(None),
        }
    }
}
