"""HIL fixtures: a simulated kiln served over real loopback Modbus TCP (or an RTU pty) in the
test process, and the real daemon (`labctl run`) in a subprocess talking to it.

The simulator lives in the test process so the test can inject faults through its backdoor and
watch the device's own state (output, fallback) while the daemon is killed and restarted.
"""

from __future__ import annotations

import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from drivers.clock import ScaledClock
from drivers.eurotherm3200.sim import Eurotherm3200Sim, SimOptions
from hil_tests.support.daemon import DaemonProcess

SPEED = 1000.0  # simulated seconds per wall second
TICK_S = 5.0  # control period, simulated seconds

# A short schedule (about 2.5 simulated hours) so each HIL run takes seconds.
TEST_PROFILE = """
schema_version = 1
name = "hil-short"
description = "short schedule for HIL tests"
investment = "gypsum"
pattern = "wax"
flask = "small"
max_temp_c = 700
casting_temp_c = 450
holdback_band_c = 30
holdback_limit_min = 30
soak_band_c = 20
[[segments]]
kind = "ramp"
target_c = 300
rate_c_per_h = 450
[[segments]]
kind = "hold"
hold_min = 20
[[segments]]
kind = "ramp"
target_c = 500
rate_c_per_h = 400
[[segments]]
kind = "hold"
hold_min = 20
[[segments]]
kind = "cool"
target_c = 450
rate_c_per_h = 200
[[segments]]
kind = "hold"
hold_min = 10
[[segments]]
kind = "final_hold"
"""

SITE = """
[lab]
name = "hil"
state_dir = "{state}"
tick_s = {tick}
clock_speed = {speed}
clock_epoch = {epoch}
profiles_dir = "{profiles}"
allow_uncommissioned = {allow}  # a simulated controller holds no commissioning record

[buses.link]
{bus}
timeout_s = 0.3

[devices.kiln1_tc]
family = "eurotherm3200"
bus = "link"
unit = 1

[kilns.kiln1]
controller = "kiln1_tc"
mode = "{mode}"
max_temp_c = 800

[kilns.kiln1.interlocks]
stale_after_s = 60
stall_grace_min = 10
stall_window_min = 10
stall_min_rate_c_per_h = 20
runaway_window_min = 5
runaway_rise_c = 15

[kilns.kiln1.resume]
max_gap_min = {max_gap_min}
max_drop_c = 60
"""


@dataclass
class Rig:
    """A simulated kiln plus a daemon subprocess, and helpers to drive them."""

    tmp: Path
    sim: Eurotherm3200Sim
    clock: ScaledClock
    mode: str
    site: Path
    daemon: DaemonProcess = field(init=False)

    def __post_init__(self) -> None:
        self.daemon = DaemonProcess(tmp=self.tmp, site=self.site, log_tail=4000)

    async def start_daemon(self) -> None:
        await self.daemon.start()
        await self.wait_for(lambda s: s["kilns"][0]["pv_c"] is not None, timeout_s=15)

    async def kill_daemon(self, sig: int = signal.SIGKILL) -> None:
        await self.daemon.kill(sig)

    async def stop_daemon(self) -> None:
        """SIGTERM the daemon if it runs (SIGKILL after 10 s)."""
        await self.daemon.stop()

    async def command(self, cmd: str, **args: object) -> dict[str, Any]:
        return await self.daemon.command(cmd, **args)

    async def status(self) -> dict[str, Any] | None:
        return await self.daemon.status()

    async def kiln(self) -> dict[str, Any]:
        status = await self.status()
        assert status is not None, "daemon not answering"
        kiln: dict[str, Any] = status["kilns"][0]
        return kiln

    async def wait_for(
        self, pred: Callable[[dict[str, Any]], bool], *, timeout_s: float
    ) -> dict[str, Any]:
        """Wait (wall seconds) until ``pred(status)`` holds; fail with the daemon log."""
        return await self.daemon.wait_for(pred, timeout_s=timeout_s)

    async def wait_outcome(self, timeout_s: float = 30) -> str:
        status = await self.wait_for(
            lambda s: s["kilns"][0]["run_id"] is None and s["kilns"][0]["outcome"] is not None,
            timeout_s=timeout_s,
        )
        return str(status["kilns"][0]["outcome"])

    async def wait_sim(self, pred: Callable[[Eurotherm3200Sim], bool], timeout_s: float) -> None:
        await self.daemon.wait_until(
            lambda: pred(self.sim), timeout_s, "simulator condition not reached"
        )

    def daemon_log(self) -> str:
        return self.daemon.log()


@pytest.fixture
async def make_rig(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Rig]]]:
    """Build a rig (simulator served now, daemon started by the test); torn down afterwards."""
    async with AsyncExitStack() as stack:

        async def make(
            *,
            mode: str = "stream",
            transport: str = "tcp",
            max_gap_min: float = 30,
            comms_timeout_s: float = 300.0,
            extra: str = "",
        ) -> Rig:
            profiles = tmp_path / "profiles" / "burnout"
            profiles.mkdir(parents=True)
            (profiles / "hil-short.toml").write_text(TEST_PROFILE)
            epoch = time.time()
            clock = ScaledClock(SPEED, epoch=epoch)
            sim = Eurotherm3200Sim(SimOptions(flask="small", comms_timeout_s=comms_timeout_s))
            if transport == "tcp":
                endpoint = await stack.enter_async_context(sim.serving(clock=clock, tcp_port=0))
                bus = f'kind = "tcp"\nhost = "127.0.0.1"\nport = {endpoint.port}'
            else:
                link = tmp_path / "ttyKILN"
                await stack.enter_async_context(sim.serving(clock=clock, pty_link=link))
                bus = f'kind = "rtu"\nport = "{link}"\nbaudrate = 115200'
            site = tmp_path / "site.toml"
            site.write_text(
                SITE.format(
                    state=tmp_path / "state",
                    tick=TICK_S,
                    speed=SPEED,
                    epoch=epoch,
                    profiles=tmp_path / "profiles",
                    bus=bus,
                    mode=mode,
                    max_gap_min=max_gap_min,
                    allow='["kiln1"]' if mode == "stream" else "[]",
                )
                + extra
            )
            rig = Rig(tmp=tmp_path, sim=sim, clock=clock, mode=mode, site=site)
            stack.push_async_callback(rig.stop_daemon)
            return rig

        yield make
