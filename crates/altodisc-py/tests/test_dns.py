"""resolve / xdom / xdom_many against NSD and the altodisc responder serving zones/."""

import ipaddress

import pytest

import altodisc
from conftest import DroppingProxy


def test_version_is_the_crate_version():
    assert altodisc.__version__
    assert altodisc.__version__.count(".") == 2


def test_resolve_candidates_in_order_with_typed_fields(nsd):
    r = altodisc.resolve("example.net", servers=nsd)
    assert isinstance(r, altodisc.Resolution)
    assert r.found and r.status == "found" and r.result == "found"
    first, second = r.candidates
    assert isinstance(first, altodisc.Candidate)
    assert first.uri == "https://alto.example.net/ird"
    assert (first.order, first.preference) == (100, 10)
    assert second.uri == "https://alto-backup.example.net/ird"
    assert second.order == 200
    assert first.ttl == 3600
    assert first.dnssec in {"insecure", "indeterminate", "off"}
    assert first.owner == "example.net."
    assert first.protocol == "https"


def test_resolve_follows_a_non_terminal_record(nsd):
    # RFC 3958 §2.2.3: branch.example.net has an empty-flag NAPTR pointing at central.
    r = altodisc.resolve("branch.example.net.", servers=nsd)
    assert [c.uri for c in r.candidates] == ["https://central.example.net/ird"]
    assert r.candidates[0].owner == "central.example.net."
    assert "central.example.net." in r.candidates[0].chain


def test_resolve_not_found_has_per_name_statuses(nsd):
    r = altodisc.resolve("nothing-here.example.net", servers=nsd)
    assert not r.found and r.status == "not_found"
    assert r.result == "nxdomain"
    assert r.names[0].name == "nothing-here.example.net."
    assert r.names[0].status == "nxdomain"
    assert not r.names[0].temporary


def test_resolve_against_the_responder(responder):
    r = altodisc.resolve("example.org", servers=responder)
    assert r.candidates[0].uri == "https://alto.example.org/ird"
    # The order-200 delegate continues at example.net (served by the responder too).
    assert "https://alto.example.net/ird" in [c.uri for c in r.candidates]


@pytest.mark.parametrize(
    "query, label, uri",
    [
        ("192.0.2.10", "R32", "https://alto-host10.example.net/ird"),
        ("192.0.2.99", "R24", "https://alto.example.net/ird"),
        (ipaddress.ip_address("192.0.2.65"), "R32", "https://alto.customer.example.org/ird"),
        ("192.0.2.0/24", "R24", "https://alto.example.net/ird"),
        ("2001:db8:1::33", "R128", "https://alto-v6-host.example.net/ird"),
        ("2001:db8:1:2::5", "R48", "https://alto-v6-site1.example.net/ird"),
        (ipaddress.ip_network("2001:db8:ffff::/48"), "R32", "https://alto.example.net/ird"),
    ],
)
def test_xdom_ladder_on_ipv4_and_ipv6(nsd, query, label, uri):
    r = altodisc.xdom(query, servers=nsd)
    assert isinstance(r, altodisc.XdomResult)
    assert r.status == "found", r
    assert r.matched_label == label
    assert r.candidates[0].uri == uri
    assert not r.degraded
    # The ladder is reported name by name; names below the match were misses.
    labels = [n.label for n in r.names]
    assert label in labels
    below = labels[: labels.index(label)]
    for n in r.names[: len(below)]:
        assert n.status in {"nxdomain", "nodata", "no_match"}, n


def test_xdom_on_the_responder_prefixes(responder):
    assert altodisc.xdom("198.51.100.7", servers=responder).candidates[0].uri == (
        "https://alto-host7.example.org/ird"
    )
    r = altodisc.xdom("198.51.101.200", servers=responder)
    assert r.candidates[0].uri == "https://alto.example.org/ird"


def test_degraded_when_a_more_specific_name_fails_temporarily(nsd):
    # R32 of 192.0.2.77 times out (the proxy drops it); R24 answers: found, but degraded
    # (RFC 8686 §3.5: a retry later may find a more specific server).
    proxy = DroppingProxy(nsd, ["77.2.0.192.in-addr.arpa."])
    try:
        r = altodisc.xdom("192.0.2.77", servers=proxy.addr, timeout=0.3, attempts=1)
    finally:
        proxy.close()
    assert r.status == "found"
    assert r.matched_label == "R24"
    assert r.degraded is True
    assert r.names[0].label == "R32" and r.names[0].status == "temporary"
    assert "77.2.0.192.in-addr.arpa." in proxy.dropped


def test_only_temporary_failures_raise_temporary_failure(silent):
    with pytest.raises(altodisc.TemporaryFailureError) as e:
        altodisc.xdom("192.0.2.1", servers=silent.addr, timeout=0.2, attempts=1)
    assert not isinstance(e.value, ValueError)
    assert isinstance(e.value.result, altodisc.XdomResult)
    assert all(n.status == "temporary" for n in e.value.result.names)
    with pytest.raises(altodisc.TemporaryFailureError):
        altodisc.resolve("example.net", servers=silent.addr, timeout=0.2, attempts=1)


def test_xdom_many_ten_thousand_addresses(responder, nsd):
    # 10,000 inputs across the responder's /22 and host routes, in input order.
    inputs = [f"198.51.{100 + (i // 256) % 4}.{i % 256}" for i in range(10_000)]
    results = altodisc.xdom_many(inputs, servers=responder, concurrency=64)
    assert len(results) == 10_000
    assert [r.input for r in results] == inputs
    assert all(r.status == "found" for r in results)
    host7 = [r for r in results if r.input == "198.51.100.7"]
    assert host7 and all(r.candidates[0].uri == "https://alto-host7.example.org/ird" for r in host7)
    others = [r for r in results if r.input != "198.51.100.7"]
    assert all(r.candidates[0].uri == "https://alto.example.org/ird" for r in others)
    # Same answers as one-by-one calls.
    for i in (0, 7, 300, 9_999):
        one = altodisc.xdom(inputs[i], servers=responder)
        assert one.candidates == results[i].candidates


def test_xdom_many_reports_invalid_items_without_raising(nsd):
    results = altodisc.xdom_many(["192.0.2.10", "not-an-address", "192.0.2.0/33"], servers=nsd)
    assert [r.status for r in results] == ["found", "error", "error"]
    assert results[1].error and results[2].error
    assert results[0].candidates[0].uri == "https://alto-host10.example.net/ird"
