//! The monitor service: answers requests arriving over the messenger.
//! Reads are served from this monitor's applied state; changes are
//! proposed to Raft by the leader (a follower forwards them, and the
//! failure reports and status requests that need the leader's view).

pub mod authz;
pub mod failure;
mod map_trim;
mod recovery_rate;
mod status;
mod subscribe;
mod ticker;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use auth::{ClusterCa, Credentials, EntityKind, EntityName};
use cluster::msg::mon::{AuthInfo, Done, Forwarded, MonCommand, MonReply, MonRequest};
use cluster::msg::{msg_type, RemoteError};
use cluster::MonMap;
use config::Options;
use messenger::{Handler, Message, Messenger, Request};

use crate::raft::network::PeerContact;
use crate::raft::state_machine::Shared;
use crate::raft::{MonRaft, Proposal};
use crate::state::{ClusterOp, OpKind, OpOutcome, PoolDefaults};

pub use subscribe::Subscribers;

/// Starts the map pusher and the ticker (bootstrap, failure detection,
/// metrics).
pub fn start_background(mon: Arc<Monitor>, seed: crate::state::Seed) {
    subscribe::spawn_pusher(mon.clone());
    ticker::spawn(mon, seed);
}

/// The latest report of each PG, by (pool, seed): the stat, when it came,
/// and which OSD sent it.
pub type PgReports =
    std::collections::HashMap<(u64, u32), (cluster::msg::mon::PgStat, Instant, u32)>;

pub struct Monitor {
    pub name: String,
    pub rank: u64,
    pub monmap: MonMap,
    pub opts: Options,
    pub raft: MonRaft,
    pub shared: Arc<Shared>,
    pub messenger: Arc<Messenger>,
    pub ca: ClusterCa,
    pub contact: Arc<PeerContact>,
    pub detector: Mutex<Option<failure::Detector>>,
    /// A failure report arrived: the ticker runs the detector at once.
    pub detector_poke: tokio::sync::Notify,
    pub subscribers: Subscribers,
    /// The primaries' latest PG reports (kept by the leader, in memory,
    /// as Ceph's manager keeps them): by (pool, seed), with when and who.
    pub pg_stats: Mutex<PgReports>,
    /// Recovery rate and progress, from the same reports.
    pub recovery: Mutex<recovery_rate::RecoveryTracker>,
    /// Each OSD's last space report, with when it came.
    pub osd_stats: Mutex<std::collections::BTreeMap<u32, (cluster::msg::mon::OsdStat, Instant)>>,
}

/// The messenger's handler; the monitor is set once it exists (the
/// messenger has to be bound first, to give Raft its network).
#[derive(Default)]
pub struct MonHandler(pub OnceLock<Arc<Monitor>>);

impl Handler for MonHandler {
    fn handle(&self, req: Request) -> Pin<Box<dyn Future<Output = Option<Message>> + Send + '_>> {
        Box::pin(async move {
            let mon = self.0.get()?.clone();
            mon.handle(req).await
        })
    }
}

/// How long a follower waits for the leader to answer a forwarded request.
/// Short: a leader that died leaves the follower pointing at it until the
/// election, and the client retries (at a monitor that knows the new
/// leader) sooner than a stale connection would time out.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(3);

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn reply(r: &MonReply) -> Message {
    Message {
        msg_type: msg_type::MON_REPLY,
        body: cluster::codec::encode(r),
        data: Vec::new(),
    }
}

impl Monitor {
    async fn handle(self: Arc<Self>, req: Request) -> Option<Message> {
        let from = req.from;
        let m = req.message;
        match m.msg_type {
            msg_type::RAFT_APPEND | msg_type::RAFT_VOTE | msg_type::RAFT_SNAPSHOT => {
                if from.kind != EntityKind::Mon {
                    tracing::warn!(peer = %from, "refusing a Raft RPC from a non-monitor");
                    return None;
                }
                match crate::raft::network::serve(&self.raft, &m).await {
                    Ok(body) => Some(Message {
                        msg_type: msg_type::RAFT_REPLY,
                        body,
                        data: Vec::new(),
                    }),
                    Err(e) => {
                        tracing::warn!(peer = %from, "bad Raft RPC: {e}");
                        None
                    }
                }
            }
            msg_type::MON_REQUEST => {
                let r = match cluster::codec::decode::<MonRequest>("monitor request", &m.body) {
                    Ok(request) => self.serve(&from, request).await,
                    Err(e) => MonReply::Error(RemoteError::invalid(e.to_string())),
                };
                Some(reply(&r))
            }
            msg_type::MON_FORWARD => {
                if from.kind != EntityKind::Mon {
                    return Some(reply(&MonReply::Error(RemoteError::denied(format!(
                        "{from} may not forward requests"
                    )))));
                }
                let r = match cluster::codec::decode::<Forwarded>("forwarded request", &m.body) {
                    Ok(f) => match f.from.parse::<EntityName>() {
                        Ok(orig) => self.serve(&orig, f.request).await,
                        Err(e) => MonReply::Error(RemoteError::invalid(e.to_string())),
                    },
                    Err(e) => MonReply::Error(RemoteError::invalid(e.to_string())),
                };
                Some(reply(&r))
            }
            other => {
                tracing::warn!(peer = %from, "unexpected message type {other}");
                None
            }
        }
    }

