//! Heartbeats between OSDs. Each OSD pings up to [`MAX_PEERS`] up peers
//! (its neighbours by id, so every OSD is watched by several others)
//! every `osd_heartbeat_interval`. A peer silent for longer than
//! `osd_heartbeat_grace` is reported to the monitors, again each interval
//! while it stays silent (reports go stale at the monitors otherwise); a
//! reported peer that answers again has its report withdrawn.
//!
//! A peer whose process is gone is found sooner (Ceph's
//! `osd_fast_fail_on_connection_refused`): every OSD also listens on TCP
//! at its QUIC port number ([`serve_liveness`], accepting and closing),
//! and twice a second each peer gets a TCP connect there. A live process
//! accepts; when the process is gone its host's kernel refuses at once
//! (a reset), and the peer is reported. TCP, because a UDP probe relies
//! on ICMP "port unreachable", which the kernel rate-limits: after a
//! kill the surviving peers' QUIC packets to the dead port used up that
//! budget and probes went unanswered for seconds (measured).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use auth::EntityName;
use cluster::msg::mon::{MonRequest, Ping};
use cluster::msg::msg_type;
use cluster::OsdMap;
use messenger::Message;
use monclient::MonClient;

/// How many peers one OSD watches.
pub const MAX_PEERS: usize = 10;

/// The peers `me` pings: the next up OSDs after it by id, wrapping.
pub fn peers_of(map: &OsdMap, me: u32) -> Vec<u32> {
    let up: Vec<u32> = map
        .osds
        .values()
        .filter(|o| o.up && o.id != me)
        .map(|o| o.id)
        .collect();
    let start = up.iter().position(|id| *id > me).unwrap_or(0);
    (0..up.len().min(MAX_PEERS))
        .map(|i| up[(start + i) % up.len()])
        .collect()
}

pub fn ping_message(me: u32, epoch: u32, ty: u16, stamp_ms: u64) -> Message {
    Message {
        msg_type: ty,
        body: cluster::codec::encode(&Ping {
            from: me,
            epoch,
            stamp_ms,
        }),
        data: Vec::new(),
    }
}

#[derive(Clone)]
pub struct Heartbeat {
    pub me: u32,
    pub mc: Arc<MonClient>,
    pub interval: Duration,
    pub grace: Duration,
    /// Probe peers' ports twice a second and report a closed one at once.
    pub fast_fail: bool,
}

/// How often peers' ports are probed, and how long a probe waits for a
/// refusal.
const PROBE_EVERY: Duration = Duration::from_millis(500);
const PROBE_WAIT: Duration = Duration::from_millis(200);

/// Whether `addr`'s host refuses a TCP connection at once (nothing
/// listens there: the OSD's process is gone). A timeout or any other
/// error says nothing.
pub async fn port_closed(addr: SocketAddr) -> bool {
    matches!(
        tokio::time::timeout(PROBE_WAIT, tokio::net::TcpStream::connect(addr)).await,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused
    )
}

