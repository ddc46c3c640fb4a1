"""The ledger database's one thread and what it answers: entries, checkpoints, proofs, look-ups.

Every call runs on the ledger's single worker thread (SQLite connections are not shared
between threads), queued behind any append in progress, so a read sees committed entries
only. The append path, which owns the tail these reads are bounded by, is
:class:`~labctl.ledger.store.Ledger`, built on this class.
"""

from __future__ import annotations

import abc
import asyncio
import functools
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from labctl.errors import LabctlError
from labctl.ledger import merkle, store_index, store_sql

T = TypeVar("T")


class LedgerError(LabctlError):
    """The ledger refused a request (bad index or size, closed ledger)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One stored entry."""

    index: int
    leaf: bytes
    leaf_hash: bytes
    chain: bytes
    kind: str
    subject: str


class LedgerReader(abc.ABC):
    """Reads of the ledger database on its own thread; :attr:`size` bounds what may be read."""

    def __init__(self, path: Path, conn: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        self.path = path
        self._conn, self._executor = conn, executor
        self._closed = False

    @property
    @abc.abstractmethod
    def size(self) -> int:
        """Entries committed."""

    async def entry(self, index: int) -> Entry:
        """The entry at ``index`` (< :attr:`size`)."""
        self._check_sizes(index + 1)
        return await self._run(self._entry_sync, index)

    async def checkpoint(self) -> str | None:
        """The latest checkpoint note, None while the ledger is empty."""
        return await self._run(store_sql.note_at, self._conn, None)

    async def checkpoint_at(self, size: int) -> str | None:
        """The checkpoint note of tree ``size``, if one was written."""
        return await self._run(store_sql.note_at, self._conn, size)

    async def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 inclusion proof of entry ``index`` in tree ``size`` (default: current)."""
        size = self.size if size is None else size
        self._check_sizes(index + 1, size)
        return await self._run(
            merkle.inclusion_proof_from, store_sql.subtree_reader(self._conn), index, size
        )

    async def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """RFC 9162 consistency proof from tree ``size1`` to tree ``size2``."""
        self._check_sizes(1, size1, size2)
        return await self._run(
            merkle.consistency_proof_from, store_sql.subtree_reader(self._conn), size1, size2
        )

    async def close(self) -> None:
        """Finish the calls already queued, then close the database. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._conn.close)
        finally:
            self._executor.shutdown(wait=False)

    def _check_sizes(self, *sizes: int) -> None:
        if not all(0 < a <= b for a, b in zip(sizes, (*sizes[1:], self.size), strict=True)):
            raise LedgerError(f"sizes {sizes} are not ordered within 1..{self.size}")

    async def _run(self, call: Callable[..., T], *args: object) -> T:
        if self._closed:
            raise LedgerError(f"the ledger {self.path} is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(call, *args))

    def _entry_sync(self, index: int) -> Entry:
        found = self._conn.execute(f"{_ENTRY} WHERE idx = ?", (index,)).fetchone()
        if found is None:
            raise LedgerError(f"entry {index} is not stored")
        return _entry(found)

    async def find(self, kind: str, subject: str) -> Entry | None:
        """The latest entry of ``kind`` about ``subject`` (indexed: no scan of the log)."""
        return await self._run(self._find_sync, kind, subject)

    def _find_sync(self, kind: str, subject: str) -> Entry | None:
        sql = f"{_ENTRY} WHERE subject = ? AND kind = ? ORDER BY idx DESC LIMIT 1"
        found = self._conn.execute(sql, (subject, kind)).fetchone()
        return None if found is None else _entry(found)

    async def latest(self, kind: str, limit: int) -> list[Entry]:
        """The newest ``limit`` entries of ``kind``, newest first."""
        return await self._run(self._latest_sync, kind, limit)

    def _latest_sync(self, kind: str, limit: int) -> list[Entry]:
        sql = f"{_ENTRY} WHERE kind = ? ORDER BY idx DESC LIMIT ?"
        return [_entry(row) for row in self._conn.execute(sql, (kind, limit))]

    async def referring(self, kind: str, field: str, value: str) -> list[Entry]:
        """Entries of ``kind`` that refer to ``value`` as ``field``, oldest first."""
        indexes = await self._run(store_index.referring, self._conn, kind, field, value)
        return [await self.entry(i) for i in indexes]

    async def recall(self, key: str) -> tuple[str, dict[str, object]] | None:
        """The digest and answer kept for a client idempotency ``key``."""
        return await self._run(store_index.recall, self._conn, key)


_ENTRY = "SELECT idx, leaf, leaf_hash, chain, kind, subject FROM entries"


def _entry(row: tuple[Any, ...]) -> Entry:
    idx, leaf, leaf_hash, chain, kind, subject = row
    return Entry(int(idx), bytes(leaf), bytes(leaf_hash), bytes(chain), str(kind), str(subject))
