//! `altodisc-udp-latency`: a fixed-rate UDP DNS load generator that reports latency percentiles
//! (bench/responder/run's "p99 @20k" column; dnsperf 2.10 prints only average and stddev).
//!
//! ```text
//!   query file ("name TYPE" per line, dnsperf format) ──▶ one wire query per line, used in a loop
//!   send time of query n = start + n / rate   (an absolute schedule, never "after the last reply")
//!   one UDP socket: send what is due, read every reply that is there (non-blocking), expire
//!   latency = receive time − SCHEDULED send time; no reply within the timeout = lost
//! ```
//!
//! Measuring from the scheduled time (not the moment the query left) avoids coordinated omission:
//! if the generator or the server stalls, the queries that should have gone out during the stall
//! are charged the stall, as a real client population would be. Dev-only (crate `publish = false`),
//! not part of the shipped `altodisc` binary. Pin it with `taskset` beside the server under test.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsFd as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, ppoll};
use nix::sys::prctl::set_timerslack;
use nix::sys::socket::{setsockopt, sockopt};
use nix::sys::time::TimeSpec;

const HELP: &str = "\
altodisc-udp-latency: send UDP DNS queries at a FIXED rate and report latency percentiles

usage: altodisc-udp-latency -d FILE [-s ADDR] [-p PORT] [-Q QPS] [-l SECONDS] [-t TIMEOUT]

  -d FILE     query file, one \"name TYPE\" per line (dnsperf format; '#' comments and
              blank lines skipped); used in order, in a loop
  -s ADDR     server IP address (default 127.0.0.1)
  -p PORT     server UDP port (default 53)
  -Q QPS      queries per second, fixed (default 20000)
  -l SECONDS  how long to send (default 10)
  -t TIMEOUT  seconds to wait for a reply before the query counts as lost (default 1)

Send times follow an absolute schedule (query n at start + n/QPS), and latency is measured
from the SCHEDULED send time, not from when the query actually left: a stall of the server or
of this program is charged to every query that should have been sent during it (no coordinated
omission). Many queries are in flight at once, each with its own DNS ID; replies are matched by
ID and question. Percentiles are over the replies received; lost queries are counted apart.
Between sends it sleeps in ppoll(2) on the socket (timer slack 1 ns), so replies are time-stamped
when they arrive and sends leave on time; give it a CPU of its own (taskset -c 1).

Output: a readable summary, then one machine-readable line:
  RESULT sent=N received=N lost=N send_errors=N unmatched=N mean_ms=X p50_ms=X p90_ms=X
         p99_ms=X p999_ms=X max_ms=X max_lag_ms=X p99_from_send_ms=X
         (one line; '-' when nothing was received)
max_lag_ms is how far this program fell behind its own schedule (a busy CPU 1 shows here);
p99_from_send_ms is the p99 measured from when each query actually left, as dnsperf does: far
below p99_ms means the tail came from this program's lag, not from the server.
Exit status: 0 when at least one reply arrived, 1 otherwise, 2 on a usage error.
";

/// Command-line options (flags as in dnsperf where they mean the same).
#[derive(Debug, Clone, PartialEq)]
struct Options {
    server: SocketAddr,
    query_file: PathBuf,
    rate: u32,
    seconds: f64,
    timeout: Duration,
}

