//! The monitor client: requests to whichever monitor answers (hunting
//! through the monmap when one does not), retries while there is no
//! leader, and a subscription that keeps the newest OSDMap in hand.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use auth::{Credentials, EntityName};
use cluster::msg::mon::{ClusterView, Done, MapUpdate, MonCommand, MonReply, MonRequest};
use cluster::msg::{msg_type, ErrorCode};
use cluster::OsdMap;
use messenger::{Handler, Limits, Message, Messenger, Request};
use tokio::sync::watch;

use crate::ClientError;

/// One attempt at one monitor waits at most this long for a connection,
/// and this long for the answer.
const CONNECT: Duration = Duration::from_millis(1500);
const ATTEMPT: Duration = Duration::from_secs(10);

pub struct MonClient {
    pub messenger: Arc<Messenger>,
    mons: Mutex<Vec<(String, SocketAddr)>>,
    current: AtomicUsize,
    timeout: Duration,
    map: watch::Sender<Option<Arc<OsdMap>>>,
}

/// A messenger handler that gives map pushes to the monitor client and
/// everything else to `inner` (if any).
#[derive(Default)]
pub struct PushHandler {
    pub client: OnceLock<Arc<MonClient>>,
    pub inner: OnceLock<Arc<dyn Handler>>,
}

impl Handler for PushHandler {
    fn handle(&self, req: Request) -> Pin<Box<dyn Future<Output = Option<Message>> + Send + '_>> {
        Box::pin(async move {
            if req.message.msg_type == msg_type::MAP_PUSH {
                // Only the monitors publish maps: anyone else's is ignored
                // (a client could otherwise make an OSD stop itself).
                if req.from.kind != auth::EntityKind::Mon {
                    tracing::warn!(from = %req.from, "ignoring a map pushed by a non-monitor");
                    return None;
                }
                if let Some(c) = self.client.get() {
                    match cluster::codec::decode::<MapUpdate>("map push", &req.message.body) {
                        // A gap is filled by the next renewal.
                        Ok(u) => {
                            if let Err(gap) = c.absorb(&u) {
                                tracing::debug!("map push: {gap}");
                            }
                        }
                        Err(e) => tracing::warn!(from = %req.from, "{e}"),
                    }
                }
                return None;
            }
            match self.inner.get() {
                Some(h) => h.handle(req).await,
                None => None,
            }
        })
    }
}

impl MonClient {
    /// A client for the monitors `mons` as `creds`, with its own messenger
    /// (listening on `bind`, or an ephemeral loopback/any port).
    pub fn new(
        creds: &Credentials,
        mons: Vec<(String, SocketAddr)>,
        timeout: Duration,
        bind: Option<SocketAddr>,
        inner: Option<Arc<dyn Handler>>,
    ) -> Result<Arc<MonClient>, ClientError> {
        if mons.is_empty() {
            return Err(ClientError::Config(
                "no monitors configured (mon_host is empty)".into(),
            ));
        }
        let bind = bind.unwrap_or_else(|| {
            if mons[0].1.ip().is_loopback() {
                "127.0.0.1:0".parse().expect("literal")
            } else if mons[0].1.is_ipv6() {
                "[::]:0".parse().expect("literal")
            } else {
                "0.0.0.0:0".parse().expect("literal")
            }
        });
        let handler = Arc::new(PushHandler::default());
        if let Some(i) = inner {
            let _ = handler.inner.set(i);
        }
        let messenger = Messenger::bind(bind, creds, handler.clone(), Limits::default())?;
        let start = rand::random::<u32>() as usize % mons.len();
        let c = Arc::new(MonClient {
            messenger,
            mons: Mutex::new(mons),
            current: AtomicUsize::new(start),
            timeout,
            map: watch::channel(None).0,
        });
        let _ = handler.client.set(c.clone());
        Ok(c)
    }

    /// From a config: its monitors, its timeout, and `creds`.
    pub fn from_options(
        opts: &config::Options,
        creds: &Credentials,
        bind: Option<SocketAddr>,
        inner: Option<Arc<dyn Handler>>,
    ) -> Result<Arc<MonClient>, ClientError> {
        MonClient::new(
            creds,
            opts.mons(),
            Duration::from_secs_f64(opts.client_mon_timeout),
            bind,
            inner,
        )
    }

