"""sd_notify and the progress-gated systemd watchdog, against a real AF_UNIX datagram socket.

The socket plays systemd's ``$NOTIFY_SOCKET``: it receives ``READY=1``, ``WATCHDOG=1`` while
every control loop ticks, nothing while one loop hangs (so systemd's ``WatchdogSec=`` runs out
and it restarts the unit), and ``STOPPING=1`` when the daemon shuts down.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from drivers.clock import ScaledClock
from labctl.config.site import load_site
from labctl.daemon.app import build_lab
from labctl.daemon.run import run_lab
from labctl.daemon.watchdog import (
    ProgressGate,
    notify,
    too_slow_for_watchdog,
    watchdog_interval_s,
    watchdog_loop,
)

INTERVAL_S = 0.2  # watchdog interval (WatchdogSec / 2); the loops below tick every 10 ms
LOOP_TICK_S = 0.01


class NotifySocket:
    """A bound AF_UNIX datagram socket standing in for systemd's notification socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.seen: list[str] = []

    def drain(self) -> list[str]:
        """Messages received since the last drain (also appended to ``seen``)."""
        got: list[str] = []
        with contextlib.suppress(BlockingIOError):
            while True:
                got.append(self.sock.recv(4096).decode())
        self.seen += got
        return got

    async def wait_for(self, message: str, timeout_s: float = 10.0) -> list[str]:
        """Wait (wall) until ``message`` arrives; return everything received up to it."""
        got: list[str] = []
        deadline = time.monotonic() + timeout_s
        while message not in got:
            assert time.monotonic() < deadline, f"no {message!r}; got {got}"
            await asyncio.sleep(0.02)
            got += self.drain()
        return got


@pytest.fixture(params=["path", "abstract"])
def notify_socket(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[NotifySocket]:
    """``$NOTIFY_SOCKET`` as a file path (short: sun_path is 108 bytes) or abstract ``@name``."""
    with (
        tempfile.TemporaryDirectory(prefix="sdn-") as tmp,
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock,
    ):
        if request.param == "path":
            address = str(Path(tmp) / "notify")
            sock.bind(address)
        else:
            address = f"@labctl-test-{os.getpid()}-{id(sock)}"
            sock.bind("\0" + address[1:])
        sock.setblocking(False)
        monkeypatch.setenv("NOTIFY_SOCKET", address)
        yield NotifySocket(sock)


def test_notify_sends_one_datagram(notify_socket: NotifySocket) -> None:
    assert notify("READY=1")
    assert notify("WATCHDOG=1")
    assert notify_socket.drain() == ["READY=1", "WATCHDOG=1"]


def test_notify_outside_systemd_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not notify("READY=1")


def test_notify_to_a_missing_socket_warns(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))
    assert not notify("WATCHDOG=1")
    assert "sd_notify" in caplog.text and "gone" in caplog.text


@pytest.mark.parametrize(
    ("usec", "pid_offset", "expected"),
    [
        ("20000000", None, 10.0),  # WatchdogSec=20s: ping every 10 s
        ("20000000", 0, 10.0),  # WATCHDOG_PID is this process
        ("20000000", 1, None),  # the watchdog belongs to another process
        (None, None, None),  # no WatchdogSec=
    ],
)
def test_watchdog_interval_is_half_the_timeout(
    monkeypatch: pytest.MonkeyPatch,
    usec: str | None,
    pid_offset: int | None,
    expected: float | None,
) -> None:
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    if usec is not None:
        monkeypatch.setenv("WATCHDOG_USEC", usec)
    if pid_offset is not None:
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + pid_offset))
    assert watchdog_interval_s() == expected


def test_gate_opens_only_when_every_counter_moved() -> None:
    counts = {"kiln[k1]": 0, "caster[c1]": 0}
    gate = ProgressGate(counters(counts))
    assert gate.stuck() == ["kiln[k1]", "caster[c1]"]  # nothing ticked yet
    counts["kiln[k1]"] += 1
    counts["caster[c1]"] += 3
    assert gate.stuck() == []
    counts["kiln[k1]"] += 1
    assert gate.stuck() == ["caster[c1]"]
    assert gate.stuck() == ["kiln[k1]", "caster[c1]"]  # moving once is not moving forever


def test_gate_names_positional_loops_and_is_open_without_loops() -> None:
    ticks = [5]
    assert ProgressGate([lambda: ticks[0]]).stuck() == ["loop 0"]
    assert ProgressGate([]).stuck() == []