/// What `parse_args` decided.
#[derive(Debug, PartialEq)]
enum Command {
    Run(Options),
    Help,
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    let mut addr: IpAddr = IpAddr::from([127, 0, 0, 1]);
    let mut port: u16 = 53;
    let mut query_file = None;
    let mut rate: u32 = 20_000;
    let mut seconds: f64 = 10.0;
    let mut timeout: f64 = 1.0;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Ok(Command::Help);
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |what: &str| format!("{flag} {value}: {what}");
        match flag.as_str() {
            "-s" => addr = value.parse().map_err(|_| bad("not an IP address"))?,
            "-p" => port = value.parse().map_err(|_| bad("not a port"))?,
            "-d" => query_file = Some(PathBuf::from(value)),
            "-Q" => rate = value.parse().map_err(|_| bad("not a whole number"))?,
            "-l" => seconds = value.parse().map_err(|_| bad("not a number"))?,
            "-t" => timeout = value.parse().map_err(|_| bad("not a number"))?,
            _ => return Err(format!("unknown option {flag} (see --help)")),
        }
    }
    let query_file = query_file.ok_or("-d FILE is required (see --help)")?;
    if rate == 0 {
        return Err("-Q must be at least 1".into());
    }
    if !(seconds > 0.0 && seconds.is_finite()) {
        return Err("-l must be a positive number of seconds".into());
    }
    if !(timeout > 0.0 && timeout.is_finite()) {
        return Err("-t must be a positive number of seconds".into());
    }
    // Every query in flight holds one of the 65,536 DNS IDs until its reply or its timeout.
    if f64::from(rate) * timeout > f64::from(MAX_IN_FLIGHT) {
        return Err(format!(
            "-Q {rate} × -t {timeout} s could put more than {MAX_IN_FLIGHT} queries in flight \
             (one DNS ID each); lower the rate or the timeout"
        ));
    }
    Ok(Command::Run(Options {
        server: SocketAddr::new(addr, port),
        query_file,
        rate,
        seconds,
        timeout: Duration::from_secs_f64(timeout),
    }))
}

/// Upper bound on queries in flight: IDs are handed out in sequence, and an ID must be free
/// again (answered or timed out) before the sequence comes back to it.
const MAX_IN_FLIGHT: u32 = 60_000;

/// RR type numbers (RFC 1035 §3.2.2, RFC 3596, RFC 2782, RFC 3403, RFC 4034, RFC 6891).
fn rr_type(mnemonic: &str) -> Option<u16> {
    let upper = mnemonic.to_ascii_uppercase();
    Some(match upper.as_str() {
        "A" => 1,
        "NS" => 2,
        "CNAME" => 5,
        "SOA" => 6,
        "PTR" => 12,
        "MX" => 15,
        "TXT" => 16,
        "AAAA" => 28,
        "SRV" => 33,
        "NAPTR" => 35,
        "DS" => 43,
        "RRSIG" => 46,
        "NSEC" => 47,
        "DNSKEY" => 48,
        "ANY" => 255,
        _ => return upper.strip_prefix("TYPE")?.parse().ok(),
    })
}

/// The question section (RFC 1035 §4.1.2) for `name` and `qtype`, class IN, and the length of
/// its QNAME part. Names are plain dotted labels (no escapes), as in dnsperf query files.
fn encode_question(name: &str, qtype: u16) -> Result<(Vec<u8>, usize), String> {
    let mut wire = Vec::with_capacity(name.len() + 6);
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if !trimmed.is_empty() {
        for label in trimmed.split('.') {
            let len = u8::try_from(label.len())
                .ok()
                .filter(|len| (1..=63).contains(len))
                .ok_or_else(|| format!("{name}: labels must be 1 to 63 octets"))?;
            wire.push(len);
            wire.extend_from_slice(label.as_bytes());
        }
    }
    wire.push(0);
    if wire.len() > 255 {
        return Err(format!("{name}: longer than 255 octets"));
    }
    let name_len = wire.len();
    wire.extend_from_slice(&qtype.to_be_bytes());
    wire.extend_from_slice(&1u16.to_be_bytes()); // class IN
    Ok((wire, name_len))
}

/// One query of the file, as a complete message with ID 0 (the ID is set per send).
#[derive(Debug, Clone)]
struct Query {
    message: Vec<u8>,
    /// Length of the QNAME inside the question (compared case-insensitively, RFC 4343).
    name_len: usize,
}

impl Query {
    fn question(&self) -> &[u8] {
        &self.message[HEADER_LEN..]
    }
}

const HEADER_LEN: usize = 12;

