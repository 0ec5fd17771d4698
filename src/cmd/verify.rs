//! `altodisc verify`: fetch a discovered URI's Information Resource Directory over HTTPS and check
//! it (RFC 7285 §9.2). The checks live in `altodisc_resolver::verify`; this module parses the
//! arguments, prints, and maps the outcome to an exit code.
//!
//! [`VerifyFlags`] is also flattened into the discovery subcommands for their `--verify`.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use altodisc_resolver::verify::{
    self, IrdVerifier, NestedIrd, Verification, VerifyError, VerifyOptions,
};
use clap::Args;

use crate::exit;

/// Arguments of `altodisc verify`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  altodisc verify https://alto.example.net/ird
  altodisc verify --json --ca-file private-ca.pem https://alto.internal.example/directory

Sends GET with Accept: application/alto-directory+json,application/alto-error+json and requires
status 200, media type application/alto-directory+json, strict JSON, a `resources` object whose
entries all have `uri` and `media-type`, and `meta.default-alto-network-map` naming a network map.
The TLS certificate is checked against the URI's host (RFC 7286 §6.1).

Exit codes: 0 verified; 1 not verified (the reason is printed); 2 invalid URI, plain http without
--allow-http, or an unreadable --ca-file.")]
pub(crate) struct VerifyArgs {
    /// The IRD URI (usually what `discover`, `resolve` or `xdom` found).
    #[arg(value_name = "URI")]
    uri: String,
    /// Print one JSON object: uri, verified, services, error (when not verified), ...
    #[arg(long)]
    json: bool,
    /// Accept http:// URIs and redirects to them (RFC 7285 §8.3.5 expects https).
    #[arg(long)]
    allow_http: bool,
    #[command(flatten)]
    flags: VerifyFlags,
}

/// HTTP and TLS settings for IRD verification, shared by `verify` and the `--verify` option of
/// the discovery subcommands.
#[derive(Debug, Clone, Args)]
pub(crate) struct VerifyFlags {
    /// PEM file with extra trusted CA certificates (e.g. a private CA); repeatable. Added to the
    /// operating system's roots.
    #[arg(long = "ca-file", value_name = "FILE")]
    ca_files: Vec<PathBuf>,
    /// Do not trust the operating system's root certificates (only --ca-file).
    #[arg(long)]
    no_system_roots: bool,
    /// Also fetch and check nested IRDs (RFC 7285 §9.2.4), to a bounded depth.
    #[arg(long)]
    follow_nested: bool,
    /// Deepest level of nested IRDs followed with --follow-nested.
    #[arg(long, value_name = "N", default_value_t = verify::DEFAULT_MAX_NESTED_DEPTH)]
    max_nested_depth: usize,
    /// TCP + TLS connect timeout: seconds (`5`, `1.5`) or a duration with units (`500ms`).
    #[arg(long, value_name = "DURATION", default_value = "5", value_parser = parse_secs)]
    connect_timeout: Duration,
    /// Timeout for a whole request (headers and body): seconds or a duration with units (`1m`).
    #[arg(long = "http-timeout", value_name = "DURATION", default_value = "15", value_parser = parse_secs)]
    http_timeout: Duration,
    /// Redirects followed before giving up (loops are refused, and https→http unless http is
    /// allowed).
    #[arg(long, value_name = "N", default_value_t = verify::DEFAULT_MAX_REDIRECTS)]
    max_redirects: usize,
    /// Largest IRD accepted, in bytes; the transfer is aborted past it.
    #[arg(long, value_name = "BYTES", default_value_t = verify::DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: u64,
}

impl VerifyFlags {
    /// The library options; `allow_http` comes from the subcommand's own flag.
    pub(crate) fn options(&self, allow_http: bool) -> VerifyOptions {
        let mut o = VerifyOptions::default();
        o.allow_http = allow_http;
        o.ca_files.clone_from(&self.ca_files);
        o.use_system_roots = !self.no_system_roots;
        o.follow_nested = self.follow_nested;
        o.max_nested_depth = self.max_nested_depth;
        o.connect_timeout = self.connect_timeout;
        o.timeout = self.http_timeout;
        o.max_redirects = self.max_redirects;
        o.max_body_bytes = self.max_body_bytes;
        o
    }
}

/// `--verify` and its settings, flattened into the discovery subcommands (`resolve`, `xdom`,
/// `discover`).
#[derive(Debug, Args)]
pub(crate) struct VerifyCandidates {
    /// Verify the candidates in order by fetching their IRD over HTTPS (RFC 7285 §9.2): the first
    /// that verifies is the answer; those that fail are reported with the reason and the next
    /// is tried (RFC 3958 §2.2.4). Exit 1 when none verifies.
    #[arg(long)]
    pub(crate) verify: bool,
    #[command(flatten)]
    pub(crate) flags: VerifyFlags,
}

