//! The QUIC transport on real sockets (127.0.0.1, ports picked by the OS):
//! requests and replies between entities of one cluster, strangers refused,
//! malformed and oversized frames costing the sender its connection, and
//! filters dropping and delaying traffic.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use auth::{ClusterCa, Credentials, EntityName};
use messenger::{FilterAction, Handler, Limits, Message, Messenger, MessengerError, Request};

/// Replies with the caller's entity name and the body reversed; message type
/// 98 gets no reply, 99 hangs.
struct Echo;

impl Handler for Echo {
    fn handle(&self, req: Request) -> Pin<Box<dyn Future<Output = Option<Message>> + Send + '_>> {
        Box::pin(async move {
            match req.message.msg_type {
                98 => return None,
                99 => {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    return None;
                }
                _ => {}
            }
            let mut body = req.message.body.clone();
            body.reverse();
            Some(Message {
                msg_type: req.message.msg_type + 1,
                body,
                data: req.from.to_string().into_bytes(),
            })
        })
    }
}

fn local() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn pair(ca: &ClusterCa) -> (Arc<Messenger>, Credentials, Arc<Messenger>) {
    let mon = ca.issue(&EntityName::mon("a")).unwrap();
    let admin = ca.issue(&EntityName::client("admin")).unwrap();
    let server = Messenger::bind(local(), &mon, Arc::new(Echo), Limits::default()).unwrap();
    let client = Messenger::bind(local(), &admin, Arc::new(Echo), Limits::default()).unwrap();
    (server, mon, client)
}

const T: Duration = Duration::from_secs(5);

