"""A whole simulated caster: its devices served on loopback and ptys, coupled by one physics step.

The devices are the ones a real retrofit uses (casting machines publish no control protocol, so a
retrofit reaches them through instruments and discrete I/O): an Omron E5CC
crucible controller (it owns the crucible and its melting plateau), an ADAM-4018 reading the
metal through an independent thermocouple, an I/O module whose coils drive the pump, valves,
pour trigger and lid lock, and either a TPG gauge on a vacuum chamber or a Delta drive spinning
the arm. :meth:`CasterRigSim.step_to` couples them: the chamber is pumped or vented by what the
I/O module's outputs actually do, and the flask switch follows the chamber's flask.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from drivers._sim.plant.chamber import ChamberModel
from drivers._sim.server import Endpoint
from drivers._sim.stepped import stepping
from drivers.adam4018.sim import Adam4018Sim
from drivers.clock import Clock
from drivers.delta_vfd.sim import DeltaVfdSim, VfdSimOptions
from drivers.iomodule.sim import IoModuleSim
from drivers.omron_e5cc.sim import OmronE5ccSim
from drivers.omron_e5cc.sim import SimOptions as CrucibleOptions
from drivers.tpg36x.sim import Tpg36xSim


@dataclass(frozen=True, slots=True)
class CasterEndpoints:
    """Where the daemon reaches each device of the rig."""

    kind: Literal["vacuum", "centrifugal"]
    crucible: Endpoint
    io: Endpoint
    tc: Path
    gauge: Path | None = None
    drive: Endpoint | None = None

    @property
    def crucible_port(self) -> int:
        assert self.crucible.port is not None
        return self.crucible.port

    @property
    def io_port(self) -> int:
        assert self.io.port is not None
        return self.io.port

    @property
    def tc_path(self) -> Path:
        return self.tc

    @property
    def gauge_path(self) -> Path | None:
        return self.gauge

    @property
    def drive_port(self) -> int | None:
        return None if self.drive is None else self.drive.port


class CasterRigSim:
    """One caster and its devices; each device keeps its own ``backdoor`` for faults."""

    def __init__(
        self,
        kind: Literal["vacuum", "centrifugal"],
        *,
        solidus_c: float = 880.0,
        liquidus_c: float = 930.0,
        charge_g: float = 300.0,
        start_c: float = 20.0,
    ) -> None:
        self.kind = kind
        self.crucible = OmronE5ccSim(
            CrucibleOptions(
                solidus_c=solidus_c, liquidus_c=liquidus_c, charge_g=charge_g, start_temp_c=start_c
            )
        )
        self.io = IoModuleSim()
        self.io.flask_present = False
        self.tc = Adam4018Sim(lambda: [self.crucible.pv_c])
        self.chamber = ChamberModel(flask_present=False)
        self.gauge = Tpg36xSim(lambda: self.chamber.chamber_mbar) if kind == "vacuum" else None
        self.drive = (
            DeltaVfdSim(VfdSimOptions(max_freq_hz=60.0, accel_s=4.0, decel_s=8.0))
            if kind == "centrifugal"
            else None
        )
        self._now: float | None = None

    def leak(self, mbar_l_per_s: float) -> None:
        """A vacuum leak (a cracked lid seal, a flask not seated): 0 stops it."""
        self.chamber.leak_mbar_l_per_s = mbar_l_per_s

    def step_to(self, now: float) -> None:
        """Couple the devices' physics up to clock time ``now``."""
        if self._now is None:
            self._now = now
            return
        dt, self._now = now - self._now, now
        if dt <= 0:
            return
        loads = self.io.loads
        if self.drive is not None:
            self.io.arm_stopped = self.drive.arm.rpm < 1.0
        self.chamber.flask_present = self.io.flask_present
        self.chamber.step(
            dt,
            pump_on=loads.pump,
            chamber_valve=loads.chamber_valve,
            vent_valve=loads.vent_valve,
            argon_valve=loads.argon_valve,
        )

    @contextlib.asynccontextmanager
    async def serving(
        self, *, clock: Clock, pty_dir: Path, tcp_ports: tuple[int, int, int] = (0, 0, 0)
    ) -> AsyncIterator[CasterEndpoints]:
        """Serve every device, Modbus on 127.0.0.1 and serial on ptys linked in ``pty_dir``.

        ``tcp_ports`` are the crucible's, the I/O module's and the drive's (0: any free port).
        """
        crucible_port, io_port, drive_port = tcp_ports
        async with contextlib.AsyncExitStack() as stack:
            crucible = await stack.enter_async_context(
                self.crucible.serving(clock=clock, tcp_port=crucible_port)
            )
            io = await stack.enter_async_context(self.io.serving(clock=clock, tcp_port=io_port))
            tc = await stack.enter_async_context(
                self.tc.serving(clock=clock, pty_link=pty_dir / "tc")
            )
            gauge = drive = None
            if self.gauge is not None:
                gauge = await stack.enter_async_context(
                    self.gauge.serving(clock=clock, pty_link=pty_dir / "gauge")
                )
            if self.drive is not None:
                drive = await stack.enter_async_context(
                    self.drive.serving(clock=clock, tcp_port=drive_port)
                )
            self.step_to(clock.now())
            await stack.enter_async_context(stepping(self, clock, name="caster_rig.sim"))
            yield CasterEndpoints(self.kind, crucible, io, tc, gauge=gauge, drive=drive)
