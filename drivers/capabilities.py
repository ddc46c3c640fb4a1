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


# ------------------------------------------------------------------ casting machines
# A caster is an assembly of devices (casting machines publish no control protocol, so labctl
# reaches them through instruments and discrete I/O): a crucible temperature
# controller (a TemperatureController above), a vacuum gauge, an independent thermocouple
# input, a discrete I/O module and, for a centrifugal caster, a drive. Each reading carries
# its own quality, so an invalid value is never mistaken for a measurement.


@dataclass(frozen=True, slots=True, kw_only=True)
class PressureReading:
    """One vacuum gauge channel; ``mbar`` is None unless the gauge says the value is valid."""

    at: float
    mbar: float | None
    status: str  # "ok", "underrange", "overrange", "sensor error", "sensor off", "no sensor", ...


class VacuumGauge(Protocol):
    """A chamber pressure gauge (Pfeiffer TPG 36x and alike)."""

    async def connect(self) -> None:
        """Open the line and check the gauge answers; raises DriverError."""

    async def read(self) -> PressureReading: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ThermocoupleReading:
    """One thermocouple channel; ``temp_c`` is None on an open wire or out of range."""

    at: float
    temp_c: float | None
    open_wire: bool = False


class ThermocoupleInput(Protocol):
    """An independent thermocouple input module channel (ADAM-4018 and alike)."""

    async def connect(self) -> None: ...

    async def read(self) -> ThermocoupleReading: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class CasterOutputs:
    """The caster's coils. The default is the safe state: everything off, vent open."""

    pump: bool = False
    chamber_valve: bool = False  # flask chamber to the pump
    vent_valve: bool = True  # chamber to atmosphere (open = no vacuum held, lid can open)
    argon_valve: bool = False
    pour: bool = False  # pour / release trigger (stopper rod, crucible tilt, arm latch)
    lid_release: bool = False  # guard-lock solenoid: energised unlocks (spring-locked when off)


@dataclass(frozen=True, slots=True, kw_only=True)
class CasterInputs:
    """The caster's discrete inputs, read in one transaction, plus the coils as read back."""

    at: float
    lid_closed: bool
    flask_present: bool
    estop_ok: bool  # True while the e-stop chain is closed (not pressed)
    pump_running: bool  # the pump contactor's auxiliary contact
    outputs: CasterOutputs
    arm_stopped: bool = True  # independent standstill sensor of a centrifugal arm


class CasterIO(Protocol):
    """A Modbus coil / discrete-input module wired to a caster."""

    async def connect(self) -> None: ...

    async def read(self) -> CasterInputs: ...

    async def set_outputs(self, outputs: CasterOutputs) -> None:
        """Write every coil in one request, verified by read-back; renews the module's lease."""

    async def safe_state(self) -> None:
        """Every coil to :class:`CasterOutputs` defaults, verified."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DriveReading:
    """A centrifugal arm drive."""

    at: float
    output_hz: float
    rpm: float
    running: bool
    fault_code: int  # 0: no fault


class ArmDrive(Protocol):
    """A VFD spinning a centrifugal casting arm (Delta VFD-B style)."""

    async def connect(self) -> None: ...

    async def read(self) -> DriveReading: ...

    async def run(self, frequency_hz: float) -> None:
        """Run forward at ``frequency_hz`` (the drive ramps by its own acceleration time)."""

    async def safe_state(self) -> None:
        """Stop (the drive decelerates by its own ramp); verified by read-back of the command."""

    async def reset_fault(self) -> None:
        """Clear a latched trip or comms-loss code; the drive stays stopped until run()."""
