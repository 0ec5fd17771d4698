//! `altodisc serve` operations: gated reloads under query load (a failed zone keeps its previous
//! version), reload on file change, the metrics/health endpoint, zone transfer allow-list,
//! response rate limiting.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

/// A running `altodisc serve`, stopped by its PID.
pub(crate) struct Served {
    child: Child,
    pub(crate) addr: SocketAddr,
    pub(crate) metrics: Option<SocketAddr>,
    stderr: Arc<std::sync::Mutex<String>>,
}

impl Served {
    pub(crate) fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_altodisc"))
            .arg("serve")
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Drain stderr in the background so the child never blocks on a full pipe.
        let stderr = Arc::new(std::sync::Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut addr = None;
        let mut metrics = None;
        loop {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.wait();
                panic!(
                    "serve exited before ready: {}",
                    stderr.lock().unwrap().as_str()
                );
            };
            if let Some(rest) = line.strip_prefix("listening on ") {
                addr = Some(rest.split(' ').next().unwrap().parse().unwrap());
            }
            if let Some(rest) = line.strip_prefix("metrics on http://") {
                metrics = Some(rest.trim_end_matches("/metrics").parse().unwrap());
            }
            if line.starts_with("ready: ") {
                break;
            }
        }
        // Keep stdout drained too.
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            addr: addr.unwrap(),
            metrics,
            stderr,
        }
    }

    pub(crate) fn signal(&self, sig: &str) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args([sig, &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    pub(crate) fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits up to `limit` for the process to exit; its status, or `None` if it still runs.
    pub(crate) fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `GET path` on the metrics endpoint: (status line, body).
    pub(crate) fn http_get(&self, path: &str) -> (String, String) {
        let mut s = TcpStream::connect(self.metrics.unwrap()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        (head.lines().next().unwrap().to_owned(), body.to_owned())
    }

    /// The value of one metric line (exact name with labels).
    pub(crate) fn metric(&self, series: &str) -> u64 {
        let (_, body) = self.http_get("/metrics");
        body.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{body}"))
    }

    pub(crate) fn wait_metric(&self, series: &str, at_least: u64) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.metric(series) < at_least {
            assert!(
                Instant::now() < deadline,
                "{series} stayed below {at_least}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn query(name: &str, qtype: RecordType, id: u16) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_str(name).unwrap(), qtype));
    m.set_edns(Edns::new());
    m.to_vec().unwrap()
}

/// One UDP exchange from `sock`; `None` on timeout.
pub(crate) fn exchange(
    sock: &UdpSocket,
    to: SocketAddr,
    name: &str,
    qtype: RecordType,
    id: u16,
) -> Option<Message> {
    sock.send_to(&query(name, qtype, id), to).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        let n = sock.recv(&mut buf).ok()?;
        let m = Message::from_vec(&buf[..n]).unwrap();
        if m.metadata.id == id {
            return Some(m);
        }
    }
}

pub(crate) fn udp_socket(bind: &str) -> UdpSocket {
    let s = UdpSocket::bind(bind).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s
}

/// What an answer says, independent of record order and message ID.
pub(crate) fn summary(m: &Message) -> String {
    let mut answers: Vec<String> = m.answers.iter().map(ToString::to_string).collect();
    answers.sort();
    let mut auth: Vec<String> = m.authorities.iter().map(ToString::to_string).collect();
    auth.sort();
    format!(
        "{} aa={} tc={} an={answers:?} ns={auth:?}",
        m.metadata.response_code, m.metadata.authoritative, m.metadata.truncation
    )
}

pub(crate) fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "altodisc-ops-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fresh directory `tag` with `example.test.zone` (NAPTR to https://alto.example.test/ird) and
/// a `publish.toml` with `extra_serve` keys ([`publish_toml`]), served by
/// `serve --config publish.toml --listen 127.0.0.1:0 <more>`.
fn serve_example(tag: &str, extra_serve: &str, more: &[&str]) -> (PathBuf, Served) {
    let dir = temp_dir(tag);
    let config = dir.join("publish.toml");
    write(
        &dir.join("example.test.zone"),
        &zone_text("https://alto.example.test/ird"),
    );
    write(
        &config,
        &publish_toml(extra_serve, "https://alto.example.org/ird"),
    );
    let mut args = vec![
        "--config",
        config.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(more);
    let served = Served::start(&args);
    (dir, served)
}

pub(crate) fn zone_text(uri: &str) -> String {
    format!(
        "$TTL 300\n@ SOA ns1.example.test. hostmaster.example.test. 1 3600 900 604800 60\n\
         @ NS ns1.example.test.\nns1 A 192.0.2.53\n\
         @ NAPTR 100 10 \"u\" \"ALTO:https\" \"!.*!{uri}!\" .\n\
         sub NAPTR 100 10 \"u\" \"ALTO:https\" \"!.*!https://sub.example.test/ird!\" .\n"
    )
}

pub(crate) fn publish_toml(extra_serve: &str, uri: &str) -> String {
    format!(
        "[serve]\nzones_dir = \".\"\n{extra_serve}\n[defaults]\nns = [\"ns1.example.test.\"]\n\
         rname = \"hostmaster.example.test.\"\n\n[[zone]]\norigin = \"example.org.\"\n\n\
         [[access_domain]]\ndomain = \"example.org.\"\n\
         records = [{{ order = 100, preference = 10, uri = \"{uri}\" }}]\n"
    )
}

fn write(path: &Path, text: &str) {
    // Write-then-rename: a reader never sees half a file (as an editor or deploy tool would).
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn soa_serial(m: &Message) -> u32 {
    match &m.answers[0].data {
        RData::SOA(soa) => soa.serial,
        other => panic!("not an SOA: {other:?}"),
    }
}

const LOAD_NAMES: [(&str, RecordType); 5] = [
    ("example.test.", RecordType::NAPTR),
    ("sub.example.test.", RecordType::NAPTR),
    ("nope.example.test.", RecordType::NAPTR),
    ("example.org.", RecordType::NAPTR),
    ("example.org.", RecordType::SOA),
];

#[test]
fn reload_is_gated_and_atomic_under_query_load() {
    let (dir, served) = serve_example("reload", "", &["--metrics", "127.0.0.1:0", "--watch", "0"]);
    let zone = dir.join("example.test.zone");
    let config = dir.join("publish.toml");
    let addr = served.addr;
    assert_eq!(served.http_get("/healthz").0, "HTTP/1.1 200 OK");

    // Baseline answers.
    let sock = udp_socket("127.0.0.1:0");
    let baseline: Vec<String> = LOAD_NAMES
        .iter()
        .map(|(n, t)| summary(&exchange(&sock, addr, n, *t, 1).unwrap()))
        .collect();
    let serial_before =
        soa_serial(&exchange(&sock, addr, "example.org.", RecordType::SOA, 2).unwrap());

    // Bounded load: two threads, at most 20,000 queries each, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for w in 0..2u16 {
        let (stop, sent, baseline) = (stop.clone(), sent.clone(), baseline.clone());
        workers.push(std::thread::spawn(move || {
            let sock = udp_socket("127.0.0.1:0");
            let mut bad = Vec::new();
            for i in 0..20_000u16 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let k = usize::from(i) % LOAD_NAMES.len();
                let (name, t) = LOAD_NAMES[k];
                let id = i.wrapping_mul(2).wrapping_add(w);
                match exchange(&sock, addr, name, t, id) {
                    Some(m) if summary(&m) == baseline[k] => {}
                    Some(m) => bad.push(format!("{name}: changed: {}", summary(&m))),
                    None => bad.push(format!("{name}: no answer")),
                }
                sent.fetch_add(1, Ordering::Relaxed);
            }
            bad
        }));
    }
    let wait_sent = |n: u64| {
        let deadline = Instant::now() + Duration::from_secs(30);
        let start = sent.load(Ordering::Relaxed);
        while sent.load(Ordering::Relaxed) < start + n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait_sent(200);
    // 1. A zone that loads but fails the checker (Z10: http:// URI under ALTO:https).
    write(&zone, &zone_text("http://alto.example.test/ird"));
    served.signal("-HUP");
    served.wait_metric("altodisc_reloads_total{result=\"partial\"}", 1);
    assert_eq!(
        served.metric("altodisc_zone_load_failures_total{reason=\"check\"}"),
        1
    );
    wait_sent(200);
    // 2. A zone that does not even parse.
    write(
        &zone,
        "$TTL 300\n@ SOA ns1 hostmaster 1 2 3 4 5\n@ NAPTR 100 \"u\"\n",
    );
    served.signal("-HUP");
    served.wait_metric("altodisc_reloads_total{result=\"partial\"}", 2);
    assert_eq!(
        served.metric("altodisc_zone_load_failures_total{reason=\"load\"}"),
        1
    );
    // The failed zone is named in the metrics and by /healthz, which stays healthy: the previous
    // version of the zone is served.
    assert_eq!(
        served.metric("altodisc_zone_load_failed{zone=\"example.test.\"}"),
        1
    );
    let (status, body) = served.http_get("/healthz");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        body.contains("failed zone example.test.: previous version served, serial 1"),
        "{body}"
    );
    wait_sent(200);
    stop.store(true, Ordering::Relaxed);
    let bad: Vec<String> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    let total = sent.load(Ordering::Relaxed);
    assert!(total >= 600, "only {total} queries ran");
    assert!(
        bad.is_empty(),
        "{} of {total} answers failed or changed: {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );
    assert_eq!(
        served.metric("altodisc_reloads_total{result=\"success\"}"),
        0
    );
    let log = served.log();
    assert!(log.contains("Z10"), "diagnostics logged: {log}");

    // 3. A good change to the zone file and the config: accepted, visible, serial increased.
    write(&zone, &zone_text("https://alto2.example.test/ird"));
    write(&config, &publish_toml("", "https://alto2.example.org/ird"));
    served.signal("-HUP");
    served.wait_metric("altodisc_reloads_total{result=\"success\"}", 1);
    assert_eq!(served.metric("altodisc_zones_failed"), 0);
    let m = exchange(&sock, addr, "example.test.", RecordType::NAPTR, 3).unwrap();
    assert!(
        summary(&m).contains("alto2.example.test"),
        "{}",
        summary(&m)
    );
    let m = exchange(&sock, addr, "example.org.", RecordType::NAPTR, 4).unwrap();
    assert!(summary(&m).contains("alto2.example.org"), "{}", summary(&m));
    let serial_after =
        soa_serial(&exchange(&sock, addr, "example.org.", RecordType::SOA, 5).unwrap());
    assert!(
        serial_after > serial_before,
        "{serial_after} > {serial_before}"
    );
    let text = served.http_get("/metrics").1;
    assert!(
        text.contains(&format!(
            "altodisc_zone_serial{{zone=\"example.org.\"}} {serial_after}\n"
        )),
        "{text}"
    );
    assert!(text.contains("altodisc_zone_queries_total{zone=\"example.test.\"}"));
    assert!(
        text.contains(
            "altodisc_queries_total{transport=\"udp\",qtype=\"NAPTR\",rcode=\"NXDOMAIN\"}"
        )
    );
    assert!(text.contains(&format!(
        "altodisc_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    )));
    assert!(text.contains("altodisc_query_duration_seconds_bucket{le=\"+Inf\"}"));
    assert_eq!(served.http_get("/nope").0, "HTTP/1.1 404 Not Found");
    drop(served);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_changed_file_is_reloaded_without_a_signal() {
    let (dir, served) = serve_example(
        "watch",
        "watch_interval = 1\nmetrics_listen = \"127.0.0.1:0\"",
        &[],
    );
    let zone = dir.join("example.test.zone");
    let sock = udp_socket("127.0.0.1:0");
    // A broken edit is rejected by the poller too, and the old data stays.
    write(&zone, &zone_text("http://alto.example.test/ird"));
    served.wait_metric("altodisc_reloads_total{result=\"partial\"}", 1);
    let m = exchange(&sock, served.addr, "example.test.", RecordType::NAPTR, 1).unwrap();
    assert!(
        summary(&m).contains("https://alto.example.test/ird"),
        "{}",
        summary(&m)
    );
    write(&zone, &zone_text("https://alto3.example.test/ird"));
    served.wait_metric("altodisc_reloads_total{result=\"success\"}", 1);
    let m = exchange(&sock, served.addr, "example.test.", RecordType::NAPTR, 2).unwrap();
    assert!(
        summary(&m).contains("alto3.example.test"),
        "{}",
        summary(&m)
    );
    drop(served);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_start_with_checker_errors_is_refused() {
    let out = crate::serve::serve_refusing(
        "badstart",
        "example.test.zone",
        &zone_text("http://alto.example.test/ird"),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Z10") && err.contains("zone checker found 1 error"),
        "{err}"
    );
}

/// AXFR over TCP: the whole zone between two SOAs for an allowed client, REFUSED for others.
fn axfr(from: &str, to: SocketAddr, zone: &str) -> Vec<Message> {
    let mut s = tcp_from(from, to);
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let q = {
        let mut m = Message::new(99, MessageType::Query, OpCode::Query);
        m.add_query(Query::query(
            Name::from_str(zone).unwrap(),
            RecordType::AXFR,
        ));
        m.to_vec().unwrap()
    };
    s.write_all(&u16::try_from(q.len()).unwrap().to_be_bytes())
        .unwrap();
    s.write_all(&q).unwrap();
    let mut out = Vec::new();
    let mut soas = 0;
    while soas < 2 {
        let mut len = [0u8; 2];
        if s.read_exact(&mut len).is_err() {
            break;
        }
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut buf).unwrap();
        let m = Message::from_vec(&buf).unwrap();
        soas += m
            .answers
            .iter()
            .filter(|r| r.record_type() == RecordType::SOA)
            .count();
        let done = m.metadata.response_code != ResponseCode::NoError;
        out.push(m);
        if done {
            break;
        }
    }
    out
}

/// A TCP connection from a chosen loopback source address (all of 127.0.0.0/8 is local on
/// Linux); std cannot bind before connecting, tokio's `TcpSocket` can.
fn tcp_from(from: &str, to: SocketAddr) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let s = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
        socket.connect(to).await.unwrap().into_std().unwrap()
    });
    s.set_nonblocking(false).unwrap();
    s
}

#[test]
fn axfr_is_served_to_the_allow_list_only() {
    let (dir, served) = serve_example(
        "axfr",
        "allow_transfer = [\"127.0.0.1/32\"]\nmetrics_listen = \"127.0.0.1:0\"",
        &[],
    );
    let msgs = axfr("127.0.0.1", served.addr, "example.test.");
    let records: Vec<_> = msgs.iter().flat_map(|m| m.answers.iter()).collect();
    assert_eq!(records.first().unwrap().record_type(), RecordType::SOA);
    assert_eq!(records.last().unwrap().record_type(), RecordType::SOA);
    // SOA, NS, A, 2 NAPTR, SOA.
    assert_eq!(records.len(), 6, "{records:?}");
    assert!(msgs.iter().all(|m| m.metadata.authoritative));
    // Not a zone apex: NOTAUTH.
    let msgs = axfr("127.0.0.1", served.addr, "sub.example.test.");
    assert_eq!(msgs[0].metadata.response_code, ResponseCode::NotAuth);
    // From 127.0.0.2, not on the list: REFUSED.
    let msgs = axfr("127.0.0.2", served.addr, "example.test.");
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].metadata.response_code, ResponseCode::Refused);
    assert!(msgs[0].answers.is_empty());
    assert_eq!(
        served.metric("altodisc_transfers_total{result=\"served\"}"),
        1
    );
    assert_eq!(
        served.metric("altodisc_transfers_total{result=\"refused\"}"),
        1
    );
    // AXFR over UDP is refused whoever asks (RFC 5936 §4.2: TCP only).
    let sock = udp_socket("127.0.0.1:0");
    let m = exchange(&sock, served.addr, "example.test.", RecordType::AXFR, 7).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    drop(served);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rate_limiting_limits_one_source_and_not_another() {
    let (dir, served) = serve_example(
        "rrl",
        "metrics_listen = \"127.0.0.1:0\"\n[serve.rate_limit]\nresponses_per_second = 5\n\
         burst = 5\nslip = 2\nipv4_prefix = 32",
        &[],
    );
    // A burst of 100 queries from 127.0.0.1, sent back to back ...
    let noisy = UdpSocket::bind("127.0.0.1:0").unwrap();
    noisy
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    for id in 0..100u16 {
        noisy
            .send_to(&query("example.test.", RecordType::NAPTR, id), served.addr)
            .unwrap();
    }
    // ... while 127.0.0.2, staying within its own budget (5 at once), gets every answer in full.
    let quiet = udp_socket("127.0.0.2:0");
    for id in 0..5u16 {
        let m = exchange(&quiet, served.addr, "example.test.", RecordType::NAPTR, id).unwrap();
        assert!(
            !m.metadata.truncation && m.answers.len() == 1,
            "{}",
            summary(&m)
        );
    }
    let (mut full, mut tc) = (0, 0);
    let mut buf = [0u8; 4096];
    while let Ok(n) = noisy.recv(&mut buf) {
        let m = Message::from_vec(&buf[..n]).unwrap();
        if m.metadata.truncation {
            assert!(m.answers.is_empty());
            assert_eq!(m.queries.len(), 1);
            tc += 1;
        } else {
            full += 1;
        }
    }
    // Burst 5 (+1) at once, a few more as time passes; every second limited one slips.
    assert!((6..=20).contains(&full), "full answers: {full}");
    assert!(tc >= 30, "slipped (TC=1): {tc}");
    assert!(full + tc < 100, "some were dropped");
    assert!(served.metric("altodisc_rrl_responses_total{action=\"slip\"}") >= 30);
    assert!(served.metric("altodisc_rrl_responses_total{action=\"drop\"}") >= 30);
    drop(served);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn deploy_secondary_configs_pass_their_checkers() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/secondaries");
    let cases: [(&str, &str, Vec<String>); 3] = [
        (
            "nsd-checkconf",
            "nsd",
            vec![dir.join("nsd.conf").display().to_string()],
        ),
        (
            "knotc",
            "knot",
            vec![
                "-c".into(),
                dir.join("knot.conf").display().to_string(),
                "conf-check".into(),
            ],
        ),
        (
            "named-checkconf",
            "bind9-utils",
            vec![dir.join("named.conf").display().to_string()],
        ),
    ];
    for (tool, package, args) in cases {
        if !altodisc_testpeers::require_tool_or_skip(tool, package) {
            continue;
        }
        let bin = altodisc_testpeers::find_binary(tool).unwrap();
        let out = Command::new(bin).args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "{tool} rejects {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The whole chain through the binary: a config edit is picked up by the poller, checked,
/// swapped in, NOTIFYed to an NSD secondary (the `notify` list is re-read on reload), and NSD
/// transfers the new serial and data.
#[test]
fn config_edit_reaches_an_nsd_secondary_through_notify() {
    use altodisc_testpeers::{Peer, PeerKind, require_or_skip};
    if !require_or_skip(PeerKind::Nsd) {
        return;
    }
    let serve_keys = |notify: &str| {
        format!(
            "allow_transfer = [\"127.0.0.1/32\"]\nwatch_interval = 1\nmetrics_listen = \"127.0.0.1:0\"\n\
             notify = [{notify}]"
        )
    };
    let (dir, served) = serve_example("chain", &serve_keys(""), &[]);
    let config = dir.join("publish.toml");
    let nsd = Peer::start_secondary(
        PeerKind::Nsd,
        served.addr,
        &["example.org.", "example.test."],
        Duration::from_secs(30),
    )
    .expect("NSD transfers both zones");
    let sock = udp_socket("127.0.0.1:0");
    let serial =
        |addr| soa_serial(&exchange(&sock, addr, "example.org.", RecordType::SOA, 9).unwrap());
    let before = serial(served.addr);
    assert_eq!(serial(nsd.addr()), before);

    write(
        &config,
        &publish_toml(
            &serve_keys(&format!("\"{}\"", nsd.addr())),
            "https://alto2.example.org/ird",
        ),
    );
    served.wait_metric("altodisc_reloads_total{result=\"success\"}", 1);
    let after = serial(served.addr);
    assert!(after > before);
    let deadline = Instant::now() + Duration::from_secs(30);
    while serial(nsd.addr()) != after {
        assert!(
            Instant::now() < deadline,
            "NSD stayed behind; log:\n{}\n{}",
            nsd.log_tail(),
            served.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let m = exchange(&sock, nsd.addr(), "example.org.", RecordType::NAPTR, 10).unwrap();
    assert!(summary(&m).contains("alto2.example.org"), "{}", summary(&m));
    served.wait_metric("altodisc_notify_total{result=\"acked\"}", 1);
    assert!(served.metric("altodisc_transfers_total{result=\"served\"}") >= 3);
    drop(nsd);
    drop(served);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// TSIG through the config and the binary: `[[serve.tsig_keys]]` with a secret file, an
/// `allow_transfer` entry that asks for the key, and `notify_keys`; a Knot secondary with the key
/// transfers the zones, gets the signed NOTIFY after a config edit (its ACL accepts NOTIFY only
/// with the key) and follows; a Knot without the key gets nothing and is counted.
#[test]
fn tsig_from_the_config_guards_transfers_and_signs_notify() {
    use altodisc_testpeers::{Peer, PeerKind, PeerOptions, TsigSpec, require_or_skip};
    if !require_or_skip(PeerKind::Knot) {
        return;
    }
    let secret_dir = temp_dir("tsig-secret");
    let secret = secret_dir.join("xfr.secret");
    std::fs::write(&secret, "YWx0b2Rpc2MtdHNpZy10ZXN0LXNlY3JldC0wMDAwMDE=\n").unwrap();
    let serve_keys = |notify: &str| {
        format!(
            "allow_transfer = [\"127.0.0.1 key xfr-key\"]\nwatch_interval = 1\n\
             metrics_listen = \"127.0.0.1:0\"\ntsig_fudge = 120\nnotify = [{notify}]\n\
             [[serve.tsig_keys]]\nname = \"xfr-key\"\nalgorithm = \"hmac-sha256\"\n\
             secret_file = {:?}\n{}",
            secret.display().to_string(),
            if notify.is_empty() {
                String::new()
            } else {
                format!("[serve.notify_keys]\n{notify} = \"xfr-key\"\n")
            }
        )
    };
    let (dir, served) = serve_example("tsig", &serve_keys(""), &[]);
    let config = dir.join("publish.toml");
    let options = PeerOptions {
        startup_timeout: Duration::from_secs(30),
        tsig: Some(TsigSpec {
            name: "xfr-key".into(),
            algorithm: "hmac-sha256".into(),
            secret: "YWx0b2Rpc2MtdHNpZy10ZXN0LXNlY3JldC0wMDAwMDE=".into(),
        }),
        ..PeerOptions::default()
    };
    let zones = ["example.org.", "example.test."];
    let knot = Peer::start_secondary_with(PeerKind::Knot, served.addr, &zones, &options)
        .expect("Knot with the key transfers both zones");
    let without = PeerOptions {
        startup_timeout: Duration::from_secs(3),
        ..PeerOptions::default()
    };
    assert!(Peer::start_secondary_with(PeerKind::Knot, served.addr, &zones, &without).is_err());
    served.wait_metric("altodisc_tsig_failures_total{reason=\"unsigned\"}", 1);

    let sock = udp_socket("127.0.0.1:0");
    let serial =
        |addr| soa_serial(&exchange(&sock, addr, "example.org.", RecordType::SOA, 9).unwrap());
    let before = serial(served.addr);
    assert_eq!(serial(knot.addr()), before);
    write(
        &config,
        &publish_toml(
            &serve_keys(&format!("\"{}\"", knot.addr())),
            "https://alto2.example.org/ird",
        ),
    );
    served.wait_metric("altodisc_reloads_total{result=\"success\"}", 1);
    let after = serial(served.addr);
    assert!(after > before);
    let deadline = Instant::now() + Duration::from_secs(30);
    while serial(knot.addr()) != after {
        assert!(
            Instant::now() < deadline,
            "Knot stayed behind; log:\n{}\n{}",
            knot.log_tail(),
            served.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    served.wait_metric("altodisc_notify_total{result=\"acked\"}", 1);
    assert!(
        !served.log().contains("YWx0b2Rpc2Mt"),
        "the secret must never be logged"
    );
    drop(knot);
    drop(served);
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&secret_dir).unwrap();
}

/// Bad TSIG settings stop `serve` at start with a message that says what to fix.
#[test]
fn bad_tsig_settings_are_refused_at_start() {
    let dir = temp_dir("tsig-bad");
    write(
        &dir.join("example.test.zone"),
        &zone_text("https://alto.example.test/ird"),
    );
    for (serve, want) in [
        (
            "allow_transfer = [\"127.0.0.1 key nokey\"]",
            "unknown tsig key \"nokey.\"",
        ),
        (
            "[[serve.tsig_keys]]\nname = \"k\"\nalgorithm = \"hmac-md5\"\nsecret_env = \"X\"",
            "hmac-md5\" is not supported",
        ),
        (
            "[[serve.tsig_keys]]\nname = \"k\"\nsecret_file = \"missing.secret\"",
            "secret from",
        ),
        (
            "notify = [\"127.0.0.1:5300\"]\n[serve.notify_keys]\n\"127.0.0.1:5301\" = \"k\"\n\
             [[serve.tsig_keys]]\nname = \"k\"\nsecret_file = \"k.secret\"",
            "not in [serve] notify",
        ),
        ("tsig_secret = \"x\"", "unknown field"),
    ] {
        write(&dir.join("k.secret"), "MDEyMzQ1Njc4OWFiY2RlZg==");
        let config = dir.join("publish.toml");
        write(
            &config,
            &publish_toml(serve, "https://alto.example.org/ird"),
        );
        let out = crate::altodisc(&[
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{serve}: {stderr}");
        assert!(stderr.contains(want), "{serve}: {stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// dnsdist (deploy/dnsdist/dnsdist.conf, addresses filled in) in front of two `altodisc serve`
/// processes: with both up and after one is stopped (and dnsdist's health check has taken it
/// out), every query of a bounded load through dnsdist gets the same answer as the survivor
/// gives directly.
#[test]
fn dnsdist_keeps_answering_when_one_altodisc_stops() {
    let Some(dnsdist) = ["/usr/bin/dnsdist", "/usr/sbin/dnsdist"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())
    else {
        assert!(
            std::env::var_os("CI").is_none_or(|v| v != "true"),
            "dnsdist is missing (Debian package dnsdist, see scripts/test)"
        );
        eprintln!("skipped: dnsdist is not installed (apt-get install dnsdist)");
        return;
    };
    let (dir_a, a) = serve_example("dnsdist-a", "", &[]);
    let (dir_b, b) = serve_example("dnsdist-b", "", &[]);
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let front: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/dnsdist/dnsdist.conf"),
    )
    .unwrap();
    let conf_text = shipped
        .replace("192.0.2.53:53", &front.to_string())
        .replace("192.0.2.61:53", &a.addr.to_string())
        .replace("192.0.2.62:53", &b.addr.to_string());
    assert_ne!(conf_text, shipped);
    let conf = dir_a.join("dnsdist.conf");
    std::fs::write(&conf, conf_text).unwrap();
    let log = std::fs::File::create(dir_a.join("dnsdist.log")).unwrap();
    let child = Command::new(dnsdist)
        .args(["--supervised", "--disable-syslog", "-C"])
        .arg(&conf)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    // Stops the dnsdist started here, by its PID, whatever happens below.
    struct Stop(Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut dnsdist = Stop(child);
    let sock = udp_socket("127.0.0.1:0");
    let queries = [
        ("example.org.", RecordType::NAPTR),
        ("example.test.", RecordType::NAPTR),
        ("ns1.example.test.", RecordType::A),
    ];
    let expected: Vec<String> = queries
        .iter()
        .map(|(n, t)| summary(&exchange(&sock, b.addr, n, *t, 1).unwrap()))
        .collect();
    for (i, (n, t)) in queries.iter().enumerate() {
        assert_eq!(
            summary(&exchange(&sock, a.addr, n, *t, 2).unwrap()),
            expected[i],
            "both processes answer alike"
        );
    }
    // dnsdist is up once it answers (bounded wait).
    let deadline = Instant::now() + Duration::from_secs(20);
    while exchange(&sock, front, "example.test.", RecordType::NAPTR, 3).is_none() {
        assert!(
            dnsdist.0.try_wait().unwrap().is_none(),
            "dnsdist exited: {}",
            std::fs::read_to_string(dir_a.join("dnsdist.log")).unwrap_or_default()
        );
        assert!(Instant::now() < deadline, "dnsdist does not answer");
    }
    let load = |rounds: usize, first_id: u16| {
        let mut answered = 0usize;
        for r in 0..rounds {
            let (n, t) = queries[r % queries.len()];
            let id = first_id.wrapping_add(u16::try_from(r % 60_000).unwrap());
            let got = exchange(&sock, front, n, t, id).map(|m| summary(&m));
            assert_eq!(
                got.as_deref(),
                Some(expected[r % queries.len()].as_str()),
                "query {r} ({n} {t}) through dnsdist"
            );
            answered += 1;
        }
        answered
    };
    assert_eq!(load(300, 100), 300);
    // Stop one altodisc; dnsdist's next health check (every second, 0.5 s timeout, one failure)
    // takes it out.
    drop(a);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(load(1500, 1000), 1500);
    drop(dnsdist);
    drop(b);
    std::fs::remove_dir_all(&dir_a).unwrap();
    std::fs::remove_dir_all(&dir_b).unwrap();
}
