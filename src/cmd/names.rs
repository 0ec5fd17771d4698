//! `altodisc names`: the RFC 8686 ladder and the publish-side owners for each input.

use std::io::{self, Write};
use std::process::ExitCode;

use altodisc_proto::publish::{ExpansionPolicy, PublishPlan, publish_owners};
use altodisc_proto::{IpPrefix, LadderError, PublishError, ReverseLadder};
use clap::Args;
use serde::Serialize;

use crate::exit;

/// Arguments of `altodisc names`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  altodisc names 2001:db8:1:2::33 198.51.100.0/22
  altodisc names --json 192.0.2.34

An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is treated as the IPv4 address. Link-local addresses
and zone IDs are rejected. Exit code 2 if any input is invalid (the others are still printed).
A prefix whose publish-side expansion exceeds --max-owners (e.g. an IPv6 /100, 2^28 /128 names)
still gets its query names: it is reported as not publishable, with the reason, and exits 0.")]
pub(crate) struct NamesArgs {
    /// Addresses or CIDR prefixes (IPv4 or IPv6), e.g. 192.0.2.34 or 2001:db8::/48.
    #[arg(required = true, value_name = "ADDR|PREFIX")]
    inputs: Vec<String>,
    /// Print one JSON object per input, one per line.
    #[arg(long)]
    json: bool,
    /// Most owner names one unaligned prefix may expand to when publishing.
    #[arg(long, default_value_t = altodisc_proto::publish::DEFAULT_MAX_OWNERS, value_name = "N")]
    max_owners: usize,
}

#[derive(Debug, Serialize)]
struct QueryName<'a> {
    name: &'a str,
    prefix_len: u8,
}

#[derive(Debug, Serialize)]
struct NamesReport<'a> {
    input: &'a str,
    family: String,
    prefix: String,
    query_names: Vec<QueryName<'a>>,
    publish_names: &'a [String],
    /// Absent when not publishable.
    #[serde(skip_serializing_if = "Option::is_none")]
    publish_prefix_len: Option<u8>,
    /// Whether an operator can publish at this prefix within `--max-owners`.
    publishable: bool,
    /// Why not, when `publishable` is false.
    #[serde(skip_serializing_if = "Option::is_none")]
    publish_error: Option<String>,
    warnings: Vec<String>,
}

/// Runs `altodisc names`.
pub(crate) fn run(args: &NamesArgs) -> ExitCode {
    let policy = ExpansionPolicy {
        max_owners: args.max_owners,
        ..ExpansionPolicy::default()
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut failed = false;
    for input in &args.inputs {
        match names_for(input, &policy) {
            Ok((ladder, plan)) => {
                let written = if args.json {
                    write_json(&mut out, input, &ladder, &plan)
                } else {
                    write_human(&mut out, input, &ladder, &plan)
                };
                if written.is_err() {
                    // stdout closed (e.g. piped into `head`): stop quietly.
                    return exit::code(exit::SUCCESS);
                }
            }
            Err(message) => {
                failed = true;
                let _ = out.flush();
                eprintln!("altodisc: error: {input}: {message}");
            }
        }
    }
    exit::code(if failed { exit::USAGE } else { exit::SUCCESS })
}

/// The query side (always defined for a valid input) and the publish side, which may be refused
/// on its own: the publish cap bounds what an operator generates, never what a client asks
/// (RFC 8686 §3.4 defines the ladder for every prefix length).
fn names_for(
    input: &str,
    policy: &ExpansionPolicy,
) -> Result<(ReverseLadder, Result<PublishPlan, PublishError>), LadderError> {
    let prefix = IpPrefix::parse(input)?;
    let plan = publish_owners(&prefix, policy);
    let ladder = ReverseLadder::new(prefix)?;
    Ok((ladder, plan))
}

fn warnings(ladder: &ReverseLadder, plan: Option<&PublishPlan>) -> Vec<String> {
    ladder
        .input
        .warnings
        .iter()
        .map(ToString::to_string)
        .chain(
            plan.into_iter()
                .flat_map(|p| p.warnings.iter().map(ToString::to_string)),
        )
        .collect()
}

fn write_json(
    out: &mut impl Write,
    input: &str,
    ladder: &ReverseLadder,
    plan: &Result<PublishPlan, PublishError>,
) -> io::Result<()> {
    let ok = plan.as_ref().ok();
    let report = NamesReport {
        input,
        family: ladder.input.family().to_string(),
        prefix: ladder.input.to_string(),
        query_names: ladder
            .steps
            .iter()
            .map(|s| QueryName {
                name: &s.name,
                prefix_len: s.prefix_len,
            })
            .collect(),
        publish_names: ok.map_or(&[], |p| p.owners.as_slice()),
        publish_prefix_len: ok.map(|p| p.owner_len),
        publishable: ok.is_some(),
        publish_error: plan.as_ref().err().map(ToString::to_string),
        warnings: warnings(ladder, ok),
    };
    serde_json::to_writer(&mut *out, &report).map_err(io::Error::other)?;
    writeln!(out)
}

fn write_human(
    out: &mut impl Write,
    input: &str,
    ladder: &ReverseLadder,
    plan: &Result<PublishPlan, PublishError>,
) -> io::Result<()> {
    writeln!(out, "{input} ({} {})", ladder.input.family(), ladder.input)?;
    writeln!(out, "  query names, in order (RFC 8686 §3.4):")?;
    for step in &ladder.steps {
        writeln!(out, "    {:<5} {}", step.label(), step.name)?;
    }
    match plan {
        Ok(plan) => {
            let count = plan.owners.len();
            writeln!(
                out,
                "  publish at ({count} owner name{} of /{}):",
                if count == 1 { "" } else { "s" },
                plan.owner_len
            )?;
            for owner in &plan.owners {
                writeln!(out, "    {owner}")?;
            }
        }
        Err(e) => writeln!(out, "  not publishable: {e}")?,
    }
    for w in warnings(ladder, plan.as_ref().ok()) {
        writeln!(out, "  warning: {w}")?;
    }
    Ok(())
}
