"""The real daemon under a stand-in for systemd: ``$NOTIFY_SOCKET`` and ``$WATCHDOG_USEC`` set
as systemd sets them for ``Type=notify`` + ``WatchdogSec=``, the notifications read back.

READY=1 once it runs, WATCHDOG=1 every WatchdogSec/2 while the kiln loop ticks, none while the
process is stopped (systemd would kill and restart it), pings again after SIGCONT, and
STOPPING=1 on SIGTERM (``systemctl stop``).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.hil, pytest.mark.timeout(120)]
WATCHDOG_S = 1.0  # WatchdogSec: pings every 0.5 s wall


class NotifySocket:
    """systemd's side of sd_notify: a bound AF_UNIX datagram socket, read without blocking."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def drain(self) -> list[str]:
        got: list[str] = []
        with contextlib.suppress(BlockingIOError):
            while True:
                got.append(self.sock.recv(4096).decode())
        return got

    async def wait_for(self, message: str, timeout_s: float = 15.0) -> list[str]:
        got: list[str] = []
        deadline = time.monotonic() + timeout_s
        while message not in got:
            assert time.monotonic() < deadline, f"no {message!r}; got {got}"
            await asyncio.sleep(0.02)
            got += self.drain()
        return got


@pytest.fixture
def notify_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[NotifySocket]:
    with (
        tempfile.TemporaryDirectory(prefix="sdn-") as tmp,  # sun_path is only 108 bytes
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock,
    ):
        sock.bind(str(Path(tmp) / "notify"))
        sock.setblocking(False)
        monkeypatch.setenv("NOTIFY_SOCKET", str(Path(tmp) / "notify"))
        yield NotifySocket(sock)


async def test_daemon_notifies_pings_and_stops_pinging_when_stopped(
    make_rig, notify_socket: NotifySocket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", str(int(WATCHDOG_S * 1e6)))
    monkeypatch.delenv("WATCHDOG_PID", raising=False)  # a child: systemd sets it to the main PID
    rig = await make_rig()
    await rig.start_daemon()
    got = await notify_socket.wait_for("WATCHDOG=1")
    assert got[0] == "READY=1"
    await notify_socket.wait_for("WATCHDOG=1")  # and again, half a timeout later

    proc = rig.daemon.proc
    assert proc is not None
    proc.send_signal(signal.SIGSTOP)  # a hang systemd sees: no ping for a whole WatchdogSec
    await asyncio.sleep(0.2)
    notify_socket.drain()
    await asyncio.sleep(3 * WATCHDOG_S)
    assert notify_socket.drain() == []
    proc.send_signal(signal.SIGCONT)
    await notify_socket.wait_for("WATCHDOG=1")

    await rig.stop_daemon()
    assert notify_socket.drain()[-1:] == ["STOPPING=1"]
