//! RFC 7286 §3.1.2 over real DHCP: the DHCPINFORM and Information-request clients against dnsmasq
//! and ISC Kea, option 15 fallback, a hostile responder, and lease files written by real dhclient
//! and dhcpcd — all inside network namespaces these tests create (`altodisc_testpeers::netns`).
//!
//! Needs root (CI runs as root). Without root, and without `CI=true`, each test prints
//! `skipped: ...` and returns.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use altodisc_resolver::dhcp::{
    AddressFamily, ClientOptions, DhcpError, DomainSource, LearnedDomain, Trace, iface, lease, v4,
    v6,
};
use altodisc_testpeers::netns::{self, EXAMPLE_NET_HEX, Lab, dnsmasq_access_domain};

fn opts(timeout_ms: u64) -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_millis(timeout_ms),
        ..ClientOptions::default()
    }
}

/// Runs the DHCPv4 or DHCPv6 client on the client interface inside the client namespace.
fn run_client(
    lab: &Lab,
    family: AddressFamily,
    o: ClientOptions,
) -> (Result<LearnedDomain, DhcpError>, Trace, Duration) {
    let ifname = lab.cli_if.clone();
    Lab::in_ns(&lab.cli, move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let iface = iface::by_name(&ifname).unwrap();
        let mut trace = Trace::new();
        let start = Instant::now();
        let r = rt.block_on(async {
            match family {
                AddressFamily::Ipv4 => v4::inform(&iface, &o, &mut trace).await,
                AddressFamily::Ipv6 => v6::information_request(&iface, &o, &mut trace).await,
            }
        });
        (r, trace, start.elapsed())
    })
}

fn show(trace: &Trace) -> String {
    trace
        .events()
        .iter()
        .map(|e| format!("  {:>8.3} s  {}", e.at.as_secs_f64(), e.what))
        .collect::<Vec<_>>()
        .join("\n")
}

fn expect_domain(
    r: Result<LearnedDomain, DhcpError>,
    trace: &Trace,
    want: &str,
    source: DomainSource,
) {
    let d = r.unwrap_or_else(|e| panic!("{e}\n{}", show(trace)));
    assert_eq!(d.domain.to_string(), want, "{}", show(trace));
    assert_eq!(d.source, source, "{}", show(trace));
}

#[test]
fn dnsmasq_inform_213_and_information_request_57() {
    if !netns::can_run(
        "dnsmasq_inform_213_and_information_request_57",
        &["dnsmasq"],
    ) {
        return;
    }
    let mut lab = Lab::new(false);
    lab.client_up(true);
    lab.start_dnsmasq("dnsmasq", &dnsmasq_access_domain(EXAMPLE_NET_HEX));

    // Broadcast INFORM on the interface.
    let (r, t, took) = run_client(&lab, AddressFamily::Ipv4, opts(5000));
    expect_domain(r, &t, "example.net.", DomainSource::Dhcpv4);
    assert!(took < Duration::from_secs(2), "took {took:?}\n{}", show(&t));

    // Unicast INFORM to the server (--dhcp-server).
    let mut o = opts(5000);
    o.server = Some(IpAddr::V4(netns::SRV_V4.parse().unwrap()));
    let (r, t, _) = run_client(&lab, AddressFamily::Ipv4, o);
    expect_domain(r, &t, "example.net.", DomainSource::Dhcpv4);
    assert!(show(&t).contains("192.0.2.1:67"), "{}", show(&t));

    // Information-request to ff02::1:2%if.
    let (r, t, took) = run_client(&lab, AddressFamily::Ipv6, opts(5000));
    expect_domain(r, &t, "example.net.", DomainSource::Dhcpv6);
    // INF_MAX_DELAY (≤ 1 s) plus the round trip.
    assert!(took < Duration::from_secs(3), "took {took:?}\n{}", show(&t));
}

