"""ALTO server discovery for Python: RFC 7286 (access network) and RFC 8686 (cross-domain).

Every function is a thin call into the Rust resolver of the altodisc project; the rules
(U-NAPTR per RFC 4848 §4, the reverse-DNS ladder of RFC 8686 §3.2, IRD checks per RFC 7285 §9)
live there. The blocking functions release the GIL; :mod:`altodisc.aio` has the asyncio forms.

>>> import altodisc
>>> r = altodisc.xdom("192.0.2.10")                    # doctest: +SKIP
>>> r.candidates[0].uri                                 # doctest: +SKIP
'https://alto.example.net/ird'
"""

from __future__ import annotations

import ipaddress
import json
import os
from typing import Iterable, List, Optional, Sequence, Union

from . import _native
from ._types import Candidate, Discovery, NameStatus, Resolution, Verification, XdomResult
from .errors import AltodiscError, InvalidInputError, TemporaryFailureError

__version__: str = _native.__version__

__all__ = [
    "__version__",
    "discover",
    "resolve",
    "xdom",
    "xdom_many",
    "verify",
    "verify_in_order",
    "write_alto_conf",
    "Candidate",
    "Discovery",
    "NameStatus",
    "Resolution",
    "Verification",
    "XdomResult",
    "AltodiscError",
    "InvalidInputError",
    "TemporaryFailureError",
]

Address = Union[
    str, ipaddress.IPv4Address, ipaddress.IPv6Address, ipaddress.IPv4Network, ipaddress.IPv6Network
]
PathLike = Union[str, "os.PathLike[str]"]

_ADDRESS_TYPES = (
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
    ipaddress.IPv4Network,
    ipaddress.IPv6Network,
)


def _str_list(what: str, value: Union[None, str, Iterable[str]]) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    out = []
    for i, v in enumerate(value):
        if not isinstance(v, str):
            raise TypeError(f"{what}[{i}]: expected str, got {type(v).__name__}")
        out.append(v)
    return out


def _address(what: str, value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, _ADDRESS_TYPES):
        return str(value)
    raise TypeError(
        f"{what}: expected str, ipaddress address or network, got {type(value).__name__}"
    )


def _dns(
    servers: Union[None, str, Sequence[str]],
    timeout: float,
    attempts: int,
    recursion: Optional[bool],
    allow_http: bool,
    service: str,
    dnssec: str,
    max_depth: Optional[int],
) -> dict:
    return dict(
        servers=_str_list("servers", servers),
        timeout=timeout,
        attempts=attempts,
        recursion=recursion,
        allow_http=allow_http,
        service=service,
        dnssec=dnssec,
        max_depth=max_depth,
    )


def resolve(
    domain: str,
    *,
    servers: Union[None, str, Sequence[str]] = None,
    timeout: float = 2.0,
    attempts: int = 2,
    recursion: Optional[bool] = None,
    allow_http: bool = False,
    service: str = "ALTO:https",
    dnssec: str = "report",
    max_depth: Optional[int] = None,
) -> Resolution:
    """U-NAPTR resolution of ``ALTO:https`` at an access domain (RFC 7286 §3.2, RFC 4848 §4).

    ``servers``: DNS servers (``"IP"``, ``"IP:PORT"``, ``"[IPv6]:PORT"``) instead of the system
    resolver; with explicit servers queries go out with RD=0 unless ``recursion=True``.
    ``allow_http`` also tries ``ALTO:http`` (RFC 7286 §3.2 allows it for debugging only).
    ``dnssec`` is ``"off"``, ``"report"`` or ``"require"`` (RFC 8686 §6.1).

    Returns a :class:`Resolution`; raises :class:`InvalidInputError` for a bad domain or option
    and :class:`TemporaryFailureError` when nothing was found and a failure was temporary.
    """
    if not isinstance(domain, str):
        raise TypeError(f"domain: expected str, got {type(domain).__name__}")
    text = _native.resolve(
        domain, **_dns(servers, timeout, attempts, recursion, allow_http, service, dnssec, max_depth)
    )
    r = Resolution._from_json(json.loads(text))
    if r.temporary and not r.found:
        raise TemporaryFailureError(f"{domain}: only temporary failures ({r.result})", r)
    return r


