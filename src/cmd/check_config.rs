//! `altodisc check-config FILE` (and `serve --check-config`): everything `serve` would refuse in
//! a publishing config, found without serving, each error at `file:line:col` — what
//! `named-checkconf`, `nsd-checkconf` and `knotc conf-check` are for their servers.
//!
//! The config is read by the same code `serve` uses (`altodisc_zone::publish_config` for the
//! zones and entries, `altodisc_responder::load::ServeSection` and `DnssecSettings` for
//! `[serve]`), so the two cannot disagree about what is valid. This layer adds only positions:
//! toml's own error spans for syntax, types and unknown keys, and the spans of the keys and
//! entries (`[[prefix]]` number 5, `serve.zones_dir`) that a later, semantic error names.
//!
//! Nothing is written: no serial file, no DNSSEC keys. Zone files are read, indexed and run
//! through the zone checker (rules Z1–Z24) as the start of `serve` would, unless
//! `--no-check` or `serve.check = false`.

use std::collections::BTreeMap;
use std::fmt;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use altodisc_responder::ServeOptions;
use altodisc_responder::ZoneIndex;
use altodisc_responder::index::ZoneBuilder;
use altodisc_responder::load::{ServeSection, Sources, checker_errors};
use altodisc_responder::zone_signing::DnssecSettings;
use altodisc_zone::check::{CheckOptions, Checker};
use altodisc_zone::publish_config::PublishConfig;
use clap::Args;
use serde::Deserialize;

use crate::exit;

/// Arguments of `altodisc check-config`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  altodisc check-config /etc/altodisc/altodisc.toml
  altodisc check-config --zones zones zones/publish.toml

Errors go to stderr as FILE:LINE:COL: error: MESSAGE, with a hint where one helps; on success one
summary line goes to stdout (none with --quiet). Nothing is written (no serial file, no keys).
Exit status: 0 valid, 1 the config has errors, 2 the file cannot be read or usage error.")]
pub(crate) struct CheckConfigArgs {
    /// The publishing config `serve --config` would read.
    #[arg(value_name = "FILE")]
    config: PathBuf,
    /// A zone directory `serve --zones DIR` would add.
    #[arg(long, value_name = "DIR")]
    zones: Option<PathBuf>,
    /// Addresses `serve --listen` would listen on instead of `serve.listen` (then an empty
    /// `serve.listen` is not an error).
    #[arg(long, value_name = "ADDR:PORT", value_parser = super::hints::parse_listen)]
    listen: Vec<SocketAddr>,
    /// Do not run the zone checker over the zones (as `serve --no-check`).
    #[arg(long)]
    no_check: bool,
    /// Check the configuration file only (syntax, `[serve]`, the publishing entries), not the
    /// zones. What the systemd unit runs before a start or a reload: `serve` serves the zones
    /// that load and reports the others (unless `strict`), so one broken zone must not stop it.
    #[arg(long, conflicts_with = "no_check")]
    config_only: bool,
    /// Print nothing on success.
    #[arg(short, long)]
    quiet: bool,
}

/// What to check: the inputs of one `serve` start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request<'a> {
    /// `--config`.
    pub(crate) config: &'a Path,
    /// `--zones`.
    pub(crate) zones: Option<&'a Path>,
    /// Whether `--listen` gives addresses (so `serve.listen` may be empty).
    pub(crate) extra_listen: bool,
    /// Run the zone checker gate (unless the config turns it off).
    pub(crate) gate: bool,
    /// Stop after the configuration file: no zone is read.
    pub(crate) config_only: bool,
}

/// One thing `serve` would refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// `file:line:col`, when the problem has a place in the config.
    pub(crate) at: Option<String>,
    /// What is wrong.
    pub(crate) message: String,
    /// How to fix it.
    pub(crate) hint: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.at {
            Some(at) => write!(f, "{at}: error: {}", self.message)?,
            None => write!(f, "error: {}", self.message)?,
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// The outcome of a check.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// Errors: `serve` would not start with this config.
    pub(crate) problems: Vec<Problem>,
    /// Warnings (reader notes, publishing notes, a serial file that cannot be written).
    pub(crate) warnings: Vec<String>,
    /// Set when the file could not be read at all.
    pub(crate) unreadable: bool,
    /// One line for a valid config.
    pub(crate) summary: Option<String>,
}

