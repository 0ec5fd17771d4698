"""verify over TLS against nginx, discovery with a configured domain, and the alto.conf bridge."""

import configparser
import os

import pytest

import altodisc
from conftest import start_responder


def test_verify_the_rfc_example_ird_over_tls(nginx):
    v = altodisc.verify(nginx.url("/ird"), ca_files=nginx.ca, follow_nested=False)
    assert isinstance(v, altodisc.Verification)
    assert v.verified, v
    assert v.error is None
    assert v.services, "the IRD lists its resources"


def test_verify_failures_are_results_with_a_kind(nginx):
    v = altodisc.verify(nginx.url("/wrong-type"), ca_files=nginx.ca)
    assert not v.verified and v.error_kind == "wrong-media-type" and v.error
    # Without the test CA the certificate is not trusted.
    v = altodisc.verify(nginx.url("/ird"), use_system_roots=True)
    assert not v.verified and v.error_kind == "tls", v


def test_verify_in_order_backtracks(nginx):
    tried = altodisc.verify_in_order(
        [nginx.url("/wrong-type"), nginx.url("/missing"), nginx.url("/ird"), nginx.url("/never")],
        ca_files=[nginx.ca],
    )
    assert [v.uri for v in tried] == [nginx.url(p) for p in ("/wrong-type", "/missing", "/ird")]
    assert [v.verified for v in tried] == [False, False, True]


def isp_zone(nginx, dead_port):
    return f"""
[serve]
listen = ["{{listen}}"]
zones_dir = "{{zones_dir}}"
[defaults]
ttl = 120
negative_ttl = 60
soa_ttl = 120
ns = ["ns1.isp.test."]
rname = "hostmaster.isp.test."
service = "ALTO:https"
[[zone]]
origin = "isp.test."
records = ["ns1 120 IN A 192.0.2.53"]
[[access_domain]]
domain = "isp.test."
records = [
  {{ order = 100, preference = 10, uri = "https://127.0.0.1:{dead_port}/ird" }},
  {{ order = 100, preference = 20, uri = "{nginx.url('/ird')}" }},
]
"""


def test_discover_with_a_configured_domain_writes_alto_conf(nginx, tmp_path):
    from conftest import free_port

    addr, stop = start_responder(isp_zone(nginx, free_port()))
    try:
        from conftest import wait_answering

        wait_answering(addr, "isp.test")
        conf = tmp_path / "alto.conf"
        conf.write_text(
            "# site settings\n[client]\nauth_type = userpass\nusername = u\npassword = p%%w\n"
            "default_ird = https://old.example/ird\nstatic_ird = {\n    \"a\": \"b\"\n  }\n"
        )
        results = altodisc.discover(
            interface="lo", family="ipv4", domain="isp.test", dhcp="off", servers=addr,
            write_alto_conf=conf, ca_files=nginx.ca,
        )
    finally:
        stop()
    (d,) = results
    assert isinstance(d, altodisc.Discovery)
    assert (d.interface, d.family, d.domain, d.domain_source) == ("lo", "ipv4", "isp.test.", "config")
    assert d.status == "found" and len(d.candidates) == 2
    # The first candidate does not answer; the second verifies and becomes default_ird.
    p = configparser.ConfigParser()
    p.read(conf)
    assert p.get("client", "default_ird") == nginx.url("/ird")
    assert p.get("client", "auth_type") == "userpass"
    assert p.get("client", "password") == "p%w"
    assert p.get("client", "static_ird").strip().startswith("{")
    assert conf.read_text().startswith("# site settings\n")


def test_write_alto_conf_creates_escapes_and_keeps_the_old_file_on_error(tmp_path):
    conf = tmp_path / "alto.conf"
    altodisc.write_alto_conf(conf, "https://alto.example.net/i%20rd")
    p = configparser.ConfigParser()
    p.read(conf)
    assert p.get("client", "default_ird") == "https://alto.example.net/i%20rd"
    before = conf.read_bytes()
    with pytest.raises(altodisc.AltodiscError) as e:
        altodisc.write_alto_conf(tmp_path / "missing-dir" / "alto.conf", "https://a.example/ird")
    assert "missing-dir" in str(e.value) and not isinstance(e.value, ValueError)
    with pytest.raises(altodisc.InvalidInputError):
        altodisc.write_alto_conf(conf, "https://a.example/\n[x]")
    assert conf.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["alto.conf"]


def test_discover_without_a_verified_server_leaves_alto_conf_alone(nsd, tmp_path):
    conf = tmp_path / "alto.conf"
    conf.write_text("[client]\ndefault_ird = https://old.example/ird\n")
    with pytest.raises(altodisc.AltodiscError, match="left unchanged"):
        altodisc.discover(
            interface="lo", family="ipv4", domain="nothing-here.example.net", dhcp="off",
            servers=nsd, write_alto_conf=conf,
        )
    assert conf.read_text() == "[client]\ndefault_ird = https://old.example/ird\n"