    async fn serve(self: &Arc<Self>, from: &EntityName, req: MonRequest) -> MonReply {
        let authz = self.shared.read(|s| authz::authorize(s, from, &req));
        if let Err(e) = authz {
            return MonReply::Error(e);
        }
        match req {
            MonRequest::AuthList => MonReply::Auth(self.shared.read(|s| {
                s.auth
                    .iter()
                    .map(|(k, v)| AuthInfo {
                        entity: k.clone(),
                        caps: v.caps.clone(),
                    })
                    .collect()
            })),
            MonRequest::AuthCaps { entity } => MonReply::Auth(self.shared.read(|s| {
                s.auth
                    .get(&entity)
                    .map(|r| AuthInfo {
                        entity: entity.clone(),
                        caps: r.caps.clone(),
                    })
                    .into_iter()
                    .collect()
            })),
            MonRequest::AuthGet { entity } => match self.keyring_of(&entity) {
                Some(k) => MonReply::Done(Done {
                    message: format!("keyring of {entity}"),
                    keyring: Some(k),
                    ..Default::default()
                }),
                None => MonReply::Error(RemoteError::not_found(format!(
                    "entity {entity} does not exist"
                ))),
            },
            MonRequest::Subscribe { have } => {
                let u = self.shared.read(|s| s.update_since(have));
                let now = u
                    .full
                    .as_ref()
                    .map(|m| m.epoch)
                    .or(u.incrementals.last().map(|i| i.epoch))
                    .unwrap_or(have);
                self.subscribers.add(from.clone(), now);
                MonReply::Maps(Box::new(u))
            }
            MonRequest::GetMaps { from } => {
                MonReply::Maps(Box::new(self.shared.read(|s| s.maps_from(from))))
            }
            MonRequest::Status => match self.leader_or_forward(from, MonRequest::Status).await {
                Ok(()) => MonReply::Status(Box::new(self.view())),
                Err(r) => r,
            },
            MonRequest::Beacon { osd, epoch } => {
                let req = MonRequest::Beacon { osd, epoch };
                if let Err(r) = self.leader_or_forward(from, req).await {
                    return r;
                }
                if let Some(d) = self.detector().as_mut() {
                    d.beacon(osd, Instant::now());
                }
                MonReply::Done(Done::default())
            }
            MonRequest::Failure {
                target,
                reporter,
                failed_for_ms,
            } => {
                let req = MonRequest::Failure {
                    target,
                    reporter,
                    failed_for_ms,
                };
                if let Err(r) = self.leader_or_forward(from, req).await {
                    return r;
                }
                if let Some(d) = self.detector().as_mut() {
                    d.report(target, reporter, failed_for_ms, Instant::now());
                }
                self.detector_poke.notify_one();
                MonReply::Done(Done::default())
            }
            MonRequest::PgStats {
                osd,
                epoch,
                osd_stat,
                stats,
            } => {
                let req = MonRequest::PgStats {
                    osd,
                    epoch,
                    osd_stat,
                    stats,
                };
                if let Err(r) = self.leader_or_forward(from, req.clone()).await {
                    return r;
                }
                let MonRequest::PgStats {
                    osd,
                    stats,
                    osd_stat,
                    ..
                } = req
                else {
                    unreachable!("built above")
                };
                let now = Instant::now();
                self.osd_stats
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(osd, (osd_stat, now));
                {
                    let mut r = self.recovery.lock().unwrap_or_else(|p| p.into_inner());
                    for s in &stats {
                        r.record(osd, s, now);
                    }
                }
                let mut all = self.pg_stats.lock().unwrap_or_else(|p| p.into_inner());
                for s in stats {
                    all.insert((s.pool, s.seed), (s, now, osd));
                }
                MonReply::Done(Done::default())
            }
            MonRequest::Command(cmd) => {
                if let Err(r) = self
                    .leader_or_forward(from, MonRequest::Command(cmd.clone()))
                    .await
                {
                    return r;
                }
                match self.run_command(cmd).await {
                    Ok(d) => MonReply::Done(d),
                    Err(e) => MonReply::Error(e),
                }
            }
        }
    }

