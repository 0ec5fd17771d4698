//! Catalog zones (RFC 9432): a Knot 3.2 and a BIND 9.18 secondary, each configured once with
//! altodisc's catalog zone and nothing else, provision the reverse zone of a prefix added to the
//! publishing config after its reload and NOTIFY, and drop it when the prefix is removed. Every
//! transfer and NOTIFY is signed with TSIG (RFC 8945), as in deploy/secondaries: altodisc
//! refuses unsigned transfers, so the member zones prove that the secondaries' member templates
//! carry the key.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use altodisc_responder::ServeOptions;
use altodisc_responder::load::Sources;
use altodisc_responder::tsig::{TsigAlg, TsigKey, TsigKeyring};
use altodisc_responder::xfr::{NotifyTarget, TransferAcl, changed_zones, spawn_notify};
use altodisc_testpeers::{Peer, PeerKind, PeerOptions, TsigSpec, require_or_skip};
use altodisc_zone::publish_config::SerialState;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

use crate::common::{Running, udp};

const CATALOG: &str = "catalog.altodisc.invalid.";

/// Base64 of the 32 octets `altodisc-catalog-test-secret-001`.
const SECRET_B64: &str = "YWx0b2Rpc2MtY2F0YWxvZy10ZXN0LXNlY3JldC0wMDE=";
const SECRET: &[u8] = b"altodisc-catalog-test-secret-001";

fn key() -> TsigKey {
    TsigKey::new("xfr-key", TsigAlg::HmacSha256, SECRET).unwrap()
}

