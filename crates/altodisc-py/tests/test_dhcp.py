"""discover() over real DHCP: dnsmasq hands out option 213 in a network namespace, NSD serves the
access domain's NAPTR records, and the package runs inside the client namespace (root needed)."""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import ZONES, require

SRV, CLI = "192.0.2.1", "192.0.2.10"
# example.net. in DHCP wire form (RFC 5986 §3 option 213 carries an FQDN in RFC 1035 form).
EXAMPLE_NET_HEX = "07:65:78:61:6d:70:6c:65:03:6e:65:74:00"


def ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def lab():
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true and not root: the DHCP test needs network namespaces")
        pytest.skip("needs root (network namespaces)")
    for b, pkg in (("ip", "iproute2"), ("dnsmasq", "dnsmasq"), ("nsd", "nsd")):
        require(b, pkg)
    tag = f"{os.getpid() % 100000}"
    srv, cli = f"adpy-{tag}-s", f"adpy-{tag}-c"
    srv_if, cli_if = f"dps{tag}", f"dpc{tag}"
    d = tempfile.mkdtemp(prefix="altodisc-py-dhcp-")
    procs = []
    try:
        for ns in (srv, cli):
            ip("netns", "add", ns)
            ip("-n", ns, "link", "set", "lo", "up")
        ip("link", "add", srv_if, "netns", srv, "type", "veth", "peer", "name", cli_if, "netns", cli)
        ip("-n", srv, "addr", "add", f"{SRV}/24", "dev", srv_if)
        ip("-n", cli, "addr", "add", f"{CLI}/24", "dev", cli_if)
        ip("-n", srv, "link", "set", srv_if, "up")
        ip("-n", cli, "link", "set", cli_if, "up")
        pathlib.Path(d, "nsd.conf").write_text(
            f'server:\n  ip-address: {SRV}\n  port: 53\n  do-ip6: no\n  username: ""\n'
            f'  chroot: ""\n  database: ""\n  zonesdir: "{d}"\n  zonelistfile: "{d}/zone.list"\n'
            f'  xfrdfile: "{d}/xfrd.state"\n  pidfile: "{d}/nsd.pid"\n  server-count: 1\n'
            f"  rrl-ratelimit: 0\nremote-control:\n  control-enable: no\n"
            f'zone:\n  name: "example.net."\n  zonefile: "{ZONES}/example.net.zone"\n'
        )
        pathlib.Path(d, "dnsmasq.conf").write_text(
            f"port=0\ninterface={srv_if}\nbind-interfaces\nno-resolv\nno-hosts\n"
            f"dhcp-authoritative\ndhcp-leasefile={d}/leases\npid-file={d}/dnsmasq.pid\n"
            f"log-dhcp\nlog-facility={d}/dnsmasq.log\nuser=root\ngroup=root\n"
            f"dhcp-range=192.0.2.100,192.0.2.150,255.255.255.0,1h\n"
            f"dhcp-option=213,{EXAMPLE_NET_HEX}\n"
        )
        for argv, log in (
            (["nsd", "-d", "-c", f"{d}/nsd.conf"], "nsd.out"),
            (["dnsmasq", "-k", "-C", f"{d}/dnsmasq.conf"], "dnsmasq.out"),
        ):
            procs.append(
                subprocess.Popen(
                    ["ip", "netns", "exec", srv, *argv],
                    stdin=subprocess.DEVNULL,
                    stdout=open(f"{d}/{log}", "wb"),
                    stderr=subprocess.STDOUT,
                )
            )
        end = time.monotonic() + 15
        log = pathlib.Path(d, "dnsmasq.log")
        while not (log.exists() and "started, version" in log.read_text(errors="replace")):
            assert time.monotonic() < end, "dnsmasq did not start"
            time.sleep(0.05)
        time.sleep(0.3)
        yield cli, cli_if
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for ns in (srv, cli):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


def in_client(cli, code):
    out = subprocess.run(
        ["ip", "netns", "exec", cli, sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_discover_over_dhcp_option_213(lab):
    cli, cli_if = lab
    code = f"""
import json, altodisc
rs = altodisc.discover(interface={cli_if!r}, family="ipv4", servers="{SRV}", dhcp_timeout=5)
print(json.dumps([dict(interface=r.interface, family=r.family, domain=r.domain,
                       source=r.domain_source, status=r.status,
                       uris=[c.uri for c in r.candidates]) for r in rs]))
"""
    (r,) = in_client(cli, code)
    assert r == {
        "interface": cli_if,
        "family": "ipv4",
        "domain": "example.net.",
        "source": "dhcpv4",
        "status": "found",
        "uris": ["https://alto.example.net/ird", "https://alto-backup.example.net/ird"],
    }


def test_discover_without_dhcp_answer_is_temporary(lab):
    cli, cli_if = lab
    # dhcp_servers points at an address where no DHCP server listens: no answer in time.
    code = f"""
import json, altodisc
rs = altodisc.discover(interface={cli_if!r}, family="ipv4", servers="{SRV}",
                       dhcp_servers="192.0.2.99", dhcp_timeout=1)
print(json.dumps([r.status for r in rs]))
"""
    assert in_client(cli, code) == ["temporary"]