/// Runs `altodisc check-config`.
pub(crate) fn run(args: &CheckConfigArgs) -> ExitCode {
    let report = check(Request {
        config: &args.config,
        zones: args.zones.as_deref(),
        extra_listen: !args.listen.is_empty(),
        gate: !args.no_check,
        config_only: args.config_only,
    });
    print_report(&report, args.quiet)
}

/// Prints `report` (errors and warnings on stderr, the summary on stdout) and maps it to the
/// exit status: 0 valid, 1 errors, 2 unreadable.
pub(crate) fn print_report(report: &Report, quiet: bool) -> ExitCode {
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    for p in &report.problems {
        eprintln!("{p}");
    }
    if report.unreadable {
        return exit::code(exit::USAGE);
    }
    if !report.problems.is_empty() {
        let n = report.problems.len();
        eprintln!(
            "{n} error{} found: `altodisc serve` would not start with this config",
            if n == 1 { "" } else { "s" }
        );
        return exit::code(exit::NOT_FOUND);
    }
    if !quiet && let Some(s) = &report.summary {
        println!("{s}");
    }
    exit::code(exit::SUCCESS)
}

/// The positions of the config's keys and entries, for errors found after parsing.
#[derive(Debug, Default, Deserialize)]
struct Spans {
    #[serde(default)]
    serve: Option<BTreeMap<String, toml::Spanned<toml::Value>>>,
    #[serde(default)]
    zone: Vec<toml::Spanned<toml::Value>>,
    #[serde(default)]
    access_domain: Vec<toml::Spanned<toml::Value>>,
    #[serde(default)]
    prefix: Vec<toml::Spanned<toml::Value>>,
}

/// Only the `[serve]` table, deserialized from the document itself (not from a copied
/// `toml::Table`) so that toml's errors keep their spans.
#[derive(Debug, Default, Deserialize)]
struct ServeDoc {
    #[serde(default)]
    serve: Option<ServeSection>,
}

/// The config text with its name, for positions.
struct Source {
    file: String,
    text: String,
    spans: Spans,
}

impl Source {
    /// `file:line:col` of a byte offset (line and column from 1; the column counts characters).
    fn at(&self, offset: usize) -> String {
        let (line, col) = line_col(&self.text, offset);
        format!("{}:{line}:{col}", self.file)
    }

    fn at_span(&self, span: Option<Range<usize>>) -> String {
        span.map_or_else(|| format!("{}:1:1", self.file), |s| self.at(s.start))
    }

    /// Where a `[serve]` key's value is.
    fn serve_key(&self, key: &str) -> Option<Range<usize>> {
        self.spans.serve.as_ref()?.get(key).map(toml::Spanned::span)
    }

    /// The place an error message names: an entry (`prefix[4] ...`), else the longest `[serve]`
    /// key it mentions, else the `[serve]` table itself.
    /// `(FILE:LINE:COL, rest)` when `message` starts with a position in this file.
    fn split_position(&self, message: &str) -> Option<(String, String)> {
        let rest = message
            .strip_prefix(self.file.as_str())?
            .strip_prefix(':')?;
        let (line, rest) = rest.split_once(':')?;
        let (col, rest) = rest.split_once(':')?;
        line.parse::<u32>().ok()?;
        col.parse::<u32>().ok()?;
        Some((
            format!("{}:{line}:{col}", self.file),
            rest.trim_start().to_owned(),
        ))
    }

