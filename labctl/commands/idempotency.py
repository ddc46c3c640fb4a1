"""Client idempotency keys: a retry after a lost reply gets the first answer, creates nothing.

A request names its key; its digest is the SHA-256 of the command and its content (not of who
sent it, nor the key). The same key with the same digest answers what the first request did;
the same key with other content is refused. The ledger keeps keys in its database (with the
entry they created, in one transaction); :class:`MemoryKeys` keeps them for a lab without one.
This sits with the commands, below the ledger and the machines, because commands of both
(``ledger_record``, ``cast_start``) take keys.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import Field

from labctl.errors import LabctlError

#: The payload field of a command that creates something.
IdempotencyKey: Any = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{8,128}$")


@dataclass(frozen=True, slots=True)
class Once:
    """A client idempotency key with the digest of what was asked and the answer to keep."""

    key: str
    digest: str
    answer: Mapping[str, object]


class Repeated(LabctlError):
    """An idempotency key already used: ``same`` if for the same content; its first answer."""

    def __init__(self, key: str, same: bool, answer: dict[str, object]) -> None:
        self.same, self.answer = same, answer
        what = "a retry of" if same else "already used for different content than"
        super().__init__(f"idempotency key {key!r} is {what} this request")


class Keys(Protocol):
    """Where the keys are kept."""

    async def recall(self, key: str) -> tuple[str, dict[str, object]] | None:
        """The digest and answer kept for ``key``."""

    async def remember(self, once: Once) -> None:
        """Keep ``once``; :class:`Repeated` if its key is already kept."""


def once(
    command: str, key: str | None, content: Mapping[str, Any], answer: Mapping[str, object]
) -> Once | None:
    """The idempotency of a request (None without a key)."""
    if key is None:
        return None
    data = json.dumps({"command": command, **content}, sort_keys=True, default=str)
    return Once(key, hashlib.sha256(data.encode()).hexdigest(), answer)


def repeated(request: Once, seen: tuple[str, dict[str, object]]) -> Repeated:
    """What a request with a kept key is: a retry (``same``) or a reuse for other content."""
    return Repeated(request.key, seen[0] == request.digest, seen[1])


class MemoryKeys:
    """Keys kept in memory, the newest ``keep`` (a lab without a ledger)."""

    def __init__(self, keep: int = 1000) -> None:
        self._keep = keep
        self._kept: OrderedDict[str, tuple[str, dict[str, object]]] = OrderedDict()

    async def recall(self, key: str) -> tuple[str, dict[str, object]] | None:
        return self._kept.get(key)

    async def remember(self, once: Once) -> None:
        seen = self._kept.get(once.key)
        if seen is not None:
            raise repeated(once, seen)
        self._kept[once.key] = (once.digest, dict(once.answer))
        while len(self._kept) > self._keep:
            self._kept.popitem(last=False)