#[test]
fn dnsmasq_option_15_fallback_and_no_57() {
    if !netns::can_run("dnsmasq_option_15_fallback_and_no_57", &["dnsmasq"]) {
        return;
    }
    let mut lab = Lab::new(false);
    lab.client_up(true);
    // Only option 15 for IPv4 (RFC 7286 §3.1.2 SHOULD); no 57 for IPv6 (no fallback there).
    lab.start_dnsmasq(
        "dnsmasq",
        &[
            netns::DNSMASQ_RANGE_V4,
            netns::DNSMASQ_RANGE_V6,
            "dhcp-option=option:domain-name,fallback.example",
            "dhcp-option=option6:domain-search,search.example",
        ],
    );
    let (r, t, _) = run_client(&lab, AddressFamily::Ipv4, opts(5000));
    expect_domain(r, &t, "fallback.example.", DomainSource::Dhcpv4Option15);

    let (r, t, took) = run_client(&lab, AddressFamily::Ipv6, opts(5000));
    let e = r.unwrap_err();
    assert!(matches!(e, DhcpError::NoDomain(_)), "{e}\n{}", show(&t));
    assert!(e.to_string().contains("no IPv6 fallback"), "{e}");
    // Decided by the first Reply, not by the deadline.
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[test]
fn kea_inform_213_and_information_request_57() {
    if !netns::can_run(
        "kea_inform_213_and_information_request_57",
        &["kea-dhcp4", "kea-dhcp6"],
    ) {
        return;
    }
    let mut lab = Lab::new(false);
    lab.client_up(true);
    lab.start_kea("kea4", false, &netns::kea4_config("example.org"));
    lab.start_kea("kea6", true, &netns::kea6_config("example.org"));
    let (r, t, took) = run_client(&lab, AddressFamily::Ipv4, opts(5000));
    expect_domain(r, &t, "example.org.", DomainSource::Dhcpv4);
    assert!(took < Duration::from_secs(2), "took {took:?}\n{}", show(&t));
    let (r, t, _) = run_client(&lab, AddressFamily::Ipv6, opts(5000));
    expect_domain(r, &t, "example.org.", DomainSource::Dhcpv6);
}

#[test]
fn tentative_link_local_is_waited_out() {
    if !netns::can_run("tentative_link_local_is_waited_out", &["dnsmasq"]) {
        return;
    }
    // DAD on in the client namespace: right after link-up its link-local address is tentative
    // for about 1–2 s and sendto(ff02::1:2) fails with EADDRNOTAVAIL (DHCP-LAB-NOTES §5).
    let mut lab = Lab::new(true);
    lab.client_up(false);
    lab.start_dnsmasq(
        "dnsmasq",
        &[
            netns::DNSMASQ_RANGE_V6,
            &format!("dhcp-option=option6:57,{EXAMPLE_NET_HEX}"),
        ],
    );
    lab.wait_link_local(&lab.cli.clone(), &lab.cli_if.clone(), false);
    // The lab sets dad_transmits=4 in the client namespace: tentative for about 4 s, longer than
    // the random initial delay (≤ 1 s), so the client must meet EADDRNOTAVAIL.
    assert!(lab.link_local_tentative(&lab.cli, &lab.cli_if));
    let (r, t, _) = run_client(&lab, AddressFamily::Ipv6, opts(10_000));
    expect_domain(r, &t, "example.net.", DomainSource::Dhcpv6);
    assert!(
        show(&t).contains("is tentative (EADDRNOTAVAIL); waiting for DAD"),
        "{}",
        show(&t)
    );
}

/// One hostile behaviour: what the responder sends back for a received request.
#[derive(Debug, Clone, Copy)]
enum Hostile {
    WrongXid,
    TruncatedOption,
    CompressionPointer,
    TwoNames,
    LengthBeyondPacket,
    Junk300,
    NotAck,
    /// Silent for the first request, a valid DHCPACK (213 = example.net) for the next.
    SilentThenAck,
}

/// A DHCPACK for `req` (a DHCPINFORM) with `options` between the message type and END.
fn ack_for(req: &[u8], options: &[u8]) -> Vec<u8> {
    let mut m = vec![0u8; 236];
    m[0] = 2;
    m[1] = 1;
    m[2] = 6;
    m[4..8].copy_from_slice(&req[4..8]);
    m[12..16].copy_from_slice(&req[12..16]);
    m[28..44].copy_from_slice(&req[28..44]);
    m.extend_from_slice(&[0x63, 0x82, 0x53, 0x63, 53, 1, 5, 54, 4, 192, 0, 2, 1]);
    m.extend_from_slice(options);
    m.push(255);
    m
}

/// The reply to the `nth` request (0-based); empty = stay silent.
fn hostile_reply(kind: Hostile, req: &[u8], nth: u32) -> Vec<u8> {
    let example_net = [
        7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'n', b'e', b't', 0,
    ];
    match kind {
        Hostile::WrongXid => {
            let mut m = ack_for(req, &[213, 13]);
            m.splice(m.len() - 1..m.len() - 1, example_net);
            m[4] ^= 0xff;
            m
        }
        Hostile::TruncatedOption => {
            // 213 declares 13 octets; the datagram ends after 5 of them.
            let mut m = ack_for(req, &[213, 13, 7, b'e', b'x', b'a', b'm']);
            m.pop();
            m
        }
        Hostile::CompressionPointer => ack_for(req, &[213, 2, 0xc0, 0x0c]),
        Hostile::TwoNames => {
            let mut o = vec![213, 18];
            o.extend(example_net);
            o.extend([3, b'f', b'o', b'o', 0]);
            ack_for(req, &o)
        }
        Hostile::LengthBeyondPacket => {
            let mut m = ack_for(req, &[213, 250, 7, b'e', b'x']);
            m.pop();
            m
        }
        Hostile::Junk300 => (0..300u32)
            .map(|i| (i * 37 + 11).to_le_bytes()[0])
            .collect(),
        Hostile::SilentThenAck if nth == 0 => Vec::new(),
        Hostile::SilentThenAck => {
            let mut o = vec![213, 13];
            o.extend(example_net);
            ack_for(req, &o)
        }
        Hostile::NotAck => {
            let mut m = ack_for(req, &[]);
            m[242] = 6; // DHCPNAK
            m
        }
    }
}

/// What a test responder does with one datagram.
enum Answer {
    /// Not a client request: not counted, no reply.
    NotARequest,
    /// A request, left unanswered.
    Silent,
    /// A request, answered with these octets to this address.
    Send(Vec<u8>, SocketAddr),
}

/// A DHCP responder in the server namespace, on the server veth: port 67 over IPv4 (broadcasts
/// received) or port 547 over IPv6 (`v6`; it joins no multicast group, so clients unicast to
/// [`netns::SRV_V6`]). It passes each datagram, its sender and the number of requests seen before
/// to `answer`, for `listen` long. Returns once it listens; the thread gives the number of
/// requests seen.
fn respond(
    lab: &Lab,
    v6: bool,
    listen: Duration,
    mut answer: impl FnMut(&[u8], SocketAddr, u32) -> Answer + Send + 'static,
) -> std::thread::JoinHandle<u32> {
    let srv = lab.srv.clone();
    let srv_if = lab.srv_if.clone();
    let ready = std::sync::Arc::new(std::sync::Barrier::new(2));
    let ready2 = ready.clone();
    let responder = std::thread::spawn(move || {
        Lab::in_ns(&srv, move || {
            let (domain, addr) = if v6 {
                let a = SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 547));
                (socket2::Domain::IPV6, a)
            } else {
                (
                    socket2::Domain::IPV4,
                    SocketAddr::from((Ipv4Addr::UNSPECIFIED, 67)),
                )
            };
            let s = socket2::Socket::new(domain, socket2::Type::DGRAM, None).unwrap();
            if v6 {
                s.set_only_v6(true).unwrap();
            } else {
                s.set_reuse_address(true).unwrap();
                s.set_broadcast(true).unwrap();
            }
            s.bind_device(Some(srv_if.as_bytes())).unwrap();
            s.bind(&addr.into()).unwrap();
            let s: UdpSocket = s.into();
            s.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            ready2.wait();
            let start = Instant::now();
            let mut seen = 0;
            let mut buf = [0u8; 2048];
            while start.elapsed() < listen {
                let Ok((n, from)) = s.recv_from(&mut buf) else {
                    continue;
                };
                match answer(&buf[..n], from, seen) {
                    Answer::NotARequest => continue,
                    Answer::Silent => {}
                    Answer::Send(reply, to) => {
                        s.send_to(&reply, to).unwrap();
                    }
                }
                seen += 1;
            }
            seen
        })
    });
    ready.wait();
    responder
}