    fn locate(&self, message: &str) -> String {
        for (kind, entries) in [
            ("access_domain", &self.spans.access_domain),
            ("prefix", &self.spans.prefix),
            ("zone", &self.spans.zone),
        ] {
            if let Some(i) = entry_index(message, kind)
                && let Some(e) = entries.get(i)
            {
                return self.at(e.span().start);
            }
        }
        let mut keys: Vec<&str> = self
            .spans
            .serve
            .as_ref()
            .map(|s| s.keys().map(String::as_str).collect())
            .unwrap_or_default();
        keys.sort_by_key(|k| std::cmp::Reverse(k.len()));
        // Messages that describe a key in words rather than by name.
        let words: [(&str, &[&str]); 2] = [
            (
                "signature validity",
                &["signature_validity", "signature_validity_days"],
            ),
            ("refresh margin", &["refresh_before", "refresh_before_days"]),
        ];
        let named = keys
            .iter()
            .find(|k| message.contains(*k))
            .copied()
            .or_else(|| {
                words
                    .iter()
                    .filter(|(w, _)| message.contains(w))
                    .flat_map(|(_, ks)| ks.iter())
                    .find(|k| keys.contains(k))
                    .copied()
            });
        let span = named
            .and_then(|k| self.serve_key(k))
            .or_else(|| self.serve_table_start());
        self.at_span(span)
    }

    /// The `[serve]` header, found in the text (the table's own span is its first key).
    fn serve_table_start(&self) -> Option<Range<usize>> {
        let mut offset = 0;
        for line in self.text.split_inclusive('\n') {
            if line.trim_start().starts_with("[serve]") {
                return Some(offset..offset + line.len());
            }
            offset += line.len();
        }
        None
    }
}

/// Checks `request.config` as `serve` would start with it.
pub(crate) fn check(request: Request<'_>) -> Report {
    let mut report = Report::default();
    let Some((source, config, serve)) = static_check(request, &mut report) else {
        return report;
    };
    if !report.problems.is_empty() {
        return report;
    }
    if request.config_only {
        report.summary = Some(format!(
            "{}: OK (configuration only; zones not read)",
            source.file
        ));
        return report;
    }
    let sources = Sources {
        config: Some(request.config.to_path_buf()),
        zones_dir: request.zones.map(Path::to_path_buf),
    };
    // `load` reads what `serve` reads (generated zones, zone files) but writes nothing: no
    // serial file, no keys; signing itself is not tried.
    let loaded = match sources.load(None) {
        Ok(l) => l,
        Err(e) => {
            let full = e.to_string();
            // The publishing config names its entries by position already
            // (`FILE:LINE:COL: prefix …`); otherwise the entry or key is looked up here.
            let (at, mut message) = match source.split_position(&full) {
                Some((at, rest)) => (at, rest),
                None => (source.locate(&full), full),
            };
            let mut hint = hint_for(&message);
            if let Some(other) = conflicting_entry(&config, &message) {
                let _ = write!(
                    message,
                    "; the other is {other} at {}",
                    source.locate(&other)
                );
                hint = Some(
                    "give one of the two records another order or preference, or remove the \
                     duplicate"
                        .to_owned(),
                );
            }
            report.problems.push(Problem {
                at: Some(at),
                hint,
                message,
            });
            return report;
        }
    };
    report
        .warnings
        .extend(loaded.loaded.warnings.iter().cloned());
    let zones = &loaded.loaded.zones;
    if request.gate && serve.check.unwrap_or(true) {
        let mut checker = Checker::new(CheckOptions::default());
        for z in zones {
            checker.load_zone(z);
        }
        for e in checker_errors(&mut checker) {
            report.problems.push(Problem {
                at: None,
                message: format!("zone checker: {e}"),
                hint: Some(
                    "`altodisc check --explain RULE` explains a rule; serve refuses zones with \
                     checker errors (serve.check = false turns the gate off)"
                        .to_owned(),
                ),
            });
        }
    }
    let mut built = Vec::new();
    let mut records = 0usize;
    for z in zones {
        match index_zone(z) {
            Ok(d) => {
                records = records.saturating_add(z.records.len());
                built.push(d);
            }
            Err(e) => report.problems.push(Problem {
                at: None,
                message: format!("zone {}: {e}", z.origin),
                hint: None,
            }),
        }
    }
    if report.problems.is_empty()
        && let Err(e) = ZoneIndex::from_zones(built)
    {
        report.problems.push(Problem {
            at: None,
            message: e.to_string(),
            hint: None,
        });
    }
    if report.problems.is_empty() {
        let listen: Vec<String> = serve.listen.iter().map(ToString::to_string).collect();
        report.summary = Some(format!(
            "{}: OK: {} zone{}, {records} records ({} generated from {} entries), listen [{}]{}",
            source.file,
            zones.len(),
            if zones.len() == 1 { "" } else { "s" },
            config.zones.len(),
            config.access_domains.len() + config.prefixes.len(),
            listen.join(", "),
            serve
                .dnssec
                .map(|m| format!(", dnssec {m:?}").to_lowercase())
                .unwrap_or_default(),
        ));
    }
    report
}