    fn mons(&self) -> Vec<(String, SocketAddr)> {
        self.mons.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Sends `req` to a monitor and returns its answer, trying the others
    /// when one does not answer, and retrying while the quorum has no
    /// leader, until the client's timeout.
    pub async fn request(&self, req: &MonRequest) -> Result<MonReply, ClientError> {
        let deadline = Instant::now() + self.timeout;
        let mons = self.mons();
        let msg = Message {
            msg_type: msg_type::MON_REQUEST,
            body: cluster::codec::encode(req),
            data: Vec::new(),
        };
        let mut last = String::from("no attempt");
        let mut pause = Duration::from_millis(50);
        loop {
            let i = self.current.load(Ordering::Relaxed) % mons.len();
            let (name, addr) = &mons[i];
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let entity = EntityName::mon(name);
            let r = match self
                .messenger
                .connect(*addr, &entity, left.min(CONNECT))
                .await
            {
                Ok(()) => {
                    self.messenger
                        .request(*addr, &entity, &msg, left.min(ATTEMPT))
                        .await
                }
                Err(e) => Err(e),
            };
            match r {
                Ok(m) if m.msg_type == msg_type::MON_REPLY => {
                    let reply = cluster::codec::decode::<MonReply>("monitor reply", &m.body)
                        .map_err(|e| ClientError::Protocol {
                            from: format!("mon.{name}"),
                            what: e.to_string(),
                        })?;
                    match reply {
                        MonReply::Error(e) if e.code == ErrorCode::Again => {
                            last = format!("mon.{name}: {}", e.message);
                        }
                        other => return Ok(other),
                    }
                }
                Ok(m) => {
                    return Err(ClientError::Protocol {
                        from: format!("mon.{name}"),
                        what: format!("message type {}", m.msg_type),
                    })
                }
                // Another cluster, or a certificate it does not accept:
                // no other monitor will say otherwise.
                Err(e @ messenger::MessengerError::Handshake { .. }) => return Err(e.into()),
                Err(e) => {
                    last = e.to_string();
                    self.current.store(i + 1, Ordering::Relaxed);
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(pause.min(left)).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
        Err(ClientError::NoMonitor {
            secs: self.timeout.as_secs_f64(),
            tried: mons
                .iter()
                .map(|(n, a)| format!("mon.{n} at {a}"))
                .collect::<Vec<_>>()
                .join(", "),
            last,
        })
    }

    fn unexpected(what: &str, r: MonReply) -> ClientError {
        match r {
            MonReply::Error(e) => ClientError::Remote(e),
            other => ClientError::Protocol {
                from: "monitor".into(),
                what: format!("{what}: {other:?}"),
            },
        }
    }

    pub async fn command(&self, cmd: MonCommand) -> Result<Done, ClientError> {
        match self.request(&MonRequest::Command(cmd)).await? {
            MonReply::Done(d) => Ok(d),
            r => Err(Self::unexpected("command", r)),
        }
    }

    pub async fn status(&self) -> Result<ClusterView, ClientError> {
        match self.request(&MonRequest::Status).await? {
            MonReply::Status(v) => Ok(*v),
            r => Err(Self::unexpected("status", r)),
        }
    }

    /// The newest OSDMap this client has.
    pub fn osdmap(&self) -> Option<Arc<OsdMap>> {
        self.map.borrow().clone()
    }

    pub fn watch_map(&self) -> watch::Receiver<Option<Arc<OsdMap>>> {
        self.map.subscribe()
    }

    /// Applies an update to our map; an error means it does not follow
    /// from the epoch we have (a gap), and a full map is needed.
    fn absorb(&self, u: &MapUpdate) -> Result<(), String> {
        let cur = self.osdmap();
        let have = cur.as_ref().map_or(0, |m| m.epoch);
        let newest = [
            u.full.as_ref().map(|m| m.epoch),
            u.incrementals.last().map(|i| i.epoch),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0);
        if newest <= have {
            return Ok(());
        }
        let mut next = cur.map(|m| (*m).clone());
        u.apply_to(&mut next)?;
        if let Some(m) = next {
            self.map.send_replace(Some(Arc::new(m)));
        }
        Ok(())
    }

    async fn maps_since(&self, have: u32) -> Result<MapUpdate, ClientError> {
        match self.request(&MonRequest::Subscribe { have }).await? {
            MonReply::Maps(u) => Ok(*u),
            r => Err(Self::unexpected("subscribe", r)),
        }
    }

    /// Every epoch from `from` on, as the monitors still hold them: the
    /// full map at `from` (or the oldest held) and the incrementals after.
    pub async fn maps_from(&self, from: u32) -> Result<MapUpdate, ClientError> {
        match self.request(&MonRequest::GetMaps { from }).await? {
            MonReply::Maps(u) => Ok(*u),
            r => Err(Self::unexpected("get maps", r)),
        }
    }

    /// Fetches maps newer than ours once (a full map if ours cannot be
    /// brought forward).
    pub async fn refresh_map(&self) -> Result<Arc<OsdMap>, ClientError> {
        let have = self.osdmap().map_or(0, |m| m.epoch);
        if let Err(gap) = self.absorb(&self.maps_since(have).await?) {
            tracing::debug!("map update: {gap}; fetching a full map");
            self.absorb(&self.maps_since(0).await?)
                .map_err(|what| ClientError::Protocol {
                    from: "monitor".into(),
                    what,
                })?;
        }
        self.osdmap().ok_or_else(|| ClientError::Protocol {
            from: "monitor".into(),
            what: "no OSDMap in the subscription reply".into(),
        })
    }

    /// Keeps the map current: renews the subscription every `every` (the
    /// monitor pushes new epochs in between), moving to another monitor
    /// when one stops answering.
    pub fn keep_subscribed(self: &Arc<Self>, every: Duration) {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(c) = me.upgrade() else { return };
                if let Err(e) = c.refresh_map().await {
                    tracing::debug!("renewing the map subscription: {e}");
                }
                drop(c);
                tokio::time::sleep(every).await;
            }
        });
    }
}
