//! The monmap: which monitors form the quorum, and where they listen.
//! A monitor's rank (its position, by name) is its Raft node id.

use rkyv::{Archive, Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct MonInfo {
    pub name: String,
    pub addr: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct MonMap {
    pub epoch: u32,
    pub fsid: String,
    /// Sorted by name; the index is the rank.
    pub mons: Vec<MonInfo>,
}

impl MonMap {
    /// A monmap of `mons` (name, address), ranked by name.
    pub fn new(fsid: &str, mut mons: Vec<MonInfo>) -> MonMap {
        mons.sort_by(|a, b| a.name.cmp(&b.name));
        MonMap {
            epoch: 1,
            fsid: fsid.to_string(),
            mons,
        }
    }

    pub fn rank(&self, name: &str) -> Option<usize> {
        self.mons.iter().position(|m| m.name == name)
    }

    pub fn by_rank(&self, rank: u64) -> Option<&MonInfo> {
        usize::try_from(rank).ok().and_then(|r| self.mons.get(r))
    }
}
