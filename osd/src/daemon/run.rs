//! Running an OSD: open the disk, bind the messenger, boot with the
//! monitors, then follow the map, heartbeat and beacon until SIGTERM
//! (when it tells the monitors it is going down).

use std::future::Future;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use auth::{Credentials, EntityName};
use cluster::msg::mon::{MonCommand, MonRequest, Ping};
use cluster::msg::{msg_type, ErrorCode};
use config::Options;
use messenger::{Handler, Message, Request};
use monclient::{ClientError, MonClient};

use super::heartbeat::{self, ping_message, Heartbeat};
use super::host;
use super::pgs::{HostTiming, PgHost};
use super::store_writer::StoreWriter;
use super::superblock::OsdDir;
use crate::pg::engine::PgConfig;
use crate::store::{RocksStore, StoreOptions};

/// Answers heartbeats, client ops and PG traffic.
struct OsdHandler {
    id: u32,
    epoch: AtomicU32,
    pgs: std::sync::OnceLock<Arc<PgHost>>,
}

impl Handler for OsdHandler {
    fn handle(&self, req: Request) -> Pin<Box<dyn Future<Output = Option<Message>> + Send + '_>> {
        Box::pin(async move {
            match req.message.msg_type {
                msg_type::OSD_PING => {
                    let ping: Ping = cluster::codec::decode("heartbeat", &req.message.body).ok()?;
                    Some(ping_message(
                        self.id,
                        self.epoch.load(Ordering::Relaxed),
                        msg_type::OSD_PING_REPLY,
                        ping.stamp_ms,
                    ))
                }
                msg_type::OSD_OP => Some(self.pgs.get()?.handle_op(&req.from, req.message).await),
                msg_type::OSD_PG_QUERY => Some(
                    self.pgs
                        .get()?
                        .handle_pg_query(&req.from, &req.message)
                        .await,
                ),
                msg_type::OSD_LIST => {
                    Some(self.pgs.get()?.handle_list(&req.from, &req.message).await)
                }
                // Only OSDs may speak for a PG (checked again by the host).
                msg_type::PG_PEER if req.from.kind == auth::EntityKind::Osd => {
                    self.pgs.get()?.on_peer(&req.from, &req.message);
                    None
                }
                other => {
                    tracing::debug!(from = %req.from, "ignoring message type {other}");
                    None
                }
            }
        })
    }
}

/// The address to listen on: `public_addr`, with an unspecified IP
/// replaced by the one this machine uses to reach the first monitor.
fn bind_addr(opts: &Options) -> Result<SocketAddr, String> {
    let mut a: SocketAddr = opts
        .public_addr
        .parse()
        .map_err(|_| format!("public_addr '{}' is not IP:PORT", opts.public_addr))?;
    if a.ip().is_unspecified() {
        let (_, mon) = opts.mons().into_iter().next().ok_or("mon_host is empty")?;
        let probe = UdpSocket::bind(if mon.is_ipv6() { "[::]:0" } else { "0.0.0.0:0" })
            .and_then(|s| {
                s.connect(mon)?;
                s.local_addr()
            })
            .map_err(|e| format!("finding this machine's address towards {mon}: {e}"))?;
        a.set_ip(probe.ip());
    }
    Ok(a)
}

fn fatal(e: &ClientError) -> bool {
    matches!(
        e.code(),
        ErrorCode::PermissionDenied | ErrorCode::NotFound | ErrorCode::Invalid
    )
}

