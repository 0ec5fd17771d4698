//! `altodisc check`: the zone checker for CI (rules in docs/checker-rules.md).
//!
//! Zone files and directories in, diagnostics out (text, JSON or SARIF), exit code 0 (clean),
//! 1 (errors, or warnings with `--deny-warnings`), 2 (usage or unreadable input). The rules, the
//! replay and the output formats live in `altodisc-zone`; this module only wires them up.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use altodisc_proto::DomainName;
use altodisc_zone::Rule;
use altodisc_zone::check::{CheckOptions, Checker};
use altodisc_zone::output::{
    DEFAULT_INFO_LIMIT, SourceCache, Summary, condense, render_human, to_json, to_sarif,
};
use altodisc_zone::reader::{IncludeBase, ReadOptions, origin_from_file_name};
use altodisc_zone::replay::{Intent, replay};
use clap::{Args, ValueEnum};

use crate::exit;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// rustc-like text (colour only on a terminal).
    Human,
    /// `{"diagnostics": [...], "summary": {...}}`.
    Json,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
}

/// Check zone files for ALTO discovery mistakes (rules Z1–Z30; `--explain Z6` for one rule).
#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 clean, 1 errors found (or warnings with --deny-warnings), \
2 usage or unreadable input.\nRules: altodisc check --explain Z1 (… Z30, Z3b, Z5b, Z20b)."
)]
pub(crate) struct CheckArgs {
    /// Zone files, or directories searched for `*.zone` files. A file named `<origin>.zone` gets
    /// that origin unless --origin is given; `$ORIGIN` inside a file also sets it. Without paths,
    /// an --intent that is a publishing config is checked through the zones it generates.
    #[arg(value_name = "PATH", required_unless_present_any = ["explain", "live", "intent"])]
    paths: Vec<PathBuf>,
    /// The origin (apex) of every zone given.
    #[arg(long, value_name = "NAME")]
    origin: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Exit 1 on warnings too.
    #[arg(long)]
    deny_warnings: bool,
    /// Print every info finding; by default the first 10 of each rule are printed and the rest
    /// counted.
    #[arg(long)]
    all_diagnostics: bool,
    /// Also write the findings as SARIF 2.1.0 to FILE, from the same run (the text or JSON
    /// report still goes to stdout). Written only when the check ran: after a usage error or
    /// unreadable input (exit 2) no file is left, never an empty one.
    #[arg(long, value_name = "FILE")]
    sarif_file: Option<PathBuf>,
    /// Print the rationale of one rule (with its RFC section) and exit. The rule IDs are the
    /// possible values (case-insensitive), so shells complete them.
    #[arg(long, value_name = "RULE", ignore_case = true, hide_possible_values = true,
          value_parser = clap::builder::PossibleValuesParser::new(Rule::ALL.map(Rule::id)))]
    explain: Option<String>,
    /// Expectations (domain / address / prefix → URIs) or a publishing config, replayed with the
    /// client algorithm against the zones (Z24, Z21).
    #[arg(long, value_name = "FILE")]
    intent: Option<PathBuf>,
    /// Replay the --intent against a running authoritative server (any vendor) instead of, or in
    /// addition to, zone files: `IP`, `IP:PORT` or `[IPv6]:PORT` (port 53 when absent). Queries
    /// go out with RD=0 through the resolver crate.
    #[arg(long, value_name = "SERVER[:PORT]", requires = "intent")]
    live: Option<String>,
    /// Time for RRSIG validity checks (Z20b), Unix seconds; default now.
    #[arg(long, value_name = "SECONDS", hide = true)]
    now: Option<u64>,
    /// Z20b checks only that NAPTR RRsets carry an RRSIG in its validity window, without
    /// verifying signatures or the NSEC/NSEC3 chain (by default it verifies every RRSIG of a zone
    /// file with a DNSKEY against the apex DNSKEYs, and the chain, as ldns-verify-zone does;
    /// that reads each signed file twice and costs a signature check per RRset).
    #[arg(long, overrides_with = "verify_dnssec")]
    no_verify_dnssec: bool,
    /// The default (see --no-verify-dnssec); accepted for scripts written when it was opt-in.
    #[arg(long, hide = true, overrides_with = "no_verify_dnssec")]
    verify_dnssec: bool,
    /// Folder in which relative `$INCLUDE` paths are looked up, at every depth (BIND's
    /// `directory`, NSD's working directory). Default: `include_base` of the --config, else the
    /// folder of the file that holds the `$INCLUDE` (Knot's rule). This flag wins over the
    /// config. See docs/operators/zone-files.md.
    #[arg(long, value_name = "DIR")]
    include_base: Option<PathBuf>,
    /// The publishing config `altodisc serve --config` reads: its `[serve] include_base`
    /// (relative to the config file's folder) is used, so relative `$INCLUDE`s are found where
    /// the server finds them. Only that key is taken from it (the zones to check are the PATHs;
    /// --intent replays a config's entries).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Colour: auto (terminal only), always, never.
    #[arg(long, value_name = "WHEN", default_value = "auto", value_parser = ["auto", "always", "never"])]
    color: String,
}

