//! The replicated cluster state and the one way it changes: applying a
//! [`ClusterOp`] that Raft committed. Applying is deterministic (time and
//! fresh keys come inside the op, chosen by the leader that proposed it)
//! and all-or-nothing: a refused op leaves the state as it was. Every op
//! that changes the OSDMap makes a new epoch and keeps its incremental for
//! subscribers.

mod auth_cmds;
mod bootstrap;
mod crush_cmds;
mod osd_cmds;
mod pool_cmds;
mod space_cmds;

use std::collections::BTreeMap;

use cluster::msg::mon::{Done, MonCommand};
use cluster::msg::RemoteError;
use cluster::{Incremental, MonMap, OsdMap};
use rkyv::{Archive, Deserialize, Serialize};

pub use bootstrap::{initial_crush_text, Seed};

/// An entity's capabilities and credentials (the monitors hold every key,
/// as Ceph's do, so `auth get` can hand a keyring out again).
#[derive(Clone, Debug, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct AuthRecord {
    pub caps: String,
    pub cert_pem: String,
    pub key_pem: String,
}

#[derive(Clone, Debug, Default, PartialEq, Archive, Serialize, Deserialize)]
pub struct ClusterState {
    pub monmap: MonMap,
    pub osdmap: OsdMap,
    /// Client entities by name (`client.admin`). Monitors and OSDs are
    /// known by the monmap and the OSDMap.
    pub auth: BTreeMap<String, AuthRecord>,
    /// The most recent incrementals, oldest first.
    pub incrementals: Vec<Incremental>,
    pub max_incrementals: u32,
    /// The full map just before the oldest incremental: with it, every
    /// retained epoch can be rebuilt (an OSD replays the epochs its PGs
    /// went through while it was away).
    pub base: Option<OsdMap>,
}

/// Pool defaults from the proposing leader's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct PoolDefaults {
    pub size: u32,
    pub min_size: u32,
}

#[derive(Clone, Debug, PartialEq, Archive, Serialize, Deserialize)]
pub enum OpKind {
    /// Creates the cluster's first maps; ignored once they exist.
    Bootstrap(Seed),
    /// An operator's, OSD's or client's command. `issued` holds a fresh
    /// certificate and key the leader made for `AuthGetOrCreate`.
    Command {
        cmd: MonCommand,
        issued: Option<(String, String)>,
        pool_defaults: PoolDefaults,
    },
    /// The failure detector's verdicts.
    MarkDown {
        ids: Vec<u32>,
    },
    MarkOut {
        ids: Vec<u32>,
    },
    /// OSD space states, from the OSDs' reports and the map's ratios.
    SetFullness {
        states: Vec<(u32, cluster::osdmap::Fullness)>,
    },
    /// Forget the epochs through `to` (every PG has been clean since):
    /// the incrementals up to it are folded into the base map.
    TrimMaps {
        to: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Archive, Serialize, Deserialize)]
pub struct ClusterOp {
    /// The leader's clock when it proposed the op (ms since the Unix epoch).
    pub now_ms: u64,
    pub kind: OpKind,
}

#[derive(Clone, Debug, PartialEq, Archive, Serialize, Deserialize)]
pub enum OpOutcome {
    Ok(Done),
    Err(RemoteError),
}

/// What one op may change, on copies.
pub(crate) struct Edit<'a> {
    pub map: &'a mut OsdMap,
    pub auth: &'a mut BTreeMap<String, AuthRecord>,
    pub now_ms: u64,
}

pub(crate) type CmdResult = Result<Done, RemoteError>;

pub(crate) fn done(message: impl Into<String>) -> CmdResult {
    Ok(Done {
        message: message.into(),
        ..Default::default()
    })
}

impl ClusterState {
    pub fn is_bootstrapped(&self) -> bool {
        self.osdmap.epoch > 0
    }