/// Runs the DHCPINFORM client against a responder in the server namespace that answers every
/// request with `kind`. Returns the client's result and how long it took.
fn against_hostile(
    kind: Hostile,
    timeout: Duration,
) -> (Result<LearnedDomain, DhcpError>, Trace, Duration) {
    let lab = Lab::new(false);
    lab.client_up(true);
    let responder = respond(
        &lab,
        false,
        timeout + Duration::from_secs(1),
        move |req, _, nth| {
            if req.len() < 240 || req[0] != 1 {
                return Answer::NotARequest;
            }
            let reply = hostile_reply(kind, req, nth);
            if reply.is_empty() {
                return Answer::Silent;
            }
            let ciaddr = Ipv4Addr::new(req[12], req[13], req[14], req[15]);
            Answer::Send(reply, SocketAddr::from((ciaddr, 68)))
        },
    );
    let (r, t, took) = run_client(
        &lab,
        AddressFamily::Ipv4,
        ClientOptions {
            timeout,
            ..ClientOptions::default()
        },
    );
    let answered = responder.join().unwrap();
    assert!(
        answered >= 1,
        "{kind:?}: responder saw no request\n{}",
        show(&t)
    );
    (r, t, took)
}

#[test]
fn hostile_responder_replies_are_ignored_or_rejected() {
    if !netns::can_run("hostile_responder_replies_are_ignored_or_rejected", &[]) {
        return;
    }
    let timeout = Duration::from_millis(1500);
    // Ignored at the message level: the client keeps waiting and times out within the deadline,
    // naming what it ignored.
    for (kind, reason) in [
        (Hostile::WrongXid, "does not match ours"),
        (Hostile::TruncatedOption, "malformed options"),
        (Hostile::LengthBeyondPacket, "declares 250 octets"),
        (Hostile::Junk300, "300 octets"),
        (Hostile::NotAck, "not DHCPACK"),
    ] {
        let (r, t, took) = against_hostile(kind, timeout);
        let e = r.unwrap_err();
        assert!(matches!(e, DhcpError::Timeout { .. }), "{kind:?}: {e}");
        assert!(
            e.to_string().contains(reason),
            "{kind:?}: {e}\n{}",
            show(&t)
        );
        assert!(
            took < timeout + Duration::from_millis(500),
            "{kind:?} took {took:?}"
        );
    }
    // Well-formed DHCPACKs with a broken option 213: rejected with the RFC 5986 reason, at once.
    for (kind, reason) in [
        (Hostile::CompressionPointer, "compression pointer"),
        (Hostile::TwoNames, "second domain name"),
    ] {
        let (r, t, took) = against_hostile(kind, timeout);
        let e = r.unwrap_err();
        assert!(matches!(e, DhcpError::InvalidOption(_)), "{kind:?}: {e}");
        assert!(
            e.to_string().contains(reason),
            "{kind:?}: {e}\n{}",
            show(&t)
        );
        assert!(took < timeout, "{kind:?} took {took:?}");
    }
}

