"""asyncio forms of :mod:`altodisc`'s functions.

Each coroutine runs the blocking call in the event loop's default executor; the native code
releases the GIL while it waits on the network, so the event loop and other threads keep
running. Arguments, results and exceptions are those of the blocking functions.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Callable, List, TypeVar

import altodisc as _sync

from ._types import Discovery, Resolution, Verification, XdomResult

__all__ = ["discover", "resolve", "xdom", "xdom_many", "verify", "verify_in_order", "write_alto_conf"]

T = TypeVar("T")


async def _run(f: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(f, *args, **kwargs))


async def discover(*args: Any, **kwargs: Any) -> List[Discovery]:
    """Async :func:`altodisc.discover` (RFC 7286 §3)."""
    return await _run(_sync.discover, *args, **kwargs)


async def resolve(*args: Any, **kwargs: Any) -> Resolution:
    """Async :func:`altodisc.resolve` (RFC 7286 §3.2)."""
    return await _run(_sync.resolve, *args, **kwargs)


async def xdom(*args: Any, **kwargs: Any) -> XdomResult:
    """Async :func:`altodisc.xdom` (RFC 8686 §3)."""
    return await _run(_sync.xdom, *args, **kwargs)


async def xdom_many(*args: Any, **kwargs: Any) -> List[XdomResult]:
    """Async :func:`altodisc.xdom_many` (RFC 8686 §3)."""
    return await _run(_sync.xdom_many, *args, **kwargs)


async def verify(*args: Any, **kwargs: Any) -> Verification:
    """Async :func:`altodisc.verify` (RFC 7285 §9.2)."""
    return await _run(_sync.verify, *args, **kwargs)


async def verify_in_order(*args: Any, **kwargs: Any) -> List[Verification]:
    """Async :func:`altodisc.verify_in_order` (RFC 3958 §2.2.4)."""
    return await _run(_sync.verify_in_order, *args, **kwargs)


async def write_alto_conf(*args: Any, **kwargs: Any) -> None:
    """Async :func:`altodisc.write_alto_conf`."""
    return await _run(_sync.write_alto_conf, *args, **kwargs)
