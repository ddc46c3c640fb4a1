"""HIL support for casters: a simulated caster (every device on loopback TCP or a pty) plus a
kiln holding the flask, and the real daemon in a subprocess talking to all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from drivers._sim.caster_rig import CasterEndpoints, CasterRigSim
from drivers.clock import ScaledClock
from drivers.eurotherm3200.sim import Eurotherm3200Sim, SimOptions
from labctl.control_socket import send_command

SPEED = 50.0  # simulated seconds per wall second
PROFILES = Path(__file__).resolve().parent.parent / "profiles"

SITE = """
[lab]
name = "hil-casting"
state_dir = "{state}"
tick_s = 1.0
clock_speed = {speed}
clock_epoch = {epoch}
profiles_dir = "{profiles}"

[buses.kiln_link]
kind = "tcp"
host = "127.0.0.1"
port = {kiln_port}
timeout_s = 0.3
[buses.crucible_link]
kind = "tcp"
host = "127.0.0.1"
port = {crucible_port}
timeout_s = 0.3
[buses.io_link]
kind = "tcp"
host = "127.0.0.1"
port = {io_port}
timeout_s = 0.3
{drive_bus}
[lines.tc_line]
port = "{tc_path}"
timeout_s = 0.3
{gauge_line}
[devices.kiln1_tc]
family = "eurotherm3200"
bus = "kiln_link"
[devices.crucible1]
family = "omron_e5cc"
bus = "crucible_link"
[devices.io1]
family = "iomodule"
bus = "io_link"
[devices.tc1]
family = "adam4018"
line = "tc_line"
address = 1
{machine_devices}
[kilns.kiln1]
controller = "kiln1_tc"
max_temp_c = 800

[casters.caster1]
kind = "{kind}"
crucible = "crucible1"
crucible_tc = "tc1"
io = "io1"
{machine_roles}
crucible_max_c = 1450
accept_crucible_without_lease = true
stabilise_s = 10
confirm_timeout_s = {confirm_timeout_s}
stale_after_s = 20
io_lease_s = 60
drive_lease_s = 60
"""

VACUUM = {
    "gauge_line": '[lines.gauge_line]\nport = "{gauge_path}"\ntimeout_s = 0.3',
    "machine_devices": '[devices.gauge1]\nfamily = "tpg36x"\nline = "gauge_line"',
    "machine_roles": 'gauge = "gauge1"',
    "drive_bus": "",
}
CENTRIFUGAL = {
    "gauge_line": "",
    "machine_devices": '[devices.vfd1]\nfamily = "delta_vfd"\nbus = "drive_link"',
    "machine_roles": 'drive = "vfd1"',
    "drive_bus": '[buses.drive_link]\nkind = "tcp"\nhost = "127.0.0.1"\nport = {drive_port}\n'
    "timeout_s = 0.3",
}


@dataclass
class CasterRig:
    """The simulated caster and kiln, and the daemon under test."""

    tmp: Path
    sim: CasterRigSim
    kiln: Eurotherm3200Sim
    clock: ScaledClock
    site: Path
    proc: asyncio.subprocess.Process | None = None
    logs: list[Path] = field(default_factory=list)

    async def start_daemon(self) -> None:
        log = self.tmp / f"daemon-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "labctl.cli", "run", "--config", str(self.site),
                stdout=out, stderr=out,
            )  # fmt: skip
        await self.wait_for(lambda c: not c["stale"] and c["crucible_c"] is not None, 20)
        deadline = time.monotonic() + 20
        while (await self.command("status"))["result"]["kilns"][0]["pv_c"] is None:
            assert time.monotonic() < deadline, f"the kiln never answered\n{self.log()}"
            await asyncio.sleep(0.05)

    async def stop_daemon(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()

    async def command(self, cmd: str, **args: object) -> dict[str, Any]:
        return await send_command(self.tmp / "state" / "labctl.sock", cmd, dict(args))

    async def caster(self) -> dict[str, Any] | None:
        reply = await self.command("status")
        if not reply.get("ok"):
            return None
        caster: dict[str, Any] = reply["result"]["casters"][0]
        return caster

    async def wait_for(
        self, pred: Callable[[dict[str, Any]], bool], timeout_s: float
    ) -> dict[str, Any]:
        deadline, last = time.monotonic() + timeout_s, None
        while time.monotonic() < deadline:
            last = await self.caster()
            if last is not None and pred(last):
                return last
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out; last caster status {json.dumps(last)}\n{self.log()}")

    async def wait_state(self, state: str, timeout_s: float = 60) -> dict[str, Any]:
        return await self.wait_for(lambda c: c["state"] == state, timeout_s)

    async def outcome(self, timeout_s: float = 60) -> str:
        status = await self.wait_for(
            lambda c: c["state"] == "idle" and c["outcome"] is not None, timeout_s
        )
        return str(status["outcome"])

    async def wait_sim(self, pred: Callable[[CasterRigSim], bool], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not pred(self.sim):
            assert time.monotonic() < deadline, f"simulator condition not reached\n{self.log()}"
            await asyncio.sleep(0.02)

    def log(self) -> str:
        return "\n".join(p.read_text()[-6000:] for p in self.logs if p.exists())


@contextlib.asynccontextmanager
async def caster_rig(
    tmp: Path,
    kind: Literal["vacuum", "centrifugal"],
    *,
    flask_c: float,
    solidus_c: float = 880.0,
    liquidus_c: float = 930.0,
    confirm_timeout_s: float = 120.0,
    crucible_c: float = 20.0,
) -> AsyncIterator[CasterRig]:
    """Serve the simulated caster and a kiln holding the flask at ``flask_c``."""
    epoch = time.time()
    clock = ScaledClock(SPEED, epoch=epoch)
    sim = CasterRigSim(
        kind, solidus_c=solidus_c, liquidus_c=liquidus_c, charge_g=100.0, start_c=crucible_c
    )
    kiln = Eurotherm3200Sim(SimOptions(flask="small", start_temp_c=flask_c))
    (tmp / "state").mkdir(exist_ok=True)
    async with (
        sim.serving(clock=clock, pty_dir=tmp) as ep,
        kiln.serving(clock=clock, tcp_port=0) as kiln_ep,
    ):
        site = tmp / "site.toml"
        site.write_text(_site(tmp, kind, epoch, ep, kiln_ep.port, confirm_timeout_s))
        rig = CasterRig(tmp=tmp, sim=sim, kiln=kiln, clock=clock, site=site)
        try:
            yield rig
        finally:
            await rig.stop_daemon()


def _site(
    tmp: Path, kind: str, epoch: float, ep: CasterEndpoints, kiln_port: int | None,
    confirm_timeout_s: float,
) -> str:  # fmt: skip
    parts = VACUUM if kind == "vacuum" else CENTRIFUGAL
    ports = {
        "gauge_path": ep.gauge,
        "drive_port": ep.drive.port if ep.drive is not None else 0,
    }
    return SITE.format(
        state=tmp / "state",
        speed=SPEED,
        epoch=epoch,
        profiles=PROFILES,
        kiln_port=kiln_port,
        crucible_port=ep.crucible.port,
        io_port=ep.io.port,
        tc_path=ep.tc,
        kind=kind,
        confirm_timeout_s=confirm_timeout_s,
        **{key: value.format(**ports) for key, value in parts.items()},
    )
