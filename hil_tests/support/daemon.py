"""The daemon under test (`labctl run --config SITE`) in a subprocess, as the HIL rigs drive it:
start and stop it, talk to it over its control socket and wait for its status to settle, failing
with its log.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labctl.commands.client import send_command


def _whole(status: dict[str, Any]) -> dict[str, Any]:
    return status


@dataclass
class DaemonProcess:
    """One daemon reading the site file ``site``, its state under ``tmp / "state"``; every start
    logs to a new file in ``tmp``, and failures quote the last ``log_tail`` characters of each.
    """

    tmp: Path
    site: Path
    log_tail: int = 4000
    proc: asyncio.subprocess.Process | None = None
    logs: list[Path] = field(default_factory=list)

    @property
    def socket(self) -> Path:
        return self.tmp / "state" / "labctl.sock"

    async def start(self) -> None:
        """Spawn the daemon (without waiting for it to answer)."""
        log = self.tmp / f"daemon-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "labctl.cli", "run", "--config", str(self.site),
                stdout=out, stderr=out,
            )  # fmt: skip

    async def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the running daemon and reap it."""
        assert self.proc is not None
        self.proc.send_signal(sig)
        await self.proc.wait()
        self.proc = None

    async def stop(self) -> None:
        """SIGTERM the daemon if it runs (SIGKILL after 10 s)."""
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()

    async def command(self, cmd: str, **args: object) -> dict[str, Any]:
        return await send_command(self.socket, cmd, dict(args))

    async def status(self) -> dict[str, Any] | None:
        """The daemon's `status` result, or None while it does not answer."""
        reply = await self.command("status")
        result = reply.get("result")
        return result if reply.get("ok") and isinstance(result, dict) else None

    async def wait_for(
        self,
        pred: Callable[[dict[str, Any]], bool],
        *,
        timeout_s: float,
        view: Callable[[dict[str, Any]], dict[str, Any]] = _whole,
        what: str = "status",
    ) -> dict[str, Any]:
        """Wait (wall seconds) until ``pred(view(status))`` holds and return that view; fail with
        the last one seen (named ``what``) and the daemon log.
        """
        deadline = time.monotonic() + timeout_s
        last: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            status = await self.status()
            last = None if status is None else view(status)
            if last is not None and pred(last):
                return last
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out; last {what} {json.dumps(last)}\n{self.log()}")

    async def wait_until(self, cond: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Wait (wall seconds) until ``cond()`` holds; fail with ``what`` and the daemon log."""
        deadline = time.monotonic() + timeout_s
        while not cond():
            assert time.monotonic() < deadline, f"{what}\n{self.log()}"
            await asyncio.sleep(0.02)

    def log(self) -> str:
        return "\n".join(p.read_text()[-self.log_tail :] for p in self.logs if p.exists())
