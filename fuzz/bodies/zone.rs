// Fuzz-target bodies for altodisc-zone's readers: master files and the publishing config.
// `include!`d by the fuzz targets (fuzz/fuzz_targets/) and by the replay test
// (crates/altodisc-zone/tests/integration/fuzz_replay.rs). Each body must never panic.

use std::path::PathBuf;
use std::sync::OnceLock;

use altodisc_proto::name::DomainName;
use altodisc_zone::publish_config::{PublishConfig, SerialState};
use altodisc_zone::reader::{read_zone_file, read_zone_str};

/// A folder of this process's own under the system temporary folder, holding the input and the
/// files an `$INCLUDE` may name, so that the fuzzer never reads or writes anything else.
fn scratch() -> Option<&'static PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("altodisc-fuzz-zone-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        // Something for `$INCLUDE inc` / `$INCLUDE inc.zone` to find.
        std::fs::write(dir.join("inc"), "@ 300 IN TXT \"included\"\n").ok()?;
        std::fs::write(
            dir.join("inc.zone"),
            "www 300 IN A 192.0.2.1\n$INCLUDE inc\n",
        )
        .ok()?;
        Some(dir)
    })
    .as_ref()
}

/// `data` with every way out of the scratch folder taken away: `/` and `\` (which could spell
/// one through an RFC 1035 §5.1 `\DDD` escape) become `_`, and `..` becomes `._`. Only for
/// inputs with `$INCLUDE`; the rest of the reader sees them unchanged.
fn confined(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    for &b in data {
        let b = match b {
            b'/' | b'\\' => b'_',
            b'.' if out.last() == Some(&b'.') => b'_',
            b => b,
        };
        out.push(b);
    }
    out
}

/// Removes the scratch folder (the replay test calls it when done; a fuzzing process is killed
/// by libFuzzer and leaves its folder under the temporary folder).
pub(crate) fn remove_scratch() {
    if let Some(dir) = scratch() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Target `master_file`: the RFC 1035 §5 master-file reader, with `$ORIGIN`, `$TTL` and
/// `$INCLUDE`. UTF-8 text without `$INCLUDE` goes through `read_zone_str`. Other input is
/// written to the scratch folder and read from there, so relative includes resolve inside it
/// (after [`confined`] took away absolute and parent paths).
pub(crate) fn master_file(data: &[u8]) {
    let origin = DomainName::parse("example.net.").ok();
    let has_include = data.windows(8).any(|w| w.eq_ignore_ascii_case(b"$include"));
    let outcome = match std::str::from_utf8(data) {
        Ok(text) if !has_include => read_zone_str(text, "fuzz.zone", origin.as_ref()),
        _ => {
            let Some(dir) = scratch() else {
                return;
            };
            let path = dir.join(format!("fuzz-{:?}.zone", std::thread::current().id()));
            if std::fs::write(&path, confined(data)).is_err() {
                return;
            }
            match read_zone_file(&path, origin.as_ref()) {
                Ok(outcome) => outcome,
                Err(_) => return,
            }
        }
    };
    // Every owner name is within the RFC 1035 §2.3.4 limit.
    for record in &outcome.zone.records {
        assert!(record.owner.as_wire().len() <= 255);
    }
    let _ = outcome.has_errors();
    for diagnostic in &outcome.diagnostics {
        let _ = diagnostic.to_string();
    }
}

/// Target `publish_config`: the TOML publishing config, its intents and the zones built from it
/// (RFC 7286 §3.2 records, RFC 8686 §5.2.1 owners), and the serial-state file.
pub(crate) fn publish_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let state = SerialState::parse(text);
    assert_eq!(SerialState::parse(&state.to_text()), state);
    let Ok(config) = PublishConfig::from_toml(text, "fuzz.toml") else {
        return;
    };
    let _ = config.intents();
    if let Ok(first) = config.build(None, 1_700_000_000) {
        // A rebuild with the first build's serial state must succeed the same way.
        assert!(config.build(Some(&first.serials), 1_700_000_000).is_ok());
    }
}
