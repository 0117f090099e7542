//! `strata pg query`: what a PG is doing and waiting for, as JSON with
//! Ceph's field names where Ceph has them.

use serde_json::{json, Value};

use super::{Pg, Phase};

impl Pg {
    /// The PG's state, its sets, info, past intervals, what its peers
    /// hold and miss, and what it waits for.
    pub fn query(&self) -> Value {
        let waiting_on = match &self.phase {
            Phase::GetInfo => {
                let mut w: Vec<i32> = self.pr.asked.keys().copied().collect();
                w.sort_unstable();
                format!("infos from osd {w:?}")
            }
            Phase::GetLog(o) => format!("the authoritative log from osd.{o}"),
            Phase::WaitUpThru => format!(
                "the monitors to record up_thru {} for osd.{}",
                self.interval(),
                self.me
            ),
            Phase::Activating => {
                let w: Vec<i32> = self
                    .pr
                    .peers
                    .iter()
                    .filter(|(_, p)| !p.activated)
                    .map(|(o, _)| *o)
                    .collect();
                format!("activation by osd {w:?}")
            }
            Phase::Down => format!(
                "one of osd {:?}: a past interval that may have written has no member up",
                self.blocked_by()
            ),
            Phase::Incomplete => format!(
                "one of osd {:?}: the PG went active at epoch {} and no member that answered holds that interval's log",
                self.blocked_by(),
                self.st.info.history.last_epoch_started
            ),
            Phase::Active if !self.pr.unfound.is_empty() => {
                format!("{} unfound objects", self.pr.unfound.len())
            }
            _ => String::new(),
        };
        let past: Vec<Value> = self.st.past.intervals.iter().map(|i| i.to_json()).collect();
        let peers: Vec<Value> = self
            .pr
            .infos
            .iter()
            .filter(|(o, _)| **o != self.me)
            .map(|(o, i)| {
                let mut v = i.to_json();
                v["peer"] = json!(o);
                v["missing"] = json!(self.pr.peers.get(o).map_or(0, |p| p.missing.len()));
                v
            })
            .collect();
        json!({
            "pgid": self.pgid.to_string(),
            "state": self.state_name(),
            "epoch": self.cur.epoch,
            "up": self.cur.up,
            "acting": self.cur.acting,
            "primary": self.cur.primary,
            "info": self.st.info.to_json(),
            "log_entries": self.st.log.len(),
            "missing": self.st.missing.len(),
            "unfound": self.pr.unfound.len(),
            "recovering": self.pr.recovering.len(),
            "writes_in_flight": self.pr.inflight.len(),
            "past_intervals": past,
            "peer_info": peers,
            "blocked_by": self.blocked_by(),
            "waiting_on": waiting_on,
        })
    }
}