/// The publishing config with a reverse zone and an RFC 8686 prefix for each `third` octet
/// (`192.0.<third>.0/24`).
fn write_config(path: &Path, thirds: &[u8]) {
    let mut text = format!(
        "[serve]\ncatalog_zone = \"{CATALOG}\"\n\n[defaults]\nns = [\"ns1.example.net.\"]\n\
         rname = \"hostmaster.example.net.\"\nservice = \"ALTO:https\"\n"
    );
    for t in thirds {
        text.push_str(&format!(
            "\n[[zone]]\norigin = \"{t}.0.192.in-addr.arpa.\"\n\n[[prefix]]\nprefix = \"192.0.{t}.0/24\"\n\
             records = [{{ order = 100, preference = 10, uri = \"https://alto{t}.example.net/ird\" }}]\n"
        ));
    }
    std::fs::write(path, text).unwrap();
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

/// Waits until `peer` serves `zone` (`present`) or no longer does.
fn wait_for(peer: &Peer, zone: &str, present: bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while authoritative_serial(peer.addr(), zone).is_some() != present {
        assert!(
            Instant::now() < deadline,
            "{} did not {} {zone}; log:\n{}",
            peer.kind(),
            if present { "provision" } else { "remove" },
            peer.log_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The NAPTR URI that `addr` serves for `192.0.<third>.0/24`.
fn naptr(addr: SocketAddr, third: u8) -> Vec<String> {
    let m = udp(
        addr,
        &format!("{third}.0.192.in-addr.arpa."),
        RecordType::NAPTR,
        Some(1232),
    );
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::NAPTR(n) => Some(String::from_utf8_lossy(&n.regexp).into_owned()),
            _ => None,
        })
        .collect()
}

/// Loads the config again, swaps it in and NOTIFYs the changed zones (the catalog among them)
/// to every peer.
fn reload_and_notify(
    ours: &Running,
    sources: &Sources,
    previous: &SerialState,
    peers: &[Peer],
) -> SerialState {
    let next = sources.load_index(Some(previous)).unwrap();
    let serials = next.serials.clone();
    let old = ours.responder().reload(next.index);
    let changed = changed_zones(&old, &ours.responder().current());
    assert!(
        changed.iter().any(|(z, _)| z.to_string() == CATALOG),
        "the catalog's serial did not change: {changed:?}"
    );
    let targets: Vec<NotifyTarget> = peers
        .iter()
        .map(|p| NotifyTarget {
            addr: p.addr(),
            key: Some(Arc::new(key())),
            fudge: 300,
        })
        .collect();
    {
        let _guard = ours.runtime().enter();
        spawn_notify(&targets, changed, ours.responder().metrics());
    }
    serials
}

#[test]
fn knot_and_bind_provision_and_drop_a_reverse_zone_from_the_catalog() {
    let kinds: Vec<PeerKind> = [PeerKind::Knot, PeerKind::Bind]
        .into_iter()
        .filter(|&k| require_or_skip(k))
        .collect();
    if kinds.is_empty() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("altodisc-catalog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("publish.toml");
    write_config(&config, &[2]);
    let sources = Sources {
        config: Some(config.clone()),
        zones_dir: None,
    };
    let first = sources.load_index(None).unwrap();
    let options = ServeOptions {
        transfer_acl: TransferAcl::parse(&["127.0.0.1/32 key xfr-key"]).unwrap(),
        tsig: TsigKeyring::new(vec![key()], 300),
        ..ServeOptions::default()
    };
    let ours = Running::with_index(first.index, options);
    assert!(authoritative_serial(ours.addr, CATALOG).is_some());
    // Each secondary is told about the catalog only; the reverse zones come from it.
    let peer_options = PeerOptions {
        startup_timeout: Duration::from_secs(30),
        catalog: Some(CATALOG.to_owned()),
        tsig: Some(TsigSpec {
            name: "xfr-key".into(),
            algorithm: "hmac-sha256".into(),
            secret: SECRET_B64.into(),
        }),
        ..PeerOptions::default()
    };
    let peers: Vec<Peer> = kinds
        .iter()
        .map(|&k| {
            Peer::start_secondary_with(k, ours.addr, &[CATALOG], &peer_options)
                .unwrap_or_else(|e| panic!("{k} transfers the catalog: {e}"))
        })
        .collect();
    for peer in &peers {
        wait_for(peer, "2.0.192.in-addr.arpa.", true);
        assert_eq!(
            naptr(peer.addr(), 2),
            naptr(ours.addr, 2),
            "{}",
            peer.kind()
        );
        assert!(authoritative_serial(peer.addr(), "3.0.192.in-addr.arpa.").is_none());
    }

    // A new prefix (and its reverse zone) in the publishing config: the reload adds the zone to
    // the catalog and NOTIFYs; both secondaries provision it with their configs unchanged.
    write_config(&config, &[2, 3]);
    let second = reload_and_notify(&ours, &sources, &first.serials, &peers);
    let want = naptr(ours.addr, 3);
    assert_eq!(want.len(), 1, "{want:?}");
    assert!(want[0].contains("alto3.example.net"), "{want:?}");
    for peer in &peers {
        wait_for(peer, "3.0.192.in-addr.arpa.", true);
        assert_eq!(
            authoritative_serial(peer.addr(), "3.0.192.in-addr.arpa."),
            authoritative_serial(ours.addr, "3.0.192.in-addr.arpa."),
            "{}",
            peer.kind()
        );
        assert_eq!(naptr(peer.addr(), 3), want, "{}", peer.kind());
    }

    // The prefix removed again: the zone leaves the catalog and both secondaries drop it; the
    // other member stays.
    write_config(&config, &[2]);
    reload_and_notify(&ours, &sources, &second, &peers);
    assert!(authoritative_serial(ours.addr, "3.0.192.in-addr.arpa.").is_none());
    for peer in &peers {
        wait_for(peer, "3.0.192.in-addr.arpa.", false);
        assert!(
            authoritative_serial(peer.addr(), "2.0.192.in-addr.arpa.").is_some(),
            "{} dropped the remaining member; log:\n{}",
            peer.kind(),
            peer.log_tail()
        );
    }
    drop(peers);
    drop(ours);
    std::fs::remove_dir_all(&dir).unwrap();
}
