"""Real peers for the Python tests: NSD and the altodisc responder serving the bundled zones
(zones/ at the repository root), and small DNS helpers (a silent socket, a dropping proxy).

A missing peer skips the test, except under CI=true, where it fails (as the Rust tests do).
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
ZONES = ROOT / "zones"


def require(binary: str, package: str) -> str:
    path = shutil.which(binary) or (
        f"/usr/sbin/{binary}" if os.path.exists(f"/usr/sbin/{binary}") else None
    )
    if path:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {binary} is missing: install the Debian package {package}")
    pytest.skip(f"{binary} not installed (Debian package {package})")


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port")


def qname(packet: bytes) -> str:
    """The question name of a DNS query, lowercased, with a trailing dot."""
    labels, i = [], 12
    while i < len(packet) and packet[i] != 0:
        n = packet[i]
        labels.append(packet[i + 1 : i + 1 + n].decode("ascii", "replace").lower())
        i += 1 + n
    return ".".join(labels) + "."


def wait_answering(addr: str, domain: str, deadline: float = 20.0) -> None:
    import altodisc

    end = time.monotonic() + deadline
    last = None
    while time.monotonic() < end:
        try:
            if altodisc.resolve(domain, servers=addr, timeout=0.5, attempts=1).found:
                return
        except altodisc.AltodiscError as e:
            last = e
        time.sleep(0.1)
    raise RuntimeError(f"{addr} does not answer for {domain}: {last}")


class Proc:
    def __init__(self, args, cwd, log):
        self.log = log
        self.p = subprocess.Popen(
            args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=open(log, "wb"), stderr=subprocess.STDOUT
        )

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


@pytest.fixture(scope="session")
def nsd():
    """NSD on 127.0.0.1:PORT serving zones/*.zone; yields "127.0.0.1:PORT"."""
    binary = require("nsd", "nsd")
    d = tempfile.mkdtemp(prefix="altodisc-py-nsd-")
    port = free_port()
    conf = (
        f"server:\n  ip-address: 127.0.0.1@{port}\n  port: {port}\n  do-ip6: no\n"
        f'  username: ""\n  chroot: ""\n  zonesdir: "{d}"\n  pidfile: "{d}/nsd.pid"\n'
        f'  xfrdfile: "{d}/xfrd.state"\n  zonelistfile: "{d}/zone.list"\n  xfrdir: "{d}"\n'
        '  database: ""\n  server-count: 1\n  verbosity: 1\n  rrl-ratelimit: 0\n'
        "  rrl-whitelist-ratelimit: 0\nremote-control:\n  control-enable: no\n\n"
    )
    for z in sorted(ZONES.glob("*.zone")):
        conf += f'zone:\n  name: "{z.stem}."\n  zonefile: "{z}"\n\n'
    pathlib.Path(d, "nsd.conf").write_text(conf)
    p = Proc([binary, "-d", "-c", f"{d}/nsd.conf"], d, f"{d}/nsd.log")
    addr = f"127.0.0.1:{port}"
    try:
        wait_answering(addr, "example.net")
        yield addr
    finally:
        p.stop()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def responder():
    """`altodisc serve` with zones/publish.toml on a free port; yields "127.0.0.1:PORT"."""
    binary = os.environ.get("ALTODISC_BIN") or str(ROOT / "target" / "debug" / "altodisc")
    if not os.access(binary, os.X_OK):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{binary} is missing: build it with cargo build --bin altodisc")
        pytest.skip(f"{binary} not built (cargo build --bin altodisc)")
    d = tempfile.mkdtemp(prefix="altodisc-py-serve-")
    port = free_port()
    text = (ZONES / "publish.toml").read_text()
    text = re.sub(r'(?m)^listen = \[.*\]', f'listen = ["127.0.0.1:{port}"]', text, count=1)
    text = re.sub(r'(?m)^zones_dir = ".*"', f'zones_dir = "{ZONES}"', text, count=1)
    pathlib.Path(d, "publish.toml").write_text(text)
    p = Proc([binary, "serve", "--config", f"{d}/publish.toml"], d, f"{d}/serve.log")
    addr = f"127.0.0.1:{port}"
    try:
        wait_answering(addr, "example.org")
        yield addr
    finally:
        p.stop()
        shutil.rmtree(d, ignore_errors=True)


class SilentServer:
    """A UDP socket that reads queries and never answers: every lookup times out."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


class DroppingProxy:
    """Forwards UDP queries to `upstream` except those for names in `drop`, which go
    unanswered (a timeout, i.e. a temporary failure for that one name)."""

    def __init__(self, upstream: str, drop):
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.drop = {n.lower() for n in drop}
        self.dropped = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.running = True
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while self.running:
            try:
                data, client = self.sock.recvfrom(4096)
            except (socket.timeout, OSError):
                continue
            name = qname(data)
            if name in self.drop:
                self.dropped.append(name)
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as up:
                up.settimeout(2)
                up.sendto(data, self.upstream)
                try:
                    answer, _ = up.recvfrom(65535)
                except socket.timeout:
                    continue
            self.sock.sendto(answer, client)

    def close(self):
        self.running = False
        self.t.join(2)
        self.sock.close()


@pytest.fixture
def silent():
    s = SilentServer()
    yield s
    s.close()


IRD_FIXTURE = ROOT / "tests" / "fixtures" / "ird" / "rfc7285-9.2.3.json"
DIRECTORY = "application/alto-directory+json"


class Nginx:
    """nginx over TLS with a test CA (as crates/altodisc-testpeers/src/nginx.rs does):
    /ird is the RFC 7285 §9.2.3 IRD, /wrong-type the same body as application/json."""

    def __init__(self):
        openssl = require("openssl", "openssl")
        binary = require("nginx", "nginx-light")
        self.dir = d = tempfile.mkdtemp(prefix="altodisc-py-nginx-")
        run = lambda *a: subprocess.run([openssl, *a], cwd=d, check=True, capture_output=True)
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=altodisc test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=altodisc test")
        pathlib.Path(d, "server.ext").write_text(
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        )
        run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-set_serial", "2", "-days", "2", "-extfile", "server.ext", "-out", "server.pem")
        self.ca = f"{d}/ca.pem"
        os.makedirs(f"{d}/www")
        shutil.copy(IRD_FIXTURE, f"{d}/www/ird.json")
        self.port = free_port()
        conf = (
            f"master_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n"
            f"error_log {d}/error.log info;\nevents {{ worker_connections 64; }}\n"
            f"http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n"
            f"  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n"
            f"  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  types {{ }}\n"
            f"  server {{\n    listen 127.0.0.1:{self.port} ssl;\n"
            f"    ssl_certificate {d}/server.pem;\n    ssl_certificate_key {d}/server.key;\n"
            f"    location = /ird {{ default_type {DIRECTORY}; alias {d}/www/ird.json; }}\n"
            f"    location = /wrong-type {{ default_type application/json; alias {d}/www/ird.json; }}\n"
            f"    location / {{ return 404; }}\n  }}\n}}\n"
        )
        pathlib.Path(d, "nginx.conf").write_text(conf)
        self.proc = Proc(
            [binary, "-p", d, "-e", f"{d}/error.log", "-c", f"{d}/nginx.conf", "-g", "daemon off;"],
            d, f"{d}/nginx.out",
        )
        end = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > end or self.proc.p.poll() is not None:
                    self.stop()
                    raise RuntimeError("nginx did not start: " + pathlib.Path(d, "error.log").read_text())
                time.sleep(0.1)

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def stop(self):
        self.proc.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def nginx():
    n = Nginx()
    yield n
    n.stop()


def start_responder(config: str):
    """`altodisc serve` with `config` ({listen} and {zones_dir} filled in); returns
    (address, stop function)."""
    binary = os.environ.get("ALTODISC_BIN") or str(ROOT / "target" / "debug" / "altodisc")
    if not os.access(binary, os.X_OK):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{binary} is missing: build it with cargo build --bin altodisc")
        pytest.skip(f"{binary} not built (cargo build --bin altodisc)")
    d = tempfile.mkdtemp(prefix="altodisc-py-serve-")
    os.makedirs(f"{d}/zones")
    port = free_port()
    text = config.replace("{listen}", f"127.0.0.1:{port}").replace("{zones_dir}", f"{d}/zones")
    pathlib.Path(d, "publish.toml").write_text(text)
    p = Proc([binary, "serve", "--config", f"{d}/publish.toml"], d, f"{d}/serve.log")

    def stop():
        p.stop()
        shutil.rmtree(d, ignore_errors=True)

    return f"127.0.0.1:{port}", stop
