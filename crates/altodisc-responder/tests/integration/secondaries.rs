//! altodisc as a hidden primary: NSD, Knot and BIND, started as secondaries of it, transfer every zone
//! (AXFR, RFC 5936), then answer the differential query list exactly as altodisc does; after a
//! change of the publishing config, altodisc NOTIFYs them (RFC 1996) and the new serial and data
//! reach them.

use std::path::Path;
use std::time::{Duration, Instant};

use altodisc_responder::ServeOptions;
use altodisc_responder::load::Sources;
use altodisc_responder::xfr::{NotifyTarget, TransferAcl, changed_zones, spawn_notify};
use altodisc_testpeers::{Peer, PeerKind, require_or_skip};
use hickory_proto::rr::{RData, RecordType};

use crate::common::{Running, udp, zones_dir};
use crate::differential::{ask, assert_same_answers};

fn config_text(uri: &str) -> String {
    format!(
        "[serve]\nzones_dir = {:?}\n[defaults]\nns = [\"ns1.example.net.\"]\n\
         [[zone]]\norigin = \"ops.test.\"\n[[access_domain]]\ndomain = \"ops.test.\"\n\
         records = [{{ order = 100, preference = 10, uri = \"{uri}\" }}]\n",
        zones_dir().canonicalize().unwrap().display().to_string()
    )
}

fn serial(addr: std::net::SocketAddr, zone: &str) -> Option<u32> {
    let m = udp(addr, zone, RecordType::SOA, Some(1232));
    match m.answers.first().map(|r| &r.data) {
        Some(RData::SOA(soa)) => Some(soa.serial),
        _ => None,
    }
}

/// `exact_truncation` as in the differential test: BIND fills a TC=1 answer with what fits, NSD
/// and Knot (and altodisc) send none; RFC 2181 §9 allows both.
fn secondary_follows_primary(kind: PeerKind, exact_truncation: bool) {
    if !require_or_skip(kind) {
        return;
    }
    let dir = std::env::temp_dir().join(format!(
        "altodisc-secondaries-{}-{}",
        kind.name(),
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("publish.toml");
    std::fs::write(&config, config_text("https://alto.ops.test/ird")).unwrap();
    let sources = Sources {
        config: Some(config.clone()),
        zones_dir: None,
    };
    let first = sources.load_index_checked(None).unwrap();
    let origins: Vec<String> = first
        .index
        .zones()
        .map(|z| z.origin().to_string())
        .collect();
    assert_eq!(origins.len(), 5, "{origins:?}");
    let options = ServeOptions {
        transfer_acl: TransferAcl::parse(&["127.0.0.1/32"]).unwrap(),
        ..ServeOptions::default()
    };
    let ours = Running::with_index(first.index, options);
    let names: Vec<&str> = origins.iter().map(String::as_str).collect();
    let peer = Peer::start_secondary(kind, ours.addr, &names, Duration::from_secs(30))
        .expect("secondary starts and transfers every zone");

    // 1. The transferred zones answer exactly as the primary does.
    assert_same_answers(kind, peer.addr(), ours.addr, exact_truncation);
    let ops = |addr| {
        ask(
            addr,
            "ops.test.",
            RecordType::NAPTR,
            crate::differential::Via::Edns1232,
        )
    };
    assert_eq!(ops(peer.addr()), ops(ours.addr));

    // 2. A config change: reload, NOTIFY, and the secondary picks up the new serial and data.
    let before = serial(ours.addr, "ops.test.").unwrap();
    assert_eq!(serial(peer.addr(), "ops.test."), Some(before));
    std::fs::write(&config, config_text("https://alto2.ops.test/ird")).unwrap();
    let second = sources.load_index_checked(Some(&first.serials)).unwrap();
    let old = ours.responder().reload(second.index);
    let changed = changed_zones(&old, &ours.responder().current());
    assert_eq!(changed.len(), 1, "only ops.test. changed");
    let after = serial(ours.addr, "ops.test.").unwrap();
    assert!(after > before, "{after} > {before}");
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
    while serial(peer.addr(), "ops.test.") != Some(after) {
        assert!(
            Instant::now() < deadline,
            "{kind} did not reach serial {after}; log:\n{}",
            peer.log_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let theirs = ops(peer.addr());
    assert_eq!(theirs, ops(ours.addr));
    assert!(
        theirs.answer.iter().any(|a| a.contains("alto2.ops.test")),
        "{theirs:?}"
    );
    let text = ours
        .responder()
        .metrics()
        .render(&ours.responder().current());
    assert!(
        text.contains("altodisc_notify_total{result=\"acked\"} 1\n"),
        "{text}"
    );
    drop(peer);
    std::fs::remove_dir_all(Path::new(&dir)).unwrap();
}

#[test]
fn nsd_secondary_transfers_and_follows_notify() {
    secondary_follows_primary(PeerKind::Nsd, true);
}

#[test]
fn knot_secondary_transfers_and_follows_notify() {
    secondary_follows_primary(PeerKind::Knot, true);
}

#[test]
fn bind_secondary_transfers_and_follows_notify() {
    secondary_follows_primary(PeerKind::Bind, false);
}
