"""Exceptions raised by :mod:`altodisc`.

Every exception is an :class:`AltodiscError`. Invalid input (a malformed domain, address,
prefix, URI or option) raises :class:`InvalidInputError`, which is also a :class:`ValueError`
(RFC 8686 §3.5: invalid input aborts "with an error and no list"). A lookup that ended only
in temporary failures (timeouts, SERVFAIL: RFC 8686 §3.5, RFC 7286 §3.2) raises
:class:`TemporaryFailureError`, which carries the partial result; trying again later may help.
"""

from __future__ import annotations

from typing import Any, Optional

__all__ = ["AltodiscError", "InvalidInputError", "TemporaryFailureError"]


class AltodiscError(Exception):
    """Base class of every error raised by altodisc."""


class InvalidInputError(AltodiscError, ValueError):
    """The input or an option is invalid; the message says which and why."""


class TemporaryFailureError(AltodiscError):
    """Only temporary failures: retrying later may succeed.

    ``result`` holds the typed result as far as it got (statuses per name).
    """

    def __init__(self, message: str, result: Optional[Any] = None) -> None:
        super().__init__(message)
        self.result = result
