//! `altodisc serve`: the authoritative responder (RFC 7286 §3.2 and RFC 8686 §3.4 records).
//!
//! Reloads are all or nothing and gated by the zone checker: on SIGHUP, and when polling sees a
//! zone file or the config change, the complete new zone set is loaded, indexed and checked
//! (rules Z1–Z24); it replaces the served one atomically only without errors. A rejected reload
//! keeps the old zones, logs every diagnostic and counts `altodisc_reloads_total{result=
//! "rejected"}`. After an accepted reload, zones whose serial changed are NOTIFYed to
//! `serve.notify` (RFC 1996).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use altodisc_responder::load::{DEFAULT_WATCH_INTERVAL, Sources};
use altodisc_responder::metrics::RejectReason;
use altodisc_responder::xfr::{changed_zones, spawn_notify};
use altodisc_responder::{Responder, ResponderError, ServeOptions};
use altodisc_zone::publish_config::SerialState;
use clap::Args;
use tracing::{error, info, warn};

use crate::exit;

/// Arguments of `altodisc serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Publishing config (TOML): zones generated from access domains and prefixes, plus a
    /// `[serve]` table (listen addresses, zones_dir). See zones/publish.toml.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory of zone files: every `DIR/<origin>.zone` is one zone; other files are ignored.
    #[arg(long, value_name = "DIR")]
    zones: Option<PathBuf>,
    /// Address to answer on, UDP and TCP (repeatable; IPv4 or IPv6, e.g. `[::1]:5300`; port 0
    /// picks a free port). Adds to the config's `serve.listen`.
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Vec<SocketAddr>,
    /// HTTP endpoint for `/metrics` (Prometheus) and `/healthz`, e.g. `127.0.0.1:9153`
    /// (overrides the config's `serve.metrics_listen`).
    #[arg(long, value_name = "ADDR:PORT")]
    metrics: Option<SocketAddr>,
    /// Seconds between polls for changed zone files or config (0 = only SIGHUP reloads;
    /// overrides `serve.watch_interval`; default 2).
    #[arg(long, value_name = "SECONDS")]
    watch: Option<u64>,
    /// Do not run the zone checker (rules Z1–Z24) as the gate of the start and of reloads
    /// (same as `serve.check = false`); loads stay all or nothing.
    #[arg(long)]
    no_check: bool,
    /// Opt-in for latency-critical deployments: longest busy poll of an empty UDP socket, in
    /// microseconds (default 0 = off; 1000 is a good start). While queries arrive at least ten
    /// times per this interval (10,000/s for 1000) and the server keeps up with them, it polls
    /// for the next one instead of sleeping: about half the p99 latency on a VM, for one CPU
    /// at 99-100 % per socket at such rates. 1000000 (one second) is the most (overrides
    /// `serve.udp_busy_poll_us`).
    #[arg(long, value_name = "MICROSECONDS",
          value_parser = clap::value_parser!(u64).range(..=altodisc_responder::MAX_UDP_BUSY_POLL_US))]
    udp_busy_poll_us: Option<u64>,
    /// Most TCP connections from one source, an IPv4 address or an IPv6 /64 (default 64; 0 =
    /// only the overall `serve.max_tcp_connections`); further ones are closed at once.
    #[arg(long, value_name = "N")]
    max_tcp_per_source: Option<usize>,
    /// Milliseconds a client has for a whole TCP query, from its first octet to its last, and
    /// for taking each reply (default 3000); then the connection is closed.
    #[arg(long, value_name = "MILLISECONDS",
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    tcp_query_timeout_ms: Option<u64>,
}

/// Sets up `tracing` output on stderr; `RUST_LOG` overrides the default level `info`.
pub(crate) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,hickory_server=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only on a terminal: logs piped to a file or journald stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

pub(crate) fn run(args: &ServeArgs) -> ExitCode {
    init_logging();
    if args.config.is_none() && args.zones.is_none() {
        eprintln!("altodisc: error: give --config FILE and/or --zones DIR");
        return exit::code(exit::USAGE);
    }
    block_on_server(serve(args))
}

