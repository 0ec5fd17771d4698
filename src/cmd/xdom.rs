//! `altodisc xdom ADDR|PREFIX...`: RFC 8686 cross-domain ALTO server discovery, one input at a
//! time or in batch (`--batch FILE|-`, JSON Lines).

use std::io::{self, BufRead, BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use altodisc_resolver::batch::{BatchOptions, BatchSummary, DEFAULT_CONCURRENCY, run_batch};
use altodisc_resolver::dns::DnsSource;
use altodisc_resolver::udp_engine::{EngineConfig, UdpEngineSource};
use altodisc_resolver::{Resolver, XdomOptions, XdomOutcome, XdomStatus};
use clap::Args;

use crate::cmd::resolve::{
    DnsArgs, runtime, usage_error, write_candidates, write_queries, write_visits,
};
use crate::exit;

/// Arguments of `altodisc xdom`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  altodisc xdom 198.51.100.3
  altodisc xdom --json 2001:db8:1:2:227:eff:fe6a:de42 198.51.100.0/24
  altodisc xdom --server 127.0.0.1:5300 --trace --sequential 192.0.2.34
  altodisc xdom --batch peers.txt --concurrency 128 > results.jsonl
  printf '192.0.2.1\\n192.0.2.2\\n' | altodisc xdom --batch -

For each address or prefix the reverse names of RFC 8686 Table 1 are queried (R32, R24, R16, R8
for IPv4; R128, R64, R56, R48, R40, R32 for IPv6). By default all names are queried at once and the
answer is the first name IN LADDER ORDER with a usable URI; --sequential queries one at a time.
`degraded` means a more specific name failed temporarily, so a later retry may give a more precise
answer. Names that failed temporarily are retried once after the rest when nothing was found.

JSON (one object per input and line): {\"input\", \"prefix\", \"status\": \"found\"|\"not_found\"|\"error\",
\"temporary\", \"candidates\": [{\"uri\", \"order\", \"preference\", \"owner\", ...}], \"matched_name\",
\"matched_label\", \"degraded\", \"names\": [...], \"warnings\", \"error\", \"queries\" (with --trace)}.
--batch writes the same objects as JSON Lines, in input order, plus \"line\"; blank lines and
#-comments are skipped; an invalid line gives an object with status \"error\" and the run goes on.
A summary (addresses, queries sent, queries per address, elapsed, addresses/s) goes to stderr.

Exit codes: 0 every input found; 1 some input not found (or, with --batch, an invalid line);
2 invalid input or usage; 3 nothing missing except through temporary failures (timeout, SERVFAIL:
a retry later may help; a server that answers REFUSED gives the same answer again, so it counts as
not found).")]
pub(crate) struct XdomArgs {
    /// IPv4/IPv6 addresses or CIDR prefixes, e.g. 198.51.100.3 or 2001:db8::/48.
    #[arg(
        value_name = "ADDR|PREFIX",
        required_unless_present = "batch",
        conflicts_with = "batch"
    )]
    inputs: Vec<String>,
    /// Read one address or prefix per line from FILE (`-` for stdin); write JSON Lines.
    #[arg(long, value_name = "FILE")]
    batch: Option<String>,
    /// Inputs resolved at the same time in batch mode.
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY, value_name = "N")]
    concurrency: usize,
    /// In batch mode, send every query through the full DNS client instead of the UDP query
    /// engine (for comparison; the engine is used only with --server, and leaves the names DNSSEC
    /// validation covers to the full client).
    #[arg(long, requires = "batch")]
    no_udp_engine: bool,
    /// Query the ladder names one at a time instead of all at once.
    #[arg(long)]
    sequential: bool,
    /// Do not retry names that failed temporarily.
    #[arg(long)]
    no_retry: bool,
    #[command(flatten)]
    dns: DnsArgs,
    #[command(flatten)]
    verify: crate::cmd::verify::VerifyCandidates,
}

/// Exit code for several results: invalid ⇒ 2 (handled by the caller), all found ⇒ 0, every
/// miss temporary ⇒ 3, otherwise 1.
fn aggregate(not_found: u64, temporary: u64) -> u8 {
    if not_found > 0 {
        exit::NOT_FOUND
    } else if temporary > 0 {
        exit::TEMPORARY
    } else {
        exit::SUCCESS
    }
}

