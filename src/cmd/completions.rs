//! `altodisc completions SHELL` and the hidden `altodisc man --out DIR`: shell completions
//! (clap_complete) and man pages (clap_mangen), both generated from the same clap definitions the
//! binary parses with, so they cannot drift from the real options. `scripts/package` runs both to
//! put them into the Debian package.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use clap_complete::Shell;

use crate::exit;

/// Arguments of `altodisc completions`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  altodisc completions bash > /usr/share/bash-completion/completions/altodisc
  altodisc completions zsh  > /usr/share/zsh/vendor-completions/_altodisc
  altodisc completions fish > /usr/share/fish/vendor_completions.d/altodisc.fish

The Debian package installs all three.")]
pub(crate) struct CompletionsArgs {
    /// The shell to print the completion script for.
    #[arg(value_enum, value_name = "SHELL")]
    shell: Shell,
}

/// Arguments of the hidden `altodisc man`.
#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// Directory to write `altodisc.1` and one `altodisc-<subcommand>.1` per subcommand into
    /// (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// Prints the completion script of `args.shell` for `cmd` (the whole CLI) on stdout.
pub(crate) fn run(args: &CompletionsArgs, mut cmd: clap::Command) -> ExitCode {
    let name = cmd.get_name().to_owned();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, name, &mut script);
    match io::stdout().lock().write_all(&script) {
        Ok(()) => exit::code(exit::SUCCESS),
        // A closed pipe (`| head`) is not worth a message; anything else is.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => exit::code(exit::SUCCESS),
        Err(e) => {
            eprintln!("error: cannot write the completion script: {e}");
            exit::code(exit::USAGE)
        }
    }
}

/// Writes the man pages of `cmd` and of every visible subcommand into `args.out`, printing each
/// file name.
pub(crate) fn run_man(args: &ManArgs, cmd: clap::Command) -> ExitCode {
    match write_man_pages(cmd, &args.out) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            exit::code(exit::SUCCESS)
        }
        Err(e) => {
            eprintln!(
                "error: cannot write man pages to {}: {e}",
                args.out.display()
            );
            exit::code(exit::USAGE)
        }
    }
}

/// One page per command: `altodisc.1`, `altodisc-check.1`, ... Hidden subcommands (`man`
/// itself) get none.
fn write_man_pages(cmd: clap::Command, out: &Path) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out)?;
    // `build` names the subcommands `altodisc-check` etc. (their display names), which is what
    // the page titles, file names and the SEE ALSO convention of man(7) expect.
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut written = Vec::new();
    let source = format!(
        "{} {}",
        cmd.get_name(),
        cmd.get_version().unwrap_or_default()
    );
    let mut pages = vec![cmd.clone()];
    pages.extend(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    for page in pages {
        let man = clap_mangen::Man::new(page)
            .source(source.clone())
            .manual(format!("{} manual", cmd.get_name()));
        written.push(man.generate_to(out)?);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> clap::Command {
        clap::Command::new("tool")
            .version("1.2.3")
            .subcommand(clap::Command::new("alpha").about("first"))
            .subcommand(clap::Command::new("secret").hide(true))
    }

    #[test]
    fn one_page_per_visible_command() {
        let dir = std::env::temp_dir().join(format!("altodisc-man-unit-{}", std::process::id()));
        let files = write_man_pages(sample(), &dir).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["tool.1", "tool-alpha.1"]);
        let page = std::fs::read_to_string(dir.join("tool-alpha.1")).unwrap();
        assert!(page.contains(".TH tool-alpha 1"), "{page}");
        assert!(page.contains("tool 1.2.3"), "{page}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
