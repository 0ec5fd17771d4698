//! Pure checks of an Information Resource Directory (RFC 7285 §9.2), no I/O.
//!
//! ```text
//!   Content-Type ──▶ media_type()            "Application/ALTO-Directory+JSON; charset=utf-8"
//!                                              → "application/alto-directory+json"
//!   body bytes   ──▶ parse_json()            strict RFC 8259 (the RFC's own §9.2.3 copy fails here)
//!   JSON value   ──▶ check_ird(value, base, role)
//!                      ├─ `resources` object; every entry has string `uri` + `media-type`
//!                      ├─ relative `uri` resolved against the IRD URI (RFC 3986 §5)
//!                      ├─ root IRD: `meta.default-alto-network-map` names a network map entry
//!                      └─ → CheckedIrd { default_network_map, services, warnings }
//!   error body   ──▶ alto_error_code()        `meta.code` of application/alto-error+json (§8.5.2)
//! ```
//!
//! Unknown fields are ignored everywhere (RFC 7285 §8.3.7).

use serde::Serialize;
use serde_json::{Map, Value};
use url::Url;

/// Media type of an IRD (RFC 7285 §9.2.1).
pub const MEDIA_DIRECTORY: &str = "application/alto-directory+json";
/// Media type of an ALTO error response (RFC 7285 §8.5.1).
pub const MEDIA_ERROR: &str = "application/alto-error+json";
/// Media type of a network map (RFC 7285 §11.2.1.1).
pub const MEDIA_NETWORK_MAP: &str = "application/alto-networkmap+json";
/// Request media type of a filtered network map (RFC 7285 §11.3.1.3).
pub const MEDIA_NETWORK_MAP_FILTER: &str = "application/alto-networkmapfilter+json";
/// Media type of a cost map (RFC 7285 §11.2.3.1).
pub const MEDIA_COST_MAP: &str = "application/alto-costmap+json";
/// Request media type of a filtered cost map (RFC 7285 §11.3.2.3).
pub const MEDIA_COST_MAP_FILTER: &str = "application/alto-costmapfilter+json";
/// Media type of the Endpoint Property Service (RFC 7285 §11.4.1.1).
pub const MEDIA_ENDPOINT_PROP: &str = "application/alto-endpointprop+json";
/// Media type of the Endpoint Cost Service (RFC 7285 §11.5.1.1).
pub const MEDIA_ENDPOINT_COST: &str = "application/alto-endpointcost+json";

/// The `Accept` header of the IRD request, as in the RFC 7285 §9.2.3 example request.
pub const ACCEPT_IRD: &str = "application/alto-directory+json,application/alto-error+json";

/// Whether the IRD is a client's root IRD (the discovered URI) or a delegated one (§9.2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IrdRole {
    /// The root IRD: `meta.default-alto-network-map` is required (RFC 7285 §9.2.2).
    Root,
    /// An IRD reached through an entry of media type `application/alto-directory+json`.
    Nested,
}

/// What kind of ALTO service one IRD entry offers, from its `media-type` and `accepts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ServiceKind {
    /// Full network map (GET, RFC 7285 §11.2.1).
    NetworkMap,
    /// Filtered network map (POST, §11.3.1).
    FilteredNetworkMap,
    /// Full cost map (GET, §11.2.3).
    CostMap,
    /// Filtered cost map (POST, §11.3.2).
    FilteredCostMap,
    /// Endpoint Property Service (§11.4.1).
    EndpointProperty,
    /// Endpoint Cost Service (§11.5.1); RFC 8686 §4 callers look for this one.
    EndpointCost,
    /// A delegated IRD (§9.2.4).
    Directory,
    /// A media type this crate does not know (an extension); listed, never an error (§8.3.7).
    Other,
}

