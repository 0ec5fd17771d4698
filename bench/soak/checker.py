#!/usr/bin/env python3
"""Answer checker of bench/soak/run: asks `altodisc serve` every 20 ms, one UDP query at a time,
and counts answers that are missing or wrong.

usage: checker.py HOST PORT VERSION_FILE OUT_FILE

Three names in turn: 5.0.10.in-addr.arpa. (NOERROR, https://r24-5.example.net/ird), 3.77.10.in-
addr.arpa. (NXDOMAIN) and 9.9.9.10.in-addr.arpa., whose URI is https://vN.example.net/ird with N
the version in VERSION_FILE or the one before (a reload may be in flight). On SIGTERM it writes
"CHECKED WRONG" to OUT_FILE; each wrong answer is described on stderr.
"""
import os
import random
import signal
import socket
import struct
import sys
import time

host, port, version_file, out_file = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
stop = False


def on_int(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_int)


def query(name):
    qid = random.randrange(65536)
    wire = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        wire += bytes([len(label)]) + label.encode()
    wire += b"\x00" + struct.pack(">HH", 35, 1)
    return qid, wire


def ask(sock, name):
    """(rcode, raw response) or (None, reason)."""
    qid, wire = query(name)
    sock.send(wire)
    deadline = time.monotonic() + 1.0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None, "no answer within 1 s"
        sock.settimeout(left)
        try:
            resp = sock.recv(4096)
        except socket.timeout:
            return None, "no answer within 1 s"
        except OSError as e:
            return None, str(e)
        if len(resp) >= 12 and struct.unpack(">H", resp[:2])[0] == qid:
            return resp[3] & 0x0F, resp


sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.connect((host, port))
checked = wrong = 0
turn = 0
while not stop:
    turn += 1
    kind = turn % 3
    if kind == 0:
        name, want_rcode, want = "5.0.10.in-addr.arpa.", 0, [b"https://r24-5.example.net/ird"]
    elif kind == 1:
        name, want_rcode, want = "3.77.10.in-addr.arpa.", 3, []
    else:
        # The runner replaces the file whole (rename); an empty read is still taken as a
        # reason to read again, never as version 1.
        text = ""
        for _ in range(100):
            with open(version_file) as f:
                text = f.read().strip()
            if text:
                break
            time.sleep(0.001)
        v = int(text or "1")
        name, want_rcode = "9.9.9.10.in-addr.arpa.", 0
        want = [f"https://v{n}.example.net/ird".encode() for n in (v, v - 1)]
    rcode, resp = ask(sock, name)
    checked += 1
    if rcode is None:
        wrong += 1
        print(f"checker: {name}: {resp}", file=sys.stderr)
    elif rcode != want_rcode or (want and not any(w in resp for w in want)):
        wrong += 1
        print(f"checker: {name}: rcode {rcode}, wanted {want_rcode} with one of {want}", file=sys.stderr)
    time.sleep(0.02)
with open(out_file, "w") as f:
    f.write(f"{checked} {wrong}\n")
