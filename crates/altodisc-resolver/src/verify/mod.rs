//! Verification of a discovered ALTO server: fetch its Information Resource Directory over HTTPS
//! and check it (RFC 7285 §9.2; RFC 5986 §2 asks that a discovered URI be verified by a real
//! request; SPEC §9.1 `verify_ird`).
//!
//! ```text
//!   IrdVerifier::new(&VerifyOptions)      one HTTP client: rustls (ring), OS roots + --ca-file,
//!        │                                redirect policy (limit, loop, no https→http), timeouts
//!        ▼
//!   verifier.verify(uri).await
//!     1. scheme https (http only with allow_http)
//!     2. GET uri, Accept: application/alto-directory+json,application/alto-error+json
//!        TLS certificate checked against the URI host (RFC 7286 §6.1, RFC 6125)
//!     3. alto-error+json → AltoError{meta.code}; status ≠ 200 → HttpStatus;
//!        media type ≠ alto-directory+json → WrongMediaType (§8.3.4.2)
//!     4. body read chunk by chunk, aborted past max_body_bytes (never buffered whole)
//!     5. strict JSON → ird::check_ird (root) → IrdReport { services, nested, warnings }
//!     6. with follow_nested: the same for each nested IRD, bounded depth and count, no revisits
//!
//!   verifier.verify_in_order(&uris).await  RFC 3958 §2.2.4 backtracking for candidate lists:
//!                                          try each in order until one verifies
//! ```
//!
//! The pure checks (media type, JSON, IRD structure) live in [`ird`] and are table-tested there.

pub mod ird;

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde::Serialize;
use url::Url;

pub use ird::{CheckedIrd, IrdError, IrdRole, JsonError, ServiceEntry, ServiceKind};

/// Default time to establish a TCP + TLS connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time for one whole request, body included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// Default number of redirects followed.
pub const DEFAULT_MAX_REDIRECTS: usize = 5;
/// Default response size limit. An IRD lists resources, not data: the RFC 7285 §9.2.3 example is
/// about 2 KB, so 1 MiB leaves ample room while bounding what a hostile server can make us hold.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 1024 * 1024;
/// Default depth of nested IRDs followed (root = 0).
pub const DEFAULT_MAX_NESTED_DEPTH: usize = 3;
/// Default number of nested IRDs fetched in total for one root.
pub const DEFAULT_MAX_NESTED_IRDS: usize = 16;

/// How to verify. Build with [`VerifyOptions::default`] and set fields.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifyOptions {
    /// Accept `http://` URIs (and redirects to them). RFC 7285 §8.3.5 wants TLS; off by default.
    pub allow_http: bool,
    /// Extra trust anchors (PEM files, e.g. a private CA), added to the OS roots.
    pub ca_files: Vec<PathBuf>,
    /// Whether to trust the operating system's roots. Off only for tests and private setups.
    pub use_system_roots: bool,
    /// TCP + TLS connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout (headers and body).
    pub timeout: Duration,
    /// Redirects followed before giving up.
    pub max_redirects: usize,
    /// Largest body read; the transfer is aborted past it.
    pub max_body_bytes: u64,
    /// Fetch and check nested IRDs (RFC 7285 §9.2.4).
    pub follow_nested: bool,
    /// Deepest nesting level followed (1 = only the root's nested IRDs).
    pub max_nested_depth: usize,
    /// Most nested IRDs fetched for one root.
    pub max_nested_irds: usize,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            allow_http: false,
            ca_files: Vec::new(),
            use_system_roots: true,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            follow_nested: false,
            max_nested_depth: DEFAULT_MAX_NESTED_DEPTH,
            max_nested_irds: DEFAULT_MAX_NESTED_IRDS,
        }
    }
}

/// What went wrong at the transport level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum TransportKind {
    /// Connect or request timed out.
    Timeout,
    /// TLS failed (certificate not trusted, name mismatch, handshake).
    Tls,
    /// TCP connect failed (refused, unreachable, DNS lookup of the host failed).
    Connect,
    /// Anything else (protocol error, connection reset while reading).
    Other,
}

