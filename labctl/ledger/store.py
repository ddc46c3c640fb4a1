"""The ledger's append-only Merkle log in SQLite, written by one thread off the event loop.

Every :meth:`Ledger.append` is one ``BEGIN IMMEDIATE`` transaction: read the tail, let the caller
build the leaf for that index and previous leaf hash, insert the entry and the subtrees it
completes, compute the new root from the compact range (O(log n)), sign and insert the
checkpoint, and COMMIT (``synchronous=FULL``: durable once it returns). Only then does
``append`` return, so a caller acknowledges nothing that is not on disk.

Opening checks the tail (last leaf and chain, root against the latest checkpoint, its signature,
no stray tiles). On any mismatch, and after any SQLite or OS error during an append, the ledger
is STOPPED: appends are refused with the reason and ``on_alarm`` is called. Nothing is repaired.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from labctl.commands.idempotency import Once, repeated
from labctl.ledger import merkle, store_index, store_sql
from labctl.ledger.jcs import LedgerFormatError
from labctl.ledger.keys import Signer
from labctl.ledger.store_reads import LedgerError, LedgerReader
from labctl.runs.sqlite import transaction

Build = Callable[[int, bytes], bytes]


class LedgerStopped(LedgerError):
    """Appends are stopped (tail mismatch, I/O error); the message says why."""


class Duplicate(LedgerError):
    """An entry of this kind and id is already recorded: where (index, wall time)."""

    def __init__(self, kind: str, subject: str, found: store_index.Found) -> None:
        self.found = found
        when = None if found.at_wall is None else time.localtime(found.at_wall)
        at = "" if when is None else f", recorded {time.strftime('%Y-%m-%d %H:%M:%S %Z', when)}"
        super().__init__(
            f"{kind} {subject} is already in the ledger (index {found.index}{at}); "
            "record a correction that names it instead"
        )


class _Stop(Exception):
    """Raised on the writer thread: stop appends with this reason."""


@dataclass(frozen=True, slots=True)
class LedgerState:
    """``stopped`` is None while appends are accepted, else the reason they are refused."""

    stopped: str | None = None

    @property
    def ok(self) -> bool:
        return self.stopped is None


@dataclass(frozen=True, slots=True)
class Appended:
    """A committed append: the entry's index and leaf hash, the new tree and its checkpoint."""

    index: int
    leaf_hash: bytes
    size: int
    root: bytes
    checkpoint: str


@dataclass(slots=True)
class _Tail:
    range: merkle.CompactRange  # of [0, size)
    leaf_hash: bytes
    chain: bytes