/// Runs `altodisc xdom`.
pub(crate) fn run(args: &XdomArgs) -> ExitCode {
    let wanted = match args.dns.checked_wanted() {
        Ok(w) => w,
        Err(m) => return usage_error(&m),
    };
    if args.concurrency == 0 {
        return usage_error("--concurrency must be at least 1");
    }
    if args.verify.verify && args.batch.is_some() {
        return usage_error("--verify is not supported with --batch");
    }
    let options = XdomOptions {
        unaptr: args.dns.unaptr_options(),
        sequential: args.sequential,
        retry_temporary: !args.no_retry,
        // Only --trace shows the queries (run_batch decides for itself from `with_queries`).
        collect_queries: args.dns.trace,
    };
    let rt = match if args.batch.is_some() {
        batch_runtime()
    } else {
        runtime()
    } {
        Ok(rt) => rt,
        Err(m) => return usage_error(&m),
    };
    let resolver = match rt.block_on(args.dns.resolver()) {
        Ok(r) => r.options(options),
        Err(e) => return usage_error(&e),
    };
    if let Some(path) = &args.batch {
        return run_batch_mode(args, path, &resolver, &wanted, &rt);
    }

    let stdout = io::stdout();
    let mut out = stdout.lock();
    let (mut not_found, mut temporary, mut invalid) = (0u64, 0u64, false);
    for input in &args.inputs {
        match rt.block_on(resolver.xdom(input, &wanted)) {
            Ok(o) => {
                // --verify: IRD check of each candidate in order (RFC 3958 §2.2.4).
                let uris: Vec<String> = o.candidates.iter().map(|c| c.uri.clone()).collect();
                let tried = match rt.block_on(args.verify.run(args.dns.allow_http, &uris)) {
                    Ok(t) => t,
                    Err(e) => return usage_error(&e.to_string()),
                };
                let unverified = tried
                    .as_deref()
                    .is_some_and(|t| !crate::cmd::verify::any_verified(t));
                match o.status {
                    XdomStatus::Found if unverified => not_found += 1,
                    XdomStatus::Found => {}
                    XdomStatus::TemporaryFailure => temporary += 1,
                    _ => not_found += 1,
                }
                let written = crate::cmd::verify::write_outcome(
                    &mut out,
                    args.dns.json.then(|| o.to_json(args.dns.trace)),
                    |out| write_human(out, &o, args.dns.trace),
                    tried.as_deref(),
                    o.status == XdomStatus::Found,
                    uris.len(),
                    "  ",
                );
                if written.is_err() {
                    return exit::code(exit::SUCCESS);
                }
            }
            Err(e) => {
                invalid = true;
                if args.dns.json {
                    let _ = writeln!(out, "{}", e.to_json());
                }
                let _ = out.flush();
                eprintln!("altodisc: error: {e}");
            }
        }
    }
    if invalid {
        return exit::code(exit::USAGE);
    }
    exit::code(aggregate(not_found, temporary))
}

/// The runtime of a batch: one thread. A batch is one stream of inputs whose queries share one
/// socket; on the multi-threaded runtime every response crossed threads (the receive task on a
/// worker waking the batch on the main thread, a futex wake-up per response), and the server
/// being measured against needs a core of its own on a small machine anyway.
fn batch_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// The input lines, read as the batch goes (memory stays bounded however long the input);
/// the first read error ends the input and is kept in `error`.
fn read_lines(
    path: &str,
    error: std::rc::Rc<std::cell::RefCell<Option<io::Error>>>,
) -> io::Result<impl Iterator<Item = String>> {
    let reader: Box<dyn BufRead> = if path == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(io::BufReader::new(std::fs::File::open(path)?))
    };
    Ok(reader.split(b'\n').map_while(move |line| match line {
        // Invalid UTF-8 becomes an invalid line (an error object), not a failed run. Valid
        // lines keep the bytes read (no copy per line).
        Ok(line) => Some(match String::from_utf8(line) {
            Ok(mut text) => {
                while text.ends_with('\r') {
                    text.pop();
                }
                text
            }
            Err(e) => String::from_utf8_lossy(e.as_bytes())
                .trim_end_matches('\r')
                .to_owned(),
        }),
        Err(e) => {
            *error.borrow_mut() = Some(e);
            None
        }
    }))
}