/// Files to check: the files given, and `*.zone` files under directories (sorted, recursive).
fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "zone") {
            out.push(path);
        }
    }
    Ok(())
}

fn explain(rule: &str) -> std::process::ExitCode {
    match rule.parse::<Rule>() {
        Ok(r) => {
            println!("{} ({}): {}\n", r.id(), r.default_severity(), r.title());
            println!("{}", r.rationale());
            exit::code(exit::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit::code(exit::USAGE)
        }
    }
}

/// The zones a publishing config generates (`--intent CONFIG` without zone files).
fn generated_zones(path: &Path, now_unix: u64) -> Result<Vec<altodisc_zone::Zone>, String> {
    use altodisc_zone::publish_config::PublishConfig;
    let config = PublishConfig::load(path).map_err(|e| {
        format!(
            "--intent {}: no zone files given, and it is not a publishing config: {e}",
            path.display()
        )
    })?;
    let published = config.build(None, now_unix).map_err(|e| e.to_string())?;
    Ok(published.zones)
}

/// The reader options: `--include-base`, else `[serve] include_base` of `--config` (resolved
/// from the config file's folder, as `serve` does), else the default rule.
fn read_options(args: &CheckArgs) -> Result<ReadOptions, String> {
    let from_config = match &args.config {
        None => ReadOptions::default(),
        Some(path) => {
            use altodisc_responder::load::ServeSection;
            use altodisc_zone::publish_config::PublishConfig;
            let file = path.display().to_string();
            let config = PublishConfig::load(path).map_err(|e| format!("--config {file}: {e}"))?;
            let serve = ServeSection::from_config(&config, &file).map_err(|e| e.to_string())?;
            if args.include_base.is_some() {
                // The flag wins; the config's key is not even looked at.
                ReadOptions::default()
            } else {
                serve
                    .read_options()
                    .map_err(|e| format!("--config {file}: {e}"))?
            }
        }
    };
    let mut options = from_config;
    if let Some(dir) = &args.include_base {
        if !dir.is_dir() {
            return Err(format!(
                "--include-base {}: not a directory; give the folder relative $INCLUDE paths are \
                 read from",
                dir.display()
            ));
        }
        options.include_base = IncludeBase::Dir(dir.clone());
    }
    Ok(options)
}

/// Runs `altodisc check`.
pub(crate) fn run(args: &CheckArgs) -> std::process::ExitCode {
    if let Some(rule) = &args.explain {
        return explain(rule);
    }
    let origin = match args.origin.as_deref().map(DomainName::parse).transpose() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: --origin: {e}");
            return exit::code(exit::USAGE);
        }
    };
    let files = match collect(&args.paths) {
        Ok(f) if f.is_empty() && args.live.is_none() && args.intent.is_none() => {
            eprintln!("error: no zone files found (directories are searched for *.zone)");
            return exit::code(exit::USAGE);
        }
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::code(exit::USAGE);
        }
    };
    let intent = match &args.intent {
        None => None,
        Some(p) => match Intent::from_file(p) {
            Ok(i) => Some(i),
            Err(e) => {
                eprintln!("error: --intent: {e}");
                return exit::code(exit::USAGE);
            }
        },
    };
    let mut options = CheckOptions::default();
    if let Some(n) = args.now {
        options.now_unix = n;
    }
    let mut checker = Checker::new(options);
    checker.set_verify_dnssec(args.verify_dnssec || !args.no_verify_dnssec);
    let read_options = match read_options(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::code(exit::USAGE);
        }
    };
    for f in &files {
        // A name-derived origin only for names that look like a domain (`<origin>.zone` with at
        // least one dot in the stem); `$ORIGIN` inside the file takes over for what follows.
        let file_origin = origin
            .clone()
            .or_else(|| origin_from_file_name(f).filter(|o| o.label_count() >= 2));
        if let Err(e) = checker.load_file_with(f, file_origin.as_ref(), &read_options) {
            eprintln!("error: {e}");
            return exit::code(exit::USAGE);
        }
    }
    // No zone files and no server: check what a publishing config generates (the zones the
    // responder would serve), rules and replay alike.
    let mut generated = 0usize;
    if files.is_empty()
        && args.live.is_none()
        && let Some(path) = &args.intent
    {
        match generated_zones(path, options.now_unix) {
            Ok(zones) => {
                generated = zones.len();
                for z in &zones {
                    checker.load_zone(z);
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                return exit::code(exit::USAGE);
            }
        }
    }
    checker.index();
    // Offline replay needs zones; with only --live there is nothing to replay against.
    if let Some(intent) = intent
        .as_ref()
        .filter(|_| !files.is_empty() || generated > 0)
    {
        let found = replay(checker.zones(), intent);
        checker.extend(found);
    }
    let mut diagnostics = checker.finish();
    if let (Some(server), Some(intent)) = (&args.live, &intent) {
        match live::replay(server, intent) {
            Ok(found) => {
                diagnostics.extend(found);
                altodisc_zone::check::sort_diagnostics(&mut diagnostics);
            }
            Err(e) => {
                eprintln!("error: --live: {e}");
                return exit::code(exit::USAGE);
            }
        }
    }
    // The process ends right after the output: freeing a million records one by one would only
    // cost time (the OS reclaims the memory at exit).
    std::mem::forget(checker);
    let s = Summary::of(&diagnostics);
    let limit = if args.all_diagnostics {
        usize::MAX
    } else {
        DEFAULT_INFO_LIMIT
    };
    let (diagnostics, omitted) = condense(diagnostics, limit);
    let mut stdout = std::io::stdout().lock();
    let written = match args.format {
        Format::Human => {
            let color = match args.color.as_str() {
                "always" => true,
                "never" => false,
                _ => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            };
            let mut cache = SourceCache::default();
            let text = render_human(
                &diagnostics,
                &omitted,
                files.len() + generated,
                color,
                &mut |f, l| cache.line(f, l),
            );
            stdout.write_all(text.as_bytes())
        }
        Format::Json => writeln!(
            stdout,
            "{:#}",
            to_json(&diagnostics, &omitted, files.len() + generated)
        ),
        Format::Sarif => writeln!(stdout, "{:#}", to_sarif(&diagnostics, &omitted)),
    };
    if let Err(e) = written
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("error: writing output: {e}");
    }
    if let Some(path) = &args.sarif_file
        && let Err(e) = write_atomically(path, &format!("{:#}\n", to_sarif(&diagnostics, &omitted)))
    {
        eprintln!("error: --sarif-file {}: {e}", path.display());
        return exit::code(exit::USAGE);
    }
    let failed = s.errors > 0 || (args.deny_warnings && s.warnings > 0);
    exit::code(if failed {
        exit::NOT_FOUND
    } else {
        exit::SUCCESS
    })
}

