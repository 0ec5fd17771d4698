//! The parts of the man pages clap cannot know: EXIT STATUS, FILES, SIGNALS, EXAMPLES and SEE
//! ALSO sections of the generated `altodisc*.1` pages, and the whole of `altodisc.toml(5)`, the
//! reference of every publishing-config key. A test compares that page with the keys the
//! config's parsers accept, so a new key without documentation fails the build.

use std::fmt::Write as _;

/// EXIT STATUS of every page (as `altodisc --help` says; `check-config` has its own meaning of 1).
const EXIT_STATUS: &str = "\
.TP
\\fB0\\fR
Success; for discovery commands, an ALTO server was found; for checks, nothing failed.
.TP
\\fB1\\fR
Nothing found, or checks failed (zone checker errors, an invalid configuration for
\\fBcheck\\-config\\fR).
.TP
\\fB2\\fR
Invalid input or usage: a bad option, an unreadable file, a configuration \\fBserve\\fR refuses.
.TP
\\fB3\\fR
Only temporary failures (timeouts, SERVFAIL): a retry later may help.
.PP
A closed output pipe (\\fBaltodisc ... | head\\fR) ends any command quietly with status 0.
";

const FILES_CONFIG: &str = "\
.TP
\\fI/etc/altodisc/altodisc.toml\\fR
The publishing configuration read by \\fBaltodisc.service\\fR; see \\fBaltodisc.toml\\fR(5).
.TP
\\fI/var/lib/altodisc/\\fR
The unit's StateDirectory ($STATE_DIRECTORY), the only place the sandboxed service writes to:
\\fIserials\\fR (serial_file) and \\fIkeys/\\fR (key_dir of dnssec = \"sign\").
.TP
\\fI/usr/lib/systemd/system/altodisc.service\\fR
The systemd unit: \\fBcheck\\-config\\fR before every start and reload, then \\fBserve\\fR.
";

const SIGNALS: &str = "\
.TP
\\fBSIGHUP\\fR
Reload: the config and every zone file are read, indexed and checked again; the new set replaces
the served one only if all of it loads without errors (the old zones keep serving otherwise).
\\fBsystemctl reload altodisc\\fR runs \\fBcheck\\-config\\fR first, then sends SIGHUP.
.TP
\\fBSIGTERM\\fR, \\fBSIGINT\\fR
Stop: STOPPING=1 to systemd, open TCP connections are closed, exit status 0.
";

/// EXAMPLES for a page (`""` for the top page).
fn examples(sub: &str) -> &'static [(&'static str, &'static str)] {
    match sub {
        "" => &[
            (
                "altodisc demo",
                "Everything on one machine: a responder with example zones and both discovery procedures against it.",
            ),
            (
                "altodisc discover",
                "The ALTO server of each local interface (RFC 7286).",
            ),
            (
                "altodisc xdom 192.0.2.10",
                "The ALTO server responsible for an address (RFC 8686).",
            ),
        ],
        "serve" => &[
            (
                "altodisc serve --config /etc/altodisc/altodisc.toml",
                "Serve as the unit does.",
            ),
            (
                "altodisc serve --zones zones --listen 127.0.0.1:5300",
                "Serve a directory of zone files on a test port.",
            ),
            (
                "altodisc serve --check-config --config altodisc.toml",
                "Check the config and zones as this start would, without serving.",
            ),
        ],
        "check-config" => &[
            (
                "altodisc check-config /etc/altodisc/altodisc.toml",
                "Validate the whole config (every key, the zones it names, the zone checker).",
            ),
            (
                "altodisc check-config --zones zones --listen 127.0.0.1:5300 publish.toml",
                "The same inputs as a serve command line.",
            ),
        ],
        "check" => &[
            (
                "altodisc check zones/",
                "Check every *.zone file below a directory.",
            ),
            (
                "altodisc check --format sarif zones/ > altodisc.sarif",
                "SARIF for code scanning.",
            ),
            (
                "altodisc check --explain Z6",
                "Why a rule exists, with its RFC section.",
            ),
        ],
        "demo" => &[
            (
                "altodisc demo",
                "Run with the example zones built into the binary.",
            ),
            (
                "altodisc demo --zones ./zones",
                "Run against your own zone directory.",
            ),
        ],
        "names" => &[
            (
                "altodisc names 198.51.100.0/22 2001:db8:1::/48",
                "Query names and the owner names to publish at.",
            ),
            (
                "altodisc names --json 192.0.2.34",
                "The same as JSON, one object per input.",
            ),
        ],
        "resolve" => &[(
            "altodisc resolve example.net",
            "U-NAPTR for an access domain.",
        )],
        "xdom" => &[(
            "altodisc xdom 192.0.2.10 2001:db8:1::33",
            "Reverse-tree discovery for addresses.",
        )],
        "discover" => &[("altodisc discover", "DHCP then U-NAPTR on every interface.")],
        "verify" => &[(
            "altodisc verify https://alto.example.net/ird",
            "Fetch and check an IRD.",
        )],
        "render" => &[(
            "altodisc render --config altodisc.toml --out zones/",
            "Master files for another DNS server.",
        )],
        "sign" => &[(
            "altodisc sign --keys keys/ example.net.zone",
            "Sign a zone file for NSD, Knot or BIND.",
        )],
        "completions" => &[(
            "altodisc completions bash > ~/.local/share/bash-completion/completions/altodisc",
            "Install bash completions for one user.",
        )],
        _ => &[],
    }
}