#[test]
fn inform_is_retransmitted_per_rfc_2131() {
    if !netns::can_run("inform_is_retransmitted_per_rfc_2131", &[]) {
        return;
    }
    // The responder ignores the first INFORM; RFC 2131 §4.1: the retransmission follows after
    // 4 s ± 1 s, with the same xid, and its DHCPACK is taken.
    let (r, t, took) = against_hostile(Hostile::SilentThenAck, Duration::from_secs(8));
    expect_domain(r, &t, "example.net.", DomainSource::Dhcpv4);
    assert!(show(&t).contains("sent INFORM #2"), "{}", show(&t));
    assert!(
        took >= Duration::from_millis(2900) && took < Duration::from_millis(5500),
        "took {took:?}\n{}",
        show(&t)
    );
}

#[test]
fn nobody_answers_within_the_deadline() {
    if !netns::can_run("nobody_answers_within_the_deadline", &[]) {
        return;
    }
    let lab = Lab::new(false);
    lab.client_up(true);
    for family in [AddressFamily::Ipv4, AddressFamily::Ipv6] {
        let (r, t, took) = run_client(&lab, family, opts(1200));
        let e = r.unwrap_err();
        assert!(e.is_temporary(), "{family}: {e}");
        assert!(took >= Duration::from_millis(1150), "{family}: {took:?}");
        assert!(
            took < Duration::from_millis(1700),
            "{family}: {took:?}\n{}",
            show(&t)
        );
    }
}

/// A hook script that only records its environment (never the default hooks: they rewrite
/// /etc/resolv.conf, which is shared with the host; DHCP-LAB-NOTES §3).
fn recording_hook(lab: &Lab) -> String {
    let log = lab.dir.join("hook.env").display().to_string();
    let p = lab.write(
        "hook.sh",
        &format!("#!/bin/sh\nenv >> {log}\necho ---- >> {log}\nexit 0\n"),
    );
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    p.display().to_string()
}

