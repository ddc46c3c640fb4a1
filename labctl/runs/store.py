"""The persisted runs of every kiln, in SQLite, written from one thread off the event loop.

WAL mode with ``synchronous=FULL``: a commit that returned survives a crash or a power cut on
storage that honours fsync. One worker thread owns the connection and runs every call. Each
write is one transaction, so a crash anywhere leaves the state before or after it. ``runs``
keeps the profile as loaded (a resumed run uses the same program even if the file changed),
the latest state snapshot and the outcome. At most one run per kiln is active; an ended run
never changes, so an outcome is never replaced; triggers keep ``run_events`` append-only.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from labctl.runs.sqlite import transaction
from labctl.runs.state import Outcome, OutcomeKind

SCHEMA_VERSION: Final = 1

_SCHEMA: Final = (
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY, kiln TEXT NOT NULL, profile_name TEXT NOT NULL,
        profile_json TEXT NOT NULL, mode TEXT NOT NULL, started_wall REAL NOT NULL,
        started_by TEXT NOT NULL, state_json TEXT NOT NULL, state_saved_wall REAL NOT NULL,
        ended_wall REAL, outcome TEXT, outcome_reason TEXT, outcome_by TEXT,
        CHECK (outcome IN ('completed', 'aborted', 'faulted', 'interrupted')),
        CHECK ((ended_wall IS NULL) = (outcome IS NULL)))""",
    "CREATE UNIQUE INDEX runs_one_active_per_kiln ON runs (kiln) WHERE ended_wall IS NULL",
    """CREATE TABLE run_events (
        id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs (id),
        at_wall REAL NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL)""",
    "CREATE INDEX run_events_by_run ON run_events (run_id, id)",
    """CREATE TRIGGER run_events_no_update BEFORE UPDATE ON run_events
        BEGIN SELECT RAISE(ABORT, 'run_events is append-only'); END""",
    """CREATE TRIGGER run_events_no_delete BEFORE DELETE ON run_events
        BEGIN SELECT RAISE(ABORT, 'run_events is append-only'); END""",
    """CREATE TRIGGER runs_no_delete BEFORE DELETE ON runs
        BEGIN SELECT RAISE(ABORT, 'runs are never deleted'); END""",
    """CREATE TRIGGER runs_ended_is_final BEFORE UPDATE ON runs WHEN OLD.ended_wall IS NOT NULL
        BEGIN SELECT RAISE(ABORT, 'an ended run is final'); END""",
    f"INSERT INTO schema_version (version) VALUES ({SCHEMA_VERSION})",
)

