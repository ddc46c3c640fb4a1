"""Side tables of the ledger database: entry times, references, client idempotency keys.

They say when each entry was recorded, what it refers to, and the client idempotency keys of
the commands that appended it.

None of these is part of the log (the Merkle tree, checkpoints and audit never read them): they
are indexes, rebuilt from the entries when missing (a ledger made before they existed), so a
query such as "which casts name flask F-0007" needs no scan of the log. Like the log they are
append-only, and they are written in the same transaction as the entry they describe.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from labctl.commands.idempotency import Once

#: A reference from one record to another: (field, value), e.g. ("flask", "F-0007").
Ref = tuple[str, str]
RefsOf = Callable[[str, bytes], Sequence[Ref]]  # (kind, leaf) -> refs, for the rebuild

SIDE_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS recorded (idx INTEGER PRIMARY KEY, at_wall REAL NOT NULL)",
    """CREATE TABLE IF NOT EXISTS refs (idx INTEGER NOT NULL, kind TEXT NOT NULL,
        field TEXT NOT NULL, value TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS refs_by_value ON refs (value, field, kind)",
    """CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, digest TEXT NOT NULL,
        answer TEXT NOT NULL)""",
    *(
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op} BEFORE {op.upper()} ON {table}"
        f" BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        for table in ("recorded", "refs", "idempotency")
        for op in ("update", "delete")
    ),
)


@dataclass(frozen=True, slots=True)
class Found:
    """Where an entry was recorded: its index and wall time (None before times were kept)."""

    index: int
    at_wall: float | None


def ensure(conn: sqlite3.Connection, refs_of: RefsOf | None) -> None:
    """Create the side tables; rebuild ``refs`` from the entries when it was just created."""
    fresh = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'refs'").fetchone() is None
    for statement in SIDE_SCHEMA:
        conn.execute(statement)
    if fresh and refs_of is not None:
        rows = conn.execute("SELECT idx, kind, leaf FROM entries ORDER BY idx")
        for idx, kind, leaf in rows.fetchall():
            insert_refs(conn, int(idx), str(kind), refs_of(str(kind), bytes(leaf)))


def insert_refs(conn: sqlite3.Connection, index: int, kind: str, refs: Iterable[Ref]) -> None:
    conn.executemany(
        "INSERT INTO refs (idx, kind, field, value) VALUES (?, ?, ?, ?)",
        [(index, kind, field, value) for field, value in refs],
    )


def record(conn: sqlite3.Connection, index: int, at_wall: float) -> None:
    conn.execute("INSERT INTO recorded (idx, at_wall) VALUES (?, ?)", (index, at_wall))


def existing(conn: sqlite3.Connection, kind: str, subject: str) -> Found | None:
    """The first entry of ``kind`` about ``subject``, if any."""
    sql = (
        "SELECT e.idx, r.at_wall FROM entries e LEFT JOIN recorded r ON r.idx = e.idx"
        " WHERE e.subject = ? AND e.kind = ? ORDER BY e.idx LIMIT 1"
    )
    row = conn.execute(sql, (subject, kind)).fetchone()
    return None if row is None else Found(int(row[0]), None if row[1] is None else row[1])


def referring(conn: sqlite3.Connection, kind: str, field: str, value: str) -> list[int]:
    """Indexes of the entries of ``kind`` that refer to ``value`` as ``field``, oldest first."""
    sql = "SELECT idx FROM refs WHERE value = ? AND field = ? AND kind = ? ORDER BY idx"
    return [int(idx) for (idx,) in conn.execute(sql, (value, field, kind))]


def recall(conn: sqlite3.Connection, key: str) -> tuple[str, dict[str, object]] | None:
    """The digest and answer kept for idempotency ``key``, if any."""
    row = conn.execute("SELECT digest, answer FROM idempotency WHERE key = ?", (key,)).fetchone()
    return None if row is None else (str(row[0]), dict(json.loads(row[1])))


def remember(conn: sqlite3.Connection, once: Once, answer: Mapping[str, object]) -> None:
    conn.execute(
        "INSERT INTO idempotency (key, digest, answer) VALUES (?, ?, ?)",
        (once.key, once.digest, json.dumps(dict(answer), sort_keys=True)),
    )