#[test]
fn dhclient_lease_files_v4_and_v6() {
    if !netns::can_run("dhclient_lease_files_v4_and_v6", &["dnsmasq", "dhclient"]) {
        return;
    }
    let mut lab = Lab::new(false);
    lab.client_up(true);
    lab.start_dnsmasq("dnsmasq", &dnsmasq_access_domain(EXAMPLE_NET_HEX));
    let hook = recording_hook(&lab);
    let conf = lab
        .write(
            "dhclient.conf",
            "also request v4-access-domain;\nalso request dhcp6.v6-access-domain;\n",
        )
        .display()
        .to_string();
    let cli = lab.cli.clone();
    let cli_if = lab.cli_if.clone();
    for (family, flag, lease_name) in [
        (AddressFamily::Ipv4, "-4", "dhclient.leases"),
        (AddressFamily::Ipv6, "-6", "dhclient6.leases"),
    ] {
        let lf = lab.dir.join(lease_name).display().to_string();
        let pf = lab
            .dir
            .join(format!("{lease_name}.pid"))
            .display()
            .to_string();
        // -d keeps it in the foreground (our child, stopped by PID once the lease is written).
        let label = format!("dhclient{flag}");
        lab.spawn(
            &label,
            &cli,
            &[
                "dhclient", flag, "-1", "-d", "-cf", &conf, "-lf", &lf, "-pf", &pf, "-sf", &hook,
                &cli_if,
            ],
            &[],
        );
        lab.wait_for_log(&label, lease_name, "access-domain");
        lab.stop(&label);
        let text = std::fs::read_to_string(&lf).unwrap();
        std::fs::copy(&lf, lab.dir.join(format!("{lease_name}.copy"))).unwrap();
        let d = lease::read_file(std::path::Path::new(&lf), Some(&cli_if), family)
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(d.domain.to_string(), "example.net.", "{text}");
        assert_eq!(d.source, DomainSource::Lease);
    }
}