    pub fn apply(&mut self, op: &ClusterOp) -> OpOutcome {
        if let OpKind::Bootstrap(seed) = &op.kind {
            if !self.is_bootstrapped() {
                bootstrap::apply(self, seed, op.now_ms);
            }
            return OpOutcome::Ok(Done {
                message: "bootstrapped".into(),
                ..Default::default()
            });
        }
        if !self.is_bootstrapped() {
            return OpOutcome::Err(RemoteError::again("the cluster is not bootstrapped yet"));
        }
        if let OpKind::TrimMaps { to } = op.kind {
            return self.trim_maps(to);
        }
        let mut map = self.osdmap.clone();
        let mut auth = self.auth.clone();
        let mut e = Edit {
            map: &mut map,
            auth: &mut auth,
            now_ms: op.now_ms,
        };
        let r = match &op.kind {
            OpKind::Bootstrap(_) => unreachable!("handled above"),
            OpKind::Command {
                cmd,
                issued,
                pool_defaults,
            } => run_command(&mut e, cmd, issued.as_ref(), *pool_defaults),
            OpKind::MarkDown { ids } => osd_cmds::mark_down(&mut e, ids, false),
            OpKind::MarkOut { ids } => osd_cmds::mark_out(&mut e, ids, false),
            OpKind::SetFullness { states } => space_cmds::set_fullness(&mut e, states),
            OpKind::TrimMaps { .. } => unreachable!("handled above"),
        };
        match r {
            Err(err) => OpOutcome::Err(err),
            Ok(d) => {
                map.prune_pg_temp();
                self.commit(map, op.now_ms);
                self.auth = auth;
                OpOutcome::Ok(d)
            }
        }
    }

    /// Makes `next` the map, as a new epoch, if it differs.
    fn commit(&mut self, mut next: OsdMap, now_ms: u64) {
        next.epoch = self.osdmap.epoch;
        next.modified_ms = self.osdmap.modified_ms;
        if next == self.osdmap {
            return;
        }
        next.epoch += 1;
        next.modified_ms = now_ms;
        let inc = self.osdmap.diff(&next);
        self.incrementals.push(inc);
        // The hard cap; trimming normally follows the PGs' last clean
        // epochs (`TrimMaps`, proposed by the leader) well before it.
        let max = self.max_incrementals.max(1) as usize;
        if self.incrementals.len() > max {
            self.fold_oldest(self.incrementals.len() - max);
        }
        self.osdmap = next;
    }

    /// Forgets the epochs through `to` (no new epoch).
    fn trim_maps(&mut self, to: u32) -> OpOutcome {
        let n = self
            .incrementals
            .iter()
            .take_while(|i| i.epoch <= to)
            .count();
        self.fold_oldest(n);
        OpOutcome::Ok(Done {
            message: format!(
                "forgot {n} map epochs; the oldest kept is {}",
                self.first_epoch()
            ),
            ..Default::default()
        })
    }

    /// Folds the `n` oldest incrementals into the base map.
    fn fold_oldest(&mut self, n: usize) {
        for old in self.incrementals.drain(..n) {
            if let Some(b) = self.base.as_mut() {
                if b.apply(&old).is_err() {
                    // Cannot happen (incrementals follow each other);
                    // never serve a wrong map.
                    self.base = None;
                }
            }
        }
    }

    /// The oldest epoch `maps_from` can serve.
    pub fn first_epoch(&self) -> u32 {
        match &self.base {
            Some(b) => b.epoch,
            None => self.osdmap.epoch,
        }
    }

    /// The full map at `from` (or the oldest retained one after it) and
    /// every incremental since: epoch by epoch history.
    pub fn maps_from(&self, from: u32) -> cluster::msg::mon::MapUpdate {
        let mut u = cluster::msg::mon::MapUpdate {
            monmap: self.monmap.clone(),
            ..Default::default()
        };
        let Some(base) = &self.base else {
            u.full = Some(self.osdmap.clone());
            return u;
        };
        let mut full = base.clone();
        for inc in self.incrementals.iter().take_while(|i| i.epoch <= from) {
            if full.apply(inc).is_err() {
                u.full = Some(self.osdmap.clone());
                return u;
            }
        }
        let at = full.epoch;
        u.full = Some(full);
        u.incrementals = self
            .incrementals
            .iter()
            .filter(|i| i.epoch > at)
            .cloned()
            .collect();
        u
    }

