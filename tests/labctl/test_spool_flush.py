"""The telemetry spool's buffer and flushing: offers never wait for the disk, the background
flush and close land everything, a full disk is logged once and retried, and the depth is
always offered - acked - dropped (a hypothesis property). Real SQLite files in tmp_path, no
sleeps beyond a few flush intervals; the file itself is in ``tests/labctl/test_spool.py``.
"""

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

from labctl.telemetry.points import Priority
from labctl.telemetry.spool import Spool, SpoolError, SpoolStats
from tests._support.spool_points import point


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "telemetry.sqlite"


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