fn index_zone(
    zone: &altodisc_zone::record::Zone,
) -> Result<altodisc_responder::index::ZoneData, altodisc_responder::IndexError> {
    let mut builder = ZoneBuilder::new(&zone.origin)?;
    for r in &zone.records {
        builder.add(r)?;
    }
    builder.finish()
}

/// The checks that need only the config file: syntax, types and unknown keys everywhere, then
/// what `serve` checks of `[serve]` before loading zones. `serve` runs this before it starts so
/// its errors carry positions too.
pub(crate) fn static_problems(request: Request<'_>) -> Report {
    let mut report = Report::default();
    let _ = static_check(request, &mut report);
    report
}

fn static_check(
    request: Request<'_>,
    report: &mut Report,
) -> Option<(Source, PublishConfig, ServeSection)> {
    let file = request.config.display().to_string();
    let text = match std::fs::read_to_string(request.config) {
        Ok(t) => t,
        Err(e) => {
            report.unreadable = true;
            report.problems.push(Problem {
                at: None,
                message: format!("{file}: cannot read: {e}"),
                hint: None,
            });
            return None;
        }
    };
    let mut source = Source {
        file,
        text,
        spans: Spans::default(),
    };
    let text = source.text.as_str();
    let toml_problem = |source: &Source, e: &toml::de::Error, table: &str| {
        let message = format!("{table}{}", e.message().trim_end());
        Problem {
            at: Some(source.at_span(e.span())),
            hint: hint_for(&message),
            message,
        }
    };
    let config: PublishConfig = match toml::from_str(text) {
        Ok(c) => c,
        Err(e) => {
            report.problems.push(toml_problem(&source, &e, ""));
            return None;
        }
    };
    let spans = toml::from_str(text).unwrap_or_default();
    let serve = toml::from_str::<ServeDoc>(text);
    source.spans = spans;
    let base = request.config.parent().unwrap_or_else(|| Path::new("."));
    let serve = match serve {
        Ok(d) => ServeSection {
            // Relative paths in [serve] (TSIG `secret_file`s) are taken from the config's
            // folder, as `serve` does (`ServeSection::from_config`).
            base_dir: base.to_path_buf(),
            ..d.serve.unwrap_or_default()
        },
        Err(e) => {
            report.problems.push(toml_problem(&source, &e, "[serve]: "));
            return None;
        }
    };
    let mut semantic = |result: Result<(), String>| {
        if let Err(message) = result {
            report.problems.push(Problem {
                at: Some(source.locate(&message)),
                hint: hint_for(&message),
                message,
            });
        }
    };
    semantic(
        serve
            .apply(&mut ServeOptions::default())
            .map_err(|e| e.to_string()),
    );
    let dnssec = DnssecSettings::from_serve(&serve, base).map_err(|e| e.to_string());
    if let Err(e) = &dnssec {
        semantic(Err(e.clone()));
    }
    if serve.listen.is_empty() && !request.extra_listen {
        report.problems.push(Problem {
            at: Some(source.at_span(source.serve_table_start())),
            message: "[serve] listen: nothing to listen on".to_owned(),
            hint: Some(
                "add `listen = [\"[::]:53\"]` to [serve] (a list of ADDR:PORT), or give \
                 `--listen ADDR:PORT`"
                    .to_owned(),
            ),
        });
    }
    if let Some(dir) = &serve.zones_dir {
        let full = base.join(dir);
        if !full.is_dir() {
            report.problems.push(Problem {
                at: Some(source.at_span(source.serve_key("zones_dir"))),
                message: format!(
                    "[serve] zones_dir = {:?}: {} is not a directory",
                    dir.display().to_string(),
                    full.display()
                ),
                hint: Some(
                    "zones_dir is relative to the config file's directory; create it or fix \
                     the path (or remove the key to serve only the generated zones)"
                        .to_owned(),
                ),
            });
        }
    }
    // What `serve` checks before it reads a zone file (also under --config-only).
    if let Err(e) = serve.read_options() {
        report.problems.push(Problem {
            at: Some(source.at_span(source.serve_key("include_base"))),
            message: e.to_string(),
            hint: None,
        });
    }
    if let Some(f) = &serve.serial_file {
        let full = base.join(f);
        if let Some(parent) = full.parent()
            && !parent.as_os_str().is_empty()
            && !parent.is_dir()
        {
            report.warnings.push(format!(
                "{}: [serve] serial_file: directory {} does not exist; serials will not survive \
                 a restart",
                source.at_span(source.serve_key("serial_file")),
                parent.display()
            ));
        }
    }
    if let Ok(dnssec) = &dnssec
        && dnssec.signs()
        && let Some(problem) = key_dir_problem(&dnssec.key_dir, serve.key_dir.is_some())
    {
        let span = source
            .serve_key("key_dir")
            .or_else(|| source.serve_key("dnssec"))
            .or_else(|| source.serve_key("dnssec_zones"));
        report.problems.push(Problem {
            at: Some(source.at_span(span)),
            ..problem
        });
    }
    Some((source, config, serve))
}