/// Why a URI did not verify. Classifier methods let callers decide without matching deep.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Not an absolute http(s) URI with a host.
    #[error("invalid URI {uri:?}: {reason}")]
    InvalidUri {
        /// The URI as given.
        uri: String,
        /// Why.
        reason: String,
    },
    /// `http://` without `allow_http` (RFC 7285 §8.3.5).
    #[error("refusing plain http for {uri} (RFC 7285 §8.3.5 wants https; allow it explicitly)")]
    InsecureScheme {
        /// The URI.
        uri: String,
    },
    /// A `--ca-file` could not be read or holds no certificate.
    #[error("CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// No trust anchor at all (no OS roots found and no CA file).
    #[error("no trusted root certificates (OS store empty or unreadable: {reason}); use a CA file")]
    NoTrustedRoots {
        /// What the OS store loader said.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("HTTP client setup failed: {0}")]
    Client(String),
    /// Connecting, TLS or the exchange failed.
    #[error("{kind_label} error: {detail}", kind_label = transport_label(*kind))]
    Transport {
        /// Category.
        kind: TransportKind,
        /// The error chain, joined.
        detail: String,
    },
    /// Too many redirects, a redirect loop, or a redirect from https to http.
    #[error("redirect refused: {detail}")]
    Redirect {
        /// Why.
        detail: String,
    },
    /// An `application/alto-error+json` response (RFC 7285 §8.5).
    #[error("ALTO error response (HTTP {status}): code {}", code.as_deref().unwrap_or("(none)"))]
    AltoError {
        /// HTTP status.
        status: u16,
        /// `meta.code`, e.g. `E_SYNTAX`.
        code: Option<String>,
    },
    /// A status other than 200 without an ALTO error body.
    #[error("HTTP status {status} (RFC 7285 §9.2 wants 200)")]
    HttpStatus {
        /// HTTP status.
        status: u16,
    },
    /// 200, but not `application/alto-directory+json` (RFC 7285 §8.3.4.2).
    #[error(
        "wrong media type {}: RFC 7285 §9.2.1 wants application/alto-directory+json",
        got.as_deref().map_or_else(|| "(no Content-Type)".to_owned(), |g| format!("{g:?}"))
    )]
    WrongMediaType {
        /// The media type received (lowercased, parameters dropped), if any.
        got: Option<String>,
    },
    /// The body exceeded the size limit; the transfer was aborted.
    #[error("response larger than the {limit}-byte limit; aborted")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The body is not strict JSON.
    #[error("{0}")]
    Json(#[from] JsonError),
    /// The JSON is not a valid IRD.
    #[error("invalid IRD: {0}")]
    Ird(#[from] IrdError),
}

fn transport_label(kind: TransportKind) -> &'static str {
    match kind {
        TransportKind::Timeout => "timeout",
        TransportKind::Tls => "TLS",
        TransportKind::Connect => "connect",
        TransportKind::Other => "HTTP",
    }
}