impl ServiceKind {
    /// Classifies an entry. The media types compare case-insensitively (RFC 2045 §5.1).
    #[must_use]
    pub fn classify(media_type: &str, accepts: Option<&str>) -> Self {
        let media = media_type.trim().to_ascii_lowercase();
        let accepts = accepts.map(|a| a.trim().to_ascii_lowercase());
        match media.as_str() {
            MEDIA_NETWORK_MAP if accepts.as_deref() == Some(MEDIA_NETWORK_MAP_FILTER) => {
                Self::FilteredNetworkMap
            }
            MEDIA_NETWORK_MAP => Self::NetworkMap,
            MEDIA_COST_MAP if accepts.as_deref() == Some(MEDIA_COST_MAP_FILTER) => {
                Self::FilteredCostMap
            }
            MEDIA_COST_MAP => Self::CostMap,
            MEDIA_ENDPOINT_PROP => Self::EndpointProperty,
            MEDIA_ENDPOINT_COST => Self::EndpointCost,
            MEDIA_DIRECTORY => Self::Directory,
            _ => Self::Other,
        }
    }

    /// Human label, e.g. "endpoint cost service".
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::NetworkMap => "network map",
            Self::FilteredNetworkMap => "filtered network map",
            Self::CostMap => "cost map",
            Self::FilteredCostMap => "filtered cost map",
            Self::EndpointProperty => "endpoint property service",
            Self::EndpointCost => "endpoint cost service",
            Self::Directory => "nested IRD",
            Self::Other => "other resource",
        }
    }
}

/// One IRD entry (RFC 7285 §9.2.2 `IRDResourceEntry`), with its URI resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceEntry {
    /// The resource ID (the key in `resources`).
    pub id: String,
    /// What the entry offers.
    pub kind: ServiceKind,
    /// `media-type` as written.
    pub media_type: String,
    /// `accepts`, when present and a string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepts: Option<String>,
    /// `uri`, resolved against the IRD URI (RFC 3986 §5).
    pub uri: String,
}

/// A syntactically valid IRD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckedIrd {
    /// `meta.default-alto-network-map` (always present for a root IRD).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_network_map: Option<String>,
    /// Every entry, sorted by kind, then resource ID, so the output is deterministic.
    pub services: Vec<ServiceEntry>,
    /// Things that are legal but worth a look (e.g. an `http` entry URI).
    pub warnings: Vec<String>,
}

impl CheckedIrd {
    /// Whether an entry of `kind` exists.
    #[must_use]
    pub fn has(&self, kind: ServiceKind) -> bool {
        self.services.iter().any(|s| s.kind == kind)
    }

    /// The nested IRD entries (media type `application/alto-directory+json`).
    pub fn nested(&self) -> impl Iterator<Item = &ServiceEntry> {
        self.services
            .iter()
            .filter(|s| s.kind == ServiceKind::Directory)
    }
}

/// Why a JSON document is not a valid IRD (RFC 7285 §9.2.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IrdError {
    /// The top-level JSON value is not an object.
    #[error("the IRD is not a JSON object")]
    NotAnObject,
    /// `resources` is missing.
    #[error("the IRD has no `resources` member (RFC 7285 §9.2.2)")]
    ResourcesMissing,
    /// `resources` is not an object.
    #[error("`resources` is not a JSON object (RFC 7285 §9.2.2)")]
    ResourcesNotObject,
    /// `meta` is present but not an object.
    #[error("`meta` is not a JSON object (RFC 7285 §9.2.2)")]
    MetaNotObject,
    /// An entry in `resources` is not an object.
    #[error("resource `{id}` is not a JSON object")]
    EntryNotObject {
        /// Resource ID.
        id: String,
    },
    /// An entry lacks `uri` or `media-type`, or it is not a string.
    #[error("resource `{id}` has no string `{field}` (RFC 7285 §9.2.2)")]
    EntryField {
        /// Resource ID.
        id: String,
        /// `uri` or `media-type`.
        field: &'static str,
    },
    /// An entry's `uri` does not resolve to an absolute http(s) URI.
    #[error("resource `{id}` has an unusable uri {uri:?}: {reason}")]
    EntryUri {
        /// Resource ID.
        id: String,
        /// The `uri` as written.
        uri: String,
        /// Why.
        reason: String,
    },
    /// A root IRD without `meta.default-alto-network-map`.
    #[error("root IRD without `meta.default-alto-network-map` (RFC 7285 §9.2.2)")]
    DefaultNetworkMapMissing,
    /// `meta.default-alto-network-map` is not a string.
    #[error("`meta.default-alto-network-map` is not a string")]
    DefaultNetworkMapNotString,
    /// `meta.default-alto-network-map` names no entry.
    #[error("`meta.default-alto-network-map` names `{id}`, which is not in `resources`")]
    DefaultNetworkMapUnknown {
        /// The named resource ID.
        id: String,
    },
    /// `meta.default-alto-network-map` names an entry that is not a network map.
    #[error(
        "`meta.default-alto-network-map` names `{id}` of media type {media_type:?}, not application/alto-networkmap+json"
    )]
    DefaultNetworkMapNotNetworkMap {
        /// The named resource ID.
        id: String,
        /// Its media type.
        media_type: String,
    },
}

