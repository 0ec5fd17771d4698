//! TSIG (RFC 8945): shared-secret authentication of zone transfers, SOA queries and NOTIFY
//! between altodisc and its secondaries.
//!
//! * Keys come from the `[serve]` config ([`TsigKeyConfig`]): a name, an algorithm
//!   (hmac-sha256, hmac-sha384, hmac-sha512; hmac-sha1 with a warning, RFC 8945 §6 keeps it
//!   only for interoperability) and a base64 secret read from a file or an environment
//!   variable. Secrets are never logged: [`TsigKey`]'s `Debug` leaves them out.
//! * A signed request is verified in the order of RFC 8945 §5.2: key (§5.2.1, BADKEY), MAC
//!   (§5.2.2, BADSIG; a MAC longer than the hash or shorter than 10 octets or half the hash is
//!   FORMERR), time (§5.2.3, BADTIME), truncation policy (§5.2.4, BADTRUNC: only full-length
//!   MACs are accepted). Each failure is answered with RCODE NOTAUTH and the TSIG error in a
//!   TSIG record, unsigned for BADKEY/BADSIG and signed for BADTIME/BADTRUNC (§5.3.2).
//! * A verified request gets signed responses ([`ResponseSigner`]): the first message with the
//!   request's MAC and all TSIG variables, every later message of a multi-message zone transfer
//!   with the previous MAC and only the timers (§5.3.1).
//! * A TSIG record that is not the last record of the additional section is FORMERR (§5.1):
//!   hickory's decoder refuses such a message, and the server answers undecodable queries
//!   with FORMERR.
//!
//! hickory-proto 0.26 provides the wire format (the TSIG RDATA, the algorithm names, the error
//! codes) and the to-be-verified octets of a request ([`signed_bitmessage_to_buf`]); the MACs
//! are computed here with ring because hickory's TSIG code has neither HMAC-SHA1 nor truncated
//! MACs, and its time check is left to the caller.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hickory_proto::op::{Edns, Message, Metadata, OpCode, Query, ResponseCode};
use hickory_proto::rr::Name;
use hickory_proto::rr::rdata::tsig::{
    TSIG, TsigAlgorithm, TsigError, make_tsig_record, signed_bitmessage_to_buf,
};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use ring::hmac;
use serde::Deserialize;

/// Default allowed difference between the signer's clock and ours, in seconds (RFC 8945 §10
/// recommends 300).
pub const DEFAULT_FUDGE: u16 = 300;

/// A supported MAC algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TsigAlg {
    /// hmac-sha1: accepted for old secondaries, with a warning (RFC 8945 §6: "MAY").
    HmacSha1,
    /// hmac-sha256 (RFC 8945 §6: mandatory to implement).
    HmacSha256,
    /// hmac-sha384.
    HmacSha384,
    /// hmac-sha512.
    HmacSha512,
}

impl TsigAlg {
    /// The algorithm for a config name (`hmac-sha256`) or a wire name (`hmac-sha256.`).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim_end_matches('.').to_ascii_lowercase().as_str() {
            "hmac-sha1" => Some(Self::HmacSha1),
            "hmac-sha256" => Some(Self::HmacSha256),
            "hmac-sha384" => Some(Self::HmacSha384),
            "hmac-sha512" => Some(Self::HmacSha512),
            _ => None,
        }
    }

    fn from_wire(alg: &TsigAlgorithm) -> Option<Self> {
        match alg {
            TsigAlgorithm::HmacSha1 => Some(Self::HmacSha1),
            TsigAlgorithm::HmacSha256 => Some(Self::HmacSha256),
            TsigAlgorithm::HmacSha384 => Some(Self::HmacSha384),
            TsigAlgorithm::HmacSha512 => Some(Self::HmacSha512),
            _ => None,
        }
    }

    fn wire(self) -> TsigAlgorithm {
        match self {
            Self::HmacSha1 => TsigAlgorithm::HmacSha1,
            Self::HmacSha256 => TsigAlgorithm::HmacSha256,
            Self::HmacSha384 => TsigAlgorithm::HmacSha384,
            Self::HmacSha512 => TsigAlgorithm::HmacSha512,
        }
    }

    fn ring(self) -> hmac::Algorithm {
        match self {
            Self::HmacSha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Self::HmacSha256 => hmac::HMAC_SHA256,
            Self::HmacSha384 => hmac::HMAC_SHA384,
            Self::HmacSha512 => hmac::HMAC_SHA512,
        }
    }

    /// Octets of a full MAC.
    #[must_use]
    pub fn output_len(self) -> usize {
        self.ring().digest_algorithm().output_len()
    }
}