    fn detector(&self) -> std::sync::MutexGuard<'_, Option<failure::Detector>> {
        self.detector.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Ok` when this monitor leads; otherwise the leader's answer to the
    /// forwarded request.
    async fn leader_or_forward(&self, from: &EntityName, req: MonRequest) -> Result<(), MonReply> {
        let leader = self.raft.current_leader().await;
        match leader {
            Some(l) if l == self.rank => Ok(()),
            Some(l) => Err(self.forward(l, from, req).await),
            None => Err(MonReply::Error(RemoteError::again(
                "no monitor quorum: no leader is elected yet",
            ))),
        }
    }

    async fn forward(&self, leader: u64, from: &EntityName, request: MonRequest) -> MonReply {
        let Some(info) = self.monmap.by_rank(leader) else {
            return MonReply::Error(RemoteError::again(format!(
                "leader rank {leader} is not in the monmap"
            )));
        };
        let Ok(addr) = info.addr.parse::<SocketAddr>() else {
            return MonReply::Error(RemoteError::again(format!(
                "mon.{} has a bad address {}",
                info.name, info.addr
            )));
        };
        let body = cluster::codec::encode(&Forwarded {
            from: from.to_string(),
            request,
        });
        let msg = Message {
            msg_type: msg_type::MON_FORWARD,
            body,
            data: Vec::new(),
        };
        let to = EntityName::mon(&info.name);
        let sent = match self
            .messenger
            .connect(addr, &to, Duration::from_secs(1))
            .await
        {
            Ok(()) => {
                self.messenger
                    .request(addr, &to, &msg, FORWARD_TIMEOUT)
                    .await
            }
            Err(e) => Err(e),
        };
        match sent {
            Ok(r) => cluster::codec::decode::<MonReply>("monitor reply", &r.body)
                .unwrap_or_else(|e| MonReply::Error(RemoteError::again(e.to_string()))),
            Err(e) => MonReply::Error(RemoteError::again(format!(
                "forwarding to the leader mon.{}: {e}",
                info.name
            ))),
        }
    }

    fn pool_defaults(&self) -> PoolDefaults {
        PoolDefaults {
            size: self.opts.osd_pool_default_size,
            min_size: self.opts.default_min_size(),
        }
    }

    /// Proposes an op and waits until it is committed and applied here.
    pub async fn propose(&self, kind: OpKind) -> Result<Done, RemoteError> {
        let op = ClusterOp {
            now_ms: now_ms(),
            kind,
        };
        let p = Proposal(cluster::codec::encode(&op));
        match self.raft.client_write(p).await {
            Ok(resp) => match cluster::codec::decode::<OpOutcome>("outcome", &resp.data.0) {
                Ok(OpOutcome::Ok(d)) => Ok(d),
                Ok(OpOutcome::Err(e)) => Err(e),
                Err(e) => Err(RemoteError::new(cluster::msg::ErrorCode::Io, e.to_string())),
            },
            Err(e) => Err(RemoteError::again(format!(
                "the monitors could not commit the change (retry): {e}"
            ))),
        }
    }

    async fn run_command(&self, cmd: MonCommand) -> Result<Done, RemoteError> {
        let mut issued = None;
        if let MonCommand::AuthGetOrCreate { entity, .. } = &cmd {
            let name: EntityName = entity
                .parse()
                .map_err(|e: auth::AuthError| RemoteError::invalid(e.to_string()))?;
            if self.shared.read(|s| !s.auth.contains_key(entity)) {
                let c = self
                    .ca
                    .issue(&name)
                    .map_err(|e| RemoteError::new(cluster::msg::ErrorCode::Io, e.to_string()))?;
                issued = Some((c.cert_pem, c.key_pem));
            }
        }
        let kind = OpKind::Command {
            cmd: cmd.clone(),
            issued,
            pool_defaults: self.pool_defaults(),
        };
        let mut done = self.propose(kind).await?;
        match &cmd {
            MonCommand::AuthGetOrCreate { entity, .. } => {
                done.keyring = self.keyring_of(entity);
            }
            MonCommand::OsdNew { .. } => {
                let id = done.osd_id.expect("OsdNew returns an id");
                let c = self
                    .ca
                    .issue(&EntityName::osd(id))
                    .map_err(|e| RemoteError::new(cluster::msg::ErrorCode::Io, e.to_string()))?;
                done.keyring = Some(c.to_keyring());
            }
            MonCommand::OsdBoot { id, .. } => {
                if let Some(d) = self.detector().as_mut() {
                    d.booted(*id, Instant::now());
                }
            }
            _ => {}
        }
        Ok(done)
    }

    fn keyring_of(&self, entity: &str) -> Option<String> {
        let name: EntityName = entity.parse().ok()?;
        self.shared.read(|s| {
            let r = s.auth.get(entity)?;
            Some(
                Credentials {
                    entity: name,
                    fsid: s.osdmap.fsid.clone(),
                    cert_pem: r.cert_pem.clone(),
                    key_pem: r.key_pem.clone(),
                    ca_pem: self.ca.cert_pem().to_string(),
                }
                .to_keyring(),
            )
        })
    }
}
