//! `altodisc serve`: the authoritative responder (RFC 7286 §3.2 and RFC 8686 §3.4 records).
//!
//! Zones load one by one, as NSD and Knot load them: a zone that does not load or fails the zone
//! checker (rules Z1–Z24) is reported (log, `/healthz`, `altodisc_zone_load_failed{zone}`) and
//! the others are served. At start a failed zone is not served (its names get REFUSED, like any
//! name outside the served zones); on a reload (SIGHUP, or polling sees a zone file or the config
//! change) it keeps its previous version. The new set replaces the served one atomically. Only a
//! start where no zone loads fails. `--strict` (`serve.strict = true`) keeps the all-or-nothing
//! behaviour: any failure refuses the start or rejects the whole reload. Reloads are counted in
//! `altodisc_reloads_total{result}`. After a reload, zones whose serial changed are NOTIFYed to
//! `serve.notify` (RFC 1996); a signed zone whose source and keys did not change keeps its
//! serial and signatures, so a no-op reload NOTIFYs nobody.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use altodisc_responder::load::{DEFAULT_WATCH_INTERVAL, LoadedIndex, Served, Sources, ZoneFailure};
use altodisc_responder::metrics::ReloadOutcome;
use altodisc_responder::xfr::{changed_zones, spawn_notify};
use altodisc_responder::{Responder, ResponderError, ServeOptions};
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
    /// Check the config (and zones) as this start would, print the result and exit without
    /// serving; the same as `altodisc check-config`.
    #[arg(long, requires = "config")]
    check_config: bool,
    /// Address to answer on, UDP and TCP (repeatable; IPv4 or IPv6, e.g. `[::1]:5300`; port 0
    /// picks a free port). Replaces the config's `serve.listen`, as every option here overrides
    /// its config key.
    #[arg(long, value_name = "ADDR:PORT", value_parser = super::hints::parse_listen)]
    listen: Vec<SocketAddr>,
    /// HTTP endpoint for `/metrics` (Prometheus) and `/healthz`, e.g. `127.0.0.1:9153`
    /// (replaces the config's `serve.metrics_listen`).
    #[arg(long, value_name = "ADDR:PORT", value_parser = super::hints::parse_listen)]
    metrics: Option<SocketAddr>,
    /// Seconds between polls for changed zone files or config (0 = only SIGHUP reloads;
    /// overrides `serve.watch_interval`; default 2).
    #[arg(long, value_name = "SECONDS")]
    watch: Option<u64>,
    /// Do not run the zone checker (rules Z1–Z24) as the gate of the start and of reloads
    /// (same as `serve.check = false`); a zone that does not load still fails alone.
    #[arg(long)]
    no_check: bool,
    /// All or nothing: refuse to start, and reject a whole reload, when any zone fails to load
    /// or fails the checker (same as `serve.strict = true`). Without it each zone loads on its
    /// own and a failed zone is reported while the others are served.
    #[arg(long)]
    strict: bool,
    /// Opt-in for latency-critical deployments: longest busy poll of an empty UDP socket, in
    /// microseconds (default 0 = off; 1000 is a good start). While queries arrive at least ten
    /// times per this interval (10,000/s for 1000) and the server keeps up with them, it polls
    /// for the next one instead of sleeping: about half the p99 latency on a VM, for one CPU
    /// at 99-100 % per socket at such rates. 1000000 (one second) is the most (overrides
    /// `serve.udp_busy_poll_us`).
    #[arg(long, value_name = "MICROSECONDS",
          value_parser = clap::value_parser!(u64).range(..=altodisc_responder::MAX_UDP_BUSY_POLL_US))]
    udp_busy_poll_us: Option<u64>,
    /// UDP workers per listen address, each answering on its own core (default: the number of
    /// CPUs; 1 to 1024; overrides `serve.workers`). TCP is served on every core either way.
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=altodisc_responder::MAX_WORKERS as u64))]
    workers: Option<u64>,
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
///
/// Under systemd (`$JOURNAL_STREAM` set) the timestamp is left out: journald stamps every line
/// itself, and a second one only makes the journal harder to read.
pub(crate) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,hickory_server=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only on a terminal: logs piped to a file or journald stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = if std::env::var_os("JOURNAL_STREAM").is_some() {
        builder.without_time().try_init()
    } else {
        builder.try_init()
    };
}