/// Escapes text for roff: backslashes and hyphens (so they stay hyphens when copied) and a
/// leading dot or quote.
fn roff(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// The extra sections of the page of subcommand `sub` (`""`: the top page), in roff.
pub(crate) fn extra_sections(sub: &str) -> String {
    let mut out = String::new();
    out.push_str(".SH \"EXIT STATUS\"\n");
    out.push_str(EXIT_STATUS);
    if matches!(sub, "" | "serve" | "check-config" | "demo") {
        out.push_str(".SH FILES\n");
        out.push_str(FILES_CONFIG);
        if sub == "demo" {
            out.push_str(
                ".PP\n\\fBdemo\\fR reads none of them: its zones are built into the binary and \
                 unpacked into $TMPDIR (default \\fI/tmp\\fR) while they load.\n",
            );
        }
    }
    if matches!(sub, "" | "serve") {
        out.push_str(".SH SIGNALS\n");
        out.push_str(SIGNALS);
    }
    let ex = examples(sub);
    if !ex.is_empty() {
        out.push_str(".SH EXAMPLES\n");
        for (command, what) in ex {
            let _ = write!(out, ".TP\n\\fB{}\\fR\n{}\n", roff(command), roff(what));
        }
    }
    out.push_str(".SH \"SEE ALSO\"\n");
    let _ = writeln!(
        out,
        "\\fBaltodisc\\fR(1), \\fBaltodisc\\-serve\\fR(1), \\fBaltodisc\\-check\\-config\\fR(1), \
         \\fBaltodisc.toml\\fR(5), \\fBsystemd.service\\fR(5)"
    );
    out
}

/// `altodisc.toml(5)`: every key of the publishing config.
pub(crate) const CONFIG_PAGE: &str = include_str!("altodisc.toml.5");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roff_escapes_hyphens_and_leading_dots() {
        assert_eq!(roff("--zones a-b"), "\\-\\-zones a\\-b");
        assert_eq!(roff(".hidden"), "\\&.hidden");
        assert_eq!(roff("a\\b"), "a\\eb");
    }

    #[test]
    fn every_page_gets_exit_status_and_see_also() {
        for sub in ["", "serve", "names", "unknown"] {
            let s = extra_sections(sub);
            assert!(s.contains(".SH \"EXIT STATUS\""), "{sub}");
            assert!(s.contains("altodisc.toml\\fR(5)"), "{sub}");
        }
        assert!(extra_sections("serve").contains(".SH SIGNALS"));
        assert!(extra_sections("serve").contains(".SH FILES"));
        assert!(!extra_sections("names").contains(".SH SIGNALS"));
    }
}
