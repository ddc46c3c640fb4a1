"""What the caster runner saw in one tick, as plain data for the pure sequence and interlocks."""

from __future__ import annotations

from dataclasses import dataclass

from drivers.capabilities import CasterInputs


@dataclass(frozen=True, slots=True, kw_only=True)
class CasterObservation:
    """One tick of one caster. A value is None when its device gave no valid reading.

    ``stale`` names the devices whose last good reading is older than the caster's limit.
    """

    at: float
    crucible_c: float | None = None
    crucible_sensor_break: bool = False
    crucible_tc_c: float | None = None  # independent thermocouple (None if absent or open)
    crucible_tc_open: bool = False
    chamber_mbar: float | None = None
    gauge_status: str = "ok"
    io: CasterInputs | None = None
    rpm: float | None = None
    drive_fault: int = 0
    stale: tuple[str, ...] = ()

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
