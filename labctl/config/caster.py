"""Site-config section ``[casters.NAME]``: a casting machine and the devices it is built from.

A caster is an assembly of devices named in ``[devices]`` (casting machines publish no control
protocol, so labctl reaches them through instruments and discrete I/O): a
crucible controller, an I/O module, a vacuum gauge (vacuum casters) or an arm drive
(centrifugal casters), and optionally an independent crucible thermocouple. Which family can
fill which role, and which has a comms watchdog, is :mod:`drivers.families`' table.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field, model_validator

from drivers.families import FAMILIES, families_for
from labctl.config.base import Strict
from labctl.config.limits import CasterKind, CasterLimits


class CasterSection(Strict):
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


def check_caster(
    name: str, caster: CasterSection, families: Mapping[str, str]
) -> tuple[str, str] | None:
    """(field, problem) for the first device that is missing or of the wrong family."""
    for role, device in caster.roles().items():
        family = families.get(device)
        if family is None:
            return f"casters.{name}.{role}", f"no device named {device!r} in [devices]"
        if family not in families_for(role):
            allowed = ", ".join(sorted(families_for(role)))
            return f"casters.{name}.{role}", f"{device} is {family}, but {role} needs {allowed}"
    crucible_family = families[caster.crucible]
    if not FAMILIES[crucible_family].lease and not caster.accept_crucible_without_lease:
        return (
            f"casters.{name}.crucible",
            f"{caster.crucible} ({crucible_family}) has no comms watchdog, so heat streamed to it "
            "stays on if labctl dies; set accept_crucible_without_lease = true to accept the risk",
        )
    return None
