//! Removing a PG's copy from this OSD once it is no longer needed (its
//! pool is gone, or the PG is clean on other OSDs without it): throttled,
//! and safe against kill -9 halfway. First a durable "removing" mark, then
//! the objects in batches through the store writer (so that they follow
//! whatever the PG queued before its task ended), a pause between
//! batches, then the collection. At start the OSD resumes every
//! collection with the mark instead of loading it; a PG the map gives
//! back to this OSD meanwhile is created anew once its old copy is gone.

use std::sync::Arc;
use std::time::Duration;

use cluster::{PgId, Version};
use tokio::sync::{mpsc, oneshot};

use super::PgHost;
use crate::pg::info::meta;
use crate::store::{CollectionId, ObjectStore, Op, StoreError, Transaction};

/// Objects removed per transaction.
const BATCH: usize = 256;

impl PgHost {
    /// Starts the worker that removes the PGs handed to it, one at a time.
    pub(super) fn spawn_remover(
        self: &Arc<Self>,
        mut rx: mpsc::UnboundedReceiver<PgId>,
        pause: Duration,
    ) {
        let me = self.clone();
        tokio::spawn(async move {
            while let Some(pg) = rx.recv().await {
                {
                    let mut pgs = me.pgs.lock().unwrap_or_else(|p| p.into_inner());
                    if pgs.get(&pg).is_some_and(|t| t.is_closed()) {
                        pgs.remove(&pg);
                    }
                }
                me.update_pg_metrics();
                if let Err(e) = me.remove_copy(pg, pause).await {
                    me.shared
                        .fatal(format!("removing PG {pg} from this OSD: {e}"));
                    return;
                }
                tracing::info!("PG {pg}: copy removed from osd.{}", me.shared.id);
                me.shared
                    .removing
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&pg);
                me.update_pg_metrics();
                // The map may have made this OSD a member again meanwhile.
                let maps = me.maps.lock().await;
                if let Some(v) = maps.latest().cloned() {
                    me.create_new(&maps, &v);
                }
            }
        });
    }

    async fn remove_copy(&self, pg: PgId, pause: Duration) -> Result<(), StoreError> {
        let c = CollectionId::new(pg.pool, pg.seed);
        let store = self.shared.store.clone();
        if !store.collection_exists(&c)? {
            return Ok(());
        }
        let mut mark = Transaction::new(c, Version::ZERO);
        mark.meta.push(meta::removing());
        self.write(mark).await?;
        loop {
            let s = store.clone();
            let page = tokio::task::spawn_blocking(move || s.list_objects(&c, None, BATCH))
                .await
                .map_err(|e| StoreError::Invalid(format!("listing task failed: {e}")))??;
            if page.objects.is_empty() {
                break;
            }
            let mut t = Transaction::new(c, Version::ZERO);
            t.ops = page
                .objects
                .into_iter()
                .map(|obj| Op::Discard { obj })
                .collect();
            self.write(t).await?;
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
        }
        tokio::task::spawn_blocking(move || store.remove_collection(&c))
            .await
            .map_err(|e| StoreError::Invalid(format!("removal task failed: {e}")))?
    }

    /// Applies one transaction through the store writer and waits for it.
    async fn write(&self, t: Transaction) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.shared.writer.submit(
            t,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.await.map_err(|_| StoreError::Closed)?
    }
}