fn msg(t: u16, body: &[u8]) -> Message {
    Message {
        msg_type: t,
        body: body.to_vec(),
        data: vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_get_replies_and_the_server_knows_the_caller() {
    let ca = ClusterCa::generate("f00d").unwrap();
    let (server, mon, client) = pair(&ca);
    let reply = client
        .request(server.local_addr(), &mon.entity, &msg(1, b"abc"), T)
        .await
        .unwrap();
    assert_eq!(
        reply,
        Message {
            msg_type: 2,
            body: b"cba".to_vec(),
            data: b"client.admin".to_vec()
        }
    );
    // Bulk data travels beside the body; the connection is reused.
    let big = Message {
        msg_type: 5,
        body: b"x".to_vec(),
        data: vec![7u8; 4 << 20],
    };
    for _ in 0..3 {
        let r = client
            .request(server.local_addr(), &mon.entity, &big, T)
            .await
            .unwrap();
        assert_eq!(r.msg_type, 6);
    }
    server.close();
    client.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_are_refused() {
    let ca = ClusterCa::generate("aaaa").unwrap();
    let (server, mon, _client) = pair(&ca);
    let other = ClusterCa::generate("bbbb")
        .unwrap()
        .issue(&EntityName::client("admin"))
        .unwrap();
    // It trusts our CA, so only the server's check can refuse it.
    let impostor = Credentials {
        ca_pem: mon.ca_pem.clone(),
        ..other
    };
    let stranger = Messenger::bind(local(), &impostor, Arc::new(Echo), Limits::default()).unwrap();
    let e = stranger
        .request(server.local_addr(), &mon.entity, &msg(1, b"hi"), T)
        .await
        .unwrap_err();
    // With TLS 1.3 the server checks the client's certificate after the
    // client considers the handshake done, so the refusal can also arrive
    // as the connection being closed.
    assert!(
        matches!(
            e,
            MessengerError::Handshake { .. } | MessengerError::Connection { .. }
        ),
        "{e}"
    );
    // Asking for the wrong entity at the right address is refused too.
    let client = Messenger::bind(
        local(),
        &ca.issue(&EntityName::client("x")).unwrap(),
        Arc::new(Echo),
        Limits::default(),
    )
    .unwrap();
    let e = client
        .request(server.local_addr(), &EntityName::osd(3), &msg(1, b"hi"), T)
        .await
        .unwrap_err();
    assert!(matches!(e, MessengerError::Handshake { .. }), "{e}");
    assert!(e.to_string().contains("osd.3"), "{e}");
}

/// A bare QUIC connection to `server` with a valid certificate, for sending
/// bytes the messenger would never send.
async fn raw_connection(
    ca: &ClusterCa,
    server: &Messenger,
) -> (quinn::Endpoint, quinn::Connection) {
    let raw = ca.issue(&EntityName::client("raw")).unwrap();
    let mut ep = quinn::Endpoint::client(local()).unwrap();
    let tls =
        quinn::crypto::rustls::QuicClientConfig::try_from(raw.client_config().unwrap()).unwrap();
    ep.set_default_client_config(quinn::ClientConfig::new(Arc::new(tls)));
    let conn = ep
        .connect(server.local_addr(), "mon.a.strata")
        .unwrap()
        .await
        .unwrap();
    (ep, conn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_close_only_the_sender_connection() {
    let ca = ClusterCa::generate("cafe").unwrap();
    let (server, mon, client) = pair(&ca);
    // A raw connection with a valid certificate that sends garbage.
    let (_ep, conn) = raw_connection(&ca, &server).await;
    let (mut send, _recv) = conn.open_bi().await.unwrap();
    send.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    send.finish().unwrap();
    let reason = tokio::time::timeout(T, conn.closed())
        .await
        .expect("the server closes the connection");
    assert!(
        reason.to_string().contains("bad frame: not a Strata frame"),
        "{reason}"
    );
    // An oversized frame is refused from its header alone.
    let (_ep2, conn) = raw_connection(&ca, &server).await;
    let (mut send, _recv) = conn.open_bi().await.unwrap();
    let mut head = messenger::encode_header(1, b"", b"");
    head[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    send.write_all(&head).await.unwrap();
    let reason = tokio::time::timeout(T, conn.closed())
        .await
        .expect("closed");
    assert!(reason.to_string().contains("above the limit"), "{reason}");
    // Everyone else is still served.
    let reply = client
        .request(server.local_addr(), &mon.entity, &msg(1, b"ok"), T)
        .await
        .unwrap();
    assert_eq!(reply.body, b"ko");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_drop_and_delay_and_silence_times_out() {
    let ca = ClusterCa::generate("beef").unwrap();
    let (server, mon, client) = pair(&ca);
    let addr = server.local_addr();
    client.set_filter(Some(Arc::new(move |peer, t| {
        if peer == addr && t == 1 {
            FilterAction::Drop
        } else {
            FilterAction::Pass
        }
    })));
    let short = Duration::from_millis(300);
    let e = client
        .request(addr, &mon.entity, &msg(1, b"lost"), short)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("mon.a at {addr} did not answer within 300ms")
    );
    assert!(client
        .request(addr, &mon.entity, &msg(3, b"other type"), T)
        .await
        .is_ok());
    client.set_filter(Some(Arc::new(|_, _| {
        FilterAction::Delay(Duration::from_millis(400))
    })));
    let e = client
        .request(addr, &mon.entity, &msg(1, b"slow"), short)
        .await
        .unwrap_err();
    assert!(matches!(e, MessengerError::Timeout { .. }));
    assert!(
        client
            .request(addr, &mon.entity, &msg(1, b"slow"), T)
            .await
            .is_ok(),
        "a delay is not a loss"
    );
    client.set_filter(None);
    let e = client
        .request(addr, &mon.entity, &msg(98, b"no reply"), short)
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("closed the stream without a reply"),
        "{e}"
    );
    let e = client
        .request(addr, &mon.entity, &msg(99, b"never answered"), short)
        .await
        .unwrap_err();
    assert!(matches!(e, MessengerError::Timeout { .. }), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_datagrams_do_not_disturb_the_server() {
    let ca = ClusterCa::generate("dead").unwrap();
    let (server, mon, client) = pair(&ca);
    let sock = tokio::net::UdpSocket::bind(local()).await.unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for i in 0..2000usize {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = 1 + (seed as usize % 1400);
        let mut pkt: Vec<u8> = (0..len)
            .map(|j| (seed >> (j % 56)) as u8 ^ j as u8)
            .collect();
        if i % 3 == 0 {
            // Looks like the start of a QUIC long-header packet, then junk.
            pkt[0] = 0xc0 | (pkt[0] & 0x0f);
        }
        sock.send_to(&pkt, server.local_addr()).await.unwrap();
    }
    let reply = client
        .request(server.local_addr(), &mon.entity, &msg(1, b"still here"), T)
        .await
        .unwrap();
    assert_eq!(reply.body, b"ereh llits");
}

/// Remembers every message it is given; answers requests with an ack.
#[derive(Default)]
struct Recorder {
    seen: std::sync::Mutex<Vec<(String, Message)>>,
}

impl Handler for Recorder {
    fn handle(&self, req: Request) -> Pin<Box<dyn Future<Output = Option<Message>> + Send + '_>> {
        Box::pin(async move {
            self.seen
                .lock()
                .unwrap()
                .push((req.from.to_string(), req.message));
            Some(msg(0, b"ack"))
        })
    }
}

/// Polls until `rec` has seen `n` messages (bounded by a deadline).
async fn wait_for(rec: &Recorder, n: usize) -> Vec<(String, Message)> {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let seen = rec.seen.lock().unwrap().clone();
        if seen.len() >= n {
            return seen;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {n} messages arrived",
            seen.len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_way_messages_and_pushes_to_subscribers() {
    let ca = ClusterCa::generate("5ub5").unwrap();
    let mon = ca.issue(&EntityName::mon("a")).unwrap();
    let osd = ca.issue(&EntityName::osd(4)).unwrap();
    let (mon_rec, osd_rec) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
    let server = Messenger::bind(local(), &mon, mon_rec.clone(), Limits::default()).unwrap();
    let client = Messenger::bind(local(), &osd, osd_rec.clone(), Limits::default()).unwrap();
    // One-way: delivered to the handler with the sender's entity, no reply.
    for i in 0..3u8 {
        client
            .send(server.local_addr(), &mon.entity, &msg(10, &[i]))
            .await
            .unwrap();
    }
    let seen = wait_for(&mon_rec, 3).await;
    assert!(seen
        .iter()
        .all(|(from, m)| from == "osd.4" && m.msg_type == 10));
    // Push: the monitor reaches the OSD over the connection the OSD opened.
    let e = server
        .push(&EntityName::osd(9), &msg(20, b"map"))
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "osd.9 is not connected to us");
    server
        .push(&osd.entity, &msg(20, b"map epoch 7"))
        .await
        .unwrap();
    let pushed = wait_for(&osd_rec, 1).await;
    assert_eq!(pushed[0], ("mon.a".to_string(), msg(20, b"map epoch 7")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_peer_does_not_hold_up_the_others() {
    let ca = ClusterCa::generate("510w").unwrap();
    let (server, mon, client) = pair(&ca);
    // A UDP socket that never answers: a QUIC handshake to it hangs.
    let silent = tokio::net::UdpSocket::bind(local()).await.unwrap();
    let c2 = client.clone();
    let silent_addr = silent.local_addr().unwrap();
    let hung = tokio::spawn(async move {
        c2.request(
            silent_addr,
            &EntityName::osd(1),
            &msg(1, b"?"),
            Duration::from_secs(3),
        )
        .await
    });
    // Once the silent peer has seen the first handshake packet, that
    // handshake is under way; a request to the live peer must not wait for it.
    let mut first = [0u8; 2048];
    tokio::time::timeout(T, silent.recv_from(&mut first))
        .await
        .expect("the handshake started")
        .unwrap();
    let started = tokio::time::Instant::now();
    client
        .request(server.local_addr(), &mon.entity, &msg(1, b"ok"), T)
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "waited {:?} behind the silent peer",
        started.elapsed()
    );
    assert!(matches!(
        hung.await.unwrap(),
        Err(MessengerError::Timeout { .. })
    ));
}
