//! QUIC transport with mutual TLS: one connection per peer, a
//! bidirectional stream per request, a unidirectional one per one-way
//! message or push. The server learns who is calling from
//! the caller's certificate (`auth`); a malformed or oversized frame closes
//! that connection with the reason and never reaches the handler. A filter
//! lets tests drop or delay traffic to a peer.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use auth::{peer_entity, server_name, Credentials, EntityName};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::pki_types::CertificateDer;
use thiserror::Error;

use crate::frame::{encode_header, FrameError, FrameHeader, Limits, HEADER_LEN};

/// A received frame, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub msg_type: u16,
    pub body: Vec<u8>,
    pub data: Vec<u8>,
}

/// A message to send whose data is shared, not copied: the transport
/// hands the same bytes to every peer it goes to (a write replicated to
/// two OSDs, a whole object pushed for recovery).
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub msg_type: u16,
    pub body: Vec<u8>,
    pub data: bytes::Bytes,
}

impl From<Message> for Outgoing {
    fn from(m: Message) -> Outgoing {
        Outgoing {
            msg_type: m.msg_type,
            body: m.body,
            // Takes the vector's buffer over: no copy.
            data: m.data.into(),
        }
    }
}

/// A request as the handler sees it: who sent it, and what.
#[derive(Clone, Debug)]
pub struct Request {
    pub from: EntityName,
    pub message: Message,
}

/// Serves requests; `None` sends no reply (the caller times out).
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, req: Request) -> Pin<Box<dyn Future<Output = Option<Message>> + Send + '_>>;
}

#[derive(Debug, Error)]
pub enum MessengerError {
    #[error("{0}")]
    Frame(#[from] FrameError),
    #[error("cannot reach {peer}: {reason}")]
    Connect { peer: String, reason: String },
    #[error("{peer} did not answer within {after:?}")]
    Timeout { peer: String, after: Duration },
    #[error("connection to {peer} failed: {reason}")]
    Connection { peer: String, reason: String },
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: SocketAddr, reason: String },
    #[error("{0}")]
    Auth(#[from] auth::AuthError),
    #[error("{0} is not connected to us")]
    NotConnected(String),
    /// TLS refused: a certificate from another cluster, or none.
    #[error("{peer} refused the handshake (wrong cluster or certificate?): {reason}")]
    Handshake { peer: String, reason: String },
}

/// What a test filter does with traffic to a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterAction {
    Pass,
    /// The request is lost: the caller times out.
    Drop,
    Delay(Duration),
}

/// Decides per peer address and message type.
pub type Filter = Arc<dyn Fn(SocketAddr, u16) -> FilterAction + Send + Sync>;

/// An endpoint: serves requests and sends them.
pub struct Messenger {
    endpoint: quinn::Endpoint,
    /// Connections this messenger opened, by peer address.
    conns: tokio::sync::Mutex<HashMap<SocketAddr, quinn::Connection>>,
    /// Connections peers opened to us, by their entity: where pushes go.
    incoming: Incoming,
    handler: Arc<dyn Handler>,
    limits: Limits,
    filter: RwLock<Option<Filter>>,
    /// Peers whose last connection attempt failed: when to try again, and
    /// the delay that was used (doubling to a cap).
    backoff: std::sync::Mutex<HashMap<SocketAddr, (Instant, Duration)>>,
}

/// First and largest delay between connection attempts to a peer that
/// could not be reached.
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Flow-control windows sized for storage traffic: one message may carry
/// a whole object (4 MiB is common, 128 MiB the cap), and quinn's
/// defaults (1.25 MB a stream, 10 MB a connection, tuned for web pages)
/// make such a message wait for window updates several times.
const STREAM_WINDOW: u32 = 16 << 20;
const SEND_WINDOW: u64 = 64 << 20;
/// Streams a peer may have open towards us at once: each message is a
/// stream, and recovery keeps dozens of whole objects in flight; at
/// quinn's default (100) a client write's message would wait for one of
/// them to end before it could even start.
const MAX_STREAMS: u32 = 4096;
/// Priority of bulk streams (quinn sends higher first; the default is 0).
const BULK_PRIORITY: i32 = -1;

