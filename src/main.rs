//! `altodisc`: find and publish ALTO servers (RFC 7286, RFC 8686).
//!
//! The binary only parses arguments, formats output and maps outcomes to exit codes; protocol logic
//! lives in the workspace crates. Each subcommand is one module under `cmd/`.

mod cmd;
mod exit;
mod notify;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

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
    /// Find the ALTO server of each local interface and address family (RFC 7286): configured
    /// domain, else DHCP option 213/15 (DHCPINFORM) or 57 (Information-request) or a lease file,
    /// then U-NAPTR.
    Discover(cmd::discover::DiscoverArgs),
    /// Find the ALTO server for a known access domain: U-NAPTR ALTO:https (RFC 7286 §3.2 step 2).
    Resolve(cmd::resolve::ResolveArgs),
    /// Find the ALTO server responsible for IP addresses or prefixes through reverse DNS
    /// (RFC 8686 cross-domain discovery); --batch for many addresses.
    Xdom(cmd::xdom::XdomArgs),
    /// Verify an ALTO server URI: fetch its Information Resource Directory over HTTPS and check it
    /// (RFC 7285 §9.2).
    Verify(cmd::verify::VerifyArgs),
    /// Show the reverse names a client queries for an address or prefix (RFC 8686 Table 1), and
    /// the owner names an operator must publish at.
    Names(cmd::names::NamesArgs),
    /// Serve ALTO discovery records authoritatively (DNS over UDP and TCP) from zone files and a
    /// publishing config; SIGHUP reloads, SIGTERM/SIGINT stop.
    Serve(cmd::serve::ServeArgs),
    /// Start the responder on a free loopback port with example zones built into the binary and
    /// run RFC 7286 and RFC 8686 discovery against it, printing every query (needs nothing
    /// installed; --zones DIR serves your own).
    Demo(cmd::demo::DemoArgs),
    /// Write the publishing config's zones as master files for BIND/NSD/Knot/PowerDNS, and DHCP
    /// snippets (Kea, dnsmasq, ISC dhcpd) announcing each access domain (option 213 / 57).
    Render(cmd::render::RenderArgs),
    /// DNSSEC-sign a zone file (NSEC, ECDSA P-256 keys kept in a directory) for serving by NSD,
    /// Knot or BIND; prints the DS for the parent or a resolver's trust anchor.
    Sign(cmd::sign::SignArgs),
    /// List the DNSSEC keys of signed zones (role, key tag, DS for the parent) in a key directory.
    Keys(cmd::keys::KeysArgs),
    /// Check zone files for ALTO discovery mistakes: syntax with exact positions, the U-NAPTR and
    /// RFC 8686 rules Z1–Z24, and intent replay; text, JSON or SARIF output for CI.
    Check(cmd::check::CheckArgs),
    /// Validate a publishing config as `serve` would read it, without serving: every table and
    /// key (`[serve]` included), the zone files it names, the zone checker gate; errors with
    /// file:line:column. Used by the systemd unit before every start and reload.
    CheckConfig(cmd::check_config::CheckConfigArgs),
    /// Print the shell completion script for bash, zsh, fish, elvish or PowerShell.
    Completions(cmd::completions::CompletionsArgs),
    /// Write the man pages (altodisc.1 and one per subcommand) into a directory; used by
    /// scripts/package.
    #[command(hide = true)]
    Man(cmd::completions::ManArgs),
}

fn main() -> ExitCode {
    quiet_broken_pipe();
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig(args) => cmd::check_config::run(&args),
        Command::Check(args) => cmd::check::run(&args),
        Command::Names(args) => cmd::names::run(&args),
        Command::Serve(args) => cmd::serve::run(&args),
        Command::Demo(args) => cmd::demo::run(&args),
        Command::Render(args) => cmd::render::run(&args),
        Command::Sign(args) => cmd::sign::run(&args),
        Command::Keys(args) => cmd::keys::run(&args),
        Command::Verify(args) => cmd::verify::run(&args),
        Command::Resolve(args) => cmd::resolve::run(&args),
        Command::Xdom(args) => cmd::xdom::run(&args),
        Command::Discover(args) => cmd::discover::run(&args),
        Command::Completions(args) => cmd::completions::run(&args, &Cli::command()),
        Command::Man(args) => cmd::completions::run_man(&args, Cli::command()),
    }
}

/// A reader that goes away (`altodisc ... | head`) ends the command quietly with exit 0, in every
/// command: `println!` panics on a closed stdout (Rust ignores SIGPIPE), and this hook turns that
/// one panic into a normal exit instead of the "Broken pipe" message and exit 101. Any other
/// panic still reports as usual.
fn quiet_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if is_broken_pipe(message) {
            std::process::exit(i32::from(exit::SUCCESS));
        }
        default(info);
    }));
}

/// The panic message of `print!`/`println!` on a closed pipe (std's `print_to`).
fn is_broken_pipe(message: &str) -> bool {
    message.starts_with("failed printing to std")
        && (message.contains("Broken pipe") || message.contains("os error 32"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_print_failures_on_a_closed_pipe_are_quiet() {
        assert!(is_broken_pipe(
            "failed printing to stdout: Broken pipe (os error 32)"
        ));
        assert!(!is_broken_pipe(
            "failed printing to stdout: No space left on device (os error 28)"
        ));
        assert!(!is_broken_pipe("index out of bounds: Broken pipe"));
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
