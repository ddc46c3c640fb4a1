"""Telemetry spool ingest: points offered by a busy lab until all are on disk, next to plain
``sqlite3`` ``executemany`` inserts of the same JSON payloads in one transaction, same pragmas.

Printed by :func:`bench.run.row`; the issue's target is at least 20,000 points/s into the spool.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from labctl.telemetry.points import Priority, TelemetryPoint
from labctl.telemetry.spool import Spool

Row = Callable[[str, str, str, str], None]
CHUNK = 100  # points per offer: ten machines' readings in one control tick
BUFFER_MAX = 20_000  # the spool's default
TARGET_PER_S = 20_000


def lab_points(n: int) -> list[TelemetryPoint]:
    """Kiln readings of ten machines, one HIGH event every 50 points, 10 ms apart."""
    points = []
    for i in range(n):
        tags = {"lab": "bench", "machine": f"kiln{i % 10}", "device": "tc"}
        fields: dict[str, float | int | str | bool] = {
            "pv_c": 650.0 + i % 97 / 7,
            "setpoint_c": 700.0,
            "working_sp_c": 690.5,
            "output_pct": 42.5,
            "holdback": i % 2,
            "state": "ramp",
            "run_id": 17,
        }
        priority = Priority.HIGH if i % 50 == 0 else Priority.LOW
        points.append(
            TelemetryPoint.make("kiln", tags, fields, wall_s=1.7e9 + i / 100, priority=priority)
        )
    return points


async def _spool_rate(path: Path, points: list[TelemetryPoint]) -> tuple[float, int]:
    spool = await Spool.open(path, max_points=len(points) * 2, buffer_max=BUFFER_MAX)
    runner = asyncio.create_task(spool.run(), name="bench.spool")
    try:
        t0 = time.perf_counter()
        for start in range(0, len(points), CHUNK):
            # as fast as the spool keeps up without dropping: the sustained ingest rate
            while spool.stats().buffered + CHUNK > BUFFER_MAX:
                await asyncio.sleep(0.001)
            spool.offer(points[start : start + CHUNK])
            await asyncio.sleep(0)  # the control loop yields between ticks
        while spool.stats().buffered:
            await asyncio.sleep(0.001)
        elapsed = time.perf_counter() - t0
        stats = spool.stats()
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await spool.close()
    assert stats.on_disk + stats.dropped_total == len(points)
    return stats.on_disk / elapsed, stats.dropped_total


def _executemany_rate(path: Path, points: list[TelemetryPoint]) -> float:
    rows = [(int(p.priority), p.time_ns, p.to_json()) for p in points]
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("CREATE TABLE points (id INTEGER PRIMARY KEY, priority, time_ns, payload)")
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO points (priority, time_ns, payload) VALUES (?, ?, ?)", rows)
        conn.execute("COMMIT")
        return len(rows) / (time.perf_counter() - t0)


async def bench_spool_ingest(row: Row, points: int) -> None:
    """(h) points/s offered in chunks of ``CHUNK`` and flushed to disk, end to end."""
    data = lab_points(points)
    with tempfile.TemporaryDirectory() as tmp:
        rate, dropped = await _spool_rate(Path(tmp) / "spool.sqlite", data)
        baseline = _executemany_rate(Path(tmp) / "plain.sqlite", data)
    row(
        f"(h) telemetry spool ingest, {points} points",
        f"{rate:,.0f} points/s offered -> on disk ({dropped} dropped)",
        f"{baseline:,.0f} points/s plain executemany, one transaction",
        f"{rate / baseline:.2f}x; target >= {TARGET_PER_S:,}/s: {rate >= TARGET_PER_S}",
    )