/// Keepalives every second and a 5 s idle timeout: a peer that vanished
/// (killed, unplugged) is noticed within seconds and its connection
/// replaced, while a quiet but live one keeps its connection.
fn transport_config() -> Arc<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    t.stream_receive_window(STREAM_WINDOW.into());
    t.send_window(SEND_WINDOW);
    t.max_concurrent_uni_streams(MAX_STREAMS.into());
    t.max_concurrent_bidi_streams(MAX_STREAMS.into());
    t.keep_alive_interval(Some(Duration::from_secs(1)));
    t.max_idle_timeout(Some(
        Duration::from_secs(5)
            .try_into()
            .expect("5 s is a valid idle timeout"),
    ));
    Arc::new(t)
}

/// Receive buffer the QUIC endpoint's socket asks the kernel for.
const SOCKET_BUFFER: usize = 16 << 20;

/// The endpoint's UDP socket, with large kernel buffers: at the default
/// (208 KiB) a burst of recovery traffic overflows the receive buffer of
/// a busy OSD, the kernel drops datagrams (hundreds of thousands in a
/// 2 GiB recovery, measured), and QUIC's loss recovery then stalls every
/// message on the connection, client writes included. Without the
/// privilege to exceed `net.core.rmem_max` the kernel's maximum is used;
/// raise that sysctl to 16 MiB on OSD hosts. (The send side is bounded by
/// QUIC's congestion window; its default buffer measured fine.)
fn udp_socket(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        s.set_only_v6(false).ok();
    }
    // Forcing needs CAP_NET_ADMIN; otherwise the kernel caps the size.
    if force_buffer(&s, libc::SO_RCVBUFFORCE).is_err() {
        s.set_recv_buffer_size(SOCKET_BUFFER)?;
    }
    s.bind(&addr.into())?;
    Ok(s.into())
}

/// Sets a socket buffer past the sysctl maximum (`opt`: `SO_RCVBUFFORCE`).
fn force_buffer(s: &socket2::Socket, opt: libc::c_int) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let size = SOCKET_BUFFER as libc::c_int;
    // SAFETY: a valid socket descriptor, and a pointer to an int of the
    // length given, as setsockopt requires.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// A failure on the connection to `entity` at `peer`. (The peer's name is
/// formatted only here, on error: sends are the path of every replicated
/// write.)
fn conn_error(peer: SocketAddr, entity: &EntityName, reason: String) -> MessengerError {
    MessengerError::Connection {
        peer: format!("{entity} at {peer}"),
        reason,
    }
}

type Incoming = Arc<std::sync::Mutex<HashMap<EntityName, quinn::Connection>>>;

/// QUIC close code for a peer that broke the protocol.
const CLOSE_PROTOCOL: u32 = 1;