/// One `[[serve.tsig_keys]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TsigKeyConfig {
    /// Key name as the secondaries know it (a domain name, e.g. `xfr-key`).
    pub name: String,
    /// `hmac-sha256` (default), `hmac-sha384`, `hmac-sha512` or `hmac-sha1`.
    pub algorithm: Option<String>,
    /// File holding the base64 secret (relative to the config file); the file should be
    /// readable only by altodisc.
    pub secret_file: Option<PathBuf>,
    /// Environment variable holding the base64 secret.
    pub secret_env: Option<String>,
}

/// Why the TSIG configuration is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TsigConfigError {
    /// A key name that is not a domain name, or given twice.
    #[error("tsig key {0:?}: not a domain name, or defined twice; use e.g. name = \"xfr-key\"")]
    BadName(String),
    /// An algorithm outside the supported set.
    #[error(
        "tsig key {key:?}: algorithm {algorithm:?} is not supported; use hmac-sha256, \
         hmac-sha384, hmac-sha512 (or hmac-sha1)"
    )]
    Algorithm {
        /// The key.
        key: String,
        /// The algorithm given.
        algorithm: String,
    },
    /// Neither or both of `secret_file` and `secret_env`.
    #[error("tsig key {0:?}: give exactly one of secret_file and secret_env")]
    SecretSource(String),
    /// The secret cannot be read or is not base64.
    #[error("tsig key {key:?}: secret from {source_name}: {reason}")]
    Secret {
        /// The key.
        key: String,
        /// The file or variable.
        source_name: String,
        /// Why (never the secret itself).
        reason: String,
    },
    /// A reference to a key that is not configured.
    #[error("{place}: unknown tsig key {key:?}; define it in [[serve.tsig_keys]]")]
    UnknownKey {
        /// Where the reference is.
        place: String,
        /// The key name.
        key: String,
    },
}

/// A key with its secret.
pub struct TsigKey {
    name: Name,
    alg: TsigAlg,
    key: hmac::Key,
}

impl fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret is left out on purpose: keys end up in logs through Debug.
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl TsigKey {
    /// A key from its parts (`secret` is the decoded secret).
    ///
    /// # Errors
    /// [`TsigConfigError::BadName`] when `name` is not a domain name.
    pub fn new(name: &str, alg: TsigAlg, secret: &[u8]) -> Result<Self, TsigConfigError> {
        let mut parsed =
            Name::from_ascii(name).map_err(|_| TsigConfigError::BadName(name.to_owned()))?;
        parsed.set_fqdn(true);
        Ok(Self {
            name: parsed.to_lowercase(),
            alg,
            key: hmac::Key::new(alg.ring(), secret),
        })
    }

    /// The key name.
    #[must_use]
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// The algorithm.
    #[must_use]
    pub fn alg(&self) -> TsigAlg {
        self.alg
    }

    fn mac(&self, data: &[u8]) -> Vec<u8> {
        hmac::sign(&self.key, data).as_ref().to_vec()
    }
}

/// Why a signed request was not accepted (the `reason` label of
/// `altodisc_tsig_failures_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TsigFailure {
    /// Unknown key name or algorithm (RFC 8945 §5.2.1).
    BadKey,
    /// The MAC does not verify (§5.2.2).
    BadSig,
    /// Time signed outside the fudge (§5.2.3).
    BadTime,
    /// A truncated MAC, shorter than our policy (full length) (§5.2.4).
    BadTrunc,
    /// A MAC of impossible length (§5.2.2.1: FORMERR).
    FormErr,
    /// A transfer from a client whose `allow_transfer` entry asks for a key, without one or
    /// with another one.
    Unsigned,
}

impl TsigFailure {
    const ALL: [Self; 6] = [
        Self::BadKey,
        Self::BadSig,
        Self::BadTime,
        Self::BadTrunc,
        Self::FormErr,
        Self::Unsigned,
    ];

    /// The metric label.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::BadKey => "badkey",
            Self::BadSig => "badsig",
            Self::BadTime => "badtime",
            Self::BadTrunc => "badtrunc",
            Self::FormErr => "formerr",
            Self::Unsigned => "unsigned",
        }
    }
}

/// Counters of TSIG failures by reason, rendered into `/metrics`.
#[derive(Debug, Default)]
pub struct TsigFailureCounters([AtomicU64; 6]);