def xdom(
    address_or_prefix: Address,
    *,
    servers: Union[None, str, Sequence[str]] = None,
    timeout: float = 2.0,
    attempts: int = 2,
    recursion: Optional[bool] = None,
    allow_http: bool = False,
    service: str = "ALTO:https",
    dnssec: str = "report",
    max_depth: Optional[int] = None,
) -> XdomResult:
    """RFC 8686 cross-domain discovery: the ALTO server responsible for an address or prefix.

    Walks the reverse-DNS ladder (RFC 8686 §3.2: R32, R24, R16, R8 for IPv4; R128, R64, R56,
    R48, R32 for IPv6) and runs U-NAPTR at each name (RFC 8686 §3.3) until one yields a URI.
    Accepts ``str`` or :mod:`ipaddress` addresses and networks.

    Raises :class:`InvalidInputError` for an invalid address or unsupported prefix length
    (RFC 8686 §3.5) and :class:`TemporaryFailureError` when no URI was found and a name failed
    temporarily. A found result with ``degraded=True`` means a more specific name failed
    temporarily, so a retry later may give a more precise server.
    """
    text = _native.xdom(
        _address("address_or_prefix", address_or_prefix),
        **_dns(servers, timeout, attempts, recursion, allow_http, service, dnssec, max_depth),
    )
    r = XdomResult._from_json(json.loads(text))
    if r.temporary and not r.found:
        raise TemporaryFailureError(f"{r.input}: only temporary failures", r)
    return r


def xdom_many(
    inputs: Iterable[Address],
    *,
    concurrency: int = 64,
    servers: Union[None, str, Sequence[str]] = None,
    timeout: float = 2.0,
    attempts: int = 2,
    recursion: Optional[bool] = None,
    allow_http: bool = False,
    service: str = "ALTO:https",
    dnssec: str = "report",
    max_depth: Optional[int] = None,
) -> List[XdomResult]:
    """:func:`xdom` for many inputs, ``concurrency`` at a time, sharing one answer cache.

    Returns one :class:`XdomResult` per input, in input order. Nothing is raised per item: an
    invalid item has ``status == "error"`` and ``error`` set, a temporary failure has
    ``temporary=True``.
    """
    if isinstance(inputs, (str, bytes)):
        raise TypeError("inputs: expected an iterable of addresses or prefixes, not one string")
    items = [_address(f"inputs[{i}]", v) for i, v in enumerate(inputs)]
    if not isinstance(concurrency, int) or isinstance(concurrency, bool):
        raise TypeError(f"concurrency: expected int, got {type(concurrency).__name__}")
    if not items:
        return []
    text = _native.xdom_many(
        items,
        concurrency=concurrency,
        **_dns(servers, timeout, attempts, recursion, allow_http, service, dnssec, max_depth),
    )
    return [XdomResult._from_json(json.loads(line)) for line in text.splitlines() if line]


def verify(
    uri: str,
    *,
    ca_files: Union[None, PathLike, Sequence[PathLike]] = None,
    use_system_roots: bool = True,
    allow_http: bool = False,
    timeout: float = 15.0,
    follow_nested: bool = True,
) -> Verification:
    """Fetch and check the IRD at ``uri`` (RFC 7285 §9.2): TLS with certificate checks,
    media type ``application/alto-directory+json``, a well-formed directory.

    Returns a :class:`Verification` (``verified`` False with ``error`` on a server-side
    failure); raises :class:`InvalidInputError` for an invalid URI, an ``http`` URI without
    ``allow_http``, or an unreadable CA file.
    """
    if not isinstance(uri, str):
        raise TypeError(f"uri: expected str, got {type(uri).__name__}")
    text = _native.verify(
        uri,
        ca_files=_paths(ca_files),
        use_system_roots=use_system_roots,
        allow_http=allow_http,
        timeout=timeout,
        follow_nested=follow_nested,
    )
    return Verification._from_json(json.loads(text))


def verify_in_order(
    uris: Iterable[Union[str, Candidate]],
    *,
    ca_files: Union[None, PathLike, Sequence[PathLike]] = None,
    use_system_roots: bool = True,
    allow_http: bool = False,
    timeout: float = 15.0,
    follow_nested: bool = True,
) -> List[Verification]:
    """Verify candidate URIs in order until one verifies (RFC 3958 §2.2.4 backtracking).

    Returns the verifications tried; the last is the verified one, if any. Accepts
    :class:`Candidate` objects too.
    """
    items = [u.uri if isinstance(u, Candidate) else u for u in uris]
    text = _native.verify_in_order(
        _str_list("uris", items),
        ca_files=_paths(ca_files),
        use_system_roots=use_system_roots,
        allow_http=allow_http,
        timeout=timeout,
        follow_nested=follow_nested,
    )
    return [Verification._from_json(v) for v in json.loads(text)]


