"""The asyncio API: same results and errors, and the event loop keeps running meanwhile."""

import asyncio

import pytest

import altodisc
import altodisc.aio


def test_aio_results_match_the_blocking_calls(nsd):
    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.001)
                ticks += 1

        t = asyncio.ensure_future(ticker())
        r, x, many = await asyncio.gather(
            altodisc.aio.resolve("example.net", servers=nsd),
            altodisc.aio.xdom("2001:db8:1::33", servers=nsd),
            altodisc.aio.xdom_many([f"192.0.2.{i}" for i in range(256)], servers=nsd),
        )
        t.cancel()
        return r, x, many, ticks

    r, x, many, ticks = asyncio.run(main())
    assert r == altodisc.resolve("example.net", servers=nsd)
    assert x.matched_label == "R128"
    assert len(many) == 256 and many[10].candidates[0].uri == "https://alto-host10.example.net/ird"
    assert ticks > 0, "the loop ran while the lookups were under way"


def test_aio_errors_are_the_same_classes(silent):
    async def main():
        with pytest.raises(altodisc.InvalidInputError):
            await altodisc.aio.xdom("192.0.2.0/33")
        with pytest.raises(altodisc.TemporaryFailureError):
            await altodisc.aio.xdom("192.0.2.1", servers=silent.addr, timeout=0.2, attempts=1)
        with pytest.raises(TypeError):
            await altodisc.aio.resolve(42)

    asyncio.run(main())