impl TsigFailureCounters {
    /// Counts one failure.
    pub fn count(&self, why: TsigFailure) {
        if let Some(i) = TsigFailure::ALL.iter().position(|w| *w == why)
            && let Some(c) = self.0.get(i)
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The count for one reason.
    #[must_use]
    pub fn get(&self, why: TsigFailure) -> u64 {
        TsigFailure::ALL
            .iter()
            .position(|w| *w == why)
            .and_then(|i| self.0.get(i))
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// (metric label, count) for every reason, in a fixed order: `altodisc_tsig_failures_total`.
    #[must_use]
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        TsigFailure::ALL
            .iter()
            .map(|why| (why.label(), self.get(*why)))
            .collect()
    }
}

/// The configured keys and the time fudge.
#[derive(Debug, Clone)]
pub struct TsigKeyring {
    keys: Vec<Arc<TsigKey>>,
    fudge: u16,
}

impl Default for TsigKeyring {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            fudge: DEFAULT_FUDGE,
        }
    }
}

/// Reads a secret: base64 (RFC 4648 §4) with surrounding white space ignored, as in BIND's and
/// Knot's key files.
fn decode_secret(text: &str) -> Result<Vec<u8>, String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let secret = data_encoding::BASE64
        .decode(compact.as_bytes())
        .map_err(|_| "not base64 (expected e.g. the secret of `tsig-keygen` or `keymgr -t`)")?;
    if secret.is_empty() {
        return Err("empty secret".to_owned());
    }
    Ok(secret)
}

impl TsigKeyring {
    /// Keys from the config; relative `secret_file`s are taken from `base_dir`. Returns the
    /// keyring and warnings (hmac-sha1 keys).
    ///
    /// # Errors
    /// The first key that cannot be used.
    pub fn from_config(
        keys: &[TsigKeyConfig],
        fudge: Option<u16>,
        base_dir: &Path,
    ) -> Result<(Self, Vec<String>), TsigConfigError> {
        let mut ring = Self {
            keys: Vec::new(),
            fudge: fudge.unwrap_or(DEFAULT_FUDGE),
        };
        let mut warnings = Vec::new();
        for k in keys {
            let alg_name = k.algorithm.as_deref().unwrap_or("hmac-sha256");
            let alg = TsigAlg::from_name(alg_name).ok_or_else(|| TsigConfigError::Algorithm {
                key: k.name.clone(),
                algorithm: alg_name.to_owned(),
            })?;
            if alg == TsigAlg::HmacSha1 {
                warnings.push(format!(
                    "tsig key {:?} uses hmac-sha1, kept only for old secondaries (RFC 8945 §6); \
                     move to hmac-sha256",
                    k.name
                ));
            }
            let secret_err = |source_name: String, reason: String| TsigConfigError::Secret {
                key: k.name.clone(),
                source_name,
                reason,
            };
            let secret = match (&k.secret_file, &k.secret_env) {
                (Some(file), None) => {
                    let path = base_dir.join(file);
                    let shown = path.display().to_string();
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| secret_err(shown.clone(), e.to_string()))?;
                    decode_secret(&text).map_err(|r| secret_err(shown, r))?
                }
                (None, Some(var)) => {
                    let shown = format!("${var}");
                    let text =
                        std::env::var(var).map_err(|e| secret_err(shown.clone(), e.to_string()))?;
                    decode_secret(&text).map_err(|r| secret_err(shown, r))?
                }
                _ => return Err(TsigConfigError::SecretSource(k.name.clone())),
            };
            let key = TsigKey::new(&k.name, alg, &secret)?;
            if ring.find(key.name()).is_some() {
                return Err(TsigConfigError::BadName(k.name.clone()));
            }
            ring.keys.push(Arc::new(key));
        }
        Ok((ring, warnings))
    }

    /// A keyring of `keys` with `fudge` seconds.
    #[must_use]
    pub fn new(keys: Vec<TsigKey>, fudge: u16) -> Self {
        Self {
            keys: keys.into_iter().map(Arc::new).collect(),
            fudge,
        }
    }

    /// The key called `name` (case-insensitive, RFC 4343).
    #[must_use]
    pub fn find(&self, name: &Name) -> Option<&Arc<TsigKey>> {
        self.keys.iter().find(|k| &k.name == name)
    }

    /// The key called `name` given as text.
    ///
    /// # Errors
    /// [`TsigConfigError::UnknownKey`] naming `place`.
    pub fn find_str(&self, name: &str, place: &str) -> Result<Arc<TsigKey>, TsigConfigError> {
        let unknown = || TsigConfigError::UnknownKey {
            place: place.to_owned(),
            key: name.to_owned(),
        };
        let mut parsed = Name::from_ascii(name).map_err(|_| unknown())?;
        parsed.set_fqdn(true);
        self.find(&parsed).cloned().ok_or_else(unknown)
    }

    /// The allowed clock difference in seconds.
    #[must_use]
    pub fn fudge(&self) -> u16 {
        self.fudge
    }

    /// Verifies the TSIG record of `wire` (a query; `None` inside when it has none) at `now`
    /// (seconds since the epoch), following RFC 8945 §5.2.
    #[must_use]
    pub fn verify(&self, wire: &[u8], now: u64) -> Verdict {
        // No additional record, no TSIG: the common case costs one header read.
        if wire.get(10..12).is_none_or(|c| c == [0, 0]) {
            return Verdict::Unsigned;
        }
        let Ok(message) = Message::from_vec(wire) else {
            // Undecodable (including a TSIG that is not last, §5.1): the caller's FORMERR.
            return Verdict::Unsigned;
        };
        let Some(tsig) = message.signature() else {
            return Verdict::Unsigned;
        };
        let key_name = tsig.name.clone();
        let rdata = tsig.data.clone();
        let reject = |why: TsigFailure, key: Option<Arc<TsigKey>>| Verdict::Rejected {
            why,
            response: error_response(&message, &key_name, &rdata, why, key.as_deref(), now),
        };
        // §5.2.1: the key and its algorithm must be ours.
        let key = match (self.find(&key_name), TsigAlg::from_wire(&rdata.algorithm)) {
            (Some(k), Some(alg)) if k.alg == alg => k.clone(),
            _ => return reject(TsigFailure::BadKey, None),
        };
        // §5.2.2.1: a MAC longer than the hash, or shorter than 10 octets or half the hash,
        // is a format error.
        let full = key.alg.output_len();
        let mac_len = rdata.mac.len();
        if mac_len > full || mac_len < 10.max(full.div_ceil(2)) {
            return reject(TsigFailure::FormErr, None);
        }
        // §5.2.2: the MAC over the message as sent, its ID restored, without the TSIG record.
        let Ok((tbv, _)) = signed_bitmessage_to_buf(wire, None, true) else {
            return reject(TsigFailure::FormErr, None);
        };
        let expected = key.mac(&tbv);
        let matches = expected
            .get(..mac_len)
            .is_some_and(|e| constant_time_eq(e, &rdata.mac));
        if !matches {
            return reject(TsigFailure::BadSig, None);
        }
        // §5.2.3: time signed within the fudge, ours or the signer's, whichever is smaller.
        let window = u64::from(rdata.fudge.min(self.fudge));
        if now.abs_diff(rdata.time) > window {
            return reject(TsigFailure::BadTime, Some(key));
        }
        // §5.2.4: our policy accepts full-length MACs only.
        if mac_len < full {
            return reject(TsigFailure::BadTrunc, Some(key));
        }
        Verdict::Valid(ResponseSigner {
            key,
            previous_mac: rdata.mac,
            original_id: message.metadata.id,
            fudge: self.fudge,
            first: true,
        })
    }
}

