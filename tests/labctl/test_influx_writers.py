"""The drain loop acks only what the server accepted, backs off with jitter and keeps refused
points.

The drain loop runs against an in-memory spool with the real spool's lease semantics and a
scripted writer (the seam), on a virtual clock. The writers themselves (line protocol, HTTP,
failure classes) are in ``tests/labctl/test_influx_http.py``.
"""

import asyncio
import logging
import random
from collections.abc import Callable, Iterable, Sequence

from drivers.clock import VirtualClock
from labctl.telemetry.drain import Drainer, DrainState, DrainStats
from labctl.telemetry.influx import (
    InfluxWriteError,
)
from labctl.telemetry.points import TelemetryPoint


def pt(i: int, **fields: float | int | str | bool) -> TelemetryPoint:
    return TelemetryPoint.make(
        "kiln", {"lab": "l", "machine": "k1"}, fields or {"pv_c": float(i)}, wall_s=1e9 + i
    )


class MemorySpool:
    """The spool's drain interface in memory, leases included (like labctl/telemetry/spool.py)."""

    def __init__(self, points: Iterable[TelemetryPoint] = ()) -> None:
        self.rows: dict[int, TelemetryPoint] = {}
        self.leased: set[int] = set()
        self.acks: list[list[int]] = []
        self.next_id = 1
        self.offer(points)

    def offer(self, points: Iterable[TelemetryPoint]) -> None:
        for p in points:
            self.rows[self.next_id] = p
            self.next_id += 1

    async def batch(self, limit: int) -> list[tuple[int, TelemetryPoint]]:
        free = [(i, p) for i, p in sorted(self.rows.items()) if i not in self.leased][:limit]
        self.leased.update(i for i, _ in free)
        return free

    async def ack(self, ids: Sequence[int]) -> int:
        self.acks.append(list(ids))
        self.leased.difference_update(ids)
        return sum(self.rows.pop(i, None) is not None for i in ids)

    def release(self) -> None:
        self.leased.clear()

    def stats(self) -> dict[str, int]:
        return {"depth": len(self.rows)}


class ScriptedWriter:
    """Fails with the scripted errors in turn, then accepts; records what it saw."""

    def __init__(self, spool: MemorySpool, *errors: InfluxWriteError) -> None:
        self.spool, self.errors = spool, list(errors)
        self.batches: list[list[TelemetryPoint]] = []
        self.unacked_at_write: list[bool] = []
        self.times: list[float] = []
        self.clock: VirtualClock | None = None

    async def write(self, points: Sequence[TelemetryPoint]) -> None:
        self.batches.append(list(points))
        self.unacked_at_write.append(all(p in self.spool.rows.values() for p in points))
        if self.clock is not None:
            self.times.append(self.clock.now())
        if self.errors:
            raise self.errors.pop(0)


DOWN = InfluxWriteError("t", "no answer", retryable=True)
BAD_AUTH = InfluxWriteError("t", "HTTP 401", retryable=False, status=401)


class MaxRandom(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return b


async def drive(drainer: Drainer, clock: VirtualClock, until: Callable[[], bool]) -> None:
    tasks = [asyncio.create_task(drainer.run()), asyncio.create_task(clock.autojump())]
    try:
        for _ in range(100_000):
            if until():
                return
            await asyncio.sleep(0)
        raise AssertionError("condition not reached")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def make(spool: MemorySpool, writer: ScriptedWriter, rng: random.Random | None = None, **kw):
    clock = VirtualClock()
    writer.clock = clock
    return Drainer(spool, writer, clock=clock, rng=rng or random.Random(1), **kw), clock


async def test_points_are_acked_only_after_the_server_accepted_them():
    spool = MemorySpool(pt(i) for i in range(12))
    writer = ScriptedWriter(spool, DOWN, DOWN)
    drainer, clock = make(spool, writer, batch_size=5)
    await drive(drainer, clock, lambda: not spool.rows)
    assert all(writer.unacked_at_write)
    # two failed attempts at the first batch acked nothing; then three batches, oldest first
    assert [len(b) for b in writer.batches] == [5, 5, 5, 5, 2]
    assert writer.batches[0] == writer.batches[1] == writer.batches[2]
    assert [p for b in writer.batches[2:] for p in b] == [pt(i) for i in range(12)]
    assert spool.acks == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12]]
    stats = drainer.stats()
    assert (stats.state, stats.sent, stats.batches, stats.failed_attempts) == (
        DrainState.OK,
        12,
        3,
        2,
    )
    assert stats.consecutive_failures == 0 and stats.last_error == "t: no answer"


