"""The two execution modes: where the program runs, and what keeps heat off if the host dies.

- **programmer**: the schedule is downloaded into the controller's own programmer and run
  there. The controller keeps executing it if the host dies; the host supervises (interlocks,
  holdback limit, progress) and can hold, resume or reset it.
- **stream**: the host computes the setpoint every tick and writes it to the controller's
  volatile remote setpoint, after arming the comms-loss fallback (a safe local setpoint the
  controller falls back to when the host goes silent). Never written to an EEPROM setpoint.
"""

from __future__ import annotations

from typing import Protocol

from drivers.capabilities import (
    ControllerReading,
    DeviceSegment,
    EndAction,
    ProgramStatus,
    TemperatureController,
)
from labctl.commands.registry import CommandRefused
from labctl.kiln.program.programmer import to_device_segments
from labctl.kiln.settings import RunSettings
from labctl.profiles.segments import Schedule

PROGRAMMER_SEGMENTS = 8  # Eurotherm 3216P (HA028651)
# Readings right after (re-)arming may still carry the fail flag of before (e.g. after a
# restart the fallback was engaged while the host was down); they are not a new fault.
SETTLE_READINGS = 2


class ExecutionMode(Protocol):
    """What the runner asks of an execution mode."""

    name: str

    async def begin(self, schedule: Schedule, setpoint_c: float) -> None: ...

    async def reattach(
        self, schedule: Schedule, setpoint_c: float, reading: ControllerReading | None
    ) -> None: ...

    async def apply(self, setpoint_c: float, reading: ControllerReading | None) -> str | None:
        """Apply this tick's setpoint; return a fault reason if the device left the program."""

    async def hold(self) -> None: ...

    async def resume(self) -> None: ...


class StreamMode:
    """Setpoint streamed to the remote SP every tick, comms-loss fallback armed."""

    name = "stream"

    def __init__(self, controller: TemperatureController, fallback_sp_c: float) -> None:
        self._controller = controller
        self._fallback_sp_c = fallback_sp_c
        self._settling = 0

    async def begin(self, schedule: Schedule, setpoint_c: float) -> None:
        await self._controller.arm_stream(fallback_sp_c=self._fallback_sp_c)
        await self._controller.stream_setpoint(setpoint_c)
        self._settling = SETTLE_READINGS

    async def reattach(
        self, schedule: Schedule, setpoint_c: float, reading: ControllerReading | None
    ) -> None:
        await self.begin(schedule, setpoint_c)

    async def apply(self, setpoint_c: float, reading: ControllerReading | None) -> str | None:
        settling, self._settling = self._settling > 0, max(self._settling - 1, 0)
        if reading is not None and reading.remote_sp_fail and not settling:
            return (
                "the controller lost the remote setpoint and fell back to its safe setpoint "
                "(comms-loss fallback engaged)"
            )
        if reading is not None and reading.manual and not settling:
            return (  # a power cycle brings a 3216 back in manual on its local setpoint
                "the controller is in manual mode: it rebooted to its power-on settings or was "
                "switched by hand, so labctl no longer drives it"
            )
        await self._controller.stream_setpoint(setpoint_c)
        return None

    async def hold(self) -> None:
        """The runner keeps streaming the frozen setpoint, which also renews the lease."""

    async def resume(self) -> None:
        """Nothing to do on the device."""


class ProgrammerMode:
    """Program downloaded to the controller's programmer and run there."""

    name = "programmer"

    def __init__(self, controller: TemperatureController) -> None:
        self._controller = controller

    async def begin(self, schedule: Schedule, setpoint_c: float) -> None:
        try:
            segments = [
                DeviceSegment(
                    target_c=s.target_c,
                    ramp_rate_c_per_h=s.ramp_rate_c_per_h,
                    dwell_min=s.dwell_min,
                )
                for s in to_device_segments(schedule, max_segments=PROGRAMMER_SEGMENTS)
            ]
        except ValueError as err:
            raise CommandRefused(f"{schedule.name} does not fit the controller: {err}") from err
        await self._controller.reset_program()
        await self._controller.download_program(
            segments, holdback_band_c=schedule.holdback_band_c, end=EndAction.DWELL
        )
        await self._controller.run_program()

    async def reattach(
        self, schedule: Schedule, setpoint_c: float, reading: ControllerReading | None
    ) -> None:
        running = (ProgramStatus.RUN, ProgramStatus.HOLD, ProgramStatus.END)
        if reading is None or reading.program not in running:
            state = "unknown" if reading is None or reading.program is None else reading.program
            raise CommandRefused(f"the controller's program is no longer running ({state})")

    async def apply(self, setpoint_c: float, reading: ControllerReading | None) -> str | None:
        if reading is not None and reading.program is ProgramStatus.RESET:
            return "the controller's program was reset outside labctl"
        return None

    async def hold(self) -> None:
        await self._controller.hold_program()

    async def resume(self) -> None:
        await self._controller.resume_program()


def make_mode(name: str, controller: TemperatureController, settings: RunSettings) -> ExecutionMode:
    """The execution mode named in the kiln's config."""
    if name == "programmer":
        return ProgrammerMode(controller)
    return StreamMode(controller, settings.fallback_sp_c)