/// Compares in time independent of where the first difference is (RFC 8945 §5.2.2 asks for
/// the MAC check not to leak it).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What to do with a query after its TSIG check.
#[derive(Debug)]
#[non_exhaustive]
pub enum Verdict {
    /// No TSIG record: answer as usual (transfers still need an allow-list entry without key).
    Unsigned,
    /// A valid TSIG: answer, and sign every response message with the signer.
    Valid(ResponseSigner),
    /// Refused: send `response` (NOTAUTH with the TSIG error, or FORMERR) and nothing else.
    Rejected {
        /// Why.
        why: TsigFailure,
        /// The encoded error response (`None` when it could not be encoded).
        response: Option<Vec<u8>>,
    },
}

/// Signs the responses to one verified request.
#[derive(Debug)]
pub struct ResponseSigner {
    key: Arc<TsigKey>,
    previous_mac: Vec<u8>,
    original_id: u16,
    fudge: u16,
    first: bool,
}

impl ResponseSigner {
    /// The key the request was signed with.
    #[must_use]
    pub fn key(&self) -> &Arc<TsigKey> {
        &self.key
    }

    /// Appends a TSIG record to the encoded response `wire` (which has none) and bumps its
    /// ARCOUNT. The first call signs with the request's MAC and all TSIG variables; later calls
    /// (further messages of a zone transfer) with the previous response's MAC and only the
    /// timers (RFC 8945 §5.3.1).
    ///
    /// # Errors
    /// When `wire` has no header or its ARCOUNT is full, or hickory cannot encode the record.
    pub fn sign(&mut self, wire: &mut Vec<u8>, now: u64) -> Result<(), hickory_proto::ProtoError> {
        let tsig = TSIG::new(
            self.key.alg.wire(),
            now,
            self.fudge,
            Vec::new(),
            self.original_id,
            None,
            Vec::new(),
        );
        let mac = self.mac_for(wire, &tsig, self.first)?;
        self.first = false;
        self.previous_mac.clone_from(&mac);
        append_tsig(wire, &self.key.name, tsig.set_mac(mac))
    }

