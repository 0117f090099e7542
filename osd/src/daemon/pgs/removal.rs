//! Removing a PG's copy from this OSD once it is no longer needed (its
//! pool is gone, or the PG is clean on other OSDs without it): throttled,
//! and safe against kill -9 halfway. First a durable "removing" mark, then
//! the objects in batches through the store writer (so that they follow
//! whatever the PG queued before its task ended), a pause between
//! batches, then the collection. At start the OSD resumes every
//! collection with the mark instead of loading it; a PG the map gives
//! back to this OSD meanwhile is created anew once its old copy is gone.

use std::sync::Arc;

use cluster::{PgId, Version};
use tokio::sync::{mpsc, oneshot};

use super::PgHost;
use crate::daemon::background::{Worker, WorkerState};
use crate::pg::info::meta;
use crate::store::{CollectionId, ObjectStore, Op, StoreError, Transaction};

/// Objects removed per transaction.
const BATCH: usize = 256;

/// The background worker removing the PG copies handed to it, one at a
/// time, a batch per step.
pub(super) struct Remover {
    host: Arc<PgHost>,
    rx: mpsc::UnboundedReceiver<PgId>,
    /// The copy being removed, and whether its mark is durable.
    current: Option<(PgId, bool)>,
}

impl Remover {
    pub(super) fn new(host: Arc<PgHost>, rx: mpsc::UnboundedReceiver<PgId>) -> Self {
        Remover {
            host,
            rx,
            current: None,
        }
    }

    /// One step of removing `pg`: the mark, a batch, or the collection.
    /// `Ok(true)` when the copy is gone.
    async fn step(&mut self, pg: PgId, marked: bool) -> Result<bool, StoreError> {
        let c = CollectionId::new(pg.pool, pg.seed);
        let store = self.host.shared.store.clone();
        if !store.collection_exists(&c)? {
            return Ok(true);
        }
        if !marked {
            let mut mark = Transaction::new(c, Version::ZERO);
            mark.meta.push(meta::removing());
            self.host.write(mark).await?;
            self.current = Some((pg, true));
            return Ok(false);
        }
        let s = store.clone();
        let page = tokio::task::spawn_blocking(move || s.list_objects(&c, None, BATCH))
            .await
            .map_err(|e| StoreError::Invalid(format!("listing task failed: {e}")))??;
        if page.objects.is_empty() {
            tokio::task::spawn_blocking(move || store.remove_collection(&c))
                .await
                .map_err(|e| StoreError::Invalid(format!("removal task failed: {e}")))??;
            return Ok(true);
        }
        let mut t = Transaction::new(c, Version::ZERO);
        t.ops = page
            .objects
            .into_iter()
            .map(|obj| Op::Discard { obj })
            .collect();
        self.host.write(t).await?;
        Ok(false)
    }

    /// The copy is gone: the PG may be created again.
    async fn finished(&self, pg: PgId) {
        let me = &self.host;
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
}

impl Worker for Remover {
    fn name(&self) -> &'static str {
        "pg_removal"
    }

    async fn work(&mut self) -> WorkerState {
        let (pg, marked) = match self.current {
            Some(c) => c,
            None => {
                let Ok(pg) = self.rx.try_recv() else {
                    return WorkerState::Idle;
                };
                self.pending(pg);
                (pg, false)
            }
        };
        match self.step(pg, marked).await {
            Ok(true) => {
                self.current = None;
                self.finished(pg).await;
                WorkerState::Busy
            }
            Ok(false) if self.host.timing.delete_pause.is_zero() => WorkerState::Busy,
            Ok(false) => WorkerState::Throttled(self.host.timing.delete_pause),
            Err(e) => {
                self.host
                    .shared
                    .fatal(format!("removing PG {pg} from this OSD: {e}"));
                WorkerState::Done
            }
        }
    }

    async fn wait_for_work(&mut self) {
        if let Some(pg) = self.rx.recv().await {
            // Taken from the queue: started on the next step.
            self.pending(pg);
        }
    }
}

impl Remover {
    fn pending(&mut self, pg: PgId) {
        {
            let mut pgs = self.host.pgs.lock().unwrap_or_else(|p| p.into_inner());
            if pgs.get(&pg).is_some_and(|t| t.is_closed()) {
                pgs.remove(&pg);
            }
        }
        self.host.update_pg_metrics();
        self.current = Some((pg, false));
    }
}

impl PgHost {
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
