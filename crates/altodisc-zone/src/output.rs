//! Diagnostics as text (rustc-like), JSON and SARIF 2.1.0.
//!
//! * Text: `error[Z6]: message`, then `--> file:line:col`, the source line with a caret under the
//!   offending field, and `= help: hint`. Colour (ANSI) only when the caller says the output is a
//!   terminal.
//! * JSON: `{"diagnostics": [{rule, severity, file, line, column, message, hint}], "summary":
//!   {"error": n, "warning": n, "info": n, "files": n}}`.
//! * Repeated `info` findings of one rule are condensed by default ([`condense`]): the first
//!   [`DEFAULT_INFO_LIMIT`] keep their positions, the rest become one count per rule, shown in
//!   every format (text: a closing `info[Zn]: N more …` line; JSON: `omitted`; SARIF: a result
//!   without location). The summary counts always include them. `--all-diagnostics` keeps all.
//! * SARIF 2.1.0 (OASIS): one run, `tool.driver.rules` carries every rule of the catalogue (id,
//!   short and full description, help, default level) so GitHub code scanning can show them;
//!   `results[].ruleIndex` points into it; severities map to `error` / `warning` / `note`.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::diag::{Diagnostic, Severity};
use crate::rules::Rule;

/// Counts per severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Errors.
    pub errors: usize,
    /// Warnings.
    pub warnings: usize,
    /// Infos.
    pub infos: usize,
}

impl Summary {
    /// Counts `diagnostics`.
    #[must_use]
    pub fn of(diagnostics: &[Diagnostic]) -> Self {
        let mut s = Self::default();
        for d in diagnostics {
            match d.severity {
                Severity::Error => s.errors += 1,
                Severity::Warning => s.warnings += 1,
                Severity::Info => s.infos += 1,
            }
        }
        s
    }
}

/// How many `info` findings of one rule a condensed report shows with their positions.
pub const DEFAULT_INFO_LIMIT: usize = 10;

/// `info` findings of one rule left out of a condensed report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Omitted {
    /// The rule.
    pub rule: Rule,
    /// How many of its findings are not shown.
    pub count: usize,
}

impl Omitted {
    fn message(self) -> String {
        format!(
            "{} more {} of rule {} not shown (--all-diagnostics lists them all)",
            self.count,
            if self.count == 1 {
                "finding"
            } else {
                "findings"
            },
            self.rule.id()
        )
    }
}

/// Keeps the first `per_rule` `info` findings of each rule (in the given order, normally sorted by
/// position) and counts the rest; errors and warnings are always kept. A million-record zone can
/// give hundreds of thousands of identical infos (e.g. Z12 "target outside the loaded zones"),
/// which only bury the errors.
#[must_use]
pub fn condense(diagnostics: Vec<Diagnostic>, per_rule: usize) -> (Vec<Diagnostic>, Vec<Omitted>) {
    let mut seen: HashMap<Rule, usize> = HashMap::new();
    let mut kept = Vec::with_capacity(diagnostics.len().min(1 << 16));
    for d in diagnostics {
        if d.severity == Severity::Info {
            let n = seen.entry(d.rule).or_insert(0);
            *n += 1;
            if *n > per_rule {
                continue;
            }
        }
        kept.push(d);
    }
    let mut omitted: Vec<Omitted> = seen
        .into_iter()
        .filter(|&(_, n)| n > per_rule)
        .map(|(rule, n)| Omitted {
            rule,
            count: n - per_rule,
        })
        .collect();
    omitted.sort_by_key(|o| o.rule);
    (kept, omitted)
}

