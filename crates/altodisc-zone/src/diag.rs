//! Diagnostics: what the reader and the checker report, with a stable rule ID, a severity, the exact
//! position of the offending field, a one-line message and a fix hint.
//!
//! Rule IDs are those of docs/checker-rules.md (`Z1` … `Z30`, plus `Z3b`, `Z5b`, `Z20b`). They are stable:
//! CI configurations, SARIF consumers and fixture files refer to them.

use std::fmt;

use crate::record::Position;

/// How bad a finding is. Ordered: `Info < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth knowing; never fails a check.
    Info,
    /// Likely a mistake; fails a check only with `--deny-warnings`.
    Warning,
    /// The records will not work as intended; fails a check.
    Error,
}

impl Severity {
    /// Lowercase name used in text, JSON and fixture files: `error`, `warning`, `info`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The rule that fired.
    pub rule: crate::rules::Rule,
    /// Its severity (normally the rule's default; Z16 is info or error depending on the case).
    pub severity: Severity,
    /// Where: the offending field (file:line:col), or `None` for findings about a whole input
    /// (e.g. an intent entry with no zone position).
    pub position: Option<Position>,
    /// One line saying what is wrong.
    pub message: String,
    /// How to fix it, if there is something specific to say.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with the rule's default severity.
    #[must_use]
    pub fn new(
        rule: crate::rules::Rule,
        position: Option<Position>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            rule,
            severity: rule.default_severity(),
            position,
            message: message.into(),
            hint: None,
        }
    }

    /// Sets the fix hint.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Overrides the severity.
    #[must_use]
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }
}

impl fmt::Display for Diagnostic {
    /// `file:line:col: severity[Zn]: message` (the compact form used in logs and fixtures).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.position {
            write!(f, "{}:{}:{}: ", p.file, p.line, p.column)?;
        }
        write!(f, "{}[{}]: {}", self.severity, self.rule.id(), self.message)
    }
}
