//! A small HTTP/1.1 endpoint for operations, on hyper: `GET /metrics` (Prometheus text format
//! 0.0.4) and `GET /healthz` (200 when zones are loaded, 503 otherwise; the Kubernetes readiness
//! probe). One request per connection (`Connection: close`). It is meant for a scraper on a
//! management network, but slow or idle clients must not keep the readiness probe unanswered:
//!
//! * every connection is accepted at once; a source (IP address) with
//!   [`HttpLimits::per_source`] connections open has its own oldest one closed for the new one,
//!   and at [`HttpLimits::connections`] in all the oldest open one is closed (a probe completes
//!   in milliseconds, so the oldest are the slow ones);
//! * the request head must arrive within [`HttpLimits::header_timeout`], and a whole connection
//!   lasts at most twice that (a client that does not read its response loses it);
//! * request heads over [`MAX_REQUEST_HEAD`] octets are refused (431); bodies are never read.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONNECTION, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinSet};
use tracing::debug;

use crate::index::ZoneIndex;
use crate::metrics::Metrics;

/// Default of [`HttpLimits::connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 64;
/// Default of [`HttpLimits::per_source`].
pub const DEFAULT_MAX_PER_SOURCE: usize = 8;
/// Default of [`HttpLimits::header_timeout`].
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest request head read (hyper's smallest read buffer); larger ones get 431.
pub const MAX_REQUEST_HEAD: usize = 8192;

/// How long the accept loop pauses after a failed accept (out of file descriptors, typically).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(20);

/// Limits of the endpoint.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Most concurrent connections; at the limit the oldest one is closed for a new one.
    pub connections: usize,
    /// Most concurrent connections from one IP address; at the limit its oldest one is closed
    /// for a new one. 0 = only `connections`.
    pub per_source: usize,
    /// Time to send the request head; a whole connection lasts at most twice this.
    pub header_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            connections: DEFAULT_MAX_CONNECTIONS,
            per_source: DEFAULT_MAX_PER_SOURCE,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
        }
    }
}

