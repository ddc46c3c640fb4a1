"""The telemetry spool: real SQLite files in tmp_path, no sleeps beyond a few flush intervals."""

import asyncio
import logging
import sqlite3
import tempfile
import time
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labctl.telemetry.points import FieldValue, Priority, TelemetryPoint
from labctl.telemetry.spool import Spool, SpoolError, SpoolStats

LOW, HIGH = Priority.LOW, Priority.HIGH


def point(i: int, priority: Priority = LOW, measurement: str = "kiln") -> TelemetryPoint:
    fields: dict[str, FieldValue] = {"pv_c": 700.0 + i, "state": "ramp", "holdback": i % 2}
    tags = {"lab": "a", "machine": f"kiln{i % 3}", "device": "tc"}
    return TelemetryPoint.make(
        measurement, tags, fields, wall_s=1_700_000_000 + i, priority=priority
    )


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


async def test_offer_never_waits_for_the_disk(path: Path):
    spool = await Spool.open(path, max_points=100_000, buffer_max=1000)
    with closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")  # another writer holds the file: the flush must wait
        spool.offer([point(i) for i in range(10)])
        flushing = asyncio.create_task(spool.flush())
        await asyncio.sleep(0.05)
        t0 = time.perf_counter()
        for i in range(1500):
            spool.offer([point(i)])
        offered_s = time.perf_counter() - t0
        stats = spool.stats()
        other.execute("COMMIT")
    await flushing
    await spool.flush()
    try:
        assert not flushing.exception()
        assert offered_s < 0.5  # about 1 µs per point; the disk is locked all along
        assert (stats.on_disk, stats.buffered, stats.dropped_buffer) == (
            0,
            1010,
            500,
        )  # 10 in flight, 1000 waiting
        assert spool.stats().on_disk == 1010
    finally:
        await spool.close()


async def test_stats(path: Path):
    spool = await Spool.open(path, max_points=100)
    try:
        empty = spool.stats()
        assert (empty.depth, empty.oldest_time_ns, empty.dropped_total) == (0, None, 0)
        spool.offer([point(5), point(6)])
        buffered = spool.stats()
        await spool.flush()
        spool.offer([point(1)])  # a point from earlier (another machine's clock): the minimum
        mixed = spool.stats()
    finally:
        await spool.close()
    assert (buffered.on_disk, buffered.buffered, buffered.depth) == (0, 2, 2)
    assert buffered.oldest_time_ns == point(5).time_ns
    assert (mixed.on_disk, mixed.buffered, mixed.depth) == (2, 1, 3)
    assert mixed.oldest_time_ns == point(1).time_ns
    assert isinstance(mixed, SpoolStats)


async def test_run_flushes_in_the_background_and_close_flushes_the_rest(path: Path):
    spool = await Spool.open(path, max_points=100, flush_interval_s=0.01)
    runner = asyncio.create_task(spool.run())
    spool.offer([point(0)])
    for _ in range(200):
        if spool.stats().on_disk:
            break
        await asyncio.sleep(0.005)
    assert spool.stats().on_disk == 1
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    spool.offer([point(1)])
    await spool.close()
    await spool.close()  # idempotent
    spool.offer([point(2)])  # after close: dropped and counted, never raised
    assert spool.stats().dropped_buffer == 1
    with pytest.raises(SpoolError):
        await spool.batch(1)
    again = await Spool.open(path, max_points=100)
    try:
        assert [p for _, p in await again.batch(10)] == [point(0), point(1)]
    finally:
        await again.close()


async def test_a_full_disk_is_logged_once_and_retried(path: Path, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="labctl.telemetry.spool")
    spool = await Spool.open(path, max_points=100_000, buffer_max=300)
    disk = spool._disk  # the real SQLite "database or disk is full" error, via max_page_count
    try:
        await spool._submit(lambda: disk._conn.execute("PRAGMA max_page_count = 1"))
        for i in range(3):
            spool.offer([point(100 * i + j) for j in range(100)])
            await spool.flush()
        spool.offer([point(999)])  # memory is full too: dropped, counted
        failing = spool.stats()
        await spool._submit(lambda: disk._conn.execute("PRAGMA max_page_count = 1000000"))
        await spool.flush()
        recovered = spool.stats()
        rows = await spool.batch(1000)
    finally:
        await spool.close()
    assert (failing.write_errors, failing.on_disk, failing.buffered) == (3, 0, 300)
    assert failing.depth + failing.dropped_total == 301
    assert (recovered.on_disk, recovered.buffered, recovered.dropped_buffer) == (300, 0, 1)
    assert [p for _, p in rows] == [point(100 * i + j) for i in range(3) for j in range(100)]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("cannot write" in m and "full" in m for m in messages) == 1
    assert sum("writing again" in m for m in messages) == 1


async def test_open_refuses_another_file(tmp_path: Path):
    (tmp_path / "junk.sqlite").write_bytes(b"not a database" * 100)
    with pytest.raises(SpoolError):
        await Spool.open(tmp_path / "junk.sqlite", max_points=10)


ops = st.lists(
    st.one_of(
        st.tuples(st.just("offer"), st.lists(st.sampled_from(Priority), max_size=7)),
        st.tuples(st.just("flush"), st.just(0)),
        st.tuples(st.just("batch"), st.integers(1, 6)),
        st.tuples(st.just("ack"), st.integers(0, 6)),
        st.tuples(st.just("release"), st.just(0)),
    ),
    max_size=30,
)


async def _scenario(path: Path, steps: list[tuple[str, object]]) -> None:
    spool = await Spool.open(path, max_points=10, buffer_max=8)
    offered = acked = 0
    handed: list[int] = []  # ids out with the drainer
    try:
        for op, arg in steps:
            if op == "offer":
                assert isinstance(arg, list)
                spool.offer([point(offered + i, p) for i, p in enumerate(arg)])
                offered += len(arg)
            elif op == "flush":
                await spool.flush()
            elif op == "batch":
                assert isinstance(arg, int)
                got = [i for i, _ in await spool.batch(arg)]
                assert not set(got) & set(handed), "a point handed out twice"
                handed += got
            elif op == "ack":
                assert isinstance(arg, int)
                acked += await spool.ack(handed[:arg])
                del handed[:arg]
            else:
                spool.release()
                handed.clear()
            stats = spool.stats()
            assert stats.depth == offered - acked - stats.dropped_total
            assert stats.on_disk <= 10
    finally:
        await spool.close()
    assert spool.stats().buffered == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_depth_is_offered_minus_acked_minus_dropped(steps: list[tuple[str, object]]):
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_scenario(Path(tmp) / "spool.sqlite", steps))


async def test_a_cancelled_flush_still_lands_and_is_counted(path: Path):
    spool = await Spool.open(path, max_points=100)
    with closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        spool.offer([point(0), point(1)])
        flushing = asyncio.create_task(spool.flush())
        await asyncio.sleep(0.05)
        flushing.cancel()  # e.g. the daemon stops run() mid-flush
        await asyncio.gather(flushing, return_exceptions=True)
        assert spool.stats().buffered == 2  # still in flight on the spool's thread
        other.execute("COMMIT")
    try:
        for _ in range(200):
            if spool.stats().on_disk:
                break
            await asyncio.sleep(0.005)
        assert (spool.stats().on_disk, spool.stats().buffered) == (2, 0)
    finally:
        await spool.close()
