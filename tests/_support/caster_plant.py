"""The lab's caster: the plant of :mod:`tests._support.caster_fakes` with fault knobs.

:class:`CasterPlant` adds knobs that hold a cast sequence in one step (capped heating, a weak
pump, a blocked vent, a slow arm), a drive that refuses RESET, and one-shot unexpected errors;
:func:`caster_devices` builds a caster's devices over it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drivers.errors import DeviceRejected
from labctl.cast.devices import CasterDevices
from labctl.config.limits import CasterKind
from tests._support.caster_fakes import Crucible, Drive, Gauge, Io, Plant, Tc
from tests._support.faults import InjectedBug


@dataclass
class CasterPlant(Plant):
    """The caster physics of test_caster_runner.Plant, with knobs that hold a step."""

    heat_cap_c: float | None = None  # the crucible cannot get hotter (melt never settles)
    pump_weak: bool = False  # the chamber stays above 500 mbar (evacuate waits)
    vent_blocked: bool = False  # the chamber stays evacuated (vent waits)
    arm_accel: float = 200.0  # rpm/s
    arm_decel: float = 100.0
    arm_stuck_rpm: float | None = None  # the arm turns at this speed whatever the drive does
    refuse_reset: bool = False  # the drive answers RESET with Modbus exception 4
    crash: set[str] = field(default_factory=set)  # roles whose next call raises InjectedBug

    def step(self) -> None:
        dt, self.last = self.clock.now() - self.last, self.clock.now()
        if self.sp_c is not None:
            self.crucible_c += max(-50 * dt, min(50 * dt, self.sp_c - self.crucible_c))
            if self.heat_cap_c is not None:
                self.crucible_c = min(self.crucible_c, self.heat_cap_c)
        pumping = self.outputs.pump and not self.pump_broken and self.outputs.chamber_valve
        if (self.outputs.vent_valve and not self.vent_blocked) or self.leak:
            self.mbar = min(1013.0, self.mbar + 200 * dt)
        elif pumping:
            self.mbar = max(500.0 if self.pump_weak else 5.0, self.mbar * 0.8**dt)
        target_rpm = self.drive_hz * 29
        self.rpm += max(-self.arm_decel * dt, min(self.arm_accel * dt, target_rpm - self.rpm))
        if self.arm_stuck_rpm is not None:
            self.rpm = self.arm_stuck_rpm

    def check(self, role: str) -> None:
        super().check(role)
        if role in self.crash:
            self.crash.discard(role)
            raise InjectedBug(f"injected bug in the {role} driver")

    @property
    def heating(self) -> bool:
        """The crucible is driven (a setpoint is streamed to it)."""
        return self.sp_c is not None

    @property
    def energised(self) -> bool:
        """Anything not in its safe state: heat, pump, chamber valve, pour, drive."""
        o = self.outputs
        return self.heating or o.pump or o.chamber_valve or o.pour or self.drive_hz > 0


class ResetRefusingDrive(Drive):
    """A drive that may answer RESET with a Modbus exception."""

    p: CasterPlant

    async def reset_fault(self) -> None:
        self.p.check("drive")
        if self.p.refuse_reset:
            raise DeviceRejected("vfd1: Modbus exception 4 on RESET", code=4)
        self.p.drive_fault = 0


def caster_devices(plant: CasterPlant, kind: CasterKind) -> CasterDevices:
    names = {"crucible": "crucible1", "io": "io1", "crucible_tc": "tc1"}
    vacuum = kind is CasterKind.VACUUM
    names["gauge" if vacuum else "drive"] = "gauge1" if vacuum else "vfd1"
    return CasterDevices(
        names=names,
        crucible=Crucible(plant),
        io=Io(plant),
        crucible_tc=Tc(plant),
        gauge=Gauge(plant) if vacuum else None,
        drive=None if vacuum else ResetRefusingDrive(plant),
    )
