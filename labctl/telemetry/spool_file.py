"""The spool's SQLite file; every call here runs on the spool's own thread (see spool.py).

Durability: WAL with ``synchronous=FULL``. This file is not the ledger, but ``NORMAL`` syncs the
WAL only at checkpoints, so a power cut could lose thousands of committed points; ``FULL`` costs
one fsync per flush (at most ``1 / flush_interval_s`` per second plus one per acked batch, on the
spool's thread) and bounds the loss to the points still in memory: the last flush interval.
WAL never leaves a torn file. Ids are ``AUTOINCREMENT`` so a late ack never hits a newer point.
At the bound ``max_points`` the oldest LOW points go first (oldest = first spooled), the oldest
HIGH ones only when no LOW one is left; each is counted.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from labctl.runs.sqlite import transaction
from labctl.telemetry.points import Priority, TelemetryPoint

SCHEMA_VERSION: Final = 1
_SCHEMA: Final = (
    """CREATE TABLE points (id INTEGER PRIMARY KEY AUTOINCREMENT,
        priority INTEGER NOT NULL CHECK (priority IN (0, 1)), time_ns INTEGER NOT NULL,
        payload TEXT NOT NULL)""",
    "CREATE INDEX points_by_priority ON points (priority, id)",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)
_INSERT: Final = "INSERT INTO points (priority, time_ns, payload) VALUES (?, ?, ?)"
_DROP_OLDEST: Final = (
    "DELETE FROM points WHERE id IN (SELECT id FROM points WHERE priority = ? ORDER BY id LIMIT ?)"
)
_ACK: Final = "DELETE FROM points WHERE id IN (SELECT value FROM json_each(?)) RETURNING priority"


class SpoolError(Exception):
    """The spool cannot be opened, or was used after :meth:`Spool.close`."""


@dataclass(frozen=True, slots=True)
class FileState:
    """What the event loop caches after each call: the figures :meth:`Spool.stats` reports."""

    on_disk: int
    oldest_time_ns: int | None
    dropped: tuple[int, int]  # by priority


class SpoolFile:
    """The spool's file; used only on the spool's thread."""

    def __init__(self, conn: sqlite3.Connection, max_points: int) -> None:
        self._conn, self._max = conn, max_points
        counts = dict(conn.execute("SELECT priority, COUNT(*) FROM points GROUP BY priority"))
        self._count = [counts.get(p, 0) for p in Priority]
        self._dropped = [0, 0]

    @classmethod
    def open(cls, path: Path, max_points: int) -> SpoolFile:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None)  # transactions are explicit
        try:
            if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0] != "wal":
                raise SpoolError(f"spool {path}: cannot use WAL mode on this filesystem")
            conn.execute("PRAGMA synchronous = FULL")
            with transaction(conn):
                (version,) = conn.execute("PRAGMA user_version").fetchone()
                if version == 0:
                    for statement in _SCHEMA:
                        conn.execute(statement)
                elif version != SCHEMA_VERSION:
                    raise SpoolError(
                        f"spool {path}: schema version {version}, not {SCHEMA_VERSION}"
                    )
            disk = cls(conn, max_points)
            disk.write([])  # the bound may have shrunk since the file was written
        except BaseException:
            conn.close()
            raise
        return disk

    def state(self) -> FileState:
        head = self._conn.execute("SELECT time_ns FROM points ORDER BY id LIMIT 1").fetchone()
        dropped = (self._dropped[0], self._dropped[1])
        return FileState(sum(self._count), None if head is None else head[0], dropped)

    def write(self, chunk: Sequence[TelemetryPoint]) -> FileState:
        rows = [(int(p.priority), p.time_ns, p.to_json()) for p in chunk]
        count, dropped = list(self._count), list(self._dropped)
        with transaction(self._conn):
            self._conn.executemany(_INSERT, rows)
            for p in chunk:
                count[p.priority] += 1
            for priority in Priority:  # LOW first
                excess = min(sum(count) - self._max, count[priority])
                if excess > 0:
                    self._conn.execute(_DROP_OLDEST, (int(priority), excess))
                    count[priority] -= excess
                    dropped[priority] += excess
        self._count, self._dropped = count, dropped  # committed
        return self.state()

    def read(self, after_id: int, limit: int) -> list[tuple[int, TelemetryPoint]]:
        sql = "SELECT id, payload FROM points WHERE id > ? ORDER BY id LIMIT ?"
        rows = self._conn.execute(sql, (after_id, limit)).fetchall()
        return [(row_id, TelemetryPoint.from_json(payload)) for row_id, payload in rows]

    def delete(self, ids: list[int]) -> tuple[int, FileState]:
        with transaction(self._conn):
            priorities = self._conn.execute(_ACK, (json.dumps(ids),)).fetchall()
        for (priority,) in priorities:
            self._count[priority] -= 1
        return len(priorities), self.state()

    def close(self) -> None:
        self._conn.close()
