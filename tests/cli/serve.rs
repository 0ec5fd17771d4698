//! `altodisc serve`: starts, answers over UDP and TCP on every --listen address, logs, stops on
//! SIGTERM; refuses to start half-loaded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};

fn zones() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("zones")
}

/// A running `altodisc serve`, killed (by its PID) if a test fails before stopping it.
struct Served {
    child: Child,
    addrs: Vec<SocketAddr>,
    ready_line: String,
}

impl Served {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_altodisc"))
            .arg("serve")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut addrs = Vec::new();
        let ready_line = loop {
            let line = lines.next().expect("serve printed a ready line").unwrap();
            if let Some(rest) = line.strip_prefix("listening on ") {
                addrs.push(rest.split(' ').next().unwrap().parse().unwrap());
            }
            if line.starts_with("ready: ") {
                break line;
            }
        };
        Self {
            child,
            addrs,
            ready_line,
        }
    }

    fn stop(mut self) -> (i32, String) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (status.code().unwrap_or(-1), err)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn naptr_query(name: &str) -> Vec<u8> {
    let mut m = Message::new(7, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(
        Name::from_str(name).unwrap(),
        RecordType::NAPTR,
    ));
    m.set_edns(Edns::new());
    m.to_vec().unwrap()
}

fn ask_udp(addr: SocketAddr, name: &str) -> Message {
    let bind: SocketAddr = if addr.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    }
    .parse()
    .unwrap();
    let s = UdpSocket::bind(bind).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.send_to(&naptr_query(name), addr).unwrap();
    let mut buf = [0u8; 4096];
    let n = s.recv(&mut buf).unwrap();
    Message::from_vec(&buf[..n]).unwrap()
}

fn ask_tcp(addr: SocketAddr, name: &str) -> Message {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let q = naptr_query(name);
    s.write_all(&u16::try_from(q.len()).unwrap().to_be_bytes())
        .unwrap();
    s.write_all(&q).unwrap();
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut buf).unwrap();
    Message::from_vec(&buf).unwrap()
}