async def test_backoff_doubles_up_to_the_bound_then_resets_after_success():
    spool = MemorySpool([pt(1)])
    writer = ScriptedWriter(spool, *[DOWN] * 10)
    drainer, clock = make(spool, writer, MaxRandom(), backoff_initial_s=0.5, backoff_max_s=60)
    await drive(drainer, clock, lambda: not spool.rows)
    gaps = [b - a for a, b in zip(writer.times, writer.times[1:], strict=False)]
    assert gaps == [0.5, 1, 2, 4, 8, 16, 32, 60, 60, 60]
    spool.offer([pt(2)])
    writer.errors = [DOWN]
    await drive(drainer, clock, lambda: not spool.rows)
    assert writer.times[-1] - writer.times[-2] == 0.5  # after a success it starts over


async def test_backoff_is_jittered_within_its_ceiling():
    spool = MemorySpool([pt(1)])
    writer = ScriptedWriter(spool, *[DOWN] * 12)
    drainer, clock = make(spool, writer, random.Random(7), backoff_max_s=8)
    await drive(drainer, clock, lambda: not spool.rows)
    gaps = [b - a for a, b in zip(writer.times, writer.times[1:], strict=False)]
    ceilings = [min(8.0, 0.5 * 2**n) for n in range(12)]
    assert all(0 <= g <= c for g, c in zip(gaps, ceilings, strict=True))
    assert len({round(g, 6) for g in gaps}) == len(gaps)  # no two equal: jitter
    assert sum(g / c for g, c in zip(gaps, ceilings, strict=True)) / len(gaps) < 0.8


async def test_a_retry_after_from_the_server_is_honoured_within_the_bound():
    busy = InfluxWriteError("t", "HTTP 429", retryable=True, status=429, retry_after_s=7)
    spool = MemorySpool([pt(1)])
    writer = ScriptedWriter(spool, busy)
    drainer, clock = make(spool, writer)
    await drive(drainer, clock, lambda: not spool.rows)
    assert writer.times[1] - writer.times[0] >= 7


async def test_a_refused_batch_is_kept_retried_slowly_and_logged_once(caplog):
    caplog.set_level(logging.INFO, logger="labctl.telemetry.drain")
    spool = MemorySpool(pt(i) for i in range(3))
    writer = ScriptedWriter(spool, BAD_AUTH, BAD_AUTH, BAD_AUTH)
    drainer, clock = make(spool, writer, backoff_max_s=60)
    seen: list[DrainStats] = []

    def done() -> bool:
        seen.append(drainer.stats())
        return not spool.rows

    await drive(drainer, clock, done)
    assert spool.acks == [[1, 2, 3]]  # nothing dropped: the same points, accepted at last
    assert all(b == writer.batches[0] for b in writer.batches)
    gaps = [b - a for a, b in zip(writer.times, writer.times[1:], strict=False)]
    assert all(30 <= g <= 60 for g in gaps)
    assert DrainState.REFUSED in {s.state for s in seen}
    records = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert [level for level, _ in records] == ["ERROR", "INFO"]
    assert "refused" in records[0][1] and "3 points kept" in records[0][1]
    assert "after 3 failed attempts" in records[1][1]


async def test_a_cancelled_write_is_sent_again_by_the_next_run():
    spool = MemorySpool([pt(1), pt(2), pt(3)])

    class Hangs(ScriptedWriter):
        async def write(self, points: Sequence[TelemetryPoint]) -> None:
            await super().write(points)
            if len(self.batches) == 1:
                await asyncio.Event().wait()

    writer = Hangs(spool)
    drainer, clock = make(spool, writer, batch_size=1)  # the next batch is read ahead
    await drive(drainer, clock, lambda: len(writer.batches) == 1)  # cancelled mid-write
    assert spool.leased == {1, 2}
    await drive(drainer, clock, lambda: not spool.rows)
    assert writer.batches == [[pt(1)], [pt(1)], [pt(2)], [pt(3)]]
    assert spool.acks == [[1], [2], [3]]