/// Serves the endpoint on `listener` until `shutdown` turns true; open connections are closed
/// then.
pub async fn serve_metrics(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    index: Arc<ArcSwap<ZoneIndex>>,
    limits: HttpLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let limit = limits.connections.max(1);
    let mut connections = JoinSet::new();
    // Open connections with their sources, oldest first.
    let mut open: VecDeque<(IpAddr, AbortHandle)> = VecDeque::new();
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(error) => {
                    debug!(%error, "metrics accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        while connections.try_join_next().is_some() {}
        open.retain(|(_, c)| !c.is_finished());
        let source = peer.ip();
        let from_source = open.iter().filter(|(s, _)| *s == source).count();
        let victim = if limits.per_source != 0 && from_source >= limits.per_source {
            open.iter().position(|(s, _)| *s == source)
        } else if open.len() >= limit {
            Some(0)
        } else {
            None
        };
        if let Some((_, oldest)) = victim.and_then(|at| open.remove(at)) {
            debug!(%peer, "metrics: connection limit reached, the oldest connection is closed");
            oldest.abort();
        }
        let metrics = metrics.clone();
        let index = index.clone();
        let task = connections.spawn(async move {
            handle(stream, peer, metrics, index, limits.header_timeout).await;
        });
        open.push_back((source, task));
    }
    // Dropping the set aborts the connections still open.
    connections.shutdown().await;
}

async fn handle(
    stream: TcpStream,
    peer: SocketAddr,
    metrics: Arc<Metrics>,
    index: Arc<ArcSwap<ZoneIndex>>,
    header_timeout: Duration,
) {
    let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
        let response = respond(request.method(), request.uri().path(), &metrics, &index);
        async move { Ok::<_, Infallible>(response) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(false)
        .max_buf_size(MAX_REQUEST_HEAD)
        .serve_connection(TokioIo::new(stream), service);
    match tokio::time::timeout(header_timeout.saturating_mul(2), connection).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => debug!(%peer, %error, "metrics: request failed"),
        Err(_) => debug!(%peer, "metrics: connection closed at its deadline"),
    }
}

/// The response to `method` on `path` (HEAD: hyper leaves the body out).
fn respond(
    method: &Method,
    path: &str,
    metrics: &Metrics,
    index: &ArcSwap<ZoneIndex>,
) -> Response<Full<Bytes>> {
    const TEXT: &str = "text/plain; charset=utf-8";
    let (status, ctype, body) = if *method == Method::GET || *method == Method::HEAD {
        match path {
            "/metrics" => (
                StatusCode::OK,
                crate::metrics::CONTENT_TYPE,
                metrics.render(&index.load()),
            ),
            // `ok`, then one line per zone that failed to load (and is not served).
            "/healthz" if metrics.is_loaded() => (StatusCode::OK, TEXT, metrics.healthz_body()),
            "/healthz" => (
                StatusCode::SERVICE_UNAVAILABLE,
                TEXT,
                "no zones loaded\n".to_owned(),
            ),
            _ => (StatusCode::NOT_FOUND, TEXT, "not found\n".to_owned()),
        }
    } else {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            TEXT,
            "only GET\n".to_owned(),
        )
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn start(limits: HttpLimits) -> (SocketAddr, watch::Sender<bool>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let metrics = Arc::new(Metrics::default());
        metrics.set_loaded(true);
        let index = Arc::new(ArcSwap::from_pointee(ZoneIndex::build(&[]).unwrap()));
        let (tx, rx) = watch::channel(false);
        tokio::spawn(serve_metrics(listener, metrics, index, limits, rx));
        (addr, tx)
    }

    async fn get(addr: SocketAddr, request: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(request).await.unwrap();
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
            .await
            .unwrap()
            .unwrap();
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test]
    async fn routes_and_bodies() {
        let (addr, _stop) = start(HttpLimits::default()).await;
        let ok = get(addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.ends_with("\r\n\r\nok\n"), "{ok}");
        assert!(
            ok.to_ascii_lowercase().contains("connection: close"),
            "{ok}"
        );
        let m = get(addr, b"GET /metrics?x=1 HTTP/1.1\r\n\r\n").await;
        assert!(m.starts_with("HTTP/1.1 200 OK\r\n"), "{m}");
        assert!(m.contains("version=0.0.4"), "{m}");
        let head = get(addr, b"HEAD /healthz HTTP/1.1\r\n\r\n").await;
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n") && head.ends_with("\r\n\r\n"));
        let nf = get(addr, b"GET /nope HTTP/1.1\r\n\r\n").await;
        assert!(nf.starts_with("HTTP/1.1 404 Not Found\r\n") && nf.ends_with("not found\n"));
        let post = get(addr, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n").await;
        assert!(post.starts_with("HTTP/1.1 405 ") && post.ends_with("only GET\n"));
        let garbage = get(addr, b"\x00\x01garbage\r\n\r\n").await;
        assert!(garbage.starts_with("HTTP/1.1 400 "), "{garbage}");
        let mut big = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
        big.resize(MAX_REQUEST_HEAD * 2, b'a');
        big.extend_from_slice(b"\r\n\r\n");
        let big = get(addr, &big).await;
        assert!(big.starts_with("HTTP/1.1 431 "), "{big}");
    }

    #[tokio::test]
    async fn healthz_answers_while_slow_clients_hold_every_slot() {
        let limits = HttpLimits {
            connections: 16,
            per_source: 0,
            header_timeout: Duration::from_secs(30),
        };
        let (addr, _stop) = start(limits).await;
        // 48 clients that send half a request head and stay: three times the limit.
        let mut slow = Vec::new();
        for _ in 0..48 {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET /healthz HT").await.unwrap();
            slow.push(s);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        let ok = get(addr, b"GET /healthz HTTP/1.1\r\n\r\n").await;
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_source_at_its_limit_loses_its_own_oldest_connection() {
        let limits = HttpLimits {
            connections: 64,
            per_source: 4,
            header_timeout: Duration::from_secs(30),
        };
        let (addr, _stop) = start(limits).await;
        let slow_from = |ip: [u8; 4]| async move {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind(SocketAddr::from((ip, 0))).unwrap();
            let mut s = socket.connect(addr).await.unwrap();
            s.write_all(b"GET /healthz HT").await.unwrap();
            s
        };
        let mut other = slow_from([127, 0, 0, 2]).await;
        let mut flood = Vec::new();
        for _ in 0..6 {
            flood.push(slow_from([127, 0, 0, 3]).await);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        async fn closed(s: &mut TcpStream) -> bool {
            let mut buf = [0u8; 64];
            let read = tokio::time::timeout(Duration::from_millis(100), s.read(&mut buf));
            matches!(read.await, Ok(Ok(0) | Err(_)))
        }
        // The two oldest of 127.0.0.3 are gone; 127.0.0.2 and the newest four stay.
        let mut gone = Vec::new();
        for s in &mut flood {
            gone.push(closed(s).await);
        }
        assert_eq!(gone, [true, true, false, false, false, false]);
        assert!(!closed(&mut other).await);
    }

    #[tokio::test]
    async fn a_slow_request_head_is_cut_at_the_header_timeout() {
        let limits = HttpLimits {
            connections: 4,
            per_source: 0,
            header_timeout: Duration::from_millis(300),
        };
        let (addr, _stop) = start(limits).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /he").await.unwrap();
        let started = Instant::now();
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
            .await
            .unwrap()
            .ok();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
}