impl Messenger {
    /// Listens on `addr` as the entity of `creds`, serving with `handler`.
    /// Must be called inside a tokio runtime.
    pub fn bind(
        addr: SocketAddr,
        creds: &Credentials,
        handler: Arc<dyn Handler>,
        limits: Limits,
    ) -> Result<Arc<Messenger>, MessengerError> {
        let bind_err = |reason: String| MessengerError::Bind { addr, reason };
        let server_tls = QuicServerConfig::try_from(creds.server_config()?)
            .map_err(|e| bind_err(e.to_string()))?;
        let client_tls = QuicClientConfig::try_from(creds.client_config()?)
            .map_err(|e| bind_err(e.to_string()))?;
        let mut server = quinn::ServerConfig::with_crypto(Arc::new(server_tls));
        server.transport_config(transport_config());
        let socket = udp_socket(addr).map_err(|e| bind_err(e.to_string()))?;
        let mut endpoint = quinn::Endpoint::new(
            quinn::EndpointConfig::default(),
            Some(server),
            socket,
            Arc::new(quinn::TokioRuntime),
        )
        .map_err(|e| bind_err(e.to_string()))?;
        let mut client = quinn::ClientConfig::new(Arc::new(client_tls));
        client.transport_config(transport_config());
        endpoint.set_default_client_config(client);
        let incoming: Incoming = Default::default();
        let m = Arc::new(Messenger {
            endpoint: endpoint.clone(),
            conns: Default::default(),
            incoming: incoming.clone(),
            handler: handler.clone(),
            limits,
            filter: RwLock::new(None),
            backoff: Default::default(),
        });
        tokio::spawn(async move {
            while let Some(connecting) = endpoint.accept().await {
                let (handler, incoming) = (handler.clone(), incoming.clone());
                tokio::spawn(async move {
                    if let Ok(conn) = connecting.await {
                        serve_connection(conn, handler, limits, incoming).await;
                    }
                });
            }
        });
        Ok(m)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.endpoint
            .local_addr()
            .expect("a bound endpoint has an address")
    }

    /// Installs (or with `None` removes) a traffic filter, for tests.
    pub fn set_filter(&self, f: Option<Filter>) {
        *self.filter.write().unwrap_or_else(|p| p.into_inner()) = f;
    }