/// A strict JSON parse error with its position (1-based line and column, as serde_json counts).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON at line {line} column {column}: {message}")]
pub struct JsonError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// serde_json's message (without the position).
    pub message: String,
}

/// The media type of a `Content-Type` value: parameters dropped, whitespace trimmed, lowercased
/// (RFC 9110 §8.3.1: type and subtype are case-insensitive).
#[must_use]
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Parses `body` as strict JSON (RFC 8259: no trailing commas, no comments). serde_json's
/// recursion limit bounds nesting, so hostile input gives an error, not a stack overflow.
///
/// # Errors
/// [`JsonError`] with the position of the first error.
pub fn parse_json(body: &[u8]) -> Result<Value, JsonError> {
    serde_json::from_slice(body).map_err(|e| {
        let full = e.to_string();
        // serde_json appends " at line L column C"; keep the message without it.
        let message = full
            .rsplit_once(" at line ")
            .map_or(full.as_str(), |(m, _)| m)
            .to_owned();
        JsonError {
            line: e.line(),
            column: e.column(),
            message,
        }
    })
}

/// `meta.code` of an `application/alto-error+json` body (RFC 7285 §8.5.2), if it has one.
#[must_use]
pub fn alto_error_code(value: &Value) -> Option<String> {
    value.get("meta")?.get("code")?.as_str().map(str::to_owned)
}

/// Checks a parsed IRD against RFC 7285 §9.2.2. `base` is the URI the IRD was retrieved from
/// (after redirects, RFC 3986 §5.1.3); relative entry URIs are resolved against it.
///
/// # Errors
/// The first [`IrdError`] found.
pub fn check_ird(value: &Value, base: &Url, role: IrdRole) -> Result<CheckedIrd, IrdError> {
    let top = value.as_object().ok_or(IrdError::NotAnObject)?;
    let meta = match top.get("meta") {
        None => None,
        Some(Value::Object(m)) => Some(m),
        Some(_) => return Err(IrdError::MetaNotObject),
    };
    let resources = match top.get("resources") {
        None => return Err(IrdError::ResourcesMissing),
        Some(Value::Object(r)) => r,
        Some(_) => return Err(IrdError::ResourcesNotObject),
    };

    let mut warnings = Vec::new();
    let mut services = Vec::with_capacity(resources.len());
    for (id, entry) in resources {
        services.push(check_entry(id, entry, base, &mut warnings)?);
    }
    // By kind (maps first, nested IRDs last), then resource ID: deterministic, and it does not
    // depend on serde_json's `preserve_order` feature that another crate might turn on.
    services.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));

    let default_network_map = check_default_network_map(meta, resources, role)?;
    Ok(CheckedIrd {
        default_network_map,
        services,
        warnings,
    })
}

fn check_entry(
    id: &str,
    entry: &Value,
    base: &Url,
    warnings: &mut Vec<String>,
) -> Result<ServiceEntry, IrdError> {
    let obj = entry
        .as_object()
        .ok_or_else(|| IrdError::EntryNotObject { id: id.to_owned() })?;
    let field = |name: &'static str| {
        obj.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| IrdError::EntryField {
                id: id.to_owned(),
                field: name,
            })
    };
    let raw_uri = field("uri")?;
    let media_type = field("media-type")?;
    let accepts = obj.get("accepts").and_then(Value::as_str);
    let uri = resolve_entry_uri(id, raw_uri, base)?;
    if uri.scheme() == "http" {
        warnings.push(format!(
            "resource `{id}` uses http ({uri}): RFC 7285 §8.3.5 expects TLS"
        ));
    }
    Ok(ServiceEntry {
        id: id.to_owned(),
        kind: ServiceKind::classify(media_type, accepts),
        media_type: media_type.to_owned(),
        accepts: accepts.map(str::to_owned),
        uri: uri.into(),
    })
}

