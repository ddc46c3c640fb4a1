"""The run store: round trips, final outcomes, append-only events, and SIGKILL mid-write."""

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from labctl.runs.state import Outcome, OutcomeKind
from labctl.runs.store import RunStore, RunStoreError

ROOT = Path(__file__).resolve().parents[2]
FAULT = "over-temperature: PV 812 °C above the limit 790 °C"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "labctl" / "runs.sqlite"


@pytest.fixture
async def store(db_path: Path):
    opened = await RunStore.open(db_path)
    yield opened
    await opened.close()


async def new_run(store: RunStore, kiln: str = "kiln1", at_wall: float = 1000.0) -> int:
    return await store.create_run(
        kiln=kiln,
        profile_name="burnout-730",
        profile_json='{"segments": [{"ramp": 180}]}',
        mode="stream",
        started_by="ann",
        state_json='{"segment": 0}',
        at_wall=at_wall,
    )


def raw(path: Path) -> "closing[sqlite3.Connection]":
    return closing(sqlite3.connect(path))


async def test_round_trip(store: RunStore):
    run_id = await new_run(store)
    await store.save_state(run_id, state_json='{"segment": 1}', at_wall=1060.0)
    await store.add_event(run_id, at_wall=1010.0, kind="run", text="started by ann")
    await store.add_event(run_id, at_wall=1020.0, kind="program", text="segment 1: ramp")
    active = await store.active_run("kiln1")
    assert active is not None
    assert (active.id, active.kiln, active.profile_name, active.mode) == (
        run_id,
        "kiln1",
        "burnout-730",
        "stream",
    )
    assert (active.profile_json, active.started_wall, active.started_by) == (
        '{"segments": [{"ramp": 180}]}',
        1000.0,
        "ann",
    )
    assert (active.state_json, active.state_saved_wall) == ('{"segment": 1}', 1060.0)
    assert (active.ended_wall, active.outcome) == (None, None)
    assert [e.text for e in await store.events(run_id)] == ["started by ann", "segment 1: ramp"]

    outcome = await store.end_run(
        run_id, outcome_kind=OutcomeKind.COMPLETED, reason="", by="bob", at_wall=2000.0
    )
    assert outcome == Outcome(OutcomeKind.COMPLETED, by="bob")
    assert await store.active_run("kiln1") is None
    [ended] = await store.history()
    assert (ended.ended_wall, str(ended.outcome)) == (2000.0, "completed")


async def test_the_store_is_wal_full_sync_in_a_private_directory(store: RunStore, db_path: Path):
    assert db_path.parent.stat().st_mode & 0o777 == 0o700
    assert await store._sql("PRAGMA journal_mode") == [("wal",)]
    assert await store._sql("PRAGMA synchronous") == [(2,)]  # FULL


async def test_one_active_run_per_kiln(store: RunStore):
    await new_run(store)
    with pytest.raises(RunStoreError, match="kiln1 already has an active run"):
        await new_run(store)
    await new_run(store, kiln="kiln2")
    assert [run.kiln for run in await store.history()] == ["kiln2", "kiln1"]


async def test_history_is_newest_first_and_limited(store: RunStore):
    for i in range(3):
        run_id = await new_run(store, at_wall=float(i))
        await store.end_run(
            run_id, outcome_kind=OutcomeKind.ABORTED, reason="test", by="ann", at_wall=i + 0.5
        )
    assert [run.started_wall for run in await store.history(limit=2)] == [2.0, 1.0]


async def test_end_run_never_replaces_an_outcome(store: RunStore):
    run_id = await new_run(store)
    fault = await store.end_run(
        run_id, outcome_kind=OutcomeKind.FAULTED, reason=FAULT, by=None, at_wall=1500.0
    )
    again = await store.end_run(
        run_id, outcome_kind=OutcomeKind.COMPLETED, reason="", by="bob", at_wall=1600.0
    )
    assert again == fault == Outcome(OutcomeKind.FAULTED, FAULT)
    [run] = await store.history()
    assert (run.ended_wall, str(run.outcome)) == (1500.0, f"faulted: {FAULT}")


async def test_an_ended_run_refuses_new_state(store: RunStore):
    run_id = await new_run(store)
    await store.end_run(
        run_id, outcome_kind=OutcomeKind.INTERRUPTED, reason="restart", by=None, at_wall=1.0
    )
    with pytest.raises(RunStoreError, match="not an active run"):
        await store.save_state(run_id, state_json="{}", at_wall=2.0)
    await store.add_event(run_id, at_wall=3.0, kind="trip", text="late trip ignored")
    assert len(await store.events(run_id)) == 1