    /// The connection to `peer`, opened if needed. The handshake runs
    /// without the connection map locked, so a slow or dead peer never
    /// delays requests to the others.
    async fn connection(
        &self,
        peer: SocketAddr,
        entity: &EntityName,
    ) -> Result<quinn::Connection, MessengerError> {
        let live = |c: &quinn::Connection| c.close_reason().is_none();
        if let Some(c) = self.conns.lock().await.get(&peer).filter(|c| live(c)) {
            return Ok(c.clone());
        }
        let name = format!("{entity} at {peer}");
        let connect_err = |e: String| MessengerError::Connect {
            peer: name.clone(),
            reason: e,
        };
        let wait = self
            .backoff
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&peer)
            .map(|(at, _)| at.saturating_duration_since(Instant::now()));
        if let Some(w) = wait.filter(|w| !w.is_zero()) {
            tokio::time::sleep(w).await;
        }
        let attempt = async {
            let connecting = self
                .endpoint
                .connect(peer, &server_name(entity).to_str())
                .map_err(|e| (false, e.to_string()))?;
            connecting
                .await
                .map_err(|e| (is_handshake_failure(&e), e.to_string()))
        };
        let c = match attempt.await {
            Ok(c) => {
                self.backoff
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&peer);
                c
            }
            Err((handshake, e)) => {
                if handshake {
                    crate::metrics::connect_failed();
                    return Err(MessengerError::Handshake {
                        peer: name.clone(),
                        reason: e,
                    });
                }
                let mut b = self.backoff.lock().unwrap_or_else(|p| p.into_inner());
                let delay = b
                    .get(&peer)
                    .map_or(BACKOFF_MIN, |(_, d)| (*d * 2).min(BACKOFF_MAX));
                b.insert(peer, (Instant::now() + delay, delay));
                crate::metrics::connect_failed();
                return Err(connect_err(e));
            }
        };
        let mut conns = self.conns.lock().await;
        if let Some(existing) = conns.get(&peer).filter(|c| live(c)) {
            // Another request connected meanwhile: use one connection.
            c.close(0u32.into(), b"duplicate");
            return Ok(existing.clone());
        }
        // The peer may push one-way messages over the connection we opened.
        tokio::spawn(serve_oneway(
            c.clone(),
            entity.clone(),
            self.handler.clone(),
            self.limits,
        ));
        conns.insert(peer, c.clone());
        Ok(c)
    }

    /// Makes sure a connection to `entity` at `peer` is open, waiting at
    /// most `timeout` for the handshake: lets a caller hunting for a live
    /// peer give up on a dead one quickly, apart from the request's own
    /// (longer) timeout.
    pub async fn connect(
        &self,
        peer: SocketAddr,
        entity: &EntityName,
        timeout: Duration,
    ) -> Result<(), MessengerError> {
        tokio::time::timeout(timeout, self.connection(peer, entity))
            .await
            .unwrap_or_else(|_| {
                Err(MessengerError::Timeout {
                    peer: format!("{entity} at {peer}"),
                    after: timeout,
                })
            })
            .map(|_| ())
    }

    /// Sends a request to `entity` at `peer` and waits for its reply.
    pub async fn request(
        &self,
        peer: SocketAddr,
        entity: &EntityName,
        msg: &Message,
        timeout: Duration,
    ) -> Result<Message, MessengerError> {
        let name = || format!("{entity} at {peer}");
        let action = self
            .filter
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map_or(FilterAction::Pass, |f| f(peer, msg.msg_type));
        let work = async {
            match action {
                FilterAction::Drop => std::future::pending::<()>().await,
                FilterAction::Delay(d) => tokio::time::sleep(d).await,
                FilterAction::Pass => {}
            }
            let conn = self.connection(peer, entity).await?;
            let closed = |e: String| MessengerError::Connection {
                peer: name(),
                reason: e,
            };
            let (mut send, mut recv) = conn.open_bi().await.map_err(|e| closed(e.to_string()))?;
            write_message(&mut send, msg).await.map_err(closed)?;
            match read_message(&mut recv, &self.limits).await {
                Ok(Some(m)) => Ok(m),
                Ok(None) => Err(closed("the peer closed the stream without a reply".into())),
                Err(ReadError::Frame(e)) => Err(e.into()),
                Err(ReadError::Stream(e)) => Err(closed(e)),
            }
        };
        tokio::time::timeout(timeout, work)
            .await
            .unwrap_or_else(|_| {
                Err(MessengerError::Timeout {
                    peer: name(),
                    after: timeout,
                })
            })
    }

    /// Writes `bytes` as they are on a new stream to `entity` at `peer` and
    /// returns whatever frame comes back (`None` if the stream or the
    /// connection closes first). For tests that check a daemon survives
    /// truncated or malformed frames.
    pub async fn send_raw(
        &self,
        peer: SocketAddr,
        entity: &EntityName,
        bytes: &[u8],
        timeout: Duration,
    ) -> Result<Option<Message>, MessengerError> {
        let name = format!("{entity} at {peer}");
        let work = async {
            let conn = self.connection(peer, entity).await?;
            let closed = |e: String| MessengerError::Connection {
                peer: name.clone(),
                reason: e,
            };
            let (mut send, mut recv) = conn.open_bi().await.map_err(|e| closed(e.to_string()))?;
            send.write_all(bytes)
                .await
                .map_err(|e| closed(e.to_string()))?;
            send.finish().map_err(|e| closed(e.to_string()))?;
            match read_message(&mut recv, &self.limits).await {
                Ok(m) => Ok(m),
                Err(_) => Ok(None),
            }
        };
        tokio::time::timeout(timeout, work)
            .await
            .unwrap_or(Ok(None))
    }

    /// Sends a one-way message to `entity` at `peer` (no reply).
    pub async fn send(
        &self,
        peer: SocketAddr,
        entity: &EntityName,
        msg: &Message,
    ) -> Result<(), MessengerError> {
        let mut send = self.open_oneway(peer, entity).await?;
        write_message(&mut send, msg)
            .await
            .map_err(|reason| conn_error(peer, entity, reason))
    }

    /// Sends a one-way message whose data is shared (see [`Outgoing`]).
    /// With `bulk` (recovery, backfill) it goes at a lower priority on
    /// the peer's connection, so that the small messages of client I/O
    /// queued behind it are sent first.
    pub async fn send_outgoing(
        &self,
        peer: SocketAddr,
        entity: &EntityName,
        msg: &Outgoing,
        bulk: bool,
    ) -> Result<(), MessengerError> {
        let mut send = self.open_oneway(peer, entity).await?;
        if bulk {
            // Only fails on a stream already closed; the write says so.
            let _ = send.set_priority(BULK_PRIORITY);
        }
        let head = encode_header(msg.msg_type, &msg.body, &msg.data);
        let sent = async {
            send.write_all(&head).await.map_err(|e| e.to_string())?;
            send.write_all(&msg.body).await.map_err(|e| e.to_string())?;
            // Hands the shared bytes to quinn as they are.
            send.write_chunk(msg.data.clone())
                .await
                .map_err(|e| e.to_string())?;
            crate::metrics::sent(HEADER_LEN + msg.body.len() + msg.data.len());
            send.finish().map_err(|e| e.to_string())
        };
        sent.await
            .map_err(|reason| conn_error(peer, entity, reason))
    }

    /// A new one-way stream to `entity` at `peer`.
    async fn open_oneway(
        &self,
        peer: SocketAddr,
        entity: &EntityName,
    ) -> Result<quinn::SendStream, MessengerError> {
        let conn = self.connection(peer, entity).await?;
        conn.open_uni()
            .await
            .map_err(|e| conn_error(peer, entity, e.to_string()))
    }

    /// Pushes a one-way message to an entity connected to us (a subscriber
    /// that has no address of its own to be reached at).
    pub async fn push(&self, to: &EntityName, msg: &Message) -> Result<(), MessengerError> {
        let conn = self
            .incoming
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(to)
            .cloned();
        let conn = conn
            .filter(|c| c.close_reason().is_none())
            .ok_or_else(|| MessengerError::NotConnected(to.to_string()))?;
        let mut send = conn
            .open_uni()
            .await
            .map_err(|e| MessengerError::Connection {
                peer: to.to_string(),
                reason: e.to_string(),
            })?;
        write_message(&mut send, msg)
            .await
            .map_err(|reason| MessengerError::Connection {
                peer: to.to_string(),
                reason,
            })
    }

    /// Stops listening and closes every connection.
    pub fn close(&self) {
        self.endpoint.close(0u32.into(), b"shutdown");
    }
}

