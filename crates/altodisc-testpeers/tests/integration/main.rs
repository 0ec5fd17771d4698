//! Starts each real peer, checks it answers, and checks that dropping it stops that exact process.

// Tests may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use altodisc_testpeers::{Peer, PeerKind, Zone, require_or_skip, require_tool_or_skip};

const ZONE: &str = "$TTL 300
@   IN SOA ns.example.net. hostmaster.example.net. 1 3600 900 604800 60
@   IN NS  ns.example.net.
ns  IN A   192.0.2.53
@   IN NAPTR 100 10 \"u\" \"ALTO:https\" \"!.*!https://alto1.example.net/ird!\" .
";

fn dig_naptr(peer: &Peer, tcp: bool) -> String {
    let mut cmd = Command::new("dig");
    cmd.arg(format!("@{}", peer.addr().ip()))
        .arg("-p")
        .arg(peer.addr().port().to_string())
        .args([
            "+short",
            "+norec",
            "+time=2",
            "+tries=1",
            "example.net.",
            "NAPTR",
        ]);
    if tcp {
        cmd.arg("+tcp");
    }
    String::from_utf8(cmd.output().unwrap().stdout).unwrap()
}

#[test]
fn each_peer_serves_udp_and_tcp_and_stops_on_drop() {
    let have_dig = require_tool_or_skip("dig", "dnsutils");
    for kind in PeerKind::ALL {
        if !require_or_skip(kind) {
            continue;
        }
        let peer = Peer::start(kind, &[Zone::text("example.net.", ZONE)])
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        let pid = peer.pid();
        let proc_dir = format!("/proc/{pid}");
        assert!(
            Path::new(&proc_dir).exists(),
            "{kind} pid {pid} not running"
        );
        if have_dig {
            for tcp in [false, true] {
                let out = dig_naptr(&peer, tcp);
                assert!(
                    out.contains("https://alto1.example.net/ird"),
                    "{kind} tcp={tcp}: {out:?}\n{}",
                    peer.log_tail()
                );
            }
        }
        let dir = peer.dir().to_path_buf();
        drop(peer);
        // Reaped by Drop: the PID no longer names a live process of ours, and the dir is gone.
        let alive =
            std::fs::read_to_string(format!("{proc_dir}/stat")).is_ok_and(|s| !s.contains(") Z "));
        assert!(!alive, "{kind} pid {pid} still running after drop");
        assert!(!dir.exists(), "{kind} dir {} not removed", dir.display());
    }
}

#[test]
fn bad_zone_is_reported_with_the_log() {
    for kind in PeerKind::ALL {
        if !require_or_skip(kind) {
            continue;
        }
        // No SOA: every daemon refuses the zone, so it never answers authoritatively for it.
        let broken = Zone::text("broken.example.", "$TTL 300\n@ IN A 192.0.2.1\n");
        let started = std::time::Instant::now();
        match Peer::start_with_timeout(kind, &[broken], std::time::Duration::from_secs(3)) {
            Err(e) => assert!(e.to_string().contains("did not answer"), "{kind}: {e}"),
            Ok(_) => panic!("{kind} served a zone without SOA"),
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
    }
}
