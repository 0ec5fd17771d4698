//! Catalog zones (RFC 9432): a BIND 9.18 secondary configured once with altodisc's catalog zone
//! provisions every member zone, and a new reverse zone after it is added to the zones
//! directory and the reload's NOTIFY.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use altodisc_responder::ServeOptions;
use altodisc_responder::load::Sources;
use altodisc_responder::xfr::{NotifyTarget, TransferAcl, changed_zones, spawn_notify};
use altodisc_testpeers::{Peer, PeerKind, PeerOptions, require_or_skip};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

use crate::common::{Running, udp};

const CATALOG: &str = "catalog.altodisc.invalid.";

fn reverse_zone(dir: &Path, third: u8) {
    let origin = format!("{third}.0.192.in-addr.arpa.");
    std::fs::write(
        dir.join(format!("{origin}zone")),
        "$TTL 300\n@ SOA ns1.example.net. hostmaster.example.net. 1 3600 600 86400 300\n\
         @ NS ns1.example.net.\n1 PTR host1.example.net.\n",
    )
    .unwrap();
}

fn authoritative_serial(addr: SocketAddr, zone: &str) -> Option<u32> {
    let m = udp(addr, zone, RecordType::SOA, Some(1232));
    if m.metadata.response_code != ResponseCode::NoError || !m.metadata.authoritative {
        return None;
    }
    match m.answers.first().map(|r| &r.data) {
        Some(RData::SOA(soa)) => Some(soa.serial),
        _ => None,
    }
}

fn wait_for(peer: &Peer, zone: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while authoritative_serial(peer.addr(), zone).is_none() {
        assert!(
            Instant::now() < deadline,
            "{} did not provision {zone}; log:\n{}",
            peer.kind(),
            peer.log_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn bind_provisions_a_new_reverse_zone_from_the_catalog() {
    if !require_or_skip(PeerKind::Bind) {
        return;
    }
    let dir = std::env::temp_dir().join(format!("altodisc-catalog-{}", std::process::id()));
    let zones = dir.join("zones");
    std::fs::create_dir_all(&zones).unwrap();
    reverse_zone(&zones, 2);
    let config = dir.join("publish.toml");
    std::fs::write(
        &config,
        format!("[serve]\nzones_dir = \"zones\"\ncatalog_zone = \"{CATALOG}\"\n"),
    )
    .unwrap();
    let sources = Sources {
        config: Some(config),
        zones_dir: None,
    };
    let first = sources.load_index(None).unwrap();
    let options = ServeOptions {
        transfer_acl: TransferAcl::parse(&["127.0.0.1/32"]).unwrap(),
        ..ServeOptions::default()
    };
    let ours = Running::with_index(first.index, options);
    assert!(authoritative_serial(ours.addr, CATALOG).is_some());
    let peer_options = PeerOptions {
        startup_timeout: Duration::from_secs(30),
        server_options: format!(
            "  allow-new-zones yes;\n  catalog-zones {{ zone \"{CATALOG}\" default-primaries {{ {} port {}; }} in-memory yes; }};\n",
            ours.addr.ip(),
            ours.addr.port()
        ),
        ..PeerOptions::default()
    };
    let peer = Peer::start_secondary_with(PeerKind::Bind, ours.addr, &[CATALOG], &peer_options)
        .expect("BIND transfers the catalog");
    wait_for(&peer, "2.0.192.in-addr.arpa.");
    assert!(authoritative_serial(peer.addr(), "3.0.192.in-addr.arpa.").is_none());

    // A new prefix: its reverse zone appears in the zones directory; the reload adds it to the
    // catalog and NOTIFYs; BIND provisions it.
    reverse_zone(&zones, 3);
    let second = sources.load_index(Some(&first.serials)).unwrap();
    let old = ours.responder().reload(second.index);
    let changed = changed_zones(&old, &ours.responder().current());
    assert!(
        changed.iter().any(|(z, _)| z.to_string() == CATALOG),
        "{changed:?}"
    );
    {
        let _guard = ours.runtime().enter();
        let target = NotifyTarget {
            addr: peer.addr(),
            key: None,
            fudge: 300,
        };
        spawn_notify(&[target], changed, ours.responder().metrics());
    }
    wait_for(&peer, "3.0.192.in-addr.arpa.");
    let m = udp(
        peer.addr(),
        "1.3.0.192.in-addr.arpa.",
        RecordType::PTR,
        Some(1232),
    );
    assert_eq!(m.answers.len(), 1, "{m:?}");
    drop(peer);
    drop(ours);
    std::fs::remove_dir_all(&dir).unwrap();
}