/// Did TLS refuse the connection (either side rejected the other's
/// certificate)? QUIC carries TLS alerts as error codes 0x100-0x1ff.
fn is_handshake_failure(e: &quinn::ConnectionError) -> bool {
    let crypto = |code: u64| (0x100..0x200).contains(&code);
    match e {
        quinn::ConnectionError::TransportError(t) => crypto(u64::from(t.code)),
        quinn::ConnectionError::ConnectionClosed(c) => crypto(u64::from(c.error_code)),
        _ => false,
    }
}

/// Writes a frame (header, body, data; the data is not copied) and ends
/// the stream.
async fn write_message(send: &mut quinn::SendStream, msg: &Message) -> Result<(), String> {
    let head = encode_header(msg.msg_type, &msg.body, &msg.data);
    for part in [&head[..], &msg.body, &msg.data] {
        send.write_all(part).await.map_err(|e| e.to_string())?;
    }
    crate::metrics::sent(HEADER_LEN + msg.body.len() + msg.data.len());
    send.finish().map_err(|e| e.to_string())
}

/// Serves one-way messages arriving on a connection, from `from`.
async fn serve_oneway(
    conn: quinn::Connection,
    from: EntityName,
    handler: Arc<dyn Handler>,
    limits: Limits,
) {
    while let Ok(mut recv) = conn.accept_uni().await {
        let (handler, from, conn) = (handler.clone(), from.clone(), conn.clone());
        tokio::spawn(async move {
            match read_message(&mut recv, &limits).await {
                Ok(Some(message)) => {
                    let _ = handler.handle(Request { from, message }).await;
                }
                Err(ReadError::Frame(e)) => reject(&conn, &from, e),
                Ok(None) | Err(ReadError::Stream(_)) => {}
            }
        });
    }
}

