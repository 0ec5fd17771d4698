//! Several UDP workers (`[serve] workers`): concurrent clients, each from its own source port,
//! pipeline queries at a 2-worker server; every query must get exactly its own reply (same ID
//! and question), with the answer a lone query gets.

use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use altodisc_responder::ServeOptions;
use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

use crate::common::{Running, Summary, query, summary, tcp, udp};

/// Names covering the answer kinds (NAPTR hit, NXDOMAIN, NODATA, REFUSED, truncation).
const NAMES: [&str; 6] = [
    "65.2.0.192.in-addr.arpa.",
    "77.2.0.192.in-addr.arpa.",
    "office.example.net.",
    "5.113.0.203.in-addr.arpa.",
    "example.org.",
    "big.example.net.",
];

const CLIENTS: usize = 8;
const QUERIES_PER_CLIENT: u16 = 400;
/// Queries a client has in flight at once: enough for both workers to have work queued.
const WINDOW: u16 = 50;

/// Sends `QUERIES_PER_CLIENT` queries in windows of `WINDOW` and returns the replies by ID.
fn client(addr: SocketAddr, seed: usize) -> HashMap<u16, Message> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut replies = HashMap::new();
    // IDs sent a second time: their first reply may still arrive late, so two replies to one of
    // these are our own retransmission answered twice (and must be the same reply); two replies
    // to a query sent once are the server's fault.
    let mut resent = HashSet::new();
    let mut buf = vec![0u8; 65535];
    let mut id = 0;
    while id < QUERIES_PER_CLIENT {
        let end = (id + WINDOW).min(QUERIES_PER_CLIENT);
        let window = id..end;
        // Two tries per window: loopback does not lose datagrams, but a full socket buffer on
        // a loaded machine may; a query lost twice fails the test.
        for attempt in 0..2 {
            for i in window.clone().filter(|i| !replies.contains_key(i)) {
                if attempt > 0 {
                    resent.insert(i);
                }
                let mut q = query(
                    NAMES[(seed + usize::from(i)) % NAMES.len()],
                    RecordType::NAPTR,
                    Some(1232),
                );
                q.metadata.id = i;
                sock.send_to(&q.to_vec().unwrap(), addr).unwrap();
            }
            let deadline = Instant::now() + Duration::from_secs(3);
            while window.clone().any(|i| !replies.contains_key(&i)) && Instant::now() < deadline {
                let Ok((n, _)) = sock.recv_from(&mut buf) else {
                    break;
                };
                let m = Message::from_vec(&buf[..n]).unwrap();
                let id = m.metadata.id;
                if let Some(first) = replies.get(&id) {
                    assert!(
                        resent.contains(&id),
                        "client {seed}: two replies to query {id}, which was sent once"
                    );
                    assert_eq!(
                        summary(first),
                        summary(&m),
                        "client {seed}: the retransmitted query {id} got a different reply"
                    );
                    continue;
                }
                replies.insert(id, m);
            }
        }
        id = end;
    }
    replies
}

#[test]
fn two_workers_on_one_socket_answer_every_query_of_concurrent_clients() {
    concurrent_clients(false);
}

/// The same with a socket per worker (`SO_REUSEPORT`, Linux only).
#[cfg(target_os = "linux")]
#[test]
fn two_workers_with_a_socket_each_answer_every_query_of_concurrent_clients() {
    concurrent_clients(true);
}

fn concurrent_clients(reuseport: bool) {
    let server = Running::with_options(ServeOptions {
        udp_workers: 2,
        udp_reuseport: reuseport,
        ..ServeOptions::default()
    });
    let addr = server.addr;
    let expected: Vec<Summary> = NAMES
        .iter()
        .map(|name| summary(&udp(addr, name, RecordType::NAPTR, Some(1232))))
        .collect();
    // The list covers several answer kinds (NOERROR with and without data, NXDOMAIN, REFUSED).
    let rcodes: HashSet<_> = expected.iter().map(|s| s.rcode).collect();
    assert!(rcodes.len() >= 3, "{expected:?}");
    let threads: Vec<_> = (0..CLIENTS)
        .map(|seed| std::thread::spawn(move || (seed, client(addr, seed))))
        .collect();
    let mut answered = 0;
    for t in threads {
        let (seed, replies) = t.join().unwrap();
        for i in 0..QUERIES_PER_CLIENT {
            let m = replies
                .get(&i)
                .unwrap_or_else(|| panic!("client {seed}: no reply to query {i}"));
            let name = NAMES[(seed + usize::from(i)) % NAMES.len()];
            let question = m.queries.first().unwrap();
            assert_eq!(question.name().to_ascii(), name, "client {seed}, query {i}");
            assert_eq!(
                summary(m),
                expected[(seed + usize::from(i)) % NAMES.len()],
                "client {seed}, query {name}"
            );
            answered += 1;
        }
    }
    assert_eq!(answered, CLIENTS * usize::from(QUERIES_PER_CLIENT));
    // TCP is served too, alongside.
    assert_eq!(
        summary(&tcp(addr, NAMES[0], RecordType::NAPTR, Some(1232))),
        expected[0]
    );
}
