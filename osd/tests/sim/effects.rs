//! Carrying out a PG engine's effects in the simulation: store
//! transactions queue on the OSD's store (applied later, in order, lost
//! on a crash), messages and replies go through the faulty network,
//! up_thru and pg_temp requests reach the map sequencer after a delay,
//! and backfill slots come from the OSD's reservers.

use ::cluster::PgId;
use osd::pg::engine::{Effect, ResKind};
use osd::store::ObjectStore;
use rand::Rng;

use super::{coll, trace, Ev, Sim};

impl Sim {
    pub(super) fn kick_store(&mut self, osd: i32) {
        let o = &mut self.osds[osd as usize];
        if !o.applying && !o.queue.is_empty() {
            o.applying = true;
            let gen = o.gen;
            let d = self.rng.random_range(0..4);
            self.at(d, Ev::StoreApply { osd, gen });
        }
    }

    pub(super) fn run_effects(
        &mut self,
        osd: i32,
        pg: PgId,
        effects: Vec<Effect>,
    ) -> Result<(), String> {
        for e in effects {
            match e {
                Effect::Send { to, env } => self.send(osd, to, env),
                Effect::Broadcast { to, env } => {
                    for t in to {
                        self.send(osd, t, (*env).clone());
                    }
                }
                Effect::Store { id, txn } => {
                    self.osds[osd as usize].queue.push_back((pg, id, txn));
                    self.kick_store(osd);
                }
                Effect::Reply(r) => {
                    let client = (r.handle >> 32) as u32;
                    let d = self.net_delay();
                    if !self.rng.random_bool(self.cfg.loss) {
                        self.at(
                            d,
                            Ev::OpReply {
                                client,
                                reply: r,
                                osd,
                            },
                        );
                    }
                }
                Effect::UpThru { epoch } => {
                    let d = self.rng.random_range(5..60);
                    self.at(d, Ev::UpThru { osd, epoch });
                }
                Effect::PgTemp { want } => {
                    let d = self.rng.random_range(5..60);
                    self.at(d, Ev::PgTemp { osd, pg, want });
                }
                Effect::Reserve { kind, prio, id } => {
                    let granted = self.osds[osd as usize].reserver(kind).request(pg, prio, id);
                    self.granted(osd, kind, granted);
                }
                Effect::Unreserve { kind } => {
                    let granted = self.osds[osd as usize].reserver(kind).release(pg);
                    self.granted(osd, kind, granted);
                }
                Effect::WantTurn { .. } => {
                    let gen = self.osds[osd as usize].gen;
                    let d = self.rng.random_range(0..20);
                    self.at(d, Ev::Turn { osd, gen, pg });
                }
                Effect::Spent { bytes } => self.stats.recovery_bytes += bytes,
                Effect::Delete => {
                    trace!(self, "DELETE osd.{osd} PG {pg}");
                    self.stats.strays_removed += 1;
                    for kind in [ResKind::Local, ResKind::Remote] {
                        let granted = self.osds[osd as usize].reserver(kind).release(pg);
                        self.granted(osd, kind, granted);
                    }
                    let o = &mut self.osds[osd as usize];
                    o.pgs.remove(&pg);
                    o.queue.retain(|(p, _, _)| *p != pg);
                    o.store
                        .remove_collection(&coll(pg))
                        .map_err(|e| format!("osd.{osd} removing PG {pg}: {e}"))?;
                }
            }
        }
        Ok(())
    }

    /// Tells the PGs an OSD's reserver granted, a moment later.
    pub(super) fn granted(&mut self, osd: i32, kind: ResKind, granted: Vec<(PgId, u64)>) {
        let gen = self.osds[osd as usize].gen;
        for (pg, id) in granted {
            let d = self.rng.random_range(0..5);
            self.at(
                d,
                Ev::Reserved {
                    osd,
                    gen,
                    pg,
                    kind,
                    id,
                },
            );
        }
    }
}