class Ledger(LedgerReader):
    """The ledger database (reads: :class:`LedgerReader`). Make one with :meth:`open`."""

    def __init__(
        self,
        path: Path,
        origin: str,
        signers: Sequence[Signer],
        conn: sqlite3.Connection,
        executor: ThreadPoolExecutor,
        on_alarm: Callable[[str], None] | None,
    ) -> None:
        super().__init__(path, conn, executor)
        self.origin, self.signers = origin, tuple(signers)
        self.verifiers = tuple(signer.verifier() for signer in self.signers)
        self._on_alarm = on_alarm
        self._tail = _Tail(merkle.CompactRange(), store_sql.NO_HASH, store_sql.NO_HASH)
        self._state = LedgerState()

    @classmethod
    async def open(
        cls,
        path: Path | str,
        *,
        origin: str,
        signers: Sequence[Signer],
        on_alarm: Callable[[str], None] | None = None,
        refs_of: store_index.RefsOf | None = None,
    ) -> Ledger:
        """Open (or create) the ledger and check its tail; a mismatch opens it STOPPED.

        ``refs_of`` rebuilds the references index of a ledger made before it existed.
        """
        if not signers:
            raise LedgerError("a ledger needs at least one checkpoint signer")
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")
        loop = asyncio.get_running_loop()
        try:
            conn = await loop.run_in_executor(executor, store_sql.connect, Path(path))
        except BaseException:
            executor.shutdown(wait=False)
            raise
        ledger = cls(Path(path), origin, signers, conn, executor, on_alarm)
        try:
            await ledger._run(ledger._open_sync, refs_of)
        except _Stop as stop:
            ledger.stop(str(stop))
        except BaseException:
            await ledger.close()
            raise
        return ledger

    @property
    def size(self) -> int:
        """Entries committed (as of the last append, or the tail read at open)."""
        return self._tail.range.size

    @property
    def state(self) -> LedgerState:
        return self._state

    async def append(
        self,
        build: Build,
        *,
        kind: str = "",
        subject: str = "",
        unique: bool = False,
        refs: Sequence[store_index.Ref] = (),
        once: Once | None = None,
    ) -> Appended:
        """Append the leaf ``build(index, prev_leaf_hash)`` returns; returns after COMMIT.

        ``prev_leaf_hash`` is the previous entry's leaf hash (32 zero bytes for entry 0).
        An exception from ``build`` is re-raised with nothing written; a SQLite or OS error
        stops appends (:class:`LedgerStopped`), rolled back, the ledger still valid. With
        ``unique``, an entry of ``kind`` about ``subject`` already there raises
        :class:`Duplicate`; a used ``once`` key raises :class:`Repeated`; nothing is written.
        """
        if self._state.stopped is not None:
            raise LedgerStopped(f"ledger {self.path} is stopped: {self._state.stopped}")
        try:
            return await self._run(self._append_sync, build, kind, subject, unique, refs, once)
        except _Stop as stop:
            self.stop(str(stop))
            raise LedgerStopped(f"ledger {self.path} stopped: {stop}") from stop.__cause__

    def stop(self, reason: str) -> None:
        """Refuse appends from now on with ``reason`` and raise the alarm (once)."""
        if self._state.stopped is None:
            self._state = LedgerState(reason)
            if self._on_alarm is not None:
                self._on_alarm(reason)

    async def remember(self, once: Once) -> None:
        """Keep ``once`` (for a command that appends nothing); Repeated if the key is used."""

        def remember() -> None:
            with transaction(self._conn):
                seen = store_index.recall(self._conn, once.key)
                if seen is not None:
                    raise repeated(once, seen)
                store_index.remember(self._conn, once, once.answer)

        await self._run(remember)

    def _open_sync(self, refs_of: store_index.RefsOf | None) -> None:
        conn = self._conn
        if not store_sql.has_schema(conn):
            with transaction(conn):
                if not store_sql.has_schema(conn):
                    store_sql.create_schema(conn, self.origin)
        with transaction(conn):  # added after the first release: logs made before lack them
            conn.execute("CREATE INDEX IF NOT EXISTS entries_by_kind ON entries (kind, idx)")
            store_index.ensure(conn, refs_of)
        try:
            self._tail = _Tail(*store_sql.check_tail(conn, self.origin, self.verifiers))
        except (LedgerFormatError, LookupError, ValueError, sqlite3.DatabaseError) as exc:
            raise _Stop(f"tail check failed: {exc}") from exc

    def _append_sync(
        self,
        build: Build,
        kind: str,
        subject: str,
        unique: bool,
        refs: Sequence[store_index.Ref],
        once: Once | None,
    ) -> Appended:
        tail, conn, building = self._tail, self._conn, False
        try:
            with transaction(conn):
                size, prev_leaf_hash, prev_chain = store_sql.tail(conn)
                if (size, prev_leaf_hash, prev_chain) != (self.size, tail.leaf_hash, tail.chain):
                    raise _Stop(f"the stored tail (size {size}) changed under the writer")
                seen = None if once is None else store_index.recall(conn, once.key)
                if once is not None and seen is not None:
                    raise repeated(once, seen)
                found = store_index.existing(conn, kind, subject) if unique else None
                if found is not None:
                    raise Duplicate(kind, subject, found)
                building = True
                leaf = build(size, prev_leaf_hash)
                building = False
                if not leaf:
                    raise ValueError(f"build returned an empty leaf for entry {size}")
                leaf_hash = merkle.leaf_hash(leaf)
                chain = store_sql.chain_hash(prev_chain, leaf_hash)
                tree = merkle.CompactRange(size, tail.range.hashes)
                tiles = tree.append(leaf_hash)
                root = tree.root()
                note = store_sql.sign_checkpoint(self.origin, size + 1, root, self.signers)
                entry = (size, leaf, leaf_hash, chain, kind, subject)
                store_sql.insert(conn, entry, tiles, (size + 1, note))
                store_index.record(conn, size, time.time())
                store_index.insert_refs(conn, size, kind, refs)
                if once is not None:
                    store_index.remember(conn, once, {**once.answer, "index": size})
        except (sqlite3.Error, OSError) as exc:
            if building:  # the caller's own error: nothing was written
                raise
            raise _Stop(f"append of entry {self.size} failed: {exc}") from exc
        self._tail = _Tail(tree, leaf_hash, chain)
        return Appended(size, leaf_hash, size + 1, root, note)