pub(crate) fn run(args: &ServeArgs) -> ExitCode {
    init_logging();
    if args.config.is_none() && args.zones.is_none() {
        eprintln!("altodisc: error: give --config FILE and/or --zones DIR");
        return exit::code(exit::USAGE);
    }
    if let Some(config) = &args.config {
        let request = super::check_config::Request {
            config,
            zones: args.zones.as_deref(),
            extra_listen: !args.listen.is_empty(),
            gate: !args.no_check,
            config_only: false,
        };
        if args.check_config {
            return super::check_config::print_report(&super::check_config::check(request), false);
        }
        // What the config alone gets wrong is reported with file:line:col before anything
        // is loaded (the load below would name the key but not its place).
        let report = super::check_config::static_problems(request);
        if !report.problems.is_empty() {
            for p in &report.problems {
                eprintln!("altodisc: {p}");
            }
            return exit::code(exit::USAGE);
        }
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
    let code = runtime.block_on(task);
    // A load stuck in a read (see `load_or_stop`) must not keep the process from exiting.
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
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
    // `--strict` on the command line, else `serve.strict` in the config (read again at every
    // reload, so the config can change it).
    let (strict_flag, check) = (args.strict, !args.no_check);
    let load = |served: Option<Served>| {
        let sources = sources.clone();
        move || -> Result<LoadedIndex, ResponderError> {
            let strict = strict_flag || sources.strict().unwrap_or(false);
            if strict {
                let previous = served.as_ref().map(|s| &s.serials);
                if check {
                    sources.load_index_checked(previous)
                } else {
                    sources.load_index(previous)
                }
            } else {
                sources.load_index_isolated(served.as_ref(), check)
            }
        }
    };
    let Some(loaded) = load_or_stop(&mut signals, load(None)).await else {
        return exit::code(exit::SUCCESS);
    };
    let loaded = match loaded {
        Ok(l) => l,
        Err(e) => {
            // Logged once here; with --strict nothing is served half-loaded or with checker
            // errors; without it, not one zone loaded.
            log_diagnostics(&e);
            // A config entry at fault (`prefix[4] ...`) is shown where it is in the file.
            let located = match (&e, &args.config) {
                (ResponderError::Config(_), Some(config)) => {
                    super::check_config::check(super::check_config::Request {
                        config,
                        zones: args.zones.as_deref(),
                        extra_listen: true,
                        gate: false,
                        config_only: false,
                    })
                    .problems
                }
                _ => Vec::new(),
            };
            if located.is_empty() {
                eprintln!("altodisc: error: {e}");
            }
            for p in &located {
                eprintln!("altodisc: {p}");
            }
            return exit::code(exit::USAGE);
        }
    };
    for w in &loaded.warnings {
        warn!("{w}");
    }
    let mut failures = FailureLog::default();
    failures.log(&loaded.failed);
    let load_time = started.elapsed();
    let zone_count = loaded.zone_count;
    let record_count = loaded.index.record_count();
    let mut options = ServeOptions::default();
    if let Err(e) = loaded.serve.apply(&mut options) {
        eprintln!("altodisc: error: {e}");
        return exit::code(exit::USAGE);
    }
    if !args.listen.is_empty() {
        options.listen.clone_from(&args.listen);
    }
    if args.metrics.is_some() {
        options.metrics_listen = args.metrics;
    }
    if let Some(us) = args.udp_busy_poll_us {
        options.udp_busy_poll = Duration::from_micros(us);
    }
    if let Some(n) = args.workers.and_then(|n| usize::try_from(n).ok()) {
        options.udp_workers = n;
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
    let mut notify_targets = match altodisc_responder::xfr::notify_targets(&loaded.serve) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("altodisc: error: {e}");
            return exit::code(exit::USAGE);
        }
    };
    if options.listen.is_empty() {
        eprintln!(
            "error: nothing to listen on: give --listen ADDR:PORT or serve.listen in the config"
        );
        return exit::code(exit::USAGE);
    }
    let LoadedIndex {
        index,
        serials,
        resign_at,
        failed,
        signed,
        signature_expiry,
        ..
    } = loaded;
    let failed_count = failed.len();
    let responder = match Responder::start(index, &options).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("altodisc: error: {e}");
            if let Some(hint) = super::hints::bind_hint(&e) {
                eprintln!("  hint: {hint}");
            }
            return exit::code(exit::USAGE);
        }
    };
    responder.metrics().loaded(&failed, &signature_expiry);
    // The start-up lines go to stdout once (scripts read the bound addresses there); the log on
    // stderr carries what happens later. Both end up in one journal, so nothing is said twice.
    for addr in responder.local_addrs() {
        println!("listening on {addr} (udp, tcp)");
    }
    if let Some(addr) = responder.metrics_addr() {
        println!("metrics on http://{addr}/metrics");
    }
    println!(
        "ready: {zone_count} zones, {record_count} records, loaded in {:.1} ms{}",
        load_time.as_secs_f64() * 1000.0,
        if failed_count > 0 {
            format!("; {failed_count} failed zone(s) not served")
        } else {
            String::new()
        }
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

    let mut served = Served {
        index: responder.current(),
        serials,
        signed,
    };
    // `dnssec = "sign"`: reload (and so re-sign) before the signatures come near expiry.
    let mut resign_at = resign_at;
    let mut poll = (watch_secs > 0).then(|| {
        let mut t = tokio::time::interval(Duration::from_secs(watch_secs));
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    loop {
        let why = if std::mem::take(&mut signals.pending_reload) {
            "SIGHUP"
        } else {
            tokio::select! {
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
            }
        };
        // Whatever triggered it, this reload has seen the files as they are now.
        fingerprint = sources.fingerprint();
        // Rebuild everything; swap only if the whole new set loads and checks clean.
        let started = Instant::now();
        // The zones served now: a reload keeps those whose new version fails.
        served.index = responder.current();
        let Some(loaded) = load_or_stop(&mut signals, load(Some(served.clone()))).await else {
            crate::notify::stopping();
            break;
        };
        match loaded {
            Ok(l) => {
                let records = l.index.record_count();
                let LoadedIndex {
                    index,
                    zone_count,
                    warnings,
                    serials,
                    serve,
                    resign_at: next_resign,
                    failed,
                    signed,
                    signature_expiry,
                    ..
                } = l;
                let old = responder.reload(index);
                let outcome = if failed.is_empty() {
                    ReloadOutcome::Success
                } else {
                    ReloadOutcome::Partial
                };
                responder.metrics().reload(outcome);
                responder.metrics().loaded(&failed, &signature_expiry);
                failures.log(&failed);
                served = Served {
                    index: responder.current(),
                    serials,
                    signed,
                };
                resign_at = next_resign;
                match altodisc_responder::xfr::notify_targets(&serve) {
                    Ok(t) => notify_targets = t,
                    Err(e) => error!("NOTIFY keeps the previous targets: {e}"),
                }
                for w in &warnings {
                    warn!("{w}");
                }
                let changed = changed_zones(&old, &responder.current());
                info!(
                    trigger = why,
                    zones = zone_count,
                    failed = failed.len(),
                    records,
                    changed = changed.len(),
                    load_ms = started.elapsed().as_secs_f64() * 1000.0,
                    "reloaded"
                );
                spawn_notify(&notify_targets, changed, responder.metrics());
                crate::notify::status(&format!(
                    "serving {zone_count} zones, {records} records (reloaded: {why}; {} failed)",
                    failed.len()
                ));
            }
            Err(e) => {
                log_diagnostics(&e);
                responder.metrics().reload(ReloadOutcome::Rejected);
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

/// Logs each failed zone once: in full when it is new or its reason changed, and one short
/// line per reload while the same failure stays.
#[derive(Default)]
struct FailureLog {
    last: std::collections::BTreeMap<String, Vec<String>>,
}

impl FailureLog {
    fn log(&mut self, failed: &[ZoneFailure]) {
        let mut now = std::collections::BTreeMap::new();
        for f in failed {
            if self.last.get(&f.zone) == Some(&f.errors) {
                // The reason was logged when the failure began.
                let served = f
                    .kept_serial
                    .map_or_else(|| "not served".to_owned(), |s| format!("serial {s} served"));
                warn!(zone = %f.zone, "zone still fails as before ({served})");
            } else {
                error!(zone = %f.zone, source = %f.source, "zone failed: {}", f.summary());
                for d in f.errors.iter().skip(1) {
                    error!(zone = %f.zone, "{d}");
                }
            }
            now.insert(f.zone.clone(), f.errors.clone());
        }
        for zone in self.last.keys().filter(|z| !now.contains_key(*z)) {
            info!(zone = %zone, "zone loads again");
        }
        self.last = now;
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

/// Runs `load` on a blocking thread while signals are still answered: a load that hangs in a
/// read (a FIFO, a stalled network file system) cannot keep SIGTERM from stopping the server. A
/// SIGHUP meanwhile is covered by the load under way. `None`: a stop signal came first (the load
/// thread is abandoned, and `block_on_server` does not wait for it). A load that panics is an
/// error of that load, and the server keeps serving what it served.
async fn load_or_stop(
    signals: &mut Signals,
    load: impl FnOnce() -> Result<LoadedIndex, ResponderError> + Send + 'static,
) -> Option<Result<LoadedIndex, ResponderError>> {
    let mut task = tokio::task::spawn_blocking(load);
    loop {
        tokio::select! {
            done = &mut task => {
                return Some(done.unwrap_or_else(|e| {
                    Err(ResponderError::Config(format!("the load stopped unexpectedly: {e}")))
                }));
            }
            signal = signals.next() => match signal {
                Signal::Stop(name) => {
                    info!(signal = name, "shutting down during a load");
                    return None;
                }
                // The load under way may have read the files before the change that came with
                // this SIGHUP: reload once more after it.
                Signal::Reload => signals.pending_reload = true,
            },
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
    /// A SIGHUP came during a load: reload again after it.
    pending_reload: bool,
}

#[cfg(unix)]
impl Signals {
    fn register() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
            pending_reload: false,
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
struct Signals {
    pending_reload: bool,
}

#[cfg(not(unix))]
impl Signals {
    fn register() -> std::io::Result<Self> {
        Ok(Self {
            pending_reload: false,
        })
    }

    async fn next(&mut self) -> Signal {
        let _ = tokio::signal::ctrl_c().await;
        Signal::Stop("ctrl-c")
    }
}
