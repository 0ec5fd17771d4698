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

/// Prints the completion script of `args.shell` for `cmd` (the whole CLI) on stdout. Hidden
/// subcommands (`man`) are left out; enum values (`--format`, `SHELL`) and rule IDs
/// (`check --explain`) complete from their possible values.
pub(crate) fn run(args: &CompletionsArgs, cmd: &clap::Command) -> ExitCode {
    let mut cmd = without_hidden_subcommands(cmd);
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

/// `cmd` with only its visible subcommands: clap_complete offers hidden ones too.
fn without_hidden_subcommands(cmd: &clap::Command) -> clap::Command {
    let visible: Vec<clap::Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect();
    // clap names are `&'static str` (no "string" feature); this binary's are known statically.
    let mut root = clap::Command::new(env!("CARGO_PKG_NAME"))
        .version(env!("CARGO_PKG_VERSION"))
        .args(cmd.get_arguments().filter(|a| !a.is_hide_set()).cloned())
        .subcommands(visible);
    if let Some(about) = cmd.get_about() {
        root = root.about(about.clone());
    }
    root
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

/// One page per command: `altodisc.1`, `altodisc-check.1`, ... with the sections clap cannot
/// know (EXIT STATUS, FILES, SIGNALS, EXAMPLES, SEE ALSO; `super::man_pages`), and
/// `altodisc.toml.5` for the config. Hidden subcommands (`man` itself) get none.
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
    let root = cmd.get_name().to_owned();
    let mut pages = vec![cmd.clone()];
    pages.extend(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    for page in pages {
        let sub = page
            .get_display_name()
            .unwrap_or(page.get_name())
            .strip_prefix(&root)
            .unwrap_or_default()
            .trim_start_matches('-')
            .to_owned();
        // The conditions of `Man::render`, whose section renderers panic on absent parts.
        let has_args = page.get_arguments().any(|a| !a.is_hide_set());
        let has_subs = page.get_subcommands().any(|c| !c.is_hide_set());
        let has_extra = page.get_after_long_help().is_some() || page.get_after_help().is_some();
        let has_version = page.get_version().or(page.get_long_version()).is_some();
        let has_author = page.get_author().is_some();
        let man = clap_mangen::Man::new(page)
            .source(source.clone())
            .manual(format!("{root} manual"));
        let mut text = Vec::new();
        man.render_title(&mut text)?;
        man.render_name_section(&mut text)?;
        man.render_synopsis_section(&mut text)?;
        man.render_description_section(&mut text)?;
        if has_args {
            man.render_options_section(&mut text)?;
        }
        if has_subs {
            man.render_subcommands_section(&mut text)?;
        }
        if has_extra {
            man.render_extra_section(&mut text)?;
        }
        text.extend_from_slice(super::man_pages::extra_sections(&sub).as_bytes());
        if has_version {
            man.render_version_section(&mut text)?;
        }
        if has_author {
            man.render_authors_section(&mut text)?;
        }
        let file = out.join(man.get_filename());
        std::fs::write(&file, text)?;
        written.push(file);
    }
    let config = out.join(format!("{root}.toml.5"));
    std::fs::write(&config, super::man_pages::CONFIG_PAGE)?;
    written.push(config);
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
        assert_eq!(names, ["tool.1", "tool-alpha.1", "tool.toml.5"]);
        let page = std::fs::read_to_string(dir.join("tool-alpha.1")).unwrap();
        assert!(page.contains(".TH tool-alpha 1"), "{page}");
        assert!(page.contains("tool 1.2.3"), "{page}");
        assert!(page.contains(".SH \"EXIT STATUS\""), "{page}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