fn parse_query_line(line: &str) -> Result<Option<Query>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let mut fields = line.split_whitespace();
    let (Some(name), Some(ty), None) = (fields.next(), fields.next(), fields.next()) else {
        return Err(format!("{line:?}: expected \"name TYPE\""));
    };
    let qtype = rr_type(ty).ok_or_else(|| format!("{line:?}: unknown type {ty}"))?;
    let (question, name_len) = encode_question(name, qtype)?;
    // Header: ID 0, flags 0 (standard query, RD off: the servers are authoritative), QDCOUNT 1.
    let mut message = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    message.extend_from_slice(&question);
    Ok(Some(Query { message, name_len }))
}

fn parse_query_file(text: &str) -> Result<Vec<Query>, String> {
    let mut queries = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if let Some(q) = parse_query_line(line).map_err(|e| format!("line {}: {e}", n + 1))? {
            queries.push(q);
        }
    }
    if queries.is_empty() {
        return Err("no queries in the file".into());
    }
    Ok(queries)
}

/// Send times on an absolute clock: query `n` is due at `start + n / rate`, whatever happened to
/// the queries before it, so a late generator catches up instead of silently lowering the rate.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    start: Instant,
    rate: u32,
    total: u64,
}

impl Schedule {
    fn new(start: Instant, rate: u32, seconds: f64) -> Self {
        // Truncation is intended: a fractional last query is not sent.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let total = (f64::from(rate) * seconds).round() as u64;
        Self { start, rate, total }
    }

    /// Offset of query `n` from the start, in whole nanoseconds (integer maths: no drift).
    fn offset(&self, n: u64) -> Duration {
        let nanos = u128::from(n) * 1_000_000_000 / u128::from(self.rate);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    fn at(&self, n: u64) -> Instant {
        self.start + self.offset(n)
    }

    /// How many queries (counted from 0) are due at `now`.
    fn due_by(&self, now: Instant) -> u64 {
        let Some(elapsed) = now.checked_duration_since(self.start) else {
            return 0;
        };
        // n is due when n * 1e9 / rate <= elapsed_ns, i.e. n <= elapsed_ns * rate / 1e9 (the
        // integer division in `offset` rounds down, so check the neighbour too).
        let approx = elapsed.as_nanos() * u128::from(self.rate) / 1_000_000_000;
        let mut n = u64::try_from(approx).unwrap_or(u64::MAX).min(self.total);
        while n < self.total && self.offset(n) <= elapsed {
            n += 1;
        }
        n
    }
}

/// A query that went out and has not been answered or expired.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    seq: u64,
    scheduled: Instant,
    query: usize,
}

/// Sends, matches and expires queries; no socket and no clock inside (time is passed in), so the
/// accounting is unit-tested.
#[derive(Debug)]
struct Tracker {
    timeout: Duration,
    slots: Vec<Option<InFlight>>,
    /// When each ID's query actually left (for the from-send figure, which leaves out this
    /// program's own lag).
    sent_at: Vec<Instant>,
    /// (ID, seq) in send order, for expiry.
    order: VecDeque<(u16, u64)>,
    latencies_ns: Vec<u64>,
    from_send_ns: Vec<u64>,
    sent: u64,
    lost: u64,
    send_errors: u64,
    unmatched: u64,
    rcodes: [u64; 16],
    max_lag: Duration,
}

