//! Shared helpers: a responder on 127.0.0.1:0 serving the bundled zones, and blocking DNS
//! queries built and parsed with hickory-proto's `Message`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use altodisc_responder::load::load_zone_dir;
use altodisc_responder::{Responder, ServeOptions, ZoneIndex};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};

/// The repository's `zones/` directory.
pub(crate) fn zones_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../zones")
}

/// The bundled zone files as (origin, path), for the peers.
pub(crate) fn zone_files() -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(zones_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "zone"))
        .map(|p| {
            let stem = p.file_stem().unwrap().to_str().unwrap().to_owned();
            (format!("{stem}."), p)
        })
        .collect();
    out.sort();
    out
}

/// A responder running on its own runtime; dropped = shut down.
pub(crate) struct Running {
    pub(crate) addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
    responder: Option<Responder>,
}

impl Running {
    pub(crate) fn bundled() -> Self {
        Self::with_options(ServeOptions::default())
    }

    pub(crate) fn with_options(options: ServeOptions) -> Self {
        let loaded = load_zone_dir(&zones_dir()).unwrap();
        let index = ZoneIndex::build(&loaded.zones).unwrap();
        Self::with_index(index, options)
    }

    pub(crate) fn with_index(index: ZoneIndex, mut options: ServeOptions) -> Self {
        options.listen = vec!["127.0.0.1:0".parse().unwrap()];
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let responder = runtime.block_on(Responder::start(index, &options)).unwrap();
        Self {
            addr: responder.local_addrs()[0],
            runtime: Some(runtime),
            responder: Some(responder),
        }
    }

    pub(crate) fn reload(&self, index: ZoneIndex) {
        self.responder.as_ref().unwrap().reload(index);
    }

    pub(crate) fn responder(&self) -> &Responder {
        self.responder.as_ref().unwrap()
    }

    pub(crate) fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let (Some(rt), Some(r)) = (self.runtime.take(), self.responder.take()) {
            let _ = rt.block_on(r.shutdown());
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

/// A query message; `edns` = advertised UDP payload, `None` for no OPT record.
pub(crate) fn query(name: &str, qtype: RecordType, edns: Option<u16>) -> Message {
    let mut m = Message::new(0x4242, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_str(name).unwrap(), qtype));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    m
}

pub(crate) fn udp_exchange(addr: SocketAddr, q: &Message) -> (Message, usize) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let wire = q.to_vec().unwrap();
    let mut buf = vec![0u8; 65535];
    // A few tries: a peer that just started may drop the first datagram.
    for _ in 0..3 {
        sock.send_to(&wire, addr).unwrap();
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            return (Message::from_vec(&buf[..n]).unwrap(), n);
        }
    }
    panic!("no UDP answer from {addr}");
}

pub(crate) fn udp(addr: SocketAddr, name: &str, qtype: RecordType, edns: Option<u16>) -> Message {
    udp_exchange(addr, &query(name, qtype, edns)).0
}

pub(crate) fn tcp_exchange(stream: &mut TcpStream, q: &Message) -> Message {
    let wire = q.to_vec().unwrap();
    let mut framed = u16::try_from(wire.len()).unwrap().to_be_bytes().to_vec();
    framed.extend_from_slice(&wire);
    stream.write_all(&framed).unwrap();
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).unwrap();
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).unwrap();
    Message::from_vec(&buf).unwrap()
}

pub(crate) fn tcp(addr: SocketAddr, name: &str, qtype: RecordType, edns: Option<u16>) -> Message {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    tcp_exchange(&mut s, &query(name, qtype, edns))
}

/// What a differential comparison looks at: RCODE, AA, TC, the answer RRsets (sorted, lowercase
/// presentation with TTL) and the SOA in the authority section (owner and TTL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Summary {
    pub(crate) rcode: ResponseCode,
    pub(crate) aa: bool,
    pub(crate) tc: bool,
    pub(crate) answer: Vec<String>,
    pub(crate) soa_in_authority: Option<String>,
}

pub(crate) fn summary(m: &Message) -> Summary {
    let mut answer: Vec<String> = m
        .answers
        .iter()
        .map(|r| r.to_string().to_ascii_lowercase())
        .collect();
    answer.sort();
    let soa_in_authority = m
        .authorities
        .iter()
        .find(|r| r.record_type() == RecordType::SOA)
        .map(|r| format!("{} {}", r.name.to_ascii().to_ascii_lowercase(), r.ttl));
    Summary {
        rcode: m.metadata.response_code,
        aa: m.metadata.authoritative,
        tc: m.metadata.truncation,
        answer,
        soa_in_authority,
    }
}
