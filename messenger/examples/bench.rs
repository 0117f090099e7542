//! Messenger benchmark: 4 MiB transfers and small RPCs over the QUIC +
//! mutual-TLS transport, next to the same frames over plain TCP on loopback
//! measured in the same run.
//!
//!     cargo run --release -p strata-messenger --example bench -- [SECONDS]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth::{ClusterCa, EntityName};
use messenger::{encode_header, split_frame, Handler, Limits, Message, Messenger, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const BULK: usize = 4 << 20;

/// Answers every request with an empty message.
struct Ack;

impl Handler for Ack {
    fn handle(&self, _req: Request) -> Pin<Box<dyn Future<Output = Option<Message>> + Send + '_>> {
        Box::pin(async {
            Some(Message {
                msg_type: 2,
                body: vec![],
                data: vec![],
            })
        })
    }
}

/// Runs `op` from `conc` tasks for `secs`; returns operations per second.
async fn rate<F, Fut>(conc: usize, secs: f64, op: F) -> f64
where
    F: Fn(usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = ()> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let tasks: Vec<_> = (0..conc)
        .map(|i| {
            let (op, done) = (op.clone(), done.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    op(i).await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// A TCP server speaking the same frames: reads a request, sends an empty reply.
async fn tcp_server() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            s.set_nodelay(true).unwrap();
            tokio::spawn(async move {
                let mut buf = vec![0u8; BULK + 4096];
                let mut have = 0;
                loop {
                    match s.read(&mut buf[have..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => have += n,
                    }
                    while let Ok(Some((_, used))) = split_frame(&buf[..have], &Limits::default()) {
                        buf.copy_within(used..have, 0);
                        have -= used;
                        if s.write_all(&encode_header(2, b"", b"")).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

async fn tcp_request(s: &mut TcpStream, body: &[u8], data: &[u8]) {
    s.write_all(&encode_header(1, body, data)).await.unwrap();
    s.write_all(body).await.unwrap();
    s.write_all(data).await.unwrap();
    let mut reply = [0u8; messenger::frame::HEADER_LEN];
    s.read_exact(&mut reply).await.unwrap();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let ca = ClusterCa::generate("bench").unwrap();
    let mon = ca.issue(&EntityName::mon("a")).unwrap();
    let server = Messenger::bind(
        "127.0.0.1:0".parse().unwrap(),
        &mon,
        Arc::new(Ack),
        Limits::default(),
    )
    .unwrap();
    let client = Messenger::bind(
        "127.0.0.1:0".parse().unwrap(),
        &ca.issue(&EntityName::client("bench")).unwrap(),
        Arc::new(Ack),
        Limits::default(),
    )
    .unwrap();
    let (addr, entity) = (server.local_addr(), mon.entity.clone());
    let bulk = Arc::new(Message {
        msg_type: 1,
        body: vec![],
        data: vec![0x5a; BULK],
    });
    let small = Arc::new(Message {
        msg_type: 1,
        body: vec![1; 64],
        data: vec![],
    });
    let t = Duration::from_secs(30);

    let quic = |m: Arc<Message>| {
        let (c, e) = (client.clone(), entity.clone());
        move |_| {
            let (c, e, m) = (c.clone(), e.clone(), m.clone());
            async move {
                c.request(addr, &e, &m, t).await.unwrap();
            }
        }
    };
    let q_bulk = rate(1, secs, quic(bulk.clone())).await * BULK as f64 / 1e6;
    let q_rpc1 = rate(1, secs, quic(small.clone())).await;
    let q_rpc16 = rate(16, secs, quic(small.clone())).await;

    let tcp_addr = tcp_server().await;
    let conns: Arc<Vec<tokio::sync::Mutex<TcpStream>>> = Arc::new(
        futures_connect(tcp_addr, 16)
            .await
            .into_iter()
            .map(tokio::sync::Mutex::new)
            .collect(),
    );
    let tcp = |body: Vec<u8>, data: Vec<u8>| {
        let conns = conns.clone();
        let (body, data) = (Arc::new(body), Arc::new(data));
        move |i: usize| {
            let (conns, body, data) = (conns.clone(), body.clone(), data.clone());
            async move {
                let mut s = conns[i].lock().await;
                tcp_request(&mut s, &body, &data).await;
            }
        }
    };
    let t_bulk = rate(1, secs, tcp(vec![], vec![0x5a; BULK])).await * BULK as f64 / 1e6;
    let t_rpc1 = rate(1, secs, tcp(vec![1; 64], vec![])).await;
    let t_rpc16 = rate(16, secs, tcp(vec![1; 64], vec![])).await;

    println!("messenger benchmark, {secs} s per figure, 2 worker threads, loopback");
    println!("                         QUIC + mTLS      plain TCP        ratio");
    println!(
        "4 MiB messages, 1 at a time  {q_bulk:>8.0} MB/s   {t_bulk:>8.0} MB/s   {:.2}",
        q_bulk / t_bulk
    );
    println!(
        "64 B RPCs, concurrency 1     {q_rpc1:>8.0} /s     {t_rpc1:>8.0} /s     {:.2}",
        q_rpc1 / t_rpc1
    );
    println!(
        "64 B RPCs, concurrency 16    {q_rpc16:>8.0} /s     {t_rpc16:>8.0} /s     {:.2}",
        q_rpc16 / t_rpc16
    );
    server.close();
    client.close();
}

async fn futures_connect(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut v = Vec::new();
    for _ in 0..n {
        let s = TcpStream::connect(addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        v.push(s);
    }
    v
}