/// Whether `dnssec = "sign"` can keep its keys in `key_dir`: an existing directory, or one that
/// can be created. Under the systemd unit (`ProtectSystem=strict`) only the `StateDirectory`
/// (`$STATE_DIRECTORY`, /var/lib/altodisc) is writable, so the default key directory beside
/// /etc/altodisc/altodisc.toml cannot be created there.
fn key_dir_problem(key_dir: &Path, explicit: bool) -> Option<Problem> {
    if key_dir.is_dir() {
        return None;
    }
    let state = std::env::var_os("STATE_DIRECTORY")
        .and_then(|s| {
            // Several directories are separated by ':'; the first is the unit's own.
            s.to_string_lossy()
                .split(':')
                .next()
                .map(|f| PathBuf::from(f).join("keys"))
        })
        .unwrap_or_else(|| PathBuf::from("/var/lib/altodisc/keys"));
    let hint = format!(
        "set `key_dir = \"{}\"` in [serve] (under the systemd unit only its StateDirectory, \
         /var/lib/altodisc, is writable)",
        state.display()
    );
    if key_dir.exists() {
        return Some(Problem {
            at: None,
            message: format!(
                "[serve] key_dir: {} exists but is not a directory",
                key_dir.display()
            ),
            hint: Some(hint),
        });
    }
    let ancestor = key_dir.ancestors().skip(1).find(|a| a.is_dir())?;
    if writable(ancestor) {
        return None;
    }
    Some(Problem {
        at: None,
        message: format!(
            "[serve] key_dir: dnssec = \"sign\" creates its keys in {}{}, but {} is not writable",
            key_dir.display(),
            if explicit { "" } else { " (the default)" },
            ancestor.display()
        ),
        hint: Some(hint),
    })
}

#[cfg(unix)]
fn writable(dir: &Path) -> bool {
    // access(2) sees read-only mounts (EROFS under ProtectSystem=strict) as well as modes.
    nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK).is_ok()
}

#[cfg(not(unix))]
fn writable(dir: &Path) -> bool {
    std::fs::metadata(dir).is_ok_and(|m| !m.permissions().readonly())
}

/// For "owner X already has a record with order O preference P": the entry that published it
/// first (the config's error names only the second), found by replaying the same bookkeeping
/// over the config's intents.
fn conflicting_entry(config: &PublishConfig, message: &str) -> Option<String> {
    if !message.contains("already has a record with order") {
        return None;
    }
    let mut seen: BTreeMap<(String, String, u16, u16), String> = BTreeMap::new();
    for intent in config.intents().ok()? {
        for owner in &intent.owners {
            for (service, order, preference, _) in &intent.records {
                let key = (
                    owner.to_lowercase_string(),
                    service.to_ascii_lowercase(),
                    *order,
                    *preference,
                );
                if let Some(first) = seen.get(&key) {
                    if message.starts_with(&format!("{}: ", intent.entry)) {
                        return Some(first.clone());
                    }
                } else {
                    seen.insert(key, intent.entry.clone());
                }
            }
        }
    }
    None
}