/// Runs `task` on a multi-threaded runtime (shared by `serve` and `demo`); when the runtime cannot
/// start, the command ends with exit 2 before doing anything.
pub(crate) fn block_on_server(task: impl Future<Output = ExitCode>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("altodisc: error: cannot start the runtime: {e}");
            return exit::code(exit::USAGE);
        }
    };
    runtime.block_on(task)
}

async fn serve(args: &ServeArgs) -> ExitCode {
    let mut signals = match Signals::register() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("altodisc: error: cannot register signal handlers: {e}");
            return exit::code(exit::USAGE);
        }
    };
    let sources = Sources {
        config: args.config.clone(),
        zones_dir: args.zones.clone(),
    };
    let started = Instant::now();
    let mut fingerprint = sources.fingerprint();
    let load = |previous: Option<&SerialState>| {
        if args.no_check {
            sources.load_index(previous)
        } else {
            sources.load_index_checked(previous)
        }
    };
    let loaded = match load(None) {
        Ok(l) => l,
        Err(e) => {
            // Logged once here; nothing is served half-loaded or with checker errors.
            log_diagnostics(&e);
            eprintln!("altodisc: error: {e}");
            return exit::code(exit::USAGE);
        }
    };
    for w in &loaded.warnings {
        warn!("{w}");
    }
    let load_time = started.elapsed();
    let zone_count = loaded.zone_count;
    let record_count = loaded.index.record_count();
    let mut options = ServeOptions::default();
    if let Err(e) = loaded.serve.apply(&mut options) {
        eprintln!("altodisc: error: {e}");
        return exit::code(exit::USAGE);
    }
    options.listen.extend(args.listen.iter().copied());
    if args.metrics.is_some() {
        options.metrics_listen = args.metrics;
    }
    if let Some(us) = args.udp_busy_poll_us {
        options.udp_busy_poll = Duration::from_micros(us);
    }
    if let Some(n) = args.max_tcp_per_source {
        options.max_tcp_connections_per_source = n;
    }
    if let Some(ms) = args.tcp_query_timeout_ms {
        options.tcp_query_timeout = Duration::from_millis(ms);
    }
    let watch_secs = args
        .watch
        .or(loaded.serve.watch_interval)
        .unwrap_or(DEFAULT_WATCH_INTERVAL);
    let mut notify_targets = loaded.serve.notify.clone();
    if options.listen.is_empty() {
        eprintln!(
            "error: nothing to listen on: give --listen ADDR:PORT or serve.listen in the config"
        );
        return exit::code(exit::USAGE);
    }
    let responder = match Responder::start(loaded.index, &options).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("altodisc: error: {e}");
            return exit::code(exit::USAGE);
        }
    };
    for addr in responder.local_addrs() {
        info!(%addr, "listening (UDP and TCP)");
        println!("listening on {addr} (udp, tcp)");
    }
    if let Some(addr) = responder.metrics_addr() {
        info!(%addr, "metrics endpoint");
        println!("metrics on http://{addr}/metrics");
    }
    info!(
        zones = zone_count,
        records = record_count,
        load_ms = load_time.as_secs_f64() * 1000.0,
        "ready"
    );
    println!(
        "ready: {zone_count} zones, {record_count} records, loaded in {:.1} ms",
        load_time.as_secs_f64() * 1000.0
    );
    // systemd Type=notify (deploy/systemd/altodisc.service): ready only now, with every zone
    // loaded and every socket bound.
    crate::notify::ready(&format!(
        "serving {zone_count} zones, {record_count} records"
    ));

    // A (re)started primary tells its secondaries, so they catch up after downtime too.
    spawn_notify(
        &notify_targets,
        changed_zones(&Default::default(), &responder.current()),
        responder.metrics(),
    );

    let mut serials = loaded.serials;
    // `dnssec = "sign"`: reload (and so re-sign) before the signatures come near expiry.
    let mut resign_at = loaded.resign_at;
    let mut poll = (watch_secs > 0).then(|| {
        let mut t = tokio::time::interval(Duration::from_secs(watch_secs));
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    loop {
        let why = tokio::select! {
            signal = signals.next() => match signal {
                Signal::Stop(name) => {
                    info!(signal = name, "shutting down");
                    crate::notify::stopping();
                    break;
                }
                Signal::Reload => "SIGHUP",
            },
            () = tick(poll.as_mut()) => {
                let now = sources.fingerprint();
                if now == fingerprint {
                    continue;
                }
                "file change"
            }
            () = sleep_until(resign_at) => {
                // If this reload is rejected, try again in a minute rather than spin.
                resign_at = Some(SystemTime::now() + Duration::from_secs(60));
                "signature refresh"
            }
        };
        // Whatever triggered it, this reload has seen the files as they are now.
        fingerprint = sources.fingerprint();
        // Rebuild everything; swap only if the whole new set loads and checks clean.
        let started = Instant::now();
        match load(Some(&serials)) {
            Ok(l) => {
                let records = l.index.record_count();
                let old = responder.reload(l.index);
                responder.metrics().reload_ok();
                serials = l.serials;
                resign_at = l.resign_at;
                notify_targets = l.serve.notify;
                for w in &l.warnings {
                    warn!("{w}");
                }
                let changed = changed_zones(&old, &responder.current());
                info!(
                    trigger = why,
                    zones = l.zone_count,
                    records,
                    changed = changed.len(),
                    load_ms = started.elapsed().as_secs_f64() * 1000.0,
                    "reloaded"
                );
                spawn_notify(&notify_targets, changed, responder.metrics());
                crate::notify::status(&format!(
                    "serving {} zones, {records} records (reloaded: {why})",
                    l.zone_count
                ));
            }
            Err(e) => {
                log_diagnostics(&e);
                let reason = if matches!(e, ResponderError::Check { .. }) {
                    RejectReason::Check
                } else {
                    RejectReason::Load
                };
                responder.metrics().reload_rejected(reason);
                error!(
                    trigger = why,
                    "reload rejected, still serving the previous zones: {e}"
                );
                crate::notify::status(&format!(
                    "reload rejected ({why}), still serving the previous zones: {e}"
                ));
            }
        }
    }
    match responder.shutdown().await {
        Ok(()) => exit::code(exit::SUCCESS),
        Err(e) => {
            error!("{e}");
            exit::code(exit::TEMPORARY)
        }
    }
}

/// Every checker diagnostic of a rejected load, one log line each.
fn log_diagnostics(e: &ResponderError) {
    if let ResponderError::Check { errors } = e {
        for d in errors {
            error!("{d}");
        }
    }
}

/// Sleeps until `at` (at once if past), or forever for `None`.
async fn sleep_until(at: Option<SystemTime>) {
    match at {
        Some(at) => {
            let left = at.duration_since(SystemTime::now()).unwrap_or_default();
            tokio::time::sleep(left).await;
        }
        None => std::future::pending().await,
    }
}

/// The next poll tick, or never when polling is off.
async fn tick(poll: Option<&mut tokio::time::Interval>) {
    match poll {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

enum Signal {
    Stop(&'static str),
    Reload,
}

/// The signals `serve` reacts to, registered before the ready line is printed so that a SIGTERM
/// sent right after it is never lost to the default action.
#[cfg(unix)]
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn register() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.term.recv() => Signal::Stop("SIGTERM"),
            _ = self.int.recv() => Signal::Stop("SIGINT"),
            _ = self.hup.recv() => Signal::Reload,
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn register() -> std::io::Result<Self> {
        Ok(Self)
    }

    async fn next(&mut self) -> Signal {
        let _ = tokio::signal::ctrl_c().await;
        Signal::Stop("ctrl-c")
    }
}