impl VerifyError {
    /// A stable short name for JSON output and scripts, e.g. `wrong-media-type`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidUri { .. } => "invalid-uri",
            Self::InsecureScheme { .. } => "insecure-scheme",
            Self::CaFile { .. } => "ca-file",
            Self::NoTrustedRoots { .. } => "no-trusted-roots",
            Self::Client(_) => "client",
            Self::Transport { kind, .. } => match kind {
                TransportKind::Timeout => "timeout",
                TransportKind::Tls => "tls",
                TransportKind::Connect => "connect",
                TransportKind::Other => "transport",
            },
            Self::Redirect { .. } => "redirect",
            Self::AltoError { .. } => "alto-error",
            Self::HttpStatus { .. } => "http-status",
            Self::WrongMediaType { .. } => "wrong-media-type",
            Self::TooLarge { .. } => "too-large",
            Self::Json(_) => "json",
            Self::Ird(_) => "invalid-ird",
        }
    }

    /// The caller's input or configuration is wrong (bad URI, http not allowed, CA file):
    /// trying again or trying the server later will not help.
    #[must_use]
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Self::InvalidUri { .. }
                | Self::InsecureScheme { .. }
                | Self::CaFile { .. }
                | Self::NoTrustedRoots { .. }
                | Self::Client(_)
        )
    }

    /// A TLS failure (untrusted certificate, wrong name, handshake).
    #[must_use]
    pub fn is_tls(&self) -> bool {
        matches!(
            self,
            Self::Transport {
                kind: TransportKind::Tls,
                ..
            }
        )
    }

    /// A timeout.
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            Self::Transport {
                kind: TransportKind::Timeout,
                ..
            }
        )
    }

    /// The `meta.code` of an ALTO error response.
    #[must_use]
    pub fn alto_code(&self) -> Option<&str> {
        match self {
            Self::AltoError { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

/// A verified IRD: what the server offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IrdReport {
    /// The URI that was asked for.
    pub uri: String,
    /// The URI the IRD was finally retrieved from (differs after redirects); the base for
    /// relative entry URIs.
    pub final_uri: String,
    /// The IRD's content.
    #[serde(flatten)]
    pub ird: CheckedIrd,
    /// Nested IRDs (RFC 7285 §9.2.4) and what following them gave.
    pub nested: Vec<NestedIrd>,
}

impl IrdReport {
    /// Whether the IRD (not counting nested ones) has an entry of `kind`.
    #[must_use]
    pub fn has(&self, kind: ServiceKind) -> bool {
        self.ird.has(kind)
    }
}

/// One nested IRD entry and, when followed, its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NestedIrd {
    /// Resource ID in the parent.
    pub id: String,
    /// Resolved URI.
    pub uri: String,
    /// Whether it was fetched.
    pub followed: bool,
    /// Why it was not followed (option off, depth or count limit, already visited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_followed_reason: Option<String>,
    /// The nested IRD's report when it verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Box<IrdReport>>,
    /// Why it did not verify. A broken nested IRD does not fail the root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorReport>,
}

/// A [`VerifyError`] for JSON output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorReport {
    /// [`VerifyError::kind`].
    pub kind: &'static str,
    /// The full message.
    pub message: String,
    /// `meta.code` for ALTO error responses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alto_code: Option<String>,
}

impl From<&VerifyError> for ErrorReport {
    fn from(e: &VerifyError) -> Self {
        Self {
            kind: e.kind(),
            message: e.to_string(),
            alto_code: e.alto_code().map(str::to_owned),
        }
    }
}

/// The outcome for one URI in the shape every subcommand prints: `uri`, `verified`, `services`,
/// and `error` when it failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// The URI checked.
    pub uri: String,
    /// Whether it verified.
    pub verified: bool,
    /// The root IRD's entries (empty when not verified).
    pub services: Vec<ServiceEntry>,
    /// `meta.default-alto-network-map`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_network_map: Option<String>,
    /// Where the IRD was finally fetched from, when verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_uri: Option<String>,
    /// Nested IRDs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nested: Vec<NestedIrd>,
    /// Warnings from the IRD check.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Why it did not verify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorReport>,
}

impl Verification {
    /// Builds the printable outcome from a [`IrdVerifier::verify`] result.
    #[must_use]
    pub fn new(uri: &str, result: &Result<IrdReport, VerifyError>) -> Self {
        match result {
            Ok(r) => Self {
                uri: uri.to_owned(),
                verified: true,
                services: r.ird.services.clone(),
                default_network_map: r.ird.default_network_map.clone(),
                final_uri: Some(r.final_uri.clone()),
                nested: r.nested.clone(),
                warnings: r.ird.warnings.clone(),
                error: None,
            },
            Err(e) => Self {
                uri: uri.to_owned(),
                verified: false,
                services: Vec::new(),
                default_network_map: None,
                final_uri: None,
                nested: Vec::new(),
                warnings: Vec::new(),
                error: Some(ErrorReport::from(e)),
            },
        }
    }
}