/// Writes `text` to a temporary file beside `path`, then renames it over `path`: a reader (the
/// SARIF upload) sees the old file or the whole new one, never a partial one.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// `--live`: the intent replayed against a running server through `altodisc-resolver` (the same
/// U-NAPTR and RFC 8686 code `altodisc xdom` runs), reported as Z24 / Z21 like the offline replay.
mod live {
    use altodisc_proto::ladder::publish_boundary;
    use altodisc_proto::service::WantedService;
    use altodisc_resolver::{
        FailureReason, NameStatus, Resolver, UnaptrOutcome, XdomOutcome, parse_server,
    };
    use altodisc_zone::replay::{Expectation, Expected, Intent, Subject};
    use altodisc_zone::{Diagnostic, Rule};

    fn unaptr_trace(o: &UnaptrOutcome) -> String {
        format!("{}: {}", o.start, o.status)
    }

    fn xdom_trace(o: &XdomOutcome) -> String {
        let steps: Vec<String> = o
            .ladder
            .iter()
            .filter_map(|l| {
                l.outcome
                    .as_ref()
                    .map(|u| format!("{} {}: {}", l.label(), l.name, u.status))
            })
            .collect();
        if steps.is_empty() {
            "nothing".to_owned()
        } else {
            steps.join("; ")
        }
    }