impl Summary {
    /// Counts `shown` plus the `omitted` infos.
    #[must_use]
    pub fn with_omitted(shown: &[Diagnostic], omitted: &[Omitted]) -> Self {
        let mut s = Self::of(shown);
        s.infos += omitted.iter().map(|o| o.count).sum::<usize>();
        s
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Renders diagnostics like rustc. `source_line(file, line)` returns the text of a line, if known.
#[must_use]
pub fn render_human(
    diagnostics: &[Diagnostic],
    omitted: &[Omitted],
    files_checked: usize,
    color: bool,
    source_line: &mut dyn FnMut(&str, u32) -> Option<String>,
) -> String {
    let paint = |code: &str, text: &str| {
        if color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    };
    let mut out = String::new();
    for d in diagnostics {
        let (label, code) = match d.severity {
            Severity::Error => ("error", "1;31"),
            Severity::Warning => ("warning", "1;33"),
            Severity::Info => ("info", "1;36"),
        };
        let _ = writeln!(
            out,
            "{}: {}",
            paint(code, &format!("{label}[{}]", d.rule.id())),
            paint("1", &d.message)
        );
        if let Some(p) = &d.position {
            let num = p.line.to_string();
            let pad = " ".repeat(num.len());
            let _ = writeln!(
                out,
                "{pad}{} {}:{}:{}",
                paint("1;34", "-->"),
                p.file,
                p.line,
                p.column
            );
            if let Some(text) = source_line(&p.file, p.line) {
                let text = text.trim_end_matches(['\r', '\n']);
                let bar = paint("1;34", "|");
                let _ = writeln!(out, "{pad} {bar}");
                let _ = writeln!(out, "{} {bar} {text}", paint("1;34", &num));
                // Keep tabs so the caret lines up under the field.
                let col = usize::try_from(p.column.saturating_sub(1)).unwrap_or(0);
                let lead: String = text
                    .bytes()
                    .take(col)
                    .map(|b| if b == b'\t' { '\t' } else { ' ' })
                    .collect();
                let _ = writeln!(out, "{pad} {bar} {lead}{}", paint(code, "^"));
            }
            if let Some(h) = &d.hint {
                let _ = writeln!(out, "{pad} {} help: {h}", paint("1;34", "="));
            }
        } else if let Some(h) = &d.hint {
            let _ = writeln!(out, "  = help: {h}");
        }
        out.push('\n');
    }
    for o in omitted {
        let _ = writeln!(
            out,
            "{}: {}\n",
            paint("1;36", &format!("info[{}]", o.rule.id())),
            paint("1", &o.message())
        );
    }
    let s = Summary::with_omitted(diagnostics, omitted);
    let _ = writeln!(
        out,
        "{}: {}, {}, {} in {}",
        if s.errors > 0 {
            paint("1;31", "checked")
        } else {
            paint("1;32", "checked")
        },
        plural(s.errors, "error"),
        plural(s.warnings, "warning"),
        plural(s.infos, "info"),
        plural(files_checked, "file"),
    );
    out
}

/// A reader of source lines for [`render_human`]. Each file is read as a stream, up to the line
/// asked for: diagnostics come sorted by file and line, so one pass serves them all, and a
/// million-line zone with a handful of findings is never held in memory (it is read again from
/// the start only if an earlier line is asked for later).
#[derive(Debug, Default)]
pub struct SourceCache {
    files: HashMap<String, Option<SourceFile>>,
}

/// A file being read line by line.
#[derive(Debug)]
struct SourceFile {
    path: String,
    reader: std::io::BufReader<std::fs::File>,
    /// Number (from 1) of the line the reader gives next.
    next: u32,
    /// The last line handed out, with its number (several findings often share a line).
    last: Option<(u32, String)>,
}

impl SourceFile {
    fn open(path: &str) -> Option<Self> {
        let file = std::fs::File::open(path).ok()?;
        Some(Self {
            path: path.to_owned(),
            reader: std::io::BufReader::with_capacity(1 << 16, file),
            next: 1,
            last: None,
        })
    }

    /// Line `n` (from 1) as `str::lines` over the lossily decoded file gives it: split at
    /// `\n`, without a `\r` before it, no line after a final `\n`. Decoding one line alone
    /// gives the same text, as `\n` ends every invalid UTF-8 sequence.
    fn line(&mut self, n: u32) -> Option<String> {
        if let Some((at, text)) = &self.last
            && *at == n
        {
            return Some(text.clone());
        }
        if n < self.next {
            *self = Self::open(&self.path)?;
        }
        let mut buf = Vec::new();
        loop {
            buf.clear();
            if std::io::BufRead::read_until(&mut self.reader, b'\n', &mut buf).ok()? == 0 {
                return None;
            }
            let this = self.next;
            self.next = self.next.saturating_add(1);
            if this == n {
                let line = match buf.strip_suffix(b"\n") {
                    Some(l) => l.strip_suffix(b"\r").unwrap_or(l),
                    None => &buf,
                };
                let text = String::from_utf8_lossy(line).into_owned();
                self.last = Some((n, text.clone()));
                return Some(text);
            }
        }
    }
}

impl SourceCache {
    /// Line `line` (from 1) of `file`, if the file can be read.
    pub fn line(&mut self, file: &str, line: u32) -> Option<String> {
        if line == 0 {
            return None;
        }
        self.files
            .entry(file.to_owned())
            .or_insert_with(|| SourceFile::open(file))
            .as_mut()?
            .line(line)
    }
}

/// The JSON report.
#[must_use]
pub fn to_json(diagnostics: &[Diagnostic], omitted: &[Omitted], files_checked: usize) -> Value {
    let s = Summary::with_omitted(diagnostics, omitted);
    let list: Vec<Value> = diagnostics
        .iter()
        .map(|d| {
            json!({
                "rule": d.rule.id(),
                "severity": d.severity.as_str(),
                "file": d.position.as_ref().map(|p| p.file.to_string()),
                "line": d.position.as_ref().map(|p| p.line),
                "column": d.position.as_ref().map(|p| p.column),
                "message": d.message,
                "hint": d.hint,
            })
        })
        .collect();
    let omitted: Vec<Value> = omitted
        .iter()
        .map(|o| json!({ "rule": o.rule.id(), "severity": "info", "count": o.count }))
        .collect();
    json!({
        "diagnostics": list,
        "omitted": omitted,
        "summary": {
            "error": s.errors,
            "warning": s.warnings,
            "info": s.infos,
            "files": files_checked,
        }
    })
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// Turns a file path into a SARIF `artifactLocation.uri` (a relative or absolute URI reference,
/// RFC 3986): percent-encodes what a path may contain but a URI may not.
fn path_to_uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let absolute = path.starts_with('/');
    if absolute {
        out.push_str("file://");
    }
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The SARIF 2.1.0 log.
#[must_use]
pub fn to_sarif(diagnostics: &[Diagnostic], omitted: &[Omitted]) -> Value {
    let rules: Vec<Value> = Rule::ALL
        .iter()
        .map(|r| {
            json!({
                "id": r.id(),
                "name": format!("AltodiscRule{}", r.id()),
                "shortDescription": { "text": r.title() },
                "fullDescription": { "text": r.rationale() },
                "help": { "text": format!("{}\n\nSee `altodisc check --explain {}`.", r.rationale(), r.id()) },
                "defaultConfiguration": { "level": sarif_level(r.default_severity()) },
            })
        })
        .collect();
    let results: Vec<Value> = diagnostics
        .iter()
        .map(|d| {
            let index = Rule::ALL.iter().position(|r| *r == d.rule).unwrap_or(0);
            let mut text = d.message.clone();
            if let Some(h) = &d.hint {
                text.push_str("\nhelp: ");
                text.push_str(h);
            }
            let mut res = json!({
                "ruleId": d.rule.id(),
                "ruleIndex": index,
                "level": sarif_level(d.severity),
                "message": { "text": text },
            });
            if let Some(p) = &d.position {
                res["locations"] = json!([{
                    "physicalLocation": {
                        "artifactLocation": { "uri": path_to_uri(&p.file) },
                        "region": { "startLine": p.line.max(1), "startColumn": p.column.max(1) }
                    }
                }]);
            }
            res
        })
        .chain(omitted.iter().map(|o| {
            // No location: the count stands for findings all over the zones.
            json!({
                "ruleId": o.rule.id(),
                "ruleIndex": Rule::ALL.iter().position(|r| *r == o.rule).unwrap_or(0),
                "level": "note",
                "message": { "text": o.message() },
                "properties": { "omittedCount": o.count },
            })
        }))
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "altodisc",
                    "informationUri": "https://example.invalid/altodisc",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }
            },
            "columnKind": "utf16CodeUnits",
            "results": results,
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(rule: Rule, line: u32) -> Diagnostic {
        Diagnostic::new(
            rule,
            Some(crate::record::Position {
                file: "z.zone".into(),
                line,
                column: 1,
            }),
            format!("finding on line {line}"),
        )
        .with_severity(Severity::Info)
    }

    /// The first N infos of each rule stay, the rest are counted; errors always stay; every
    /// format shows the count and the summary counts everything.
    #[test]
    fn repeated_infos_are_condensed_in_every_format() {
        let mut all: Vec<Diagnostic> = (1..=25).map(|l| info(Rule::Z12, l)).collect();
        all.extend((1..=3).map(|l| info(Rule::Z19, l)));
        all.push(Diagnostic::new(Rule::Z6, None, "bad regexp"));
        let (shown, omitted) = condense(all.clone(), 10);
        assert_eq!(shown.len(), 10 + 3 + 1);
        assert_eq!(
            omitted,
            [Omitted {
                rule: Rule::Z12,
                count: 15
            }]
        );
        assert_eq!(
            shown
                .iter()
                .filter(|d| d.rule == Rule::Z12)
                .map(|d| d.position.as_ref().unwrap().line)
                .collect::<Vec<_>>(),
            (1..=10).collect::<Vec<_>>()
        );
        assert_eq!(Summary::with_omitted(&shown, &omitted), Summary::of(&all));
        let text = render_human(&shown, &omitted, 1, false, &mut |_, _| None);
        assert!(
            text.contains("info[Z12]: 15 more findings of rule Z12 not shown"),
            "{text}"
        );
        assert!(
            text.contains("1 error, 0 warnings, 28 infos in 1 file"),
            "{text}"
        );
        let j = to_json(&shown, &omitted, 1);
        assert_eq!(j["omitted"][0]["count"], 15);
        assert_eq!(j["summary"]["info"], 28);
        assert_eq!(j["diagnostics"].as_array().unwrap().len(), 14);
        let sarif = to_sarif(&shown, &omitted);
        let results = sarif["runs"][0]["results"].as_array().unwrap();
        assert_eq!(results.len(), 15);
        assert_eq!(results[14]["properties"]["omittedCount"], 15);
        // Nothing left out: nothing said.
        let (shown, omitted) = condense(all.clone(), usize::MAX);
        assert_eq!((shown.len(), omitted.len()), (all.len(), 0));
    }

    /// Lines come out as `str::lines` over the lossily decoded file gives them (what the cache
    /// did before it kept the octets), for every line number and past the end.
    #[test]
    fn source_lines_match_str_lines() {
        let texts: [&[u8]; 9] = [
            b"",
            b"a",
            b"a\n",
            b"a\nb",
            b"\n\n",
            b"x\r\ny\r\n\r\nz\r",
            b"x\r\r\nlast",
            b"bad \xe2\x82\nnext \xff\n\xc3",
            b"$ORIGIN a.\n@ SOA ns h 1 1 1 1 1\n",
        ];
        let dir = std::env::temp_dir().join(format!("altodisc-srclines-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (n, text) in texts.iter().enumerate() {
            let path = dir.join(format!("{n}.zone"));
            std::fs::write(&path, text).unwrap();
            let path = path.to_str().unwrap();
            let want: Vec<String> = String::from_utf8_lossy(text)
                .lines()
                .map(str::to_owned)
                .collect();
            let mut cache = SourceCache::default();
            // Out of order on purpose: the line index grows on demand.
            let last = u32::try_from(want.len()).unwrap() + 2;
            for line in (1..=last).rev().chain(1..=last) {
                let got = cache.line(path, line);
                assert_eq!(
                    got.as_ref(),
                    want.get(line as usize - 1),
                    "{text:?} line {line}"
                );
            }
            assert_eq!(cache.line(path, 0), None);
        }
        let mut cache = SourceCache::default();
        assert_eq!(cache.line(dir.join("missing").to_str().unwrap(), 1), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
