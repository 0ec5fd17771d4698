//! `altodisc check` on master-file directives: `--include-base`, the "not found" message naming
//! both candidate paths, and a refused `$INCLUDE /dev/zero` (a Z1 error at its line, exit 1).

use std::path::PathBuf;

use crate::altodisc;

/// A fresh folder with `zones/main.zone` including `part.inc`, which exists only at the top.
fn layout(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("altodisc-cli-zf-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("zones")).unwrap();
    std::fs::write(
        dir.join("zones/main.zone"),
        "$ORIGIN example.net.\n$TTL 3600\n@ SOA ns1.example.com. hostmaster.example.com. 1 7200 900 1209600 300\n@ NS ns1.example.com.\n$INCLUDE part.inc\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("part.inc"),
        "@ NAPTR 100 10 \"u\" \"ALTO:https\" \"!.*!https://alto1.example.net/ird!\" .\n",
    )
    .unwrap();
    dir
}

#[test]
fn include_base_flag_resolves_relative_includes() {
    let dir = layout("base");
    let main = dir.join("zones/main.zone").display().to_string();
    // Default: next to main.zone, where part.inc is not; run from `dir`, where BIND and NSD
    // would find it: the message names both paths and says which one exists.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_altodisc"))
        .current_dir(&dir)
        .args(["check", "--color", "never", &main])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let near = dir.join("zones/part.inc").display().to_string();
    assert!(
        out.contains(&format!("included file {near} not found")),
        "{out}"
    );
    assert!(out.contains("it would be part.inc, which exists"), "{out}");
    assert!(out.contains("--include-base"), "{out}");
    // With the base, it is found and the zone is clean.
    let base = dir.display().to_string();
    let o = altodisc(&["check", "--color", "never", "--include-base", &base, &main]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn include_of_a_device_is_refused_with_file_line_and_bound() {
    let dir = layout("dev");
    std::fs::write(
        dir.join("zones/main.zone"),
        "$ORIGIN example.net.\n$TTL 1\n$INCLUDE /dev/zero\n",
    )
    .unwrap();
    let main = dir.join("zones/main.zone").display().to_string();
    let o = altodisc(&["check", &main]);
    let err = String::from_utf8_lossy(&o.stderr);
    let out = String::from_utf8_lossy(&o.stdout);
    // A Z1 error at the `$INCLUDE` line (checks failed), not an unreadable input.
    assert_eq!(o.status.code(), Some(1), "{err}{out}");
    assert!(out.contains(&format!("{main}:3:")), "{out}");
    assert!(
        out.contains("/dev/zero is a character device, not a regular file"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// `altodisc check --config FILE ZONE` and `[serve] include_base` in it.
fn check_with(args: &[&str]) -> (Option<i32>, String, String) {
    // Run from `/`: a relative key must be read from the config's folder, not from here.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_altodisc"))
        .current_dir("/")
        .args(["check", "--color", "never"])
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn include_base_key_of_the_config_and_the_flag_winning_over_it() {
    let dir = layout("key");
    std::fs::create_dir_all(dir.join("conf")).unwrap();
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    let main = dir.join("zones/main.zone").display().to_string();
    let config = dir.join("conf/altodisc.toml");
    let config_s = config.display().to_string();
    // `..` from conf/ is the folder that holds part.inc.
    std::fs::write(&config, "[serve]\ninclude_base = \"..\"\n").unwrap();
    let (code, out, err) = check_with(&["--config", &config_s, &main]);
    assert_eq!(code, Some(0), "{out}{err}");

    // The key names a folder without part.inc: the include is not found there...
    std::fs::write(&config, "[serve]\ninclude_base = \"../empty\"\n").unwrap();
    let (code, out, err) = check_with(&["--config", &config_s, &main]);
    assert_eq!(code, Some(1), "{out}{err}");
    let there = dir.join("conf/../empty/part.inc").display().to_string();
    assert!(
        out.contains(&format!("included file {there} not found")),
        "{out}"
    );
    // ...and --include-base wins over the key.
    let base = dir.display().to_string();
    let (code, out, err) = check_with(&["--config", &config_s, "--include-base", &base, &main]);
    assert_eq!(code, Some(0), "{out}{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn include_base_that_is_not_a_folder_is_a_usage_error_naming_key_and_path() {
    let dir = layout("badkey");
    let main = dir.join("zones/main.zone").display().to_string();
    let config = dir.join("altodisc.toml");
    let config_s = config.display().to_string();
    std::fs::write(&config, "[serve]\ninclude_base = \"nope\"\n").unwrap();
    let (code, out, err) = check_with(&["--config", &config_s, &main]);
    assert_eq!(code, Some(2), "{out}{err}");
    let nope = dir.join("nope").display().to_string();
    assert!(
        err.contains(&format!(
            "--config {config_s}: [serve] include_base = \"nope\": {nope} does not exist"
        )),
        "{err}"
    );
    assert!(out.is_empty(), "{out}");
    // The flag wins: the key is not used, so its bad value does not matter.
    let base = dir.display().to_string();
    let (code, out, err) = check_with(&["--config", &config_s, "--include-base", &base, &main]);
    assert_eq!(code, Some(0), "{out}{err}");
    // A flag that is not a folder.
    let (code, _, err) = check_with(&["--include-base", &nope, &main]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("--include-base {nope}: not a directory")),
        "{err}"
    );
    // Unknown keys of [serve] are refused as by serve.
    std::fs::write(&config, "[serve]\ninclude_bsae = \".\"\n").unwrap();
    let (code, _, err) = check_with(&["--config", &config_s, &main]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("include_bsae"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn check_config_reports_a_bad_include_base_at_its_key_even_config_only() {
    let dir = layout("cc");
    let config = dir.join("altodisc.toml");
    std::fs::write(
        &config,
        "[serve]\nlisten = [\"127.0.0.1:5300\"]\nzones_dir = \"zones\"\ninclude_base = \"nope\"\n",
    )
    .unwrap();
    let config_s = config.display().to_string();
    let nope = dir.join("nope").display().to_string();
    for extra in [None, Some("--config-only")] {
        let mut args = vec!["check-config"];
        args.extend(extra);
        args.push(&config_s);
        let o = altodisc(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{extra:?}: {err}");
        assert!(
            err.contains(&format!(
                "{config_s}:4:16: error: [serve] include_base = \"nope\": {nope} does not exist"
            )),
            "{extra:?}: {err}"
        );
    }
    // Once the folder exists, the relative include of main.zone is found from it (`.` is the
    // config's folder, which holds part.inc).
    std::fs::write(
        &config,
        "[serve]\nlisten = [\"127.0.0.1:5300\"]\nzones_dir = \"zones\"\ninclude_base = \".\"\n",
    )
    .unwrap();
    std::fs::rename(
        dir.join("zones/main.zone"),
        dir.join("zones/example.net.zone"),
    )
    .unwrap();
    let o = altodisc(&["check-config", &config_s]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let _ = std::fs::remove_dir_all(dir);
}