/// Listens on TCP at `addr` (the OSD's QUIC address) so that peers can
/// tell a live process from a dead one; connections are closed at once.
/// Fails only if the listener cannot be bound.
pub async fn serve_liveness(addr: SocketAddr) -> std::io::Result<()> {
    let l = tokio::net::TcpListener::bind(addr).await?;
    tokio::spawn(async move {
        loop {
            match l.accept().await {
                Ok((conn, _)) => drop(conn),
                Err(e) => {
                    tracing::debug!("liveness port: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(())
}

impl Heartbeat {
    pub fn spawn(self) {
        // Peers reported and not yet seen alive again (by either loop).
        let reported = Arc::new(Mutex::new(HashSet::new()));
        if self.fast_fail {
            // Its own loop: a ping round waits up to a heartbeat interval
            // for a peer that just died, and probes must not wait for it.
            let (hb, reported) = (self.clone(), reported.clone());
            tokio::spawn(async move { hb.probe_loop(reported).await });
        }
        tokio::spawn(async move { self.run(reported).await });
    }

    async fn probe_loop(self, reported: Arc<Mutex<HashSet<u32>>>) {
        let mut probe = tokio::time::interval(PROBE_EVERY);
        probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            probe.tick().await;
            if let Some(map) = self.mc.osdmap() {
                self.probe_ports(&map, &reported).await;
            }
        }
    }

    async fn run(self, reported: Arc<Mutex<HashSet<u32>>>) {
        // Per peer: when it last answered (or when we started watching it).
        let mut last: HashMap<u32, Instant> = HashMap::new();
        let mut up_from: HashMap<u32, u32> = HashMap::new();
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let lock = || reported.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            tick.tick().await;
            let Some(map) = self.mc.osdmap() else {
                continue;
            };
            let peers = peers_of(&map, self.me);
            let now = Instant::now();
            for p in &peers {
                let o = &map.osds[p];
                // A peer that (re)booted gets a fresh grace.
                if up_from.insert(*p, o.up_from) != Some(o.up_from) {
                    last.insert(*p, now);
                    lock().remove(p);
                }
            }
            last.retain(|p, _| peers.contains(p));
            let pings = peers.iter().copied().filter_map(|p| {
                let addr: SocketAddr = map.osds[&p].addr.parse().ok()?;
                let msg = ping_message(self.me, map.epoch, msg_type::OSD_PING, 0);
                let m = self.mc.messenger.clone();
                let timeout = self.interval.min(self.grace);
                Some(async move {
                    let r = m.request(addr, &EntityName::osd(p), &msg, timeout).await;
                    (p, r.is_ok_and(|m| m.msg_type == msg_type::OSD_PING_REPLY))
                })
            });
            let results = futures_join(pings.collect()).await;
            let now = Instant::now();
            for (peer, ok) in results {
                if ok {
                    last.insert(peer, now);
                    let withdraw = lock().remove(&peer);
                    if withdraw {
                        self.report(peer, 0).await;
                    }
                    continue;
                }
                let silent = now.duration_since(*last.get(&peer).unwrap_or(&now));
                if silent > self.grace {
                    tracing::info!(
                        "osd.{peer} has not answered heartbeats for {silent:?}; reporting it"
                    );
                    lock().insert(peer);
                    self.report(peer, silent.as_millis().max(1) as u64).await;
                }
            }
        }
    }

    /// Reports at once the peers whose port is closed (their process is
    /// gone); `reported` makes the next answered ping withdraw it.
    async fn probe_ports(&self, map: &OsdMap, reported: &Mutex<HashSet<u32>>) {
        let skip: HashSet<u32> = reported.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let probes = peers_of(map, self.me).into_iter().filter_map(|p| {
            let o = &map.osds[&p];
            // Not already reported. (A peer listens on its liveness port
            // before it boots, so a peer up in the map that refuses is
            // dead, however recently it came up.)
            if skip.contains(&p) {
                return None;
            }
            let addr: SocketAddr = o.addr.parse().ok()?;
            Some(async move { (p, port_closed(addr).await) })
        });
        for (peer, closed) in futures_join(probes.collect()).await {
            if closed {
                tracing::info!(
                    "osd.{peer} refuses connections (its process is gone); reporting it"
                );
                reported
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(peer);
                self.report(peer, 1).await;
            }
        }
    }

    async fn report(&self, target: u32, failed_for_ms: u64) {
        let req = MonRequest::Failure {
            target,
            reporter: self.me,
            failed_for_ms,
        };
        if let Err(e) = self.mc.request(&req).await {
            tracing::warn!("reporting osd.{target} to the monitors: {e}");
        }
    }
}

/// Runs futures concurrently and collects their outputs.
async fn futures_join<F: std::future::Future + Send + 'static>(fs: Vec<F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = fs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        if let Ok(v) = h.await {
            out.push(v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cluster::osdmap::{OsdInfo, REWEIGHT_IN};

    #[tokio::test]
    async fn a_closed_port_is_told_from_a_live_one() {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let live_addr = probe.local_addr().unwrap();
        drop(probe);
        serve_liveness(live_addr).await.unwrap();
        assert!(!port_closed(live_addr).await, "a served port is not closed");
        let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let gone_addr = gone.local_addr().unwrap();
        drop(gone);
        assert!(
            port_closed(gone_addr).await,
            "nobody listens on {gone_addr}"
        );
    }

    #[test]
    fn peers_are_the_next_up_osds() {
        let mut m = OsdMap::default();
        for id in 0..14u32 {
            m.osds.insert(
                id,
                OsdInfo {
                    id,
                    uuid: String::new(),
                    addr: String::new(),
                    hostname: String::new(),
                    up: id != 5,
                    reweight: REWEIGHT_IN,
                    up_from: 1,
                    up_thru: 0,
                    down_since_ms: 0,
                    out_by_operator: false,
                    fullness: Default::default(),
                },
            );
        }
        assert_eq!(peers_of(&m, 3), vec![4, 6, 7, 8, 9, 10, 11, 12, 13, 0]);
        assert_eq!(peers_of(&m, 13), vec![0, 1, 2, 3, 4, 6, 7, 8, 9, 10]);
        m.osds.retain(|id, _| *id < 2);
        assert_eq!(peers_of(&m, 0), vec![1]);
        m.osds.remove(&1);
        assert!(peers_of(&m, 0).is_empty());
    }
}
