//! Map subscribers: entities connected to this monitor that asked for
//! maps. Each new epoch is pushed to each of them as the incrementals it
//! lacks; one whose push fails is dropped (it renews its subscription,
//! here or at another monitor, and catches up then).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use auth::EntityName;
use cluster::msg::msg_type;
use messenger::Message;

use super::Monitor;

#[derive(Default)]
pub struct Subscribers {
    /// Entity -> the epoch it has been sent.
    sent: Mutex<HashMap<EntityName, u32>>,
}

impl Subscribers {
    pub fn add(&self, who: EntityName, epoch: u32) {
        self.sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(who, epoch);
    }

    fn snapshot(&self) -> Vec<(EntityName, u32)> {
        self.sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    fn set(&self, who: &EntityName, epoch: Option<u32>) {
        let mut m = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        match epoch {
            Some(e) => {
                m.insert(who.clone(), e);
            }
            None => {
                m.remove(who);
            }
        }
    }
}

/// Pushes every new epoch to the subscribers, for as long as the monitor runs.
pub fn spawn_pusher(mon: Arc<Monitor>) {
    let mut rx = mon.shared.epoch.subscribe();
    tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let epoch = *rx.borrow_and_update();
            for (who, have) in mon.subscribers.snapshot() {
                if have >= epoch {
                    continue;
                }
                let update = mon.shared.read(|s| s.update_since(have));
                let msg = Message {
                    msg_type: msg_type::MAP_PUSH,
                    body: cluster::codec::encode(&update),
                    data: Vec::new(),
                };
                let r = mon.messenger.push(&who, &msg).await;
                mon.subscribers.set(&who, r.ok().map(|_| epoch));
            }
        }
    });
}