#[test]
fn dhcpcd_lease_files_v4_and_v6() {
    if !netns::can_run("dhcpcd_lease_files_v4_and_v6", &["dnsmasq", "dhcpcd"]) {
        return;
    }
    let mut lab = Lab::new(false);
    lab.client_up(true);
    lab.start_dnsmasq("dnsmasq", &dnsmasq_access_domain(EXAMPLE_NET_HEX));
    let hook = recording_hook(&lab);
    // Each option on its own line, or 57 is not put in the ORO (DHCP-LAB-NOTES §3).
    let conf = lab
        .write(
            "dhcpcd.conf",
            "nodelay\nnohook resolv.conf\noption access_domain\noption dhcp6_access_domain\n\
             noipv6rs\nia_na\n",
        )
        .display()
        .to_string();
    let cli = lab.cli.clone();
    let cli_if = lab.cli_if.clone();
    // dhcpcd keeps its leases in /var/lib/dhcpcd/<if>.lease{,6}; the interface name is unique to
    // this lab, and the files are removed afterwards (DHCP-LAB-NOTES §8.6).
    let lease4 = std::path::PathBuf::from(format!("/var/lib/dhcpcd/{cli_if}.lease"));
    let lease6 = std::path::PathBuf::from(format!("/var/lib/dhcpcd/{cli_if}.lease6"));
    let duid = std::path::Path::new("/var/lib/dhcpcd/duid");
    let had_duid = duid.exists();
    struct Cleanup(Vec<std::path::PathBuf>);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            for p in &self.0 {
                let _ = std::fs::remove_file(p);
            }
        }
    }
    let mut cleanup = vec![lease4.clone(), lease6.clone()];
    if !had_duid {
        cleanup.push(duid.to_owned());
    }
    let _cleanup = Cleanup(cleanup);
    for (family, flag, path) in [
        (AddressFamily::Ipv4, "-4", &lease4),
        (AddressFamily::Ipv6, "-6", &lease6),
    ] {
        let out = lab.run(
            &cli,
            &[
                "timeout", "20", "dhcpcd", "-f", &conf, "-c", &hook, flag, "-1", "-B", "-G", "-t",
                "10", &cli_if,
            ],
        );
        let bytes = std::fs::read(path).unwrap_or_else(|e| {
            panic!(
                "dhcpcd {flag} wrote no {} ({e}):\n{}{}",
                path.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        std::fs::write(lab.dir.join(format!("dhcpcd{flag}.lease")), &bytes).unwrap();
        let d = lease::read_file(path, Some(&cli_if), family).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.domain.to_string(), "example.net.");
        assert!(d.detail.contains("dhcpcd"), "{}", d.detail);
    }
}

/// One hostile DHCPv6 behaviour.
#[derive(Debug, Clone, Copy)]
enum Hostile6 {
    WrongXid,
    ForeignClientId,
    NoServerId,
    LengthBeyondPacket,
    CompressionPointer,
    TwoInstances,
}

fn v6_option(out: &mut Vec<u8>, code: u16, data: &[u8]) {
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(&u16::try_from(data.len()).unwrap().to_be_bytes());
    out.extend_from_slice(data);
}

/// The Client Identifier option payload of an Information-request.
fn client_id(req: &[u8]) -> Vec<u8> {
    let mut pos = 4;
    while pos + 4 <= req.len() {
        let code = u16::from_be_bytes([req[pos], req[pos + 1]]);
        let len = usize::from(u16::from_be_bytes([req[pos + 2], req[pos + 3]]));
        if code == 1 {
            return req[pos + 4..pos + 4 + len].to_vec();
        }
        pos += 4 + len;
    }
    Vec::new()
}

fn hostile_reply6(kind: Hostile6, req: &[u8]) -> Vec<u8> {
    let mut m = vec![7, req[1], req[2], req[3]];
    let example_net = [
        7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'n', b'e', b't', 0,
    ];
    let mut cid = client_id(req);
    match kind {
        Hostile6::WrongXid => m[1] ^= 0xff,
        Hostile6::ForeignClientId => cid[5] ^= 0xff,
        _ => {}
    }
    if !matches!(kind, Hostile6::NoServerId) {
        v6_option(&mut m, 2, &[0, 3, 0, 1, 2, 0, 0, 0, 0, 0x53]);
    }
    v6_option(&mut m, 1, &cid);
    match kind {
        Hostile6::LengthBeyondPacket => m.extend_from_slice(&[0, 57, 0, 40, 7, b'e', b'x']),
        Hostile6::CompressionPointer => v6_option(&mut m, 57, &[0xc0, 0x0c]),
        Hostile6::TwoInstances => {
            v6_option(&mut m, 57, &example_net);
            v6_option(&mut m, 57, &example_net);
        }
        _ => v6_option(&mut m, 57, &example_net),
    }
    m
}

#[test]
fn hostile_dhcpv6_responder_replies_are_ignored_or_rejected() {
    if !netns::can_run(
        "hostile_dhcpv6_responder_replies_are_ignored_or_rejected",
        &[],
    ) {
        return;
    }
    let timeout = Duration::from_millis(2500);
    for (kind, reason, ignored) in [
        (Hostile6::WrongXid, "does not match ours", true),
        (Hostile6::ForeignClientId, "is not ours", true),
        (Hostile6::NoServerId, "no Server Identifier", true),
        (Hostile6::LengthBeyondPacket, "declares 40 octets", true),
        (Hostile6::CompressionPointer, "compression pointer", false),
        (Hostile6::TwoInstances, "2 instances of option 57", false),
    ] {
        let lab = Lab::new(false);
        lab.client_up(true);
        let responder = respond(
            &lab,
            true,
            timeout + Duration::from_secs(1),
            move |req, from, _| {
                if req.len() < 4 || req[0] != 11 {
                    return Answer::NotARequest;
                }
                Answer::Send(hostile_reply6(kind, req), from)
            },
        );
        // Unicast to the responder's global address (it joins no multicast group).
        let mut o = opts(u64::try_from(timeout.as_millis()).unwrap());
        o.server = Some(IpAddr::V6(netns::SRV_V6.parse().unwrap()));
        let (r, t, took) = run_client(&lab, AddressFamily::Ipv6, o);
        assert!(
            responder.join().unwrap() >= 1,
            "{kind:?}: no request seen\n{}",
            show(&t)
        );
        let e = r.unwrap_err();
        if ignored {
            assert!(matches!(e, DhcpError::Timeout { .. }), "{kind:?}: {e}");
            assert!(
                took < timeout + Duration::from_millis(500),
                "{kind:?} took {took:?}"
            );
        } else {
            assert!(matches!(e, DhcpError::InvalidOption(_)), "{kind:?}: {e}");
            assert!(took < timeout, "{kind:?} took {took:?}");
        }
        assert!(
            e.to_string().contains(reason),
            "{kind:?}: {e}\n{}",
            show(&t)
        );
    }
}
