//! `altodisc completions SHELL` and the hidden `altodisc man --out DIR`: every subcommand listed
//! by `--help` has completions in each shell and a man page; the scripts load in their shells and
//! the pages render without groff warnings.

use std::process::{Command, Stdio};

use crate::deploy::{TempDir, require};

/// The subcommands `altodisc --help` lists (so a new subcommand is covered without editing here).
fn subcommands() -> Vec<String> {
    let out = crate::altodisc(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let section = help
        .split("Commands:\n")
        .nth(1)
        .expect("a Commands section")
        .split("\n\n")
        .next()
        .unwrap();
    let names: Vec<String> = section
        .lines()
        // Entries start with two spaces and the name; wrapped descriptions are indented further.
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .map(str::to_owned)
        .collect();
    assert!(
        names.len() >= 8 && names.iter().any(|n| n == "serve"),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n == "man"), "`man` is hidden");
    names
}

fn completion(shell: &str) -> String {
    let out = crate::altodisc(&["completions", shell]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn completions_cover_every_subcommand_in_each_shell() {
    let subs = subcommands();
    for shell in ["bash", "zsh", "fish"] {
        let script = completion(shell);
        assert!(script.len() > 1000, "{shell}: {} bytes", script.len());
        for sub in &subs {
            assert!(script.contains(sub.as_str()), "{shell}: no {sub}");
        }
        // Options of a subcommand, not only its name.
        assert!(script.contains("deny-warnings"), "{shell}: check's options");
    }
}

#[test]
fn unknown_shell_is_a_usage_error() {
    let out = crate::altodisc(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Loads `script` in `shell` with `check` appended; `None` if the shell is not installed.
fn load_in(shell: &str, args: &[&str], script: &str) -> Option<(bool, String)> {
    let binary = require(shell, "completion script check")?;
    let tmp = TempDir::new(&format!("completion-{shell}"));
    let file = tmp.0.join("script");
    std::fs::write(&file, script).unwrap();
    let out = Command::new(binary)
        .args(args)
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Some((
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

#[test]
fn bash_completion_registers_and_completes() {
    // Source it, then complete `altodisc x` and `altodisc check --de` like readline would.
    let script = format!(
        "{}\ncomplete -p altodisc\n\
         COMP_WORDS=(altodisc x); COMP_CWORD=1; COMP_LINE='altodisc x'; COMP_POINT=10\n\
         _altodisc altodisc x altodisc; printf 'sub:%s\\n' \"${{COMPREPLY[@]}}\"\n\
         COMP_WORDS=(altodisc check --de); COMP_CWORD=2\n\
         _altodisc altodisc --de check; printf 'opt:%s\\n' \"${{COMPREPLY[@]}}\"\n",
        completion("bash")
    );
    let Some((ok, out)) = load_in("bash", &["--norc", "--noprofile"], &script) else {
        return;
    };
    assert!(ok, "{out}");
    assert!(out.contains("-F _altodisc altodisc"), "{out}");
    assert!(out.contains("sub:xdom"), "{out}");
    assert!(out.contains("opt:--deny-warnings"), "{out}");
}

#[test]
fn zsh_completion_parses() {
    if let Some((ok, out)) = load_in("zsh", &["-n"], &completion("zsh")) {
        assert!(ok, "{out}");
    }
}

#[test]
fn fish_completion_parses_and_completes() {
    let script = format!(
        "{}\ncomplete --do-complete 'altodisc xd'\ncomplete --do-complete 'altodisc check --den'\n",
        completion("fish")
    );
    let Some((ok, out)) = load_in("fish", &["--no-config"], &script) else {
        return;
    };
    assert!(ok, "{out}");
    assert!(out.contains("xdom"), "{out}");
    assert!(out.contains("--deny-warnings"), "{out}");
}

#[test]
fn every_subcommand_gets_a_man_page() {
    let tmp = TempDir::new("man");
    let out = crate::altodisc(&["man", "--out", tmp.0.to_str().unwrap()]);
    assert!(out.status.success());
    let mut expected = vec!["altodisc.1".to_owned()];
    expected.extend(subcommands().iter().map(|s| format!("altodisc-{s}.1")));
    expected.sort();
    let mut written: Vec<String> = std::fs::read_dir(&tmp.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written, expected);

    let man = require("man", "man page rendering");
    for page in &written {
        let roff = std::fs::read_to_string(tmp.0.join(page)).unwrap();
        let title = page.trim_end_matches(".1");
        assert!(roff.contains(&format!(".TH {title} 1")), "{page}");
        assert!(roff.contains(".SH NAME"), "{page}");
        if let Some(man) = &man {
            // groff's warnings (bad requests, unknown escapes) go to stderr.
            let out = Command::new(man)
                .args(["--warnings", "--no-hyphenation", "--no-justification", "-l"])
                .arg(tmp.0.join(page))
                .env("MANWIDTH", "100")
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && stderr.is_empty(),
                "{page}: {stderr}"
            );
            let rendered = plain(&String::from_utf8_lossy(&out.stdout));
            assert!(
                rendered.contains("NAME") && rendered.contains(title),
                "{page}: {rendered}"
            );
        }
    }
}

/// grotty's bold and underline are overstrikes (`X\x08X`, `_\x08X`): keep the last character.
fn plain(rendered: &str) -> String {
    let mut out: Vec<char> = Vec::new();
    for c in rendered.chars() {
        if c == '\u{8}' {
            out.pop();
        } else {
            out.push(c);
        }
    }
    out.into_iter().collect()
}
