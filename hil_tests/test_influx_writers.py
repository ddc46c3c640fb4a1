"""The InfluxDB writers against real servers: Debian's influxd 1.x, stopped and restarted in the
middle of a drain, and VictoriaMetrics for the v2 write API.

The drain runs from the real SQLite spool (``labctl/telemetry/spool.py``) through the real
:class:`Drainer`. Every point must end up in the server exactly once, also the ones spooled twice.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import pytest

from hil_tests.support.services import (
    influxdb1,
    influxql_rows,
    victoria_metrics,
    vm_export,
    vm_samples,
)
from labctl.telemetry.drain import Drainer, DrainState
from labctl.telemetry.influx import InfluxV1Writer, InfluxV2Writer, PointWriter
from labctl.telemetry.points import TelemetryPoint
from labctl.telemetry.spool import Spool

pytestmark = pytest.mark.hil

WALL0 = 1_700_000_000.0


def points(n: int) -> list[TelemetryPoint]:
    """``n`` kiln points over four machines, one per second each (distinct series + time)."""
    return [
        TelemetryPoint.make(
            "kiln",
            {"lab": "hil", "machine": f"k{i % 4}", "device": f"tc{i % 4}"},
            {"pv_c": float(i), "output_pct": i % 100, "state": "running"},
            wall_s=WALL0 + i // 4,
        )
        for i in range(n)
    ]


class Gate:
    """Passes batches through to ``inner``; holds the batch after ``hold_after`` points."""

    def __init__(self, inner: PointWriter, hold_after: int) -> None:
        self.inner, self.hold_after, self.passed = inner, hold_after, 0
        self.held, self.open = asyncio.Event(), asyncio.Event()

    async def write(self, batch: Sequence[TelemetryPoint]) -> None:
        if self.passed >= self.hold_after and not self.open.is_set():
            self.held.set()
            await self.open.wait()
        await self.inner.write(batch)
        self.passed += len(batch)


async def until(pred: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def draining(spool: Spool, drainer: Drainer) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(spool.run()), asyncio.create_task(drainer.run())]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_v1_drain_survives_influxd_restart_and_writes_each_point_once(tmp_path: Path):
    n, twice = 20_000, 2_000
    data = points(n)
    spool = await Spool.open(tmp_path / "spool.db", max_points=100_000, buffer_max=n)
    spool.offer(data)
    await spool.flush()
    spool.offer(data[:twice])  # spooled again: a replay must overwrite, not add
    await spool.flush()
    assert spool.stats().depth == n + twice
    async with influxdb1(tmp_path / "influx") as server:
        writer = InfluxV1Writer(server.url, "lab", timeout_s=2)
        gate = Gate(writer, hold_after=n // 2)
        drainer = Drainer(
            spool, gate, batch_size=1000, backoff_initial_s=0.05, backoff_max_s=0.5, idle_s=0.05
        )
        try:
            async with draining(spool, drainer):
                await until(gate.held.is_set, 30, "half the points sent")
                await server.stop()
                gate.open.set()
                await until(lambda: drainer.stats().failed_attempts >= 3, 10, "failed writes")
                assert drainer.stats().state is DrainState.RETRYING
                assert spool.stats().depth > n // 3  # kept while the server is down
                await server.start()  # same data dir and port
                await until(lambda: spool.stats().depth == 0, 30, "the spool to drain")
        finally:
            await writer.close()
            await spool.close()
        stats = drainer.stats()
        assert stats.state is DrainState.OK and stats.sent == n + twice
        q = "SELECT count(pv_c), sum(pv_c), count(output_pct), count(state) FROM kiln"
        (row,) = await influxql_rows(server.url, "lab", q)
        assert (row["count"], row["count_1"], row["count_2"]) == (n, n, n)
        assert row["sum"] == sum(range(n))
        per_machine = await influxql_rows(
            server.url, "lab", "SELECT count(pv_c) FROM kiln GROUP BY machine"
        )
        assert [r["count"] for r in per_machine] == [n // 4] * 4
        (first,) = await influxql_rows(
            server.url, "lab", "SELECT * FROM kiln WHERE machine = 'k1' ORDER BY time LIMIT 1"
        )
        assert first["time"] == data[1].time_ns and first["pv_c"] == 1.0
        assert (first["output_pct"], first["state"], first["device"]) == (1, "running", "tc1")


async def test_v2_writer_writes_to_victoria_metrics_and_reads_back(tmp_path: Path):
    data = [
        TelemetryPoint.make(
            "labctl",
            {"lab": "hil", "component": f"c{i % 2}"},
            {"spool_depth": i, "tick_lateness_ms": i / 4},
            wall_s=time.time() - 60 + i * 0.5,
        )
        for i in range(100)
    ]
    async with victoria_metrics(tmp_path / "vm") as server:
        writer = InfluxV2Writer(server.url, "org", "lab", "token", timeout_s=2)
        try:
            await writer.write(data[:60])
            await writer.write(data[40:])  # overlap written twice
        finally:
            await writer.close()
        lines = await vm_export(server.url, '{__name__=~"labctl_.*"}', min_samples=200)
    samples = vm_samples(lines)
    assert set(samples) == {"labctl_spool_depth", "labctl_tick_lateness_ms"}
    want_depth = {p.time_ns // 1_000_000: float(i) for i, p in enumerate(data)}
    assert samples["labctl_spool_depth"] == want_depth
    assert samples["labctl_tick_lateness_ms"] == {t: v / 4 for t, v in want_depth.items()}
    components = {line["metric"]["component"] for line in lines}
    assert components == {"c0", "c1"}