fn run_batch_mode(
    args: &XdomArgs,
    path: &str,
    resolver: &Resolver,
    wanted: &[altodisc_proto::service::WantedService],
    rt: &tokio::runtime::Runtime,
) -> ExitCode {
    let read_error = std::rc::Rc::new(std::cell::RefCell::new(None));
    let lines = match read_lines(path, std::rc::Rc::clone(&read_error)) {
        Ok(l) => l,
        Err(e) => return usage_error(&format!("--batch {path}: {e}")),
    };
    let options = BatchOptions {
        xdom: resolver.options,
        concurrency: args.concurrency,
        with_queries: args.dns.trace,
    };
    let show_progress = io::stderr().is_terminal();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let source = match rt.block_on(batch_source(args, resolver)) {
        Ok(s) => s,
        Err(m) => return usage_error(&m),
    };
    let result = rt.block_on(run_batch(
        source,
        lines,
        wanted,
        &options,
        &mut out,
        |done| {
            if show_progress && done % 100 == 0 {
                eprint!("\r{done} addresses");
            }
        },
    ));
    if show_progress {
        eprint!("\r");
    }
    let summary: BatchSummary = match result {
        Ok(s) => s,
        Err(e) => {
            if e.kind() == io::ErrorKind::BrokenPipe {
                return exit::code(exit::SUCCESS);
            }
            eprintln!("altodisc: error: writing results: {e}");
            return exit::code(exit::NOT_FOUND);
        }
    };
    eprintln!("altodisc xdom: {summary}");
    if let Some(e) = read_error.borrow_mut().take() {
        eprintln!(
            "altodisc: error: --batch {path}: reading stopped after {} lines: {e}",
            summary.inputs
        );
        return exit::code(exit::NOT_FOUND);
    }
    exit::code(aggregate(
        summary.not_found + summary.errors,
        summary.temporary,
    ))
}

/// The source a batch queries: with explicit `--server`s, the UDP query engine (many queries
/// outstanding on one socket) in front of a full client, which still answers everything the
/// engine leaves to it (TC, CNAMEs, errors, refusals, names DNSSEC validation covers); without
/// `--server` or with --no-udp-engine, the resolver's client alone.
async fn batch_source(
    args: &XdomArgs,
    resolver: &Resolver,
) -> Result<std::sync::Arc<dyn altodisc_resolver::NaptrSource>, String> {
    let config = args.dns.dns_config()?;
    let Some(&server) = config.servers.first() else {
        return Ok(resolver.source());
    };
    if args.no_udp_engine {
        return Ok(resolver.source());
    }
    let dnssec = args.dns.dnssec_config()?;
    let full = DnsSource::with_dnssec(&config, &dnssec)
        .await
        .map_err(|e| e.to_string())?;
    let engine = EngineConfig {
        server,
        timeout: config.timeout,
        attempts: config.attempts,
        recursion_desired: config.recursion_desired,
        other_servers: config.servers.len() > 1,
    };
    let source = UdpEngineSource::new(engine, std::sync::Arc::new(full))
        .await
        .map_err(|e| format!("cannot open a UDP socket to {server}: {e}"))?;
    Ok(std::sync::Arc::new(source))
}

fn write_human(out: &mut impl Write, o: &XdomOutcome, trace: bool) -> io::Result<()> {
    let prefix = format!("{}/{}", o.prefix.address, o.prefix.prefix_len);
    match (o.status, o.matched_name()) {
        (XdomStatus::Found, Some(name)) => writeln!(
            out,
            "{} ({prefix}): found at {} {name}",
            o.input,
            o.matched_label().unwrap_or_default()
        )?,
        (XdomStatus::TemporaryFailure, _) => writeln!(
            out,
            "{} ({prefix}): no ALTO server found; only temporary failures (a retry later may help)",
            o.input
        )?,
        _ => writeln!(out, "{} ({prefix}): no ALTO server found", o.input)?,
    }
    write_candidates(out, &o.candidates, "  ")?;
    if o.degraded && o.status == XdomStatus::Found {
        writeln!(
            out,
            "  degraded: a more specific name failed temporarily; a later retry may give a more precise answer"
        )?;
    }
    for w in &o.prefix.warnings {
        writeln!(out, "  warning: {w}")?;
    }
    writeln!(out, "  why:")?;
    for r in &o.ladder {
        match &r.outcome {
            None => writeln!(
                out,
                "    {} {}: not needed (a more specific name matched)",
                r.label(),
                r.name
            )?,
            Some(u) => {
                let retried = r
                    .first_attempt
                    .as_ref()
                    .map(|f| {
                        format!(
                            " (retried after: {})",
                            altodisc_resolver::unaptr::status_detail(f)
                        )
                    })
                    .unwrap_or_default();
                writeln!(
                    out,
                    "    {} {}: {}{retried}",
                    r.label(),
                    r.name,
                    altodisc_resolver::unaptr::status_detail(&u.status)
                )?;
                // The top-level visit is the line above; show its skipped records, then any
                // non-terminal hops in full.
                for v in u.visits.iter().filter(|v| v.depth == 0) {
                    for s in &v.skipped {
                        writeln!(out, "      skipped {}: {}", s.record, s.reason)?;
                    }
                    for m in &v.malformed {
                        writeln!(out, "      malformed record ignored: {m}")?;
                    }
                }
                let deeper: Vec<_> = u.visits.iter().filter(|v| v.depth > 0).cloned().collect();
                write_visits(out, &deeper, "      ")?;
            }
        }
    }
    if trace {
        writeln!(out, "  queries:")?;
        write_queries(out, &o.queries, "    ")?;
    }
    Ok(())
}
