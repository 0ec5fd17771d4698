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
    let mut expected = vec!["altodisc.1".to_owned(), "altodisc.toml.5".to_owned()];
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
        let (title, section) = page.rsplit_once('.').unwrap();
        assert!(roff.contains(&format!(".TH {title} {section}")), "{page}");
        assert!(roff.contains(".SH NAME"), "{page}");
        assert!(roff.contains(".SH \"SEE ALSO\""), "{page}");
        if section == "1" {
            assert!(roff.contains(".SH \"EXIT STATUS\""), "{page}");
        }
        if ["altodisc", "altodisc-serve"].contains(&title) {
            for s in [".SH FILES", ".SH SIGNALS", ".SH EXAMPLES"] {
                assert!(roff.contains(s), "{page}: {s}");
            }
        }
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

#[test]
fn hidden_commands_are_not_completed_but_rule_ids_and_enum_values_are() {
    let bash = completion("bash");
    assert!(!bash.contains("altodisc__man"), "hidden `man` completed");
    for shell in ["bash", "zsh", "fish"] {
        let script = completion(shell);
        // check --explain RULE: every rule ID, Z20b included; check --format: its values.
        for word in ["Z1", "Z24", "Z20b", "sarif"] {
            assert!(script.contains(word), "{shell}: {word}");
        }
    }
    let script = format!(
        "{}
complete --do-complete 'altodisc check --explain Z2'
         complete --do-complete 'altodisc '
",
        completion("fish")
    );
    if let Some((ok, out)) = load_in("fish", &["--no-config"], &script) {
        assert!(ok, "{out}");
        assert!(out.lines().any(|l| l.starts_with("Z20b")), "{out}");
        assert!(!out.lines().any(|l| l.starts_with("man")), "{out}");
    }
}

/// The keys a table of the config accepts, from its parser's own "unknown field" message.
fn accepted_keys(toml_text: &str) -> Vec<String> {
    use altodisc_zone::publish_config::PublishConfig;
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Serve {
        serve: altodisc_responder::load::ServeSection,
    }
    let message = match toml::from_str::<Serve>(toml_text) {
        Err(e) if toml_text.starts_with("[serve") => e.message().to_owned(),
        _ => PublishConfig::from_toml(toml_text, "t")
            .map(|_| ())
            .unwrap_err()
            .to_string(),
    };
    let expected = message
        .split("expected one of")
        .nth(1)
        .or_else(|| message.split("expected").nth(1))
        .unwrap_or_else(|| panic!("{message}"));
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// altodisc.toml(5) documents every key the parsers accept (a new key without a man page entry
/// fails here).
#[test]
fn config_man_page_documents_every_key() {
    let tmp = TempDir::new("man5");
    let out = crate::altodisc(&["man", "--out", tmp.0.to_str().unwrap()]);
    assert!(out.status.success());
    let page = std::fs::read_to_string(tmp.0.join("altodisc.toml.5")).unwrap();
    let record = "records = [{ order = 1, preference = 1, uri = \"https://a.example/\", zz = 1 }]";
    for (table, probe) in [
        ("[serve]", "[serve]\nzz = 1\n".to_owned()),
        (
            "[serve.rate_limit]",
            "[serve]\nrate_limit = { responses_per_second = 1, zz = 1 }\n".to_owned(),
        ),
        ("top level", "zz = 1\n".to_owned()),
        ("[defaults]", "[defaults]\nzz = 1\n".to_owned()),
        ("[[zone]]", "[[zone]]\norigin = \"a.\"\nzz = 1\n".to_owned()),
        (
            "[[access_domain]]",
            "[[access_domain]]\ndomain = \"a.\"\nrecords = []\nzz = 1\n".to_owned(),
        ),
        (
            "[[prefix]]",
            "[[prefix]]\nprefix = \"192.0.2.0/24\"\nrecords = []\nzz = 1\n".to_owned(),
        ),
        (
            "records",
            format!("[[prefix]]\nprefix = \"192.0.2.0/24\"\n{record}\n"),
        ),
    ] {
        let keys = accepted_keys(&probe);
        assert!(keys.len() >= 2, "{table}: {keys:?}");
        for key in keys {
            // Keys are set in bold (`\fBkey\fR`), tables as section names.
            let documented = page.contains(&format!("\\fB{key}\\fR"))
                || page.contains(&format!("\\fB[serve.{key}]\\fR"))
                || page.contains(&format!(".SH \"[{key}]\""))
                || page.contains(&format!(".SH \"[[{key}]]\""));
            assert!(documented, "{table} key `{key}` is not in altodisc.toml(5)");
        }
    }
}
