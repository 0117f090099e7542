//! The client side of the simulation: waking clients, placing their ops
//! on the primary their map shows, and checking each reply against the
//! model of acknowledged state (and that one primary acknowledges per
//! PG interval).

use osd::pg::engine::{ClientOp, OpReply};

use rand::Rng;

use super::{client, trace, Ev, Sim};

impl Sim {
    pub(super) fn client_wake(&mut self, client: u32) {
        let now = self.now;
        let c = &mut self.clients[client as usize];
        if let Some(p) = &c.pending {
            if now < p.sent_at + 1500 {
                return;
            }
            // Timed out: resend the same request.
        } else if !self.faults && self.now > self.cfg.fault_ms + 2000 {
            return; // Quiet at the end: let the cluster settle.
        } else {
            c.next_op(&mut self.rng, now);
        }
        self.send_op(client);
    }

    pub(super) fn send_op(&mut self, client: u32) {
        let now = self.now;
        let map = self.maps.latest().clone();
        let pg_of = |o: &osd::store::ObjectId| map.pg_of(o);
        let c = &mut self.clients[client as usize];
        let Some(p) = c.pending.as_mut() else { return };
        p.attempts += 1;
        p.sent_at = now;
        let pg = pg_of(&p.obj);
        let primary = map.pg_epoch(pg).primary;
        self.seq += 1;
        let handle = (u64::from(client) << 32) | (self.seq & 0xffff_ffff);
        p.handles.push(handle);
        let op = ClientOp {
            handle,
            reqid: p.reqid.clone(),
            obj: p.obj.clone(),
            ops: p.ops.clone(),
            data: p.data.clone(),
            epoch: map.epoch,
        };
        if primary >= 0 && !self.rng.random_bool(self.cfg.loss) {
            let gen = self.osds[primary as usize].gen;
            let d = self.net_delay();
            self.at(
                d,
                Ev::OpArrive {
                    osd: primary,
                    gen,
                    client,
                    op,
                },
            );
        }
        // Wake up to resend if nothing comes back.
        self.at(1600, Ev::ClientWake { client });
    }

    pub(super) fn on_reply(&mut self, client: u32, reply: OpReply, osd: i32) -> Result<(), String> {
        let c = &self.clients[client as usize];
        let Some(p) = &c.pending else { return Ok(()) };
        if !p.handles.contains(&reply.handle) {
            return Ok(()); // An answer to an op already done.
        }
        let pg = self.pg_of(&p.obj);
        let is_write = matches!(p.expect, client::Expect::Write(_));
        if is_write && reply.result.is_ok() {
            if let Some(prev) = self.ackers.insert((pg, reply.interval), osd) {
                if prev != osd {
                    return Err(format!(
                        "PG {pg} interval {}: writes acknowledged by osd.{prev} and osd.{osd}",
                        reply.interval
                    ));
                }
            }
        }
        trace!(
            self,
            "REPLY {} {} {:?} from osd.{osd} (interval {}): {:?}",
            p.reqid,
            p.obj.name,
            p.ops,
            reply.interval,
            reply
                .result
                .as_ref()
                .map(|d| d.version)
                .map_err(|e| e.error.message.clone())
        );
        let done = self.clients[client as usize]
            .on_reply(&reply)
            .map_err(|e| {
                format!(
                    "client.{client} at {} ms: {e}\n{}",
                    self.now,
                    self.describe()
                )
            })?;
        if done {
            let d = self.rng.random_range(0..20);
            self.at(d, Ev::ClientWake { client });
        } else {
            let d = self.rng.random_range(20..100);
            let c = &mut self.clients[client as usize];
            if let Some(p) = c.pending.as_mut() {
                p.sent_at = 0; // resend at the wake
            }
            self.at(d, Ev::ClientWake { client });
        }
        Ok(())
    }
}
