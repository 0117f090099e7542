//! Prometheus metrics: the messenger's own counters, and the HTTP
//! endpoint every daemon serves its metrics on (`GET /metrics`, text
//! format 0.0.4). Metrics live in the process's default registry, which
//! also carries the process metrics (CPU, memory, open files).

use std::net::SocketAddr;
use std::sync::LazyLock;

use prometheus::{IntCounter, IntCounterVec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

static FRAMES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    prometheus::register_int_counter_vec!(
        "strata_messenger_frames_total",
        "Frames sent and received by this process's messengers",
        &["direction"]
    )
    .expect("metric registers once")
});

static BYTES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    prometheus::register_int_counter_vec!(
        "strata_messenger_bytes_total",
        "Frame bytes (header, body and data) sent and received",
        &["direction"]
    )
    .expect("metric registers once")
});

static ERRORS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    prometheus::register_int_counter_vec!(
        "strata_messenger_errors_total",
        "Rejected frames and connections (bad_frame) and failed connection attempts (connect)",
        &["kind"]
    )
    .expect("metric registers once")
});

/// The per-frame counters, looked up by label once.
static SENT: LazyLock<[IntCounter; 2]> = LazyLock::new(|| {
    [
        FRAMES.with_label_values(&["sent"]),
        BYTES.with_label_values(&["sent"]),
    ]
});
static RECEIVED: LazyLock<[IntCounter; 2]> = LazyLock::new(|| {
    [
        FRAMES.with_label_values(&["received"]),
        BYTES.with_label_values(&["received"]),
    ]
});

fn count(v: &IntCounterVec, label: &str) -> IntCounter {
    v.with_label_values(&[label])
}

pub(crate) fn sent(bytes: usize) {
    SENT[0].inc();
    SENT[1].inc_by(bytes as u64);
}

pub(crate) fn received(bytes: usize) {
    RECEIVED[0].inc();
    RECEIVED[1].inc_by(bytes as u64);
}

pub(crate) fn bad_frame() {
    count(&ERRORS, "bad_frame").inc();
}

pub(crate) fn connect_failed() {
    count(&ERRORS, "connect").inc();
}

/// Everything in the default registry, in Prometheus' text format.
pub fn render() -> String {
    // Make sure the messenger's series exist even before any traffic.
    for d in ["sent", "received"] {
        count(&FRAMES, d);
        count(&BYTES, d);
    }
    for k in ["bad_frame", "connect"] {
        count(&ERRORS, k);
    }
    let mut out = String::new();
    prometheus::TextEncoder::new()
        .encode_utf8(&prometheus::gather(), &mut out)
        .expect("text encoding to a String cannot fail");
    out
}

/// Serves `GET /metrics` on `addr`; returns the bound address. A minimal
/// HTTP/1.0 responder: one request per connection, requests capped at
/// 8 KiB, anything but `GET /metrics` gets 404.
pub async fn serve(addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut n = 0;
                let read = async {
                    while n < buf.len() {
                        let got = sock.read(&mut buf[n..]).await?;
                        if got == 0 {
                            break;
                        }
                        n += got;
                        if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                            break;
                        }
                    }
                    Ok::<_, std::io::Error>(())
                };
                let timed = tokio::time::timeout(std::time::Duration::from_secs(5), read).await;
                if !matches!(timed, Ok(Ok(()))) {
                    return;
                }
                let req = String::from_utf8_lossy(&buf[..n]);
                let ok = req.starts_with("GET /metrics ") || req.starts_with("GET / ");
                let (status, body) = if ok {
                    ("200 OK", render())
                } else {
                    ("404 Not Found", "try GET /metrics\n".to_string())
                };
                let resp = format!(
                    "HTTP/1.0 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Ok(bound)
}
