"""The drain loop acks only what the server accepted, backs off with jitter and keeps refused
points; the writers send library line protocol and classify every failure for retry.

The drain loop runs against an in-memory spool with the real spool's lease semantics and a
scripted writer (the seam), on a virtual clock. The writers run against a tiny aiohttp server
on loopback that records requests and answers scripted statuses.
"""

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable, Iterable, Sequence

import pytest
from aiohttp import web

from drivers.clock import VirtualClock
from labctl.telemetry.drain import Drainer, DrainState, DrainStats
from labctl.telemetry.influx import (
    InfluxV1Writer,
    InfluxV2Writer,
    InfluxWriteError,
    http_error,
    line_protocol,
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


def test_http_statuses_are_classified_for_retry():
    retry = {s: http_error("t", s, "x").retryable for s in (400, 401, 403, 404, 408, 413, 429)}
    assert retry == {
        400: False,
        401: False,
        403: False,
        404: False,
        408: True,
        413: False,
        429: True,
    }
    assert all(http_error("t", s, "").retryable for s in (500, 502, 503, 504))
    assert http_error("t", 503, "busy", "12").retry_after_s == 12.0
    assert http_error("t", 503, "busy", "Wed, 21 Oct 2015 07:28:00 GMT").retry_after_s is None
    assert str(http_error("db x", 404, '{"error":"database not found"}')) == (
        'db x: HTTP 404: {"error":"database not found"}'
    )


async def test_line_protocol_comes_from_the_library_with_nanosecond_times():
    points = [pt(0, pv_c=1.5, state='a "b"', n=3, on=True), pt(1, x=float("nan"), y=2.0)]
    body = await line_protocol(points)
    assert body.decode().splitlines() == [
        'kiln,lab=l,machine=k1 n=3i,on=true,pv_c=1.5,state="a \\"b\\"" 1000000000000000000',
        "kiln,lab=l,machine=k1 y=2 1000000001000000000",
    ]


class FakeServer:
    """Answers /query, /write and /api/v2/write with scripted statuses; records requests."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes, str | None]] = []
        self.statuses: list[int] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        auth = request.headers.get("Authorization")
        self.requests.append((request.path, dict(request.query), body, auth))
        if request.path == "/query":
            return web.json_response({"results": [{"statement_id": 0}]})
        status = self.statuses.pop(0) if self.statuses else 204
        headers = {"Retry-After": "3"} if status == 429 else {}
        text = None if status == 204 else '{"error":"nope"}'
        return web.Response(status=status, text=text, headers=headers)


@pytest.fixture
async def server() -> AsyncIterator[tuple[FakeServer, str]]:
    fake = FakeServer()
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield fake, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_v1_writer_creates_the_database_then_posts_ns_line_protocol(server):
    fake, url = server
    writer = InfluxV1Writer(url, "lab", "u", "p", timeout_s=2)
    try:
        await writer.write([pt(1)])
        await writer.write([pt(2)])
        fake.statuses = [404, 429, 401, 500]
        errors = []
        for _ in range(4):
            with pytest.raises(InfluxWriteError) as caught:
                await writer.write([pt(3)])
            errors.append(caught.value)
    finally:
        await writer.close()
    paths = [(path, query.get("db"), query.get("q")) for path, query, _, _ in fake.requests]
    assert paths[:3] == [
        ("/query", None, 'CREATE DATABASE "lab"'),
        ("/write", "lab", None),
        ("/write", "lab", None),
    ]
    assert paths[4] == ("/query", None, 'CREATE DATABASE "lab"')  # again after a 404
    assert fake.requests[1][1]["precision"] == "ns"
    assert fake.requests[1][2] == b"kiln,lab=l,machine=k1 pv_c=1 1000000001000000000"
    assert fake.requests[1][3] == "Basic dTpw"
    assert [(e.status, e.retryable, e.retry_after_s) for e in errors] == [
        (404, False, None),
        (429, True, 3.0),
        (401, False, None),
        (500, True, None),
    ]


async def test_writers_report_an_unreachable_server_as_retryable(server):
    _, url = server
    dead = "http://127.0.0.1:9"  # discard port: nobody listens
    for writer in (InfluxV1Writer(dead, "lab", timeout_s=2), InfluxV2Writer(dead, "o", "b", "t")):
        try:
            with pytest.raises(InfluxWriteError) as caught:
                await writer.write([pt(1)])
        finally:
            await writer.close()
        assert caught.value.retryable and caught.value.status is None
        assert "no answer" in str(caught.value)


async def test_v2_writer_posts_through_the_library_and_classifies_refusals(server):
    fake, url = server
    writer = InfluxV2Writer(url, "org1", "bucket1", "secret", timeout_s=2)
    try:
        await writer.write([pt(1), pt(2)])
        fake.statuses = [401, 503]
        errors = []
        for _ in range(2):
            with pytest.raises(InfluxWriteError) as caught:
                await writer.write([pt(3)])
            errors.append(caught.value)
    finally:
        await writer.close()
    path, query, body, auth = fake.requests[0]
    assert path == "/api/v2/write"
    assert query == {"org": "org1", "bucket": "bucket1", "precision": "ns"}
    assert body.splitlines() == [
        b"kiln,lab=l,machine=k1 pv_c=1 1000000001000000000",
        b"kiln,lab=l,machine=k1 pv_c=2 1000000002000000000",
    ]
    assert auth == "Token secret"
    assert [(e.status, e.retryable) for e in errors] == [(401, False), (503, True)]
    assert "nope" in str(errors[0])
