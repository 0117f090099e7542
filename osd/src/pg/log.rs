//! The PG log: the ordered record of the PG's recent writes, each with its
//! version, the object's prior version and the client request id.
//!
//! It is what peering compares (whose history is newest, which entries a
//! member holds that the authoritative log does not: divergent entries,
//! never acknowledged, rolled back), what recovery reads (which objects a
//! member behind must be sent), and what de-duplicates resent requests:
//! the ids of trimmed entries live on as "dups" for a configured count.
//!
//! Versions are unique across the PG's whole history: a primary stamps
//! each write with the epoch of its map, and no two intervals share an
//! epoch, so two logs that hold the same version hold the same entry.

use std::collections::{BTreeMap, HashMap, VecDeque};

use cluster::{ReqId, Version};
use rkyv::{Archive, Deserialize, Serialize};

use crate::store::ObjectId;

/// What an entry did to its object.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogKind {
    Modify,
    Delete,
}

#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    pub version: Version,
    /// The object's version before this write (zero: it did not exist).
    pub prior_version: Version,
    pub object: ObjectId,
    pub kind: LogKind,
    pub reqid: Option<ReqId>,
    pub mtime_ns: u64,
}

/// A PG's log in memory. Entries have versions in `(tail, head]`.
#[derive(Clone, Debug, Default)]
pub struct PgLog {
    tail: Version,
    entries: VecDeque<LogEntry>,
    /// Ids of trimmed entries, oldest first.
    dups: VecDeque<(ReqId, Version)>,
    /// Request id -> version, over entries and dups.
    index: HashMap<ReqId, Version>,
}

impl PgLog {
    /// A log from stored parts (entries ascending).
    pub fn from_parts(tail: Version, entries: Vec<LogEntry>, dups: Vec<(ReqId, Version)>) -> PgLog {
        let mut l = PgLog {
            tail,
            ..PgLog::default()
        };
        for (r, v) in dups {
            l.index.insert(r.clone(), v);
            l.dups.push_back((r, v));
        }
        for e in entries {
            l.append(e);
        }
        l
    }

    pub fn tail(&self) -> Version {
        self.tail
    }

    /// The newest version (the tail when the log is empty).
    pub fn head(&self) -> Version {
        self.entries.back().map_or(self.tail, |e| e.version)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &LogEntry> + '_ {
        self.entries.iter()
    }

    pub fn dups(&self) -> impl Iterator<Item = &(ReqId, Version)> + '_ {
        self.dups.iter()
    }

    /// Entries with version > `v`, oldest first.
    pub fn after(&self, v: Version) -> impl Iterator<Item = &LogEntry> + '_ {
        let i = self.entries.partition_point(|e| e.version <= v);
        self.entries.range(i..)
    }

    pub fn get(&self, v: Version) -> Option<&LogEntry> {
        let i = self.entries.partition_point(|e| e.version < v);
        self.entries.get(i).filter(|e| e.version == v)
    }

    /// Appends an entry newer than the head.
    pub fn append(&mut self, e: LogEntry) {
        debug_assert!(e.version > self.head(), "log entries must grow");
        if let Some(r) = &e.reqid {
            self.index.insert(r.clone(), e.version);
        }
        self.entries.push_back(e);
    }

    /// The version a request was applied at, if this log remembers it.
    pub fn lookup(&self, r: &ReqId) -> Option<Version> {
        self.index.get(r).copied()
    }

    /// Drops entries up to `to`, keeping their ids as dups (at most
    /// `max_dups`).
    pub fn trim(&mut self, to: Version, max_dups: usize) -> Trimmed {
        let mut t = Trimmed {
            from: self.tail,
            ..Trimmed::default()
        };
        while self.entries.front().is_some_and(|e| e.version <= to) {
            let e = self.entries.pop_front().expect("checked");
            if let Some(r) = e.reqid {
                self.dups.push_back((r.clone(), e.version));
                t.new_dups.push((r, e.version));
            }
            t.entries += 1;
            self.tail = e.version;
        }
        t.to = self.tail;
        while self.dups.len() > max_dups {
            let (r, v) = self.dups.pop_front().expect("non-empty");
            if self.index.get(&r) == Some(&v) {
                self.index.remove(&r);
            }
            t.forgotten.push(v);
        }
        t
    }

    /// The version of the `i`-th entry (oldest first).
    pub fn nth(&self, i: usize) -> Option<Version> {
        self.entries.get(i).map(|e| e.version)
    }

    /// Drops every entry newer than `v` (divergent entries being rolled
    /// back) and returns them, oldest first.
    pub fn rewind(&mut self, v: Version) -> Vec<LogEntry> {
        let i = self.entries.partition_point(|e| e.version <= v);
        let gone: Vec<LogEntry> = self.entries.drain(i..).collect();
        for e in &gone {
            if let Some(r) = &e.reqid {
                if self.index.get(r) == Some(&e.version) {
                    self.index.remove(r);
                }
            }
        }
        gone
    }

    /// Replaces the whole log (a member too far behind adopts the
    /// authoritative one); dups are kept.
    pub fn reset(&mut self, tail: Version, entries: Vec<LogEntry>) {
        let gone = self.rewind(Version::ZERO);
        drop(gone);
        self.tail = tail;
        for e in entries {
            self.append(e);
        }
    }
}