impl Tracker {
    fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            slots: vec![None; 65_536],
            sent_at: vec![Instant::now(); 65_536],
            order: VecDeque::new(),
            latencies_ns: Vec::new(),
            from_send_ns: Vec::new(),
            sent: 0,
            lost: 0,
            send_errors: 0,
            unmatched: 0,
            rcodes: [0; 16],
            max_lag: Duration::ZERO,
        }
    }

    /// The DNS ID for sequence number `seq`. A slot still held (only possible if this program
    /// stalled for longer than the timeout) is expired as lost first.
    fn id_for(&mut self, seq: u64) -> u16 {
        let id = u16::try_from(seq % 65_536).unwrap_or(0);
        if self.slots[usize::from(id)].take().is_some() {
            self.lost += 1;
        }
        id
    }

    fn sent(&mut self, id: u16, flight: InFlight, now: Instant) {
        self.sent += 1;
        self.max_lag = self
            .max_lag
            .max(now.saturating_duration_since(flight.scheduled));
        self.slots[usize::from(id)] = Some(flight);
        self.sent_at[usize::from(id)] = now;
        self.order.push_back((id, flight.seq));
    }

    fn send_failed(&mut self) {
        self.send_errors += 1;
    }

    /// A datagram from the server: counted when its ID is in flight and its question is the one
    /// sent (RFC 5452 §9.1: ID and question together identify the reply).
    fn received(&mut self, reply: &[u8], queries: &[Query], now: Instant) {
        let Some(header) = reply.get(..HEADER_LEN) else {
            self.unmatched += 1;
            return;
        };
        let id = u16::from_be_bytes([header[0], header[1]]);
        let is_response = header[2] & 0x80 != 0;
        let qdcount = u16::from_be_bytes([header[4], header[5]]);
        let Some(flight) = self.slots[usize::from(id)] else {
            self.unmatched += 1;
            return;
        };
        let query = &queries[flight.query];
        let sent_q = query.question();
        let same_question = reply
            .get(HEADER_LEN..HEADER_LEN + sent_q.len())
            .is_some_and(|got| {
                got[..query.name_len].eq_ignore_ascii_case(&sent_q[..query.name_len])
                    && got[query.name_len..] == sent_q[query.name_len..]
            });
        if !is_response || qdcount != 1 || !same_question {
            self.unmatched += 1;
            return;
        }
        self.slots[usize::from(id)] = None;
        let latency = now.saturating_duration_since(flight.scheduled);
        self.latencies_ns
            .push(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
        let from_send = now.saturating_duration_since(self.sent_at[usize::from(id)]);
        self.from_send_ns
            .push(u64::try_from(from_send.as_nanos()).unwrap_or(u64::MAX));
        self.rcodes[usize::from(header[3] & 0x0F)] += 1;
    }

    /// Counts as lost every query whose scheduled time is more than the timeout before `now`.
    fn expire(&mut self, now: Instant) {
        while let Some(&(id, seq)) = self.order.front() {
            match self.slots[usize::from(id)] {
                Some(flight) if flight.seq == seq => {
                    if now.saturating_duration_since(flight.scheduled) < self.timeout {
                        return;
                    }
                    self.slots[usize::from(id)] = None;
                    self.lost += 1;
                }
                // Answered (or the ID was reused): nothing to expire.
                _ => {}
            }
            self.order.pop_front();
        }
    }

    /// Ends the run: everything still in flight is lost.
    fn finish(&mut self) {
        for (id, seq) in self.order.drain(..) {
            if let Some(flight) = self.slots[usize::from(id)]
                && flight.seq == seq
            {
                self.slots[usize::from(id)] = None;
                self.lost += 1;
            }
        }
    }

    fn in_flight(&self) -> bool {
        !self.order.is_empty()
    }

    fn report(&mut self) -> Report {
        self.latencies_ns.sort_unstable();
        self.from_send_ns.sort_unstable();
        let ms = |p| percentile(&self.latencies_ns, p).map(|ns| ns as f64 / 1e6);
        Report {
            sent: self.sent,
            received: self.latencies_ns.len() as u64,
            lost: self.lost,
            send_errors: self.send_errors,
            unmatched: self.unmatched,
            noerror: self.rcodes[0],
            nxdomain: self.rcodes[3],
            other_rcode: self.rcodes.iter().sum::<u64>() - self.rcodes[0] - self.rcodes[3],
            mean: mean_ns(&self.latencies_ns).map(|ns| ns / 1e6),
            p50: ms(50.0),
            p90: ms(90.0),
            p99: ms(99.0),
            p999: ms(99.9),
            max: ms(100.0),
            p99_from_send: percentile(&self.from_send_ns, 99.0).map(|ns| ns as f64 / 1e6),
            max_lag_ms: self.max_lag.as_secs_f64() * 1e3,
        }
    }
}

