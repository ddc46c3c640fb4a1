"""HIL support for casters: a simulated caster (every device on loopback TCP or a pty) plus a
kiln holding the flask, and the real daemon in a subprocess talking to all of them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from drivers._sim.caster_rig import CasterRigSim
from drivers.clock import ScaledClock
from drivers.eurotherm3200.registers import LoopMode
from drivers.eurotherm3200.sim import Eurotherm3200Sim, SimOptions
from hil_tests.support.daemon import DaemonProcess
from labctl.sim.site import rig_site

SPEED = 50.0  # simulated seconds per wall second
PROFILES = Path(__file__).resolve().parents[2] / "profiles"


@dataclass
class CasterRig:
    """The simulated caster and kiln, and the daemon under test."""

    tmp: Path
    sim: CasterRigSim
    kiln: Eurotherm3200Sim
    clock: ScaledClock
    site: Path
    flask_c: float | None = None  # what the kiln holds the flask at (hold_flask); None: no hold
    daemon: DaemonProcess = field(init=False)

    def __post_init__(self) -> None:
        self.daemon = DaemonProcess(tmp=self.tmp, site=self.site, log_tail=6000)

    async def start_daemon(self) -> None:
        await self.daemon.start()
        await self.wait_for(lambda c: not c["stale"] and c["crucible_c"] is not None, 20)
        await self.daemon.wait_for(lambda s: s["kilns"][0]["pv_c"] is not None, timeout_s=20)
        if self.flask_c is not None:
            self.hold_flask(self.flask_c)

    def hold_flask(self, flask_c: float) -> None:
        """The flask's kiln holds it at its casting temperature (set at the front panel: auto,
        SP = the flask's temperature), as a kiln at the end of its burnout does.

        Set once the daemon has read the kiln: at start it turns the heat off on a kiln it
        finds idle yet heating. Left at power-on (manual 0 %) the kiln cooled ~3 °C per wall
        second at 50x, out of the cast's band before a slow test reached its cast start.
        """
        self.kiln.bank.set("loop_mode", LoopMode.AUTO)
        self.kiln.bank.set("target_sp", flask_c)

    async def stop_daemon(self) -> None:
        await self.daemon.stop()

    async def command(self, cmd: str, **args: object) -> dict[str, Any]:
        return await self.daemon.command(cmd, **args)

    async def caster(self) -> dict[str, Any] | None:
        status = await self.daemon.status()
        return None if status is None else _caster(status)

    async def wait_for(
        self, pred: Callable[[dict[str, Any]], bool], timeout_s: float
    ) -> dict[str, Any]:
        return await self.daemon.wait_for(
            pred, timeout_s=timeout_s, view=_caster, what="caster status"
        )

    async def wait_state(self, state: str, timeout_s: float = 60) -> dict[str, Any]:
        return await self.wait_for(lambda c: c["state"] == state, timeout_s)

    async def outcome(self, timeout_s: float = 60) -> str:
        status = await self.wait_for(
            lambda c: c["state"] == "idle" and c["outcome"] is not None, timeout_s
        )
        return str(status["outcome"])

    async def wait_sim(self, pred: Callable[[CasterRigSim], bool], timeout_s: float) -> None:
        await self.daemon.wait_until(
            lambda: pred(self.sim), timeout_s, "simulator condition not reached"
        )

    def log(self) -> str:
        return self.daemon.log()


def _caster(status: dict[str, Any]) -> dict[str, Any]:
    caster: dict[str, Any] = status["casters"][0]
    return caster


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
    ledger_key: Path | None = None,
    extra: str = "",
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
        assert kiln_ep.port is not None
        site.write_text(
            rig_site(
                state=tmp / "state", profiles=PROFILES, speed=SPEED, epoch=epoch, tick_s=1.0,
                kiln_port=kiln_ep.port, mode="programmer", caster=ep,
                confirm_timeout_s=confirm_timeout_s, name="hil-casting", ledger_key=ledger_key,
            )
            + extra
        )  # fmt: skip
        rig = CasterRig(tmp=tmp, sim=sim, kiln=kiln, clock=clock, site=site, flask_c=flask_c)
        try:
            yield rig
        finally:
            await rig.stop_daemon()