impl fmt::Display for Verification {
    /// One line: `verified (N services)` or `not verified: reason`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            None => write!(f, "verified ({} IRD entries)", self.services.len()),
            Some(e) => write!(f, "not verified: {}", e.message),
        }
    }
}

/// Fetches and checks IRDs. Cheap to share: one connection pool for all candidates.
#[derive(Debug, Clone)]
pub struct IrdVerifier {
    client: reqwest::Client,
    options: VerifyOptions,
}

impl IrdVerifier {
    /// Builds the HTTP client: TLS roots, timeouts and redirect policy from `options`.
    ///
    /// # Errors
    /// [`VerifyError::CaFile`], [`VerifyError::NoTrustedRoots`] or [`VerifyError::Client`].
    pub fn new(options: &VerifyOptions) -> Result<Self, VerifyError> {
        let tls = tls_config(options)?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .redirect(redirect_policy(options.max_redirects, options.allow_http))
            .connect_timeout(options.connect_timeout)
            .timeout(options.timeout)
            .https_only(!options.allow_http)
            // Verification talks to the discovered server itself; a proxy would change which
            // host answers (the certificate is still checked against the URI host).
            .no_proxy()
            .user_agent(concat!("altodisc/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| VerifyError::Client(error_chain(&e)))?;
        Ok(Self {
            client,
            options: options.clone(),
        })
    }

    /// The options this verifier was built with.
    #[must_use]
    pub fn options(&self) -> &VerifyOptions {
        &self.options
    }

    /// Verifies `uri` as a root IRD, following nested IRDs when configured.
    ///
    /// # Errors
    /// The first reason the root IRD does not verify. Nested IRD failures are reported inside
    /// the [`IrdReport`], not here.
    pub async fn verify(&self, uri: &str) -> Result<IrdReport, VerifyError> {
        let url = self.check_uri(uri)?;
        let (final_url, ird) = self.fetch_ird(&url, IrdRole::Root).await?;
        let mut visited = HashSet::from([strip_fragment(&url), strip_fragment(&final_url)]);
        let mut budget = self.options.max_nested_irds;
        let nested = self.nested(&ird, 1, &mut visited, &mut budget).await;
        Ok(IrdReport {
            uri: uri.to_owned(),
            final_uri: final_url.into(),
            ird,
            nested,
        })
    }

    /// RFC 3958 §2.2.4 backtracking over an ordered candidate list: verifies each URI in order
    /// and stops at the first that verifies. Returns one [`Verification`] per URI tried (the
    /// last one is the verified one, if any); candidates after it are not contacted.
    pub async fn verify_in_order<S: AsRef<str>>(&self, uris: &[S]) -> Vec<Verification> {
        let mut tried = Vec::new();
        for uri in uris {
            let uri = uri.as_ref();
            let result = self.verify(uri).await;
            let v = Verification::new(uri, &result);
            let done = v.verified;
            tried.push(v);
            if done {
                break;
            }
        }
        tried
    }

    fn check_uri(&self, uri: &str) -> Result<Url, VerifyError> {
        check_uri(uri, self.options.allow_http)
    }
    /// GET + checks for one IRD. Returns the final URL (after redirects) and the checked IRD.
    async fn fetch_ird(&self, url: &Url, role: IrdRole) -> Result<(Url, CheckedIrd), VerifyError> {
        let mut response = self
            .client
            .get(url.clone())
            .header(ACCEPT, ird::ACCEPT_IRD)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let status = response.status().as_u16();
        let final_url = response.url().clone();
        let media = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(ird::media_type);

        if media.as_deref() == Some(ird::MEDIA_ERROR) {
            // RFC 7285 §8.5: the body carries meta.code. An unreadable or oversized body still
            // reports the status; the code is then unknown.
            let code = read_limited(&mut response, self.options.max_body_bytes)
                .await
                .ok()
                .and_then(|b| ird::parse_json(&b).ok())
                .and_then(|v| ird::alto_error_code(&v));
            return Err(VerifyError::AltoError { status, code });
        }
        if status != 200 {
            return Err(VerifyError::HttpStatus { status });
        }
        if media.as_deref() != Some(ird::MEDIA_DIRECTORY) {
            return Err(VerifyError::WrongMediaType { got: media });
        }
        let body = read_limited(&mut response, self.options.max_body_bytes).await?;
        let value = ird::parse_json(&body)?;
        let checked = ird::check_ird(&value, &final_url, role)?;
        Ok((final_url, checked))
    }

    /// Follows the nested IRDs of `ird` (RFC 7285 §9.2.4), depth-first, bounded by depth, a total
    /// budget and a visited set (delegations may point back).
    fn nested<'a>(
        &'a self,
        ird: &'a CheckedIrd,
        depth: usize,
        visited: &'a mut HashSet<String>,
        budget: &'a mut usize,
    ) -> std::pin::Pin<Box<dyn Future<Output = Vec<NestedIrd>> + Send + 'a>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for entry in ird.nested() {
                let mut n = NestedIrd {
                    id: entry.id.clone(),
                    uri: entry.uri.clone(),
                    followed: false,
                    not_followed_reason: None,
                    report: None,
                    error: None,
                };
                let skip = if !self.options.follow_nested {
                    Some("following nested IRDs is off".to_owned())
                } else if depth > self.options.max_nested_depth {
                    Some(format!(
                        "deeper than {} levels",
                        self.options.max_nested_depth
                    ))
                } else if *budget == 0 {
                    Some(format!(
                        "more than {} nested IRDs",
                        self.options.max_nested_irds
                    ))
                } else if visited.contains(&strip_fragment_str(&entry.uri)) {
                    Some("already visited".to_owned())
                } else {
                    None
                };
                if let Some(reason) = skip {
                    n.not_followed_reason = Some(reason);
                    out.push(n);
                    continue;
                }
                *budget -= 1;
                visited.insert(strip_fragment_str(&entry.uri));
                n.followed = true;
                let result = match self.check_uri(&entry.uri) {
                    Ok(url) => self.fetch_ird(&url, IrdRole::Nested).await,
                    Err(e) => Err(e),
                };
                match result {
                    Ok((final_url, child)) => {
                        visited.insert(strip_fragment(&final_url));
                        let grandchildren = self.nested(&child, depth + 1, visited, budget).await;
                        n.report = Some(Box::new(IrdReport {
                            uri: entry.uri.clone(),
                            final_uri: final_url.into(),
                            ird: child,
                            nested: grandchildren,
                        }));
                    }
                    Err(e) => n.error = Some(ErrorReport::from(&e)),
                }
                out.push(n);
            }
            out
        })
    }
}

