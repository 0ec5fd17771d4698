//! Writes a discovered IRD URI into the OpenALTO client's `alto.conf`.
//!
//! The OpenALTO Python client (used by Rucio and FTS) reads its ALTO server from a static
//! `default_ird` key in the `[client]` section of `alto.conf` (found through `$ALTO_CONFIG`,
//! `~/.alto/alto.conf`, `$XDG_CONFIG_HOME/alto/alto.conf`, `$ALTO_HOME/etc/alto.conf` or
//! `/opt/alto/etc/alto.conf`). The file is read with Python's `configparser.ConfigParser`: INI
//! sections, `key = value` or `key: value`, keys case-insensitive, indented lines continuing the
//! previous value (its `static_ird` and `metrics` values are multi-line JSON), `#`/`;` comments,
//! and `%` starting an interpolation (so a literal `%` is written `%%`).
//!
//! This module edits only the `default_ird` line of `[client]` (and that value's continuation
//! lines), keeping every other line byte for byte, and replaces the file atomically: a
//! temporary file in the same directory, flushed to disk, then renamed over the old one. If any
//! step fails the old file is left as it was.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The section and key the OpenALTO client reads.
pub const SECTION: &str = "client";
/// See [`SECTION`].
pub const KEY: &str = "default_ird";

/// Errors writing `alto.conf`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AltoConfError {
    /// The URI cannot be a `default_ird` value.
    #[error("{uri:?} is not usable as default_ird: {reason}")]
    InvalidUri {
        /// The URI as given.
        uri: String,
        /// Why.
        reason: String,
    },
    /// The existing file cannot be read (other than "does not exist").
    #[error("cannot read {path}: {source}; check the path and its permissions")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The existing file is not UTF-8 text.
    #[error("{path} is not UTF-8 text; it cannot be an alto.conf")]
    NotText {
        /// The file.
        path: PathBuf,
    },
    /// Writing or renaming the temporary file failed; the old file is unchanged.
    #[error(
        "cannot write {path}: {source}; the directory must be writable (the old file, if any, is unchanged)"
    )]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Checks that `uri` is an absolute `http`/`https` URI that fits on one INI line.
fn check_uri(uri: &str) -> Result<(), AltoConfError> {
    let bad = |reason: &str| AltoConfError::InvalidUri {
        uri: uri.to_owned(),
        reason: reason.to_owned(),
    };
    if uri.chars().any(char::is_control) {
        return Err(bad("it contains a control character or line break"));
    }
    let url = url::Url::parse(uri).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("an IRD URI is http or https (RFC 7285 §9.2)"));
    }
    Ok(())
}

/// A section header line: `[name]` (configparser allows trailing text after `]` only as a
/// comment, so the name is what lies between the first `[` and the first `]`).
fn section_name(line: &str) -> Option<&str> {
    let t = line.strip_prefix('[')?;
    let end = t.rfind(']')?;
    Some(&t[..end])
}

/// The key of a `key = value` / `key: value` line that starts in column 0, lowercased as
/// configparser's `optionxform` does.
fn key_of(line: &str) -> Option<String> {
    if line.starts_with([' ', '\t', '#', ';', '[']) {
        return None;
    }
    let end = line.find(['=', ':'])?;
    Some(line[..end].trim().to_ascii_lowercase())
}

/// A continuation line of the previous value: indented and not blank.
fn is_continuation(line: &str) -> bool {
    line.starts_with([' ', '\t']) && !line.trim().is_empty()
}

/// Returns `text` with `default_ird` in `[client]` set to `uri` (`%` doubled for configparser's
/// interpolation); every other line is kept.
///
/// # Errors
/// [`AltoConfError::InvalidUri`].
pub fn set_default_ird(text: &str, uri: &str) -> Result<String, AltoConfError> {
    check_uri(uri)?;
    let new_line = format!("{KEY} = {}", uri.replace('%', "%%"));
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len().saturating_add(3));
    let mut in_client = false;
    let mut client_seen = false;
    let mut written = false;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(name) = section_name(line) {
            // Leaving [client] without a default_ird line: add it at the end of the section,
            // before any blank lines that separate it from the next one.
            if in_client && !written {
                let at = out
                    .iter()
                    .rposition(|l| !l.trim().is_empty())
                    .map_or(out.len(), |p| p.saturating_add(1));
                out.insert(at, new_line.clone());
                written = true;
            }
            in_client = name == SECTION;
            client_seen |= in_client;
        } else if in_client && !written && key_of(line).as_deref() == Some(KEY) {
            out.push(new_line.clone());
            written = true;
            i = i.saturating_add(1);
            // Drop the old value's continuation lines.
            while i < lines.len() && is_continuation(lines[i]) {
                i = i.saturating_add(1);
            }
            continue;
        }
        out.push(line.to_owned());
        i = i.saturating_add(1);
    }
    if in_client && !written {
        let at = out
            .iter()
            .rposition(|l| !l.trim().is_empty())
            .map_or(out.len(), |p| p.saturating_add(1));
        out.insert(at, new_line);
    } else if !client_seen {
        if out.last().is_some_and(|l| !l.trim().is_empty()) {
            out.push(String::new());
        }
        out.push(format!("[{SECTION}]"));
        out.push(new_line);
    }
    let mut s = out.join("\n");
    s.push('\n');
    Ok(s)
}

