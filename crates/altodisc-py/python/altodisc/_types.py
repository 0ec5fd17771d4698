"""Typed results. Built from the resolver's own JSON; no discovery rule is applied here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple


@dataclass(frozen=True)
class Candidate:
    """One ALTO server URI (an IRD URI, RFC 7285 §9), in the order to try it.

    ``order`` and ``preference`` come from the NAPTR record (RFC 3403 §4.1); ``ttl`` is the
    smallest TTL along the chain, so the URI is current for at most that many seconds;
    ``dnssec`` is ``"secure"``, ``"insecure"``, ``"indeterminate"`` or ``"off"``
    (RFC 8686 §6.1); ``chain`` lists the names followed from the start name (RFC 4848 §4).
    """

    uri: str
    order: int
    preference: int
    ttl: int
    dnssec: str
    owner: str
    protocol: str
    chain: Tuple[str, ...] = ()

    @classmethod
    def _from_json(cls, v: Dict[str, Any]) -> "Candidate":
        return cls(
            uri=v["uri"],
            order=v["order"],
            preference=v["preference"],
            ttl=v["ttl"],
            dnssec=v["dnssec"],
            owner=v["owner"],
            protocol=v["protocol"],
            chain=tuple(v.get("chain") or ()),
        )


@dataclass(frozen=True)
class NameStatus:
    """What one DNS name came to: ``status`` is ``found``, ``nxdomain``, ``nodata``,
    ``no_match``, ``temporary``, ``loop``, ``depth_exceeded``, ``work_limit`` or (xdom ladder
    names only) ``not_needed``; ``detail`` is the human text."""

    name: str
    status: str
    detail: str
    label: Optional[str] = None
    retried: bool = False

    @property
    def temporary(self) -> bool:
        """True when a retry may give another answer."""
        return self.status == "temporary"


@dataclass(frozen=True)
class Resolution:
    """U-NAPTR at one access domain (RFC 7286 §3.2, RFC 4848 §4)."""

    domain: str
    status: str
    result: str
    temporary: bool
    candidates: Tuple[Candidate, ...]
    names: Tuple[NameStatus, ...]
    protocols_tried: Tuple[str, ...]
    raw: Dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def found(self) -> bool:
        return bool(self.candidates)

    @classmethod
    def _from_json(cls, v: Dict[str, Any]) -> "Resolution":
        return cls(
            domain=v["domain"],
            status=v["status"],
            result=v["result"],
            temporary=v["temporary"],
            candidates=tuple(Candidate._from_json(c) for c in v["candidates"]),
            names=tuple(
                NameStatus(name=n["name"], status=n["status"], detail=n["detail"])
                for n in v.get("names", [])
            ),
            protocols_tried=tuple(v.get("protocols_tried", [])),
            raw=v,
        )


@dataclass(frozen=True)
class XdomResult:
    """RFC 8686 cross-domain discovery for one address or prefix.

    ``names`` is the reverse-DNS ladder (RFC 8686 §3.2, most specific first) with each name's
    status; ``degraded`` is true when a more specific name failed temporarily, so the answer
    may be less precise than it could be (RFC 8686 §3.5); ``error`` is set (and ``status`` is
    ``"error"``) only for an invalid item of :func:`altodisc.xdom_many`.
    """

    input: str
    status: str
    candidates: Tuple[Candidate, ...]
    degraded: bool
    temporary: bool = False
    prefix: Optional[str] = None
    matched_name: Optional[str] = None
    matched_label: Optional[str] = None
    names: Tuple[NameStatus, ...] = ()
    warnings: Tuple[str, ...] = ()
    error: Optional[str] = None
    raw: Dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def found(self) -> bool:
        return bool(self.candidates)

    @classmethod
    def _from_json(cls, v: Dict[str, Any]) -> "XdomResult":
        return cls(
            input=v["input"],
            status=v["status"],
            candidates=tuple(Candidate._from_json(c) for c in v.get("candidates", [])),
            degraded=v.get("degraded", False),
            temporary=v.get("temporary", False),
            prefix=v.get("prefix"),
            matched_name=v.get("matched_name"),
            matched_label=v.get("matched_label"),
            names=tuple(
                NameStatus(
                    name=n["name"],
                    status=n["status"],
                    detail=n["detail"],
                    label=n.get("label"),
                    retried=n.get("retried", False),
                )
                for n in v.get("names", [])
            ),
            warnings=tuple(v.get("warnings", [])),
            error=v.get("error"),
            raw=v,
        )


@dataclass(frozen=True)
class Verification:
    """IRD verification of one URI (RFC 7285 §9.2): fetched over TLS, media type
    ``application/alto-directory+json``, a well-formed IRD."""

    uri: str
    verified: bool
    final_uri: Optional[str] = None
    services: Tuple[Dict[str, Any], ...] = ()
    warnings: Tuple[str, ...] = ()
    error_kind: Optional[str] = None
    error: Optional[str] = None
    raw: Dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def _from_json(cls, v: Dict[str, Any]) -> "Verification":
        err = v.get("error") or {}
        return cls(
            uri=v["uri"],
            verified=v["verified"],
            final_uri=v.get("final_uri"),
            services=tuple(v.get("services", [])),
            warnings=tuple(v.get("warnings", [])),
            error_kind=err.get("kind"),
            error=err.get("message"),
            raw=v,
        )


@dataclass(frozen=True)
class Discovery:
    """RFC 7286 discovery on one (interface, address family): the access domain (configured,
    or DHCP option 213/15 for IPv4, 57 for IPv6, RFC 5986) and its U-NAPTR resolution."""

    interface: str
    family: str
    status: str
    domain: Optional[str]
    domain_source: Optional[str]
    candidates: Tuple[Candidate, ...]
    domain_error: Optional[str] = None
    warnings: Tuple[str, ...] = ()
    resolution: Optional[Resolution] = None
    raw: Dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def found(self) -> bool:
        return bool(self.candidates)

    @classmethod
    def _from_json(cls, v: Dict[str, Any]) -> "Discovery":
        return cls(
            interface=v["interface"],
            family=v["family"],
            status=v["status"],
            domain=v.get("domain"),
            domain_source=v.get("domain_source"),
            candidates=tuple(Candidate._from_json(c) for c in v.get("candidates", [])),
            domain_error=v.get("domain_error"),
            warnings=tuple(v.get("warnings", [])),
            resolution=Resolution._from_json(v["unaptr"]) if v.get("unaptr") else None,
            raw=v,
        )