/// What a trim dropped: entries in `(from, to]`, the dups it made and the
/// dups it forgot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trimmed {
    pub from: Version,
    pub to: Version,
    pub entries: usize,
    pub new_dups: Vec<(ReqId, Version)>,
    pub forgotten: Vec<Version>,
}

/// Are `entries` strictly increasing, all after `tail`? (A log from a
/// peer is checked before it is compared or adopted.)
pub fn well_ordered(tail: Version, entries: &[LogEntry]) -> bool {
    let mut prev = tail;
    entries.iter().all(|e| {
        let ok = e.version > prev;
        prev = e.version;
        ok
    })
}

/// How a member's log relates to the authoritative one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Merge {
    /// The member's newest entry common with the authority, the member's
    /// entries after it (divergent: never acknowledged), and the
    /// authority's entries after it (to adopt).
    Extend {
        common: Version,
        divergent: Vec<LogEntry>,
        adopt: Vec<LogEntry>,
    },
    /// The member's history cannot be joined to the authority's within the
    /// authority's log: it must take the whole PG (every object) anew.
    Resync,
}

/// Compares a member's log with the authoritative log (`auth_tail`, and
/// its entries in order). Entries are matched by version (versions are
/// unique to one write in the PG's history).
pub fn plan_merge(member: &PgLog, auth_tail: Version, auth: &[LogEntry]) -> Merge {
    let auth_head = auth.last().map_or(auth_tail, |e| e.version);
    let in_auth = |v: Version| auth.binary_search_by(|e| e.version.cmp(&v)).is_ok();
    if member.head() < auth_tail {
        return Merge::Resync;
    }
    // Walk back from the member's head to the first entry the authority
    // also has; what lies after it is divergent.
    let mut divergent = Vec::new();
    let mut common = None;
    for e in member.entries().rev() {
        if e.version <= auth_head && in_auth(e.version) {
            common = Some(e.version);
            break;
        }
        if e.version <= auth_tail {
            // Older than anything the authority still lists: the member's
            // history up to here is the shared history the authority
            // trimmed (a suffix of divergent entries starts after it).
            common = Some(e.version);
            break;
        }
        divergent.push(e.clone());
    }
    let common = match common {
        Some(c) => c,
        // Every entry diverged (or there are none): the member's tail is
        // shared history if the authority's log reaches back to it.
        None => member.tail(),
    };
    if common < auth_tail {
        return Merge::Resync;
    }
    divergent.reverse();
    let adopt = auth
        .iter()
        .filter(|e| e.version > common)
        .cloned()
        .collect();
    Merge::Extend {
        common,
        divergent,
        adopt,
    }
}