/// Nearest-rank percentile of sorted values: the smallest value with at least `p` % of all values
/// at or below it (so p100 is the maximum, and no interpolation invents a latency nobody saw).
fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len() as f64;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    // The small slack keeps binary rounding (99.9 % of 1000 = 999.0000000000001) from moving
    // the rank up by one.
    let rank = ((p / 100.0 * n - 1e-6).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// Arithmetic mean (to compare with dnsperf's "Average Latency" at the same rate).
fn mean_ns(values: &[u64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let sum: u128 = values.iter().map(|&v| u128::from(v)).sum();
    Some(sum as f64 / values.len() as f64)
}

#[derive(Debug)]
struct Report {
    sent: u64,
    received: u64,
    lost: u64,
    send_errors: u64,
    unmatched: u64,
    noerror: u64,
    nxdomain: u64,
    other_rcode: u64,
    mean: Option<f64>,
    p50: Option<f64>,
    p90: Option<f64>,
    p99: Option<f64>,
    p999: Option<f64>,
    max: Option<f64>,
    p99_from_send: Option<f64>,
    max_lag_ms: f64,
}

impl Report {
    fn render(&self, opts: &Options) -> String {
        let f = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |ms| format!("{ms:.3}"));
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} qps for {} s to {}: sent {}, received {}, lost {} (timeout {} s), send errors {}, unmatched replies {}",
            opts.rate,
            opts.seconds,
            opts.server,
            self.sent,
            self.received,
            self.lost,
            opts.timeout.as_secs_f64(),
            self.send_errors,
            self.unmatched
        );
        let _ = writeln!(
            out,
            "rcodes: NOERROR {}, NXDOMAIN {}, other {}",
            self.noerror, self.nxdomain, self.other_rcode
        );
        let _ = writeln!(
            out,
            "latency ms from the scheduled send time: mean {} p50 {} p90 {} p99 {} p99.9 {} max {}",
            f(self.mean),
            f(self.p50),
            f(self.p90),
            f(self.p99),
            f(self.p999),
            f(self.max)
        );
        let _ = writeln!(
            out,
            "generator's max lag behind its schedule: {:.3} ms; p99 from the actual send time: {} ms",
            self.max_lag_ms,
            f(self.p99_from_send)
        );
        let _ = writeln!(
            out,
            "RESULT sent={} received={} lost={} send_errors={} unmatched={} mean_ms={} p50_ms={} p90_ms={} p99_ms={} p999_ms={} max_ms={} max_lag_ms={:.3} p99_from_send_ms={}",
            self.sent,
            self.received,
            self.lost,
            self.send_errors,
            self.unmatched,
            f(self.mean),
            f(self.p50),
            f(self.p90),
            f(self.p99),
            f(self.p999),
            f(self.max),
            self.max_lag_ms,
            f(self.p99_from_send)
        );
        out
    }
}

/// Receive buffer asked for: the replies that pile up while this program is not scheduled (a few
/// ms on a busy machine, 20 per ms at 20k qps) must not be dropped by our own socket. The kernel
/// caps it at net.core.rmem_max.
const RECV_BUFFER: usize = 4 << 20;

/// After the last send, how long one wait for the remaining replies may last.
const TAIL_POLL: Duration = Duration::from_millis(10);

/// Waits until the socket is readable or `timeout` has passed. Sleeping in ppoll(2) rather than
/// spinning matters on a shared CPU: the scheduler runs a task that wakes from a short sleep
/// promptly, while a spinning task waits behind every other runnable task for its turn.
fn wait_readable(socket: &UdpSocket, timeout: Duration) {
    let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLIN)];
    // EINTR and the like need no handling: the caller's loop looks at the clock again.
    let _ = ppoll(&mut fds, Some(TimeSpec::from_duration(timeout)), None);
}