/// Scheme and host rules for a URI to verify: https, or http when allowed (RFC 7285 §8.3.5).
fn check_uri(uri: &str, allow_http: bool) -> Result<Url, VerifyError> {
    let invalid = |reason: &str| VerifyError::InvalidUri {
        uri: uri.to_owned(),
        reason: reason.to_owned(),
    };
    // RFC 3986 syntax first: the WHATWG parser in `url` repairs input such as `https:///x`.
    // A `!` is legal in a URI; only the U-NAPTR encoding forbids it (SPEC §8 A3).
    match altodisc_proto::uri::check_uri(uri) {
        Ok(_) | Err(altodisc_proto::uri::UriError::ContainsDelimiter { .. }) => {}
        Err(e) => return Err(invalid(&e.to_string())),
    }
    let url = Url::parse(uri).map_err(|e| invalid(&e.to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => {
            return Err(VerifyError::InsecureScheme {
                uri: uri.to_owned(),
            });
        }
        _ => return Err(invalid("scheme is not http or https")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    Ok(url)
}

fn strip_fragment(url: &Url) -> String {
    let mut u = url.clone();
    u.set_fragment(None);
    u.into()
}

fn strip_fragment_str(uri: &str) -> String {
    Url::parse(uri).map_or_else(|_| uri.to_owned(), |u| strip_fragment(&u))
}

/// Reads the body chunk by chunk and aborts as soon as it exceeds `limit` (dropping the response
/// closes the connection), so a hostile server cannot make us buffer more than `limit` bytes.
async fn read_limited(
    response: &mut reqwest::Response,
    limit: u64,
) -> Result<Vec<u8>, VerifyError> {
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(VerifyError::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e))? {
        let new_len = u64::try_from(body.len().saturating_add(chunk.len())).unwrap_or(u64::MAX);
        if new_len > limit {
            return Err(VerifyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Redirect policy: at most `max` hops, no loops, and never from https down to http unless
/// plain http is allowed (a downgrade would drop the certificate check of RFC 7286 §6.1).
fn redirect_policy(max: usize, allow_http: bool) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        let next = attempt.url().clone();
        let previous = attempt.previous();
        if previous.contains(&next) {
            let detail = format!("redirect loop back to {next}");
            return attempt.error(RedirectRefused(detail));
        }
        // `previous` starts with the original URL, which is not a redirect.
        if previous.len() > max {
            let detail = format!("more than {max} redirects");
            return attempt.error(RedirectRefused(detail));
        }
        if next.scheme() != "https" && !allow_http {
            let detail = format!("redirect to non-https {next}");
            return attempt.error(RedirectRefused(detail));
        }
        attempt.follow()
    })
}

/// Carries a redirect refusal through reqwest's error chain so [`classify`] can find it.
#[derive(Debug)]
struct RedirectRefused(String);

impl fmt::Display for RedirectRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RedirectRefused {}

/// Maps a reqwest error to a [`VerifyError`] by walking its source chain.
fn classify(e: &reqwest::Error) -> VerifyError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut tls = false;
    while let Some(err) = source {
        if let Some(r) = err.downcast_ref::<RedirectRefused>() {
            return VerifyError::Redirect {
                detail: r.0.clone(),
            };
        }
        if err.downcast_ref::<rustls::Error>().is_some() {
            tls = true;
        }
        // io::Error::source() skips the wrapped error itself (and hyper-util wraps rustls's
        // io::Error in another one), so unwrap io errors explicitly.
        let mut io = err.downcast_ref::<std::io::Error>();
        while let Some(inner) = io.and_then(std::io::Error::get_ref) {
            if inner.downcast_ref::<rustls::Error>().is_some() {
                tls = true;
            }
            io = inner.downcast_ref::<std::io::Error>();
        }
        source = err.source();
    }
    let kind = if e.is_timeout() {
        TransportKind::Timeout
    } else if tls {
        TransportKind::Tls
    } else if e.is_connect() {
        TransportKind::Connect
    } else {
        TransportKind::Other
    };
    // reqwest's own message only repeats the URL ("error sending request for url (...)"); the
    // causes below it say what happened.
    let detail = std::error::Error::source(e).map_or_else(|| error_chain(e), error_chain);
    if e.is_redirect() {
        return VerifyError::Redirect { detail };
    }
    VerifyError::Transport { kind, detail }
}

/// "outer: inner: innermost", without repeating a message that its source already says.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = Some(e);
    while let Some(err) = source {
        let msg = err.to_string();
        if parts.last().is_none_or(|last| !last.contains(&msg)) {
            parts.push(msg);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
        {
            let inner_msg = inner.to_string();
            if parts.last().is_none_or(|last| !last.contains(&inner_msg)) {
                parts.push(inner_msg);
            }
        }
        source = err.source();
    }
    parts.join(": ")
}

/// rustls configuration: ring provider, OS roots (unless disabled) plus the CA files, TLS 1.2+,
/// HTTP/1.1 ALPN. rustls checks the certificate against the URI host (RFC 6125; RFC 7286 §6.1).
fn tls_config(options: &VerifyOptions) -> Result<rustls::ClientConfig, VerifyError> {
    let mut roots = rustls::RootCertStore::empty();
    let mut os_problem = String::new();
    if options.use_system_roots {
        let loaded = rustls_native_certs::load_native_certs();
        let (added, _ignored) = roots.add_parsable_certificates(loaded.certs);
        if added == 0 {
            os_problem = loaded
                .errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            if os_problem.is_empty() {
                os_problem = "no certificates found".to_owned();
            }
        }
    } else {
        os_problem = "OS roots disabled".to_owned();
    }
    for path in &options.ca_files {
        add_ca_file(&mut roots, path)?;
    }
    if roots.is_empty() {
        return Err(VerifyError::NoTrustedRoots { reason: os_problem });
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| VerifyError::Client(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn add_ca_file(roots: &mut rustls::RootCertStore, path: &Path) -> Result<(), VerifyError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject as _;
    let err = |reason: String| VerifyError::CaFile {
        path: path.display().to_string(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no PEM certificate in the file".to_owned()));
    }
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| err(format!("unusable certificate: {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn uri_scheme_rules() {
        assert!(check_uri("https://alto.example.net/ird", false).is_ok());
        assert_eq!(
            check_uri("http://alto.example.net/ird", false),
            Err(VerifyError::InsecureScheme {
                uri: "http://alto.example.net/ird".into()
            })
        );
        assert!(matches!(
            check_uri("ftp://alto.example.net/ird", true),
            Err(VerifyError::InvalidUri { .. })
        ));
        assert!(matches!(
            check_uri("/relative", true),
            Err(VerifyError::InvalidUri { .. })
        ));
        assert!(matches!(
            check_uri("https:///ird", false),
            Err(VerifyError::InvalidUri { .. })
        ));
        assert!(check_uri("http://alto.example.net/ird", true).is_ok());
    }

    #[test]
    fn error_kinds_and_classifiers() {
        let e = VerifyError::AltoError {
            status: 400,
            code: Some("E_SYNTAX".into()),
        };
        assert_eq!(e.kind(), "alto-error");
        assert_eq!(e.alto_code(), Some("E_SYNTAX"));
        assert!(!e.is_usage());
        assert!(VerifyError::InsecureScheme { uri: String::new() }.is_usage());
        let wrong = VerifyError::WrongMediaType {
            got: Some("application/json".into()),
        };
        assert_eq!(
            wrong.to_string(),
            "wrong media type \"application/json\": RFC 7285 §9.2.1 wants application/alto-directory+json"
        );
    }

    #[test]
    fn missing_ca_file_is_a_usage_error() {
        let mut o = VerifyOptions::default();
        o.ca_files.push(PathBuf::from("/nonexistent/ca.pem"));
        let e = IrdVerifier::new(&o).unwrap_err();
        assert_eq!(e.kind(), "ca-file");
        assert!(e.is_usage());
    }

    #[test]
    fn no_roots_at_all_is_an_error() {
        let o = VerifyOptions {
            use_system_roots: false,
            ..VerifyOptions::default()
        };
        assert_eq!(IrdVerifier::new(&o).unwrap_err().kind(), "no-trusted-roots");
    }

    #[test]
    fn verification_json_shape() {
        let v = Verification::new(
            "https://a.example/ird",
            &Err(VerifyError::AltoError {
                status: 400,
                code: Some("E_SYNTAX".into()),
            }),
        );
        let j = serde_json::to_value(&v).unwrap();
        assert_eq!(j["uri"], "https://a.example/ird");
        assert_eq!(j["verified"], false);
        assert_eq!(j["services"], serde_json::json!([]));
        assert_eq!(j["error"]["kind"], "alto-error");
        assert_eq!(j["error"]["alto_code"], "E_SYNTAX");
    }
}
