//! Starting a monitor: open its store, bind the messenger, start Raft
//! (initialising the group on first start: every monitor proposes the
//! same membership, which openraft accepts once), then serve until
//! SIGTERM.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use config::Options;
use messenger::{Limits, Messenger};

use crate::raft::log_store::LogStore;
use crate::raft::network::{Network, PeerContact};
use crate::raft::state_machine::StateMachine;
use crate::raft::{raft_config, MonRaft};
use crate::service::{MonHandler, Monitor, Subscribers};
use crate::store::MonDir;

pub async fn run(id: &str, opts: Options) -> Result<(), String> {
    let dir = MonDir::new(&opts.mon_data);
    if !dir.store_path().exists() {
        return Err(format!(
            "{}: no monitor store; create it with strata-mon --mkfs --id {id}",
            opts.mon_data.display()
        ));
    }
    let seed = dir.seed().map_err(|e| e.to_string())?;
    let creds = dir.credentials().map_err(|e| e.to_string())?;
    let ca = dir.ca(&seed.fsid).map_err(|e| e.to_string())?;
    let monmap = seed.monmap.clone();
    let rank = monmap
        .rank(id)
        .ok_or_else(|| format!("mon.{id} is not in the monmap this store was made with"))?
        as u64;
    let addr: SocketAddr = monmap.mons[rank as usize]
        .addr
        .parse()
        .map_err(|e| format!("mon.{id} address: {e}"))?;
    let db = dir.open_db().map_err(|e| e.to_string())?;

    let handler = Arc::new(MonHandler::default());
    let messenger = Messenger::bind(addr, &creds, handler.clone(), Limits::default())
        .map_err(|e| e.to_string())?;
    let contact = Arc::new(PeerContact::default());
    let network = Network {
        messenger: messenger.clone(),
        monmap: monmap.clone(),
        contact: contact.clone(),
    };
    let sm = StateMachine::open(db.clone()).map_err(|e| e.to_string())?;
    let shared = sm.shared.clone();
    let config = raft_config(
        opts.mon_raft_heartbeat_ms,
        opts.mon_raft_election_timeout_ms,
    )
    .validate()
    .map_err(|e| format!("raft config: {e}"))?;
    let raft = MonRaft::new(rank, Arc::new(config), network, LogStore::new(db), sm)
        .await
        .map_err(|e| format!("starting raft: {e}"))?;
    if !raft.is_initialized().await.map_err(|e| e.to_string())? {
        let members: BTreeMap<u64, openraft::BasicNode> = monmap
            .mons
            .iter()
            .enumerate()
            .map(|(r, m)| (r as u64, openraft::BasicNode::new(&m.addr)))
            .collect();
        if let Err(e) = raft.initialize(members).await {
            tracing::info!("raft initialize: {e} (another monitor already did)");
        }
    }
    let mon = Arc::new(Monitor {
        name: id.to_string(),
        rank,
        monmap,
        opts: opts.clone(),
        raft: raft.clone(),
        shared,
        messenger: messenger.clone(),
        ca,
        contact,
        detector: Mutex::new(None),
        detector_poke: tokio::sync::Notify::new(),
        subscribers: Subscribers::default(),
        pg_stats: Mutex::new(Default::default()),
        recovery: Mutex::new(Default::default()),
        osd_stats: Mutex::new(Default::default()),
    });
    let _ = handler.0.set(mon.clone());
    crate::service::start_background(mon.clone(), seed);
    if !opts.metrics_addr.is_empty() {
        let a: SocketAddr = opts
            .metrics_addr
            .parse()
            .map_err(|e| format!("metrics_addr '{}': {e}", opts.metrics_addr))?;
        let bound = messenger::metrics::serve(a)
            .await
            .map_err(|e| format!("metrics_addr {a}: {e}"))?;
        tracing::info!("metrics on http://{bound}/metrics");
    }
    tracing::info!(rank, %addr, "mon.{id} serving");
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
    wait_for_signal().await;
    tracing::info!("mon.{id} stopping");
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
    let _ = raft.shutdown().await;
    messenger.close();
    Ok(())
}

pub async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("signal handler installs");
    let mut int = signal(SignalKind::interrupt()).expect("signal handler installs");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
