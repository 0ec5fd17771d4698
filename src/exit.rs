//! Documented exit codes (see `altodisc --help`).

use std::process::ExitCode;

/// Success; for discovery commands, at least one server was found.
pub(crate) const SUCCESS: u8 = 0;
/// Nothing found, or checks reported errors.
#[allow(dead_code, reason = "used by the discovery and check subcommands")]
pub(crate) const NOT_FOUND: u8 = 1;
/// Invalid input or usage.
pub(crate) const USAGE: u8 = 2;
/// Only temporary failures: a retry later may help (RFC 8686 §3.5).
#[allow(dead_code, reason = "used by the discovery subcommands")]
pub(crate) const TEMPORARY: u8 = 3;

/// Converts one of the constants above.
pub(crate) fn code(c: u8) -> ExitCode {
    ExitCode::from(c)
}