impl VerifyCandidates {
    /// With `--verify`, verifies `uris` in order until one verifies; `None` without `--verify`.
    ///
    /// # Errors
    /// Setup errors (unreadable `--ca-file`, no trust roots): usage problems.
    pub(crate) async fn run(
        &self,
        allow_http: bool,
        uris: &[String],
    ) -> Result<Option<Vec<Verification>>, VerifyError> {
        if !self.verify {
            return Ok(None);
        }
        let verifier = IrdVerifier::new(&self.flags.options(allow_http))?;
        Ok(Some(verifier.verify_in_order(uris).await))
    }
}

/// Whether some candidate verified.
pub(crate) fn any_verified(tried: &[Verification]) -> bool {
    tried.iter().any(|v| v.verified)
}

/// Adds `verified`, `services` and (when it failed or was not tried) `verify_error` to each
/// object of the JSON `candidates` array; `tried[i]` belongs to `candidates[i]` (both in
/// candidate order, see [`IrdVerifier::verify_in_order`]).
pub(crate) fn annotate_candidates(candidates: &mut serde_json::Value, tried: &[Verification]) {
    let Some(list) = candidates.as_array_mut() else {
        return;
    };
    for (i, c) in list.iter_mut().enumerate() {
        let Some(obj) = c.as_object_mut() else {
            continue;
        };
        match tried.get(i) {
            Some(v) => {
                obj.insert("verified".into(), v.verified.into());
                obj.insert(
                    "services".into(),
                    serde_json::to_value(&v.services).unwrap_or_default(),
                );
                if let Some(e) = &v.error {
                    obj.insert(
                        "verify_error".into(),
                        serde_json::to_value(e).unwrap_or_default(),
                    );
                }
                if let Some(d) = &v.default_network_map {
                    obj.insert("default_network_map".into(), d.clone().into());
                }
            }
            None => {
                obj.insert("verified".into(), false.into());
                obj.insert("services".into(), serde_json::Value::Array(Vec::new()));
                obj.insert(
                    "verify_error".into(),
                    serde_json::json!({
                        "kind": "not-tried",
                        "message": "not tried: an earlier candidate verified",
                    }),
                );
            }
        }
    }
}

/// An outcome's JSON (`value`, its `candidates` array) with the `--verify` results added
/// (see [`annotate_candidates`]); unchanged without `--verify` (`tried` is `None`).
pub(crate) fn with_verification(
    mut value: serde_json::Value,
    tried: Option<&[Verification]>,
) -> serde_json::Value {
    if let Some(t) = tried {
        annotate_candidates(&mut value["candidates"], t);
    }
    value
}

/// One outcome as `resolve` and `xdom` print it: with `json` (the outcome's JSON when `--json`)
/// one JSON line with the `--verify` results added ([`with_verification`]); otherwise the human
/// form (`human`), then, for a `found` outcome, the `--verify` lines ([`write_tried`]) of its
/// `total` candidates.
pub(crate) fn write_outcome<W: Write>(
    out: &mut W,
    json: Option<serde_json::Value>,
    human: impl FnOnce(&mut W) -> io::Result<()>,
    tried: Option<&[Verification]>,
    found: bool,
    total: usize,
    indent: &str,
) -> io::Result<()> {
    if let Some(value) = json {
        return writeln!(out, "{}", with_verification(value, tried));
    }
    human(out)?;
    match tried {
        Some(t) if found => write_tried(out, t, total, indent),
        _ => Ok(()),
    }
}

/// Human lines for `--verify`: each candidate tried, why it failed, and the one that verified.
pub(crate) fn write_tried(
    out: &mut impl Write,
    tried: &[Verification],
    total: usize,
    indent: &str,
) -> io::Result<()> {
    writeln!(
        out,
        "{indent}IRD verification (RFC 7285 §9.2), in candidate order:"
    )?;
    for v in tried {
        match &v.error {
            Some(e) => writeln!(
                out,
                "{indent}  {}: skipped, NOT VERIFIED: {}",
                v.uri, e.message
            )?,
            None => {
                let mut kinds: Vec<&str> = v.services.iter().map(|s| s.kind.label()).collect();
                kinds.dedup();
                writeln!(
                    out,
                    "{indent}  {}: verified (default network map {}; {})",
                    v.uri,
                    v.default_network_map.as_deref().unwrap_or("-"),
                    kinds.join(", ")
                )?;
            }
        }
    }
    if any_verified(tried) {
        let rest = total.saturating_sub(tried.len());
        if rest > 0 {
            writeln!(out, "{indent}  ({rest} later candidate(s) not tried)")?;
        }
    } else {
        writeln!(out, "{indent}  no candidate verified")?;
    }
    Ok(())
}

/// A timeout: a bare number is seconds (`15`, `1.5`), as before; anything else is a duration
/// with units through humantime (`500ms`, `1m30s`).
fn parse_secs(s: &str) -> Result<Duration, String> {
    let duration = match s.trim().parse::<f64>() {
        Ok(secs) => {
            // `secs > 0.0` is false for NaN too, which must be rejected as well.
            if secs.is_nan() || secs <= 0.0 {
                return Err("must be more than 0 seconds".to_owned());
            }
            Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())?
        }
        Err(_) => humantime::parse_duration(s.trim()).map_err(|e| {
            format!("{s:?} is not a duration ({e}): give seconds (15, 1.5) or units (500ms, 1m)")
        })?,
    };
    if duration.is_zero() {
        return Err("must be more than 0 seconds".to_owned());
    }
    Ok(duration)
}