@contextlib.asynccontextmanager
async def control_loops(
    names: list[str],
) -> AsyncIterator[tuple[dict[str, int], dict[str, asyncio.Event]]]:
    """Tasks that tick like control loops; clearing a loop's event hangs it mid-tick."""
    ticks = dict.fromkeys(names, 0)
    running = {name: asyncio.Event() for name in names}

    async def loop(name: str) -> None:
        while True:
            await asyncio.sleep(LOOP_TICK_S)
            await running[name].wait()  # a hung device call, a deadlock, ...
            ticks[name] += 1

    for event in running.values():
        event.set()
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(loop(name)) for name in names]
        try:
            yield ticks, running
        finally:
            for task in tasks:
                task.cancel()


def counters(ticks: dict[str, int]) -> dict[str, Callable[[], int]]:
    """Each loop's counter, read live (what app.run_lab hands the watchdog)."""
    return {name: functools.partial(ticks.__getitem__, name) for name in ticks}


async def test_pings_stop_while_one_loop_hangs_and_resume_after(
    notify_socket: NotifySocket, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="labctl.daemon.watchdog")
    async with control_loops(["kiln[k1]", "caster[c1]"]) as (ticks, running):
        dog = asyncio.create_task(watchdog_loop(counters(ticks), INTERVAL_S))
        try:
            healthy = await notify_socket.wait_for("WATCHDOG=1")
            assert set(healthy) == {"WATCHDOG=1"}

            running["caster[c1]"].clear()  # the caster loop hangs; the kiln loop keeps ticking
            got = await notify_socket.wait_for(
                "STATUS=watchdog withheld: no progress from caster[c1]"
            )
            assert got.count("WATCHDOG=1") <= 1  # at most the interval the hang began in
            kiln_before = ticks["kiln[k1]"]
            await asyncio.sleep(10 * INTERVAL_S)
            assert notify_socket.drain() == []  # five whole WatchdogSec without a ping
            assert ticks["kiln[k1]"] > kiln_before  # though the other loop and event loop run
            assert "withholding the watchdog" in caplog.text

            running["caster[c1]"].set()
            resumed = await notify_socket.wait_for("STATUS=running")
            assert resumed[resumed.index("STATUS=running") - 1] == "WATCHDOG=1"
            assert "pings resumed" in caplog.text
        finally:
            dog.cancel()


async def test_every_loop_hanging_stops_the_pings(notify_socket: NotifySocket) -> None:
    async with control_loops(["kiln[k1]", "kiln[k2]"]) as (ticks, running):
        dog = asyncio.create_task(watchdog_loop(list(counters(ticks).values()), INTERVAL_S))
        try:
            await notify_socket.wait_for("WATCHDOG=1")
            for event in running.values():
                event.clear()
            await notify_socket.wait_for(
                "STATUS=watchdog withheld: no progress from loop 0, loop 1"
            )
            await asyncio.sleep(6 * INTERVAL_S)
            assert notify_socket.drain() == []
        finally:
            dog.cancel()


async def test_run_lab_reports_ready_pings_and_stopping(
    notify_socket: NotifySocket, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The composition root: READY=1 once running, pings, STOPPING=1 when cancelled (SIGTERM)."""
    (tmp_path / "profiles").mkdir()
    site_file = tmp_path / "site.toml"
    site_file.write_text(
        f'[lab]\nname = "wd"\nstate_dir = "{tmp_path / "state"}"\n'
        f'profiles_dir = "{tmp_path / "profiles"}"\n'
    )
    monkeypatch.setenv("WATCHDOG_USEC", str(int(2 * INTERVAL_S * 1e6)))
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    lab = await build_lab(load_site(site_file), clock=ScaledClock(1.0, epoch=time.time()))
    ready = asyncio.Event()
    daemon = asyncio.create_task(run_lab(lab, ready=ready))
    await asyncio.wait_for(ready.wait(), 10)
    got = await notify_socket.wait_for("WATCHDOG=1")
    assert got[0] == "READY=1"
    daemon.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await daemon
    assert notify_socket.drain()[-1] == "STOPPING=1"


def test_a_tick_slower_than_the_pings_is_refused_with_the_field_named():
    ticks = {"lab.tick_s": 2.0, "casters.c1.tick_s": 1.0}
    assert too_slow_for_watchdog(ticks, 1.0, None) is None  # no watchdog configured
    assert too_slow_for_watchdog(ticks, 1.0, 10.0) is None
    problem = too_slow_for_watchdog({**ticks, "lab.tick_s": 30.0}, 1.0, 10.0)
    assert (
        problem is not None and problem.startswith("lab.tick_s = 30 s") and "WatchdogSec" in problem
    )
    assert too_slow_for_watchdog({"lab.tick_s": 30.0}, 10.0, 10.0) is None  # 3 s of wall time