/// Closes the connection of a peer that broke the protocol, saying why.
fn reject(conn: &quinn::Connection, from: &EntityName, e: FrameError) {
    crate::metrics::bad_frame();
    tracing::warn!(peer = %from, addr = %conn.remote_address(), "closing connection: bad frame: {e}");
    conn.close(CLOSE_PROTOCOL.into(), format!("bad frame: {e}").as_bytes());
}

enum ReadError {
    Frame(FrameError),
    Stream(String),
}

/// Reads one frame from a stream: the header first, checked against the
/// limits before anything else is read.
async fn read_message(
    recv: &mut quinn::RecvStream,
    limits: &Limits,
) -> Result<Option<Message>, ReadError> {
    let mut head = [0u8; HEADER_LEN];
    match recv.read_exact(&mut head).await {
        Ok(()) => {}
        Err(quinn::ReadExactError::FinishedEarly(0)) => return Ok(None),
        Err(e) => return Err(ReadError::Stream(e.to_string())),
    }
    let header: FrameHeader =
        crate::frame::parse_header(&head, limits).map_err(ReadError::Frame)?;
    // Body and data go straight into buffers of their own: bulk data is
    // never copied after it arrives.
    let mut body = vec![0u8; header.body_len as usize];
    let mut data = vec![0u8; header.data_len as usize];
    for part in [&mut body, &mut data] {
        recv.read_exact(part)
            .await
            .map_err(|e| ReadError::Stream(e.to_string()))?;
    }
    crate::frame::verify_parts(&head, &header, &body, &data).map_err(ReadError::Frame)?;
    crate::metrics::received(HEADER_LEN + body.len() + data.len());
    Ok(Some(Message {
        msg_type: header.msg_type,
        body,
        data,
    }))
}

async fn serve_connection(
    conn: quinn::Connection,
    handler: Arc<dyn Handler>,
    limits: Limits,
    incoming: Incoming,
) {
    let from = conn
        .peer_identity()
        .and_then(|id| id.downcast::<Vec<CertificateDer<'static>>>().ok())
        .ok_or_else(|| "no peer certificate".to_string())
        .and_then(|chain| peer_entity(&chain).map_err(|e| e.to_string()));
    let from = match from {
        Ok(f) => f,
        Err(reason) => {
            crate::metrics::bad_frame();
            tracing::warn!(addr = %conn.remote_address(), "closing connection: {reason}");
            conn.close(CLOSE_PROTOCOL.into(), reason.as_bytes());
            return;
        }
    };
    incoming
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(from.clone(), conn.clone());
    tokio::spawn(serve_oneway(
        conn.clone(),
        from.clone(),
        handler.clone(),
        limits,
    ));
    while let Ok((mut send, mut recv)) = conn.accept_bi().await {
        let (handler, from, conn) = (handler.clone(), from.clone(), conn.clone());
        tokio::spawn(async move {
            match read_message(&mut recv, &limits).await {
                Ok(Some(message)) => {
                    if let Some(reply) = handler.handle(Request { from, message }).await {
                        let _ = write_message(&mut send, &reply).await;
                    }
                }
                Ok(None) => {}
                // A peer that sends bad frames loses its connection.
                Err(ReadError::Frame(e)) => reject(&conn, &from, e),
                Err(ReadError::Stream(_)) => {}
            }
        });
    }
    // The peer is gone: forget its connection unless it already has a new one.
    let mut map = incoming.lock().unwrap_or_else(|p| p.into_inner());
    if map
        .get(&from)
        .is_some_and(|c| c.stable_id() == conn.stable_id())
    {
        map.remove(&from);
    }
}