/// What a member must do to its objects after a merge: discard the ones
/// that do not exist in the authoritative history, and recover the ones
/// whose authoritative version it does not hold. `have` gives the member's
/// current version of an object (`None`: absent).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectFixes {
    /// Objects to remove locally (deleted, or never created, in the
    /// authoritative history).
    pub discard: Vec<ObjectId>,
    /// Objects to recover, with the version the authority holds.
    pub missing: BTreeMap<ObjectId, Version>,
}

pub fn object_fixes(
    divergent: &[LogEntry],
    adopt: &[LogEntry],
    have: impl Fn(&ObjectId) -> Option<Version>,
) -> ObjectFixes {
    // The authoritative state of each object touched: the newest adopted
    // entry; else, for objects only divergent entries touched, the state
    // before the oldest of them.
    let mut want: BTreeMap<ObjectId, Option<Version>> = BTreeMap::new();
    for e in divergent.iter().rev() {
        let prior = (e.prior_version != Version::ZERO).then_some(e.prior_version);
        want.insert(e.object.clone(), prior);
    }
    for e in adopt {
        let v = (e.kind == LogKind::Modify).then_some(e.version);
        want.insert(e.object.clone(), v);
    }
    let mut fixes = ObjectFixes::default();
    for (obj, v) in want {
        let cur = have(&obj);
        match v {
            None => {
                if cur.is_some() {
                    fixes.discard.push(obj);
                }
            }
            Some(v) => {
                if cur != Some(v) {
                    fixes.missing.insert(obj, v);
                }
            }
        }
    }
    fixes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(epoch: u32, n: u64, obj: &str, prior: (u32, u64)) -> LogEntry {
        LogEntry {
            version: Version::new(epoch, n),
            prior_version: Version::new(prior.0, prior.1),
            object: ObjectId::named(obj),
            kind: LogKind::Modify,
            reqid: Some(ReqId {
                client: "client.t".into(),
                nonce: 1,
                tid: n + u64::from(epoch) * 1000,
            }),
            mtime_ns: 0,
        }
    }

    fn log(tail: (u32, u64), es: Vec<LogEntry>) -> PgLog {
        PgLog::from_parts(Version::new(tail.0, tail.1), es, Vec::new())
    }

    #[test]
    fn trim_keeps_request_ids_as_dups_up_to_a_count() {
        let mut l = log((0, 0), (1..=5).map(|i| e(1, i, "a", (0, 0))).collect());
        let r3 = l.get(Version::new(1, 3)).unwrap().reqid.clone().unwrap();
        let t = l.trim(Version::new(1, 3), 2);
        assert_eq!(t.entries, 3);
        assert_eq!((t.from, t.to), (Version::ZERO, Version::new(1, 3)));
        assert_eq!(t.new_dups.len(), 3);
        assert_eq!(t.forgotten, vec![Version::new(1, 1)]);
        assert_eq!(l.tail(), Version::new(1, 3));
        assert_eq!(l.head(), Version::new(1, 5));
        assert_eq!(l.lookup(&r3), Some(Version::new(1, 3)));
        assert_eq!(l.dups().count(), 2);
    }

    #[test]
    fn a_log_out_of_order_is_not_well_ordered() {
        let es = vec![e(1, 2, "a", (0, 0)), e(1, 3, "a", (0, 0))];
        assert!(well_ordered(Version::new(1, 1), &es));
        assert!(!well_ordered(Version::new(1, 2), &es), "not after the tail");
        let back = vec![e(1, 3, "a", (0, 0)), e(1, 2, "a", (0, 0))];
        assert!(!well_ordered(Version::ZERO, &back));
    }

    #[test]
    fn a_member_behind_adopts_the_newer_entries() {
        let auth: Vec<_> = (1..=6).map(|i| e(1, i, "a", (0, 0))).collect();
        let m = log((0, 0), auth[..3].to_vec());
        match plan_merge(&m, Version::ZERO, &auth) {
            Merge::Extend {
                common,
                divergent,
                adopt,
            } => {
                assert_eq!(common, Version::new(1, 3));
                assert!(divergent.is_empty());
                assert_eq!(adopt.len(), 3);
            }
            r => panic!("{r:?}"),
        }
    }

    #[test]
    fn divergent_entries_are_found_and_their_objects_rolled_back() {
        // Shared 1'1..1'3; the member then wrote 1'4 (object b, new) and
        // 1'5 (object a, over 1'1) alone; the authority went on in epoch 2.
        let shared: Vec<_> = (1..=3).map(|i| e(1, i, "a", (0, 0))).collect();
        let mut mine = shared.clone();
        mine.push(e(1, 4, "b", (0, 0)));
        mine.push(e(1, 5, "a", (1, 3)));
        let mut auth = shared.clone();
        auth.push(e(2, 4, "c", (0, 0)));
        let m = log((0, 0), mine);
        let Merge::Extend {
            common,
            divergent,
            adopt,
        } = plan_merge(&m, Version::ZERO, &auth)
        else {
            panic!("expected extend")
        };
        assert_eq!(common, Version::new(1, 3));
        assert_eq!(divergent.len(), 2);
        assert_eq!(adopt.len(), 1);
        let have = |o: &ObjectId| match o.name.as_str() {
            "a" => Some(Version::new(1, 5)),
            "b" => Some(Version::new(1, 4)),
            _ => None,
        };
        let f = object_fixes(&divergent, &adopt, have);
        assert_eq!(f.discard, vec![ObjectId::named("b")]);
        assert_eq!(
            f.missing.into_iter().collect::<Vec<_>>(),
            vec![
                (ObjectId::named("a"), Version::new(1, 3)),
                (ObjectId::named("c"), Version::new(2, 4)),
            ]
        );
    }

    #[test]
    fn a_member_older_than_the_authoritative_tail_resyncs() {
        let auth: Vec<_> = (10..=12).map(|i| e(3, i, "a", (0, 0))).collect();
        let m = log((0, 0), (1..=4).map(|i| e(1, i, "a", (0, 0))).collect());
        assert_eq!(plan_merge(&m, Version::new(3, 9), &auth), Merge::Resync);
        // Divergent back past the authority's tail: resync too.
        let m = log((1, 1), vec![e(1, 2, "x", (0, 0)), e(1, 3, "x", (0, 0))]);
        assert_eq!(
            plan_merge(&m, Version::new(2, 5), &[e(2, 6, "a", (0, 0))]),
            Merge::Resync
        );
    }

    #[test]
    fn a_log_sent_from_the_members_head_joins_there() {
        // The primary sends only what follows the member's last update
        // (which its log holds), with that point as the tail: nothing of
        // the member's is divergent. (The simulation's seed 1 found the
        // member treating its whole log as divergent.)
        let mine: Vec<_> = (1..=4).map(|i| e(1, i, "a", (0, 0))).collect();
        let m = log((0, 0), mine);
        let more = vec![e(2, 5, "b", (0, 0))];
        let Merge::Extend {
            common,
            divergent,
            adopt,
        } = plan_merge(&m, Version::new(1, 4), &more)
        else {
            panic!()
        };
        assert_eq!(common, Version::new(1, 4));
        assert!(divergent.is_empty());
        assert_eq!(adopt, more);
    }

    #[test]
    fn a_trimmed_but_shared_history_joins() {
        // The member's whole log is older than the authority's tail except
        // the head, which the authority has.
        let auth: Vec<_> = (5..=8).map(|i| e(1, i, "a", (0, 0))).collect();
        let m = log((1, 2), (3..=5).map(|i| e(1, i, "a", (0, 0))).collect());
        let Merge::Extend {
            common,
            divergent,
            adopt,
        } = plan_merge(&m, Version::new(1, 4), &auth)
        else {
            panic!()
        };
        assert_eq!(common, Version::new(1, 5));
        assert!(divergent.is_empty());
        assert_eq!(adopt.len(), 3);
    }
}
