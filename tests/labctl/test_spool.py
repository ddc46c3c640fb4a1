"""The telemetry spool's file: real SQLite files in tmp_path.

Points round-trip in order, are handed out once, acked by id, replayed after a reopen and
dropped oldest-low-first at the bound. The buffer in front of the file, the background flush
and the depth property are in ``tests/labctl/test_spool_flush.py``.
"""

import logging
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from labctl.telemetry.points import Priority, TelemetryPoint
from labctl.telemetry.spool import Spool
from tests._support.spool_points import point

LOW, HIGH = Priority.LOW, Priority.HIGH


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "telemetry.sqlite"


async def spooled(spool: Spool, points: list[TelemetryPoint]) -> list[int]:
    """Offer and flush ``points``; the ids they got on disk, oldest first."""
    spool.offer(points)
    await spool.flush()
    rows = await spool.batch(10_000)
    spool.release()
    return [row_id for row_id, _ in rows]


async def test_round_trip_keeps_every_point_in_order(path: Path):
    points = [
        point(i, HIGH if i % 4 == 0 else LOW, "caster" if i % 2 else "kiln") for i in range(20)
    ]
    spool = await Spool.open(path, max_points=100)
    try:
        spool.offer(points[:7])
        await spool.flush()
        spool.offer(points[7:])
        await spool.flush()
        rows = await spool.batch(100)
    finally:
        await spool.close()
    assert [p for _, p in rows] == points
    ids = [row_id for row_id, _ in rows]
    assert ids == sorted(ids) and len(set(ids)) == 20


async def test_batches_hand_out_each_point_once_until_released(path: Path):
    spool = await Spool.open(path, max_points=100)
    try:
        ids = await spooled(spool, [point(i) for i in range(10)])
        first, second = await spool.batch(4), await spool.batch(4)
        assert [i for i, _ in first] == ids[:4]
        assert [i for i, _ in second] == ids[4:8]  # pipelined: no point twice
        assert [i for i, _ in await spool.batch(4)] == ids[8:]
        assert await spool.batch(4) == []
        spool.release()  # e.g. the drainer restarted: everything unacked comes again
        assert [i for i, _ in await spool.batch(100)] == ids
    finally:
        await spool.close()


async def test_ack_deletes_only_the_acked_ids(path: Path):
    spool = await Spool.open(path, max_points=100)
    try:
        ids = await spooled(spool, [point(i) for i in range(6)])
        assert await spool.ack([ids[1], ids[4]]) == 2
        assert await spool.ack([ids[1], 999_999]) == 0  # gone already, never existed
        assert [i for i, _ in await spool.batch(100)] == [ids[0], ids[2], ids[3], ids[5]]
        assert spool.stats().on_disk == 4
    finally:
        await spool.close()


async def test_ids_are_never_reused_so_a_late_ack_hits_nothing_new(path: Path):
    spool = await Spool.open(path, max_points=100)
    try:
        (old,) = await spooled(spool, [point(0)])
        assert await spool.ack([old]) == 1
        (new,) = await spooled(spool, [point(1)])
        assert new > old
        assert await spool.ack([old]) == 0
        assert spool.stats().on_disk == 1
    finally:
        await spool.close()


async def test_reopen_replays_unacked_points(path: Path):
    points = [point(i) for i in range(5)]
    spool = await Spool.open(path, max_points=100)
    try:
        ids = await spooled(spool, points)
        sent = await spool.batch(3)  # handed to a writer, never acked: the daemon "crashes"
        with closing(sqlite3.connect(path)) as other:  # committed: another process sees them
            assert other.execute("SELECT COUNT(*) FROM points").fetchone() == (5,)
    finally:
        await spool.close()
    again = await Spool.open(path, max_points=100)
    try:
        assert again.stats().on_disk == 5
        assert again.stats().oldest_time_ns == points[0].time_ns
        assert [(i, p) for i, p in await again.batch(100)] == list(zip(ids, points, strict=True))
        assert [i for i, _ in sent] == ids[:3]
    finally:
        await again.close()


async def test_bound_drops_oldest_low_first_and_counts(path: Path):
    h1, h2 = point(0, HIGH), point(4, HIGH)
    lows = [point(i) for i in (1, 2, 3, 5, 6, 7)]
    order = [h1, *lows[:3], h2, *lows[3:]]  # h1 l1 l2 l3 h2 l5 l6 l7
    spool = await Spool.open(path, max_points=5)
    try:
        spool.offer(order)
        await spool.flush()
        kept = [p for _, p in await spool.batch(100)]
        stats = spool.stats()
    finally:
        await spool.close()
    assert kept == [h1, h2, *lows[3:]]
    assert (stats.dropped_low, stats.dropped_high, stats.dropped_total, stats.on_disk) == (
        3,
        0,
        3,
        5,
    )


async def test_bound_drops_high_only_when_no_low_is_left(path: Path):
    highs = [point(i, HIGH) for i in range(4)]
    spool = await Spool.open(path, max_points=3)
    try:
        spool.offer([point(10), *highs, point(11)])
        await spool.flush()
        kept = [p for _, p in await spool.batch(100)]
        stats = spool.stats()
    finally:
        await spool.close()
    assert kept == highs[1:]
    assert (stats.dropped_low, stats.dropped_high, stats.dropped_total) == (2, 1, 3)


async def test_a_smaller_bound_applies_when_reopening(path: Path):
    spool = await Spool.open(path, max_points=10)
    await spooled(spool, [point(i) for i in range(8)])
    await spool.close()
    smaller = await Spool.open(path, max_points=5)
    try:
        assert (smaller.stats().on_disk, smaller.stats().dropped_low) == (5, 3)
    finally:
        await smaller.close()


async def test_full_and_below_bound_are_logged_once_each(
    path: Path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="labctl.telemetry.spool")
    spool = await Spool.open(path, max_points=3)
    try:
        for i in range(5):
            spool.offer([point(2 * i), point(2 * i + 1)])
            await spool.flush()
        rows = await spool.batch(1)
        await spool.ack([i for i, _ in rows])
        await spool.ack([i for i, _ in await spool.batch(1)])
    finally:
        await spool.close()
    messages = [r.getMessage() for r in caplog.records]
    assert sum("full, dropping" in m for m in messages) == 1
    assert sum("below its bound again" in m for m in messages) == 1
    assert spool.stats().dropped_low == 7
