"""Drain rate: spooled points into real servers through our Drainer and writers, next to
``influxdb-client``'s own batching ``WriteApi`` writing the same points in the same run.

- influxd 1.x (Debian's 1.6.7): ours = Drainer + InfluxV1Writer from the SQLite spool. The
  library's ``WriteApi`` only speaks ``/api/v2/write``, which InfluxDB 1.x has only from 1.8, so
  its baseline here is our writer sending the same batches straight from memory (server and
  serialisation ceiling, no spool).
- VictoriaMetrics (implements ``/api/v2/write``): ours = Drainer + InfluxV2Writer, fed from a
  spool-like list in memory and from the SQLite spool; baseline = the library's batching
  ``WriteApi`` (sync client, ``WriteOptions(batch_size=5000)``), fed from memory, same endpoint.
- Control tick lateness while a Drainer empties a full spool into influxd 1.x (spool thread
  reading and decoding, writer serialising and posting), next to the same ticking task idle.

.venv/bin/python -m bench.influx_bench [--points 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import WriteOptions

from drivers.clock import Clock, real_clock
from hil_tests.support.services import influxdb1, influxql_rows, victoria_metrics
from labctl.daemon.run import GIL_SWITCH_S
from labctl.telemetry.drain import Drainer, SpoolSource
from labctl.telemetry.influx import InfluxV1Writer, InfluxV2Writer, PointWriter, to_point
from labctl.telemetry.points import TelemetryPoint
from labctl.telemetry.spool import Spool

Row = Callable[[str, str, str, str], None]
BATCH = 5000


def bench_points(n: int, wall0: float) -> list[TelemetryPoint]:
    """Kiln-like points: eight machines, one reading per second each, seven fields."""
    return [
        TelemetryPoint.make(
            "kiln",
            {"lab": "bench", "machine": f"kiln{i % 8}", "device": f"tc{i % 8}"},
            {
                "pv_c": 20.0 + i % 900 + 0.25,
                "setpoint_c": 500.0,
                "working_sp_c": 499.5,
                "output_pct": 42.5,
                "holdback": i % 2,
                "state": "running",
                "run_id": 17,
            },
            wall_s=wall0 + i // 8,
        )
        for i in range(n)
    ]


async def _spool(tmp: Path, data: Sequence[TelemetryPoint]) -> Spool:
    spool = await Spool.open(tmp / "spool.db", max_points=len(data) + 1, buffer_max=len(data))
    spool.offer(data)
    await spool.flush()
    return spool


class ListSource:
    """A spool-like source in memory (leases as in the real spool, no disk)."""

    def __init__(self, data: Sequence[TelemetryPoint]) -> None:
        self.rows = dict(enumerate(data))
        self.cursor = 0

    async def batch(self, limit: int) -> list[tuple[int, TelemetryPoint]]:
        ids = [i for i in range(self.cursor, self.cursor + limit) if i in self.rows]
        self.cursor += limit
        return [(i, self.rows[i]) for i in ids]

    async def ack(self, ids: Sequence[int]) -> None:
        for i in ids:
            del self.rows[i]

    def release(self) -> None:
        self.cursor = min(self.rows, default=0)


async def _drain_rate(spool: SpoolSource, writer: PointWriter, n: int) -> float:
    """Points/s for one Drainer emptying the spool (no idle naps: drain_once until empty)."""
    drainer = Drainer(spool, writer, batch_size=BATCH)
    started = time.perf_counter()
    while await drainer.drain_once():
        pass
    elapsed = time.perf_counter() - started
    stats = drainer.stats()
    assert stats.sent == n, stats
    assert stats.failed_attempts == 0, stats
    return n / elapsed


async def _memory_rate(writer: PointWriter, data: Sequence[TelemetryPoint]) -> float:
    started = time.perf_counter()
    for i in range(0, len(data), BATCH):
        await writer.write(data[i : i + BATCH])
    return len(data) / (time.perf_counter() - started)


def _library_rate(url: str, data: Sequence[TelemetryPoint]) -> float:
    """The library's batching WriteApi (its own thread); close() flushes the last batch."""
    written, errors = [0], []

    def ok(_conf: object, body: bytes) -> None:
        written[0] += body.count(b"\n") + 1

    def failed(_conf: object, _body: bytes, exc: Exception) -> None:
        errors.append(exc)

    options = WriteOptions(batch_size=BATCH, flush_interval=1000)
    with InfluxDBClient(url=url, token="bench", org="bench") as client:
        started = time.perf_counter()
        with client.write_api(
            write_options=options, success_callback=ok, error_callback=failed
        ) as api:
            api.write(bucket="lib", record=[to_point(p) for p in data])
        elapsed = time.perf_counter() - started
    assert not errors, errors[:1]
    assert written[0] == len(data), written
    return len(data) / elapsed


