//! A replica's side: applying the primary's transactions, and answering
//! its peering queries.

use auth::EntityName;
use cluster::msg::msg_type;
use cluster::msg::osd::{PgQuery, PgQueryReply, RepOp, RepOpReply};
use cluster::msg::{ErrorCode, RemoteError};
use cluster::PgId;
use messenger::Message;

use super::{coll_of, ops, reply_msg, PgService};
use crate::store::{ObjectStore, Transaction};

impl PgService {
    /// A replica applying its primary's transaction.
    pub async fn handle_repop(&self, from: &EntityName, msg: &Message) -> Message {
        let r = self.apply_repop(from, msg).await;
        reply_msg(
            msg_type::REP_OP_REPLY,
            &RepOpReply { error: r.err() },
            Vec::new(),
        )
    }

    async fn apply_repop(&self, from: &EntityName, msg: &Message) -> Result<(), RemoteError> {
        let rep: RepOp = cluster::codec::decode("replica op", &msg.body)
            .map_err(|e| RemoteError::invalid(e.to_string()))?;
        if from.kind != auth::EntityKind::Osd {
            return Err(RemoteError::denied(format!(
                "{from} may not send replica ops"
            )));
        }
        let t: Transaction = cluster::codec::decode("replica transaction", &msg.data)
            .map_err(|e| RemoteError::invalid(e.to_string()))?;
        let pg = PgId {
            pool: rep.pool,
            seed: rep.pg_seed,
        };
        if t.coll != coll_of(pg) {
            return Err(RemoteError::invalid(format!(
                "transaction for {} sent as PG {pg}",
                t.coll
            )));
        }
        let lock = self.pg(pg);
        let mut st = lock.lock().await;
        self.ensure_pg(&mut st, pg)?;
        let info = t.info.clone();
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.submit(t))
            .await
            .map_err(|e| RemoteError::new(ErrorCode::Io, e.to_string()))?
            .map_err(ops::store_err)?;
        st.info = info;
        // A replica that takes writes from a primary is not the primary's
        // peer view; if it becomes primary it peers again.
        st.peered = None;
        Ok(())
    }

    pub async fn handle_query(&self, msg: &Message) -> Message {
        let r = async {
            let q: PgQuery = cluster::codec::decode("PG query", &msg.body)
                .map_err(|e| RemoteError::invalid(e.to_string()))?;
            let pg = PgId {
                pool: q.pool,
                seed: q.pg_seed,
            };
            let lock = self.pg(pg);
            let mut st = lock.lock().await;
            let i = self.ensure_pg(&mut st, pg)?;
            // Another OSD leads this PG now: whatever we peered is stale.
            st.peered = None;
            Ok::<_, RemoteError>((i.last_update.epoch, i.last_update.counter))
        }
        .await;
        let reply = match r {
            Ok(v) => PgQueryReply {
                error: None,
                last_update: v,
            },
            Err(e) => PgQueryReply {
                error: Some(e),
                last_update: (0, 0),
            },
        };
        reply_msg(msg_type::PG_QUERY_REPLY, &reply, Vec::new())
    }
}