#: Added after schema version 1 (created when missing): a run's kiln samples, bounded per run.
_SAMPLES_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS run_samples (run_id INTEGER NOT NULL REFERENCES runs (id),
        at_wall REAL NOT NULL, pv_c REAL, sp_c REAL, pv_max_c REAL)""",
    "CREATE INDEX IF NOT EXISTS run_samples_by_run ON run_samples (run_id, at_wall)",
)
MAX_SAMPLES_PER_RUN: Final = 20_000  # 55 h at one sample per 10 s
#: One stored sample: (wall s, PV °C, SP °C, highest PV °C since the sample before).
Sample = tuple[float, float | None, float | None, float | None]
_INSERT_SAMPLE: Final = (
    "INSERT INTO run_samples SELECT ?1, ?2, ?3, ?4, ?5 WHERE (SELECT count(*) FROM run_samples"
    f" WHERE run_id = ?1) < {MAX_SAMPLES_PER_RUN}"
)
_SAMPLES: Final = (
    "SELECT at_wall, pv_c, sp_c, pv_max_c FROM run_samples WHERE run_id = ? ORDER BY at_wall"
)
_JSON_IS: Final = "CASE WHEN json_valid({0}) THEN json_extract({0}, ?) END = ?"
_BY_STATE: Final = f"SELECT {{}} FROM runs WHERE {_JSON_IS.format('state_json')} ORDER BY id DESC"
_BY_EVENT: Final = (
    "SELECT {} FROM runs WHERE id IN (SELECT run_id FROM run_events WHERE kind = ?"
    f" AND {_JSON_IS.format('text')}) ORDER BY id DESC"
)

_RUN_COLUMNS: Final = (
    "id, kiln, profile_name, profile_json, mode, started_wall, started_by, state_json,"
    " state_saved_wall, ended_wall, outcome, outcome_reason, outcome_by"
)
_ACTIVE: Final = "AND ended_wall IS NULL"
_INSERT_RUN: Final = (
    "INSERT INTO runs (kiln, profile_name, profile_json, mode, started_wall, started_by,"
    " state_json, state_saved_wall) SELECT ?, ?, ?, ?, ?, ?, ?, ?"
    f" WHERE NOT EXISTS (SELECT 1 FROM runs WHERE kiln = ? {_ACTIVE}) RETURNING id"
)
_SAVE_STATE: Final = (
    f"UPDATE runs SET state_json = ?, state_saved_wall = ? WHERE id = ? {_ACTIVE} RETURNING id"
)
_END_RUN: Final = (
    "UPDATE runs SET ended_wall = ?, outcome = ?, outcome_reason = ?, outcome_by = ?"
    f" WHERE id = ? {_ACTIVE}"
)
_INSERT_EVENT: Final = "INSERT INTO run_events (run_id, at_wall, kind, text) VALUES (?, ?, ?, ?)"
_EVENTS: Final = "SELECT run_id, at_wall, kind, text FROM run_events WHERE run_id = ? ORDER BY id"


class RunStoreError(Exception):
    """The run store refused a request or could not carry it out."""


@dataclass(frozen=True, slots=True)
class StoredRun:
    """One row of ``runs``; ``outcome`` is None while the run is active."""

    id: int
    kiln: str
    profile_name: str
    profile_json: str
    mode: str
    started_wall: float
    started_by: str
    state_json: str
    state_saved_wall: float
    ended_wall: float | None
    outcome: Outcome | None


@dataclass(frozen=True, slots=True)
class RunEvent:
    """One row of ``run_events``."""

    run_id: int
    at_wall: float
    kind: str
    text: str


class RunStore:
    """The run database. Make one with :meth:`open`; every call runs on its own thread."""

    def __init__(self, path: Path, conn: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        self._path = path
        self._conn = conn
        self._executor = executor
        self._closed = False

    @classmethod
    async def open(cls, path: Path | str) -> RunStore:
        """Open the store, creating it and its parent directory (mode 0700) if needed."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="runstore")
        try:
            conn = await asyncio.get_running_loop().run_in_executor(executor, _connect, Path(path))
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(Path(path), conn, executor)

    async def close(self) -> None:
        """Finish the calls already queued, then close the database. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._conn.close)
        finally:
            self._executor.shutdown(wait=False)

    async def create_run(
        self,
        *,
        kiln: str,
        profile_name: str,
        profile_json: str,
        mode: str,
        started_by: str,
        state_json: str,
        at_wall: float,
    ) -> int:
        """Record a new active run and return its id; refused while the kiln has one."""
        values = (kiln, profile_name, profile_json, mode, at_wall, started_by, state_json, at_wall)
        rows = await self._sql(_INSERT_RUN, *values, kiln, write=True)
        if not rows:
            raise RunStoreError(f"kiln {kiln} already has an active run; end it first")
        return int(rows[0][0])

    async def save_state(self, run_id: int, *, state_json: str, at_wall: float) -> None:
        """Replace the state snapshot of an active run; refused once the run has ended."""
        if not await self._sql(_SAVE_STATE, state_json, at_wall, run_id, write=True):
            raise RunStoreError(f"run {run_id} is not an active run; its state was not saved")

    async def add_event(self, run_id: int, *, at_wall: float, kind: str, text: str) -> None:
        """Append an event to a run's log (ended runs included)."""
        await self._sql(_INSERT_EVENT, run_id, at_wall, kind, text, write=True)

    async def end_run(
        self, run_id: int, *, outcome_kind: OutcomeKind, reason: str, by: str | None, at_wall: float
    ) -> Outcome:
        """End a run unless it has an outcome; returns the one stored (an earlier one is kept)."""
        outcome = Outcome(outcome_kind, reason, by)
        values = (at_wall, outcome.kind.value, outcome.reason, outcome.by, run_id)
        await self._sql(_END_RUN, *values, write=True)
        rows = await self._sql(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", run_id)
        stored = _stored_run(rows[0]).outcome if rows else None
        if stored is None:
            raise RunStoreError(f"there is no run {run_id} to end")
        return stored

    async def active_run(self, kiln: str) -> StoredRun | None:
        """The kiln's run that has not ended, if any."""
        rows = await self._sql(f"SELECT {_RUN_COLUMNS} FROM runs WHERE kiln = ? {_ACTIVE}", kiln)
        return _stored_run(rows[0]) if rows else None

    async def history(self, limit: int = 50) -> list[StoredRun]:
        """The latest ``limit`` runs of every kiln, newest first."""
        rows = await self._sql(f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT ?", limit)
        return [_stored_run(row) for row in rows]

    async def events(self, run_id: int) -> list[RunEvent]:
        """A run's events, oldest first."""
        rows = await self._sql(_EVENTS, run_id)
        return [RunEvent(*row) for row in rows]

    async def add_samples(self, run_id: int, samples: Sequence[Sample]) -> int:
        """Append a run's samples; beyond MAX_SAMPLES_PER_RUN a run's samples are dropped."""
        rows = [(run_id, *sample) for sample in samples]
        return int(await self._sql(_INSERT_SAMPLE, *rows, write=True, many=True))

    async def samples(self, run_id: int) -> list[Sample]:
        """A run's stored samples, oldest first."""
        return [tuple(row) for row in await self._sql(_SAMPLES, run_id)]

    async def runs_by_json(self, path: str, value: str, event: str = "") -> list[StoredRun]:
        """Runs whose state (or an ``event`` of theirs) holds ``value`` at JSON ``path``."""
        params = (event, path, value) if event else (path, value)
        rows = await self._sql((_BY_EVENT if event else _BY_STATE).format(_RUN_COLUMNS), *params)
        return [_stored_run(row) for row in rows]

    async def _sql(self, sql: str, *params: Any, write: bool = False, many: bool = False) -> Any:
        """Run one statement (``many``: per params) on the store's thread; writes commit."""
        if self._closed:
            raise RunStoreError(f"the run store {self._path} is closed")
        call = functools.partial(_execute, self._conn, sql, params, write, many)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, call)
        except sqlite3.Error as err:
            raise RunStoreError(f"run store {self._path}: {err}") from err


def _execute(conn: sqlite3.Connection, sql: str, params: Any, write: bool, many: bool) -> Any:
    with transaction(conn) if write else nullcontext():
        return (
            conn.executemany(sql, params).rowcount if many else conn.execute(sql, params).fetchall()
        )


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)  # transactions are explicit
    try:
        if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0] != "wal":
            raise RunStoreError(f"run store {path}: cannot use WAL mode on this filesystem")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        with transaction(conn):
            tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
            if "schema_version" not in tables:
                for statement in _SCHEMA:
                    conn.execute(statement)
            (version,) = conn.execute("SELECT version FROM schema_version").fetchone()
            for statement in _SAMPLES_SCHEMA:
                conn.execute(statement)
        if version != SCHEMA_VERSION:
            raise RunStoreError(
                f"run store {path} has schema version {version}; this labctl reads {SCHEMA_VERSION}"
            )
    except BaseException:
        conn.close()
        raise
    return conn


def _stored_run(row: tuple[Any, ...]) -> StoredRun:
    *columns, kind, reason, by = row
    outcome = None if kind is None else Outcome(OutcomeKind(kind), reason, by)
    return StoredRun(*(*columns, outcome))