fn run(opts: &Options) -> Result<Report, String> {
    let text = std::fs::read_to_string(&opts.query_file)
        .map_err(|e| format!("{}: {e}", opts.query_file.display()))?;
    let mut queries =
        parse_query_file(&text).map_err(|e| format!("{}: {e}", opts.query_file.display()))?;
    let local: SocketAddr = if opts.server.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let socket = UdpSocket::bind(local).map_err(|e| format!("bind: {e}"))?;
    socket
        .connect(opts.server)
        .map_err(|e| format!("connect {}: {e}", opts.server))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| format!("set_nonblocking: {e}"))?;
    setsockopt(&socket, sockopt::RcvBuf, &RECV_BUFFER).map_err(|e| format!("SO_RCVBUF: {e}"))?;
    // The default timer slack (50 µs) would make every timed wake-up, and so every send, up to
    // 50 µs late: as much as the whole reply time of a fast server on loopback.
    set_timerslack(1).map_err(|e| format!("PR_SET_TIMERSLACK: {e}"))?;

    let mut tracker = Tracker::new(opts.timeout);
    let schedule = Schedule::new(
        Instant::now() + Duration::from_millis(10),
        opts.rate,
        opts.seconds,
    );
    let mut next: u64 = 0;
    let mut buf = [0u8; 65_535];
    loop {
        let now = Instant::now();
        let due = schedule.due_by(now);
        while next < due {
            let index = usize::try_from(next % queries.len() as u64).unwrap_or(0);
            let id = tracker.id_for(next);
            let message = &mut queries[index].message;
            message[..2].copy_from_slice(&id.to_be_bytes());
            let flight = InFlight {
                seq: next,
                scheduled: schedule.at(next),
                query: index,
            };
            match socket.send(message) {
                Ok(_) => tracker.sent(id, flight, Instant::now()),
                // A full socket buffer or an ICMP error: the query never left.
                Err(_) => tracker.send_failed(),
            }
            next += 1;
        }
        loop {
            match socket.recv(&mut buf) {
                Ok(len) => tracker.received(&buf[..len], &queries, Instant::now()),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                // ICMP port unreachable and the like surface here on a connected socket; the
                // queries concerned time out and count as lost.
                Err(_) => {}
            }
        }
        let now = Instant::now();
        tracker.expire(now);
        if next >= schedule.total {
            if !tracker.in_flight() {
                break;
            }
            if now.saturating_duration_since(schedule.at(schedule.total)) > opts.timeout {
                tracker.finish();
                break;
            }
            wait_readable(&socket, TAIL_POLL);
            continue;
        }
        let wait = schedule.at(next).saturating_duration_since(now);
        if !wait.is_zero() {
            wait_readable(&socket, wait);
        }
    }
    Ok(tracker.report())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match parse_args(&args) {
        Ok(Command::Run(opts)) => opts,
        Ok(Command::Help) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("altodisc-udp-latency: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&opts) {
        Ok(report) => {
            print!("{}", report.render(&opts));
            if report.received == 0 {
                eprintln!("altodisc-udp-latency: no replies from {}", opts.server);
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("altodisc-udp-latency: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 90.0), Some(90));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&v, 99.9), Some(100));
        assert_eq!(percentile(&v, 100.0), Some(100));
        assert_eq!(percentile(&v, 0.0), Some(1));
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&v, 99.9), Some(999));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(mean_ns(&[1, 2, 6]), Some(3.0));
        assert_eq!(mean_ns(&[]), None);
    }

    #[test]
    fn schedule_is_absolute_and_exact() {
        let start = Instant::now();
        let s = Schedule::new(start, 20_000, 2.0);
        assert_eq!(s.total, 40_000);
        assert_eq!(s.at(0), start);
        assert_eq!(s.offset(1), Duration::from_micros(50));
        assert_eq!(s.offset(20_000), Duration::from_secs(1));
        // A rate that does not divide 1e9: no drift after many queries.
        let s = Schedule::new(start, 3, 10.0);
        assert_eq!(s.offset(3), Duration::from_secs(1));
        assert_eq!(s.offset(1), Duration::from_nanos(333_333_333));
        assert_eq!(s.offset(30), Duration::from_secs(10));
    }

    #[test]
    fn due_by_counts_every_query_whose_time_has_come() {
        let start = Instant::now();
        let s = Schedule::new(start, 20_000, 1.0);
        assert_eq!(s.due_by(start), 1); // query 0 is due at the start
        assert_eq!(s.due_by(start + Duration::from_micros(49)), 1);
        assert_eq!(s.due_by(start + Duration::from_micros(50)), 2);
        // A generator that wakes up late owes every query it missed (they are sent at once and
        // charged from their scheduled times).
        assert_eq!(s.due_by(start + Duration::from_millis(10)), 201);
        assert_eq!(s.due_by(start + Duration::from_secs(5)), 20_000);
        let s = Schedule::new(start + Duration::from_secs(1), 1000, 1.0);
        assert_eq!(s.due_by(start), 0);
        for n in 0..2000 {
            let t = s.at(n);
            assert_eq!(s.due_by(t), (n + 1).min(s.total), "n={n}");
        }
    }

    fn query(name: &str, ty: &str) -> Query {
        parse_query_line(&format!("{name} {ty}"))
            .expect("valid line")
            .expect("not blank")
    }

    fn reply_to(q: &Query, id: u16, rcode: u8) -> Vec<u8> {
        let mut r = q.message.clone();
        r[..2].copy_from_slice(&id.to_be_bytes());
        r[2] = 0x84; // QR, AA
        r[3] = rcode;
        r
    }

    #[test]
    fn query_lines_encode_to_wire_format() {
        let q = query("1.2.10.in-addr.arpa.", "NAPTR");
        assert_eq!(
            q.message,
            b"\0\0\0\0\0\x01\0\0\0\0\0\0\x011\x012\x0210\x07in-addr\x04arpa\0\0\x23\0\x01"
        );
        assert_eq!(q.name_len, 21);
        assert_eq!(query("example.net", "ptr").message, {
            let mut m = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
            m.extend_from_slice(b"\x07example\x03net\0\0\x0c\0\x01");
            m
        });
        assert_eq!(query(".", "TYPE65").question(), b"\0\0\x41\0\x01");
        assert!(parse_query_line("  # comment").expect("ok").is_none());
        assert!(parse_query_line("").expect("ok").is_none());
        assert!(parse_query_line("a..b A").is_err());
        assert!(parse_query_line("a BOGUS").is_err());
        assert!(parse_query_line("a A extra").is_err());
        assert!(parse_query_line(&format!("{} A", "x".repeat(64))).is_err());
        assert!(parse_query_file("# only a comment\n").is_err());
    }

    #[test]
    fn replies_match_by_id_and_question() {
        let queries = vec![query("a.example.", "NAPTR"), query("b.example.", "NAPTR")];
        let t0 = Instant::now();
        let mut t = Tracker::new(Duration::from_secs(1));
        for seq in 0..2u64 {
            let id = t.id_for(seq);
            let flight = InFlight {
                seq,
                scheduled: t0,
                query: usize::try_from(seq).expect("small"),
            };
            t.sent(id, flight, t0 + Duration::from_micros(5));
        }
        // Right ID, wrong question: not counted.
        t.received(&reply_to(&queries[1], 0, 0), &queries, t0);
        // Not a response (QR clear), unknown ID, and a runt: not counted.
        t.received(&queries[0].message, &queries, t0);
        t.received(&reply_to(&queries[0], 9, 0), &queries, t0);
        t.received(&[0, 0, 0x80], &queries, t0);
        assert_eq!(t.unmatched, 4);
        // Case of the echoed QNAME may differ (RFC 4343); the type may not.
        let mut upper = reply_to(&queries[0], 0, 3);
        upper[13] = b'A';
        t.received(&upper, &queries, t0 + Duration::from_micros(300));
        t.received(
            &reply_to(&queries[1], 1, 0),
            &queries,
            t0 + Duration::from_micros(100),
        );
        // A duplicate reply finds its ID free.
        t.received(
            &reply_to(&queries[1], 1, 0),
            &queries,
            t0 + Duration::from_micros(150),
        );
        assert_eq!(t.unmatched, 5);
        t.expire(t0 + Duration::from_secs(5));
        assert_eq!(t.lost, 0);
        let r = t.report();
        assert_eq!((r.sent, r.received, r.nxdomain, r.noerror), (2, 2, 1, 1));
        // Latency counts from the scheduled time, not from the (5 µs later) actual send.
        assert_eq!(t.latencies_ns, vec![100_000, 300_000]);
        assert_eq!(t.from_send_ns, vec![95_000, 295_000]);
        assert!((r.max_lag_ms - 0.005).abs() < 1e-9);
    }

    #[test]
    fn unanswered_queries_expire_after_the_timeout() {
        let queries = vec![query("a.example.", "A")];
        let t0 = Instant::now();
        let mut t = Tracker::new(Duration::from_secs(1));
        for seq in 0..3u64 {
            let id = t.id_for(seq);
            let scheduled = t0 + Duration::from_millis(100 * seq);
            t.sent(
                id,
                InFlight {
                    seq,
                    scheduled,
                    query: 0,
                },
                scheduled,
            );
        }
        t.received(
            &reply_to(&queries[0], 1, 0),
            &queries,
            t0 + Duration::from_millis(150),
        );
        t.expire(t0 + Duration::from_millis(999));
        assert_eq!(t.lost, 0);
        t.expire(t0 + Duration::from_millis(1000));
        assert_eq!(t.lost, 1); // query 0; query 1 was answered, query 2 still has time
        // A reply after the timeout does not count.
        t.received(
            &reply_to(&queries[0], 0, 0),
            &queries,
            t0 + Duration::from_millis(1001),
        );
        assert_eq!(t.unmatched, 1);
        assert!(t.in_flight());
        t.finish();
        assert_eq!(t.lost, 2);
        assert!(!t.in_flight());
        let r = t.report();
        assert_eq!((r.sent, r.received, r.lost), (3, 1, 2));
    }

    #[test]
    fn ids_wrap_and_a_stale_slot_counts_as_lost() {
        let mut t = Tracker::new(Duration::from_secs(1));
        let t0 = Instant::now();
        let id = t.id_for(65_537);
        assert_eq!(id, 1);
        t.sent(
            id,
            InFlight {
                seq: 65_537,
                scheduled: t0,
                query: 0,
            },
            t0,
        );
        assert_eq!(t.id_for(65_537 + 65_536), 1);
        assert_eq!(t.lost, 1);
    }

    #[test]
    fn options_default_to_20k_qps_and_reject_overload_of_the_id_space() {
        let Ok(Command::Run(o)) = parse_args(&args("-d q.txt -p 5300")) else {
            panic!("parses");
        };
        assert_eq!(o.rate, 20_000);
        assert_eq!(o.server, "127.0.0.1:5300".parse().expect("addr"));
        assert_eq!(o.timeout, Duration::from_secs(1));
        assert!((o.seconds - 10.0).abs() < f64::EPSILON);
        assert_eq!(parse_args(&args("--help")), Ok(Command::Help));
        assert!(parse_args(&args("-p 5300")).is_err());
        assert!(parse_args(&args("-d q -Q 0")).is_err());
        assert!(parse_args(&args("-d q -Q 70000")).is_err());
        assert!(parse_args(&args("-d q -Q 70000 -t 0.5")).is_ok());
        assert!(parse_args(&args("-d q -l -1")).is_err());
        assert!(parse_args(&args("-d q -x 1")).is_err());
        assert!(parse_args(&args("-d")).is_err());
    }
}