    async fn expected(r: &Resolver, e: &Expectation) -> Vec<String> {
        let mut out = Vec::new();
        for x in &e.expected {
            match x {
                Expected::Uri(u) => out.push(u.clone()),
                Expected::Delegation(n) => {
                    let o = r.unaptr(n, std::slice::from_ref(&e.wanted)).await;
                    out.extend(o.candidates.into_iter().map(|c| c.uri));
                }
            }
        }
        out
    }

    fn uris(o: &XdomOutcome) -> Vec<String> {
        o.candidates.iter().map(|c| c.uri.clone()).collect()
    }

    fn mismatch(
        server: &str,
        rule: Rule,
        e: &Expectation,
        subject: &str,
        want: &[String],
        got: &[String],
        trace: &str,
    ) -> Diagnostic {
        e.diagnostic(
            rule,
            &format!("live {server}: {subject} ({}): expected {want:?}, the server gives {got:?}; walked: {trace}", e.wanted),
        )
        .with_hint("compare with the offline replay of the zone files; the server may serve another version")
    }

    async fn xdom(
        r: &Resolver,
        input: &str,
        wanted: &WantedService,
    ) -> Result<XdomOutcome, String> {
        let o = r
            .xdom(input, std::slice::from_ref(wanted))
            .await
            .map_err(|e| e.to_string())?;
        // Nothing listens at the server: every further query would fail the same way, so the
        // check stops with one error instead of one mismatch per expectation.
        let refused = o
            .ladder
            .iter()
            .filter_map(|l| l.status())
            .find_map(|s| match s {
                NameStatus::Temporary(FailureReason::ConnectionRefused(servers)) => Some(servers),
                _ => None,
            });
        if let Some(servers) = refused {
            return Err(format!(
                "connection refused by {servers}: no DNS server listens there (is `altodisc serve` \
                 running, and on that address and port?)"
            ));
        }
        Ok(o)
    }

    async fn run(server: &str, intent: &Intent) -> Result<Vec<Diagnostic>, String> {
        let addr = parse_server(server).map_err(|e| e.to_string())?;
        let resolver = Resolver::with_server(addr).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for e in &intent.entries {
            let want = expected(&resolver, e).await;
            match &e.subject {
                Subject::Domain(d) => {
                    let o = resolver.unaptr(d, std::slice::from_ref(&e.wanted)).await;
                    let got: Vec<String> = o.candidates.iter().map(|c| c.uri.clone()).collect();
                    if got != want {
                        out.push(mismatch(
                            server,
                            Rule::Z24,
                            e,
                            &format!("domain {d}"),
                            &want,
                            &got,
                            &unaptr_trace(&o),
                        ));
                    }
                }
                Subject::Address(a) => {
                    let o = xdom(&resolver, &a.to_string(), &e.wanted).await?;
                    if uris(&o) != want {
                        out.push(mismatch(
                            server,
                            Rule::Z24,
                            e,
                            &format!("address {a}"),
                            &want,
                            &uris(&o),
                            &xdom_trace(&o),
                        ));
                    }
                }
                Subject::Prefix(p) => {
                    for a in e.sampled_addresses(p, intent.samples) {
                        let o = xdom(&resolver, &a.to_string(), &e.wanted).await?;
                        if uris(&o) != want {
                            out.push(mismatch(
                                server,
                                Rule::Z24,
                                e,
                                &format!("address {a} in {p}"),
                                &want,
                                &uris(&o),
                                &xdom_trace(&o),
                            ));
                        }
                    }
                    let o = xdom(&resolver, &p.to_string(), &e.wanted).await?;
                    if uris(&o) != want {
                        let aligned =
                            publish_boundary(p.family(), p.prefix_len) == Some(p.prefix_len);
                        let note = if aligned {
                            ""
                        } else {
                            " (unaligned prefix, docs/decisions.md, A12)"
                        };
                        out.push(mismatch(
                            server,
                            Rule::Z21,
                            e,
                            &format!("prefix-form query {p}{note}"),
                            &want,
                            &uris(&o),
                            &xdom_trace(&o),
                        ));
                    }
                }
            }
        }
        Ok(out)
    }

    /// Runs the replay on a small tokio runtime.
    pub(super) fn replay(server: &str, intent: &Intent) -> Result<Vec<Diagnostic>, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(run(server, intent))
    }
}
