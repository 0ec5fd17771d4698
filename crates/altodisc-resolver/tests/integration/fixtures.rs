//! Shared helpers: the fixture zones of `tests/fixtures/resolver/`, and loopback "servers" that
//! misbehave on purpose (silent, or answering with crafted bytes).

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use altodisc_testpeers::Zone;

/// `tests/fixtures/resolver/` at the workspace root.
pub(crate) fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/resolver")
}

/// Every fixture zone (the file name is the origin plus `.zone`).
pub(crate) fn fixture_zones() -> Vec<Zone> {
    let mut zones: Vec<Zone> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "zone"))
        .map(|p| {
            let origin = p.file_stem().unwrap().to_string_lossy().into_owned() + ".";
            Zone::file(origin, p)
        })
        .collect();
    zones.sort_by(|a, b| a.origin().cmp(b.origin()));
    zones
}

/// The query name of a DNS message, lowercased with a trailing dot (no compression in queries).
pub(crate) fn qname(msg: &[u8]) -> Option<String> {
    let mut i = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*msg.get(i)?);
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(msg.get(i + 1..i + 1 + len)?).to_ascii_lowercase());
        i += 1 + len;
    }
    Some(labels.join(".") + ".")
}

/// A UDP socket on 127.0.0.1 that reads every query and never answers. Counts queries per name.
pub(crate) struct SilentServer {
    pub(crate) addr: SocketAddr,
    pub(crate) seen: Arc<Mutex<HashMap<String, usize>>>,
}

impl SilentServer {
    pub(crate) fn start() -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = sock.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(HashMap::new()));
        let seen2 = Arc::clone(&seen);
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        // The thread ends when the test process ends; the socket never answers.
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            loop {
                if let Ok((n, _)) = sock.recv_from(&mut buf)
                    && let Some(name) = qname(&buf[..n])
                {
                    *seen2.lock().unwrap().entry(name).or_insert(0) += 1;
                }
            }
        });
        Self { addr, seen }
    }

    pub(crate) fn count(&self, name: &str) -> usize {
        self.seen.lock().unwrap().get(name).copied().unwrap_or(0)
    }
}

/// A UDP "server" that answers every query with `respond(query)` (hostile-server tests).
pub(crate) fn crafted_server(
    respond: impl Fn(&[u8]) -> Option<Vec<u8>> + Send + 'static,
) -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        loop {
            if let Ok((n, from)) = sock.recv_from(&mut buf)
                && let Some(resp) = respond(&buf[..n])
            {
                let _ = sock.send_to(&resp, from);
            }
        }
    });
    addr
}
