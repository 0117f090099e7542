//! Splitting this PG when its pool's pg_num grows: the host calls
//! [`Pg::split`] before handing over the first epoch with the new count,
//! applies the store change (after every transaction this PG emitted
//! before), and runs the children; the next map event starts a new
//! interval for all of them.

use super::{Pg, Phase};
use crate::pg::split::split;
use crate::store::CollectionSplit;

impl Pg {
    /// The pool's PG count this copy's objects are split for (0: not
    /// recorded).
    pub fn split_for(&self) -> u32 {
        self.st.pg_num
    }

    /// Records the PG count of a copy from before PGs could split.
    pub fn set_split_for(&mut self, pg_num: u32) {
        if self.st.pg_num == 0 {
            self.st.pg_num = pg_num;
        }
    }

    /// Splits off the PGs that `pg_num` PGs create out of this one:
    /// returns the store change and the children, which stand where this
    /// PG stands (same epoch, not peered).
    pub fn split(&mut self, pg_num: u32) -> (CollectionSplit, Vec<Pg>) {
        let old = self.st.pg_num;
        let seeds = cluster::split_children(self.pgid.seed, old, pg_num);
        let sp = split(self.coll, &self.st, pg_num, &seeds);
        tracing::info!(
            pg = %self.pgid,
            "osd.{}: splitting for {pg_num} PGs (from {old}) into {:?}",
            self.me,
            seeds
        );
        self.st = sp.parent;
        let children = sp
            .children
            .into_iter()
            .map(|(seed, st)| {
                let id = cluster::PgId {
                    pool: self.pgid.pool,
                    seed,
                };
                let mut c = Pg::with_state(id, self.me, self.cfg.clone(), st, self.cur.clone());
                c.phase = Phase::Stray;
                c
            })
            .collect();
        (sp.store, children)
    }
}
