//! IXFR (RFC 1995) from the journal: Knot and BIND secondaries follow a one-record change with
//! an incremental transfer (seen in their logs), and fall back to a whole-zone transfer when the
//! journal no longer reaches their serial; IXFR queries over TCP and UDP get the answers of RFC
//! 1995 §2–§4, and a garbage authority section gets FORMERR. With the journal kept on disk
//! (`ixfr_journal_dir`), a change made before a restart of altodisc still reaches them as IXFR.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use altodisc_responder::journal::JournalLimits;
use altodisc_responder::load::Sources;
use altodisc_responder::xfr::{NotifyTarget, TransferAcl, changed_zones, spawn_notify};
use altodisc_responder::{Responder, ServeOptions};
use altodisc_testpeers::{Peer, PeerKind, require_or_skip};
use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::common::{Running, udp};

const HOSTS: usize = 300;

fn zone_text(serial: u32, changed: &[usize]) -> String {
    let mut z = format!(
        "$TTL 300\n@ SOA ns1.ixfr.test. hostmaster.ixfr.test. {serial} 3600 600 86400 300\n\
         @ NS ns1.ixfr.test.\nns1 A 192.0.2.1\n"
    );
    for i in 0..HOSTS {
        let v = if changed.contains(&i) { "new" } else { "old" };
        z.push_str(&format!("h{i} TXT \"host {i} {v}\"\n"));
    }
    z
}

fn write_zone(dir: &Path, serial: u32, changed: &[usize]) {
    let tmp = dir.join("ixfr.test.tmp");
    std::fs::write(&tmp, zone_text(serial, changed)).unwrap();
    std::fs::rename(&tmp, dir.join("ixfr.test.zone")).unwrap();
}