/// `kind[N]` in `message` (as `altodisc_zone::publish_config` names entries).
fn entry_index(message: &str, kind: &str) -> Option<usize> {
    let pattern = format!("{kind}[");
    let start = message.find(&pattern)?;
    // `zone[` must not match inside `access_domain[` etc.: the kind starts a word.
    if start > 0
        && message[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    {
        return None;
    }
    let rest = &message[start + pattern.len()..];
    let end = rest.find(']')?;
    rest[..end].parse().ok()
}

/// How to fix the common mistakes, from the message.
fn hint_for(message: &str) -> Option<String> {
    if let Some(unknown) = backticked_after(message, "unknown field `") {
        let expected = expected_names(message);
        if let Some(best) = closest(&unknown, &expected) {
            return Some(format!("did you mean `{best}`?"));
        }
        return Some(format!("known keys here: {}", expected.join(", ")));
    }
    if let Some(variant) = backticked_after(message, "unknown variant `") {
        let expected = expected_names(message);
        let suggestion = closest(&variant, &expected)
            .map(|b| format!("did you mean \"{b}\"? "))
            .unwrap_or_default();
        return Some(format!("{suggestion}one of: {}", expected.join(", ")));
    }
    if message.contains("expected a sequence") || message.contains("expected an array") {
        return Some(
            "this key takes a list: write `key = [\"value\"]`, e.g. `listen = [\"[::]:53\"]`"
                .to_owned(),
        );
    }
    if message.starts_with("no zones to serve") {
        return Some(
            "add `zones_dir = \"zones\"` to [serve] (a directory of <origin>.zone files) or \
             [[zone]] entries for generated records, or give --zones DIR"
                .to_owned(),
        );
    }
    if message.contains("socket address") {
        return Some(
            "give an address and a port: \"[::]:53\", \"0.0.0.0:53\" or \"127.0.0.1:5300\" \
             (IPv6 in brackets)"
                .to_owned(),
        );
    }
    None
}

/// The word inside the backticks after `prefix`.
fn backticked_after(message: &str, prefix: &str) -> Option<String> {
    let rest = &message[message.find(prefix)? + prefix.len()..];
    Some(rest[..rest.find('`')?].to_owned())
}

/// The backticked names after "expected" in a serde message.
fn expected_names(message: &str) -> Vec<String> {
    let Some(at) = message.find("expected") else {
        return Vec::new();
    };
    message[at..]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The candidate closest to `word` by edit distance, if close enough to be a typo.
fn closest(word: &str, candidates: &[String]) -> Option<String> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.clone())
}

/// Levenshtein distance (short config keys only, so the quadratic table is small).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// 1-based line and character column of byte `offset` in `text` (clamped to the text).
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before, |nl| &before[nl + 1..])
        .chars()
        .count()
        + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_lines_and_character_columns() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 9), (2, 3));
        assert_eq!(line_col(text, 1000), (3, 1));
    }

    #[test]
    fn entries_are_found_by_kind_and_number() {
        assert_eq!(entry_index("prefix[4] 10.0.0.0/8: bad", "prefix"), Some(4));
        assert_eq!(entry_index("access_domain[1] x: bad", "zone"), None);
        assert_eq!(entry_index("zone[0] x.: bad", "zone"), Some(0));
        assert_eq!(entry_index("no entry", "zone"), None);
    }

    #[test]
    fn typos_get_the_nearest_key() {
        let msg = "unknown field `metric_listen`, expected one of `listen`, `metrics_listen`, \
                   `zones_dir`";
        assert_eq!(
            hint_for(msg).as_deref(),
            Some("did you mean `metrics_listen`?")
        );
        let msg = "unknown variant `signed`, expected one of `off`, `sign`, `presigned`";
        assert!(hint_for(msg).unwrap().starts_with("did you mean \"sign\"?"));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(closest("zzzzzz", &["listen".to_owned()]), None);
    }
}