    /// What a subscriber holding epoch `have` needs.
    pub fn update_since(&self, have: u32) -> cluster::msg::mon::MapUpdate {
        let oldest = self.incrementals.first().map_or(u32::MAX, |i| i.epoch);
        let mut u = cluster::msg::mon::MapUpdate {
            monmap: self.monmap.clone(),
            ..Default::default()
        };
        if have >= self.osdmap.epoch {
            return u;
        }
        if have == 0 || have + 1 < oldest {
            u.full = Some(self.osdmap.clone());
        } else {
            u.incrementals = self
                .incrementals
                .iter()
                .filter(|i| i.epoch > have)
                .cloned()
                .collect();
        }
        u
    }
}

fn run_command(
    e: &mut Edit<'_>,
    cmd: &MonCommand,
    issued: Option<&(String, String)>,
    defaults: PoolDefaults,
) -> CmdResult {
    use MonCommand as C;
    match cmd {
        C::OsdNew { uuid } => osd_cmds::osd_new(e, uuid),
        C::OsdBoot {
            id,
            uuid,
            addr,
            host,
            weight,
        } => osd_cmds::boot(e, *id, uuid, addr, host, *weight),
        C::OsdAlive { id, epoch } => osd_cmds::alive(e, *id, *epoch),
        C::OsdPgTemp { id, pgs } => osd_cmds::pg_temp(e, *id, pgs),
        C::OsdSetRatio { which, ratio } => space_cmds::set_ratio(e, which, *ratio),
        C::OsdOut { ids } => osd_cmds::mark_out(e, ids, true),
        C::OsdIn { ids } => osd_cmds::mark_in(e, ids),
        C::OsdDown { ids } => osd_cmds::mark_down(e, ids, true),
        C::OsdRm { ids } => osd_cmds::remove(e, ids),
        C::OsdReweight { id, weight } => osd_cmds::reweight(e, *id, *weight),
        C::SetFlag { flag, on } => osd_cmds::set_flag(e, flag, *on),
        C::CrushAddBucket { name, bucket_type } => crush_cmds::add_bucket(e, name, bucket_type),
        C::CrushMove { name, location } => crush_cmds::move_item(e, name, location),
        C::CrushReweight { name, weight } => crush_cmds::reweight(e, name, *weight),
        C::CrushRm { name } => crush_cmds::remove(e, name),
        C::CrushSetDeviceClass { class, items } => crush_cmds::set_class(e, class, items),
        C::CrushRuleCreateReplicated {
            name,
            root,
            failure_domain,
            class,
        } => crush_cmds::rule_replicated(e, name, root, failure_domain, class.as_deref()),
        C::CrushRuleCreateErasure { name, profile } => pool_cmds::profile(e, profile)
            .and_then(|p| crush_cmds::rule_erasure(e, name, &p))
            .map(|_| Done {
                message: format!("rule '{name}' created"),
                ..Default::default()
            }),
        C::CrushRuleRm { name } => crush_cmds::rule_rm(e, name),
        C::SetCrushMap { text } => crush_cmds::set_map(e, text),
        C::EcProfileSet {
            name,
            params,
            force,
        } => pool_cmds::ec_profile_set(e, name, params, *force),
        C::EcProfileRm { name } => pool_cmds::ec_profile_rm(e, name),
        C::PoolCreate {
            name,
            pg_num,
            erasure_profile,
            crush_rule,
        } => pool_cmds::create(
            e,
            name,
            *pg_num,
            erasure_profile.as_deref(),
            crush_rule.as_deref(),
            defaults,
        ),
        C::PoolSet { name, key, value } => pool_cmds::set(e, name, key, value),
        C::PoolRm {
            name,
            confirm,
            really,
        } => pool_cmds::remove(e, name, confirm, *really),
        C::AuthGetOrCreate { entity, caps } => auth_cmds::get_or_create(e, entity, caps, issued),
        C::AuthRm { entity } => auth_cmds::remove(e, entity),
    }
}

#[cfg(test)]
mod tests;