pub async fn run(dir: &Path, opts: Options) -> Result<(), String> {
    let d = OsdDir::new(dir);
    let sb = d.read_superblock()?;
    let creds = Credentials::load(&d.keyring_path()).map_err(|e| e.to_string())?;
    if creds.entity != EntityName::osd(sb.osd_id) {
        return Err(format!(
            "{}: keyring is for {}, but the superblock says osd.{}",
            dir.display(),
            creds.entity,
            sb.osd_id
        ));
    }
    if !opts.fsid.is_empty() && opts.fsid != sb.fsid {
        return Err(format!(
            "{}: belongs to cluster {}, but the config is for cluster {}",
            dir.display(),
            sb.fsid,
            opts.fsid
        ));
    }
    let id = sb.osd_id;
    let store = Arc::new(
        RocksStore::open(
            &d.store_path(),
            StoreOptions {
                max_object_size: opts.osd_max_object_size,
                ..StoreOptions::default()
            },
        )
        .map_err(|e| e.to_string())?,
    );
    let handler = Arc::new(OsdHandler {
        id,
        epoch: AtomicU32::new(0),
        pgs: std::sync::OnceLock::new(),
    });
    let bind = bind_addr(&opts)?;
    let mc = MonClient::from_options(&opts, &creds, Some(bind), Some(handler.clone()))
        .map_err(|e| e.to_string())?;
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(None::<String>);
    let pg_config = PgConfig {
        log_max: opts.osd_min_pg_log_entries as usize,
        dups_max: opts.osd_pg_log_dups_tracked as usize,
        recovery_max_active: opts.osd_recovery_max_active as usize,
        max_object_size: opts.osd_max_object_size,
        ..PgConfig::default()
    };
    let writer = StoreWriter::start(store.clone())
        .map_err(|e| format!("starting the store writer thread: {e}"))?;
    let pgs = PgHost::new(
        id,
        store,
        writer,
        mc.clone(),
        pg_config,
        HostTiming {
            op_timeout: Duration::from_secs_f64(opts.client_mon_timeout),
            delete_pause: Duration::from_secs_f64(opts.osd_delete_sleep),
            max_backfills: opts.osd_max_backfills as usize,
            recovery_sleep: Duration::from_secs_f64(opts.osd_recovery_sleep),
            recovery_rate: opts.osd_recovery_max_bytes_per_sec,
        },
        stop_tx.clone(),
    );
    let _ = handler.pgs.set(pgs.clone());
    // Serve with a map in hand.
    mc.refresh_map()
        .await
        .map_err(|e| format!("fetching the OSDMap: {e}"))?;
    let addr = mc.messenger.local_addr();
    // Before booting: peers probe it as soon as the map shows us up.
    // Without it (the TCP port is taken) peers only use heartbeats.
    if let Err(e) = heartbeat::serve_liveness(addr).await {
        tracing::warn!("cannot listen on TCP {addr} (the liveness port beside QUIC): {e}; peers will notice this OSD's death by heartbeats only");
    }
    let hostname = if opts.osd_crush_host.is_empty() {
        host::hostname()
    } else {
        opts.osd_crush_host.clone()
    };
    let weight = if opts.osd_crush_initial_weight >= 0.0 {
        (opts.osd_crush_initial_weight * 65536.0).round() as u32
    } else {
        host::weight_for(host::capacity_bytes(dir)?)
    };
    let boot = MonCommand::OsdBoot {
        id,
        uuid: sb.uuid.clone(),
        addr: addr.to_string(),
        host: hostname.clone(),
        weight,
    };
    boot_until_up(&mc, &boot, id).await?;
    mc.refresh_map()
        .await
        .map_err(|e| format!("fetching the OSDMap after boot: {e}"))?;
    pgs.start().await?;
    tracing::info!(%addr, host = %hostname, "osd.{id} is up");
    mc.keep_subscribed(Duration::from_secs(2));
    Heartbeat {
        me: id,
        mc: mc.clone(),
        interval: Duration::from_secs_f64(opts.osd_heartbeat_interval),
        grace: Duration::from_secs_f64(opts.osd_heartbeat_grace),
        fast_fail: opts.osd_fast_fail_on_connection_refused,
    }
    .spawn();
    spawn_beacons(
        mc.clone(),
        id,
        Duration::from_secs_f64(opts.osd_beacon_report_interval),
    );
    pgs.spawn_reporter(
        Duration::from_secs_f64(opts.osd_mon_report_interval),
        super::usage::Usage {
            data: dir.to_path_buf(),
            capacity: opts.osd_capacity_bytes,
        },
    );
    spawn_map_watch(mc.clone(), handler.clone(), boot, id, stop_tx);
    if !opts.metrics_addr.is_empty() {
        let a: SocketAddr = opts
            .metrics_addr
            .parse()
            .map_err(|e| format!("metrics_addr '{}': {e}", opts.metrics_addr))?;
        let bound = messenger::metrics::serve(a)
            .await
            .map_err(|e| format!("metrics_addr {a}: {e}"))?;
        crate::daemon::metrics_init(id);
        tracing::info!("metrics on http://{bound}/metrics");
    }
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
    let stopped = async {
        while stop_rx.changed().await.is_ok() {
            if let Some(r) = stop_rx.borrow().clone() {
                return Some(r);
            }
        }
        None
    };
    let reason = tokio::select! {
        _ = wait_for_signal() => None,
        r = stopped => r,
    };
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
    if let Some(r) = reason {
        return Err(r);
    }
    tracing::info!("osd.{id} stopping: telling the monitors");
    let down = MonCommand::OsdDown { ids: vec![id] };
    let _ = tokio::time::timeout(Duration::from_secs(5), mc.command(down)).await;
    mc.messenger.close();
    Ok(())
}

async fn boot_until_up(mc: &MonClient, boot: &MonCommand, id: u32) -> Result<(), String> {
    loop {
        match mc.command(boot.clone()).await {
            Ok(_) => return Ok(()),
            Err(e) if fatal(&e) => return Err(format!("osd.{id} cannot boot: {e}")),
            Err(e) => {
                tracing::warn!("osd.{id} boot: {e}; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

fn spawn_beacons(mc: Arc<MonClient>, id: u32, every: Duration) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let epoch = mc.osdmap().map_or(0, |m| m.epoch);
            if let Err(e) = mc.request(&MonRequest::Beacon { osd: id, epoch }).await {
                tracing::warn!("beacon: {e}");
            }
        }
    });
}

/// Follows the map: a running OSD the monitors marked down boots again
/// (as Ceph's "wrongly marked me down"); one that was removed stops.
fn spawn_map_watch(
    mc: Arc<MonClient>,
    handler: Arc<OsdHandler>,
    boot: MonCommand,
    id: u32,
    stop: tokio::sync::watch::Sender<Option<String>>,
) {
    let mut rx = mc.watch_map();
    tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let Some(map) = rx.borrow_and_update().clone() else {
                continue;
            };
            handler.epoch.store(map.epoch, Ordering::Relaxed);
            crate::daemon::metrics_epoch(map.epoch);
            match map.osds.get(&id) {
                None => {
                    let _ = stop.send(Some(format!(
                        "osd.{id} was removed from the cluster (epoch {}); stopping",
                        map.epoch
                    )));
                    return;
                }
                Some(o) if !o.up && !map.flags.contains("noup") => {
                    tracing::warn!("the monitors marked osd.{id} down at epoch {} while it runs; booting again", map.epoch);
                    if let Err(e) = boot_until_up(&mc, &boot, id).await {
                        let _ = stop.send(Some(e));
                        return;
                    }
                }
                Some(_) => {}
            }
        }
    });
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("signal handler installs");
    let mut int = signal(SignalKind::interrupt()).expect("signal handler installs");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
