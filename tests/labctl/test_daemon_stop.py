"""The composition root stops whole and in time: never a half-alive daemon (issue 11).

Before: a crashed task left the daemon closing its socket and touchscreen but not exiting
for about 60 s, and SIGTERM drove no machine to its safe state.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from drivers.clock import ScaledClock
from labctl.config.site import load_site
from labctl.daemon.app import Lab, build_lab
from labctl.daemon.run import run_lab
from labctl.runs.loop import MachineLoop

#: SAFE_STOP_S (6) for the machines in parallel + CLOSE_S (3) per service, with room for a
#: loaded CI machine: the promise is "well under systemd's TimeoutStopSec=30s".
STOP_WITHIN_S = 25.0


async def _lab(tmp_path: Path, minimal_site: str) -> Lab:
    (tmp_path / "profiles").mkdir()
    site = tmp_path / "site.toml"
    site.write_text(
        minimal_site.replace(
            '[lab]\nname = "t"\n',
            f'[lab]\nname = "t"\nstate_dir = "{tmp_path / "state"}"\n'
            f'profiles_dir = "{tmp_path / "profiles"}"\n',
        )
    )
    return await build_lab(load_site(site), clock=ScaledClock(1.0, epoch=time.time()))


@pytest.fixture
def stopped(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The machines driven safe at the stop, in order."""
    names: list[str] = []

    async def safe(machine: MachineLoop) -> None:
        names.append(machine.name)

    monkeypatch.setattr(MachineLoop, "stop_safe", safe)
    return names


async def test_a_crashed_service_stops_the_daemon_promptly_with_every_machine_safe(
    tmp_path: Path, minimal_site: str, monkeypatch: pytest.MonkeyPatch, stopped: list[str]
) -> None:
    lab = await _lab(tmp_path, minimal_site)

    async def broken() -> None:
        await asyncio.sleep(0.2)
        raise RuntimeError("the telemetry task fell over")

    assert lab.telemetry is not None
    monkeypatch.setattr(lab.telemetry, "run", broken)
    began = time.monotonic()
    with pytest.raises(ExceptionGroup) as group:
        await asyncio.wait_for(run_lab(lab), STOP_WITHIN_S)
    assert time.monotonic() - began < STOP_WITHIN_S
    assert [str(e) for e in group.value.exceptions] == ["the telemetry task fell over"]
    assert stopped == ["k1"]


async def test_a_cancelled_daemon_sigterm_drives_every_machine_safe_and_returns(
    tmp_path: Path, minimal_site: str, stopped: list[str]
) -> None:
    lab = await _lab(tmp_path, minimal_site)
    ready = asyncio.Event()
    daemon = asyncio.create_task(run_lab(lab, ready=ready))
    await asyncio.wait_for(ready.wait(), 10)
    began = time.monotonic()
    daemon.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(daemon, STOP_WITHIN_S)
    assert time.monotonic() - began < STOP_WITHIN_S
    assert stopped == ["k1"]
