"""Site-config sections for casting machines and their serial instruments.

A caster is an assembly of devices named in ``[devices]`` (casting machines publish no control
protocol, so labctl reaches them through instruments and discrete I/O): a
crucible controller, an I/O module, a vacuum gauge (vacuum casters) or an arm drive
(centrifugal casters), and optionally an independent crucible thermocouple. Serial ASCII
instruments (TPG gauge, DCON module) sit on ``[lines.NAME]``, which are not Modbus buses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from labctl.cast.params import CasterKind, CasterLimits

CRUCIBLE_FAMILIES = frozenset({"eurotherm3200", "omron_e5cc"})
#: Controller families with no host watchdog: heat streamed to them stays on if labctl dies
#: (Omron's H175 communications manual names none as far as it was read: an assumption, see
#: drivers/omron_e5cc/NOTES.md), so the site must accept that risk explicitly.
NO_LEASE_FAMILIES = frozenset({"omron_e5cc"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SerialLineSection(_Strict):
    """``[lines.NAME]``: one RS-232/RS-485 port for an ASCII instrument."""

    port: str = Field(min_length=1)
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    timeout_s: float = Field(default=1.0, gt=0, le=30)


class Tpg36xSection(_Strict):
    """``[devices.NAME]`` with ``family = "tpg36x"``: a Pfeiffer TPG 361/362 gauge channel."""

    family: Literal["tpg36x"]
    line: str
    channel: Literal[1, 2] = 1


class Adam4018Section(_Strict):
    """``[devices.NAME]`` with ``family = "adam4018"``: one ADAM-4018 thermocouple channel."""

    family: Literal["adam4018"]
    line: str
    address: int = Field(default=1, ge=0, le=255)
    channel: int = Field(default=0, ge=0, le=7)
    checksum: bool = False


class CasterSection(_Strict):
    """``[casters.NAME]``: a vacuum or centrifugal caster and the devices it is built from."""

    kind: CasterKind
    crucible: str
    io: str
    crucible_tc: str | None = None
    gauge: str | None = None  # vacuum casters
    drive: str | None = None  # centrifugal casters
    crucible_max_c: float = Field(gt=0, le=2000)
    tick_s: float = Field(default=1.0, gt=0, le=10)  # casts need faster control than kilns
    accept_crucible_without_lease: bool = False
    # The I/O module's comm-safety timeout. labctl does not write it (the module's manual sets
    # it over DCON, $AAX0): set it on the module; `labctl commission` checks that it trips.
    io_lease_s: float = Field(default=20.0, gt=0, le=300)
    drive_lease_s: float = Field(default=5.0, gt=0, le=60)  # ramp to stop when silent (09-03 max)
    pour_band_c: float = Field(default=10.0, gt=0, le=100)
    stabilise_s: float = Field(default=30.0, ge=0, le=600)
    melt_limit_min: float = Field(default=45.0, gt=0, le=240)
    confirm_timeout_s: float = Field(default=180.0, gt=0, le=3600)
    flask_tolerance_c: float = Field(default=40.0, gt=0, le=200)
    stale_after_s: float = Field(default=10.0, gt=0, le=120)
    rpm_per_hz: float = Field(default=29.0, gt=0, le=200)

    @model_validator(mode="after")
    def _roles(self) -> CasterSection:
        if self.kind is CasterKind.VACUUM and self.gauge is None:
            raise ValueError("a vacuum caster needs a gauge")
        if self.kind is CasterKind.CENTRIFUGAL and self.drive is None:
            raise ValueError("a centrifugal caster needs a drive")
        if self.stale_after_s >= self.io_lease_s:
            raise ValueError("stale_after_s must be below io_lease_s (trip before the lease ends)")
        return self

    def roles(self) -> dict[str, str]:
        """Role -> device name, for the devices this caster uses."""
        named = {
            "crucible": self.crucible,
            "io": self.io,
            "crucible_tc": self.crucible_tc,
            "gauge": self.gauge,
            "drive": self.drive,
        }
        return {role: dev for role, dev in named.items() if dev is not None}

    def limits(self) -> CasterLimits:
        return CasterLimits(
            kind=self.kind,
            crucible_max_c=self.crucible_max_c,
            pour_band_c=self.pour_band_c,
            stabilise_s=self.stabilise_s,
            melt_limit_s=self.melt_limit_min * 60.0,
            confirm_timeout_s=self.confirm_timeout_s,
            flask_tolerance_c=self.flask_tolerance_c,
            stale_after_s=self.stale_after_s,
            rpm_per_hz=self.rpm_per_hz,
        )


ROLE_FAMILIES: dict[str, frozenset[str]] = {
    "crucible": CRUCIBLE_FAMILIES,
    "io": frozenset({"iomodule"}),
    "crucible_tc": frozenset({"adam4018"}),
    "gauge": frozenset({"tpg36x"}),
    "drive": frozenset({"delta_vfd"}),
}


def check_caster(
    name: str, caster: CasterSection, families: Mapping[str, str]
) -> tuple[str, str] | None:
    """(field, problem) for the first device that is missing or of the wrong family."""
    for role, device in caster.roles().items():
        family = families.get(device)
        if family is None:
            return f"casters.{name}.{role}", f"no device named {device!r} in [devices]"
        if family not in ROLE_FAMILIES[role]:
            allowed = ", ".join(sorted(ROLE_FAMILIES[role]))
            return f"casters.{name}.{role}", f"{device} is {family}, but {role} needs {allowed}"
    crucible_family = families[caster.crucible]
    if crucible_family in NO_LEASE_FAMILIES and not caster.accept_crucible_without_lease:
        return (
            f"casters.{name}.crucible",
            f"{caster.crucible} ({crucible_family}) has no comms watchdog, so heat streamed to it "
            "stays on if labctl dies; set accept_crucible_without_lease = true to accept the risk",
        )
    return None
