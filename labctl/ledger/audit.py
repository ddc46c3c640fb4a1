"""The full audit of a ledger file: everything re-verified from the leaf bytes up.

One pass over the entries in index order on a read-only connection (a snapshot: appends go on
meanwhile) with memory O(log n): every leaf hash, the hash chain, every stored tile against the
tree rebuilt from the leaves, every checkpoint's signature, origin, size and root, and an RFC
9162 consistency proof (built from the tiles, as a client would get it) between each pair of
consecutive checkpoints. Also SQLite's ``quick_check`` and the append-only triggers. An audit of
an open :class:`~labctl.ledger.store.Ledger` that finds a problem stops its appends.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import os
import sqlite3
import time
from collections import deque
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Final

from labctl.ledger import merkle, note, store_sql
from labctl.ledger.jcs import LedgerFormatError
from labctl.ledger.store import Ledger

MAX_PROBLEMS: Final = 50  # a broken log would otherwise list every later entry
BATCH: Final = 2048  # checkpoints per signature-checking job

_Key = tuple[str, tuple[note.Verifier, ...]]  # origin, trusted keys
_Signed = tuple[int, note.Checkpoint | str]  # stored size, opened checkpoint or the problem


@dataclass(frozen=True, slots=True)
class AuditReport:
    """What the audit checked and every problem it found (none: the ledger is valid)."""

    path: Path
    entries: int
    checkpoints: int
    problems: tuple[str, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def entries_per_s(self) -> float:
        return self.entries / self.seconds if self.seconds > 0 else float("inf")


async def audit(
    source: Ledger | Path | str,
    *,
    origin: str | None = None,
    verifiers: Sequence[note.Verifier] = (),
) -> AuditReport:
    """Audit an open ledger, or a ledger file given its ``origin`` and trusted ``verifiers``."""
    ledger = source if isinstance(source, Ledger) else None
    if ledger is not None:
        path, origin, verifiers = ledger.path, ledger.origin, ledger.verifiers
    else:
        path = Path(str(source))
    if origin is None or not verifiers:
        raise ValueError("auditing a ledger file needs its origin and verifier keys")
    report = await asyncio.to_thread(_audit, path, origin, tuple(verifiers))
    if ledger is not None and not report.ok:
        ledger.stop(f"audit failed: {report.problems[0]}")
    return report


class _Problems:
    def __init__(self) -> None:
        self.found: list[str] = []

    def add(self, problem: str) -> None:
        if len(self.found) < MAX_PROBLEMS:
            self.found.append(problem)
        elif len(self.found) == MAX_PROBLEMS:
            self.found.append("... and more")


def _audit(path: Path, origin: str, verifiers: tuple[note.Verifier, ...]) -> AuditReport:
    started = time.perf_counter()
    problems = _Problems()
    if not path.exists():
        raise FileNotFoundError(f"no ledger at {path}")
    with closing(store_sql.connect(path, readonly=True)) as conn:
        conn.execute("BEGIN")  # one snapshot for the whole audit
        _check_database(conn, origin, problems)
        entries = conn.execute("SELECT count(*) FROM entries").fetchone()[0]
        checkpoints = _check_log(conn, path, (origin, verifiers), problems)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    return AuditReport(path, entries, checkpoints, tuple(problems.found), elapsed)


def _check_database(conn: sqlite3.Connection, origin: str, problems: _Problems) -> None:
    for (message,) in conn.execute("PRAGMA quick_check"):
        if message != "ok":
            problems.add(f"sqlite quick_check: {message}")
    triggers = {
        row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")
    }
    for statement in store_sql.SCHEMA:
        name = statement.split()[2]
        if statement.startswith("CREATE TRIGGER") and name not in triggers:
            problems.add(f"append-only trigger {name} is missing")
    stored = store_sql.meta(conn, "origin")
    if stored != origin:
        problems.add(f"the ledger's origin is {stored!r}, not {origin!r}")


def _tiles(conn: sqlite3.Connection) -> dict[int, Iterator[tuple[int, bytes]]]:
    levels = [row[0] for row in conn.execute("SELECT DISTINCT level FROM tiles")]
    sql = "SELECT idx, hash FROM tiles WHERE level = ? ORDER BY idx"
    return {level: iter(conn.execute(sql, (level,))) for level in levels}


def _check_log(conn: sqlite3.Connection, path: Path, key: _Key, problems: _Problems) -> int:
    """Check entries, tiles and checkpoints; returns the number of checkpoints."""
    tiles = _tiles(conn)
    last = conn.execute("SELECT coalesce(max(size), 0) FROM checkpoints").fetchone()[0]
    signed = _signed_checkpoints(path, key, int(last))
    pending = next(signed, None)
    tree, chain, latest, count = merkle.CompactRange(), store_sql.NO_HASH, 0, 0
    sql = "SELECT idx, leaf, leaf_hash, chain FROM entries ORDER BY idx"
    for idx, leaf, stored_hash, stored_chain in conn.execute(sql):
        if idx != tree.size:
            problems.add(f"entry {tree.size} is missing (next stored is {idx})")
            break
        leaf_hash = merkle.leaf_hash(leaf)
        if leaf_hash != stored_hash:
            problems.add(f"entry {idx}: the leaf does not match its leaf hash")
        chain = store_sql.chain_hash(chain, leaf_hash)
        if chain != stored_chain:
            problems.add(f"entry {idx}: the chain hash does not match")
            chain = bytes(stored_chain)
        for level, index, node in tree.append(leaf_hash)[1:]:
            stored = next(tiles[level], None) if level in tiles else None
            if stored != (index, node):
                problems.add(f"tile ({level}, {index}) does not match the leaves")
        while pending is not None and pending[0] <= tree.size:
            if _check_checkpoint(pending, tree, problems):
                latest = tree.size
            pending, count = next(signed, None), count + 1
    signed.close()
    if pending is not None:
        problems.add(f"checkpoint {pending[0]} is beyond the {tree.size} entries")
    if latest != tree.size:
        problems.add(f"no checkpoint covers the {tree.size} entries (latest: {latest})")
    for level, rest in tiles.items():
        extra = next(rest, None)
        if extra is not None:
            problems.add(f"tile ({level}, {extra[0]}) reaches beyond the {tree.size} entries")
    return count


def _check_checkpoint(signed: _Signed, tree: merkle.CompactRange, problems: _Problems) -> bool:
    """Check one opened checkpoint against the tree rebuilt from the leaves."""
    size, checkpoint = signed
    if size != tree.size:
        problems.add(f"checkpoint {size} skipped an entry")
    elif isinstance(checkpoint, str):
        problems.add(f"checkpoint {size}: {checkpoint}")
    elif checkpoint.size != size or checkpoint.root != tree.root():
        problems.add(f"checkpoint {size}: its size or root does not match the entries")
    else:
        return True
    return False


def _signed_checkpoints(path: Path, key: _Key, last: int) -> Generator[_Signed, None, None]:
    """Every checkpoint up to size ``last`` with its signature checked, in size order.

    Ed25519 verification and the consistency proofs dominate the audit and hold the GIL, so
    big logs are checked in batches on worker processes while this process walks the entries.
    They are spawned, since forking a threaded daemon is unsafe, so the program's main module
    must be import-safe (as for any use of ``multiprocessing``).
    """
    batches = iter(range(1, last + 1, BATCH))
    workers = os.cpu_count() or 1
    if last <= BATCH or workers < 2:
        for lo in batches:
            yield from _verify_batch(path, key, lo, lo + BATCH)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        queued = deque(
            pool.submit(_verify_batch, path, key, lo, lo + BATCH)
            for lo in islice(batches, 2 * workers)
        )
        while queued:
            done = queued.popleft().result()
            queued.extend(
                pool.submit(_verify_batch, path, key, lo, lo + BATCH) for lo in islice(batches, 1)
            )
            yield from done


def _verify_batch(path: Path, key: _Key, lo: int, hi: int) -> list[_Signed]:
    """Open the stored checkpoints of sizes ``lo`` to ``hi - 1``.

    Each must be consistent with the one before it: an RFC 9162 proof built from the tiles.
    """
    checked: list[_Signed] = []
    with closing(store_sql.connect(path, readonly=True)) as conn:
        reader = functools.lru_cache(maxsize=4096)(store_sql.subtree_reader(conn))
        before = "SELECT size, note FROM checkpoints WHERE size < ? ORDER BY size DESC LIMIT 1"
        sql = "SELECT size, note FROM checkpoints WHERE size >= ? AND size < ? ORDER BY size"
        previous = _open(conn.execute(before, (lo,)).fetchone(), key)
        for row in conn.execute(sql, (lo, hi)):
            size, checkpoint = opened = _open(row, key)
            if isinstance(checkpoint, note.Checkpoint) and isinstance(previous[1], note.Checkpoint):
                old = previous[1]
                try:
                    proof = merkle.consistency_proof_from(reader, old.size, checkpoint.size)
                except (LookupError, LedgerFormatError):
                    proof = []
                if not merkle.verify_consistency(
                    old.size, checkpoint.size, proof, old.root, checkpoint.root
                ):
                    opened = (size, f"not consistent with checkpoint {old.size}")
            checked.append(opened)
            previous = (size, checkpoint)
    return checked


def _open(row: tuple[int, str] | None, key: _Key) -> _Signed:
    """A stored ``(size, note)`` row opened, or the problem with it (``(0, "")`` for None)."""
    if row is None:
        return 0, ""
    try:
        return row[0], store_sql.verify_checkpoint(row[1], *key)
    except LedgerFormatError as exc:
        return row[0], str(exc)
