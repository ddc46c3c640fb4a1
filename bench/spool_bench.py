"""Telemetry spool benchmarks, printed by :func:`bench.run.row`.

- Ingest: points offered by a busy lab until all are on disk, next to plain ``sqlite3``
  ``executemany`` inserts of the same JSON payloads in one transaction, same pragmas. The
  issue's target is at least 20,000 points/s into the spool.
- Memory while the server is down: the RSS growth of a process whose spool receives points with
  no drainer, next to a process holding the same points in a list (an unbounded in-memory
  queue). Each side runs in a fresh interpreter (``python -m bench.spool_bench memory ...``),
  so neither inherits the heap the other (or an earlier benchmark) freed but kept mapped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from pathlib import Path

from labctl.telemetry.points import Priority, TelemetryPoint
from labctl.telemetry.spool import Spool

ROOT = Path(__file__).resolve().parent.parent
Row = Callable[[str, str, str, str], None]
CHUNK = 100  # points per offer: ten machines' readings in one control tick
BUFFER_MAX = 20_000  # the spool's default
TARGET_PER_S = 20_000


def lab_point(i: int) -> TelemetryPoint:
    """The ``i``-th kiln reading of ten machines, 10 ms apart; every 50th is HIGH."""
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
    return TelemetryPoint.make("kiln", tags, fields, wall_s=1.7e9 + i / 100, priority=priority)


def lab_points(n: int) -> list[TelemetryPoint]:
    return [lab_point(i) for i in range(n)]


def _chunks(n: int) -> Iterator[list[TelemetryPoint]]:
    """Fresh points, ``CHUNK`` at a time, made only when asked for (as a control loop does)."""
    for start in range(0, n, CHUNK):
        yield [lab_point(i) for i in range(start, min(n, start + CHUNK))]


async def _offer_paced(
    spool: Spool, chunks: Iterable[Sequence[TelemetryPoint]], each: Callable[[int], object]
) -> None:
    """Offer the chunks as fast as the spool keeps up without dropping (calling ``each`` with
    the count offered so far after each), then wait until all of them are on disk."""
    offered = 0
    for chunk in chunks:
        while spool.stats().buffered + len(chunk) > BUFFER_MAX:
            await asyncio.sleep(0.001)
        spool.offer(chunk)
        offered += len(chunk)
        await asyncio.sleep(0)  # the control loop yields between ticks
        each(offered)
    while spool.stats().buffered:
        await asyncio.sleep(0.001)


async def _spool_rate(path: Path, points: list[TelemetryPoint]) -> tuple[float, int]:
    spool = await Spool.open(path, max_points=len(points) * 2, buffer_max=BUFFER_MAX)
    runner = asyncio.create_task(spool.run(), name="bench.spool")
    try:
        t0 = time.perf_counter()
        chunks = (points[start : start + CHUNK] for start in range(0, len(points), CHUNK))
        await _offer_paced(spool, chunks, lambda _: None)  # the sustained ingest rate
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
        f"(h) telemetry spool ingest, {points:,} points",
        f"{rate:,.0f} points/s offered -> on disk ({dropped} dropped)",
        f"{baseline:,.0f} points/s plain executemany, one transaction",
        f"{rate / baseline:.2f}x; target >= {TARGET_PER_S:,}/s: {rate >= TARGET_PER_S}",
    )


SAMPLE_EVERY = 10_000  # points between two RSS samples


def rss_mb() -> float:
    """This process's resident set size (``VmRSS`` in ``/proc/self/status``) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class _Growth:
    """RSS growth (MB) over the level when made: called with a point count, samples every
    ``SAMPLE_EVERY`` points; :meth:`end` takes the last sample."""

    def __init__(self) -> None:
        self.base, self.samples = rss_mb(), list[float]()

    def __call__(self, count: int) -> None:
        if count % SAMPLE_EVERY == 0:
            self.samples.append(rss_mb() - self.base)

    def end(self) -> list[float]:
        self.samples.append(rss_mb() - self.base)
        return self.samples


async def _spool_growth(n: int) -> list[float]:
    """A spool with no drainer (the server is down) takes ``n`` fresh points, all kept."""
    growth = _Growth()
    with tempfile.TemporaryDirectory() as tmp:
        spool = await Spool.open(Path(tmp) / "spool.sqlite", max_points=n, buffer_max=BUFFER_MAX)
        runner = asyncio.create_task(spool.run(), name="bench.spool")
        try:
            await _offer_paced(spool, _chunks(n), growth)
            samples, stats = growth.end(), spool.stats()
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            await spool.close()
    assert (stats.on_disk, stats.dropped_total) == (n, 0), stats
    return samples


def _list_growth(n: int) -> list[float]:
    """The same fresh points held in a list: an unbounded in-memory queue."""
    growth, held = _Growth(), list[TelemetryPoint]()
    for chunk in _chunks(n):
        held.extend(chunk)
        growth(len(held))
    return growth.end()


async def _growth_in_fresh_process(kind: str, points: int) -> list[float]:
    argv = ["-m", "bench.spool_bench", "--memory", kind, "--points", str(points)]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *argv, stdout=asyncio.subprocess.PIPE, cwd=ROOT
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0, f"{argv} exited with {proc.returncode}"
    samples: list[float] = json.loads(out)
    return samples


async def bench_spool_memory(row: Row, points: int) -> None:
    """(i) RSS growth while the spool fills with the server down, vs holding them in a list."""
    spool = await _growth_in_fresh_process("spool", points)
    held = await _growth_in_fresh_process("list", points)
    half = len(spool) // 2
    at = " / ".join(f"{spool[len(spool) * q // 4 - 1]:+.1f}" for q in (1, 2, 3, 4))
    late, late_held = max(spool[half:]) - max(spool[:half]), held[-1] - held[half - 1]
    row(
        f"(i) memory while the server is down, {points:,} points into the spool",
        f"{max(spool):+.1f} MB peak RSS growth ({at} MB at 1/4, 1/2, 3/4, end)",
        f"{max(held):+.1f} MB holding the same points in a list (unbounded queue)",
        f"{max(held) / max(max(spool), 0.1):.1f}x less; second half {late:+.1f} MB vs "
        f"{late_held:+.1f} MB; bounded (< 1/10 of the list's): {late < late_held / 10}",
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--memory", choices=["spool", "list"], required=True)
    parser.add_argument("--points", type=int, default=300_000)
    args = parser.parse_args()
    if args.memory == "spool":
        print(json.dumps(asyncio.run(_spool_growth(args.points))))
    else:
        print(json.dumps(_list_growth(args.points)))
