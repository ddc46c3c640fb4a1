"""What the caster runner saw in one tick, as plain data for the pure sequence and interlocks."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from drivers.capabilities import CasterInputs, CasterOutputs


@dataclass(frozen=True, slots=True, kw_only=True)
class CasterObservation:
    """One tick of one caster. A value is None when its device gave no valid reading.

    Each device's status says why (its meaning per cast step is in
    :mod:`labctl.cast.device_status`): ``no reading`` when the driver gave nothing this tick,
    ``not fitted`` when the caster has no such device; the gauge's are the TPG status texts.
    ``stale`` names the devices whose last good reading is older than the caster's limit.
    """

    at: float
    crucible_c: float | None = None
    crucible_status: str = "ok"  # "sensor break", "over range", "no value", "no reading"
    crucible_tc_c: float | None = None  # independent thermocouple (None if absent or open)
    crucible_tc_status: str = "not fitted"  # "ok", "open wire", "no value", "no reading"
    chamber_mbar: float | None = None
    gauge_status: str = "ok"  # "underrange", "overrange", "sensor error", ... "not fitted"
    io: CasterInputs | None = None
    rpm: float | None = None
    drive_fault: int = 0
    drive_status: str = "ok"  # "fault", "no reading", "not fitted"
    stale: tuple[str, ...] = ()

    @property
    def crucible_sensor_break(self) -> bool:
        return self.crucible_status == "sensor break"

    @property
    def crucible_tc_open(self) -> bool:
        return self.crucible_tc_status == "open wire"

    @property
    def lid_closed(self) -> bool:
        return self.io is not None and self.io.lid_closed

    @property
    def flask_present(self) -> bool:
        return self.io is not None and self.io.flask_present

    @property
    def at_standstill(self) -> bool:
        """The drive reads no speed and the independent standstill sensor agrees.

        A drive estimates speed from its output, so it reads 0 while a tripped or coasting
        arm still turns; only the sensor on the arm can release the lid.
        """
        arm_stopped = self.io is not None and self.io.arm_stopped
        return self.rpm is not None and self.rpm < 2.0 and arm_stopped


def outputs_changed(now: CasterOutputs, wanted: CasterOutputs) -> str | None:
    """Why the coils read back are not what labctl set (None: they are).

    The module's comms watchdog (a hung daemon's lease ran out), a power cycle or a person may
    have changed them; the sequence must not go on blind.
    """
    if now == wanted:
        return None
    is_, should = dataclasses.asdict(now), dataclasses.asdict(wanted)
    changed = ", ".join(sorted(name for name, value in is_.items() if value != should[name]))
    return f"I/O module outputs changed behind labctl ({changed}): comms watchdog or power cycle?"
