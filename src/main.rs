//! `altodisc`: find and publish ALTO servers (RFC 7286, RFC 8686).
//!
//! The binary only parses arguments, formats output and maps outcomes to exit codes; protocol logic
//! lives in the workspace crates. Each subcommand is one module under `cmd/`.

mod cmd;
mod exit;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit codes, shown at the end of `--help`.
const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success (for discovery commands: a server was found)
  1  nothing found, or checks failed
  2  invalid input or usage
  3  only temporary failures (a retry later may help)";

/// Find and publish ALTO servers: RFC 7286 access-network discovery, RFC 8686 cross-domain
/// discovery, an authoritative responder for the records, and a zone checker for CI.
#[derive(Debug, Parser)]
#[command(name = "altodisc", version, about, long_about = None, after_help = EXIT_CODES_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the reverse names a client queries for an address or prefix (RFC 8686 Table 1), and
    /// the owner names an operator must publish at.
    Names(cmd::names::NamesArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Names(args) => cmd::names::run(&args),
    }
}
