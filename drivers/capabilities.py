"""What the daemon may ask of a device family, independent of its protocol.

A temperature controller driver (Eurotherm 3200 today, Omron E5CC next) implements
:class:`TemperatureController`; the control code in ``labctl`` depends only on this module,
never on a family's registers.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class ProgramStatus(enum.StrEnum):
    """The controller's own programmer, in family-neutral words."""

    RESET = "reset"
    RUN = "run"
    HOLD = "hold"
    END = "end"


class EndAction(enum.StrEnum):
    """What the controller's programmer does after its last segment."""

    DWELL = "dwell"  # hold the last target indefinitely (the final hold at casting temperature)
    RESET = "reset"  # stop the program; the controller returns to its local setpoint


@dataclass(frozen=True, slots=True, kw_only=True)
class ControllerReading:
    """One consistent read of a temperature controller.

    ``pv_c`` is None when the device has no valid measurement (sensor break, over-range).
    """

    at: float  # clock time of the reply
    pv_c: float | None
    working_sp_c: float | None
    output_pct: float | None
    sensor_break: bool = False
    pv_over_range: bool = False
    remote_sp_fail: bool = False  # the comms-loss fallback is engaged
    manual: bool = False
    program: ProgramStatus | None = None  # None when the family has no programmer
    program_segment: int | None = None


@dataclass(frozen=True, slots=True)
class DeviceSegment:
    """One segment of a program in the controller's programmer: ramp, then dwell."""

    target_c: float
    ramp_rate_c_per_h: float | None  # None: step to the target
    dwell_min: float


class TemperatureController(Protocol):
    """A kiln or crucible controller, as the control loop sees it."""

    @property
    def has_programmer(self) -> bool: ...

    async def connect(self) -> None:
        """Wait for the link and check the device's identity; raises DriverError."""

    async def read(self) -> ControllerReading: ...

    async def safe_state(self) -> None:
        """Heat off, verified: programmer reset, manual mode, output 0 %."""

    async def arm_stream(self, *, fallback_sp_c: float) -> None:
        """Prepare setpoint streaming: fallback armed, remote setpoint selected, auto mode."""

    async def stream_setpoint(self, setpoint_c: float) -> None:
        """Write the volatile remote setpoint (never an EEPROM setpoint); renews the lease."""

    async def reset_program(self) -> None: ...

    async def download_program(
        self, segments: Sequence[DeviceSegment], *, holdback_band_c: float, end: EndAction
    ) -> None: ...

    async def run_program(self) -> None: ...

    async def hold_program(self) -> None: ...

    async def resume_program(self) -> None: ...