def _paths(value: Union[None, PathLike, Sequence[PathLike]]) -> List[str]:
    if value is None:
        return []
    if isinstance(value, (str, os.PathLike)):
        return [os.fspath(value)]
    return [os.fspath(v) for v in value]


def discover(
    interface: Union[None, str, Sequence[str]] = None,
    family: Union[None, str, Sequence[str]] = None,
    domain: Optional[str] = None,
    *,
    dhcp: str = "network",
    lease_file: Optional[PathLike] = None,
    dhcp_servers: Union[None, str, Sequence[str]] = None,
    dhcp_timeout: float = 10.0,
    servers: Union[None, str, Sequence[str]] = None,
    timeout: float = 2.0,
    attempts: int = 2,
    recursion: Optional[bool] = None,
    allow_http: bool = False,
    service: str = "ALTO:https",
    dnssec: str = "report",
    max_depth: Optional[int] = None,
    write_alto_conf: Optional[PathLike] = None,
    ca_files: Union[None, PathLike, Sequence[PathLike]] = None,
) -> List[Discovery]:
    """RFC 7286 discovery for each (interface, address family).

    The access domain is ``domain`` when given (RFC 7286 §3.1.1 local configuration), else
    DHCP: ``dhcp="network"`` sends a DHCPINFORM (option 213, then 15; RFC 5986) or a DHCPv6
    Information-request (option 57) and needs root or CAP_NET_BIND_SERVICE;
    ``dhcp="lease"`` reads the system DHCP client's lease (``lease_file`` or the standard
    places); ``dhcp="off"`` uses configuration only. The domain is then resolved with U-NAPTR
    ``ALTO:https`` (RFC 7286 §3.2). ``interface`` defaults to every up, non-loopback
    interface and ``family`` (``"ipv4"``/``"ipv6"``) to both.

    With ``write_alto_conf=PATH``, the first candidate that verifies (RFC 7285 §9.2, in
    discovery order) becomes ``default_ird`` in that OpenALTO ``alto.conf``; when none
    verifies the file is left alone and :class:`AltodiscError` is raised.
    """
    if lease_file is not None and dhcp != "lease":
        raise InvalidInputError(f'lease_file needs dhcp="lease", not {dhcp!r}')
    text = _native.discover_pairs(
        interfaces=_str_list("interface", interface),
        families=_str_list("family", family),
        domain_name=domain,
        dhcp=dhcp,
        lease_file=os.fspath(lease_file) if lease_file is not None else None,
        dhcp_servers=_str_list("dhcp_servers", dhcp_servers),
        dhcp_timeout=dhcp_timeout,
        **_dns(servers, timeout, attempts, recursion, allow_http, service, dnssec, max_depth),
    )
    results = [Discovery._from_json(v) for v in json.loads(text)]
    if write_alto_conf is not None:
        uris = [c.uri for d in results for c in d.candidates]
        if not uris:
            raise AltodiscError("no ALTO server discovered; alto.conf left unchanged")
        tried = verify_in_order(uris, ca_files=ca_files, allow_http=allow_http)
        if not tried or not tried[-1].verified:
            reasons = "; ".join(f"{v.uri}: {v.error}" for v in tried)
            raise AltodiscError(f"no discovered ALTO server verified ({reasons}); alto.conf left unchanged")
        _native.write_alto_conf(os.fspath(write_alto_conf), tried[-1].uri)
    return results


def write_alto_conf(path: PathLike, uri: Union[str, Candidate]) -> None:
    """Set ``default_ird`` in the ``[client]`` section of an OpenALTO ``alto.conf``.

    The file is replaced atomically (temporary file and rename) and every other line is kept;
    it is created when missing. Raises :class:`InvalidInputError` for a URI that is not an
    absolute http(s) URI and :class:`AltodiscError` when the file cannot be written (the old
    file is then unchanged).
    """
    if isinstance(uri, Candidate):
        uri = uri.uri
    if not isinstance(uri, str):
        raise TypeError(f"uri: expected str or Candidate, got {type(uri).__name__}")
    _native.write_alto_conf(os.fspath(path), uri)