#[test]
fn serves_zone_files_and_stops_on_sigterm() {
    let zones = zones();
    let served = Served::start(&[
        "--zones",
        zones.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert!(
        served.ready_line.starts_with("ready: 4 zones, "),
        "{}",
        served.ready_line
    );
    let addr = served.addrs[0];
    let m = ask_udp(addr, "example.net.");
    assert!(m.metadata.authoritative);
    assert_eq!(m.answers.len(), 2);
    assert_eq!(ask_tcp(addr, "10.2.0.192.in-addr.arpa.").answers.len(), 1);
    assert_eq!(
        ask_udp(addr, "77.2.0.192.in-addr.arpa.")
            .metadata
            .response_code,
        ResponseCode::NXDomain
    );
    let (code, log) = served.stop();
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("SIGTERM"), "{log}");
}

#[test]
fn config_adds_generated_zones_and_several_listeners() {
    let config = zones().join("publish.toml");
    let v6 = UdpSocket::bind("[::1]:0").is_ok();
    let mut args = vec![
        "--config",
        config.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ];
    if v6 {
        args.extend(["--listen", "[::1]:0"]);
    } else {
        eprintln!("skipped IPv6 listener: ::1 not available");
    }
    // The config's own `listen = ["127.0.0.1:5300"]` might be taken on a shared machine; the
    // explicit listeners are what this test queries, so replace the config's by a copy without it.
    let dir = std::env::temp_dir().join(format!("altodisc-serve-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("listen = [\"127.0.0.1:5300\"]", "listen = []")
        .replace(
            "zones_dir = \".\"",
            &format!("zones_dir = {:?}", zones().to_str().unwrap()),
        );
    let copy = dir.join("publish.toml");
    std::fs::write(&copy, text).unwrap();
    args[1] = copy.to_str().unwrap();
    let served = Served::start(&args);
    assert!(
        served.ready_line.starts_with("ready: 6 zones, "),
        "{}",
        served.ready_line
    );
    assert_eq!(served.addrs.len(), if v6 { 2 } else { 1 });
    for &addr in &served.addrs {
        // A record generated from the config (the /22 expanded to /24 owners).
        assert_eq!(
            ask_udp(addr, "101.51.198.in-addr.arpa.").answers.len(),
            1,
            "{addr}"
        );
        assert_eq!(ask_tcp(addr, "example.org.").answers.len(), 2, "{addr}");
    }
    let (code, _) = served.stop();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code, 0);
}

/// `serve --zones DIR --listen 127.0.0.1:0` with `DIR` (removed after) holding the one zone file
/// `file` with `text`: for starts that must be refused.
pub(crate) fn serve_refusing(tag: &str, file: &str, text: &str) -> std::process::Output {
    let dir = std::env::temp_dir().join(format!("altodisc-serve-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(file), text).unwrap();
    let out = crate::altodisc(&[
        "serve",
        "--zones",
        dir.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    std::fs::remove_dir_all(&dir).unwrap();
    out
}

#[test]
fn broken_zone_file_means_no_start_with_file_and_line() {
    let out = serve_refusing(
        "bad",
        "example.com.zone",
        "$TTL 60\n@ SOA ns. h. 1 1 1 1 1\n@ NS ns.\nbad NAPTR 70000 1 \"u\" \"ALTO:https\" \"!.*!https://a.example/!\" .\n",
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("example.com.zone:4:"), "{err}");
    assert!(
        String::from_utf8_lossy(&out.stdout).is_empty(),
        "nothing served"
    );
}

#[test]
fn busy_poll_budget_over_a_second_is_refused_before_serving() {
    let out = crate::altodisc(&[
        "serve",
        "--zones",
        zones().to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--udp-busy-poll-us",
        "2000000",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--udp-busy-poll-us"), "{err}");
    assert!(err.contains("1000000"), "{err}");
    assert!(
        String::from_utf8_lossy(&out.stdout).is_empty(),
        "nothing served"
    );
}

#[test]
fn unknown_config_key_is_rejected() {
    let dir = std::env::temp_dir().join(format!("altodisc-serve-key-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("c.toml");
    std::fs::write(&file, "[defaults]\nttl = 60\nnegativ_ttl = 5\n").unwrap();
    let out = crate::altodisc(&[
        "serve",
        "--config",
        file.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("negativ_ttl"));
}

#[test]
fn cname_beside_other_data_is_reported_with_position() {
    let out = serve_refusing(
        "cname",
        "example.com.zone",
        "$TTL 60\n@ SOA ns. h. 1 1 1 1 1\n@ NS ns.\nx CNAME y\nx TXT \"t\"\n",
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        // The checker's finding (rule, file:line:col), the same line `altodisc check` prints.
        err.contains(
            "example.com.zone:4:1: error[Z15]: CNAME at x.example.com. together with TXT data"
        ),
        "{err}"
    );
}

fn soa_serial(addr: SocketAddr, zone: &str) -> u32 {
    let mut m = Message::new(9, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_str(zone).unwrap(), RecordType::SOA));
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.send_to(&m.to_vec().unwrap(), addr).unwrap();
    let mut buf = [0u8; 4096];
    let n = s.recv(&mut buf).unwrap();
    let r = Message::from_vec(&buf[..n]).unwrap();
    match &r.answers[0].data {
        hickory_proto::rr::RData::SOA(soa) => soa.serial,
        other => panic!("not an SOA: {other:?}"),
    }
}

fn first_uri(m: &Message) -> String {
    match &m.answers[0].data {
        hickory_proto::rr::RData::NAPTR(n) => String::from_utf8_lossy(&n.regexp).into_owned(),
        other => panic!("not a NAPTR: {other:?}"),
    }
}

#[test]
fn sighup_reloads_all_or_nothing_and_the_serial_increases() {
    let dir = std::env::temp_dir().join(format!("altodisc-serve-hup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(zones()).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
    let config = dir.join("publish.toml");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("listen = [\"127.0.0.1:5300\"]", "listen = []");
    std::fs::write(&config, &text).unwrap();
    // All or nothing is `--strict` (by default a failed zone keeps its previous version alone).
    let served = Served::start(&[
        "--config",
        config.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--strict",
    ]);
    let addr = served.addrs[0];
    let serial_before = soa_serial(addr, "example.org.");
    let unchanged_before = soa_serial(addr, "51.198.in-addr.arpa.");
    assert!(first_uri(&ask_udp(addr, "example.org.")).contains("https://alto.example.org/ird"));
    let hup = |pid: u32| {
        assert!(
            Command::new("kill")
                .args(["-HUP", &pid.to_string()])
                .status()
                .unwrap()
                .success()
        );
    };
    let wait_for = |what: &dyn Fn() -> bool| {
        for _ in 0..100 {
            if what() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    };

    // A broken zone file: the reload fails and the old zones keep serving.
    let bad = dir.join("example.net.zone");
    let good = std::fs::read_to_string(&bad).unwrap();
    std::fs::write(
        &bad,
        format!(
            "{good}\nbroken IN NAPTR 70000 1 \"u\" \"ALTO:https\" \"!.*!https://x.example/!\" .\n"
        ),
    )
    .unwrap();
    // Only the access domain's URI changes (the prefix entries keep theirs), so only example.org.
    // changes and 51.198.in-addr.arpa. must keep its serial.
    let changed = text.replace(
        "{ order = 100, preference = 10, uri = \"https://alto.example.org/ird\" },",
        "{ order = 100, preference = 10, uri = \"https://alto2.example.org/ird\" },",
    );
    assert_ne!(changed, text);
    std::fs::write(&config, changed).unwrap();
    hup(served.child.id());
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        first_uri(&ask_udp(addr, "example.org.")).contains("https://alto.example.org/ird"),
        "half-loaded"
    );
    assert_eq!(ask_udp(addr, "example.net.").answers.len(), 2);

    // Fixed: the reload takes the new intent, and the generated zone's serial goes up.
    std::fs::write(&bad, good).unwrap();
    hup(served.child.id());
    assert!(wait_for(
        &|| first_uri(&ask_udp(addr, "example.org.")).contains("alto2.example.org")
    ));
    let serial_after = soa_serial(addr, "example.org.");
    assert!(
        serial_after > serial_before,
        "{serial_before} -> {serial_after}"
    );
    // An unchanged generated zone keeps its serial.
    assert_eq!(soa_serial(addr, "51.198.in-addr.arpa."), unchanged_before);
    let (code, log) = served.stop();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code, 0);
    assert!(
        log.contains("reload rejected, still serving the previous zones"),
        "{log}"
    );
    assert!(log.contains("reloaded"), "{log}");
}
