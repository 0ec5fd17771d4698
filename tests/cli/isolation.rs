//! `altodisc serve` with one broken zone among three: the other two are served at start and
//! after a reload, the broken zone's names get REFUSED (it is not served; NSD answers SERVFAIL
//! for a zone that failed to load, see docs/operators/metrics.md), a zone that breaks on a reload
//! keeps its previous version, and `--strict` keeps the all-or-nothing start.

use std::path::Path;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::ops::{Served, exchange, temp_dir, udp_socket};

fn zone(origin: &str, serial: u32, uri: &str) -> String {
    format!(
        "$TTL 300\n@ SOA ns1.{origin} hostmaster.{origin} {serial} 3600 900 604800 60\n\
         @ NS ns1.{origin}\nns1 A 192.0.2.53\n\
         @ NAPTR 100 10 \"u\" \"ALTO:https\" \"!.*!{uri}!\" .\n"
    )
}

fn write(dir: &Path, file: &str, text: &str) {
    let tmp = dir.join(format!("{file}.tmp"));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, dir.join(file)).unwrap();
}

fn naptr_uri(m: &Message) -> String {
    match m.answers.first().map(|r| &r.data) {
        Some(hickory_proto::rr::RData::NAPTR(n)) => String::from_utf8_lossy(&n.regexp).into_owned(),
        other => panic!("no NAPTR answer: {other:?} in {m:?}"),
    }
}