/// Sets `default_ird` in the `alto.conf` at `path` (created when missing), atomically.
///
/// # Errors
/// [`AltoConfError`]; on any error the old file is unchanged.
pub fn write_default_ird(path: &Path, uri: &str) -> Result<(), AltoConfError> {
    let old = match fs::read(path) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(AltoConfError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let text = match &old {
        Some(b) => std::str::from_utf8(b).map_err(|_| AltoConfError::NotText {
            path: path.to_owned(),
        })?,
        None => "",
    };
    let new = set_default_ird(text, uri)?;
    let permissions = fs::metadata(path).ok().map(|m| m.permissions());
    write_atomically(path, new.as_bytes(), permissions).map_err(|source| AltoConfError::Write {
        path: path.to_owned(),
        source,
    })
}

/// Writes `bytes` to a temporary file beside `path`, flushes it, then renames it over `path`
/// (rename(2) is atomic within one file system: readers see the old or the new file, never a
/// part). The temporary file is removed when a step fails.
///
/// # Errors
/// The first I/O error.
pub fn write_atomically(
    path: &Path,
    bytes: &[u8],
    permissions: Option<fs::Permissions>,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        if let Some(p) = permissions {
            f.set_permissions(p)?;
        }
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const URI: &str = "https://alto.example.net/ird";

    #[test]
    fn replaces_only_default_ird_and_its_continuation_lines() {
        let text = "# site config\n[client]\nauth_type = userpass\nDefault_IRD: http://old/\n  continued\nstatic_ird = {\n    \"a\": \"b\"\n  }\n\n[server]\ndefault_ird = keep-me\n";
        let out = set_default_ird(text, URI).unwrap();
        assert_eq!(
            out,
            "# site config\n[client]\nauth_type = userpass\ndefault_ird = https://alto.example.net/ird\nstatic_ird = {\n    \"a\": \"b\"\n  }\n\n[server]\ndefault_ird = keep-me\n"
        );
    }

    #[test]
    fn adds_the_key_to_an_existing_section_before_the_next_one() {
        let out = set_default_ird("[client]\nusername = u\n\n[server]\nx = 1\n", URI).unwrap();
        assert_eq!(
            out,
            "[client]\nusername = u\ndefault_ird = https://alto.example.net/ird\n\n[server]\nx = 1\n"
        );
        let out = set_default_ird("[server]\nx = 1\n[client]\n", URI).unwrap();
        assert_eq!(
            out,
            "[server]\nx = 1\n[client]\ndefault_ird = https://alto.example.net/ird\n"
        );
    }

    #[test]
    fn adds_the_section_when_missing_and_doubles_percent_signs() {
        let out = set_default_ird("", "https://a.example/i%20rd").unwrap();
        assert_eq!(out, "[client]\ndefault_ird = https://a.example/i%%20rd\n");
        let out = set_default_ird("[server]\nx = 1", URI).unwrap();
        assert_eq!(
            out,
            "[server]\nx = 1\n\n[client]\ndefault_ird = https://alto.example.net/ird\n"
        );
    }

    #[test]
    fn refuses_uris_that_cannot_be_a_value() {
        for bad in [
            "",
            "relative/ird",
            "ftp://a.example/ird",
            "https://a.example/\n[x]",
        ] {
            assert!(
                matches!(
                    set_default_ird("", bad),
                    Err(AltoConfError::InvalidUri { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn unwritable_directory_leaves_the_old_file_intact() {
        let dir = std::env::temp_dir().join(format!("altodisc-altoconf-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("alto.conf");
        fs::write(&path, "[client]\ndefault_ird = https://old.example/\n").unwrap();
        write_default_ird(&path, URI).unwrap();
        let now = fs::read_to_string(&path).unwrap();
        assert_eq!(
            now,
            "[client]\ndefault_ird = https://alto.example.net/ird\n"
        );
        // A path whose directory does not exist cannot be written; the error says which file.
        let missing = dir.join("no-such-dir").join("alto.conf");
        let e = write_default_ird(&missing, URI).unwrap_err();
        assert!(matches!(e, AltoConfError::Write { .. }), "{e}");
        assert!(e.to_string().contains("no-such-dir"), "{e}");
        // No temporary file is left behind.
        let left: Vec<_> = fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }
}