async def test_unknown_runs_are_refused(store: RunStore):
    with pytest.raises(RunStoreError, match="no run 42"):
        await store.end_run(42, outcome_kind=OutcomeKind.FAULTED, reason="x", by=None, at_wall=1.0)
    with pytest.raises(RunStoreError, match="FOREIGN KEY"):
        await store.add_event(42, at_wall=1.0, kind="run", text="orphan")
    with pytest.raises(RunStoreError, match="not an active run"):
        await store.save_state(42, state_json="{}", at_wall=1.0)


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("UPDATE run_events SET text = 'edited'", "append-only"),
        ("DELETE FROM run_events", "append-only"),
        ("DELETE FROM runs", "never deleted"),
        ("UPDATE runs SET outcome = 'completed', outcome_by = 'x'", "ended run is final"),
    ],
)
async def test_records_cannot_be_rewritten(store: RunStore, db_path: Path, sql: str, words: str):
    run_id = await new_run(store)
    await store.add_event(run_id, at_wall=1.0, kind="run", text="started")
    await store.end_run(
        run_id, outcome_kind=OutcomeKind.FAULTED, reason=FAULT, by=None, at_wall=2.0
    )
    with raw(db_path) as conn, pytest.raises(sqlite3.IntegrityError, match=words):
        conn.execute(sql)


async def test_concurrent_calls_are_serialised_on_one_thread(store: RunStore):
    run_id = await new_run(store)
    await asyncio.gather(
        *(store.add_event(run_id, at_wall=float(i), kind="tick", text=str(i)) for i in range(50)),
        *(store.save_state(run_id, state_json=str(i), at_wall=float(i)) for i in range(50)),
    )
    assert sorted(int(e.text) for e in await store.events(run_id)) == list(range(50))


async def test_reopen_after_close(db_path: Path):
    first = await RunStore.open(db_path)
    run_id = await new_run(first)
    await first.close()
    await first.close()  # idempotent
    with pytest.raises(RunStoreError, match="closed"):
        await first.active_run("kiln1")
    second = await RunStore.open(db_path)
    try:
        active = await second.active_run("kiln1")
        assert active is not None
        assert active.id == run_id
    finally:
        await second.close()


async def test_an_unknown_schema_version_is_refused(db_path: Path):
    await (await RunStore.open(db_path)).close()
    with raw(db_path) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
        conn.commit()
    with pytest.raises(RunStoreError, match="schema version 99"):
        await RunStore.open(db_path)


CHILD = """
import asyncio, sys
from labctl.runs.store import RunStore

async def main(path):
    store = await RunStore.open(path)
    run = await store.active_run("kiln1")
    if run is None:
        run_id, i = await store.create_run(
            kiln="kiln1", profile_name="p", profile_json="{}", mode="stream",
            started_by="ann", state_json="0", at_wall=0.0), 0
    else:  # a kill between an event and its state leaves the event: go on after it
        events = await store.events(run.id)
        run_id, i = run.id, max([int(run.state_json)] + [int(e.text) for e in events])
    while True:
        i += 1
        await store.add_event(run_id, at_wall=float(i), kind="tick", text=str(i))
        await store.save_state(run_id, state_json=str(i), at_wall=float(i))
        print(i, flush=True)

asyncio.run(main(sys.argv[1]))
"""


def test_sigkill_mid_write_loses_no_acknowledged_state(db_path: Path):
    for wanted in (1, 40, 150):  # three kills; each child picks the run up where it was left
        with subprocess.Popen(
            [sys.executable, "-c", CHILD, str(db_path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as child:
            assert child.stdout is not None
            assert child.stderr is not None
            acks = [child.stdout.readline() for _ in range(wanted)]
            assert acks[-1], child.stderr.read()
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            acked = int((acks + child.stdout.read().split())[-1])
        with raw(db_path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            (state,) = conn.execute("SELECT state_json FROM runs").fetchone()
            texts = [int(t) for (t,) in conn.execute("SELECT text FROM run_events ORDER BY id")]
        assert int(state) in (acked, acked + 1)  # the last commit may land unacknowledged
        assert texts == list(range(1, len(texts) + 1))  # no event lost or out of order
        assert len(texts) - int(state) in (0, 1)  # each event is written before its state