#[test]
fn one_broken_zone_does_not_stop_the_other_two_at_start_or_on_reload() {
    let dir = temp_dir("isolation");
    write(
        &dir,
        "a.test.zone",
        &zone("a.test.", 1, "https://a.test/ird"),
    );
    write(
        &dir,
        "b.test.zone",
        &zone("b.test.", 1, "https://b.test/ird"),
    );
    // Fails the checker gate: Z10, an http:// URI under ALTO:https.
    write(
        &dir,
        "c.test.zone",
        &zone("c.test.", 1, "http://c.test/ird"),
    );
    let zones = dir.to_str().unwrap();

    // --strict: all or nothing, the start is refused.
    let out = crate::altodisc(&[
        "serve",
        "--zones",
        zones,
        "--listen",
        "127.0.0.1:0",
        "--strict",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Z10"), "{err}");
    assert!(out.stdout.is_empty(), "nothing served");

    let served = Served::start(&[
        "--zones",
        zones,
        "--listen",
        "127.0.0.1:0",
        "--metrics",
        "127.0.0.1:0",
        "--watch",
        "0",
    ]);
    let sock = udp_socket("127.0.0.1:0");
    let ask =
        |name: &str, id: u16| exchange(&sock, served.addr, name, RecordType::NAPTR, id).unwrap();
    assert!(naptr_uri(&ask("a.test.", 1)).contains("https://a.test/ird"));
    assert!(naptr_uri(&ask("b.test.", 2)).contains("https://b.test/ird"));
    let c = ask("c.test.", 3);
    assert_eq!(c.metadata.response_code, ResponseCode::Refused, "{c:?}");
    assert!(c.answers.is_empty() && !c.metadata.authoritative);
    assert_eq!(
        served.metric("altodisc_zone_load_failed{zone=\"c.test.\"}"),
        1
    );
    assert_eq!(served.metric("altodisc_zones_failed"), 1);
    assert_eq!(served.metric("altodisc_zones_served"), 2);
    let (status, body) = served.http_get("/healthz");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains("failed zone c.test.: not served"), "{body}");
    let log = served.log();
    assert!(log.contains("zone c.test.") && log.contains("Z10"), "{log}");

    // Reload: c is fixed, b breaks (syntax), a changes. b keeps its previous version.
    write(
        &dir,
        "a.test.zone",
        &zone("a.test.", 2, "https://a2.test/ird"),
    );
    write(
        &dir,
        "b.test.zone",
        "$TTL 300\n@ SOA ns1 hostmaster 2 2 3 4 5\n@ NAPTR 100 \"u\"\n",
    );
    write(
        &dir,
        "c.test.zone",
        &zone("c.test.", 2, "https://c.test/ird"),
    );
    served.signal("-HUP");
    served.wait_metric("altodisc_reloads_total{result=\"partial\"}", 1);
    assert!(naptr_uri(&ask("a.test.", 4)).contains("https://a2.test/ird"));
    assert!(naptr_uri(&ask("b.test.", 5)).contains("https://b.test/ird"));
    assert!(naptr_uri(&ask("c.test.", 6)).contains("https://c.test/ird"));
    assert_eq!(
        served.metric("altodisc_zone_load_failed{zone=\"b.test.\"}"),
        1
    );
    assert_eq!(served.metric("altodisc_zone_serial{zone=\"b.test.\"}"), 1);
    assert_eq!(served.metric("altodisc_zones_served"), 3);
    assert_eq!(
        served.metric("altodisc_zone_load_failures_total{reason=\"load\"}"),
        1
    );
    assert_eq!(
        served.metric("altodisc_zone_load_failures_total{reason=\"check\"}"),
        1
    );
    let (_, body) = served.http_get("/healthz");
    assert!(
        body.contains("failed zone b.test.: previous version served, serial 1"),
        "{body}"
    );
    assert!(!body.contains("c.test."), "{body}");
    // The same failure on the next reload is not logged in full again.
    let before = served.log().matches("zone failed: zone b.test.").count();
    assert_eq!(before, 1, "{}", served.log());
    served.signal("-HUP");
    served.wait_metric("altodisc_reloads_total{result=\"partial\"}", 2);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !served.log().contains("zone still fails as before") {
        assert!(Instant::now() < deadline, "{}", served.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(served.log().matches("zone failed: zone b.test.").count(), 1);
    drop(served);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn strict_in_the_config_refuses_a_start_with_one_broken_zone() {
    let dir = temp_dir("isolation-strict");
    write(
        &dir,
        "a.test.zone",
        &zone("a.test.", 1, "https://a.test/ird"),
    );
    write(
        &dir,
        "c.test.zone",
        &zone("c.test.", 1, "http://c.test/ird"),
    );
    write(
        &dir,
        "p.toml",
        "[serve]\nzones_dir = \".\"\nstrict = true\n",
    );
    let config = dir.join("p.toml");
    let out = crate::altodisc(&[
        "serve",
        "--config",
        config.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Z10") && err.contains("zone checker found 1 error"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "nothing served");
}

#[test]
fn a_start_where_no_zone_loads_exits_non_zero_naming_every_zone() {
    let dir = temp_dir("isolation-none");
    write(
        &dir,
        "a.test.zone",
        &zone("a.test.", 1, "http://a.test/ird"),
    );
    write(&dir, "b.test.zone", "$TTL 300\n@ SOA broken\n");
    let out = crate::altodisc(&[
        "serve",
        "--zones",
        dir.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("zone a.test.") && err.contains("zone b.test."),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "nothing served");
}

/// A zone that `$INCLUDE`s a FIFO nobody writes to: the reload's read may block (or fail), but
/// the served zones keep answering and SIGTERM still stops the server at once.
#[cfg(unix)]
#[test]
fn a_load_stuck_on_a_fifo_neither_stops_answers_nor_sigterm() {
    let dir = temp_dir("isolation-fifo");
    write(
        &dir,
        "a.test.zone",
        &zone("a.test.", 1, "https://a.test/ird"),
    );
    write(
        &dir,
        "b.test.zone",
        &zone("b.test.", 1, "https://b.test/ird"),
    );
    let mut served = Served::start(&[
        "--zones",
        dir.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--watch",
        "0",
    ]);
    let fifo = dir.join("hang.fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    write(
        &dir,
        "b.test.zone",
        &format!(
            "{}$INCLUDE {}\n",
            zone("b.test.", 2, "https://b.test/ird"),
            fifo.display()
        ),
    );
    served.signal("-HUP");
    std::thread::sleep(Duration::from_millis(500));
    let sock = udp_socket("127.0.0.1:0");
    let m = exchange(&sock, served.addr, "a.test.", RecordType::NAPTR, 1).unwrap();
    assert!(naptr_uri(&m).contains("https://a.test/ird"));
    let m = exchange(&sock, served.addr, "b.test.", RecordType::NAPTR, 2).unwrap();
    assert!(naptr_uri(&m).contains("https://b.test/ird"));
    served.signal("-TERM");
    let status = served.wait_exit(Duration::from_secs(10));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", served.log());
    std::fs::remove_dir_all(&dir).unwrap();
}
