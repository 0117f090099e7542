//! Client capabilities on the OSD: a client's `osd '...'` caps come from
//! the monitors (asked once, then cached for [`CAPS_TTL`], so `auth rm` or
//! new caps reach the OSDs within that time) and are checked on every op
//! and listing: reads need `r` on the pool, writes `rw`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use auth::{Caps, EntityKind, EntityName};
use cluster::msg::mon::{MonReply, MonRequest};
use cluster::msg::RemoteError;
use monclient::MonClient;

/// How long an OSD trusts caps it fetched.
pub const CAPS_TTL: Duration = Duration::from_secs(30);

#[derive(Default)]
pub struct CapsCache {
    known: Mutex<HashMap<EntityName, (Option<Caps>, Instant)>>,
}

impl CapsCache {
    async fn caps_of(&self, mc: &MonClient, who: &EntityName) -> Result<Option<Caps>, RemoteError> {
        if let Some((c, at)) = self
            .known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(who)
        {
            if at.elapsed() < CAPS_TTL {
                return Ok(c.clone());
            }
        }
        let reply = mc
            .request(&MonRequest::AuthCaps {
                entity: who.to_string(),
            })
            .await
            .map_err(|e| {
                RemoteError::again(format!("checking {who}'s caps with the monitors: {e}"))
            })?;
        let caps = match reply {
            MonReply::Auth(list) => list.first().and_then(|a| Caps::parse(&a.caps).ok()),
            MonReply::Error(e) => {
                return Err(RemoteError::again(format!(
                    "checking {who}'s caps: {}",
                    e.message
                )))
            }
            _ => None,
        };
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(who.clone(), (caps.clone(), Instant::now()));
        Ok(caps)
    }

    /// May `who` read (or, with `write`, change) objects in `pool`?
    pub async fn check(
        &self,
        mc: &MonClient,
        who: &EntityName,
        pool: &str,
        write: bool,
    ) -> Result<(), RemoteError> {
        match who.kind {
            EntityKind::Mon | EntityKind::Osd => Ok(()),
            EntityKind::Client => match self.caps_of(mc, who).await? {
                None => Err(RemoteError::denied(format!(
                    "{who} is not a known entity (never created, or removed with auth rm)"
                ))),
                Some(c) if c.osd_allows(pool, write) => Ok(()),
                Some(c) => Err(RemoteError::denied(format!(
                    "{who} may not {} pool '{pool}' (caps \"{c}\")",
                    if write { "write to" } else { "read" }
                ))),
            },
        }
    }
}