fn temp(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("altodisc-ixfr-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn start(dir: &Path, limits: JournalLimits) -> (Running, Sources) {
    write_zone(dir, 1, &[]);
    let sources = Sources {
        config: None,
        zones_dir: Some(dir.to_owned()),
    };
    let options = ServeOptions {
        transfer_acl: TransferAcl::parse(&["127.0.0.1/32"]).unwrap(),
        journal: limits,
        ..ServeOptions::default()
    };
    let index = sources.load_index(None).unwrap().index;
    (Running::with_index(index, options), sources)
}

fn serial(addr: SocketAddr) -> Option<u32> {
    let m = udp(addr, "ixfr.test.", RecordType::SOA, Some(1232));
    match m.answers.first().map(|r| &r.data) {
        Some(RData::SOA(soa)) => Some(soa.serial),
        _ => None,
    }
}

fn txt(addr: SocketAddr, i: usize) -> String {
    let m = udp(
        addr,
        &format!("h{i}.ixfr.test."),
        RecordType::TXT,
        Some(1232),
    );
    m.answers.iter().map(|r| r.data.to_string()).collect()
}

/// Reloads the zone files, NOTIFYs the peer and waits for it to reach `want`.
fn change_and_follow(ours: &Running, sources: &Sources, peer: &Peer, want: u32, notify: bool) {
    let next = sources.load_index(None).unwrap();
    let old = ours.responder().reload(next.index);
    let changed = changed_zones(&old, &ours.responder().current());
    if !notify {
        return;
    }
    {
        let _guard = ours.runtime().enter();
        let target = NotifyTarget {
            addr: peer.addr(),
            key: None,
            fudge: 300,
        };
        spawn_notify(&[target], changed, ours.responder().metrics());
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while serial(peer.addr()) != Some(want) {
        assert!(
            Instant::now() < deadline,
            "{} did not reach serial {want}; log:\n{}",
            peer.kind(),
            peer.log_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The last line of `log` containing `marker`.
fn last_line<'a>(log: &'a str, marker: &str) -> &'a str {
    log.lines().rev().find(|l| l.contains(marker)).unwrap_or("")
}

/// `done`: the secondary's log line of a finished transfer; `incremental` and `whole`: what
/// that line says for an incremental transfer and for a whole zone.
fn secondary_uses_ixfr(kind: PeerKind, done: &str, incremental: &str, whole: &str) {
    if !require_or_skip(kind) {
        return;
    }
    let dir = temp(kind.name());
    let (ours, sources) = start(
        &dir,
        JournalLimits {
            diffs: 1,
            records: 10_000,
            dir: None,
        },
    );
    let peer = Peer::start_secondary(kind, ours.addr, &["ixfr.test."], Duration::from_secs(30))
        .expect("secondary transfers the zone");
    assert_eq!(serial(peer.addr()), Some(1));

    // One record changed: the secondary asks IXFR and gets the difference.
    write_zone(&dir, 2, &[7]);
    change_and_follow(&ours, &sources, &peer, 2, true);
    assert_eq!(txt(peer.addr(), 7), txt(ours.addr, 7));
    assert!(txt(peer.addr(), 7).contains("new"));
    let log = peer.log_tail();
    assert!(
        last_line(&log, done).contains(incremental),
        "{kind}: the last transfer was not incremental:\n{log}"
    );

    // Two changes while the secondary is not told; the journal keeps one difference (2 is out
    // of reach), so its IXFR from 2 gets the whole zone.
    write_zone(&dir, 3, &[7, 8]);
    change_and_follow(&ours, &sources, &peer, 3, false);
    write_zone(&dir, 4, &[8, 9]);
    change_and_follow(&ours, &sources, &peer, 4, true);
    for i in [7, 8, 9, 10] {
        assert_eq!(txt(peer.addr(), i), txt(ours.addr, i), "h{i}");
    }
    let log = peer.log_tail();
    assert!(
        last_line(&log, done).contains(whole),
        "{kind}: the last transfer was not the whole zone:\n{log}"
    );
    drop(peer);
    drop(ours);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn knot_secondary_follows_with_ixfr_and_falls_back() {
    // "IXFR, incoming, remote …, finished, …" vs "AXFR, incoming, …, finished" after Knot's
    // "receiving AXFR-style IXFR".
    secondary_uses_ixfr(
        PeerKind::Knot,
        ", finished,",
        "IXFR, incoming",
        "AXFR, incoming",
    );
}

#[test]
fn bind_secondary_follows_with_ixfr_and_falls_back() {
    // "Transfer completed: 1 messages, 6 records" (SOA 2, SOA 1, one removed, SOA 2, one added,
    // SOA 2) vs the whole zone's HOSTS + 4 records.
    secondary_uses_ixfr(
        PeerKind::Bind,
        "Transfer completed",
        " 6 records",
        &format!(" {} records", HOSTS + 4),
    );
}

fn ixfr_query(id: u16, serial: Option<u32>, owner: &str, udp_size: Option<u16>) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = id;
    m.add_query(Query::query(
        Name::from_ascii("ixfr.test.").unwrap(),
        RecordType::IXFR,
    ));
    if let Some(s) = serial {
        let soa = SOA::new(
            Name::from_ascii("ns1.ixfr.test.").unwrap(),
            Name::from_ascii("hostmaster.ixfr.test.").unwrap(),
            s,
            3600,
            600,
            86400,
            300,
        );
        m.add_authority(Record::from_rdata(
            Name::from_ascii(owner).unwrap(),
            0,
            RData::SOA(soa),
        ));
    }
    if let Some(size) = udp_size {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

fn tcp_all(addr: SocketAddr, wire: &[u8]) -> Vec<Message> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut out = u16::try_from(wire.len()).unwrap().to_be_bytes().to_vec();
    out.extend_from_slice(wire);
    s.write_all(&out).unwrap();
    let mut msgs = Vec::new();
    let mut soas = 0;
    loop {
        let mut len = [0u8; 2];
        s.read_exact(&mut len).unwrap();
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut buf).unwrap();
        let m = Message::from_vec(&buf).unwrap();
        let done = m.metadata.response_code != ResponseCode::NoError;
        soas += m
            .answers
            .iter()
            .filter(|r| r.record_type() == RecordType::SOA)
            .count();
        let single = m.answers.len() == 1 && soas == 1;
        msgs.push(m);
        // One SOA alone (current), or the closing current SOA (second or later SOA that ends a
        // message whose last record is the current SOA).
        let last_is_current = msgs
            .last()
            .and_then(|m| m.answers.last())
            .is_some_and(|r| matches!(&r.data, RData::SOA(s) if s.serial == 2));
        if done || single || (soas >= 2 && last_is_current) {
            return msgs;
        }
    }
}

fn udp_one(addr: SocketAddr, wire: &[u8]) -> Message {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.send_to(wire, addr).unwrap();
    let mut buf = [0u8; 4096];
    let n = s.recv(&mut buf).unwrap();
    Message::from_vec(&buf[..n]).unwrap()
}

#[test]
fn ixfr_answers_follow_rfc_1995() {
    let dir = temp("wire");
    let (ours, sources) = start(&dir, JournalLimits::default());
    write_zone(&dir, 2, &[3]);
    let next = sources.load_index(None).unwrap();
    ours.responder().reload(next.index);
    let answers = |ms: &[Message]| -> Vec<Record> {
        ms.iter().flat_map(|m| m.answers.iter().cloned()).collect()
    };

    // Current or newer serial: one SOA (RFC 1995 §2, §4).
    for s in [2, 3] {
        let r = answers(&tcp_all(
            ours.addr,
            &ixfr_query(1, Some(s), "ixfr.test.", None),
        ));
        assert_eq!(r.len(), 1, "serial {s}");
        assert_eq!(r[0].record_type(), RecordType::SOA);
    }
    // Known older serial: SOA 2, SOA 1, removed, SOA 2, added, SOA 2.
    let r = answers(&tcp_all(
        ours.addr,
        &ixfr_query(2, Some(1), "ixfr.test.", None),
    ));
    let kinds: Vec<String> = r
        .iter()
        .map(|x| match &x.data {
            RData::SOA(s) => format!("SOA{}", s.serial),
            other => other.to_string(),
        })
        .collect();
    assert_eq!(kinds.len(), 6, "{kinds:?}");
    assert_eq!(
        (&kinds[0], &kinds[1], &kinds[3], &kinds[5]),
        (
            &"SOA2".to_owned(),
            &"SOA1".to_owned(),
            &"SOA2".to_owned(),
            &"SOA2".to_owned()
        )
    );
    assert!(
        kinds[2].contains("host 3 old") && kinds[4].contains("host 3 new"),
        "{kinds:?}"
    );
    // Unknown older serial: the whole zone, AXFR-style.
    let r = answers(&tcp_all(
        ours.addr,
        &ixfr_query(3, Some(0), "ixfr.test.", None),
    ));
    assert_eq!(r.len(), HOSTS + 4);
    // Garbage in the authority section: FORMERR, one message.
    for (serial, owner) in [(None, "ixfr.test."), (Some(1), "other.test.")] {
        let ms = tcp_all(ours.addr, &ixfr_query(4, serial, owner, None));
        assert_eq!(ms.len(), 1);
        assert_eq!(ms[0].metadata.response_code, ResponseCode::FormErr);
    }
    // UDP (RFC 1995 §2): current → one SOA; a difference that fits → the difference; a whole
    // zone that does not fit → one SOA, so the client retries over TCP.
    let m = udp_one(ours.addr, &ixfr_query(5, Some(2), "ixfr.test.", Some(1232)));
    assert_eq!(m.answers.len(), 1);
    let m = udp_one(ours.addr, &ixfr_query(6, Some(1), "ixfr.test.", Some(1232)));
    assert_eq!(m.answers.len(), 6);
    assert!(!m.metadata.truncation);
    let m = udp_one(ours.addr, &ixfr_query(7, Some(0), "ixfr.test.", Some(1232)));
    assert_eq!(m.answers.len(), 1);
    assert!(matches!(&m.answers[0].data, RData::SOA(s) if s.serial == 2));
    drop(ours);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// altodisc at a fixed address, as a restarted process would be: its own runtime, the zones
/// loaded anew from `sources`.
struct Process {
    runtime: tokio::runtime::Runtime,
    responder: Option<Responder>,
}

impl Process {
    fn start(sources: &Sources, addr: SocketAddr, journal: JournalLimits) -> Self {
        let options = ServeOptions {
            listen: vec![addr],
            transfer_acl: TransferAcl::parse(&["127.0.0.1/32"]).unwrap(),
            journal,
            ..ServeOptions::default()
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let index = sources.load_index(None).unwrap().index;
        let responder = runtime.block_on(Responder::start(index, &options)).unwrap();
        Self {
            runtime,
            responder: Some(responder),
        }
    }

    fn responder(&self) -> &Responder {
        self.responder.as_ref().unwrap()
    }

    fn reload(&self, sources: &Sources) {
        self.responder()
            .reload(sources.load_index(None).unwrap().index);
    }

    /// NOTIFYs `peer` of `zone` at the serial served now.
    fn notify(&self, peer: &Peer, zone: &str) {
        let _guard = self.runtime.enter();
        let target = NotifyTarget {
            addr: peer.addr(),
            key: None,
            fudge: 300,
        };
        let name = Name::from_ascii(zone).unwrap();
        let soa = self
            .responder()
            .current()
            .zone(&name)
            .unwrap()
            .soa()
            .clone();
        let changed = vec![(name, soa)];
        spawn_notify(&[target], changed, self.responder().metrics());
    }

    fn stop(mut self) {
        if let Some(r) = self.responder.take() {
            self.runtime.block_on(r.shutdown()).unwrap();
        }
    }
}

/// A one-record change is loaded, altodisc restarts, and only then is the secondary told: it
/// asks IXFR from its serial, which the restarted server answers from the journal read back
/// from `ixfr_journal_dir`. Then the same across a restart without the directory: the whole
/// zone, which shows the difference came from the file.
fn ixfr_across_a_restart(kind: PeerKind, done: &str, incremental: &str, whole: &str) {
    if !require_or_skip(kind) {
        return;
    }
    let dir = temp(&format!("restart-{}", kind.name()));
    let zones = dir.join("zones");
    std::fs::create_dir_all(&zones).unwrap();
    write_zone(&zones, 1, &[]);
    let sources = Sources {
        config: None,
        zones_dir: Some(zones.clone()),
    };
    let on_disk = JournalLimits {
        dir: Some(dir.join("journal")),
        ..JournalLimits::default()
    };
    let first = Running::with_index(
        sources.load_index(None).unwrap().index,
        ServeOptions {
            transfer_acl: TransferAcl::parse(&["127.0.0.1/32"]).unwrap(),
            journal: on_disk.clone(),
            ..ServeOptions::default()
        },
    );
    let addr = first.addr;
    let peer = Peer::start_secondary(kind, addr, &["ixfr.test."], Duration::from_secs(30))
        .expect("secondary transfers the zone");
    assert_eq!(serial(peer.addr()), Some(1));

    // The change is loaded (the journal file written), the secondary is not told.
    write_zone(&zones, 2, &[7]);
    first.reload(sources.load_index(None).unwrap().index);
    assert_eq!(serial(addr), Some(2));
    assert!(dir.join("journal/ixfr.test.ixfr").is_file());
    drop(first);

    let wait = |want: u32| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while serial(peer.addr()) != Some(want) {
            assert!(
                Instant::now() < deadline,
                "{kind} did not reach serial {want}; log:\n{}",
                peer.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let second = Process::start(&sources, addr, on_disk.clone());
    assert_eq!(serial(addr), Some(2));
    second.notify(&peer, "ixfr.test.");
    wait(2);
    assert!(txt(peer.addr(), 7).contains("new"));
    let log = peer.log_tail();
    assert!(
        last_line(&log, done).contains(incremental),
        "{kind}: the transfer after the restart was not incremental:\n{log}"
    );

    // Control: another one-record change across a restart, journal in memory only.
    write_zone(&zones, 3, &[7, 8]);
    second.reload(&sources);
    second.stop();
    let third = Process::start(
        &sources,
        addr,
        JournalLimits {
            dir: None,
            ..on_disk
        },
    );
    third.notify(&peer, "ixfr.test.");
    wait(3);
    assert!(txt(peer.addr(), 8).contains("new"));
    let log = peer.log_tail();
    assert!(
        last_line(&log, done).contains(whole),
        "{kind}: without the journal on disk the transfer was not the whole zone:\n{log}"
    );
    third.stop();
    drop(peer);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn knot_gets_ixfr_after_a_restart_from_the_journal_on_disk() {
    ixfr_across_a_restart(
        PeerKind::Knot,
        ", finished,",
        "IXFR, incoming",
        "AXFR, incoming",
    );
}

#[test]
fn bind_gets_ixfr_after_a_restart_from_the_journal_on_disk() {
    // 6 records: SOA 2, SOA 1, one removed, SOA 2, one added, SOA 2 (RFC 1995 §4).
    ixfr_across_a_restart(
        PeerKind::Bind,
        "Transfer completed",
        " 6 records",
        &format!(" {} records", HOSTS + 4),
    );
}