/// Runs `altodisc verify`.
pub(crate) fn run(args: &VerifyArgs) -> ExitCode {
    let options = args.flags.options(args.allow_http);
    let result = match runtime() {
        Ok(rt) => rt.block_on(async {
            let verifier = IrdVerifier::new(&options)?;
            verifier.verify(&args.uri).await
        }),
        Err(e) => {
            eprintln!("altodisc: error: cannot start the async runtime: {e}");
            return exit::code(exit::NOT_FOUND);
        }
    };
    let outcome = Verification::new(&args.uri, &result);
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let written = if args.json {
        serde_json::to_writer(&mut out, &outcome)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        write_human(&mut out, &outcome)
    };
    // A closed stdout (e.g. piped into `head`) does not change the verdict.
    let _ = written;
    let code = match &result {
        Ok(_) => exit::SUCCESS,
        Err(e) if e.is_usage() => exit::USAGE,
        Err(_) => exit::NOT_FOUND,
    };
    if let Err(e) = &result
        && !args.json
    {
        let _ = out.flush();
        report_failure(&args.uri, e);
    }
    exit::code(code)
}

/// A current-thread runtime: verification is a handful of sequential requests.
pub(crate) fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

fn report_failure(uri: &str, e: &VerifyError) {
    if e.is_usage() {
        eprintln!("altodisc: error: {uri}: {e}");
    }
}

fn write_human(out: &mut impl Write, v: &Verification) -> io::Result<()> {
    if let Some(e) = &v.error {
        return writeln!(out, "{}: NOT VERIFIED: {}", v.uri, e.message);
    }
    writeln!(out, "{}: verified", v.uri)?;
    if let Some(final_uri) = v.final_uri.as_deref().filter(|f| *f != v.uri) {
        writeln!(out, "  retrieved from: {final_uri}")?;
    }
    if let Some(map) = &v.default_network_map {
        writeln!(out, "  default network map: {map}")?;
    }
    write_services(out, "  ", v)?;
    write_nested(out, "  ", &v.nested)?;
    for w in &v.warnings {
        writeln!(out, "  warning: {w}")?;
    }
    Ok(())
}

fn write_services(out: &mut impl Write, indent: &str, v: &Verification) -> io::Result<()> {
    writeln!(out, "{indent}services ({}):", v.services.len())?;
    let id_width = v.services.iter().map(|s| s.id.len()).max().unwrap_or(0);
    for s in &v.services {
        writeln!(
            out,
            "{indent}  {:<26} {:<id_width$}  {}",
            s.kind.label(),
            s.id,
            s.uri
        )?;
    }
    Ok(())
}

fn write_nested(out: &mut impl Write, indent: &str, nested: &[NestedIrd]) -> io::Result<()> {
    for n in nested {
        match (&n.report, &n.error, &n.not_followed_reason) {
            (Some(report), _, _) => {
                writeln!(out, "{indent}nested IRD {} ({}): verified", n.id, n.uri)?;
                let inner = Verification::new(&n.uri, &Ok((**report).clone()));
                let deeper = format!("{indent}  ");
                write_services(out, &deeper, &inner)?;
                write_nested(out, &deeper, &report.nested)?;
            }
            (None, Some(e), _) => writeln!(
                out,
                "{indent}nested IRD {} ({}): NOT VERIFIED: {}",
                n.id, n.uri, e.message
            )?,
            (None, None, reason) => writeln!(
                out,
                "{indent}nested IRD {} ({}): not followed ({})",
                n.id,
                n.uri,
                reason.as_deref().unwrap_or("-")
            )?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_are_annotated_in_order() {
        let result: Result<verify::IrdReport, VerifyError> =
            Err(VerifyError::HttpStatus { status: 404 });
        let failed = Verification::new("https://a.example/ird", &result);
        let mut candidates = serde_json::json!([
            {"uri": "https://a.example/ird"},
            {"uri": "https://b.example/ird"}
        ]);
        annotate_candidates(&mut candidates, std::slice::from_ref(&failed));
        assert_eq!(candidates[0]["verified"], false);
        assert_eq!(candidates[0]["verify_error"]["kind"], "http-status");
        assert_eq!(candidates[0]["services"], serde_json::json!([]));
        // Not reached (the list ended): reported as not tried, never as verified.
        assert_eq!(candidates[1]["verified"], false);
        assert_eq!(candidates[1]["verify_error"]["kind"], "not-tried");
        assert!(!any_verified(&[failed]));
    }

    #[test]
    fn seconds_parser() {
        assert_eq!(parse_secs("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_secs("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_secs("1m 30s"), Ok(Duration::from_secs(90)));
        assert!(parse_secs("0s").is_err());
        assert!(parse_secs("soon").unwrap_err().contains("500ms"));
        assert!(parse_secs("0").is_err());
        assert!(parse_secs("-1").is_err());
        assert!(parse_secs("NaN").is_err());
        assert!(parse_secs("abc").is_err());
    }
}
