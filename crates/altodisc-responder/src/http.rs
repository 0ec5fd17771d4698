//! A tiny HTTP/1.1 endpoint for operations: `GET /metrics` (Prometheus text format 0.0.4) and
//! `GET /healthz` (200 when zones are loaded, 503 otherwise). One request per connection
//! (`Connection: close`), bounded request size, read timeout and concurrency: it is meant for a
//! scraper on a management network, not for the Internet.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tracing::debug;

use crate::index::ZoneIndex;
use crate::metrics::Metrics;

/// Largest request head read.
const MAX_REQUEST: usize = 8192;
/// Concurrent connections served.
const MAX_CONNECTIONS: usize = 16;
/// Time to send the request head.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves the endpoint on `listener` until `shutdown` turns true.
pub async fn serve_metrics(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    index: Arc<ArcSwap<ZoneIndex>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(error) => { debug!(%error, "metrics accept failed"); continue; }
            },
            _ = shutdown.changed() => return,
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            continue;
        };
        let metrics = metrics.clone();
        let index = index.clone();
        tokio::spawn(async move {
            handle(stream, peer, &metrics, &index).await;
            drop(permit);
        });
    }
}

async fn handle(
    mut stream: TcpStream,
    peer: SocketAddr,
    metrics: &Metrics,
    index: &ArcSwap<ZoneIndex>,
) {
    let mut buf = Vec::with_capacity(1024);
    let head = tokio::time::timeout(READ_TIMEOUT, async {
        let mut chunk = [0u8; 1024];
        loop {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(chunk.get(..n)?);
            if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                return Some(());
            }
            if buf.len() > MAX_REQUEST {
                return None;
            }
        }
    })
    .await;
    if !matches!(head, Ok(Some(()))) {
        debug!(%peer, "metrics: incomplete request");
        return;
    }
    let line = buf.split(|&b| b == b'\r').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, ctype, body) = match (method, path) {
        ("GET" | "HEAD", "/metrics") => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            metrics.render(&index.load()),
        ),
        ("GET" | "HEAD", "/healthz") if metrics.is_loaded() => (
            "200 OK",
            "text/plain; charset=utf-8",
            metrics.healthz_body(),
        ),
        ("GET" | "HEAD", "/healthz") => (
            "503 Service Unavailable",
            "text/plain; charset=utf-8",
            "no zones loaded\n".to_owned(),
        ),
        ("GET" | "HEAD", _) => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "not found\n".to_owned(),
        ),
        _ => (
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            "only GET\n".to_owned(),
        ),
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if method != "HEAD" {
        response.push_str(&body);
    }
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