/// RFC 3986 §5.2 reference resolution; the result must be an absolute http(s) URI with a host.
fn resolve_entry_uri(id: &str, raw: &str, base: &Url) -> Result<Url, IrdError> {
    let err = |reason: String| IrdError::EntryUri {
        id: id.to_owned(),
        uri: raw.to_owned(),
        reason,
    };
    if raw.is_empty() {
        return Err(err("empty".to_owned()));
    }
    let url = base.join(raw).map_err(|e| err(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(err(format!(
            "scheme `{}` is not http or https",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(err("no host".to_owned()));
    }
    Ok(url)
}

fn check_default_network_map(
    meta: Option<&Map<String, Value>>,
    resources: &Map<String, Value>,
    role: IrdRole,
) -> Result<Option<String>, IrdError> {
    let Some(value) = meta.and_then(|m| m.get("default-alto-network-map")) else {
        return match role {
            IrdRole::Root => Err(IrdError::DefaultNetworkMapMissing),
            IrdRole::Nested => Ok(None),
        };
    };
    let id = value.as_str().ok_or(IrdError::DefaultNetworkMapNotString)?;
    // Our reading of RFC 7285 §9.2.2: the named resource must be a network map of this IRD.
    let entry = resources
        .get(id)
        .ok_or_else(|| IrdError::DefaultNetworkMapUnknown { id: id.to_owned() })?;
    // The entry itself was checked above, so `media-type` is a string here.
    let media = entry
        .get("media-type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if media.trim().to_ascii_lowercase() != MEDIA_NETWORK_MAP {
        return Err(IrdError::DefaultNetworkMapNotNetworkMap {
            id: id.to_owned(),
            media_type: media.to_owned(),
        });
    }
    Ok(Some(id.to_owned()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    const RFC_IRD_FIXED: &str = include_str!("../../../../tests/fixtures/ird/rfc7285-9.2.3.json");
    const RFC_IRD_AS_PRINTED: &str =
        include_str!("../../../../tests/fixtures/ird/rfc7285-9.2.3-as-printed.json");
    const NO_DEFAULT: &str =
        include_str!("../../../../tests/fixtures/ird/no-default-network-map.json");
    const ALTO_ERROR: &str =
        include_str!("../../../../tests/fixtures/ird/alto-error-e-syntax.json");

    fn base() -> Url {
        Url::parse("https://alto1.example.net/ird").unwrap()
    }

    // TV-I 1: the RFC 7285 §9.2.3 IRD, trailing comma removed, is a valid root IRD.
    #[test]
    fn tv_i_rfc_example_fixed_is_valid_root_ird() {
        let value = parse_json(RFC_IRD_FIXED.as_bytes()).unwrap();
        let ird = check_ird(&value, &base(), IrdRole::Root).unwrap();
        assert_eq!(
            ird.default_network_map.as_deref(),
            Some("my-default-network-map")
        );
        assert!(ird.has(ServiceKind::EndpointCost));
        assert!(ird.has(ServiceKind::EndpointProperty));
        assert!(ird.has(ServiceKind::NetworkMap));
        assert!(ird.has(ServiceKind::CostMap));
        let nested: Vec<_> = ird.nested().map(|s| s.id.as_str()).collect();
        assert_eq!(nested, ["custom-maps-resources"]);
        let kinds: Vec<_> = ird
            .services
            .iter()
            .map(|s| (s.id.as_str(), s.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("my-default-network-map", ServiceKind::NetworkMap),
                ("numerical-hopcount-cost-map", ServiceKind::CostMap),
                ("numerical-routing-cost-map", ServiceKind::CostMap),
                ("endpoint-property", ServiceKind::EndpointProperty),
                ("endpoint-cost", ServiceKind::EndpointCost),
                ("custom-maps-resources", ServiceKind::Directory),
            ]
        );
        // Every entry of the RFC example is http://; that is legal but flagged.
        assert_eq!(ird.warnings.len(), 6);
    }

    // TV-I 2: the copy as printed in the RFC has a trailing comma: strict JSON error, no panic.
    #[test]
    fn tv_i_rfc_example_as_printed_is_a_json_error() {
        let err = parse_json(RFC_IRD_AS_PRINTED.as_bytes()).unwrap_err();
        assert_eq!(err.line, 57, "{err}");
        assert!(err.message.contains("trailing comma"), "{err}");
    }

    // TV-I 3: the media type decides; parameters and case are ignored.
    #[test]
    fn tv_i_media_type() {
        assert_eq!(media_type("application/json"), "application/json");
        assert_ne!(media_type("application/json"), MEDIA_DIRECTORY);
        assert_eq!(
            media_type("Application/ALTO-Directory+JSON ; charset=UTF-8"),
            MEDIA_DIRECTORY
        );
        assert_eq!(
            media_type("application/alto-directory+json"),
            MEDIA_DIRECTORY
        );
        assert_eq!(media_type(""), "");
    }

    // TV-I 4: a root IRD without meta.default-alto-network-map fails; a nested one does not.
    #[test]
    fn tv_i_missing_default_network_map() {
        let value = parse_json(NO_DEFAULT.as_bytes()).unwrap();
        assert_eq!(
            check_ird(&value, &base(), IrdRole::Root),
            Err(IrdError::DefaultNetworkMapMissing)
        );
        let nested = check_ird(&value, &base(), IrdRole::Nested).unwrap();
        assert_eq!(nested.default_network_map, None);
        let no_meta = json!({"resources": {}});
        assert_eq!(
            check_ird(&no_meta, &base(), IrdRole::Root),
            Err(IrdError::DefaultNetworkMapMissing)
        );
    }

    // TV-I 5: relative entry URIs resolve against the IRD URI (RFC 3986 §5).
    #[test]
    fn tv_i_relative_uri_resolution() {
        let value = json!({
            "meta": {"default-alto-network-map": "n"},
            "resources": {
                "n": {"uri": "/networkmap", "media-type": "application/alto-networkmap+json"},
                "c": {"uri": "costmap", "media-type": "application/alto-costmap+json"},
                "e": {"uri": "//other.example.net/ecs", "media-type": "application/alto-endpointcost+json"}
            }
        });
        let ird = check_ird(&value, &base(), IrdRole::Root).unwrap();
        let uris: Vec<_> = ird.services.iter().map(|s| s.uri.as_str()).collect();
        assert_eq!(
            uris,
            [
                "https://alto1.example.net/networkmap",
                "https://alto1.example.net/costmap",
                "https://other.example.net/ecs",
            ]
        );
        assert!(ird.warnings.is_empty());
    }

    // TV-I 6: an alto-error+json body reports meta.code.
    #[test]
    fn tv_i_alto_error_code() {
        let value = parse_json(ALTO_ERROR.as_bytes()).unwrap();
        assert_eq!(alto_error_code(&value).as_deref(), Some("E_SYNTAX"));
        let minimal = parse_json(br#"{"meta":{"code":"E_SYNTAX"}}"#).unwrap();
        assert_eq!(alto_error_code(&minimal).as_deref(), Some("E_SYNTAX"));
        assert_eq!(alto_error_code(&json!({"meta": {}})), None);
        assert_eq!(alto_error_code(&json!([1])), None);
        assert_eq!(alto_error_code(&json!({"meta": {"code": 7}})), None);
    }

    #[test]
    fn structural_errors() {
        let b = base();
        let root = IrdRole::Root;
        assert_eq!(check_ird(&json!([]), &b, root), Err(IrdError::NotAnObject));
        assert_eq!(
            check_ird(&json!({}), &b, root),
            Err(IrdError::ResourcesMissing)
        );
        assert_eq!(
            check_ird(&json!({"resources": []}), &b, root),
            Err(IrdError::ResourcesNotObject)
        );
        assert_eq!(
            check_ird(&json!({"meta": 1, "resources": {}}), &b, root),
            Err(IrdError::MetaNotObject)
        );
        assert_eq!(
            check_ird(&json!({"resources": {"x": 1}}), &b, root),
            Err(IrdError::EntryNotObject { id: "x".into() })
        );
        assert_eq!(
            check_ird(
                &json!({"resources": {"x": {"media-type": "application/alto-networkmap+json"}}}),
                &b,
                root
            ),
            Err(IrdError::EntryField {
                id: "x".into(),
                field: "uri"
            })
        );
        assert_eq!(
            check_ird(
                &json!({"resources": {"x": {"uri": "/n", "media-type": 5}}}),
                &b,
                root
            ),
            Err(IrdError::EntryField {
                id: "x".into(),
                field: "media-type"
            })
        );
        assert!(matches!(
            check_ird(
                &json!({"resources": {"x": {"uri": "mailto:a@b", "media-type": "m"}}}),
                &b,
                root
            ),
            Err(IrdError::EntryUri { .. })
        ));
        assert!(matches!(
            check_ird(
                &json!({"resources": {"x": {"uri": "", "media-type": "m"}}}),
                &b,
                root
            ),
            Err(IrdError::EntryUri { .. })
        ));
    }

    #[test]
    fn default_network_map_must_name_a_network_map() {
        let b = base();
        let unknown = json!({"meta": {"default-alto-network-map": "nope"}, "resources": {}});
        assert_eq!(
            check_ird(&unknown, &b, IrdRole::Root),
            Err(IrdError::DefaultNetworkMapUnknown { id: "nope".into() })
        );
        let wrong = json!({
            "meta": {"default-alto-network-map": "c"},
            "resources": {"c": {"uri": "/c", "media-type": "application/alto-costmap+json"}}
        });
        assert_eq!(
            check_ird(&wrong, &b, IrdRole::Root),
            Err(IrdError::DefaultNetworkMapNotNetworkMap {
                id: "c".into(),
                media_type: "application/alto-costmap+json".into()
            })
        );
        let not_string = json!({"meta": {"default-alto-network-map": 1}, "resources": {}});
        assert_eq!(
            check_ird(&not_string, &b, IrdRole::Root),
            Err(IrdError::DefaultNetworkMapNotString)
        );
        // Case-insensitive media type on the named entry (RFC 2045 §5.1).
        let upper = json!({
            "meta": {"default-alto-network-map": "n"},
            "resources": {"n": {"uri": "/n", "media-type": "Application/ALTO-NetworkMap+JSON"}}
        });
        assert!(check_ird(&upper, &b, IrdRole::Root).is_ok());
    }

    #[test]
    fn unknown_fields_are_ignored_and_filtered_maps_classified() {
        let value = json!({
            "meta": {"default-alto-network-map": "n", "x-new": {"deep": [1, 2]}},
            "x-top": true,
            "resources": {
                "n": {"uri": "/n", "media-type": "application/alto-networkmap+json", "x": 1},
                "nf": {"uri": "/nf", "media-type": "application/alto-networkmap+json",
                       "accepts": "application/alto-networkmapfilter+json"},
                "cf": {"uri": "/cf", "media-type": "application/alto-costmap+json",
                       "accepts": "application/alto-costmapfilter+json"},
                "u": {"uri": "/u", "media-type": "application/alto-updatestreamcontrol+json"}
            }
        });
        let ird = check_ird(&value, &base(), IrdRole::Root).unwrap();
        let kinds: Vec<_> = ird.services.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                ServiceKind::NetworkMap,
                ServiceKind::FilteredNetworkMap,
                ServiceKind::FilteredCostMap,
                ServiceKind::Other
            ]
        );
    }

    #[test]
    fn hostile_json_is_an_error_not_a_panic() {
        let deep = "[".repeat(100_000);
        assert!(parse_json(deep.as_bytes()).is_err());
        assert!(parse_json(b"").is_err());
        assert!(parse_json(b"{\"a\":1} trailing").is_err());
        assert!(parse_json(&[0xff, 0xfe]).is_err());
    }
}
