#!/usr/bin/env python3
"""UDP relay that delays every datagram by DELAY_MS in each direction: the fallback of
bench/xdom-latency/run when the kernel has no sch_netem (tc netem). One upstream socket; replies
are matched to clients by DNS message ID.

Usage: delay_relay.py LISTEN_IP LISTEN_PORT UPSTREAM_IP UPSTREAM_PORT DELAY_MS
"""
import asyncio
import sys

LISTEN_IP, LISTEN_PORT, UP_IP, UP_PORT = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
DELAY = float(sys.argv[5]) / 1000.0
clients = {}


class Upstream(asyncio.DatagramProtocol):
    def __init__(self, front):
        self.front = front

    def datagram_received(self, data, addr):
        client = clients.pop(data[:2], None)
        if client is not None:
            asyncio.get_running_loop().call_later(DELAY, self.front.transport.sendto, data, client)


class Front(asyncio.DatagramProtocol):
    upstream = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        if len(data) < 12:
            return
        clients[data[:2]] = addr
        asyncio.get_running_loop().call_later(DELAY, self.upstream.sendto, data)


async def main():
    loop = asyncio.get_running_loop()
    _, front = await loop.create_datagram_endpoint(Front, local_addr=(LISTEN_IP, LISTEN_PORT))
    up, _ = await loop.create_datagram_endpoint(lambda: Upstream(front), remote_addr=(UP_IP, UP_PORT))
    front.upstream = up
    await asyncio.Event().wait()


asyncio.run(main())