    /// Like [`Self::sign`] for the first message, but may be called again to sign another
    /// candidate first message instead (a shorter one, when the first did not fit).
    ///
    /// # Errors
    /// As [`Self::sign`].
    pub fn sign_first_of_many(
        &mut self,
        wire: &mut Vec<u8>,
        now: u64,
    ) -> Result<(), hickory_proto::ProtoError> {
        let tsig = TSIG::new(
            self.key.alg.wire(),
            now,
            self.fudge,
            Vec::new(),
            self.original_id,
            None,
            Vec::new(),
        );
        let mac = self.mac_for(wire, &tsig, true)?;
        append_tsig(wire, &self.key.name, tsig.set_mac(mac))
    }

    fn mac_for(
        &self,
        wire: &[u8],
        tsig: &TSIG,
        all_variables: bool,
    ) -> Result<Vec<u8>, hickory_proto::ProtoError> {
        let mut tbs = Vec::with_capacity(wire.len() + 128);
        let mut enc = BinEncoder::new(&mut tbs);
        let prev_len = u16::try_from(self.previous_mac.len())
            .map_err(|_| hickory_proto::ProtoError::from("MAC over 65535 octets"))?;
        enc.emit_u16(prev_len)?;
        enc.emit_vec(&self.previous_mac)?;
        enc.emit_vec(wire)?;
        if all_variables {
            tsig.emit_tsig_for_mac(&mut enc, &self.key.name)?;
        } else {
            emit_timers(&mut enc, tsig)?;
        }
        Ok(self.key.mac(&tbs))
    }
}

/// Time signed (48 bits) and fudge (RFC 8945 §4.3.1, §5.3.1).
fn emit_timers(enc: &mut BinEncoder<'_>, tsig: &TSIG) -> Result<(), hickory_proto::ProtoError> {
    let [_, _, a, b, c, d, e, f] = tsig.time.to_be_bytes();
    enc.emit_vec(&[a, b, c, d, e, f])?;
    enc.emit_u16(tsig.fudge)?;
    Ok(())
}

/// Appends `tsig` as the last additional record of `wire` and adds one to ARCOUNT.
fn append_tsig(
    wire: &mut Vec<u8>,
    key_name: &Name,
    tsig: TSIG,
) -> Result<(), hickory_proto::ProtoError> {
    let arcount = wire
        .get(10..12)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .and_then(|c| c.checked_add(1))
        .ok_or_else(|| hickory_proto::ProtoError::from("no room for a TSIG record"))?;
    let record = make_tsig_record(key_name.clone(), tsig);
    let mut rr = Vec::with_capacity(160);
    {
        let mut enc = BinEncoder::new(&mut rr);
        record.emit(&mut enc)?;
    }
    wire.extend_from_slice(&rr);
    if let Some(c) = wire.get_mut(10..12) {
        c.copy_from_slice(&arcount.to_be_bytes());
    }
    Ok(())
}

/// The response to a request refused for `why` (RFC 8945 §5.2, §5.3.2): NOTAUTH (FORMERR for a
/// MAC of impossible length) with the question, an OPT record when the request had one, and a
/// TSIG record carrying the error: unsigned for BADKEY and BADSIG (no MAC), signed for BADTIME
/// (with our time in Other Data, §5.2.3) and BADTRUNC.
fn error_response(
    request: &Message,
    key_name: &Name,
    request_tsig: &TSIG,
    why: TsigFailure,
    key: Option<&TsigKey>,
    now: u64,
) -> Option<Vec<u8>> {
    let rcode = if why == TsigFailure::FormErr {
        ResponseCode::FormErr
    } else {
        ResponseCode::NotAuth
    };
    let mut m = Message::error_msg(request.metadata.id, request.metadata.op_code, rcode);
    m.metadata.recursion_desired = request.metadata.recursion_desired;
    m.metadata.checking_disabled = request.metadata.checking_disabled;
    for q in &request.queries {
        m.add_query(q.clone());
    }
    if let Some(theirs) = &request.edns {
        m.set_edns(response_edns(theirs));
    }
    let mut wire = m.to_vec().ok()?;
    if why == TsigFailure::FormErr {
        // §5.2.2.1: a plain FORMERR; there is no MAC to answer with.
        return Some(wire);
    }
    let error = match why {
        TsigFailure::BadKey => TsigError::BadKey,
        TsigFailure::BadTime => TsigError::BadTime,
        TsigFailure::BadTrunc => TsigError::BadTrunc,
        _ => TsigError::BadSig,
    };
    match key {
        Some(key) => {
            // BADTIME: time signed is the request's, so the client can check our MAC, and
            // Other Data is our clock (§5.2.3). BADTRUNC: our time.
            let (time, other) = if why == TsigFailure::BadTime {
                let [_, _, a, b, c, d, e, f] = now.to_be_bytes();
                (request_tsig.time, vec![a, b, c, d, e, f])
            } else {
                (now, Vec::new())
            };
            let tsig = TSIG::new(
                key.alg.wire(),
                time,
                request_tsig.fudge,
                Vec::new(),
                request.metadata.id,
                Some(error),
                other,
            );
            let signer = ResponseSigner {
                key: Arc::new(TsigKey {
                    name: key.name.clone(),
                    alg: key.alg,
                    key: key.key.clone(),
                }),
                previous_mac: request_tsig.mac.clone(),
                original_id: request_tsig.oid,
                fudge: request_tsig.fudge,
                first: true,
            };
            let mac = signer.mac_for(&wire, &tsig, true).ok()?;
            append_tsig(&mut wire, key_name, tsig.set_mac(mac)).ok()?;
        }
        None => {
            // §5.3.2: unsigned, the key name and algorithm as received, MAC size 0.
            let tsig = TSIG::new(
                request_tsig.algorithm.clone(),
                now,
                request_tsig.fudge,
                Vec::new(),
                request_tsig.oid,
                Some(error),
                Vec::new(),
            );
            append_tsig(&mut wire, key_name, tsig).ok()?;
        }
    }
    Some(wire)
}