async def bench_influx_drain(row: Row, points: int) -> None:
    """Rows for the drain rate into influxd 1.x and VictoriaMetrics (see the module doc)."""
    data = bench_points(points, wall0=time.time() - points // 8 - 60)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        async with influxdb1(tmp / "influx") as server:
            baseline_writer = InfluxV1Writer(server.url, "memory")
            writer = InfluxV1Writer(server.url, "ours")
            spool = await _spool(tmp / "s1", data)
            try:
                baseline = await _memory_rate(baseline_writer, data)
                ours = await _drain_rate(spool, writer, points)
            finally:
                await spool.close()
                await writer.close()
                await baseline_writer.close()
            (count,) = await influxql_rows(server.url, "ours", "SELECT count(pv_c) FROM kiln")
            assert count["count"] == points, count
        row(
            f"(j) drain {points:,} pts into influxd 1.6 (/write), spool -> Drainer + V1 writer",
            f"{ours:,.0f} pts/s",
            f"{baseline:,.0f} pts/s same writer from memory (lib WriteApi needs >= 1.8)",
            f"{ours / baseline:.2f}",
        )
        async with victoria_metrics(tmp / "vm") as server:
            lib = await asyncio.to_thread(_library_rate, server.url, data)
            writer2 = InfluxV2Writer(server.url, "bench", "ours", "bench")
            spool = await _spool(tmp / "s2", data)
            try:
                from_memory = await _drain_rate(ListSource(data), writer2, points)
                ours = await _drain_rate(spool, writer2, points)
            finally:
                await spool.close()
                await writer2.close()
        lib_name = f"{lib:,.0f} pts/s influxdb-client batching WriteApi (batch 5000, from memory)"
        row(
            f"(j) drain {points:,} pts into VictoriaMetrics (/api/v2/write), Drainer + V2 writer",
            f"{from_memory:,.0f} pts/s from a spool-like list",
            lib_name,
            f"{from_memory / lib:.2f} (target >= 1)",
        )
        row(
            "(j) same, from the SQLite spool (durable: read, decode and ack on disk)",
            f"{ours:,.0f} pts/s",
            lib_name,
            f"{ours / lib:.2f}",
        )


PERIOD_S = 0.1  # the control loop's tick


async def _tick_lateness(clock: Clock, until: Callable[[], bool]) -> list[float]:
    """Sorted lateness (ms) of a control-loop-like task ticking every ``PERIOD_S`` until
    ``until()``; computed as in ``bench.run.bench_jitter``: fixed deadlines, now - deadline."""
    late: list[float] = []
    deadline = clock.now()
    while not until():
        deadline += PERIOD_S
        await clock.sleep_until(deadline)
        late.append((clock.now() - deadline) * 1000)
    return sorted(late)


def _pct(xs: Sequence[float], q: float) -> float:
    return xs[min(len(xs) - 1, int(q * len(xs)))]


async def bench_tick_jitter_while_draining(row: Row, window_s: float, points: int) -> None:
    """(k) tick lateness idle for ``window_s``, then while a Drainer empties a spool filled
    with ``points`` into influxd 1.x (until it is empty or ``window_s`` passes)."""
    clock = real_clock()
    end = clock.now() + window_s
    idle = await _tick_lateness(clock, lambda: clock.now() >= end)
    data = bench_points(points, wall0=time.time() - points // 8 - 60)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        async with influxdb1(tmp / "influx") as server:
            spool, writer = await _spool(tmp, data), InfluxV1Writer(server.url, "jitter")
            del data  # only the spool holds the points now, as in the daemon
            sys.setswitchinterval(GIL_SWITCH_S)  # as the daemon runs
            drainer = Drainer(spool, writer, clock=clock)  # the daemon's default batch size
            tasks = [asyncio.create_task(spool.run()), asyncio.create_task(drainer.run())]
            started, end = time.perf_counter(), clock.now() + window_s
            try:
                busy = await _tick_lateness(
                    clock, lambda: drainer.stats().sent >= points or clock.now() >= end
                )
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await spool.close()
                await writer.close()
            took, sent = time.perf_counter() - started, drainer.stats().sent
    assert drainer.stats().failed_attempts == 0, drainer.stats()
    row(
        f"(k) tick lateness p50 / p99 while draining a full spool ({points:,} pts) into influxd",
        f"{_pct(busy, 0.5):.2f} / {_pct(busy, 0.99):.2f} ms ({len(busy)} ticks, "
        f"{sent:,} pts sent in {took:.1f} s)",
        f"{_pct(idle, 0.5):.2f} / {_pct(idle, 0.99):.2f} ms same task idle ({len(idle)} ticks)",
        f"p99 {_pct(busy, 0.99) / max(_pct(idle, 0.99), 1e-3):.1f}x idle (target p99 < 20 ms)",
    )


def _print_row(name: str, value: str, baseline: str, ratio: str) -> None:
    print(f"  {name}: {value} | baseline {baseline} | {ratio}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=50_000)
    asyncio.run(bench_influx_drain(_print_row, parser.parse_args().points))
