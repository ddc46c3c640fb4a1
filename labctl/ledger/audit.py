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
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from labctl.ledger import merkle, note, store_sql
from labctl.ledger.jcs import LedgerFormatError
from labctl.ledger.store import Ledger

MAX_PROBLEMS: Final = 50  # a broken log would otherwise list every later entry


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
        entries, checkpoints = _check_log(conn, origin, verifiers, problems)
        conn.execute("COMMIT")
    return AuditReport(
        path, entries, checkpoints, tuple(problems.found), time.perf_counter() - started
    )


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


def _check_log(
    conn: sqlite3.Connection, origin: str, verifiers: tuple[note.Verifier, ...], problems: _Problems
) -> tuple[int, int]:
    tiles = _tiles(conn)
    notes = iter(conn.execute("SELECT size, note FROM checkpoints ORDER BY size"))
    pending = next(notes, None)
    reader = functools.lru_cache(maxsize=4096)(store_sql.subtree_reader(conn))
    tree, chain, previous, count = merkle.CompactRange(), store_sql.NO_HASH, (0, b""), 0
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
            previous = _check_checkpoint(
                pending, tree, previous, reader, origin, verifiers, problems
            )
            pending, count = next(notes, None), count + 1
    if pending is not None:
        problems.add(f"checkpoint {pending[0]} is beyond the {tree.size} entries")
    if previous[0] != tree.size:
        problems.add(f"no checkpoint covers the {tree.size} entries (latest: {previous[0]})")
    for level, rest in tiles.items():
        extra = next(rest, None)
        if extra is not None:
            problems.add(f"tile ({level}, {extra[0]}) reaches beyond the {tree.size} entries")
    return tree.size, count


def _check_checkpoint(
    row: tuple[int, str],
    tree: merkle.CompactRange,
    previous: tuple[int, bytes],
    reader: merkle.SubtreeHash,
    origin: str,
    verifiers: tuple[note.Verifier, ...],
    problems: _Problems,
) -> tuple[int, bytes]:
    """Check one stored checkpoint against the tree; returns it as the new ``previous``."""
    size, note = row
    if size != tree.size:
        problems.add(f"checkpoint {size} skipped an entry")
        return previous
    try:
        checkpoint = store_sql.verify_checkpoint(note, origin, verifiers)
    except LedgerFormatError as exc:
        problems.add(f"checkpoint {size}: {exc}")
        return previous
    if checkpoint.size != size or checkpoint.root != tree.root():
        problems.add(f"checkpoint {size}: its size or root does not match the entries")
        return previous
    if previous[0]:
        proof = merkle.consistency_proof_from(reader, previous[0], size)
        if not merkle.verify_consistency(previous[0], size, proof, previous[1], checkpoint.root):
            problems.add(f"checkpoints {previous[0]} and {size} are not consistent")
    return size, checkpoint.root
