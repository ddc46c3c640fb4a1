"""Real servers for HIL tests and benchmarks: InfluxDB 1.x and VictoriaMetrics.

Each starter picks a free loopback port, writes its config and data into the given temporary
directory (never the system service's), starts the Debian binary, polls until it answers,
yields a handle and terminates the process on exit. A missing binary is a clear failure, not a
skip: the test command installs the packages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

INFLUXD = "/usr/bin/influxd"
VICTORIA_METRICS = "/usr/bin/victoria-metrics"
START_TIMEOUT_S = 20.0

INFLUXD_CONFIG = """\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{tmp}/meta"

[data]
  dir = "{tmp}/data"
  wal-dir = "{tmp}/wal"
  query-log-enabled = false

[monitor]
  store-enabled = false

[http]
  bind-address = "127.0.0.1:{http_port}"
  log-enabled = false

[logging]
  level = "error"
  suppress-logo = true
"""


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _binary(path: str, package: str) -> str:
    if shutil.which(path) is None:
        raise AssertionError(f"{path} not found: install Debian's {package} package")
    return path


@dataclass
class Server:
    """One server process: ``url`` stays the same across :meth:`stop` and :meth:`start`."""

    argv: list[str]
    url: str
    health_path: str
    health_status: int
    log: Path
    proc: asyncio.subprocess.Process | None = field(default=None, repr=False)

    async def start(self) -> None:
        """Start the process (again: same data dir and port) and wait until it answers."""
        assert self.proc is None, "already running"
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(*self.argv, stdout=out, stderr=out)
        deadline = time.monotonic() + START_TIMEOUT_S
        async with aiohttp.ClientSession() as session:
            while True:
                if self.proc.returncode is not None:
                    raise AssertionError(f"{self.argv[0]} exited:\n{self.log_tail()}")
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with session.get(self.url + self.health_path) as resp:
                        if resp.status == self.health_status:
                            return
                if time.monotonic() > deadline:
                    raise AssertionError(f"{self.argv[0]} did not answer:\n{self.log_tail()}")
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """SIGTERM the process and wait for it (SIGKILL after 10 s)."""
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


@contextlib.asynccontextmanager
async def _running(server: Server) -> AsyncIterator[Server]:
    try:
        await server.start()
        yield server
    finally:
        await server.stop()


def _influxd(tmp: Path) -> Server:
    tmp.mkdir(parents=True, exist_ok=True)
    http_port = free_port()
    config = tmp / "influxdb.conf"
    config.write_text(INFLUXD_CONFIG.format(tmp=tmp, rpc_port=free_port(), http_port=http_port))
    argv = [_binary(INFLUXD, "influxdb"), "-config", str(config)]
    return Server(argv, f"http://127.0.0.1:{http_port}", "/ping", 204, tmp / "influxd.log")


@contextlib.asynccontextmanager
async def influxdb1(tmp: Path) -> AsyncIterator[Server]:
    """InfluxDB 1.x (Debian's ``influxdb``) with every directory inside ``tmp``."""
    async with _running(_influxd(tmp)) as server:
        yield server


def _victoria_metrics(tmp: Path) -> Server:
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [
        _binary(VICTORIA_METRICS, "victoria-metrics"),
        f"-httpListenAddr=127.0.0.1:{port}",
        f"-storageDataPath={tmp / 'vmdata'}",
        "-loggerLevel=ERROR",
    ]
    return Server(argv, f"http://127.0.0.1:{port}", "/health", 200, tmp / "victoria-metrics.log")


@contextlib.asynccontextmanager
async def victoria_metrics(tmp: Path) -> AsyncIterator[Server]:
    """VictoriaMetrics (Debian's ``victoria-metrics``): InfluxDB line protocol on /write and
    /api/v2/write (``<measurement>_<field>`` metrics, tags as labels), reads through its
    Prometheus API (:func:`vm_export`)."""
    async with _running(_victoria_metrics(tmp)) as server:
        yield server


async def influxql(url: str, db: str, q: str) -> list[dict[str, Any]]:
    """Run InfluxQL on a 1.x server; the ``series`` of the first result (empty if none)."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + "/query", params={"db": db, "q": q, "epoch": "ns"}) as resp,
    ):
        body = await resp.json()
    assert resp.status == 200, body
    result = body["results"][0]
    assert "error" not in result, result
    series: list[dict[str, Any]] = result.get("series", [])
    return series


async def influxql_rows(url: str, db: str, q: str) -> list[dict[str, Any]]:
    """InfluxQL rows as dicts (column name -> value), all series concatenated."""
    return [
        dict(zip(s["columns"], values, strict=True))
        for s in await influxql(url, db, q)
        for values in s["values"]
    ]


async def vm_export(
    url: str, match: str, *, min_samples: int = 1, timeout_s: float = 10.0
) -> list[dict[str, Any]]:
    """VictoriaMetrics ``/api/v1/export`` for a series selector, polled until at least
    ``min_samples`` samples are visible (ingested rows become searchable within a second or
    two, even after ``/internal/force_flush``) or ``timeout_s`` passes; the last answer.

    Each line: ``{"metric": {"__name__": "<measurement>_<field>", tag: value, ...},
    "values": [...], "timestamps": [ms, ...]}``.
    """
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(url + "/internal/force_flush") as resp:
                assert resp.status == 200, await resp.text()
            async with session.get(url + "/api/v1/export", params={"match[]": match}) as resp:
                text = await resp.text()
                assert resp.status == 200, text
            lines = [json.loads(line) for line in text.splitlines() if line.strip()]
            if sum(len(line["values"]) for line in lines) >= min_samples:
                return lines
            if time.monotonic() > deadline:
                return lines
            await asyncio.sleep(0.2)


def vm_samples(lines: Sequence[Mapping[str, Any]]) -> dict[str, dict[int, float]]:
    """Export lines as metric name -> {timestamp ms: value}."""
    out: dict[str, dict[int, float]] = {}
    for line in lines:
        series = out.setdefault(line["metric"]["__name__"], {})
        series.update(zip(line["timestamps"], line["values"], strict=True))
    return out