fn response_edns(theirs: &Edns) -> Edns {
    let mut edns = Edns::new();
    edns.set_max_payload(crate::handler::MAX_UDP_PAYLOAD);
    edns.set_version(0);
    edns.set_dnssec_ok(theirs.flags().dnssec_ok);
    edns
}

/// Signs an outgoing request (a NOTIFY, RFC 8945 §5.1) with `key` at `now`: appends the TSIG
/// record to `wire` and returns the MAC, which the answer's TSIG covers.
///
/// # Errors
/// When `wire` has no header or hickory cannot encode the record.
pub fn sign_request(
    key: &TsigKey,
    wire: &mut Vec<u8>,
    now: u64,
    fudge: u16,
) -> Result<Vec<u8>, hickory_proto::ProtoError> {
    let id = wire
        .get(..2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or_else(|| hickory_proto::ProtoError::from("no header"))?;
    let tsig = TSIG::new(key.alg.wire(), now, fudge, Vec::new(), id, None, Vec::new());
    let mut tbs = Vec::with_capacity(wire.len() + 128);
    {
        let mut enc = BinEncoder::new(&mut tbs);
        enc.emit_vec(wire)?;
        tsig.emit_tsig_for_mac(&mut enc, &key.name)?;
    }
    let mac = key.mac(&tbs);
    append_tsig(wire, &key.name, tsig.set_mac(mac.clone()))?;
    Ok(mac)
}

/// Seconds since the epoch (0 if the clock is before it).
#[must_use]
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Signs a message built by hickory for tests and tools: the query `query` with `key` at `time`.
///
/// # Errors
/// When hickory cannot encode it.
pub fn signed_query(
    key: &TsigKey,
    id: u16,
    query: Query,
    time: u64,
    fudge: u16,
) -> Result<Vec<u8>, hickory_proto::ProtoError> {
    let mut m = Message::query();
    m.metadata = Metadata::new(id, hickory_proto::op::MessageType::Query, OpCode::Query);
    m.add_query(query);
    let mut wire = m.to_vec()?;
    sign_request(key, &mut wire, time, fudge)?;
    Ok(wire)
}

#[cfg(test)]
mod tests {
    use hickory_proto::rr::RecordType;

    use super::*;

    fn key(name: &str, alg: TsigAlg) -> TsigKey {
        TsigKey::new(name, alg, b"0123456789abcdef0123456789abcdef").unwrap()
    }

    fn ring() -> TsigKeyring {
        TsigKeyring::new(
            vec![
                key("xfr-key", TsigAlg::HmacSha256),
                key("old", TsigAlg::HmacSha1),
            ],
            300,
        )
    }

    fn soa_query() -> Query {
        Query::query(Name::from_ascii("example.net.").unwrap(), RecordType::SOA)
    }

    fn tsig_of(wire: &[u8]) -> (ResponseCode, TSIG) {
        let m = Message::from_vec(wire).unwrap();
        (
            m.metadata.response_code,
            m.signature().unwrap().data.clone(),
        )
    }

    #[test]
    fn valid_request_gets_verifiable_responses_in_a_chain() {
        let k = key("xfr-key", TsigAlg::HmacSha256);
        let q = signed_query(&k, 7, soa_query(), 1_000_000, 300).unwrap();
        let Verdict::Valid(mut signer) = ring().verify(&q, 1_000_100) else {
            panic!("not valid")
        };
        // Check the responses as a client does, with hickory's verifier of chained messages.
        let hk = hickory_proto::rr::TSigner::new(
            b"0123456789abcdef0123456789abcdef".to_vec(),
            TsigAlgorithm::HmacSha256,
            Name::from_ascii("xfr-key.").unwrap(),
            300,
        )
        .unwrap();
        let request_mac = Message::from_vec(&q)
            .unwrap()
            .signature()
            .unwrap()
            .data
            .mac
            .clone();
        let mut prev = request_mac;
        for i in 0..3u16 {
            let mut r = Message::response(7, OpCode::Query);
            r.add_query(soa_query());
            let mut wire = r.to_vec().unwrap();
            signer.sign(&mut wire, 1_000_101 + u64::from(i)).unwrap();
            let (mac, _, _) = hk.verify_message_byte(&wire, Some(&prev), i == 0).unwrap();
            prev = mac;
        }
    }

    #[test]
    fn sha1_keys_work_too() {
        let k = key("old", TsigAlg::HmacSha1);
        let q = signed_query(&k, 9, soa_query(), 500, 300).unwrap();
        assert!(matches!(ring().verify(&q, 510), Verdict::Valid(_)));
    }

    #[test]
    fn failures_get_the_rfc_errors() {
        let now = 1_000_000;
        // Unknown key name: NOTAUTH/BADKEY, unsigned.
        let q = signed_query(&key("other", TsigAlg::HmacSha256), 1, soa_query(), now, 300).unwrap();
        let Verdict::Rejected { why, response } = ring().verify(&q, now) else {
            panic!()
        };
        assert_eq!(why, TsigFailure::BadKey);
        let (rcode, t) = tsig_of(&response.unwrap());
        assert_eq!(
            (rcode, t.error, t.mac.len()),
            (ResponseCode::NotAuth, Some(TsigError::BadKey), 0)
        );
        // Known name, other algorithm: BADKEY.
        let q = signed_query(
            &key("xfr-key", TsigAlg::HmacSha512),
            1,
            soa_query(),
            now,
            300,
        )
        .unwrap();
        assert!(matches!(
            ring().verify(&q, now),
            Verdict::Rejected {
                why: TsigFailure::BadKey,
                ..
            }
        ));
        // Wrong secret: BADSIG, unsigned.
        let wrong = TsigKey::new("xfr-key", TsigAlg::HmacSha256, b"another secret").unwrap();
        let q = signed_query(&wrong, 1, soa_query(), now, 300).unwrap();
        let Verdict::Rejected { why, response } = ring().verify(&q, now) else {
            panic!()
        };
        assert_eq!(why, TsigFailure::BadSig);
        let (rcode, t) = tsig_of(&response.unwrap());
        assert_eq!(
            (rcode, t.error, t.mac.len()),
            (ResponseCode::NotAuth, Some(TsigError::BadSig), 0)
        );
        // Outside the fudge: BADTIME, signed, our time in Other Data.
        let good = key("xfr-key", TsigAlg::HmacSha256);
        let q = signed_query(&good, 1, soa_query(), now, 300).unwrap();
        let Verdict::Rejected { why, response } = ring().verify(&q, now + 301) else {
            panic!()
        };
        assert_eq!(why, TsigFailure::BadTime);
        let (rcode, t) = tsig_of(&response.unwrap());
        assert_eq!(rcode, ResponseCode::NotAuth);
        assert_eq!(t.error, Some(TsigError::BadTime));
        assert_eq!(t.mac.len(), 32);
        assert_eq!(t.time, now);
        assert_eq!(t.other, (now + 301).to_be_bytes()[2..].to_vec());
        // A smaller fudge in the request wins.
        let q = signed_query(&good, 1, soa_query(), now, 10).unwrap();
        assert!(matches!(
            ring().verify(&q, now + 11),
            Verdict::Rejected {
                why: TsigFailure::BadTime,
                ..
            }
        ));
        assert!(matches!(ring().verify(&q, now - 10), Verdict::Valid(_)));
    }

    /// Rewrites the MAC of a signed query to its first `len` octets (or appends octets).
    fn with_mac_len(wire: &[u8], len: usize) -> Vec<u8> {
        let m = Message::from_vec(wire).unwrap();
        let tsig = m.signature().unwrap();
        let mut mac = tsig.data.mac.clone();
        mac.resize(len, 0xAA);
        let mut body = wire.to_vec();
        // Strip the TSIG record: everything after the question.
        let q_end = 12 + m.queries[0].to_bytes().unwrap().len();
        body.truncate(q_end);
        body[10..12].copy_from_slice(&[0, 0]);
        append_tsig(&mut body, &tsig.name, tsig.data.clone().set_mac(mac)).unwrap();
        body
    }

    #[test]
    fn truncated_and_oversized_macs() {
        let now = 1_000_000;
        let q = signed_query(
            &key("xfr-key", TsigAlg::HmacSha256),
            1,
            soa_query(),
            now,
            300,
        )
        .unwrap();
        // 16 of 32 octets verifies as a truncated MAC, below our policy: BADTRUNC, signed.
        let Verdict::Rejected { why, response } = ring().verify(&with_mac_len(&q, 16), now) else {
            panic!()
        };
        assert_eq!(why, TsigFailure::BadTrunc);
        let (_, t) = tsig_of(&response.unwrap());
        assert_eq!((t.error, t.mac.len()), (Some(TsigError::BadTrunc), 32));
        // Less than half the hash, or longer than it: FORMERR (RFC 8945 §5.2.2.1).
        for len in [0, 9, 15, 33] {
            let Verdict::Rejected { why, response } = ring().verify(&with_mac_len(&q, len), now)
            else {
                panic!("{len}")
            };
            assert_eq!(why, TsigFailure::FormErr, "{len}");
            let m = Message::from_vec(&response.unwrap()).unwrap();
            assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
        }
        // A truncated MAC that is wrong: BADSIG.
        let mut bad = with_mac_len(&q, 16);
        let last = bad.len() - 7; // inside the MAC: original ID (2), error (2), other len (2)
        bad[last] ^= 1;
        assert!(matches!(
            ring().verify(&bad, now),
            Verdict::Rejected {
                why: TsigFailure::BadSig,
                ..
            }
        ));
    }

    #[test]
    fn tsig_not_last_is_not_a_valid_signature() {
        let now = 1_000_000;
        let q = signed_query(
            &key("xfr-key", TsigAlg::HmacSha256),
            1,
            soa_query(),
            now,
            300,
        )
        .unwrap();
        // Append an OPT record after the TSIG: hickory refuses the message (the server's FORMERR).
        let mut after = q.clone();
        after.extend_from_slice(&[0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0]);
        after[11] += 1;
        assert!(Message::from_vec(&after).is_err());
        assert!(matches!(ring().verify(&after, now), Verdict::Unsigned));
        // Garbage and cut messages never panic.
        for n in 0..q.len() {
            let _ = ring().verify(&q[..n], now);
        }
    }

    #[test]
    fn config_reads_secrets_and_refuses_bad_ones() {
        let dir = std::env::temp_dir().join(format!("altodisc-tsig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("k.secret"), "MDEyMzQ1Njc4OWFiY2RlZg==\n").unwrap();
        std::fs::write(dir.join("bad.secret"), "not base64!").unwrap();
        let cfg = |alg: Option<&str>, file: Option<&str>, env: Option<&str>| TsigKeyConfig {
            name: "k".into(),
            algorithm: alg.map(Into::into),
            secret_file: file.map(Into::into),
            secret_env: env.map(Into::into),
        };
        let (ring, warn) =
            TsigKeyring::from_config(&[cfg(None, Some("k.secret"), None)], Some(60), &dir).unwrap();
        assert!(warn.is_empty());
        assert_eq!(ring.fudge(), 60);
        assert_eq!(
            ring.find_str("K.", "test").unwrap().alg(),
            TsigAlg::HmacSha256
        );
        let (_, warn) = TsigKeyring::from_config(
            &[cfg(Some("hmac-sha1"), Some("k.secret"), None)],
            None,
            &dir,
        )
        .unwrap();
        assert_eq!(warn.len(), 1);
        let bad =
            TsigKeyring::from_config(&[cfg(Some("hmac-md5"), Some("k.secret"), None)], None, &dir);
        assert!(matches!(bad, Err(TsigConfigError::Algorithm { .. })));
        let bad = TsigKeyring::from_config(&[cfg(None, Some("bad.secret"), None)], None, &dir);
        let msg = bad.unwrap_err().to_string();
        assert!(
            msg.contains("not base64") && !msg.contains("not base64!"),
            "{msg}"
        );
        let bad = TsigKeyring::from_config(&[cfg(None, None, None)], None, &dir);
        assert!(matches!(bad, Err(TsigConfigError::SecretSource(_))));
        let bad = TsigKeyring::from_config(
            &[cfg(None, None, Some("ALTODISC_TEST_NO_SUCH_VARIABLE"))],
            None,
            &dir,
        );
        assert!(matches!(bad, Err(TsigConfigError::Secret { .. })));
        // Debug output never shows the secret.
        let dbg = format!("{:?}", ring);
        assert!(!dbg.contains("MDEy") && !dbg.contains("0123"), "{dbg}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
